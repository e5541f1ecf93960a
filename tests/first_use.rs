//! What a first-time user meets before the first success: a mistyped command, a laptop that is
//! not the container, a manifest written as Kubernetes manifests are, a near miss of a name.
//! Each test quotes the message the user reads.

use crate::support::*;

/// A required secret that is not set anywhere: any command that got as far as resolving would
/// stop on it (69), so a test that sees another code saw the command decided first.
const UNSET_SECRET: &str = "secrets:\n  hf_access_token: null\n";

/// A mistyped command is looked up as a program before any secret is resolved: 127 and the
/// command it was close to, not the missing secret's 69.
#[test]
fn mistyped_command_is_looked_up_before_any_secret_is_resolved() {
    let sb = Sandbox::new();
    sb.config(UNSET_SECRET);
    for (word, meant) in [("chek", "check"), ("materialise", "materialize")] {
        sb.run()
            .arg(word)
            .output()
            .expect_code(127)
            .stderr_has(&format!(
                "{word}: program not found (did you mean the command `secret-init {meant}`?)"
            ));
    }
    // `bundle` without a verb is Ruby's Bundler: not found here, with the verbs named.
    sb.run()
        .args(["bundle", "--help"])
        .output()
        .expect_code(127)
        .stderr_has("bundle: program not found (the command `secret-init bundle` needs a verb");
    // The same with `check -- PROGRAM`: check stops where the run stops.
    sb.run()
        .args(["check", "--", "chek"])
        .output()
        .expect_code(127)
        .stderr_has("did you mean the command `secret-init check`?");
    assert!(!sb.path("out").exists());
    // The negative control: a program that exists gets as far as the missing secret.
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(69)
        .stderr_has("hf_access_token");
}

/// A bundle verb's options may come before the verb: `bundle --bundle F create x` is the
/// bundle command, not a program named `bundle`.
#[test]
fn bundle_options_before_the_verb() {
    let sb = Sandbox::new();
    sb.config(UNSET_SECRET);
    let key = Run::new().args(["bundle", "keygen"]).output();
    key.expect_ok();
    let file = sb.path("b.json");
    sb.run()
        .env("SECRET_INIT_MASTER_KEY", key.stdout().trim())
        .arg("bundle")
        .arg("--bundle")
        .arg(&file)
        .args(["-d", "keys", "create", "api-keys"])
        .output()
        .expect_ok();
    sb.run()
        .env("SECRET_INIT_MASTER_KEY", key.stdout().trim())
        .arg("bundle")
        .arg("--bundle")
        .arg(&file)
        .arg("list")
        .output()
        .expect_ok()
        .stdout_has("api-keys");
}

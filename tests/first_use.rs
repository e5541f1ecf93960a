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

/// Not root on a laptop, the output dir cannot be made: the run says what to do, and `check`
/// says it in the same words (its row is not `ok`) and exits with the run's 73.
#[test]
fn output_dir_out_of_reach_says_what_to_do_in_run_and_check() {
    assert!(
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0")),
        "this test drops to nobody with setpriv: it needs root, as CI and the test machine have"
    );
    let sb = Sandbox::new();
    sb.config("secrets:\n  hf_access_token: null\n");
    // Root's 0755 directory: nobody may enter it but not create anything in it.
    sb.mkdir("locked");
    for p in ["", "locked"] {
        std::fs::set_permissions(
            sb.path(p),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
    }
    let out_dir = sb.path("locked/secrets");
    let token = canary("hf");
    let as_nobody = |args: &[&str]| {
        let mut r = sb.run();
        r.program = "/usr/bin/setpriv".into();
        r.env("SECRET_INIT_OUTPUT_DIR", &out_dir)
            .env("TRUSS_SECRET_hf_access_token", &token)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin())
            .args(args);
        r.output()
    };
    let said = format!(
        "cannot create directory {}: Permission denied (secret-init runs as uid 65534, not root; \
         write elsewhere with --output-dir DIR, e.g. --output-dir ./secrets, or run it as the \
         container does)",
        out_dir.display()
    );
    as_nobody(&["--", "/bin/true"])
        .expect_code(73)
        .stderr_has(&said)
        .no_leak(&[&token]);
    let check = as_nobody(&["check"]);
    check.expect_code(73).stderr_has(&said).no_leak(&[&token]);
    let row = check
        .stdout()
        .lines()
        .find(|l| l.starts_with("hf_access_token"))
        .map(str::to_string)
        .expect("a row for the secret");
    assert!(
        row.contains("error: cannot create directory") && !row.ends_with(" ok"),
        "{row}"
    );
    assert!(!out_dir.exists());
    // The negative control: the same user with an output dir it may create.
    std::fs::set_permissions(
        sb.path("locked"),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    as_nobody(&["check"]).expect_ok();
}

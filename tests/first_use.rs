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

/// `mode: 0400` unquoted, as every Kubernetes `defaultMode` is written, is the octal mode 0400
/// (as YAML 1.1 reads it), for a secret and a template; what cannot be a mode is refused naming
/// the secret, with the fix, and nothing is written.
#[test]
fn unquoted_octal_mode_is_the_mode_and_a_decimal_one_is_refused_with_the_fix() {
    let sb = Sandbox::new();
    let token = canary("hf");
    for (written, want) in [("0400", 0o400), ("\"0640\"", 0o640), ("0755", 0o755)] {
        sb.config(&format!(
            "secrets:\n  hf_access_token: null\nsecret_init:\n  secrets:\n    \
             hf_access_token: {{mode: {written}}}\n  templates:\n    conf:\n      \
             template: \"x\"\n      destination: {}\n      mode: {written}\n",
            sb.path("out/conf.txt").display()
        ));
        sb.run()
            .env("TRUSS_SECRET_hf_access_token", &token)
            .args(["--", "/bin/true"])
            .output()
            .expect_ok();
        assert_eq!(mode(&sb.path("out/hf_access_token")), want, "{written}");
        assert_eq!(mode(&sb.path("out/conf.txt")), want, "{written}");
        std::fs::remove_dir_all(sb.path("out")).expect("rm out");
    }
    for (written, said) in [
        (
            "400",
            "mode: 400 is a decimal number to YAML, not an \
             octal mode; write it with its leading zero, as Kubernetes' defaultMode is: mode: 0400 \
             (or quoted: \"0400\")",
        ),
        (
            "0900",
            "mode: 0900 is not an octal mode (digits 0-7, \
             e.g. mode: 0400 or mode: 0640)",
        ),
        (
            "4755",
            "mode: 4755 has bits beyond 0777 (setuid, setgid and sticky are refused); e.g. mode: 0755",
        ),
    ] {
        sb.config(&format!(
            "secrets:\n  hf_access_token: null\nsecret_init:\n  secrets:\n    \
             hf_access_token: {{mode: {written}}}\n"
        ));
        for cmd in [&["check"][..], &["--", "/bin/true"]] {
            sb.run()
                .env("TRUSS_SECRET_hf_access_token", &token)
                .args(cmd)
                .output()
                .expect_code(65)
                .stderr_has("secret \"hf_access_token\"")
                .stderr_has(said)
                .no_leak(&[&token]);
        }
        assert!(!sb.path("out").exists());
    }
}

//! `secret_init.file_env`: Docker's `X_FILE` convention for the listed names only, with the
//! mounted-secret reader (no link out of the file's directory, regular files, size cap).

use crate::support::*;

fn setup(sb: &Sandbox) {
    sb.config("secrets: {}\nsecret_init:\n  file_env: [DB_PASSWORD]\n  max_secret_bytes: 64\n");
}

#[test]
fn file_env_delivers_the_listed_names_and_drops_the_pointer() {
    let sb = Sandbox::new();
    setup(&sb);
    let value = canary("file-env");
    let secret = sb.write("run/db", &value);
    let token = sb.write("run/token", "not-a-secret-to-inline");
    let mut r = sb.run();
    r.env("DB_PASSWORD_FILE", &secret)
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token)
        .args(["--", "/bin/sh", "-c"])
        .arg(
            "echo db=$DB_PASSWORD ptr=${DB_PASSWORD_FILE:-unset} aws=$AWS_WEB_IDENTITY_TOKEN_FILE",
        );
    let out = r.output();
    out.expect_ok();
    assert_eq!(
        out.stdout().trim(),
        format!("db={value} ptr=unset aws={}", token.display())
    );
    assert!(!out.stderr().contains(&value), "{}", out.stderr());
}

#[test]
fn file_env_bad_inputs_name_the_variable_and_start_nothing() {
    let sb = Sandbox::new();
    setup(&sb);
    let value = canary("file-env-bad");
    sb.write("outside/db", &value);
    sb.mkdir("run");
    std::os::unix::fs::symlink("../outside/db", sb.path("run/escape")).expect("link");
    sb.write("run/big", "x".repeat(65));
    let cases: [(&str, Option<&str>, i32, &str); 4] = [
        ("run/missing", None, 69, "does not exist"),
        ("run/escape", None, 65, "escapes"),
        ("run/big", None, 65, "64-byte limit"),
        ("run/big", Some("set-too"), 65, "both set"),
    ];
    for (rel, also, code, says) in cases {
        let mut r = sb.run();
        r.env("DB_PASSWORD_FILE", sb.path(rel));
        if let Some(v) = also {
            r.env("DB_PASSWORD", v);
        }
        r.args(["--", "/bin/sh", "-c", "echo started"]);
        let out = r.output();
        out.expect_code(code)
            .stderr_has("DB_PASSWORD")
            .stderr_has(says);
        assert!(!out.stdout().contains("started"), "{rel}");
        assert!(!out.stderr().contains(&value), "{}", out.stderr());
    }
}

#[test]
fn file_env_names_must_be_variable_names() {
    let sb = Sandbox::new();
    sb.config("secrets: {}\nsecret_init:\n  file_env: [\"NOT-A-VAR\"]\n");
    let mut r = sb.run();
    r.args(["--", "/bin/true"]);
    r.output().expect_code(78).stderr_has("file_env");
}

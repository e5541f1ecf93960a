//! Core: manifest, sources, precedence, delivery, the child's environment, exit codes.

use crate::support::*;

#[test]
fn env_secret_is_written_0600_and_program_runs() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  hf_access_token: null\n");
    let c = canary("hf");
    let out = sb
        .run()
        .env("TRUSS_SECRET_hf_access_token", &c)
        .args([
            "--",
            "/bin/sh",
            "-c",
            "cat \"$0\"/hf_access_token; echo; env",
        ])
        .arg(sb.path("out"))
        .output();
    out.expect_ok();
    assert!(
        out.stdout().starts_with(&format!("{c}\n")),
        "{}",
        out.stdout()
    );
    assert!(
        !out.stdout().contains("TRUSS_SECRET_"),
        "child env has TRUSS_SECRET_*: {}",
        out.stdout()
    );
    assert_eq!(mode(&sb.path("out/hf_access_token")), 0o600);
}

//! `examples/kubernetes/`: parsed and checked with the kubernetes Python client's models
//! (tests/support/check_kubernetes.py says what is checked). Its config.yaml names a Vault address
//! that is not started here, so it is checked as data, never run (no packet leaves 127.0.0.1).

use std::process::Command;

use crate::support::*;

#[test]
fn kubernetes_example_parses_with_the_client_models_and_is_wired_as_documented() {
    let out = Command::new(python())
        .arg(root().join("tests/support/check_kubernetes.py"))
        .arg(root().join("examples/kubernetes"))
        .arg(root().join("docs/options.md"))
        .output()
        .expect("run python");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("ok 3 documents"),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A broken example fails the check: a misplaced field the client would silently drop.
#[test]
fn kubernetes_check_catches_a_misplaced_field() {
    let sb = Sandbox::new();
    let good = read(&root().join("examples/kubernetes/model.yaml"));
    let bad = good.replacen("medium: Memory", "mediun: Memory", 1);
    assert_ne!(good, bad);
    sb.write("k8s/model.yaml", bad);
    let out = Command::new(python())
        .arg(root().join("tests/support/check_kubernetes.py"))
        .arg(sb.path("k8s"))
        .arg(root().join("docs/options.md"))
        .output()
        .expect("run python");
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

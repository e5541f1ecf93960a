//! scripts/setup's own check: every tool and header the build uses is present, and a missing one
//! is named in one line. The negative control hides the arm64 libc headers (what a fresh machine
//! lacked when only `gcc-aarch64-linux-gnu` was installed without its Recommends) in a bubblewrap
//! sandbox and shows that the check then fails, naming the Debian package to install.

use crate::support::root;
use std::process::Command;

fn setup_check(hide: Option<&str>) -> std::process::Output {
    let script = root().join("scripts/setup");
    let mut cmd = Command::new("bwrap");
    cmd.args(["--dev-bind", "/", "/"]);
    if let Some(dir) = hide {
        cmd.args(["--tmpfs", dir]);
    }
    cmd.arg("bash").arg(&script).arg("--check");
    cmd.output().expect("bwrap starts")
}

#[test]
fn setup_check_passes_on_this_machine() {
    let out = setup_check(None);
    assert!(
        out.status.success(),
        "scripts/setup --check failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn setup_check_names_the_missing_arm64_libc_headers() {
    let out = setup_check(Some("/usr/aarch64-linux-gnu/include"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("libc-header-start.h (Debian package libc6-dev-arm64-cross)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("aarch64-linux-gnu-gcc cannot compile a file including <stdio.h>"),
        "{stdout}"
    );
}

#[test]
fn setup_check_names_a_missing_file_and_its_package() {
    // Hiding the directory in a sandbox makes the file missing without touching the machine.
    let out = setup_check(Some("/etc/ssl/certs"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "missing /etc/ssl/certs/ca-certificates.crt (Debian package ca-certificates)"
        ),
        "{stdout}"
    );
}

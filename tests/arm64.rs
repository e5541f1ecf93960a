//! The arm64 build: the static `aarch64-unknown-linux-musl` binary run under `qemu-aarch64-static`
//! (user-mode emulation, no binfmt needed) for the core cases: resolve, deliver, exec with the exit
//! code passed through, all-or-nothing on a missing secret, and PID 1 in a real PID namespace
//! forwarding SIGHUP and ending with 143 on SIGTERM.
//!
//! The binary is `$SI_TEST_ARM64_BIN`, else the release build under target/ (scripts/test builds
//! it). Missing binary or qemu fails, never skips.

use std::path::PathBuf;

use nix::sys::signal::Signal;

use crate::init::Ns;
use crate::support::*;

const QEMU: &str = "/usr/bin/qemu-aarch64-static";

fn arm64_bin() -> PathBuf {
    let p = match std::env::var_os("SI_TEST_ARM64_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => root().join("target/aarch64-unknown-linux-musl/release/secret-init"),
    };
    assert!(
        p.exists(),
        "{} missing: cargo build --release --target aarch64-unknown-linux-musl (scripts/test does)",
        p.display()
    );
    assert!(
        std::path::Path::new(QEMU).exists(),
        "{QEMU} missing: scripts/setup installs qemu-user-static"
    );
    p
}

/// A sandbox run whose program is the arm64 binary under qemu.
fn under_qemu(sb: &Sandbox) -> Run {
    let mut r = sb.run();
    r.program = PathBuf::from(QEMU);
    r.arg(arm64_bin());
    r
}

/// The binary really is a static aarch64 ELF (so the cases below do not test the host build).
#[test]
fn arm64_binary_is_a_static_aarch64_elf() {
    let bytes = std::fs::read(arm64_bin()).expect("read");
    assert_eq!(&bytes[..4], b"\x7fELF");
    // e_machine at offset 18 (little-endian): EM_AARCH64 = 183.
    assert_eq!(u16::from_le_bytes([bytes[18], bytes[19]]), 183);
    // No PT_INTERP: no dynamic loader is asked for.
    let phoff = u64::from_le_bytes(bytes[32..40].try_into().expect("8 bytes")) as usize;
    let phentsize = u16::from_le_bytes([bytes[54], bytes[55]]) as usize;
    let phnum = u16::from_le_bytes([bytes[56], bytes[57]]) as usize;
    let interp = (0..phnum).any(|i| {
        let at = phoff + i * phentsize;
        u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) == 3
    });
    assert!(!interp, "the arm64 binary asks for a dynamic loader");
}

#[test]
fn arm64_resolves_delivers_and_execs() {
    let sb = Sandbox::new();
    let value = canary("arm64");
    sb.config(
        "secrets:\n  api_key: null\n  region: us-east-1\nsecret_init:\n  secrets:\n    api_key:\n      env: API_KEY\n",
    );
    sb.write("in/api_key", &value);
    let out_dir = sb.path("out");
    let mut r = under_qemu(&sb);
    r.args(["--", "/bin/sh", "-c"]).arg(format!(
        "echo file=$(cat {0}/api_key) env=$API_KEY region=$(cat {0}/region) mode=$(stat -c %a {0}/api_key); exit 7",
        out_dir.display()
    ));
    let out = r.output();
    out.expect_code(7);
    assert_eq!(
        out.stdout().trim(),
        format!("file={value} env={value} region=us-east-1 mode=600")
    );
    assert!(!out.stderr().contains(&value), "{}", out.stderr());
}

#[test]
fn arm64_missing_secret_is_69_and_nothing_is_written() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  api_key: null\n  region: us-east-1\n");
    let mut r = under_qemu(&sb);
    r.args(["--", "/bin/sh", "-c", "echo started"]);
    let out = r.output();
    out.expect_code(69).stderr_has("api_key");
    assert!(!out.stdout().contains("started"));
    assert_eq!(tree(&sb.path("out")), Vec::<String>::new());
}

/// As PID 1 of a fresh PID namespace, the emulated secret-init forwards SIGHUP to the program
/// and ends with 143 when SIGTERM ends it.
#[test]
fn arm64_pid1_forwards_hup_and_ends_143_on_term() {
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    let mut r = under_qemu(&sb);
    r.args([
        "--",
        "/bin/sh",
        "-c",
        "trap 'echo got-hup' HUP; echo ready; while :; do sleep 0.1; done",
    ]);
    let mut ns = Ns::start(&r, &[]);
    ns.expect_line("ready");
    let pid = ns.host_pid();
    ns.signal(pid, Signal::SIGHUP as i32);
    ns.expect_line("got-hup");
    ns.signal(pid, Signal::SIGTERM as i32);
    let code = ns.finish();
    assert_eq!(code, 143, "stderr: {}", ns.stderr());
}

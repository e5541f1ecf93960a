//! `--mask`: the program's output with every delivered value (and its base64, URL and JSON
//! forms) replaced by a marker, every other byte kept in order, back-pressure instead of loss,
//! everything flushed on exit and on a stop signal, and a pseudo-terminal when ours is one.
//!
//! Each run is PID 1 of its own PID namespace (bubblewrap), as in a container. The expected
//! output is computed by the Python programs themselves from first principles, never by
//! secret-init's code.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::support::*;

/// The secrets: three values masked (one with characters every encoding escapes, one not
/// UTF-8) and one shorter than the minimum length.
struct Values {
    a: String,
    b: String,
    c: Vec<u8>,
    short: &'static str,
}

fn values() -> Values {
    Values {
        a: canary("mask-a"),
        b: format!("{}/+= \"\u{e9}\\<&", canary("mask-b")),
        c: [&b"\xff\xfe"[..], canary("mask-c").as_bytes()].concat(),
        short: "pin7777",
    }
}

fn sandbox(v: &Values, extra: &str) -> Sandbox {
    let sb = Sandbox::new();
    sb.mkdir("in");
    sb.write("in/a", &v.a);
    sb.write("in/b", &v.b);
    sb.write("in/c", &v.c);
    sb.write("in/short", v.short);
    sb.config(&format!(
        "secrets:\n  a:\n  b:\n  c:\n  short:\nsecret_init:\n{extra}  secrets:\n    a: {{env: A}}\n    b: {{env: B}}\n    c: {{env: C}}\n    short: {{env: SHORT}}\n"
    ));
    sb
}

/// `run` as PID 1 of a new PID namespace.
fn in_namespace(run: &Run) -> Command {
    let mut cmd = Command::new("bwrap");
    cmd.args(BWRAP_PID1)
        .arg("--")
        .arg(&run.program)
        .args(&run.args)
        .env_clear()
        .envs(&run.env);
    if let Some(d) = &run.cwd {
        cmd.current_dir(d);
    }
    cmd
}

fn script(name: &str) -> String {
    root().join("tests/fixtures").join(name).display().to_string()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The first byte where two outputs differ, shown with some context.
fn same(what: &str, got: &[u8], want: &[u8]) {
    if got == want {
        return;
    }
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let lo = at.saturating_sub(120);
    panic!(
        "{what}: {} bytes, expected {}; first difference at {at}:\n got: {:?}\nwant: {:?}",
        got.len(),
        want.len(),
        String::from_utf8_lossy(&got[lo..(at + 120).min(got.len())]),
        String::from_utf8_lossy(&want[lo..(at + 120).min(want.len())]),
    );
}

#[test]
fn every_way_of_printing_is_masked_and_every_other_byte_kept() {
    let v = values();
    let sb = sandbox(&v, "  mask: true\n");
    let mut run = sb.run();
    run.env("SECRET_INIT_LOG_LEVEL", "error").args([
        "--".into(),
        python().into_os_string(),
        script("mask_printer.py").into(),
        sb.path("want.out").into(),
        sb.path("want.err").into(),
        "7".into(),
    ]);
    let out = in_namespace(&run).output().expect("bwrap");
    let code = out.status.code();
    assert_eq!(
        code,
        Some(7),
        "the program's exit code\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want_out = std::fs::read(sb.path("want.out")).expect("the program wrote its expectation");
    let want_err = std::fs::read(sb.path("want.err")).expect("the program wrote its expectation");
    assert!(want_out.len() > 4_000_000, "a log stream of several MB");
    same("stdout", &out.stdout, &want_out);
    same("stderr", &out.stderr, &want_err);
    for secret in [v.a.as_bytes(), v.b.as_bytes(), &v.c, b"canary-mask"] {
        assert!(!contains(&out.stdout, secret) && !contains(&out.stderr, secret));
    }
    // The negative control: the short value is printed, as documented.
    assert!(contains(&out.stdout, b"pin pin7777\n"));
}

#[test]
fn without_mask_the_values_are_printed() {
    // The control for the test above: the same program, no --mask, prints its secrets.
    let v = values();
    let sb = sandbox(&v, "");
    let mut run = sb.run();
    run.env("SECRET_INIT_LOG_LEVEL", "error").args([
        "--".into(),
        python().into_os_string(),
        script("mask_printer.py").into(),
        sb.path("want.out").into(),
        sb.path("want.err").into(),
        "0".into(),
    ]);
    let out = in_namespace(&run).output().expect("bwrap");
    assert!(out.status.success());
    assert!(contains(&out.stdout, v.a.as_bytes()));
    assert!(contains(&out.stderr, v.b.as_bytes()));
}

/// Writes 16 MB in 512 KiB writes with a value in each, reporting on stderr how much it has
/// written after each write.
const BULK: &str = r#"
import os, sys
v = os.environb[b"A"]
block = (b"x" * 1000 + b" " + v + b"\n") * 500
total = 0
while total < 16 * 1024 * 1024:
    view = memoryview(block)
    while view:
        view = view[os.write(1, view):]
    total += len(block)
    os.write(2, b"wrote %d\n" % total)
os.write(2, b"done\n")
"#;

#[test]
fn a_slow_reader_slows_the_program_and_loses_nothing() {
    let v = values();
    let sb = sandbox(&v, "");
    sb.write("bulk.py", BULK);
    let mut run = sb.run();
    run.env("SECRET_INIT_LOG_LEVEL", "error").args([
        "--mask".into(),
        "--".into(),
        python().into_os_string(),
        sb.path("bulk.py").into_os_string(),
    ]);
    let mut child = in_namespace(&run)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bwrap");
    let reported = Arc::new(Mutex::new(0u64));
    let seen = Arc::clone(&reported);
    let err = child.stderr.take().expect("stderr");
    let errors = std::thread::spawn(move || {
        let mut other = String::new();
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            match l.strip_prefix("wrote ") {
                Some(n) => *seen.lock().expect("lock") = n.parse().expect("number"),
                None => other.push_str(&l),
            }
        }
        other
    });
    let mut stdout = child.stdout.take().expect("stdout");
    let mut got = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut most_ahead = 0u64;
    loop {
        let n = stdout.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        // The program is never far ahead of what we read: what it has written and we have
        // not read is in pipes and one chunk of the masker, a few MB at most.
        let ahead = reported.lock().expect("lock").saturating_sub(got.len() as u64);
        most_ahead = most_ahead.max(ahead);
        // A slow reader.
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(child.wait().expect("wait").success());
    assert_eq!(errors.join().expect("stderr"), "done");
    let line = [&b"x".repeat(1000)[..], b" <secret:a>\n"].concat();
    let block = (1000 + 1 + v.a.len() + 1) * 500;
    let want = line.repeat(500 * (16 * 1024 * 1024usize).div_ceil(block));
    same("stdout", &got, &want);
    assert!(
        most_ahead < 4 * 1024 * 1024,
        "the program ran {most_ahead} bytes ahead of its reader: no back-pressure"
    );
}

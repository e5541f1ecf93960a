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
    run.as_pid1(&[])
}

fn script(name: &str) -> String {
    root()
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
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

/// tests/fixtures/mask_printer.py under secret-init as PID 1: it prints the secrets every way,
/// writes the output expected after masking to `want.out` and `want.err`, and exits `code`.
fn printer(sb: &Sandbox, code: &str) -> std::process::Output {
    let mut run = sb.run();
    run.env("SECRET_INIT_LOG_LEVEL", "error").args([
        "--".into(),
        python().into_os_string(),
        script("mask_printer.py").into(),
        sb.path("want.out").into(),
        sb.path("want.err").into(),
        code.into(),
    ]);
    in_namespace(&run).output().expect("bwrap")
}

#[test]
fn every_way_of_printing_is_masked_and_every_other_byte_kept() {
    let v = values();
    let sb = sandbox(&v, "  mask: true\n");
    let out = printer(&sb, "7");
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
    let out = printer(&sb, "0");
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
        let ahead = reported
            .lock()
            .expect("lock")
            .saturating_sub(got.len() as u64);
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

/// Numbered lines with a value in each, as fast as it can, until SIGTERM; then says which
/// line was its last whole one.
const FLOOD: &str = r#"
import os, signal, sys
stop = False
def on_term(sig, frame):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
v = os.environb[b"A"]
n = 0
while not stop:
    n += 1
    view = memoryview(b"line %08d %s %s\n" % (n, v, b"y" * 200))
    while view:
        view = view[os.write(1, view):]
os.write(2, b"last %d\n" % n)
sys.exit(3)
"#;

#[test]
fn sigterm_during_heavy_output_loses_no_byte_written() {
    let v = values();
    let sb = sandbox(&v, "");
    sb.write("flood.py", FLOOD);
    let mut run = sb.run();
    run.args([
        "--mask".into(),
        "--".into(),
        python().into_os_string(),
        sb.path("flood.py").into_os_string(),
    ]);
    let mut ns = crate::init::Ns::start(&run, &[]);
    // Ready once the flood is well under way.
    let mut lines = Vec::new();
    while lines.len() < 2000 {
        match ns.line(std::time::Duration::from_secs(20)) {
            Some(l) => lines.push(l),
            None => panic!("no output\n--- stderr\n{}", ns.stderr()),
        }
    }
    ns.signal(ns.host_pid(), nix::libc::SIGTERM);
    assert_eq!(ns.finish(), 3, "the program's own exit code");
    lines.extend(ns.rest());
    let last: usize = ns
        .stderr()
        .lines()
        .find_map(|l| l.strip_prefix("last "))
        .unwrap_or_else(|| panic!("no last line\n{}", ns.stderr()))
        .parse()
        .expect("number");
    assert!(last > 2000);
    assert_eq!(lines.len(), last, "every line the program wrote arrived");
    let tail = "y".repeat(200);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(*l, format!("line {:08} <secret:a> {tail}", i + 1));
    }
    assert!(!ns.stderr().contains(&v.a));
}

/// The program on a terminal: what it sees, then a resize or Ctrl-C.
const ON_TERMINAL: &str = r#"
import os, signal, sys, time, tty
mode = sys.argv[1]
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGWINCH})
signal.signal(signal.SIGINT, signal.SIG_DFL)
print("isatty", os.isatty(0), os.isatty(1), os.isatty(2))
print("\x1b[31mred\x1b[0m" if sys.stdout.isatty() else "no colour")
print("size", os.get_terminal_size().columns, os.get_terminal_size().lines)
print("line-buffered", sys.stdout.line_buffering)
print("token", os.environ["A"])
sys.stderr.write("stderr token " + os.environ["A"] + "\n")
if mode == "winch":
    # The program changes the terminal's mode (as a full-screen program does) and is gone.
    tty.setraw(0)
print("ready", flush=True)
if mode == "winch":
    deadline = time.monotonic() + 20
    while os.get_terminal_size().columns != 120 and time.monotonic() < deadline:
        signal.sigtimedwait({signal.SIGWINCH}, 1)
    print("resized", os.get_terminal_size().columns, os.get_terminal_size().lines, flush=True)
    sys.exit(5)
signal.pause()
"#;

fn on_terminal(mode: &str) -> (String, i32, bool) {
    let v = values();
    let sb = sandbox(&v, "  mask: true\n");
    sb.write("term.py", ON_TERMINAL);
    let run = sb.run();
    let mut cmd = Command::new(python());
    cmd.arg(script("mask_pty.py"))
        .arg(mode)
        .arg("bwrap")
        .args(BWRAP_PID1)
        .arg("--")
        .arg(&run.program)
        .args(["--", &python().display().to_string()])
        .arg(sb.path("term.py"))
        .arg(mode)
        .env_clear()
        .envs(&run.env)
        .current_dir(sb.path(""));
    let out = succeeded(&mut cmd);
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("the driver's JSON line");
    assert_eq!(report["acted"], true, "{report}");
    let text =
        String::from_utf8_lossy(&unb64(report["output"].as_str().expect("output"))).into_owned();
    assert!(!text.contains(&v.a), "{text}");
    (
        text,
        report["code"].as_i64().expect("code") as i32,
        report["restored"] == true,
    )
}

#[test]
fn on_a_terminal_the_program_gets_one_and_follows_its_size() {
    let (text, code, restored) = on_terminal("winch");
    for want in [
        "isatty True True True",
        "\x1b[31mred\x1b[0m",
        "size 80 24",
        "line-buffered True",
        "token <secret:a>",
        "stderr token <secret:a>",
        "resized 120 40",
    ] {
        assert!(text.contains(want), "{want:?} missing from {text:?}");
    }
    assert_eq!(code, 5, "the program's exit code\n{text}");
    assert!(restored, "the terminal's mode was not put back\n{text}");
}

#[test]
fn on_a_terminal_ctrl_c_reaches_the_program() {
    let (text, code, restored) = on_terminal("intr");
    assert!(text.contains("token <secret:a>"), "{text}");
    assert_eq!(
        code, 130,
        "SIGINT from the terminal ends the program\n{text}"
    );
    assert!(restored);
}

#[test]
fn a_refreshed_value_is_masked_from_its_publication_and_the_old_one_still() {
    let v = values();
    let sb = sandbox(&v, "  mask: true\n");
    let new = canary("mask-new");
    let out = sb.path("out").display().to_string();
    let mut run = sb.run();
    run.env("OLD", &v.a).args([
        "--refresh".to_string(),
        "1h".into(),
        "--".into(),
        "/bin/sh".into(),
        "-c".into(),
        format!("echo \"start $A $(cat {out}/a) was $OLD\"; while :; do sleep 0.05; done"),
    ]);
    let ns = crate::init::Ns::start(&run, &[]);
    ns.expect_line("start <secret:a> <secret:a> was <secret:a>");
    // A new value, renamed into the watched directory as an orchestrator writes it: its
    // variable changed, so the program is started again (on the same pipes), with it.
    sb.write("in/.a.tmp", &new);
    std::fs::rename(sb.path("in/.a.tmp"), sb.path("in/a")).expect("rename");
    ns.expect_line("start <secret:a> <secret:a> was <secret:a>");
    ns.signal(ns.host_pid(), nix::libc::SIGTERM);
    let mut ns = ns;
    assert_eq!(ns.finish(), 143);
    let rest = ns.rest().join("\n");
    let err = ns.stderr();
    for secret in [&v.a, &new] {
        assert!(
            !rest.contains(secret.as_str()) && !err.contains(secret.as_str()),
            "{err}"
        );
    }
}

#[test]
fn check_says_which_values_are_too_short_to_mask() {
    let v = values();
    let sb = sandbox(&v, "  mask: true\n  mask_min_length: 10\n");
    let out = sb.run().args(["check", "--format", "json"]).output();
    out.expect_ok().no_leak(&[&v.a, "pin7777"]);
    let report: serde_json::Value = serde_json::from_str(&out.stdout()).expect("json");
    let status = |name: &str| {
        report["secrets"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["name"] == name)
            .map(|r| r["status"].as_str().expect("status").to_string())
            .expect("row")
    };
    assert_eq!(
        status("short"),
        "ok, not masked (shorter than mask_min_length 10)"
    );
    assert_eq!(status("a"), "ok");
    // Without --mask, nothing is said about masking.
    let sb = sandbox(&v, "");
    let out = sb.run().args(["check", "--format", "json"]).output();
    assert!(!out.expect_ok().stdout().contains("not masked"));
}

#[test]
fn mask_refuses_no_init_and_bad_settings() {
    let v = values();
    let sb = sandbox(&v, "");
    sb.run()
        .args(["--mask", "--no-init", "--", "true"])
        .output()
        .expect_code(64)
        .stderr_has("--mask needs secret-init to stay as the program's parent");
    let sb = sandbox(&v, "  mask: true\n  mask_min_length: 0\n");
    sb.run()
        .args(["--", "true"])
        .output()
        .expect_code(64)
        .stderr_has("secret_init.mask_min_length: expected a number of bytes from 1 to 4096");
    // The env twin turns it on; the marker is configurable.
    let sb = sandbox(&v, "  mask_marker: '****'\n");
    let mut run = sb.run();
    run.env("SECRET_INIT_MASK", "true")
        .env("SECRET_INIT_LOG_LEVEL", "error")
        .args(["--", "/bin/sh", "-c", "echo \"x $A y\""]);
    let out = in_namespace(&run).output().expect("bwrap");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "x **** y\n");
}

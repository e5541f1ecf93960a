//! PID 1 and supervision: secret-init as a real PID 1 in a new PID namespace (bubblewrap
//! `--unshare-pid --as-pid-1`), signals sent from outside as a container runtime sends them,
//! orphans reaped, exit codes passed through; subreaper and exec mode outside PID 1; `--user`,
//! `--no-root`, `--cleanup` and the grace period for leftovers.
//!
//! Needs root (PID namespaces without a user namespace) and bwrap: both come with the test
//! command (scripts/setup); missing either fails, never skips.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::*;

fn assert_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the PID-namespace tests need root (the test command runs as root)"
    );
}

/// A run of secret-init as PID 1 of a fresh PID namespace, with line-by-line stdout (also used
/// by tests/refresh.rs).
pub(crate) struct Ns {
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    stdin: Option<ChildStdin>,
}

impl Ns {
    /// Starts `run` under `bwrap --unshare-pid --as-pid-1` with `extra` bwrap arguments
    /// (bind mounts) before the command.
    pub(crate) fn start(run: &Run, extra: &[&str]) -> Ns {
        assert_root();
        let mut child = run
            .as_pid1(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn bwrap (installed by scripts/setup)");
        let (tx, lines) = channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let err = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines() {
                let Ok(l) = l else { break };
                let mut s = sink.lock().expect("lock");
                s.push_str(&l);
                s.push('\n');
            }
        });
        let stdin = child.stdin.take();
        Ns {
            child,
            lines,
            stderr,
            stdin,
        }
    }

    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    /// The host PID of the namespace's PID 1: bwrap's child whose `NSpid` ends in 1.
    pub(crate) fn host_pid(&self) -> i32 {
        let found = self.try_host_pid(Duration::from_secs(5));
        found.unwrap_or_else(|| panic!("no PID 1 found under bwrap {}", self.child.id()))
    }

    /// [`Ns::host_pid`], or None when none shows up within `t` (it may have run and exited).
    pub(crate) fn try_host_pid(&self, t: Duration) -> Option<i32> {
        let bwrap = self.child.id().to_string();
        let mut found = 0;
        let ok = wait_until(t, || {
            let Ok(rd) = std::fs::read_dir("/proc") else {
                return false;
            };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !name.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                let status = read(&e.path().join("status"));
                let ppid = status.lines().find_map(|l| l.strip_prefix("PPid:"));
                let nspid = status.lines().find_map(|l| l.strip_prefix("NSpid:"));
                if ppid.map(str::trim) == Some(bwrap.as_str())
                    && nspid.is_some_and(|n| {
                        let ids: Vec<&str> = n.split_whitespace().collect();
                        ids.len() >= 2 && ids.last() == Some(&"1")
                    })
                {
                    found = name.parse().unwrap_or(0);
                    return true;
                }
            }
            false
        });
        ok.then_some(found)
    }

    /// The next stdout line, waiting at most `t`.
    pub(crate) fn line(&self, t: Duration) -> Option<String> {
        self.lines.recv_timeout(t).ok()
    }

    /// Waits for a line equal to `want`, failing with everything known otherwise.
    pub(crate) fn expect_line(&self, want: &str) {
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            match self.line(end - Instant::now()) {
                Some(l) if l == want => return,
                Some(_) => continue,
                None => break,
            }
        }
        panic!("no line {want:?}\n--- stderr\n{}", self.stderr());
    }

    pub(crate) fn signal(&self, pid: i32, sig: i32) {
        let s = Signal::try_from(sig).expect("signal");
        kill(Pid::from_raw(pid), s).expect("kill");
    }

    pub(crate) fn send_stdin(&mut self, s: &str) {
        let stdin = self.stdin.as_mut().expect("stdin");
        stdin.write_all(s.as_bytes()).expect("write stdin");
        stdin.flush().expect("flush");
    }

    /// Waits at most `t` for the run to end; its exit code.
    pub(crate) fn wait(&mut self, t: Duration) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        let end = Instant::now() + t;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return Some(st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)));
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits for the end (at most 20 s) and returns the code, failing with stderr on timeout.
    pub(crate) fn finish(&mut self) -> i32 {
        match self.wait(Duration::from_secs(20)) {
            Some(c) => c,
            None => panic!("did not exit within 20s\n--- stderr\n{}", self.stderr()),
        }
    }

    /// Every stdout line not read yet (after the run ended).
    pub(crate) fn rest(&self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(l) = self.line(Duration::from_millis(500)) {
            out.push(l);
        }
        out
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        // Only on a failed test is bwrap still running: end it (by its PID, which we started);
        // --die-with-parent takes the namespace with it.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A program that prints `ready` and then blocks until killed (default dispositions).
fn ready_then_sleep() -> Vec<&'static str> {
    vec!["/bin/sh", "-c", "echo ready; exec sleep 1000"]
}

#[test]
fn pid1_sigterm_from_outside_reaches_the_program_promptly() {
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    let mut r = sb.run();
    r.arg("--").args(ready_then_sleep());
    let mut ns = Ns::start(&r, &[]);
    ns.expect_line("ready");
    let pid = ns.host_pid();
    let t0 = Instant::now();
    ns.signal(pid, libc_sig::TERM);
    let code = ns.finish();
    assert_eq!(code, 143, "stderr: {}", ns.stderr());
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t0.elapsed()
    );
}

#[test]
fn pid1_without_init_drops_sigterm_negative_control() {
    // The reason secret-init supervises: a program exec'd as PID 1 never sees the SIGTERM.
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    let mut r = sb.run();
    r.args(["--no-init", "--"]).args(ready_then_sleep());
    let mut ns = Ns::start(&r, &[]);
    ns.expect_line("ready");
    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::TERM);
    assert_eq!(
        ns.wait(Duration::from_millis(700)),
        None,
        "sleep as PID 1 should have ignored SIGTERM"
    );
    ns.signal(pid, libc_sig::KILL);
    assert_eq!(ns.finish(), 137);
    assert!(ns.stderr().contains("--no-init"), "{}", ns.stderr());
}

/// Signal numbers, named, for readability (x86_64 Linux).
pub(crate) mod libc_sig {
    pub(crate) const HUP: i32 = 1;
    pub(crate) const KILL: i32 = 9;
    pub(crate) const USR1: i32 = 10;
    pub(crate) const TERM: i32 = 15;
    pub(crate) const CHLD: i32 = 17;
    pub(crate) const STOP: i32 = 19;
}

/// dumb-init's print_signals: a handler for every catchable signal, `ready` first, each signal
/// number printed as it arrives; `exit` on stdin ends it.
const PRINT_SIGNALS: &str = r#"
import os, signal, sys
def on(n, _f):
    # os.write, not print: the next signal may come while this one is still being written,
    # and a buffered print would be re-entered.
    os.write(1, b"%d\n" % n)
for n in range(1, 32):
    if n not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD):
        signal.signal(n, on)
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "exit":
        break
"#;

#[test]
fn pid1_every_signal_arrives_exactly_once() {
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    let mut r = sb.run();
    r.arg("--").arg(python()).args(["-c", PRINT_SIGNALS]);
    let mut ns = Ns::start(&r, &[]);
    ns.expect_line("ready");
    let pid = ns.host_pid();
    let signals: Vec<i32> = (1..=31)
        .filter(|&n| ![libc_sig::KILL, libc_sig::STOP, libc_sig::CHLD].contains(&n))
        .collect();
    assert_eq!(signals.len(), 28);
    for &sig in &signals {
        ns.signal(pid, sig);
        let got = ns.line(Duration::from_secs(20));
        assert_eq!(
            got.as_deref(),
            Some(sig.to_string().as_str()),
            "signal {sig}\n--- stderr\n{}",
            ns.stderr()
        );
    }
    ns.send_stdin("exit\n");
    assert_eq!(ns.finish(), 0, "stderr: {}", ns.stderr());
    assert_eq!(ns.rest(), Vec::<String>::new(), "a signal arrived twice");
}

/// Starts a child that does not ignore SIGUSR1, then ignores SIGUSR1 itself; reports how the
/// child ended.
const PGROUP: &str = r#"
import signal, subprocess
child = subprocess.Popen(["sleep", "1000"])
signal.signal(signal.SIGUSR1, signal.SIG_IGN)
print("ready", flush=True)
print("child", child.wait(), flush=True)
"#;

#[test]
fn pid1_process_group_forwards_to_the_whole_group() {
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    let mut r = sb.run();
    r.args(["--process-group", "--"])
        .arg(python())
        .args(["-c", PGROUP]);
    let mut ns = Ns::start(&r, &[]);
    ns.expect_line("ready");
    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::USR1);
    ns.expect_line("child -10");
    assert_eq!(ns.finish(), 0, "stderr: {}", ns.stderr());

    // Without the option only the program itself (which ignores it) gets the signal.
    let mut r = sb.run();
    r.arg("--").arg(python()).args(["-c", PGROUP]);
    let mut ns = Ns::start(&r, &[]);
    ns.expect_line("ready");
    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::USR1);
    assert_eq!(ns.line(Duration::from_millis(700)), None);
    ns.signal(pid, libc_sig::TERM);
    assert_eq!(ns.finish(), 143);
}

/// tini's reaping test: a shell starts 100 sleeps in the background and exits, orphaning them.
/// They are re-parented to the nearest reaper (PID 1 or a subreaper). Prints how many orphans
/// the reaper got, then waits (bounded) until none is left in any state, zombies included.
const ORPHANS: &str = r#"
import os, subprocess, sys, time
reaper = 1 if os.getpid() == 1 else os.getppid()
# A session of its own marks our orphans: other tests' processes may share the reaper.
sh = subprocess.Popen(["sh", "-c", "for i in $(seq 100); do sleep 2 & done; exit 0"],
                      start_new_session=True)
assert sh.wait() == 0
def orphans():
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == os.getpid():
            continue
        try:
            stat = open(f"/proc/{p}/stat").read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == reaper and int(fields[3]) == sh.pid:
            out[p] = fields[0]
    return out
print("orphans", len(orphans()), flush=True)
deadline = time.monotonic() + 6
while time.monotonic() < deadline:
    left = orphans()
    if not left:
        print("clean", flush=True)
        sys.exit(0)
    time.sleep(0.05)
print("left", "".join(sorted(set(left.values()))), len(left), flush=True)
sys.exit(1)
"#;

#[test]
fn pid1_reaps_100_orphans() {
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    let mut r = sb.run();
    r.arg("--").arg(python()).args(["-c", ORPHANS]);
    let mut ns = Ns::start(&r, &[]);
    ns.expect_line("orphans 100");
    ns.expect_line("clean");
    assert_eq!(ns.finish(), 0, "stderr: {}", ns.stderr());
}

#[test]
fn pid1_without_init_leaves_zombies_negative_control() {
    // The same check must fail when nobody reaps: the program itself is PID 1 and never waits.
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    let mut r = sb.run();
    r.args(["--no-init", "--"])
        .arg(python())
        .args(["-c", ORPHANS]);
    let mut ns = Ns::start(&r, &[]);
    ns.expect_line("orphans 100");
    ns.expect_line("left Z 100");
    assert_eq!(ns.finish(), 1);
}

#[test]
fn subreaper_mode_reaps_orphans_and_exec_mode_does_not() {
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    let out = sb
        .run()
        .args(["--init", "--"])
        .arg(python())
        .args(["-c", ORPHANS])
        .output();
    out.expect_ok().stdout_has("orphans 100\nclean\n");
    // Negative control: exec mode leaves no secret-init behind, so the orphans go to some other
    // reaper, not to the program's parent (the test process).
    let out = sb
        .run()
        .arg("--")
        .arg(python())
        .args(["-c", ORPHANS])
        .output();
    out.stdout_has("orphans 0\n");
}

#[test]
fn modes_parent_and_pid() {
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    let script = "echo $$ $PPID";
    // Exec mode: the program has secret-init's PID; its parent is the test process.
    let mut cmd = sb.run().args(["--", "/bin/sh", "-c", script]).command();
    let child = cmd.stdout(Stdio::piped()).spawn().expect("spawn");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{pid} {}", std::process::id())
    );
    // --init: secret-init stays as the parent.
    let mut cmd = sb
        .run()
        .args(["--init", "--", "/bin/sh", "-c", script])
        .command();
    let child = cmd.stdout(Stdio::piped()).spawn().expect("spawn");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let ids: Vec<&str> = text.split_whitespace().collect();
    assert_ne!(ids[0], pid.to_string());
    assert_eq!(ids[1], pid.to_string());
    // As PID 1 the program is PID 2, child of PID 1.
    let mut r = sb.run();
    r.args(["--", "/bin/sh", "-c", script]);
    let mut ns = Ns::start(&r, &[]);
    ns.expect_line("2 1");
    assert_eq!(ns.finish(), 0);
}

#[test]
fn pid1_exit_codes_pass_through() {
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    for code in 0..=255 {
        let mut r = sb.run();
        r.args(["--", "/bin/sh", "-c", &format!("exit {code}")]);
        let mut ns = Ns::start(&r, &[]);
        assert_eq!(ns.finish(), code, "exit {code}: {}", ns.stderr());
    }
    // Deaths by signal (Python, not sh: dash and bash differ; dumb-init#115), no core files.
    let rtmin3 = 34 + 3;
    for sig in [1, 2, 3, 6, 9, 10, 11, 13, 15, 31, rtmin3] {
        let script = format!(
            "import os, resource, signal\nresource.setrlimit(resource.RLIMIT_CORE, (0, 0))\n\
             if {sig} != 9: signal.signal({sig}, signal.SIG_DFL)\nos.kill(os.getpid(), {sig})\n"
        );
        let mut r = sb.run();
        r.arg("--").arg(python()).args(["-c", &script]);
        let mut ns = Ns::start(&r, &[]);
        assert_eq!(ns.finish(), 128 + sig, "signal {sig}: {}", ns.stderr());
    }
}

#[test]
fn pid1_signal_racing_the_exit_1000_times() {
    // The program asks PID 1 (secret-init) to forward SIGTERM to it while it exits: the signal
    // lands before, during or after the exit. Whatever the order, the run ends with the
    // program's code (3) or 143, never a panic (101/134) or a hang.
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    let started = Instant::now();
    let mut seen = std::collections::BTreeMap::new();
    for i in 0..1000 {
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "too slow: {i} runs"
        );
        // A busy loop of 0..390 steps moves the exit across the moment the signal lands.
        let spin = (i % 40) * 10;
        let script =
            format!("kill -TERM 1 & i=0; while [ $i -lt {spin} ]; do i=$((i+1)); done; exit 3");
        let mut r = sb.run();
        r.args(["--", "/bin/sh", "-c", &script]);
        let mut ns = Ns::start(&r, &[]);
        let code = ns.finish();
        assert!(
            code == 3 || code == 143,
            "run {i}: exit {code}\n{}",
            ns.stderr()
        );
        *seen.entry(code).or_insert(0) += 1;
    }
    eprintln!("outcomes: {seen:?}");
    // Both orders happened, or the race was not exercised.
    assert_eq!(seen.len(), 2, "outcomes: {seen:?}");
}

fn status_field(status: &str, key: &str) -> u64 {
    let v = status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("{key} missing in {status}"));
    u64::from_str_radix(v, 16).expect("hex")
}

fn bit(sig: u32) -> u64 {
    1 << (sig - 1)
}

/// Prints the wrapper's own SigBlk and SigIgn (what secret-init is started with), then execs.
const SHOW_AND_EXEC: &str = "sys.stdout.write(''.join(l for l in open('/proc/self/status') \
    if l.startswith(('SigBlk', 'SigIgn'))))\nsys.stdout.flush()\nos.execv(sys.argv[1],sys.argv[1:])\n";

/// Starts secret-init with SIGUSR1 and SIGTERM blocked and SIGHUP, SIGINT and SIGPIPE ignored
/// (tini's sigconf test).
fn sigconf() -> String {
    format!(
        "import os,signal,sys\n\
         signal.pthread_sigmask(signal.SIG_BLOCK,[signal.SIGUSR1,signal.SIGTERM])\n\
         signal.signal(signal.SIGHUP,signal.SIG_IGN)\nsignal.signal(signal.SIGINT,signal.SIG_IGN)\n\
         signal.signal(signal.SIGPIPE,signal.SIG_IGN)\n{SHOW_AND_EXEC}"
    )
}

/// A wrapper with the default signal state (Python ignores SIGPIPE and SIGXFSZ; undo that).
fn plain() -> String {
    format!(
        "import os,signal,sys\nsignal.signal(signal.SIGPIPE,signal.SIG_DFL)\n\
         signal.signal(signal.SIGXFSZ,signal.SIG_DFL)\n{SHOW_AND_EXEC}"
    )
}

/// The (SigBlk, SigIgn) pairs in `text`, in order.
fn sig_states(text: &str) -> Vec<(u64, u64)> {
    let blk: Vec<u64> = text
        .lines()
        .filter(|l| l.starts_with("SigBlk:"))
        .map(|l| status_field(l, "SigBlk:"))
        .collect();
    let ign: Vec<u64> = text
        .lines()
        .filter(|l| l.starts_with("SigIgn:"))
        .map(|l| status_field(l, "SigIgn:"))
        .collect();
    blk.into_iter().zip(ign).collect()
}

#[test]
fn child_signal_state_in_every_mode() {
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    let modes: [&[&str]; 3] = [&[], &["--init"], &["--init", "--process-group"]];
    for mode in modes {
        for (name, wrapper) in [("plain", plain()), ("sigconf", sigconf())] {
            let mut r = sb.run();
            r.program = python();
            r.args(["-c", &wrapper]).arg(bin()).args(mode).args([
                "--",
                "/bin/cat",
                "/proc/self/status",
            ]);
            let out = r.output();
            out.expect_ok();
            let states = sig_states(&out.stdout());
            assert_eq!(states.len(), 2, "{}", out.stdout());
            let (started, child) = (states[0], states[1]);
            // Exactly what secret-init was started with, whatever that was.
            assert_eq!(child, started, "{name} {mode:?}: (SigBlk, SigIgn)");
            if name == "plain" {
                assert_eq!(child.0, 0, "{mode:?}: SigBlk not empty");
                assert_eq!(child.1 & bit(13), 0, "{mode:?}: SIGPIPE ignored");
            } else {
                assert_eq!(child.0 & (bit(10) | bit(15)), bit(10) | bit(15));
                let ign = bit(1) | bit(2) | bit(13);
                assert_eq!(
                    child.1 & ign,
                    ign,
                    "{mode:?}: SIGHUP/SIGINT/SIGPIPE ignored"
                );
            }
        }
    }
    // As PID 1, started by bwrap.
    let mut r = sb.run();
    r.args(["--", "/bin/cat", "/proc/self/status"]);
    let mut ns = Ns::start(&r, &[]);
    assert_eq!(ns.finish(), 0);
    let st = ns.rest().join("\n");
    assert_eq!(status_field(&st, "SigBlk:"), 0);
    assert_eq!(status_field(&st, "SigIgn:") & bit(13), 0, "SIGPIPE ignored");
}

/// The program checks that it is dumpable and that it cannot read its non-dumpable parent's
/// environment (same uid, so only PR_SET_DUMPABLE can refuse it), while it can read its own.
const DUMPABLE: &str = r#"
import ctypes, os
libc = ctypes.CDLL(None)
print("dumpable", libc.prctl(3, 0, 0, 0, 0), flush=True)
open("/proc/self/environ", "rb").read()
try:
    open(f"/proc/{os.getppid()}/environ", "rb").read()
    print("parent readable", flush=True)
except PermissionError:
    print("parent protected", flush=True)
"#;

/// Debian's python3, which user nobody can execute (the project venv lives under /root).
const SYSTEM_PYTHON: &str = "/usr/bin/python3";

#[test]
fn supervisor_is_not_dumpable_but_the_program_is() {
    assert_root();
    // secret-init itself runs as nobody here, so root's CAP_SYS_PTRACE does not mask the check.
    let mut r = Run::new();
    r.cwd = Some("/".into());
    r.program = "setpriv".into();
    r.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(bin())
        .args(["--init", "--", SYSTEM_PYTHON, "-c", DUMPABLE]);
    let out = r.output();
    out.expect_ok()
        .stdout_has("dumpable 1\n")
        .stdout_has("parent protected\n");
    // Control: the same check reads a dumpable same-uid parent (a shell in between).
    let mut r = Run::new();
    r.cwd = Some("/".into());
    r.program = "setpriv".into();
    r.args([
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
        "/bin/sh",
        "-c",
        "\"$0\" \"$@\"; exit $?",
    ])
    .args([SYSTEM_PYTHON, "-c", DUMPABLE]);
    r.output().expect_ok().stdout_has("parent readable\n");
}

fn uid_line(status: &str, key: &str) -> String {
    status
        .lines()
        .find(|l| l.starts_with(key))
        .map(|l| {
            l[key.len()..]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

#[test]
fn user_owns_the_files_and_the_program_runs_as_it() {
    assert_root();
    let sb = Sandbox::new();
    // The user must be able to reach its output dir through the sandbox.
    std::fs::set_permissions(sb.dir.path(), std::fs::Permissions::from_mode(0o711)).expect("chmod");
    sb.config("secrets:\n  db: null\n");
    let c = canary("user");
    let passwd = sb.write(
        "etc/passwd",
        "root:x:0:0::/root:/bin/sh\napp:x:4242:4243::/home/app:/bin/sh\n",
    );
    let group = sb.write(
        "etc/group",
        "root:x:0:\napp:x:4243:\nstaff:x:50:app\nvideo:x:44:other,app\n",
    );
    let program =
        "grep -E '^(Uid|Gid|Groups):' /proc/self/status; echo \"HOME=$HOME\"; cat \"$0\"/db; echo";
    for (spec, extra) in [
        ("4242:4243", vec![]),
        (
            "app",
            vec![
                "--ro-bind",
                passwd.to_str().expect("utf8"),
                "/etc/passwd",
                "--ro-bind",
                group.to_str().expect("utf8"),
                "/etc/group",
            ],
        ),
    ] {
        let _ = std::fs::remove_dir_all(sb.path("out"));
        let mut r = sb.run();
        r.env("TRUSS_SECRET_db", &c)
            .args(["--user", spec, "--", "/bin/sh", "-c", program])
            .arg(sb.path("out"));
        let mut ns = Ns::start(&r, &extra);
        assert_eq!(ns.finish(), 0, "{spec}: {}", ns.stderr());
        let out = ns.rest().join("\n");
        assert_eq!(uid_line(&out, "Uid:"), "4242 4242 4242 4242", "{out}");
        assert_eq!(uid_line(&out, "Gid:"), "4243 4243 4243 4243", "{out}");
        let groups = uid_line(&out, "Groups:");
        if spec == "app" {
            assert_eq!(groups, "44 50 4243", "{out}");
            // A named user gets its passwd home as HOME, as with gosu / su-exec.
            assert!(out.lines().any(|l| l == "HOME=/home/app"), "{out}");
        } else {
            assert_eq!(groups, "4243", "{out}");
            // No passwd entry: no HOME (ours is not this user's).
            assert!(out.lines().any(|l| l == "HOME="), "{out}");
        }
        assert!(out.contains(&c), "the program read its secret: {out}");
        let md = std::fs::metadata(sb.path("out/db")).expect("db");
        assert_eq!(
            (md.uid(), md.gid(), md.mode() & 0o7777),
            (4242, 4243, 0o600)
        );
        let dir = std::fs::metadata(sb.path("out")).expect("out");
        assert_eq!((dir.uid(), dir.mode() & 0o7777), (4242, 0o700));
    }
    // Exec mode switches too.
    let _ = std::fs::remove_dir_all(sb.path("out"));
    let out = sb
        .run()
        .env("TRUSS_SECRET_db", &c)
        .args(["--user", "4242:4243", "--", "/bin/sh", "-c", program])
        .arg(sb.path("out"))
        .output();
    out.expect_ok();
    assert_eq!(uid_line(&out.stdout(), "Uid:"), "4242 4242 4242 4242");
    assert_eq!(uid_line(&out.stdout(), "Groups:"), "4243");
    // An unknown name is refused before anything happens.
    sb.run()
        .args(["--user", "nobody-here", "--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has("no user \"nobody-here\"");
}

#[test]
fn no_root_refuses_uid_0() {
    assert_root();
    let sb = Sandbox::new();
    sb.config("secrets:\n  db: null\n");
    let marker = sb.path("ran");
    let prog = format!("touch {}", marker.display());
    for args in [
        vec!["--no-root"],
        vec!["--no-root", "--user", "0"],
        vec!["--no-root", "--user", "root"],
    ] {
        sb.run()
            .env("TRUSS_SECRET_db", "x")
            .args(&args)
            .args(["--", "/bin/sh", "-c", &prog])
            .output()
            .expect_code(78)
            .stderr_has("refusing to run the program as root");
        assert!(!marker.exists(), "{args:?}: program started");
        assert!(!sb.path("out/db").exists(), "{args:?}: file written");
    }
    sb.run()
        .env("SECRET_INIT_NO_ROOT", "true")
        .env("TRUSS_SECRET_db", "x")
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78);
    std::fs::set_permissions(sb.dir.path(), std::fs::Permissions::from_mode(0o711)).expect("chmod");
    sb.run()
        .env("TRUSS_SECRET_db", "x")
        .args(["--no-root", "--user", "4242", "--", "/bin/true"])
        .output()
        .expect_ok();
}

#[test]
fn cleanup_removes_files_and_never_follows_a_planted_link() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  a: null\n  b: null\n");
    let victim = sb.write("victim", "precious");
    let out_dir = sb.path("out");
    // The program replaces `b` with a link to the victim before it exits.
    let prog = format!(
        "test -f {o}/a && test -f {o}/b && rm {o}/b && ln -s {v} {o}/b && exit 7",
        o = out_dir.display(),
        v = victim.display()
    );
    let out = sb
        .run()
        .env("TRUSS_SECRET_a", "1")
        .env("TRUSS_SECRET_b", "2")
        .args(["--cleanup", "--", "/bin/sh", "-c", &prog])
        .output();
    out.expect_code(7).stderr_has("not removing");
    assert!(!sb.path("out/a").exists(), "a removed");
    assert!(
        std::fs::symlink_metadata(sb.path("out/b"))
            .expect("b")
            .file_type()
            .is_symlink(),
        "the planted link is left alone"
    );
    assert_eq!(read(&victim), "precious");
    // Without --cleanup the files stay.
    std::fs::remove_file(sb.path("out/b")).expect("rm");
    sb.run()
        .env("TRUSS_SECRET_a", "1")
        .env("TRUSS_SECRET_b", "2")
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    assert!(sb.path("out/a").exists() && sb.path("out/b").exists());
    // A symlinked parent directory at cleanup time is not followed either.
    let elsewhere = sb.mkdir("elsewhere");
    sb.write("elsewhere/a", "other");
    let prog = format!(
        "mv {o} {o}.old && ln -s {e} {o}",
        o = out_dir.display(),
        e = elsewhere.display()
    );
    sb.run()
        .env("TRUSS_SECRET_a", "1")
        .env("TRUSS_SECRET_b", "2")
        .args(["--cleanup", "--", "/bin/sh", "-c", &prog])
        .output()
        .expect_ok();
    assert_eq!(read(&sb.path("elsewhere/a")), "other");
    // And as PID 1 (signal-ended program): files gone after a SIGTERM.
    let _ = std::fs::remove_file(&out_dir);
    let mut r = sb.run();
    r.env("TRUSS_SECRET_a", "1")
        .env("TRUSS_SECRET_b", "2")
        .args(["--cleanup", "--"])
        .args(ready_then_sleep());
    let mut ns = Ns::start(&r, &[]);
    ns.expect_line("ready");
    assert!(sb.path("out/a").exists());
    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::TERM);
    assert_eq!(ns.finish(), 143);
    assert!(!sb.path("out/a").exists() && !sb.path("out/b").exists());
}

#[test]
fn leftovers_get_sigterm_then_sigkill_after_the_grace_period() {
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    // A leftover that dies of SIGTERM: the run ends at once with the program's code, long
    // before the grace period would run out.
    let mut r = sb.run();
    r.args([
        "--grace-period",
        "30",
        "--",
        "/bin/sh",
        "-c",
        "sleep 1000 & echo ready; exit 5",
    ]);
    let mut ns = Ns::start(&r, &[]);
    ns.expect_line("ready");
    let t0 = Instant::now();
    assert_eq!(ns.finish(), 5);
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    // One that ignores SIGTERM: SIGKILL after the grace period, not before.
    let mut r = sb.run();
    r.args([
        "--grace-period",
        "1",
        "--",
        "/bin/sh",
        "-c",
        // `ready` comes from inside the leftover, after its trap is set, so it cannot die of the
        // SIGTERM early; the pipe makes the shell wait for that line before it exits.
        "{ (trap '' TERM; echo ready; exec sleep 1000 >/dev/null) & } | { read l; echo $l; }; exit 6",
    ]);
    // Timed from before the start: the grace period begins when the program exits, after that.
    let t0 = Instant::now();
    let mut ns = Ns::start(&r, &[]);
    ns.expect_line("ready");
    assert_eq!(ns.finish(), 6);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(15),
        "{took:?}"
    );
    // Subreaper mode: the leftover (re-parented to secret-init) is ended and reaped too.
    let out = sb
        .run()
        .args([
            "--init",
            "--grace-period",
            "0.2",
            "--",
            "/bin/sh",
            "-c",
            "(trap '' TERM; exec sleep 1000) & echo $!; exit 4",
        ])
        .output();
    out.expect_code(4);
    let leftover: i32 = out.stdout().trim().parse().expect("pid");
    assert!(
        !std::path::Path::new(&format!("/proc/{leftover}")).exists(),
        "leftover {leftover} still exists"
    );
}

#[test]
fn pid1_sigterm_during_delivery_publishes_nothing() {
    // Many files make delivery take a while (no fsync at start: 2,000 of them); SIGTERM goes in as soon as
    // the staging dir shows up. Each attempt must end all-or-nothing; at least one must land
    // inside the delivery (exit 143), or the test proves nothing.
    let sb = Sandbox::new();
    let n = 2000;
    let mut yaml = String::from("secrets:\n");
    for i in 0..n {
        yaml.push_str(&format!("  s{i}: null\n"));
    }
    sb.config(&yaml);
    let mut stopped = 0;
    for attempt in 0..8 {
        let _ = std::fs::remove_dir_all(sb.path("out"));
        let _ = std::fs::remove_file(sb.path("ran"));
        sb.mkdir("out");
        let mut r = sb.run();
        for i in 0..n {
            r.env(format!("TRUSS_SECRET_s{i}"), format!("v{i}"));
        }
        r.args(["--", "/bin/sh", "-c"])
            .arg(format!("touch {}", sb.path("ran").display()));
        let mut ns = Ns::start(&r, &[]);
        // A fast machine may run the whole start before PID 1 is seen: then it must have
        // published everything (checked below).
        let pid = ns.try_host_pid(Duration::from_secs(5));
        let staging = wait_until(Duration::from_secs(10), || {
            tree(&sb.path("out"))
                .iter()
                .any(|p| p.starts_with(".secret-init-"))
                || ns.child.try_wait().ok().flatten().is_some()
        });
        assert!(staging, "attempt {attempt}: neither staging nor exit");
        if let Some(pid) = pid {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let code = ns.finish();
        let files = tree(&sb.path("out"));
        if code == 143 {
            stopped += 1;
            assert!(files.is_empty(), "attempt {attempt}: left {files:?}");
            assert!(!sb.path("ran").exists(), "program started");
        } else {
            assert_eq!(code, 0, "{}", ns.stderr());
            assert_eq!(files.len(), n, "all published");
        }
    }
    assert!(stopped > 0, "no attempt was stopped inside the delivery");
}

#[test]
fn a_signal_from_inside_the_namespace_is_forwarded() {
    // A process inside the namespace signals PID 1 (secret-init): forwarded like one from
    // outside, not taken for our own noise.
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    let prog = r#"
import signal, subprocess, time
got = []
signal.signal(signal.SIGHUP, lambda n, f: got.append(n))
subprocess.run(["kill", "-HUP", "1"], check=True)
deadline = time.monotonic() + 5
while not got and time.monotonic() < deadline:
    time.sleep(0.01)
print("hup", len(got), flush=True)
"#;
    let mut r = sb.run();
    r.arg("--").arg(python()).args(["-c", prog]);
    let mut ns = Ns::start(&r, &[]);
    ns.expect_line("hup 1");
    assert_eq!(ns.finish(), 0);
}

#[test]
fn config_file_keys_choose_the_mode() {
    let sb = Sandbox::new();
    sb.config("secrets: {}\nsecret_init:\n  init: true\n  grace_period: 0.5\n  process_group: true\n  no_root: false\n  cleanup: false\n");
    let mut cmd = sb
        .run()
        .args(["--", "/bin/sh", "-c", "echo $PPID"])
        .command();
    let child = cmd.stdout(Stdio::piped()).spawn().expect("spawn");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        pid.to_string(),
        "supervised"
    );
    // The command line wins over the file.
    let mut cmd = sb
        .run()
        .args(["--no-init", "--", "/bin/sh", "-c", "echo $$"])
        .command();
    let child = cmd.stdout(Stdio::piped()).spawn().expect("spawn");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        pid.to_string(),
        "exec"
    );
    // Typos are refused like every unknown key.
    sb.config("secrets: {}\nsecret_init:\n  no_roots: true\n");
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has("no_roots");
}

#[test]
fn pid1_environ_keeps_no_secret_input() {
    // The supervisor lives on as PID 1 and /proc/1/environ shows its start-up block: the values
    // of its inputs (TRUSS_SECRET_*) are wiped, what the program also got is left.
    let sb = Sandbox::new();
    sb.config("secrets:\n  db: null\n");
    let c = canary("environ");
    let mut r = sb.run();
    r.env("TRUSS_SECRET_db", &c)
        .env("PLAIN_MARKER", "visible")
        .args(["--", "/bin/sh", "-c", "tr '\\0' '\\n' < /proc/1/environ"]);
    let mut ns = Ns::start(&r, &[]);
    assert_eq!(ns.finish(), 0, "{}", ns.stderr());
    let out = ns.rest().join("\n");
    assert!(
        out.contains("PLAIN_MARKER=visible"),
        "the check reads the block: {out}"
    );
    assert!(out.contains("TRUSS_SECRET_db="), "{out}");
    assert!(!out.contains(&c), "canary left in /proc/1/environ: {out}");
}

/// A program that counts its supervisor's wakeups (voluntary context switches of PID 1, from
/// /proc) over an idle window of its own, prints `wakeups N`, then `ready` and blocks. The
/// window is the program's: nothing happens in it, which is the point; the test itself waits
/// only for the lines. It starts once the count has held still for 0.3 s (at most 20 tries):
/// the supervisor may still be finishing the spawn when the program first runs.
pub(crate) fn idle_wakeups_then_sleep(window_secs: u32) -> Vec<String> {
    vec![
        "/bin/sh".into(),
        "-c".into(),
        format!(
            "v() {{ grep ^voluntary_ctxt_switches /proc/1/status | tr -dc 0-9; }}; \
             a=$(v); n=0; while sleep 0.3; b=$(v); [ \"$a\" != \"$b\" ] && [ $n -lt 20 ]; \
             do a=$b; n=$((n + 1)); done; \
             sleep {window_secs}; c=$(v); echo \"wakeups $((c - b))\"; \
             echo ready; exec sleep 1000"
        ),
    ]
}

#[test]
fn pid1_idle_supervisor_never_wakes() {
    // Nothing to refresh: the supervisor sleeps in one wait with no timeout until a signal
    // comes. The fixed one-second wait it replaced woke it twice in this window.
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    let mut r = sb.run();
    r.arg("--").args(idle_wakeups_then_sleep(2));
    let mut ns = Ns::start(&r, &[]);
    ns.expect_line("wakeups 0");
    ns.expect_line("ready");
    // And a signal still wakes it, and the program's exit is still seen.
    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::TERM);
    assert_eq!(ns.finish(), 143, "stderr: {}", ns.stderr());
}

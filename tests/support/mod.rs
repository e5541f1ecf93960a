//! Test support: run the real `secret-init` executable in a clean temp dir and explain failures.
//!
//! The binary under test is `$SI_TEST_BIN` when set (the test command points it at the static
//! musl release build), else Cargo's debug build. Every run starts from an empty environment plus
//! what the test sets, so nothing from the developer's shell leaks in.

#![allow(dead_code)]

pub mod bao;
pub mod fake_aws_metadata;
pub mod fake_azure;
pub mod fake_gcp;
pub mod fake_https;
pub mod moto;
pub mod pki;
pub mod squid;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The executable under test.
pub fn bin() -> PathBuf {
    match std::env::var_os("SI_TEST_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_secret-init")),
    }
}

/// The project root (for .venv and fixtures).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `cmd` to its end and asserts that it succeeded, showing its stderr when it did not.
pub fn succeeded(cmd: &mut std::process::Command) -> std::process::Output {
    let out = cmd.output().expect("the command starts");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `cmd` to its end with `input` on its stdin, stdout and stderr captured.
pub fn fed(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{:?} starts: {e}", cmd.get_program()));
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input)
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

/// The project venv's Python, installed by scripts/setup. Missing means the setup did not run:
/// that is a failure, never a skip.
pub fn python() -> PathBuf {
    let p = root().join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} missing: run scripts/setup (the README's test command does)",
        p.display()
    );
    p
}

/// A unique canary value, so a leak can be searched for.
pub fn canary(tag: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "canary-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A private temp dir with conventional sub-paths.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("si-test-")
            .tempdir()
            .expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod");
        Sandbox { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file (parents created), returning its path.
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, content).expect("write");
        p
    }

    /// Writes config.yaml.
    pub fn config(&self, yaml: &str) -> PathBuf {
        self.write("config.yaml", yaml)
    }

    /// Creates a private dir (0700) and returns it.
    pub fn mkdir(&self, rel: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(&p).expect("mkdir");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        p
    }

    /// A run of secret-init with `--config <sandbox>/config.yaml`, `--secrets-dir <sandbox>/in`,
    /// `--output-dir <sandbox>/out` and `--local-config <sandbox>/local.yaml` preset.
    pub fn run(&self) -> Run {
        let mut r = Run::new();
        r.cwd = Some(self.dir.path().to_path_buf());
        r.env("SECRET_INIT_CONFIG", self.path("config.yaml"));
        r.env("SECRET_INIT_SECRETS_DIR", self.path("in"));
        r.env("SECRET_INIT_OUTPUT_DIR", self.path("out"));
        r.env("SECRET_INIT_LOCAL_CONFIG", self.path("local.yaml"));
        r.env("HOME", self.path("home"));
        r
    }
}

/// A command line for the binary under test.
pub struct Run {
    pub args: Vec<OsString>,
    pub env: BTreeMap<OsString, OsString>,
    pub cwd: Option<PathBuf>,
    pub umask: Option<u32>,
    pub stdin: Option<Vec<u8>>,
    pub program: PathBuf,
}

impl Run {
    pub fn new() -> Run {
        let mut env = BTreeMap::new();
        env.insert("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into());
        // Never a packet to the instance metadata address: a test that wants IMDS points
        // AWS_EC2_METADATA_SERVICE_ENDPOINT at a loopback fake and removes this.
        env.insert("AWS_EC2_METADATA_DISABLED".into(), "true".into());
        Run {
            args: Vec::new(),
            env,
            cwd: None,
            umask: None,
            stdin: None,
            program: bin(),
        }
    }

    pub fn arg(&mut self, a: impl Into<OsString>) -> &mut Run {
        self.args.push(a.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(&mut self, a: I) -> &mut Run {
        self.args.extend(a.into_iter().map(Into::into));
        self
    }

    pub fn env(&mut self, k: impl Into<OsString>, v: impl Into<OsString>) -> &mut Run {
        self.env.insert(k.into(), v.into());
        self
    }

    pub fn env_remove(&mut self, k: &str) -> &mut Run {
        self.env.remove(&OsString::from(k));
        self
    }

    pub fn umask(&mut self, m: u32) -> &mut Run {
        self.umask = Some(m);
        self
    }

    pub fn stdin(&mut self, data: impl Into<Vec<u8>>) -> &mut Run {
        self.stdin = Some(data.into());
        self
    }

    /// The `Command` this run would execute (through `sh -c 'umask …; exec …'` when a umask is
    /// set, so the umask applies to secret-init itself).
    pub fn command(&self) -> Command {
        let mut cmd = match self.umask {
            Some(m) => {
                let mut c = Command::new("/bin/sh");
                c.arg("-c")
                    .arg(format!("umask {m:03o}; exec \"$0\" \"$@\""))
                    .arg(&self.program);
                c
            }
            None => Command::new(&self.program),
        };
        cmd.args(&self.args).env_clear().envs(&self.env);
        if let Some(d) = &self.cwd {
            cmd.current_dir(d);
        }
        cmd
    }

    /// The `Command` that runs this run as PID 1 of a new PID namespace (bwrap with
    /// [`BWRAP_PID1`], then `extra` bwrap arguments such as bind mounts).
    pub fn as_pid1(&self, extra: &[&str]) -> Command {
        let mut cmd = Command::new("bwrap");
        cmd.args(BWRAP_PID1)
            .args(extra)
            .arg("--")
            .arg(&self.program)
            .args(&self.args)
            .env_clear()
            .envs(&self.env);
        if let Some(d) = &self.cwd {
            cmd.current_dir(d);
        }
        cmd
    }

    pub fn output(&self) -> Out {
        let mut cmd = self.command();
        cmd.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.program.display()));
        if let Some(data) = &self.stdin {
            let mut si = child.stdin.take().expect("stdin");
            si.write_all(data).expect("write stdin");
        }
        let out = child.wait_with_output().expect("wait");
        Out {
            out,
            describe: self.describe(),
        }
    }

    /// [`Run::output`], bounded: a run still going after `t` is killed (by its PID, which we
    /// started) and the test fails naming the bound, instead of hanging the suite.
    pub fn output_within(&self, t: Duration) -> Out {
        let mut cmd = self.command();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.program.display()));
        let done = wait_until(t, || child.try_wait().expect("try_wait").is_some());
        if !done {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {t:?} (hung)\n{}", self.describe());
        }
        let out = child.wait_with_output().expect("wait");
        Out {
            out,
            describe: self.describe(),
        }
    }

    fn describe(&self) -> String {
        let keys: Vec<String> = self
            .env
            .keys()
            .map(|k| k.to_string_lossy().into_owned())
            .collect();
        format!(
            "argv: {:?}\nenv keys: {keys:?}\numask: {:?}",
            self.args, self.umask
        )
    }
}

impl Default for Run {
    fn default() -> Self {
        Run::new()
    }
}

/// The result of a run.
pub struct Out {
    pub out: Output,
    describe: String,
}

impl Out {
    pub fn code(&self) -> i32 {
        use std::os::unix::process::ExitStatusExt;
        self.out
            .status
            .code()
            .unwrap_or_else(|| 128 + self.out.status.signal().unwrap_or(0))
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    /// Panics with everything known about the run unless it exited with `code`.
    pub fn expect_code(&self, code: i32) -> &Out {
        if self.code() != code {
            panic!(
                "expected exit {code}, got {}\n{}\n--- stdout\n{}\n--- stderr\n{}",
                self.code(),
                self.describe,
                self.stdout(),
                self.stderr()
            );
        }
        self
    }
    pub fn expect_ok(&self) -> &Out {
        self.expect_code(0)
    }
    /// Asserts that stderr contains `needle`.
    pub fn stderr_has(&self, needle: &str) -> &Out {
        assert!(
            self.stderr().contains(needle),
            "stderr lacks {needle:?}\n{}\n--- stderr\n{}",
            self.describe,
            self.stderr()
        );
        self
    }
    pub fn stdout_has(&self, needle: &str) -> &Out {
        assert!(
            self.stdout().contains(needle),
            "stdout lacks {needle:?}\n--- stdout\n{}",
            self.stdout()
        );
        self
    }
    /// Asserts that neither stream contains any of `canaries`.
    pub fn no_leak(&self, canaries: &[&str]) -> &Out {
        for c in canaries {
            assert!(
                !self.stdout().contains(c) && !self.stderr().contains(c),
                "canary {c} leaked\n--- stdout\n{}\n--- stderr\n{}",
                self.stdout(),
                self.stderr()
            );
        }
        self
    }
}

/// Runs secret-init in its own mount namespace after `setup` (shell, `$0` is `<sandbox>/out`),
/// with `args` and `envs`; `ls -A` of the dir follows the run on stdout, and the exit code is
/// secret-init's (99: `setup` failed). The mount dies with the namespace.
pub fn in_mount_namespace(sb: &Sandbox, setup: &str, args: &[&str], envs: &[(&str, &str)]) -> Out {
    let script = format!("{setup} || exit 99; \"$@\"; rc=$?; ls -A \"$0\"; exit $rc");
    let mut r = sb.run();
    r.program = "/usr/bin/unshare".into();
    r.args([
        "--mount",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        &script,
    ])
    .arg(sb.mkdir("out"))
    .arg(bin())
    .args(args);
    for (k, v) in envs {
        r.env(*k, *v);
    }
    r.output()
}

/// Lists every file (recursively) under `dir`, relative paths, sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).expect("prefix").display().to_string());
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The permission bits of a path (not following a final link).
pub fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p)
        .expect("stat")
        .permissions()
        .mode()
        & 0o7777
}

/// Polls `f` every 5 ms until it is true or `timeout` passes; returns whether it became true.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    f()
}

/// Starts the Python helper `script` (under tests/support) with `arg`, collecting its stdout lines
/// (event lines such as `READY ...`, `REQ ...`) as they come.
pub fn spawn_script(
    script: &str,
    arg: impl AsRef<std::ffi::OsStr>,
) -> (
    std::process::Child,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut child = Command::new(python())
        .arg(root().join("tests/support").join(script))
        .arg(arg)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {script}: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = events.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            sink.lock().expect("lock").push(line);
        }
    });
    (child, events)
}

/// The event lines of a scripted server once they have settled: the program under test may exit
/// before the server's reader thread has pushed the line of its last request, so a count taken
/// at once can be one short. Waits (bounded, 3 s) until no line has arrived for 200 ms.
pub fn settled(events: &std::sync::Mutex<Vec<String>>) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut seen = events.lock().expect("lock").len();
    let mut quiet_since = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(25));
        let now = events.lock().expect("lock").len();
        if now != seen {
            seen = now;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= Duration::from_millis(200) || Instant::now() > deadline {
            return events.lock().expect("lock").clone();
        }
    }
}

/// A free TCP port on 127.0.0.1 (for servers the tests start).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Stops a server the test started, by its PID: SIGTERM, up to 5 s to exit, then SIGKILL.
pub fn stop_by_pid(child: &mut std::process::Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Reads a file to a string, or "" when it does not exist.
pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Standard-alphabet base64 with padding, written out here so tests do not share the encoder
/// under test.
pub fn b64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes what [`b64`] writes (padding optional); panics on other characters (tests only).
pub fn unb64(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut bits, mut n, mut out) = (0u32, 0, Vec::new());
    for ch in s.bytes().filter(|&c| c != b'=') {
        let v = A.iter().position(|&a| a == ch).expect("base64") as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    out
}

/// bwrap arguments that make the next program PID 1 of a new PID namespace, with the host's
/// filesystem and a fresh /proc, as a container runtime would.
pub const BWRAP_PID1: &[&str] = &[
    "--unshare-pid",
    "--as-pid-1",
    "--die-with-parent",
    "--dev-bind",
    "/",
    "/",
    "--proc",
    "/proc",
];

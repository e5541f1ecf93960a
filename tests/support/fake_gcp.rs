//! The scripted fake of the Google APIs (tests/support/fake_gcp.py) for one test: plain HTTP on
//! a free 127.0.0.1 port, stopped by PID on drop. No official Secret Manager emulator exists;
//! [`FakeGcp::real_client`] runs the real google-auth and google-cloud-secret-manager against it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// A running fake.
pub struct FakeGcp {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// `127.0.0.1:PORT`, for `GCE_METADATA_HOST`.
    pub host: String,
    /// Where the fake wrote sa.json, wif.json, wif-impersonate.json and subject-token.
    pub dir: tempfile::TempDir,
    events: Arc<Mutex<Vec<String>>>,
    child: Child,
}

/// `127.0.0.1:PORT` where nothing listens (a free port, bound and released).
pub fn closed_port() -> String {
    format!("127.0.0.1:{}", super::free_port())
}

impl FakeGcp {
    /// Starts the fake with `cfg` (see fake_gcp.py; `dir` is filled in).
    pub fn start(mut cfg: Value) -> FakeGcp {
        let dir = tempfile::Builder::new()
            .prefix("si-gcp-")
            .tempdir()
            .expect("tempdir");
        cfg["dir"] = Value::String(dir.path().display().to_string());
        let mut child = Command::new(super::python())
            .arg(super::root().join("tests/support/fake_gcp.py"))
            .arg(cfg.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn fake_gcp.py");
        let stdout = child.stdout.take().expect("stdout");
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                sink.lock().expect("lock").push(line);
            }
        });
        let mut fake = FakeGcp {
            url: String::new(),
            host: String::new(),
            dir,
            events,
            child,
        };
        let mut port = None;
        super::wait_until(Duration::from_secs(30), || {
            port = fake
                .events()
                .iter()
                .find_map(|l| l.strip_prefix("READY ").map(str::to_string));
            port.is_some()
        });
        let port = port.expect("fake_gcp.py did not become ready within 30 s");
        fake.host = format!("127.0.0.1:{port}");
        fake.url = format!("http://{}", fake.host);
        fake
    }

    /// A file the fake wrote.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Every event line so far.
    pub fn events(&self) -> Vec<String> {
        self.events.lock().expect("lock").clone()
    }

    /// Request lines whose path starts with `prefix` (`/v1/projects`, `/token`).
    pub fn requests(&self, prefix: &str) -> Vec<String> {
        super::settled(&self.events)
            .into_iter()
            .filter(|l| {
                l.split_whitespace()
                    .nth(2)
                    .is_some_and(|p| p.starts_with(prefix))
            })
            .collect()
    }

    /// Reads `names` (version resource names) with the real google-auth and
    /// google-cloud-secret-manager (REST transport); `creds` is a credentials file or
    /// `"metadata"`. Returns `{name: {"b64": ...} | {"error": CLASS}}`.
    pub fn real_client(&self, creds: &str, names: &[&str]) -> Value {
        let out = Command::new(super::python())
            .arg(super::root().join("tests/support/gcp_client.py"))
            .arg(&self.url)
            .arg(creds)
            .args(names)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.dir.path())
            .env("GCE_METADATA_HOST", &self.host)
            .env("GCE_METADATA_IP", &self.host)
            .env("NO_GCE_CHECK", "True")
            .output()
            .expect("run gcp_client.py");
        assert!(
            out.status.success(),
            "gcp_client.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("gcp_client.py output")
    }
}

impl Drop for FakeGcp {
    fn drop(&mut self) {
        super::stop_by_pid(&mut self.child);
    }
}

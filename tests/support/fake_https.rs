//! The scripted HTTPS fake (fake_https.py), only for faults a real OpenBao cannot produce on
//! demand: 503/429 sequences, redirects to a second listener, huge or endless bodies, a server
//! that never answers, a certificate for another name. Its event lines (connections, requests,
//! never header values) are collected so tests can assert what reached it.

use std::path::PathBuf;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

/// A running fake server.
pub struct Fake {
    /// `https://127.0.0.1:PORT` of the scripted listener.
    pub addr: String,
    /// Port of the second listener (a redirect target that must see nothing).
    pub second_port: u16,
    /// Its test CA (PEM).
    pub ca: PathBuf,
    events: Arc<Mutex<Vec<String>>>,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Fake {
    /// Starts a fake answering with `scenario` (see fake_https.py) under a certificate for
    /// 127.0.0.1.
    pub fn start(scenario: Value) -> Fake {
        Fake::start_with_names(scenario, &["127.0.0.1"])
    }

    /// Same, with a certificate for `sans` (IPs or DNS names).
    pub fn start_with_names(scenario: Value, sans: &[&str]) -> Fake {
        Fake::start_with(json!({"sans": sans, "scenario": scenario}))
    }

    /// Same, with the whole config (`sans`, `scenario`, `rsa`, `tls12_only`; see fake_https.py).
    pub fn start_with(mut cfg: Value) -> Fake {
        let dir = tempfile::Builder::new()
            .prefix("si-fake-")
            .tempdir()
            .expect("tempdir");
        cfg["dir"] = json!(dir.path());
        let (child, events) = super::spawn_script("fake_https.py", cfg.to_string());
        let mut fake = Fake {
            addr: String::new(),
            second_port: 0,
            ca: dir.path().join("ca.pem"),
            events,
            child,
            _dir: dir,
        };
        let ready = fake.wait_for("READY ", Duration::from_secs(20));
        let ready = ready.unwrap_or_else(|| panic!("fake_https.py did not become ready"));
        let mut parts = ready.split_whitespace().skip(1);
        let port: u16 = parts.next().and_then(|p| p.parse().ok()).expect("port");
        fake.second_port = parts
            .next()
            .and_then(|p| p.parse().ok())
            .expect("second port");
        fake.addr = format!("https://127.0.0.1:{port}");
        fake
    }

    /// Every event line so far.
    pub fn events(&self) -> Vec<String> {
        self.events.lock().expect("lock").clone()
    }

    /// Waits for an event line starting with `prefix`; returns it.
    pub fn wait_for(&self, prefix: &str, timeout: Duration) -> Option<String> {
        let mut found = None;
        super::wait_until(timeout, || {
            found = self.events().into_iter().find(|l| l.starts_with(prefix));
            found.is_some()
        });
        found
    }

    /// Requests seen by the listener `name` ("main" or "second").
    pub fn requests(&self, name: &str) -> Vec<String> {
        super::settled(&self.events)
            .into_iter()
            .filter(|l| l.starts_with(&format!("REQ {name} ")))
            .collect()
    }

    /// TLS connections completed on the listener `name`.
    pub fn connections(&self, name: &str) -> usize {
        super::settled(&self.events)
            .iter()
            .filter(|l| l.starts_with(&format!("CONN {name} ")))
            .count()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

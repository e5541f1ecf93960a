//! The scripted fake of the AWS container credential endpoint and IMDSv2
//! (fake_aws_metadata.py): no emulator serves them, and they must never be reached for real. Its
//! request lines (method, path, whether the expected headers came; never their values) are
//! collected so tests can count what reached it.

use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// A running fake.
pub struct FakeMetadata {
    /// `http://127.0.0.1:PORT`.
    pub addr: String,
    /// `http://127.0.0.1:PORT` of a listener that accepts and never answers.
    pub hang: String,
    events: Arc<Mutex<Vec<String>>>,
    child: Child,
}

impl FakeMetadata {
    /// Starts the fake with `cfg` (`creds`, `auth`, `role`; see fake_aws_metadata.py).
    pub fn start(cfg: Value) -> FakeMetadata {
        let (child, events) = super::spawn_script("fake_aws_metadata.py", cfg.to_string());
        let mut fake = FakeMetadata {
            addr: String::new(),
            hang: String::new(),
            events,
            child,
        };
        let mut ready = None;
        super::wait_until(Duration::from_secs(20), || {
            ready = fake.events().into_iter().find(|l| l.starts_with("READY "));
            ready.is_some()
        });
        let ready = ready.expect("fake_aws_metadata.py did not become ready");
        let ports: Vec<&str> = ready.split_whitespace().skip(1).collect();
        fake.addr = format!("http://127.0.0.1:{}", ports[0]);
        fake.hang = format!("http://127.0.0.1:{}", ports[1]);
        fake
    }

    /// Every event line so far.
    pub fn events(&self) -> Vec<String> {
        self.events.lock().expect("lock").clone()
    }

    /// The request lines (`REQ METHOD PATH auth=.. token=..`), after waiting (bounded) until at
    /// least `at_least` arrived: lines are read by a thread.
    pub fn requests(&self, at_least: usize) -> Vec<String> {
        let count = || {
            self.events()
                .into_iter()
                .filter(|l| l.starts_with("REQ "))
                .collect::<Vec<_>>()
        };
        super::wait_until(Duration::from_secs(5), || count().len() >= at_least);
        count()
    }
}

impl Drop for FakeMetadata {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

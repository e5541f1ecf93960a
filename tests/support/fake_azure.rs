//! The Key Vault / Entra ID / managed identity fake (fake_azure.py): no official emulator
//! exists. Its request lines (never values or tokens) are collected so tests can assert what
//! reached it; `tests/support/azure_sdk.py` points the real Azure SDK at it.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

/// The ids and credentials the fake accepts.
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// The client (application) id it accepts.
pub const CLIENT_ID: &str = "0b2f1a9e-5c3d-4e7f-8a6b-9c0d1e2f3a4b";

/// A running fake.
pub struct FakeAzure {
    /// `https://127.0.0.1:PORT`: Key Vault, Entra ID and the App Service identity endpoint.
    pub https: String,
    /// `http://127.0.0.1:PORT`: IMDS only.
    pub http: String,
    /// Its test CA (PEM).
    pub ca: PathBuf,
    /// The config it was started with (secrets, credentials).
    pub cfg: Value,
    events: Arc<Mutex<Vec<String>>>,
    child: Child,
    dir: tempfile::TempDir,
}

impl FakeAzure {
    /// Starts a fake; `cfg` adds to the defaults (`secrets`, `sizes`, `faults`, `denied`, and the
    /// credentials `client_secret`, `federated_token`, `identity_header`, `access_token`).
    pub fn start(extra: Value) -> FakeAzure {
        let dir = tempfile::Builder::new()
            .prefix("si-azure-")
            .tempdir()
            .expect("tempdir");
        let mut cfg = json!({
            "dir": dir.path(),
            "tenant": TENANT,
            "client_id": CLIENT_ID,
            "client_secret": super::canary("az-client-secret"),
            "federated_token": super::canary("az-federated"),
            "identity_header": super::canary("az-id-header"),
            "access_token": super::canary("az-access-token"),
        });
        for (k, v) in extra.as_object().expect("object") {
            cfg[k] = v.clone();
        }
        let file = dir.path().join("config.json");
        std::fs::write(&file, cfg.to_string()).expect("config");
        let (child, events) = super::spawn_script("fake_azure.py", &file);
        let mut fake = FakeAzure {
            https: String::new(),
            http: String::new(),
            ca: dir.path().join("ca.pem"),
            cfg,
            events,
            child,
            dir,
        };
        let mut ready = None;
        super::wait_until(Duration::from_secs(20), || {
            ready = fake.events().into_iter().find(|l| l.starts_with("READY "));
            ready.is_some()
        });
        let ready = ready.expect("fake_azure.py did not become ready");
        let ports: Vec<&str> = ready.split_whitespace().skip(1).collect();
        fake.https = format!("https://127.0.0.1:{}", ports[0]);
        fake.http = format!("http://127.0.0.1:{}", ports[1]);
        fake
    }

    /// A string field of the config (`client_secret`, ...).
    pub fn get(&self, k: &str) -> String {
        self.cfg[k].as_str().expect(k).to_string()
    }

    /// Every event line so far.
    pub fn events(&self) -> Vec<String> {
        self.events.lock().expect("lock").clone()
    }

    /// Request lines whose `kind=` is `kind`.
    pub fn requests(&self, kind: &str) -> Vec<String> {
        super::settled(&self.events)
            .into_iter()
            .filter(|l| l.starts_with("REQ ") && l.contains(&format!(" kind={kind} ")))
            .collect()
    }

    /// Reads `reads` (name, version) with the real Azure SDK under each of its credentials;
    /// `{credential: {"NAME[/VERSION]": value or null}}`.
    pub fn sdk_read(&self, token_file: &std::path::Path, reads: &[(&str, Option<&str>)]) -> Value {
        let cfg = json!({
            "https": self.https, "http": self.http, "ca": self.ca,
            "tenant": TENANT, "client_id": CLIENT_ID,
            "client_secret": self.get("client_secret"),
            "identity_header": self.get("identity_header"),
            "token_file": token_file,
            "reads": reads,
        });
        let file = self.dir.path().join("sdk.json");
        std::fs::write(&file, cfg.to_string()).expect("sdk config");
        let out = Command::new(super::python())
            .arg(super::root().join("tests/support/azure_sdk.py"))
            .arg(&file)
            .env_remove("AZURE_CLIENT_ID")
            .env_remove("AZURE_TENANT_ID")
            .env_remove("AZURE_CLIENT_SECRET")
            .env_remove("IDENTITY_ENDPOINT")
            .env_remove("IDENTITY_HEADER")
            .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", &self.http)
            .env("NO_PROXY", "*")
            .output()
            .expect("azure_sdk.py");
        assert!(
            out.status.success(),
            "azure_sdk.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("azure_sdk.py output")
    }
}

impl Drop for FakeAzure {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

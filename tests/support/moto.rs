//! A real moto server (AWS API emulator, `moto[server]` in the project venv) for one test: plain
//! HTTP on a free 127.0.0.1 port, stopped by PID on drop.
//!
//! [`Moto::start`] accepts any signature (moto's default); [`Moto::enforcing`] starts it with
//! `INITIAL_NO_AUTH_ACTION_COUNT=3`: the first three actions create an IAM admin user, its
//! allow-all policy and its access key, and from the fourth on moto checks every request's SigV4
//! signature against the IAM keys it knows and every action against the user's policies. Admin
//! calls go through `moto_admin.py` (the real boto3 client).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::root;

/// A running moto server.
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The admin's keys on an enforcing server (`None`: moto's unchecked defaults).
    pub admin: Option<(String, String)>,
    child: Child,
    pub dir: tempfile::TempDir,
}

impl Moto {
    /// A server that checks no signature.
    pub fn start() -> Moto {
        Moto::launch(None)
    }

    /// A server that enforces IAM (signatures and policies) after creating its admin.
    /// An IAM-enforcing server holding the secret `app/db` = `value`, and the temporary
    /// credentials (STS `Credentials`) of a role allowed `secretsmanager:GetSecretValue`, as a
    /// container endpoint or instance metadata would hand them out.
    pub fn enforcing_with_role(value: &str) -> (Moto, Value) {
        let moto = Moto::enforcing();
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:user/admin"}, "Action": "sts:AssumeRole"}]});
        let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"], "Resource": "*"}]});
        let r = moto.admin(json!([
            {"service": "secretsmanager", "method": "create_secret", "args": {"Name": "app/db", "SecretString": value}},
            {"service": "iam", "method": "create_role", "args": {"RoleName": "app-role", "AssumeRolePolicyDocument": trust.to_string()}},
            {"service": "iam", "method": "put_role_policy", "args": {"RoleName": "app-role", "PolicyName": "read", "PolicyDocument": policy.to_string()}},
            {"service": "sts", "method": "assume_role", "args": {"RoleArn": "arn:aws:iam::123456789012:role/app-role", "RoleSessionName": "pod"}},
        ]));
        let creds = r[3]["Credentials"].clone();
        (moto, creds)
    }

    pub fn enforcing() -> Moto {
        let mut m = Moto::launch(Some(3));
        let r = m.admin(json!([
            {"service": "iam", "method": "create_user", "args": {"UserName": "admin"}},
            {"service": "iam", "method": "put_user_policy", "args": {"UserName": "admin", "PolicyName": "all",
                "PolicyDocument": json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}).to_string()}},
            {"service": "iam", "method": "create_access_key", "args": {"UserName": "admin"}},
        ]));
        let k = &r[2]["AccessKey"];
        m.admin = Some((
            k["AccessKeyId"].as_str().expect("key id").into(),
            k["SecretAccessKey"].as_str().expect("secret").into(),
        ));
        m
    }

    fn launch(no_auth_count: Option<u32>) -> Moto {
        let dir = tempfile::Builder::new()
            .prefix("si-moto-")
            .tempdir()
            .expect("tempdir");
        let log = dir.path().join("server.log");
        let port = super::free_port();
        let bin = root().join(".venv/bin/moto_server");
        assert!(bin.exists(), "{} missing: run scripts/setup", bin.display());
        let mut cmd = Command::new(super::python());
        cmd.arg(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", dir.path())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("server.out")).expect("log"))
            .stderr(std::fs::File::create(&log).expect("log"));
        if let Some(n) = no_auth_count {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", n.to_string());
        }
        let child = cmd.spawn().expect("spawn moto_server");
        let m = Moto {
            url: format!("http://127.0.0.1:{port}"),
            admin: None,
            child,
            dir,
        };
        let ready = super::wait_until(Duration::from_secs(30), || {
            super::read(&log).contains(&format!("Running on http://127.0.0.1:{port}"))
        });
        assert!(
            ready,
            "moto did not start within 30 s\n{}",
            super::read(&log)
        );
        m
    }

    /// Runs admin calls (see moto_admin.py) as the admin, returning their results.
    pub fn admin(&self, calls: Value) -> Vec<Value> {
        let calls: Vec<Value> = calls
            .as_array()
            .expect("list")
            .iter()
            .map(|c| {
                let mut c = c.clone();
                if let Some((k, s)) = &self.admin {
                    c["as"] = json!([k, s]);
                }
                c
            })
            .collect();
        let out = super::fed(
            Command::new(super::python())
                .arg(root().join("tests/support/moto_admin.py"))
                .arg(&self.url)
                .env("AWS_EC2_METADATA_DISABLED", "true"),
            Value::Array(calls).to_string().as_bytes(),
        );
        assert!(
            out.status.success(),
            "moto_admin.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("moto_admin.py output")
    }

    /// An IAM user allowed exactly `actions`, and its keys (enforcing servers).
    pub fn user(&self, name: &str, actions: &[&str]) -> (String, String) {
        let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]});
        let r = self.admin(json!([
            {"service": "iam", "method": "create_user", "args": {"UserName": name}},
            {"service": "iam", "method": "put_user_policy", "args": {"UserName": name, "PolicyName": "p", "PolicyDocument": policy.to_string()}},
            {"service": "iam", "method": "create_access_key", "args": {"UserName": name}},
        ]));
        let k = &r[2]["AccessKey"];
        (
            k["AccessKeyId"].as_str().expect("key id").into(),
            k["SecretAccessKey"].as_str().expect("secret").into(),
        )
    }

    /// The server's log (one line per request).
    pub fn log(&self) -> String {
        super::read(&self.dir.path().join("server.log"))
    }

    /// Points `run` at this server the way every aws test does: instance metadata off, every
    /// endpoint here, region us-east-1, the AWS files inside `sb` (so the host's are never read).
    pub fn env(&self, run: &mut super::Run, sb: &super::Sandbox) {
        run.env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", &self.url)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", sb.path("aws/config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", sb.path("aws/credentials"));
    }

    /// A path in the server's temp dir.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // The child is the Python process running the server.
        super::stop_by_pid(&mut self.child);
    }
}

/// A counting proxy (counting_proxy.py) in front of a moto server: every request forwarded
/// unchanged, its action and body recorded.
pub struct Counting {
    /// `http://127.0.0.1:PORT` of the proxy.
    pub url: String,
    events: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    child: Child,
}

impl Counting {
    /// A proxy in front of `moto`.
    pub fn new(moto: &Moto) -> Counting {
        let (child, events) = super::spawn_script("counting_proxy.py", &moto.url);
        let mut c = Counting {
            url: String::new(),
            events,
            child,
        };
        let mut ready = None;
        super::wait_until(Duration::from_secs(20), || {
            ready = c.lines().into_iter().find(|l| l.starts_with("READY "));
            ready.is_some()
        });
        let port = ready.expect("counting_proxy.py did not become ready")[6..].to_string();
        c.url = format!("http://127.0.0.1:{port}");
        c
    }

    fn lines(&self) -> Vec<String> {
        self.events.lock().expect("lock").clone()
    }

    /// (action, JSON body) of every request so far, after the `REQ` lines settled (a thread
    /// reads them: wait, bounded, until two reads a moment apart agree).
    pub fn requests(&self) -> Vec<(String, Value)> {
        let mut last = usize::MAX;
        super::wait_until(Duration::from_secs(5), || {
            std::thread::sleep(Duration::from_millis(200));
            let n = self.lines().len();
            let settled = n == last;
            last = n;
            settled
        });
        self.lines()
            .into_iter()
            .filter_map(|l| {
                let rest = l.strip_prefix("REQ ")?;
                let (target, body) = rest.split_once(' ')?;
                let action = target.rsplit('.').next().unwrap_or(target).to_string();
                Some((action, serde_json::from_str(body).unwrap_or(Value::Null)))
            })
            .collect()
    }

    /// How many requests of each action so far.
    pub fn counts(&self) -> std::collections::BTreeMap<String, usize> {
        let mut m = std::collections::BTreeMap::new();
        for (a, _) in self.requests() {
            *m.entry(a).or_insert(0) += 1;
        }
        m
    }
}

impl Drop for Counting {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

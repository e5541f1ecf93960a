//! A real squid HTTP proxy for one test, on a free 127.0.0.1 port, stopped by PID on drop.
//!
//! secret-init never proxies `localhost` or loopback literals (as Go's clients), so a proxied
//! request must name a host: squid resolves the names it is given from its own `hosts_file`
//! (to 127.0.0.1), and nothing else on the machine knows them, so a request that did not go
//! through the proxy fails with "host not found". Squid's access log shows each tunnel it opened.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How a squid is set up.
#[derive(Default)]
pub struct SquidOpts {
    /// Names squid resolves to 127.0.0.1.
    pub names: Vec<String>,
    /// `(user, password)`: require basic proxy authentication with these credentials.
    pub user: Option<(String, String)>,
    /// Refuse every CONNECT with 403.
    pub deny_connect: bool,
}

/// A running squid.
pub struct Squid {
    /// `127.0.0.1:PORT`.
    pub hostport: String,
    access: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Squid {
    /// Starts squid with `opts` and waits for its "Accepting HTTP Socket connections" line.
    pub fn start(opts: SquidOpts) -> Squid {
        let dir = tempfile::Builder::new()
            .prefix("si-squid-")
            .tempdir()
            .expect("tempdir");
        // Run as root, squid drops to its `proxy` user, which must reach the logs.
        set_mode(dir.path(), 0o755);
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).expect("mkdir logs");
        set_mode(&logs, 0o777);
        let hosts = dir.path().join("hosts");
        let mut lines = String::new();
        for n in &opts.names {
            lines.push_str(&format!("127.0.0.1 {n}\n"));
        }
        std::fs::write(&hosts, lines).expect("write hosts");
        let port = super::free_port();
        let mut conf = format!(
            "http_port 127.0.0.1:{port}\n\
             pid_filename none\n\
             cache_log {logs}/cache.log\n\
             access_log stdio:{logs}/access.log\n\
             cache deny all\n\
             pinger_enable off\n\
             hosts_file {hosts}\n\
             dns_nameservers 127.0.0.1\n\
             shutdown_lifetime 0 seconds\n",
            logs = logs.display(),
            hosts = hosts.display(),
        );
        if opts.deny_connect {
            conf.push_str("http_access deny CONNECT\n");
        }
        if let Some((user, password)) = &opts.user {
            let passwd = dir.path().join("passwd");
            let out = {
                use std::io::Write;
                let mut c = Command::new("openssl")
                    .args(["passwd", "-apr1", "-stdin"])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("openssl passwd");
                c.stdin
                    .take()
                    .expect("stdin")
                    .write_all(format!("{password}\n").as_bytes())
                    .expect("write");
                c.wait_with_output().expect("openssl passwd")
            };
            assert!(out.status.success(), "openssl passwd failed");
            std::fs::write(
                &passwd,
                format!("{user}:{}", String::from_utf8_lossy(&out.stdout)),
            )
            .expect("write passwd");
            set_mode(&passwd, 0o644);
            conf.push_str(&format!(
                "auth_param basic program /usr/lib/squid/basic_ncsa_auth {}\n\
                 auth_param basic realm test\n\
                 acl authed proxy_auth REQUIRED\n\
                 http_access allow authed\n\
                 http_access deny all\n",
                passwd.display()
            ));
        } else {
            conf.push_str("http_access allow all\n");
        }
        let conf_path = dir.path().join("squid.conf");
        std::fs::write(&conf_path, conf).expect("write squid.conf");
        let child = Command::new(squid_bin())
            .args(["-N", "-d1", "-f"])
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr")).expect("log"))
            .spawn()
            .expect("spawn squid");
        let mut squid = Squid {
            hostport: format!("127.0.0.1:{port}"),
            access: logs.join("access.log"),
            child,
            _dir: dir,
        };
        let err = squid._dir.path().join("stderr");
        let ready = super::wait_until(Duration::from_secs(30), || {
            super::read(&err).contains("Accepting HTTP Socket connections")
        });
        if !ready {
            super::stop_by_pid(&mut squid.child);
            panic!("squid did not start within 30 s\n{}", super::read(&err));
        }
        squid
    }

    /// `http://127.0.0.1:PORT`, or with `user:password@` (percent-encoded by the caller).
    pub fn url(&self, userinfo: Option<&str>) -> String {
        match userinfo {
            Some(u) => format!("http://{u}@{}", self.hostport),
            None => format!("http://{}", self.hostport),
        }
    }

    /// Squid's access log: one line per request or tunnel, e.g.
    /// `... TCP_TUNNEL/200 4711 CONNECT vault.proxied.test:8443 - HIER_DIRECT/127.0.0.1 -`.
    /// Squid writes a line when the tunnel closes, so callers wait for it.
    pub fn access_log(&self) -> String {
        super::read(&self.access)
    }

    /// Waits (up to 10 s) until the access log has a line containing `needle`.
    pub fn logged(&self, needle: &str) -> bool {
        super::wait_until(Duration::from_secs(10), || {
            self.access_log().contains(needle)
        })
    }
}

impl Drop for Squid {
    fn drop(&mut self) {
        super::stop_by_pid(&mut self.child);
    }
}

/// The squid executable (Debian package `squid`).
pub fn squid_bin() -> PathBuf {
    let p = PathBuf::from("/usr/sbin/squid");
    assert!(p.exists(), "{} missing: run scripts/setup", p.display());
    p
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

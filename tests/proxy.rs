//! HTTPS_PROXY, HTTP_PROXY and NO_PROXY against a real squid (support/squid.rs): the vault
//! (OpenBao with a second TLS listener whose certificate names a host only squid resolves) and
//! AWS (moto behind the same kind of name) reached through the proxy with TLS end to end,
//! authenticating proxies (credentials never shown), NO_PROXY bypasses, loopback never proxied,
//! and proxies that refuse, are down or hang (69, the deadline kept).

use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

use crate::support::bao::Bao;
use crate::support::pki::TestCa;
use crate::support::squid::{Squid, SquidOpts};
use crate::support::*;

/// The name squid resolves to 127.0.0.1 and nothing else does.
pub(crate) const NAME: &str = "vault.proxied.test";

/// An OpenBao with an extra listener at `https://vault.proxied.test:PORT` (a certificate from the
/// test CA), its address by name, and the CA.
pub(crate) struct NamedBao {
    pub(crate) bao: Bao,
    pub(crate) addr: String,
    pub(crate) ca: std::path::PathBuf,
    _pki: tempfile::TempDir,
}

pub(crate) fn named_bao() -> NamedBao {
    let pki = tempfile::Builder::new()
        .prefix("si-pki-")
        .tempdir()
        .expect("tempdir");
    let ca = TestCa::new(pki.path());
    let (cert, key) = ca.issue("vault", NAME, &[NAME]);
    let port = free_port();
    let bao = Bao::start_with_config(&format!(
        "listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_cert_file = \"{}\"\n  tls_key_file = \"{}\"\n}}\n",
        cert.display(),
        key.display()
    ));
    NamedBao {
        bao,
        addr: format!("https://{NAME}:{port}"),
        ca: ca.cert.clone(),
        _pki: pki,
    }
}

fn vault_config(sb: &Sandbox, addr: &str, ca: &std::path::Path, extra: &str) {
    sb.config(&format!(
        "secrets:\n  db_password: null\nsecret_init:\n  vault:\n    address: {addr}\n    ca_cert: {}\n    paths: [secret/data/app]\n{extra}",
        ca.display()
    ));
}

#[test]
fn vault_through_squid_by_name_tls_end_to_end() {
    let nb = named_bao();
    let value = canary("db");
    nb.bao.put_v2("app", &[("db_password", &value)]);
    let token = nb.bao.reader_token();
    let squid = Squid::start(SquidOpts {
        names: vec![NAME.into()],
        ..SquidOpts::default()
    });
    let sb = Sandbox::new();
    vault_config(&sb, &nb.addr, &nb.ca, "    retries: 1\n");

    // Negative control: without a proxy the name does not resolve here.
    sb.run()
        .args(["--", "/bin/true"])
        .env("VAULT_TOKEN", &token)
        .output()
        .expect_code(69)
        .stderr_has("host not found")
        .no_leak(&[&token, &value]);
    assert!(
        !squid.access_log().contains("CONNECT"),
        "nothing reached squid"
    );

    // Through the proxy (lower-case variable): the value arrives, squid opened the tunnel, and
    // the TLS inside it was verified against the test CA for the name.
    sb.run()
        .args(["--log-level", "trace", "--", "/bin/true"])
        .env("VAULT_TOKEN", &token)
        .env("https_proxy", squid.url(None))
        .output()
        .expect_ok()
        .stderr_has(&format!("through the proxy http://{}", squid.hostport))
        .no_leak(&[&token, &value]);
    assert_eq!(read(&sb.path("out/db_password")), value);
    assert!(
        squid.logged(&format!("CONNECT {NAME}:")),
        "squid tunnelled the request\n{}",
        squid.access_log()
    );

    // The same trust inside the tunnel: the system bundle does not know the test CA.
    std::fs::remove_dir_all(sb.path("out")).expect("clean out");
    vault_config(
        &sb,
        &nb.addr,
        std::path::Path::new("/etc/ssl/certs/ca-certificates.crt"),
        "",
    );
    sb.run()
        .args(["--", "/bin/true"])
        .env("VAULT_TOKEN", &token)
        .env("HTTPS_PROXY", squid.url(None))
        .output()
        .expect_code(77)
        .stderr_has("TLS")
        .no_leak(&[&token, &value]);
    assert!(!sb.path("out/db_password").exists());

    // NO_PROXY with the domain suffix: direct again, so the name does not resolve; squid saw
    // no new tunnel.
    vault_config(&sb, &nb.addr, &nb.ca, "    retries: 1\n");
    let before = squid.access_log().lines().count();
    for no_proxy in [
        "proxied.test",
        ".proxied.test",
        "*",
        &format!("{NAME}:{}", port_of(&nb.addr)),
    ] {
        sb.run()
            .args(["--", "/bin/true"])
            .env("VAULT_TOKEN", &token)
            .env("HTTPS_PROXY", squid.url(None))
            .env("NO_PROXY", no_proxy)
            .output()
            .expect_code(69)
            .stderr_has("host not found");
    }
    // An entry for another port or domain leaves the request proxied.
    sb.run()
        .args(["--", "/bin/true"])
        .env("VAULT_TOKEN", &token)
        .env("HTTPS_PROXY", squid.url(None))
        .env("NO_PROXY", format!("other.test,10.0.0.0/8,{NAME}:1"))
        .output()
        .expect_ok();
    assert!(
        wait_until(Duration::from_secs(10), || squid
            .access_log()
            .lines()
            .count()
            == before + 1),
        "exactly one more tunnel (the last run)\n{}",
        squid.access_log()
    );
}

/// How many CONNECTs squid's access log records with `status` (`/407 `).
fn denied(squid: &Squid, status: &str) -> usize {
    squid
        .access_log()
        .lines()
        .filter(|l| l.contains(status) && l.contains("CONNECT"))
        .count()
}

fn port_of(addr: &str) -> &str {
    addr.rsplit(':').next().expect("port")
}

#[test]
fn authenticating_proxy_credentials_are_used_and_never_shown() {
    let nb = named_bao();
    let value = canary("db");
    nb.bao.put_v2("app", &[("db_password", &value)]);
    let token = nb.bao.reader_token();
    let password = format!("{}/p@ss", canary("proxypw"));
    let squid = Squid::start(SquidOpts {
        names: vec![NAME.into()],
        user: Some(("corp".into(), password.clone())),
        ..SquidOpts::default()
    });
    let encoded = password.replace('/', "%2F").replace('@', "%40");
    let sb = Sandbox::new();
    vault_config(&sb, &nb.addr, &nb.ca, "    retries: 1\n");
    let good = squid.url(Some(&format!("corp:{encoded}")));
    let out = sb
        .run()
        .args(["--log-level", "trace", "--", "/bin/true"])
        .env("VAULT_TOKEN", &token)
        .env("HTTPS_PROXY", &good)
        .output();
    out.expect_ok()
        .stderr_has(&format!("through the proxy http://***@{}", squid.hostport))
        .no_leak(&[&token, &value, &password, &encoded, "corp:"]);
    assert!(
        squid.logged(&format!("CONNECT {NAME}:")),
        "{}",
        squid.access_log()
    );
    assert!(
        squid.access_log().contains(" corp "),
        "squid authenticated the user"
    );

    // Wrong password, and none: 407 is its own clear error, 69, one attempt (it will not get
    // better), no credential shown, nothing written.
    std::fs::remove_dir_all(sb.path("out")).expect("clean out");
    let wrong = format!("{}-wrong", canary("proxypw"));
    for (n, url) in [squid.url(Some(&format!("corp:{wrong}"))), squid.url(None)]
        .iter()
        .enumerate()
    {
        sb.run()
            .args(["--", "/bin/true"])
            .env("VAULT_TOKEN", &token)
            .env("HTTPS_PROXY", url)
            .output()
            .expect_code(69)
            .stderr_has("HTTP 407 Proxy Authentication Required")
            .no_leak(&[&token, &value, &wrong, "corp:"]);
        assert!(!sb.path("out/db_password").exists());
        assert!(
            wait_until(Duration::from_secs(10), || denied(&squid, "/407 ") == n + 1),
            "one CONNECT per run, never retried\n{}",
            squid.access_log()
        );
    }
}

#[test]
fn refusing_down_and_hanging_proxies_fail_clearly_within_the_deadline() {
    let nb = named_bao();
    nb.bao.put_v2("app", &[("db_password", "x")]);
    let token = nb.bao.reader_token();
    let sb = Sandbox::new();
    vault_config(
        &sb,
        &nb.addr,
        &nb.ca,
        "    retries: 2\n    deadline: 3s\n    timeout: 1s\n",
    );

    // Squid that refuses CONNECT: 403, not retried.
    let squid = Squid::start(SquidOpts {
        names: vec![NAME.into()],
        deny_connect: true,
        ..SquidOpts::default()
    });
    sb.run()
        .args(["--", "/bin/true"])
        .env("VAULT_TOKEN", &token)
        .env("HTTPS_PROXY", squid.url(None))
        .output()
        .expect_code(69)
        .stderr_has("the proxy refused the tunnel: HTTP 403");
    assert!(
        wait_until(Duration::from_secs(10), || denied(&squid, "/403 ") == 1),
        "one CONNECT, never retried\n{}",
        squid.access_log()
    );

    // Nothing listening at the proxy's address: retried, then 69.
    let dead = free_port();
    sb.run()
        .args(["--", "/bin/true"])
        .env("VAULT_TOKEN", &token)
        .env("HTTPS_PROXY", format!("127.0.0.1:{dead}"))
        .output()
        .expect_code(69)
        .stderr_has(&format!("through the proxy http://127.0.0.1:{dead}"))
        .stderr_has("gave up after 3 attempts");

    // A proxy that accepts and never answers CONNECT: the deadline ends the run.
    let hang = TcpListener::bind("127.0.0.1:0").expect("bind");
    let hang_port = hang.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut s in hang.incoming().flatten() {
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            held.push(s);
        }
    });
    sb.run()
        .args(["--", "/bin/true"])
        .env("VAULT_TOKEN", &token)
        .env("HTTPS_PROXY", format!("http://127.0.0.1:{hang_port}"))
        .output_within(Duration::from_secs(20))
        .expect_code(69)
        .stderr_has("through the proxy")
        .stderr_has("gave up after");
    assert!(!sb.path("out/db_password").exists());

    // A proxy URL that cannot be used is a configuration error naming the variable, not the
    // credentials in it.
    sb.run()
        .args(["--", "/bin/true"])
        .env("VAULT_TOKEN", &token)
        .env("HTTPS_PROXY", "socks5://u:hunter2@127.0.0.1:1080")
        .output()
        .expect_code(78)
        .stderr_has(
            "HTTPS_PROXY (socks5://***@127.0.0.1:1080): socks5:// proxies are not supported",
        )
        .no_leak(&["hunter2"]);
}

#[test]
fn loopback_is_never_proxied() {
    let bao = Bao::start();
    let value = canary("db");
    bao.put_v2("app", &[("db_password", &value)]);
    let token = bao.reader_token();
    let sb = Sandbox::new();
    vault_config(&sb, &bao.addr, &bao.ca, "");
    // The proxy variables name a port where nothing listens: used, they would fail the run.
    let dead = format!("http://127.0.0.1:{}", free_port());
    sb.run()
        .args(["--", "/bin/true"])
        .env("VAULT_TOKEN", &token)
        .env("HTTPS_PROXY", &dead)
        .env("HTTP_PROXY", &dead)
        .output()
        .expect_ok();
    assert_eq!(read(&sb.path("out/db_password")), value);
}

/// AWS (moto, plain http) at a name only squid resolves, through `HTTP_PROXY` (a CONNECT tunnel
/// for plain http too).
#[test]
fn aws_through_squid_by_name() {
    let moto = crate::support::moto::Moto::start();
    let value = canary("sm");
    moto.admin(serde_json::json!([{"service": "secretsmanager", "method": "create_secret", "args": {"Name": "p", "SecretString": value}}]));
    let name = "aws.proxied.test";
    let squid = Squid::start(SquidOpts {
        names: vec![name.into()],
        ..SquidOpts::default()
    });
    let port = moto.url.rsplit(':').next().expect("port").to_string();
    let sb = Sandbox::new();
    sb.config("secrets:\n  x: null\nsecret_init:\n  secrets:\n    x: {from: 'aws-sm:p'}\n  aws:\n    retries: 1\n");
    let run = |proxy: bool| {
        let mut r = sb.run();
        moto.env(&mut r, &sb);
        r.env("AWS_ENDPOINT_URL", format!("http://{name}:{port}"))
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .args(["--allow-insecure-http", "--", "/bin/true"]);
        if proxy {
            r.env("HTTP_PROXY", squid.url(None));
        }
        r.output()
    };
    run(false).expect_code(69).stderr_has("host not found");
    run(true).expect_ok().no_leak(&[&value]);
    assert_eq!(read(&sb.path("out/x")), value);
    assert!(
        squid.logged(&format!("CONNECT {name}:{port}")),
        "{}",
        squid.access_log()
    );
}

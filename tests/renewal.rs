//! Tokens, leases and dynamic secrets under live refresh (docs/vault.md), against a real OpenBao dev
//! server: tokens with TTLs of a few seconds renewed and replaced under a supervised program, a
//! re-login that cannot happen, a PKI certificate re-issued before it expires with its key always
//! matching, and revocation at exit in the server's audit log. secret-init is PID 1 of a fresh
//! PID namespace (bubblewrap, as tests/refresh.rs). Every wait is bounded.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::init::{Ns, libc_sig};
use crate::refresh::{expect_prefix, status_until};
use crate::support::bao::Bao;
use crate::support::*;

/// A program printing `ready` once and `hup` on each SIGHUP; ends on SIGTERM (143).
fn waiter() -> Vec<String> {
    vec![
        "/bin/sh".into(),
        "-c".into(),
        "trap 'echo hup' HUP; echo ready; while :; do sleep 0.05; done".into(),
    ]
}

/// The audit log's requests on `path` (`auth/token/renew-self`), as seconds of the day.
fn audited_times(bao: &Bao, path: &str) -> Vec<f64> {
    bao.audit_log()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "request" && v["request"]["path"] == path)
        .filter_map(|v| {
            // "2026-12-01T22:10:01.123456Z" → seconds of the day.
            let t = v["time"]
                .as_str()?
                .split('T')
                .nth(1)?
                .trim_end_matches('Z')
                .to_string();
            let mut parts = t.split(':');
            let h: f64 = parts.next()?.parse().ok()?;
            let m: f64 = parts.next()?.parse().ok()?;
            let s: f64 = parts.next()?.parse().ok()?;
            Some(h * 3600.0 + m * 60.0 + s)
        })
        .collect()
}

fn gaps(times: &[f64]) -> Vec<String> {
    times
        .windows(2)
        .map(|w| format!("{:.2}s", w[1] - w[0]))
        .collect()
}

/// config.yaml: `db` from `secret/data/app`, refresh every 1 s with no jitter, the status file,
/// and `auth` (a YAML flow map, or empty for the token method).
fn yaml(bao: &Bao, status: &Path, auth: &str, extra: &str) -> String {
    format!(
        "secrets:\n  db: null\nsecret_init:\n  refresh:\n    interval: 1s\n    jitter: 0%\n    \
         status_file: {}\n  vault:\n{}    paths: [secret/data/app]\n{auth}{extra}",
        status.display(),
        bao.vault_yaml()
    )
}

/// An AppRole role `short` with these token TTLs; its role id and a fresh secret id.
fn short_role(bao: &Bao, ttl: &str, max_ttl: &str) -> (String, String) {
    let r = bao.admin(json!([
        {"op": "api", "method": "POST", "path": "auth/approle/role/short",
         "body": {"token_policies": ["reader"], "token_ttl": ttl, "token_max_ttl": max_ttl}},
        {"op": "api", "method": "GET", "path": "auth/approle/role/short/role-id"},
        {"op": "api", "method": "POST", "path": "auth/approle/role/short/secret-id", "body": {}},
    ]));
    (
        r[1]["body"]["data"]["role_id"]
            .as_str()
            .expect("role_id")
            .to_string(),
        r[2]["body"]["data"]["secret_id"]
            .as_str()
            .expect("secret_id")
            .to_string(),
    )
}

/// Checks every 0.5 s for `t` that the status file says `ok`.
fn stays_ok(status: &Path, ns: &Ns, t: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < t {
        std::thread::sleep(Duration::from_millis(500));
        let st: serde_json::Value =
            serde_json::from_str(&read(status)).expect("status file is JSON");
        assert_eq!(st["ok"], true, "{st}\n--- stderr\n{}", ns.stderr());
    }
}

fn stop(mut ns: Ns) -> String {
    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::TERM);
    assert_eq!(ns.finish(), 143, "{}", ns.stderr());
    ns.stderr()
}

#[test]
fn a_short_ttl_token_outlives_several_renewals_and_is_never_revoked() {
    let bao = Bao::start();
    let value = canary("db");
    bao.put_v2("app", &[("db", &value)]);
    // A user-supplied token with a 3 s TTL: without renewal it is dead before the run ends.
    let r = bao.admin(
        json!([{"op": "api", "method": "POST", "path": "auth/token/create",
        "body": {"policies": ["reader"], "ttl": "3s", "renewable": true}}]),
    );
    let token = r[0]["body"]["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    // The dev server revokes its initial root token itself.
    let revoked_at_start = bao.audited_ops("update", "auth/token/revoke-self");
    let sb = Sandbox::new();
    let status = sb.path("status.json");
    // A 2 s vault deadline: the client kept across passes gives each pass a whole one.
    sb.config(&yaml(&bao, &status, "", "    deadline: 2s\n"));
    let mut run = sb.run();
    run.env("VAULT_TOKEN", &token)
        .args(["--sources", "vault", "--"])
        .args(waiter());
    let ns = Ns::start(&run, &[]);
    expect_prefix(&ns, "ready", Duration::from_secs(10));
    // 8 s: more than two TTLs; every 1 s refresh must keep succeeding.
    stays_ok(&status, &ns, Duration::from_secs(8));
    let renewals = audited_times(&bao, "auth/token/renew-self");
    eprintln!("renew-self at gaps {:?} (TTL 3s)", gaps(&renewals));
    assert!(
        renewals.len() >= 3,
        "renewals: {renewals:?}\n{}",
        ns.stderr()
    );
    for g in renewals.windows(2).map(|w| w[1] - w[0]) {
        assert!((1.5..=2.6).contains(&g), "renewed at about 2/3 of 3 s: {g}");
    }
    let stderr = stop(ns);
    assert!(stderr.contains("token renewed for 3s"), "{stderr}");
    // Never revoked: the user's token is still alive after the exit.
    let look = bao.admin(
        json!([{"op": "api", "method": "POST", "path": "auth/token/lookup",
        "body": {"token": token}}]),
    );
    // A revoked token's lookup is refused; this one still answers (its 3 s TTL may just be
    // running out on a loaded machine: ttl 0 is still not revoked).
    assert_eq!(look[0]["status"], 200, "{look:?}");
    assert!(look[0]["body"]["data"]["ttl"].is_u64(), "{look:?}");
    assert_eq!(
        bao.audited_ops("update", "auth/token/revoke-self"),
        revoked_at_start,
        "no revoke-self but the dev server's own\n{stderr}"
    );
    assert!(!stderr.contains(&token) && !stderr.contains(&value));
}

#[test]
fn renewals_wake_the_supervisor_on_their_own_with_an_hourly_poll() {
    // The supervisor sleeps until the next due thing: with a poll an hour away, the token's
    // renewal at two thirds of its TTL must still come when it is due.
    let bao = Bao::start();
    bao.put_v2("app", &[("db", &canary("db"))]);
    let r = bao.admin(
        json!([{"op": "api", "method": "POST", "path": "auth/token/create",
        "body": {"policies": ["reader"], "ttl": "3s", "renewable": true}}]),
    );
    let token = r[0]["body"]["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    let sb = Sandbox::new();
    let status = sb.path("status.json");
    sb.config(
        &yaml(&bao, &status, "", "    deadline: 2s\n").replace("interval: 1s", "interval: 1h"),
    );
    let mut run = sb.run();
    run.env("VAULT_TOKEN", &token)
        .args(["--sources", "vault", "--"])
        .args(waiter());
    let ns = Ns::start(&run, &[]);
    expect_prefix(&ns, "ready", Duration::from_secs(10));
    stays_ok(&status, &ns, Duration::from_secs(5));
    let renewals = audited_times(&bao, "auth/token/renew-self");
    assert!(
        renewals.len() >= 2,
        "renewals: {renewals:?}\n{}",
        ns.stderr()
    );
    assert_eq!(
        bao.audited_ops("read", "secret/data/app"),
        1,
        "no poll but the start's"
    );
    let stderr = stop(ns);
    assert!(stderr.contains("token renewed for 3s"), "{stderr}");
}

#[test]
fn a_token_at_its_max_ttl_triggers_a_login_and_is_revoked_at_exit() {
    let bao = Bao::start();
    bao.put_v2("app", &[("db", &canary("db"))]);
    // TTL 2 s, max 4 s: renewed at ~1.3 s, then capped, then a new login at ~2/3 of what is left.
    let (role_id, secret_id) = short_role(&bao, "2s", "4s");
    // The dev server revokes its initial root token itself.
    let revoked_at_start = bao.audited_ops("update", "auth/token/revoke-self");
    let sb = Sandbox::new();
    let status = sb.path("status.json");
    sb.config(&yaml(&bao, &status, "    auth: {method: approle}\n", ""));
    let mut run = sb.run();
    run.env("VAULT_ROLE_ID", &role_id)
        .env("VAULT_SECRET_ID", &secret_id)
        .args(["--sources", "vault", "--"])
        .args(waiter());
    let ns = Ns::start(&run, &[]);
    expect_prefix(&ns, "ready", Duration::from_secs(10));
    // 5 s: the first login, a renewal, a capped renewal and the second login (at ~3.6 s); on a
    // loaded machine the second login may come later, so wait for it (bounded), still all ok.
    stays_ok(&status, &ns, Duration::from_secs(5));
    let t0 = Instant::now();
    while audited_times(&bao, "auth/approle/login").len() < 2
        && t0.elapsed() < Duration::from_secs(10)
    {
        stays_ok(&status, &ns, Duration::from_millis(500));
    }
    let renewals = audited_times(&bao, "auth/token/renew-self");
    assert!(!renewals.is_empty(), "renewed before the max TTL");
    let stderr = stop(ns);
    // Counted after the exit: a login may have happened between any earlier count and the stop.
    let logins = audited_times(&bao, "auth/approle/login");
    eprintln!(
        "approle logins at gaps {:?}, {} renewals (TTL 2s, max 4s)",
        gaps(&logins),
        renewals.len()
    );
    assert!(logins.len() >= 2, "logged in again: {logins:?}\n{stderr}");
    assert!(stderr.contains("logged in again (approle)"), "{stderr}");
    // Each re-login revokes the token it replaces; the exit revokes the last one: every token we
    // logged in for is revoked exactly once.
    let revoked = bao.audited_ops("update", "auth/token/revoke-self");
    assert_eq!(
        revoked - revoked_at_start,
        logins.len(),
        "one revoke-self per login\n{stderr}"
    );
    assert!(!stderr.contains(&secret_id));
}

#[test]
fn an_impossible_approle_relogin_keeps_the_last_good_set_and_the_status_says_so() {
    let bao = Bao::start();
    let value = canary("db");
    bao.put_v2("app", &[("db", &value)]);
    // Not renewable past 2 s: the only way on is a new login, and its secret id is gone.
    let (role_id, secret_id) = short_role(&bao, "2s", "2s");
    let sb = Sandbox::new();
    let sid = sb.write("secret-id", format!("{secret_id}\n"));
    let status = sb.path("status.json");
    sb.config(&yaml(
        &bao,
        &status,
        &format!(
            "    auth: {{method: approle, secret_id_file: {}, remove_secret_id_file: true}}\n",
            sid.display()
        ),
        "",
    ));
    let mut run = sb.run();
    run.env("VAULT_ROLE_ID", &role_id)
        .args(["--sources", "vault", "--"])
        .args(waiter());
    let mut ns = Ns::start(&run, &[]);
    expect_prefix(&ns, "ready", Duration::from_secs(10));
    assert!(!sid.exists(), "the secret id file is used up at the start");
    let st = status_until(&status, Duration::from_secs(6), &ns, |s| {
        s["vault"]["token"]["state"] == "error"
    });
    assert_eq!(st["ok"], false, "{st}");
    let why = st["vault"]["token"]["error"].as_str().expect("error text");
    assert!(
        why.contains("logging in again failed") && why.contains("secret_id_file"),
        "{why}"
    );
    // The program is alive and keeps the last good set.
    assert_eq!(ns.wait(Duration::from_millis(300)), None, "the run ended");
    assert_eq!(read(&sb.path("out/db")), value);
    let stderr = stop(ns);
    assert!(
        stderr.contains("the program keeps the last good set"),
        "{stderr}"
    );
    assert!(!stderr.contains(&secret_id) && !stderr.contains(&value));
}

/// The public key of a PEM certificate or private key, through openssl (`x509 -pubkey` /
/// `pkey -pubout`: the EC equivalent of comparing moduli).
fn public_key(pem: &str, cert: bool) -> String {
    let mut cmd = std::process::Command::new("openssl");
    if cert {
        cmd.args(["x509", "-noout", "-pubkey"]);
    } else {
        cmd.args(["pkey", "-pubout"]);
    }
    let out = fed(&mut cmd, pem.as_bytes());
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Whether a certificate has not expired yet (`openssl x509 -checkend 0`).
fn still_valid(pem: &str) -> bool {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("c.pem");
    std::fs::write(&f, pem).expect("write");
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-checkend", "0", "-in"])
        .arg(&f)
        .output()
        .expect("openssl");
    out.status.success()
}

#[test]
fn a_pki_certificate_is_reissued_before_it_expires_with_its_key_and_its_lease_revoked_at_exit() {
    let bao = Bao::start();
    bao.put_v2("app", &[("db", &canary("db"))]);
    let token = pki_web_token(&bao, "4s");
    let sb = Sandbox::new();
    let status = sb.path("status.json");
    sb.config(&yaml(
        &bao,
        &status,
        "",
        "    dynamic:\n      web:\n        path: pki/issue/web\n        data: {common_name: app.internal, ttl: 4s}\n        \
         fields: {cert: certificate, key: private_key, ca: issuing_ca}\n",
    ));
    let cert = sb.path("out/web.cert");
    let key = sb.path("out/web.key");
    let mut run = sb.run();
    run.env("VAULT_TOKEN", &token)
        .args(["--sources", "vault", "--refresh", "1h", "--"])
        .args(waiter());
    let ns = Ns::start(&run, &[]);
    expect_prefix(&ns, "ready", Duration::from_secs(10));
    assert_eq!(mode(&key), 0o600);
    let mut serials = vec![public_key(&read(&cert), true)];
    let t0 = Instant::now();
    let mut hups = 0;
    // Three re-issues (each at ~2/3 of 4 s), each signalled; the pair always matches.
    while hups < 3 {
        let left = Duration::from_secs(12).saturating_sub(t0.elapsed());
        expect_prefix(&ns, "hup", left);
        hups += 1;
        let (c, k) = (read(&cert), read(&key));
        let pubkey = public_key(&c, true);
        assert_eq!(pubkey, public_key(&k, false), "cert and key of one issue");
        assert!(still_valid(&c), "re-issued before the old one expired");
        assert!(!serials.contains(&pubkey), "a new key each issue");
        serials.push(pubkey);
        assert!(read(&sb.path("out/web.ca")).contains("BEGIN CERTIFICATE"));
    }
    eprintln!("3 PKI re-issues (TTL 4s) in {:?}", t0.elapsed());
    assert!(
        t0.elapsed() < Duration::from_secs(11),
        "re-issued at ~2.7 s, not at expiry"
    );
    let st: serde_json::Value = serde_json::from_str(&read(&status)).expect("status JSON");
    assert!(
        st["vault"]["dynamic"]["web"]["expires"].as_u64().is_some(),
        "{st}"
    );
    let stderr = stop(ns);
    assert!(stderr.contains("issued dynamic secret \"web\""), "{stderr}");
    // A re-issue names the files it wrote; the start line polls only the sources in use.
    for f in [&cert, &key] {
        assert!(
            stderr.contains(&format!(
                "web: {} (vault dynamic pki/issue/web)",
                f.display()
            )),
            "{stderr}"
        );
    }
    let start = stderr
        .lines()
        .find(|l| l.contains("refresh: every 1h"))
        .unwrap_or_else(|| panic!("no start line: {stderr}"));
    assert!(start.contains("vault:https://127.0.0.1:"), "{start}");
    for unused in ["aws:", "gcp:", "azure:"] {
        assert!(!start.contains(unused), "{unused} is not in use: {start}");
    }
    assert_eq!(
        bao.audited_ops("update", "sys/leases/revoke"),
        1,
        "the last lease revoked at exit\n{stderr}"
    );
    let key_text = read(&key);
    let key_body = &key_text[30..80];
    assert!(!stderr.contains(key_body), "no key in the log");
    assert!(
        !read(&status).contains(key_body),
        "no key in the status file"
    );
    assert!(!stderr.contains(&token));
}

#[test]
fn bad_dynamic_settings_are_refused_before_anything_is_read() {
    let sb = Sandbox::new();
    for (entry, want) in [
        ("      web: {fields: {cert: certificate}}\n", "path missing"),
        ("      web: {path: pki/issue/web}\n", "fields missing"),
        (
            "      web/x: {path: pki/issue/web, fields: {c: certificate}}\n",
            "the name must be",
        ),
        (
            "      web: {path: pki/issue/web, method: DELETE, fields: {c: certificate}}\n",
            "method",
        ),
        (
            "      web: {path: pki/issue/web, fields: {c: certificate}, ttl: 1h}\n",
            "unknown setting \"ttl\"",
        ),
    ] {
        sb.config(&format!(
            "secrets: {{}}\nsecret_init:\n  vault:\n    address: https://127.0.0.1:1\n    dynamic:\n{entry}"
        ));
        sb.run()
            .args(["--", "/bin/true"])
            .output()
            .expect_code(78)
            .stderr_has(want);
        assert!(!sb.path("out").exists(), "nothing written");
    }
}

/// IRSA under refresh, against a real moto STS: the aws source is rebuilt by every pass, so each
/// pass exchanges the (re-read) web identity token for new credentials and none is used past its
/// expiry. The token file is rewritten meanwhile (as the kubelet rotates it): the passes go on
/// (moto's STS does not check the token, so which one was sent is not observed here).
#[test]
fn web_identity_credentials_are_obtained_afresh_by_every_refresh_pass() {
    let moto = crate::support::moto::Moto::start();
    let value = canary("irsa");
    moto.admin(
        json!([{"service": "secretsmanager", "method": "create_secret",
        "args": {"Name": "irsa", "SecretString": value}}]),
    );
    let sb = Sandbox::new();
    let jwt = canary("jwt");
    let token = sb.write("token", format!("{jwt}\n"));
    sb.config(
        "secrets:\n  x: null\nsecret_init:\n  refresh: {interval: 1s, jitter: 0%}\n  secrets:\n    x: {from: 'aws-sm:irsa'}\n",
    );
    let mut run = sb.run();
    moto.env(&mut run, &sb);
    run.env_remove("AWS_ENDPOINT_URL")
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &moto.url)
        .env("AWS_ENDPOINT_URL_STS", &moto.url)
        .env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/app")
        .env("AWS_ROLE_SESSION_NAME", "si-test")
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token)
        .args(["--log-level", "debug", "--"])
        .args(waiter());
    let ns = Ns::start(&run, &[]);
    expect_prefix(&ns, "ready", Duration::from_secs(10));
    let rotated = canary("jwt2");
    std::fs::write(&token, format!("{rotated}\n")).expect("rotate the token file");
    let exchanges = |ns: &Ns| ns.stderr().matches("credentials for key id ASIA").count();
    let enough = wait_until(Duration::from_secs(6), || exchanges(&ns) >= 4);
    assert!(enough, "one STS exchange per pass\n{}", ns.stderr());
    let stderr = stop(ns);
    assert!(!stderr.contains("refresh failed"), "{stderr}");
    assert_eq!(read(&sb.path("out/x")), value);
    for c in [&value, &jwt, &rotated] {
        assert!(!stderr.contains(c.as_str()), "leak in the log");
    }
}

/// Mounts PKI with an EC root and a role `web` issuing `app.internal` certificates for `ttl` with
/// a lease (generate_lease, so an exit has one to revoke), and returns a token whose policy may
/// issue them and read `secret/data/*`.
pub(crate) fn pki_web_token(bao: &Bao, ttl: &str) -> String {
    bao.admin(json!([
        {"op": "api", "method": "POST", "path": "sys/mounts/pki", "body": {"type": "pki", "config": {"max_lease_ttl": "1h"}}},
        {"op": "api", "method": "POST", "path": "pki/root/generate/internal", "body": {"common_name": "test root", "ttl": "1h", "key_type": "ec", "key_bits": 256}},
        {"op": "api", "method": "POST", "path": "pki/roles/web", "body": {"allowed_domains": ["app.internal"], "allow_bare_domains": true,
            "key_type": "ec", "key_bits": 256, "ttl": ttl, "max_ttl": ttl, "generate_lease": true}},
        {"op": "api", "method": "PUT", "path": "sys/policies/acl/web", "body": {"policy":
            "path \"pki/issue/web\" { capabilities = [\"update\"] }\npath \"secret/data/*\" { capabilities = [\"read\"] }\n"}},
    ]));
    let r = bao.admin(
        json!([{"op": "api", "method": "POST", "path": "auth/token/create",
        "body": {"policies": ["web"], "ttl": "10m"}}]),
    );
    r[0]["body"]["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string()
}

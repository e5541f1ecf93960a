//! The last-known-good snapshot (docs/fallback.md) against a real OpenBao dev server: a start
//! with the store stopped, sealed (`sys/seal`), behind a closed port, frozen past the deadline
//! (SIGSTOP on the server), or answered by a scripted 503 or a reset in its place is served from
//! the snapshot and says so; a refusal (403, a revoked token, 404, a wrong CA) fails as without
//! fallback and never reads it; a tampered, truncated, foreign, linked, replayed, too old,
//! wrongly owned or too open snapshot is ignored with a warning. Values are canaries that must
//! never appear in the output, the status file or `check`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use crate::init::{Ns, libc_sig};
use crate::refresh::{expect_prefix, freeze, status_until};
use crate::support::bao::Bao;
use crate::support::fake_https::Fake;
use crate::support::*;

/// A sandbox with a vault-backed `db` and `api`, an env-backed `loc`, and a snapshot.
pub(crate) struct Setup {
    pub sb: Sandbox,
    pub snap: PathBuf,
    pub token: String,
    /// The values the first (healthy) start stored.
    pub db: String,
    pub api: String,
}

/// `secret_init.fallback` for a snapshot under the sandbox's `state/`, sealed with `key`.
pub(crate) fn fallback_yaml(sb: &Sandbox, max_age: &str) -> String {
    format!(
        "  fallback: {{path: {}, key_file: {}, max_age: {max_age}}}\n",
        sb.path("state/snap").display(),
        sb.path("key").display()
    )
}

/// A fresh base64 key in the sandbox's `key`.
pub(crate) fn write_key(sb: &Sandbox) {
    let raw: Vec<u8> = (0..32)
        .map(|i| (i * 7 + std::process::id()) as u8)
        .collect();
    sb.write("key", format!("{}\n", b64(&raw)));
}

fn config(bao: &Bao, sb: &Sandbox, max_age: &str) -> String {
    format!(
        "secrets:\n  db: null\n  api: null\n  loc: null\nsecret_init:\n{}  secrets:\n    \
         db: {{from: 'vault:secret/data/app#db'}}\n    api: {{from: 'vault:secret/data/app#api'}}\n  \
         vault:\n{}",
        fallback_yaml(sb, max_age),
        bao.vault_yaml()
    )
}

impl Setup {
    /// Stores two canaries in `bao`, and a healthy start writes the snapshot.
    pub(crate) fn new(bao: &Bao, max_age: &str) -> Setup {
        let sb = Sandbox::new();
        write_key(&sb);
        sb.config(&config(bao, &sb, max_age));
        let (db, api) = (canary("fb-db"), canary("fb-api"));
        bao.put_v2("app", &[("db", &db), ("api", &api)]);
        let s = Setup {
            snap: sb.path("state/snap"),
            sb,
            token: bao.reader_token(),
            db,
            api,
        };
        let out = s.start(&bao.addr, &[]);
        out.expect_ok().no_leak(&[&s.db, &s.api]);
        assert!(!out.stderr().contains("stale"), "{}", out.stderr());
        assert_eq!(mode(&s.snap), 0o600);
        let bytes = std::fs::read(&s.snap).expect("snapshot written");
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(&s.db) && !text.contains("secret/data"),
            "the snapshot holds a value or a place in clear"
        );
        s
    }

    /// A run against the vault at `addr` (one retry, 1 s per attempt, 3 s in all) with a fresh
    /// value for the env-backed `loc`; the program checks nothing and exits 0.
    pub(crate) fn start(&self, addr: &str, extra: &[&str]) -> Out {
        self.run_with(addr, extra, &["--", "/bin/true"])
    }

    fn run_with(&self, addr: &str, extra: &[&str], tail: &[&str]) -> Out {
        let mut r = self.sb.run();
        r.env("VAULT_TOKEN", &self.token)
            .env("TRUSS_SECRET_loc", canary("loc"))
            .env("SECRET_INIT_VAULT_RETRIES", "1")
            .args(["--log-level", "debug", "--vault-addr", addr])
            .args(["--vault-timeout", "1s", "--vault-deadline", "3s"])
            .args(extra)
            .args(tail);
        r.output()
    }

    /// A start served from the snapshot: exit 0, one stale line per vault secret with its age,
    /// the stored values delivered, the env-backed one fresh.
    fn expect_stale(&self, out: &Out, why: &str) {
        out.expect_ok().no_leak(&[&self.db, &self.api, &self.token]);
        for name in ["db", "api"] {
            let line = out
                .stderr()
                .lines()
                .find(|l| {
                    l.contains(&format!(
                        "secret \"{name}\" (vault:secret/data/app#{name}): stale:"
                    ))
                })
                .map(str::to_string)
                .unwrap_or_else(|| panic!("{why}: no stale line for {name}\n{}", out.stderr()));
            assert!(line.contains(" old (fetched "), "{why}: {line}");
        }
        assert_eq!(read(&self.sb.path("out/db")), self.db, "{why}");
        assert_eq!(read(&self.sb.path("out/api")), self.api, "{why}");
        assert!(
            read(&self.sb.path("out/loc")).starts_with("canary-loc-"),
            "{why}: the env-backed secret is fresh"
        );
    }

    /// A start that failed as it would without fallback, with no stale line.
    fn expect_refused(&self, out: &Out, code: i32, why: &str) {
        out.expect_code(code).no_leak(&[&self.db, &self.api]);
        assert!(!out.stderr().contains("stale"), "{why}: {}", out.stderr());
    }
}

/// The unseal key the dev server printed.
fn unseal_key(bao: &Bao) -> String {
    read(&bao.dir.path().join("server.log"))
        .lines()
        .find_map(|l| l.strip_prefix("Unseal Key: "))
        .expect("dev server prints its unseal key")
        .trim()
        .to_string()
}

fn seal(bao: &Bao) {
    bao.admin(json!([{"op": "api", "method": "PUT", "path": "sys/seal"}]));
}

fn unseal(bao: &Bao) {
    let key = unseal_key(bao);
    bao.admin(json!([{"op": "api", "method": "PUT", "path": "sys/unseal", "body": {"key": key}}]));
}

#[test]
fn vault_outages_are_served_from_the_snapshot_with_stale_lines() {
    let bao = Bao::start();
    let s = Setup::new(&bao, "6h");

    // Firewalled: nothing listens on the port.
    let closed = format!("https://127.0.0.1:{}", free_port());
    let out = s.start(&closed, &[]);
    s.expect_stale(&out, "closed port");
    out.stderr_has("store is unavailable (cannot connect");

    // Negative control: the same outage without fallback fails as it always did.
    let out = s.start(&closed, &["--no-fallback"]);
    s.expect_refused(&out, 69, "--no-fallback");
    let mut off = s.sb.run();
    off.env("VAULT_TOKEN", &s.token)
        .env("TRUSS_SECRET_loc", "x")
        .env("SECRET_INIT_NO_FALLBACK", "true")
        .args([
            "--vault-addr",
            &closed,
            "--vault-retries",
            "0",
            "--",
            "/bin/true",
        ]);
    s.expect_refused(&off.output(), 69, "SECRET_INIT_NO_FALLBACK");

    // Sealed: the real server answers 503 "Vault is sealed" on every attempt.
    seal(&bao);
    let out = s.start(&bao.addr, &[]);
    s.expect_stale(&out, "sealed");
    out.stderr_has("store is unavailable (server error");
    // `check` shows the stale rows (name, source, age; the value masked) and exits 0.
    let check = s.run_with(&bao.addr, &[], &["check", "--format", "json"]);
    check.expect_ok().no_leak(&[&s.db, &s.api]);
    let report: serde_json::Value = serde_json::from_str(&check.stdout()).expect("json");
    let db = report["secrets"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["name"] == "db")
        .expect("db row")
        .clone();
    assert_eq!(db["source"], "vault:secret/data/app#db", "{report}");
    assert!(
        db["status"]
            .as_str()
            .expect("status")
            .starts_with("stale: "),
        "{report}"
    );
    unseal(&bao);

    // Hanging past the deadline: the server frozen (SIGSTOP) accepts and never answers.
    freeze(&bao, true);
    let out = s.start(&bao.addr, &[]);
    freeze(&bao, false);
    s.expect_stale(&out, "frozen");
    out.stderr_has("store is unavailable (no answer in time");

    // A relay in the store's place answering 503, then one resetting every connection.
    for (scenario, words) in [
        (
            json!({"status": 503, "json": {"errors": ["down"]}}),
            "server error",
        ),
        (json!({"reset": true}), "cannot connect"),
    ] {
        let fake = Fake::start(json!([scenario]));
        let ca = fake.ca.display().to_string();
        let out = s.start(&fake.addr, &["--vault-ca-cert", &ca]);
        s.expect_stale(&out, words);
        out.stderr_has(&format!("store is unavailable ({words}"));
        assert!(fake.requests("main").len() >= 2, "the client retried first");
    }

    // Stopped (its CA kept: the server removes its own on the way out).
    let addr = bao.addr.clone();
    let ca = s.sb.path("bao-ca.pem");
    std::fs::copy(&bao.ca, &ca).expect("keep the CA");
    drop(bao);
    let out = s.start(&addr, &["--vault-ca-cert", &ca.display().to_string()]);
    s.expect_stale(&out, "stopped");
}

#[test]
fn refusals_fail_as_without_fallback_and_never_read_the_snapshot() {
    let bao = Bao::start();
    let mut s = Setup::new(&bao, "6h");
    // Garbage in the snapshot's place: reading it would say so in a warning.
    std::fs::write(&s.snap, b"garbage, not a snapshot").expect("overwrite");
    let closed = format!("https://127.0.0.1:{}", free_port());
    let out = s.start(&closed, &[]);
    s.expect_refused(&out, 69, "control");
    out.stderr_has("fallback snapshot")
        .stderr_has("ignored: not a secret-init fallback snapshot");

    let not_read = |s: &Setup, addr: &str, extra: &[&str], code: i32, why: &str| {
        let out = s.start(addr, extra);
        s.expect_refused(&out, code, why);
        assert!(
            !out.stderr().contains("fallback snapshot"),
            "{why}: the snapshot was read\n{}",
            out.stderr()
        );
        let without: Vec<&str> = extra.iter().copied().chain(["--no-fallback"]).collect();
        let plain = s.start(addr, &without);
        assert_eq!(plain.code(), code, "{why}: as without fallback");
        let errors = |o: &Out| -> Vec<String> {
            o.stderr()
                .lines()
                .filter(|l| l.contains(": error: "))
                .map(|l| l.split(" (gave up").next().unwrap_or(l).to_string())
                .collect()
        };
        assert_eq!(errors(&out), errors(&plain), "{why}: the same error");
    };

    // 403: a token without the reader policy.
    let r = bao.admin(json!([{"op": "api", "method": "POST", "path": "auth/token/create", "body": {"policies": ["default"], "ttl": "10m"}}]));
    let reader = std::mem::replace(
        &mut s.token,
        r[0]["body"]["auth"]["client_token"]
            .as_str()
            .expect("token")
            .to_string(),
    );
    not_read(&s, &bao.addr, &[], 77, "403");

    // A revoked token.
    s.token = reader;
    bao.admin(json!([{"op": "api", "method": "POST", "path": "auth/token/revoke", "body": {"token": s.token}}]));
    not_read(&s, &bao.addr, &[], 77, "revoked token");
    s.token = bao.reader_token();

    // A wrong CA: another server's.
    let other = Fake::start(json!([{"status": 200, "json": {}}]));
    let ca = other.ca.display().to_string();
    not_read(&s, &bao.addr, &["--vault-ca-cert", &ca], 77, "wrong CA");

    // 404: the secret is gone.
    bao.admin(json!([{"op": "api", "method": "DELETE", "path": "secret/metadata/app"}]));
    not_read(&s, &bao.addr, &[], 69, "404");
}

/// The snapshot's bytes, and a start against a closed port with the snapshot as `tamper`
/// leaves it: it must fail with exit 69, name the snapshot as ignored with `reason`, and serve
/// nothing stale.
fn expect_ignored(s: &Setup, closed: &str, reason: &str) {
    let out = s.start(closed, &[]);
    s.expect_refused(&out, 69, reason);
    let line = out
        .stderr()
        .lines()
        .find(|l| l.contains("fallback snapshot") && l.contains("ignored"))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("{reason}: no warning\n{}", out.stderr()));
    assert!(line.contains(reason), "{reason}: {line}");
}

#[test]
fn a_tampered_foreign_linked_or_replayed_snapshot_is_ignored_with_a_warning() {
    let bao = Bao::start();
    let s = Setup::new(&bao, "6h");
    let closed = format!("https://127.0.0.1:{}", free_port());
    let good = std::fs::read(&s.snap).expect("snapshot");
    let put = |bytes: &[u8]| {
        std::fs::write(&s.snap, bytes).expect("write");
        std::fs::set_permissions(&s.snap, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    };

    // Single bits flipped across the whole file (every 37th, bounded: the unit test in
    // src/fallback/file.rs flips every one), each refused.
    let bits = good.len() * 8;
    let mut tried = 0;
    for bit in (0..bits).step_by(37).take(120) {
        let mut b = good.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        put(&b);
        let out = s.start(&closed, &["--vault-retries", "0"]);
        s.expect_refused(&out, 69, &format!("bit {bit}"));
        out.stderr_has("fallback snapshot");
        tried += 1;
    }
    assert!(tried >= 60, "{tried} bits tried");

    put(&good[..good.len() / 2]);
    expect_ignored(&s, &closed, "does not authenticate");

    // Another manifest's snapshot (same key, same path spelling elsewhere): it does not open.
    let other = Bao::start();
    let t = Setup::new(&other, "6h");
    std::fs::copy(s.sb.path("key"), t.sb.path("key")).expect("same key");
    t.start(&other.addr, &[]).expect_ok();
    put(&std::fs::read(&t.snap).expect("other snapshot"));
    expect_ignored(&s, &closed, "does not authenticate");

    // A link to a good snapshot.
    let aside = s.sb.path("state/aside");
    std::fs::write(&aside, &good).expect("aside");
    std::fs::set_permissions(&aside, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::fs::remove_file(&s.snap).expect("rm");
    std::os::unix::fs::symlink(&aside, &s.snap).expect("symlink");
    expect_ignored(&s, &closed, "symbolic link");
    std::fs::remove_file(&s.snap).expect("rm link");

    // Wrong mode, wrong owner.
    put(&good);
    std::fs::set_permissions(&s.snap, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    expect_ignored(&s, &closed, "its mode is 0640");
    put(&good);
    std::os::unix::fs::chown(&s.snap, Some(65534), None).expect("chown (tests run as root)");
    expect_ignored(&s, &closed, "owned by uid 65534");
    // Nor is another user's file replaced: the publisher refuses it, says so, and the start
    // goes on.
    s.start(&bao.addr, &[])
        .expect_ok()
        .stderr_has("fallback snapshot")
        .stderr_has("not written");
    std::os::unix::fs::chown(&s.snap, Some(0), None).expect("chown back");

    // Replayed: an older generation put back after a newer one was written.
    put(&good);
    s.start(&bao.addr, &[]).expect_ok();
    put(&good);
    expect_ignored(&s, &closed, "a replayed copy");

    // The good one, current: served (the control for all of the above).
    s.start(&bao.addr, &[]).expect_ok();
    s.expect_stale(&s.start(&closed, &[]), "current snapshot");
}

#[test]
fn a_value_older_than_max_age_is_not_used() {
    let bao = Bao::start();
    // 1 ms: any later start is past it.
    let s = Setup::new(&bao, "1ms");
    let closed = format!("https://127.0.0.1:{}", free_port());
    let out = s.start(&closed, &[]);
    s.expect_refused(&out, 69, "max_age");
    out.stderr_has("older than max_age");
    // Rewriting the snapshot never resets a value's age: a stale start rewrites it, and the
    // next one still finds the value as old as it was.
    let s = Setup::new(&bao, "6h");
    let age = |o: &Out| -> f64 {
        let l = o.stderr();
        let at = l.find("value ").expect("age") + 6;
        let rest = &l[at..];
        let n = rest.split('s').next().expect("secs");
        n.parse::<f64>().unwrap_or(f64::MAX)
    };
    let first = s.start(&closed, &[]);
    s.expect_stale(&first, "first stale start");
    let second = s.start(&closed, &[]);
    s.expect_stale(&second, "second stale start");
    assert!(age(&second) >= age(&first), "the age went back");
}

#[test]
fn settings_are_checked_and_the_key_is_secret_init_own() {
    let sb = Sandbox::new();
    write_key(&sb);
    let bad = [
        (
            "  fallback: {path: /var/lib/x/snap, key_file: /k}\n",
            "max_age: required",
        ),
        (
            "  fallback: {key_file: /k, max_age: 6h}\n",
            "path: required",
        ),
        (
            "  fallback: {path: /var/lib/x, max_age: 6h}\n",
            "key_file or key_env: required",
        ),
        (
            "  fallback: {path: /v/s, key_file: /k, key_env: K, max_age: 6h}\n",
            "give one, not both",
        ),
        (
            "  fallback: {path: relative, key_file: /k, max_age: 6h}\n",
            "must be an absolute",
        ),
        (
            "  fallback: {path: /v/s, key_file: /k, max_age: 6d}\n",
            "max_age: expected a duration",
        ),
        (
            "  fallback: {path: /v/s, key_env: TRUSS_SECRET_k, max_age: 6h}\n",
            "starts with the secrets' prefix",
        ),
        (
            "  fallback: {path: /v/s, key_file: /k, max_age: 6h, extra: 1}\n",
            "unknown setting",
        ),
    ];
    for (yaml, want) in bad {
        sb.config(&format!("secrets: {{}}\nsecret_init:\n{yaml}"));
        let out = sb.run().args(["--", "/bin/true"]).output();
        out.expect_code(78).stderr_has(want);
    }
    // Inside the output dir.
    sb.config(&format!(
        "secrets: {{}}\nsecret_init:\n  fallback: {{path: {}, key_file: /k, max_age: 6h}}\n",
        sb.path("out/snap").display()
    ));
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has("inside the output dir");

    // key_env: scrubbed from the program's environment, and refused as a reference.
    let key = canary("fbkey");
    sb.config(&format!(
        "secrets: {{a: null}}\nsecret_init:\n  fallback: {{path: {}, key_env: FB_KEY, max_age: 6h}}\n",
        sb.path("state/snap").display()
    ));
    let out = sb
        .run()
        .env("FB_KEY", &key)
        .env("TRUSS_SECRET_a", "x")
        .args(["--", "/bin/sh", "-c", "env"])
        .output();
    out.expect_ok();
    assert!(out.stdout().contains("TRUSS_SECRET") || out.stdout().contains("PATH="));
    assert!(!out.stdout().contains("FB_KEY"), "{}", out.stdout());
    sb.config(&format!(
        "secrets: {{a: null}}\nsecret_init:\n  secrets:\n    a: {{from: 'env:FB_KEY'}}\n  fallback: {{path: {}, key_env: FB_KEY, max_age: 6h}}\n",
        sb.path("state/snap").display()
    ));
    let out = sb
        .run()
        .env("FB_KEY", &key)
        .args(["--", "/bin/true"])
        .output();
    out.expect_code(78)
        .stderr_has("holds the fallback snapshot's key")
        .no_leak(&[&key]);
}

#[test]
fn the_key_file_is_never_a_value_and_the_snapshot_is_out_of_a_user_programs_reach() {
    let sb = Sandbox::new();
    write_key(&sb);
    // `from: file:` naming the key file: one of secret-init's own credentials.
    sb.config(&format!(
        "secrets:\n  a: null\nsecret_init:\n{}  secrets:\n    a: {{from: 'file:{}'}}\n",
        fallback_yaml(&sb, "6h"),
        sb.path("key").display()
    ));
    let out = sb.run().args(["--", "/bin/true"]).output();
    assert_ne!(out.code(), 0, "{}", out.stderr());
    out.stderr_has("fallback snapshot's key file");
    assert!(!sb.path("out/a").exists(), "the key was delivered");

    // Under --user, a snapshot directory the program's user owns is refused (78) before
    // anything is resolved; a root-owned one is fine (control).
    sb.config(&format!(
        "secrets:\n  a: null\nsecret_init:\n{}",
        fallback_yaml(&sb, "6h")
    ));
    let state = sb.mkdir("state");
    std::os::unix::fs::chown(&state, Some(4242), Some(4242)).expect("chown (tests run as root)");
    let start = || {
        sb.run()
            .env("TRUSS_SECRET_a", "x")
            .args(["--user", "4242:4242", "--", "/bin/true"])
            .output()
    };
    start()
        .expect_code(78)
        .stderr_has("the fallback snapshot's directory")
        .stderr_has("could change it");
    std::os::unix::fs::chown(&state, Some(0), Some(0)).expect("chown back");
    start().expect_ok();
}

#[test]
fn a_secret_no_longer_declared_leaves_the_snapshot() {
    let bao = Bao::start();
    let s = Setup::new(&bao, "6h");
    // `api` is no longer declared: the next healthy start writes a snapshot without it.
    let cfg = read(&s.sb.path("config.yaml"));
    let without = cfg
        .replace("  api: null\n", "")
        .replace("    api: {from: 'vault:secret/data/app#api'}\n", "");
    s.sb.config(&without);
    s.start(&bao.addr, &[]).expect_ok();
    // Declared again, during an outage: `db` is served, `api` is not in the snapshot.
    s.sb.config(&cfg);
    let closed = format!("https://127.0.0.1:{}", free_port());
    let out = s.start(&closed, &[]);
    // One secret missing fails the start as ever (all or nothing), the other one stale.
    out.expect_code(69).no_leak(&[&s.db, &s.api]);
    out.stderr_has("secret \"db\" (vault:secret/data/app#db): stale:")
        .stderr_has("secret \"api\": the fallback snapshot holds no value for it");
}

/// A program that prints `ready VALUE`, and `hup VALUE` on each SIGHUP, VALUE being `file`.
pub(crate) fn reloader(file: &Path) -> Vec<String> {
    let f = file.display();
    vec![
        "/bin/sh".into(),
        "-c".into(),
        format!(
            "trap 'echo \"hup $(cat {f})\"' HUP; echo \"ready $(cat {f})\"; \
             while :; do sleep 0.05; done"
        ),
    ]
}

#[test]
fn refresh_replaces_stale_values_when_the_store_returns() {
    let bao = Bao::start();
    let s = Setup::new(&bao, "6h");
    let generation = || {
        read(&s.sb.path("state/snap.generation"))
            .trim()
            .parse::<u64>()
    };
    let before = generation().expect("generation");
    // A new value, then the store seals: the start is served the old one.
    let fresh = canary("fb-db-new");
    bao.put_v2("app", &[("db", &fresh), ("api", &s.api)]);
    seal(&bao);
    let status = s.sb.path("status.json");
    let out = s.sb.path("out/db");
    let mut r = s.sb.run();
    r.env("VAULT_TOKEN", &s.token)
        .env("TRUSS_SECRET_loc", "l")
        .args(["--vault-retries", "0", "--vault-timeout", "1s"])
        .args(["--refresh", "1h", "--refresh-signal", "HUP"]);
    // The status file comes from config.yaml; append it.
    let cfg = read(&s.sb.path("config.yaml"));
    let port = crate::support::free_port();
    s.sb.config(&cfg.replace(
        "secret_init:\n",
        &format!(
            "secret_init:\n  refresh:\n    interval: 1h\n    jitter: 0%\n    status_file: {}\n  \
             metrics:\n    listen: 127.0.0.1:{port}\n",
            status.display()
        ),
    ));
    r.arg("--").args(reloader(&out));
    let mut ns = Ns::start(&r, &[]);
    let (ready, _) = expect_prefix(&ns, "ready ", Duration::from_secs(15));
    assert_eq!(ready, format!("ready {}", s.db), "served the stored value");
    let st = status_until(&status, Duration::from_secs(5), &ns, |v| {
        v["stale"].as_array().is_some_and(|a| a.len() == 2)
    });
    assert_eq!(
        st["stale"][0]["source"], "vault:secret/data/app#api",
        "{st}"
    );
    assert!(st["stale"][0]["age_seconds"].as_f64().is_some(), "{st}");
    let fallback_gauge =
        || crate::observe::parsed(&crate::observe::scrape(port))["secret_init_fallback_secrets{}"];
    assert_eq!(fallback_gauge(), 2.0, "the metrics count the stale secrets");

    // The store comes back: a retry on the failure backoff (not the 1 h interval) publishes
    // the fresh value and signals the program.
    unseal(&bao);
    let (line, _) = expect_prefix(&ns, "hup ", Duration::from_secs(20));
    assert_eq!(line, format!("hup {fresh}"));
    status_until(&status, Duration::from_secs(5), &ns, |v| {
        v["stale"].as_array().is_some_and(Vec::is_empty)
    });
    assert_eq!(fallback_gauge(), 0.0);
    assert!(
        generation().expect("generation") > before,
        "the snapshot was rewritten"
    );
    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::TERM);
    assert_eq!(ns.finish(), 143);
    let stderr = ns.stderr();
    assert!(
        stderr.contains("stale: served from the fallback snapshot"),
        "{stderr}"
    );
    let status_text = read(&status);
    for c in [&s.db, &s.api, &fresh, &s.token] {
        assert!(!stderr.contains(c.as_str()), "leak in the log");
        assert!(!status_text.contains(c.as_str()), "leak in the status file");
    }
}

/// Through a real squid: a proxy that refuses the tunnel (403) or never answers CONNECT keeps
/// the store from being asked, and the snapshot stands in; a 407 (our proxy credentials wrong)
/// does not.
#[test]
fn a_proxy_that_refuses_or_hangs_is_an_outage_and_its_407_is_not() {
    use crate::support::squid::{Squid, SquidOpts};
    let nb = crate::proxy::named_bao();
    let db = canary("fb-proxied");
    nb.bao.put_v2("app", &[("db", &db)]);
    let token = nb.bao.reader_token();
    let sb = Sandbox::new();
    write_key(&sb);
    sb.config(&format!(
        "secrets:\n  db: null\nsecret_init:\n{}  secrets:\n    db: {{from: 'vault:secret/data/app#db'}}\n  \
         vault:\n    address: {}\n    ca_cert: {}\n    retries: 1\n    timeout: 1s\n    deadline: 3s\n",
        fallback_yaml(&sb, "6h"),
        nb.addr,
        nb.ca.display()
    ));
    let run = |proxy: &str| {
        sb.run()
            .env("VAULT_TOKEN", &token)
            .env("HTTPS_PROXY", proxy)
            .args(["--", "/bin/true"])
            .output_within(Duration::from_secs(20))
    };
    let names = vec![crate::proxy::NAME.to_string()];
    let open = Squid::start(SquidOpts {
        names: names.clone(),
        ..SquidOpts::default()
    });
    run(&open.url(None)).expect_ok().no_leak(&[&db, &token]);
    assert_eq!(read(&sb.path("out/db")), db);

    let refusing = Squid::start(SquidOpts {
        names: names.clone(),
        deny_connect: true,
        ..SquidOpts::default()
    });
    let out = run(&refusing.url(None));
    out.expect_ok().no_leak(&[&db, &token]);
    out.stderr_has("secret \"db\" (vault:secret/data/app#db): stale:")
        .stderr_has("the proxy did not open the tunnel: ")
        .stderr_has("HTTP 403");

    let hang = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let hang_port = hang.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut held = Vec::new();
        for mut s in hang.incoming().flatten().take(8) {
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            held.push(s);
        }
    });
    let out = run(&format!("http://127.0.0.1:{hang_port}"));
    out.expect_ok().no_leak(&[&db, &token]);
    out.stderr_has("secret \"db\" (vault:secret/data/app#db): stale:");

    let authed = Squid::start(SquidOpts {
        names,
        user: Some(("u".into(), "p".into())),
        ..SquidOpts::default()
    });
    let out = run(&authed.url(None));
    out.expect_code(69).stderr_has("HTTP 407");
    assert!(
        !out.stderr().contains("fallback snapshot") && !out.stderr().contains("stale"),
        "a 407 fell back\n{}",
        out.stderr()
    );
}

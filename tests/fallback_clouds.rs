//! The last-known-good snapshot (docs/fallback.md) with the cloud sources and a bundle URL: a
//! healthy start against moto (AWS), the GCP and Azure fakes or a served bundle writes it; then the store answers 503, 429 (and
//! AWS its 400 `ThrottlingException`), or resets the connection on every attempt, and the start
//! is served from the snapshot with a stale line; a refusal (403, `AccessDeniedException`) fails
//! as without fallback; and once the store answers again the next start delivers the fresh
//! value. The scripted relay (fake_https.py) stands where the store was, as a store in trouble
//! would answer.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::fallback::{fallback_yaml, write_key};
use crate::support::fake_azure::{CLIENT_ID, FakeAzure, TENANT};
use crate::support::fake_gcp::{FakeGcp, closed_port};
use crate::support::fake_https::Fake;
use crate::support::moto::Moto;
use crate::support::*;

/// The stale line for `name` from `source`, with the outage's words.
fn expect_stale(out: &Out, name: &str, source: &str, words: &str, canaries: &[&str]) {
    out.expect_ok().no_leak(canaries);
    let line = out
        .stderr()
        .lines()
        .find(|l| l.contains(&format!("secret \"{name}\" ({source}): stale:")))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("{words}: no stale line\n{}", out.stderr()));
    assert!(
        line.contains(" old (fetched ") && line.contains(&format!("unavailable ({words}")),
        "{line}"
    );
}

/// Refused as without fallback: `code`, nothing stale, the snapshot not even read.
fn expect_not_read(out: &Out, code: i32) {
    out.expect_code(code);
    assert!(
        !out.stderr().contains("fallback snapshot") && !out.stderr().contains("stale"),
        "{}",
        out.stderr()
    );
}

/// What a store in trouble answers on every attempt, and the outage it is.
fn troubles() -> Vec<(Value, &'static str)> {
    vec![
        (
            json!({"status": 503, "json": {"message": "down"}}),
            "server error",
        ),
        (
            json!({"status": 429, "headers": {"Retry-After": "0"}, "json": {"message": "slow down"}}),
            "throttled",
        ),
        (json!({"reset": true}), "cannot connect"),
    ]
}

#[test]
fn aws_throttling_5xx_and_resets_are_served_from_the_snapshot() {
    let moto = Moto::start();
    let (v1, v2) = (canary("fb-aws-1"), canary("fb-aws-2"));
    moto.admin(json!([{"service": "secretsmanager", "method": "create_secret", "args": {"Name": "fb/db", "SecretString": v1}}]));
    let sb = Sandbox::new();
    write_key(&sb);
    sb.config(&format!(
        "secrets:\n  db: null\nsecret_init:\n{}  aws: {{retries: 1, timeout: 1s, deadline: 5s}}\n  \
         secrets:\n    db: {{from: 'aws-sm:fb/db'}}\n",
        fallback_yaml(&sb, "6h")
    ));
    let run = |endpoint: Option<(&str, &Path)>| {
        let mut r = sb.run();
        moto.env(&mut r, &sb);
        r.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing");
        if let Some((url, ca)) = endpoint {
            r.env("AWS_ENDPOINT_URL", url).env("SSL_CERT_FILE", ca);
        }
        r.args(["--", "/bin/true"]);
        r.output()
    };
    run(None).expect_ok().no_leak(&[&v1]);
    let mut all = troubles();
    // AWS throttles with a 400 whose body names the code.
    all.push((
        json!({"status": 400, "json": {"__type": "ThrottlingException", "message": "Rate exceeded"}}),
        "throttled",
    ));
    for (scenario, words) in all {
        let fake = Fake::start(json!([scenario]));
        let out = run(Some((&fake.addr, &fake.ca)));
        expect_stale(&out, "db", "aws-sm:fb/db", words, &[&v1]);
        assert_eq!(read(&sb.path("out/db")), v1);
        // Retried first: `retries: 1`, and throttling until the deadline (its own budget).
        let n = fake.requests("main").len();
        assert!(
            if words == "throttled" { n >= 2 } else { n == 2 },
            "retried first: {words}: {n}"
        );
    }
    // A refusal never falls back, and the snapshot is not read.
    let fake = Fake::start(
        json!([{"status": 400, "json": {"__type": "AccessDeniedException", "message": "no"}}]),
    );
    expect_not_read(&run(Some((&fake.addr, &fake.ca))), 77);
    // The store answers again: the fresh value, nothing stale.
    moto.admin(json!([{"service": "secretsmanager", "method": "put_secret_value", "args": {"SecretId": "fb/db", "SecretString": v2}}]));
    let out = run(None);
    out.expect_ok().no_leak(&[&v1, &v2]);
    assert!(!out.stderr().contains("stale"), "{}", out.stderr());
    assert_eq!(read(&sb.path("out/db")), v2);
}

#[test]
fn gcp_5xx_429_and_resets_are_served_from_the_snapshot() {
    let (v1, v2) = (canary("fb-gcp-1"), canary("fb-gcp-2"));
    let name = "projects/proj-1/secrets/db";
    let sb = Sandbox::new();
    write_key(&sb);
    let config = |endpoint: &str| {
        sb.config(&format!(
            "secrets:\n  db: null\nsecret_init:\n{}  gcp: {{endpoint: '{endpoint}', retries: 1, timeout: 1s, deadline: 5s}}\n  \
             secrets:\n    db: {{from: 'sm://proj-1/db'}}\n",
            fallback_yaml(&sb, "6h")
        ));
    };
    let run = |fake: &FakeGcp| {
        let mut r = sb.run();
        r.env("GCE_METADATA_HOST", closed_port())
            .env("GCE_METADATA_IP", closed_port())
            .env("GOOGLE_APPLICATION_CREDENTIALS", fake.file("sa.json"));
        r.args(["--", "/bin/true"]);
        r.output()
    };
    let healthy = FakeGcp::start(json!({"secrets": {name: [b64(v1.as_bytes())]}}));
    config(&healthy.url);
    run(&healthy).expect_ok().no_leak(&[&v1]);
    // The fake's own faults (then the new value): 503, 429, then connection resets.
    // A 429 is waited out within the deadline: a store that throttles for good (its quota 0).
    for (status, words) in [(503, "server error"), (429, "throttled")] {
        let flaky = FakeGcp::start(json!({
            "secrets": {name: [b64(v2.as_bytes())]},
            "faults": {name: [status, status]},
        }));
        let throttling = FakeGcp::start(json!({
            "secrets": {name: [b64(v2.as_bytes())]},
            "quota": {"gcp-access": [0, 60]},
        }));
        let down = if status == 429 { &throttling } else { &flaky };
        config(&down.url);
        let out = run(down);
        expect_stale(&out, "db", "sm://proj-1/db", words, &[&v1, &v2]);
        config(&flaky.url);
        assert_eq!(read(&sb.path("out/db")), v1);
        // The store answers, with the new value: its 503s are spent, its two 429s waited out.
        let out = run(&flaky);
        out.expect_ok().no_leak(&[&v1, &v2]);
        assert!(!out.stderr().contains("stale"));
        assert_eq!(read(&sb.path("out/db")), v2);
        // Back to the first value for the next round.
        config(&healthy.url);
        run(&healthy).expect_ok();
    }
    let reset = FakeGcp::start(json!({
        "secrets": {name: [b64(v2.as_bytes())]},
        "faults": {name: ["reset", "reset"]},
    }));
    config(&reset.url);
    let out = run(&reset);
    expect_stale(&out, "db", "sm://proj-1/db", "cannot connect", &[&v1, &v2]);
    // 403 PERMISSION_DENIED: not read.
    let denied = FakeGcp::start(json!({"secrets": {name: [b64(v2.as_bytes())]}, "denied": [name]}));
    config(&denied.url);
    expect_not_read(&run(&denied), 77);
}

#[test]
fn azure_5xx_429_and_resets_are_served_from_the_snapshot() {
    const V: &str = "0123456789abcdef0123456789abcdef";
    let (v1, v2) = (canary("fb-az-1"), canary("fb-az-2"));
    let sb = Sandbox::new();
    write_key(&sb);
    sb.config(&format!(
        "secrets:\n  db: null\nsecret_init:\n{}  azure: {{retries: 1, timeout: 1s, deadline: 5s}}\n  \
         secrets:\n    db: {{from: 'azure-kv:kv1/db'}}\n",
        fallback_yaml(&sb, "6h")
    ));
    // The vault at `vault` (the fake's own, or a relay), the token from `fake`; `ca` trusts both.
    let run = |fake: &FakeAzure, vault: &str, ca: &Path| {
        let mut r = sb.run();
        r.env("SECRET_INIT_AZURE_ENDPOINT", vault)
            .env("SSL_CERT_FILE", ca)
            .env("AZURE_AUTHORITY_HOST", &fake.https)
            .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")
            .env("AZURE_TENANT_ID", TENANT)
            .env("AZURE_CLIENT_ID", CLIENT_ID)
            .env("AZURE_CLIENT_SECRET", fake.get("client_secret"))
            .args(["--", "/bin/true"]);
        r.output()
    };
    let secrets = |v: &str| json!({"db": {"current": V, "versions": {V: v}}});
    let healthy = FakeAzure::start(json!({"secrets": secrets(&v1)}));
    run(&healthy, &healthy.https, &healthy.ca)
        .expect_ok()
        .no_leak(&[&v1]);
    // A 429 is waited out within the deadline: a vault that throttles for good (its quota 0).
    for (status, words) in [(503, "server error"), (429, "throttled")] {
        let flaky =
            FakeAzure::start(json!({"secrets": secrets(&v2), "faults": {"db": [status, status]}}));
        let throttling =
            FakeAzure::start(json!({"secrets": secrets(&v2), "quota": {"azure-get": [0, 1]}}));
        let down = if status == 429 { &throttling } else { &flaky };
        let out = run(down, &down.https, &down.ca);
        expect_stale(&out, "db", "azure-kv:kv1/db", words, &[&v1, &v2]);
        assert_eq!(read(&sb.path("out/db")), v1);
        let out = run(&flaky, &flaky.https, &flaky.ca);
        out.expect_ok().no_leak(&[&v1, &v2]);
        assert!(!out.stderr().contains("stale"));
        assert_eq!(read(&sb.path("out/db")), v2);
        run(&healthy, &healthy.https, &healthy.ca).expect_ok();
    }
    // A relay resetting every connection in the vault's place; Entra ID still answers.
    let reset = Fake::start(json!([{"reset": true}]));
    let both = sb.write(
        "both-ca.pem",
        format!("{}{}", read(&healthy.ca), read(&reset.ca)),
    );
    let out = run(&healthy, &reset.addr, &both);
    expect_stale(&out, "db", "azure-kv:kv1/db", "cannot connect", &[&v1]);
    // 403 AccessDenied: not read.
    let denied = FakeAzure::start(json!({"secrets": secrets(&v2), "denied": ["db"]}));
    expect_not_read(&run(&denied, &denied.https, &denied.ca), 77);
}

#[test]
fn a_bundle_url_that_cannot_be_fetched_is_served_from_the_snapshot() {
    let sb = Sandbox::new();
    write_key(&sb);
    let v1 = canary("fb-bundle");
    let keygen = Run::new().args(["bundle", "keygen"]).output();
    keygen.expect_ok();
    let master = keygen.stdout().trim_end().to_string();
    let file = sb.path("bundle.json");
    let bundle = |args: &[&str]| {
        let mut r = Run::new();
        r.args(["bundle", "--file"])
            .arg(&file)
            .args(args)
            .env("SECRET_INIT_MASTER_KEY", &master);
        r.output().expect_ok();
    };
    bundle(&["create", "app"]);
    bundle(&["set", "app", "db", &v1]);
    sb.config(&format!(
        "secrets:\n  db: null\nsecret_init:\n{}  bundles: {{vaults: [app]}}\n",
        fallback_yaml(&sb, "6h")
    ));
    let run = |fake: &Fake| {
        let mut r = sb.run();
        r.env("SECRET_INIT_BUNDLE", format!("{}/bundle.json", fake.addr))
            .env("SECRET_INIT_BUNDLE_CA_CERT", &fake.ca)
            .env("SECRET_INIT_MASTER_KEY", &master)
            .args(["--", "/bin/true"]);
        r.output()
    };
    let serving = Fake::start(json!([{"status": 200, "body": read(&file)}]));
    run(&serving).expect_ok().no_leak(&[&v1, &master]);
    let down = Fake::start(json!([{"status": 503, "body": "down"}]));
    let out = run(&down);
    expect_stale(&out, "db", "bundle:app#db", "server error", &[&v1, &master]);
    assert_eq!(read(&sb.path("out/db")), v1);
    let gone = Fake::start(json!([{"status": 404, "body": "no such object"}]));
    expect_not_read(&run(&gone), 69);
}

/// Live refresh with a cloud source: the store answers 503 to the start (served from the
/// snapshot), then recovers with a new value, which the refresh publishes and signals without
/// waiting for the (1 h) interval.
#[test]
fn a_refresh_replaces_a_stale_gcp_value_when_the_store_recovers() {
    use crate::init::{Ns, libc_sig};
    use crate::refresh::{expect_prefix, status_until};
    let (v1, v2) = (canary("fb-gcp-r1"), canary("fb-gcp-r2"));
    let name = "projects/proj-1/secrets/db";
    let sb = Sandbox::new();
    write_key(&sb);
    let status = sb.path("status.json");
    let config = |endpoint: &str| {
        sb.config(&format!(
            "secrets:\n  db: null\nsecret_init:\n{}  refresh: {{interval: 1h, jitter: 0%, status_file: {}}}\n  \
             gcp: {{endpoint: '{endpoint}', retries: 1, timeout: 1s, deadline: 5s}}\n  \
             secrets:\n    db: {{from: 'sm://proj-1/db'}}\n",
            fallback_yaml(&sb, "6h"),
            status.display()
        ));
    };
    let env = |r: &mut Run, fake: &FakeGcp| {
        r.env("GCE_METADATA_HOST", closed_port())
            .env("GCE_METADATA_IP", closed_port())
            .env("GOOGLE_APPLICATION_CREDENTIALS", fake.file("sa.json"));
    };
    let healthy = FakeGcp::start(json!({"secrets": {name: [b64(v1.as_bytes())]}}));
    config(&healthy.url);
    // A plain start (no refresh: --refresh 0) writes the snapshot.
    let mut first = sb.run();
    env(&mut first, &healthy);
    first
        .args(["--refresh", "0", "--", "/bin/true"])
        .output()
        .expect_ok()
        .no_leak(&[&v1]);
    // The store: two 503s (the start's two attempts), then the new value.
    let flaky = FakeGcp::start(json!({
        "secrets": {name: [b64(v2.as_bytes())]},
        "faults": {name: [503, 503]},
    }));
    config(&flaky.url);
    let out = sb.path("out/db");
    let mut r = sb.run();
    env(&mut r, &flaky);
    r.arg("--").args(crate::fallback::reloader(&out));
    let mut ns = Ns::start(&r, &[]);
    let (ready, _) = expect_prefix(&ns, "ready ", Duration::from_secs(15));
    assert_eq!(ready, format!("ready {v1}"), "served the stored value");
    let (line, _) = expect_prefix(&ns, "hup ", Duration::from_secs(20));
    assert_eq!(line, format!("hup {v2}"));
    status_until(&status, Duration::from_secs(5), &ns, |v| {
        v["stale"].as_array().is_some_and(Vec::is_empty)
    });
    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::TERM);
    assert_eq!(ns.finish(), 143);
    let stderr = ns.stderr();
    assert!(
        stderr.contains("secret \"db\" (sm://proj-1/db): stale:"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&v1) && !stderr.contains(&v2),
        "leak in the log"
    );
}

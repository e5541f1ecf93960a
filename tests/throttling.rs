//! Throttling answers (AWS's 400 `ThrottlingException`, HTTP 429 from Google and Azure, with or
//! without `Retry-After`) against the binary: retried with their own budget until the deadline,
//! `Retry-After` honoured as seconds or as an HTTP date, and given up on as "throttled", 69. The
//! scripted HTTPS fake (fake_https.py) stands in for AWS here (moto cannot throttle); the gcp
//! and azure fakes answer 429 as the real services do (their SDKs' retries are checked against
//! them in tests/fleet.rs).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::fake_azure::FakeAzure;
use crate::support::fake_gcp::{FakeGcp, closed_port};
use crate::support::fake_https::Fake;
use crate::support::{Run, Sandbox, b64, canary, read};

/// A run reading `aws-sm:t` from the scripted fake as Secrets Manager, with `extra` aws keys.
fn aws_run(fake: &Fake, extra: &str) -> (Sandbox, Run) {
    let sb = Sandbox::new();
    sb.config(&format!(
        "secrets:\n  x: null\nsecret_init:\n  aws:\n    ca_cert: {}\n{extra}  secrets:\n    x: {{from: 'aws-sm:t'}}\n",
        fake.ca.display()
    ));
    let mut r = sb.run();
    r.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &fake.addr)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .args(["--", "/bin/true"]);
    (sb, r)
}

fn throttled() -> serde_json::Value {
    json!({"status": 400, "json": {"__type": "ThrottlingException", "message": "Rate exceeded"}})
}

/// When each request reached the fake (its `t=` in ms), in order.
fn times(fake: &Fake) -> Vec<f64> {
    fake.requests("main")
        .iter()
        .filter_map(|l| l.rsplit(" t=").next()?.parse().ok())
        .collect()
}

#[test]
fn throttling_is_retried_beyond_the_retry_count_on_every_cloud() {
    // AWS: three throttled answers with `retries: 1` still end in the value.
    let value = canary("throttled-aws");
    let ok = json!({"status": 200, "json": {"Name": "t", "SecretString": value, "VersionId": "1"}});
    let fake = Fake::start(json!([throttled(), throttled(), throttled(), ok]));
    let (sb, run) = aws_run(&fake, "    retries: 1\n");
    run.output().expect_ok();
    assert_eq!(read(&sb.path("out/x")), value);
    assert_eq!(fake.requests("main").len(), 4, "{:?}", fake.events());
    // The negative control: three 503s are not throttling, and `retries: 1` gives up on them.
    let fake = Fake::start(json!([{"status": 503}, {"status": 503}, {"status": 503}, ok]));
    let (_sb, run) = aws_run(&fake, "    retries: 1\n");
    run.output()
        .expect_code(69)
        .stderr_has("HTTP 503")
        .stderr_has("gave up after 2 attempts");

    // GCP: 429 RESOURCE_EXHAUSTED three times.
    let gv = canary("throttled-gcp");
    let gcp = FakeGcp::start(json!({
        "secrets": {"projects/proj-1/secrets/s": [b64(gv.as_bytes())]},
        "faults": {"projects/proj-1/secrets/s": [429, 429, 429]},
    }));
    let sb = Sandbox::new();
    sb.config(&format!(
        "secrets:\n  x: null\nsecret_init:\n  gcp:\n    endpoint: {}\n    retries: 1\n  secrets:\n    x: {{from: 'sm://proj-1/s'}}\n",
        gcp.url
    ));
    let mut r = sb.run();
    r.env("GOOGLE_APPLICATION_CREDENTIALS", gcp.file("sa.json"))
        .env("GCE_METADATA_HOST", closed_port())
        .env("GCE_METADATA_IP", closed_port())
        .args(["--", "/bin/true"]);
    r.output().expect_ok();
    assert_eq!(read(&sb.path("out/x")), gv);
    assert_eq!(gcp.requests("/v1/projects/proj-1/secrets/s").len(), 4);

    // Azure: 429 with Retry-After: 0, three times.
    let av = canary("throttled-azure");
    let azure = FakeAzure::start(json!({
        "secrets": {"s": {"current": "0".repeat(32), "versions": {"0".repeat(32): av}}},
        "faults": {"s": [429, 429, 429]},
    }));
    let sb = Sandbox::new();
    sb.config("secrets:\n  x: null\nsecret_init:\n  azure:\n    retries: 1\n  secrets:\n    x: {from: 'azure-kv:vault1/s'}\n");
    let mut r = sb.run();
    r.env("SECRET_INIT_AZURE_ENDPOINT", &azure.https)
        .env("SSL_CERT_FILE", &azure.ca)
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", &azure.http)
        .args(["--", "/bin/true"]);
    r.output().expect_ok();
    assert_eq!(read(&sb.path("out/x")), av);
    assert_eq!(azure.requests("fault").len(), 3);
}

#[test]
fn always_throttled_is_unavailable_and_says_throttled_within_the_deadline() {
    // The scenario's last answer repeats: throttled for good.
    let fake = Fake::start(json!([throttled()]));
    let (sb, run) = aws_run(&fake, "    deadline: 2s\n");
    let t = Instant::now();
    run.output()
        .expect_code(69)
        .stderr_has("secret \"x\" (aws-sm:t)")
        .stderr_has("throttled (HTTP 400 ThrottlingException)")
        .stderr_has("gave up after");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(
        fake.requests("main").len() > 2,
        "retried: {:?}",
        fake.events()
    );
    assert!(!sb.path("out/x").exists(), "nothing written");

    // Google's quota, as its fake enforces it (one access a minute here): the second secret is
    // throttled until the deadline.
    let gcp = FakeGcp::start(json!({
        "secrets": {"projects/proj-1/secrets/a": [b64(b"a")], "projects/proj-1/secrets/b": [b64(b"b")]},
        "quota": {"gcp-access": [1, 60]},
    }));
    let sb = Sandbox::new();
    sb.config(&format!(
        "secrets:\n  a: null\n  b: null\nsecret_init:\n  gcp:\n    endpoint: {}\n    deadline: 2s\n  secrets:\n    a: {{from: 'sm://proj-1/a'}}\n    b: {{from: 'sm://proj-1/b'}}\n",
        gcp.url
    ));
    let mut r = sb.run();
    r.env("GOOGLE_APPLICATION_CREDENTIALS", gcp.file("sa.json"))
        .env("GCE_METADATA_HOST", closed_port())
        .env("GCE_METADATA_IP", closed_port())
        .args(["--", "/bin/true"]);
    let t = Instant::now();
    r.output()
        .expect_code(69)
        .stderr_has("throttled (HTTP 429)");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(!sb.path("out/a").exists(), "all or nothing");

    // Azure's quota with its Retry-After beyond the deadline: given up at once, saying so.
    let azure = FakeAzure::start(json!({
        "secrets": {
            "a": {"current": "0".repeat(32), "versions": {"0".repeat(32): "a"}},
            "b": {"current": "0".repeat(32), "versions": {"0".repeat(32): "b"}},
        },
        "quota": {"azure-get": [1, 600]},
    }));
    let sb = Sandbox::new();
    sb.config("secrets:\n  a: null\n  b: null\nsecret_init:\n  azure:\n    deadline: 5s\n  secrets:\n    a: {from: 'azure-kv:vault1/a'}\n    b: {from: 'azure-kv:vault1/b'}\n");
    let mut r = sb.run();
    r.env("SECRET_INIT_AZURE_ENDPOINT", &azure.https)
        .env("SSL_CERT_FILE", &azure.ca)
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", &azure.http)
        .args(["--", "/bin/true"]);
    r.output()
        .expect_code(69)
        .stderr_has("throttled (HTTP 429)")
        .stderr_has("past the deadline");
    assert_eq!(
        azure.requests("throttled").len(),
        1,
        "not retried past the deadline"
    );
}

/// `Retry-After: 1`, then an HTTP date a few seconds ahead: each retry waits at least that long.
/// The fake records when each request arrived; the gaps are checked loosely (at least most of
/// the wait), not as timing figures.
#[test]
fn retry_after_is_honoured_in_seconds_and_as_an_http_date() {
    let date = std::process::Command::new("date")
        .env("LC_ALL", "C")
        .args(["-u", "-d", "now + 4 seconds", "+%a, %d %b %Y %H:%M:%S GMT"])
        .output()
        .expect("date");
    let date = String::from_utf8(date.stdout)
        .expect("utf-8")
        .trim()
        .to_string();
    let value = canary("after");
    let fake = Fake::start(json!([
        {"status": 429, "headers": {"Retry-After": "1"}},
        {"status": 429, "headers": {"Retry-After": date}},
        {"status": 200, "json": {"Name": "t", "SecretString": value, "VersionId": "1"}},
    ]));
    let (sb, run) = aws_run(&fake, "");
    run.output().expect_ok();
    assert_eq!(read(&sb.path("out/x")), value);
    crate::support::wait_until(Duration::from_secs(5), || fake.requests("main").len() >= 3);
    let t = times(&fake);
    assert_eq!(t.len(), 3, "{:?}", fake.events());
    assert!(t[1] - t[0] >= 900.0, "Retry-After: 1 not waited: {t:?}");
    // The date was 4 s ahead when written and is whole seconds: at least ~1 s remained.
    assert!(t[2] - t[1] >= 900.0, "Retry-After date not waited: {t:?}");
}

//! The gcp source against a scripted fake of the Google APIs (tests/support/fake_gcp.py): no
//! official Secret Manager emulator exists. Every test that reads through the fake also points
//! the real google-auth and google-cloud-secret-manager (REST transport) at it in the same run,
//! and checks they read what secret-init reads; the fake's token endpoint verifies our JWT with
//! google-auth's own verifier. Both metadata variables always point at loopback: the fake when a
//! test exercises the metadata path, else a closed port. No packet leaves 127.0.0.1.

use serde_json::{Value, json};

use crate::support::fake_gcp::{FakeGcp, closed_port};
use crate::support::{Run, Sandbox, b64, canary};

const SA: &str = "reader@proj-1.iam.gserviceaccount.com";

/// A run with `creds` (a file the fake wrote, or none: the metadata path) and the metadata
/// variables at `metadata` (the fake, or a closed port).
fn gcp_run(sb: &Sandbox, creds: Option<std::path::PathBuf>, metadata: &str) -> Run {
    let mut r = sb.run();
    r.env("GCE_METADATA_HOST", metadata)
        .env("GCE_METADATA_IP", metadata);
    if let Some(c) = creds {
        r.env("GOOGLE_APPLICATION_CREDENTIALS", c);
    }
    r
}

/// The config for `refs` (name → reference) plus lookups by name of `byname` in proj-1.
fn config(sb: &Sandbox, fake: &FakeGcp, refs: &[(&str, String)], extra: &str) {
    let mut yaml = String::from("secrets:\n");
    for (n, _) in refs {
        yaml.push_str(&format!("  {n}: null\n"));
    }
    yaml.push_str(&format!(
        "secret_init:\n  gcp:\n    endpoint: {}\n    project: proj-1\n    secrets: [byname]\n{extra}  secrets:\n",
        fake.url
    ));
    for (n, r) in refs {
        if !r.is_empty() {
            yaml.push_str(&format!("    {n}: {{from: '{r}'}}\n"));
        }
    }
    sb.config(&yaml);
}

struct Stored {
    plain: String,
    user: String,
    v1: String,
    v2: String,
    byname: String,
}

fn stored() -> (Stored, Value) {
    let s = Stored {
        plain: canary("gcp-plain"),
        user: canary("gcp-json"),
        v1: canary("gcp-v1"),
        v2: canary("gcp-v2"),
        byname: canary("gcp-byname"),
    };
    let secrets = json!({
        "projects/proj-1/secrets/plain": [b64(s.plain.as_bytes())],
        "projects/proj-1/secrets/json": [b64(json!({"user": s.user, "port": 5432}).to_string().as_bytes())],
        "projects/proj-1/secrets/rot": [b64(s.v1.as_bytes()), b64(s.v2.as_bytes())],
        "projects/proj-1/secrets/byname": [b64(s.byname.as_bytes())],
        "projects/proj-1/secrets/bin": [b64(&[0, 255, 10, 13])],
    });
    (s, secrets)
}

/// Reads every reference form through `creds` and checks the real client reads the same.
fn reads_everything(fake: &FakeGcp, s: &Stored, creds: Option<std::path::PathBuf>, real: &str) {
    let sb = Sandbox::new();
    let refs = [
        (
            "plain",
            "gcp:secretmanager:projects/proj-1/secrets/plain".to_string(),
        ),
        (
            "user",
            "gcp:secretmanager:projects/proj-1/secrets/json#user".into(),
        ),
        (
            "port",
            "gcp:secretmanager:projects/proj-1/secrets/json/versions/latest#port".into(),
        ),
        (
            "cur",
            "gcp:secretmanager:projects/proj-1/secrets/rot".into(),
        ),
        (
            "old",
            "gcp:secretmanager:projects/proj-1/secrets/rot/versions/1".into(),
        ),
        ("smcur", "sm://proj-1/rot".into()),
        ("smold", "sm://proj-1/rot#1".into()),
        ("bin", "sm://proj-1/bin".into()),
        ("byname", String::new()),
    ];
    config(&sb, fake, &refs, "");
    let metadata = if creds.is_some() {
        closed_port()
    } else {
        fake.host.clone()
    };
    let out = gcp_run(&sb, creds, &metadata)
        .args(["materialize"])
        .output();
    out.expect_ok();
    let file = |n: &str| std::fs::read(sb.path(&format!("out/{n}"))).expect(n);
    assert_eq!(file("plain"), s.plain.as_bytes());
    assert_eq!(file("user"), s.user.as_bytes());
    assert_eq!(file("port"), b"5432");
    assert_eq!(file("cur"), s.v2.as_bytes());
    assert_eq!(file("old"), s.v1.as_bytes());
    assert_eq!(file("smcur"), s.v2.as_bytes());
    assert_eq!(file("smold"), s.v1.as_bytes());
    assert_eq!(file("bin"), [0, 255, 10, 13]);
    assert_eq!(file("byname"), s.byname.as_bytes());
    out.no_leak(&[&s.plain, &s.user, &s.v1, &s.v2, &s.byname]);
    // One token for the whole run, and each version read once (rot/latest serves two secrets).
    let tokens = fake.requests("/token").len()
        + fake.requests("/v1/token").len()
        + fake
            .requests("/computeMetadata/v1/instance/service-accounts/default/token")
            .len();
    assert!(tokens >= 1, "{:?}", fake.events());

    // The real clients, pointed at the same fake, read the same bytes.
    let names = [
        "projects/proj-1/secrets/plain/versions/latest",
        "projects/proj-1/secrets/rot/versions/1",
        "projects/proj-1/secrets/nope/versions/latest",
    ];
    let got = fake.real_client(real, &names);
    assert_eq!(
        got[names[0]]["b64"],
        json!(b64(s.plain.as_bytes())),
        "{got}"
    );
    assert_eq!(got[names[1]]["b64"], json!(b64(s.v1.as_bytes())), "{got}");
    assert_eq!(got[names[2]]["error"], json!("NotFound"), "{got}");

    // Missing: 69, one line naming the secret and the reference, nothing written.
    for reference in [
        "gcp:secretmanager:projects/proj-1/secrets/nope",
        "gcp:secretmanager:projects/proj-1/secrets/rot/versions/9",
        "gcp:secretmanager:projects/proj-1/secrets/json#nokey",
        "sm://proj-1/rot#9",
    ] {
        let sb = Sandbox::new();
        config(&sb, fake, &[("x", reference.to_string())], "");
        let out = gcp_run(&sb, Some(fake.file("sa.json")), &closed_port())
            .args(["--", "/bin/true"])
            .output();
        out.expect_code(69)
            .stderr_has(&format!("secret \"x\" ({reference}): not found"));
        assert_eq!(out.stderr().lines().count(), 1, "{}", out.stderr());
        assert!(!sb.path("out").exists());
    }
}

/// A service-account key: our RS256 JWT is accepted by the fake's token endpoint, which checks
/// it with google-auth's verifier; google-auth's own JWT is accepted too.
#[test]
fn gcp_service_account_key() {
    let (s, secrets) = stored();
    let fake = FakeGcp::start(json!({"secrets": secrets}));
    let sa = fake.file("sa.json");
    reads_everything(&fake, &s, Some(sa.clone()), &sa.display().to_string());
    assert!(
        !fake.events().iter().any(|l| l.starts_with("JWT refused")),
        "{:?}",
        fake.events()
    );
}

/// Workload identity federation: the subject token from a file exchanged at STS, alone and then
/// traded for a service account's token (impersonation), as google-auth does.
#[test]
fn gcp_workload_identity_federation() {
    let (s, secrets) = stored();
    let subject = canary("subject-token");
    let fake = FakeGcp::start(json!({"secrets": secrets, "subject_token": subject}));
    for file in ["wif.json", "wif-impersonate.json"] {
        let f = fake.file(file);
        reads_everything(&fake, &s, Some(f.clone()), &f.display().to_string());
    }
    assert!(
        !fake
            .requests(&format!(
                "/v1/projects/-/serviceAccounts/{SA}:generateAccessToken"
            ))
            .is_empty()
    );
    // A wrong subject token is refused by STS: 77, the token never shown.
    std::fs::write(fake.file("subject-token"), "wrong").expect("write");
    let sb = Sandbox::new();
    config(&sb, &fake, &[("x", "sm://proj-1/plain".into())], "");
    let out = gcp_run(&sb, Some(fake.file("wif.json")), &closed_port())
        .args(["--", "/bin/true"])
        .output();
    out.expect_code(77).stderr_has("invalid_grant");
    out.no_leak(&[&subject]);
}

/// No credentials file: the metadata server (the fake, at `GCE_METADATA_HOST`), with
/// `Metadata-Flavor: Google`; google-auth's compute_engine credentials read the same.
#[test]
fn gcp_metadata_server() {
    let (s, secrets) = stored();
    let fake = FakeGcp::start(json!({"secrets": secrets}));
    reads_everything(&fake, &s, None, "metadata");
    // GCE_METADATA_IP is honoured when GCE_METADATA_HOST is unset.
    let sb = Sandbox::new();
    config(&sb, &fake, &[("x", "sm://proj-1/plain".into())], "");
    let mut r = sb.run();
    r.env("GCE_METADATA_IP", &fake.host).args(["materialize"]);
    r.output().expect_ok();
    assert_eq!(
        std::fs::read(sb.path("out/x")).expect("x"),
        s.plain.as_bytes()
    );
    // Nothing listening there: 69 after the retries, naming the metadata server.
    let sb = Sandbox::new();
    config(
        &sb,
        &fake,
        &[("x", "sm://proj-1/plain".into())],
        "    retries: 1\n",
    );
    let out = gcp_run(&sb, None, &closed_port())
        .args(["--", "/bin/true"])
        .output();
    // Its error names every link of the chain found empty before it.
    out.expect_code(69)
        .stderr_has("metadata server")
        .stderr_has(&format!(
            "; tried before it, none set: GOOGLE_APPLICATION_CREDENTIALS, the gcloud credentials \
             file {}/.config/gcloud/application_default_credentials.json",
            sb.path("home").display()
        ));
}

/// Denied is 77 without a retry; 503 and 429 are retried; a CRC32C mismatch and an oversized
/// value are 65; a refused JWT is 77; bad settings and references are 78. Uses the fake.
#[test]
fn gcp_refusals() {
    let big = "x".repeat(5000);
    let fake = FakeGcp::start(json!({
        "secrets": {
            "projects/proj-1/secrets/denied": [b64(b"v")],
            "projects/proj-1/secrets/flaky": [b64(b"flaky-ok")],
            "projects/proj-1/secrets/corrupt": [b64(canary("corrupt").as_bytes())],
            "projects/proj-1/secrets/big": [b64(big.as_bytes())],
        },
        "denied": ["projects/proj-1/secrets/denied"],
        "faults": {"projects/proj-1/secrets/flaky": [503, 429]},
        "corrupt": ["projects/proj-1/secrets/corrupt"],
    }));
    let run = |reference: &str, extra: &str, args: &[&str]| {
        let sb = Sandbox::new();
        config(&sb, &fake, &[("x", reference.to_string())], extra);
        let mut r = gcp_run(&sb, Some(fake.file("sa.json")), &closed_port());
        r.args(args).args(["--", "/bin/true"]);
        r.output()
    };
    run("sm://proj-1/denied", "", &[])
        .expect_code(77)
        .stderr_has("secret \"x\" (sm://proj-1/denied): HTTP 403 PERMISSION_DENIED");
    assert_eq!(fake.requests("/v1/projects/proj-1/secrets/denied").len(), 1);
    run("sm://proj-1/flaky", "", &[]).expect_ok();
    assert_eq!(fake.requests("/v1/projects/proj-1/secrets/flaky").len(), 3);
    run("sm://proj-1/corrupt", "", &[])
        .expect_code(65)
        .stderr_has("CRC32C mismatch");
    run("sm://proj-1/big", "", &["--max-secret-bytes", "1000"])
        .expect_code(65)
        .stderr_has("secret \"x\" (sm://proj-1/big)");
    run("sm://proj-1/x", "    colour: blue\n", &[])
        .expect_code(78)
        .stderr_has("unknown setting \"colour\"");
    // A malformed reference is bad input in the manifest (65, as for every scheme).
    run("sm://Proj/x", "", &[])
        .expect_code(65)
        .stderr_has("invalid reference");
    let sb = Sandbox::new();
    sb.config("secrets:\n  x: null\nsecret_init:\n  gcp:\n    endpoint: http://192.0.2.1:1\n  secrets:\n    x: {from: 'sm://proj-1/x'}\n");
    // The token from the metadata server (a key file's loopback token_uri is not on this
    // endpoint's origin, and would be refused before the endpoint is reached).
    gcp_run(&sb, None, &fake.host)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has("plain http");
    // A key file whose private key is not a key: 78, the key never shown.
    let sb = Sandbox::new();
    let bad = sb.write(
        "bad-sa.json",
        json!({"type": "service_account", "client_email": SA, "private_key": canary("pk")})
            .to_string(),
    );
    config(&sb, &fake, &[("x", "sm://proj-1/flaky".into())], "");
    let out = gcp_run(&sb, Some(bad), &closed_port())
        .args(["--", "/bin/true"])
        .output();
    out.expect_code(78).stderr_has("PKCS#8");
    assert!(!out.stderr().contains("canary"), "{}", out.stderr());
    // A token endpoint that refuses the JWT: 77, no retry.
    let refusing = FakeGcp::start(json!({"secrets": {}, "refuse_jwt": true}));
    let sb = Sandbox::new();
    config(&sb, &refusing, &[("x", "sm://proj-1/x".into())], "");
    gcp_run(&sb, Some(refusing.file("sa.json")), &closed_port())
        .args(["--", "/bin/true"])
        .output()
        .expect_code(77)
        .stderr_has("invalid_grant");
    assert_eq!(refusing.requests("/token").len(), 1);
}

/// `GOOGLE_APPLICATION_CREDENTIALS` and the metadata variables are the platform's: they reach
/// the program unchanged. Uses the fake.
#[test]
fn gcp_variables_are_not_scrubbed() {
    let fake = FakeGcp::start(json!({"secrets": {"projects/proj-1/secrets/e": [b64(b"v")]}}));
    let sb = Sandbox::new();
    config(&sb, &fake, &[("x", "sm://proj-1/e".into())], "");
    let closed = closed_port();
    let out = gcp_run(&sb, Some(fake.file("sa.json")), &closed)
        .args([
            "--no-init",
            "--",
            "/bin/sh",
            "-c",
            "echo \"$GOOGLE_APPLICATION_CREDENTIALS|$GCE_METADATA_HOST\"",
        ])
        .output();
    out.expect_ok()
        .stdout_has(&format!("{}|{closed}", fake.file("sa.json").display()));
}

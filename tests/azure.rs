//! The azure source against a scripted HTTPS fake of Key Vault, Entra ID and the managed identity
//! endpoints (tests/support/fake_azure.py): no official emulator exists. Every test that reads
//! through the fake also reads the same secrets with the real Azure SDK (azure-identity,
//! azure-keyvault-secrets; tests/support/azure_sdk.py) where it checks the fake's behaviour, so
//! the fake cannot drift from the documented REST API unnoticed. Every run points
//! `AZURE_POD_IDENTITY_AUTHORITY_HOST` at loopback: no test sends a packet to 169.254.169.254.

use serde_json::{Value, json};

use crate::support::fake_azure::{CLIENT_ID, FakeAzure, TENANT};
use crate::support::{Run, Sandbox, canary};

/// Which credential a run presents.
#[derive(Clone, Copy, Debug)]
enum Cred {
    ClientSecret,
    Workload,
    AppService,
    Imds,
    None,
}

/// A run against `fake` with credential `cred`: endpoint, authority and CA on the fake.
fn azure_run(sb: &Sandbox, fake: &FakeAzure, cred: Cred) -> Run {
    let mut r = sb.run();
    r.env("SECRET_INIT_AZURE_ENDPOINT", &fake.https)
        .env("SSL_CERT_FILE", &fake.ca)
        .env("AZURE_AUTHORITY_HOST", &fake.https)
        // Never the real IMDS: a closed loopback port unless the test wants the fake's.
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9");
    match cred {
        Cred::ClientSecret => {
            r.env("AZURE_TENANT_ID", TENANT)
                .env("AZURE_CLIENT_ID", CLIENT_ID)
                .env("AZURE_CLIENT_SECRET", fake.get("client_secret"));
        }
        Cred::Workload => {
            let f = sb.write("token", fake.get("federated_token"));
            r.env("AZURE_TENANT_ID", TENANT)
                .env("AZURE_CLIENT_ID", CLIENT_ID)
                .env("AZURE_FEDERATED_TOKEN_FILE", f);
        }
        Cred::AppService => {
            r.env("IDENTITY_ENDPOINT", format!("{}/msi/token", fake.https))
                .env("IDENTITY_HEADER", fake.get("identity_header"));
        }
        Cred::Imds => {
            r.env("AZURE_POD_IDENTITY_AUTHORITY_HOST", &fake.http);
        }
        Cred::None => {}
    }
    r
}

const V1: &str = "0123456789abcdef0123456789abcdef";
const V2: &str = "fedcba9876543210fedcba9876543210";

struct Values {
    plain: String,
    user: String,
    old: String,
    new: String,
}

fn fake_with_values() -> (FakeAzure, Values) {
    let v = Values {
        plain: canary("az-plain"),
        user: canary("az-user"),
        old: canary("az-old"),
        new: canary("az-new"),
    };
    let fake = FakeAzure::start(json!({"secrets": {
        "plain": {"current": V1, "versions": {V1: v.plain}},
        "db": {"current": V1, "versions": {V1: json!({"user": v.user, "port": 5432}).to_string()}},
        "rot": {"current": V2, "versions": {V1: v.old, V2: v.new}},
        "hf-token": {"current": V1, "versions": {V1: v.plain}},
    }}));
    (fake, v)
}

/// Every reference form under every credential of the chain, read by secret-init, matches what
/// the real Azure SDK reads from the same fake under the same four credentials.
#[test]
fn azure_reads_under_every_credential_and_the_sdk_agrees() {
    let (fake, v) = fake_with_values();
    let sb = Sandbox::new();
    sb.config(&format!(
        "secrets:\n  plain: null\n  user: null\n  port: null\n  cur: null\n  old: null\n  hf_token: null\n\
         secret_init:\n  azure: {{vault: kv1, secrets: [hf_token]}}\n  secrets:\n\
         \x20   plain: {{from: 'azure-kv:kv1/plain'}}\n\
         \x20   user: {{from: 'https://kv1.vault.azure.net/secrets/db#user'}}\n\
         \x20   port: {{from: 'azure-kv:kv1/db#port'}}\n\
         \x20   cur: {{from: 'azure-kv:kv1/rot'}}\n\
         \x20   old: {{from: 'https://kv1.vault.azure.net/secrets/rot/{V1}'}}\n"
    ));
    for cred in [
        Cred::ClientSecret,
        Cred::Workload,
        Cred::AppService,
        Cred::Imds,
    ] {
        let _ = std::fs::remove_dir_all(sb.path("out"));
        let before = fake.requests("secret").len();
        let out = azure_run(&sb, &fake, cred).args(["materialize"]).output();
        out.expect_ok();
        let file = |n: &str| std::fs::read_to_string(sb.path(&format!("out/{n}"))).expect(n);
        assert_eq!(file("plain"), v.plain, "{cred:?}");
        assert_eq!(file("user"), v.user);
        assert_eq!(file("port"), "5432");
        assert_eq!(file("cur"), v.new);
        assert_eq!(file("old"), v.old);
        assert_eq!(
            file("hf_token"),
            v.plain,
            "lookup by name: hf_token as hf-token"
        );
        // plain, db (once for both keys), rot, rot/V1, hf-token: each read once, with a token.
        let reads = &fake.requests("secret")[before..];
        assert_eq!(reads.len(), 5, "{reads:?}");
        assert!(reads.iter().all(|l| l.contains("auth=yes")), "{reads:?}");
    }
    let kinds = ["client_secret", "assertion", "msi", "imds"];
    for k in kinds {
        assert_eq!(
            fake.requests(k).len(),
            1,
            "one {k} token per run: {:?}",
            fake.events()
        );
    }
    assert!(
        fake.requests("challenge").is_empty(),
        "secret-init skips the challenge"
    );

    let token = sb.write("sdk-token", fake.get("federated_token"));
    let sdk = fake.sdk_read(
        &token,
        &[
            ("plain", None),
            ("db", None),
            ("rot", None),
            ("rot", Some(V1)),
            ("nope", None),
        ],
    );
    let db: Value =
        serde_json::from_str(sdk["client_secret"]["db"].as_str().expect("db")).expect("json");
    assert_eq!(db["user"], v.user);
    for cred in ["client_secret", "workload_identity", "app_service", "imds"] {
        let got = &sdk[cred];
        assert_eq!(got["plain"], v.plain, "{cred}: {sdk}");
        assert_eq!(got["rot"], v.new, "{cred}");
        assert_eq!(got[format!("rot/{V1}")], v.old, "{cred}");
        assert_eq!(got["nope"], Value::Null, "{cred}: not found");
    }
    // The SDK opens with the unauthenticated challenge, which the fake answers as Key Vault does.
    assert!(!fake.requests("challenge").is_empty());
}

/// Not found is 69, refused credentials and access denied are 77 without a retry, 5xx and 429
/// are retried with backoff, an oversized value is 65, a bad reference is 65 (as every
/// invalid reference), an unknown setting and a plain-http endpoint off loopback 78; each message
/// names the secret and the reference, never a value.
#[test]
fn azure_errors_retries_and_caps() {
    let fake = FakeAzure::start(json!({
        "secrets": {"ok": {"current": V1, "versions": {V1: canary("az-ok")}},
                    "flaky": {"current": V1, "versions": {V1: canary("az-flaky")}}},
        "faults": {"flaky": [503, 429, 500]},
        "denied": ["locked"],
        "sizes": {"big": 5000},
    }));
    let sb = Sandbox::new();
    let one = |r: &str| {
        sb.config(&format!(
            "secrets:\n  x: null\nsecret_init:\n  secrets:\n    x: {{from: '{r}'}}\n"
        ));
    };
    one("azure-kv:kv1/missing");
    azure_run(&sb, &fake, Cred::ClientSecret)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(69)
        .stderr_has("azure-kv:kv1/missing");

    one("azure-kv:kv1/locked");
    let before = fake.requests("secret").len();
    let out = azure_run(&sb, &fake, Cred::ClientSecret)
        .args(["--", "/bin/true"])
        .output();
    out.expect_code(77)
        .stderr_has("secret \"x\" (azure-kv:kv1/locked)")
        .stderr_has("AccessDenied");
    assert_eq!(
        fake.requests("secret").len() - before,
        1,
        "403 is not retried"
    );

    one("azure-kv:kv1/flaky");
    let out = azure_run(&sb, &fake, Cred::ClientSecret)
        .args(["materialize"])
        .output();
    out.expect_ok();
    assert_eq!(fake.requests("fault").len(), 3, "503, 429, 500 retried");

    one("azure-kv:kv1/big");
    azure_run(&sb, &fake, Cred::ClientSecret)
        .args(["--max-secret-bytes", "1000", "--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has("secret \"x\" (azure-kv:kv1/big)");

    // A wrong client secret: Entra's refusal, 77, once, with its AADSTS code and not the secret.
    one("azure-kv:kv1/ok");
    let wrong = canary("az-wrong-secret");
    let before = fake.requests("entra").len();
    let out = azure_run(&sb, &fake, Cred::ClientSecret)
        .env("AZURE_CLIENT_SECRET", &wrong)
        .args(["--", "/bin/true"])
        .output();
    out.expect_code(77)
        .stderr_has("AADSTS7000215")
        .no_leak(&[&wrong, &fake.get("client_secret")]);
    assert_eq!(
        fake.requests("entra").len() - before,
        1,
        "a refusal is not retried"
    );

    // No credentials at all: managed identity unreachable (a closed loopback port) is 77,
    // naming what to set and every link of the chain tried before it.
    azure_run(&sb, &fake, Cred::None)
        .env("AZURE_TENANT_ID", TENANT)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(77)
        .stderr_has("no Azure credentials")
        .stderr_has(
            "; tried before it: AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET or \
             AZURE_FEDERATED_TOKEN_FILE (not set: AZURE_CLIENT_ID, AZURE_CLIENT_SECRET or \
             AZURE_FEDERATED_TOKEN_FILE); IDENTITY_ENDPOINT + IDENTITY_HEADER (not set: \
             IDENTITY_ENDPOINT, IDENTITY_HEADER)",
        );
    // A managed identity endpoint that refuses its header: its error, and the link before it.
    let out = azure_run(&sb, &fake, Cred::AppService)
        .env("IDENTITY_HEADER", "wrong")
        .args(["--", "/bin/true"])
        .output();
    assert_ne!(out.code(), 0);
    out.stderr_has("(IDENTITY_ENDPOINT)").stderr_has(
        "; tried before it: AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET or \
         AZURE_FEDERATED_TOKEN_FILE (not set: AZURE_TENANT_ID, AZURE_CLIENT_ID, \
         AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE)",
    );

    // A URL of another host is not a Key Vault reference; a plain-http endpoint off loopback is
    // refused before any connection.
    one("https://kv1.vault.azure.net.example.com/secrets/ok");
    azure_run(&sb, &fake, Cred::ClientSecret)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has("must end in .vault.azure.net");
    sb.config("secrets:\n  x: null\nsecret_init:\n  azure: {vault: kv1, valut: kv2}\n");
    azure_run(&sb, &fake, Cred::ClientSecret)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has("secret_init.azure: unknown setting \"valut\"");
    one("azure-kv:kv1/ok");
    azure_run(&sb, &fake, Cred::ClientSecret)
        .env("SECRET_INIT_AZURE_ENDPOINT", "http://192.0.2.1:1")
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has("plain http");
}

/// `AZURE_CLIENT_SECRET` is secret-init's input and does not reach the program; the non-secret
/// ids do, and a secret delivered to `AZURE_CLIENT_SECRET` on purpose does.
#[test]
fn azure_client_secret_is_scrubbed_unless_delivered() {
    let (fake, v) = fake_with_values();
    let sb = Sandbox::new();
    sb.config(
        "secrets:\n  x: null\nsecret_init:\n  secrets:\n    x: {from: 'azure-kv:kv1/plain'}\n",
    );
    let show = "echo \"[$AZURE_CLIENT_SECRET][$AZURE_CLIENT_ID][$AZURE_TENANT_ID]\"";
    let out = azure_run(&sb, &fake, Cred::ClientSecret)
        .args(["--no-init", "--", "/bin/sh", "-c", show])
        .output();
    out.expect_ok()
        .stdout_has(&format!("[][{CLIENT_ID}][{TENANT}]"))
        .no_leak(&[&fake.get("client_secret"), &fake.get("access_token")]);
    sb.config(
        "secrets:\n  x: null\nsecret_init:\n  secrets:\n    x: {from: 'azure-kv:kv1/plain', env: AZURE_CLIENT_SECRET}\n",
    );
    let out = azure_run(&sb, &fake, Cred::ClientSecret)
        .args(["--no-init", "--", "/bin/sh", "-c", show])
        .output();
    out.expect_ok().stdout_has(&format!("[{}]", v.plain));
}

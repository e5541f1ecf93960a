//! Bundles whose data key a KMS wraps (`bundle create/rekey --kms`, `--bundle-kms`): made and
//! read by the real binary against AWS KMS (moto), Vault transit (the real OpenBao) and the GCP
//! and Azure fakes, each checked both ways with the provider's own client (kms_sdk.py: boto3,
//! `bao write transit/...`, google-cloud-kms, azure-keyvault-keys), and started with no key on
//! disk. Old (version 1) bundles made by an earlier binary keep working, unchanged.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::support::bao::Bao;
use crate::support::fake_azure::{CLIENT_ID, FakeAzure, TENANT};
use crate::support::fake_gcp::FakeGcp;
use crate::support::moto::Moto;
use crate::support::*;

/// A bundle in a sandbox, the KMS key that wraps it, and how to reach that KMS.
struct Kms {
    sb: Sandbox,
    file: PathBuf,
    spec: String,
    /// Another key of the same KMS, for the swap.
    other: String,
    /// The variables that point secret-init at the KMS and give it credentials.
    env: Vec<(String, String)>,
    /// kms_sdk.py's provider block.
    provider: Value,
}

impl Kms {
    fn new(spec: String, other: String, env: Vec<(String, String)>, provider: Value) -> Kms {
        let sb = Sandbox::new();
        Kms {
            file: sb.path("bundle.json"),
            sb,
            spec,
            other,
            env,
            provider,
        }
    }

    /// `secret-init bundle ARGS --bundle FILE`, the KMS reachable, no master key anywhere.
    fn cli(&self, args: &[&str]) -> Run {
        let mut r = Run::new();
        r.cwd = Some(self.sb.dir.path().to_path_buf());
        r.env("HOME", self.sb.path("home"));
        r.arg("bundle").args(args).arg("--bundle").arg(&self.file);
        for (k, v) in &self.env {
            r.env(k, v);
        }
        r
    }

    /// A start delivering `bundle:app#db` as the file out/db and the env var DB, the program
    /// printing DB: no master key, only `--bundle-kms` naming the trusted key.
    fn start(&self) -> Run {
        self.sb.config(
            "secrets:\n  db: null\nsecret_init:\n  secrets:\n    db: {from: 'bundle:app#db', env: DB}\n",
        );
        let mut r = self.sb.run();
        for (k, v) in &self.env {
            r.env(k, v);
        }
        // Each start begins with nothing delivered, so "nothing written" can be checked.
        let _ = std::fs::remove_dir_all(self.sb.path("out"));
        r.env("SECRET_INIT_BUNDLE", &self.file)
            .env("SECRET_INIT_BUNDLE_KMS", &self.spec)
            .args(["--", "/bin/sh", "-c", "printf %s \"$DB\""]);
        r
    }

    /// kms_sdk.py with `cfg` (op, ...) and this provider.
    fn sdk(&self, mut cfg: Value) -> Value {
        cfg["provider"] = self.provider.clone();
        cfg["bundle"] = json!(self.file);
        let f = self.sb.write("sdk.json", cfg.to_string());
        let out = succeeded(
            std::process::Command::new(python())
                .arg(root().join("tests/support/kms_sdk.py"))
                .arg(f)
                .env(
                    "PATH",
                    format!("{}:/usr/bin:/bin", root().join(".venv/bin").display()),
                )
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .env("NO_PROXY", "*")
                .env("HOME", self.sb.path("home")),
        );
        if out.stdout.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&out.stdout).expect("kms_sdk.py output")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&std::fs::read(&self.file).expect("bundle")).expect("json")
    }
}

/// What every provider must do: a bundle made with `--kms` starts a program with no key on disk;
/// the provider's own client unwraps our wrapped key and opens the entry; a bundle the
/// provider's client wraps is read by us; `rekey --kms` and the refusals (no trusted key, another
/// key trusted, the header's key swapped, the wrapped key changed) fail closed, nothing written,
/// no value printed.
fn round_trip(k: &Kms) {
    let db = canary("kms-db");
    k.cli(&["create", "app", "--kms", &k.spec])
        .output()
        .expect_ok();
    let v = k.json();
    assert_eq!(v["version"], 2, "{v}");
    assert_eq!(v["key"]["kms"], k.spec.as_str());
    assert!(!k.sb.path("master.key").exists());
    // Sealing a value needs the trusted key named (SECRET_INIT_BUNDLE_KMS or --kms).
    k.cli(&["set", "app", "db", "not-stored"])
        .output()
        .expect_code(78)
        .stderr_has("--bundle-kms");
    k.cli(&["set", "app", "db", "-", "--kms", &k.spec])
        .stdin(db.clone())
        .output()
        .expect_ok();
    k.cli(&["get", "app", "db"])
        .env("SECRET_INIT_BUNDLE_KMS", &k.spec)
        .output()
        .expect_ok()
        .stdout_has(&db);
    // Another vault in the same file: --kms is then the key trusted, the file stays version 2
    // under the same wrapped key.
    let wrapped_before = k.json()["key"]["wrapped"].clone();
    k.cli(&["create", "more", "--kms", &k.spec])
        .output()
        .expect_ok();
    assert_eq!(k.json()["key"]["wrapped"], wrapped_before);
    k.cli(&["show", "app"])
        .env("SECRET_INIT_BUNDLE_KMS", &k.spec)
        .output()
        .expect_ok()
        .stdout_has("db")
        .no_leak(&[&db]);
    k.cli(&["list"]).output().expect_ok().stdout_has("more");

    // Started with no key anywhere: the KMS unwraps the data key.
    let out = k.start().output();
    out.expect_ok().no_leak(&[]);
    assert_eq!(out.stdout(), db);

    // The provider's own client unwraps what we wrapped and opens the entry.
    let got = k.sdk(json!({"op": "read", "vault": "app", "entry": "db"}));
    assert_eq!(unb64(got["value"].as_str().expect("value")), db.as_bytes());
    // The data key itself never shows, not even at trace level.
    let data_key = got["data_key"].as_str().expect("data key").to_string();
    let out = k.start().args(["--log-level", "trace"]).output();
    out.expect_ok();
    assert!(!out.stderr().contains(&data_key) && !out.stderr().contains(&db));

    // Without --bundle-kms the header is not trusted: 78, the program not started.
    let out = k.start().env_remove("SECRET_INIT_BUNDLE_KMS").output();
    out.expect_code(78)
        .stderr_has("name the key you trust with --bundle-kms")
        .no_leak(&[&db]);
    assert_eq!(out.stdout(), "");

    // The header's key swapped for another key's name: refused before any KMS call (65).
    let other = k.other.clone();
    let good = std::fs::read(&k.file).expect("bundle");
    let mut v = k.json();
    v["key"]["kms"] = json!(other);
    std::fs::write(&k.file, v.to_string()).expect("write");
    let out = k.start().output();
    out.expect_code(65)
        .stderr_has("not the trusted")
        .no_leak(&[&db]);
    // ...and trusted too: the other key does not unwrap this data key (65; moto answers
    // AccessDeniedException, 77, where AWS answers IncorrectKeyException, 65: unit-tested).
    let out = k.start().env("SECRET_INIT_BUNDLE_KMS", &other).output();
    out.expect_code(if k.spec.starts_with("aws:") { 77 } else { 65 })
        .no_leak(&[&db]);
    assert_eq!(out.stdout(), "");
    assert_eq!(out.stdout(), "");

    // The wrapped key changed: the KMS refuses it (65), one line naming the key.
    let mut v: Value = serde_json::from_slice(&good).expect("json");
    let mut wrapped = unb64(v["key"]["wrapped"].as_str().expect("wrapped"));
    let last = wrapped.len() - 3;
    wrapped[last] ^= 0x01;
    v["key"]["wrapped"] = json!(b64(&wrapped));
    std::fs::write(&k.file, v.to_string()).expect("write");
    let out = k.start().output();
    out.expect_code(65).no_leak(&[&db]);
    assert!(
        out.stderr().contains(&format!("kms {}", k.spec)),
        "{}",
        out.stderr()
    );
    assert_eq!(out.stderr().lines().count(), 1, "{}", out.stderr());
    assert!(!k.sb.path("out").join("db").exists());
    std::fs::write(&k.file, &good).expect("restore");

    // rekey --kms: a new data key, the entries re-sealed, the program still starts.
    k.cli(&["rekey", "--kms", &k.spec])
        .env("SECRET_INIT_BUNDLE_KMS", &k.spec)
        .output()
        .expect_ok();
    let again = k.json();
    assert_ne!(again["key"]["wrapped"], v["key"]["wrapped"]);
    assert_eq!(k.start().output().expect_ok().stdout(), db);

    // A bundle the provider's client wrapped (and whose AES-GCM layer Python wrote from the
    // documented format) is read by us.
    let theirs = canary("kms-theirs");
    k.sdk(json!({"op": "write", "kms": k.spec, "vault": "app", "entries": {"db": theirs}}));
    assert_eq!(k.start().output().expect_ok().stdout(), theirs);
}

/// The start of `k` fails with `code`, naming `what`, no value printed, nothing written.
fn refused(k: &Kms, r: &mut Run, code: i32, what: &str) {
    let out = r.output();
    out.expect_code(code).stderr_has(what).no_leak(&[]);
    assert_eq!(out.stdout(), "");
    assert_eq!(
        out.stderr().lines().count(),
        1,
        "one line: {}",
        out.stderr()
    );
    assert!(!k.sb.path("out").join("db").exists());
}

#[test]
fn kms_aws_bundle_against_moto() {
    let moto = Moto::enforcing();
    let r = moto.admin(json!([
        {"service": "kms", "method": "create_key", "args": {"Description": "app"}},
        {"service": "kms", "method": "create_key", "args": {"Description": "other"}},
    ]));
    let arn = |i: usize| {
        r[i]["KeyMetadata"]["Arn"]
            .as_str()
            .expect("arn")
            .to_string()
    };
    // The operator may encrypt and decrypt; the pod only decrypt.
    let (ops_id, ops_secret) = moto.user("ops", &["kms:Encrypt", "kms:Decrypt"]);
    let (pod_id, pod_secret) = moto.user("pod", &["kms:Decrypt"]);
    let (admin_id, admin_secret) = moto.admin.clone().expect("admin");
    let env = |id: &str, secret: &str| {
        vec![
            ("AWS_ENDPOINT_URL".to_string(), moto.url.clone()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID".into(), id.to_string()),
            ("AWS_SECRET_ACCESS_KEY".into(), secret.to_string()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ]
    };
    let mut k = Kms::new(
        format!("aws:{}", arn(0)),
        format!("aws:{}", arn(1)),
        env(&ops_id, &ops_secret),
        json!({"aws": {"endpoint": moto.url, "key_id": admin_id, "secret": admin_secret}}),
    );
    k.cli(&["create", "app", "--kms", &k.spec])
        .output()
        .expect_ok();
    k.env = env(&pod_id, &pod_secret);
    // The pod cannot encrypt: creating or re-wrapping needs kms:Encrypt (77).
    let out = k
        .cli(&["rekey", "--kms", &k.spec])
        .env("SECRET_INIT_BUNDLE_KMS", &k.spec)
        .output();
    out.expect_code(77).stderr_has("AccessDenied");
    std::fs::remove_file(&k.file).expect("rm");
    k.env = env(&ops_id, &ops_secret);
    round_trip(&k);
    // The pod starts with kms:Decrypt alone and no key on disk.
    k.env = env(&pod_id, &pod_secret);
    assert!(
        k.start()
            .output()
            .expect_ok()
            .stdout()
            .starts_with("canary-kms-theirs")
    );
    // The header renamed to an alias of the very same key: KMS unwraps the data key, but the
    // key check is bound to the name the file was written with (65).
    let key_id = r[0]["KeyMetadata"]["KeyId"].as_str().expect("key id");
    moto.admin(json!([{"service": "kms", "method": "create_alias",
        "args": {"AliasName": "alias/app", "TargetKeyId": key_id}}]));
    let alias = "aws:arn:aws:kms:us-east-1:123456789012:alias/app";
    let good = std::fs::read(&k.file).expect("bundle");
    let mut v = k.json();
    v["key"]["kms"] = json!(alias);
    std::fs::write(&k.file, v.to_string()).expect("write");
    refused(
        &k,
        k.start().env("SECRET_INIT_BUNDLE_KMS", alias),
        65,
        "unwrapped does not open the bundle's key check",
    );
    std::fs::write(&k.file, &good).expect("restore");
    // A pod without kms:Decrypt: 77, one line naming the key.
    let (none_id, none_secret) = moto.user("nothing", &["kms:ListKeys"]);
    k.env = env(&none_id, &none_secret);
    refused(&k, &mut k.start(), 77, &format!("kms {}", k.spec));
    // KMS unreachable: 69.
    k.env = env(&pod_id, &pod_secret);
    k.env[0].1 = format!("http://{}", crate::support::fake_gcp::closed_port());
    refused(&k, &mut k.start(), 69, &format!("kms {}", k.spec));
}

#[test]
fn kms_transit_bundle_against_openbao() {
    let bao = Bao::start();
    bao.admin(json!([
        {"op": "api", "method": "POST", "path": "sys/mounts/transit", "body": {"type": "transit"}},
        {"op": "api", "method": "POST", "path": "transit/keys/app", "body": {}},
        {"op": "api", "method": "POST", "path": "transit/keys/other", "body": {}},
    ]));
    let env = vec![
        ("VAULT_ADDR".to_string(), bao.addr.clone()),
        ("VAULT_CACERT".into(), bao.ca.display().to_string()),
        ("VAULT_TOKEN".into(), bao.root.clone()),
    ];
    let k = Kms::new(
        "transit:transit/app".into(),
        "transit:transit/other".into(),
        env,
        json!({"transit": {"addr": bao.addr, "token": bao.root, "ca": bao.ca}}),
    );
    round_trip(&k);
    assert!(
        bao.audited_ops("update", "transit/decrypt/app") > 0,
        "the unwrap reached transit"
    );
    // A token whose policies do not allow transit/decrypt: 77.
    let reader = bao.reader_token();
    refused(
        &k,
        k.start().env("VAULT_TOKEN", &reader),
        77,
        "kms transit:transit/app",
    );
    // No vault configured at all: 78, saying what to set.
    refused(&k, k.start().env_remove("VAULT_ADDR"), 78, "set VAULT_ADDR");
}

fn gcp_kms(fake: &FakeGcp) -> Kms {
    let key =
        |n: &str| format!("gcp:projects/proj-1/locations/global/keyRings/ring/cryptoKeys/{n}");
    Kms::new(
        key("app"),
        key("other"),
        vec![
            (
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS".to_string(),
                format!("{}/", fake.url),
            ),
            (
                "GOOGLE_APPLICATION_CREDENTIALS".into(),
                fake.file("sa.json").display().to_string(),
            ),
            (
                "GCE_METADATA_HOST".into(),
                crate::support::fake_gcp::closed_port(),
            ),
        ],
        json!({"gcp": {"endpoint": fake.url, "credentials": fake.file("sa.json")}}),
    )
}

fn gcp_keys() -> Value {
    let key = |n: &str| format!("projects/proj-1/locations/global/keyRings/ring/cryptoKeys/{n}");
    json!([key("app"), key("other"), key("denied")])
}

#[test]
fn kms_gcp_bundle_against_the_fake_and_google_cloud_kms() {
    let fake = FakeGcp::start(json!({
        "kms_keys": gcp_keys(),
        "kms_denied": ["projects/proj-1/locations/global/keyRings/ring/cryptoKeys/denied"],
    }));
    let k = gcp_kms(&fake);
    round_trip(&k);
    // One start, one :decrypt (the data key is unwrapped once, whatever reads it).
    let before = fake.requests("/v1/projects/proj-1/locations").len();
    k.start().output().expect_ok();
    let calls: Vec<String> = fake.requests("/v1/projects/proj-1/locations")[before..].to_vec();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].contains(":decrypt") && calls[0].contains(" ok=yes "),
        "{calls:?}"
    );
    // A key the pod may not use: 77 naming it.
    let denied = k.spec.replace("/app", "/denied");
    let mut v = k.json();
    v["key"]["kms"] = json!(denied);
    std::fs::write(&k.file, v.to_string()).expect("write");
    refused(
        &k,
        k.start().env("SECRET_INIT_BUNDLE_KMS", &denied),
        77,
        "PERMISSION_DENIED",
    );
}

#[test]
fn kms_gcp_answers_that_lie_fail_closed() {
    for (lie, what) in [
        ("crc", "does not match its plaintextCrc32c"),
        ("short", "unwrapped a 16-byte data key, not a 32-byte one"),
    ] {
        // The fake wraps honestly (google-cloud-kms writes the bundle) and lies on :decrypt.
        let liar = FakeGcp::start(json!({"kms_keys": gcp_keys(), "kms_lie": lie}));
        let k = gcp_kms(&liar);
        k.sdk(json!({"op": "write", "kms": k.spec, "vault": "app", "entries": {"db": "x"}}));
        refused(&k, &mut k.start(), 65, what);
    }
}

fn azure_kms(fake: &FakeAzure) -> Kms {
    let key = |n: &str| {
        format!("azure:https://kv1.vault.azure.net/keys/{n}/0123456789abcdef0123456789abcdef")
    };
    Kms::new(
        key("app"),
        key("other"),
        vec![
            ("SECRET_INIT_AZURE_ENDPOINT".to_string(), fake.https.clone()),
            ("SSL_CERT_FILE".into(), fake.ca.display().to_string()),
            ("AZURE_AUTHORITY_HOST".into(), fake.https.clone()),
            (
                "AZURE_POD_IDENTITY_AUTHORITY_HOST".into(),
                "http://127.0.0.1:9".into(),
            ),
            ("AZURE_TENANT_ID".into(), TENANT.into()),
            ("AZURE_CLIENT_ID".into(), CLIENT_ID.into()),
            ("AZURE_CLIENT_SECRET".into(), fake.get("client_secret")),
        ],
        json!({"azure": {"https": fake.https, "ca": fake.ca, "tenant": TENANT,
            "client_id": CLIENT_ID, "client_secret": fake.get("client_secret")}}),
    )
}

fn azure_keys() -> Value {
    let v = "0123456789abcdef0123456789abcdef";
    json!({"app": v, "other": v, "denied": v})
}

#[test]
fn kms_azure_bundle_against_the_fake_and_azure_keyvault_keys() {
    let fake = FakeAzure::start(json!({"keys": azure_keys(), "denied": ["denied"]}));
    let k = azure_kms(&fake);
    round_trip(&k);
    assert!(!fake.requests("unwrapkey").is_empty());
    let secret = fake.get("client_secret");
    let denied = k.spec.replace("/app/", "/denied/");
    let mut v = k.json();
    v["key"]["kms"] = json!(denied);
    std::fs::write(&k.file, v.to_string()).expect("write");
    let out = k.start().env("SECRET_INIT_BUNDLE_KMS", &denied).output();
    out.expect_code(77)
        .stderr_has("Forbidden")
        .no_leak(&[&secret]);
}

#[test]
fn kms_azure_answer_for_another_key_fails_closed() {
    let fake = FakeAzure::start(json!({"keys": azure_keys()}));
    let k = azure_kms(&fake);
    k.sdk(json!({"op": "write", "kms": k.spec, "vault": "app", "entries": {"db": "x"}}));
    assert_eq!(k.start().output().expect_ok().stdout(), "x");
    drop(fake);
    let liar = FakeAzure::start(json!({"keys": azure_keys(), "key_lie": "other-kid"}));
    let k2 = azure_kms(&liar);
    k2.sdk(json!({"op": "write", "kms": k2.spec, "vault": "app", "entries": {"db": "x"}}));
    refused(
        &k2,
        &mut k2.start(),
        65,
        "Key Vault answered for another key",
    );
}

/// A bundle made by secret-init 0.2.0 (tests/fixtures/bundle-v1, before KMS keys existed) opens
/// as before, and reading or editing it keeps it a version 1 file with no `key`.
#[test]
fn kms_version_1_bundles_keep_working_unchanged() {
    let sb = Sandbox::new();
    let fixture = root().join("tests/fixtures/bundle-v1");
    let file = sb.write(
        "bundle.json",
        std::fs::read(fixture.join("bundle.json")).expect("fixture"),
    );
    let key = std::fs::read_to_string(fixture.join("master.key")).expect("key");
    let before = std::fs::read(&file).expect("bundle");
    sb.config(
        "secrets:\n  db: null\nsecret_init:\n  secrets:\n    db: {from: 'bundle:app#db', env: DB}\n",
    );
    let start = || {
        let mut r = sb.run();
        r.env("SECRET_INIT_BUNDLE", &file)
            .env("SECRET_INIT_MASTER_KEY", key.trim_end())
            .args(["--", "/bin/sh", "-c", "printf %s \"$DB\""]);
        r
    };
    assert_eq!(start().output().expect_ok().stdout(), "v1-db-password");
    let cli = |args: &[&str]| {
        let mut r = Run::new();
        r.arg("bundle").args(args).arg("--bundle").arg(&file);
        r.env("SECRET_INIT_MASTER_KEY", key.trim_end());
        r
    };
    cli(&["get", "app", "LOG_LEVEL"])
        .output()
        .expect_ok()
        .stdout_has("info");
    cli(&["show", "app"]).output().expect_ok();
    assert_eq!(
        std::fs::read(&file).expect("bundle"),
        before,
        "reading changed the file"
    );
    // A trusted KMS key where the bundle has none: refused (65), the program not started.
    let out = start()
        .env("SECRET_INIT_BUNDLE_KMS", "transit:transit/app")
        .output();
    out.expect_code(65).stderr_has("not wrapped by a KMS key");
    // An edit keeps version 1: the same shape, the same key.
    cli(&["set", "app", "extra", "x"]).output().expect_ok();
    let v: Value = serde_json::from_slice(&std::fs::read(&file).expect("bundle")).expect("json");
    assert_eq!(v["version"], 1);
    assert!(v.get("key").is_none(), "{v}");
    assert_eq!(start().output().expect_ok().stdout(), "v1-db-password");
}

/// Key names are checked before anything is read or sent: a bad `--kms` is a usage error (64),
/// a bad `--bundle-kms` a configuration error (78), and `create --kms` on a version 1 file is
/// refused (65) rather than mixing keys.
#[test]
fn kms_key_names_are_checked_first() {
    let sb = Sandbox::new();
    let file = sb.path("bundle.json");
    let cli = |args: &[&str]| {
        let mut r = Run::new();
        r.arg("bundle").args(args).arg("--bundle").arg(&file);
        r.env("HOME", sb.path("home"));
        r
    };
    for bad in [
        "aws:arn:aws:kms:us-east-1:1234:key/x",
        "gcp:projects/p",
        "azure:https://evil.example.com/keys/k/1",
        "transit:../x",
        "kms:x",
    ] {
        cli(&["create", "app", "--kms", bad])
            .output()
            .expect_code(64)
            .stderr_has("--kms:");
        assert!(!file.exists());
        sb.config("secrets:\n  db: null\n");
        sb.run()
            .env("SECRET_INIT_BUNDLE", &file)
            .env("SECRET_INIT_BUNDLE_KMS", bad)
            .args(["--", "/bin/true"])
            .output()
            .expect_code(78)
            .stderr_has("SECRET_INIT_BUNDLE_KMS: ");
    }
    let key = Run::new()
        .args(["bundle", "keygen"])
        .output()
        .stdout()
        .trim()
        .to_string();
    cli(&["create", "app"])
        .env("SECRET_INIT_MASTER_KEY", &key)
        .output()
        .expect_ok();
    let before = std::fs::read(&file).expect("bundle");
    cli(&["create", "other", "--kms", "transit:transit/app"])
        .env("SECRET_INIT_MASTER_KEY", &key)
        .output()
        .expect_code(65)
        .stderr_has("not wrapped by a KMS key");
    assert_eq!(std::fs::read(&file).expect("bundle"), before);
}

/// A supervised program and a bundle whose key transit wraps: a changed bundle is unwrapped again
/// and republished; once the key is gone from transit, a rewrite fails at the KMS and the last
/// good set stays, the program untouched.
#[test]
fn kms_transit_bundle_refreshes_and_a_kms_failure_keeps_the_old_set() {
    use crate::init::{Ns, libc_sig};
    use crate::refresh::{expect_prefix, status_until};
    use std::time::Duration;

    let bao = Bao::start();
    bao.admin(json!([
        {"op": "api", "method": "POST", "path": "sys/mounts/transit", "body": {"type": "transit"}},
        {"op": "api", "method": "POST", "path": "transit/keys/app", "body": {}},
    ]));
    let k = Kms::new(
        "transit:transit/app".into(),
        "transit:transit/other".into(),
        vec![
            ("VAULT_ADDR".to_string(), bao.addr.clone()),
            ("VAULT_CACERT".into(), bao.ca.display().to_string()),
            ("VAULT_TOKEN".into(), bao.root.clone()),
        ],
        Value::Null,
    );
    let (a, b) = (canary("kms-refresh-a"), canary("kms-refresh-b"));
    k.cli(&["create", "app", "--kms", &k.spec])
        .output()
        .expect_ok();
    let set = |v: &str| {
        k.cli(&["set", "app", "db", v, "--kms", &k.spec])
            .output()
            .expect_ok();
    };
    set(&a);
    let status = k.sb.path("status.json");
    k.sb.config(&format!(
        "secrets:\n  db: null\nsecret_init:\n  refresh:\n    interval: 1h\n    status_file: {}\n  secrets:\n    db: {{from: 'bundle:app#db'}}\n",
        status.display()
    ));
    let out = k.sb.path("out/db");
    let f = out.display();
    let mut r = k.sb.run();
    for (name, v) in &k.env {
        r.env(name, v);
    }
    r.env("SECRET_INIT_BUNDLE", &k.file)
        .env("SECRET_INIT_BUNDLE_KMS", &k.spec)
        .args(["--", "/bin/sh", "-c"])
        .arg(format!(
            "trap 'echo \"hup $(cat {f})\"' HUP; echo \"ready $$ $(cat {f})\"; while :; do sleep 0.05; done"
        ));
    let mut ns = Ns::start(&r, &[]);
    let (ready, _) = expect_prefix(&ns, "ready ", Duration::from_secs(10));
    assert!(ready.ends_with(&a), "{ready}");
    let decrypts = bao.audited_ops("update", "transit/decrypt/app");
    set(&b);
    let (line, _) = expect_prefix(&ns, "hup ", Duration::from_secs(5));
    assert_eq!(line, format!("hup {b}"));
    assert!(bao.audited_ops("update", "transit/decrypt/app") > decrypts);

    // The key deleted from transit, then the bundle rewritten: the pass fails at the KMS.
    bao.admin(json!([
        {"op": "api", "method": "POST", "path": "transit/keys/app/config", "body": {"deletion_allowed": true}},
        {"op": "api", "method": "DELETE", "path": "transit/keys/app"},
    ]));
    let tmp = k.sb.path(".rewritten");
    std::fs::copy(&k.file, &tmp).expect("copy");
    std::fs::rename(&tmp, &k.file).expect("rename");
    let st = status_until(&status, Duration::from_secs(5), &ns, |s| s["ok"] == false);
    let error = st["error"].as_str().expect("error").to_string();
    assert!(error.contains("kms transit:transit/app"), "{st}");
    assert_eq!(read(&out), b, "the last good value stays");
    assert_eq!(ns.line(Duration::from_millis(300)), None);
    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::TERM);
    assert_eq!(ns.finish(), 143);
    let stderr = ns.stderr();
    assert!(!stderr.contains(&a) && !stderr.contains(&b), "{stderr}");
}

/// `check --offline` stands the bundle in for itself: a KMS-wrapped key is not sent anywhere.
#[test]
fn kms_check_offline_contacts_no_kms() {
    let fake = FakeGcp::start(json!({"kms_keys": gcp_keys()}));
    let k = gcp_kms(&fake);
    k.sdk(json!({"op": "write", "kms": k.spec, "vault": "app", "entries": {"db": "x"}}));
    let before = fake.requests("/").len();
    let mut r = k.start();
    r.args.clear();
    r.args(["check", "--offline"]);
    r.output().expect_ok().stdout_has("not contacted");
    assert_eq!(fake.requests("/").len(), before, "{:?}", fake.requests("/"));
    // The same check online asks Cloud KMS once.
    let mut r = k.start();
    r.args.clear();
    r.arg("check");
    r.output().expect_ok();
    let after: Vec<String> = fake.requests("/")[before..].to_vec();
    assert_eq!(
        after.iter().filter(|l| l.contains(":decrypt")).count(),
        1,
        "{after:?}"
    );
}

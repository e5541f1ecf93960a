//! SOPS master keys and age files: AWS KMS (the real sops against moto), Vault transit (the real
//! sops against OpenBao), age files from the real `age`, sops' age keys as secret-init's own
//! credentials, and a live refresh of a SOPS file under a PID namespace.

use std::process::Command;

use serde_json::Value;

use crate::sops::{SopsFixture, age_keygen};
use crate::support::*;

/// `sops --encrypt FLAGS` of `plain` into `name`, with `env` added (no age recipient).
fn encrypt_with(f: &SopsFixture, name: &str, plain: &str, flags: &[&str], env: &[(&str, &str)]) {
    let src = f.sb.write(&format!("plain/{name}"), plain);
    let mut c = f.sops();
    for (k, v) in env {
        c.env(k, v);
    }
    succeeded(
        c.arg("--encrypt")
            .args(flags)
            .arg("--output")
            .arg(f.sb.path(name))
            .arg(&src),
    );
}

#[test]
fn aws_kms_master_key_against_moto() {
    use crate::support::moto::{Counting, Moto};
    let moto = Moto::enforcing();
    let r = moto.admin(serde_json::json!([
        {"service": "kms", "method": "create_key", "args": {"Description": "sops"}},
    ]));
    let arn = r[0]["KeyMetadata"]["Arn"]
        .as_str()
        .expect("arn")
        .to_string();
    let (ops_id, ops_secret) = moto.user(
        "ops",
        &["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
    );
    let (pod_id, pod_secret) = moto.user("pod", &["kms:Decrypt"]);
    let f = SopsFixture::new();
    let a = canary("sops-kms-a");
    let b = canary("sops-kms-b");
    encrypt_with(
        &f,
        "f.yaml",
        &format!("a: {a}\nb: {b}\nc: three\n"),
        &["--kms", &arn, "--encryption-context", "app:web,team:data"],
        &[
            ("AWS_ENDPOINT_URL", &moto.url),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", &ops_id),
            ("AWS_SECRET_ACCESS_KEY", &ops_secret),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    );
    let text = read(&f.sb.path("f.yaml"));
    assert!(text.contains("kms:") && text.contains("app: web"), "{text}");
    let counting = Counting::new(&moto);
    let yaml = "secrets:\n  a: null\n  b: null\n  c: null\nsecret_init:\n  secrets:\n    a: {from: \"sops:f.yaml#a\", env: A}\n    b: {from: \"sops:f.yaml#b\"}\n    c: {from: \"sops:f.yaml#c\"}\n";
    let start = |id: &str, secret: &str, url: &str| {
        let mut r = f.start(yaml);
        r.env_remove("SOPS_AGE_KEY_FILE")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", url)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", id)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_CONFIG_FILE", f.sb.path("aws/config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", f.sb.path("aws/credentials"));
        r
    };
    // The pod has kms:Decrypt alone, and no key on disk.
    let out = start(&pod_id, &pod_secret, &counting.url)
        .args(["--", "/bin/sh", "-c", "printf %s \"$A\" > env-a"])
        .output();
    out.expect_ok().no_leak(&[&a, &b]);
    assert_eq!(read(&f.sb.path("out/a")), a);
    assert_eq!(read(&f.sb.path("out/b")), b);
    assert_eq!(read(&f.sb.path("env-a")), a);
    let decrypts: Vec<Value> = counting
        .requests()
        .into_iter()
        .filter(|(action, _)| action == "Decrypt")
        .map(|(_, body)| body)
        .collect();
    assert_eq!(
        decrypts.len(),
        1,
        "one Decrypt for the data key, not one a value"
    );
    assert_eq!(
        decrypts[0]["EncryptionContext"],
        serde_json::json!({"app": "web", "team": "data"}),
        "the file's encryption context is sent"
    );
    // Without kms:Decrypt: 77; KMS unreachable: 69. One line each, no value.
    let (none_id, none_secret) = moto.user("nothing", &["kms:ListKeys"]);
    for (id, secret, url, code) in [
        (none_id.as_str(), none_secret.as_str(), moto.url.clone(), 77),
        (
            pod_id.as_str(),
            pod_secret.as_str(),
            format!("http://{}", crate::support::fake_gcp::closed_port()),
            69,
        ),
    ] {
        f.refused(&mut start(id, secret, &url), code, "AWS KMS", &[&a, &b]);
    }
}

#[test]
fn vault_transit_master_key_against_openbao() {
    use crate::support::bao::Bao;
    let bao = Bao::start();
    bao.admin(serde_json::json!([
        {"op": "api", "method": "POST", "path": "sys/mounts/transit", "body": {"type": "transit"}},
        {"op": "api", "method": "POST", "path": "transit/keys/sops", "body": {}},
    ]));
    let f = SopsFixture::new();
    let a = canary("sops-transit");
    let ca = bao.ca.display().to_string();
    encrypt_with(
        &f,
        "f.env",
        &format!("A={a}\nB=two\n"),
        &[
            "--hc-vault-transit",
            &format!("{}/v1/transit/keys/sops", bao.addr),
        ],
        &[("VAULT_TOKEN", &bao.root), ("VAULT_CACERT", &ca)],
    );
    let text = read(&f.sb.path("f.env"));
    assert!(
        text.contains("sops_hc_vault__list_0__map_key_name=sops"),
        "{text}"
    );
    let yaml = "secrets:\n  A: null\n  B: null\nsecret_init:\n  sops:\n    files: [f.env]\n";
    let start = |token: &str| {
        let mut r = f.start(yaml);
        r.env_remove("SOPS_AGE_KEY_FILE")
            .env("VAULT_ADDR", &bao.addr)
            .env("VAULT_CACERT", &ca)
            .env("VAULT_TOKEN", token);
        r
    };
    let out = start(&bao.root).args(["--", "/bin/true"]).output();
    out.expect_ok().no_leak(&[&a]);
    assert_eq!(read(&f.sb.path("out/A")), a);
    assert_eq!(read(&f.sb.path("out/B")), "two");
    assert_eq!(
        bao.audited_ops("update", "transit/decrypt/sops"),
        1,
        "one decrypt a data key"
    );
    // A token without transit/decrypt: 77, nothing written.
    f.refused(&mut start(&bao.reader_token()), 77, "transit", &[&a]);
}

#[test]
fn age_files_from_the_real_age() {
    let f = SopsFixture::new();
    let small = canary("age-small");
    // Past one 64 KiB chunk, binary, with a trailing newline.
    let big: Vec<u8> = (0..200_000u32)
        .map(|i| (i % 251) as u8)
        .chain(*b"\n")
        .collect();
    let plain_small = f.sb.write("plain/small", format!("{small}\n"));
    let plain_big = f.sb.write("plain/big", &big);
    succeeded(
        Command::new("age")
            .args(["-r", &f.recipient, "-o"])
            .arg(f.sb.path("small.age"))
            .arg(&plain_small),
    );
    succeeded(
        Command::new("age")
            .args(["-a", "-r", &f.recipient, "-o"])
            .arg(f.sb.path("big.age"))
            .arg(&plain_big),
    );
    let yaml = "secrets:\n  small: null\n  big: null\nsecret_init:\n  secrets:\n    small: {from: \"age:small.age\", env: SMALL}\n    big: {from: \"age:big.age\"}\n";
    let out = f
        .start(yaml)
        .args(["--", "/bin/sh", "-c", "printf %s \"$SMALL\" > env-small"])
        .output();
    out.expect_ok().no_leak(&[&small]);
    assert_eq!(read(&f.sb.path("out/small")), format!("{small}\n"));
    assert_eq!(read(&f.sb.path("env-small")), format!("{small}\n"));
    assert_eq!(std::fs::read(f.sb.path("out/big")).expect("big"), big);
    // The identity in SOPS_AGE_KEY instead, among other words.
    let key = read(&f.keys);
    let id = key
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("identity");
    let other = f.sb.path("other.txt");
    age_keygen(&other);
    let other_id = read(&other)
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("id")
        .to_string();
    f.start(yaml)
        .env_remove("SOPS_AGE_KEY_FILE")
        .env("SOPS_AGE_KEY", format!("{other_id} {id}"))
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    // Or in the default keys file.
    f.sb.write("home/.config/sops/age/keys.txt", &key);
    f.start(yaml)
        .env_remove("SOPS_AGE_KEY_FILE")
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    // A truncated age file and a wrong identity fail closed.
    let bytes = std::fs::read(f.sb.path("small.age")).expect("read");
    std::fs::write(f.sb.path("small.age"), &bytes[..bytes.len() - 1]).expect("write");
    f.refused(&mut f.start(yaml), 65, "age:", &[&small])
        .stderr_has("failed authentication");
    let out = f
        .start(yaml)
        .env("SOPS_AGE_KEY_FILE", &other)
        .env("HOME", f.sb.path("nohome"))
        .args(["--", "/bin/true"])
        .output();
    out.expect_code(65)
        .stderr_has("no age identity given matches");
}

#[test]
fn age_keys_are_secret_init_s_own_credentials() {
    let f = SopsFixture::new();
    let secret = canary("sops-own");
    f.encrypt("f.yaml", format!("a: {secret}\n"), &[]);
    let key = read(&f.keys);
    // Scrubbed from the program's environment, both of them.
    let out = f
        .start("secrets:\n  a: null\nsecret_init:\n  secrets:\n    a: {from: \"sops:f.yaml#a\"}\n")
        .env("SOPS_AGE_KEY", key.trim())
        .args(["--", "/bin/sh", "-c", "env > env-all"])
        .output();
    out.expect_ok();
    let env_all = read(&f.sb.path("env-all"));
    assert!(!env_all.contains("SOPS_AGE_KEY"), "{env_all}");
    assert!(
        !env_all.contains("AGE-SECRET-KEY"),
        "an identity reached the program"
    );
    // Refused as references: the variables (an invalid reference, 65) and the files, whatever
    // path names them (78).
    f.sb.write("home/.config/sops/age/keys.txt", &key);
    for (from, code, what) in [
        ("env:SOPS_AGE_KEY", 65, "own inputs"),
        ("env:SOPS_AGE_KEY_FILE", 65, "own inputs"),
        (
            &*format!("file:{}", f.keys.display()),
            78,
            "SOPS_AGE_KEY_FILE",
        ),
        (
            &*format!(
                "file:{}",
                f.sb.path("home/.config/sops/age/keys.txt").display()
            ),
            78,
            "age keys file",
        ),
    ] {
        let out = f
            .start(&format!(
                "secrets:\n  k: null\nsecret_init:\n  secrets:\n    k: {{from: \"{from}\"}}\n"
            ))
            .env("SOPS_AGE_KEY", key.trim())
            .args(["--", "/bin/true"])
            .output();
        out.expect_code(code)
            .stderr_has(what)
            .no_leak(&["AGE-SECRET-KEY"]);
    }
}

/// secret-init as PID 1 of a PID namespace: a SOPS file listed in `secret_init.sops.files` is
/// rewritten by the real sops (a GitOps sync), the new value is published and the program gets
/// SIGHUP; a tampered rewrite keeps the last good set; SIGTERM reaches the program (143).
#[test]
fn a_rewritten_sops_file_is_republished_and_signals_reach_the_program() {
    use crate::init::{Ns, libc_sig};
    use std::time::Duration;
    let f = SopsFixture::new();
    let a = canary("sops-refresh-a");
    let b = canary("sops-refresh-b");
    f.sb.mkdir("git");
    f.encrypt("git/app.yaml", format!("db: {a}\n"), &[]);
    let status = f.sb.path("status.json");
    let out = f.sb.path("out/db");
    f.sb.config(&format!(
        "secrets:\n  db: null\nsecret_init:\n  refresh:\n    interval: 1h\n    status_file: {}\n  sops:\n    files: [git/app.yaml]\n",
        status.display()
    ));
    let o = out.display();
    let mut r = f.sb.run();
    r.env("SOPS_AGE_KEY_FILE", &f.keys).args([
        "--sources",
        "sops",
        "--",
        "/bin/sh",
        "-c",
        &format!(
            "trap 'echo \"hup $(cat {o})\"' HUP; echo \"ready $$ $(cat {o})\"; while :; do sleep 0.05; done"
        ),
    ]);
    let mut ns = Ns::start(&r, &[]);
    let (ready, _) = crate::refresh::expect_prefix(&ns, "ready ", Duration::from_secs(10));
    assert!(ready.ends_with(&a), "{ready}");
    // The sync writes a new file beside it and renames it into place.
    f.encrypt("git/new.yaml", format!("db: {b}\n"), &[]);
    std::fs::rename(f.sb.path("git/new.yaml"), f.sb.path("git/app.yaml")).expect("rename");
    let (line, _) = crate::refresh::expect_prefix(&ns, "hup ", Duration::from_secs(5));
    assert_eq!(line, format!("hup {b}"));
    // A tampered rewrite: the MAC fails, the last good set stays, the program is left alone.
    let text = read(&f.sb.path("git/app.yaml"));
    let mac = text
        .lines()
        .find(|l| l.trim_start().starts_with("mac: "))
        .expect("mac");
    let at = mac.find("data:").expect("data") + 5;
    let c = if &mac[at..=at] == "A" { "B" } else { "A" };
    let tampered = text.replace(mac, &format!("{}{c}{}", &mac[..at], &mac[at + 1..]));
    f.sb.write("git/.tampered", tampered);
    std::fs::rename(f.sb.path("git/.tampered"), f.sb.path("git/app.yaml")).expect("rename");
    let st =
        crate::refresh::status_until(&status, Duration::from_secs(5), &ns, |s| s["ok"] == false);
    assert!(
        st["error"].as_str().unwrap_or_default().contains("sops:"),
        "{st}"
    );
    assert_eq!(read(&out), b, "the last good value stays");
    assert_eq!(ns.line(Duration::from_millis(300)), None);
    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::TERM);
    assert_eq!(ns.finish(), 143);
    let stderr = ns.stderr();
    assert!(!stderr.contains(&a) && !stderr.contains(&b), "{stderr}");
}

/// Runs kms_sdk.py's `sops` op: a SOPS YAML file written from sops' documented format, its data
/// key wrapped by the provider's own client (google-cloud-kms, azure-keyvault-keys).
fn sops_by_sdk(f: &SopsFixture, spec: &str, provider: Value, entries: Value) {
    let cfg = serde_json::json!({
        "op": "sops", "file": f.sb.path("f.yaml"), "kms": spec, "entries": entries, "provider": provider,
    });
    let file = f.sb.write("sdk.json", cfg.to_string());
    succeeded(
        Command::new(python())
            .arg(root().join("tests/support/kms_sdk.py"))
            .arg(file)
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", root().join(".venv/bin").display()),
            )
            .env("NO_PROXY", "*")
            .env("HOME", f.sb.path("home")),
    );
}

const KMS_YAML: &str = "secrets:\n  a: null\n  b: null\nsecret_init:\n  secrets:\n    a: {from: \"sops:f.yaml#a\"}\n    b: {from: \"sops:f.yaml#b\"}\n";

#[test]
fn gcp_kms_master_key_against_the_fake_and_google_cloud_kms() {
    use crate::support::fake_gcp::{FakeGcp, closed_port};
    let key = |n: &str| format!("projects/proj-1/locations/global/keyRings/ring/cryptoKeys/{n}");
    let fake = FakeGcp::start(serde_json::json!({
        "kms_keys": [key("sops"), key("denied")], "kms_denied": [key("denied")],
    }));
    let f = SopsFixture::new();
    let a = canary("sops-gcp");
    let provider =
        serde_json::json!({"gcp": {"endpoint": fake.url, "credentials": fake.file("sa.json")}});
    let start = || {
        let mut r = f.start(KMS_YAML);
        r.env_remove("SOPS_AGE_KEY_FILE")
            .env(
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS",
                format!("{}/", fake.url),
            )
            .env("GOOGLE_APPLICATION_CREDENTIALS", fake.file("sa.json"))
            .env("GCE_METADATA_HOST", closed_port());
        r
    };
    sops_by_sdk(
        &f,
        &format!("gcp:{}", key("sops")),
        provider,
        serde_json::json!({"a": a, "b": "two"}),
    );
    let before = fake.requests("/v1/projects/proj-1/locations").len();
    start()
        .args(["--", "/bin/true"])
        .output()
        .expect_ok()
        .no_leak(&[&a]);
    assert_eq!(read(&f.sb.path("out/a")), a);
    assert_eq!(read(&f.sb.path("out/b")), "two");
    let calls = fake.requests("/v1/projects/proj-1/locations")[before..].to_vec();
    assert_eq!(calls.len(), 1, "one :decrypt for the data key: {calls:?}");
    assert!(calls[0].contains(":decrypt"), "{calls:?}");
    // A file naming a key the pod may not use: 77, nothing written.
    let text = read(&f.sb.path("f.yaml"));
    std::fs::write(
        f.sb.path("f.yaml"),
        text.replace("cryptoKeys/sops", "cryptoKeys/denied"),
    )
    .expect("write");
    f.refused(&mut start(), 77, "GCP KMS", &[&a]);
}

#[test]
fn azure_key_vault_master_key_against_the_fake_and_azure_keyvault_keys() {
    use crate::support::fake_azure::{CLIENT_ID, FakeAzure, TENANT};
    let v = "0123456789abcdef0123456789abcdef";
    let fake = FakeAzure::start(
        serde_json::json!({"keys": {"sops": v, "denied": v}, "denied": ["denied"]}),
    );
    let f = SopsFixture::new();
    let a = canary("sops-azure");
    let secret = fake.get("client_secret");
    let provider = serde_json::json!({"azure": {"https": fake.https, "ca": fake.ca, "tenant": TENANT,
        "client_id": CLIENT_ID, "client_secret": secret}});
    let start = || {
        let mut r = f.start(KMS_YAML);
        r.env_remove("SOPS_AGE_KEY_FILE")
            .env("SECRET_INIT_AZURE_ENDPOINT", &fake.https)
            .env("SSL_CERT_FILE", &fake.ca)
            .env("AZURE_AUTHORITY_HOST", &fake.https)
            .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")
            .env("AZURE_TENANT_ID", TENANT)
            .env("AZURE_CLIENT_ID", CLIENT_ID)
            .env("AZURE_CLIENT_SECRET", &secret);
        r
    };
    let spec = |n: &str| format!("azure:https://kv1.vault.azure.net/keys/{n}/{v}");
    sops_by_sdk(
        &f,
        &spec("sops"),
        provider,
        serde_json::json!({"a": a, "b": "two"}),
    );
    start()
        .args(["--", "/bin/true"])
        .output()
        .expect_ok()
        .no_leak(&[&a, &secret]);
    assert_eq!(read(&f.sb.path("out/a")), a);
    assert_eq!(read(&f.sb.path("out/b")), "two");
    assert_eq!(
        fake.requests("unwrapkey").len(),
        1,
        "one unwrapkey for the data key"
    );
    let text = read(&f.sb.path("f.yaml"));
    std::fs::write(
        f.sb.path("f.yaml"),
        text.replace("name: sops", "name: denied"),
    )
    .expect("write");
    f.refused(&mut start(), 77, "Azure Key Vault", &[&a, &secret]);
}

/// A ConfigMap of SOPS files (the kubelet's AtomicWriter swaps `..data`, never the file's own
/// name) is watched through the swap: the new value is published and the program gets SIGHUP.
#[test]
fn a_configmap_swap_of_a_sops_file_is_republished() {
    use crate::refresh::KubeVolume;
    let f = SopsFixture::new();
    let a = canary("sops-cm-a");
    let b = canary("sops-cm-b");
    let enc = |name: &str, v: &str| read(&f.encrypt(name, format!("db: {v}\n"), &[]));
    let (first, second) = (enc("a.yaml", &a), enc("b.yaml", &b));
    let mut volume = KubeVolume::new(f.sb.path("cm"), &[("app.yaml", &first)]);
    republished_on_change(
        &f,
        "  sops:\n    files: [cm/app.yaml]\n",
        &["--sources", "sops"],
        (&a, &b),
        || volume.swap(&[("app.yaml", &second)]),
    );
}

/// A file named only by a reference (`from: "age:..."`, `from: "sops:..."`) is watched too: an
/// age file rewritten by the real `age` is republished at once, not an interval later.
#[test]
fn a_referenced_age_file_is_watched() {
    let f = SopsFixture::new();
    let a = canary("age-watch-a");
    let b = canary("age-watch-b");
    f.sb.mkdir("git");
    let age_to = |plain: &str, to: &str| {
        let p = f.sb.write("plain/x", plain);
        succeeded(
            Command::new("age")
                .args(["-r", &f.recipient, "-o"])
                .arg(f.sb.path(to))
                .arg(p),
        );
    };
    age_to(&a, "git/db.age");
    republished_on_change(
        &f,
        "  secrets:\n    db: {from: \"age:git/db.age\"}\n",
        &[],
        (&a, &b),
        || {
            age_to(&b, "git/new.age");
            std::fs::rename(f.sb.path("git/new.age"), f.sb.path("git/db.age")).expect("rename");
        },
    );
}

/// ssh-ed25519 identities (`SOPS_AGE_SSH_PRIVATE_KEY_FILE`): keys from the real `ssh-keygen`, an
/// age file from the real `age -R`, a SOPS file from the real sops with the SSH recipient; the
/// wrong key fails closed, a passphrase-protected one is refused, and the variable is scrubbed.
#[test]
fn ssh_ed25519_identities_from_ssh_keygen() {
    let f = SopsFixture::new();
    let keygen = |name: &str, pass: &str| {
        let p = f.sb.path(name);
        succeeded(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", pass, "-C", "test", "-f"])
                .arg(&p),
        );
        p
    };
    let key = keygen("id_ed25519", "");
    let other = keygen("other_ed25519", "");
    let locked = keygen("locked_ed25519", "a passphrase");
    let public = read(&f.sb.path("id_ed25519.pub"));
    let value = canary("ssh-age");
    let plain = f.sb.write("plain/v", &value);
    succeeded(
        Command::new("age")
            .arg("-R")
            .arg(f.sb.path("id_ed25519.pub"))
            .arg("-o")
            .arg(f.sb.path("v.age"))
            .arg(&plain),
    );
    encrypt_with(
        &f,
        "f.yaml",
        &format!("a: {value}\n"),
        &["--age", public.trim()],
        &[],
    );
    let yaml = "secrets:\n  v: null\n  a: null\nsecret_init:\n  secrets:\n    v: {from: \"age:v.age\"}\n    a: {from: \"sops:f.yaml#a\"}\n";
    let start = |k: &std::path::Path| {
        let mut r = f.start(yaml);
        r.env_remove("SOPS_AGE_KEY_FILE")
            .env("SOPS_AGE_SSH_PRIVATE_KEY_FILE", k);
        r
    };
    let out = start(&key)
        .args(["--", "/bin/sh", "-c", "env > env-all"])
        .output();
    out.expect_ok().no_leak(&[&value]);
    assert_eq!(read(&f.sb.path("out/v")), value);
    assert_eq!(read(&f.sb.path("out/a")), value);
    assert!(!read(&f.sb.path("env-all")).contains("SOPS_AGE_SSH_PRIVATE_KEY_FILE"));
    let _ = std::fs::remove_dir_all(f.sb.path("out"));
    start(&other)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has("no age identity given matches")
        .no_leak(&[&value]);
    start(&locked)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has("passphrase-protected");
    assert!(tree(&f.sb.path("out")).is_empty());
}

/// Runs secret-init (PID 1 of a PID namespace, refresh on, `SOPS_AGE_KEY_FILE` set) with `section`
/// appended to a `secrets: {db: null}` config and `args` before a program that prints `db`'s file
/// at start and at SIGHUP; the file first holds `first`; after `change` the program is signalled
/// and reads `second`; neither value reaches stderr.
pub(crate) fn republished_on_change(
    f: &SopsFixture,
    section: &str,
    args: &[&str],
    (first, second): (&str, &str),
    change: impl FnOnce(),
) {
    use crate::init::{Ns, libc_sig};
    use std::time::Duration;
    let out = f.sb.path("out/db");
    f.sb.config(&format!(
        "secrets:\n  db: null\nsecret_init:\n  refresh:\n    interval: 1h\n    status_file: {}\n{section}",
        f.sb.path("status.json").display()
    ));
    let o = out.display();
    let mut r = f.sb.run();
    r.env("SOPS_AGE_KEY_FILE", &f.keys).args(args).args([
        "--",
        "/bin/sh",
        "-c",
        &format!(
            "trap 'echo \"hup $(cat {o})\"' HUP; echo \"ready $$ $(cat {o})\"; while :; do sleep 0.05; done"
        ),
    ]);
    let mut ns = Ns::start(&r, &[]);
    let (ready, _) = crate::refresh::expect_prefix(&ns, "ready ", Duration::from_secs(10));
    assert!(ready.ends_with(first), "{ready}");
    change();
    let (line, _) = crate::refresh::expect_prefix(&ns, "hup ", Duration::from_secs(5));
    assert_eq!(line, format!("hup {second}"));
    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::TERM);
    assert_eq!(ns.finish(), 143);
    let stderr = ns.stderr();
    assert!(
        !stderr.contains(first) && !stderr.contains(second),
        "{stderr}"
    );
}

/// The recipient a SOPS file names for its age key only speeds up the usual case: an identity
/// among others opens the file named truly, and a name edited to another key changes nothing, as
/// for sops (which ignores it); another identity alone still fails closed.
#[test]
fn an_age_recipient_name_changes_no_outcome() {
    let f = SopsFixture::new();
    let v = canary("sops-recipient");
    let file = f.encrypt("r.yaml", format!("k: {v}\n"), &[]);
    let yaml = "secrets:\n  k: null\nsecret_init:\n  sops:\n    files: [r.yaml]\n";
    // Another identity first in the keys file, ours second.
    let other = f.sb.path("other.txt");
    let other_recipient = age_keygen(&other);
    let both =
        f.sb.write("both.txt", format!("{}\n{}", read(&other), read(&f.keys)));
    let out = f
        .start(yaml)
        .env("SOPS_AGE_KEY_FILE", &both)
        .args(["--", "/bin/true"])
        .output();
    out.expect_ok().no_leak(&[&v]);
    assert_eq!(read(&f.sb.path("out/k")), v);
    // The name edited to another key: sops opens it, and so does secret-init.
    let text = read(&file);
    assert!(text.contains(&f.recipient));
    std::fs::write(&file, text.replace(&f.recipient, &other_recipient)).expect("write");
    assert_eq!(f.sops_extract(&file, "[\"k\"]"), v.as_bytes());
    std::fs::remove_dir_all(f.sb.path("out")).expect("rm");
    let out = f.start(yaml).args(["--", "/bin/true"]).output();
    out.expect_ok().no_leak(&[&v]);
    assert_eq!(read(&f.sb.path("out/k")), v);
    // Named as the other key's, opened by the other identity alone: nothing opens, 65.
    std::fs::remove_dir_all(f.sb.path("out")).expect("rm");
    f.start(yaml)
        .env("SOPS_AGE_KEY_FILE", &other)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has("no age identity given matches")
        .no_leak(&[&v]);
    assert!(tree(&f.sb.path("out")).is_empty());
}

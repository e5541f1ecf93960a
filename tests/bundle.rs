//! Encrypted vault bundles: the `vault` commands, the bundle source, tampering, env injection and
//! the master key's confinement. Bundles are made and read by the real binary.

use std::path::{Path, PathBuf};

use crate::support::*;

/// A bundle file in a sandbox plus the key that opens it.
struct Fixture {
    sb: Sandbox,
    file: PathBuf,
    key: String,
}

fn keygen() -> String {
    let out = Run::new().args(["vault", "keygen"]).output();
    out.expect_ok();
    let key = out.stdout();
    assert_eq!(key.len(), 45, "44 base64 chars and a newline: {key:?}");
    key.trim_end().to_string()
}

impl Fixture {
    fn new() -> Fixture {
        let sb = Sandbox::new();
        let file = sb.path("bundle.json");
        Fixture {
            sb,
            file,
            key: keygen(),
        }
    }

    /// `secret-init vault --file F ARGS` with the key in SECRET_INIT_MASTER_KEY.
    fn vault(&self, args: &[&str]) -> Run {
        let mut r = Run::new();
        r.cwd = Some(self.sb.dir.path().to_path_buf());
        r.arg("vault").arg("--file").arg(&self.file).args(args);
        r.env("SECRET_INIT_MASTER_KEY", &self.key);
        r
    }

    fn ok(&self, args: &[&str]) -> Out {
        let out = self.vault(args).output();
        out.expect_ok();
        out
    }

    /// A start of secret-init reading this bundle: config.yaml as given, key in the env.
    fn start(&self, yaml: &str) -> Run {
        self.sb.config(yaml);
        let mut r = self.sb.run();
        r.env("SECRET_INIT_BUNDLE", &self.file);
        r.env("SECRET_INIT_MASTER_KEY", &self.key);
        r
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(&self.file).expect("read bundle")).expect("json")
    }

    fn write_json(&self, v: &serde_json::Value) {
        std::fs::write(&self.file, serde_json::to_vec_pretty(v).expect("json")).expect("write");
    }
}

#[test]
fn every_vault_command_round_trips() {
    let f = Fixture::new();
    // 24+ bytes, so `show` masks it as `ca****NN`.
    let api = format!("{}-0123456789", canary("openai"));
    let db = canary("db");
    f.ok(&["create", "api-keys", "-d", "API keys for external services"]);
    assert_eq!(mode(&f.file), 0o600);
    f.ok(&["set", "api-keys", "OPENAI_API_KEY", &api]);
    // `-` reads stdin, byte-exact: binary, NUL, trailing newline all kept.
    let binary = b"\x00\xffpw\nline2\n".to_vec();
    f.vault(&["set", "api-keys", "BLOB", "-"])
        .stdin(binary.clone())
        .output()
        .expect_ok();
    // No VALUE reads stdin too.
    f.vault(&["set", "api-keys", "DB_PASSWORD"])
        .stdin(db.clone())
        .output()
        .expect_ok();
    f.ok(&["set", "api-keys", "LOG_LEVEL", "info", "--no-secret"]);
    assert_eq!(mode(&f.file), 0o600);

    assert_eq!(f.ok(&["get", "api-keys", "OPENAI_API_KEY"]).stdout(), api);
    assert_eq!(f.ok(&["get", "api-keys", "BLOB"]).out.stdout, binary);
    assert_eq!(f.ok(&["get", "api-keys", "DB_PASSWORD"]).stdout(), db);
    assert_eq!(f.ok(&["get", "api-keys", "LOG_LEVEL"]).stdout(), "info");

    let show = f.ok(&["show", "api-keys"]);
    show.stdout_has("Vault: api-keys")
        .stdout_has("Description: API keys for external services")
        .stdout_has("Entries (4):")
        .stdout_has("Created: 20")
        .no_leak(&[&api, &db, &f.key]);
    let lines = show.stdout();
    let row = |k: &str| {
        lines
            .lines()
            .find(|l| l.starts_with(&format!("{k} ")))
            .unwrap_or_else(|| panic!("no row {k} in\n{lines}"))
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(row("KEY"), ["KEY", "VALUE", "SECRET"]);
    let masked = format!("ca****{}", &api[api.len() - 2..]);
    assert_eq!(
        row("OPENAI_API_KEY"),
        ["OPENAI_API_KEY", masked.as_str(), "yes"]
    );
    assert_eq!(row("BLOB"), ["BLOB", "****", "yes"]);
    assert_eq!(row("LOG_LEVEL"), ["LOG_LEVEL", "info", "no"]);

    let list = f.ok(&["list"]);
    list.stdout_has("api-keys")
        .stdout_has("4")
        .stdout_has("API keys for external services");

    f.ok(&["create", "other"]);
    f.vault(&["create", "other"])
        .output()
        .expect_code(65)
        .stderr_has("already exists");
    f.ok(&["unset", "api-keys", "BLOB"]);
    f.vault(&["get", "api-keys", "BLOB"])
        .output()
        .expect_code(69)
        .stderr_has("does not exist");
    f.vault(&["unset", "api-keys", "BLOB"])
        .output()
        .expect_code(69);
    f.ok(&["delete", "other"]);
    f.vault(&["show", "other"])
        .output()
        .expect_code(69)
        .stderr_has("no vault named \"other\"");
    f.vault(&["set", "nope", "K", "v"]).output().expect_code(69);
    assert!(!f.ok(&["list"]).stdout().contains("other"));
    assert_eq!(mode(&f.file), 0o600);
    // Nothing but the bundle was left in the directory (no staging, no temp files).
    assert_eq!(tree(f.sb.dir.path()), ["bundle.json"]);
}

#[test]
fn vault_usage_errors() {
    let f = Fixture::new();
    for (args, code, needle) in [
        (&["frobnicate"][..], 64, "unknown bundle verb"),
        (&["create"][..], 64, "expected: secret-init bundle create"),
        (&["create", "../x"][..], 64, "invalid name"),
        (&["set", "v", "a/b", "x"][..], 64, "invalid name"),
        (&["get", "v", "K"][..], 69, "no such bundle file"),
        (&["rekey"][..], 64, "--new-key-file"),
        (&["show", "v", "--bogus"][..], 64, "unknown option --bogus"),
    ] {
        f.vault(args).output().expect_code(code).stderr_has(needle);
    }
    Run::new()
        .args(["vault", "list"])
        .output()
        .expect_code(64)
        .stderr_has("SECRET_INIT_BUNDLE");
    Run::new()
        .args(["--log-level", "debug", "vault", "list"])
        .output()
        .expect_code(64);
    Run::new()
        .args(["vault", "--help"])
        .output()
        .expect_ok()
        .stdout_has("rekey --new-key-file");
    // The key file of keygen is never overwritten.
    let kf = f.sb.write("k", "old");
    f.vault(&["keygen", "--output"])
        .arg(&kf)
        .output()
        .expect_code(73);
    assert_eq!(read(&kf), "old");
    let kf2 = f.sb.path("k2");
    f.vault(&["keygen", "--output"])
        .arg(&kf2)
        .output()
        .expect_ok();
    assert_eq!(mode(&kf2), 0o600);
    assert_eq!(read(&kf2).len(), 45);
}

#[test]
fn master_key_errors_are_clear_and_never_print_the_key() {
    let f = Fixture::new();
    f.ok(&["create", "v"]);
    let raw31 = b64(&[0x41; 31]);
    let raw33 = b64(&[0x42; 33]);
    let urlsafe = b64(&[0xfb; 32]).replace('+', "-").replace('/', "_");
    for (key, code, needle) in [
        ("", 65, "master key is empty"),
        (
            raw31.as_str(),
            65,
            "exactly 32 bytes after base64 decoding (got 31)",
        ),
        (raw33.as_str(), 65, "(got 33)"),
        (urlsafe.as_str(), 65, "invalid base64 at offset 0"),
        ("not base64 at all!!", 65, "invalid base64"),
    ] {
        let out = f
            .vault(&["show", "v"])
            .env("SECRET_INIT_MASTER_KEY", key)
            .output();
        out.expect_code(code).stderr_has(needle);
        if !key.is_empty() {
            out.no_leak(&[key]);
        }
    }
    // Both a key file and the variable: ambiguous, refused.
    let kf = f.sb.write("key", format!("{}\n", f.key));
    f.vault(&["show", "v", "--master-key-file"])
        .arg(&kf)
        .output()
        .expect_code(64)
        .stderr_has("use one");
    // The key file alone works (with its trailing newline).
    f.vault(&["show", "v", "--master-key-file"])
        .arg(&kf)
        .env_remove("SECRET_INIT_MASTER_KEY")
        .output()
        .expect_ok();
    f.vault(&["show", "v"])
        .env_remove("SECRET_INIT_MASTER_KEY")
        .output()
        .expect_code(78)
        .stderr_has("no master key");
    f.vault(&["show", "v", "--master-key-file"])
        .arg(f.sb.path("absent.key"))
        .env_remove("SECRET_INIT_MASTER_KEY")
        .output()
        .expect_code(69)
        .stderr_has("absent.key");
    // A wrong (valid) key: reported once, clearly, and writes nothing.
    let before = std::fs::read(&f.file).expect("read");
    let other = keygen();
    f.vault(&["set", "v", "K", "x"])
        .env("SECRET_INIT_MASTER_KEY", &other)
        .output()
        .expect_code(65)
        .stderr_has("wrong master key")
        .no_leak(&[&other, &f.key]);
    assert_eq!(std::fs::read(&f.file).expect("read"), before);
}

#[test]
fn rekey_reseals_everything_under_the_new_key_only() {
    let f = Fixture::new();
    let vals: Vec<String> = (0..5).map(|i| canary(&format!("rk{i}"))).collect();
    f.ok(&["create", "a"]);
    f.ok(&["create", "b"]);
    for (i, v) in vals.iter().enumerate() {
        f.ok(&[
            "set",
            if i % 2 == 0 { "a" } else { "b" },
            &format!("K{i}"),
            v,
        ]);
    }
    f.ok(&["set", "a", "PLAIN", "cfg", "--no-secret"]);
    let new_key = keygen();
    let nk = f.sb.write("new.key", format!("{new_key}\n"));
    let before = f.json();
    let out = f.vault(&["rekey", "--new-key-file"]).arg(&nk).output();
    out.expect_ok().no_leak(&[&new_key, &f.key]);
    assert_eq!(mode(&f.file), 0o600);
    let after = f.json();
    // Every nonce and ciphertext changed; metadata kept.
    for (v, key) in [("a", "K0"), ("b", "K1"), ("a", "PLAIN")] {
        let (x, y) = (
            &before["vaults"][v]["entries"][key],
            &after["vaults"][v]["entries"][key],
        );
        assert_ne!(x["sealed"], y["sealed"]);
        assert_ne!(x["nonce"], y["nonce"]);
        assert_eq!(x["secret"], y["secret"]);
    }
    for (i, v) in vals.iter().enumerate() {
        let vault = if i % 2 == 0 { "a" } else { "b" };
        let k = format!("K{i}");
        let got = f
            .vault(&["get", vault, &k])
            .env("SECRET_INIT_MASTER_KEY", &new_key)
            .output();
        got.expect_ok();
        assert_eq!(&got.stdout(), v);
        // The old key opens nothing any more.
        f.vault(&["get", vault, &k])
            .output()
            .expect_code(65)
            .stderr_has("wrong master key");
    }
    // Rekeying to the same key is refused.
    f.vault(&["rekey", "--new-key-file"])
        .arg(&nk)
        .env("SECRET_INIT_MASTER_KEY", &new_key)
        .output()
        .expect_code(64);
}

#[test]
fn failed_rekey_leaves_the_old_file_intact() {
    let f = Fixture::new();
    f.ok(&["create", "a"]);
    f.ok(&["set", "a", "GOOD", "good-value-1"]);
    f.ok(&["set", "a", "BAD", "bad-value-22"]);
    f.ok(&["set", "a", "BAD2", "bad-value-33"]);
    let mut j = f.json();
    for k in ["BAD", "BAD2"] {
        let mut sealed = unb64(
            j["vaults"]["a"]["entries"][k]["sealed"]
                .as_str()
                .expect("str"),
        );
        sealed[0] ^= 0x01;
        j["vaults"]["a"]["entries"][k]["sealed"] = b64(&sealed).into();
    }
    f.write_json(&j);
    let before = std::fs::read(&f.file).expect("read");
    let nk = f.sb.write("new.key", format!("{}\n", keygen()));
    let out = f.vault(&["rekey", "--new-key-file"]).arg(&nk).output();
    out.expect_code(65)
        .stderr_has("vault \"a\" entry \"BAD\": authentication failed")
        .stderr_has("vault \"a\" entry \"BAD2\": authentication failed");
    assert!(!out.stderr().contains("\"GOOD\""), "{}", out.stderr());
    assert_eq!(
        std::fs::read(&f.file).expect("read"),
        before,
        "old file changed"
    );
    // An invalid new key file: refused before anything is written.
    let bad = f.sb.write("bad.key", "c2hvcnQ=\n");
    f.vault(&["rekey", "--new-key-file"])
        .arg(&bad)
        .output()
        .expect_code(65)
        .stderr_has("(got 5)");
    assert_eq!(std::fs::read(&f.file).expect("read"), before);
    // The untouched entry still opens under the old key.
    assert_eq!(f.ok(&["get", "a", "GOOD"]).stdout(), "good-value-1");
    assert_eq!(tree(f.sb.dir.path()), ["bad.key", "bundle.json", "new.key"]);
}

/// A bundle with vaults `shared` and `app` for start-time tests.
fn start_fixture() -> (Fixture, [String; 3]) {
    let f = Fixture::new();
    let c = [canary("s1"), canary("s2"), canary("s3")];
    f.ok(&["create", "shared"]);
    f.ok(&["create", "app"]);
    f.ok(&["set", "shared", "db", &c[0]]);
    f.ok(&["set", "shared", "token", "from-shared"]);
    f.ok(&["set", "app", "token", &c[1]]);
    f.ok(&["set", "app", "api", &c[2]]);
    (f, c)
}

/// What a failed start must leave: exit `code`, the child never ran, nothing in the output dir.
fn assert_no_side_effects(sb: &Sandbox, out: &Out, code: i32) {
    out.expect_code(code);
    assert!(!sb.path("ran").exists(), "the program ran");
    assert!(
        tree(&sb.path("out")).is_empty(),
        "output written: {:?}",
        tree(&sb.path("out"))
    );
}

/// Forgets earlier runs: removes the program's marker and the output dir.
fn reset(sb: &Sandbox) {
    let _ = std::fs::remove_file(sb.path("ran"));
    let _ = std::fs::remove_dir_all(sb.path("out"));
}

fn child(sb: &Sandbox) -> Vec<String> {
    vec![
        "--".into(),
        "/bin/sh".into(),
        "-c".into(),
        format!("touch {}; env", sb.path("ran").display()),
    ]
}

#[test]
fn vaults_merge_in_order_later_wins() {
    let (f, c) = start_fixture();
    let yaml = "secrets:\n  db: null\n  token: null\n  api: null\nsecret_init:\n  bundles:\n    vaults: [shared, app]\n";
    let out = f.start(yaml).args(child(&f.sb)).output();
    out.expect_ok().no_leak(&[&f.key]);
    assert_eq!(read(&f.sb.path("out/db")), c[0]);
    assert_eq!(
        read(&f.sb.path("out/token")),
        c[1],
        "app (later) must override shared"
    );
    assert_eq!(read(&f.sb.path("out/api")), c[2]);
    // The other order: shared wins.
    let yaml2 = yaml.replace("[shared, app]", "[app, shared]");
    f.start(&yaml2).args(child(&f.sb)).output().expect_ok();
    assert_eq!(read(&f.sb.path("out/token")), "from-shared");
    // The command line list replaces the file's.
    let out = f
        .start(yaml)
        .env("SECRET_INIT_BUNDLE_VAULTS", "app,shared")
        .args(["check"])
        .output();
    out.expect_ok()
        .stdout_has("bundle:shared#token")
        .no_leak(&[&c[0], &c[1], &c[2], &f.key]);
}

#[test]
fn references_name_one_entry() {
    let (f, c) = start_fixture();
    let yaml = "secrets:\n  a: null\n  b: null\nsecret_init:\n  bundles:\n    vaults: [shared]\n  secrets:\n    a: {from: 'bundle:app#api'}\n    b: {from: 'bundle:app#nope', optional: true}\n";
    f.start(yaml).args(child(&f.sb)).output().expect_ok();
    assert_eq!(read(&f.sb.path("out/a")), c[2]);
    assert!(!f.sb.path("out/b").exists());
    let yaml = "secrets:\n  a: null\nsecret_init:\n  secrets:\n    a: {from: 'bundle:missing#x'}\n";
    f.start(yaml)
        .args(["check"])
        .output()
        .expect_code(69)
        .stderr_has("no vault named \"missing\"");
}

#[test]
fn higher_sources_win_and_the_bundle_is_read_lazily() {
    let (f, c) = start_fixture();
    let env_val = canary("env");
    let yaml = "secrets:\n  db: null\nsecret_init:\n  bundles:\n    vaults: [shared]\n";
    // env beats bundle by default.
    f.start(yaml)
        .env("TRUSS_SECRET_db", &env_val)
        .args(child(&f.sb))
        .output()
        .expect_ok();
    assert_eq!(read(&f.sb.path("out/db")), env_val);
    // Never reached, so never read: a missing bundle and a missing key cost nothing.
    f.start(yaml)
        .env("SECRET_INIT_BUNDLE", f.sb.path("absent.json"))
        .env_remove("SECRET_INIT_MASTER_KEY")
        .env("TRUSS_SECRET_db", &env_val)
        .args(child(&f.sb))
        .output()
        .expect_ok();
    // Reached: a missing file is an error (negative control for the line above).
    reset(&f.sb);
    let out = f
        .start(yaml)
        .env("SECRET_INIT_BUNDLE", f.sb.path("absent.json"))
        .args(child(&f.sb))
        .output();
    out.stderr_has("cannot read bundle");
    assert_no_side_effects(&f.sb, &out, 69);
    let _ = c;
}

/// Every way a sealed value can be damaged or moved; each must fail the start with 65, naming
/// the vault and entry, with nothing written, no program and no panic.
#[test]
fn tampering_fails_the_whole_start() {
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    fn field(v: &serde_json::Value, key: &str, f: &str) -> Vec<u8> {
        unb64(
            v["vaults"]["shared"]["entries"][key][f]
                .as_str()
                .expect("str"),
        )
    }
    fn set(v: &mut serde_json::Value, key: &str, f: &str, bytes: &[u8]) {
        v["vaults"]["shared"]["entries"][key][f] = b64(bytes).into();
    }
    fn flip(f: &'static str, at: fn(usize) -> usize) -> Edit {
        Box::new(move |v| {
            let mut b = field(v, "db", f);
            let i = at(b.len());
            b[i] ^= 0x80;
            set(v, "db", f, &b);
        })
    }
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "bit in ciphertext",
            flip("sealed", |_| 0),
            "entry \"db\": authentication failed",
        ),
        (
            "bit in tag",
            flip("sealed", |n| n - 1),
            "entry \"db\": authentication failed",
        ),
        (
            "bit in nonce",
            flip("nonce", |_| 5),
            "entry \"db\": authentication failed",
        ),
        (
            "truncated below a tag",
            Box::new(|v| {
                let b = field(v, "db", "sealed");
                set(v, "db", "sealed", &b[..15]);
            }),
            "entry \"db\": sealed value is 15 bytes, shorter than the 16-byte tag",
        ),
        (
            "truncated by one byte",
            Box::new(|v| {
                let b = field(v, "db", "sealed");
                set(v, "db", "sealed", &b[..b.len() - 1]);
            }),
            "entry \"db\": authentication failed",
        ),
        (
            "nonce of 8 bytes",
            Box::new(|v| set(v, "db", "nonce", &[1; 8])),
            "entry \"db\": nonce must be 12 bytes (got 8)",
        ),
        (
            "nonce of 16 bytes",
            Box::new(|v| set(v, "db", "nonce", &[1; 16])),
            "nonce must be 12 bytes (got 16)",
        ),
        (
            "empty nonce",
            Box::new(|v| set(v, "db", "nonce", &[])),
            "nonce must be 12 bytes (got 0)",
        ),
        (
            "values swapped between names",
            Box::new(|v| {
                let e = &mut v["vaults"]["shared"]["entries"];
                let db = e["db"].clone();
                e["db"] = e["token"].clone();
                e["token"] = db;
            }),
            "entry \"db\": authentication failed",
        ),
        (
            "value moved to another vault",
            Box::new(|v| {
                let db = v["vaults"]["shared"]["entries"]["db"].clone();
                v["vaults"]["shared"]["entries"]["db"] =
                    v["vaults"]["app"]["entries"]["api"].clone();
                v["vaults"]["app"]["entries"]["api"] = db;
            }),
            "entry \"db\": authentication failed",
        ),
        (
            "secret flag flipped (would unmask it in show)",
            Box::new(|v| v["vaults"]["shared"]["entries"]["db"]["secret"] = false.into()),
            "entry \"db\": authentication failed",
        ),
        (
            "duplicate nonce",
            Box::new(|v| {
                let n = v["vaults"]["shared"]["entries"]["db"]["nonce"].clone();
                v["vaults"]["shared"]["entries"]["token"]["nonce"] = n;
            }),
            "nonce reuse detected",
        ),
        (
            "key check damaged",
            Box::new(|v| {
                let mut b = unb64(v["key_check"]["sealed"].as_str().expect("str"));
                b[3] ^= 1;
                v["key_check"]["sealed"] = b64(&b).into();
            }),
            "wrong master key",
        ),
        (
            "bad base64",
            Box::new(|v| v["vaults"]["shared"]["entries"]["db"]["sealed"] = "@@@@".into()),
            "invalid base64",
        ),
        (
            "newer version",
            Box::new(|v| v["version"] = 3.into()),
            "version 3 is not supported",
        ),
        (
            "made version 2 (a KMS-wrapped key) with no key",
            Box::new(|v| v["version"] = 2.into()),
            "a version 2 bundle needs its \"key\"",
        ),
    ];
    let (f, c) = start_fixture();
    let pristine = f.json();
    // Only `token` is requested: a damaged `db` in the same vault must still stop the start.
    let yaml = "secrets:\n  token: null\nsecret_init:\n  bundles:\n    vaults: [shared, app]\n";
    // Negative control: the pristine bundle starts.
    f.start(yaml).args(child(&f.sb)).output().expect_ok();
    assert!(f.sb.path("ran").exists() && f.sb.path("out/token").exists());
    reset(&f.sb);
    for (what, edit, needle) in cases {
        let mut v = pristine.clone();
        edit(&mut v);
        f.write_json(&v);
        let out = f
            .start(yaml)
            .args(["--log-level", "trace"])
            .args(child(&f.sb))
            .output();
        if out.code() != 65 || !out.stderr().contains(needle) {
            panic!(
                "{what}: expected 65 and {needle:?}\n--- stderr\n{}",
                out.stderr()
            );
        }
        assert_no_side_effects(&f.sb, &out, 65);
        out.no_leak(&[&c[0], &c[1], &c[2], &f.key]);
        assert!(!out.stderr().contains("panicked"), "{what}");
    }
    // A wrong key (valid 32 bytes) is reported once, as such.
    f.write_json(&pristine);
    let out = f
        .start(yaml)
        .env("SECRET_INIT_MASTER_KEY", keygen())
        .args(child(&f.sb))
        .output();
    out.stderr_has("wrong master key");
    assert_eq!(
        out.stderr().matches("wrong master key").count(),
        1,
        "{}",
        out.stderr()
    );
    assert_no_side_effects(&f.sb, &out, 65);
}

#[test]
fn whole_vaults_are_injected_as_env() {
    let (f, c) = start_fixture();
    f.ok(&["create", "env1"]);
    f.ok(&["create", "env2"]);
    let (x, y) = (canary("x"), canary("y"));
    f.ok(&["set", "env1", "OPENAI_API_KEY", &x]);
    f.ok(&["set", "env1", "SHARED_VAR", "one"]);
    f.ok(&["set", "env2", "SHARED_VAR", "two"]);
    f.ok(&["set", "env2", "HF_TOKEN", &y]);
    f.ok(&["set", "env2", "DEBUG_MODE", "true", "--no-secret"]);
    let yaml = "secrets: {}\nsecret_init:\n  bundles:\n    env_vaults: [env1, env2]\n";
    let out = f.start(yaml).args(child(&f.sb)).output();
    out.expect_ok();
    let env: Vec<String> = out.stdout().lines().map(str::to_string).collect();
    for want in [
        format!("OPENAI_API_KEY={x}"),
        format!("HF_TOKEN={y}"),
        "SHARED_VAR=two".to_string(),
        "DEBUG_MODE=true".to_string(),
    ] {
        assert!(env.contains(&want), "{want} missing from {env:?}");
    }
    assert!(
        !out.stdout().contains(&c[0]),
        "a vault not listed leaked into env"
    );
    assert!(
        tree(&f.sb.path("out")).is_empty(),
        "env vaults write no files"
    );
    // `check` opens and checks them too, and prints no value.
    f.start(yaml)
        .arg("check")
        .output()
        .expect_ok()
        .no_leak(&[&x, &y]);

    // A manifest secret delivered to the same variable is a collision, not a silent override.
    reset(&f.sb);
    let yaml2 = "secrets:\n  db: null\nsecret_init:\n  bundles:\n    vaults: [shared]\n    env_vaults: [env1]\n  secrets:\n    db: {env: OPENAI_API_KEY}\n";
    let out = f.start(yaml2).args(child(&f.sb)).output();
    out.stderr_has("env var OPENAI_API_KEY is also delivered by secret \"db\"");
    assert_no_side_effects(&f.sb, &out, 65);

    // Keys that are not env names, and dangerous names, are refused.
    f.ok(&["create", "bad"]);
    f.ok(&["set", "bad", "not-an-env.name", "v"]);
    let yaml3 = "secrets: {}\nsecret_init:\n  bundles:\n    env_vaults: [bad]\n";
    let out = f.start(yaml3).args(child(&f.sb)).output();
    out.stderr_has("not a valid env var name");
    assert_no_side_effects(&f.sb, &out, 65);
    f.ok(&["unset", "bad", "not-an-env.name"]);
    f.ok(&["set", "bad", "LD_PRELOAD", "/tmp/evil.so", "--no-secret"]);
    let out = f.start(yaml3).args(child(&f.sb)).output();
    out.stderr_has("deny list");
    assert_no_side_effects(&f.sb, &out, 78);
    let out = f
        .start(yaml3)
        .env("SECRET_INIT_ALLOW_DANGEROUS_ENV", "true")
        .args(["--", "/bin/sh", "-c", "printf %s \"$LD_PRELOAD\""])
        .output();
    // The loader complains about the missing library on stderr; the value arrived.
    out.expect_ok();
    assert_eq!(out.stdout(), "/tmp/evil.so");
}

#[test]
fn the_master_key_never_reaches_the_child_or_any_output() {
    let (f, c) = start_fixture();
    let kf = f.sb.write("master.key", format!("{}\n", f.key));
    let yaml = "secrets:\n  db: null\nsecret_init:\n  bundles:\n    vaults: [shared]\n    env_vaults: [app]\n";
    // From the variable.
    let out = f
        .start(yaml)
        .args(["--log-level", "trace"])
        .args(child(&f.sb))
        .output();
    out.expect_ok().no_leak(&[&f.key]);
    assert!(!out.stdout().contains("SECRET_INIT_"), "{}", out.stdout());
    assert!(
        out.stdout().contains(&format!("api={}", c[2])),
        "injection happened"
    );
    // From a file given in config.yaml.
    let yaml_kf = format!("{yaml}    master_key_file: {}\n", kf.display());
    let out = f
        .start(&yaml_kf)
        .env_remove("SECRET_INIT_MASTER_KEY")
        .args(["--log-level", "trace"])
        .args(child(&f.sb))
        .output();
    out.expect_ok().no_leak(&[&f.key]);
    assert!(!out.stdout().contains("SECRET_INIT_"));
    // check and get print no key either.
    f.start(yaml)
        .args(["check", "--log-level", "trace", "--format", "json"])
        .output()
        .expect_ok()
        .no_leak(&[&f.key, &c[0], &c[2]]);
    assert_eq!(
        f.start(yaml)
            .args(["get", "db"])
            .output()
            .expect_ok()
            .stdout(),
        c[0]
    );
    // Supervised (secret-init stays alive as the parent): its own /proc/<pid>/environ no longer
    // shows the key either.
    let out = f
        .start(yaml)
        .env("PLAIN_PARENT_VAR", "visible")
        .args([
            "--init",
            "--",
            "/bin/sh",
            "-c",
            "tr '\\0' '\\n' < /proc/$PPID/environ",
        ])
        .output();
    out.expect_ok()
        .stdout_has("SECRET_INIT_MASTER_KEY=")
        .stdout_has("PLAIN_PARENT_VAR=visible")
        .no_leak(&[&f.key]);
    // Negative control: the child really does see ordinary parent variables.
    let out = f
        .start(yaml)
        .env("PLAIN_PARENT_VAR", "visible")
        .args(child(&f.sb))
        .output();
    out.stdout_has("PLAIN_PARENT_VAR=visible");
}

#[test]
fn bundle_settings_are_checked() {
    let (f, _) = start_fixture();
    for (yaml, code, needle) in [
        (
            "secrets: {}\nsecret_init:\n  bundles:\n    vault: [a]\n",
            78,
            "secret_init.bundles: unknown setting \"vault\"",
        ),
        (
            "secrets: {}\nsecret_init:\n  bundles:\n    location: http://example.invalid/b.json\n",
            78,
            "plain http:// is refused",
        ),
        (
            "secrets: {}\nsecret_init:\n  bundles:\n    vaults: ['../x']\n",
            78,
            "invalid name",
        ),
    ] {
        let mut r = f.start(yaml);
        if yaml.contains("location") {
            r.env_remove("SECRET_INIT_BUNDLE");
        }
        r.arg("check").output().expect_code(code).stderr_has(needle);
    }
    f.start("secrets: {}\n")
        .env("SECRET_INIT_BUNDLE", "ftp://h/b")
        .arg("check")
        .output()
        .expect_code(78);
    f.start("secrets: {}\nsecret_init:\n  bundles:\n    vaults: [a]\n")
        .env_remove("SECRET_INIT_BUNDLE")
        .arg("check")
        .output()
        .expect_code(78)
        .stderr_has("without a location");
    let _ = Path::new("/");
}

/// A test CA and a server certificate for 127.0.0.1, made with openssl in `dir`.
fn test_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl (listed in scripts/setup)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=secret-init test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    (dir.join("ca.pem"), dir.join("srv.pem"), dir.join("srv.key"))
}

/// A local HTTPS file server (Python's http.server behind ssl) on 127.0.0.1, serving `root` and
/// logging each request path to `root/../requests.log`. Stopped by PID on drop.
struct HttpsServer {
    child: std::process::Child,
    port: u16,
    log: PathBuf,
}

impl HttpsServer {
    fn start(root: &Path, cert: &Path, key: &Path) -> HttpsServer {
        use std::io::BufRead;
        let log = root.parent().expect("parent").join("requests.log");
        let script = r#"
import http.server, os, ssl, sys
root, cert, key, log = sys.argv[1:5]
os.chdir(root)
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        with open(log, "a") as f:
            f.write(self.path + "\n")
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("READY", srv.server_address[1], flush=True)
srv.serve_forever()
"#;
        let mut child = std::process::Command::new(python())
            .arg("-c")
            .arg(script)
            .arg(root)
            .arg(cert)
            .arg(key)
            .arg(&log)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("readiness line");
        let port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("no readiness line: {line:?}"));
        HttpsServer { child, port, log }
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}/{path}", self.port)
    }

    fn requests(&self) -> String {
        read(&self.log)
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_bundle_is_fetched_over_https_with_a_test_ca() {
    let (f, c) = start_fixture();
    let tls = f.sb.mkdir("tls");
    let (ca, cert, key) = test_ca(&tls);
    let www = f.sb.mkdir("www");
    std::fs::copy(&f.file, www.join("bundle.json")).expect("copy");
    let srv = HttpsServer::start(&www, &cert, &key);
    let yaml = format!(
        "secrets:\n  db: null\n  token: null\nsecret_init:\n  bundles:\n    location: {}\n    vaults: [shared, app]\n    env_vaults: [app]\n    ca_cert: {}\n",
        srv.url("bundle.json?sig=presigned-credential"),
        ca.display()
    );
    let out = f
        .start(&yaml)
        .env_remove("SECRET_INIT_BUNDLE")
        .args(["--log-level", "trace"])
        .args(child(&f.sb))
        .output();
    out.expect_ok()
        .no_leak(&[&f.key, &c[0], "presigned-credential"]);
    assert_eq!(read(&f.sb.path("out/db")), c[0]);
    assert_eq!(read(&f.sb.path("out/token")), c[1]);
    out.stdout_has(&format!("api={}", c[2]));
    assert_eq!(
        srv.requests().lines().count(),
        1,
        "one fetch per start: {}",
        srv.requests()
    );

    // The CA comes from --bundle-ca-cert just as well; without the test CA, TLS fails (77).
    let url = srv.url("bundle.json");
    let base = "secrets:\n  db: null\nsecret_init:\n  bundles:\n    vaults: [shared]\n";
    f.start(base)
        .env("SECRET_INIT_BUNDLE", &url)
        .env("SECRET_INIT_BUNDLE_CA_CERT", &ca)
        .args(child(&f.sb))
        .output()
        .expect_ok();
    reset(&f.sb);
    let out = f
        .start(base)
        .env("SECRET_INIT_BUNDLE", &url)
        .env("SSL_CERT_FILE", &cert)
        .args(child(&f.sb))
        .output();
    assert_no_side_effects(&f.sb, &out, 77);

    // A missing object is unavailable (69).
    let out = f
        .start(base)
        .env("SECRET_INIT_BUNDLE", srv.url("nope.json"))
        .env("SECRET_INIT_BUNDLE_CA_CERT", &ca)
        .args(child(&f.sb))
        .output();
    out.stderr_has("HTTP 404");
    assert_no_side_effects(&f.sb, &out, 69);

    // A tampered bundle over HTTPS fails exactly as a file does.
    let mut j = f.json();
    let mut sealed = unb64(
        j["vaults"]["shared"]["entries"]["db"]["sealed"]
            .as_str()
            .expect("str"),
    );
    sealed[2] ^= 4;
    j["vaults"]["shared"]["entries"]["db"]["sealed"] = b64(&sealed).into();
    std::fs::write(
        www.join("bundle.json"),
        serde_json::to_vec(&j).expect("json"),
    )
    .expect("write");
    let out = f
        .start(base)
        .env("SECRET_INIT_BUNDLE", &url)
        .env("SECRET_INIT_BUNDLE_CA_CERT", &ca)
        .args(child(&f.sb))
        .output();
    out.stderr_has("vault \"shared\" entry \"db\": authentication failed");
    assert_no_side_effects(&f.sb, &out, 65);

    // Lazy: a start that never reaches the bundle makes no request.
    let before = srv.requests().lines().count();
    f.start(base)
        .env("SECRET_INIT_BUNDLE", &url)
        .env("SECRET_INIT_BUNDLE_CA_CERT", &ca)
        .env("TRUSS_SECRET_db", "from-env")
        .args(child(&f.sb))
        .output()
        .expect_ok();
    assert_eq!(srv.requests().lines().count(), before, "{}", srv.requests());
}

/// The format as documented is the format as implemented: an independent Python implementation
/// (tests/fixtures/bundle_ref.py, AES-GCM from `cryptography`) writes bundles we read, and reads
/// bundles we write.
#[test]
fn an_independent_implementation_interoperates() {
    let f = Fixture::new();
    let kf = f.sb.write("master.key", format!("{}\n", f.key));
    let script = root().join("tests/fixtures/bundle_ref.py");
    let py = |args: &[&std::ffi::OsStr]| {
        let out = succeeded(std::process::Command::new(python()).arg(&script).args(args));
        out.stdout
    };
    // Python writes, secret-init reads.
    py(&[
        "write".as_ref(),
        kf.as_os_str(),
        f.file.as_os_str(),
        "py".as_ref(),
        "3".as_ref(),
    ]);
    assert_eq!(
        f.ok(&["get", "py", "K2"]).stdout(),
        format!("value-2-{}", "x".repeat(24))
    );
    f.ok(&["show", "py"]).stdout_has("Entries (3):");
    // secret-init writes (secret and plain entries, binary values), Python reads.
    f.ok(&["create", "rs"]);
    f.vault(&["set", "rs", "BIN", "-"])
        .stdin(b"\x00\x01\xfe\n".to_vec())
        .output()
        .expect_ok();
    f.ok(&["set", "rs", "PLAIN", "cfg-value", "--no-secret"]);
    let read = |key: &str| {
        py(&[
            "read".as_ref(),
            kf.as_os_str(),
            f.file.as_os_str(),
            "rs".as_ref(),
            key.as_ref(),
        ])
    };
    assert_eq!(read("BIN"), b"\x00\x01\xfe\n");
    assert_eq!(read("PLAIN"), b"cfg-value");
    // And after a rekey, under the new key only.
    let new_key = keygen();
    let nk = f.sb.write("new.key", format!("{new_key}\n"));
    f.vault(&["rekey", "--new-key-file"])
        .arg(&nk)
        .output()
        .expect_ok();
    let out = std::process::Command::new(python())
        .arg(&script)
        .args([
            "read".as_ref(),
            nk.as_os_str(),
            f.file.as_os_str(),
            "py".as_ref(),
            "K0".as_ref(),
        ])
        .output()
        .expect("python");
    assert_eq!(out.stdout, format!("value-0-{}", "x".repeat(24)).as_bytes());
    let out = std::process::Command::new(python())
        .arg(&script)
        .args([
            "read".as_ref(),
            kf.as_os_str(),
            f.file.as_os_str(),
            "py".as_ref(),
            "K0".as_ref(),
        ])
        .output()
        .expect("python");
    assert!(!out.status.success(), "the old key must fail in Python too");
}

/// Writers are serialized: many `vault set` at once each read, change and replace the whole file,
/// and none of their updates is lost.
#[test]
fn concurrent_sets_lose_no_update() {
    let f = Fixture::new();
    f.ok(&["create", "v"]);
    let n = 24;
    let children: Vec<std::process::Child> = (0..n)
        .map(|i| {
            f.vault(&["set", "v", &format!("K{i}"), &format!("value-{i}")])
                .command()
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().expect("wait").success());
    }
    let show = f.ok(&["show", "v"]);
    show.stdout_has(&format!("Entries ({n}):"));
    assert_eq!(f.ok(&["get", "v", "K7"]).stdout(), "value-7");
    assert_eq!(
        tree(f.sb.dir.path()),
        ["bundle.json"],
        "no staging left behind"
    );
}

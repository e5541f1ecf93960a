//! Environment values as references (`secret_init.resolve_env_references: true`), against a
//! real moto server (AWS references) and a real encrypted bundle: the program's environment
//! holds the resolved values under the same names; look-alikes are left exactly as they were;
//! `check` lists the references; one missing reference stops the start with nothing written.

use std::collections::BTreeMap;

use crate::support::moto::Moto;
use crate::support::{Run, Sandbox, canary};

fn keygen() -> String {
    let out = Run::new().args(["bundle", "keygen"]).output();
    out.expect_ok();
    out.stdout().trim_end().to_string()
}

struct Setup {
    moto: Moto,
    sb: Sandbox,
    key: String,
    db_password: String,
    param: String,
    bundled: String,
}

fn setup() -> Setup {
    let moto = Moto::start();
    let db_password = canary("db-password");
    let param = canary("param");
    let bundled = canary("bundled");
    moto.admin(serde_json::json!([
        {"service": "secretsmanager", "method": "create_secret", "args": {"Name": "app/db",
            "SecretString": serde_json::json!({"password": db_password, "user": "app"}).to_string()}},
        {"service": "ssm", "method": "put_parameter", "args": {"Name": "/app/token", "Value": param, "Type": "SecureString"}},
    ]));
    let sb = Sandbox::new();
    let key = keygen();
    for args in [
        vec!["create", "shared"],
        vec!["set", "shared", "KEY", bundled.as_str()],
    ] {
        let mut r = Run::new();
        r.arg("bundle")
            .args(args)
            .arg("--bundle")
            .arg(sb.path("bundle.json"))
            .env("SECRET_INIT_MASTER_KEY", &key);
        r.output().expect_ok();
    }
    Setup {
        moto,
        sb,
        key,
        db_password,
        param,
        bundled,
    }
}

fn run(s: &Setup, yaml: &str) -> Run {
    s.sb.config(yaml);
    let mut r = s.sb.run();
    s.moto.env(&mut r, &s.sb);
    r.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("SECRET_INIT_BUNDLE", s.sb.path("bundle.json"))
        .env("SECRET_INIT_MASTER_KEY", &s.key);
    r
}

fn environment(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const ON: &str = "secrets: {}\nsecret_init:\n  resolve_env_references: true\n";

/// The resolved values reach the program under the same names; everything that merely looks
/// like a reference is passed on byte for byte; nothing is written to the output dir.
#[test]
fn env_references_reach_the_program_resolved() {
    let s = setup();
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db#password";
    let look_alikes = [
        ("PLAIN_URL", "https://example.com/secrets/db"),
        ("ROLE", "arn:aws:iam::123456789012:role/app"),
        ("TRANSIT", "vault:v1:c2VjcmV0"),
        ("OWN_FILE", "file:/etc/hostname"),
        ("SENTENCE", "see vault:secret/data/x#k"),
        ("TYPO", "aws-sm:"),
    ];
    let mut r = run(&s, ON);
    r.env("DB_PASSWORD", arn)
        .env("API_TOKEN", "aws-ssm:/app/token")
        .env("SHARED_KEY", "bundle:shared#KEY");
    for (k, v) in look_alikes {
        r.env(k, v);
    }
    let out = r.args(["--", "/usr/bin/env"]).output();
    out.expect_ok()
        .stderr_has("environment variable TYPO starts like a reference but is not one");
    // stdout is the program's own (it prints its environment, on purpose); stderr is ours.
    for v in [&s.db_password, &s.param, &s.bundled] {
        assert!(!out.stderr().contains(v.as_str()), "{}", out.stderr());
    }
    let env = environment(&out.stdout());
    assert_eq!(env["DB_PASSWORD"], s.db_password);
    assert_eq!(env["API_TOKEN"], s.param);
    assert_eq!(env["SHARED_KEY"], s.bundled);
    for (k, v) in look_alikes {
        assert_eq!(env[k], v, "{k} left alone");
    }
    assert!(
        std::fs::read_dir(s.sb.path("out")).map_or(true, |mut d| d.next().is_none()),
        "env references are delivered by env only"
    );

    // Off (the default): the program sees the references themselves.
    let mut r = run(&s, "secrets: {}\n");
    r.env("DB_PASSWORD", arn);
    let out = r.args(["--", "/usr/bin/env"]).output();
    out.expect_ok();
    assert_eq!(environment(&out.stdout())["DB_PASSWORD"], arn);
}

/// `check` lists each reference with its source and destination, values masked.
#[test]
fn env_references_are_listed_by_check() {
    let s = setup();
    let mut r = run(&s, ON);
    r.env("DB_PASSWORD", "aws-sm:app/db#password")
        .args(["check", "--format", "json"]);
    let out = r.output();
    out.expect_ok().no_leak(&[&s.db_password]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).expect("json");
    let text = v.to_string();
    assert!(text.contains("\"DB_PASSWORD\""), "{text}");
    assert!(text.contains("aws-sm:app/db#password"), "{text}");
    assert!(text.contains("env:DB_PASSWORD"), "{text}");
}

/// All or nothing: one reference that does not resolve stops the start (69) in one line naming
/// the variable and its reference; the program never runs, nothing is written, and the other
/// references' values appear nowhere.
#[test]
fn env_references_are_all_or_nothing() {
    let s = setup();
    let marker = s.sb.path("ran");
    let mut r = run(
        &s,
        "secrets:\n  declared: null\nsecret_init:\n  resolve_env_references: true\n  secrets:\n    declared: {from: 'aws-ssm:/app/token'}\n",
    );
    r.env("DB_PASSWORD", "aws-sm:app/db#password")
        .env("MISSING", "aws-sm:app/nope")
        .args([
            "--",
            "/bin/sh",
            "-c",
            &format!("touch {}", marker.display()),
        ]);
    let out = r.output();
    out.expect_code(69)
        .stderr_has("secret \"MISSING\" (aws-sm:app/nope): not found")
        .no_leak(&[&s.db_password, &s.param]);
    assert!(!marker.exists(), "the program must not start");
    assert!(!s.sb.path("out/declared").exists(), "nothing written");
}

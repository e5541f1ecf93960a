//! `NAME.age` in a secrets dir: files encrypted by Debian's real `age`, decrypted with sops' age
//! identities and delivered as `NAME` through every command; no identity, a wrong one, a
//! tampered file and a plain `NAME` beside `NAME.age` each fail closed; a rewritten file is
//! republished by the live refresh.

use std::path::Path;
use std::process::Command;

use crate::sops::{SopsFixture, age_keygen};
use crate::support::*;

/// `age [-a] -r RECIPIENT` of `plain` into `to` (a sandbox path).
fn age_to(f: &SopsFixture, plain: &[u8], to: &str, armor: bool) {
    let p = f.sb.write("plain/x", plain);
    let mut c = Command::new("age");
    if armor {
        c.arg("-a");
    }
    succeeded(c.args(["-r", &f.recipient, "-o"]).arg(f.sb.path(to)).arg(p));
}

const YAML: &str =
    "secrets:\n  db: null\n  blob: null\nsecret_init:\n  secrets:\n    db: {env: DB}\n";

fn first_identity(keys: &Path) -> String {
    read(keys)
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("identity")
        .to_string()
}

#[test]
fn a_mounted_age_file_is_the_secret_in_every_command() {
    let f = SopsFixture::new();
    f.sb.mkdir("in");
    let db = canary("agefile-db");
    // Binary, past one 64 KiB chunk, armored: byte-exact.
    let blob: Vec<u8> = (0..150_000u32).map(|i| (i % 253) as u8).collect();
    age_to(&f, format!("{db}\n").as_bytes(), "in/db.age", false);
    age_to(&f, &blob, "in/blob.age", true);
    let out = f
        .start(YAML)
        .args(["--", "/bin/sh", "-c", "printf %s \"$DB\" > env-db"])
        .output();
    out.expect_ok().no_leak(&[&db]);
    assert_eq!(read(&f.sb.path("out/db")), format!("{db}\n"));
    assert_eq!(read(&f.sb.path("env-db")), format!("{db}\n"));
    assert_eq!(std::fs::read(f.sb.path("out/blob")).expect("blob"), blob);
    // check shows where it came from, never the value.
    let json = f.start(YAML).args(["check", "--format", "json"]).output();
    json.expect_ok().no_leak(&[&db]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout()).expect("json");
    let src = v["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .find(|s| s["name"] == "db")
        .expect("db")["source"]
        .clone();
    assert_eq!(
        src,
        format!("file:{}", f.sb.path("in/db.age").display()).as_str()
    );
    // get prints it, byte-exact, on purpose.
    let got = f.start(YAML).args(["get", "db"]).output();
    got.expect_ok();
    assert_eq!(got.stdout(), format!("{db}\n"));
    // The identity in SOPS_AGE_KEY works the same.
    let _ = std::fs::remove_dir_all(f.sb.path("out"));
    f.start(YAML)
        .env_remove("SOPS_AGE_KEY_FILE")
        .env("SOPS_AGE_KEY", first_identity(&f.keys))
        .args(["--", "/bin/true"])
        .output()
        .expect_ok()
        .no_leak(&[&db]);
    assert_eq!(read(&f.sb.path("out/db")), format!("{db}\n"));
    // Delivered into the secrets dir itself: the db written beside db.age is ours, no rival, on
    // the next start too.
    for _ in 0..2 {
        f.start(YAML)
            .env("SECRET_INIT_OUTPUT_DIR", f.sb.path("in"))
            .args(["--", "/bin/true"])
            .output()
            .expect_ok()
            .no_leak(&[&db]);
        assert_eq!(read(&f.sb.path("in/db")), format!("{db}\n"));
    }
}

#[test]
fn a_mounted_age_file_fails_closed() {
    let f = SopsFixture::new();
    f.sb.mkdir("in");
    let db = canary("agefile-bad");
    age_to(&f, db.as_bytes(), "in/db.age", false);
    f.sb.write("in/blob", "plain");
    let file = format!("file:{}", f.sb.path("in/db.age").display());
    let nothing_written = || assert!(tree(&f.sb.path("out")).is_empty());
    // No identity configured anywhere: a configuration error naming the file and what to set.
    f.start(YAML)
        .env_remove("SOPS_AGE_KEY_FILE")
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has(&file)
        .stderr_has("no age identity: set SOPS_AGE_KEY or SOPS_AGE_KEY_FILE")
        .no_leak(&[&db]);
    nothing_written();
    // A wrong identity.
    let other = f.sb.path("other.txt");
    age_keygen(&other);
    f.start(YAML)
        .env("SOPS_AGE_KEY_FILE", &other)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has(&file)
        .stderr_has("no age identity given matches")
        .no_leak(&[&db]);
    nothing_written();
    // A tampered file: one payload byte flipped, then truncated.
    let good = std::fs::read(f.sb.path("in/db.age")).expect("read");
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    for bad in [flipped, good[..good.len() - 1].to_vec()] {
        std::fs::write(f.sb.path("in/db.age"), &bad).expect("write");
        f.start(YAML)
            .args(["check"])
            .output()
            .expect_code(65)
            .stderr_has(&file)
            .stderr_has("failed authentication")
            .no_leak(&[&db]);
    }
    // Over the value cap: decrypted (the file within its own cap), and the file itself.
    for (len, why) in [
        (2000, "decrypted, exceeds the 1000-byte limit"),
        (70_000, "exceeds the 67036-byte limit"),
    ] {
        let big = format!("{db}{}", "x".repeat(len));
        age_to(&f, big.as_bytes(), "in/db.age", false);
        f.start(YAML)
            .args(["--max-secret-bytes", "1000", "--", "/bin/true"])
            .output()
            .expect_code(65)
            .stderr_has(&file)
            .stderr_has(why)
            .no_leak(&[&db]);
        nothing_written();
    }
    std::fs::write(f.sb.path("in/db.age"), &good).expect("write");
    // A plain db beside db.age: which one was meant cannot be told.
    f.sb.write("in/db", "plain value");
    f.start(YAML)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has(&file)
        .stderr_has("both db and db.age are in")
        .no_leak(&[&db, "plain value"]);
    nothing_written();
    // A dangling db link (as a Kubernetes volume publishes it early) is no rival.
    std::fs::remove_file(f.sb.path("in/db")).expect("rm");
    std::os::unix::fs::symlink("..data/db", f.sb.path("in/db")).expect("link");
    f.start(YAML)
        .args(["--", "/bin/true"])
        .output()
        .expect_ok()
        .no_leak(&[&db]);
    assert_eq!(read(&f.sb.path("out/db")), db);
}

/// A secret found nowhere: the places listed name `NAME.age` too, beside `NAME`, in every dir.
#[test]
fn a_missing_secret_lists_the_age_file_looked_for() {
    let f = SopsFixture::new();
    f.sb.mkdir("in");
    f.sb.mkdir("more");
    let [a, b] = ["in/db", "more/db"].map(|p| f.sb.path(p).display().to_string());
    let dirs = format!(
        "{}:{}",
        f.sb.path("in").display(),
        f.sb.path("more").display()
    );
    f.start("secrets:\n  db: null\n")
        .env("SECRET_INIT_SECRETS_DIR", &dirs)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(69)
        .stderr_has(&format!(
            "file:{a}, file:{a}.age, file:{b}, file:{b}.age, env:"
        ))
        .stderr_has("not found");
    // Found as NAME.age in the second dir once it is there.
    age_to(&f, b"v", "more/db.age", false);
    f.start("secrets:\n  db: null\n")
        .env("SECRET_INIT_SECRETS_DIR", &dirs)
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    assert_eq!(read(&f.sb.path("out/db")), "v");
}

/// A `NAME.age` rewritten by the real `age` in the watched secrets dir is republished.
#[test]
fn a_rewritten_age_file_is_republished() {
    let f = SopsFixture::new();
    f.sb.mkdir("in");
    let a = canary("agefile-watch-a");
    let b = canary("agefile-watch-b");
    age_to(&f, a.as_bytes(), "in/db.age", false);
    crate::sops_keys::republished_on_change(&f, "", &[], (&a, &b), || {
        age_to(&f, b.as_bytes(), "new.age", false);
        std::fs::rename(f.sb.path("new.age"), f.sb.path("in/db.age")).expect("rename");
    });
}

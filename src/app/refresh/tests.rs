use super::status::concerns;
use super::*;

#[test]
fn a_failed_source_is_listed_once() {
    let e = |secret: &str, src: &str| {
        crate::error::Error::secret(Kind::Unavailable, secret, src, "down")
    };
    let errors = Errors(vec![
        e("a", "vault:secret/data/app"),
        e("b", "vault:secret/data/app"),
        e("c", "aws-sm:x"),
    ]);
    assert_eq!(
        failed_sources(&errors),
        ["vault:secret/data/app", "aws-sm:x"]
    );
}
use crate::plan::FileDelivery;
use crate::secret::Secret;
use crate::settings::parse_signal;

#[test]
fn signals_and_human_durations() {
    assert_eq!(parse_signal("SIGHUP"), Some(1));
    assert_eq!(parse_signal("usr1"), Some(10));
    assert_eq!(parse_signal("34"), Some(34));
    for bad in ["KILL", "SIGSTOP", "9", "0", "NOPE"] {
        assert_eq!(parse_signal(bad), None, "{bad}");
    }
    assert_eq!(human(Duration::from_secs(300)), "5m");
    assert_eq!(human(Duration::from_secs(90)), "90s");
}

#[test]
fn jitter_stays_within_its_spread() {
    for _ in 0..200 {
        let d = jittered(Duration::from_secs(10), 0.1);
        assert!(
            d >= Duration::from_secs(9) && d <= Duration::from_secs(11),
            "{d:?}"
        );
    }
    assert_eq!(
        jittered(Duration::from_secs(10), 0.0),
        Duration::from_secs(10)
    );
}

fn plan(files: &[(&str, &str, u32)]) -> Plan {
    Plan {
        files: files
            .iter()
            .map(|(p, v, mode)| FileDelivery {
                secret: "s".into(),
                path: PathBuf::from(p),
                content: Secret::new(v.as_bytes().to_vec()),
                mode: *mode,
                owner: None,
            })
            .collect(),
        ..Plan::default()
    }
}

#[test]
fn delivered_sees_content_mode_and_env_changes_only() {
    let env = vec![(OsString::from("A"), OsString::from("1"))];
    let base = Delivered::of(&plan(&[("/o/a", "x", 0o600)]), &env);
    assert_eq!(base, Delivered::of(&plan(&[("/o/a", "x", 0o600)]), &env));
    assert_ne!(base, Delivered::of(&plan(&[("/o/a", "y", 0o600)]), &env));
    assert_ne!(base, Delivered::of(&plan(&[("/o/a", "x", 0o640)]), &env));
    let env2 = vec![(OsString::from("A"), OsString::from("2"))];
    let other = Delivered::of(&plan(&[("/o/a", "x", 0o600)]), &env2);
    assert_eq!(other.files, base.files);
    assert_ne!(other.env, base.env);
    // No value is kept: the digests do not contain the bytes.
    assert!(!format!("{base:?}").contains("\"x\""));
}

#[test]
fn error_sources_map_to_watched_sources() {
    assert!(concerns("file:/secrets/db", "file:/secrets"));
    assert!(!concerns("file:/other/db", "file:/secrets"));
    assert!(concerns(
        "vault:secret/data/app#db",
        "vault:https://127.0.0.1:8200"
    ));
    assert!(!concerns("vault:secret/data/app#db", "bundle:/b.json"));
}

#[test]
fn the_poll_fallback_sees_a_data_swap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir(d.join("..v1")).expect("test fixture");
    std::fs::write(d.join("..v1/db"), "1").expect("test fixture");
    std::os::unix::fs::symlink("..v1", d.join("..data")).expect("test fixture");
    std::os::unix::fs::symlink("..data/db", d.join("db")).expect("test fixture");
    let place = Watched {
        dir: d.to_path_buf(),
        name: None,
    };
    let before = watch::tests_fingerprint(&place);
    assert_eq!(
        before,
        watch::tests_fingerprint(&place),
        "stable when nothing changed"
    );
    std::fs::create_dir(d.join("..v2")).expect("test fixture");
    std::fs::write(d.join("..v2/db"), "2").expect("test fixture");
    std::os::unix::fs::symlink("..v2", d.join("..tmp")).expect("test fixture");
    std::fs::rename(d.join("..tmp"), d.join("..data")).expect("test fixture");
    assert_ne!(before, watch::tests_fingerprint(&place));
}

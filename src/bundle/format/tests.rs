//! Unit tests of the bundle file: round trips, strict parsing, version 2's KMS-wrapped key,
//! damaged files, rekeying.

use super::*;

fn key(b: u8) -> MasterKey {
    MasterKey::from_bytes(&[b; 32]).expect("key")
}

fn sample() -> Bundle {
    let k = key(1);
    let mut b = Bundle::new(&k, None).expect("new");
    b.vaults.insert(
        "api".into(),
        Vault {
            description: "d".into(),
            created: "t".into(),
            updated: "t".into(),
            entries: BTreeMap::new(),
        },
    );
    b.set(&k, "api", "db", b"pw-1", true, "t").expect("set");
    b.set(&k, "api", "LOG", b"info", false, "t").expect("set");
    b
}

#[test]
fn civil_dates() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(1_705_314_600), "2024-01-15T10:30:00Z");
    assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
}

#[test]
fn json_round_trip() {
    let b = sample();
    let again = Bundle::parse(&b.to_json(), "t").expect("parse");
    assert_eq!(again, b);
    let opened = again.open_vault(&key(1), "api", "t").expect("open");
    assert_eq!(opened.len(), 2);
    assert!(again.check_key(&key(2), "t").is_err());
}

fn edit(b: &Bundle, f: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&b.to_json()).expect("json");
    f(&mut v);
    serde_json::to_vec(&v).expect("json")
}

#[test]
fn strict_parsing() {
    let b = sample();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            edit(&b, |v| v["version"] = 9.into()),
            "version 9 is not supported",
        ),
        (edit(&b, |v| v["format"] = "x".into()), "not a bundle"),
        (
            edit(&b, |v| v["cipher"] = "AES-128-GCM".into()),
            "cipher must be",
        ),
        (edit(&b, |v| v["extra"] = 1.into()), "unknown field"),
        (
            edit(&b, |v| {
                v["vaults"]["api"]["entries"]["db"]["nonce"] = "!!".into()
            }),
            "invalid base64",
        ),
        (
            edit(&b, |v| {
                let n = v["vaults"]["api"]["entries"]["db"]["nonce"].clone();
                v["vaults"]["api"]["entries"]["LOG"]["nonce"] = n;
            }),
            "nonce reuse detected",
        ),
        (
            edit(&b, |v| {
                let e = v["vaults"]["api"]["entries"]["db"].clone();
                v["vaults"]["api"]["entries"]["../x"] = e;
            }),
            "invalid name",
        ),
        (
            br#"{"format":"secret-init-bundle","version":1,"version":1}"#.to_vec(),
            "duplicate",
        ),
    ];
    for (bytes, want) in cases {
        let e = Bundle::parse(&bytes, "t").expect_err(want);
        assert!(e.to_string().contains(want), "{want}: {e}");
        assert_eq!(e.exit_code(), 65);
    }
    let dup = String::from_utf8(b.to_json()).expect("utf8").replacen(
        "\"entries\": {",
        "\"entries\": {\"db\": {\"secret\": true, \"updated\": \"t\", \"nonce\": \"AAAAAAAAAAAAAAAA\", \"sealed\": \"AAAAAAAAAAAAAAAAAAAAAA==\"},",
        1,
    );
    let e = Bundle::parse(dup.as_bytes(), "t").expect_err("dup entry");
    assert!(e.to_string().contains("duplicate key \"db\""), "{e}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// Any byte of a valid bundle changed to any value: parsing and opening return errors or
    /// values, never panic, and a changed sealed byte never opens to a wrong value silently.
    #[test]
    fn damaged_bundles_never_panic(at in proptest::prelude::any::<usize>(), byte in proptest::prelude::any::<u8>()) {
        let b = sample();
        let mut json = b.to_json();
        let i = at % json.len();
        json[i] = byte;
        let opened = Bundle::parse(&json, "t")
            .ok()
            .filter(|p| p.check_key(&key(1), "t").is_ok())
            .and_then(|p| p.open_vault(&key(1), "api", "t").ok())
            .unwrap_or_default();
        for o in opened {
            let want: &[u8] = if o.key == "db" { b"pw-1" } else { b"info" };
            proptest::prop_assert_eq!(o.value.expose(), want);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
        let _ = Bundle::parse(&bytes, "t");
    }
}

fn wrapped(kms: &str) -> WrappedKey {
    WrappedKey {
        kms: kms.into(),
        wrapped: vec![7; 40],
    }
}

#[test]
fn kms_wrapped_keys_are_version_2_and_bound_to_their_kms_key() {
    let v1 = sample();
    let v2 = v1
        .rekey(&key(1), &key(3), Some(wrapped("transit:transit/a")), "t")
        .expect("rekey");
    let json: serde_json::Value = serde_json::from_slice(&v2.to_json()).expect("json");
    assert_eq!(json["version"], 2);
    assert_eq!(json["key"]["kms"], "transit:transit/a");
    let again = Bundle::parse(&v2.to_json(), "t").expect("parse");
    assert_eq!(again, v2);
    again.check_key(&key(3), "t").expect("data key");
    assert_eq!(
        again.open_vault(&key(3), "api", "t").expect("open").len(),
        2
    );
    // Another KMS key named in the header: the key check no longer opens, even with the
    // right data key.
    let swapped = edit(&v2, |v| v["key"]["kms"] = "transit:transit/b".into());
    let e = Bundle::parse(&swapped, "t")
        .expect("parses")
        .check_key(&key(3), "t")
        .expect_err("swapped");
    assert!(
        e.what
            .contains("the data key kms transit:transit/b unwrapped does not open"),
        "{e}"
    );
    // A version 1 file keeps its shape: no "key" field, the same bytes after a parse.
    assert!(
        !String::from_utf8(v1.to_json())
            .expect("utf8")
            .contains("\"key\"")
    );
    assert_eq!(
        Bundle::parse(&v1.to_json(), "t").expect("v1").to_json(),
        v1.to_json()
    );
    for (bytes, want) in [
        (
            edit(&v2, |v| v["version"] = 1.into()),
            "a version 1 bundle has no \"key\"",
        ),
        (
            edit(&v2, |v| {
                v.as_object_mut().expect("object").remove("key");
            }),
            "needs its \"key\"",
        ),
        (
            edit(&v2, |v| v["key"]["wrapped"] = "".into()),
            "key.wrapped is empty",
        ),
        (edit(&v2, |v| v["key"]["extra"] = 1.into()), "unknown field"),
        (
            edit(&v2, |v| v["key"]["kms"] = "a\nb".into()),
            "not a KMS key name",
        ),
        (
            edit(&v1, |v| v["version"] = 3.into()),
            "version 3 is not supported",
        ),
    ] {
        let e = Bundle::parse(&bytes, "t").expect_err(want);
        assert!(e.to_string().contains(want), "{want}: {e}");
        assert_eq!(e.exit_code(), 65);
    }
}

#[test]
fn failed_rekey_reports_every_bad_entry_and_returns_nothing() {
    let mut b = sample();
    for e in b.vaults.get_mut("api").expect("api").entries.values_mut() {
        e.sealed.data[0] ^= 1;
    }
    let errs = b.rekey(&key(1), &key(2), None, "t").expect_err("tampered");
    assert_eq!(errs.len(), 2);
    assert!(
        errs.iter()
            .all(|e| e.what.contains("authentication failed"))
    );
    let good = sample().rekey(&key(1), &key(2), None, "t").expect("rekey");
    assert!(good.check_key(&key(2), "t").is_ok());
    assert!(good.open_vault(&key(2), "api", "t").is_ok());
    assert_eq!(
        good.open_vault(&key(1), "api", "t").expect_err("old").len(),
        2
    );
}

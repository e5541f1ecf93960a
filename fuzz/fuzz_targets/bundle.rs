//! The encrypted bundle decoder: `bundle::format::Bundle::parse` on arbitrary bytes, then the key
//! check and every vault opened with a fixed key (the seeds are bundles sealed under that key).
//!
//! Two modes, by the first byte. Bytes (even): parse the rest; when accepted, names are valid
//! secret names, nonces unique, and `to_json` parses back to an equal bundle; opening never
//! panics, and a bundle whose key check opens returns, per vault, either every entry or one error
//! per failed entry. Build (odd): seal entries taken from the input under the fixed key, write the
//! file, parse it back and open: every value comes back byte-equal; a second key is refused.
#![no_main]

use std::collections::BTreeMap;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use secret_init::fuzzing::bundle::{Bundle, MasterKey, Vault};
use secret_init::name::SecretName;

/// The fixed fuzz key: 32 bytes of 0x07 (base64 `BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=`).
const KEY: [u8; 32] = [7; 32];

#[derive(Arbitrary, Debug)]
struct Entry {
    vault: String,
    key: String,
    value: Vec<u8>,
    secret: bool,
}

fn bytes_mode(key: &MasterKey, data: &[u8]) {
    let Ok(b) = Bundle::parse(data, "fuzz") else {
        return;
    };
    let mut nonces = Vec::new();
    nonces.push(b.key_check.nonce.clone());
    for (vn, v) in &b.vaults {
        assert!(SecretName::parse(vn).is_ok());
        for (k, e) in &v.entries {
            assert!(SecretName::parse(k).is_ok());
            assert!(!nonces.contains(&e.sealed.nonce), "nonce reuse accepted");
            nonces.push(e.sealed.nonce.clone());
        }
    }
    let text = b.to_json();
    let again = Bundle::parse(&text, "fuzz").expect("to_json output parses");
    assert_eq!(again, b, "to_json/parse round trip");
    if b.check_key(key, "fuzz").is_ok() {
        for (vn, v) in &b.vaults {
            match b.open_vault(key, vn, "fuzz") {
                Ok(opened) => assert_eq!(opened.len(), v.entries.len()),
                Err(errors) => {
                    assert!(!errors.is_empty() && errors.len() <= v.entries.len());
                }
            }
        }
    }
}

fn build_mode(key: &MasterKey, data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(entries) = Vec::<Entry>::arbitrary(&mut u) else {
        return;
    };
    let mut b = Bundle::new(key, None).expect("key check seals");
    let mut expect: BTreeMap<(String, String), (Vec<u8>, bool)> = BTreeMap::new();
    for e in entries.into_iter().take(16) {
        if SecretName::parse(&e.vault).is_err() || SecretName::parse(&e.key).is_err() {
            continue;
        }
        b.vaults.entry(e.vault.clone()).or_insert_with(|| Vault {
            description: String::new(),
            created: "2026-11-23T00:00:00Z".into(),
            updated: "2026-11-23T00:00:00Z".into(),
            entries: BTreeMap::new(),
        });
        b.set(
            key,
            &e.vault,
            &e.key,
            &e.value,
            e.secret,
            "2026-11-23T00:00:00Z",
        )
        .expect("set into an existing vault");
        expect.insert((e.vault, e.key), (e.value, e.secret));
    }
    let text = b.to_json();
    let back = Bundle::parse(&text, "fuzz").expect("a written bundle parses");
    assert_eq!(back, b);
    back.check_key(key, "fuzz")
        .expect("own key opens the key check");
    for (vn, _) in &back.vaults {
        let opened = back
            .open_vault(key, vn, "fuzz")
            .unwrap_or_else(|_| panic!("vault {vn} opens"));
        for o in opened {
            let (value, secret) = &expect[&(vn.clone(), o.key.clone())];
            assert_eq!(o.value.expose(), value.as_slice());
            assert_eq!(o.secret, *secret);
        }
    }
    let other = MasterKey::from_bytes(&[8; 32]).expect("32-byte key");
    assert!(
        back.check_key(&other, "fuzz").is_err(),
        "another key passes the key check"
    );
}

fuzz_target!(|data: &[u8]| {
    let key = MasterKey::from_bytes(&KEY).expect("32-byte key");
    match data.split_first() {
        Some((m, rest)) if m & 1 == 1 => build_mode(&key, rest),
        Some((_, rest)) => bytes_mode(&key, rest),
        None => {}
    }
});

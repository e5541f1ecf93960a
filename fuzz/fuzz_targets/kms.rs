//! KMS key names and answers: `source::kms::KmsKey::parse` (the `--kms` / `--bundle-kms` forms and
//! a bundle header's `key.kms`), AWS KMS `Decrypt`/`Encrypt` answers, Cloud KMS `:decrypt`/`:encrypt`
//! answers (CRC32C checked) and Key Vault `unwrapkey`/`wrapkey` answers.
//!
//! Input: one selector byte, then the text. Bits 0-2 pick the parser, bits 3-5 the HTTP status.
//!
//! Invariants: nothing panics; a parsed key name prints back as written and re-parses to the same
//! key; an answer is accepted only with status 200, and only for the key asked for (the AWS
//! `KeyId`, the Key Vault `kid` path, the Cloud KMS `name`); an accepted Cloud KMS plaintext
//! matches its `plaintextCrc32c` when the answer has one; no error holds the answer's plaintext.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secret_init::fuzzing::kms::{
    KmsKey, parse_gcp_decrypt, parse_gcp_encrypt, parse_key_result, parse_kms_decrypt,
    parse_kms_encrypt,
};
use secret_init::secret::Secret;

const STATUS: &[u16] = &[200, 200, 200, 400, 403, 404, 500, 429];
const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const GCP: &str = "projects/p/locations/global/keyRings/r/cryptoKeys/k";
const KID: &str = "https://kv1.vault.azure.net/keys/k/0123abcd";

/// A string field of the body's JSON, if any.
fn field(body: &[u8], name: &str) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|j| j[name].as_str().map(str::to_string))
}

/// No error message holds the answer's `name` field when it is long enough to tell.
fn clean<T>(r: &Result<T, secret_init::error::Error>, body: &[u8], name: &str) {
    if let (Err(e), Some(v)) = (r, field(body, name))
        && v.len() >= 8
    {
        assert!(!e.to_string().contains(&v), "{name} in an error");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let status = STATUS[usize::from(sel >> 3) & 7];
    let secret = Secret::new(body.to_vec());
    match sel & 7 {
        0 => {
            let Ok(s) = std::str::from_utf8(body) else {
                return;
            };
            if let Ok(k) = KmsKey::parse(s) {
                assert_eq!(k.to_string(), s);
                assert_eq!(KmsKey::parse(&k.to_string()), Ok(k.clone()));
                assert!(s.starts_with(k.provider()));
            }
        }
        1 => {
            let r = parse_kms_decrypt(status, &secret, ARN);
            if r.is_ok() {
                assert_eq!(status, 200);
                assert_eq!(field(body, "KeyId").as_deref(), Some(ARN));
            }
            clean(&r, body, "Plaintext");
        }
        2 => {
            if parse_kms_encrypt(status, &secret, ARN).is_ok() {
                assert_eq!(status, 200);
                assert_eq!(field(body, "KeyId").as_deref(), Some(ARN));
            }
        }
        3 => {
            let r = parse_gcp_decrypt(status, &secret);
            if let Ok(v) = &r {
                assert_eq!(status, 200);
                if let Some(c) = field(body, "plaintextCrc32c") {
                    assert_eq!(
                        c.parse::<u32>().ok(),
                        Some(secret_init::fuzzing::gcp::crc32c(v))
                    );
                }
            }
            clean(&r, body, "plaintext");
        }
        4 => {
            if parse_gcp_encrypt(status, &secret, GCP).is_ok() {
                assert_eq!(status, 200);
                let name = field(body, "name").unwrap_or_default();
                assert!(name.starts_with(&format!("{GCP}/cryptoKeyVersions/")));
            }
        }
        _ => {
            let r = parse_key_result(status, &secret, KID);
            if r.is_ok() {
                assert_eq!(status, 200);
                let kid = field(body, "kid").unwrap_or_default();
                assert!(kid.ends_with("/keys/k/0123abcd"), "{kid}");
            }
            clean(&r, body, "value");
        }
    }
});

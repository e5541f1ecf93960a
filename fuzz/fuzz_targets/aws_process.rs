//! `credential_process` and IAM Identity Center: `process::parse_output` (the process's JSON),
//! `process::split` (its command line, as `shlex.split`) and `client::parse_role_credentials`
//! (the portal's `GetRoleCredentials` answer).
//!
//! Input: one selector byte, then the body. Bits 0-1 pick the parser, bits 2-4 the HTTP status.
//!
//! Invariants: nothing panics; accepted credentials have a key id of ASCII letters and digits
//! and a non-empty secret, and their `Debug` shows neither the secret nor the token; a process's
//! credentials have `Version` 1 and an expiration after the time passed in; portal credentials
//! came with status 200; no error message holds the body's secret key or token; the words of a
//! command line, each quoted back in `'...'`, split to the same words.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secret_init::fuzzing::aws::{parse_output, parse_role_credentials, split};
use secret_init::secret::Secret;

const STATUS: &[u16] = &[200, 200, 200, 400, 401, 403, 500, 429];
const NOW: u64 = 1_800_000_000;

#[path = "shared/aws.rs"]
mod shared;
use shared::{accepted, contains};

/// The string values of `names` anywhere in the body's top object or one level down.
fn secrets(body: &[u8], names: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(serde_json::Value::Object(o)) = serde_json::from_slice::<serde_json::Value>(body) {
        let mut objs = vec![o.clone()];
        objs.extend(o.values().filter_map(|v| v.as_object().cloned()));
        for obj in objs {
            for n in names {
                if let Some(serde_json::Value::String(s)) = obj.get(*n) {
                    out.push(s.clone());
                }
            }
        }
    }
    out
}

fn quote(w: &str) -> String {
    format!("'{}'", w.replace('\'', "'\\''"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let status = STATUS[usize::from(sel >> 2) & 7];
    let secret = Secret::new(body.to_vec());
    match sel & 3 {
        0 => match parse_output(&secret, NOW) {
            Ok(c) => {
                accepted(&c);
                assert!(c.expires_at.is_none_or(|t| t > NOW));
                let v: serde_json::Value = serde_json::from_slice(body).expect("accepted is JSON");
                assert_eq!(v["Version"].as_u64(), Some(1));
            }
            Err(e) => {
                for s in secrets(body, &["SecretAccessKey", "SessionToken"]) {
                    assert!(!contains(e.what.as_bytes(), s.as_bytes()));
                }
            }
        },
        1 => {
            if let Ok(text) = std::str::from_utf8(body)
                && let Ok(words) = split(text)
            {
                let line: Vec<String> = words.iter().map(|w| quote(w)).collect();
                assert_eq!(split(&line.join(" ")).expect("quoted words split"), words);
            }
        }
        _ => match parse_role_credentials(status, &secret) {
            Ok(c) => {
                assert_eq!(status, 200);
                accepted(&c);
            }
            Err(e) => {
                for s in secrets(body, &["secretAccessKey", "sessionToken"]) {
                    assert!(!contains(e.what.as_bytes(), s.as_bytes()));
                }
            }
        },
    }
});

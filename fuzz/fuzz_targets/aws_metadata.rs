//! The AWS credential and batch parsers: `metadata::parse_credentials` (container and IMDS credential JSON),
//! `metadata::parse_role_list` (the IMDS role listing), `metadata::parse_expiration` (RFC 3339),
//! `client::parse_batch_secrets` (BatchGetSecretValue), `client::parse_parameters`
//! (GetParameters / GetParametersByPath) and `reference::env_value::reference_in` (the env-reference rule).
//!
//! Input: one selector byte, then the body. Bits 0-2 pick the parser, bits 3-5 the HTTP status.
//!
//! Invariants: nothing panics; an answer is accepted only with status 200; accepted credentials
//! have a key id of ASCII letters and digits and a non-empty secret, and their `Debug` shows
//! neither the secret nor the token; no error message holds the body's `SecretAccessKey`; an
//! accepted role name is at most 64 characters of IAM's set; an expiration round-trips through
//! `bundle::format::rfc3339` when it has no fraction or offset; every entry of `SecretValues` / `Parameters` becomes a value; a value the env rule takes as a reference parses as one and has no whitespace.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secret_init::reference::env_value::{Verdict, reference_in};
use secret_init::secret::Secret;
use secret_init::fuzzing::aws::{
    parse_batch_secrets, parse_credentials, parse_expiration, parse_parameters, parse_role_list,
};

const STATUS: &[u16] = &[200, 200, 200, 400, 401, 404, 500, 429];

#[path = "shared/aws.rs"]
mod shared;
use shared::{accepted, contains};

/// How many entries the answer's array `field` has (every one must become a value).
fn entries(body: &[u8], field: &str) -> usize {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(o)) => o.get(field).and_then(|v| v.as_array()).map_or(0, Vec::len),
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let status = STATUS[usize::from(sel >> 3) & 7];
    let secret = Secret::new(body.to_vec());
    match sel & 7 {
        0 | 1 => match parse_credentials(status, &secret) {
            Ok(c) => {
                assert_eq!(status, 200);
                accepted(&c);
            }
            Err(e) => {
                if let Ok(serde_json::Value::Object(o)) = serde_json::from_slice(body)
                    && let Some(serde_json::Value::String(sk)) = o.get("SecretAccessKey")
                {
                    assert!(!contains(e.what.as_bytes(), sk.as_bytes()));
                }
            }
        },
        2 => {
            if let Ok(role) = parse_role_list(status, &secret) {
                assert_eq!(status, 200);
                assert!(!role.is_empty() && role.len() <= 64);
                assert!(role.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b)));
            }
        }
        3 => {
            if let Ok(t) = std::str::from_utf8(body)
                && let Some(secs) = parse_expiration(t)
                && t.len() == 20
                && t.ends_with('Z')
                && t.as_bytes()[10] == b'T'
                && !t.contains(":60")
            {
                assert_eq!(secret_init::fuzzing::bundle::rfc3339(secs), t);
            }
        }
        4 => {
            if let Ok(b) = parse_batch_secrets(status, &secret) {
                assert_eq!(status, 200);
                assert_eq!(b.values.len(), entries(body, "SecretValues"));
            }
        }
        5 => {
            if let Ok(b) = parse_parameters(status, &secret) {
                assert_eq!(status, 200);
                assert_eq!(b.values.len(), entries(body, "Parameters"));
            }
        }
        _ => {
            if let Verdict::Reference(r) = reference_in(body) {
                let text = std::str::from_utf8(body).expect("a reference is UTF-8");
                assert!(!text.bytes().any(|b| b.is_ascii_whitespace()));
                assert!(secret_init::reference::Reference::parse(text).is_ok());
                let _ = r;
            }
        }
    }
});

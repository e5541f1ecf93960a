//! Azure parsers: `reference::AzureRef::parse` (the `azure-kv:` and secret URL forms),
//! `client::parse_secret` (Key Vault's Get Secret answer) and `client::parse_token` (Entra ID and
//! managed identity token answers).
//!
//! Input: one selector byte, then the text. Bits 0-1 pick the parser, bits 2-4 the HTTP status.
//!
//! Invariants: nothing panics; a parsed reference prints back to a string that parses to the
//! same reference, and its URL is one a bearer token may go to (a Key Vault host, never another
//! one); an accepted secret answer needs status 200 and equals the body's `value` string; 404 is
//! never an error unless the body names another code; accepted tokens need status 200, are
//! non-empty printable ASCII and equal the body's `access_token`; no error message holds the
//! body's `value` or `access_token`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secret_init::secret::Secret;
use secret_init::fuzzing::azure::{AzureRef, may_carry_token, parse_secret, parse_token};
use serde_json::Value;

const STATUS: &[u16] = &[200, 200, 200, 400, 401, 403, 404, 429];

fn field(body: &[u8], k: &str) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get(k)?.as_str().map(str::to_string)
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let status = STATUS[usize::from(sel >> 2) & 7];
    match sel & 3 {
        0 => {
            let Ok(s) = std::str::from_utf8(body) else {
                return;
            };
            if let Ok(r) = AzureRef::parse(s) {
                let again = AzureRef::parse(&r.to_string()).expect("printed form parses");
                assert_eq!(again, r);
                let url = format!("{}{}?api-version=7.4", r.vault_url(), r.path());
                assert!(may_carry_token(&url, None), "{url}");
            }
        }
        1 => {
            let r = parse_secret(status, &Secret::new(body.to_vec()));
            if let Ok(Some(v)) = &r {
                assert_eq!(status, 200);
                assert_eq!(Some(v.expose()), field(body, "value").as_deref().map(str::as_bytes));
            }
            if let (Err(e), Some(v)) = (&r, field(body, "value"))
                && v.len() >= 8
            {
                assert!(!e.what.contains(&v));
            }
        }
        _ => {
            let r = parse_token(status, &Secret::new(body.to_vec()));
            match &r {
                Ok(t) => {
                    assert_eq!(status, 200);
                    assert!(!t.is_empty() && t.expose().iter().all(u8::is_ascii_graphic));
                    assert_eq!(
                        Some(t.expose()),
                        field(body, "access_token").as_deref().map(str::as_bytes)
                    );
                }
                Err(e) => {
                    if let Some(t) = field(body, "access_token")
                        && t.len() >= 8
                    {
                        assert!(!e.what.contains(&t));
                    }
                }
            }
        }
    }
});

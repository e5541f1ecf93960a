//! AWS answers: `client::parse_secret_value` (Secrets Manager JSON), `client::parse_parameter`
//! (Parameter Store JSON), `client::parse_assume_role` (STS XML) and `client::xml_text`.
//!
//! Input: one selector byte, then the body. Bits 0-1 pick the parser (SM, SSM, STS, xml_text of
//! `SessionToken`), bits 2-4 the HTTP status.
//!
//! Invariants: nothing panics; an answer is accepted only with status 200; an accepted Secrets
//! Manager answer equals an independent model (`SecretString` as bytes, else `SecretBinary`
//! base64-decoded); an accepted parameter is `Parameter.Value`; accepted STS credentials have a
//! non-empty key id, secret and session token, and their `Debug` text shows neither of the two
//! secrets; no error message holds the body's SecretString or Value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secret_init::secret::Secret;
use secret_init::fuzzing::aws::{
    Stored, parse_assume_role, parse_parameter, parse_secret_value, xml_text,
};
use serde_json::Value;

const STATUS: &[u16] = &[200, 200, 200, 400, 403, 404, 500, 429];

fn field(body: &[u8], path: &[&str]) -> Option<String> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    for p in path {
        v = v.as_object_mut()?.remove(*p)?;
    }
    v.as_str().map(str::to_string)
}

fn bytes(s: &Stored) -> &[u8] {
    match s {
        Stored::Text(v) | Stored::Binary(v) => v.expose(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let status = STATUS[usize::from(sel >> 2) & 7];
    let secret = Secret::new(body.to_vec());
    match sel & 3 {
        0 => {
            let r = parse_secret_value(status, &secret);
            if let Ok(Some(s)) = &r {
                assert_eq!(status, 200);
                match field(body, &["SecretString"]) {
                    Some(text) => assert_eq!(bytes(s), text.as_bytes()),
                    None => assert!(matches!(s, Stored::Binary(_))),
                }
            }
            if let (Err(e), Some(v)) = (&r, field(body, &["SecretString"]))
                && v.len() >= 8
            {
                assert!(!e.what.contains(&v));
            }
        }
        1 => {
            let r = parse_parameter(status, &secret);
            if let Ok(Some(s)) = &r {
                assert_eq!(status, 200);
                assert_eq!(
                    Some(bytes(s)),
                    field(body, &["Parameter", "Value"]).as_deref().map(str::as_bytes)
                );
            }
            if let (Err(e), Some(v)) = (&r, field(body, &["Parameter", "Value"]))
                && v.len() >= 8
            {
                assert!(!e.what.contains(&v));
            }
        }
        2 => {
            if let Ok(c) = parse_assume_role(status, &secret) {
                assert_eq!(status, 200);
                assert!(!c.access_key_id.is_empty() && !c.secret_access_key.is_empty());
                let token = c.session_token.as_ref().expect("a session token");
                assert!(!token.is_empty());
                let d = format!("{c:?}");
                for s in [c.secret_access_key.expose(), token.expose()] {
                    if s.len() >= 8 {
                        assert!(!d.as_bytes().windows(s.len()).any(|w| w == s));
                    }
                }
            }
        }
        _ => {
            let _ = xml_text(body, "SessionToken");
        }
    }
});

//! GCP parsers: `reference::GcpRef::parse` (both reference forms), `client::parse_access`
//! (Secret Manager `:access` JSON with the CRC32C check), `client::parse_token` (OAuth, STS and
//! IAM token answers) and `credentials::parse_file` (credentials JSON).
//!
//! Input: one selector byte, then the text. Bits 0-1 pick the parser, bits 2-4 the HTTP status.
//!
//! Invariants: nothing panics; a parsed reference prints back as written and re-parses to the
//! same value, its resource name is `projects/P/secrets/S/versions/V`; an accepted payload came
//! with status 200 and its CRC32C, when the answer has one, matches; an accepted token came with
//! a 2xx and its `Debug` text does not show it; no error message holds the `private_key`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secret_init::secret::Secret;
use secret_init::fuzzing::gcp::{GcpRef, crc32c, parse_access, parse_file, parse_token};

const STATUS: &[u16] = &[200, 200, 200, 400, 403, 404, 500, 429];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let status = STATUS[usize::from(sel >> 2) & 7];
    let secret = Secret::new(body.to_vec());
    match sel & 3 {
        0 => {
            let Ok(s) = std::str::from_utf8(body) else {
                return;
            };
            if let Ok(r) = GcpRef::parse(s) {
                assert_eq!(r.to_string(), s);
                assert_eq!(GcpRef::parse(&r.to_string()), Ok(r.clone()));
                let resource = r.resource();
                let parts: Vec<&str> = resource.split('/').collect();
                assert_eq!(parts.len(), 6);
                assert_eq!((parts[0], parts[2], parts[4]), ("projects", "secrets", "versions"));
            }
        }
        1 => {
            if let Ok(Some(v)) = parse_access(status, &secret) {
                assert_eq!(status, 200);
                let crc = serde_json::from_slice::<serde_json::Value>(body)
                    .ok()
                    .and_then(|j| j["payload"]["dataCrc32c"].as_str().map(str::to_string));
                if let Some(c) = crc {
                    assert_eq!(c.parse::<u64>().ok(), Some(u64::from(crc32c(v.expose()))));
                }
            }
        }
        2 => {
            if let Ok(t) = parse_token(status, &secret) {
                assert!((200..300).contains(&status));
                let d = format!("{t:?}");
                assert!(t.0.len() < 4 || !d.as_bytes().windows(t.0.len()).any(|w| w == t.0.expose()));
            }
        }
        _ => {
            if let Err(e) = parse_file(&secret) {
                let key = serde_json::from_slice::<serde_json::Value>(body)
                    .ok()
                    .and_then(|j| j["private_key"].as_str().map(str::to_string));
                if let Some(k) = key
                    && k.len() >= 8
                {
                    assert!(!e.to_string().contains(&k));
                }
            }
        }
    }
});

//! Docker's `config.json`: a registry login merged into `auths` without losing other registries
//! or any other key (`credsStore`, `proxies`, `HttpHeaders`).
//!
//! The docker CLI and the Python SDK (`docker.auth.load_config`) read `auths.<registry>.auth` as
//! base64 of `username:password`. The document is re-serialised (serde_json, keys sorted), which
//! keeps every value but not the original key order or indentation.

use serde_json::{Map, Value};

use super::{Merged, refused};
use crate::error::Error;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard padded base64 (RFC 4648 §4), the encoding docker uses for `auth`.
pub(crate) fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Sets `auths.<registry>.auth` in `existing`; a different login already there is a conflict
/// unless `overwrite`.
pub(crate) fn merge(
    existing: Option<&str>,
    registry: &str,
    username: &str,
    password: &str,
    overwrite: bool,
) -> Result<Merged, Error> {
    if username.contains(':') {
        return Err(refused("docker username must not contain \":\""));
    }
    let mut doc = match existing.filter(|s| !s.trim().is_empty()) {
        None => Value::Object(Map::new()),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => v,
            // serde_json's message can quote the document; say only where it broke.
            Ok(_) => return Err(refused("existing file is not a JSON object")),
            Err(e) => {
                return Err(refused(format!(
                    "existing file is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                )));
            }
        },
    };
    let auth = base64(format!("{username}:{password}").as_bytes());
    let Some(root) = doc.as_object_mut() else {
        return Err(refused("existing file is not a JSON object"));
    };
    let auths = root
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(auths) = auths.as_object_mut() else {
        return Err(refused("\"auths\" is not a JSON object"));
    };
    match auths
        .get(registry)
        .and_then(|e| e.get("auth"))
        .and_then(Value::as_str)
    {
        Some(a) if a == auth => return Ok(Merged::Same),
        Some(_) if !overwrite => {
            return Err(refused(format!(
                "auths.{registry} already holds a different login; set overwrite: true to replace it"
            )));
        }
        _ => {}
    }
    let entry = auths
        .entry(registry.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    match entry.as_object_mut() {
        Some(e) => {
            e.insert("auth".into(), Value::String(auth));
        }
        None => *entry = serde_json::json!({ "auth": auth }),
    }
    let mut out =
        serde_json::to_vec_pretty(&doc).map_err(|e| refused(format!("cannot serialise: {e}")))?;
    out.push(b'\n');
    Ok(Merged::Write(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn other_registries_and_keys_survive() {
        let existing = r#"{"auths": {"ghcr.io": {"auth": "eA=="}}, "credHelpers": {"x": "y"}}"#;
        let Ok(Merged::Write(out)) = merge(Some(existing), "r.example", "u", "p", false) else {
            panic!("expected a write");
        };
        let v: Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(v["auths"]["ghcr.io"]["auth"], "eA==");
        assert_eq!(v["credHelpers"]["x"], "y");
        assert_eq!(v["auths"]["r.example"]["auth"], base64(b"u:p"));
        let again = String::from_utf8(out).expect("utf8");
        assert!(matches!(
            merge(Some(&again), "r.example", "u", "p", false),
            Ok(Merged::Same)
        ));
        assert!(merge(Some(&again), "r.example", "u", "other", false).is_err());
        assert!(merge(Some("[1]"), "r", "u", "p", false).is_err());
    }
}

//! Vault/OpenBao JSON answers: `client::parse_kv` (KV v1/v2 reads), `client::parse_login` and the
//! login body writer `client::json_body`.
//!
//! Input: one selector byte, then the body. Selector bits 0-1 pick kv_version (auto/1/2), bit 2
//! pins version 3, bits 3-5 the HTTP status, bits 6-7 the function (0-1 KV read, 2 login, 3 login
//! body: the rest split at the first 0xFF into two field values).
//!
//! Invariants: a KV read is accepted only with status 200, and then its values equal an
//! independent model of the documented shape (v2 `data.data`, v1 `data`; strings as bytes, `null`
//! absent, anything else as JSON text) and its version is `data.metadata.version`; a pinned
//! version on KV v1 is refused; the result's Debug text depends on keys and value lengths only; a
//! login is accepted only with status 200 and yields exactly the non-empty `auth.client_token`; the
//! login body is valid JSON giving back both fields for UTF-8 input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secret_init::secret::Secret;
use secret_init::fuzzing::vault::{KvData, KvVersion, json_body, parse_kv, parse_login};
use serde_json::Value;

const STATUS: &[u16] = &[200, 200, 200, 404, 403, 401, 500, 204];

fn model(body: &[u8], kv: KvVersion) -> Option<(Vec<(String, Vec<u8>)>, Option<u64>)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let data = v.as_object()?.get("data")?.as_object()?;
    let shape_v2 = data.get("data").is_some_and(Value::is_object)
        && data.get("metadata").is_some_and(Value::is_object);
    let v2 = match kv {
        KvVersion::V2 => true,
        KvVersion::V1 => false,
        KvVersion::Auto => shape_v2,
    };
    let (map, version) = if v2 {
        (
            data.get("data")?.as_object()?,
            data.get("metadata")
                .and_then(|m| m.get("version"))
                .and_then(Value::as_u64),
        )
    } else {
        (data, None)
    };
    let values = map
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let bytes = match v {
                Value::String(s) => s.as_bytes().to_vec(),
                other => other.to_string().into_bytes(),
            };
            (k.clone(), bytes)
        })
        .collect();
    Some((values, version))
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let kv = match sel & 3 {
        1 => KvVersion::V1,
        2 => KvVersion::V2,
        _ => KvVersion::Auto,
    };
    let pinned = (sel & 4 != 0).then_some(3u64);
    let status = STATUS[usize::from((sel >> 3) & 7)];
    match sel >> 6 {
        0 | 1 => {
            let out = parse_kv(
                "secret/data/app",
                pinned,
                kv,
                status,
                &Secret::new(body.to_vec()),
            );
            match out {
                Ok(kvd) => {
                    assert_eq!(status, 200, "accepted with status {status}");
                    assert!(!(pinned.is_some() && kv == KvVersion::V1));
                    let (expected, version) =
                        model(body, kv).expect("accepted but the model refuses");
                    let got: Vec<(String, Vec<u8>)> = kvd
                        .values
                        .iter()
                        .map(|(k, v)| (k.clone(), v.expose().to_vec()))
                        .collect();
                    let mut expected = expected;
                    expected.sort();
                    assert_eq!(got, expected);
                    assert_eq!(kvd.version, version);
                    // Debug depends on keys and lengths only: the same data with every value
                    // replaced by zeros of the same length prints the same text.
                    let skeleton = KvData {
                        values: kvd
                            .values
                            .iter()
                            .map(|(k, v)| (k.clone(), Secret::new(vec![0; v.len()])))
                            .collect(),
                        version: kvd.version,
                    };
                    assert_eq!(
                        format!("{kvd:?}"),
                        format!("{skeleton:?}"),
                        "Debug shows a value"
                    );
                }
                Err(e) => {
                    // A refusal at 200 without a pin must be a shape problem the model also sees.
                    if status == 200 && pinned.is_none() && model(body, kv).is_some() {
                        panic!("the model accepts what parse_kv refused: {e}");
                    }
                }
            }
        }
        2 => match parse_login(status, &Secret::new(body.to_vec()), "approle", "login") {
            Ok(token) => {
                assert_eq!(status, 200);
                let v: Value = serde_json::from_slice(body).expect("accepted login is JSON");
                let t = v
                    .pointer("/auth/client_token")
                    .and_then(Value::as_str)
                    .expect("token");
                assert!(!t.is_empty());
                assert_eq!(token.expose(), t.as_bytes());
            }
            Err(e) => assert_eq!(e.exit_code(), 77),
        },
        _ => {
            let (a, b) = match body.iter().position(|b| *b == 0xFF) {
                Some(i) => (&body[..i], &body[i + 1..]),
                None => (body, &[][..]),
            };
            let sa = Secret::new(a.to_vec());
            let sb = Secret::new(b.to_vec());
            let out = json_body(&[("role_id", &sa), ("secret_id", &sb)]);
            if let (Ok(ta), Ok(tb)) = (std::str::from_utf8(a), std::str::from_utf8(b)) {
                let v: Value = serde_json::from_slice(out.expose()).expect("login body is JSON");
                assert_eq!(v["role_id"].as_str(), Some(ta));
                assert_eq!(v["secret_id"].as_str(), Some(tb));
                assert_eq!(v.as_object().map(|o| o.len()), Some(2));
            }
        }
    }
});

//! Reading the vault's answers: KV data (v1 and v2), a login's token, error texts that name the
//! path and never a value, and the JSON bodies we send.

use super::*;

/// Interprets the answer to a KV read of API path `path` (status and body), with no I/O: the
/// fuzz target `vault_json` and the tests call it directly. Values that are not strings become
/// their JSON text; `null` is absent.
pub fn parse_kv(
    path: &str,
    version: Option<u64>,
    kv_version: KvVersion,
    status: u16,
    body: &Secret,
) -> Result<KvData, Error> {
    let src = format!("vault:{path}");
    let parsed = match serde_json::from_slice::<Tree>(body.expose()) {
        Ok(Tree(v)) => Some(v),
        // Tree accepts any JSON: a data error is a key given twice, where one reader would take
        // the first and another the last.
        Err(e) if e.is_data() => return Err(duplicate_key(&e).with_source(src)),
        Err(_) => None,
    };
    match status {
        200 => {}
        404 => {
            let mut why = not_found_text(parsed.as_ref(), version);
            if why.starts_with("no secret") {
                why.push_str(kv2_hint(path));
            }
            return Err(Error::new(Kind::Unavailable, why).with_source(src));
        }
        401 | 403 => {
            return Err(Error::new(
                Kind::Permission,
                format!(
                    "{}: the token's policies do not allow reading this path{}",
                    status_text(status, body),
                    kv2_hint(path)
                ),
            )
            .with_source(src));
        }
        s => {
            return Err(Error::new(Kind::Unavailable, status_text(s, body)).with_source(src));
        }
    }
    let Some(Value::Object(mut top)) = parsed else {
        return Err(Error::new(Kind::Unavailable, "answer is not a JSON object").with_source(src));
    };
    let Some(Value::Object(data)) = top.remove("data") else {
        return Err(Error::new(Kind::Unavailable, "answer has no data object").with_source(src));
    };
    let is_v2_shape = matches!(data.get("data"), Some(Value::Object(_)))
        && matches!(data.get("metadata"), Some(Value::Object(_)));
    let v2 = match kv_version {
        KvVersion::V2 => true,
        KvVersion::V1 => false,
        KvVersion::Auto => is_v2_shape,
    };
    let mut data = data;
    let (values, version_read) = if v2 {
        let version_read = data
            .get("metadata")
            .and_then(|m| m.get("version"))
            .and_then(Value::as_u64);
        match data.remove("data") {
            Some(Value::Object(d)) => (d, version_read),
            _ => {
                return Err(Error::new(
                    Kind::Unavailable,
                    "KV v2 answer has no data.data object (is this a KV v1 mount? set kv_version: 1)",
                )
                .with_source(src));
            }
        }
    } else {
        if version.is_some() {
            return Err(Error::new(
                Kind::Config,
                "a version is pinned but this path is KV v1 (versions exist only in KV v2)",
            )
            .with_source(src));
        }
        (data, None)
    };
    let mut out = KvData {
        values: BTreeMap::new(),
        version: version_read,
    };
    for (k, v) in values {
        let bytes = match v {
            Value::Null => continue,
            Value::String(s) => s.into_bytes(),
            other => other.to_string().into_bytes(),
        };
        out.values.insert(k, Secret::new(bytes));
    }
    Ok(out)
}

/// Interprets the answer to a login request (status and body), with no I/O; `method` and `src`
/// name the login in messages. The token is the non-empty `auth.client_token`.
pub fn parse_login(status: u16, body: &Secret, method: &str, src: &str) -> Result<Secret, Error> {
    if status != 200 {
        // A mount that is not enabled answers a login with a bare 403 (or 400/404), as a
        // refused credential does: name the mount the login went to.
        let mount = src
            .split_once("(auth/")
            .and_then(|(_, m)| m.strip_suffix(')'))
            .unwrap_or(method);
        let hint = if matches!(status, 400 | 403 | 404) {
            format!(
                " (sent to auth/{mount}/login: is the {method} method enabled at the mount \
                 \"{mount}\" (`bao auth list`)? else secret_init.vault.auth.mount names it; a \
                 refused credential or role answers so too)"
            )
        } else {
            String::new()
        };
        return Err(Error::new(
            Kind::Permission,
            format!("login refused: {}{hint}", status_text(status, body)),
        )
        .with_source(src));
    }
    let v: Value = match serde_json::from_slice::<Tree>(body.expose()) {
        Ok(Tree(v)) => v,
        Err(e) if e.is_data() => return Err(duplicate_key(&e).with_source(src)),
        Err(_) => {
            return Err(Error::new(Kind::Permission, "login answer is not JSON").with_source(src));
        }
    };
    match v.pointer("/auth/client_token").and_then(Value::as_str) {
        Some(t) if !t.is_empty() => {
            crate::log::debug!("vault: {method} login succeeded");
            Ok(Secret::new(t.as_bytes().to_vec()))
        }
        _ => Err(
            Error::new(Kind::Permission, "login answer has no auth.client_token").with_source(src),
        ),
    }
}

/// A hint for the commonest KV v2 mistake: `secret/app` where the API path is `secret/data/app`.
pub(super) fn kv2_hint(path: &str) -> &'static str {
    if path.split('/').any(|s| s == "data") {
        ""
    } else {
        "; if this is a KV v2 mount, the API path includes data/ (e.g. secret/data/app)"
    }
}

pub(super) fn header_refs<'a>(h: &'a [(&'static str, Vec<u8>)]) -> Vec<(&'static str, &'a [u8])> {
    h.iter().map(|(k, v)| (*k, v.as_slice())).collect()
}

/// A JSON object of string fields, built straight into a zeroized buffer (public for the fuzz
/// target, which checks it parses back to the same strings).
pub fn json_body(fields: &[(&str, &Secret)]) -> Secret {
    let cap: usize = fields
        .iter()
        .map(|(k, v)| k.len() + v.len() * 6 + 8)
        .sum::<usize>()
        + 2;
    let mut out = Zeroizing::new(Vec::with_capacity(cap));
    out.push(b'{');
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_string(&mut out, k.as_bytes());
        out.push(b':');
        json_string(&mut out, v.expose());
    }
    out.push(b'}');
    Secret::new(std::mem::take(&mut *out))
}

/// Appends `s` as a JSON string (UTF-8 passed through, controls, quotes and backslashes escaped).
pub(super) fn json_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0..=0x1f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

pub(super) fn duplicate_key(e: &serde_json::Error) -> Error {
    Error::new(
        Kind::Data,
        format!("answer is not usable: {e}; refusing to pick one"),
    )
}

/// The first error string of a Vault error body, sanitised and shortened; or the bare status.
pub(super) fn status_text(status: u16, body: &Secret) -> String {
    let first = serde_json::from_slice::<Value>(body.expose())
        .ok()
        .and_then(|v| {
            v.get("errors")?
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .map(|s| s.trim().replace(['\n', '\t'], " "))
                .find(|s| !s.is_empty())
        });
    match first {
        Some(e) => format!("HTTP {status}: {}", http::service_text(&e)),
        None => format!("HTTP {status}"),
    }
}

pub(super) fn not_found_text(body: Option<&Value>, version: Option<u64>) -> String {
    let meta = body.and_then(|b| b.pointer("/data/metadata"));
    let which = match (
        version,
        meta.and_then(|m| m.get("version")).and_then(Value::as_u64),
    ) {
        (Some(v), _) | (None, Some(v)) => format!("version {v}"),
        (None, None) => "the current version".into(),
    };
    if let Some(m) = meta {
        if m.get("destroyed").and_then(Value::as_bool) == Some(true) {
            return format!("KV v2 {which} is destroyed (its data is gone; pin another version)");
        }
        if let Some(t) = m
            .get("deletion_time")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            return format!(
                "KV v2 {which} was deleted at {} (undelete it, or pin another version)",
                crate::log::escape_controls(t)
            );
        }
        if version.is_some() {
            return format!("KV v2 {which} does not exist at this path");
        }
    }
    "no secret at this path (HTTP 404)".into()
}

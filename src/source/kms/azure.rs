//! Azure Key Vault keys: `POST /keys/NAME/VERSION/unwrapkey` and `wrapkey` with RSA-OAEP-256 (as
//! sops' `azure_kv` keys), through the azure source's client and token chain. The token is for
//! the vault's own cloud (`https://vault.azure.net`, or a sovereign cloud's suffix); the request
//! goes to the key's vault, or to `secret_init.azure.endpoint` when one is set. Values are
//! base64url without padding, as Key Vault writes them; the answer's `kid` must be the key
//! version asked for.

use serde_json::Value;
use zeroize::Zeroizing;

use super::{KmsClients, KmsKey, MAX_ANSWER};
use crate::error::{Error, Kind};
use crate::http;
use crate::secret::Secret;
use crate::source::azure::AzureSource;

/// The wrapping algorithm (sops' `azkv` keys use it too).
pub(crate) const ALGORITHM: &str = "RSA-OAEP-256";

/// The azure client built for keys, on first use.
#[derive(Default)]
pub(super) struct Clients {
    source: Option<AzureSource>,
}

/// The error of a refused key operation: 401/403 77, 404 69, a value the key does not unwrap
/// (400) 65, the rest 69.
fn refused(status: u16, body: &Secret) -> Error {
    let json = serde_json::from_slice::<Value>(body.expose()).ok();
    let err = json.as_ref().and_then(|j| j.get("error"));
    let mut what = format!("HTTP {status}");
    if let Some(c) = err.and_then(|e| e.get("code")).and_then(Value::as_str) {
        what.push_str(&format!(" {}", http::service_text(c)));
    }
    if let Some(m) = err.and_then(|e| e.get("message")).and_then(Value::as_str) {
        what.push_str(&format!(": {}", http::service_text(m)));
    }
    let kind = match status {
        401 | 403 => Kind::Permission,
        400 => Kind::Data,
        _ => Kind::Unavailable,
    };
    Error::new(kind, what)
}

/// Interprets a `wrapkey` or `unwrapkey` answer for key version `kid`, with no I/O: the
/// decoded `value`.
pub fn parse_key_result(
    status: u16,
    body: &Secret,
    kid: &str,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    use base64::Engine;
    if status != 200 {
        return Err(refused(status, body));
    }
    let Ok(Value::Object(mut o)) = serde_json::from_slice::<Value>(body.expose()) else {
        return Err(Error::new(Kind::Unavailable, "answer is not a JSON object"));
    };
    let answered = o.get("kid").and_then(Value::as_str).unwrap_or_default();
    // A kid names the vault by its URL: compare the path, which an endpoint does not change.
    let path = |k: &str| {
        k.trim_start_matches("https://")
            .split_once('/')
            .map(|(_, p)| p.to_string())
            .unwrap_or_default()
    };
    if path(answered) != path(kid) {
        return Err(Error::new(
            Kind::Data,
            format!(
                "Key Vault answered for another key ({})",
                crate::log::escape_controls(answered)
            ),
        ));
    }
    let Some(Value::String(v)) = o.remove("value") else {
        return Err(Error::new(Kind::Unavailable, "answer has no value"));
    };
    let v = Zeroizing::new(v);
    let mut out = Zeroizing::new(Vec::new());
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode_vec(v.trim_end_matches('=').as_bytes(), &mut out)
        .map_err(|_| Error::new(Kind::Unavailable, "answer's value is not base64url"))?;
    Ok(out)
}

impl Clients {
    fn call(
        &mut self,
        key: &KmsKey,
        op: &str,
        value: &[u8],
        with: &KmsClients,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        use base64::Engine;
        let KmsKey::Azure {
            vault_url,
            name,
            version,
        } = key
        else {
            return Err(Error::new(Kind::Config, "not an Azure key"));
        };
        let source = self.source.get_or_insert_with(|| {
            AzureSource::new(
                with.azure.clone(),
                with.env.clone(),
                with.outputs.clone(),
                MAX_ANSWER,
            )
        });
        let mut body = String::with_capacity(value.len() * 4 / 3 + 64);
        body.push_str(&format!("{{\"alg\":\"{ALGORITHM}\",\"value\":\""));
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(value, &mut body);
        body.push_str("\"}");
        let path = format!("/keys/{name}/{version}");
        let resp = source.key_operation(vault_url, &path, op, &Secret::new(body.into_bytes()))?;
        parse_key_result(resp.status, &resp.body, &format!("{vault_url}{path}"))
    }

    pub(super) fn unwrap(
        &mut self,
        key: &KmsKey,
        wrapped: &[u8],
        with: &KmsClients,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.call(key, "unwrapkey", wrapped, with)
    }

    pub(super) fn wrap(
        &mut self,
        key: &KmsKey,
        data_key: &[u8],
        with: &KmsClients,
    ) -> Result<Vec<u8>, Error> {
        Ok(self.call(key, "wrapkey", data_key, with)?.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::text as s;

    const KID: &str = "https://kv1.vault.azure.net/keys/k/0123abcd";

    #[test]
    fn answers() {
        let ok = format!(r#"{{"kid":"{KID}","value":"aGVsbG8"}}"#);
        assert_eq!(&*parse_key_result(200, &s(&ok), KID).expect("ok"), b"hello");
        let other = ok.replace("/k/", "/x/");
        assert_eq!(
            parse_key_result(200, &s(&other), KID)
                .expect_err("other")
                .exit_code(),
            65
        );
        for (status, code) in [(400, 65), (401, 77), (403, 77), (404, 69), (500, 69)] {
            let body = r#"{"error":{"code":"BadParameter","message":"m"}}"#;
            let e = parse_key_result(status, &s(body), KID).expect_err("status");
            assert_eq!(e.exit_code(), code, "{status}: {e}");
            assert!(e.what.contains("BadParameter"), "{e}");
        }
    }
}

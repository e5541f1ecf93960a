//! Vault/OpenBao transit keys: `MOUNT/decrypt/NAME` and `MOUNT/encrypt/NAME` through the vault
//! source's client, logged in with its configured method (the same address, namespace, CA,
//! client certificate, retries and deadline). The wrapped form is transit's own text,
//! `vault:vN:...`; plaintext goes both ways as base64, as transit requires.
//!
//! The token goes to the configured vault only. A key's recorded address (sops' `vault_address`)
//! is never used as a destination: a file names the key, not where our token may be sent.

use serde_json::Value;
use zeroize::Zeroizing;

use super::{KmsClients, KmsKey};
use crate::error::{Error, Kind};
use crate::secret::Secret;
use crate::source::vault::client::{Vault, answer};

/// The vault client once logged in, or the failure to log in (reported for every key).
#[derive(Default)]
pub(super) struct Clients {
    vault: Option<Result<Vault, Error>>,
}

impl Clients {
    fn vault(&mut self, key: &KmsKey, with: &KmsClients) -> Result<&mut Vault, Error> {
        let settings = with.vault.as_ref().ok_or_else(|| {
            let recorded = match key {
                KmsKey::Transit {
                    address: Some(a), ..
                } => format!(" (the key was written at {})", crate::url::redact_url(a)),
                _ => String::new(),
            };
            Error::new(
                Kind::Config,
                format!("no vault configured for a transit key: set VAULT_ADDR (or BAO_ADDR, secret_init.vault.address){recorded}"),
            )
        })?;
        let vault = self.vault.get_or_insert_with(|| {
            let mut v = Vault::new(settings, &with.env);
            v.login(&settings.auth, &with.env).map(|()| v)
        });
        match vault {
            Ok(v) => Ok(v),
            Err(e) => Err(e.clone()),
        }
    }

    /// One call to `MOUNT/VERB/NAME` with `body`: the answer's `data` object.
    fn call(
        &mut self,
        key: &KmsKey,
        verb: &str,
        body: &Secret,
        with: &KmsClients,
    ) -> Result<serde_json::Map<String, Value>, Error> {
        let KmsKey::Transit {
            mount, key_name, ..
        } = key
        else {
            return Err(Error::new(Kind::Config, "not a transit key"));
        };
        let path = format!("{mount}/{verb}/{key_name}");
        let src = format!("vault:{path}");
        let resp = self.vault(key, with)?.call(&path, Some(body), &src)?;
        let mut v = answer(resp.status, &resp.body, &src).map_err(|mut e| {
            // 400: transit refused the input (a ciphertext not of this key, or damaged).
            if resp.status == 400 {
                e.kind = Kind::Data;
            }
            e.source = None;
            e
        })?;
        match v.get_mut("data").map(Value::take) {
            Some(Value::Object(data)) => Ok(data),
            _ => Err(Error::new(Kind::Unavailable, "answer has no data object")),
        }
    }

    pub(super) fn unwrap(
        &mut self,
        key: &KmsKey,
        wrapped: &[u8],
        with: &KmsClients,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        use base64::Engine;
        let text = std::str::from_utf8(wrapped)
            .ok()
            .filter(|t| t.starts_with("vault:v"))
            .ok_or_else(|| {
                Error::new(
                    Kind::Data,
                    "the wrapped key is not transit ciphertext (vault:vN:...)",
                )
            })?;
        let body = serde_json::json!({ "ciphertext": text }).to_string();
        let mut data = self.call(key, "decrypt", &Secret::new(body.into_bytes()), with)?;
        let Some(Value::String(plain)) = data.remove("plaintext") else {
            return Err(Error::new(Kind::Unavailable, "answer has no plaintext"));
        };
        let plain = Zeroizing::new(plain);
        let mut out = Zeroizing::new(Vec::new());
        base64::engine::general_purpose::STANDARD
            .decode_vec(plain.as_bytes(), &mut out)
            .map_err(|_| Error::new(Kind::Unavailable, "answer's plaintext is not base64"))?;
        Ok(out)
    }

    pub(super) fn wrap(
        &mut self,
        key: &KmsKey,
        data_key: &[u8],
        with: &KmsClients,
    ) -> Result<Vec<u8>, Error> {
        use base64::Engine;
        let mut body = String::with_capacity(data_key.len() * 4 / 3 + 32);
        body.push_str("{\"plaintext\":\"");
        base64::engine::general_purpose::STANDARD.encode_string(data_key, &mut body);
        body.push_str("\"}");
        let mut data = self.call(key, "encrypt", &Secret::new(body.into_bytes()), with)?;
        match data.remove("ciphertext") {
            Some(Value::String(c)) if c.starts_with("vault:v") => Ok(c.into_bytes()),
            _ => Err(Error::new(
                Kind::Unavailable,
                "answer has no ciphertext (vault:vN:...)",
            )),
        }
    }
}

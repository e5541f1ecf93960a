//! GCP Cloud KMS keys: cloudkms v1 `RESOURCE:decrypt` and `RESOURCE:encrypt` through the gcp
//! source's client and token chain, at `secret_init.gcp.kms_endpoint`, else the gcloud override
//! `CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS`, else `https://cloudkms.googleapis.com` (token URLs
//! are then checked against that endpoint, as they are against Secret Manager's).
//!
//! Both directions carry CRC32C checksums, as Google's client libraries do: the request's
//! (`ciphertextCrc32c`, `plaintextCrc32c`) must come back verified, and the answer's own
//! must match what it holds, so a damaged or substituted answer is refused (65). An `:encrypt`
//! answer must name a version of the key asked for.

use serde_json::Value;
use zeroize::Zeroizing;

use super::{KmsClients, MAX_ANSWER};
use crate::error::{Error, Kind};
use crate::secret::Secret;
use crate::source::gcp::GcpSource;
use crate::source::gcp::client::status_error;
use crate::source::gcp::config::{KMS_ENDPOINT, checked_endpoint};
use crate::source::gcp::crc32c::crc32c;

/// The gcloud setting that replaces the Cloud KMS endpoint.
pub(crate) const ENDPOINT_VAR: &str = "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS";

/// The gcp client built for keys (or the refusal of its endpoint), on first use.
#[derive(Default)]
pub(super) struct Clients {
    source: Option<Result<GcpSource, Error>>,
}

/// A proto3 JSON int64 (a string, or a number) as u32 CRC32C.
fn crc_field(o: &serde_json::Map<String, Value>, name: &str) -> Result<Option<u32>, Error> {
    let bad = || Error::new(Kind::Data, format!("answer's {name} is not a CRC32C"));
    match o.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => s.parse::<u32>().map(Some).map_err(|_| bad()),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(bad),
        Some(_) => Err(bad()),
    }
}

/// The base64 field `name` of an answer, decoded into a wiping buffer, and checked against the
/// answer's `crc_name` when it has one.
fn decoded(
    o: &mut serde_json::Map<String, Value>,
    name: &str,
    crc_name: &str,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    use base64::Engine;
    let crc = crc_field(o, crc_name)?;
    let Some(Value::String(text)) = o.remove(name) else {
        return Err(Error::new(
            Kind::Unavailable,
            format!("answer has no {name}"),
        ));
    };
    let text = Zeroizing::new(text);
    let mut out = Zeroizing::new(Vec::new());
    base64::engine::general_purpose::STANDARD
        .decode_vec(text.as_bytes(), &mut out)
        .map_err(|_| Error::new(Kind::Unavailable, format!("answer's {name} is not base64")))?;
    if crc.is_some_and(|c| c != crc32c(&out)) {
        return Err(Error::new(
            Kind::Data,
            format!("answer's {name} does not match its {crc_name}: damaged in transit"),
        ));
    }
    Ok(out)
}

/// The object of a 200 answer; a non-200 is the gcp source's error, a 400 to `:decrypt` (a
/// ciphertext this key did not make) 65.
fn object(
    status: u16,
    body: &Secret,
    decrypting: bool,
) -> Result<serde_json::Map<String, Value>, Error> {
    if status != 200 {
        let mut e = status_error(status, body.expose());
        if decrypting && status == 400 {
            e.kind = Kind::Data;
        }
        return Err(e);
    }
    match serde_json::from_slice::<Value>(body.expose()) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(Error::new(Kind::Unavailable, "answer is not a JSON object")),
    }
}

/// Interprets a `:decrypt` answer, with no I/O.
pub fn parse_decrypt(status: u16, body: &Secret) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut o = object(status, body, true)?;
    if o.get("verifiedCiphertextCrc32c") == Some(&Value::Bool(false)) {
        return Err(Error::new(
            Kind::Data,
            "Cloud KMS did not verify the ciphertext's CRC32C: damaged in transit",
        ));
    }
    decoded(&mut o, "plaintext", "plaintextCrc32c")
}

/// Interprets an `:encrypt` answer for `resource`, with no I/O.
pub fn parse_encrypt(status: u16, body: &Secret, resource: &str) -> Result<Vec<u8>, Error> {
    let mut o = object(status, body, false)?;
    let name = o.get("name").and_then(Value::as_str).unwrap_or_default();
    if !name.starts_with(&format!("{resource}/cryptoKeyVersions/")) {
        return Err(Error::new(
            Kind::Data,
            format!(
                "Cloud KMS answered for another key ({})",
                crate::log::escape_controls(name)
            ),
        ));
    }
    if o.get("verifiedPlaintextCrc32c") != Some(&Value::Bool(true)) {
        return Err(Error::new(
            Kind::Data,
            "Cloud KMS did not verify the plaintext's CRC32C: damaged in transit",
        ));
    }
    Ok(decoded(&mut o, "ciphertext", "ciphertextCrc32c")?.to_vec())
}

impl Clients {
    fn source(&mut self, with: &KmsClients) -> Result<&mut GcpSource, Error> {
        let source = self.source.get_or_insert_with(|| {
            let endpoint = match &with.gcp.kms_endpoint {
                Some(e) => e.clone(),
                None => match with.env.text(ENDPOINT_VAR).filter(|v| !v.is_empty()) {
                    Some(e) => checked_endpoint(&e, ENDPOINT_VAR, KMS_ENDPOINT)?,
                    None => KMS_ENDPOINT.to_string(),
                },
            };
            let mut settings = with.gcp.clone();
            settings.endpoint = endpoint;
            Ok(GcpSource::new(
                settings,
                with.env.clone(),
                with.outputs.clone(),
                MAX_ANSWER,
            ))
        });
        match source {
            Ok(s) => Ok(s),
            Err(e) => Err(e.clone()),
        }
    }

    pub(super) fn unwrap(
        &mut self,
        resource: &str,
        wrapped: &[u8],
        with: &KmsClients,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        use base64::Engine;
        let body = serde_json::json!({
            "ciphertext": base64::engine::general_purpose::STANDARD.encode(wrapped),
            "ciphertextCrc32c": crc32c(wrapped).to_string(),
        })
        .to_string();
        let resp =
            self.source(with)?
                .kms_call(resource, "decrypt", &Secret::new(body.into_bytes()))?;
        parse_decrypt(resp.status, &resp.body)
    }

    pub(super) fn wrap(
        &mut self,
        resource: &str,
        data_key: &[u8],
        with: &KmsClients,
    ) -> Result<Vec<u8>, Error> {
        use base64::Engine;
        let mut body = String::with_capacity(data_key.len() * 4 / 3 + 64);
        body.push_str("{\"plaintext\":\"");
        base64::engine::general_purpose::STANDARD.encode_string(data_key, &mut body);
        body.push_str(&format!(
            "\",\"plaintextCrc32c\":\"{}\"}}",
            crc32c(data_key)
        ));
        let resp =
            self.source(with)?
                .kms_call(resource, "encrypt", &Secret::new(body.into_bytes()))?;
        parse_encrypt(resp.status, &resp.body, resource)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::text as s;

    const KEY: &str = "projects/p/locations/global/keyRings/r/cryptoKeys/k";

    #[test]
    fn answers() {
        // crc32c("hello") = 2591144780 (the Secret Manager tests' value).
        let ok = r#"{"plaintext":"aGVsbG8=","plaintextCrc32c":"2591144780"}"#;
        assert_eq!(&*parse_decrypt(200, &s(ok)).expect("ok"), b"hello");
        let bad = r#"{"plaintext":"aGVsbG8=","plaintextCrc32c":"1"}"#;
        assert_eq!(
            parse_decrypt(200, &s(bad)).expect_err("crc").exit_code(),
            65
        );
        let unverified = r#"{"plaintext":"aGVsbG8=","verifiedCiphertextCrc32c":false}"#;
        assert_eq!(
            parse_decrypt(200, &s(unverified))
                .expect_err("v")
                .exit_code(),
            65
        );
        let refused = r#"{"error":{"status":"INVALID_ARGUMENT","message":"Decryption failed"}}"#;
        assert_eq!(
            parse_decrypt(400, &s(refused))
                .expect_err("400")
                .exit_code(),
            65
        );
        let denied = r#"{"error":{"status":"PERMISSION_DENIED","message":"no"}}"#;
        assert_eq!(
            parse_decrypt(403, &s(denied)).expect_err("403").exit_code(),
            77
        );
        assert_eq!(parse_decrypt(503, &s("")).expect_err("503").exit_code(), 69);
        let enc = format!(
            r#"{{"name":"{KEY}/cryptoKeyVersions/1","ciphertext":"aGVsbG8=","ciphertextCrc32c":"2591144780","verifiedPlaintextCrc32c":true}}"#
        );
        assert_eq!(parse_encrypt(200, &s(&enc), KEY).expect("ok"), b"hello");
        let other = enc.replace("cryptoKeys/k/", "cryptoKeys/x/");
        assert_eq!(
            parse_encrypt(200, &s(&other), KEY)
                .expect_err("other")
                .exit_code(),
            65
        );
        let unverified = enc.replace("true", "false");
        assert_eq!(
            parse_encrypt(200, &s(&unverified), KEY)
                .expect_err("v")
                .exit_code(),
            65
        );
    }
}

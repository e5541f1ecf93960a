//! Key Management Service: `Decrypt` and `Encrypt` (JSON 1.1, `TrentService.*`), for the data
//! keys that sops files and bundles keep wrapped under a KMS key ([`crate::source::kms`]).
//!
//! The plaintext data key travels only in zeroizing buffers: the request body of `Encrypt` is
//! built by hand into one, and the answer of `Decrypt` is decoded into one. The answer's `KeyId`
//! must be the key that was asked for (a KMS, or something in its place, that answers for another
//! key is refused).

use serde_json::Value;
use zeroize::Zeroizing;

use super::{Api, Call, Clients, error_code, status_error};
use crate::error::{Error, Kind};
use crate::secret::Secret;
use crate::source::aws::config::Service;
use crate::source::aws::sigv4::Credentials;

const DECRYPT: Api = (Service::Kms, "TrentService.Decrypt");
const ENCRYPT: Api = (Service::Kms, "TrentService.Encrypt");

/// Error codes of a ciphertext that is not this key's, or damaged: 65.
const BAD_CIPHERTEXT: &[&str] = &["InvalidCiphertextException", "IncorrectKeyException"];

/// One KMS call's key: its ARN and the encryption context bound into the ciphertext.
pub(crate) struct KmsTarget<'a> {
    /// The key's (or alias') ARN.
    pub arn: &'a str,
    /// The encryption context, in order.
    pub context: &'a [(String, String)],
}

impl KmsTarget<'_> {
    /// `"KeyId":…,"EncryptionContext":{…}` (without braces), JSON-escaped.
    fn fields(&self) -> String {
        let mut ctx = serde_json::Map::new();
        for (k, v) in self.context {
            ctx.insert(k.clone(), Value::String(v.clone()));
        }
        let mut out = format!("\"KeyId\":{}", Value::String(self.arn.to_string()));
        if !ctx.is_empty() {
            out.push_str(&format!(",\"EncryptionContext\":{}", Value::Object(ctx)));
        }
        out
    }
}

impl Clients {
    /// `Decrypt`: the data key inside `blob` (a `CiphertextBlob`).
    pub(crate) fn kms_decrypt(
        &mut self,
        endpoint: &str,
        region: &str,
        key: &KmsTarget<'_>,
        blob: &[u8],
        creds: &Credentials,
        now: u64,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        use base64::Engine;
        let body = format!(
            "{{{},\"CiphertextBlob\":\"{}\"}}",
            key.fields(),
            base64::engine::general_purpose::STANDARD.encode(blob)
        );
        let call = Call::new(DECRYPT, endpoint, region, creds, now);
        let resp = self.json_call(call, body.as_bytes())?;
        parse_decrypt(resp.status, &resp.body, key.arn)
    }

    /// `Encrypt`: `data_key` wrapped under the key, as the `CiphertextBlob` bytes.
    pub(crate) fn kms_encrypt(
        &mut self,
        endpoint: &str,
        region: &str,
        key: &KmsTarget<'_>,
        data_key: &[u8],
        creds: &Credentials,
        now: u64,
    ) -> Result<Vec<u8>, Error> {
        use base64::Engine;
        let mut body = Zeroizing::new(format!("{{{},\"Plaintext\":\"", key.fields()));
        base64::engine::general_purpose::STANDARD.encode_string(data_key, &mut body);
        body.push_str("\"}");
        let call = Call::new(ENCRYPT, endpoint, region, creds, now);
        let resp = self.json_call(call, body.as_bytes())?;
        parse_encrypt(resp.status, &resp.body, key.arn)
    }
}

/// The error of a failed KMS call: a ciphertext that is not the key's is 65, the rest as any
/// AWS answer (77 refused, 69 unavailable).
fn kms_error(status: u16, body: &[u8]) -> Error {
    let mut e = status_error(status, body);
    if error_code(body).is_some_and(|c| BAD_CIPHERTEXT.contains(&c.as_str())) {
        e.kind = Kind::Data;
    }
    e
}

/// The answer's object, and the check that its `KeyId` is the key asked for: the same ARN, or
/// for an alias a key of the alias' partition, region and account.
fn keyed_answer(
    status: u16,
    body: &Secret,
    arn: &str,
) -> Result<serde_json::Map<String, Value>, Error> {
    if status != 200 {
        return Err(kms_error(status, body.expose()));
    }
    let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body.expose()) else {
        return Err(Error::new(Kind::Unavailable, "answer is not a JSON object"));
    };
    let answered = o.get("KeyId").and_then(Value::as_str).unwrap_or_default();
    let same = match arn.split_once(":alias/") {
        Some((head, _)) => answered.starts_with(&format!("{head}:key/")),
        None => answered == arn,
    };
    if !same {
        return Err(Error::new(
            Kind::Data,
            format!(
                "KMS answered for another key ({})",
                crate::log::escape_controls(answered)
            ),
        ));
    }
    Ok(o)
}

/// Interprets a `Decrypt` answer for key `arn`, with no I/O.
pub fn parse_decrypt(status: u16, body: &Secret, arn: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    use base64::Engine;
    let mut o = keyed_answer(status, body, arn)?;
    let Some(Value::String(text)) = o.remove("Plaintext") else {
        return Err(Error::new(Kind::Unavailable, "answer has no Plaintext"));
    };
    let text = Zeroizing::new(text);
    let mut out = Zeroizing::new(Vec::new());
    base64::engine::general_purpose::STANDARD
        .decode_vec(text.as_bytes(), &mut out)
        .map_err(|_| Error::new(Kind::Unavailable, "answer's Plaintext is not base64"))?;
    Ok(out)
}

/// Interprets an `Encrypt` answer for key `arn`, with no I/O.
pub fn parse_encrypt(status: u16, body: &Secret, arn: &str) -> Result<Vec<u8>, Error> {
    use base64::Engine;
    let o = keyed_answer(status, body, arn)?;
    let blob = o
        .get("CiphertextBlob")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::new(Kind::Unavailable, "answer has no CiphertextBlob"))?;
    base64::engine::general_purpose::STANDARD
        .decode(blob)
        .map_err(|_| Error::new(Kind::Unavailable, "answer's CiphertextBlob is not base64"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::text as s;

    const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn answers() {
        let ok = format!(r#"{{"KeyId":"{ARN}","Plaintext":"AAEC"}}"#);
        assert_eq!(
            *parse_decrypt(200, &s(&ok), ARN).expect("ok"),
            vec![0, 1, 2]
        );
        let alias = "arn:aws:kms:us-east-1:111122223333:alias/app";
        assert!(parse_decrypt(200, &s(&ok), alias).is_ok());
        let other = ok.replace("1234abcd", "9999abcd");
        let e = parse_decrypt(200, &s(&other), ARN).expect_err("another key");
        assert_eq!(e.exit_code(), 65, "{e}");
        assert!(e.what.contains("another key"), "{e}");
        for (body, code) in [
            (r#"{"__type":"InvalidCiphertextException"}"#, 65),
            (r#"{"__type":"IncorrectKeyException"}"#, 65),
            (r#"{"__type":"AccessDeniedException","message":"no"}"#, 77),
            (r#"{"__type":"DisabledException"}"#, 69),
            (r#"{"__type":"NotFoundException"}"#, 69),
        ] {
            let e = parse_decrypt(400, &s(body), ARN).expect_err(body);
            assert_eq!(e.exit_code(), code, "{body}: {e}");
        }
        let enc = format!(r#"{{"KeyId":"{ARN}","CiphertextBlob":"AQID"}}"#);
        assert_eq!(
            parse_encrypt(200, &s(&enc), ARN).expect("ok"),
            vec![1, 2, 3]
        );
        assert!(parse_encrypt(200, &s(r#"{"KeyId":"x"}"#), ARN).is_err());
        let t = KmsTarget {
            arn: ARN,
            context: &[("a".into(), "b\"".into())],
        };
        let v: Value = serde_json::from_str(&format!("{{{}}}", t.fields())).expect("json");
        assert_eq!(v["EncryptionContext"]["a"], "b\"");
    }
}

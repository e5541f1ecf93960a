//! Secrets Manager: `GetSecretValue` and `BatchGetSecretValue`, and the readers of their answers.

use serde_json::Value;

use super::{
    Api, Batch, Call, Clients, Item, Stored, batch_answer, entries, not_found_or_error, text_field,
};
use crate::error::{Error, Kind};
use crate::secret::Secret;
use crate::source::aws::config::Service;
use crate::source::aws::sigv4::Credentials;
use crate::source::remote::Versioned;

/// Ids per `BatchGetSecretValue` call (the API's maximum).
pub(crate) const BATCH_SECRETS: usize = 20;

const GET_SECRET_VALUE: Api = (Service::SecretsManager, "secretsmanager.GetSecretValue");
const BATCH_GET_SECRET_VALUE: Api = (
    Service::SecretsManager,
    "secretsmanager.BatchGetSecretValue",
);

impl Clients {
    /// Reads a Secrets Manager secret.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn get_secret_value(
        &mut self,
        endpoint: &str,
        region: &str,
        id: &str,
        version: Option<&str>,
        creds: &Credentials,
        now: u64,
    ) -> Result<Option<Versioned<Stored>>, Error> {
        let mut req = serde_json::Map::new();
        req.insert("SecretId".into(), Value::String(id.into()));
        if let Some(v) = version {
            let field = if crate::reference::aws::AwsRef::version_is_id(v) {
                "VersionId"
            } else {
                "VersionStage"
            };
            req.insert(field.into(), Value::String(v.into()));
        }
        let call = Call::new(GET_SECRET_VALUE, endpoint, region, creds, now);
        self.read(call, &Value::Object(req), |status, body| {
            let version = serde_json::from_slice::<Value>(body.expose())
                .ok()
                .and_then(|v| v["VersionId"].as_str().map(str::to_string));
            Ok(parse_secret_value(status, body)?.map(|value| Versioned { value, version }))
        })
    }

    /// `BatchGetSecretValue` of at most [`BATCH_SECRETS`] ids, every page (`NextToken`). A
    /// throttled batch is not retried: its quota is a hundredth of `GetSecretValue`'s (100
    /// against 10,000 requests a second), so the caller reads the ids one by one instead.
    pub(crate) fn batch_get_secret_value(
        &mut self,
        endpoint: &str,
        region: &str,
        ids: &[String],
        creds: &Credentials,
        now: u64,
    ) -> Result<Batch, Error> {
        let call = Call::new(BATCH_GET_SECRET_VALUE, endpoint, region, creds, now);
        let request = serde_json::json!({ "SecretIdList": ids });
        self.client(endpoint).retry_throttling(false);
        let batch = self.pages(call, request, parse_batch_secrets);
        self.client(endpoint).retry_throttling(true);
        batch
    }
}

/// Interprets a `GetSecretValue` answer, with no I/O (the fuzz target calls it).
/// `Ok(None)` when the secret (or the pinned version) does not exist.
pub fn parse_secret_value(status: u16, body: &Secret) -> Result<Option<Stored>, Error> {
    if status != 200 {
        return not_found_or_error(status, body);
    }
    let Ok(Value::Object(mut o)) = serde_json::from_slice::<Value>(body.expose()) else {
        return Err(Error::new(Kind::Unavailable, "answer is not a JSON object"));
    };
    if let Some(Value::String(s)) = o.remove("SecretString") {
        return Ok(Some(Stored::Text(Secret::new(s.into_bytes()))));
    }
    if let Some(Value::String(b)) = o.remove("SecretBinary") {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b.as_bytes())
            .map_err(|_| Error::new(Kind::Data, "SecretBinary is not valid base64"))?;
        return Ok(Some(Stored::Binary(Secret::new(bytes))));
    }
    Err(Error::new(
        Kind::Unavailable,
        "answer has neither SecretString nor SecretBinary",
    ))
}

/// Interprets a `BatchGetSecretValue` answer, with no I/O (the fuzz target calls it). Every
/// entry of `SecretValues` needs a `Name` and a `SecretString` or `SecretBinary`.
pub fn parse_batch_secrets(status: u16, body: &Secret) -> Result<Batch, Error> {
    let (mut o, mut batch) = batch_answer(status, body)?;
    for mut e in entries(&mut o, "SecretValues")? {
        let name = text_field(&mut e, "Name")
            .ok_or_else(|| Error::new(Kind::Unavailable, "a SecretValues entry has no Name"))?;
        let arn = text_field(&mut e, "ARN");
        let version = text_field(&mut e, "VersionId");
        let one = Secret::new(Value::Object(e).to_string().into_bytes());
        let value = parse_secret_value(200, &one)?
            .ok_or_else(|| Error::new(Kind::Unavailable, "a SecretValues entry has no value"))?;
        batch.values.push(Item {
            name,
            arn,
            value,
            version,
        });
    }
    for mut e in entries(&mut o, "Errors")? {
        let id = text_field(&mut e, "SecretId").unwrap_or_default();
        let code = text_field(&mut e, "ErrorCode").unwrap_or_default();
        batch.errors.push((id, code));
    }
    Ok(batch)
}

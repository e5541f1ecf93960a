//! Parameter Store: `GetParameter`, `GetParameters` and `GetParametersByPath`, and the readers
//! of their answers.

use serde_json::Value;

use super::{
    Api, Batch, Call, Clients, Item, Stored, batch_answer, entries, not_found_or_error, text_field,
};
use crate::error::{Error, Kind};
use crate::secret::Secret;
use crate::source::aws::config::Service;
use crate::source::aws::sigv4::Credentials;
use crate::source::remote::Versioned;

/// Names per `GetParameters` call, and results per `GetParametersByPath` page (the maxima).
pub(crate) const BATCH_PARAMETERS: usize = 10;

const GET_PARAMETER: Api = (Service::Ssm, "AmazonSSM.GetParameter");
const GET_PARAMETERS: Api = (Service::Ssm, "AmazonSSM.GetParameters");
const GET_PARAMETERS_BY_PATH: Api = (Service::Ssm, "AmazonSSM.GetParametersByPath");

impl Clients {
    /// Reads a parameter, decrypted (`WithDecryption`).
    pub(crate) fn get_parameter(
        &mut self,
        endpoint: &str,
        region: &str,
        name: &str,
        creds: &Credentials,
        now: u64,
    ) -> Result<Option<Versioned<Stored>>, Error> {
        let call = Call::new(GET_PARAMETER, endpoint, region, creds, now);
        let request = serde_json::json!({"Name": name, "WithDecryption": true});
        self.read(call, &request, |status, body| {
            let version = serde_json::from_slice::<Value>(body.expose())
                .ok()
                .and_then(|v| v["Parameter"]["Version"].as_u64())
                .map(|v| v.to_string());
            Ok(parse_parameter(status, body)?.map(|value| Versioned { value, version }))
        })
    }

    /// `GetParameters` of at most [`BATCH_PARAMETERS`] names, decrypted.
    pub(crate) fn get_parameters(
        &mut self,
        endpoint: &str,
        region: &str,
        names: &[String],
        creds: &Credentials,
        now: u64,
    ) -> Result<Batch, Error> {
        let call = Call::new(GET_PARAMETERS, endpoint, region, creds, now);
        let request = serde_json::json!({"Names": names, "WithDecryption": true});
        self.read(call, &request, parse_parameters)
    }

    /// Every parameter under `path` (recursive, decrypted), `GetParametersByPath` paged with
    /// `NextToken`, [`BATCH_PARAMETERS`] a page (the API's maximum).
    pub(crate) fn get_parameters_by_path(
        &mut self,
        endpoint: &str,
        region: &str,
        path: &str,
        creds: &Credentials,
        now: u64,
    ) -> Result<Vec<Item>, Error> {
        let call = Call::new(GET_PARAMETERS_BY_PATH, endpoint, region, creds, now);
        let request = serde_json::json!({
            "Path": path,
            "Recursive": true,
            "WithDecryption": true,
            "MaxResults": BATCH_PARAMETERS,
        });
        Ok(self.pages(call, request, parse_parameters)?.values)
    }
}

/// Interprets a `GetParameter` answer, with no I/O (the fuzz target calls it).
/// `Ok(None)` when the parameter (or the pinned version or label) does not exist.
pub fn parse_parameter(status: u16, body: &Secret) -> Result<Option<Stored>, Error> {
    if status != 200 {
        return not_found_or_error(status, body);
    }
    let Ok(Value::Object(mut o)) = serde_json::from_slice::<Value>(body.expose()) else {
        return Err(Error::new(Kind::Unavailable, "answer is not a JSON object"));
    };
    match o.remove("Parameter") {
        Some(Value::Object(mut p)) => match p.remove("Value") {
            Some(Value::String(v)) => Ok(Some(Stored::Text(Secret::new(v.into_bytes())))),
            _ => Err(Error::new(
                Kind::Unavailable,
                "answer has no Parameter.Value string",
            )),
        },
        _ => Err(Error::new(
            Kind::Unavailable,
            "answer has no Parameter object",
        )),
    }
}

/// Interprets a `GetParameters` or `GetParametersByPath` answer, with no I/O (the fuzz target
/// calls it): `Parameters` (each a `Name` and a `Value` string), `InvalidParameters` (as errors
/// with the code `ParameterNotFound`) and `NextToken`.
pub fn parse_parameters(status: u16, body: &Secret) -> Result<Batch, Error> {
    let (mut o, mut batch) = batch_answer(status, body)?;
    for mut p in entries(&mut o, "Parameters")? {
        let (Some(name), Some(value)) = (text_field(&mut p, "Name"), text_field(&mut p, "Value"))
        else {
            return Err(Error::new(
                Kind::Unavailable,
                "a Parameters entry has no Name and Value strings",
            ));
        };
        let version = p
            .get("Version")
            .and_then(Value::as_u64)
            .map(|v| v.to_string());
        batch.values.push(Item {
            name,
            arn: text_field(&mut p, "ARN"),
            value: Stored::Text(Secret::new(value.into_bytes())),
            version,
        });
    }
    if let Some(Value::Array(list)) = o.remove("InvalidParameters") {
        for v in list {
            if let Value::String(n) = v {
                batch.errors.push((n, "ParameterNotFound".into()));
            }
        }
    }
    Ok(batch)
}

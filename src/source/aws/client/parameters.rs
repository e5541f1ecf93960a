//! Parameter Store: `GetParameter`, `GetParameters` and `GetParametersByPath`, and the readers
//! of their answers.

use serde_json::Value;

use super::{
    Batch, Call, Clients, Item, Stored, batch_answer, entries, not_found_or_error, text_field,
};
use crate::error::{Error, Kind};
use crate::secret::Secret;
use crate::source::aws::config::Service;
use crate::source::aws::credentials::Credentials;

/// Names per `GetParameters` call, and results per `GetParametersByPath` page (the maxima).
pub const BATCH_PARAMETERS: usize = 10;

impl Clients {
    /// Reads a parameter, decrypted (`WithDecryption`).
    pub fn get_parameter(
        &mut self,
        endpoint: &str,
        region: &str,
        name: &str,
        creds: &Credentials,
        now: u64,
    ) -> Result<Option<Stored>, Error> {
        let call = Call {
            endpoint,
            service: Service::Ssm,
            region,
            target: "AmazonSSM.GetParameter",
            creds,
            now,
        };
        let body = serde_json::json!({"Name": name, "WithDecryption": true}).to_string();
        let resp = self.json_call(call, body.as_bytes())?;
        parse_parameter(resp.status, &resp.body)
    }

    /// `GetParameters` of at most [`BATCH_PARAMETERS`] names, decrypted.
    pub fn get_parameters(
        &mut self,
        endpoint: &str,
        region: &str,
        names: &[String],
        creds: &Credentials,
        now: u64,
    ) -> Result<Batch, Error> {
        let call = Call {
            endpoint,
            service: Service::Ssm,
            region,
            target: "AmazonSSM.GetParameters",
            creds,
            now,
        };
        let body = serde_json::json!({"Names": names, "WithDecryption": true}).to_string();
        let resp = self.json_call(call, body.as_bytes())?;
        parse_parameters(resp.status, &resp.body)
    }

    /// Every parameter under `path` (recursive, decrypted), `GetParametersByPath` paged with
    /// `NextToken`, [`BATCH_PARAMETERS`] a page (the API's maximum).
    pub fn get_parameters_by_path(
        &mut self,
        endpoint: &str,
        region: &str,
        path: &str,
        creds: &Credentials,
        now: u64,
    ) -> Result<Vec<Item>, Error> {
        let call = Call {
            endpoint,
            service: Service::Ssm,
            region,
            target: "AmazonSSM.GetParametersByPath",
            creds,
            now,
        };
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
        batch.values.push(Item {
            name,
            arn: text_field(&mut p, "ARN"),
            value: Stored::Text(Secret::new(value.into_bytes())),
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

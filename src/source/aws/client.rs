//! The AWS APIs as the aws source uses them: Secrets Manager (`GetSecretValue`,
//! `BatchGetSecretValue`; [`secrets`]) and Parameter Store (`GetParameter`, `GetParameters`,
//! `GetParametersByPath`; [`parameters`]), the JSON 1.1 protocol in SigV4-signed POSTs, and STS
//! `AssumeRoleWithWebIdentity` (an unsigned form POST answered in XML; [`sts`]), and IAM Identity
//! Center's `GetRoleCredentials` (an unsigned GET with the cached token; [`sso`]). This file is
//! what they share: the signed call, `NextToken` paging, the batch answer and the error mapping.
//!
//! Every request goes through one [`http::Client`] per endpoint, so the vault's policy applies:
//! verified TLS, plain http only to loopback, no redirects, a size cap, and connection errors,
//! 5xx and throttling (HTTP 429, or a 400 whose error code is a throttling code, as botocore's
//! retry handler reads them) retried with full-jitter backoff under one deadline. Access denied,
//! a bad signature, an unknown key and an expired token are 77 and never retried; a missing
//! secret or parameter is 69. Messages carry the error code and the service's own message
//! (controls escaped, shortened), never a body or a value.

mod kms;
mod parameters;
mod secrets;
mod sso;
mod sts;

use serde_json::Value;

use super::config::{AwsSettings, Service};
use super::sigv4;
use super::sigv4::Credentials;
use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::http;
use crate::secret::Secret;
pub(crate) use kms::KmsTarget;
pub use kms::{parse_decrypt as parse_kms_decrypt, parse_encrypt as parse_kms_encrypt};
pub(crate) use parameters::BATCH_PARAMETERS;
pub use parameters::{parse_parameter, parse_parameters};
pub(crate) use secrets::BATCH_SECRETS;
pub use secrets::{parse_batch_secrets, parse_secret_value};
pub use sso::parse_role_credentials;
pub use sts::{parse_assume_role, xml_text};

/// What a read returned: the value as stored.
#[derive(Debug)]
pub enum Stored {
    /// A `SecretString`, or a parameter's value.
    Text(Secret),
    /// A `SecretBinary` (decoded from base64).
    Binary(Secret),
}

/// HTTP clients, one per endpoint, all under the aws settings' policy.
pub(crate) struct Clients {
    pool: http::Pool,
}

/// Error codes botocore's standard retry mode treats as throttling.
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Error codes that mean the credentials or the signature were refused: 77, never retried.
const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "MissingAuthenticationToken",
    "AuthFailure",
    "InvalidAccessKeyId",
    "DecryptionFailure",
    "InvalidIdentityToken",
    "IDPRejectedClaim",
    "KMSAccessDeniedException",
];

/// Error codes of a missing secret, parameter or version: 69.
const NOT_FOUND: &[&str] = &[
    "ResourceNotFoundException",
    "ParameterNotFound",
    "ParameterVersionNotFound",
];

/// The bare error code of a body: JSON `__type` (maybe `namespace#Code`) or `code`, else XML
/// `<Code>`.
pub(crate) fn error_code(body: &[u8]) -> Option<String> {
    if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) {
        let t = o
            .get("__type")
            .or_else(|| o.get("code"))
            .or_else(|| o.get("Code"))
            .and_then(Value::as_str)?;
        let t = t.rsplit('#').next().unwrap_or(t);
        let t = t.split(':').next().unwrap_or(t);
        return Some(t.to_string());
    }
    xml_text(body, "Code").map(|c| String::from_utf8_lossy(c.expose()).into_owned())
}

fn error_message(body: &[u8]) -> Option<String> {
    let m = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => o
            .get("message")
            .or_else(|| o.get("Message"))
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => xml_text(body, "Message").map(|m| String::from_utf8_lossy(m.expose()).into_owned()),
    }?;
    let m = http::service_text(&m);
    (!m.is_empty()).then_some(m)
}

/// The throttling code of a non-2xx answer that is not a 429 (a 400 naming a throttling code),
/// for the client's throttling retries.
fn throttled_if(status: u16, body: &[u8]) -> Option<String> {
    if status != 400 {
        return None;
    }
    error_code(body)
        .filter(|c| THROTTLING.contains(&c.as_str()))
        .map(|c| crate::log::escape_controls(&c))
}

/// The error for a non-200 answer; `what` names the call in the message.
pub(crate) fn status_error(status: u16, body: &[u8]) -> Error {
    let code = error_code(body);
    let text = match (&code, error_message(body)) {
        (Some(c), Some(m)) => format!("HTTP {status} {}: {m}", crate::log::escape_controls(c)),
        (Some(c), None) => format!("HTTP {status} {}", crate::log::escape_controls(c)),
        (None, _) => format!("HTTP {status}"),
    };
    let code = code.unwrap_or_default();
    let kind = if NOT_FOUND.contains(&code.as_str()) {
        Kind::Unavailable
    } else if DENIED.contains(&code.as_str()) || status == 401 || status == 403 {
        Kind::Permission
    } else if matches!(
        code.as_str(),
        "ValidationException" | "InvalidParameterException" | "InvalidKeyId"
    ) {
        Kind::Config
    } else {
        Kind::Unavailable
    };
    Error::new(kind, text)
}

/// Whether a bare error code means a missing secret, parameter or version.
pub(crate) fn is_not_found(code: &str) -> bool {
    NOT_FOUND.contains(&code)
}

fn not_found_or_error(status: u16, body: &Secret) -> Result<Option<Stored>, Error> {
    // AWS answers 400; moto 404.
    if (400..500).contains(&status)
        && error_code(body.expose()).is_some_and(|c| NOT_FOUND.contains(&c.as_str()))
    {
        return Ok(None);
    }
    Err(status_error(status, body.expose()))
}

/// A JSON 1.1 API: its service (the signing name) and its `X-Amz-Target`.
type Api = (Service, &'static str);

/// One JSON 1.1 call: which API, where, signed with what.
#[derive(Clone, Copy)]
struct Call<'a> {
    api: Api,
    endpoint: &'a str,
    region: &'a str,
    creds: &'a Credentials,
    now: u64,
}

/// What a request is signed as: the service's signing name, the region, the credentials and
/// the time.
struct Signing<'a> {
    service: &'a str,
    region: &'a str,
    creds: &'a Credentials,
    now: u64,
}

impl<'a> Call<'a> {
    fn new(api: Api, endpoint: &'a str, region: &'a str, creds: &'a Credentials, now: u64) -> Self {
        Call {
            api,
            endpoint,
            region,
            creds,
            now,
        }
    }
}

impl Clients {
    /// Clients under `settings`; no I/O.
    pub(crate) fn new(settings: &AwsSettings, env: &Environ, max_body: u64) -> Clients {
        Clients {
            pool: http::Pool::new(http::settings_options!(
                settings,
                env,
                max_body,
                throttled_if: Some(throttled_if),
                service: http::timing::Service::Aws,
            )),
        }
    }

    /// Clients for a concurrent reader ([`http::Pool::fork`]).
    pub(crate) fn fork(&self) -> Clients {
        Clients {
            pool: self.pool.fork(),
        }
    }

    fn client(&mut self, endpoint: &str) -> &mut http::Client {
        self.pool.client(endpoint, |_| {})
    }

    /// A SigV4-signed JSON 1.1 call with `body`.
    fn json_call(&mut self, call: Call, body: &[u8]) -> Result<http::Response, Error> {
        let Call {
            api: (service, target),
            endpoint,
            region,
            creds,
            now,
        } = call;
        let headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", target),
        ];
        let signing = Signing {
            service: service.name(),
            region,
            creds,
            now,
        };
        self.signed_post(endpoint, &headers, body, &signing)
    }

    /// A POST of `body` to `endpoint`'s `/` with `headers`, signed (SigV4, the headers
    /// included) as `signing` says: the one signed request every AWS call here sends.
    fn signed_post(
        &mut self,
        endpoint: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        signing: &Signing,
    ) -> Result<http::Response, Error> {
        let url = format!("{endpoint}/");
        let host = authority(&url)?;
        let amz_date = sigv4::amz_date(signing.now);
        let signed = sigv4::sign(
            &sigv4::Request {
                method: "POST",
                host: &host,
                path: "/",
                query: &[],
                headers,
                payload: body,
                region: signing.region,
                service: signing.service,
                amz_date: &amz_date,
            },
            signing.creds,
        );
        let mut all: Vec<(&str, &[u8])> = headers.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
        all.push(("X-Amz-Date", signed.amz_date.as_bytes()));
        all.push(("Authorization", signed.authorization.as_bytes()));
        if let Some(t) = &signed.security_token {
            all.push(("X-Amz-Security-Token", t.expose()));
        }
        self.client(endpoint).post(&url, &all, body)
    }

    /// A call of one answer, which `parse` reads.
    fn read<T>(
        &mut self,
        call: Call,
        request: &Value,
        parse: fn(u16, &Secret) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let resp = self.json_call(call, request.to_string().as_bytes())?;
        parse(resp.status, &resp.body)
    }

    /// Every page of a call answered with a `NextToken`: `request` is sent with each page's
    /// token added, `parse` reads each answer, and the pages' values and errors are gathered.
    fn pages(
        &mut self,
        call: Call,
        mut request: Value,
        parse: fn(u16, &Secret) -> Result<Batch, Error>,
    ) -> Result<Batch, Error> {
        let mut all = Batch::default();
        for _ in 0..MAX_PAGES {
            let resp = self.json_call(call, request.to_string().as_bytes())?;
            let page = parse(resp.status, &resp.body)?;
            all.values.extend(page.values);
            all.errors.extend(page.errors);
            match page.next {
                Some(t) => request["NextToken"] = Value::String(t),
                None => return Ok(all),
            }
        }
        Err(Error::new(
            Kind::Unavailable,
            format!("more than {MAX_PAGES} pages"),
        ))
    }
}

/// Pages followed before giving up (a server that always answers a `NextToken`).
const MAX_PAGES: usize = 1000;

/// One value of a batch answer.
#[derive(Debug)]
pub struct Item {
    /// The secret's or parameter's name.
    pub name: String,
    /// Its ARN, when the answer gives one.
    pub arn: Option<String>,
    /// The value.
    pub value: Stored,
    /// Its version: a secret's `VersionId`, a parameter's `Version`.
    pub version: Option<String>,
}

/// A batch answer: the values, the per-id errors (id, bare error code) and the next page.
#[derive(Debug, Default)]
pub struct Batch {
    /// The values returned.
    pub values: Vec<Item>,
    /// Ids that failed, with their error code (`ResourceNotFoundException`, ...); for
    /// `GetParameters`, its `InvalidParameters` with the code `ParameterNotFound`.
    pub errors: Vec<(String, String)>,
    /// `NextToken`, when there is another page.
    pub next: Option<String>,
}

/// Whether an error refused a batch call as such (its permission is separate from the single
/// reads'), so the same reads are tried one by one.
pub(crate) fn batch_refused(e: &Error) -> bool {
    e.kind == Kind::Permission && e.what.contains("AccessDenied")
}

fn text_field(o: &mut serde_json::Map<String, Value>, name: &str) -> Option<String> {
    match o.remove(name) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

fn next_token(o: &mut serde_json::Map<String, Value>) -> Option<String> {
    text_field(o, "NextToken").filter(|t| !t.is_empty())
}

/// The top of a batch answer: 200 and a JSON object, its `NextToken` taken out.
fn batch_answer(
    status: u16,
    body: &Secret,
) -> Result<(serde_json::Map<String, Value>, Batch), Error> {
    if status != 200 {
        return Err(status_error(status, body.expose()));
    }
    let Ok(Value::Object(mut o)) = serde_json::from_slice::<Value>(body.expose()) else {
        return Err(Error::new(Kind::Unavailable, "answer is not a JSON object"));
    };
    let batch = Batch {
        next: next_token(&mut o),
        ..Batch::default()
    };
    Ok((o, batch))
}

/// The objects of the answer's array `field` (absent: none).
fn entries(
    o: &mut serde_json::Map<String, Value>,
    field: &str,
) -> Result<Vec<serde_json::Map<String, Value>>, Error> {
    let Some(Value::Array(list)) = o.remove(field) else {
        return Ok(Vec::new());
    };
    list.into_iter()
        .map(|v| match v {
            Value::Object(e) => Ok(e),
            _ => Err(Error::new(
                Kind::Unavailable,
                format!("a {field} entry is not an object"),
            )),
        })
        .collect()
}

/// `host[:port]` of a URL, default ports omitted (what the HTTP layer sends as `Host`).
fn authority(url: &str) -> Result<String, Error> {
    let uri: ureq::http::Uri = url.parse().map_err(|_| {
        Error::new(
            Kind::Config,
            format!("{}: not a valid URL", crate::url::redact_url(url)),
        )
    })?;
    let host = uri.host().unwrap_or_default();
    let default = if uri.scheme_str() == Some("http") {
        80
    } else {
        443
    };
    Ok(match uri.port_u16() {
        Some(p) if p != default => format!("{host}:{p}"),
        _ => host.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::text as s;

    #[test]
    fn json_errors() {
        for (status, body, code) in [
            (
                400,
                r#"{"__type":"com.amazon.coral#UnrecognizedClientException"}"#,
                77,
            ),
            (
                400,
                r#"{"__type":"AccessDeniedException","Message":"no"}"#,
                77,
            ),
            (
                403,
                "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>",
                77,
            ),
            (400, r#"{"__type":"ExpiredTokenException"}"#, 77),
            (400, r#"{"__type":"ValidationException"}"#, 78),
            (400, "garbage", 69),
        ] {
            let e = parse_secret_value(status, &s(body)).expect_err("error");
            assert_eq!(e.exit_code(), code, "{body}: {e}");
        }
        assert_eq!(
            throttled_if(400, br#"{"__type":"ThrottlingException"}"#).as_deref(),
            Some("ThrottlingException")
        );
        assert_eq!(
            throttled_if(400, br#"{"__type":"AccessDeniedException"}"#),
            None
        );
        assert_eq!(
            throttled_if(500, br#"{"__type":"ThrottlingException"}"#),
            None
        );
        for body in [
            r#"{"__type":"ResourceNotFoundException","message":"x"}"#,
            r#"{"__type":"ParameterNotFound"}"#,
        ] {
            assert!(parse_parameter(400, &s(body)).expect("not found").is_none());
        }
        match parse_secret_value(200, &s(r#"{"SecretBinary":"AAEC"}"#))
            .expect("ok")
            .expect("some")
        {
            Stored::Binary(b) => assert_eq!(b.expose(), &[0, 1, 2]),
            Stored::Text(_) => panic!("text"),
        }
        match parse_parameter(
            200,
            &s(r#"{"Parameter":{"Value":"v","Type":"SecureString"}}"#),
        )
        .expect("ok")
        .expect("some")
        {
            Stored::Text(b) => assert_eq!(b.expose(), b"v"),
            Stored::Binary(_) => panic!("binary"),
        }
    }

    #[test]
    fn batch_answers() {
        let b = parse_batch_secrets(
            200,
            &s(r#"{"SecretValues":[{"Name":"a","ARN":"arn:x","SecretString":"v"},{"Name":"b","SecretBinary":"AAE="}],"Errors":[{"SecretId":"c","ErrorCode":"ResourceNotFoundException"}],"NextToken":"n"}"#),
        )
        .expect("ok");
        assert_eq!(b.values.len(), 2);
        assert_eq!(b.values[0].arn.as_deref(), Some("arn:x"));
        assert!(matches!(&b.values[1].value, Stored::Binary(v) if v.expose() == [0, 1]));
        assert_eq!(
            b.errors,
            [("c".to_string(), "ResourceNotFoundException".to_string())]
        );
        assert_eq!(b.next.as_deref(), Some("n"));
        let denied = parse_batch_secrets(400, &s(r#"{"__type":"AccessDeniedException"}"#))
            .expect_err("denied");
        assert!(batch_refused(&denied), "{denied}");
        assert!(parse_batch_secrets(200, &s(r#"{"SecretValues":[{"Name":"a"}]}"#)).is_err());
        let p = parse_parameters(
            200,
            &s(r#"{"Parameters":[{"Name":"/a","Value":"v"}],"InvalidParameters":["/b"],"NextToken":""}"#),
        )
        .expect("ok");
        assert_eq!(p.values[0].name, "/a");
        assert_eq!(
            p.errors,
            [("/b".to_string(), "ParameterNotFound".to_string())]
        );
        assert!(p.next.is_none(), "an empty NextToken ends the pages");
        assert!(parse_parameters(200, &s(r#"{"Parameters":[1]}"#)).is_err());
    }

    #[test]
    fn hosts_and_forms() {
        assert_eq!(
            authority("http://127.0.0.1:5000/").expect("ok"),
            "127.0.0.1:5000"
        );
        assert_eq!(
            authority("https://ssm.eu-west-1.amazonaws.com:443/").expect("ok"),
            "ssm.eu-west-1.amazonaws.com"
        );
        let mut out = Vec::new();
        crate::url::form_encode(&mut out, b"a b/c=~");
        assert_eq!(out, b"a%20b%2Fc%3D~");
    }
}

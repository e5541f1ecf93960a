//! The AWS APIs as the aws source uses them: Secrets Manager `GetSecretValue` and Parameter
//! Store `GetParameter` (the JSON 1.1 protocol, SigV4-signed POSTs), and STS
//! `AssumeRoleWithWebIdentity` (an unsigned form POST answered in XML).
//!
//! Every request goes through one [`http::Client`] per endpoint, so the vault's policy applies:
//! verified TLS, plain http only to loopback, no redirects, a size cap, and connection errors,
//! 5xx and throttling (HTTP 429, or a 400 whose error code is a throttling code, as botocore's
//! retry handler reads them) retried with full-jitter backoff under one deadline. Access denied,
//! a bad signature, an unknown key and an expired token are 77 and never retried; a missing
//! secret or parameter is 69. Messages carry the error code and the service's own message
//! (controls escaped, shortened), never a body or a value.

use std::collections::BTreeMap;

use serde_json::Value;

use super::config::{AwsSettings, Service};
use super::credentials::{Credentials, WebIdentity, read_token};
use super::sigv4;
use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::http;
use crate::secret::Secret;

/// What a read returned: the value as stored.
#[derive(Debug)]
pub enum Stored {
    /// A `SecretString`, or a parameter's value.
    Text(Secret),
    /// A `SecretBinary` (decoded from base64).
    Binary(Secret),
}

/// HTTP clients, one per endpoint, all under the aws settings' policy.
pub struct Clients {
    opts: http::Options,
    by_endpoint: BTreeMap<String, http::Client>,
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
pub fn error_code(body: &[u8]) -> Option<String> {
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
    let m: String = crate::log::escape_controls(m.trim())
        .chars()
        .take(200)
        .collect();
    (!m.is_empty()).then_some(m)
}

/// Whether a non-2xx answer is worth another attempt (throttling codes on a 400).
fn retry_if(status: u16, body: &[u8]) -> bool {
    status == 400 && error_code(body).is_some_and(|c| THROTTLING.contains(&c.as_str()))
}

/// The error for a non-200 answer; `what` names the call in the message.
pub fn status_error(status: u16, body: &[u8]) -> Error {
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

impl Clients {
    /// Clients under `settings`; no I/O.
    pub fn new(settings: &AwsSettings, env: &Environ, max_body: u64) -> Clients {
        Clients {
            opts: http::Options {
                ca_file: http::ca_file(settings.ca_cert.as_deref(), env),
                timeout: settings.timeout,
                deadline: settings.deadline,
                retries: settings.retries,
                allow_insecure_http: settings.allow_insecure_http,
                max_body,
                retry_if: Some(retry_if),
                ..http::Options::default()
            },
            by_endpoint: BTreeMap::new(),
        }
    }

    fn client(&mut self, endpoint: &str) -> &mut http::Client {
        self.by_endpoint
            .entry(endpoint.to_string())
            .or_insert_with(|| http::Client::new(self.opts.clone()))
    }

    /// A SigV4-signed JSON 1.1 call of `target` (`secretsmanager.GetSecretValue`).
    #[allow(clippy::too_many_arguments)]
    fn json_call(
        &mut self,
        endpoint: &str,
        service: Service,
        region: &str,
        target: &str,
        body: &[u8],
        creds: &Credentials,
        now: u64,
    ) -> Result<http::Response, Error> {
        let url = format!("{endpoint}/");
        let host = authority(&url)?;
        let amz_date = sigv4::amz_date(now);
        let content_type = "application/x-amz-json-1.1";
        let signed = sigv4::sign(
            &sigv4::Request {
                method: "POST",
                host: &host,
                path: "/",
                query: &[],
                headers: &[("Content-Type", content_type), ("X-Amz-Target", target)],
                payload: body,
                region,
                service: service.name(),
                amz_date: &amz_date,
            },
            creds,
        );
        let mut headers: Vec<(&str, &[u8])> = vec![
            ("Content-Type", content_type.as_bytes()),
            ("X-Amz-Target", target.as_bytes()),
            ("X-Amz-Date", signed.amz_date.as_bytes()),
            ("Authorization", signed.authorization.as_bytes()),
        ];
        if let Some(t) = &signed.security_token {
            headers.push(("X-Amz-Security-Token", t.expose()));
        }
        self.client(endpoint).post(&url, &headers, body)
    }

    /// Reads a Secrets Manager secret.
    #[allow(clippy::too_many_arguments)]
    pub fn get_secret_value(
        &mut self,
        endpoint: &str,
        region: &str,
        id: &str,
        version: Option<&str>,
        creds: &Credentials,
        now: u64,
    ) -> Result<Option<Stored>, Error> {
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
        let body = Value::Object(req).to_string();
        let resp = self.json_call(
            endpoint,
            Service::SecretsManager,
            region,
            "secretsmanager.GetSecretValue",
            body.as_bytes(),
            creds,
            now,
        )?;
        parse_secret_value(resp.status, &resp.body)
    }

    /// Reads a parameter, decrypted (`WithDecryption`).
    pub fn get_parameter(
        &mut self,
        endpoint: &str,
        region: &str,
        name: &str,
        creds: &Credentials,
        now: u64,
    ) -> Result<Option<Stored>, Error> {
        let body = serde_json::json!({"Name": name, "WithDecryption": true}).to_string();
        let resp = self.json_call(
            endpoint,
            Service::Ssm,
            region,
            "AmazonSSM.GetParameter",
            body.as_bytes(),
            creds,
            now,
        )?;
        parse_parameter(resp.status, &resp.body)
    }

    /// Exchanges a web identity token for credentials at STS (unsigned, as the SDKs do).
    pub fn assume_role_with_web_identity(
        &mut self,
        endpoint: &str,
        w: &WebIdentity,
    ) -> Result<Credentials, Error> {
        let token = read_token(&w.token_file)?;
        let mut body = zeroize::Zeroizing::new(Vec::new());
        for (i, (k, v)) in [
            ("Action", b"AssumeRoleWithWebIdentity".as_slice()),
            ("Version", b"2011-06-15"),
            ("RoleArn", w.role_arn.as_bytes()),
            ("RoleSessionName", w.session_name.as_bytes()),
            ("WebIdentityToken", token.expose()),
        ]
        .iter()
        .enumerate()
        {
            if i > 0 {
                body.push(b'&');
            }
            body.extend_from_slice(k.as_bytes());
            body.push(b'=');
            form_encode(&mut body, v);
        }
        let url = format!("{endpoint}/");
        let resp = self.client(endpoint).post(
            &url,
            &[(
                "Content-Type",
                b"application/x-www-form-urlencoded; charset=utf-8".as_slice(),
            )],
            &body,
        )?;
        parse_assume_role(resp.status, &resp.body).map_err(|e| {
            let e = if e.kind == Kind::Unavailable && (400..500).contains(&resp.status) {
                Error::new(Kind::Permission, e.what)
            } else {
                e
            };
            e.with_source(format!(
                "aws sts AssumeRoleWithWebIdentity ({})",
                w.role_arn
            ))
        })
    }
}

/// `host[:port]` of a URL, default ports omitted (what the HTTP layer sends as `Host`).
fn authority(url: &str) -> Result<String, Error> {
    let uri: ureq::http::Uri = url.parse().map_err(|_| {
        Error::new(
            Kind::Config,
            format!("{}: not a valid URL", http::redact_url(url)),
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

/// `application/x-www-form-urlencoded` as botocore writes it (`quote` with only `-_.~` kept).
pub(crate) fn form_encode(out: &mut Vec<u8>, v: &[u8]) {
    for &b in v {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
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

/// Interprets an `AssumeRoleWithWebIdentity` answer (XML), with no I/O (the fuzz target calls
/// it). The credentials are the `<Credentials>` element's `AccessKeyId`, `SecretAccessKey` and
/// `SessionToken`.
pub fn parse_assume_role(status: u16, body: &Secret) -> Result<Credentials, Error> {
    if status != 200 {
        return Err(status_error(status, body.expose()));
    }
    let creds = xml_inner(body.expose(), "Credentials")
        .ok_or_else(|| Error::new(Kind::Permission, "answer has no Credentials element"))?;
    let field = |name: &str| {
        xml_text(creds, name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::new(Kind::Permission, format!("answer has no {name}")))
    };
    let id = field("AccessKeyId")?;
    // Key ids are uppercase letters and digits; anything else is not an STS answer (and the
    // id is shown in logs, so it must not be able to carry other text).
    if id.len() > 128 || !id.expose().iter().all(u8::is_ascii_alphanumeric) {
        return Err(Error::new(
            Kind::Permission,
            "answer has a malformed AccessKeyId",
        ));
    }
    Ok(Credentials {
        access_key_id: String::from_utf8_lossy(id.expose()).into_owned(),
        secret_access_key: field("SecretAccessKey")?,
        session_token: Some(field("SessionToken")?),
    })
}

/// The text of the first `<tag>...</tag>` element (attributes allowed on the opening tag),
/// trimmed, with the five predefined entities and numeric character references decoded. A
/// deliberately small reader for STS's fixed, namespace-free answers; not a general XML parser.
pub fn xml_text(doc: &[u8], tag: &str) -> Option<Secret> {
    unescape(xml_inner(doc, tag)?)
}

/// The raw content of the first `<tag>...</tag>` element, trimmed (entities left as they are).
fn xml_inner<'a>(doc: &'a [u8], tag: &str) -> Option<&'a [u8]> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut from = 0;
    let start = loop {
        let at = find(&doc[from..], open.as_bytes())? + from;
        let after = at + open.len();
        match doc.get(after) {
            Some(b'>') => break after + 1,
            Some(b' ' | b'\t' | b'\n' | b'\r') => {
                let gt = find(&doc[after..], b">")? + after;
                if doc[gt - 1] == b'/' {
                    return Some(&[]);
                }
                break gt + 1;
            }
            _ => from = after,
        }
    };
    let end = find(&doc[start..], close.as_bytes())? + start;
    Some(doc[start..end].trim_ascii())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn unescape(s: &[u8]) -> Option<Secret> {
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(s.len()));
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'&' {
            out.push(s[i]);
            i += 1;
            continue;
        }
        let semi = s[i..].iter().take(12).position(|&b| b == b';')? + i;
        let ent = &s[i + 1..semi];
        match ent {
            b"amp" => out.push(b'&'),
            b"lt" => out.push(b'<'),
            b"gt" => out.push(b'>'),
            b"quot" => out.push(b'"'),
            b"apos" => out.push(b'\''),
            _ => {
                let n = std::str::from_utf8(ent).ok()?;
                let code = match n.strip_prefix("#x").or_else(|| n.strip_prefix("#X")) {
                    Some(h) => u32::from_str_radix(h, 16).ok()?,
                    None => n.strip_prefix('#')?.parse().ok()?,
                };
                let c = char::from_u32(code)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
        i = semi + 1;
    }
    Some(Secret::new(std::mem::take(&mut *out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(b: &str) -> Secret {
        Secret::new(b.as_bytes().to_vec())
    }

    #[test]
    fn sts_answers() {
        let ok = s(
            "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleWithWebIdentityResult><Credentials>\n <AccessKeyId>ASIA1</AccessKeyId>\n <SecretAccessKey>a&amp;b&#x3c;</SecretAccessKey><SessionToken>tok&#47;</SessionToken></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>",
        );
        let c = parse_assume_role(200, &ok).expect("ok");
        assert_eq!(c.access_key_id, "ASIA1");
        assert_eq!(c.secret_access_key.expose(), b"a&b<");
        assert_eq!(c.session_token.expect("token").expose(), b"tok/");
        let denied = s(
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>bad\ntoken</Message></Error></ErrorResponse>",
        );
        let e = parse_assume_role(400, &denied).expect_err("denied");
        assert_eq!(e.exit_code(), 77);
        assert_eq!(e.what, "HTTP 400 InvalidIdentityToken: bad\\ntoken");
        assert!(parse_assume_role(200, &s("<x/>")).is_err());
        // Found by fuzz/fuzz_targets/aws_response.rs: a key id holding the token's text.
        let nested = s(
            "<Credentials><AccessKeyId>A<SessionToken>secret-token</SessionToken></AccessKeyId><SecretAccessKey>k</SecretAccessKey><SessionToken>x</SessionToken></Credentials>",
        );
        assert!(parse_assume_role(200, &nested).is_err());
        assert!(xml_text(b"<A>&bogus;</A>", "A").is_none());
        assert_eq!(
            xml_text(b"<AB>1</AB><A>2</A>", "A").expect("a").expose(),
            b"2"
        );
    }

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
        assert!(retry_if(400, br#"{"__type":"ThrottlingException"}"#));
        assert!(!retry_if(400, br#"{"__type":"AccessDeniedException"}"#));
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
        form_encode(&mut out, b"a b/c=~");
        assert_eq!(out, b"a%20b%2Fc%3D~");
    }
}

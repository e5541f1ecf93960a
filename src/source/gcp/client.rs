//! The Google APIs as the gcp source uses them: Secret Manager v1
//! `GET /v1/projects/P/secrets/S/versions/V:access`, the OAuth 2.0 token endpoint (the JWT bearer grant), STS `/v1/token` (RFC 8693 token exchange), IAM Credentials
//! `generateAccessToken`, and the metadata server's token endpoint.
//!
//! Every request goes through one [`http::Client`] per host, so the vault's policy applies:
//! verified TLS, plain http only to loopback (the metadata server, which is plain http by design,
//! is the one exception), no redirects, a size cap, and connection errors, 429 and 5xx retried
//! with full-jitter backoff under one deadline. 401 and 403 (and an OAuth `invalid_grant`) are 77
//! and never retried; 404 is "not found" (69 when nothing else has the secret); a payload whose
//! CRC32C does not match is 65. Messages carry the HTTP status, Google's `status` code and its
//! message (controls escaped, shortened), never a body, a token or a value.

use serde_json::Value;

use super::config::GcpSettings;
use super::crc32c::crc32c;
use super::credentials::{ExternalAccount, SCOPE, ServiceAccount, assertion, subject_token};
use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::http;
use crate::secret::Secret;
use crate::source::remote::Versioned;

/// An OAuth access token. `Debug` hides it.
#[derive(Clone)]
pub struct Token(pub Secret);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

/// HTTP clients, one per host, all under the gcp settings' policy.
pub(crate) struct Clients {
    pool: http::Pool,
}

/// Google's error text: `{"error": {"status": "...", "message": "..."}}` (APIs) or
/// `{"error": "...", "error_description": "..."}` (OAuth), escaped and shortened.
fn google_error(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) else {
        return (None, None);
    };
    let clean = http::service_text;
    match o.get("error") {
        Some(Value::Object(e)) => (
            e.get("status").and_then(Value::as_str).map(clean),
            e.get("message").and_then(Value::as_str).map(clean),
        ),
        Some(Value::String(code)) => (
            Some(clean(code)),
            o.get("error_description")
                .and_then(Value::as_str)
                .map(clean),
        ),
        _ => (None, None),
    }
}

/// The error for a non-2xx answer.
pub(crate) fn status_error(status: u16, body: &[u8]) -> Error {
    let (code, message) = google_error(body);
    let text = match (&code, &message) {
        (Some(c), Some(m)) if !m.is_empty() => format!("HTTP {status} {c}: {m}"),
        (Some(c), _) => format!("HTTP {status} {c}"),
        (None, _) => format!("HTTP {status}"),
    };
    let kind = match (status, code.as_deref()) {
        (401 | 403, _)
        | (
            _,
            Some(
                "PERMISSION_DENIED"
                | "UNAUTHENTICATED"
                | "invalid_grant"
                | "invalid_client"
                | "unauthorized_client"
                | "access_denied"
                | "invalid_token",
            ),
        ) => Kind::Permission,
        (400, Some("INVALID_ARGUMENT" | "invalid_request" | "invalid_scope")) => Kind::Config,
        _ => Kind::Unavailable,
    };
    Error::new(kind, text)
}

/// Interprets a token answer (`access_token`, or IAM's `accessToken`), with no I/O.
pub fn parse_token(status: u16, body: &Secret) -> Result<Token, Error> {
    if !(200..300).contains(&status) {
        let e = status_error(status, body.expose());
        // A token endpoint refusing with any 4xx refuses the credentials.
        return Err(
            if (400..500).contains(&status) && e.kind == Kind::Unavailable {
                Error::new(Kind::Permission, e.into_problem().what)
            } else {
                e
            },
        );
    }
    let Ok(Value::Object(mut o)) = serde_json::from_slice::<Value>(body.expose()) else {
        return Err(Error::new(
            Kind::Permission,
            "token answer is not a JSON object",
        ));
    };
    match o.remove("access_token").or_else(|| o.remove("accessToken")) {
        Some(Value::String(t)) if !t.is_empty() => Ok(Token(Secret::new(t.into_bytes()))),
        _ => Err(Error::new(
            Kind::Permission,
            "token answer has no access_token",
        )),
    }
}

/// Interprets an `:access` answer, with no I/O (the fuzz target calls it): the decoded payload,
/// its CRC32C checked when the answer carries one; `Ok(None)` for 404.
pub fn parse_access(status: u16, body: &Secret) -> Result<Option<Secret>, Error> {
    if status == 404 {
        return Ok(None);
    }
    if status != 200 {
        return Err(status_error(status, body.expose()));
    }
    let Ok(Value::Object(mut o)) = serde_json::from_slice::<Value>(body.expose()) else {
        return Err(Error::new(Kind::Unavailable, "answer is not a JSON object"));
    };
    let Some(Value::Object(mut payload)) = o.remove("payload") else {
        return Err(Error::new(
            Kind::Unavailable,
            "answer has no payload object",
        ));
    };
    let data = match payload.remove("data") {
        // proto3 JSON omits empty bytes.
        None => Secret::new(Vec::new()),
        Some(Value::String(b)) => {
            use base64::Engine;
            let b = zeroize::Zeroizing::new(b);
            // proto3 JSON accepts standard or URL-safe base64, padded or not.
            let cleaned: zeroize::Zeroizing<String> = zeroize::Zeroizing::new(
                b.trim_end_matches('=')
                    .chars()
                    .map(|c| match c {
                        '-' => '+',
                        '_' => '/',
                        c => c,
                    })
                    .collect(),
            );
            Secret::new(
                base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(cleaned.as_bytes())
                    .map_err(|_| Error::new(Kind::Data, "payload.data is not valid base64"))?,
            )
        }
        Some(_) => return Err(Error::new(Kind::Data, "payload.data is not a string")),
    };
    // int64 in proto3 JSON is a string; accept a number too.
    let not_int = || Error::new(Kind::Data, "payload.dataCrc32c is not an integer");
    let want = match payload.get("dataCrc32c") {
        None => None,
        Some(Value::String(s)) => Some(s.parse::<u64>().map_err(|_| not_int())?),
        Some(Value::Number(n)) => Some(n.as_u64().ok_or_else(not_int)?),
        Some(_) => return Err(not_int()),
    };
    if let Some(want) = want
        && want != u64::from(crc32c(data.expose()))
    {
        return Err(Error::new(
            Kind::Data,
            "payload CRC32C mismatch: the value was corrupted in transit or storage",
        ));
    }
    Ok(Some(data))
}

/// The version an `:access` answer names: the last segment of its `name`
/// (`projects/P/secrets/S/versions/3` → `3`), when it is a plain number.
fn access_version(body: &Secret) -> Option<String> {
    let v: Value = serde_json::from_slice(body.expose()).ok()?;
    let (_, version) = v["name"].as_str()?.rsplit_once("/versions/")?;
    (!version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()))
        .then(|| version.to_string())
}

const FORM: &[u8] = b"application/x-www-form-urlencoded";

impl Clients {
    /// Clients under `settings`; no I/O.
    pub(crate) fn new(settings: &GcpSettings, env: &Environ, max_body: u64) -> Clients {
        Clients {
            pool: http::Pool::new(http::settings_options!(
                settings,
                env,
                max_body,
                service: http::timing::Service::Gcp,
            )),
        }
    }

    /// The client for `url`'s scheme and host; `metadata` permits plain http to it.
    /// Clients for a concurrent reader ([`http::Pool::fork`]).
    pub(crate) fn fork(&self) -> Clients {
        Clients {
            pool: self.pool.fork(),
        }
    }

    fn client(&mut self, url: &str, metadata: bool) -> &mut http::Client {
        self.pool.client(&http::origin(url), |opts| {
            if metadata {
                opts.allow_insecure_http = true;
                // Like the SDKs, never through a proxy (GCE_METADATA_HOST may be a name).
                opts.proxies = http::Proxies::default();
                // Token answers are small; the metadata server never sends a secret's value.
                opts.max_body = 64 * 1024;
            }
        })
    }

    fn post_form(
        &mut self,
        url: &str,
        pairs: &[(&str, &[u8])],
        what: &str,
    ) -> Result<Token, Error> {
        let body = http::form(pairs);
        let resp = self
            .client(url, false)
            .post(url, &[("Content-Type", FORM)], &body)
            .map_err(|e| e.with_source(format!("{what} at {}", crate::url::redact_url(url))))?;
        parse_token(resp.status, &resp.body)
            .map_err(|e| e.with_source(format!("{what} at {}", crate::url::redact_url(url))))
    }

    /// A service account's token: its signed JWT exchanged at `token_uri`.
    pub(crate) fn service_account_token(
        &mut self,
        sa: &ServiceAccount,
        now: u64,
    ) -> Result<Token, Error> {
        let jwt = assertion(sa, now)
            .map_err(|e| e.with_source(format!("gcp service account {}", sa.client_email)))?;
        self.post_form(
            &sa.token_uri,
            &[
                (
                    "grant_type",
                    b"urn:ietf:params:oauth:grant-type:jwt-bearer".as_slice(),
                ),
                ("assertion", jwt.expose()),
            ],
            &format!("gcp token exchange for {}", sa.client_email),
        )
    }

    /// Workload identity federation: the subject token exchanged at STS, then (when configured)
    /// traded for the impersonated service account's token.
    pub(crate) fn external_token(
        &mut self,
        e: &ExternalAccount,
        outputs: &crate::source::Outputs,
    ) -> Result<Token, Error> {
        let subject = subject_token(e, outputs)?;
        let sts = self.post_form(
            &e.token_url,
            &[
                (
                    "grant_type",
                    b"urn:ietf:params:oauth:grant-type:token-exchange".as_slice(),
                ),
                ("audience", e.audience.as_bytes()),
                ("scope", SCOPE.as_bytes()),
                (
                    "requested_token_type",
                    b"urn:ietf:params:oauth:token-type:access_token",
                ),
                ("subject_token", subject.expose()),
                ("subject_token_type", e.subject_token_type.as_bytes()),
            ],
            "gcp STS token exchange",
        )?;
        let Some(url) = &e.impersonation_url else {
            return Ok(sts);
        };
        let what = format!(
            "gcp service account impersonation at {}",
            crate::url::redact_url(url)
        );
        let auth = http::bearer(sts.0.expose());
        let body = serde_json::json!({"scope": [SCOPE], "lifetime": "3600s"}).to_string();
        let resp = self
            .client(url, false)
            .post(
                url,
                &[
                    ("Content-Type", b"application/json".as_slice()),
                    ("Authorization", &auth),
                ],
                body.as_bytes(),
            )
            .map_err(|err| err.with_source(what.clone()))?;
        parse_token(resp.status, &resp.body).map_err(|err| err.with_source(what))
    }

    /// The metadata server's token for the default service account.
    pub(crate) fn metadata_token(&mut self, host: &str) -> Result<Token, Error> {
        let url =
            format!("http://{host}/computeMetadata/v1/instance/service-accounts/default/token");
        let what = format!("gcp metadata server at {host}");
        let resp = self
            .client(&url, true)
            .get(&url, &[("Metadata-Flavor", b"Google".as_slice())])
            .map_err(|e| e.with_source(what.clone()))?;
        parse_token(resp.status, &resp.body).map_err(|e| e.with_source(what))
    }

    /// A JSON POST to `url` with the token (Cloud KMS `:decrypt`, `:encrypt`).
    pub(crate) fn post_json(
        &mut self,
        url: &str,
        token: &Token,
        body: &Secret,
    ) -> Result<http::Response, Error> {
        let auth = http::bearer(token.0.expose());
        self.client(url, false).post(
            url,
            &[
                ("Content-Type", b"application/json".as_slice()),
                ("Authorization", &auth),
            ],
            body.expose(),
        )
    }

    /// Reads `resource` (`projects/P/secrets/S/versions/V`) at `endpoint`, with the version
    /// the answer names (`latest` resolved).
    pub(crate) fn access(
        &mut self,
        endpoint: &str,
        resource: &str,
        token: &Token,
    ) -> Result<Option<Versioned>, Error> {
        let url = format!("{endpoint}/v1/{resource}:access");
        let auth = http::bearer(token.0.expose());
        let resp = self
            .client(&url, false)
            .get(&url, &[("Authorization", &auth)])?;
        let value = parse_access(resp.status, &resp.body)?;
        Ok(value.map(|value| Versioned {
            value,
            version: access_version(&resp.body),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::secret::text as s;

    #[test]
    fn access_answers() {
        // "hello" has CRC32C 0x9a71bb4c = 2591144780.
        let ok = s(
            r#"{"name":"projects/1/secrets/a/versions/2","payload":{"data":"aGVsbG8=","dataCrc32c":"2591144780"}}"#,
        );
        assert_eq!(
            parse_access(200, &ok).expect("ok").expect("some").expose(),
            b"hello"
        );
        let no_crc = s(r#"{"payload":{"data":"aGVsbG8"}}"#);
        assert_eq!(
            parse_access(200, &no_crc)
                .expect("ok")
                .expect("some")
                .expose(),
            b"hello"
        );
        let empty = s(r#"{"payload":{}}"#);
        assert!(
            parse_access(200, &empty)
                .expect("ok")
                .expect("some")
                .is_empty()
        );
        let bad = s(r#"{"payload":{"data":"aGVsbG8=","dataCrc32c":"1"}}"#);
        assert_eq!(
            parse_access(200, &bad).expect_err("mismatch").exit_code(),
            65
        );
        assert!(parse_access(404, &s("{}")).expect("ok").is_none());
        for (status, body, code) in [
            (
                403,
                r#"{"error":{"code":403,"status":"PERMISSION_DENIED","message":"no\nway"}}"#,
                77,
            ),
            (
                401,
                r#"{"error":{"code":401,"status":"UNAUTHENTICATED"}}"#,
                77,
            ),
            (
                400,
                r#"{"error":{"code":400,"status":"INVALID_ARGUMENT"}}"#,
                78,
            ),
            (
                400,
                r#"{"error":{"code":400,"status":"FAILED_PRECONDITION","message":"destroyed"}}"#,
                69,
            ),
            (200, "garbage", 69),
            (200, r#"{"payload":{"data":"***"}}"#, 65),
        ] {
            let e = parse_access(status, &s(body)).expect_err(body);
            assert_eq!(e.exit_code(), code, "{body}: {e}");
        }
        let e = parse_access(
            403,
            &s(r#"{"error":{"status":"PERMISSION_DENIED","message":"no\nway"}}"#),
        )
        .expect_err("denied");
        assert_eq!(e.what, "HTTP 403 PERMISSION_DENIED: no\\nway");
    }

    #[test]
    fn token_answers() {
        let t = parse_token(200, &s(r#"{"access_token":"ya29.x","expires_in":3599}"#)).expect("ok");
        assert_eq!(t.0.expose(), b"ya29.x");
        let t = parse_token(
            200,
            &s(r#"{"accessToken":"ya29.y","expireTime":"2030-01-01T00:00:00Z"}"#),
        )
        .expect("ok");
        assert_eq!(t.0.expose(), b"ya29.y");
        assert_eq!(format!("{t:?}"), "Token(..)");
        let e = parse_token(
            400,
            &s(r#"{"error":"invalid_grant","error_description":"Invalid JWT"}"#),
        )
        .expect_err("refused");
        assert_eq!(e.exit_code(), 77);
        assert_eq!(e.what, "HTTP 400 invalid_grant: Invalid JWT");
        assert_eq!(parse_token(400, &s("x")).expect_err("4xx").exit_code(), 77);
        assert_eq!(parse_token(503, &s("x")).expect_err("5xx").exit_code(), 69);
        assert_eq!(
            parse_token(200, &s("{}")).expect_err("empty").exit_code(),
            77
        );
        assert_eq!(
            &*http::form(&[("a b", b"c/d=~".as_slice()), ("e", b"f")]),
            b"a%20b=c%2Fd%3D~&e=f"
        );
    }
}

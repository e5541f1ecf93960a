//! Key Vault and Entra ID as the azure source uses them, over the blocking client of
//! [`crate::http`] (verified TLS, plain http only to loopback, no redirects, a size cap,
//! connection errors, 429 and 5xx retried with full-jitter backoff under one deadline).
//!
//! Credentials, in `DefaultAzureCredential`'s order as far as a container needs it:
//!
//! 1. a client secret: `AZURE_TENANT_ID` + `AZURE_CLIENT_ID` + `AZURE_CLIENT_SECRET`, posted to
//!    `{AZURE_AUTHORITY_HOST}/{tenant}/oauth2/v2.0/token` (`client_credentials`);
//! 2. workload identity: `AZURE_FEDERATED_TOKEN_FILE` + `AZURE_CLIENT_ID` + `AZURE_TENANT_ID`,
//!    the file's token posted as a `client_assertion` to the same endpoint;
//! 3. managed identity: `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` (App Service, Container Apps,
//!    Arc), else IMDS at `AZURE_POD_IDENTITY_AUTHORITY_HOST` (default `http://169.254.169.254`,
//!    the one plain-http host allowed besides loopback), with `AZURE_CLIENT_ID` as the
//!    user-assigned identity when set.
//!
//! Secrets are read with `GET {vault}/secrets/{name}[/{version}]?api-version=7.4` and a bearer
//! token for the vault's cloud (`https://vault.azure.net/.default`, ...), sent without the
//! SDK's unauthenticated challenge round trip. A token is only ever attached to a URL under a
//! Key Vault suffix or under the endpoint the user named ([`may_carry_token`]). Not found is
//! `Ok(None)` (69 when nothing else has the secret); 401/403 and refused credentials are 77,
//! never retried; other 4xx are 78 (400) or 69. Messages carry the error code and the service's
//! message (controls escaped, shortened), never a body, a token or a value.

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::config::AzureSettings;
use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::http;
use crate::reference::azure::SUFFIXES;
use crate::secret::Secret;
use crate::source::remote::{Versioned, read_token_file};

/// The Key Vault REST API version requested.
pub(crate) const API_VERSION: &str = "7.4";
/// Entra ID's public-cloud authority.
pub(crate) const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// The instance metadata service.
pub(crate) const DEFAULT_IMDS: &str = "http://169.254.169.254";

/// How a token is obtained (no secret values in `Debug`: they are [`Secret`]s).
#[derive(Debug)]
pub(crate) enum Chain {
    /// A client secret from the environment.
    ClientSecret {
        /// Authority host (no trailing slash).
        authority: String,
        /// Tenant id.
        tenant: String,
        /// Client (application) id.
        client_id: String,
        /// `AZURE_CLIENT_SECRET`.
        secret: Secret,
    },
    /// A federated token file exchanged as a client assertion.
    WorkloadIdentity {
        /// Authority host (no trailing slash).
        authority: String,
        /// Tenant id.
        tenant: String,
        /// Client (application) id.
        client_id: String,
        /// `AZURE_FEDERATED_TOKEN_FILE`.
        token_file: PathBuf,
    },
    /// `IDENTITY_ENDPOINT` + `IDENTITY_HEADER`.
    AppService {
        /// The endpoint URL.
        endpoint: String,
        /// `IDENTITY_HEADER`.
        header: Secret,
        /// A user-assigned identity's client id.
        client_id: Option<String>,
    },
    /// The instance metadata service.
    Imds {
        /// Scheme and host (no trailing slash).
        host: String,
        /// A user-assigned identity's client id.
        client_id: Option<String>,
    },
}

impl Chain {
    /// A label for logs and messages (no secret).
    pub(crate) fn describe(&self) -> String {
        match self {
            Chain::ClientSecret { client_id, .. } => {
                format!("client secret of {client_id} (AZURE_CLIENT_SECRET)")
            }
            Chain::WorkloadIdentity { client_id, .. } => {
                format!("workload identity of {client_id} (AZURE_FEDERATED_TOKEN_FILE)")
            }
            Chain::AppService { endpoint, .. } => {
                format!(
                    "managed identity at {} (IDENTITY_ENDPOINT)",
                    crate::url::redact_url(endpoint)
                )
            }
            Chain::Imds { host, .. } => format!("managed identity at {host} (IMDS)"),
        }
    }
}

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
}

/// Picks the credential from the environment, in `DefaultAzureCredential`'s order. No I/O.
pub(crate) fn find(env: &Environ) -> Result<Chain, Error> {
    let tenant = env.text("AZURE_TENANT_ID");
    let client_id = env.text("AZURE_CLIENT_ID");
    let authority = env
        .text("AZURE_AUTHORITY_HOST")
        .unwrap_or_else(|| DEFAULT_AUTHORITY.into())
        .trim_end_matches('/')
        .to_string();
    if let (Some(tenant), Some(client_id)) = (&tenant, &client_id) {
        let secret = env.get("AZURE_CLIENT_SECRET").filter(|v| !v.is_empty());
        let file = env
            .get("AZURE_FEDERATED_TOKEN_FILE")
            .filter(|v| !v.is_empty());
        if (secret.is_some() || file.is_some()) && !(valid_id(tenant) && valid_id(client_id)) {
            return Err(Error::new(
                Kind::Config,
                "AZURE_TENANT_ID / AZURE_CLIENT_ID: expected ids of letters, digits, '-', '.' and '_'",
            ));
        }
        let (tenant, client_id) = (tenant.clone(), client_id.clone());
        if let Some(secret) = secret {
            return Ok(Chain::ClientSecret {
                authority,
                tenant,
                client_id,
                secret: Secret::new(secret.as_bytes().to_vec()),
            });
        }
        if let Some(f) = file {
            return Ok(Chain::WorkloadIdentity {
                authority,
                tenant,
                client_id,
                token_file: PathBuf::from(f),
            });
        }
    }
    if let (Some(endpoint), Some(header)) = (
        env.text("IDENTITY_ENDPOINT"),
        env.get("IDENTITY_HEADER").filter(|v| !v.is_empty()),
    ) {
        return Ok(Chain::AppService {
            endpoint,
            header: Secret::new(header.as_bytes().to_vec()),
            client_id,
        });
    }
    let host = env
        .text("AZURE_POD_IDENTITY_AUTHORITY_HOST")
        .unwrap_or_else(|| DEFAULT_IMDS.into())
        .trim_end_matches('/')
        .to_string();
    Ok(Chain::Imds { host, client_id })
}

/// The links of the chain found incomplete before `chain`, for its error (as the AWS chain's
/// names every place it tried): `None` when `chain` is the first link. Names variables only,
/// never a value.
pub(crate) fn tried_before(chain: &Chain, env: &Environ) -> Option<String> {
    if matches!(
        chain,
        Chain::ClientSecret { .. } | Chain::WorkloadIdentity { .. }
    ) {
        return None;
    }
    let set = |v: &str| env.get(v).is_some_and(|x| !x.is_empty());
    let mut missing: Vec<&str> = ["AZURE_TENANT_ID", "AZURE_CLIENT_ID"]
        .into_iter()
        .filter(|v| !set(v))
        .collect();
    if !set("AZURE_CLIENT_SECRET") && !set("AZURE_FEDERATED_TOKEN_FILE") {
        missing.push("AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE");
    }
    let mut tried = vec![format!(
        "AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE (not set: {})",
        missing.join(", ")
    )];
    if matches!(chain, Chain::Imds { .. }) {
        let missing: Vec<&str> = ["IDENTITY_ENDPOINT", "IDENTITY_HEADER"]
            .into_iter()
            .filter(|v| !set(v))
            .collect();
        tried.push(format!(
            "IDENTITY_ENDPOINT + IDENTITY_HEADER (not set: {})",
            missing.join(", ")
        ));
    }
    Some(tried.join("; "))
}

/// Whether a bearer token may go to `url`: https to `VAULT.<Key Vault suffix>`, or anything
/// under the endpoint the user named (whose scheme the HTTP policy has checked).
pub fn may_carry_token(url: &str, endpoint: Option<&str>) -> bool {
    if let Some(e) = endpoint
        && url
            .strip_prefix(e)
            .is_some_and(|rest| rest.starts_with('/'))
    {
        return true;
    }
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let Some((label, domain)) = host.split_once('.') else {
        return false;
    };
    crate::reference::azure::valid_vault(label) && SUFFIXES.contains(&domain)
}

/// The HTTP clients and tokens of one run.
pub(crate) struct Clients {
    pool: http::Pool,
    endpoint: Option<String>,
}

impl Clients {
    /// Clients under `settings`; no I/O.
    pub(crate) fn new(settings: &AzureSettings, env: &Environ, max_body: u64) -> Clients {
        Clients {
            pool: http::Pool::new(http::settings_options!(
                settings,
                env,
                max_body,
                service: http::timing::Service::Azure,
            )),
            endpoint: settings.endpoint.clone(),
        }
    }

    /// Clients for a concurrent reader ([`http::Pool::fork`]).
    pub(crate) fn fork(&self) -> Clients {
        Clients {
            pool: self.pool.fork(),
            endpoint: self.endpoint.clone(),
        }
    }

    fn client(&mut self, url: &str) -> &mut http::Client {
        let host = http::origin(url);
        self.pool.client(&host, |opts| {
            if host == DEFAULT_IMDS {
                // IMDS is plain http on a link-local address by design; nothing else is. Where
                // there is none, the chain's last step should fail fast.
                opts.allow_insecure_http = true;
                opts.timeout = opts.timeout.min(Duration::from_secs(2));
                opts.retries = opts.retries.min(2);
            }
        })
    }

    /// Obtains a token for `resource` (`https://vault.azure.net`) with `chain`.
    pub(crate) fn token(&mut self, chain: &Chain, resource: &str) -> Result<Secret, Error> {
        let src = chain.describe();
        let r = match chain {
            Chain::ClientSecret {
                authority,
                tenant,
                client_id,
                secret,
            } => self.entra(
                authority,
                tenant,
                client_id,
                resource,
                &[("client_secret", secret.expose())],
            ),
            Chain::WorkloadIdentity {
                authority,
                tenant,
                client_id,
                token_file,
            } => read_token_file(token_file, "AZURE_FEDERATED_TOKEN_FILE").and_then(|token| {
                self.entra(
                    authority,
                    tenant,
                    client_id,
                    resource,
                    &[
                        (
                            "client_assertion_type",
                            b"urn:ietf:params:oauth:client-assertion-type:jwt-bearer".as_slice(),
                        ),
                        ("client_assertion", token.expose()),
                    ],
                )
            }),
            Chain::AppService {
                endpoint,
                header,
                client_id,
            } => {
                let mut url = format!(
                    "{endpoint}{}api-version=2019-08-01&resource={}",
                    if endpoint.contains('?') { '&' } else { '?' },
                    query(resource)
                );
                if let Some(c) = client_id {
                    url.push_str(&format!("&client_id={}", query(c)));
                }
                self.client(&url)
                    .get(&url, &[("X-IDENTITY-HEADER", header.expose())])
                    .and_then(|r| parse_token(r.status, &r.body))
            }
            Chain::Imds { host, client_id } => {
                let mut url = format!(
                    "{host}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={}",
                    query(resource)
                );
                if let Some(c) = client_id {
                    url.push_str(&format!("&client_id={}", query(c)));
                }
                match self.client(&url).get(&url, &[("Metadata", b"true")]) {
                    Ok(r) => parse_token(r.status, &r.body),
                    Err(e) if e.kind == Kind::Unavailable => Err(Error::new(
                        Kind::Permission,
                        format!(
                            "no Azure credentials: set AZURE_TENANT_ID and AZURE_CLIENT_ID with AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE, or run with a managed identity (IMDS: {})",
                            e.what
                        ),
                    )),
                    Err(e) => Err(e),
                }
            }
        };
        r.map_err(|e| {
            if e.source.is_some() {
                e
            } else {
                e.with_source(src)
            }
        })
    }

    fn entra(
        &mut self,
        authority: &str,
        tenant: &str,
        client_id: &str,
        resource: &str,
        credential: &[(&str, &[u8])],
    ) -> Result<Secret, Error> {
        let url = format!("{authority}/{tenant}/oauth2/v2.0/token");
        let scope = format!("{resource}/.default");
        let mut pairs: Vec<(&str, &[u8])> = vec![
            ("grant_type", b"client_credentials"),
            ("client_id", client_id.as_bytes()),
            ("scope", scope.as_bytes()),
        ];
        pairs.extend_from_slice(credential);
        let body = http::form(&pairs);
        let resp = self.client(&url).post(
            &url,
            &[(
                "Content-Type",
                b"application/x-www-form-urlencoded".as_slice(),
            )],
            &body,
        )?;
        parse_token(resp.status, &resp.body)
    }

    /// Refuses (78) a URL a bearer token may not go to (see [`may_carry_token`]).
    fn check_token_url(&self, url: &str) -> Result<(), Error> {
        if may_carry_token(url, self.endpoint.as_deref()) {
            return Ok(());
        }
        Err(Error::new(
            Kind::Config,
            format!(
                "{}: not a Key Vault address; a bearer token is never sent there",
                crate::url::redact_url(url)
            ),
        ))
    }

    /// Reads a secret, with the version the answer's `id` names: `Ok(None)` when it (or the
    /// pinned version) does not exist.
    pub(crate) fn get_secret(
        &mut self,
        base: &str,
        path: &str,
        token: &Secret,
    ) -> Result<Option<Versioned>, Error> {
        let url = format!("{base}{path}?api-version={API_VERSION}");
        self.check_token_url(&url)?;
        let auth = http::bearer(token.expose());
        let resp = self.client(&url).get(
            &url,
            &[("Authorization", &auth), ("Accept", b"application/json")],
        )?;
        let value = parse_secret(resp.status, &resp.body)?;
        Ok(value.map(|value| Versioned {
            value,
            version: secret_version(&resp.body),
        }))
    }

    /// A key operation (`wrapkey`, `unwrapkey`): POST `{base}{path}/{op}` with `body`.
    pub(crate) fn key_operation(
        &mut self,
        base: &str,
        path: &str,
        op: &str,
        token: &Secret,
        body: &Secret,
    ) -> Result<http::Response, Error> {
        let url = format!("{base}{path}/{op}?api-version={API_VERSION}");
        self.check_token_url(&url)?;
        let auth = http::bearer(token.expose());
        self.client(&url).post(
            &url,
            &[
                ("Authorization", &auth),
                ("Content-Type", b"application/json".as_slice()),
                ("Accept", b"application/json"),
            ],
            body.expose(),
        )
    }
}

/// The version a Get Secret answer's `id` names
/// (`https://V.vault.azure.net/secrets/NAME/VERSION` → `VERSION`), when it looks like one.
fn secret_version(body: &Secret) -> Option<String> {
    let v: Value = serde_json::from_slice(body.expose()).ok()?;
    let id = v["id"].as_str()?;
    let (_, rest) = id.split_once("/secrets/")?;
    let (_, version) = rest.split_once('/')?;
    (!version.is_empty() && version.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| version.to_string())
}

/// Percent-encodes a query value.
fn query(v: &str) -> String {
    let mut out = Vec::new();
    crate::url::form_encode(&mut out, v.as_bytes());
    String::from_utf8_lossy(&out).into_owned()
}

/// Interprets a token answer (Entra ID or managed identity), with no I/O (the fuzz target calls
/// it). Refusals are 77; the message holds Entra's error code and its `AADSTS` number, never the
/// body.
pub fn parse_token(status: u16, body: &Secret) -> Result<Secret, Error> {
    let json = serde_json::from_slice::<Value>(body.expose()).ok();
    let field = |k: &str| json.as_ref().and_then(|j| j.get(k)).and_then(Value::as_str);
    if status != 200 {
        let mut what = format!("token request refused: HTTP {status}");
        if let Some(e) = field("error") {
            what.push_str(&format!(" {}", http::service_text(e)));
        }
        if let Some(code) = field("error_description")
            .and_then(|d| d.split([':', ' ']).next())
            .filter(|c| c.starts_with("AADSTS"))
        {
            what.push_str(&format!(" ({})", http::service_text(code)));
        }
        let kind = if status == 429 || status >= 500 {
            Kind::Unavailable
        } else {
            Kind::Permission
        };
        return Err(Error::new(kind, what));
    }
    match field("access_token") {
        Some(t) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Secret::new(t.as_bytes().to_vec()))
        }
        _ => Err(Error::new(
            Kind::Permission,
            "token answer has no usable access_token",
        )),
    }
}

/// Interprets a Get Secret answer, with no I/O (the fuzz target calls it). `Ok(None)` when the
/// secret or version does not exist.
pub fn parse_secret(status: u16, body: &Secret) -> Result<Option<Secret>, Error> {
    let json = serde_json::from_slice::<Value>(body.expose()).ok();
    if status == 200 {
        return match json {
            Some(Value::Object(mut o)) => match o.remove("value") {
                Some(Value::String(v)) => Ok(Some(Secret::new(v.into_bytes()))),
                _ => Err(Error::new(Kind::Unavailable, "answer has no value string")),
            },
            _ => Err(Error::new(Kind::Unavailable, "answer is not a JSON object")),
        };
    }
    let err = json.as_ref().and_then(|j| j.get("error"));
    let code = err.and_then(|e| e.get("code")).and_then(Value::as_str);
    let inner = err
        .and_then(|e| e.get("innererror"))
        .and_then(|e| e.get("code"))
        .and_then(Value::as_str);
    if status == 404 && matches!(code, None | Some("SecretNotFound" | "NotFound")) {
        return Ok(None);
    }
    let mut what = format!("HTTP {status}");
    for c in [code, inner].into_iter().flatten() {
        what.push_str(&format!(" {}", http::service_text(c)));
    }
    if let Some(m) = err.and_then(|e| e.get("message")).and_then(Value::as_str) {
        what.push_str(&format!(": {}", http::service_text(m)));
    }
    let kind = match status {
        401 | 403 => Kind::Permission,
        400 => Kind::Config,
        _ => Kind::Unavailable,
    };
    Err(Error::new(kind, what))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::secret::text as s;

    #[test]
    fn token_only_to_key_vault() {
        assert!(may_carry_token(
            "https://kv1.vault.azure.net/secrets/a?api-version=7.4",
            None
        ));
        assert!(may_carry_token(
            "https://kv1.vault.azure.cn/secrets/a",
            None
        ));
        for bad in [
            "http://kv1.vault.azure.net/secrets/a",
            "https://kv1.vault.azure.net.evil.example/secrets/a",
            "https://evil.example/secrets/a",
            "https://a.b.vault.azure.net/secrets/a",
        ] {
            assert!(!may_carry_token(bad, None), "{bad}");
        }
        let e = Some("https://127.0.0.1:8443");
        assert!(may_carry_token("https://127.0.0.1:8443/secrets/a", e));
        assert!(!may_carry_token("https://127.0.0.1:84430/secrets/a", e));
    }

    #[test]
    fn answers() {
        let v = parse_secret(200, &s(r#"{"value":"canary-v","id":"x"}"#)).expect("ok");
        assert_eq!(v.expect("some").expose(), b"canary-v");
        assert!(
            parse_secret(
                404,
                &s(r#"{"error":{"code":"SecretNotFound","message":"m"}}"#)
            )
            .expect("none")
            .is_none()
        );
        let e = parse_secret(403, &s(r#"{"error":{"code":"Forbidden","message":"no","innererror":{"code":"AccessDenied"}}}"#)).expect_err("403");
        assert_eq!(e.exit_code(), 77);
        assert!(e.what.contains("AccessDenied"), "{}", e.what);
        assert_eq!(
            parse_secret(500, &s("oops canary"))
                .expect_err("500")
                .exit_code(),
            69
        );
        let e = parse_token(401, &s(r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret canary-x"}"#)).expect_err("401");
        assert_eq!(e.exit_code(), 77);
        assert!(
            e.what.contains("AADSTS7000215") && !e.what.contains("canary"),
            "{}",
            e.what
        );
        assert_eq!(
            parse_token(200, &s(r#"{"access_token":"t1"}"#))
                .expect("t")
                .expose(),
            b"t1"
        );
        assert!(parse_token(200, &s(r#"{"access_token":""}"#)).is_err());
    }

    #[test]
    fn chain_order() {
        let all = Environ::from_pairs(&[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "canary-s"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/f"),
            ("IDENTITY_ENDPOINT", "https://127.0.0.1:1/id"),
            ("IDENTITY_HEADER", "h"),
        ]);
        let c = find(&all).expect("chain");
        assert!(matches!(c, Chain::ClientSecret { .. }));
        assert!(!format!("{c:?}").contains("canary"));
        let wi = Environ::from_pairs(&[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/f"),
            ("IDENTITY_ENDPOINT", "https://127.0.0.1:1/id"),
            ("IDENTITY_HEADER", "h"),
        ]);
        assert!(matches!(
            find(&wi).expect("wi"),
            Chain::WorkloadIdentity { .. }
        ));
        let mi = Environ::from_pairs(&[
            ("AZURE_CLIENT_ID", "c"),
            ("IDENTITY_ENDPOINT", "https://127.0.0.1:1/id"),
            ("IDENTITY_HEADER", "h"),
        ]);
        assert!(matches!(find(&mi).expect("mi"), Chain::AppService { .. }));
        match find(&Environ::default()).expect("imds") {
            Chain::Imds { host, .. } => assert_eq!(host, DEFAULT_IMDS),
            other => panic!("{other:?}"),
        }
        let bad = Environ::from_pairs(&[
            ("AZURE_TENANT_ID", "t/../x"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s"),
        ]);
        assert_eq!(find(&bad).expect_err("bad id").exit_code(), 78);
    }
}

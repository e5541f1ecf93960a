//! GCP credentials, found as google-auth's `google.auth.default()` finds them:
//!
//! 1. `GOOGLE_APPLICATION_CREDENTIALS` names a JSON file; else
//! 2. gcloud's application-default file (`$CLOUDSDK_CONFIG/application_default_credentials.json`,
//!    default `~/.config/gcloud/application_default_credentials.json`), when it exists; else
//! 3. the metadata server: `http://HOST/computeMetadata/v1/instance/service-accounts/default/token`
//!    with `Metadata-Flavor: Google`, HOST being `GCE_METADATA_HOST`, else `GCE_METADATA_IP`, else
//!    `metadata.google.internal`.
//!
//! A JSON file is one of:
//! - `service_account`: an RS256 JWT (`iss` the `client_email`, `aud` Google's token endpoint as
//!   google-auth sets it, scope
//!   `cloud-platform`, one hour) signed with ring from the PKCS#8 `private_key`, exchanged at
//!   `token_uri` (grant `jwt-bearer`);
//! - `external_account` (workload identity federation): the subject token read from
//!   `credential_source.file` (text, or a JSON field), exchanged at `token_url` (STS, RFC 8693),
//!   then, with `service_account_impersonation_url`, traded for the service account's token at
//!   IAM Credentials `generateAccessToken`;
//!
//! `authorized_user` (what `gcloud auth application-default login` writes) is refused (78): a
//! user's login does not belong in a container, and google-auth always sends it to Google's own
//! token endpoint, which no test here may contact.
//!
//! Only reading files happens here; the exchanges are in [`super::client`]. Keys and tokens stay
//! in [`Secret`]s; `Debug` shows identities (e-mail, audience), never them.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{Map, Value};

use crate::environ::{Environ, expand_home};
use crate::error::{Error, Kind};
use crate::secret::Secret;
use crate::source::Outputs;

/// Largest credentials or subject-token file read.
const MAX_FILE_BYTES: u64 = 256 * 1024;

/// The OAuth scope asked for.
pub(crate) const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// google-auth's default token endpoint.
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// A service-account key.
#[derive(Clone)]
pub struct ServiceAccount {
    /// `client_email`: the JWT's issuer.
    pub client_email: String,
    /// `private_key_id`: the JWT header's `kid`.
    pub private_key_id: Option<String>,
    /// `private_key`: PEM PKCS#8.
    pub private_key: Secret,
    /// `token_uri`.
    pub token_uri: String,
}

/// A workload-identity-federation configuration.
#[derive(Clone, Debug)]
pub struct ExternalAccount {
    /// The STS audience (the pool provider).
    pub audience: String,
    /// `subject_token_type`.
    pub subject_token_type: String,
    /// STS `token_url`.
    pub token_url: String,
    /// `credential_source.file`.
    pub file: PathBuf,
    /// `credential_source.format.subject_token_field_name` when the file is JSON.
    pub json_field: Option<String>,
    /// `service_account_impersonation_url`.
    pub impersonation_url: Option<String>,
}

/// Where the access token comes from, decided by reading files only.
pub enum Chain {
    /// A service-account key file.
    ServiceAccount(ServiceAccount),
    /// A workload-identity-federation file.
    External(ExternalAccount),
    /// The metadata server at this `host[:port]`.
    Metadata(String),
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Chain::ServiceAccount(s) => write!(f, "ServiceAccount({})", s.client_email),
            Chain::External(e) => write!(f, "External({})", e.audience),
            Chain::Metadata(h) => write!(f, "Metadata({h})"),
        }
    }
}

/// Reads a small file with the one input reader (`fsx::read_file`: never blocks on a FIFO,
/// regular files only, size-capped); `Ok(None)` when it does not exist.
fn read_file(path: &Path, what: &str) -> Result<Option<Secret>, Error> {
    crate::fsx::read_file(path, MAX_FILE_BYTES).map_err(|e| {
        Error::new(e.kind(Kind::Data), e.text()).with_source(format!("{what} {}", path.display()))
    })
}

/// The metadata server's `host[:port]`.
pub(crate) fn metadata_host(env: &Environ) -> String {
    ["GCE_METADATA_HOST", "GCE_METADATA_IP"]
        .iter()
        .find_map(|n| env.get(n).filter(|v| !v.is_empty()))
        .map_or("metadata.google.internal".into(), |v| {
            v.to_string_lossy().into_owned()
        })
}

/// Walks the chain; the string says where the credentials came from (for logs). A file among
/// `outputs` (one a provider delivers to the program) is never read: refused when the
/// environment names it, skipped when it is the gcloud default.
/// Where gcloud keeps the application default credentials: `$CLOUDSDK_CONFIG/`, else
/// `~/.config/gcloud/`; `None` without a HOME.
pub(crate) fn adc_path(env: &Environ) -> Option<PathBuf> {
    match env.get("CLOUDSDK_CONFIG").filter(|v| !v.is_empty()) {
        Some(d) => Some(PathBuf::from(d).join("application_default_credentials.json")),
        None => expand_home("~/.config/gcloud/application_default_credentials.json", env),
    }
}

pub(crate) fn find(env: &Environ, outputs: &Outputs) -> Result<(Chain, String), Error> {
    if let Some(p) = env
        .get("GOOGLE_APPLICATION_CREDENTIALS")
        .filter(|v| !v.is_empty())
    {
        let path = PathBuf::from(p);
        let src = format!("GOOGLE_APPLICATION_CREDENTIALS file {}", path.display());
        outputs.refuse(&path, "GOOGLE_APPLICATION_CREDENTIALS")?;
        let bytes = read_file(&path, "GOOGLE_APPLICATION_CREDENTIALS file")?.ok_or_else(|| {
            Error::new(Kind::Permission, "does not exist").with_source(src.clone())
        })?;
        return Ok((
            parse_file(&bytes).map_err(|e| e.with_source(src.clone()))?,
            src,
        ));
    }
    let adc = adc_path(env).filter(|p| {
        let ours = outputs.contains(p);
        if ours {
            crate::log::debug!(
                "gcp: {} is delivered to the program, not read as our credentials",
                p.display()
            );
        }
        !ours
    });
    if let Some(path) = adc
        && let Some(bytes) = read_file(&path, "gcloud credentials file")?
    {
        let src = format!("gcloud credentials file {}", path.display());
        return Ok((
            parse_file(&bytes).map_err(|e| e.with_source(src.clone()))?,
            src,
        ));
    }
    let host = metadata_host(env);
    Ok((
        Chain::Metadata(host.clone()),
        format!("the metadata server at {host}"),
    ))
}

/// Checks every URL a credentials file names before anything is read or sent for it: a token
/// goes only to Google (`https://` to `googleapis.com` or a host under it, as google-auth's
/// defaults and regional and private endpoints are), or to the origin of the Secret Manager
/// endpoint secret-init's own settings name (`secret_init.gcp.endpoint`: a private endpoint or
/// a test server, which receives the access token anyway). A file cannot choose where
/// secret-init's credentials go: refused with 78.
pub(crate) fn check_token_urls(chain: &Chain, endpoint: &str) -> Result<(), Error> {
    let urls: Vec<(&str, &str)> = match chain {
        Chain::ServiceAccount(sa) => vec![("token_uri", sa.token_uri.as_str())],
        Chain::External(e) => {
            let mut v = vec![("token_url", e.token_url.as_str())];
            if let Some(u) = &e.impersonation_url {
                v.push(("service_account_impersonation_url", u.as_str()));
            }
            v
        }
        Chain::Metadata(_) => Vec::new(),
    };
    for (what, url) in urls {
        if !is_google_url(url) && !is_under(url, endpoint) {
            return Err(Error::new(
                Kind::Config,
                format!(
                    "{what} {} is not a Google endpoint (https://*.googleapis.com) nor under secret_init.gcp.endpoint; credentials are never sent there",
                    crate::url::redact_url(url)
                ),
            ));
        }
    }
    Ok(())
}

/// `https://` to `googleapis.com` or a host under it, with no user part, any port.
fn is_google_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = authority.split(':').next().unwrap_or_default();
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    host == "googleapis.com"
        || host.strip_suffix(".googleapis.com").is_some_and(|label| {
            !label.is_empty()
                && label.split('.').all(|l| {
                    !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        })
}

/// Whether `url` is on the scheme, host and port of `endpoint` (a setting, not the default).
fn is_under(url: &str, endpoint: &str) -> bool {
    if endpoint == super::config::DEFAULT_ENDPOINT {
        return false;
    }
    let origin = crate::http::origin(endpoint);
    url.strip_prefix(origin.as_str())
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
}

fn field(o: &Map<String, Value>, name: &str) -> Result<String, Error> {
    match o.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(Error::new(
            Kind::Config,
            format!("no \"{name}\" string in the credentials file"),
        )),
    }
}

fn secret_field(o: &mut Map<String, Value>, name: &str) -> Result<Secret, Error> {
    match o.remove(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(Secret::new(s.into_bytes())),
        _ => Err(Error::new(
            Kind::Config,
            format!("no \"{name}\" string in the credentials file"),
        )),
    }
}

/// Interprets a credentials file, with no I/O (the fuzz target calls it). Never quotes it.
pub fn parse_file(bytes: &Secret) -> Result<Chain, Error> {
    let Ok(Value::Object(mut o)) = serde_json::from_slice::<Value>(bytes.expose()) else {
        return Err(Error::new(Kind::Config, "not a JSON object"));
    };
    let kind = field(&o, "type")?;
    match kind.as_str() {
        "service_account" => Ok(Chain::ServiceAccount(ServiceAccount {
            client_email: field(&o, "client_email")?,
            private_key_id: field(&o, "private_key_id").ok(),
            token_uri: field(&o, "token_uri").unwrap_or_else(|_| GOOGLE_TOKEN_URI.into()),
            private_key: secret_field(&mut o, "private_key")?,
        })),
        "external_account" => {
            let source = match o.get("credential_source") {
                Some(Value::Object(s)) => s,
                _ => {
                    return Err(Error::new(
                        Kind::Config,
                        "no \"credential_source\" object in the credentials file",
                    ));
                }
            };
            let Some(Value::String(file)) = source.get("file") else {
                return Err(Error::new(
                    Kind::Config,
                    "only a credential_source \"file\" is supported (not url, executable or aws)",
                ));
            };
            let json_field = match source.get("format") {
                None => None,
                Some(Value::Object(f)) => match f.get("type").and_then(Value::as_str) {
                    None | Some("text") => None,
                    Some("json") => Some(field(f, "subject_token_field_name")?),
                    Some(_) => {
                        return Err(Error::new(
                            Kind::Config,
                            "credential_source.format.type must be text or json",
                        ));
                    }
                },
                Some(_) => {
                    return Err(Error::new(
                        Kind::Config,
                        "credential_source.format must be an object",
                    ));
                }
            };
            Ok(Chain::External(ExternalAccount {
                audience: field(&o, "audience")?,
                subject_token_type: field(&o, "subject_token_type")?,
                token_url: field(&o, "token_url")?,
                file: PathBuf::from(file),
                json_field,
                impersonation_url: field(&o, "service_account_impersonation_url").ok(),
            }))
        }
        other => Err(Error::new(
            Kind::Config,
            format!(
                "credentials type \"{}\" is not supported (service_account, external_account)",
                crate::log::escape_controls(other)
            ),
        )),
    }
}

/// Reads the external account's subject token (trimmed); missing or empty is 77.
pub(crate) fn subject_token(e: &ExternalAccount, outputs: &Outputs) -> Result<Secret, Error> {
    let src = format!("subject token file {}", e.file.display());
    outputs
        .refuse(&e.file, "credential_source.file")
        .map_err(|err| err.with_source(src.clone()))?;
    let bytes = read_file(&e.file, "subject token file")?
        .ok_or_else(|| Error::new(Kind::Permission, "does not exist").with_source(src.clone()))?;
    let token = match &e.json_field {
        None => Secret::new(bytes.expose().trim_ascii().to_vec()),
        Some(name) => match serde_json::from_slice::<Value>(bytes.expose()) {
            Ok(Value::Object(mut o)) => match o.remove(name) {
                Some(Value::String(s)) => Secret::new(s.trim().as_bytes().to_vec()),
                _ => {
                    return Err(Error::new(
                        Kind::Permission,
                        format!("no \"{name}\" string in the JSON"),
                    )
                    .with_source(src));
                }
            },
            _ => return Err(Error::new(Kind::Permission, "not a JSON object").with_source(src)),
        },
    };
    if token.is_empty() {
        return Err(Error::new(Kind::Permission, "empty").with_source(src));
    }
    Ok(token)
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The DER inside a PEM `PRIVATE KEY` block.
fn pkcs8_der(pem: &[u8]) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    let text = std::str::from_utf8(pem).ok()?;
    let body = text
        .split_once("-----BEGIN PRIVATE KEY-----")?
        .1
        .split_once("-----END PRIVATE KEY-----")?
        .0;
    let b64: zeroize::Zeroizing<String> =
        zeroize::Zeroizing::new(body.chars().filter(|c| !c.is_ascii_whitespace()).collect());
    base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .ok()
        .map(zeroize::Zeroizing::new)
}

/// The signed JWT assertion for `sa` at time `now` (seconds), valid one hour.
pub(crate) fn assertion(sa: &ServiceAccount, now: u64) -> Result<Secret, Error> {
    let bad = || {
        Error::new(
            Kind::Config,
            "private_key is not a PEM PKCS#8 RSA key (-----BEGIN PRIVATE KEY-----)",
        )
    };
    let der = pkcs8_der(sa.private_key.expose()).ok_or_else(bad)?;
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der).map_err(|_| bad())?;
    let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = &sa.private_key_id {
        header["kid"] = Value::String(kid.clone());
    }
    let claims = serde_json::json!({
        "iss": sa.client_email,
        "scope": SCOPE,
        // google-auth's audience, whatever the token_uri: Google's token endpoint checks it.
        "aud": GOOGLE_TOKEN_URI,
        "iat": now,
        "exp": now + 3600,
    });
    let mut jwt = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let mut sig = vec![0u8; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        jwt.as_bytes(),
        &mut sig,
    )
    .map_err(|_| Error::new(Kind::Permission, "signing the JWT failed"))?;
    jwt.push('.');
    jwt.push_str(&b64url(&sig));
    Ok(Secret::new(jwt.into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::secret::text as s;

    #[test]
    fn files() {
        match parse_file(&s(
            r#"{"type":"service_account","client_email":"a@p.iam","private_key":"canary-key"}"#,
        ))
        .expect("ok")
        {
            Chain::ServiceAccount(sa) => {
                assert_eq!(sa.token_uri, GOOGLE_TOKEN_URI);
                let e = assertion(&sa, 0).expect_err("not a key");
                assert_eq!(e.exit_code(), 78);
                assert!(!e.to_string().contains("canary"));
            }
            other => panic!("{other:?}"),
        }
        match parse_file(&s(
            r#"{"type":"external_account","audience":"//iam/x","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","token_url":"http://127.0.0.1:1/v1/token","credential_source":{"file":"/t","format":{"type":"json","subject_token_field_name":"id_token"}}}"#,
        ))
        .expect("ok")
        {
            Chain::External(e) => {
                assert_eq!(e.json_field.as_deref(), Some("id_token"));
                assert!(e.impersonation_url.is_none());
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            "canary",
            r#"{"type":"impersonated_service_account"}"#,
            r#"{"type":"service_account","client_email":"a"}"#,
            r#"{"type":"external_account","audience":"a","subject_token_type":"t","token_url":"u","credential_source":{"url":"http://x"}}"#,
            r#"{"type":"authorized_user","client_id":"c","client_secret":"canary"}"#,
            r#"{"type":"service_account","client_email":"a","private_key":1}"#,
        ] {
            let e = parse_file(&s(bad)).expect_err(bad);
            assert_eq!(e.exit_code(), 78, "{bad}");
            assert!(!e.to_string().contains("canary"), "{e}");
        }
    }

    #[test]
    fn token_urls_go_to_google_or_the_configured_endpoint() {
        let sa = |u: &str| {
            Chain::ServiceAccount(ServiceAccount {
                client_email: "a@p".into(),
                private_key_id: None,
                private_key: s("k"),
                token_uri: u.into(),
            })
        };
        let default = super::super::config::DEFAULT_ENDPOINT;
        for (url, endpoint, ok) in [
            ("https://oauth2.googleapis.com/token", default, true),
            (
                "https://sts.us-east4.rep.googleapis.com/v1/token",
                default,
                true,
            ),
            ("https://OAUTH2.googleapis.com./token", default, true),
            ("http://oauth2.googleapis.com/token", default, false),
            ("https://evil.example/token", default, false),
            ("https://googleapis.com.evil.example/token", default, false),
            ("https://x@oauth2.googleapis.com/token", default, false),
            ("https://evilgoogleapis.com/token", default, false),
            ("http://127.0.0.1:9/token", default, false),
            ("http://127.0.0.1:9/token", "http://127.0.0.1:9", true),
            ("http://127.0.0.1:9/token", "http://127.0.0.1:8", false),
            ("http://127.0.0.1:99/token", "http://127.0.0.1:9", false),
        ] {
            assert_eq!(
                check_token_urls(&sa(url), endpoint).is_ok(),
                ok,
                "{url} with {endpoint}"
            );
        }
        assert_eq!(
            check_token_urls(&sa("https://evil.example/t"), default)
                .expect_err("refused")
                .exit_code(),
            78
        );
    }

    #[test]
    fn metadata_hosts() {
        assert_eq!(
            metadata_host(&Environ::default()),
            "metadata.google.internal"
        );
        let env = Environ::from_pairs(&[("GCE_METADATA_IP", "127.0.0.1:9")]);
        assert_eq!(metadata_host(&env), "127.0.0.1:9");
        let env = Environ::from_pairs(&[
            ("GCE_METADATA_HOST", "127.0.0.1:8"),
            ("GCE_METADATA_IP", "127.0.0.1:9"),
        ]);
        assert_eq!(metadata_host(&env), "127.0.0.1:8");
    }
}

//! Vault settings: `secret_init.vault` in config.yaml, the `--vault-*` options with their
//! `SECRET_INIT_VAULT_*` twins, and the standard Vault/OpenBao environment, merged into one
//! typed [`VaultSettings`]. Nothing here reads a file or opens a connection; credentials are read
//! at login, and only their locations are settled here.
//!
//! Precedence per key: command line, `SECRET_INIT_*` twin, config.yaml, then the standard variable
//! (`VAULT_ADDR`/`BAO_ADDR`, `VAULT_CACERT`/`BAO_CACERT`, `VAULT_NAMESPACE`/`BAO_NAMESPACE`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::cli::merge::{parse_bool, pick, pick_list, text};
use crate::cli::{Invocation, Opt};
use crate::environ::Environ;
use crate::error::{Error, Errors, Kind};

/// The default Kubernetes service-account token file, read by `jwt` and `kubernetes` logins.
pub const K8S_SA_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// `secret_init.vault` as written in config.yaml.
#[derive(Debug, Default, Deserialize)]
pub struct VaultFileSettings {
    /// Server address, e.g. `https://vault.internal:8200`.
    pub address: Option<String>,
    /// PEM CA bundle to trust for this server.
    pub ca_cert: Option<PathBuf>,
    /// Vault Enterprise / OpenBao namespace (`X-Vault-Namespace`).
    pub namespace: Option<String>,
    /// API paths read for secrets without a reference, merged in order (later wins).
    pub paths: Option<Vec<String>>,
    /// `auto` (default), `1` or `2`.
    pub kv_version: Option<ScalarText>,
    /// API paths whose every key becomes an env var of the program.
    pub env_paths: Option<Vec<String>>,
    /// How to log in.
    pub auth: Option<AuthFileSettings>,
    /// Per-request timeout (`5s`, `500ms`, or a number of seconds).
    pub timeout: Option<ScalarText>,
    /// Overall deadline for everything the vault source does.
    pub deadline: Option<ScalarText>,
    /// Retries after the first attempt on connection errors, 5xx and 429.
    pub retries: Option<u32>,
    /// Full jitter on retry backoff (default true); false waits exactly `200ms·2^n`.
    pub retry_jitter: Option<bool>,
    /// Permit `http://` to a host that is not loopback.
    pub allow_insecure_http: Option<bool>,
    /// Dynamic secrets: name → one write (or read) whose response's fields are delivered
    /// together (docs/vault.md, "Dynamic secrets").
    pub dynamic: Option<BTreeMap<String, DynamicFileSettings>>,
    /// Unknown keys, refused (78).
    #[serde(flatten)]
    pub unknown: BTreeMap<String, IgnoredAny>,
}

/// One `secret_init.vault.dynamic` entry as written.
#[derive(Debug, Default, Deserialize)]
pub struct DynamicFileSettings {
    /// The API path, e.g. `pki/issue/web` or `database/creds/app`.
    pub path: Option<String>,
    /// `POST` (also `PUT`, the same to Vault) or `GET`; default `POST` with `data`, else `GET`.
    pub method: Option<String>,
    /// The request's parameters (strings or numbers).
    pub data: Option<BTreeMap<String, ScalarText>>,
    /// Delivered file suffix → field of the response's `data`.
    pub fields: Option<BTreeMap<String, String>>,
    /// Unknown keys, refused (78).
    #[serde(flatten)]
    pub unknown: BTreeMap<String, IgnoredAny>,
}

/// One dynamic secret: a request whose response's fields are published as one set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dynamic {
    /// Its name: the files are `<output_dir>/<name>.<field>`.
    pub name: String,
    /// The API path.
    pub path: String,
    /// POST (true) or GET.
    pub post: bool,
    /// The request body's string fields.
    pub data: Vec<(String, String)>,
    /// Delivered file suffix → the response's `data` field.
    pub fields: Vec<(String, String)>,
}

/// `secret_init.vault.auth` as written.
#[derive(Debug, Default, Deserialize)]
pub struct AuthFileSettings {
    /// `token` (default), `approle`, `jwt` or `kubernetes`.
    pub method: Option<String>,
    /// Token method: a file holding the token (else `VAULT_TOKEN` / `BAO_TOKEN`).
    pub token_file: Option<PathBuf>,
    /// AppRole: the role id itself (it is an identifier, not a secret).
    pub role_id: Option<String>,
    /// AppRole: a file holding the role id.
    pub role_id_file: Option<PathBuf>,
    /// AppRole: a file holding the secret id (else `VAULT_SECRET_ID` / `BAO_SECRET_ID`).
    pub secret_id_file: Option<PathBuf>,
    /// AppRole: delete the secret id file after a successful login (one-shot secret ids).
    pub remove_secret_id_file: Option<bool>,
    /// JWT/Kubernetes: the role to log in as.
    pub role: Option<String>,
    /// The auth mount path (default: the method's name).
    pub mount: Option<String>,
    /// JWT/Kubernetes: the token file (default: the service-account token).
    pub jwt_file: Option<PathBuf>,
    /// Unknown keys, refused (78).
    #[serde(flatten)]
    pub unknown: BTreeMap<String, IgnoredAny>,
}

/// A YAML scalar kept as its text, whether written as a number (`2`, `1.5`) or a word (`auto`,
/// `5s`). A hand-written visitor instead of `#[serde(untagged)]`, which buffers every value and
/// costs tens of KB of code in the static binary.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarText(pub String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ScalarText;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or a word")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Which KV engine version to assume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvVersion {
    /// Decide per response: `{"data": {"data": {..}, "metadata": {..}}}` is v2, anything else v1.
    Auto,
    /// KV v1: the response's `data` is the secret.
    V1,
    /// KV v2: the response's `data.data` is the secret; versions can be pinned.
    V2,
}

/// How to obtain a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// A token given directly: a file, else `VAULT_TOKEN` / `BAO_TOKEN` (read at login).
    Token {
        /// The token file, if configured.
        file: Option<PathBuf>,
    },
    /// AppRole login.
    AppRole {
        /// Mount path, default `approle`.
        mount: String,
        /// Where the role id comes from.
        role_id: Credential,
        /// Where the secret id comes from.
        secret_id: Credential,
        /// Remove the secret id file after a successful login.
        remove_secret_id_file: bool,
    },
    /// JWT or Kubernetes service-account login: POST `{role, jwt}` to `auth/<mount>/login`.
    Jwt {
        /// `jwt` or `kubernetes`, for messages.
        method: &'static str,
        /// Mount path, default the method's name.
        mount: String,
        /// The role.
        role: String,
        /// The JWT file.
        jwt_file: PathBuf,
    },
}

/// Where a login input comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// Given in config.yaml (role ids only).
    Literal(String),
    /// Read from a file at login.
    File(PathBuf),
    /// Read from the first set variable of the start-time environment.
    Env(&'static [&'static str]),
}

/// The vault source's settings, typed and merged.
#[derive(Clone, Debug)]
pub struct VaultSettings {
    /// Base address without a trailing slash.
    pub address: String,
    /// Explicit CA bundle (setting or `VAULT_CACERT`/`BAO_CACERT`); `None` falls back to
    /// `SSL_CERT_FILE`, then the system bundle.
    pub ca_cert: Option<PathBuf>,
    /// Namespace header, if any.
    pub namespace: Option<String>,
    /// Paths for lookups by name.
    pub paths: Vec<String>,
    /// Paths injected whole into the program's environment.
    pub env_paths: Vec<String>,
    /// KV engine version.
    pub kv_version: KvVersion,
    /// Login method.
    pub auth: Auth,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Overall deadline.
    pub deadline: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    /// Randomise retry backoff (full jitter); off only to measure what jitter buys.
    pub retry_jitter: bool,
    /// Permit `http://` to a non-loopback host.
    pub allow_insecure_http: bool,
    /// Dynamic secrets (`secret_init.vault.dynamic`), in name order.
    pub dynamic: Vec<Dynamic>,
}

/// Refuses unknown keys of `secret_init.vault` and its `auth` (78), like the rest of the section.
pub fn reject_unknown(v: &VaultFileSettings, src: &str, errors: &mut Errors) {
    let auth = v.auth.as_ref().map(|a| &a.unknown);
    let mut sections = vec![
        ("secret_init.vault".to_string(), Some(&v.unknown)),
        ("secret_init.vault.auth".to_string(), auth),
    ];
    for (name, d) in v.dynamic.iter().flatten() {
        let name = crate::log::escape_controls(name);
        sections.push((
            format!("secret_init.vault.dynamic.{name}"),
            Some(&d.unknown),
        ));
    }
    for (section, keys) in sections {
        for key in keys.into_iter().flat_map(BTreeMap::keys) {
            errors.push(
                Error::new(
                    Kind::Config,
                    format!("{section}: unknown setting \"{key}\""),
                )
                .with_source(src),
            );
        }
    }
}

/// Parses `250ms`, `5s`, `1.5s`, `2m` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num.trim().parse().ok()?;
    seconds(v * scale)
}

fn seconds(v: f64) -> Option<Duration> {
    (v.is_finite() && v > 0.0 && v <= 3600.0).then(|| Duration::from_secs_f64(v))
}

fn duration(
    inv: &Invocation,
    env: &Environ,
    opt: Opt,
    file: Option<&ScalarText>,
    key: &str,
    default: Duration,
) -> Result<Duration, Error> {
    if let Some((v, origin)) = pick(inv, env, opt) {
        let v = text(v, &origin)?;
        return parse_duration(&v).ok_or_else(|| {
            Error::new(
                Kind::Usage,
                format!("{origin}: expected a duration like 5s or 500ms (at most 1 hour)"),
            )
        });
    }
    match file {
        None => Some(default),
        Some(t) => parse_duration(&t.0),
    }
    .ok_or_else(|| {
        Error::new(
            Kind::Config,
            format!(
                "secret_init.vault.{key}: expected a duration like 5s or 500ms (at most 1 hour)"
            ),
        )
    })
}

fn env_first(env: &Environ, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| {
        env.get(n)
            .filter(|v| !v.is_empty())
            .map(|v| v.to_string_lossy().into_owned())
    })
}

/// Validates an API path as written in settings (the same rule as `vault:` references).
fn check_path(p: &str, key: &str) -> Result<String, Error> {
    match crate::reference::Reference::parse(&format!("vault:{p}")) {
        Ok(crate::reference::Reference::Vault {
            path,
            key: None,
            version: None,
        }) => Ok(path),
        _ => Err(Error::new(
            Kind::Config,
            format!(
                "secret_init.vault.{key}: \"{}\" is not an API path like secret/data/app",
                crate::log::escape_controls(p)
            ),
        )),
    }
}

/// A name that is safe as part of one file name: `[A-Za-z0-9_-]`, 1 to 64 bytes.
fn plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `secret_init.vault.dynamic`, checked: every entry has a path and at least one field, the
/// names make plain file names, the method is GET, POST or PUT.
fn dynamic(d: Option<&BTreeMap<String, DynamicFileSettings>>) -> Result<Vec<Dynamic>, Error> {
    let mut out = Vec::new();
    for (name, f) in d.into_iter().flatten() {
        let at = format!(
            "secret_init.vault.dynamic.{}",
            crate::log::escape_controls(name)
        );
        let bad = |what: String| Error::new(Kind::Config, format!("{at}: {what}"));
        if !plain_name(name) {
            return Err(bad(
                "the name must be 1-64 letters, digits, _ or - (it names the files)".into(),
            ));
        }
        let path = f
            .path
            .as_deref()
            .ok_or_else(|| bad("path missing (e.g. pki/issue/web)".into()))?;
        let path = check_path(path, &format!("dynamic.{name}.path"))?;
        let data: Vec<(String, String)> = f
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect();
        let post = match f.method.as_deref().map(str::to_ascii_uppercase).as_deref() {
            None => !data.is_empty(),
            Some("POST" | "PUT") => true,
            Some("GET") if data.is_empty() => false,
            Some("GET") => return Err(bad("method GET takes no data".into())),
            Some(_) => return Err(bad("method: expected POST, PUT or GET".into())),
        };
        let fields: Vec<(String, String)> = f
            .fields
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if fields.is_empty() {
            return Err(bad(
                "fields missing (file suffix: response field, e.g. cert: certificate)".into(),
            ));
        }
        if let Some((k, _)) = fields.iter().find(|(k, v)| !plain_name(k) || v.is_empty()) {
            return Err(bad(format!(
                "fields.{}: the suffix must be 1-64 letters, digits, _ or -, the field non-empty",
                crate::log::escape_controls(k)
            )));
        }
        out.push(Dynamic {
            name: name.clone(),
            path,
            post,
            data,
            fields,
        });
    }
    Ok(out)
}

fn mount(m: Option<&str>, default: &str) -> Result<String, Error> {
    let m = m.unwrap_or(default).trim_matches('/');
    if m.is_empty()
        || m.split('/').any(|s| s.is_empty() || s == "." || s == "..")
        || !m
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
    {
        return Err(Error::new(
            Kind::Config,
            "secret_init.vault.auth.mount: expected a mount path like approle or auth-k8s",
        ));
    }
    Ok(m.to_string())
}

fn auth(a: Option<&AuthFileSettings>) -> Result<Auth, Error> {
    let default = AuthFileSettings::default();
    let a = a.unwrap_or(&default);
    let method = a.method.as_deref().unwrap_or("token");
    let refuse = |keys: &[(&str, bool)]| -> Result<(), Error> {
        match keys.iter().find(|(_, set)| *set) {
            Some((k, _)) => Err(Error::new(
                Kind::Config,
                format!("secret_init.vault.auth.{k} does not apply to method {method}"),
            )),
            None => Ok(()),
        }
    };
    match method {
        "token" => {
            refuse(&[
                ("role_id", a.role_id.is_some()),
                ("role_id_file", a.role_id_file.is_some()),
                ("secret_id_file", a.secret_id_file.is_some()),
                ("remove_secret_id_file", a.remove_secret_id_file.is_some()),
                ("role", a.role.is_some()),
                ("mount", a.mount.is_some()),
                ("jwt_file", a.jwt_file.is_some()),
            ])?;
            Ok(Auth::Token {
                file: a.token_file.clone(),
            })
        }
        "approle" => {
            refuse(&[
                ("token_file", a.token_file.is_some()),
                ("role", a.role.is_some()),
                ("jwt_file", a.jwt_file.is_some()),
            ])?;
            let role_id = match (&a.role_id, &a.role_id_file) {
                (Some(_), Some(_)) => {
                    return Err(Error::new(
                        Kind::Config,
                        "secret_init.vault.auth: give role_id or role_id_file, not both",
                    ));
                }
                (Some(r), None) => Credential::Literal(r.clone()),
                (None, Some(f)) => Credential::File(f.clone()),
                (None, None) => Credential::Env(&["VAULT_ROLE_ID", "BAO_ROLE_ID"]),
            };
            let secret_id = match &a.secret_id_file {
                Some(f) => Credential::File(f.clone()),
                None => Credential::Env(&["VAULT_SECRET_ID", "BAO_SECRET_ID"]),
            };
            let remove = a.remove_secret_id_file.unwrap_or(false);
            if remove && a.secret_id_file.is_none() {
                return Err(Error::new(
                    Kind::Config,
                    "secret_init.vault.auth.remove_secret_id_file needs secret_id_file",
                ));
            }
            Ok(Auth::AppRole {
                mount: mount(a.mount.as_deref(), "approle")?,
                role_id,
                secret_id,
                remove_secret_id_file: remove,
            })
        }
        "jwt" | "kubernetes" => {
            refuse(&[
                ("token_file", a.token_file.is_some()),
                ("role_id", a.role_id.is_some()),
                ("role_id_file", a.role_id_file.is_some()),
                ("secret_id_file", a.secret_id_file.is_some()),
                ("remove_secret_id_file", a.remove_secret_id_file.is_some()),
            ])?;
            let role = a.role.clone().filter(|r| !r.is_empty()).ok_or_else(|| {
                Error::new(
                    Kind::Config,
                    format!("secret_init.vault.auth: method {method} needs a role"),
                )
            })?;
            let method: &'static str = if method == "jwt" { "jwt" } else { "kubernetes" };
            Ok(Auth::Jwt {
                method,
                mount: mount(a.mount.as_deref(), method)?,
                role,
                jwt_file: a
                    .jwt_file
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(K8S_SA_TOKEN)),
            })
        }
        other => Err(Error::new(
            Kind::Config,
            format!(
                "secret_init.vault.auth.method: unknown method \"{}\" (token, approle, jwt, kubernetes)",
                crate::log::escape_controls(other)
            ),
        )),
    }
}

impl VaultSettings {
    /// Merges the vault settings; `Ok(None)` when no address is configured anywhere (then the
    /// vault source does not exist, and `vault:` references are refused with 78).
    pub fn resolve(
        inv: &Invocation,
        env: &Environ,
        file: Option<&VaultFileSettings>,
        allow_insecure_http: bool,
    ) -> Result<Option<VaultSettings>, Error> {
        let default = VaultFileSettings::default();
        let f = file.unwrap_or(&default);
        let address = match pick(inv, env, Opt::VaultAddr) {
            Some((v, origin)) => Some(text(v, &origin)?),
            None => f
                .address
                .clone()
                .or_else(|| env_first(env, &["VAULT_ADDR", "BAO_ADDR"])),
        };
        let Some(address) = address.filter(|a| !a.is_empty()) else {
            if file
                .is_some_and(|f| f.paths.is_some() || f.env_paths.is_some() || f.dynamic.is_some())
            {
                return Err(Error::new(
                    Kind::Config,
                    "secret_init.vault: paths given but no address (set address, VAULT_ADDR or BAO_ADDR)",
                ));
            }
            return Ok(None);
        };
        let address = address.trim_end_matches('/').to_string();
        let allow_insecure_http = allow_insecure_http || f.allow_insecure_http.unwrap_or(false);
        // Refuse a plain-http address now (78), before any secret is looked up.
        crate::http::Client::new(crate::http::Options {
            allow_insecure_http,
            ..Default::default()
        })
        .check_url(&format!("{address}/v1/sys/health"))
        .map_err(|e| Error::new(e.kind, format!("vault address {}", e.what)))?;
        let ca_cert = match pick(inv, env, Opt::VaultCaCert) {
            Some((v, _)) => Some(PathBuf::from(v)),
            None => f
                .ca_cert
                .clone()
                .or_else(|| env_first(env, &["VAULT_CACERT", "BAO_CACERT"]).map(PathBuf::from)),
        };
        let namespace = match pick(inv, env, Opt::VaultNamespace) {
            Some((v, origin)) => Some(text(v, &origin)?),
            None => f
                .namespace
                .clone()
                .or_else(|| env_first(env, &["VAULT_NAMESPACE", "BAO_NAMESPACE"])),
        }
        .filter(|n| !n.is_empty());
        if let Some(ns) = &namespace
            && !ns.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(Error::new(
                Kind::Config,
                "vault namespace: must be printable ASCII without spaces",
            ));
        }
        let paths = match pick_list(inv, env, Opt::VaultPath, ',') {
            Some(v) => v,
            None => f.paths.clone().unwrap_or_default(),
        }
        .iter()
        .map(|p| check_path(p, "paths"))
        .collect::<Result<Vec<_>, _>>()?;
        let env_paths = f
            .env_paths
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|p| check_path(p, "env_paths"))
            .collect::<Result<Vec<_>, _>>()?;
        let kv_version = match f.kv_version.as_ref().map(|v| v.0.as_str()) {
            None | Some("auto") => KvVersion::Auto,
            Some("1") => KvVersion::V1,
            Some("2") => KvVersion::V2,
            Some(_) => {
                return Err(Error::new(
                    Kind::Config,
                    "secret_init.vault.kv_version: expected auto, 1 or 2",
                ));
            }
        };
        let retries = match pick(inv, env, Opt::VaultRetries) {
            Some((v, origin)) => text(v, &origin)?
                .parse::<u32>()
                .ok()
                .filter(|n| *n <= 20)
                .ok_or_else(|| Error::new(Kind::Usage, format!("{origin}: expected 0..=20")))?,
            None => match f.retries {
                Some(n) if n <= 20 => n,
                Some(_) => {
                    return Err(Error::new(
                        Kind::Config,
                        "secret_init.vault.retries: expected 0..=20",
                    ));
                }
                // 8 retries: the full-jitter backoff ceilings add up to 21 s (0.2, 0.4, ... 5 s),
                // about 10 s on average, so a fleet rides out a seal or failover of a few
                // seconds inside the 30 s deadline. With 3 (0.7 s on average) a one-second seal
                // failed 18% of 200 replicas (scripts/fleet --fault sealed, docs/fleet.md).
                None => 8,
            },
        };
        let retry_jitter = match pick(inv, env, Opt::VaultRetryJitter) {
            Some((v, origin)) => match parse_bool(&text(v, &origin)?) {
                Some(b) => b,
                None => {
                    return Err(Error::new(
                        Kind::Usage,
                        format!("{origin}: expected on or off"),
                    ));
                }
            },
            None => f.retry_jitter.unwrap_or(true),
        };
        Ok(Some(VaultSettings {
            address,
            ca_cert,
            namespace,
            paths,
            env_paths,
            kv_version,
            auth: auth(f.auth.as_ref())?,
            timeout: duration(
                inv,
                env,
                Opt::VaultTimeout,
                f.timeout.as_ref(),
                "timeout",
                Duration::from_secs(5),
            )?,
            deadline: duration(
                inv,
                env,
                Opt::VaultDeadline,
                f.deadline.as_ref(),
                "deadline",
                Duration::from_secs(30),
            )?,
            retries,
            retry_jitter,
            allow_insecure_http,
            dynamic: dynamic(f.dynamic.as_ref())?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn inv(a: &[&str]) -> Invocation {
        crate::cli::parse(a.iter().map(OsString::from)).expect("parse")
    }

    fn env(pairs: &[(&str, &str)]) -> Environ {
        Environ(
            pairs
                .iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v)))
                .collect(),
        )
    }

    fn file(yaml: &str) -> VaultFileSettings {
        serde_saphyr::from_str(yaml).expect("yaml")
    }

    #[test]
    fn numbers_and_words_in_yaml() {
        let f = file("address: https://v\nkv_version: 2\ntimeout: 1.5\ndeadline: 20s\n");
        let v = VaultSettings::resolve(&inv(&["--", "x"]), &env(&[]), Some(&f), false)
            .expect("ok")
            .expect("some");
        assert_eq!(v.kv_version, KvVersion::V2);
        assert_eq!(v.timeout, Duration::from_millis(1500));
        assert_eq!(v.deadline, Duration::from_secs(20));
        let f = file("address: https://v\nkv_version: \"1\"\n");
        let v = VaultSettings::resolve(&inv(&["--", "x"]), &env(&[]), Some(&f), false)
            .expect("ok")
            .expect("some");
        assert_eq!(v.kv_version, KvVersion::V1);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Some(Duration::from_secs(60)));
        for bad in ["", "0", "-1s", "x", "2h", "NaN", "inf"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn no_address_means_no_vault() {
        let v = VaultSettings::resolve(&inv(&["--", "x"]), &env(&[]), None, false).expect("ok");
        assert!(v.is_none());
        let f = file("paths: [secret/data/a]\n");
        let e = VaultSettings::resolve(&inv(&["--", "x"]), &env(&[]), Some(&f), false)
            .expect_err("paths without address");
        assert_eq!(e.exit_code(), 78);
    }

    #[test]
    fn precedence_and_standard_env() {
        let e = env(&[
            ("VAULT_ADDR", "https://from-env:8200/"),
            ("BAO_CACERT", "/bao-ca.pem"),
            ("VAULT_NAMESPACE", "team"),
        ]);
        let v = VaultSettings::resolve(&inv(&["--", "x"]), &e, None, false)
            .expect("ok")
            .expect("some");
        assert_eq!(v.address, "https://from-env:8200");
        assert_eq!(v.ca_cert, Some(PathBuf::from("/bao-ca.pem")));
        assert_eq!(v.namespace.as_deref(), Some("team"));
        assert_eq!(v.auth, Auth::Token { file: None });
        assert_eq!(v.kv_version, KvVersion::Auto);
        let f = file("address: https://from-file\ntimeout: 2\ndeadline: 10s\nretries: 1\n");
        let v = VaultSettings::resolve(
            &inv(&[
                "--vault-addr",
                "https://cli",
                "--vault-timeout",
                "300ms",
                "--",
                "x",
            ]),
            &e,
            Some(&f),
            false,
        )
        .expect("ok")
        .expect("some");
        assert_eq!(v.address, "https://cli");
        assert_eq!(v.timeout, Duration::from_millis(300));
        assert_eq!(v.deadline, Duration::from_secs(10));
        assert_eq!(v.retries, 1);
        let v = VaultSettings::resolve(&inv(&["--", "x"]), &e, Some(&f), false)
            .expect("ok")
            .expect("some");
        assert_eq!(v.address, "https://from-file");
        assert_eq!(v.timeout, Duration::from_secs(2));
    }

    #[test]
    fn retry_jitter_defaults_on_and_follows_precedence() {
        let none = file("address: https://v\n");
        let r = |i: &[&str], e: &[(&str, &str)], f: &VaultFileSettings| {
            VaultSettings::resolve(&inv(i), &env(e), Some(f), false)
        };
        let on = |i: &[&str], e: &[(&str, &str)], f: &VaultFileSettings| {
            r(i, e, f).expect("ok").expect("some").retry_jitter
        };
        assert!(on(&["--", "x"], &[], &none));
        let off = file("address: https://v\nretry_jitter: false\n");
        assert!(!on(&["--", "x"], &[], &off));
        let twin = [("SECRET_INIT_VAULT_RETRY_JITTER", "on")];
        assert!(on(&["--", "x"], &twin, &off));
        assert!(!on(
            &["--vault-retry-jitter", "off", "--", "x"],
            &twin,
            &none
        ));
        let bad = [("SECRET_INIT_VAULT_RETRY_JITTER", "sometimes")];
        assert_eq!(
            r(&["--", "x"], &bad, &none).expect_err("bad").exit_code(),
            64
        );
    }

    #[test]
    fn auth_methods() {
        let f = file(
            "address: https://v\nauth: {method: approle, role_id_file: /r, secret_id_file: /s, remove_secret_id_file: true}\n",
        );
        let v = VaultSettings::resolve(&inv(&["--", "x"]), &env(&[]), Some(&f), false)
            .expect("ok")
            .expect("some");
        assert_eq!(
            v.auth,
            Auth::AppRole {
                mount: "approle".into(),
                role_id: Credential::File("/r".into()),
                secret_id: Credential::File("/s".into()),
                remove_secret_id_file: true
            }
        );
        let f = file("address: https://v\nauth: {method: kubernetes, role: app}\n");
        let v = VaultSettings::resolve(&inv(&["--", "x"]), &env(&[]), Some(&f), false)
            .expect("ok")
            .expect("some");
        assert_eq!(
            v.auth,
            Auth::Jwt {
                method: "kubernetes",
                mount: "kubernetes".into(),
                role: "app".into(),
                jwt_file: K8S_SA_TOKEN.into()
            }
        );
    }

    #[test]
    fn refused() {
        for (yaml, code) in [
            ("address: http://vault.example:8200\n", 78),
            ("address: https://v\nauth: {method: ldap}\n", 78),
            ("address: https://v\nauth: {method: jwt}\n", 78),
            ("address: https://v\nauth: {method: token, role: x}\n", 78),
            (
                "address: https://v\nauth: {method: approle, role_id: a, role_id_file: /b}\n",
                78,
            ),
            (
                "address: https://v\nauth: {method: approle, remove_secret_id_file: true}\n",
                78,
            ),
            (
                "address: https://v\nauth: {method: approle, mount: ../x}\n",
                78,
            ),
            ("address: https://v\nkv_version: 3\n", 78),
            ("address: https://v\npaths: [a/../b]\n", 78),
            ("address: https://v\ntimeout: 0\n", 78),
            ("address: https://v\nretries: 99\n", 78),
        ] {
            let f = file(yaml);
            let e = VaultSettings::resolve(&inv(&["--", "x"]), &env(&[]), Some(&f), false)
                .expect_err(yaml);
            assert_eq!(e.exit_code(), code, "{yaml}: {e}");
        }
        let f = file("address: http://vault.example:8200\n");
        assert!(
            VaultSettings::resolve(&inv(&["--", "x"]), &env(&[]), Some(&f), true)
                .expect("opt-in")
                .is_some()
        );
        let f = file("address: http://127.0.0.1:8200\n");
        assert!(
            VaultSettings::resolve(&inv(&["--", "x"]), &env(&[]), Some(&f), false)
                .expect("loopback")
                .is_some()
        );
    }
}

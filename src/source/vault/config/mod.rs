//! Vault settings: `secret_init.vault` in config.yaml, the `--vault-*` options with their
//! `SECRET_INIT_VAULT_*` twins, and the standard Vault/OpenBao environment, merged into one
//! typed [`VaultSettings`]. Nothing here reads a file or opens a connection; credentials are read
//! at login, and only their locations are settled here.
//!
//! Precedence per key: command line, `SECRET_INIT_*` twin, config.yaml, then the standard variable
//! (`VAULT_ADDR`/`BAO_ADDR`, `VAULT_CACERT`/`BAO_CACERT`, `VAULT_NAMESPACE`/`BAO_NAMESPACE`).

mod auth;
mod dynamic;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::IgnoredAny;

use crate::cli::merge::{parse_bool, pick, pick_list, text};
use crate::cli::{Invocation, Opt};
use crate::environ::Environ;
use crate::error::{Error, Errors, Kind};
use crate::source::section::{Section, reject_unknown};
use crate::source::transport::{
    EXPECTED_DURATION, EXPECTED_RETRIES, Transport, layered, remote_section, retries,
    transport_deref,
};
pub(crate) use crate::source::transport::{ScalarText, parse_duration};
pub(crate) use auth::{Auth, AuthFileSettings, Credential};
pub(crate) use dynamic::{Dynamic, DynamicFileSettings};

remote_section! {
    /// `secret_init.vault` as written in config.yaml (`ca_cert`: the PEM CA bundle to trust for
    /// this server).
    pub struct VaultFileSettings {
        /// Server address, e.g. `https://vault.internal:8200`.
        pub address: Option<String>,
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
        /// Full jitter on retry backoff (default true); false waits exactly `200ms·2^n`.
        pub retry_jitter: Option<bool>,
        /// Permit `http://` to a host that is not loopback.
        pub allow_insecure_http: Option<bool>,
        /// Dynamic secrets: name → one write (or read) whose response's fields are delivered
        /// together (docs/vault.md, "Dynamic secrets").
        pub dynamic: Option<BTreeMap<String, DynamicFileSettings>>,
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

/// The vault source's settings, typed and merged.
#[derive(Clone, Debug)]
pub struct VaultSettings {
    /// Base address without a trailing slash.
    pub address: String,
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
    /// Randomise retry backoff (full jitter); off only to measure what jitter buys.
    pub retry_jitter: bool,
    /// Dynamic secrets (`secret_init.vault.dynamic`), in name order.
    pub dynamic: Vec<Dynamic>,
    /// CA bundle (setting or `VAULT_CACERT`/`BAO_CACERT`; `None` falls back to `SSL_CERT_FILE`,
    /// then the system bundle), timeouts, retries, plain-http permission.
    pub transport: Transport,
}
transport_deref!(VaultSettings);

/// Refuses unknown keys of `secret_init.vault`, its `auth` and each `dynamic` entry (78).
impl Section for VaultFileSettings {
    fn unknown(&self) -> &BTreeMap<String, IgnoredAny> {
        &self.unknown
    }

    fn reject_unknown(&self, section: &str, src: &str, errors: &mut Errors) {
        reject_unknown(section, &self.unknown, src, errors);
        if let Some(a) = &self.auth {
            reject_unknown(&format!("{section}.auth"), &a.unknown, src, errors);
        }
        for (name, d) in self.dynamic.iter().flatten() {
            let name = crate::log::escape_controls(name);
            reject_unknown(
                &format!("{section}.dynamic.{name}"),
                &d.unknown,
                src,
                errors,
            );
        }
    }
}

/// `--vault-KEY`, its twin, else `secret_init.vault.KEY` as a duration, else `default`.
fn duration(
    picked: Option<(std::ffi::OsString, String)>,
    file: Option<&ScalarText>,
    key: &str,
    default: Duration,
) -> Result<Duration, Error> {
    let at = format!("secret_init.vault.{key}");
    let d = layered(
        picked,
        parse_duration,
        file,
        |t| parse_duration(&t.0),
        &at,
        EXPECTED_DURATION,
    )?;
    Ok(d.unwrap_or(default))
}

fn env_first(env: &Environ, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| {
        env.get(n)
            .filter(|v| !v.is_empty())
            .map(|v| v.to_string_lossy().into_owned())
    })
}

/// Validates an API path as written in settings (the same rule as `vault:` references).
pub(super) fn check_path(p: &str, key: &str) -> Result<String, Error> {
    match crate::reference::Reference::parse(&format!("vault:{p}")) {
        Ok(crate::reference::Reference::Vault {
            path,
            key: None,
            version: None,
        }) => match crate::reference::own_vault_area(&path) {
            Some(area) => Err(Error::new(
                Kind::Config,
                format!(
                    "secret_init.vault.{key}: \"{path}\" is under {area}/, which holds secret-init's own credentials (its token, its login, its identity); refused"
                ),
            )),
            None => Ok(path),
        },
        _ => Err(Error::new(
            Kind::Config,
            format!(
                "secret_init.vault.{key}: \"{}\" is not an API path like secret/data/app",
                crate::log::escape_controls(p)
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
                .transport
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
        let retries = layered(
            pick(inv, env, Opt::VaultRetries),
            |t| t.parse::<u32>().ok().and_then(retries),
            f.transport.retries,
            retries,
            "secret_init.vault.retries",
            EXPECTED_RETRIES,
        )?
        // 8 retries: the full-jitter backoff ceilings add up to 21 s (0.2, 0.4, ... 5 s), about
        // 10 s on average, so a fleet rides out a seal or failover of a few seconds inside the
        // 30 s deadline. With 3 (0.7 s on average) a one-second seal failed 18% of 200 replicas
        // (scripts/fleet --fault sealed, docs/fleet.md).
        .unwrap_or(8);
        let retry_jitter = layered(
            pick(inv, env, Opt::VaultRetryJitter),
            parse_bool,
            f.retry_jitter,
            Some,
            "secret_init.vault.retry_jitter",
            "expected on or off",
        )?
        .unwrap_or(true);
        let auth = auth::auth(f.auth.as_ref())?;
        let transport = Transport {
            ca_cert,
            timeout: duration(
                pick(inv, env, Opt::VaultTimeout),
                f.transport.timeout.as_ref(),
                "timeout",
                Duration::from_secs(5),
            )?,
            deadline: duration(
                pick(inv, env, Opt::VaultDeadline),
                f.transport.deadline.as_ref(),
                "deadline",
                Duration::from_secs(30),
            )?,
            retries,
            allow_insecure_http,
        };
        Ok(Some(VaultSettings {
            address,
            namespace,
            paths,
            env_paths,
            kv_version,
            auth,
            retry_jitter,
            transport,
            dynamic: dynamic::dynamic(f.dynamic.as_ref())?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::auth::K8S_SA_TOKEN;
    use super::*;
    use std::ffi::OsString;

    fn inv(a: &[&str]) -> Invocation {
        crate::cli::parse(a.iter().map(OsString::from)).expect("parse")
    }

    fn env(pairs: &[(&str, &str)]) -> Environ {
        Environ::new(
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
        assert_eq!(parse_duration("0.01h"), Some(Duration::from_secs(36)));
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

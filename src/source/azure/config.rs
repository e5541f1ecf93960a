//! Azure settings: `secret_init.azure` in config.yaml, merged with the environment.
//!
//! - `vault`: the vault that lookups by name read (a secret `db_password` is read as Key Vault
//!   secret `db-password`: Key Vault names cannot hold `_`).
//! - `secrets`: the manifest names those lookups are limited to (default: every name that reaches
//!   the source).
//! - `endpoint` (or `SECRET_INIT_AZURE_ENDPOINT`): a URL that replaces every vault's own
//!   `https://VAULT.vault.azure.net` — a private endpoint under another name, or a test server.
//!   Bearer tokens go to it because the user named it; plain `http://` only to loopback.
//! - `ca_cert`, `timeout`, `deadline`, `retries` as for the aws source.
//!
//! Nothing here reads a file or opens a connection.

use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::reference::azure::{valid_name, valid_vault};
use crate::source::section::section;
use crate::source::transport::{Transport, remote_section, transport_deref};

/// The environment twin of `secret_init.azure.endpoint`.
pub(crate) const ENDPOINT_VAR: &str = "SECRET_INIT_AZURE_ENDPOINT";

remote_section! {
    /// `secret_init.azure` as written in config.yaml.
    pub struct AzureFileSettings {
        /// The vault lookups by name read.
        pub vault: Option<String>,
        /// The manifest secrets those lookups are limited to.
        pub secrets: Option<Vec<String>>,
        /// A URL replacing every vault's own.
        pub endpoint: Option<String>,
        /// Key Vault secrets (JSON objects) of `vault` whose every key becomes an env var of
        /// the program, later ones overriding earlier ones.
        pub env_secrets: Option<Vec<String>>,
    }
}

section!(AzureFileSettings);

/// The azure source's settings, typed.
#[derive(Clone, Debug)]
pub struct AzureSettings {
    /// The vault for lookups by name.
    pub vault: Option<String>,
    /// The names those lookups are limited to; `None`: all.
    pub secrets: Option<Vec<String>>,
    /// The explicit endpoint (no trailing slash).
    pub endpoint: Option<String>,
    /// Key Vault secret names injected whole into the program's environment, in order.
    pub env_secrets: Vec<String>,
    /// CA bundle, timeouts, retries.
    pub transport: Transport,
}
transport_deref!(AzureSettings);

fn config(what: impl Into<String>) -> Error {
    Error::new(Kind::Config, what)
}

/// The Key Vault secret name a manifest secret is looked up under (`_` becomes `-`).
pub(crate) fn vault_name_of(name: &str) -> String {
    name.replace('_', "-")
}

impl AzureSettings {
    /// Types `secret_init.azure` and its environment twin.
    pub fn resolve(
        file: Option<&AzureFileSettings>,
        env: &Environ,
        allow_insecure_http: bool,
    ) -> Result<AzureSettings, Error> {
        let default = AzureFileSettings::default();
        let f = file.unwrap_or(&default);
        if let Some(v) = &f.vault
            && !valid_vault(v)
        {
            return Err(config(
                "secret_init.azure.vault: a vault name is 3-24 letters, digits and '-', starting with a letter",
            ));
        }
        if let Some(list) = &f.secrets {
            if f.vault.is_none() {
                return Err(config(
                    "secret_init.azure.secrets: needs secret_init.azure.vault (the vault they are read from)",
                ));
            }
            if let Some(bad) = list.iter().find(|n| !valid_name(&vault_name_of(n))) {
                return Err(config(format!(
                    "secret_init.azure.secrets: \"{}\" cannot be a Key Vault secret name (letters, digits, '-' and '_')",
                    crate::log::escape_controls(bad)
                )));
            }
        }
        let env_secrets = f.env_secrets.clone().unwrap_or_default();
        if !env_secrets.is_empty() && f.vault.is_none() {
            return Err(config(
                "secret_init.azure.env_secrets: needs secret_init.azure.vault (the vault they are read from)",
            ));
        }
        if let Some(bad) = env_secrets.iter().find(|n| !valid_name(n)) {
            return Err(config(format!(
                "secret_init.azure.env_secrets: \"{}\" is not a Key Vault secret name (letters, digits and '-')",
                crate::log::escape_controls(bad)
            )));
        }
        let endpoint = match env.get(ENDPOINT_VAR).filter(|v| !v.is_empty()) {
            Some(v) => Some((v.to_string_lossy().into_owned(), ENDPOINT_VAR)),
            None => f
                .endpoint
                .clone()
                .map(|e| (e, "secret_init.azure.endpoint")),
        };
        let endpoint = match endpoint {
            None => None,
            Some((e, from)) => {
                let e = e.trim_end_matches('/').to_string();
                let ok = (e.starts_with("https://") || e.starts_with("http://"))
                    && !e.contains(['?', '#', '@'])
                    && e.parse::<ureq::http::Uri>().is_ok();
                if !ok {
                    return Err(config(format!(
                        "{from}: expected a URL like https://HOST[:PORT] (no query, fragment or user)"
                    )));
                }
                Some(e)
            }
        };
        Ok(AzureSettings {
            vault: f.vault.clone().map(|v| v.to_ascii_lowercase()),
            secrets: f.secrets.clone(),
            endpoint,
            env_secrets,
            transport: Transport::from_file(
                "secret_init.azure",
                &f.transport,
                allow_insecure_http,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings() {
        let f: AzureFileSettings = serde_saphyr::from_str(
            "vault: My-Vault\nsecrets: [db_password, hf-token]\nendpoint: 'https://127.0.0.1:8443/'\n",
        )
        .expect("yaml");
        let s = AzureSettings::resolve(Some(&f), &Environ::default(), false).expect("ok");
        assert_eq!(s.vault.as_deref(), Some("my-vault"));
        assert_eq!(s.endpoint.as_deref(), Some("https://127.0.0.1:8443"));
        let env = Environ::from_pairs(&[(ENDPOINT_VAR, "https://127.0.0.1:9")]);
        let s = AzureSettings::resolve(Some(&f), &env, false).expect("ok");
        assert_eq!(s.endpoint.as_deref(), Some("https://127.0.0.1:9"));
        for bad in [
            "vault: x\n",
            "vault: kv1\nsecrets: ['a b']\n",
            "secrets: [a]\n",
            "endpoint: 'ftp://x'\n",
            "endpoint: 'https://u@h'\n",
            "retries: 99\n",
            "timeout: 0\n",
        ] {
            let f: AzureFileSettings = serde_saphyr::from_str(bad).expect("yaml");
            assert_eq!(
                AzureSettings::resolve(Some(&f), &Environ::default(), false)
                    .expect_err(bad)
                    .exit_code(),
                78,
                "{bad}"
            );
        }
    }
}

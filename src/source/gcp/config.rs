//! GCP settings: `secret_init.gcp` in config.yaml.
//!
//! `project` and `secrets` make the source answer lookups by name: a secret without `from:`
//! whose name is in `secrets` is read as `projects/PROJECT/secrets/NAME/versions/latest`. Names
//! not listed are never asked for, so an unlisted secret costs no request. `endpoint` replaces
//! `https://secretmanager.googleapis.com` (a regional endpoint, a private one, a test server);
//! plain `http://` is refused unless the host is loopback or `--allow-insecure-http` is given, as
//! for the vault. Nothing here reads a file or opens a connection.

use crate::error::{Error, Kind};
use crate::reference::gcp::GcpRef;
use crate::source::section::section;
use crate::source::transport::{Transport, remote_section, transport_deref};

/// The public Secret Manager endpoint.
pub(crate) const DEFAULT_ENDPOINT: &str = "https://secretmanager.googleapis.com";

remote_section! {
    /// `secret_init.gcp` as written in config.yaml.
    pub struct GcpFileSettings {
        /// The project lookups by name read from.
        pub project: Option<String>,
        /// The secret names served by lookups by name.
        pub secrets: Option<Vec<String>>,
        /// The Secret Manager endpoint (no path).
        pub endpoint: Option<String>,
        /// Secrets of the project (JSON objects) whose every key becomes an env var of the
        /// program, later ones overriding earlier ones.
        pub env_secrets: Option<Vec<String>>,
        /// The Cloud KMS endpoint (no path), for keys that wrap sops and bundle data keys.
        pub kms_endpoint: Option<String>,
    }
}

section!(GcpFileSettings);

/// The gcp source's settings, typed.
#[derive(Clone, Debug)]
pub struct GcpSettings {
    /// Project for lookups by name.
    pub project: Option<String>,
    /// Names served by lookups by name.
    pub secrets: Vec<String>,
    /// Secrets injected whole into the program's environment (`env_secrets`), in order.
    pub env_secrets: Vec<String>,
    /// The Secret Manager endpoint, without a trailing slash.
    pub endpoint: String,
    /// The Cloud KMS endpoint, without a trailing slash, when set in the file.
    pub kms_endpoint: Option<String>,
    /// CA bundle, timeouts, retries.
    pub transport: Transport,
}
transport_deref!(GcpSettings);

fn config(what: impl Into<String>) -> Error {
    Error::new(Kind::Config, what)
}

/// The public Cloud KMS endpoint.
pub(crate) const KMS_ENDPOINT: &str = "https://cloudkms.googleapis.com";

/// `url` without its trailing slash, if it is an http(s) URL; else 78 naming `what` with an
/// `example`.
pub(crate) fn checked_endpoint(url: &str, what: &str, example: &str) -> Result<String, Error> {
    let url = url.trim_end_matches('/').to_string();
    if !(url.starts_with("https://") || url.starts_with("http://"))
        || url.parse::<ureq::http::Uri>().is_err()
    {
        return Err(config(format!("{what}: expected a URL like {example}")));
    }
    Ok(url)
}

impl GcpSettings {
    /// Whether the section makes the source read anything without a reference: lookups by
    /// name or whole secrets to the environment.
    pub fn reads_by_itself(&self) -> bool {
        self.project.is_some() && !(self.secrets.is_empty() && self.env_secrets.is_empty())
    }

    /// Types `secret_init.gcp`; checks the project and every listed name form a reference.
    pub fn resolve(
        file: Option<&GcpFileSettings>,
        allow_insecure_http: bool,
    ) -> Result<GcpSettings, Error> {
        let default = GcpFileSettings::default();
        let f = file.unwrap_or(&default);
        let secrets = f.secrets.clone().unwrap_or_default();
        let env_secrets = f.env_secrets.clone().unwrap_or_default();
        if let Some(p) = &f.project {
            GcpRef::named(p, "x")
                .map_err(|why| config(format!("secret_init.gcp.project: {why}")))?;
        }
        for (key, list) in [("secrets", &secrets), ("env_secrets", &env_secrets)] {
            if f.project.is_none() && !list.is_empty() {
                return Err(config(format!(
                    "secret_init.gcp.{key} needs secret_init.gcp.project"
                )));
            }
            for s in list {
                if GcpRef::named(f.project.as_deref().unwrap_or("x"), s).is_err() || s.contains('#')
                {
                    return Err(config(format!(
                        "secret_init.gcp.{key}: \"{}\" is not a secret id (1 to 255 of A-Z a-z 0-9 - _)",
                        crate::log::escape_controls(s)
                    )));
                }
            }
        }
        let endpoint = checked_endpoint(
            f.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT),
            "secret_init.gcp.endpoint",
            DEFAULT_ENDPOINT,
        )?;
        let kms_endpoint = f
            .kms_endpoint
            .as_deref()
            .map(|e| checked_endpoint(e, "secret_init.gcp.kms_endpoint", KMS_ENDPOINT))
            .transpose()?;
        Ok(GcpSettings {
            project: f.project.clone(),
            secrets,
            env_secrets,
            endpoint,
            kms_endpoint,
            transport: Transport::from_file("secret_init.gcp", &f.transport, allow_insecure_http)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn settings() {
        let f: GcpFileSettings = serde_saphyr::from_str(
            "project: p-1\nsecrets: [db, api_key]\nendpoint: http://127.0.0.1:9/\ntimeout: 2\n",
        )
        .expect("yaml");
        let s = GcpSettings::resolve(Some(&f), false).expect("ok");
        assert_eq!(s.secrets.len(), 2);
        assert_eq!(s.endpoint, "http://127.0.0.1:9");
        assert_eq!(s.timeout, Duration::from_secs(2));
        assert_eq!(
            GcpSettings::resolve(None, false).expect("ok").endpoint,
            DEFAULT_ENDPOINT
        );
        for bad in [
            "secrets: [db]\n",
            "project: 'P Q'\n",
            "project: p\nsecrets: ['a#b']\n",
            "project: p\nsecrets: ['a/b']\n",
            "endpoint: ftp://x\n",
            "retries: 99\n",
            "deadline: forever\n",
        ] {
            let f: GcpFileSettings = serde_saphyr::from_str(bad).expect("yaml");
            assert_eq!(
                GcpSettings::resolve(Some(&f), false)
                    .expect_err(bad)
                    .exit_code(),
                78,
                "{bad}"
            );
        }
    }
}

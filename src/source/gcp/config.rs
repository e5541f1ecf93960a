//! GCP settings: `secret_init.gcp` in config.yaml.
//!
//! `project` and `secrets` make the source answer lookups by name: a secret without `from:`
//! whose name is in `secrets` is read as `projects/PROJECT/secrets/NAME/versions/latest`. Names
//! not listed are never asked for, so an unlisted secret costs no request. `endpoint` replaces
//! `https://secretmanager.googleapis.com` (a regional endpoint, a private one, a test server);
//! plain `http://` is refused unless the host is loopback or `--allow-insecure-http` is given, as
//! for the vault. Nothing here reads a file or opens a connection.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::error::{Error, Errors, Kind};
use crate::reference::gcp::GcpRef;
use crate::source::vault::config::{ScalarText, parse_duration};

/// The public Secret Manager endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://secretmanager.googleapis.com";

/// `secret_init.gcp` as written in config.yaml.
#[derive(Debug, Default, Deserialize)]
pub struct GcpFileSettings {
    /// The project lookups by name read from.
    pub project: Option<String>,
    /// The secret names served by lookups by name.
    pub secrets: Option<Vec<String>>,
    /// The Secret Manager endpoint (no path).
    pub endpoint: Option<String>,
    /// PEM CA bundle for every GCP endpoint (else `SSL_CERT_FILE`, else the system bundle).
    pub ca_cert: Option<PathBuf>,
    /// Per-request timeout.
    pub timeout: Option<ScalarText>,
    /// Overall deadline for everything the gcp source does.
    pub deadline: Option<ScalarText>,
    /// Retries after the first attempt on connection errors, 429 and 5xx.
    pub retries: Option<u32>,
    /// Unknown keys, refused (78).
    #[serde(flatten)]
    pub unknown: BTreeMap<String, IgnoredAny>,
}

/// The gcp source's settings, typed.
#[derive(Clone, Debug)]
pub struct GcpSettings {
    /// Project for lookups by name.
    pub project: Option<String>,
    /// Names served by lookups by name.
    pub secrets: Vec<String>,
    /// The Secret Manager endpoint, without a trailing slash.
    pub endpoint: String,
    /// Explicit CA bundle.
    pub ca_cert: Option<PathBuf>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Overall deadline.
    pub deadline: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    /// Permit `http://` to a non-loopback endpoint.
    pub allow_insecure_http: bool,
}

/// Refuses unknown keys of `secret_init.gcp` (78).
pub fn reject_unknown(g: &GcpFileSettings, src: &str, errors: &mut Errors) {
    for key in g.unknown.keys() {
        errors.push(
            Error::new(
                Kind::Config,
                format!("secret_init.gcp: unknown setting \"{key}\""),
            )
            .with_source(src),
        );
    }
}

fn config(what: impl Into<String>) -> Error {
    Error::new(Kind::Config, what)
}

impl GcpSettings {
    /// Types `secret_init.gcp`; checks the project and every listed name form a reference.
    pub fn resolve(
        file: Option<&GcpFileSettings>,
        allow_insecure_http: bool,
    ) -> Result<GcpSettings, Error> {
        let default = GcpFileSettings::default();
        let f = file.unwrap_or(&default);
        let secrets = f.secrets.clone().unwrap_or_default();
        match &f.project {
            Some(p) => {
                GcpRef::named(p, "x")
                    .map_err(|why| config(format!("secret_init.gcp.project: {why}")))?;
            }
            None if !secrets.is_empty() => {
                return Err(config(
                    "secret_init.gcp.secrets needs secret_init.gcp.project",
                ));
            }
            None => {}
        }
        for s in &secrets {
            if GcpRef::named(f.project.as_deref().unwrap_or("x"), s).is_err() || s.contains('#') {
                return Err(config(format!(
                    "secret_init.gcp.secrets: \"{}\" is not a secret id (1 to 255 of A-Z a-z 0-9 - _)",
                    crate::log::escape_controls(s)
                )));
            }
        }
        let endpoint = f
            .endpoint
            .as_deref()
            .unwrap_or(DEFAULT_ENDPOINT)
            .trim_end_matches('/')
            .to_string();
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
            || endpoint.parse::<ureq::http::Uri>().is_err()
        {
            return Err(config(
                "secret_init.gcp.endpoint: expected a URL like https://secretmanager.googleapis.com",
            ));
        }
        let retries = match f.retries {
            None => 4,
            Some(n) if n <= 20 => n,
            Some(_) => return Err(config("secret_init.gcp.retries: expected 0..=20")),
        };
        let duration = |t: Option<&ScalarText>, key: &str, default: u64| match t {
            None => Ok(Duration::from_secs(default)),
            Some(t) => parse_duration(&t.0).ok_or_else(|| {
                config(format!(
                    "secret_init.gcp.{key}: expected a duration like 5s or 500ms (at most 1 hour)"
                ))
            }),
        };
        Ok(GcpSettings {
            project: f.project.clone(),
            secrets,
            endpoint,
            ca_cert: f.ca_cert.clone(),
            timeout: duration(f.timeout.as_ref(), "timeout", 5)?,
            deadline: duration(f.deadline.as_ref(), "deadline", 30)?,
            retries,
            allow_insecure_http,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

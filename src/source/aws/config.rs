//! AWS settings: `secret_init.aws` in config.yaml, merged with the standard AWS environment.
//!
//! Region: the ARN's, else `secret_init.aws.region`, else `AWS_REGION`, `AWS_DEFAULT_REGION`,
//! else the profile's `region`. Endpoints, per service: `AWS_ENDPOINT_URL_SECRETS_MANAGER`,
//! `AWS_ENDPOINT_URL_SSM`, `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`, else the regional
//! endpoint (`https://SERVICE.REGION.amazonaws.com`, `.amazonaws.com.cn` in China). Plain
//! `http://` endpoints are refused unless the host is loopback or `--allow-insecure-http` is
//! given, as for the vault. Nothing here reads a file or opens a connection.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::environ::Environ;
use crate::error::{Error, Errors, Kind};
use crate::reference::aws::AwsRef;
use crate::source::vault::config::{ScalarText, parse_duration};

/// `secret_init.aws` as written in config.yaml.
#[derive(Debug, Default, Deserialize)]
pub struct AwsFileSettings {
    /// The region used when a reference has none (before `AWS_REGION`).
    pub region: Option<String>,
    /// Reference prefixes tried, in order, for secrets without a `from:` (the secret's name is
    /// appended): `aws-ssm:/app/prod/`, `aws-sm:app/`.
    pub prefixes: Option<Vec<String>>,
    /// PEM CA bundle for the endpoints (else `SSL_CERT_FILE`, else the system bundle).
    pub ca_cert: Option<PathBuf>,
    /// Per-request timeout.
    pub timeout: Option<ScalarText>,
    /// Overall deadline for everything the aws source does.
    pub deadline: Option<ScalarText>,
    /// Retries after the first attempt on connection errors, throttling and 5xx.
    pub retries: Option<u32>,
    /// Unknown keys, refused (78).
    #[serde(flatten)]
    pub unknown: BTreeMap<String, IgnoredAny>,
}

/// The aws source's settings, typed.
#[derive(Clone, Debug)]
pub struct AwsSettings {
    /// Region from the file, if any.
    pub region: Option<String>,
    /// Reference prefixes for lookups by name (each ends where the name goes).
    pub prefixes: Vec<String>,
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

/// Refuses unknown keys of `secret_init.aws` (78).
pub fn reject_unknown(a: &AwsFileSettings, src: &str, errors: &mut Errors) {
    for key in a.unknown.keys() {
        errors.push(
            Error::new(
                Kind::Config,
                format!("secret_init.aws: unknown setting \"{key}\""),
            )
            .with_source(src),
        );
    }
}

/// `secret_init.SECTION.KEY` as a duration, `default` when absent (78 when malformed).
pub(crate) fn duration(
    section: &str,
    t: Option<&ScalarText>,
    key: &str,
    default: Duration,
) -> Result<Duration, Error> {
    match t {
        None => Ok(default),
        Some(t) => parse_duration(&t.0).ok_or_else(|| {
            Error::new(
                Kind::Config,
                format!(
                    "secret_init.{section}.{key}: expected a duration like 5s or 500ms (at most 1 hour)"
                ),
            )
        }),
    }
}

impl AwsSettings {
    /// Types `secret_init.aws`; checks every prefix parses as a reference once a name is added.
    pub fn resolve(
        file: Option<&AwsFileSettings>,
        allow_insecure_http: bool,
    ) -> Result<AwsSettings, Error> {
        let default = AwsFileSettings::default();
        let f = file.unwrap_or(&default);
        let prefixes = f.prefixes.clone().unwrap_or_default();
        for p in &prefixes {
            if let Err(why) = AwsRef::parse(&format!("{p}x")) {
                return Err(Error::new(
                    Kind::Config,
                    format!(
                        "secret_init.aws.prefixes: \"{}\": {why}",
                        crate::log::escape_controls(p)
                    ),
                ));
            }
            if p.contains('#') {
                return Err(Error::new(
                    Kind::Config,
                    "secret_init.aws.prefixes: a prefix cannot hold '#' (the secret's name is appended)",
                ));
            }
        }
        if let Some(r) = &f.region
            && !valid_region(r)
        {
            return Err(Error::new(
                Kind::Config,
                "secret_init.aws.region: expected a region like us-east-1",
            ));
        }
        let retries = match f.retries {
            None => 4,
            Some(n) if n <= 20 => n,
            Some(_) => {
                return Err(Error::new(
                    Kind::Config,
                    "secret_init.aws.retries: expected 0..=20",
                ));
            }
        };
        Ok(AwsSettings {
            region: f.region.clone(),
            prefixes,
            ca_cert: f.ca_cert.clone(),
            timeout: duration("aws", f.timeout.as_ref(), "timeout", Duration::from_secs(5))?,
            deadline: duration(
                "aws",
                f.deadline.as_ref(),
                "deadline",
                Duration::from_secs(30),
            )?,
            retries,
            allow_insecure_http,
        })
    }
}

pub use crate::reference::aws::{Service, valid_region};

impl Service {
    fn endpoint_var(self) -> &'static str {
        match self {
            Service::SecretsManager => "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            Service::Ssm => "AWS_ENDPOINT_URL_SSM",
            Service::Sts => "AWS_ENDPOINT_URL_STS",
        }
    }
}

/// The endpoint URL for `service` in `region` (no trailing slash), and where it came from.
pub fn endpoint(service: Service, region: Option<&str>, env: &Environ) -> (String, String) {
    for var in [service.endpoint_var(), "AWS_ENDPOINT_URL"] {
        if let Some(v) = env.get(var).filter(|v| !v.is_empty()) {
            return (
                v.to_string_lossy().trim_end_matches('/').to_string(),
                var.to_string(),
            );
        }
    }
    let url = match region {
        // STS without a region: the global endpoint, as botocore's legacy default.
        None => format!("https://{}.amazonaws.com", service.name()),
        Some(r) if r.starts_with("cn-") => {
            format!("https://{}.{r}.amazonaws.com.cn", service.name())
        }
        Some(r) => format!("https://{}.{r}.amazonaws.com", service.name()),
    };
    (url, "the regional endpoint".into())
}

/// The region from the environment: `AWS_REGION`, else `AWS_DEFAULT_REGION`.
pub fn env_region(env: &Environ) -> Option<String> {
    ["AWS_REGION", "AWS_DEFAULT_REGION"].iter().find_map(|n| {
        env.get(n)
            .filter(|v| !v.is_empty())
            .map(|v| v.to_string_lossy().into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let env = Environ::from_pairs(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1/"),
            ("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:2"),
        ]);
        assert_eq!(
            endpoint(Service::Ssm, Some("eu-west-1"), &env).0,
            "http://127.0.0.1:2"
        );
        assert_eq!(
            endpoint(Service::SecretsManager, Some("eu-west-1"), &env).0,
            "http://127.0.0.1:1"
        );
        let none = Environ::default();
        assert_eq!(
            endpoint(Service::SecretsManager, Some("eu-west-1"), &none).0,
            "https://secretsmanager.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            endpoint(Service::Ssm, Some("cn-north-1"), &none).0,
            "https://ssm.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            endpoint(Service::Sts, None, &none).0,
            "https://sts.amazonaws.com"
        );
    }

    #[test]
    fn settings() {
        let f: AwsFileSettings = serde_saphyr::from_str(
            "prefixes: ['aws-ssm:/app/', 'aws-sm:app/']\nregion: eu-west-1\ntimeout: 2\n",
        )
        .expect("yaml");
        let s = AwsSettings::resolve(Some(&f), false).expect("ok");
        assert_eq!(s.prefixes.len(), 2);
        assert_eq!(s.timeout, Duration::from_secs(2));
        for bad in [
            "prefixes: ['s3:x']\n",
            "prefixes: ['aws-sm:a#']\n",
            "region: 'EU WEST'\n",
            "retries: 99\n",
            "timeout: 0\n",
        ] {
            let f: AwsFileSettings = serde_saphyr::from_str(bad).expect("yaml");
            assert_eq!(
                AwsSettings::resolve(Some(&f), false)
                    .expect_err(bad)
                    .exit_code(),
                78,
                "{bad}"
            );
        }
    }
}

//! AWS settings: `secret_init.aws` in config.yaml, merged with the standard AWS environment.
//!
//! Region: the ARN's, else `secret_init.aws.region`, else `AWS_REGION`, `AWS_DEFAULT_REGION`,
//! else the profile's `region`. Endpoints, per service: `AWS_ENDPOINT_URL_SECRETS_MANAGER`,
//! `AWS_ENDPOINT_URL_SSM`, `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL_SSO` (IAM Identity
//! Center's portal), else `AWS_ENDPOINT_URL`, else the regional endpoint
//! (`https://SERVICE.REGION.amazonaws.com`, `.amazonaws.com.cn` in China;
//! `https://portal.sso.REGION.amazonaws.com` for the portal). Plain
//! `http://` endpoints are refused unless the host is loopback or `--allow-insecure-http` is
//! given, as for the vault. Nothing here reads a file or opens a connection.

use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::reference::aws::AwsRef;
use crate::source::section::section;
use crate::source::transport::{Transport, remote_section, transport_deref};

remote_section! {
    /// `secret_init.aws` as written in config.yaml.
    pub struct AwsFileSettings {
        /// The region used when a reference has none (before `AWS_REGION`).
        pub region: Option<String>,
        /// Reference prefixes tried, in order, for secrets without a `from:` (the secret's name is
        /// appended): `aws-ssm:/app/prod/`, `aws-sm:app/`.
        pub prefixes: Option<Vec<String>>,
        /// Secrets Manager secrets (names or ARNs) whose JSON keys are all candidate secrets,
        /// later ones overriding earlier ones.
        pub secrets: Option<Vec<String>>,
        /// A Parameter Store path whose every parameter (recursive) is a candidate secret, named
        /// relative to it.
        pub parameters_path: Option<String>,
        /// Secrets Manager secrets (JSON objects) whose every key becomes an env var of the
        /// program, later ones overriding earlier ones.
        pub env_secrets: Option<Vec<String>>,
        /// A Parameter Store path whose every parameter becomes an env var of the program, named
        /// relative to it.
        pub env_parameters_path: Option<String>,
    }
}

section!(AwsFileSettings);

/// The aws source's settings, typed.
#[derive(Clone, Debug)]
pub struct AwsSettings {
    /// Region from the file, if any.
    pub region: Option<String>,
    /// Reference prefixes for lookups by name (each ends where the name goes).
    pub prefixes: Vec<String>,
    /// Whole-source secrets (JSON objects), in order.
    pub secrets: Vec<AwsRef>,
    /// Whole-source parameter path, ending in `/`.
    pub parameters_path: Option<String>,
    /// Secrets injected whole into the program's environment (`env_secrets`), in order.
    pub env_secrets: Vec<AwsRef>,
    /// Parameter path injected whole into the program's environment, ending in `/`.
    pub env_parameters_path: Option<String>,
    /// CA bundle, timeouts, retries.
    pub transport: Transport,
}
transport_deref!(AwsSettings);

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
        if let Some(r) = &f.region {
            checked_region(r, "secret_init.aws.region")?;
        }
        let transport = Transport::from_file("secret_init.aws", &f.transport, allow_insecure_http)?;
        let secrets = listed_secrets(f.secrets.as_deref(), "secrets")?;
        let env_secrets = listed_secrets(f.env_secrets.as_deref(), "env_secrets")?;
        let parameters_path = parameter_path(f.parameters_path.as_deref(), "parameters_path")?;
        let env_parameters_path =
            parameter_path(f.env_parameters_path.as_deref(), "env_parameters_path")?;
        Ok(AwsSettings {
            secrets,
            parameters_path,
            env_secrets,
            env_parameters_path,
            region: f.region.clone(),
            prefixes,
            transport,
        })
    }
}

impl AwsSettings {
    /// Whether the section makes the source read anything without a reference: lookups by
    /// name or whole secrets to the environment.
    pub fn reads_by_itself(&self) -> bool {
        !self.prefixes.is_empty()
            || !self.secrets.is_empty()
            || self.parameters_path.is_some()
            || !self.env_secrets.is_empty()
            || self.env_parameters_path.is_some()
    }
}

/// `secret_init.aws.KEY`, a list of Secrets Manager names or ARNs of JSON-object secrets.
fn listed_secrets(ids: Option<&[String]>, key: &str) -> Result<Vec<AwsRef>, Error> {
    let mut secrets = Vec::new();
    for id in ids.unwrap_or_default() {
        let r = AwsRef::parse(&format!("aws-sm:{id}"))
            .ok()
            .filter(|r| r.key.is_none() && !id.contains('#'))
            .ok_or_else(|| {
                Error::new(
                    Kind::Config,
                    format!(
                        "secret_init.aws.{key}: \"{}\": expected a secret name or ARN (no #KEY: every key is offered)",
                        crate::log::escape_controls(id)
                    ),
                )
            })?;
        // An ARN keeps its own region (`aws-sm:arn:...` parsed as a name has none).
        secrets.push(match AwsRef::parse(id) {
            Ok(arn) if id.starts_with("arn:") => arn,
            _ => r,
        });
    }
    Ok(secrets)
}

/// `secret_init.aws.KEY`, a Parameter Store path, returned ending in `/`.
fn parameter_path(p: Option<&str>, key: &str) -> Result<Option<String>, Error> {
    let Some(p) = p else { return Ok(None) };
    let ok = p.starts_with('/')
        && AwsRef::parse(&format!("aws-ssm:{p}x")).is_ok()
        && !p.contains(['#', ':']);
    if !ok {
        return Err(Error::new(
            Kind::Config,
            format!("secret_init.aws.{key}: expected a path like /app/prod/"),
        ));
    }
    Ok(Some(format!("{}/", p.trim_end_matches('/'))))
}

pub(crate) use crate::reference::aws::{Service, valid_region};

impl Service {
    fn endpoint_var(self) -> &'static str {
        match self {
            Service::SecretsManager => "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            Service::Ssm => "AWS_ENDPOINT_URL_SSM",
            Service::Sts => "AWS_ENDPOINT_URL_STS",
            Service::Kms => "AWS_ENDPOINT_URL_KMS",
        }
    }
}

/// The endpoint set in the environment for a service whose own variable is `var`: it, else
/// `AWS_ENDPOINT_URL` (no trailing slash), and which one.
fn endpoint_from_env(var: &str, env: &Environ) -> Option<(String, String)> {
    [var, "AWS_ENDPOINT_URL"].into_iter().find_map(|var| {
        env.get(var).filter(|v| !v.is_empty()).map(|v| {
            (
                v.to_string_lossy().trim_end_matches('/').to_string(),
                var.to_string(),
            )
        })
    })
}

/// The endpoint URL for `service` in `region` (no trailing slash), and where it came from.
pub(crate) fn endpoint(service: Service, region: Option<&str>, env: &Environ) -> (String, String) {
    if let Some(set) = endpoint_from_env(service.endpoint_var(), env) {
        return set;
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

/// IAM Identity Center's portal for `region`: `AWS_ENDPOINT_URL_SSO`, else `AWS_ENDPOINT_URL`,
/// else `https://portal.sso.REGION.amazonaws.com` (botocore's), and where it came from.
pub(crate) fn sso_endpoint(region: &str, env: &Environ) -> (String, String) {
    endpoint_from_env("AWS_ENDPOINT_URL_SSO", env).unwrap_or_else(|| {
        (
            format!("https://portal.sso.{region}.amazonaws.com"),
            "the regional endpoint".into(),
        )
    })
}

/// The region from the environment: `AWS_REGION`, else `AWS_DEFAULT_REGION`, checked by
/// [`checked_region`].
pub(crate) fn env_region(env: &Environ) -> Result<Option<String>, Error> {
    for n in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        if let Some(v) = env.get(n).filter(|v| !v.is_empty()) {
            return checked_region(&v.to_string_lossy(), n).map(Some);
        }
    }
    Ok(None)
}

/// A region from anywhere (the settings, the environment, a profile), checked with the one rule
/// ([`valid_region`]) before it goes into an endpoint's host name: `x@HOST:PORT/` would
/// otherwise send a signed request, session token included, to HOST. Refused with 78 naming
/// `origin`.
pub(crate) fn checked_region(r: &str, origin: &str) -> Result<String, Error> {
    if valid_region(r) {
        return Ok(r.to_string());
    }
    Err(Error::new(
        Kind::Config,
        format!(
            "{origin}: \"{}\" is not a region like us-east-1",
            crate::log::escape_controls(r)
        ),
    )
    .with_source("aws"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
        assert_eq!(
            sso_endpoint("eu-west-1", &none).0,
            "https://portal.sso.eu-west-1.amazonaws.com"
        );
        assert_eq!(sso_endpoint("eu-west-1", &env).0, "http://127.0.0.1:1");
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

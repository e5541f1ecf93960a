//! The `aws` source: Secrets Manager and SSM Parameter Store, with no AWS SDK and no async
//! runtime: requests are signed by hand ([`sigv4`]) and sent over the blocking client of
//! [`crate::http`].
//!
//! Lazy from end to end: building the source reads nothing. The credential chain
//! ([`credentials`]) runs when a lookup first reaches AWS; credentials (and a web identity's STS
//! exchange) are then kept in memory for the run, and every reference is read at most once
//! (successes and failures are both cached). `Source::invalidate` forgets all of it, so a
//! later read (live refresh) fetches anew and re-exchanges a rotated web identity token.
//!
//! References are parsed in [`crate::reference::aws`]; lookups by name try the configured
//! `secret_init.aws.prefixes` in order, the secret's name appended to each. The pod's own AWS
//! variables (`AWS_ACCESS_KEY_ID`, `AWS_ROLE_ARN`, ...) belong to the platform and are not
//! removed from the program's environment (docs/aws.md).

pub mod client;
pub mod config;
pub mod credentials;
pub mod sigv4;

use std::collections::BTreeMap;
use std::rc::Rc;

use super::pick_key;
use super::{Found, Origin, Source, SourceKind};
use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::name::SecretName;
use crate::reference::Reference;
use crate::reference::aws::AwsRef;
use client::{Clients, Stored};
use config::{AwsSettings, Service, endpoint, env_region};
use credentials::{Chain, Credentials, Profiles};

/// What identifies one read: service, region, id and pinned version.
type ReadKey = (Service, String, String, Option<String>);

/// The aws source. See the module docs.
pub struct AwsSource {
    settings: AwsSettings,
    env: Environ,
    max_secret_bytes: u64,
    clients: Clients,
    profiles: Profiles,
    /// `None` until first use; then the credentials or the failure to get them.
    creds: Option<Result<Credentials, Error>>,
    /// (service, region, id, version) → what reading it gave (`None`: it does not exist).
    cache: BTreeMap<ReadKey, Result<Option<Rc<Stored>>, Error>>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl AwsSource {
    /// A source for `settings`; `env` is the start-time environment. No I/O.
    pub fn new(settings: AwsSettings, env: Environ, max_secret_bytes: u64) -> AwsSource {
        // Room for base64 (SecretBinary) and the JSON around a value of the largest size.
        let max_body = max_secret_bytes.saturating_mul(4) / 3 + 64 * 1024;
        AwsSource {
            clients: Clients::new(&settings, &env, max_body),
            profiles: Profiles::new(&env),
            settings,
            env,
            max_secret_bytes,
            creds: None,
            cache: BTreeMap::new(),
        }
    }

    /// Whether lookups by name can find anything here (prefixes are configured).
    pub fn has_prefixes(&self) -> bool {
        !self.settings.prefixes.is_empty()
    }

    /// The default region: the setting, the environment, else the profile's.
    fn default_region(&mut self) -> Result<Option<String>, Error> {
        if let Some(r) = self
            .settings
            .region
            .clone()
            .or_else(|| env_region(&self.env))
        {
            return Ok(Some(r));
        }
        self.profiles.config_value("region")
    }

    fn credentials(&mut self) -> Result<Credentials, Error> {
        if self.creds.is_none() {
            let r = self.obtain();
            if let Ok(c) = &r {
                crate::debug!("aws: credentials for key id {}", c.access_key_id);
            }
            self.creds = Some(r);
        }
        match self.creds.as_ref() {
            Some(Ok(c)) => Ok(c.clone()),
            Some(Err(e)) => Err(e.clone()),
            None => Err(Error::new(Kind::Permission, "aws credentials missing")),
        }
    }

    fn obtain(&mut self) -> Result<Credentials, Error> {
        match credentials::find(&self.env, &mut self.profiles, now())? {
            Chain::Static(c, origin) => {
                crate::debug!("aws: credentials from {origin}");
                Ok(c)
            }
            Chain::WebIdentity(w) => {
                let region = self.default_region()?;
                let (url, from) = endpoint(Service::Sts, region.as_deref(), &self.env);
                crate::debug!(
                    "aws: web identity from {}: AssumeRoleWithWebIdentity at {} ({from})",
                    w.origin,
                    crate::http::redact_url(&url)
                );
                self.clients.assume_role_with_web_identity(&url, &w)
            }
        }
    }

    /// Reads what `r` names (cached), `Ok(None)` when it does not exist.
    fn read(&mut self, r: &AwsRef) -> Result<Option<Rc<Stored>>, Error> {
        let src = r.target();
        let region = match r.region.clone() {
            Some(reg) => reg,
            None => self.default_region().map_err(|e| e.with_source(src.clone()))?.ok_or_else(|| {
                Error::new(
                    Kind::Config,
                    "no region: set AWS_REGION, secret_init.aws.region or the profile's region, or use an ARN",
                )
                .with_source(src.clone())
            })?,
        };
        let key = (r.service, region.clone(), r.id.clone(), r.version.clone());
        if let Some(hit) = self.cache.get(&key) {
            return hit.clone();
        }
        let result = self.read_uncached(r, &region).map_err(|e| {
            if e.source.is_some() {
                e
            } else {
                e.with_source(src.clone())
            }
        });
        if let Ok(Some(s)) = &result {
            let (Stored::Text(v) | Stored::Binary(v)) = s.as_ref();
            crate::debug!("aws: {src}: {} bytes", v.len());
        }
        self.cache.insert(key, result.clone());
        result
    }

    fn read_uncached(&mut self, r: &AwsRef, region: &str) -> Result<Option<Rc<Stored>>, Error> {
        let (url, _) = endpoint(r.service, Some(region), &self.env);
        let creds = self.credentials()?;
        let t = now();
        let stored = match r.service {
            Service::Ssm => {
                let name = match &r.version {
                    Some(v) => format!("{}:{v}", r.id),
                    None => r.id.clone(),
                };
                self.clients.get_parameter(&url, region, &name, &creds, t)?
            }
            _ => self.clients.get_secret_value(
                &url,
                region,
                &r.id,
                r.version.as_deref(),
                &creds,
                t,
            )?,
        };
        if let Some(s) = &stored {
            let (Stored::Text(v) | Stored::Binary(v)) = s;
            if v.len() as u64 > self.max_secret_bytes {
                return Err(Error::new(
                    Kind::Data,
                    format!("value larger than the {}-byte limit", self.max_secret_bytes),
                ));
            }
        }
        Ok(stored.map(Rc::new))
    }

    /// Reads `r` and picks its `#KEY`, for secret `name`.
    fn value(&mut self, r: &AwsRef) -> Result<Option<Found>, Error> {
        let Some(stored) = self.read(r)? else {
            return Ok(None);
        };
        let value = match (stored.as_ref(), &r.key) {
            (Stored::Text(v) | Stored::Binary(v), None) => v.clone(),
            (Stored::Binary(_), Some(_)) => {
                return Err(Error::new(
                    Kind::Data,
                    "a #KEY was given but the secret is binary (SecretBinary), not JSON",
                )
                .with_source(r.to_string()));
            }
            (Stored::Text(v), Some(k)) => match pick_key(v, k) {
                Ok(Some(v)) => v,
                Ok(None) => return Ok(None),
                Err(why) => return Err(Error::new(Kind::Data, why).with_source(r.to_string())),
            },
        };
        Ok(Some(Found {
            value,
            origin: Origin {
                kind: SourceKind::Aws,
                label: r.to_string(),
                path: None,
                version: None,
            },
        }))
    }
}

impl Source for AwsSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Aws
    }

    fn describe(&self, name: &SecretName) -> String {
        if self.settings.prefixes.is_empty() {
            return "aws (no prefixes configured)".into();
        }
        self.settings
            .prefixes
            .iter()
            .map(|p| format!("{p}{name}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn lookup(&mut self, name: &SecretName) -> Result<Option<Found>, Error> {
        for p in self.settings.prefixes.clone() {
            let r = AwsRef::parse(&format!("{p}{name}"))
                .map_err(|why| Error::new(Kind::Config, why).with_source(format!("{p}{name}")))?;
            if let Some(f) = self.value(&r)? {
                return Ok(Some(f));
            }
        }
        Ok(None)
    }

    fn fetch(&mut self, reference: &Reference, _name: &SecretName) -> Result<Option<Found>, Error> {
        let Reference::Aws(r) = reference else {
            return Err(Error::new(
                Kind::Config,
                format!("aws cannot serve {reference}"),
            ));
        };
        self.value(r)
    }
}

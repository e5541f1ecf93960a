//! The `gcp` source: GCP Secret Manager, with no Google SDK and no async runtime: the access
//! call, the token exchanges and the JWT are written by hand over the blocking client of
//! [`crate::http`].
//!
//! Lazy from end to end: building the source reads nothing. The credential chain
//! ([`credentials`]) runs when a lookup first reaches Google; the access token is then kept in
//! memory for the run, and every version is read at most once (successes and failures are both
//! cached). `Source::invalidate` forgets all of it, so a later read (live refresh) fetches
//! anew and re-reads a rotated subject token.
//!
//! References are parsed in [`crate::reference::gcp`]; lookups by name read
//! `projects/PROJECT/secrets/NAME/versions/latest` for the names listed in
//! `secret_init.gcp.secrets`. The pod's own GCP variables (`GOOGLE_APPLICATION_CREDENTIALS`,
//! `GCE_METADATA_HOST`, ...) belong to the platform and are not removed from the program's
//! environment (docs/gcp.md).

pub mod client;
pub mod config;
pub mod crc32c;
pub mod credentials;

use std::collections::BTreeMap;
use std::rc::Rc;

use super::registry::{BuildCtx, Configured, Generic, Registered, Watching};
use super::{Found, Origin, Source, SourceKind};
use crate::cli::Invocation;
use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::name::SecretName;
use crate::reference::Reference;
use crate::reference::gcp::GcpRef;
use crate::secret::Secret;
use client::{Clients, Token};
use config::GcpSettings;
use credentials::Chain;

/// The gcp source. See the module docs.
pub struct GcpSource {
    settings: GcpSettings,
    env: Environ,
    max_secret_bytes: u64,
    clients: Clients,
    /// `None` until first use; then the token or the failure to get one.
    token: Option<Result<Token, Error>>,
    /// Version resource name → what reading it gave (`None`: it does not exist).
    cache: BTreeMap<String, Result<Option<Rc<Secret>>, Error>>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl GcpSource {
    /// A source for `settings`; `env` is the start-time environment. No I/O.
    pub fn new(settings: GcpSettings, env: Environ, max_secret_bytes: u64) -> GcpSource {
        // Room for base64 and the JSON around a payload of the largest size.
        let max_body = max_secret_bytes.saturating_mul(4) / 3 + 64 * 1024;
        GcpSource {
            clients: Clients::new(&settings, &env, max_body),
            settings,
            env,
            max_secret_bytes,
            token: None,
            cache: BTreeMap::new(),
        }
    }

    /// Whether lookups by name can find anything here (a project and names are configured).
    pub fn serves_names(&self) -> bool {
        self.settings.project.is_some() && !self.settings.secrets.is_empty()
    }

    fn token(&mut self) -> Result<Token, Error> {
        if self.token.is_none() {
            let r = self.obtain();
            self.token = Some(r);
        }
        match self.token.as_ref() {
            Some(Ok(t)) => Ok(t.clone()),
            Some(Err(e)) => Err(e.clone()),
            None => Err(Error::new(Kind::Permission, "gcp token missing")),
        }
    }

    fn obtain(&mut self) -> Result<Token, Error> {
        let (chain, origin) = credentials::find(&self.env)?;
        crate::debug!("gcp: credentials from {origin}: {chain:?}");
        match chain {
            Chain::ServiceAccount(sa) => self.clients.service_account_token(&sa, now()),
            Chain::External(e) => self.clients.external_token(&e),
            Chain::Metadata(host) => self.clients.metadata_token(&host).map_err(|e| {
                Error::new(
                    e.kind,
                    format!(
                        "{} (no GOOGLE_APPLICATION_CREDENTIALS and no gcloud credentials file, so the metadata server was asked)",
                        e.what
                    ),
                )
                .with_source(e.source.unwrap_or_default())
            }),
        }
    }

    /// Reads the version `r` names (cached), `Ok(None)` when it does not exist.
    fn read(&mut self, r: &GcpRef) -> Result<Option<Rc<Secret>>, Error> {
        let resource = r.resource();
        if let Some(hit) = self.cache.get(&resource) {
            return hit.clone();
        }
        let result = self.read_uncached(&resource);
        if let Ok(Some(v)) = &result {
            crate::debug!("gcp: {resource}: {} bytes", v.len());
        }
        self.cache.insert(resource, result.clone());
        result
    }

    fn read_uncached(&mut self, resource: &str) -> Result<Option<Rc<Secret>>, Error> {
        let token = self.token()?;
        let endpoint = self.settings.endpoint.clone();
        let v = self.clients.access(&endpoint, resource, &token)?;
        if let Some(v) = &v
            && v.len() as u64 > self.max_secret_bytes
        {
            return Err(Error::new(
                Kind::Data,
                format!("value larger than the {}-byte limit", self.max_secret_bytes),
            ));
        }
        Ok(v.map(Rc::new))
    }

    /// Reads `r` and picks its `#KEY`.
    fn value(&mut self, r: &GcpRef) -> Result<Option<Found>, Error> {
        let stored = self.read(r).map_err(|e| {
            if e.source.is_some() {
                e
            } else {
                e.with_source(r.to_string())
            }
        })?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        let value = match &r.key {
            None => stored.as_ref().clone(),
            Some(k) => match super::pick_key(&stored, k) {
                Ok(Some(v)) => v,
                Ok(None) => return Ok(None),
                Err(why) => return Err(Error::new(Kind::Data, why).with_source(r.to_string())),
            },
        };
        Ok(Some(Found {
            value,
            origin: Origin {
                kind: SourceKind::Gcp,
                label: r.to_string(),
                path: None,
                version: None,
            },
        }))
    }
}

impl Registered for GcpSource {
    type Settings = GcpSettings;

    fn build(settings: &GcpSettings, ctx: &mut BuildCtx<'_>) -> Option<Self> {
        let max = ctx.generic.max_secret_bytes;
        Some(GcpSource::new(settings.clone(), ctx.env.clone(), max))
    }

    fn in_order(&self) -> bool {
        self.serves_names()
    }

    fn watching(_: &GcpSettings, _: &Generic<'_>) -> Vec<Watching> {
        vec![Watching::Poll {
            label: SourceKind::Gcp.name().into(),
            what: "Secret Manager version reads",
        }]
    }
}

impl Configured for GcpSource {
    type File = config::GcpFileSettings;

    fn resolve(
        _: &Invocation,
        env: &Environ,
        file: Option<&config::GcpFileSettings>,
        allow_insecure_http: bool,
    ) -> Result<GcpSettings, Error> {
        let _ = env;
        GcpSettings::resolve(file, allow_insecure_http)
    }
}

impl Source for GcpSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Gcp
    }

    fn describe(&self, name: &SecretName) -> String {
        match &self.settings.project {
            Some(p) if self.settings.secrets.iter().any(|s| s == name.as_str()) => {
                format!("gcp:secretmanager:projects/{p}/secrets/{name}")
            }
            _ => "gcp (not in secret_init.gcp.secrets)".into(),
        }
    }

    fn lookup(&mut self, name: &SecretName) -> Result<Option<Found>, Error> {
        let Some(project) = self.settings.project.clone() else {
            return Ok(None);
        };
        if !self.settings.secrets.iter().any(|s| s == name.as_str()) {
            return Ok(None);
        }
        let r = GcpRef::named(&project, name.as_str())
            .map_err(|why| Error::new(Kind::Config, why).with_source(format!("gcp {name}")))?;
        self.value(&r)
    }

    fn fetch(&mut self, reference: &Reference, _name: &SecretName) -> Result<Option<Found>, Error> {
        let Reference::Gcp(r) = reference else {
            return Err(Error::new(
                Kind::Config,
                format!("gcp cannot serve {reference}"),
            ));
        };
        self.value(r)
    }
}

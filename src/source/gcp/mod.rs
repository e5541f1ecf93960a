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

pub(crate) mod client;
pub(crate) mod config;
pub(crate) mod crc32c;
pub(crate) mod credentials;

use std::rc::Rc;

use super::remote::{
    Reads, Versioned, check_size, injections, keyed_versioned, listed_but_missing, naming, now,
    object_keys, read_together,
};
use super::{Found, Injected, Source, SourceKind, not_mine};
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
pub(crate) struct GcpSource {
    settings: GcpSettings,
    env: Environ,
    outputs: crate::source::Outputs,
    max_secret_bytes: u64,
    clients: Clients,
    /// `None` until first use; then the token or the failure to get one.
    token: Option<Result<Token, Error>>,
    /// Version resource name → what reading it gave.
    cache: Reads<String, Rc<Versioned>>,
}

impl GcpSource {
    /// A source for `settings`; `env` is secret-init's own start-time environment, `outputs`
    /// the files it delivers (never read as its credentials). No I/O.
    pub(crate) fn new(
        settings: GcpSettings,
        env: Environ,
        outputs: crate::source::Outputs,
        max_secret_bytes: u64,
    ) -> GcpSource {
        // Room for base64 and the JSON around a payload of the largest size.
        let max_body = max_secret_bytes.saturating_mul(4) / 3 + 64 * 1024;
        GcpSource {
            clients: Clients::new(&settings, &env, max_body),
            settings,
            env,
            outputs,
            max_secret_bytes,
            token: None,
            cache: Reads::new(),
        }
    }

    /// Whether lookups by name can find anything here (a project and names are configured).
    pub(crate) fn serves_names(&self) -> bool {
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
        let (chain, origin) = credentials::find(&self.env, &self.outputs)?;
        crate::log::debug!("gcp: credentials from {origin}: {chain:?}");
        credentials::check_token_urls(&chain, &self.settings.endpoint)
            .map_err(|e| e.with_source(origin.clone()))?;
        match chain {
            Chain::ServiceAccount(sa) => self.clients.service_account_token(&sa, now()),
            Chain::External(e) => self.clients.external_token(&e, &self.outputs),
            // The last link: its error names the links found empty before it, as the AWS
            // chain's does.
            Chain::Metadata(host) => self.clients.metadata_token(&host).map_err(|e| {
                let e = e.into_problem();
                let adc = credentials::adc_path(&self.env).map_or_else(
                    || "the gcloud credentials file (no HOME)".to_string(),
                    |p| format!("the gcloud credentials file {}", p.display()),
                );
                Error::new(
                    e.kind,
                    format!(
                        "{}; tried before it, none set: GOOGLE_APPLICATION_CREDENTIALS, {adc}",
                        e.what
                    ),
                )
                .with_source(e.source.unwrap_or_else(|| origin.clone()))
            }),
        }
    }

    /// A Cloud KMS call: POST `{endpoint}/v1/{resource}:{verb}` with `body`, with this source's
    /// token (the settings' `endpoint` is the KMS endpoint for a source built for keys).
    pub(crate) fn kms_call(
        &mut self,
        resource: &str,
        verb: &str,
        body: &Secret,
    ) -> Result<crate::http::Response, Error> {
        let token = self.token()?;
        let url = format!("{}/v1/{resource}:{verb}", self.settings.endpoint);
        self.clients.post_json(&url, &token, body)
    }

    /// Reads the version `r` names (cached), `Ok(None)` when it does not exist.
    fn read(&mut self, r: &GcpRef) -> Result<Option<Rc<Versioned>>, Error> {
        let resource = r.resource();
        if let Some(hit) = self.cache.get(&resource) {
            return hit;
        }
        let result = self.read_uncached(&resource);
        self.cache.keep(resource.clone(), result, "gcp", &resource)
    }

    fn read_uncached(&mut self, resource: &str) -> Result<Option<Rc<Versioned>>, Error> {
        let token = self.token()?;
        let endpoint = self.settings.endpoint.clone();
        let v = self.clients.access(&endpoint, resource, &token)?;
        if let Some(v) = &v {
            check_size(v.value.len(), self.max_secret_bytes)?;
        }
        Ok(v.map(Rc::new))
    }

    /// Reads `r` and picks its `#KEY`.
    fn value(&mut self, r: &GcpRef) -> Result<Option<Found>, Error> {
        let stored = self.read(r).map_err(|e| naming(e, &r.to_string()))?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        keyed_versioned(SourceKind::Gcp, r.to_string(), &stored, r.key.as_deref())
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

    /// Reads the `from:` references about to be fetched together (each a request: Secret
    /// Manager has no batch read), into the cache the fetches then find.
    fn prefetch(&mut self, references: &[&Reference]) {
        let mut todo: Vec<String> = Vec::new();
        for r in references {
            if let Reference::Gcp(g) = r {
                let resource = g.resource();
                if !self.cache.contains(&resource) && !todo.contains(&resource) {
                    todo.push(resource);
                }
            }
        }
        if todo.len() < 2 {
            return;
        }
        // A failure to get a token is kept and reported by the fetches that follow.
        let Ok(token) = self.token() else { return };
        let endpoint = self.settings.endpoint.clone();
        let max = self.max_secret_bytes;
        let results = read_together(&todo, &mut self.clients, Clients::fork, |c, resource| {
            let v = c.access(&endpoint, resource, &token)?;
            if let Some(v) = &v {
                check_size(v.value.len(), max)?;
            }
            Ok(v)
        });
        for (resource, r) in todo.into_iter().zip(results) {
            if let Some(r) = r {
                let r = r.map(|v| v.map(Rc::new));
                let _ = self.cache.keep(resource.clone(), r, "gcp", &resource);
            }
        }
    }

    fn fetch(&mut self, reference: &Reference, _name: &SecretName) -> Result<Option<Found>, Error> {
        match reference {
            Reference::Gcp(r) => self.value(r),
            other => Err(not_mine(SourceKind::Gcp, other)),
        }
    }

    /// Every key of each `env_secrets` entry's latest version (a later one wins).
    fn injected_env(&mut self) -> Result<Vec<Injected>, Error> {
        const SETTING: &str = "secret_init.gcp.env_secrets";
        let Some(project) = self.settings.project.clone() else {
            return Ok(Vec::new());
        };
        let mut vars = Vec::new();
        for id in self.settings.env_secrets.clone() {
            let r = GcpRef::named(&project, &id)
                .map_err(|why| Error::new(Kind::Config, why).with_source(format!("gcp {id}")))?;
            let src = r.to_string();
            let value = self
                .read(&r)
                .map_err(|e| naming(e, &src))?
                .ok_or_else(|| listed_but_missing(SETTING, &src))?;
            vars.extend(object_keys(&value.value, &src, SETTING)?);
        }
        Ok(injections(vars))
    }
}

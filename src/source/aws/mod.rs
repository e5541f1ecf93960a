//! The `aws` source: Secrets Manager and SSM Parameter Store, with no AWS SDK and no async
//! runtime: requests are signed by hand ([`sigv4`]) and sent over the blocking client of
//! [`crate::http`].
//!
//! Lazy from end to end: building the source reads nothing. The credential chain
//! ([`credentials`]) runs when a lookup first reaches AWS; credentials (and a web identity's STS
//! exchange) are then kept in memory for the run, and every reference is read at most once
//! (successes and failures are both cached). A live refresh builds the sources anew each pass,
//! so it reads afresh and re-exchanges a rotated web identity token; within one pass,
//! temporary credentials near their `Expiration` are obtained anew before the next request.
//!
//! References are parsed in [`crate::reference::aws`]; lookups by name try the configured
//! `secret_init.aws.prefixes` in order, the secret's name appended to each. The pod's own AWS
//! variables (`AWS_ACCESS_KEY_ID`, `AWS_ROLE_ARN`, ...) belong to the platform and are not
//! removed from the program's environment (docs/aws.md).

pub(crate) mod client;
pub(crate) mod config;
pub(crate) mod credentials;
pub(crate) mod metadata;
pub(crate) mod process;
pub mod sigv4;
pub(crate) mod sso;

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use super::remote::{
    Measured, Reads, Versioned, check_size, found, injections, keyed_versioned, listed_but_missing,
    naming, not_an_object, now, object_keys, read_together,
};
use super::{Found, Injected, Source, SourceKind, not_mine};
use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::name::SecretName;
use crate::reference::Reference;
use crate::reference::aws::AwsRef;
use crate::secret::Secret;
use client::{Clients, Stored};
use config::{AwsSettings, Service, checked_region, endpoint, env_region, sso_endpoint};
use credentials::{Chain, Profiles};
use sigv4::Credentials;

/// What identifies one read: service, region, id and pinned version.
type ReadKey = (Service, String, String, Option<String>);

/// The aws source. See the module docs.
pub(crate) struct AwsSource {
    settings: AwsSettings,
    env: Environ,
    outputs: crate::source::Outputs,
    max_secret_bytes: u64,
    clients: Clients,
    profiles: Profiles,
    /// `None` until first use; then the credentials or the failure to get them.
    creds: Option<Result<Credentials, Error>>,
    /// (service, region, id, version) → what reading it gave.
    cache: Reads<ReadKey, Rc<Versioned<Stored>>>,
    /// The whole-source candidates (`secrets`, `parameters_path`), once loaded.
    whole: Option<Result<Rc<Candidates>, Error>>,
    /// Services whose batch calls were refused (AccessDenied) this run: read one by one.
    batch_refused: BTreeSet<Service>,
    /// The program's user under `--user` (when it is not ours): a `credential_process` is
    /// judged against it.
    program: Option<crate::provenance::ProgramUser>,
    /// A role assumed with the chain's credentials before any call (a sops key's `role`).
    role: Option<String>,
}

/// Candidate secrets of a whole-source read: name → (value, where it came from, its version).
type Candidates = BTreeMap<String, (Secret, String, Option<String>)>;

/// One key of a whole-source read: (name, value, where it came from, the version of the secret
/// or parameter it came from).
type Keyed = (String, Secret, String, Option<String>);

impl Measured for Stored {
    fn bytes(&self) -> usize {
        let (Stored::Text(v) | Stored::Binary(v)) = self;
        v.len()
    }
}

impl AwsSource {
    /// A source for `settings`; `env` is secret-init's own start-time environment, `outputs`
    /// the files it delivers (never read as its credentials). No I/O.
    pub(crate) fn new(
        settings: AwsSettings,
        env: Environ,
        outputs: crate::source::Outputs,
        max_secret_bytes: u64,
    ) -> AwsSource {
        // Room for base64 (SecretBinary) and the JSON around a value of the largest size.
        let max_body = max_secret_bytes.saturating_mul(4) / 3 + 64 * 1024;
        AwsSource {
            clients: Clients::new(&settings, &env, max_body),
            profiles: Profiles::new(&env, &outputs),
            settings,
            env,
            outputs,
            max_secret_bytes,
            creds: None,
            cache: Reads::new(),
            whole: None,
            batch_refused: BTreeSet::new(),
            program: None,
            role: None,
        }
    }

    /// The source for a pass whose program runs as `program` (`--user`, when not ours).
    pub(crate) fn for_program(mut self, program: Option<crate::provenance::ProgramUser>) -> Self {
        self.program = program;
        self
    }

    /// Makes every call as `role`, assumed with the credentials the chain finds (as sops does for
    /// a KMS key with a `role`).
    pub(crate) fn assuming(mut self, role: Option<String>) -> AwsSource {
        self.role = role;
        self
    }

    /// KMS `Decrypt` of `blob` under `key`, in the key's `region`.
    pub(crate) fn kms_decrypt(
        &mut self,
        region: &str,
        key: &client::KmsTarget<'_>,
        blob: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
        let region = checked_region(region, "the key's ARN")?;
        let (url, _) = endpoint(Service::Kms, Some(&region), &self.env);
        let creds = self.credentials()?;
        self.clients
            .kms_decrypt(&url, &region, key, blob, &creds, now())
    }

    /// KMS `Encrypt` of `data_key` under `key`, in the key's `region`.
    pub(crate) fn kms_encrypt(
        &mut self,
        region: &str,
        key: &client::KmsTarget<'_>,
        data_key: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let region = checked_region(region, "the key's ARN")?;
        let (url, _) = endpoint(Service::Kms, Some(&region), &self.env);
        let creds = self.credentials()?;
        self.clients
            .kms_encrypt(&url, &region, key, data_key, &creds, now())
    }

    /// Whether lookups by name can find anything here (prefixes, listed secrets or a
    /// parameters path are configured).
    pub(crate) fn serves_names(&self) -> bool {
        !self.settings.prefixes.is_empty() || self.has_whole()
    }

    fn has_whole(&self) -> bool {
        !self.settings.secrets.is_empty() || self.settings.parameters_path.is_some()
    }

    /// The default region: the setting, the environment, else the profile's; each checked
    /// with the same rule before it goes into an endpoint's host name.
    fn default_region(&mut self) -> Result<Option<String>, Error> {
        if let Some(r) = self.settings.region.clone() {
            return Ok(Some(r));
        }
        if let Some(r) = env_region(&self.env)? {
            return Ok(Some(r));
        }
        let origin = format!("the region of profile {}", self.profiles.name);
        self.profiles
            .config_value("region")?
            .map(|r| checked_region(&r, &origin))
            .transpose()
    }

    fn credentials(&mut self) -> Result<Credentials, Error> {
        if let Some(Ok(c)) = &self.creds
            && !c.fresh_at(now())
        {
            crate::log::debug!(
                "aws: credentials for key id {} expire soon: obtaining new ones",
                c.access_key_id
            );
            self.creds = None;
        }
        if self.creds.is_none() {
            let r = self.obtain();
            if let Ok(c) = &r {
                crate::log::debug!("aws: credentials for key id {}", c.access_key_id);
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
        let chain = credentials::find(&self.env, &mut self.profiles, now())?;
        let chain = match &self.role {
            Some(role) => Chain::AssumeRole(
                credentials::AssumeRole {
                    role_arn: role.clone(),
                    external_id: None,
                    session_name: format!("secret-init-{}", now()),
                    duration_seconds: None,
                    origin: "the KMS key's role".into(),
                },
                Box::new(chain),
            ),
            None => chain,
        };
        self.resolve(chain)
    }

    /// The credentials `chain` leads to (a role chain: its source's first, then the role).
    fn resolve(&mut self, chain: Chain) -> Result<Credentials, Error> {
        match chain {
            Chain::AssumeRole(r, via) => {
                let source = self.resolve(*via)?;
                let region = self.default_region()?;
                let (url, from) = endpoint(Service::Sts, region.as_deref(), &self.env);
                crate::log::debug!(
                    "aws: {}: AssumeRole {} with key id {} at {} ({from})",
                    r.origin,
                    r.role_arn,
                    source.access_key_id,
                    crate::url::redact_url(&url)
                );
                let signing_region = region.unwrap_or_else(|| "us-east-1".into());
                self.clients
                    .assume_role(&url, &signing_region, &r, &source, now())
            }
            Chain::Sso(sso) => {
                let (url, from) = sso_endpoint(&sso.region, &self.env);
                crate::log::debug!(
                    "aws: {}: GetRoleCredentials for {} in {} at {} ({from})",
                    sso.origin,
                    sso.role_name,
                    sso.account_id,
                    crate::url::redact_url(&url)
                );
                self.clients.sso_role_credentials(&url, &sso)
            }
            Chain::Process(p) => {
                p.allowed(self.program.as_ref())?;
                p.run(&self.env, self.settings.deadline, now())
            }
            Chain::Static(c, origin) => {
                crate::log::debug!("aws: credentials from {origin}");
                Ok(c)
            }
            Chain::WebIdentity(w) => {
                self.outputs
                    .refuse(&w.token_file, "the web identity token file")
                    .map_err(|e| e.with_source(w.origin.clone()))?;
                let region = self.default_region()?;
                let (url, from) = endpoint(Service::Sts, region.as_deref(), &self.env);
                crate::log::debug!(
                    "aws: web identity from {}: AssumeRoleWithWebIdentity at {} ({from})",
                    w.origin,
                    crate::url::redact_url(&url)
                );
                self.clients.assume_role_with_web_identity(&url, &w)
            }
            Chain::Container(c) => {
                if let Some(f) = c.token_file() {
                    self.outputs
                        .refuse(f, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
                        .map_err(|e| e.with_source("aws container credentials"))?;
                }
                crate::log::debug!(
                    "aws: container credentials from {} ({})",
                    crate::url::redact_url(&c.url),
                    c.origin
                );
                metadata::fetch_container(
                    &c,
                    self.ca_file(),
                    self.settings.allow_insecure_http,
                    self.settings.deadline,
                )
                .map_err(|mut e| {
                    e.what
                        .push_str(&credentials::tried_before(&self.profiles, false));
                    e
                })
            }
            Chain::Imds(i) => {
                crate::log::debug!(
                    "aws: instance metadata (IMDSv2) at {}",
                    crate::url::redact_url(&i.base)
                );
                metadata::fetch_imds(
                    &i,
                    self.ca_file(),
                    self.settings.allow_insecure_http,
                    self.settings.deadline,
                )
                .map_err(|mut e| {
                    e.what
                        .push_str(&credentials::tried_before(&self.profiles, true));
                    e
                })
            }
        }
    }

    fn ca_file(&self) -> std::path::PathBuf {
        crate::http::ca_file(self.settings.ca_cert.as_deref(), &self.env)
    }

    /// Reads what `r` names (cached), `Ok(None)` when it does not exist.
    fn read(&mut self, r: &AwsRef) -> Result<Option<Rc<Versioned<Stored>>>, Error> {
        let src = r.target();
        let region = self.region_for(r.region.as_deref(), &src)?;
        let key = (r.service, region.clone(), r.id.clone(), r.version.clone());
        if let Some(hit) = self.cache.get(&key) {
            return hit;
        }
        let result = self.read_uncached(r, &region).map_err(|e| naming(e, &src));
        self.cache.keep(key, result, "aws", &src)
    }

    /// `region`, else the default region; none at all is 78 naming `src`.
    fn region_for(&mut self, region: Option<&str>, src: &str) -> Result<String, Error> {
        match region {
            Some(reg) => Ok(reg.to_string()),
            None => self.default_region().map_err(|e| e.with_source(src))?.ok_or_else(|| {
                Error::new(
                    Kind::Config,
                    "no region: set AWS_REGION, secret_init.aws.region or the profile's region, or use an ARN",
                )
                .with_source(src)
            }),
        }
    }

    fn check_size(&self, s: &Stored) -> Result<(), Error> {
        check_size(s.bytes(), self.max_secret_bytes)
    }

    /// Reads many references with as few requests as possible, into the cache: unpinned
    /// Secrets Manager ids with `BatchGetSecretValue` ([`client::BATCH_SECRETS`] a call) and
    /// unpinned parameter names with `GetParameters` ([`client::BATCH_PARAMETERS`] a call), per
    /// region. A batch settles what it returned and what it reports missing; anything else (a
    /// per-id error, a failed or throttled call, the batch action refused with AccessDenied,
    /// which also stops batching that service for the run) is left to the single reads, made
    /// together (`read_singles`), which report it in their own words.
    fn prefetch_refs(&mut self, refs: &[AwsRef]) {
        let mut groups: BTreeMap<(Service, String), Vec<String>> = BTreeMap::new();
        for r in refs {
            if r.version.is_some() || (r.service == Service::Ssm && r.id.starts_with("arn:")) {
                continue;
            }
            let Ok(region) = self.region_for(r.region.as_deref(), &r.target()) else {
                continue;
            };
            if self
                .cache
                .contains(&(r.service, region.clone(), r.id.clone(), None))
            {
                continue;
            }
            let ids = groups.entry((r.service, region)).or_default();
            if !ids.contains(&r.id) {
                ids.push(r.id.clone());
            }
        }
        for ((service, region), ids) in groups {
            let size = match service {
                Service::Ssm => client::BATCH_PARAMETERS,
                _ => client::BATCH_SECRETS,
            };
            for chunk in ids.chunks(size) {
                if self.batch_refused.contains(&service) || (chunk.len() == 1 && size > 1) {
                    break;
                }
                let Ok(creds) = self.credentials() else {
                    return;
                };
                let (url, _) = endpoint(service, Some(&region), &self.env);
                let answer = match service {
                    Service::Ssm => {
                        self.clients
                            .get_parameters(&url, &region, chunk, &creds, now())
                    }
                    _ => self
                        .clients
                        .batch_get_secret_value(&url, &region, chunk, &creds, now()),
                };
                let batch = match answer {
                    Ok(b) => b,
                    Err(e) => {
                        crate::log::debug!(
                            "aws: {} batch of {} in {region} failed ({}); reading one by one",
                            service.name(),
                            chunk.len(),
                            e.what
                        );
                        if client::batch_refused(&e) {
                            self.batch_refused.insert(service);
                        }
                        break;
                    }
                };
                crate::log::debug!(
                    "aws: {} batch of {} in {region}: {} values",
                    service.name(),
                    chunk.len(),
                    batch.values.len()
                );
                let mut values: Vec<Option<client::Item>> =
                    batch.values.into_iter().map(Some).collect();
                for id in chunk {
                    let key = (service, region.clone(), id.clone(), None);
                    let hit = values.iter_mut().find(|it| {
                        it.as_ref().is_some_and(|it| {
                            it.name == *id
                                || it.arn.as_deref().is_some_and(|a| {
                                    a == id
                                        || (id.starts_with("arn:") && a.starts_with(id.as_str()))
                                })
                        })
                    });
                    if let Some(item) = hit.and_then(Option::take) {
                        let result = self.check_size(&item.value).map(|()| {
                            Some(Rc::new(Versioned {
                                value: item.value,
                                version: item.version,
                            }))
                        });
                        self.cache.insert(key, result);
                    } else if batch
                        .errors
                        .iter()
                        .any(|(e, code)| e == id && client::is_not_found(code))
                    {
                        self.cache.insert(key, Ok(None));
                    }
                }
            }
        }
        self.read_singles(refs);
    }

    /// The whole-source candidates, loaded on first use.
    fn whole(&mut self) -> Result<Rc<Candidates>, Error> {
        if self.whole.is_none() {
            let r = self.load_whole().map(Rc::new);
            self.whole = Some(r);
        }
        match self.whole.as_ref() {
            Some(Ok(c)) => Ok(Rc::clone(c)),
            Some(Err(e)) => Err(e.clone()),
            None => Err(Error::new(Kind::Unavailable, "aws candidates missing")),
        }
    }

    /// Every key of every listed secret (later ones override earlier ones), then every
    /// parameter under the path, named relative to it (overriding the secrets' keys).
    fn load_whole(&mut self) -> Result<Candidates, Error> {
        let mut out = Candidates::new();
        let listed = self.settings.secrets.clone();
        let path = self.settings.parameters_path.clone();
        let keys = self.json_keys(&listed, "secret_init.aws.secrets")?;
        let params = match &path {
            Some(p) => self.parameters_under(p)?,
            None => Vec::new(),
        };
        for (k, value, label, version) in keys.into_iter().chain(params) {
            out.insert(k, (value, label, version));
        }
        Ok(out)
    }

    /// Every key of each of the JSON-object secrets `listed` (in `setting`), in order.
    fn json_keys(&mut self, listed: &[AwsRef], setting: &str) -> Result<Vec<Keyed>, Error> {
        self.prefetch_refs(listed);
        let mut out = Vec::new();
        for r in listed {
            let src = r.target();
            let stored = self
                .read(r)?
                .ok_or_else(|| listed_but_missing(setting, &src))?;
            let Stored::Text(v) = &stored.value else {
                return Err(not_an_object(setting, &src));
            };
            let version = &stored.version;
            out.extend(
                object_keys(v, &src, setting)?
                    .into_iter()
                    .map(|(k, value, label)| (k, value, label, version.clone())),
            );
        }
        Ok(out)
    }

    /// Every parameter under `path` (recursive), named relative to it.
    fn parameters_under(&mut self, path: &str) -> Result<Vec<Keyed>, Error> {
        let src = format!("aws-ssm:{path}");
        let region = self.region_for(None, &src)?;
        let (url, _) = endpoint(Service::Ssm, Some(&region), &self.env);
        let creds = self.credentials().map_err(|e| e.with_source(src.clone()))?;
        let items = self
            .clients
            .get_parameters_by_path(&url, &region, path.trim_end_matches('/'), &creds, now())
            .map_err(|e| e.with_source(src.clone()))?;
        crate::log::debug!("aws: {src}: {} parameters", items.len());
        let mut out = Vec::new();
        for it in items {
            let Some(rel) = it.name.strip_prefix(path) else {
                continue;
            };
            self.check_size(&it.value)
                .map_err(|e| e.with_source(format!("aws-ssm:{}", it.name)))?;
            let (Stored::Text(v) | Stored::Binary(v)) = it.value;
            out.push((
                rel.to_string(),
                v,
                format!("aws-ssm:{}", it.name),
                it.version,
            ));
        }
        Ok(out)
    }

    fn read_uncached(
        &mut self,
        r: &AwsRef,
        region: &str,
    ) -> Result<Option<Rc<Versioned<Stored>>>, Error> {
        let (url, _) = endpoint(r.service, Some(region), &self.env);
        let creds = self.credentials()?;
        let key = (
            r.service,
            region.to_string(),
            r.id.clone(),
            r.version.clone(),
        );
        Ok(read_one(&mut self.clients, &key, &url, &creds, self.max_secret_bytes)?.map(Rc::new))
    }

    /// Reads together what the batches left of `refs` (pinned versions, parameter ARNs, a lone
    /// id, a batch that failed or was throttled), each a request, into the cache.
    fn read_singles(&mut self, refs: &[AwsRef]) {
        // (what is read, the endpoint, the reference as errors name it)
        let mut todo: Vec<(ReadKey, String, String)> = Vec::new();
        for r in refs {
            let src = r.target();
            let Ok(region) = self.region_for(r.region.as_deref(), &src) else {
                continue;
            };
            let key = (r.service, region, r.id.clone(), r.version.clone());
            if self.cache.contains(&key) || todo.iter().any(|(k, _, _)| *k == key) {
                continue;
            }
            let (url, _) = endpoint(r.service, Some(&key.1), &self.env);
            todo.push((key, url, src));
        }
        if todo.len() < 2 {
            return;
        }
        // A failure to get credentials is kept and reported by the fetches that follow.
        let Ok(creds) = self.credentials() else {
            return;
        };
        let max = self.max_secret_bytes;
        let results = read_together(&todo, &mut self.clients, Clients::fork, |c, item| {
            let (key, url, src) = item;
            read_one(c, key, url, &creds, max).map_err(|e| naming(e, src))
        });
        for ((key, _, src), r) in todo.into_iter().zip(results) {
            if let Some(r) = r {
                let _ = self.cache.keep(key, r.map(|v| v.map(Rc::new)), "aws", &src);
            }
        }
    }

    /// Reads `r` and picks its `#KEY`, for secret `name`.
    fn value(&mut self, r: &AwsRef) -> Result<Option<Found>, Error> {
        let Some(stored) = self.read(r)? else {
            return Ok(None);
        };
        match (&stored.value, &r.key) {
            (Stored::Binary(_), Some(_)) => Err(Error::new(
                Kind::Data,
                "a #KEY was given but the secret is binary (SecretBinary), not JSON",
            )
            .with_source(r.to_string())),
            (Stored::Text(v) | Stored::Binary(v), key) => keyed_versioned(
                SourceKind::Aws,
                r.to_string(),
                &Versioned {
                    value: v.clone(),
                    version: stored.version.clone(),
                },
                key.as_deref(),
            ),
        }
    }
}

impl Source for AwsSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Aws
    }

    fn describe(&self, name: &SecretName) -> String {
        if !self.serves_names() {
            return "aws (no prefixes configured)".into();
        }
        let mut places: Vec<String> = self
            .settings
            .secrets
            .iter()
            .map(|r| format!("{}#{name}", r.target()))
            .collect();
        if let Some(p) = &self.settings.parameters_path {
            places.push(format!("aws-ssm:{p}{name}"));
        }
        places.extend(self.settings.prefixes.iter().map(|p| format!("{p}{name}")));
        places.join(", ")
    }

    fn lookup(&mut self, name: &SecretName) -> Result<Option<Found>, Error> {
        if self.has_whole()
            && let Some((value, label, version)) = self.whole()?.get(name.as_str())
        {
            let mut f = found(SourceKind::Aws, label.clone(), value.clone());
            f.origin.version = version.clone();
            return Ok(Some(f));
        }
        for p in self.settings.prefixes.clone() {
            let r = AwsRef::parse(&format!("{p}{name}"))
                .map_err(|why| Error::new(Kind::Config, why).with_source(format!("{p}{name}")))?;
            if let Some(f) = self.value(&r)? {
                return Ok(Some(f));
            }
        }
        Ok(None)
    }

    /// When the credentials in use expire: `None` before the first request, for static keys,
    /// or after a failure. The source itself obtains new ones when these are within
    /// [`sigv4::REFRESH_BEFORE_SECS`] of it.
    fn credentials_expire_at(&self) -> Option<u64> {
        match &self.creds {
            Some(Ok(c)) => c.expires_at,
            _ => None,
        }
    }

    /// Batches the `from:` references about to be fetched (see `prefetch_refs`).
    fn prefetch(&mut self, references: &[&Reference]) {
        let refs: Vec<AwsRef> = references
            .iter()
            .filter_map(|r| match r {
                Reference::Aws(a) => Some(a.clone()),
                _ => None,
            })
            .collect();
        self.prefetch_refs(&refs);
    }

    fn fetch(&mut self, reference: &Reference, _name: &SecretName) -> Result<Option<Found>, Error> {
        match reference {
            Reference::Aws(r) => self.value(r),
            other => Err(not_mine(SourceKind::Aws, other)),
        }
    }

    /// `env_secrets`' keys, then `env_parameters_path`'s parameters (a later one wins).
    fn injected_env(&mut self) -> Result<Vec<Injected>, Error> {
        let listed = self.settings.env_secrets.clone();
        let keys = self.json_keys(&listed, "secret_init.aws.env_secrets")?;
        let params = match self.settings.env_parameters_path.clone() {
            Some(p) => self.parameters_under(&p)?,
            None => Vec::new(),
        };
        Ok(injections(
            keys.into_iter()
                .chain(params)
                .map(|(var, value, origin, _)| (var, value, origin)),
        ))
    }
}

/// One read of `key` (service, region, id, version) at `url`, its size checked against `max`.
fn read_one(
    clients: &mut Clients,
    key: &ReadKey,
    url: &str,
    creds: &Credentials,
    max: u64,
) -> Result<Option<Versioned<Stored>>, Error> {
    let (service, region, id, version) = key;
    let stored = match service {
        Service::Ssm => {
            let name = match version {
                Some(v) => format!("{id}:{v}"),
                None => id.clone(),
            };
            clients.get_parameter(url, region, &name, creds, now())?
        }
        _ => clients.get_secret_value(url, region, id, version.as_deref(), creds, now())?,
    };
    if let Some(s) = &stored {
        check_size(s.value.bytes(), max)?;
    }
    Ok(stored)
}

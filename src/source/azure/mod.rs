//! The `azure` source: Azure Key Vault secrets, with no Azure SDK and no async runtime: tokens
//! from Entra ID or a managed identity and secret reads go over the blocking client of
//! [`crate::http`] ([`client`]).
//!
//! Lazy from end to end: building the source reads nothing. The credential chain runs when a
//! lookup first reaches Key Vault; each cloud's token is then kept in memory for the run, and
//! every secret is read at most once (successes and failures are both cached).
//! `Source::invalidate` forgets all of it, so a later read (live refresh) fetches anew and
//! re-reads a rotated federated token file.
//!
//! References are parsed in [`crate::reference::azure`]. Lookups by name read `secret_init.azure.vault`, the
//! secret's name with `_` turned into `-`, limited to `secret_init.azure.secrets` when given.
//! `AZURE_CLIENT_SECRET` is secret-init's input and is removed from the program's environment
//! (unless a secret delivers it there); the non-secret `AZURE_*` ids and the managed identity
//! variables are the platform's and are passed on (docs/azure.md).

pub(crate) mod client;
pub(crate) mod config;

use std::collections::BTreeMap;

use super::remote::{
    Reads, Versioned, check_size, injections, keyed_versioned, listed_but_missing, naming,
    object_keys, read_together,
};
use super::{Found, Injected, Source, SourceKind, not_mine};
use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::name::SecretName;
use crate::reference::Reference;
use crate::reference::azure::AzureRef;
use crate::secret::Secret;
use client::Clients;
use config::{AzureSettings, vault_name_of};

/// The azure source. See the module docs.
pub(crate) struct AzureSource {
    settings: AzureSettings,
    env: Environ,
    outputs: crate::source::Outputs,
    max_secret_bytes: u64,
    clients: Clients,
    /// Resource (`https://vault.azure.net`) → the token or the failure to get it.
    tokens: BTreeMap<String, Result<Secret, Error>>,
    /// (vault URL, path) → what reading it gave.
    cache: Reads<(String, String), Versioned>,
}

impl AzureSource {
    /// A source for `settings`; `env` is secret-init's own start-time environment, `outputs`
    /// the files it delivers (never read as its credentials). No I/O.
    pub(crate) fn new(
        settings: AzureSettings,
        env: Environ,
        outputs: crate::source::Outputs,
        max_secret_bytes: u64,
    ) -> AzureSource {
        // Room for JSON escapes (\u00XX is six bytes per byte) and the answer's attributes.
        let max_body = max_secret_bytes.saturating_mul(6).saturating_add(64 * 1024);
        AzureSource {
            clients: Clients::new(&settings, &env, max_body),
            settings,
            env,
            outputs,
            max_secret_bytes,
            tokens: BTreeMap::new(),
            cache: Reads::new(),
        }
    }

    /// Whether lookups by name can find anything here (a vault is configured).
    pub(crate) fn has_vault(&self) -> bool {
        self.settings.vault.is_some()
    }

    fn token(&mut self, resource: &str) -> Result<Secret, Error> {
        if !self.tokens.contains_key(resource) {
            let r = client::find(&self.env).and_then(|chain| {
                crate::log::debug!("azure: token for {resource} from {}", chain.describe());
                if let client::Chain::WorkloadIdentity { token_file, .. } = &chain {
                    self.outputs
                        .refuse(token_file, "AZURE_FEDERATED_TOKEN_FILE")
                        .map_err(|e| e.with_source(chain.describe()))?;
                }
                self.clients.token(&chain, resource).map_err(|mut e| {
                    if let Some(tried) = client::tried_before(&chain, &self.env) {
                        e.what.push_str(&format!("; tried before it: {tried}"));
                    }
                    e
                })
            });
            self.tokens.insert(resource.to_string(), r);
        }
        self.tokens
            .get(resource)
            .cloned()
            .unwrap_or_else(|| Err(Error::new(Kind::Permission, "azure token missing")))
    }

    /// Reads what `r` names (cached), `Ok(None)` when it does not exist.
    fn read(&mut self, r: &AzureRef) -> Result<Option<Versioned>, Error> {
        let base = self
            .settings
            .endpoint
            .clone()
            .unwrap_or_else(|| r.vault_url());
        let key = (base.clone(), r.path());
        if let Some(hit) = self.cache.get(&key) {
            return hit;
        }
        let src = r.target();
        let result = self.read_uncached(r, &base).map_err(|e| naming(e, &src));
        self.cache.keep(key, result, "azure", &src)
    }

    fn read_uncached(&mut self, r: &AzureRef, base: &str) -> Result<Option<Versioned>, Error> {
        let token = self.token(&format!("https://{}", r.suffix))?;
        let value = self.clients.get_secret(base, &r.path(), &token)?;
        if let Some(v) = &value {
            check_size(v.value.len(), self.max_secret_bytes)?;
        }
        Ok(value)
    }

    /// A key operation on `path` (`/keys/NAME/VERSION`) of the vault at `vault_url`
    /// (`https://VAULT.vault.azure.net`, replaced by the settings' endpoint when there is one),
    /// with a token for the vault's cloud.
    pub(crate) fn key_operation(
        &mut self,
        vault_url: &str,
        path: &str,
        op: &str,
        body: &Secret,
    ) -> Result<crate::http::Response, Error> {
        let host = vault_url.trim_start_matches("https://");
        let suffix = host.split_once('.').map_or(host, |(_, s)| s);
        let token = self.token(&format!("https://{suffix}"))?;
        let base = self
            .settings
            .endpoint
            .clone()
            .unwrap_or_else(|| vault_url.to_string());
        self.clients.key_operation(&base, path, op, &token, body)
    }

    /// Reads `r` and picks its `#KEY`.
    fn value(&mut self, r: &AzureRef) -> Result<Option<Found>, Error> {
        let Some(v) = self.read(r)? else {
            return Ok(None);
        };
        keyed_versioned(SourceKind::Azure, r.to_string(), &v, r.key.as_deref())
    }

    /// The reference a lookup by name reads, if this source serves `name`.
    fn by_name(&self, name: &SecretName) -> Option<Result<AzureRef, Error>> {
        let vault = self.settings.vault.as_ref()?;
        if let Some(list) = &self.settings.secrets
            && !list.iter().any(|n| n == name.as_str())
        {
            return None;
        }
        let s = format!("azure-kv:{vault}/{}", vault_name_of(name.as_str()));
        Some(AzureRef::parse(&s).map_err(|why| Error::new(Kind::Config, why).with_source(s)))
    }
}

impl Source for AzureSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Azure
    }

    fn describe(&self, name: &SecretName) -> String {
        match self.by_name(name) {
            None if self.settings.vault.is_none() => "azure (no vault configured)".into(),
            None => "azure (not in secret_init.azure.secrets)".into(),
            Some(Ok(r)) => r.to_string(),
            Some(Err(_)) => format!("azure (\"{name}\" is not a Key Vault name)"),
        }
    }

    fn lookup(&mut self, name: &SecretName) -> Result<Option<Found>, Error> {
        match self.by_name(name) {
            None => Ok(None),
            // A name Key Vault cannot hold is simply not there (unless the list named it).
            Some(Err(e)) if self.settings.secrets.is_some() => Err(e),
            Some(Err(_)) => Ok(None),
            Some(Ok(r)) => self.value(&r),
        }
    }

    /// Reads the `from:` references about to be fetched together (each a request: Key Vault
    /// has no batch read), into the cache the fetches then find.
    fn prefetch(&mut self, references: &[&Reference]) {
        // (cache key, token, the reference as errors name it)
        let mut todo: Vec<((String, String), Secret, String)> = Vec::new();
        for r in references {
            let Reference::Azure(r) = r else { continue };
            let base = self
                .settings
                .endpoint
                .clone()
                .unwrap_or_else(|| r.vault_url());
            let key = (base, r.path());
            if self.cache.contains(&key) || todo.iter().any(|(k, _, _)| *k == key) {
                continue;
            }
            // A failure to get a token is kept and reported by the fetch of that reference.
            let Ok(token) = self.token(&format!("https://{}", r.suffix)) else {
                continue;
            };
            todo.push((key, token, r.target()));
        }
        if todo.len() < 2 {
            return;
        }
        let max = self.max_secret_bytes;
        let results = read_together(&todo, &mut self.clients, Clients::fork, |c, item| {
            let ((base, path), token, src) = item;
            let v = c
                .get_secret(base, path, token)
                .map_err(|e| naming(e, src))?;
            if let Some(v) = &v {
                check_size(v.value.len(), max).map_err(|e| naming(e, src))?;
            }
            Ok(v)
        });
        for ((key, _, src), r) in todo.into_iter().zip(results) {
            if let Some(r) = r {
                let _ = self.cache.keep(key, r, "azure", &src);
            }
        }
    }

    fn fetch(&mut self, reference: &Reference, _name: &SecretName) -> Result<Option<Found>, Error> {
        match reference {
            Reference::Azure(r) => self.value(r),
            other => Err(not_mine(SourceKind::Azure, other)),
        }
    }

    /// Every key of each `env_secrets` entry of the vault (a later one wins).
    fn injected_env(&mut self) -> Result<Vec<Injected>, Error> {
        const SETTING: &str = "secret_init.azure.env_secrets";
        let Some(vault) = self.settings.vault.clone() else {
            return Ok(Vec::new());
        };
        let mut vars = Vec::new();
        for name in self.settings.env_secrets.clone() {
            let s = format!("azure-kv:{vault}/{name}");
            let r = AzureRef::parse(&s)
                .map_err(|why| Error::new(Kind::Config, why).with_source(s.clone()))?;
            let src = r.to_string();
            let value = self
                .read(&r)?
                .ok_or_else(|| listed_but_missing(SETTING, &src))?;
            vars.extend(object_keys(&value.value, &src, SETTING)?);
        }
        Ok(injections(vars))
    }
}

//! The `vault` source: HashiCorp Vault / OpenBao KV (v1 and v2) over verified TLS.
//!
//! Lazy from end to end: building the source reads nothing; the CA bundle, the login and the first
//! request happen when a lookup first reaches the vault, so a secret found in `/secrets` costs
//! nothing here. After that one client serves the whole run, the token is kept in memory only,
//! and every path is fetched at most once (successes and failures are both cached, so a dead
//! vault is waited on once, not once per secret). The `paths` (and `env_paths`) are read all at
//! once, up to eight at a time on as many connections, so a vault far away costs a few round
//! trips rather than one per path; the first failing path in order is the one reported.
//!
//! Lookups by name read the configured `paths` merged in order, later paths overriding earlier;
//! the key is the secret's manifest name. A `vault:PATH#KEY[#VERSION]` reference reads one key of
//! one path (optionally a pinned KV v2 version). `env_paths` are injected whole into the program's
//! environment (runqy's behaviour), every key becoming a variable of the same name.

pub(crate) mod client;
pub(crate) mod config;
pub(crate) mod keep;

use std::collections::BTreeMap;
use std::rc::Rc;

use super::{Found, Injected, Origin, Source, SourceKind, not_mine};
use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::name::SecretName;
use crate::reference::Reference;
use crate::secret::Secret;
use client::{KvData, Vault};
use config::VaultSettings;

/// Merged path data: key → (value, the path it came from, its KV v2 version).
type Merged = BTreeMap<String, (Secret, String, Option<u64>)>;

/// The vault source. See the module docs.
pub(crate) struct VaultSource {
    settings: VaultSettings,
    env: Environ,
    /// The logged-in client lives here (kept between passes by a live refresh).
    keep: keep::Keep,
    /// This pass's login failure (kept, so it is reported for every secret without trying again).
    login_error: Option<Error>,
    /// Path (and pinned version) → what reading it gave.
    cache: BTreeMap<(String, Option<u64>), Result<Rc<KvData>, Error>>,
    /// The merged data of `paths`: key → (value, path it came from).
    merged: Option<Result<Merged, Error>>,
}

impl VaultSource {
    /// A source for `settings`; `env` is the start-time environment (tokens, role and secret
    /// ids, `SSL_CERT_FILE`). No I/O.
    pub(crate) fn new(settings: VaultSettings, env: Environ) -> VaultSource {
        VaultSource {
            settings,
            env,
            keep: keep::Keep::default(),
            login_error: None,
            cache: BTreeMap::new(),
            merged: None,
        }
    }

    /// Uses the client of `keep` (what an earlier pass kept), handed back at the end of the
    /// pass ([`Source::hand_back`]).
    pub(crate) fn with_keep(mut self, mut keep: keep::Keep) -> VaultSource {
        // A source per pass: the pass's requests share one whole deadline.
        keep.new_pass();
        self.keep = keep;
        self
    }

    /// Runs `f` with the logged-in client (logging in on first use).
    fn with_vault<T>(
        &mut self,
        f: impl FnOnce(&mut Vault) -> Result<T, Error>,
    ) -> Result<T, Error> {
        if let Some(e) = &self.login_error {
            return Err(e.clone());
        }
        match self.keep.client(&self.settings, &self.env) {
            Ok(v) => f(v),
            Err(e) => {
                self.login_error = Some(e.clone());
                Err(e)
            }
        }
    }

    fn read(&mut self, path: &str, version: Option<u64>) -> Result<Rc<KvData>, Error> {
        let key = (path.to_string(), version);
        if let Some(r) = self.cache.get(&key) {
            return r.clone();
        }
        let r = self.with_vault(|v| v.read(path, version)).map(Rc::new);
        self.cache.insert(key, r.clone());
        r
    }

    /// Reads every path of `paths` not read yet at once (client.rs `read_all`), into the cache
    /// the one-by-one reads below then find. Nothing to do for fewer than two.
    fn prefetch(&mut self, paths: &[String]) {
        let todo: Vec<String> = paths
            .iter()
            .filter(|p| !self.cache.contains_key(&((*p).clone(), None)))
            .cloned()
            .collect();
        if todo.len() < 2 {
            return;
        }
        // A login failure is kept by `with_vault` and reported by the reads that follow.
        if let Ok(results) = self.with_vault(|v| Ok(v.read_all(&todo))) {
            for (path, r) in todo.into_iter().zip(results) {
                if let Some(r) = r {
                    self.cache.insert((path, None), r.map(Rc::new));
                }
            }
        }
    }

    fn merged(&mut self) -> Result<&Merged, Error> {
        if self.merged.is_none() {
            self.prefetch(&self.settings.paths.clone());
            let mut out = BTreeMap::new();
            let mut result = Ok(());
            for path in self.settings.paths.clone() {
                match self.read(&path, None) {
                    Ok(data) => {
                        for (k, v) in &data.values {
                            out.insert(k.clone(), (v.clone(), path.clone(), data.version));
                        }
                    }
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            self.merged = Some(result.map(|()| out));
        }
        match self.merged.as_ref() {
            Some(Ok(m)) => Ok(m),
            Some(Err(e)) => Err(e.clone()),
            None => Err(Error::new(Kind::Unavailable, "vault data missing")),
        }
    }
}

pub(crate) fn auth_name(a: &config::Auth) -> &'static str {
    match a {
        config::Auth::Token { .. } => "token",
        config::Auth::AppRole { .. } => "approle",
        config::Auth::Jwt { method, .. } => method,
        config::Auth::Cert { .. } => "cert",
        config::Auth::Userpass { .. } => "userpass",
    }
}

impl Source for VaultSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Vault
    }

    fn describe(&self, name: &SecretName) -> String {
        if self.settings.paths.is_empty() {
            return "vault (no paths configured)".into();
        }
        self.settings
            .paths
            .iter()
            .map(|p| format!("vault:{p}#{name}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn lookup(&mut self, name: &SecretName) -> Result<Option<Found>, Error> {
        if self.settings.paths.is_empty() {
            // A vault used only through references: nothing to look in, and no reason to log in.
            return Ok(None);
        }
        let merged = self.merged()?;
        Ok(merged
            .get(name.as_str())
            .map(|(value, path, version)| Found {
                value: value.clone(),
                origin: Origin {
                    kind: SourceKind::Vault,
                    label: format!("vault:{path}#{name}"),
                    path: None,
                    version: version.map(|v| v.to_string()),
                },
            }))
    }

    fn fetch(&mut self, reference: &Reference, name: &SecretName) -> Result<Option<Found>, Error> {
        let Reference::Vault { path, key, version } = reference else {
            return Err(not_mine(SourceKind::Vault, reference));
        };
        let key = key.as_deref().unwrap_or(name.as_str());
        let data = self.read(path, *version)?;
        let label = match version {
            Some(v) => format!("vault:{path}#{key}#{v}"),
            None => format!("vault:{path}#{key}"),
        };
        Ok(data.values.get(key).map(|value| Found {
            value: value.clone(),
            origin: Origin {
                kind: SourceKind::Vault,
                label,
                path: None,
                version: data.version.map(|v| v.to_string()),
            },
        }))
    }

    fn hand_back(&mut self, carry: &mut crate::source::Carry) {
        carry.vault = std::mem::take(&mut self.keep);
    }

    fn consumed_files(&mut self) -> Vec<std::path::PathBuf> {
        match self.keep.logged_in() {
            Some(v) => v.take_consumed().into_iter().collect(),
            None => Vec::new(),
        }
    }

    fn injected_env(&mut self) -> Result<Vec<Injected>, Error> {
        let mut out: BTreeMap<String, Injected> = BTreeMap::new();
        self.prefetch(&self.settings.env_paths.clone());
        for path in self.settings.env_paths.clone() {
            let data = self.read(&path, None)?;
            for (k, v) in &data.values {
                out.insert(
                    k.clone(),
                    Injected {
                        var: k.clone(),
                        value: v.clone(),
                        origin: format!("vault:{path}#{k}"),
                    },
                );
            }
        }
        Ok(out.into_values().collect())
    }
}

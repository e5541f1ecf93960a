//! The `bundle` source: entries of an encrypted vault bundle (a file, or an `https://` URL).
//!
//! Nothing is read at build time. The first lookup that reaches this source reads the bundle,
//! checks the master key against the file's key check, and opens every entry of the configured
//! vaults at once, so a tampered entry fails the start even if no secret asks for it: any
//! authentication failure (wrong key, a flipped bit, a truncated value, a nonce of the wrong
//! length, a value moved between names) stops the whole start with 65, naming every vault and
//! entry that failed. A lookup takes the entry of the secret's name from the `vaults` list merged
//! in order (later vaults override earlier ones, as in runqy); a `bundle:VAULT#KEY` reference
//! names one entry; `env_vaults` are injected whole as environment variables.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{Found, Injected, Origin, Source, SourceKind, not_mine};
use crate::bundle::format::{self, Bundle, Opened};
use crate::bundle::{self as bundle_file, seal::MasterKey};
use crate::cli::merge::{pick, pick_list};
use crate::cli::{Invocation, Opt};
use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::name::SecretName;
use crate::order::CollectOrdered;
use crate::reference::Reference;
use crate::secret::Secret;
use crate::source::kms::{KmsClients, KmsKey};

crate::source::section::raw_section! {
    /// `secret_init.bundles` as written; interpreted (with CLI and env) by `source::bundle`.
    pub struct RawBundleSettings {
        /// A file path or an `https://` URL.
        pub location: Option<String>,
        /// Vaults looked up by name, merged in order (later wins).
        pub vaults: Option<Vec<String>>,
        /// Vaults injected whole as env vars.
        pub env_vaults: Option<Vec<String>>,
        /// PEM CA file for an `https://` location.
        pub ca_cert: Option<PathBuf>,
        /// File holding the base64 master key.
        pub master_key_file: Option<PathBuf>,
        /// The KMS key trusted to wrap the bundle's data key (`aws:ARN`, ...).
        pub kms: Option<String>,
    }
}

/// Where the bundle is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A local file.
    File(PathBuf),
    /// An `https://` URL (or `http://` to a loopback host), fetched with the shared client.
    Url(String),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            // A presigned URL carries credentials in its query: never shown.
            Location::Url(u) => f.write_str(&crate::url::redact_url(u)),
        }
    }
}

/// The bundle settings, merged from the command line, env twins and `secret_init.bundles`.
#[derive(Clone, Debug)]
pub struct BundleSettings {
    /// Where the bundle is.
    pub location: Location,
    /// Vaults looked up by secret name, merged in order (later wins).
    pub vaults: Vec<String>,
    /// Vaults injected whole as env vars, merged in order (later wins).
    pub env_vaults: Vec<String>,
    /// PEM CA file for an `https://` location.
    pub ca_cert: Option<PathBuf>,
    /// File holding the base64 master key (else `SECRET_INIT_MASTER_KEY`).
    pub master_key_file: Option<PathBuf>,
    /// The KMS key trusted to wrap the bundle's data key; set, the bundle must name it.
    pub kms: Option<String>,
}

fn config(what: impl Into<String>) -> Error {
    Error::new(Kind::Config, what)
}

impl BundleSettings {
    /// Merges `--bundle*`/`--master-key-file`, their env twins and the file section; `None` when
    /// no location is given anywhere.
    pub fn resolve(
        inv: &Invocation,
        env: &Environ,
        file: Option<&RawBundleSettings>,
    ) -> Result<Option<BundleSettings>, Error> {
        let location = match pick(inv, env, Opt::Bundle) {
            Some((v, origin)) => Some((v.to_string_lossy().into_owned(), origin)),
            None => file
                .and_then(|f| f.location.clone())
                .map(|l| (l, "secret_init.bundles.location".to_string())),
        };
        let Some((location, origin)) = location.filter(|(l, _)| !l.is_empty()) else {
            if file.is_some_and(|f| f.vaults.is_some() || f.env_vaults.is_some()) {
                return Err(config(
                    "secret_init.bundles: vaults given without a location",
                ));
            }
            return Ok(None);
        };
        let location =
            parse_location(&location).map_err(|why| config(format!("{origin}: {why}")))?;
        let list =
            |opt: Opt, from_file: Option<&Vec<String>>, key: &str| -> Result<Vec<String>, Error> {
                let (names, origin) = match pick_list(inv, env, opt, ',') {
                    Some(v) => (v, format!("--{}", opt.long())),
                    None => (
                        from_file.cloned().unwrap_or_default(),
                        format!("secret_init.bundles.{key}"),
                    ),
                };
                for n in &names {
                    format::check_name("vault name", n)
                        .map_err(|why| config(format!("{origin}: {why}")))?;
                }
                Ok(names)
            };
        let vaults = list(
            Opt::BundleVaults,
            file.and_then(|f| f.vaults.as_ref()),
            "vaults",
        )?;
        let env_vaults = list(
            Opt::BundleEnvVaults,
            file.and_then(|f| f.env_vaults.as_ref()),
            "env_vaults",
        )?;
        let path_opt = |opt: Opt, from_file: Option<&PathBuf>| {
            pick(inv, env, opt)
                .map(|(v, _)| PathBuf::from(v))
                .filter(|p| !p.as_os_str().is_empty())
                .or_else(|| from_file.cloned())
        };
        Ok(Some(BundleSettings {
            location,
            vaults,
            env_vaults,
            ca_cert: path_opt(Opt::BundleCaCert, file.and_then(|f| f.ca_cert.as_ref())),
            master_key_file: path_opt(
                Opt::MasterKeyFile,
                file.and_then(|f| f.master_key_file.as_ref()),
            ),
            kms: trusted_kms(inv, env, file.and_then(|f| f.kms.as_ref()))?,
        }))
    }
}

/// The KMS key trusted to wrap a bundle's data key: `--bundle-kms`, its env twin, else
/// `secret_init.bundles.kms`; checked as a key name (78).
fn trusted_kms(
    inv: &Invocation,
    env: &Environ,
    from_file: Option<&String>,
) -> Result<Option<String>, Error> {
    let (spec, origin) = match pick(inv, env, Opt::BundleKms) {
        Some((v, origin)) => (v.to_string_lossy().into_owned(), origin),
        None => match from_file {
            Some(f) => (f.clone(), "secret_init.bundles.kms".to_string()),
            None => return Ok(None),
        },
    };
    if spec.is_empty() {
        return Ok(None);
    }
    bundle_kms_key(&spec).map_err(|why| config(format!("{origin}: {why}")))?;
    Ok(Some(spec))
}

/// The encryption context an AWS KMS key binds into a bundle's wrapped data key (so a data key
/// wrapped for anything else, a sops file say, is not accepted as a bundle's).
const AWS_CONTEXT: (&str, &str) = ("secret-init", "bundle data key");

/// The KMS key a bundle names (`aws:ARN`, `gcp:...`, `azure:URL`, `transit:MOUNT/NAME`), with
/// the bundle's encryption context for an AWS key.
pub(crate) fn bundle_kms_key(spec: &str) -> Result<KmsKey, String> {
    let mut key = KmsKey::parse(spec)?;
    if let KmsKey::Aws { context, .. } = &mut key {
        context.push((AWS_CONTEXT.0.to_string(), AWS_CONTEXT.1.to_string()));
    }
    Ok(key)
}

/// The master key that opens `bundle`. A version 2 bundle's is its data key, unwrapped by the
/// KMS key its header names, which must be `trusted` (the key named with `--bundle-kms`): the
/// header alone is never trusted, or whoever can replace the file could name a key of their
/// own. A version 1 bundle's is the pod's own key (`master`), and `trusted` must be unset.
/// Errors name `src` and the KMS key, never key material.
pub(crate) fn bundle_key(
    bundle: &Bundle,
    trusted: Option<&str>,
    master: impl FnOnce() -> Result<MasterKey, Error>,
    kms: &KmsClients,
    src: &str,
) -> Result<MasterKey, Error> {
    let named = bundle.wrapped_key.as_ref();
    match (named, trusted) {
        (None, None) => master(),
        (None, Some(t)) => Err(Error::new(
            Kind::Data,
            format!("the bundle's key is not wrapped by a KMS key (version 1), but {t} is the one trusted"),
        )
        .with_source(src)),
        (Some(w), None) => Err(config(format!(
            "the bundle's data key is wrapped by kms {}: name the key you trust with --bundle-kms (SECRET_INIT_BUNDLE_KMS, secret_init.bundles.kms)",
            crate::log::escape_controls(&w.kms)
        ))
        .with_source(src)),
        (Some(w), Some(t)) if w.kms != t => Err(Error::new(
            Kind::Data,
            format!(
                "the bundle names kms {}, not the trusted {t}",
                crate::log::escape_controls(&w.kms)
            ),
        )
        .with_source(src)),
        (Some(w), Some(_)) => {
            let key = bundle_kms_key(&w.kms)
                .map_err(|why| Error::new(Kind::Data, format!("key.kms: {why}")).with_source(src))?;
            let data_key = crate::source::kms::unwrap(&key, &w.wrapped, kms).map_err(|e| {
                let e = e.into_problem();
                Error::new(
                    e.kind,
                    format!("{}: {}", e.source.unwrap_or_default(), e.what),
                )
                .with_source(src)
            })?;
            MasterKey::from_bytes(&data_key).map_err(|_| {
                Error::new(
                    Kind::Data,
                    format!(
                        "kms {key} unwrapped a {}-byte data key, not a 32-byte one",
                        data_key.len()
                    ),
                )
                .with_source(src)
            })
        }
    }
}

/// Parses a location: `https://...` is a URL; `http://` only to a loopback host (GCM protects
/// the bundle's integrity, but a fetch in clear still tells an observer what we run with and lets
/// anyone on the path replace the whole file with an older one); anything else is a file path.
pub(crate) fn parse_location(s: &str) -> Result<Location, String> {
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Ok(Location::Url(s.to_string()));
    }
    if let Some(rest) = lower.strip_prefix("http://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = match authority.rsplit_once(':') {
            Some((h, port)) if !port.contains(']') => h,
            _ => authority,
        };
        if crate::url::is_loopback(host) {
            return Ok(Location::Url(s.to_string()));
        }
        return Err(
            "plain http:// is refused for a bundle (except to loopback); use https://".into(),
        );
    }
    if lower.contains("://") {
        return Err("a bundle location is a file path or an https:// URL".into());
    }
    Ok(Location::File(PathBuf::from(s)))
}

/// The opened bundle: every entry of the vaults opened so far, by vault (each list sorted by
/// key), and for the `vaults` list, which vault wins each key (computed once, so a lookup is two
/// searches rather than a merge).
struct Open {
    bundle: Bundle,
    key: MasterKey,
    vaults: BTreeMap<String, Vec<Opened>>,
    winner: BTreeMap<String, String>,
}

impl Open {
    /// Entry `key` of an opened vault.
    fn entry(&self, vault: &str, key: &str) -> Option<&Opened> {
        let entries = self.vaults.get(vault)?;
        // Bundle::open_vault returns entries in key order (a BTreeMap's).
        entries
            .binary_search_by(|e| e.key.as_str().cmp(key))
            .ok()
            .map(|i| &entries[i])
    }
}

enum State {
    Pending,
    Open(Box<Open>),
    /// Failed already; the full error was returned to the first lookup.
    Failed(Kind),
}

/// A bundle URL's last full answer, its `ETag` and body, kept from one pass of the pipeline to
/// the next (a live refresh) for a conditional GET: `If-None-Match`, and a 304 reuses the body.
pub(crate) type UrlCache = Option<(String, Secret)>;

/// Looks secrets up in an encrypted bundle.
pub(crate) struct BundleSource {
    settings: BundleSettings,
    env: Environ,
    kms: KmsClients,
    state: State,
    url_cache: UrlCache,
}

impl BundleSource {
    /// A source over `settings` (nothing read yet); `env` holds `SECRET_INIT_MASTER_KEY`, `kms`
    /// unwraps a KMS-wrapped data key.
    pub(crate) fn new(settings: BundleSettings, env: Environ, kms: KmsClients) -> Self {
        BundleSource {
            settings,
            env,
            kms,
            state: State::Pending,
            url_cache: UrlCache::default(),
        }
    }

    /// The same source, starting from a URL's last answer (`cache`, an earlier pass's), handed
    /// back at the end of the pass ([`Source::hand_back`]).
    pub(crate) fn with_url_cache(mut self, cache: UrlCache) -> Self {
        self.url_cache = cache;
        self
    }

    fn label(&self) -> String {
        format!("bundle:{}", self.settings.location)
    }

    fn fetch_bytes(&mut self) -> Result<Vec<u8>, Error> {
        match &self.settings.location {
            Location::File(p) => format::read_file(p),
            Location::Url(url) => {
                let url = url.clone();
                self.fetch_url(&url)
            }
        }
    }

    /// A bundle by URL: a conditional GET against the last answer (its ETag).
    #[cfg(feature = "bundle-url")]
    fn fetch_url(&mut self, url: &str) -> Result<Vec<u8>, Error> {
        let mut client = crate::http::Client::new(crate::http::Options {
            ca_file: crate::http::ca_file(self.settings.ca_cert.as_deref(), &self.env),
            max_body: format::MAX_BUNDLE_BYTES,
            proxies: crate::http::Proxies::from_env(&self.env),
            service: crate::http::timing::Service::Bundle,
            ..crate::http::Options::default()
        });
        let etag = self.url_cache.as_ref().map(|(e, _)| e.clone());
        let headers: Vec<(&str, &[u8])> = etag
            .iter()
            .map(|e| ("If-None-Match", e.as_bytes()))
            .collect();
        let r = client.get(url, &headers)?;
        let kind = match r.status {
            304 => {
                if let Some((_, body)) = self.url_cache.as_ref() {
                    crate::log::debug!("{}: not modified (ETag)", self.label());
                    return Ok(body.expose().to_vec());
                }
                Kind::Unavailable
            }
            200 => {
                let bytes = r.body.expose().to_vec();
                self.url_cache = r.etag.map(|e| (e, r.body));
                return Ok(bytes);
            }
            401 | 403 => Kind::Permission,
            _ => Kind::Unavailable,
        };
        Err(Error::new(
            kind,
            format!("fetching the bundle answered HTTP {}", r.status),
        ))
    }

    #[cfg(not(feature = "bundle-url"))]
    fn fetch_url(&mut self, _: &str) -> Result<Vec<u8>, Error> {
        Err(Error::new(
            Kind::Config,
            "a bundle by URL needs the Cargo feature `bundle-url`, which this build lacks",
        )
        .with_source(self.label()))
    }

    /// Reads, checks and opens the bundle on first use; later calls reuse the result.
    fn open(&mut self) -> Result<&mut Open, Error> {
        if let State::Pending = self.state {
            self.state = match self.load() {
                Ok(o) => State::Open(Box::new(o)),
                Err(e) => {
                    self.state = State::Failed(e.kind);
                    return Err(e);
                }
            };
        }
        let label = self.label();
        match &mut self.state {
            State::Open(o) => Ok(o),
            // The full reason went to the first lookup; say it once, not once per secret.
            State::Failed(kind) => Err(Error::new(
                *kind,
                "the bundle did not open (reason reported above)",
            )
            .with_source(label)),
            State::Pending => Err(Error::new(Kind::Data, "bundle state lost")),
        }
    }

    fn load(&mut self) -> Result<Open, Error> {
        let src = self.label();
        // Without a trusted KMS key the pod's own master key is needed: looked for first, so a
        // bad key is reported before any fetch. None given (78) waits for the bundle, which
        // may say it needs a trusted KMS key instead.
        let master = match &self.settings.kms {
            None => Some(
                bundle_file::load_master_key(&self.env, self.settings.master_key_file.as_deref())
                    .map_err(|e| e.with_source(src.clone())),
            ),
            Some(_) => None,
        };
        if let Some(Err(e)) = &master
            && e.kind != Kind::Config
        {
            return Err(e.clone());
        }
        let bytes = self.fetch_bytes().map_err(|e| e.with_source(src.clone()))?;
        let bundle = Bundle::parse(&bytes, &src)?;
        let no_key = || Err(Error::new(Kind::Data, "no master key").with_source(src.clone()));
        let key = bundle_key(
            &bundle,
            self.settings.kms.as_deref(),
            || master.unwrap_or_else(no_key),
            &self.kms,
            &src,
        )?;
        bundle.check_key(&key, &src)?;
        crate::log::debug!("{src}: master key verified; {} vaults", bundle.vaults.len());
        let mut open = Open {
            bundle,
            key,
            vaults: BTreeMap::new(),
            winner: BTreeMap::new(),
        };
        let wanted: Vec<String> = self
            .settings
            .vaults
            .iter()
            .chain(&self.settings.env_vaults)
            .cloned()
            .collect();
        for v in wanted {
            open_vault(&mut open, &v, &src)?;
        }
        open.winner = merged(&open, &self.settings.vaults)
            .into_iter()
            .map(|(key, (vault, _))| (key.to_string(), vault.to_string()))
            .collect_ordered();
        Ok(open)
    }
}

/// Opens every entry of `vault` into `open` (once); every failing entry is named in one error.
fn open_vault<'a>(open: &'a mut Open, vault: &str, src: &str) -> Result<&'a [Opened], Error> {
    if !open.vaults.contains_key(vault) {
        let entries = open
            .bundle
            .open_vault(&open.key, vault, src)
            .map_err(|errs| {
                let mut errs = errs.into_iter();
                // open_vault returns at least one error when it fails.
                let first = errs
                    .next()
                    .unwrap_or_else(|| Error::new(Kind::Data, "failed"));
                let rest: Vec<String> = errs
                    .filter_map(|e| e.what.split_once(": ").map(|(at, _)| at.to_string()))
                    .collect();
                if rest.is_empty() {
                    first
                } else {
                    let what = format!("{}; also failed: {}", first.what, rest.join(", "));
                    let mut first = first;
                    first.what = what;
                    first
                }
            })?;
        crate::log::debug!("{src}: vault \"{vault}\": {} entries opened", entries.len());
        open.vaults.insert(vault.to_string(), entries);
    }
    Ok(open.vaults.get(vault).map_or(&[], Vec::as_slice))
}

fn found(vault: &str, key: &str, value: &Secret) -> Found {
    Found {
        value: value.clone(),
        origin: Origin {
            kind: SourceKind::Bundle,
            label: format!("bundle:{vault}#{key}"),
            path: None,
            version: None,
        },
    }
}

/// Merges vaults in order: for each key, the last vault that has it wins.
fn merged<'a>(open: &'a Open, vaults: &'a [String]) -> BTreeMap<&'a str, (&'a str, &'a Secret)> {
    let mut out = BTreeMap::new();
    for v in vaults {
        for e in open.vaults.get(v).map_or(&[][..], Vec::as_slice) {
            out.insert(e.key.as_str(), (v.as_str(), &e.value));
        }
    }
    out
}

crate::source::section::section!(RawBundleSettings);

impl Source for BundleSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Bundle
    }

    fn hand_back(&mut self, carry: &mut crate::source::Carry) {
        carry.bundle_url = self.url_cache.take();
    }

    fn describe(&self, name: &SecretName) -> String {
        if self.settings.vaults.is_empty() {
            format!("{} (no vaults listed)", self.label())
        } else {
            format!("bundle:{}#{name}", self.settings.vaults.join("+"))
        }
    }

    fn lookup(&mut self, name: &SecretName) -> Result<Option<Found>, Error> {
        if self.settings.vaults.is_empty() {
            return Ok(None);
        }
        let open = self.open()?;
        Ok(open.winner.get(name.as_str()).and_then(|v| {
            open.entry(v, name.as_str())
                .map(|e| found(v, &e.key, &e.value))
        }))
    }

    fn fetch(&mut self, reference: &Reference, name: &SecretName) -> Result<Option<Found>, Error> {
        let Reference::Bundle { vault, key } = reference else {
            return Err(not_mine(SourceKind::Bundle, reference));
        };
        let key = key.as_deref().unwrap_or(name.as_str());
        let src = self.label();
        let open = self.open()?;
        open_vault(open, vault, &src)?;
        Ok(open.entry(vault, key).map(|e| found(vault, key, &e.value)))
    }

    fn injected_env(&mut self) -> Result<Vec<Injected>, Error> {
        if self.settings.env_vaults.is_empty() {
            return Ok(Vec::new());
        }
        let vaults = self.settings.env_vaults.clone();
        let open = self.open()?;
        Ok(merged(open, &vaults)
            .into_iter()
            .map(|(k, (v, value))| Injected {
                var: k.to_string(),
                value: value.clone(),
                origin: format!("bundle:{v}#{k}"),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            parse_location("/b.json"),
            Ok(Location::File("/b.json".into()))
        );
        assert_eq!(
            parse_location("HTTPS://h/b.json"),
            Ok(Location::Url("HTTPS://h/b.json".into()))
        );
        assert!(parse_location("http://h/b").is_err());
        assert!(parse_location("http://127.0.0.1.evil/b").is_err());
        assert!(parse_location("http://127.0.0.1:8080/b").is_ok());
        assert!(parse_location("http://[::1]:8080/b").is_ok());
        assert!(parse_location("http://localhost/b").is_ok());
        assert!(parse_location("s3://b/k").is_err());
    }
}

//! Sources: where a secret's value can come from, each behind the one [`Source`] trait.
//!
//! A source never does I/O when it is built; it opens its directory, reads its file or contacts
//! its server on the first lookup that reaches it, so a secret found in a higher-precedence source
//! costs nothing elsewhere. Lookups return `Ok(None)` for "not here" and `Err` only for problems
//! that must stop the start (a link escaping the secrets dir, a FIFO, a bad permission).

pub mod aws;
pub mod azure;
pub mod bundle;
pub mod default;
pub mod env;
pub mod file;
pub mod gcp;
pub mod local;
pub mod vault;

use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, Kind};
use crate::manifest::Manifest;
use crate::name::SecretName;
use crate::reference::Reference;
use crate::secret::Secret;
use crate::settings::{Environ, Settings};

/// The kinds of source, as named in `sources:` and `--sources`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    /// Mounted files: `<secrets_dir>/<name>`.
    File,
    /// Environment variables: `<prefix><name>`.
    Env,
    /// HashiCorp Vault / OpenBao KV.
    Vault,
    /// AWS Secrets Manager and Parameter Store.
    Aws,
    /// GCP Secret Manager.
    Gcp,
    /// Azure Key Vault.
    Azure,
    /// Encrypted vault bundles.
    Bundle,
    /// The developer-machine config (`~/.truss/config.yaml`).
    Local,
    /// The manifest's own default value.
    Default,
}

impl SourceKind {
    /// Parses a source name.
    pub fn parse(s: &str) -> Option<SourceKind> {
        Some(match s {
            "file" | "files" => SourceKind::File,
            "env" => SourceKind::Env,
            "vault" => SourceKind::Vault,
            "aws" => SourceKind::Aws,
            "gcp" => SourceKind::Gcp,
            "azure" => SourceKind::Azure,
            "bundle" => SourceKind::Bundle,
            "local" => SourceKind::Local,
            "default" => SourceKind::Default,
            _ => return None,
        })
    }

    /// The name used in settings and messages.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::File => "file",
            SourceKind::Env => "env",
            SourceKind::Vault => "vault",
            SourceKind::Aws => "aws",
            SourceKind::Gcp => "gcp",
            SourceKind::Azure => "azure",
            SourceKind::Bundle => "bundle",
            SourceKind::Local => "local",
            SourceKind::Default => "default",
        }
    }

    /// The source kind that serves an exact reference.
    pub fn of(reference: &Reference) -> SourceKind {
        match reference {
            Reference::Env(_) => SourceKind::Env,
            Reference::File(_) => SourceKind::File,
            Reference::Vault { .. } => SourceKind::Vault,
            Reference::Bundle { .. } => SourceKind::Bundle,
            Reference::Aws(_) => SourceKind::Aws,
            Reference::Gcp(_) => SourceKind::Gcp,
            Reference::Azure(_) => SourceKind::Azure,
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a value came from: the source kind, a label for people (`env:TRUSS_SECRET_db`) and, for
/// files, the visible path (so a value is never rewritten onto the very file it came from).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The source kind.
    pub kind: SourceKind,
    /// What `check` shows in its SOURCE column.
    pub label: String,
    /// The file the value was read from, as the user sees it (`/secrets/db`, not `..data/db`).
    pub path: Option<PathBuf>,
    /// The source's version of the value, where it has one (a KV v2 version), for the refresh
    /// change log.
    pub version: Option<u64>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

/// A value and where it came from.
#[derive(Debug)]
pub struct Found {
    /// The value.
    pub value: Secret,
    /// Its origin.
    pub origin: Origin,
}

/// A variable a source injects into the program's environment on its own (every key of a vault
/// path listed in `env_paths`), beside the manifest's per-secret env deliveries.
#[derive(Debug)]
pub struct Injected {
    /// The variable's name (checked like any env delivery before it is used).
    pub var: String,
    /// The value.
    pub value: Secret,
    /// Where it came from, e.g. `vault:secret/data/app#KEY`.
    pub origin: String,
}

/// A place secrets can be looked up in.
pub trait Source {
    /// Which kind of source this is.
    fn kind(&self) -> SourceKind;

    /// Where a lookup of `name` looks, for the "sources tried" list of a missing secret.
    fn describe(&self, name: &SecretName) -> String;

    /// Looks up `name`; `Ok(None)` when this source does not have it.
    fn lookup(&mut self, name: &SecretName) -> Result<Option<Found>, Error>;

    /// Resolves an exact reference of this source's scheme for secret `name`.
    fn fetch(&mut self, reference: &Reference, name: &SecretName) -> Result<Option<Found>, Error> {
        let _ = name;
        Err(Error::new(
            Kind::Config,
            format!("{} cannot serve reference {reference}", self.kind()),
        ))
    }

    /// Forgets what was read, so the next lookup reads the source again (live refresh). The
    /// default does nothing: sources that cache nothing have nothing to forget.
    fn invalidate(&mut self) {}

    /// Variables to inject whole into the program's environment; none by default.
    fn injected_env(&mut self) -> Result<Vec<Injected>, Error> {
        Ok(Vec::new())
    }

    /// Input files used up by this run, to be removed once the program has started; none by
    /// default.
    fn consumed_files(&mut self) -> Vec<std::path::PathBuf> {
        Vec::new()
    }
}

/// What one pass of the pipeline hands to the next (a live refresh).
#[derive(Default)]
pub struct Carry {
    /// The files secret-init published: outputs, never read back by the file source.
    pub written: std::collections::BTreeSet<PathBuf>,
    /// A bundle URL's last answer, for a conditional GET.
    pub bundle_url: bundle::UrlCache,
    /// The vault client, its token and the dynamic secrets issued (kept alive by a refresh).
    pub vault: vault::keep::Shared,
}

impl Carry {
    /// The carry of a live refresh: the vault's login and leases outlive each pass.
    pub fn live() -> Carry {
        Carry {
            vault: vault::keep::Keep::live(),
            ..Carry::default()
        }
    }
}

/// Every configured source, plus the precedence order to walk for secrets without a reference.
pub struct Sources {
    all: Vec<Box<dyn Source>>,
    order: Vec<SourceKind>,
}

impl Sources {
    /// Builds the configured sources. No I/O happens here. `carry`: what an earlier pass of the
    /// pipeline left for this one (a live refresh); empty at a start.
    pub fn build(
        settings: &Settings,
        manifest: &Manifest,
        env: &Environ,
        carry: &Carry,
    ) -> Result<Sources, Error> {
        let mut all: Vec<Box<dyn Source>> = vec![
            Box::new(
                file::FileSource::new(settings.secrets_dirs.clone(), settings.max_secret_bytes)
                    .skipping(&carry.written),
            ),
            Box::new(env::EnvSource::new(
                settings.env_prefix.clone(),
                env.clone(),
            )),
            Box::new(default::DefaultSource::new(manifest)),
        ];
        if let Some(b) = &settings.bundle {
            all.push(Box::new(
                bundle::BundleSource::new(b.clone(), env.clone()).with_url_cache(&carry.bundle_url),
            ));
        }
        if let Some(v) = &settings.vault {
            all.push(Box::new(
                vault::VaultSource::new(v.clone(), env.clone()).with_keep(&carry.vault),
            ));
        }
        // Always built (references need no settings); in the order only with prefixes.
        let aws = aws::AwsSource::new(settings.aws.clone(), env.clone(), settings.max_secret_bytes);
        let aws_in_order = aws.has_prefixes();
        all.push(Box::new(aws));
        let gcp = gcp::GcpSource::new(settings.gcp.clone(), env.clone(), settings.max_secret_bytes);
        let gcp_in_order = gcp.serves_names();
        all.push(Box::new(gcp));
        // Likewise: in the order only with secret_init.azure.vault.
        let azure = azure::AzureSource::new(
            settings.azure.clone(),
            env.clone(),
            settings.max_secret_bytes,
        );
        let azure_in_order = azure.has_vault();
        all.push(Box::new(azure));
        if let Some(path) = &settings.local_config {
            all.push(Box::new(local::LocalSource::new(path.clone())));
        }
        // Sources that are not configured are skipped in the order (a vault with no address).
        let order = settings
            .sources
            .iter()
            .copied()
            .filter(|k| all.iter().any(|s| s.kind() == *k))
            .filter(|k| *k != SourceKind::Aws || aws_in_order)
            .filter(|k| *k != SourceKind::Gcp || gcp_in_order)
            .filter(|k| *k != SourceKind::Azure || azure_in_order)
            .collect();
        Ok(Sources { all, order })
    }

    /// Builds from explicit parts (tests and embedders).
    pub fn from_parts(all: Vec<Box<dyn Source>>, order: Vec<SourceKind>) -> Sources {
        Sources { all, order }
    }

    /// The precedence order actually in use.
    pub fn order(&self) -> &[SourceKind] {
        &self.order
    }

    /// Every source's [`Source::consumed_files`].
    pub fn consumed_files(&mut self) -> Vec<std::path::PathBuf> {
        self.all
            .iter_mut()
            .flat_map(|s| s.consumed_files())
            .collect()
    }

    /// Every source's whole-environment injections, in source order (a later source's variable
    /// replaces an earlier one's).
    pub fn injected_env(&mut self) -> Result<Vec<Injected>, crate::error::Errors> {
        let mut out: Vec<Injected> = Vec::new();
        // Position of each variable in `out`: a whole vault injects thousands, so no linear scans.
        let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut errors = crate::error::Errors::default();
        for s in &mut self.all {
            match s.injected_env() {
                Ok(list) => {
                    for i in list {
                        match at.get(&i.var) {
                            Some(&k) => out[k] = i,
                            None => {
                                at.insert(i.var.clone(), out.len());
                                out.push(i);
                            }
                        }
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        errors.into_result().map(|()| out)
    }

    /// Makes every source read afresh on its next lookup (see [`Source::invalidate`]).
    pub fn invalidate(&mut self) {
        for s in &mut self.all {
            s.invalidate();
        }
    }

    /// The source of a kind, if configured.
    pub fn get(&mut self, kind: SourceKind) -> Option<&mut (dyn Source + 'static)> {
        self.all
            .iter_mut()
            .find(|s| s.kind() == kind)
            .map(|b| b.as_mut())
    }
}

//! The one table of sources, written out: for each [`SourceKind`], its section of
//! `secret_init:` ([`FileSections`], [`SourceSettings`]: merged from the command line, the env
//! twins, the file and the source's standard variables), how it is built for a pass
//! ([`SourceSettings::build`]) and how a live refresh notices a change
//! ([`SourceSettings::watching`]). Adding a source is its module, a [`SourceKind`] variant, and
//! one arm in each `match` here (docs/architecture.md, "How to add a source"); the compiler
//! finds every arm that is missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::age_keys::AgeKeys;
#[cfg(feature = "aws")]
use super::aws::{AwsSource, config::AwsSettings};
#[cfg(feature = "azure")]
use super::azure::{AzureSource, config::AzureSettings};
use super::bundle::{BundleSettings, BundleSource, Location, RawBundleSettings};
use super::default::DefaultSource;
use super::env::EnvSource;
use super::file::FileSource;
#[cfg(feature = "gcp")]
use super::gcp::{GcpSource, config::GcpSettings};
use super::local::{LocalSource, ReadLocal};
use super::section::Section;
use super::sops::{RawSopsSettings, SopsSettings, SopsSource};
#[cfg(feature = "vault")]
use super::vault::{VaultSource, config::VaultSettings};
use super::{Carry, Outputs, Source, SourceKind, Watching};
use crate::cli::Invocation;
use crate::environ::Environ;
use crate::error::{Error, Errors};
use crate::name::SecretName;
use crate::secret::Secret;

/// What sources read of the generic settings (not of their own section).
#[derive(Clone, Copy)]
pub struct Generic<'a> {
    /// The largest value a source accepts.
    pub max_secret_bytes: u64,
    /// The mounted secret directories (the file source).
    pub secrets_dirs: &'a [PathBuf],
    /// The prefix of env-var secrets (the env source).
    pub env_prefix: &'a str,
    /// The developer-machine config (the local source).
    pub local_config: Option<&'a Path>,
    /// Which files may be read as values (`provenance`); `None`: no rule beyond the sources'
    /// own (the listings of `check` and the status file, which read nothing).
    pub(crate) inputs: Option<&'a crate::provenance::Inputs>,
}

/// `secret_init.vault` as written (in a build without the source: refused when present).
#[cfg(feature = "vault")]
pub(crate) type VaultFile = super::vault::config::VaultFileSettings;
/// `secret_init.vault` as written (in a build without the source: refused when present).
#[cfg(not(feature = "vault"))]
pub(crate) type VaultFile = NotCompiled;
/// `secret_init.aws` as written.
#[cfg(feature = "aws")]
pub(crate) type AwsFile = super::aws::config::AwsFileSettings;
/// `secret_init.aws` as written.
#[cfg(not(feature = "aws"))]
pub(crate) type AwsFile = NotCompiled;
/// `secret_init.gcp` as written.
#[cfg(feature = "gcp")]
pub(crate) type GcpFile = super::gcp::config::GcpFileSettings;
/// `secret_init.gcp` as written.
#[cfg(not(feature = "gcp"))]
pub(crate) type GcpFile = NotCompiled;
/// `secret_init.azure` as written.
#[cfg(feature = "azure")]
pub(crate) type AzureFile = super::azure::config::AzureFileSettings;
/// `secret_init.azure` as written.
#[cfg(not(feature = "azure"))]
pub(crate) type AzureFile = NotCompiled;

/// The section of a source this build lacks: read as anything, refused when present (78),
/// naming the Cargo feature that brings the source.
#[cfg(not(all(feature = "vault", feature = "aws", feature = "gcp", feature = "azure")))]
#[derive(Debug, Default)]
pub struct NotCompiled;

#[cfg(not(all(feature = "vault", feature = "aws", feature = "gcp", feature = "azure")))]
impl<'de> serde::Deserialize<'de> for NotCompiled {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| NotCompiled)
    }
}

#[cfg(not(all(feature = "vault", feature = "aws", feature = "gcp", feature = "azure")))]
impl NotCompiled {
    /// Refuses the section: this build cannot use it.
    pub fn reject_unknown(&self, section: &str, src: &str, errors: &mut Errors) {
        let feature = section.trim_start_matches("secret_init.");
        errors.push(
            Error::new(
                crate::error::Kind::Config,
                format!(
                    "{section}: this secret-init is built without the {feature} source (Cargo feature `{feature}`)"
                ),
            )
            .with_source(src),
        );
    }
}

/// The `--vault-*` options and their env twins, refused by a build without the vault source.
#[cfg(not(feature = "vault"))]
fn refuse_vault_options(inv: &Invocation, env: &Environ) -> Result<(), Error> {
    let vault_options = crate::cli::OPTIONS
        .iter()
        .filter(|o| o.long.starts_with("vault-"))
        .map(|o| o.opt);
    for opt in vault_options {
        if let Some((_, origin)) = crate::cli::merge::pick(inv, env, opt) {
            return Err(Error::new(
                crate::error::Kind::Config,
                format!(
                    "{origin}: this secret-init is built without the vault source (Cargo feature `vault`)"
                ),
            ));
        }
    }
    Ok(())
}

/// The sources' own sections of `secret_init:` as written, borrowed from the manifest.
#[derive(Clone, Copy, Debug, Default)]
pub struct FileSections<'a> {
    /// `secret_init.vault`
    pub vault: Option<&'a VaultFile>,
    /// `secret_init.aws`
    pub aws: Option<&'a AwsFile>,
    /// `secret_init.gcp`
    pub gcp: Option<&'a GcpFile>,
    /// `secret_init.azure`
    pub azure: Option<&'a AzureFile>,
    /// `secret_init.bundles`
    pub bundle: Option<&'a RawBundleSettings>,
    /// `secret_init.sops`
    pub sops: Option<&'a RawSopsSettings>,
}

impl FileSections<'_> {
    /// Refuses the unknown keys of every section (78), in the table's order.
    pub fn reject_unknown(&self, src: &str, errors: &mut Errors) {
        if let Some(f) = self.vault {
            f.reject_unknown("secret_init.vault", src, errors);
        }
        if let Some(f) = self.aws {
            f.reject_unknown("secret_init.aws", src, errors);
        }
        if let Some(f) = self.gcp {
            f.reject_unknown("secret_init.gcp", src, errors);
        }
        if let Some(f) = self.azure {
            f.reject_unknown("secret_init.azure", src, errors);
        }
        if let Some(f) = self.bundle {
            f.reject_unknown("secret_init.bundles", src, errors);
        }
        if let Some(f) = self.sops {
            f.reject_unknown("secret_init.sops", src, errors);
        }
    }
}

/// Every sectioned source's merged settings (`None`: not configured).
#[derive(Clone, Debug)]
pub struct SourceSettings {
    /// `secret_init.vault` merged.
    #[cfg(feature = "vault")]
    pub vault: Option<VaultSettings>,
    /// `secret_init.aws` merged.
    #[cfg(feature = "aws")]
    pub aws: AwsSettings,
    /// `secret_init.gcp` merged.
    #[cfg(feature = "gcp")]
    pub gcp: GcpSettings,
    /// `secret_init.azure` merged.
    #[cfg(feature = "azure")]
    pub azure: AzureSettings,
    /// `secret_init.bundles` merged.
    pub bundle: Option<BundleSettings>,
    /// `secret_init.sops` merged (references need no settings: the source always exists).
    pub sops: SopsSettings,
}

/// A source built for a pass, and whether it takes part in the precedence order.
pub struct Built {
    /// The source.
    pub source: Box<dyn Source>,
    /// Whether lookups by name can find anything here (aws without prefixes serves references
    /// only; a source that is not configured is not built at all).
    pub in_order: bool,
}

impl SourceSettings {
    /// Merges every source's section with its options and environment, in the table's order;
    /// the first problem stops it. `config_dir`: the config file's directory, where relative
    /// paths of sections and references start.
    pub fn resolve(
        inv: &Invocation,
        env: &Environ,
        file: &FileSections<'_>,
        allow_insecure_http: bool,
        config_dir: Option<&Path>,
    ) -> Result<SourceSettings, Error> {
        #[cfg(not(feature = "vault"))]
        refuse_vault_options(inv, env)?;
        // Only the remote sources read it.
        let _ = allow_insecure_http;
        Ok(SourceSettings {
            #[cfg(feature = "vault")]
            vault: VaultSettings::resolve(inv, env, file.vault, allow_insecure_http)?,
            #[cfg(feature = "aws")]
            aws: AwsSettings::resolve(file.aws, allow_insecure_http)?,
            #[cfg(feature = "gcp")]
            gcp: GcpSettings::resolve(file.gcp, allow_insecure_http)?,
            #[cfg(feature = "azure")]
            azure: AzureSettings::resolve(file.azure, env, allow_insecure_http)?,
            bundle: BundleSettings::resolve(inv, env, file.bundle)?,
            sops: SopsSettings::resolve(file.sops, config_dir),
        })
    }

    /// Builds every configured source, in [`SourceKind::ALL`] order. No I/O.
    /// `defaults`: the manifest's default values; `read_local`: its YAML reader for the local
    /// config (handed down, so that this layer does not import the manifest).
    pub fn build(
        &self,
        generic: &Generic<'_>,
        env: &Environ,
        outputs: &Outputs,
        carry: &mut Carry,
        defaults: BTreeMap<SecretName, Secret>,
        read_local: ReadLocal,
    ) -> Vec<Built> {
        let mut defaults = Some(defaults);
        let max = generic.max_secret_bytes;
        // The cloud sources' credential chains read it.
        let _ = outputs;
        let mut all = Vec::new();
        for kind in SourceKind::ALL {
            let (source, in_order): (Box<dyn Source>, bool) = match kind {
                SourceKind::File => {
                    let mut s = FileSource::new(generic.secrets_dirs.to_vec(), max)
                        .with_age(AgeKeys::new(env.clone(), outputs.clone()));
                    if let Some(inputs) = generic.inputs {
                        s = s.judged_by(inputs);
                    }
                    (Box::new(s), true)
                }
                SourceKind::Env => (
                    Box::new(EnvSource::new(generic.env_prefix.to_string(), env.clone())),
                    true,
                ),
                #[cfg(feature = "vault")]
                SourceKind::Vault => match &self.vault {
                    Some(v) => {
                        let s = VaultSource::new(v.clone(), env.clone())
                            .with_keep(std::mem::take(&mut carry.vault));
                        (Box::new(s), true)
                    }
                    None => continue,
                },
                #[cfg(feature = "aws")]
                SourceKind::Aws => {
                    let s = AwsSource::new(self.aws.clone(), env.clone(), outputs.clone(), max)
                        .for_program(generic.inputs.and_then(|i| i.program()).cloned());
                    let in_order = s.serves_names();
                    (Box::new(s), in_order)
                }
                #[cfg(feature = "gcp")]
                SourceKind::Gcp => {
                    let s = GcpSource::new(self.gcp.clone(), env.clone(), outputs.clone(), max);
                    let in_order = s.serves_names();
                    (Box::new(s), in_order)
                }
                #[cfg(feature = "azure")]
                SourceKind::Azure => {
                    let s = AzureSource::new(self.azure.clone(), env.clone(), outputs.clone(), max);
                    let in_order = s.has_vault();
                    (Box::new(s), in_order)
                }
                SourceKind::Bundle => match &self.bundle {
                    Some(b) => {
                        let s = BundleSource::new(
                            b.clone(),
                            env.clone(),
                            self.kms(env, outputs, generic.inputs.and_then(|i| i.program())),
                        )
                        .with_url_cache(carry.bundle_url.take());
                        (Box::new(s), true)
                    }
                    None => continue,
                },
                SourceKind::Sops => {
                    let s = SopsSource::new(
                        self.sops.clone(),
                        env.clone(),
                        outputs.clone(),
                        generic.inputs,
                        self.kms(env, outputs, generic.inputs.and_then(|i| i.program())),
                    );
                    let in_order = s.serves_names();
                    (Box::new(s), in_order)
                }
                // A source this build lacks is never built: its references say so.
                #[cfg(not(feature = "vault"))]
                SourceKind::Vault => continue,
                #[cfg(not(feature = "aws"))]
                SourceKind::Aws => continue,
                #[cfg(not(feature = "gcp"))]
                SourceKind::Gcp => continue,
                #[cfg(not(feature = "azure"))]
                SourceKind::Azure => continue,
                SourceKind::Local => match generic.local_config {
                    Some(p) => (
                        Box::new(LocalSource::new(p.to_path_buf(), read_local)),
                        true,
                    ),
                    None => continue,
                },
                SourceKind::Default => (
                    Box::new(DefaultSource::new(defaults.take().unwrap_or_default())),
                    true,
                ),
            };
            all.push(Built { source, in_order });
        }
        all
    }

    /// The KMS clients under these settings (no I/O until a key is used): `env` is
    /// secret-init's own environment, `outputs` the files it delivers, `program` the program's
    /// user under `--user` (an AWS `credential_process` is judged against it).
    pub(crate) fn kms(
        &self,
        env: &Environ,
        outputs: &Outputs,
        program: Option<&crate::provenance::ProgramUser>,
    ) -> super::kms::KmsClients {
        let _ = program;
        super::kms::KmsClients::new(
            super::kms::KmsSettings {
                #[cfg(feature = "aws")]
                aws: self.aws.clone(),
                #[cfg(feature = "aws")]
                program: program.cloned(),
                #[cfg(feature = "gcp")]
                gcp: self.gcp.clone(),
                #[cfg(feature = "azure")]
                azure: self.azure.clone(),
                #[cfg(feature = "vault")]
                vault: self.vault.clone(),
            },
            env.clone(),
            outputs.clone(),
        )
    }

    /// How a live refresh notices a change of the source `kind`.
    pub fn watching(&self, kind: SourceKind, generic: &Generic<'_>) -> Vec<Watching> {
        #[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
        let poll = |what| {
            vec![Watching::Poll {
                label: kind.name().into(),
                what,
            }]
        };
        match kind {
            SourceKind::File => generic
                .secrets_dirs
                .iter()
                .map(|d| Watching::Dir {
                    label: format!("file:{}", d.display()),
                    path: d.clone(),
                })
                .collect(),
            SourceKind::Env => vec![Watching::Fixed {
                label: "env".into(),
                why: "an environment cannot change",
            }],
            #[cfg(feature = "vault")]
            SourceKind::Vault => self
                .vault
                .iter()
                .map(|v| Watching::Poll {
                    label: format!("vault:{}", crate::url::redact_url(&v.address)),
                    what: "KV data paths; a new version shows a change",
                })
                .collect(),
            #[cfg(feature = "aws")]
            SourceKind::Aws => poll("Secrets Manager and Parameter Store reads"),
            #[cfg(feature = "gcp")]
            SourceKind::Gcp => poll("Secret Manager version reads"),
            #[cfg(feature = "azure")]
            SourceKind::Azure => poll("Key Vault secret reads"),
            #[cfg(not(feature = "vault"))]
            SourceKind::Vault => Vec::new(),
            #[cfg(not(feature = "aws"))]
            SourceKind::Aws => Vec::new(),
            #[cfg(not(feature = "gcp"))]
            SourceKind::Gcp => Vec::new(),
            #[cfg(not(feature = "azure"))]
            SourceKind::Azure => Vec::new(),
            SourceKind::Bundle => self
                .bundle
                .iter()
                .map(|b| match &b.location {
                    Location::File(p) => Watching::File {
                        label: format!("bundle:{}", p.display()),
                        path: p.clone(),
                        only_if_present: false,
                    },
                    Location::Url(u) => Watching::Poll {
                        label: format!("bundle:{}", crate::url::redact_url(u)),
                        what: "conditional GET: If-None-Match with its ETag",
                    },
                })
                .collect(),
            SourceKind::Sops => self
                .sops
                .files
                .iter()
                .map(|p| Watching::File {
                    label: format!("sops:{}", p.display()),
                    path: p.clone(),
                    only_if_present: false,
                })
                .collect(),
            SourceKind::Local => generic
                .local_config
                .map(|p| Watching::File {
                    label: format!("local:{}", p.display()),
                    path: p.to_path_buf(),
                    only_if_present: true,
                })
                .into_iter()
                .collect(),
            SourceKind::Default => vec![Watching::Fixed {
                label: "default".into(),
                why: "config.yaml is read once",
            }],
        }
    }
}

#[cfg(all(test, feature = "vault", feature = "aws"))]
mod tests {
    use super::*;

    #[test]
    fn sections_refuse_unknown_keys_in_registry_order() {
        let vault: VaultFile =
            serde_saphyr::from_str("valut: x\nauth: {secret_id: y}\n").expect("yaml");
        let aws: AwsFile = serde_saphyr::from_str("regoin: x\n").expect("yaml");
        let bundle: RawBundleSettings = serde_saphyr::from_str("vault: x\n").expect("yaml");
        let sections = FileSections {
            vault: Some(&vault),
            aws: Some(&aws),
            bundle: Some(&bundle),
            ..FileSections::default()
        };
        let mut errors = Errors::default();
        sections.reject_unknown("c.yaml", &mut errors);
        let text = format!("{:?}", errors.into_result().expect_err("unknown keys"));
        let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("{s} in {text}"));
        assert!(
            at("secret_init.vault: unknown setting \\\"valut\\\"") < at("secret_init.vault.auth")
        );
        assert!(at("secret_init.vault.auth") < at("secret_init.aws"));
        assert!(at("secret_init.aws") < at("secret_init.bundles: unknown setting"));
    }

    #[test]
    fn what_a_refresh_watches() {
        let dirs = [PathBuf::from("/secrets")];
        let generic = Generic {
            max_secret_bytes: 1,
            secrets_dirs: &dirs,
            env_prefix: "P_",
            local_config: None,
            inputs: None,
        };
        let inv = crate::cli::parse(["check".into()]).expect("argv");
        let s = SourceSettings::resolve(
            &inv,
            &Environ::default(),
            &FileSections::default(),
            false,
            None,
        )
        .expect("defaults");
        assert!(s.vault.is_none() && s.bundle.is_none());
        assert_eq!(
            s.watching(SourceKind::File, &generic),
            [Watching::Dir {
                label: "file:/secrets".into(),
                path: dirs[0].clone()
            }]
        );
        assert!(s.watching(SourceKind::Vault, &generic).is_empty());
        assert!(s.watching(SourceKind::Local, &generic).is_empty());
        assert!(matches!(
            &s.watching(SourceKind::Aws, &generic)[..],
            [Watching::Poll { label, .. }] if label == "aws"
        ));
        assert!(matches!(
            &s.watching(SourceKind::Env, &generic)[..],
            [Watching::Fixed { .. }]
        ));
    }
}

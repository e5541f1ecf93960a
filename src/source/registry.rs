//! The one table of sources. Each row names a source kind, its names in `sources:` and
//! `--sources`, the type that implements it, its `secret_init.KEY:` section (if it has one) and
//! the references it serves (if any). From the table the [`sources!`] macro generates
//! [`SourceKind`] (parse, name, `Display`, [`SourceKind::of`] a reference), the manifest's
//! per-source sections (fields declared by [`with_source_sections!`], read as
//! [`FileSections`], unknown keys refused), the merged per-source settings
//! ([`SourceSettings`]) and the build and watch dispatch. Adding a source is its module and one
//! row here (docs/architecture.md, "How to add a source").
//!
//! The row order is the default precedence order, the order of the "unknown source" list and
//! the order the sources are built in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::section::Section;
use super::{Carry, Source, aws, azure, bundle, default, env, file, gcp, local, vault};
use crate::cli::Invocation;
use crate::environ::Environ;
use crate::error::{Error, Errors};
use crate::name::SecretName;
use crate::reference::Reference;
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
}

/// What building a source may use: the generic settings, the start-time environment, what an
/// earlier pass left, and what the manifest hands down (without this layer importing it).
pub struct BuildCtx<'a> {
    /// The generic settings sources read.
    pub generic: Generic<'a>,
    /// The start-time environment.
    pub env: &'a Environ,
    /// What an earlier pass of the pipeline left for this one (a live refresh).
    pub carry: &'a Carry,
    /// The manifest's default values (taken by the `default` source).
    pub defaults: BTreeMap<SecretName, Secret>,
    /// The manifest's YAML reader, for the local config.
    pub read_local: local::ReadLocal,
    /// Which files may be inputs (`provenance`).
    pub(crate) inputs: &'a crate::provenance::Inputs,
}

/// How a live refresh notices that a source changed (`check` and the status file show it).
#[derive(Debug, PartialEq, Eq)]
pub enum Watching {
    /// A directory, watched whole (inotify, else polled) when it exists.
    Dir {
        /// `file:/secrets`.
        label: String,
        /// The directory.
        path: PathBuf,
    },
    /// One file, watched through its directory.
    File {
        /// `bundle:/etc/app.bundle`.
        label: String,
        /// The file.
        path: PathBuf,
        /// Watched only when the file exists at start (a missing local config is no source).
        only_if_present: bool,
    },
    /// Re-read every refresh interval.
    Poll {
        /// `vault:https://…`.
        label: String,
        /// What is re-read, shown after the interval: `KV data paths; a new version shows a
        /// change`.
        what: &'static str,
    },
    /// Cannot change while the program runs.
    Fixed {
        /// `env`.
        label: String,
        /// Why: `an environment cannot change`.
        why: &'static str,
    },
}

/// A source type the registry can build. No I/O in `build`.
pub trait Registered: Source + Sized + 'static {
    /// Its merged settings (`()` for a source with no section of its own).
    type Settings: Clone + std::fmt::Debug;

    /// The source for `settings`, or `None` when it is not configured (a vault with no
    /// address): then it is skipped in the order and its references are refused.
    fn build(settings: &Self::Settings, ctx: &mut BuildCtx<'_>) -> Option<Self>;

    /// Whether lookups by name can find anything here, so that it takes part in the order
    /// (aws without prefixes serves references only).
    fn in_order(&self) -> bool {
        true
    }

    /// How a live refresh notices a change of this source.
    fn watching(settings: &Self::Settings, generic: &Generic<'_>) -> Vec<Watching>;
}

/// A source with a `secret_init.KEY:` section of its own.
pub trait Configured: Registered {
    /// The section as written in config.yaml.
    type File: Section;

    /// Merges the command line, the env twins, the section and the source's standard
    /// environment (command line > env twin > file > standard variable > default).
    fn resolve(
        inv: &Invocation,
        env: &Environ,
        file: Option<&Self::File>,
        allow_insecure_http: bool,
    ) -> Result<Self::Settings, Error>;
}

/// A source built by the registry, and whether it takes part in the order.
pub struct Built {
    /// The source.
    pub source: Box<dyn Source>,
    /// [`Registered::in_order`].
    pub in_order: bool,
}

fn push<T: Registered>(all: &mut Vec<Built>, settings: &T::Settings, ctx: &mut BuildCtx<'_>) {
    if let Some(s) = T::build(settings, ctx) {
        let in_order = s.in_order();
        all.push(Built {
            source: Box::new(s),
            in_order,
        });
    }
}

/// Generates the registry from its rows (see the module docs). A row:
/// `/// doc` `Kind "name" | "alias" => module::Type` and, for a source with a section,
/// `, section field "yaml_key"`, and for one with references, `, serves(PATTERN)`.
macro_rules! sources {
    (@settings $s:ident $field:ident) => { &$s.$field };
    (@settings $s:ident) => { &() };
    (@sections_macro ($d:tt) $([$kind:ident $field:ident $key:literal $ty:ty])*) => {
        /// Each source section's type as written, named by its kind.
        pub(crate) mod section_file {
            use super::*;
            $(
                #[doc = concat!("`secret_init.", $key, "` as written.")]
                pub(crate) type $kind = <$ty as Configured>::File;
            )*
        }

        /// Declares the struct it is given (the manifest's `secret_init:` as written) with one
        /// more field per source section, `secret_init.KEY` as `Option<File>`, and
        /// `sections()` to hand them to the registry. Plain fields, not a flattened struct:
        /// serde's flatten buffers every key and costs 16 KB of code.
        macro_rules! with_source_sections {
            (
                $d(#[$d m:meta])*
                pub struct $d name:ident { $d($d body:tt)* }
            ) => {
                crate::source::section::raw_section! {
                    $d(#[$d m])*
                    pub struct $d name {
                        $d($d body)*
                    }
                    renamed {
                        $(
                            #[doc = concat!("`secret_init.", $key, "` as written.")]
                            pub $field: Option<crate::source::registry::section_file::$kind> = $key,
                        )*
                    }
                }

                impl $d name {
                    /// Every source's section, for the registry.
                    pub fn sections(&self) -> crate::source::registry::FileSections<'_> {
                        crate::source::registry::FileSections {
                            $($field: self.$field.as_ref(),)*
                        }
                    }
                }
            };
        }
        pub(crate) use with_source_sections;
    };
    ($(
        $(#[$doc:meta])*
        $kind:ident $name:literal $(| $alias:literal)* => $ty:ty
        $(, section $field:ident $key:literal)?
        $(, serves($refs:pat))?
    ;)*) => {
        /// The kinds of source, as named in `sources:` and `--sources`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum SourceKind {
            $($(#[$doc])* $kind,)*
        }

        impl SourceKind {
            /// Every kind, in the default precedence order.
            pub const ALL: &'static [SourceKind] = &[$(SourceKind::$kind),*];

            /// Parses a source name.
            pub fn parse(s: &str) -> Option<SourceKind> {
                Some(match s {
                    $($name $(| $alias)* => SourceKind::$kind,)*
                    _ => return None,
                })
            }

            /// The name used in settings and messages.
            pub fn name(self) -> &'static str {
                match self {
                    $(SourceKind::$kind => $name,)*
                }
            }

            /// The source kind that serves an exact reference.
            pub fn of(reference: &Reference) -> SourceKind {
                match reference {
                    $($($refs => SourceKind::$kind,)?)*
                }
            }
        }

        /// The sources' own sections of `secret_init:` as written, borrowed from the
        /// manifest's struct (whose fields [`with_source_sections!`] declares).
        #[derive(Clone, Copy, Debug, Default)]
        pub struct FileSections<'a> {
            $($(
                #[doc = concat!("`secret_init.", $key, "`")]
                pub $field: Option<&'a <$ty as Configured>::File>,
            )?)*
        }

        impl FileSections<'_> {
            /// Refuses the unknown keys of every section (78), in registry order.
            pub fn reject_unknown(&self, src: &str, errors: &mut Errors) {
                $($(
                    if let Some(f) = self.$field {
                        f.reject_unknown(concat!("secret_init.", $key), src, errors);
                    }
                )?)*
            }
        }

        sources! { @sections_macro ($) $($([$kind $field $key $ty])?)* }

        /// Every sectioned source's merged settings.
        #[derive(Clone, Debug)]
        pub struct SourceSettings {
            $($(
                #[doc = concat!("`secret_init.", $key, "` merged.")]
                pub $field: <$ty as Registered>::Settings,
            )?)*
        }

        impl SourceSettings {
            /// Merges every source's section with its options and environment, in registry
            /// order; the first problem stops it.
            pub fn resolve(
                inv: &Invocation,
                env: &Environ,
                file: &FileSections<'_>,
                allow_insecure_http: bool,
            ) -> Result<SourceSettings, Error> {
                Ok(SourceSettings {
                    $($(
                        $field: <$ty as Configured>::resolve(
                            inv,
                            env,
                            file.$field,
                            allow_insecure_http,
                        )?,
                    )?)*
                })
            }

            /// Builds every configured source, in registry order. No I/O.
            pub fn build(&self, ctx: &mut BuildCtx<'_>) -> Vec<Built> {
                let mut all = Vec::new();
                $(push::<$ty>(&mut all, sources!(@settings self $($field)?), ctx);)*
                all
            }

            /// How a live refresh notices a change of the source `kind`.
            pub fn watching(&self, kind: SourceKind, generic: &Generic<'_>) -> Vec<Watching> {
                match kind {
                    $(SourceKind::$kind => {
                        <$ty as Registered>::watching(sources!(@settings self $($field)?), generic)
                    })*
                }
            }
        }
    };
}

sources! {
    /// Mounted files: `<secrets_dir>/<name>`.
    File "file" | "files" => file::FileSource, serves(Reference::File(_));
    /// Environment variables: `<prefix><name>`.
    Env "env" => env::EnvSource, serves(Reference::Env(_));
    /// HashiCorp Vault / OpenBao KV.
    Vault "vault" => vault::VaultSource, section vault "vault", serves(Reference::Vault { .. });
    /// AWS Secrets Manager and Parameter Store.
    Aws "aws" => aws::AwsSource, section aws "aws", serves(Reference::Aws(_));
    /// GCP Secret Manager.
    Gcp "gcp" => gcp::GcpSource, section gcp "gcp", serves(Reference::Gcp(_));
    /// Azure Key Vault.
    Azure "azure" => azure::AzureSource, section azure "azure", serves(Reference::Azure(_));
    /// Encrypted vault bundles.
    Bundle "bundle" => bundle::BundleSource, section bundle "bundles", serves(Reference::Bundle { .. });
    /// The developer-machine config (`~/.truss/config.yaml`).
    Local "local" => local::LocalSource;
    /// The manifest's own default value.
    Default "default" => default::DefaultSource;
}

impl SourceKind {
    /// The names of every kind, for messages: `file, env, vault, …`.
    pub fn names() -> String {
        SourceKind::ALL
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in SourceKind::ALL {
            assert_eq!(SourceKind::parse(k.name()), Some(*k));
        }
        assert_eq!(SourceKind::parse("files"), Some(SourceKind::File));
        assert_eq!(
            SourceKind::names(),
            "file, env, vault, aws, gcp, azure, bundle, local, default"
        );
    }

    #[test]
    fn every_reference_reaches_the_kind_of_its_row() {
        for (r, kind) in [
            ("file:/run/secrets/db", SourceKind::File),
            ("env:DB", SourceKind::Env),
            ("vault:secret/data/app#db", SourceKind::Vault),
            ("aws-sm:app/db", SourceKind::Aws),
            ("gcp:secretmanager:projects/p/secrets/s", SourceKind::Gcp),
            ("azure-kv:kv1/db", SourceKind::Azure),
            ("bundle:shared#db", SourceKind::Bundle),
        ] {
            let parsed = Reference::parse(r).unwrap_or_else(|e| panic!("{r}: {e}"));
            assert_eq!(SourceKind::of(&parsed), kind, "{r}");
        }
    }

    #[test]
    fn sections_refuse_unknown_keys_in_registry_order() {
        let vault: <vault::VaultSource as Configured>::File =
            serde_saphyr::from_str("valut: x\nauth: {secret_id: y}\n").expect("yaml");
        let aws: <aws::AwsSource as Configured>::File =
            serde_saphyr::from_str("regoin: x\n").expect("yaml");
        let bundle: <bundle::BundleSource as Configured>::File =
            serde_saphyr::from_str("vault: x\n").expect("yaml");
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
        };
        let inv = crate::cli::parse(["check".into()]).expect("argv");
        let s = SourceSettings::resolve(&inv, &Environ::default(), &FileSections::default(), false)
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

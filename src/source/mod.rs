//! Sources: where a secret's value can come from, each behind the one [`Source`] trait.
//!
//! A source never does I/O when it is built; it opens its directory, reads its file or contacts
//! its server on the first lookup that reaches it, so a secret found in a higher-precedence source
//! costs nothing elsewhere. Lookups return `Ok(None)` for "not here" and `Err` only for problems
//! that must stop the start (a link escaping the secrets dir, a FIFO, a bad permission).

mod age_keys;
#[cfg(feature = "aws")]
pub(crate) mod aws;
#[cfg(feature = "azure")]
pub(crate) mod azure;
pub(crate) mod bundle;
pub(crate) mod default;
pub(crate) mod env;
pub(crate) mod file;
#[cfg(feature = "gcp")]
pub(crate) mod gcp;
pub(crate) mod kind;
pub(crate) mod kms;
pub(crate) mod local;
pub(crate) mod offline;
pub(crate) mod registry;
#[cfg(any(feature = "vault", feature = "aws", feature = "gcp", feature = "azure"))]
mod remote;
pub(crate) mod section;
pub(crate) mod sops;
#[cfg(any(feature = "vault", feature = "aws", feature = "gcp", feature = "azure"))]
pub(crate) mod transport;
#[cfg(feature = "vault")]
pub(crate) mod vault;

use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, Kind};
use crate::name::SecretName;
use crate::reference::Reference;
use crate::secret::Secret;
pub(crate) use kind::SourceKind;

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
    /// The source's version of the value, where it has one (a KV v2 version, a Secrets Manager
    /// `VersionId`, a Parameter Store, Secret Manager or Key Vault version), for the refresh
    /// change log and the audit trail.
    pub version: Option<String>,
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
        Err(not_mine(self.kind(), reference))
    }

    /// When credentials this source obtained expire (Unix seconds), so a long-lived supervisor
    /// can refresh before then; `None` (the default) when nothing it holds expires.
    fn credentials_expire_at(&self) -> Option<u64> {
        None
    }

    /// Told, before any fetch, every exact reference of this source's scheme the run will
    /// fetch, so it can read them in batches; the default reads each on its own.
    fn prefetch(&mut self, references: &[&Reference]) {
        let _ = references;
    }

    /// Variables to inject whole into the program's environment; none by default.
    fn injected_env(&mut self) -> Result<Vec<Injected>, Error> {
        Ok(Vec::new())
    }

    /// Hands what it keeps for the next pass (a login, a URL's last answer) back to `carry`
    /// at the end of this one; nothing by default.
    fn hand_back(&mut self, carry: &mut Carry) {
        let _ = carry;
    }

    /// Input files used up by this run, to be removed once the program has started; none by
    /// default.
    fn consumed_files(&mut self) -> Vec<std::path::PathBuf> {
        Vec::new()
    }
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

/// The files secret-init delivers (the providers' destinations, and every file a pass wrote):
/// outputs, never read back as secret-init's own credentials. A credential chain treats a
/// default location that is one of them as absent, and refuses one named on purpose.
#[derive(Clone, Debug, Default)]
pub struct Outputs(Vec<PathBuf>);

impl Outputs {
    /// The outputs at these paths.
    pub fn new(paths: impl IntoIterator<Item = PathBuf>) -> Outputs {
        Outputs(paths.into_iter().collect())
    }

    /// Whether `path` is one of them: the same path once spelled alike (`//x`, `/./x`), or the
    /// same file (device and inode, links followed) when both exist.
    pub fn contains(&self, path: &std::path::Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        if self.0.is_empty() {
            // Nothing delivered to compare with: no stat (the usual start, no provider files).
            return false;
        }
        let spelled: PathBuf = path.components().collect();
        let file = std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
        self.0.iter().any(|o| {
            o.components().collect::<PathBuf>() == spelled
                || file.is_some_and(|f| std::fs::metadata(o).is_ok_and(|m| (m.dev(), m.ino()) == f))
        })
    }

    /// Refuses `path`, named on purpose by `what`, when it is one of them: 78.
    pub fn refuse(&self, path: &std::path::Path, what: &str) -> Result<(), Error> {
        if self.contains(path) {
            return Err(Error::new(
                Kind::Config,
                format!(
                    "{what} {} is a file secret-init delivers to the program; secret-init's own credentials never come from its outputs",
                    path.display()
                ),
            ));
        }
        Ok(())
    }
}

/// What one pass of the pipeline hands to the next (a live refresh).
#[derive(Default)]
pub struct Carry {
    /// The files secret-init published (for `--cleanup`).
    pub written: std::collections::BTreeSet<PathBuf>,
    /// Their devices, inodes and mtimes: outputs, never read back as inputs (`provenance`).
    pub(crate) written_ids: std::collections::HashSet<crate::provenance::FileId>,
    /// A bundle URL's last answer, for a conditional GET.
    pub bundle_url: bundle::UrlCache,
    /// The vault client, its token and the dynamic secrets issued (kept alive by a refresh).
    #[cfg(feature = "vault")]
    pub vault: vault::keep::Keep,
}

impl Carry {
    /// The carry of a live refresh: the vault's login and leases outlive each pass.
    pub fn live() -> Carry {
        #[cfg(feature = "vault")]
        return Carry {
            vault: vault::keep::Keep::live(),
            ..Carry::default()
        };
        #[cfg(not(feature = "vault"))]
        Carry::default()
    }

    /// The program is about to start: what the vault issued for it is the program's now, no
    /// longer revoked when the carry is dropped (see `vault::keep`).
    pub fn hand_over(&mut self) {
        #[cfg(feature = "vault")]
        self.vault.hand_over();
    }

    /// Just before an exec: what must not outlive secret-init (see `vault::keep`) is settled.
    pub fn before_exec(&mut self) {
        #[cfg(feature = "vault")]
        self.vault.before_exec();
    }
}

/// `KIND cannot serve REFERENCE`: a reference of another scheme reached a source (a bug: the
/// registry dispatches each reference to the kind that serves it).
pub(crate) fn not_mine(kind: SourceKind, reference: &Reference) -> Error {
    Error::new(Kind::Config, format!("{kind} cannot serve {reference}"))
}

#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
/// Key `key` of the JSON object `v`: a string as its text, other values as JSON, `null` or
/// absent as `None`. Never quotes the value in the error. The one `#KEY` picker of every source
/// whose references take a `#KEY` (aws, gcp, azure).
pub(crate) fn pick_key(v: &Secret, key: &str) -> Result<Option<Secret>, String> {
    let Ok(serde_json::Value::Object(mut o)) = serde_json::from_slice(v.expose()) else {
        return Err("a #KEY was given but the value is not a JSON object".into());
    };
    Ok(match o.remove(key) {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(Secret::new(s.into_bytes())),
        Some(other) => Some(Secret::new(other.to_string().into_bytes())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_match_by_spelling_and_by_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let out = dir.path().join("credentials");
        std::fs::write(&out, "x").expect("write");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&out, &link).expect("symlink");
        let outputs = Outputs::new([out.clone(), dir.path().join("later")]);
        let spelled = PathBuf::from(format!("{}//./credentials", dir.path().display()));
        assert!(outputs.contains(&out) && outputs.contains(&spelled));
        assert!(outputs.contains(&link), "the same file by another name");
        assert!(
            outputs.contains(&dir.path().join("later")),
            "not written yet"
        );
        assert!(!outputs.contains(&dir.path().join("other")));
        let e = outputs.refuse(&link, "X").expect_err("refused");
        assert_eq!(e.exit_code(), 78);
        assert!(outputs.refuse(&dir.path().join("other"), "X").is_ok());
    }

    #[test]
    #[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
    fn json_keys() {
        let v = Secret::new(br#"{"user":"u","port":5432,"n":null}"#.to_vec());
        assert_eq!(
            pick_key(&v, "user").expect("ok").expect("some").expose(),
            b"u"
        );
        assert_eq!(
            pick_key(&v, "port").expect("ok").expect("some").expose(),
            b"5432"
        );
        assert!(pick_key(&v, "n").expect("ok").is_none());
        assert!(pick_key(&v, "x").expect("ok").is_none());
        let e = pick_key(&Secret::new(b"canary-plain".to_vec()), "k").expect_err("not json");
        assert!(!e.contains("canary"));
    }
}

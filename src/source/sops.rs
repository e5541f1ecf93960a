//! The `sops` source: SOPS-encrypted files (`src/sops/`) and age files (`src/age/`), decrypted
//! in-process with the keys sops itself would use.
//!
//! - `secret_init.sops.files: [FILE, ...]` makes every top-level key of those files a candidate
//!   for the declared secrets, in the source order (what `sops exec-env` exports); the first file
//!   that has the name wins. Every listed file is opened, and its MAC checked, on the first
//!   lookup that reaches this source, so a tampered file stops the start even if no secret asks
//!   for it.
//! - `from: "sops:FILE#a.b[0]"` takes one value (a map or list as JSON); without `#PATH`, the
//!   whole decrypted file. `from: "age:FILE"` decrypts a whole age file.
//!
//! A relative `FILE` is relative to the config file's directory, as a GitOps checkout has it.
//! Files are read as inputs (`provenance`): never a file secret-init delivered or one of its
//! credentials. Age identities come from sops' own places, in secret-init's own environment:
//! `SOPS_AGE_KEY` (identities separated by blanks or lines), the file `SOPS_AGE_KEY_FILE`, and the
//! keys file `$XDG_CONFIG_HOME/sops/age/keys.txt` (else `~/.config/sops/age/keys.txt`), all of them
//! together. They are secret-init's own credentials: scrubbed from the program's environment,
//! refused as references. Each data key is decrypted once a pass, whatever the number of values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::age_keys::{AgeKeys, NO_IDENTITY};
use super::file::read_input;
use super::kms::{self, KmsClients, KmsKey};
use super::{Found, Origin, Outputs, Source, SourceKind, not_mine};
use crate::age::{self, Identity};
use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::name::SecretName;
use crate::provenance::Inputs;
use crate::reference::Reference;
use crate::reference::sops::Step;
use crate::secret::Secret;
use crate::sops::meta::MasterKey;
use crate::sops::{self as format, Decrypted, Encrypted, Format};

crate::source::section::raw_section! {
    /// `secret_init.sops` as written.
    pub struct RawSopsSettings {
        /// SOPS files whose top-level keys are candidates for the declared secrets.
        pub files: Option<Vec<PathBuf>>,
    }
}

crate::source::section::section!(RawSopsSettings);

/// `secret_init.sops` merged, relative paths resolved.
#[derive(Clone, Debug, Default)]
pub struct SopsSettings {
    /// The files whose top-level keys are candidates, in order.
    pub files: Vec<PathBuf>,
    /// The config file's directory: relative `sops:`/`age:` paths start there.
    pub base: Option<PathBuf>,
}

impl SopsSettings {
    /// The section, with relative paths taken from `config_dir` (the config file's directory).
    pub fn resolve(file: Option<&RawSopsSettings>, config_dir: Option<&Path>) -> SopsSettings {
        let base = config_dir.map(Path::to_path_buf);
        let at = |p: &PathBuf| match &base {
            Some(b) if p.is_relative() => b.join(p),
            _ => p.clone(),
        };
        SopsSettings {
            files: file
                .and_then(|f| f.files.as_ref())
                .map(|v| v.iter().map(at).collect())
                .unwrap_or_default(),
            base,
        }
    }

    /// `path` as read: relative to the config file's directory.
    pub(crate) fn locate(&self, path: &Path) -> PathBuf {
        match &self.base {
            Some(b) if path.is_relative() => b.join(path),
            _ => path.to_path_buf(),
        }
    }
}

/// A file opened: its values, or the kind of the failure already reported.
type Opened = Result<Decrypted, Kind>;

/// Reads SOPS and age files.
pub(crate) struct SopsSource {
    settings: SopsSettings,
    inputs: Inputs,
    age: AgeKeys,
    kms: KmsClients,
    opened: BTreeMap<PathBuf, Opened>,
    /// Once every file of `settings.files` is opened and verified, their labels: lookups then
    /// only read them.
    listed: Option<Vec<String>>,
}

fn label(path: &Path) -> String {
    format!("sops:{}", path.display())
}

impl SopsSource {
    /// A source over `settings` (nothing read yet); `env` is secret-init's own environment (the
    /// age keys), `outputs` the files it delivers (never read as its keys), `inputs` which files
    /// may be read as values, `kms` the KMS clients (nothing contacted until a key is used).
    pub(crate) fn new(
        settings: SopsSettings,
        env: Environ,
        outputs: Outputs,
        inputs: Option<&Inputs>,
        kms: KmsClients,
    ) -> Self {
        SopsSource {
            settings,
            inputs: inputs.cloned().unwrap_or_default(),
            age: AgeKeys::new(env, outputs),
            kms,
            opened: BTreeMap::new(),
            listed: None,
        }
    }

    /// Whether lookups by name can find anything here.
    pub(crate) fn serves_names(&self) -> bool {
        !self.settings.files.is_empty()
    }

    /// The bytes of the file at `path` (already located), under `src`.
    fn read(&self, path: &Path, src: &str) -> Result<Secret, Error> {
        read_input(path, &self.inputs, format::MAX_FILE_BYTES, src)?.ok_or_else(|| {
            Error::new(Kind::Unavailable, "no such file").with_source(src.to_string())
        })
    }

    /// The file at `path` (located), opened and verified on first use.
    fn open(&mut self, path: &Path) -> Result<&Decrypted, Error> {
        if !self.opened.contains_key(path) {
            let src = label(path);
            match self.decrypt(path, &src) {
                Ok(d) => {
                    crate::log::debug!("{src}: data key and MAC verified");
                    self.opened.insert(path.to_path_buf(), Ok(d));
                }
                Err(e) => {
                    // The full reason goes to this lookup; later ones say it was reported.
                    self.opened.insert(path.to_path_buf(), Err(e.kind));
                    return Err(e);
                }
            }
        }
        self.opened_file(path)
    }

    /// The file at `path` as [`SopsSource::open`] left it.
    fn opened_file(&self, path: &Path) -> Result<&Decrypted, Error> {
        match self.opened.get(path) {
            Some(Ok(d)) => Ok(d),
            Some(Err(kind)) => Err(Error::new(
                *kind,
                "the file did not open (reason reported above)",
            )
            .with_source(label(path))),
            None => Err(Error::new(Kind::Data, "sops state lost").with_source(label(path))),
        }
    }

    fn decrypt(&mut self, path: &Path, src: &str) -> Result<Decrypted, Error> {
        let bytes = self.read(path, src)?;
        let file = Encrypted::parse(bytes.expose(), Format::of(path))
            .map_err(|why| Error::new(Kind::Data, why).with_source(src))?;
        let wants_age = file
            .meta
            .groups
            .iter()
            .flatten()
            .any(|k| matches!(k, MasterKey::Age { .. }));
        let ids: &[Identity] = if wants_age {
            self.age.get().map_err(|e| e.with_source(src))?
        } else {
            &[]
        };
        let kms = &self.kms;
        file.open(|key| open_master_key(key, ids, kms))
            .map_err(|e| e.with_source(src))
    }

    fn found(value: Secret, label: String, path: &Path) -> Found {
        Found {
            value,
            origin: Origin {
                kind: SourceKind::Sops,
                label,
                path: Some(path.to_path_buf()),
                version: None,
            },
        }
    }
}

/// One master key's copy of the data key (or share), with the identities and KMS clients at
/// hand. A KMS key's copy is unwrapped by the KMS (`source::kms`): once a pass per key and copy.
fn open_master_key(
    key: &MasterKey,
    ids: &[Identity],
    with: &KmsClients,
) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let b64 = |s: &str, engine: &dyn Fn(&str) -> Result<Vec<u8>, base64::DecodeError>| {
        engine(s.trim()).map_err(|_| Error::new(Kind::Data, "its encrypted data key is not base64"))
    };
    let std = |s: &str| STANDARD.decode(s);
    let (kms_key, wrapped) = match key {
        MasterKey::Age { recipient, enc } => {
            if ids.is_empty() {
                return Err(Error::new(Kind::Config, NO_IDENTITY));
            }
            return age::decrypt_for(enc.as_bytes(), ids, Some(recipient))
                .map_err(|e| Error::new(Kind::Data, e.to_string()));
        }
        MasterKey::Aws {
            arn,
            role,
            context,
            profile,
            enc,
        } => (
            KmsKey::Aws {
                arn: arn.clone(),
                context: context.clone(),
                role: role.clone(),
                profile: profile.clone(),
            },
            b64(enc, &std)?,
        ),
        MasterKey::Gcp { resource_id, enc } => (
            KmsKey::Gcp {
                resource_id: resource_id.clone(),
            },
            b64(enc, &std)?,
        ),
        MasterKey::Azure {
            vault_url,
            name,
            version,
            enc,
        } => (
            KmsKey::Azure {
                vault_url: vault_url.trim_end_matches('/').to_string(),
                name: name.clone(),
                version: version.clone(),
            },
            b64(enc, &|s: &str| {
                URL_SAFE_NO_PAD.decode(s.trim_end_matches('='))
            })?,
        ),
        MasterKey::Transit {
            address,
            engine_path,
            key_name,
            enc,
        } => (
            KmsKey::Transit {
                address: Some(address.clone()),
                mount: engine_path.trim_matches('/').to_string(),
                key_name: key_name.clone(),
            },
            enc.trim().as_bytes().to_vec(),
        ),
        MasterKey::Unsupported(kind) => {
            return Err(Error::new(
                Kind::Config,
                format!("{kind} master keys are not supported by secret-init (docs/sops.md)"),
            ));
        }
    };
    // The error names the key already (its source is the key's label); the file's label is
    // the message's source.
    kms::unwrap(&kms_key, &wrapped, with).map_err(|e| Error::new(e.kind, e.into_problem().what))
}

impl Source for SopsSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Sops
    }

    fn describe(&self, name: &SecretName) -> String {
        let files: Vec<String> = self
            .settings
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        format!("sops:{}#{name}", files.join("+"))
    }

    fn lookup(&mut self, name: &SecretName) -> Result<Option<Found>, Error> {
        // Every listed file opens (or fails the start) before any of them answers.
        if self.listed.is_none() {
            let files = self.settings.files.clone();
            for f in &files {
                self.open(f)?;
            }
            self.listed = Some(files.iter().map(|f| label(f)).collect());
        }
        let labels = self.listed.as_deref().unwrap_or_default();
        for (f, file_label) in self.settings.files.iter().zip(labels) {
            if let Some(mut v) = self.opened_file(f)?.top(name.as_str()) {
                // The buffer itself becomes the secret: no second copy to wipe.
                let value = Secret::new(std::mem::take(&mut *v));
                let src = [file_label, "#", name.as_str()].concat();
                return Ok(Some(Self::found(value, src, f)));
            }
        }
        Ok(None)
    }

    fn fetch(&mut self, reference: &Reference, _name: &SecretName) -> Result<Option<Found>, Error> {
        match reference {
            Reference::Sops(r) => {
                let path = self.settings.locate(&r.file);
                let src = reference.to_string();
                let d = self.open(&path)?;
                let value = match &r.path {
                    None => Some(d.whole()),
                    Some(steps) => {
                        let steps: Vec<format::Step<'_>> = steps
                            .iter()
                            .map(|s| match s {
                                Step::Key(k) => format::Step::Key(k),
                                Step::Index(i) => format::Step::Index(*i),
                            })
                            .collect();
                        d.get(&steps)
                    }
                };
                Ok(
                    value
                        .map(|mut v| Self::found(Secret::new(std::mem::take(&mut *v)), src, &path)),
                )
            }
            Reference::Age(file) => {
                let path = self.settings.locate(file);
                let src = format!("age:{}", path.display());
                let bytes = self.read(&path, &src)?;
                let plain = self
                    .age
                    .decrypt(bytes.expose())
                    .map_err(|e| e.with_source(src.clone()))?;
                Ok(Some(Self::found(plain, src, &path)))
            }
            other => Err(not_mine(SourceKind::Sops, other)),
        }
    }
}

//! sops' age identities, in secret-init's own environment: `SOPS_AGE_KEY` (identities separated
//! by blanks or lines), the file `SOPS_AGE_KEY_FILE`, the keys file
//! `$XDG_CONFIG_HOME/sops/age/keys.txt` (else `~/.config/sops/age/keys.txt`) and the ssh-ed25519
//! key `SOPS_AGE_SSH_PRIVATE_KEY_FILE`, all of them together. One set, read once a pass, for
//! SOPS files, `age:` references and `NAME.age` files in the secrets dirs.

use std::path::{Path, PathBuf};

use super::Outputs;
use crate::age::{self, Identity};
use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::secret::Secret;

/// The largest age identity file read.
const MAX_KEYS_FILE: u64 = 1024 * 1024;

/// sops' age identities ((the module docs), read once, on first use: the one set that
/// `age:` references, SOPS files and `NAME.age` files in the secrets dirs all decrypt with.
pub(crate) struct AgeKeys {
    env: Environ,
    outputs: Outputs,
    loaded: Option<Result<Vec<Identity>, Error>>,
}

/// No identity anywhere: what to set.
pub(super) const NO_IDENTITY: &str = "no age identity: set SOPS_AGE_KEY or SOPS_AGE_KEY_FILE, or put one in ~/.config/sops/age/keys.txt";

impl AgeKeys {
    /// The identities in `env` (secret-init's own environment); `outputs`, the files it
    /// delivers, are never read as keys. Nothing is read yet.
    pub(crate) fn new(env: Environ, outputs: Outputs) -> AgeKeys {
        AgeKeys {
            env,
            outputs,
            loaded: None,
        }
    }

    /// The identities (none configured: empty); a bad key file fails every use the same way.
    pub(super) fn get(&mut self) -> Result<&[Identity], Error> {
        let loaded = self
            .loaded
            .get_or_insert_with(|| load_identities(&self.env, &self.outputs));
        match loaded {
            Ok(ids) => Ok(ids),
            Err(e) => Err(Error::new(e.kind, e.what.clone())),
        }
    }

    /// A whole age file decrypted. No identity configured is a configuration error (78); a
    /// wrong identity or a tampered file is bad data (65). The caller adds the file as source.
    pub(crate) fn decrypt(&mut self, file: &[u8]) -> Result<Secret, Error> {
        let ids = self.get()?;
        if ids.is_empty() {
            return Err(Error::new(Kind::Config, NO_IDENTITY));
        }
        let mut plain =
            age::decrypt(file, ids).map_err(|e| Error::new(Kind::Data, e.to_string()))?;
        Ok(Secret::new(std::mem::take(&mut *plain)))
    }
}

/// The text of a key file (capped, in wiped memory); `None` when it does not exist.
fn read_key_file(path: &Path, what: &str) -> Result<Option<zeroize::Zeroizing<String>>, Error> {
    let config = |what: String| Error::new(Kind::Config, what);
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(config(format!(
                "{what}: cannot read {}: {}",
                path.display(),
                crate::error::io_text(&e)
            )));
        }
    };
    let bytes = crate::fsx::read_secret(file, MAX_KEYS_FILE, 4096)
        .map_err(|e| config(format!("{what}: {}", crate::error::io_text(&e))))?
        .ok_or_else(|| config(format!("{what}: larger than {MAX_KEYS_FILE} bytes")))?;
    let text =
        std::str::from_utf8(bytes.expose()).map_err(|_| config(format!("{what}: not text")))?;
    Ok(Some(zeroize::Zeroizing::new(text.to_string())))
}

/// Every age identity in sops' places (the module docs).
fn load_identities(env: &Environ, outputs: &Outputs) -> Result<Vec<Identity>, Error> {
    let config = |what: String| Error::new(Kind::Config, what);
    let mut ids = Vec::new();
    if let Some(v) = env.text("SOPS_AGE_KEY") {
        ids.extend(
            Identity::parse_all(&v, true).map_err(|e| config(format!("SOPS_AGE_KEY: {e}")))?,
        );
    }
    let mut files: Vec<(PathBuf, String, bool)> = Vec::new();
    if let Some(f) = env.text("SOPS_AGE_KEY_FILE").filter(|f| !f.is_empty()) {
        let p = PathBuf::from(&f);
        outputs.refuse(&p, "SOPS_AGE_KEY_FILE")?;
        files.push((p, "SOPS_AGE_KEY_FILE".into(), true));
    }
    let config_home = env
        .text("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            env.text("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| Path::new(&h).join(".config"))
        });
    if let Some(dir) = config_home {
        let p = dir.join("sops/age/keys.txt");
        // A keys file at the default place that secret-init delivers is an output, not a key.
        if !outputs.contains(&p) {
            let shown = p.display().to_string();
            files.push((p, shown, false));
        }
    }
    if let Some(f) = env
        .text("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
        .filter(|f| !f.is_empty())
    {
        let p = PathBuf::from(&f);
        outputs.refuse(&p, "SOPS_AGE_SSH_PRIVATE_KEY_FILE")?;
        let text = read_key_file(&p, "SOPS_AGE_SSH_PRIVATE_KEY_FILE")?
            .ok_or_else(|| config("SOPS_AGE_SSH_PRIVATE_KEY_FILE: no such file".to_string()))?;
        ids.push(
            Identity::parse_ssh(&text)
                .map_err(|e| config(format!("SOPS_AGE_SSH_PRIVATE_KEY_FILE: {e}")))?,
        );
    }
    for (path, what, required) in files {
        let Some(text) = read_key_file(&path, &what)? else {
            if required {
                return Err(config(format!("{what}: no such file: {}", path.display())));
            }
            continue;
        };
        ids.extend(Identity::parse_all(&text, false).map_err(|e| config(format!("{what}: {e}")))?);
    }
    Ok(ids)
}

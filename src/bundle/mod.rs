//! Encrypted vault bundles: named vaults of AES-256-GCM sealed entries in one JSON file, opened
//! with a 256-bit master key the pod holds (runqy's vaults, without a server to run).
//!
//! [`seal`] is the cipher and its associated data, [`format`] the file, [`command`] the
//! `secret-init vault ...` subcommands that manage it; `source::bundle` reads it at start.

pub(crate) mod format;
pub(crate) mod seal;

use std::path::Path;

use crate::environ::Environ;
use crate::error::{Error, Kind};
use seal::MasterKey;

/// The env var holding the base64 master key. Like every `SECRET_INIT_*`, it never reaches the
/// program's environment.
pub(crate) const MASTER_KEY_VAR: &str = "SECRET_INIT_MASTER_KEY";

/// Largest master-key file read (a key is 45 bytes of base64 with its newline).
pub(crate) const MAX_KEY_FILE_BYTES: u64 = 4096;

/// Loads the master key from `key_file` or else `SECRET_INIT_MASTER_KEY`; both set is refused, so
/// there is never a question which key was used. Messages name the origin, never the key.
pub(crate) fn load_master_key(env: &Environ, key_file: Option<&Path>) -> Result<MasterKey, Error> {
    let from_env = env.get(MASTER_KEY_VAR);
    match (key_file, from_env) {
        (Some(_), Some(_)) => Err(Error::new(
            Kind::Usage,
            format!("both a master key file and {MASTER_KEY_VAR} are set; use one"),
        )),
        (Some(path), None) => read_key_file(path),
        (None, Some(v)) => {
            use std::os::unix::ffi::OsStrExt;
            MasterKey::from_base64(v.as_bytes())
                .map_err(|e| Error::new(Kind::Data, e.0).with_source(MASTER_KEY_VAR))
        }
        (None, None) => Err(Error::new(
            Kind::Config,
            format!("no master key: set {MASTER_KEY_VAR} or --master-key-file"),
        )),
    }
}

/// Reads a key file with the one input reader (`fsx::read_file`: never blocks on a FIFO,
/// regular files only, size-capped, into a wiped buffer) and parses it.
pub(crate) fn read_key_file(path: &Path) -> Result<MasterKey, Error> {
    let src = format!("master key file {}", path.display());
    let buf = match crate::fsx::read_file(path, MAX_KEY_FILE_BYTES) {
        Ok(Some(buf)) => buf,
        // A key volume that is not mounted: unavailable, like a missing secret.
        Ok(None) => {
            return Err(
                Error::new(Kind::Unavailable, "cannot read: No such file or directory")
                    .with_source(src),
            );
        }
        Err(e) => return Err(Error::new(e.kind(Kind::Data), e.text()).with_source(src)),
    };
    MasterKey::from_base64(buf.expose()).map_err(|e| Error::new(Kind::Data, e.0).with_source(src))
}

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
use crate::secret::Secret;
use seal::MasterKey;

/// The env var holding the base64 master key. Like every `SECRET_INIT_*`, it never reaches the
/// program's environment.
pub(crate) const MASTER_KEY_VAR: &str = "SECRET_INIT_MASTER_KEY";

/// Largest master-key file read (a key is 45 bytes of base64 with its newline).
const MAX_KEY_FILE_BYTES: u64 = 4096;

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

/// Reads a key file (size-capped, into a wiped buffer) and parses it.
pub(crate) fn read_key_file(path: &Path) -> Result<MasterKey, Error> {
    use std::io::Read;
    let src = format!("master key file {}", path.display());
    let file = std::fs::File::open(path).map_err(|e| {
        // A key volume that is not mounted: unavailable, like a missing secret.
        let kind = crate::error::io_kind(&e, Kind::Unavailable);
        Error::cannot_read(kind, &e).with_source(src.clone())
    })?;
    // At most the cap is read (a longer file is cut there and fails to parse as a key).
    let buf = crate::fsx::read_secret(file.take(MAX_KEY_FILE_BYTES), MAX_KEY_FILE_BYTES, 0)
        .map_err(|e| Error::cannot_read(Kind::Data, &e).with_source(src.clone()))?
        // Never `None`: `take` stops at the cap.
        .unwrap_or_else(|| Secret::new(Vec::new()));
    MasterKey::from_base64(buf.expose()).map_err(|e| Error::new(Kind::Data, e.0).with_source(src))
}

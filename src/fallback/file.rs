//! The snapshot file: what is sealed, how it is read back, and the generation it must not fall
//! below.
//!
//! The file is `MAGIC ‖ nonce ‖ AES-256-GCM(payload)`, sealed with the bundle's cipher
//! (`bundle::seal`) under [`Place::Snapshot`]: the manifest and the snapshot's own path are its
//! associated data, so a snapshot copied from another manifest or moved to another path does not
//! open, and a flipped bit, a cut or an appended byte anywhere fails the one tag. Inside, each
//! value is sealed again under [`Place::Stored`] (its secret's name and source): a value opens
//! only for the secret it was fetched for, and values stay sealed in memory until one is needed.
//!
//! The payload's generation grows by one with every write; the highest one seen is kept in a
//! small state file beside the snapshot (`PATH.generation`), and a snapshot below it is refused
//! as a replay. Whoever can delete that file can replay: the snapshot's directory must be ours
//! alone (the publisher refuses a shared one), and `max_age` bounds any replay regardless.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, SFlag, fstat};
use serde::{Deserialize, Serialize};

use crate::bundle::seal::{self, MasterKey, Place};
use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::secret::Secret;
use crate::settings::{FallbackSettings, KeyFrom};

/// The file's first bytes: its format and version, checked exactly.
const MAGIC: &[u8] = b"secret-init-fallback/1\n";
/// Bytes of a nonce.
const NONCE_LEN: usize = 12;
/// Largest snapshot read: as large as a bundle may be.
const MAX_BYTES: u64 = crate::bundle::format::MAX_BUNDLE_BYTES;

/// What the outer seal holds.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    /// One more than the last write's.
    generation: u64,
    /// The values, each sealed on its own.
    values: Vec<RawStored>,
}

/// One value as stored: its place in clear (inside the outer seal), its value sealed.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStored {
    name: String,
    source: String,
    kind: String,
    /// Unix milliseconds of the value's last successful fetch.
    fetched: u64,
    nonce: String,
    value: String,
}

/// One value of an opened snapshot, still sealed.
pub(crate) struct Stored {
    /// The secret's name.
    pub name: String,
    /// The source it was fetched from, as a reference (`vault:secret/data/app#db`).
    pub source: String,
    /// That source's kind (`vault`).
    pub kind: String,
    /// Unix milliseconds of its last successful fetch.
    pub fetched: u64,
    nonce: Vec<u8>,
    sealed: Vec<u8>,
}

/// One value to store.
pub(crate) struct Fresh {
    /// The secret's name.
    pub name: String,
    /// Its source, as a reference.
    pub source: String,
    /// Its source's kind.
    pub kind: String,
    /// Unix milliseconds of its last successful fetch: now, or a stale value's own.
    pub fetched: u64,
    /// The value.
    pub value: Secret,
}

/// An opened snapshot: its generation, its values (sealed), and the key that opens them.
pub(crate) struct Opened {
    /// Its generation.
    pub generation: u64,
    /// Its values.
    pub values: Vec<Stored>,
    key: MasterKey,
    identity: String,
}

impl Opened {
    /// The value of `s`, opened for its own name and source.
    pub(crate) fn open(&self, s: &Stored) -> Result<Secret, String> {
        let place = Place::Stored {
            identity: &self.identity,
            name: &s.name,
            source: &s.source,
        };
        self.key
            .open(&place, &s.nonce, &s.sealed)
            .map_err(|e| e.to_string())
    }
}

/// What binds a snapshot to its manifest and its place: the manifest's path and the snapshot's.
pub(crate) fn identity(manifest: Option<&Path>, snapshot: &Path) -> String {
    let manifest = manifest.map_or_else(|| "-".to_string(), |p| p.display().to_string());
    format!("manifest={manifest}\0snapshot={}", snapshot.display())
}

/// The state file holding the highest generation seen.
pub(crate) fn generation_path(snapshot: &Path) -> PathBuf {
    let mut p = snapshot.as_os_str().to_os_string();
    p.push(".generation");
    PathBuf::from(p)
}

/// The key, from where the settings say. Messages name the place, never the key.
pub(crate) fn load_key(fb: &FallbackSettings, env: &Environ) -> Result<MasterKey, Error> {
    match &fb.key {
        KeyFrom::File(p) => crate::bundle::read_key_file(p),
        KeyFrom::Env(var) => {
            use std::os::unix::ffi::OsStrExt;
            let v = env.get(var).filter(|v| !v.is_empty()).ok_or_else(|| {
                Error::new(Kind::Config, format!("fallback key_env {var} is not set"))
            })?;
            MasterKey::from_base64(v.as_bytes()).map_err(|e| {
                Error::new(Kind::Data, e.0).with_source(format!("fallback key_env {var}"))
            })
        }
    }
}

/// Seals `values` as generation `generation`.
pub(crate) fn seal(
    key: &MasterKey,
    identity: &str,
    generation: u64,
    values: &[Fresh],
) -> Result<Secret, String> {
    let mut raw = Vec::with_capacity(values.len());
    for v in values {
        let place = Place::Stored {
            identity,
            name: &v.name,
            source: &v.source,
        };
        let (nonce, sealed) = key
            .seal(&place, v.value.expose())
            .map_err(|e| e.to_string())?;
        raw.push(RawStored {
            name: v.name.clone(),
            source: v.source.clone(),
            kind: v.kind.clone(),
            fetched: v.fetched,
            nonce: seal::encode(&nonce),
            value: seal::encode(&sealed),
        });
    }
    let payload = Payload {
        generation,
        values: raw,
    };
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(&payload).map_err(|e| e.to_string())?);
    let (nonce, sealed) = key
        .seal(&Place::Snapshot { identity }, &plain)
        .map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + sealed.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(Secret::new(out))
}

/// Opens the bytes of a snapshot. Every failure is one reason, never a byte of the content.
pub(crate) fn parse(bytes: &[u8], key: MasterKey, identity: &str) -> Result<Opened, String> {
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or("not a secret-init fallback snapshot (or not this version of the format)")?;
    if rest.len() < NONCE_LEN {
        return Err("truncated".into());
    }
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let plain = key
        .open(&Place::Snapshot { identity }, nonce, sealed)
        .map_err(|e| match e {
            seal::OpenError::Auth => "it does not authenticate: another key, another manifest or \
                                      path, or altered or truncated"
                .to_string(),
            other => other.to_string(),
        })?;
    // Authenticated: a payload that does not parse is a bug of ours, not an attack.
    let payload: Payload = serde_json::from_slice(plain.expose())
        .map_err(|_| "its sealed payload is not understood".to_string())?;
    let mut values = Vec::with_capacity(payload.values.len());
    for v in payload.values {
        values.push(Stored {
            nonce: seal::decode(v.nonce.as_bytes())?,
            sealed: seal::decode(v.value.as_bytes())?,
            name: v.name,
            source: v.source,
            kind: v.kind,
            fetched: v.fetched,
        });
    }
    Ok(Opened {
        generation: payload.generation,
        values,
        key,
        identity: identity.to_string(),
    })
}

/// Reads the snapshot at `path` as its own file: opened beneath its directory (walked from `/`
/// without following a link) with `O_NOFOLLOW`, a regular file owned by the user we run as and
/// open to no one else (no group or other bit), one name only, capped. `Ok(None)` when there is
/// none.
pub(crate) fn read(path: &Path) -> Result<Option<Secret>, String> {
    let Some(dir) = crate::fsx::open_parent(path)? else {
        return Ok(None);
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("it has no file name")?;
    let flags = crate::fsx::READ_FLAGS | OFlag::O_NOFOLLOW;
    let fd = match nix::fcntl::openat(&dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(None),
        Err(Errno::ELOOP) => return Err("it is a symbolic link".into()),
        Err(e) => return Err(format!("cannot open: {}", e.desc())),
    };
    let st = fstat(&fd).map_err(|e| format!("cannot stat: {}", e.desc()))?;
    if st.st_mode & SFlag::S_IFMT.bits() != SFlag::S_IFREG.bits() {
        return Err("it is not a regular file".into());
    }
    let euid = nix::unistd::geteuid().as_raw();
    if st.st_uid != euid {
        return Err(format!(
            "it is owned by uid {}, not by uid {euid} that secret-init runs as",
            st.st_uid
        ));
    }
    if st.st_mode & 0o077 != 0 {
        return Err(format!(
            "its mode is {:04o}: others may read or change it (it must be 0600)",
            st.st_mode & 0o7777
        ));
    }
    if st.st_nlink > 1 {
        return Err(format!("it has {} hard links", st.st_nlink));
    }
    crate::fsx::read_regular(fd, &st, MAX_BYTES).map(Some)
}

/// The highest generation seen (0 when none is recorded).
pub(crate) fn seen(snapshot: &Path) -> Result<u64, String> {
    let path = generation_path(snapshot);
    match crate::fsx::read_existing(&path, 64)? {
        None => Ok(0),
        Some((_, mode)) if mode & 0o022 != 0 => Err(format!(
            "{}: its mode is {mode:04o}: others may change it",
            path.display()
        )),
        Some((text, _)) => std::str::from_utf8(text.expose())
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(|| format!("{}: not a generation number", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::from_bytes(&[7; 32]).expect("32 bytes")
    }

    fn one() -> Vec<Fresh> {
        vec![Fresh {
            name: "db".into(),
            source: "vault:secret/data/app#db".into(),
            kind: "vault".into(),
            fetched: 1_700_000_000,
            value: Secret::new(b"canary-fallback-unit".to_vec()),
        }]
    }

    #[test]
    fn round_trip_keeps_names_sources_ages_and_values() {
        let id = identity(Some(Path::new("/app/config.yaml")), Path::new("/var/lib/s"));
        let bytes = seal(&key(), &id, 5, &one()).expect("seal");
        let opened = parse(bytes.expose(), key(), &id).expect("open");
        assert_eq!(opened.generation, 5);
        let v = &opened.values[0];
        assert_eq!(
            (
                v.name.as_str(),
                v.source.as_str(),
                v.kind.as_str(),
                v.fetched
            ),
            ("db", "vault:secret/data/app#db", "vault", 1_700_000_000)
        );
        assert_eq!(
            opened.open(v).expect("value").expose(),
            b"canary-fallback-unit"
        );
    }

    /// Every single bit of a small snapshot flipped, every cut and an appended byte: none opens.
    #[test]
    fn every_bit_flip_and_every_cut_is_refused() {
        let id = identity(None, Path::new("/var/lib/s"));
        let bytes = seal(&key(), &id, 1, &one()).expect("seal");
        let good = bytes.expose().to_vec();
        for bit in 0..good.len() * 8 {
            let mut b = good.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(parse(&b, key(), &id).is_err(), "bit {bit} flipped opened");
        }
        for n in 0..good.len() {
            assert!(parse(&good[..n], key(), &id).is_err(), "cut at {n} opened");
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(parse(&longer, key(), &id).is_err());
    }

    #[test]
    fn another_manifest_path_or_key_does_not_open() {
        let id = identity(Some(Path::new("/a/config.yaml")), Path::new("/var/lib/s"));
        let bytes = seal(&key(), &id, 1, &one()).expect("seal");
        for other in [
            identity(Some(Path::new("/b/config.yaml")), Path::new("/var/lib/s")),
            identity(Some(Path::new("/a/config.yaml")), Path::new("/var/lib/t")),
        ] {
            let e = parse(bytes.expose(), key(), &other).err().expect("refused");
            assert!(e.contains("does not authenticate"), "{e}");
        }
        let other_key = MasterKey::from_bytes(&[8; 32]).expect("key");
        assert!(parse(bytes.expose(), other_key, &id).is_err());
    }

    #[test]
    fn a_value_opens_only_for_its_own_name_and_source() {
        let id = identity(None, Path::new("/var/lib/s"));
        let bytes = seal(&key(), &id, 1, &one()).expect("seal");
        let opened = parse(bytes.expose(), key(), &id).expect("open");
        let v = &opened.values[0];
        let moved = Stored {
            name: "other".into(),
            source: v.source.clone(),
            kind: v.kind.clone(),
            fetched: v.fetched,
            nonce: v.nonce.clone(),
            sealed: v.sealed.clone(),
        };
        assert!(opened.open(&moved).is_err());
    }

    #[test]
    fn no_value_in_the_file_or_its_errors() {
        let id = identity(None, Path::new("/var/lib/s"));
        let bytes = seal(&key(), &id, 1, &one()).expect("seal");
        let text = String::from_utf8_lossy(bytes.expose());
        assert!(!text.contains("canary"), "value in clear");
        assert!(!text.contains("secret/data"), "place in clear");
    }
}

//! The bundle file: a versioned JSON document of named vaults, each a map of sealed entries.
//!
//! The layout is documented in docs/bundle.md. Reading is strict: the format id and version are
//! checked first (so a newer file is refused with a clear message rather than misread), then the
//! whole document is parsed with unknown fields and duplicate keys refused, names validated as
//! secret names (so they never hold NUL or `/`, and the associated data is unambiguous), base64
//! decoded strictly, and nonces checked for reuse across the whole file. Nothing is decrypted here
//! except on request, and nothing secret is ever in an error message: only names and offsets.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::seal::{self, MasterKey, OpenError, Place};
use crate::error::{Error, Kind};
use crate::name::SecretName;
use crate::order::CollectOrdered;
use crate::secret::Secret;

/// The `format` field of every bundle.
pub(crate) const FORMAT_ID: &str = "secret-init-bundle";
/// The version of a bundle whose key is the master key the pod holds.
pub(crate) const VERSION: u64 = 1;
/// The version of a bundle whose data key is wrapped by a KMS key named in its header.
pub(crate) const VERSION_KMS: u64 = 2;
/// The `cipher` field: the only one versions 1 and 2 know.
pub(crate) const CIPHER: &str = "AES-256-GCM";
/// Largest bundle read, from a file or over HTTPS.
pub(crate) const MAX_BUNDLE_BYTES: u64 = 32 * 1024 * 1024;
/// The plaintext of the key-check value.
const KEY_CHECK_PLAIN: &[u8] = b"secret-init key check";

/// A sealed value: its nonce and its ciphertext with the tag appended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// The nonce (12 bytes in a valid file; other lengths are reported when opened).
    pub nonce: Vec<u8>,
    /// Ciphertext ‖ 16-byte tag.
    pub data: Vec<u8>,
}

/// One entry of a vault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Whether `show` masks the value (bound into the associated data).
    pub secret: bool,
    /// When it was last set (RFC 3339 UTC; informational, not authenticated).
    pub updated: String,
    /// The sealed value.
    pub sealed: Sealed,
}

/// A named vault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vault {
    /// Free text.
    pub description: String,
    /// Creation time (RFC 3339 UTC).
    pub created: String,
    /// Last change (RFC 3339 UTC).
    pub updated: String,
    /// Entries by key.
    pub entries: BTreeMap<String, Entry>,
}

/// A data key wrapped by a KMS key (version 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey {
    /// The KMS key, as `--kms` names it (`aws:ARN`, `gcp:...`, `azure:URL`, `transit:M/N`).
    pub kms: String,
    /// The data key as that KMS wrapped it.
    pub wrapped: Vec<u8>,
}

/// A whole bundle file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    /// The data key wrapped by a KMS key (version 2); `None`: the master key is the pod's
    /// (version 1).
    pub wrapped_key: Option<WrappedKey>,
    /// A value sealed under the master key for a fixed place, so a wrong key is reported once;
    /// in version 2 the place names the KMS key, so a header naming another key fails it.
    pub key_check: Sealed,
    /// Vaults by name.
    pub vaults: BTreeMap<String, Vault>,
}

/// A decrypted entry.
#[derive(Debug)]
pub struct Opened {
    /// The entry's key.
    pub key: String,
    /// Its secret flag.
    pub secret: bool,
    /// Its value.
    pub value: Secret,
}

// --- the JSON shape -------------------------------------------------------------------------

#[derive(Deserialize)]
struct Header {
    format: Option<String>,
    version: Option<u64>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    format: String,
    version: u64,
    cipher: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<RawKey>,
    key_check: RawSealed,
    #[serde(deserialize_with = "unique_map")]
    vaults: BTreeMap<String, RawVault>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    kms: String,
    wrapped: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSealed {
    nonce: String,
    sealed: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVault {
    description: String,
    created: String,
    updated: String,
    #[serde(deserialize_with = "unique_map")]
    entries: BTreeMap<String, RawEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    secret: bool,
    updated: String,
    nonce: String,
    sealed: String,
}

/// A JSON object into a map, refusing duplicate keys (serde_json would keep the last silently,
/// and two readers could then disagree on which value a name has).
fn unique_map<'de, D, V>(d: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct M<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> Visitor<'de> for M<V> {
        type Value = BTreeMap<String, V>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(k) = map.next_key::<String>()? {
                if out.contains_key(&k) {
                    return Err(serde::de::Error::custom(format!(
                        "duplicate key \"{}\"",
                        crate::log::escape_controls(&k)
                    )));
                }
                let v = map.next_value()?;
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(M(std::marker::PhantomData))
}

fn data_error(src: &str, what: impl Into<String>) -> Error {
    Error::new(Kind::Data, what).with_source(src.to_string())
}

fn sealed_from(raw: &RawSealed, at: &str, src: &str) -> Result<Sealed, Error> {
    let nonce = seal::decode(raw.nonce.as_bytes())
        .map_err(|why| data_error(src, format!("{at}: nonce: {why}")))?;
    let data = seal::decode(raw.sealed.as_bytes())
        .map_err(|why| data_error(src, format!("{at}: sealed: {why}")))?;
    Ok(Sealed { nonce, data })
}

fn sealed_raw(s: &Sealed) -> RawSealed {
    RawSealed {
        nonce: seal::encode(&s.nonce),
        sealed: seal::encode(&s.data),
    }
}

/// Describes an entry for messages: `vault "v" entry "k"`.
pub(crate) fn entry_label(vault: &str, key: &str) -> String {
    format!("vault \"{vault}\" entry \"{key}\"")
}

/// Validates a vault name or entry key (the secret-name rule).
pub(crate) fn check_name(what: &str, raw: &str) -> Result<(), String> {
    SecretName::parse(raw)
        .map(|_| ())
        .map_err(|why| format!("{what} \"{}\": {why}", crate::log::escape_controls(raw)))
}

/// The place of a bundle's key check: the KMS key's name bound in version 2.
fn key_check_place(wrapped: Option<&WrappedKey>) -> Place<'_> {
    match wrapped {
        Some(w) => Place::KmsKeyCheck { kms: &w.kms },
        None => Place::KeyCheck,
    }
}

impl Bundle {
    /// An empty bundle whose key check is sealed under `key`; with `wrapped`, a version 2 bundle
    /// whose `key` is the data key `wrapped` holds.
    pub fn new(key: &MasterKey, wrapped: Option<WrappedKey>) -> Result<Bundle, Error> {
        let (nonce, data) = key
            .seal(&key_check_place(wrapped.as_ref()), KEY_CHECK_PLAIN)
            .map_err(|e| Error::new(Kind::CantCreate, e.to_string()))?;
        Ok(Bundle {
            wrapped_key: wrapped,
            key_check: Sealed {
                nonce: nonce.to_vec(),
                data,
            },
            vaults: BTreeMap::new(),
        })
    }

    /// Parses and validates a bundle; `src` names it in messages.
    pub fn parse(bytes: &[u8], src: &str) -> Result<Bundle, Error> {
        let header: Header = serde_json::from_slice(bytes)
            .map_err(|e| data_error(src, format!("not a bundle: invalid JSON: {e}")))?;
        if header.format.as_deref() != Some(FORMAT_ID) {
            return Err(data_error(
                src,
                format!("not a bundle: \"format\" must be \"{FORMAT_ID}\""),
            ));
        }
        match header.version {
            Some(VERSION | VERSION_KMS) => {}
            Some(v) => {
                return Err(data_error(
                    src,
                    format!(
                        "bundle version {v} is not supported (this build reads versions {VERSION} and {VERSION_KMS})"
                    ),
                ));
            }
            None => return Err(data_error(src, "bundle has no \"version\"")),
        }
        let raw: RawFile = serde_json::from_slice(bytes)
            .map_err(|e| data_error(src, format!("invalid bundle: {e}")))?;
        if raw.cipher != CIPHER {
            return Err(data_error(
                src,
                format!("cipher must be \"{CIPHER}\" in version {}", raw.version),
            ));
        }
        let wrapped_key = match (raw.version, raw.key) {
            (VERSION, None) => None,
            (VERSION, Some(_)) => {
                return Err(data_error(
                    src,
                    format!(
                        "a version {VERSION} bundle has no \"key\" (a KMS-wrapped key is version {VERSION_KMS})"
                    ),
                ));
            }
            (_, None) => {
                return Err(data_error(
                    src,
                    format!(
                        "a version {VERSION_KMS} bundle needs its \"key\" (the KMS-wrapped data key)"
                    ),
                ));
            }
            (_, Some(k)) => {
                if k.kms.is_empty() || k.kms.contains(|c: char| c.is_control()) {
                    return Err(data_error(src, "key.kms: not a KMS key name"));
                }
                let wrapped = seal::decode(k.wrapped.as_bytes())
                    .map_err(|why| data_error(src, format!("key.wrapped: {why}")))?;
                if wrapped.is_empty() {
                    return Err(data_error(src, "key.wrapped is empty"));
                }
                Some(WrappedKey {
                    kms: k.kms,
                    wrapped,
                })
            }
        };
        let key_check = sealed_from(&raw.key_check, "key_check", src)?;
        // Nonce reuse under one key breaks GCM; a reader can at least catch it within a file.
        let mut seen: HashMap<Vec<u8>, String> = HashMap::new();
        seen.insert(key_check.nonce.clone(), "the key check".to_string());
        let mut vaults = BTreeMap::new();
        for (vname, rv) in raw.vaults {
            check_name("vault name", &vname).map_err(|why| data_error(src, why))?;
            let mut entries = BTreeMap::new();
            for (key, re) in rv.entries {
                check_name(&format!("vault \"{vname}\": entry key"), &key)
                    .map_err(|why| data_error(src, why))?;
                let at = entry_label(&vname, &key);
                let sealed = sealed_from(
                    &RawSealed {
                        nonce: re.nonce,
                        sealed: re.sealed,
                    },
                    &at,
                    src,
                )?;
                if let Some(other) = seen.insert(sealed.nonce.clone(), at.clone()) {
                    return Err(data_error(
                        src,
                        format!("nonce reuse detected: {at} and {other} share a nonce"),
                    ));
                }
                entries.insert(
                    key,
                    Entry {
                        secret: re.secret,
                        updated: re.updated,
                        sealed,
                    },
                );
            }
            vaults.insert(
                vname,
                Vault {
                    description: rv.description,
                    created: rv.created,
                    updated: rv.updated,
                    entries,
                },
            );
        }
        Ok(Bundle {
            wrapped_key,
            key_check,
            vaults,
        })
    }

    /// The JSON text of the bundle, stable (sorted) and pretty-printed, ending in a newline.
    pub fn to_json(&self) -> Vec<u8> {
        let raw = RawFile {
            format: FORMAT_ID.to_string(),
            version: if self.wrapped_key.is_some() {
                VERSION_KMS
            } else {
                VERSION
            },
            cipher: CIPHER.to_string(),
            key: self.wrapped_key.as_ref().map(|w| RawKey {
                kms: w.kms.clone(),
                wrapped: seal::encode(&w.wrapped),
            }),
            key_check: sealed_raw(&self.key_check),
            vaults: self
                .vaults
                .iter()
                .map(|(n, v)| {
                    (
                        n.clone(),
                        RawVault {
                            description: v.description.clone(),
                            created: v.created.clone(),
                            updated: v.updated.clone(),
                            entries: v
                                .entries
                                .iter()
                                .map(|(k, e)| {
                                    let s = sealed_raw(&e.sealed);
                                    (
                                        k.clone(),
                                        RawEntry {
                                            secret: e.secret,
                                            updated: e.updated.clone(),
                                            nonce: s.nonce,
                                            sealed: s.sealed,
                                        },
                                    )
                                })
                                .collect_ordered(),
                        },
                    )
                })
                .collect_ordered(),
        };
        // Serializing plain strings, bools and integers into a Vec cannot fail.
        let mut out = serde_json::to_vec_pretty(&raw).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Checks that `key` is the bundle's key, before any entry is opened.
    pub fn check_key(&self, key: &MasterKey, src: &str) -> Result<(), Error> {
        match key.open(
            &key_check_place(self.wrapped_key.as_ref()),
            &self.key_check.nonce,
            &self.key_check.data,
        ) {
            Ok(v) if v.expose() == KEY_CHECK_PLAIN => Ok(()),
            Ok(_) | Err(OpenError::Auth) => Err(data_error(
                src,
                match &self.wrapped_key {
                    None => "wrong master key: the bundle's key check does not open with it (or the key check is corrupted)".to_string(),
                    Some(w) => format!(
                        "the data key kms {} unwrapped does not open the bundle's key check (the header's key name changed, or the key check is corrupted)",
                        crate::log::escape_controls(&w.kms)
                    ),
                },
            )),
            Err(e) => Err(data_error(src, format!("key check: {e}"))),
        }
    }

    /// A vault by name, or a 69 error.
    pub fn vault(&self, name: &str, src: &str) -> Result<&Vault, Error> {
        self.vaults.get(name).ok_or_else(|| {
            Error::new(Kind::Unavailable, format!("no vault named \"{name}\"")).with_source(src)
        })
    }

    /// Opens one entry.
    pub fn open_entry(
        key: &MasterKey,
        vault: &str,
        name: &str,
        entry: &Entry,
    ) -> Result<Secret, OpenError> {
        let place = Place::Entry {
            vault,
            key: name,
            secret: entry.secret,
        };
        key.open(&place, &entry.sealed.nonce, &entry.sealed.data)
    }

    /// Opens every entry of a vault; every entry that fails is reported, one error each.
    pub fn open_vault(
        &self,
        key: &MasterKey,
        vault: &str,
        src: &str,
    ) -> Result<Vec<Opened>, Vec<Error>> {
        let v = self.vault(vault, src).map_err(|e| vec![e])?;
        let mut out = Vec::with_capacity(v.entries.len());
        let mut errors = Vec::new();
        for (name, entry) in &v.entries {
            match Bundle::open_entry(key, vault, name, entry) {
                Ok(value) => out.push(Opened {
                    key: name.clone(),
                    secret: entry.secret,
                    value,
                }),
                Err(e) => errors.push(data_error(
                    src,
                    format!("{}: {e}", entry_label(vault, name)),
                )),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// Seals `value` into `vault` under `name` (the vault must exist).
    pub fn set(
        &mut self,
        key: &MasterKey,
        vault: &str,
        name: &str,
        value: &[u8],
        secret: bool,
        now: &str,
    ) -> Result<(), Error> {
        let v = self
            .vaults
            .get_mut(vault)
            .ok_or_else(|| Error::new(Kind::Unavailable, format!("no vault named \"{vault}\"")))?;
        let place = Place::Entry {
            vault,
            key: name,
            secret,
        };
        let (nonce, data) = key
            .seal(&place, value)
            .map_err(|e| Error::new(Kind::Data, e.to_string()))?;
        v.entries.insert(
            name.to_string(),
            Entry {
                secret,
                updated: now.to_string(),
                sealed: Sealed {
                    nonce: nonce.to_vec(),
                    data,
                },
            },
        );
        v.updated = now.to_string();
        Ok(())
    }

    /// Re-seals every entry under `new` (wrapped as `wrapped`, or the pod's own key): all entries
    /// must open under `old`, else every failure is returned and nothing changes.
    pub fn rekey(
        &self,
        old: &MasterKey,
        new: &MasterKey,
        wrapped: Option<WrappedKey>,
        src: &str,
    ) -> Result<Bundle, Vec<Error>> {
        self.check_key(old, src).map_err(|e| vec![e])?;
        let mut out = Bundle::new(new, wrapped).map_err(|e| vec![e])?;
        let mut errors = Vec::new();
        for (vname, v) in &self.vaults {
            let mut nv = Vault {
                entries: BTreeMap::new(),
                ..v.clone()
            };
            for (name, e) in &v.entries {
                let value = match Bundle::open_entry(old, vname, name, e) {
                    Ok(value) => value,
                    Err(err) => {
                        errors.push(data_error(
                            src,
                            format!("{}: {err}", entry_label(vname, name)),
                        ));
                        continue;
                    }
                };
                let place = Place::Entry {
                    vault: vname,
                    key: name,
                    secret: e.secret,
                };
                match new.seal(&place, value.expose()) {
                    Ok((nonce, data)) => {
                        nv.entries.insert(
                            name.clone(),
                            Entry {
                                sealed: Sealed {
                                    nonce: nonce.to_vec(),
                                    data,
                                },
                                ..e.clone()
                            },
                        );
                    }
                    Err(err) => errors.push(data_error(
                        src,
                        format!("{}: {err}", entry_label(vname, name)),
                    )),
                }
            }
            out.vaults.insert(vname.clone(), nv);
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }
}

/// Reads a bundle file with the one input reader (`fsx::read_file`: never blocks on a FIFO,
/// regular files only, the size cap applied).
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, Error> {
    let src = path.display().to_string();
    match crate::fsx::read_file(path, MAX_BUNDLE_BYTES) {
        Ok(Some(bytes)) => Ok(bytes.expose().to_vec()),
        Ok(None) => Err(Error::new(
            Kind::Unavailable,
            "cannot read bundle: No such file or directory",
        )
        .with_source(src)),
        Err(e) => {
            Err(Error::new(e.kind(Kind::Data), format!("bundle: {}", e.text())).with_source(src))
        }
    }
}

/// The current time as RFC 3339 UTC with seconds (`2026-01-15T10:30:00Z`).
pub(crate) fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC. The civil-date conversion is Howard
/// Hinnant's `civil_from_days` (exact for the proleptic Gregorian calendar).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests;

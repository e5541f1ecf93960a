//! What the remote sources (vault, aws, gcp, azure) share around their clients: every reference
//! read at most once a pass ([`Reads`]: successes and failures alike), reads made together on
//! bounded connections ([`read_together`]), the size limit, errors naming the reference, and
//! the `#KEY` pick.

// A build with only some of the remote sources uses only part of what they share: the rest is
// dead code there, and only there.
#![cfg_attr(
    not(all(feature = "vault", feature = "aws", feature = "gcp", feature = "azure")),
    allow(dead_code)
)]

use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
use super::pick_key;
use super::{Found, Origin, SourceKind};
use crate::error::{Error, Kind};
use crate::secret::Secret;

/// Seconds since the epoch (credential expiry, request signing).
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// 65 when a value of `len` bytes is over the `max_secret_bytes` limit.
pub(crate) fn check_size(len: usize, max: u64) -> Result<(), Error> {
    if len as u64 > max {
        return Err(Error::new(
            Kind::Data,
            format!("value larger than the {max}-byte limit"),
        )
        .because(crate::error::Cause::TooLarge));
    }
    Ok(())
}

/// `e`, naming `src` unless it names a place already.
pub(crate) fn naming(e: Error, src: &str) -> Error {
    if e.source.is_some() {
        e
    } else {
        e.with_source(src)
    }
}

/// A value found under `label` (`aws-sm:app/db#password`).
pub(crate) fn found(kind: SourceKind, label: String, value: Secret) -> Found {
    Found {
        value,
        origin: Origin {
            kind,
            label,
            path: None,
            version: None,
        },
    }
}

#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
/// The value read by reference `label`, or its `#KEY` when `key` is given (`Ok(None)` when the
/// object has no such key; 65 naming the reference when the value is not a JSON object).
pub(crate) fn keyed(
    kind: SourceKind,
    label: String,
    value: Secret,
    key: Option<&str>,
) -> Result<Option<Found>, Error> {
    let value = match key {
        None => value,
        Some(k) => match pick_key(&value, k) {
            Ok(Some(v)) => v,
            Ok(None) => return Ok(None),
            Err(why) => return Err(Error::new(Kind::Data, why).with_source(label)),
        },
    };
    Ok(Some(found(kind, label, value)))
}

/// A value read with the version the store says it is (Secrets Manager's `VersionId`, Secret
/// Manager's version number, Key Vault's version id), for the audit trail.
#[derive(Clone)]
pub(crate) struct Versioned<T = Secret> {
    /// The value.
    pub value: T,
    /// Its version, when the answer named one.
    pub version: Option<String>,
}

impl<T: Measured> Measured for Versioned<T> {
    fn bytes(&self) -> usize {
        self.value.bytes()
    }
}

#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
/// [`keyed`], with the store's `version` of the value in its origin.
pub(crate) fn keyed_versioned(
    kind: SourceKind,
    label: String,
    read: &Versioned,
    key: Option<&str>,
) -> Result<Option<Found>, Error> {
    Ok(keyed(kind, label, read.value.clone(), key)?.map(|mut f| {
        f.origin.version = read.version.clone();
        f
    }))
}

/// Every key of the JSON object `value` read from `src`, as (key, value, `SRC#KEY`): a string
/// as its text, other values as their JSON, `null` skipped. 65 naming `src` and `setting` when
/// the value is no JSON object; the message never quotes it. What a whole-secret setting offers
/// (`secret_init.aws.secrets`) or injects into the environment (the `env_secrets` settings).
pub(crate) fn object_keys(
    value: &Secret,
    src: &str,
    setting: &str,
) -> Result<Vec<(String, Secret, String)>, Error> {
    let Ok(serde_json::Value::Object(o)) = serde_json::from_slice(value.expose()) else {
        return Err(not_an_object(setting, src));
    };
    Ok(o.into_iter()
        .filter_map(|(k, v)| {
            let value = match v {
                serde_json::Value::Null => return None,
                serde_json::Value::String(s) => Secret::new(s.into_bytes()),
                other => Secret::new(other.to_string().into_bytes()),
            };
            let label = format!("{src}#{k}");
            Some((k, value, label))
        })
        .collect())
}

/// 69: a secret listed in a whole-secret `setting` does not exist at `src`.
pub(crate) fn listed_but_missing(setting: &str, src: &str) -> Error {
    Error::new(
        Kind::Unavailable,
        format!("listed in {setting}, but it does not exist"),
    )
    .with_source(src)
}

/// 65: a secret listed in a whole-secret `setting` is no JSON object (never quoted).
pub(crate) fn not_an_object(setting: &str, src: &str) -> Error {
    Error::new(
        Kind::Data,
        format!("listed in {setting}, but its value is not a JSON object"),
    )
    .with_source(src)
}

/// Each `(variable, value, origin)` as a variable to inject (checked as any env delivery by
/// `plan::add_injected`); a later one replaces an earlier one of the same name.
pub(crate) fn injections(
    vars: impl IntoIterator<Item = (String, Secret, String)>,
) -> Vec<super::Injected> {
    let mut out: BTreeMap<String, super::Injected> = BTreeMap::new();
    for (var, value, origin) in vars {
        out.insert(var.clone(), super::Injected { var, value, origin });
    }
    out.into_values().collect()
}

/// A value whose size the debug log reports.
pub(crate) trait Measured {
    /// Its length in bytes.
    fn bytes(&self) -> usize;
}

impl Measured for Secret {
    fn bytes(&self) -> usize {
        self.len()
    }
}

impl<T: Measured> Measured for Rc<T> {
    fn bytes(&self) -> usize {
        self.as_ref().bytes()
    }
}

/// What each read of one pass gave (`None`: it does not exist), so that nothing is read twice
/// and a failing service is waited on once, not once per secret.
pub(crate) struct Reads<K, V>(BTreeMap<K, Result<Option<V>, Error>>);

impl<K: Ord, V: Clone + Measured> Reads<K, V> {
    /// No reads yet.
    pub(crate) fn new() -> Self {
        Reads(BTreeMap::new())
    }

    /// What reading `key` gave, if it was read.
    pub(crate) fn get(&self, key: &K) -> Option<Result<Option<V>, Error>> {
        self.0.get(key).cloned()
    }

    /// Whether `key` was read.
    pub(crate) fn contains(&self, key: &K) -> bool {
        self.0.contains_key(key)
    }

    /// Keeps what a batch settled for `key`.
    pub(crate) fn insert(&mut self, key: K, result: Result<Option<V>, Error>) {
        self.0.insert(key, result);
    }

    /// Keeps what reading `key` gave and logs a value's size as `WHO: WHAT: N bytes`; returns
    /// it.
    pub(crate) fn keep(
        &mut self,
        key: K,
        result: Result<Option<V>, Error>,
        who: &str,
        what: &str,
    ) -> Result<Option<V>, Error> {
        if let Ok(Some(v)) = &result {
            crate::log::debug!("{who}: {what}: {} bytes", v.bytes());
        }
        self.0.insert(key, result.clone());
        result
    }
}

/// The most reads a source has in flight at once, each on its own connection: 50 secrets of a
/// store 50 ms away then take about 7 round trips instead of 50. Small enough for a server's
/// rate limit and a pod's file descriptors.
pub(crate) const PARALLEL_READS: usize = 8;

/// Reads every item of `items` with up to [`PARALLEL_READS`] requests in flight: this thread
/// reads with `first` (starting on the connection it may have open), the others each with a
/// `fork` of it (scoped threads); results in `items`' order. Items are taken in order, and once
/// a read fails no new one starts: every item before the first failure has its answer, so the
/// caller reports the same first error a one-by-one read would. `None`: not read (after a
/// failure; the caller reads it one by one if it still needs it). A thread that cannot be
/// started leaves its share to the others, this one included.
pub(crate) fn read_together<I, W, T>(
    items: &[I],
    first: &mut W,
    fork: impl Fn(&W) -> W,
    read: impl Fn(&mut W, &I) -> Result<T, Error> + Sync,
) -> Vec<Option<Result<T, Error>>>
where
    I: Sync,
    W: Send,
    T: Send,
{
    let mut out: Vec<Option<Result<T, Error>>> = items.iter().map(|_| None).collect();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let work = |w: &mut W| {
        let mut got = Vec::new();
        while !failed.load(Ordering::Acquire) {
            let i = next.fetch_add(1, Ordering::AcqRel);
            let Some(item) = items.get(i) else { break };
            let r = read(w, item);
            if r.is_err() {
                failed.store(true, Ordering::Release);
            }
            got.push((i, r));
        }
        got
    };
    let helpers = items.len().min(PARALLEL_READS).saturating_sub(1);
    let forks: Vec<W> = (0..helpers).map(|_| fork(first)).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = forks
            .into_iter()
            .filter_map(|mut w| {
                std::thread::Builder::new()
                    .name("read".into())
                    .spawn_scoped(s, move || work(&mut w))
                    .ok()
            })
            .collect();
        for (i, r) in work(first) {
            out[i] = Some(r);
        }
        for h in handles {
            // The release profile aborts on a panic, so a join error is not expected; its
            // items would stay `None` and be read again one by one.
            if let Ok(got) = h.join() {
                for (i, r) in got {
                    out[i] = Some(r);
                }
            }
        }
    });
    out
}

/// The largest token file read (web identity and federated tokens are a few KB).
const TOKEN_FILE_BYTES: u64 = 256 * 1024;

/// Reads a token file (trimmed; missing or empty is 77), named `what` in messages.
pub(crate) fn read_token_file(path: &Path, what: &str) -> Result<Secret, Error> {
    let src = format!("{what} {}", path.display());
    let bytes = crate::fsx::read_file(path, TOKEN_FILE_BYTES)
        .map_err(|e| Error::new(e.kind(Kind::Data), e.text()))
        .map_err(|e| e.with_source(src.clone()))?
        .ok_or_else(|| Error::new(Kind::Permission, "does not exist").with_source(src.clone()))?;
    let t = bytes.expose().trim_ascii();
    if t.is_empty() {
        return Err(Error::new(Kind::Permission, "empty").with_source(src));
    }
    Ok(Secret::new(t.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_together_in_order_and_stop_after_a_failure() {
        let items: Vec<u32> = (0..50).collect();
        let mut first = 0u32;
        let got = read_together(
            &items,
            &mut first,
            |_| 0,
            |n, i| {
                *n += 1;
                Ok(i * 2)
            },
        );
        assert_eq!(got.len(), 50);
        for (i, r) in got.iter().enumerate() {
            assert_eq!(
                r.as_ref().map(|r| r.as_ref().ok().copied()),
                Some(Some(i as u32 * 2))
            );
        }
        // The first failure is answered; nothing after it is started once it is seen, and
        // everything before it has its answer.
        let got = read_together(
            &items,
            &mut first,
            |_| 0,
            |_, i| {
                if *i == 10 {
                    Err(Error::new(Kind::Unavailable, "no"))
                } else {
                    Ok(*i)
                }
            },
        );
        assert!(matches!(got[10], Some(Err(_))));
        assert!(got[..10].iter().all(|r| matches!(r, Some(Ok(_)))));
        assert!(got.iter().filter(|r| r.is_some()).count() < 10 + 1 + PARALLEL_READS);
        assert!(read_together(&[] as &[u32], &mut first, |_| 0, |_, i| Ok(*i)).is_empty());
    }
}

//! secret-init's own environment as a value: captured once at start, read by every layer, never
//! mutated in the process (the child's environment is built from it, see `deliver::env`).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// A snapshot of secret-init's own environment, in its original order.
#[derive(Clone, Debug, Default)]
pub struct Environ(pub Vec<(OsString, OsString)>);

impl Environ {
    /// Captures the process environment.
    pub fn capture() -> Environ {
        Environ(std::env::vars_os().collect())
    }

    /// An environment from literal pairs (tests and embedders).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Environ {
        Environ(
            pairs
                .iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v)))
                .collect(),
        )
    }

    /// Sets `key` to `value`, replacing an existing value in place.
    pub fn set(&mut self, key: &str, value: impl Into<OsString>) {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((OsString::from(key), value)),
        }
    }

    /// Removes every entry named `key`.
    pub fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&OsStr> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_os_str())
    }

    /// The value of `key` as text (invalid UTF-8 replaced), when it is set and not empty.
    pub fn text(&self, key: &str) -> Option<String> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .map(|v| v.to_string_lossy().into_owned())
    }
}

/// Expands a leading `~/` with `HOME`; `None` if there is a `~` and no `HOME`.
pub(crate) fn expand_home(p: &str, env: &Environ) -> Option<PathBuf> {
    match p.strip_prefix("~/") {
        Some(rest) => env
            .get("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| Path::new(h).join(rest)),
        None if p == "~" => env.get("HOME").map(PathBuf::from),
        None => Some(PathBuf::from(p)),
    }
}

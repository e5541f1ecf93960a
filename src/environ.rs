//! secret-init's own environment as a value: captured once at start, read by every layer, never
//! mutated in the process (the child's environment is built from it, see `deliver::env`).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A snapshot of secret-init's own environment, in its original order.
///
/// Shared, not copied: every source keeps the environment it reads, and a clone is a reference
/// count (a copy of each of a few dozen variables, twice, per source, was most of what an empty
/// start allocated). [`Environ::set`] and [`Environ::remove`] copy it first when it is shared.
#[derive(Clone, Debug, Default)]
pub struct Environ(pub Arc<Vec<(OsString, OsString)>>);

impl Environ {
    /// Captures the process environment.
    pub fn capture() -> Environ {
        Environ::new(std::env::vars_os().collect())
    }

    /// An environment of these pairs, in this order.
    pub fn new(pairs: Vec<(OsString, OsString)>) -> Environ {
        Environ(Arc::new(pairs))
    }

    /// An environment from literal pairs (tests and embedders).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Environ {
        Environ::new(
            pairs
                .iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v)))
                .collect(),
        )
    }

    /// Sets `key` to `value`, replacing an existing value in place.
    pub fn set(&mut self, key: &str, value: impl Into<OsString>) {
        let value = value.into();
        let pairs = Arc::make_mut(&mut self.0);
        match pairs.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => pairs.push((OsString::from(key), value)),
        }
    }

    /// Removes every entry named `key`.
    pub fn remove(&mut self, key: &str) {
        Arc::make_mut(&mut self.0).retain(|(k, _)| k != key);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A clone shares the variables until one side changes them: the other never sees it.
    #[test]
    fn a_change_to_a_clone_leaves_the_original() {
        let base = Environ::from_pairs(&[("HOME", "/h"), ("A", "1"), ("A", "2")]);
        let mut other = base.clone();
        assert!(Arc::ptr_eq(&base.0, &other.0));
        other.set("HOME", "/other");
        other.remove("A");
        assert_eq!(base.get("HOME"), Some("/h".as_ref()));
        assert_eq!(base.get("A"), Some("1".as_ref()));
        assert_eq!(other.get("HOME"), Some("/other".as_ref()));
        assert_eq!(other.get("A"), None);
    }
}

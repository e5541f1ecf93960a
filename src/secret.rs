//! The secret value type: bytes that are wiped on drop and never printed.
//!
//! `Debug` and `Display` show only the length, so a `Secret` that reaches a log line, an error or a
//! panic message reveals nothing. The bytes are reachable only through [`Secret::expose`], which
//! makes every use greppable.
//!
//! A clone shares the bytes (a reference count), so the plan, the templates and the providers
//! can each hold a value without a copy per holder; the bytes are wiped when the last holder
//! drops them.

use std::fmt;
use std::sync::Arc;
use zeroize::Zeroizing;

/// A secret value: raw bytes (not necessarily UTF-8), zeroized on drop, redacted in every print.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<Zeroizing<Vec<u8>>>);

impl Secret {
    /// Wraps bytes that are now owned (and later wiped) by the secret.
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(Arc::new(Zeroizing::new(bytes)))
    }

    /// The raw bytes. Call sites are the only places a value can leave the process.
    pub fn expose(&self) -> &[u8] {
        self.0.as_slice()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A display form that keeps the value hidden: `sk****xx` (its first two and last two
    /// characters) only for printable ASCII values of at least [`SHOWN_FROM`] bytes, so never more
    /// than a sixth of a value; `****` for anything shorter or binary (a 10-character password
    /// would otherwise lose 4 of its characters to a CI log).
    pub fn masked(&self) -> String {
        let v = self.expose();
        if v.len() >= SHOWN_FROM && v.iter().all(|b| b.is_ascii_graphic()) {
            let head = String::from_utf8_lossy(&v[..2]);
            let tail = String::from_utf8_lossy(&v[v.len() - 2..]);
            format!("{head}****{tail}")
        } else {
            "****".to_string()
        }
    }

    /// `check --show-prefix`: the first quarter of a printable ASCII value, at most 8
    /// characters, and nothing of its end (`sk-proj-****`); `****` below 8 bytes or binary.
    pub fn prefix_shown(&self) -> String {
        let v = self.expose();
        if v.len() >= 8 && v.iter().all(|b| b.is_ascii_graphic()) {
            let head = String::from_utf8_lossy(&v[..(v.len() / 4).min(8)]);
            format!("{head}****")
        } else {
            "****".to_string()
        }
    }
}

/// The shortest value [`Secret::masked`] shows any character of.
pub const SHOWN_FROM: usize = 24;

/// A secret holding `s`, for unit tests that feed an answer to a parser.
#[cfg(all(test, feature = "tls"))]
pub(crate) fn text(s: &str) -> Secret {
    Secret::new(s.as_bytes().to_vec())
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<redacted {} bytes>)", self.0.len())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new(b"canary-8f3a1".to_vec());
        assert_eq!(format!("{s:?}"), "Secret(<redacted 12 bytes>)");
        assert_eq!(format!("{s}"), "<redacted>");
    }

    #[test]
    fn masking_shows_at_most_four_characters_of_long_values() {
        assert_eq!(
            Secret::new(b"sk-proj-abcdefghijklmnopxx".to_vec()).masked(),
            "sk****xx"
        );
        // A 10-character password shows nothing; 23 bytes neither; 24 its four characters.
        assert_eq!(Secret::new(b"p@ssw0rd!!".to_vec()).masked(), "****");
        assert_eq!(Secret::new(vec![b'a'; 23]).masked(), "****");
        assert_eq!(Secret::new(vec![b'a'; 24]).masked(), "aa****aa");
        assert_eq!(
            Secret::new(b"sk-proj-abcdefghijklmnopxx".to_vec()).prefix_shown(),
            "sk-pro****"
        );
        assert_eq!(
            Secret::new(b"sk-proj-abcdefghijklmnopqrstuvwxyz0123456789".to_vec()).prefix_shown(),
            "sk-proj-****"
        );
        assert_eq!(Secret::new(b"p@ssw0rd!!".to_vec()).prefix_shown(), "p@****");
        assert_eq!(Secret::new(b"short".to_vec()).prefix_shown(), "****");
        assert_eq!(Secret::new(b"short".to_vec()).masked(), "****");
        assert_eq!(Secret::new(b"with space inside".to_vec()).masked(), "****");
        assert_eq!(Secret::new(vec![0xff; 20]).masked(), "****");
    }
}

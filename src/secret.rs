//! The secret value type: bytes that are wiped on drop and never printed.
//!
//! `Debug` and `Display` show only the length, so a `Secret` that reaches a log line, an error or a
//! panic message reveals nothing. The bytes are reachable only through [`Secret::expose`], which
//! makes every use greppable.

use std::fmt;
use zeroize::Zeroizing;

/// A secret value: raw bytes (not necessarily UTF-8), zeroized on drop, redacted in every print.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Wraps bytes that are now owned (and later wiped) by the secret.
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(Zeroizing::new(bytes))
    }

    /// The raw bytes. Call sites are the only places a value can leave the process.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A display form that keeps the value hidden, as runqy does: `sk****xx` for values of at
    /// least 10 printable ASCII characters, `****` for anything shorter or binary.
    pub fn masked(&self) -> String {
        let v = self.expose();
        let printable = v.iter().all(|b| b.is_ascii_graphic());
        if v.len() >= 10 && printable {
            let head = String::from_utf8_lossy(&v[..2]);
            let tail = String::from_utf8_lossy(&v[v.len() - 2..]);
            format!("{head}****{tail}")
        } else {
            "****".to_string()
        }
    }
}

/// A secret holding `s`, for unit tests that feed an answer to a parser.
#[cfg(test)]
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
    fn masking_shows_at_most_four_characters() {
        assert_eq!(
            Secret::new(b"sk-proj-abcdefxx".to_vec()).masked(),
            "sk****xx"
        );
        assert_eq!(Secret::new(b"short".to_vec()).masked(), "****");
        assert_eq!(Secret::new(b"with space inside".to_vec()).masked(), "****");
        assert_eq!(Secret::new(vec![0xff; 20]).masked(), "****");
    }
}

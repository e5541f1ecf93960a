//! Checks shared by the AWS fuzz targets (included with `#[path]`: each target is its own binary).

use secret_init::fuzzing::aws::Credentials;

/// Whether `needle` (8 bytes or more: shorter ones occur by chance) stands in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.len() >= 8 && hay.windows(needle.len()).any(|w| w == needle)
}

/// Accepted credentials: a key id of ASCII letters and digits, a non-empty secret, and a `Debug`
/// that shows neither the secret nor the session token.
pub fn accepted(c: &Credentials) {
    assert!(!c.access_key_id.is_empty());
    assert!(c.access_key_id.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert!(!c.secret_access_key.is_empty());
    let d = format!("{c:?}");
    assert!(!contains(d.as_bytes(), c.secret_access_key.expose()));
    if let Some(t) = &c.session_token {
        assert!(!contains(d.as_bytes(), t.expose()));
    }
}

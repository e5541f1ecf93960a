//! Lower-case hex, the one encoder: SigV4's digests and signature, `materialize`'s SHA-256s and
//! the earlier contents it keeps for `clean`.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `bytes` as lower-case hex.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// Hex (either case) back to bytes; `None` for an odd length or a non-hex digit.
pub(crate) fn decode(s: &str) -> Option<Vec<u8>> {
    // from_str_radix alone would take a sign: "+1" is not hex.
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(encode(b"\x00\xffa"), "00ff61");
        assert_eq!(decode(&encode(b"\x00\xffa")), Some(b"\x00\xffa".to_vec()));
        assert_eq!(decode("0"), None);
        assert_eq!(decode("zz"), None);
        assert_eq!(decode("+1"), None);
    }
}

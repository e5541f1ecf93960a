//! The forms a program prints a value in, besides the value itself: base64 (standard and
//! URL-safe, at each of the three alignments a value can have inside a longer encoded string),
//! percent-encoding (upper- and lower-case escapes; `/` kept or escaped; a space as `+` in form
//! bodies) and JSON string escaping (`\/` or `/`, non-ASCII raw or as `\uXXXX`, `<>&` raw or as
//! Go's `\u003c`). Every form is a byte string that appears in the output exactly when the
//! value was printed that way; the caller deduplicates them.
//!
//! Base64 of a value inside a longer string depends on the bytes around it only at its edges:
//! with `k` bytes (0, 1 or 2) before it in its 3-byte group, the characters whose 6 bits all
//! come from the value are the stable inner part, and that is what is matched (GitHub Actions'
//! masker does the same). The at most two edge characters on each side that mix in neighbouring
//! bits are left as printed: each carries at most 4 bits of the value.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

/// Every encoded form of `v` this module knows (the raw value not included), each at least
/// one byte long. Forms equal to the raw value or to each other are left to the caller.
pub(crate) fn forms(v: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    let mut out = Vec::new();
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for k in 0..3 {
            if let Some(inner) = base64_inner(engine, v, k) {
                out.push(inner);
            }
        }
    }
    percent(v, &mut out);
    json(v, &mut out);
    out
}

/// The base64 characters of `v` that do not depend on the `k` bytes before it (nor on those
/// after it), when `v` starts `k` bytes into a 3-byte group.
fn base64_inner(
    engine: &base64::engine::GeneralPurpose,
    v: &[u8],
    k: usize,
) -> Option<Zeroizing<Vec<u8>>> {
    let mut padded = Zeroizing::new(vec![0u8; k]);
    padded.extend_from_slice(v);
    let encoded = Zeroizing::new(engine.encode(padded.as_slice()).into_bytes());
    // Character i covers bits [6i, 6i+6); the value's bits are [8k, 8k + 8·len).
    let first = (8 * k).div_ceil(6);
    let end = (8 * (k + v.len())) / 6;
    (end > first).then(|| Zeroizing::new(encoded[first..end].to_vec()))
}

/// Percent-encodings: RFC 3986's unreserved bytes kept and everything else escaped (Python's
/// `quote(v, safe='')`, JavaScript's `encodeURIComponent` but for `!'()*`), the same with `/`
/// kept (Python's `quote(v)` default), and the form encoding with a space as `+`
/// (`quote_plus`, `urlencode`); each with upper- and lower-case hex digits.
fn percent(v: &[u8], out: &mut Vec<Zeroizing<Vec<u8>>>) {
    for (keep_slash, space_plus) in [(false, false), (true, false), (false, true)] {
        for upper in [true, false] {
            let mut s = Zeroizing::new(Vec::with_capacity(v.len() * 3));
            for &b in v {
                let unreserved = b.is_ascii_alphanumeric() || b"-_.~".contains(&b);
                if unreserved || (keep_slash && b == b'/') {
                    s.push(b);
                } else if space_plus && b == b' ' {
                    s.push(b'+');
                } else {
                    s.push(b'%');
                    s.push(hex_digit(b >> 4, upper));
                    s.push(hex_digit(b & 0xf, upper));
                }
            }
            out.push(s);
        }
    }
}

fn hex_digit(n: u8, upper: bool) -> u8 {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    digits[usize::from(n & 0xf)]
}

/// JSON string escapings (the content between the quotes), for a UTF-8 value: `"`, `\` and the
/// control characters always escaped (`\n`, `\t`, ... and `\u00XX`, as serde_json, Python and
/// JavaScript write them); `/` raw or `\/` (PHP); non-ASCII raw (serde_json, `ensure_ascii=False`)
/// or `\uXXXX` with surrogate pairs (Python's default), lower or upper hex; `<`, `>`, `&` raw or
/// `\u003c` (Go's encoding/json). A value that is not UTF-8 cannot appear in JSON as itself.
fn json(v: &[u8], out: &mut Vec<Zeroizing<Vec<u8>>>) {
    let Ok(text) = std::str::from_utf8(v) else {
        return;
    };
    for slash in [false, true] {
        for non_ascii in [None, Some(false), Some(true)] {
            for html in [false, true] {
                let mut s = Zeroizing::new(Vec::with_capacity(v.len() + 8));
                for c in text.chars() {
                    json_char(&mut s, c, slash, non_ascii, html);
                }
                out.push(s);
            }
        }
    }
}

fn json_char(s: &mut Vec<u8>, c: char, slash: bool, non_ascii: Option<bool>, html: bool) {
    let u = |s: &mut Vec<u8>, unit: u16, upper: bool| {
        s.extend_from_slice(b"\\u");
        for shift in [12, 8, 4, 0] {
            s.push(hex_digit(((unit >> shift) & 0xf) as u8, upper));
        }
    };
    match c {
        '"' => s.extend_from_slice(b"\\\""),
        '\\' => s.extend_from_slice(b"\\\\"),
        '\n' => s.extend_from_slice(b"\\n"),
        '\r' => s.extend_from_slice(b"\\r"),
        '\t' => s.extend_from_slice(b"\\t"),
        '\u{8}' => s.extend_from_slice(b"\\b"),
        '\u{c}' => s.extend_from_slice(b"\\f"),
        '/' if slash => s.extend_from_slice(b"\\/"),
        '<' | '>' | '&' if html => u(s, c as u16, false),
        c if (c as u32) < 0x20 => u(s, c as u16, false),
        c if !c.is_ascii() && non_ascii.is_some() => {
            let upper = non_ascii == Some(true);
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                u(s, *unit, upper);
            }
        }
        c => {
            let mut buf = [0u8; 4];
            s.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(v: &[u8], form: &[u8]) -> bool {
        forms(v).iter().any(|f| f.as_slice() == form)
    }

    #[test]
    fn base64_inner_parts_are_inside_every_alignment() {
        let v = b"hf_AbCdEfGhIjKlMnOp0123456789";
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            for before in [&b""[..], b"x", b"xy", b"xyz", b"{\"token\":\""] {
                for after in [&b""[..], b"!", b"!!", b"\"}"] {
                    let whole = [before, &v[..], after].concat();
                    let enc = engine.encode(&whole);
                    let inner = base64_inner(engine, v, before.len() % 3).expect("long enough");
                    assert!(
                        enc.as_bytes()
                            .windows(inner.len())
                            .any(|w| w == inner.as_slice()),
                        "{before:?} {after:?}"
                    );
                    // The edges lose at most 2 characters on each side.
                    assert!(inner.len() + 4 >= v.len() * 4 / 3);
                }
            }
        }
    }

    #[test]
    fn percent_forms() {
        let v = b"a b/c+d=";
        assert!(has(v, b"a%20b%2Fc%2Bd%3D"));
        assert!(has(v, b"a%20b%2fc%2bd%3d"));
        assert!(has(v, b"a%20b/c%2Bd%3D"));
        assert!(has(v, b"a+b%2Fc%2Bd%3D"));
    }

    #[test]
    fn json_forms_match_real_encoders() {
        let v = "p\"a\\s/s\u{e9}\u{1F600}<\n\u{1}";
        let serde = serde_json::to_string(v).expect("json");
        assert!(has(v.as_bytes(), &serde.as_bytes()[1..serde.len() - 1]));
        // Python's json.dumps (ensure_ascii=True): lower-case \u escapes, surrogate pairs.
        assert!(has(
            v.as_bytes(),
            b"p\\\"a\\\\s/s\\u00e9\\ud83d\\ude00<\\n\\u0001"
        ));
        // PHP: \/ and upper-case escapes; Go: \u003c.
        assert!(has(
            v.as_bytes(),
            b"p\\\"a\\\\s\\/s\\u00E9\\uD83D\\uDE00<\\n\\u0001"
        ));
        assert!(has(
            v.as_bytes(),
            "p\\\"a\\\\s/s\u{e9}\u{1F600}\\u003c\\n\\u0001".as_bytes()
        ));
        // Not UTF-8: no JSON form.
        assert!(forms(b"\xff\xfe abcdefgh").len() == 6 + 6);
    }
}

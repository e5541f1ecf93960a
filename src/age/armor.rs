//! age's ASCII armor: `-----BEGIN AGE ENCRYPTED FILE-----`, standard base64 with padding in
//! lines of 64 columns (the last one shorter or equal), `-----END AGE ENCRYPTED FILE-----`.
//! Whitespace around the whole is allowed, as age's own reader allows it; inside it is strict.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::AgeError;

const BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";
const END: &str = "-----END AGE ENCRYPTED FILE-----";

/// Whether `file` is armored (after leading whitespace).
pub(crate) fn is_armored(file: &[u8]) -> bool {
    file.trim_ascii_start().starts_with(BEGIN.as_bytes())
}

/// The binary file inside an armor.
pub(crate) fn decode(file: &[u8]) -> Result<Vec<u8>, AgeError> {
    let bad = AgeError::Malformed;
    let text = std::str::from_utf8(file.trim_ascii()).map_err(|_| bad("armor is not text"))?;
    let mut lines = text.lines().map(|l| l.strip_suffix('\r').unwrap_or(l));
    if lines.next() != Some(BEGIN) {
        return Err(bad("no armor header"));
    }
    let mut b64 = String::with_capacity(text.len());
    let mut ended = false;
    let mut short = false;
    for l in lines {
        if l == END {
            ended = true;
            continue;
        }
        if ended || short || l.len() > 64 {
            return Err(bad("malformed armor"));
        }
        short = l.len() < 64;
        b64.push_str(l);
    }
    if !ended {
        return Err(bad("armor without an end line"));
    }
    STANDARD
        .decode(b64)
        .map_err(|_| bad("armor body is not base64"))
}

/// `file` armored.
#[cfg(test)]
pub(crate) fn encode(file: &[u8]) -> String {
    let b64 = STANDARD.encode(file);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 80);
    out.push_str(BEGIN);
    out.push('\n');
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(END);
    out.push('\n');
    out
}

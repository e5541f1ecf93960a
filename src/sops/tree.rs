//! The tree of a SOPS file as sops itself holds it: maps as ordered lists of items (comments
//! included, in document order), lists, and scalars typed as Go's readers type them, so that the
//! MAC hashes exactly the bytes sops hashed (`ToBytes` in sops.go).

use zeroize::Zeroizing;

/// The deepest tree read (maps and lists nested); deeper files are refused before any work.
pub(crate) const MAX_DEPTH: usize = 64;

/// A node of the tree.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    /// A mapping: its items in document order.
    Map(Vec<Item>),
    /// A sequence: its elements in document order (comments are elements too, as in sops).
    List(Vec<Node>),
    /// A scalar value.
    Scalar(Scalar),
    /// A comment (its text after `#`), in a list or as a map item's key.
    Comment(String),
    /// `null`, `~` or nothing: sops skips it (never encrypted, never hashed).
    Null,
}

/// A map item: a key and its value, or a comment.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Item {
    /// `key: value`.
    Entry(String, Node),
    /// A comment line among the items.
    Comment(String),
}

/// A scalar, typed as Go's YAML or JSON reader types it.
#[derive(Clone, PartialEq)]
pub(crate) enum Scalar {
    /// A string (an encrypted value is one too, `ENC[...]`). Wiped when dropped.
    Str(Zeroizing<String>),
    /// A decrypted string that is not UTF-8 (a binary file's data). Wiped when dropped.
    Bytes(Zeroizing<Vec<u8>>),
    /// An integer (`0755` read as 493, `0x1F` as 31, as Go's yaml.v3 reads them).
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl std::fmt::Debug for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scalar(<redacted>)")
    }
}

impl Scalar {
    /// A string scalar.
    pub(crate) fn str(s: impl Into<String>) -> Scalar {
        Scalar::Str(Zeroizing::new(s.into()))
    }

    /// The bytes sops hashes for it (`ToBytes`): Go's `strconv.Itoa`, `FormatFloat(f, 'f', -1)`,
    /// and `True`/`False`.
    pub(crate) fn mac_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(match self {
            Scalar::Str(s) => s.as_bytes().to_vec(),
            Scalar::Bytes(b) => b.to_vec(),
            Scalar::Int(i) => i.to_string().into_bytes(),
            Scalar::Float(f) => go_float(*f).into_bytes(),
            Scalar::Bool(true) => b"True".to_vec(),
            Scalar::Bool(false) => b"False".to_vec(),
        })
    }

    /// The value delivered: the same text, except booleans as `true`/`false` (what `sops
    /// --decrypt` writes).
    pub(crate) fn delivered(&self) -> Zeroizing<Vec<u8>> {
        match self {
            Scalar::Bool(b) => Zeroizing::new(b.to_string().into_bytes()),
            other => other.mac_bytes(),
        }
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest decimal that reads back, never an
/// exponent (Rust's `Display` for f64 is the same), and Go's names for the special values.
pub(crate) fn go_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{f}")
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`: a sign, then `0x`, `0o`, `0b` or a leading `0` (octal), or
/// decimal; `None` where Go fails (out of range included).
pub(crate) fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = if let Some(b) = lower.strip_prefix("0x") {
        (16, b)
    } else if let Some(b) = lower.strip_prefix("0o") {
        (8, b)
    } else if let Some(b) = lower.strip_prefix("0b") {
        (2, b)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let magnitude = u64::from_str_radix(body, radix).ok()?;
    if neg {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Go yaml.v3's reading of a plain (unquoted, untagged) scalar into `interface{}`: null, the
/// booleans and special floats of its table, timestamps (as Go's `time.Time`, hashed in its
/// RFC 3339 text), integers (`_` ignored, any base `ParseInt` takes), floats of YAML's form;
/// everything else stays a string.
pub(crate) fn resolve_plain(s: &str) -> Node {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Node::Null,
        "true" | "True" | "TRUE" => return Node::Scalar(Scalar::Bool(true)),
        "false" | "False" | "FALSE" => return Node::Scalar(Scalar::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Node::Scalar(Scalar::Float(f64::INFINITY));
        }
        "-.inf" | "-.Inf" | "-.INF" => return Node::Scalar(Scalar::Float(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return Node::Scalar(Scalar::Float(f64::NAN)),
        _ => {}
    }
    let first = s.as_bytes()[0];
    if first == b'.' {
        if let Some(f) = go_decimal_float(s) {
            return Node::Scalar(Scalar::Float(f));
        }
    } else if first.is_ascii_digit() || first == b'+' || first == b'-' {
        if let Some(t) = go_timestamp(s) {
            return Node::Scalar(Scalar::str(t));
        }
        let plain = s.replace('_', "");
        if let Some(i) = go_parse_int(&plain) {
            return Node::Scalar(Scalar::Int(i));
        }
        if is_yaml_float(&plain)
            && let Some(f) = go_decimal_float(&plain)
        {
            return Node::Scalar(Scalar::Float(f));
        }
    }
    Node::Scalar(Scalar::str(s))
}

/// A timestamp as yaml.v3 reads it (Go layouts `2006-1-2T15:4:5.999999999Z07:00`, the same with
/// `t`, `2006-1-2 15:4:5.999999999` in UTC, and `2006-1-2`), written back as Go's
/// `time.MarshalText` writes it (RFC 3339, nanoseconds without trailing zeros); `None` when Go's
/// `time.Parse` would fail.
pub(crate) fn go_timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let mut i = 0;
    let num = |i: &mut usize, min: usize, max: usize| -> Option<u32> {
        let start = *i;
        while *i < b.len() && *i - start < max && b[*i].is_ascii_digit() {
            *i += 1;
        }
        if *i - start < min {
            return None;
        }
        s[start..*i].parse().ok()
    };
    let year = num(&mut i, 4, 4)?;
    let expect = |i: &mut usize, c: u8| -> Option<()> { (b.get(*i) == Some(&c)).then(|| *i += 1) };
    expect(&mut i, b'-')?;
    let month = num(&mut i, 1, 2)?;
    expect(&mut i, b'-')?;
    let day = num(&mut i, 1, 2)?;
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) || day < 1 || day > days[month as usize - 1] {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    if i == b.len() {
        return Some(format!("{date}T00:00:00Z"));
    }
    let zoned = match b[i] {
        b'T' | b't' => true,
        b' ' => false,
        _ => return None,
    };
    i += 1;
    let hour = num(&mut i, 1, 2)?;
    expect(&mut i, b':')?;
    let min = num(&mut i, 1, 2)?;
    expect(&mut i, b':')?;
    let sec = num(&mut i, 1, 2)?;
    if hour > 23 || min > 59 || sec > 59 {
        return None;
    }
    let mut frac = String::new();
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start || i - start > 9 {
            return None;
        }
        frac = s[start..i].trim_end_matches('0').to_string();
    }
    let zone = if zoned {
        match b.get(i) {
            Some(b'Z') => {
                i += 1;
                "Z".to_string()
            }
            Some(sign @ (b'+' | b'-')) => {
                i += 1;
                let zh = num(&mut i, 2, 2)?;
                expect(&mut i, b':')?;
                let zm = num(&mut i, 2, 2)?;
                if zh > 23 || zm > 59 {
                    return None;
                }
                if zh == 0 && zm == 0 {
                    "Z".to_string()
                } else {
                    format!("{}{zh:02}:{zm:02}", *sign as char)
                }
            }
            _ => return None,
        }
    } else {
        "Z".to_string()
    };
    if i != b.len() {
        return None;
    }
    let frac = if frac.is_empty() {
        frac
    } else {
        format!(".{frac}")
    };
    Some(format!("{date}T{hour:02}:{min:02}:{sec:02}{frac}{zone}"))
}

/// yaml.v3's `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// A decimal float as Go's `ParseFloat` reads it (digits, one dot, an exponent; no names, no hex).
fn go_decimal_float(s: &str) -> Option<f64> {
    let ok = s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    ok.then(|| s.parse::<f64>().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(s: &str) -> String {
        match resolve_plain(s) {
            Node::Scalar(v) => String::from_utf8(v.mac_bytes().to_vec()).expect("utf8"),
            Node::Null => "<null>".into(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn scalars_read_as_go_yaml_v3_reads_them() {
        for (yaml, bytes) in [
            ("0755", "493"),
            ("0o17", "15"),
            ("0x1F", "31"),
            ("0b101", "5"),
            ("1_000", "1000"),
            ("+5", "5"),
            ("-0", "0"),
            ("1.50", "1.5"),
            ("1e3", "1000"),
            (".5", "0.5"),
            ("1.", "1"),
            ("3.0", "3"),
            ("1e-7", "0.0000001"),
            (".inf", "+Inf"),
            ("-.Inf", "-Inf"),
            (".nan", "NaN"),
            ("true", "True"),
            ("False", "False"),
            ("yes", "yes"),
            ("on", "on"),
            ("2024-01-02", "2024-01-02T00:00:00Z"),
            ("2024-1-2", "2024-01-02T00:00:00Z"),
            (
                "2001-12-14t21:59:43.10-05:00",
                "2001-12-14T21:59:43.1-05:00",
            ),
            ("2001-12-14 21:59:43.10", "2001-12-14T21:59:43.1Z"),
            ("2001-12-14T21:59:43+00:00", "2001-12-14T21:59:43Z"),
            ("2001-12-14 21:59:43.10 -5", "2001-12-14 21:59:43.10 -5"),
            ("2023-02-29", "2023-02-29"),
            ("09", "9"),
            ("0x", "0x"),
            ("1e", "1e"),
            ("9223372036854775807", "9223372036854775807"),
            ("-9223372036854775808", "-9223372036854775808"),
            ("~", "<null>"),
            ("null", "<null>"),
        ] {
            assert_eq!(mac(yaml), bytes, "{yaml}");
        }
        assert_eq!(go_float(1e21), "1000000000000000000000");
    }
}

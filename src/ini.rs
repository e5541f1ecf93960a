//! The one INI line reader, as Python's configparser (which botocore and the Azure CLI use)
//! reads the files secret-init reads and edits: `[section]` headers, `key = value` or
//! `key: value` pairs split at the first `=` or `:`, `#` and `;` comment lines, and indented
//! continuation lines (a nested `s3 =` block), which belong to the key above and are not pairs.
//! Reading the AWS shared files (`source::aws::credentials`) and editing them in place
//! (`provider::ini`) both go through [`line`], so the two never disagree on what a line is.

/// What one line of an INI file is. Byte slices, trimmed; values stay bytes (they may be keys).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    /// `[name]`.
    Section(&'a [u8]),
    /// `key = value`.
    Pair(&'a [u8], &'a [u8]),
    /// Blank, a comment, a continuation line, or anything else: not a header or a pair.
    Other,
}

/// Classifies one line (without its `\n`; a trailing `\r` is ignored).
pub(crate) fn line(l: &[u8]) -> Line<'_> {
    let l = l.strip_suffix(b"\r").unwrap_or(l);
    if l.starts_with(b" ") || l.starts_with(b"\t") {
        return Line::Other;
    }
    let t = l.trim_ascii();
    if t.is_empty() || t.starts_with(b"#") || t.starts_with(b";") {
        return Line::Other;
    }
    if let Some(rest) = t.strip_prefix(b"[") {
        return match rest.strip_suffix(b"]") {
            Some(name) => Line::Section(name.trim_ascii()),
            None => Line::Other,
        };
    }
    match t.iter().position(|&b| b == b'=' || b == b':') {
        Some(at) => Line::Pair(t[..at].trim_ascii(), t[at + 1..].trim_ascii()),
        None => Line::Other,
    }
}

/// [`line`] for text: the header's name, or the pair, as `&str` (the split points are ASCII,
/// so the pieces of valid UTF-8 stay valid).
pub(crate) fn text_line(l: &str) -> Line<'_> {
    line(l.as_bytes())
}

/// A piece of a [`text_line`] back as text.
pub(crate) fn as_text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_as_configparser_reads_them() {
        assert_eq!(line(b"[default]"), Line::Section(b"default"));
        assert_eq!(line(b"[ profile dev ]\r"), Line::Section(b"profile dev"));
        assert_eq!(
            line(b"aws_access_key_id = AKIA"),
            Line::Pair(b"aws_access_key_id", b"AKIA")
        );
        assert_eq!(
            line(b"region: eu-west-1"),
            Line::Pair(b"region", b"eu-west-1")
        );
        assert_eq!(
            line(b"url = https://x?a=b"),
            Line::Pair(b"url", b"https://x?a=b")
        );
        for other in [
            &b""[..],
            b"   ",
            b"# comment",
            b"; comment",
            b"  max_concurrent_requests = 20",
            b"\tnested = 1",
            b"[unterminated",
            b"no separator",
        ] {
            assert_eq!(
                line(other),
                Line::Other,
                "{}",
                String::from_utf8_lossy(other)
            );
        }
        assert_eq!(as_text(b"caf\xc3\xa9"), "café");
    }
}

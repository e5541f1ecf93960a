//! URLs as secret-init shows and builds them, with no HTTP client: the one percent-encoder's
//! sets (form values, SigV4, the `urlencode` template filter), loopback hosts, and URLs as logs
//! and errors may show them (never userinfo or a query).

use std::net::IpAddr;

/// RFC 3986's unreserved bytes (`A-Z a-z 0-9 - _ . ~`) kept, every other byte as `%XX` (upper
/// case): how botocore and the Google and Azure SDKs write form and query values (Python's
/// `quote(v, safe='~')`), SigV4's canonical query, and the `urlencode` template filter.
pub(crate) const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// [`UNRESERVED`] with `/` kept too: SigV4's canonical path.
#[cfg(feature = "aws")]
pub(crate) const PATH: &percent_encoding::AsciiSet = &UNRESERVED.remove(b'/');

/// Appends `v` percent-encoded with [`UNRESERVED`].
#[cfg(feature = "tls")]
pub(crate) fn form_encode(out: &mut Vec<u8>, v: &[u8]) {
    for chunk in percent_encoding::percent_encode(v, UNRESERVED) {
        out.extend_from_slice(chunk.as_bytes());
    }
}

/// Whether `host` (as in a URL authority) is a loopback address or `localhost`.
pub(crate) fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A URL as shown in logs and errors: scheme, host, port and path; never userinfo, query or
/// fragment. Read by hand (no URL crate in the core build): `scheme://[userinfo@]authority[/path]`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<invalid URL>".into();
    };
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return "<invalid URL>".into();
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return "<invalid URL>".into();
    }
    let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
    let path = if path_end == 0 {
        "/"
    } else {
        &tail[..path_end]
    };
    let query = if tail[path_end..].starts_with('?') {
        "?…"
    } else {
        ""
    };
    format!("{}://{host}{path}{query}", scheme.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_query_or_userinfo() {
        assert_eq!(
            redact_url("https://u:p@h.example:9/b/k?X-Amz-Signature=abc"),
            "https://h.example:9/b/k?…"
        );
        assert_eq!(redact_url("https://h/v1/x"), "https://h/v1/x");
    }

    #[test]
    fn loopback_hosts() {
        for h in ["localhost", "127.0.0.1", "[::1]", "127.1.2.3", "LOCALHOST"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["example.com", "10.0.0.1", "[::2]", "localhost.example"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    #[cfg(feature = "aws")]
    fn percent_sets() {
        let mut out = Vec::new();
        form_encode(&mut out, b"a b/c=~");
        assert_eq!(out, b"a%20b%2Fc%3D~");
        assert_eq!(
            percent_encoding::utf8_percent_encode("/a b/~", PATH).to_string(),
            "/a%20b/~"
        );
    }
}

//! Which requests go through an HTTP proxy, and which proxy: `HTTPS_PROXY`, `HTTP_PROXY` and
//! `NO_PROXY` (upper case first, then lower case, as Go's `net/http` reads them) from secret-init's
//! own start-time environment.
//!
//! The rules, those of Go's `httpproxy` package and curl where they agree:
//! - an `https://` URL uses `HTTPS_PROXY`, an `http://` URL `HTTP_PROXY`; an empty value is unset;
//!   a value without a scheme is `http://`. Only `http://` proxies are supported: TLS to the
//!   server stays end to end through a `CONNECT` tunnel, with the client's own trust settings.
//! - `NO_PROXY` is a comma-separated list: `*` (no proxy at all); an IP address or a CIDR block
//!   (`10.0.0.0/8`, `fd00::/8`) matched against an IP literal host; a name, with or without a
//!   leading `.` or `*.`, matching that name and every name under it (`example.com` covers
//!   `vault.example.com`); either with a `:port` to match that port only.
//! - never proxied, whatever the variables say: `localhost`, loopback and link-local addresses
//!   (Go's rule; link-local is where the cloud metadata and container-credential endpoints live),
//!   and every client the caller built without [`Proxies::from_env`] (those endpoints' own).
//!
//! Credentials in the proxy URL (`http://user:pass@proxy:3128`, percent-encoded) are sent as
//! `Proxy-Authorization: Basic`; the URL is only ever shown without them.

use std::fmt;
use std::net::IpAddr;

use ureq::http::Uri;

use crate::environ::Environ;
use crate::error::{Error, Kind};

/// The proxy settings read from the environment: the raw values, checked on first use.
#[derive(Clone, Default)]
pub(crate) struct Proxies {
    /// `(variable name, value)` for https URLs.
    https: Option<(&'static str, String)>,
    /// `(variable name, value)` for http URLs.
    http: Option<(&'static str, String)>,
    no_proxy: Vec<String>,
}

/// The proxy one request goes through.
pub(crate) struct Route {
    /// The proxy for ureq (with its credentials).
    pub proxy: ureq::Proxy,
    /// `http://host:port` (credentials shown as `***@`): for errors and logs.
    pub shown: String,
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for Proxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<(&'static str, String)>| v.as_ref().map(|(_, v)| redact(v));
        f.debug_struct("Proxies")
            .field("https", &show(&self.https))
            .field("http", &show(&self.http))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

impl Proxies {
    /// The settings in `env` (never read again later: the start-time environment is the one).
    pub(crate) fn from_env(env: &Environ) -> Proxies {
        let pick = |names: [&'static str; 2]| {
            names
                .into_iter()
                .find_map(|n| env.text(n).map(|v| (n, v.trim().to_string())))
                .filter(|(_, v)| !v.is_empty())
        };
        Proxies {
            https: pick(["HTTPS_PROXY", "https_proxy"]),
            http: pick(["HTTP_PROXY", "http_proxy"]),
            no_proxy: pick(["NO_PROXY", "no_proxy"])
                .map(|(_, v)| {
                    v.split(',')
                        .map(|e| e.trim().to_ascii_lowercase())
                        .filter(|e| !e.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The proxy for `uri`, or `None` to connect directly. A proxy URL that cannot be used is a
    /// configuration error (78) naming the variable, never its value.
    pub(crate) fn route(&self, uri: &Uri) -> Result<Option<Route>, Error> {
        let chosen = match uri.scheme_str() {
            Some("https") => &self.https,
            _ => &self.http,
        };
        let Some((name, value)) = chosen else {
            return Ok(None);
        };
        let host = uri.host().unwrap_or_default();
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        if never_proxied(host) || self.bypassed(host, port) {
            return Ok(None);
        }
        let shown = redact(value);
        let bad = |why: &str| Error::new(Kind::Config, format!("{name} ({shown}): {why}"));
        let parsed: Uri = value.parse().map_err(|_| bad("not a valid proxy URL"))?;
        match parsed.scheme_str() {
            None | Some("http") => {}
            Some(other) => {
                return Err(bad(&format!(
                    "{other}:// proxies are not supported (use an http:// proxy; TLS to the server stays end to end through CONNECT)"
                )));
            }
        }
        if parsed.host().is_none_or(str::is_empty) {
            return Err(bad("no host in the proxy URL"));
        }
        let proxy = ureq::Proxy::new(value).map_err(|_| {
            bad("not a valid proxy URL (percent-encode reserved characters in the user and password)")
        })?;
        Ok(Some(Route { proxy, shown }))
    }

    /// Whether a `NO_PROXY` entry covers `host:port`.
    fn bypassed(&self, host: &str, port: u16) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        self.no_proxy.iter().any(|entry| {
            if entry == "*" {
                return true;
            }
            if let Some(ip) = ip
                && let Some(hit) = ip_entry(entry, ip)
            {
                return hit;
            }
            let (name, want_port) = split_port(entry);
            if want_port.is_some_and(|p| p != port) {
                return false;
            }
            let name = name
                .trim_start_matches("*.")
                .trim_start_matches('.')
                .trim_end_matches('.');
            !name.is_empty()
                && (host == name
                    || host
                        .strip_suffix(name)
                        .is_some_and(|rest| rest.ends_with('.')))
        })
    }
}

/// `localhost`, loopback and link-local hosts: never through a proxy.
fn never_proxied(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.eq_ignore_ascii_case("localhost") || bare.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback() || v4.is_link_local(),
        Ok(IpAddr::V6(v6)) => {
            v6.is_loopback()
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                // AWS's IPv6 instance metadata and container-credential addresses.
                || v6.segments()[..4] == [0xfd00, 0x0ec2, 0, 0]
        }
        Err(_) => false,
    }
}

/// For an IP-address host: `Some(matched)` when `entry` is an address or a CIDR block (with or
/// without brackets), `None` when it is a name.
fn ip_entry(entry: &str, ip: IpAddr) -> Option<bool> {
    let entry = entry.trim_start_matches('[').trim_end_matches(']');
    if let Ok(e) = entry.parse::<IpAddr>() {
        return Some(e == ip);
    }
    let (net, bits) = entry.split_once('/')?;
    let net: IpAddr = net.parse().ok()?;
    let bits: u32 = bits.parse().ok()?;
    Some(match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    })
}

/// `name:port` into its parts (a bracketed IPv6 entry keeps its colons).
fn split_port(entry: &str) -> (&str, Option<u16>) {
    match entry.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') || name.ends_with(']') => {
            match port.parse::<u16>() {
                Ok(p) => (name, Some(p)),
                Err(_) => (entry, None),
            }
        }
        _ => (entry, None),
    }
}

/// A proxy URL as shown: scheme, host and port, any credentials replaced by `***@`.
fn redact(value: &str) -> String {
    let (scheme, rest) = match value.split_once("://") {
        Some((s, r)) => (s, r),
        None => ("http", value),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    match authority.rsplit_once('@') {
        Some((_, hostport)) => format!("{scheme}://***@{hostport}"),
        None => format!("{scheme}://{authority}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn proxies(vars: &[(&str, &str)]) -> Proxies {
        Proxies::from_env(&Environ::new(
            vars.iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v)))
                .collect(),
        ))
    }

    fn via(p: &Proxies, url: &str) -> Option<String> {
        p.route(&url.parse().expect("uri"))
            .expect("route")
            .map(|r| r.shown)
    }

    #[test]
    fn scheme_picks_the_variable_and_upper_case_wins() {
        let p = proxies(&[
            ("HTTPS_PROXY", "http://up:3128"),
            ("https_proxy", "http://low:3128"),
            ("http_proxy", "plain:8080"),
        ]);
        assert_eq!(via(&p, "https://h/x").as_deref(), Some("http://up:3128"));
        assert_eq!(via(&p, "http://h/x").as_deref(), Some("http://plain:8080"));
        assert_eq!(via(&proxies(&[]), "https://h/"), None);
        assert_eq!(via(&proxies(&[("HTTPS_PROXY", "")]), "https://h/"), None);
    }

    #[test]
    fn no_proxy_names_suffixes_ports_and_cidrs() {
        let p = proxies(&[
            ("HTTPS_PROXY", "http://p:3128"),
            (
                "no_proxy",
                " Example.COM, .corp.test,*.wild.test, api.test:8443, 10.0.0.0/8, 192.168.1.7, [fd00::1], fc00::/7",
            ),
        ]);
        for direct in [
            "https://example.com/",
            "https://vault.example.com/",
            "https://corp.test/",
            "https://a.b.corp.test/",
            "https://x.wild.test/",
            "https://api.test:8443/",
            "https://10.1.2.3/",
            "https://192.168.1.7/",
            "https://[fd00::1]/",
            "https://[fd12::5]/",
        ] {
            assert_eq!(via(&p, direct), None, "{direct}");
        }
        for proxied in [
            "https://notexample.com/",
            "https://example.com.evil/",
            "https://api.test/",
            "https://11.0.0.1/",
            "https://192.168.1.8/",
            "https://[fe00::1]/",
        ] {
            assert!(via(&p, proxied).is_some(), "{proxied}");
        }
        assert_eq!(
            via(
                &proxies(&[("HTTPS_PROXY", "p:1"), ("NO_PROXY", "*")]),
                "https://h/"
            ),
            None
        );
    }

    #[test]
    fn loopback_and_link_local_are_never_proxied() {
        let p = proxies(&[("HTTPS_PROXY", "p:1"), ("HTTP_PROXY", "p:1")]);
        for url in [
            "https://localhost:8200/",
            "https://127.0.0.1:8200/",
            "https://[::1]/",
            "http://169.254.169.254/latest/api/token",
            "http://169.254.170.2/v2/credentials",
            "http://[fd00:ec2::254]/latest",
            "http://[fe80::1]/",
        ] {
            assert_eq!(via(&p, url), None, "{url}");
        }
    }

    #[test]
    fn credentials_are_never_shown() {
        let p = proxies(&[("HTTPS_PROXY", "http://u%40x:s3cr%2Ft@proxy.corp:3128/")]);
        let shown = format!("{:?} {}", p, via(&p, "https://h/").expect("proxied"));
        assert!(!shown.contains("s3cr"), "{shown}");
        assert!(!shown.contains("u%40x"), "{shown}");
        assert!(shown.contains("http://***@proxy.corp:3128"), "{shown}");
        let r = p.route(&"https://h/".parse().expect("uri")).expect("ok");
        let proxy = r.expect("proxied").proxy;
        assert_eq!(proxy.username(), Some("u@x"));
        assert_eq!(proxy.password(), Some("s3cr/t"));
    }

    #[test]
    fn unusable_proxies_are_config_errors_without_the_value() {
        for bad in [
            "socks5://u:pw@p:1080",
            "https://u:pw@p:3128",
            "http://u:pw@:3128",
        ] {
            let e = proxies(&[("HTTPS_PROXY", bad)])
                .route(&"https://h/".parse().expect("uri"))
                .expect_err(bad);
            assert_eq!(e.exit_code(), 78, "{e}");
            assert!(e.what.starts_with("HTTPS_PROXY"), "{e}");
            assert!(!e.what.contains("pw"), "{e}");
        }
    }
}

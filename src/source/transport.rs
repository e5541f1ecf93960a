//! What the remote sources' sections share: YAML scalars kept as text ([`ScalarText`]),
//! durations, retries, the one merge of an option (command line > env twin > file), and the
//! transport keys (`ca_cert`, `timeout`, `deadline`, `retries`: [`RawTransport`] as written,
//! [`Transport`] typed), each checked by one function with one message.

// A build with only some of the remote sources uses only part of what they share: the rest is
// dead code there, and only there.
#![cfg_attr(
    not(all(feature = "vault", feature = "aws", feature = "gcp", feature = "azure")),
    allow(dead_code)
)]

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::section::TakeKey;
use crate::cli::merge::text;
use crate::error::{Error, Kind};

/// A YAML scalar kept as its text, whether written as a number (`2`, `1.5`) or a word (`auto`,
/// `5s`). A hand-written visitor instead of `#[serde(untagged)]`, which buffers every value and
/// costs tens of KB of code in the static binary.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarText(pub String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ScalarText;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or a word")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A source's timeout or deadline (see [`crate::duration`]): more than 0, at most an hour.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    crate::duration::parse(s, Duration::from_secs(3600)).filter(|d| !d.is_zero())
}

/// What a bad duration is told: `AT: expected a duration like …`.
pub(crate) const EXPECTED_DURATION: &str =
    "expected a duration like 5s, 500ms or 0.01h (more than 0, at most 1 hour)";

/// What a bad retry count is told.
pub(crate) const EXPECTED_RETRIES: &str = "expected 0..=20";

/// The most retries any source makes after the first attempt.
const MAX_RETRIES: u32 = 20;

/// Checks a retry count (`None` past the limit).
pub(crate) fn retries(n: u32) -> Option<u32> {
    (n <= MAX_RETRIES).then_some(n)
}

/// `AT: WHAT` as a config error (78).
pub(crate) fn config(at: &str, what: &str) -> Error {
    Error::new(Kind::Config, format!("{at}: {what}"))
}

/// `secret_init.SECTION.KEY` as a duration, `default` when absent (78 when malformed).
pub(crate) fn duration(
    section: &str,
    t: Option<&ScalarText>,
    key: &str,
    default: Duration,
) -> Result<Duration, Error> {
    match t {
        None => Ok(default),
        Some(t) => parse_duration(&t.0)
            .ok_or_else(|| config(&format!("{section}.{key}"), EXPECTED_DURATION)),
    }
}

/// `secret_init.SECTION.retries`, `default` when absent (78 past the limit).
pub(crate) fn file_retries(section: &str, n: Option<u32>, default: u32) -> Result<u32, Error> {
    match n {
        None => Ok(default),
        Some(n) => {
            retries(n).ok_or_else(|| config(&format!("{section}.retries"), EXPECTED_RETRIES))
        }
    }
}

/// One option merged, command line > env twin > file: `picked` is what `cli::merge::pick` found
/// (parsed by `parse`; 64 naming where it came from), else the section's value `file` (checked
/// by `check`; 78 naming `at`, the whole `secret_init.SECTION.KEY`); `None` when neither is set.
/// Every failure says `WHERE: EXPECTED`.
pub(crate) fn layered<F, T>(
    picked: Option<(OsString, String)>,
    parse: impl Fn(&str) -> Option<T>,
    file: Option<F>,
    check: impl Fn(F) -> Option<T>,
    at: &str,
    expected: &str,
) -> Result<Option<T>, Error> {
    if let Some((v, origin)) = picked {
        let v = text(v, &origin)?;
        return match parse(&v) {
            Some(t) => Ok(Some(t)),
            None => Err(Error::new(Kind::Usage, format!("{origin}: {expected}"))),
        };
    }
    match file {
        None => Ok(None),
        Some(f) => check(f).map(Some).ok_or_else(|| config(at, expected)),
    }
}

/// The transport keys of a remote source's section as written (nested in it: see
/// [`remote_section!`]).
#[derive(Debug, Default)]
pub struct RawTransport {
    /// PEM CA bundle for the endpoints (else `SSL_CERT_FILE`, else the system bundle).
    pub ca_cert: Option<PathBuf>,
    /// Per-request timeout (`5s`, `500ms`, or a number of seconds).
    pub timeout: Option<ScalarText>,
    /// Overall deadline for everything the source does.
    pub deadline: Option<ScalarText>,
    /// Retries after the first attempt on connection errors, 429 and 5xx.
    pub retries: Option<u32>,
}

impl TakeKey for RawTransport {
    fn take_key<'de, A: serde::de::MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<Option<&'static str>, A::Error> {
        Ok(Some(match key {
            "ca_cert" => {
                self.ca_cert = map.next_value()?;
                "ca_cert"
            }
            "timeout" => {
                self.timeout = map.next_value()?;
                "timeout"
            }
            "deadline" => {
                self.deadline = map.next_value()?;
                "deadline"
            }
            "retries" => {
                self.retries = map.next_value()?;
                "retries"
            }
            _ => return Ok(None),
        }))
    }

    fn keys(out: &mut Vec<&'static str>) {
        out.extend(["ca_cert", "timeout", "deadline", "retries"]);
    }
}

/// Declares a remote source's section as written: its own keys, then the transport keys
/// (`ca_cert`, `timeout`, `deadline`, `retries`) and the unknown keys (refused, 78, once it
/// implements [`Section`]: `section!(T)`, or by hand for nested sections); implements
/// its `transport` ([`RawTransport`]); [`raw_section!`] reads the keys, no serde flatten.
macro_rules! remote_section {
    (
        $(#[$m:meta])*
        pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident: $t:ty,)* }
    ) => {
        $crate::source::section::raw_section! {
            $(#[$m])*
            pub struct $name {
                $($(#[$fm])* pub $f: $t,)*
            }
            nested {
                /// `ca_cert`, `timeout`, `deadline`, `retries`.
                pub transport: $crate::source::transport::RawTransport,
            }
        }
    };
}
pub(crate) use remote_section;

/// A remote source's transport, typed: what its HTTP client is built with.
#[derive(Clone, Debug)]
pub struct Transport {
    /// Explicit CA bundle.
    pub ca_cert: Option<PathBuf>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Overall deadline.
    pub deadline: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    /// Permit `http://` to a non-loopback endpoint.
    pub allow_insecure_http: bool,
}

/// The defaults of the remote sources: 5 s a request, 30 s in all, 4 retries.
const TIMEOUT: Duration = Duration::from_secs(5);
const DEADLINE: Duration = Duration::from_secs(30);
const RETRIES: u32 = 4;

impl Transport {
    /// Types the transport keys of `secret_init.SECTION` (`section` is the whole
    /// `secret_init.aws`); 78 naming the key for a bad one.
    pub fn from_file(
        section: &str,
        f: &RawTransport,
        allow_insecure_http: bool,
    ) -> Result<Transport, Error> {
        Ok(Transport {
            retries: file_retries(section, f.retries, RETRIES)?,
            ca_cert: f.ca_cert.clone(),
            timeout: duration(section, f.timeout.as_ref(), "timeout", TIMEOUT)?,
            deadline: duration(section, f.deadline.as_ref(), "deadline", DEADLINE)?,
            allow_insecure_http,
        })
    }
}

/// A remote source's settings are its transport and its own keys: `settings.timeout` reads the
/// transport's (the clients are built from those fields).
macro_rules! transport_deref {
    ($t:ty) => {
        impl std::ops::Deref for $t {
            type Target = $crate::source::transport::Transport;
            fn deref(&self) -> &$crate::source::transport::Transport {
                &self.transport
            }
        }
    };
}
pub(crate) use transport_deref;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Errors;
    use crate::source::section::{Section, raw_section, section};

    remote_section! {
        /// A section with no keys of its own.
        #[allow(unreachable_pub)]
        pub struct Plain {}
    }
    section!(Plain);

    #[test]
    fn transport_keys() {
        let f: Plain =
            serde_saphyr::from_str("timeout: 1.5\ndeadline: 20s\nretries: 2\n").expect("yaml");
        let t = Transport::from_file("secret_init.x", &f.transport, false).expect("ok");
        assert_eq!(t.timeout, Duration::from_millis(1500));
        assert_eq!(t.deadline, Duration::from_secs(20));
        assert_eq!(t.retries, 2);
        let t = Transport::from_file("secret_init.x", &RawTransport::default(), true).expect("ok");
        assert_eq!(
            (t.timeout, t.deadline, t.retries),
            (Duration::from_secs(5), Duration::from_secs(30), 4)
        );
        for (bad, says) in [
            ("retries: 21\n", "secret_init.x.retries: expected 0..=20"),
            ("timeout: 0\n", "secret_init.x.timeout: expected a duration"),
            (
                "deadline: 2h\n",
                "secret_init.x.deadline: expected a duration",
            ),
            ("colour: red\n", ""),
        ] {
            let f: Plain = serde_saphyr::from_str(bad).expect("yaml");
            if says.is_empty() {
                let mut errors = Errors::default();
                f.reject_unknown("secret_init.x", "c.yaml", &mut errors);
                let e = errors.into_result().expect_err(bad);
                assert!(
                    format!("{e:?}").contains("secret_init.x: unknown setting"),
                    "{e:?}"
                );
                continue;
            }
            let e = Transport::from_file("secret_init.x", &f.transport, false).expect_err(bad);
            assert_eq!(e.exit_code(), 78, "{bad}");
            assert!(e.to_string().contains(says), "{bad}: {e}");
        }
    }

    raw_section! {
        /// Every kind of key raw_section! reads.
        struct Keys {
            name: Option<String>,
            list: Vec<u32>,
        }
        renamed {
            bundle: Option<String> = "bundles",
        }
        nested {
            transport: RawTransport,
        }
    }

    /// What `#[serde(flatten)]` did, without it: own, renamed and nested keys into their fields,
    /// the rest into `unknown`; a key twice, a wrong type and a scalar for the map are serde's
    /// own errors.
    #[test]
    fn raw_sections_read_keys_like_flatten_did() {
        let k: Keys = serde_saphyr::from_str(
            "name: n\nlist: [1, 2]\nbundles: b\nretries: 3\ncolour: red\nsize: {a: 1}\n",
        )
        .expect("yaml");
        assert_eq!(k.name.as_deref(), Some("n"));
        assert_eq!(k.list, [1, 2]);
        assert_eq!(k.bundle.as_deref(), Some("b"));
        assert_eq!(k.transport.retries, Some(3));
        assert_eq!(k.unknown.keys().collect::<Vec<_>>(), ["colour", "size"]);
        let k: Keys = serde_saphyr::from_str("{}").expect("yaml");
        assert!(k.name.is_none() && k.list.is_empty() && k.unknown.is_empty());
        for (bad, says) in [
            ("name: a\nname: b\n", "name"),
            ("retries: 1\nretries: 2\n", "retries"),
            ("list: x\n", "sequence"),
            ("retries: many\n", "retries"),
            ("[1, 2]\n", "mapping"),
        ] {
            let e = serde_saphyr::from_str::<Keys>(bad).expect_err(bad);
            assert!(e.to_string().contains(says), "{bad}: {e}");
        }
    }
}

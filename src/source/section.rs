//! What every source's `secret_init.KEY:` section shares: unknown keys refused ([`Section`]),
//! YAML scalars kept as text ([`ScalarText`]), durations, and the transport keys of the remote
//! sources (`ca_cert`, `timeout`, `deadline`, `retries`: [`RawTransport`] as written,
//! [`Transport`] typed), each checked by one function with one message.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::cli::merge::text;
use crate::error::{Error, Errors, Kind};

/// A source's section as written: deserialized from config.yaml, its unknown keys refused.
pub trait Section: Default + std::fmt::Debug + for<'de> Deserialize<'de> {
    /// The keys serde did not know.
    fn unknown(&self) -> &BTreeMap<String, IgnoredAny>;

    /// Refuses every unknown key (78); a section with nested sections refuses theirs too.
    fn reject_unknown(&self, section: &str, src: &str, errors: &mut Errors) {
        reject_unknown(section, self.unknown(), src, errors);
    }
}

/// Refuses the keys of `unknown`, as `SECTION: unknown setting "KEY"` (78), one error each.
pub(crate) fn reject_unknown(
    section: &str,
    unknown: &BTreeMap<String, IgnoredAny>,
    src: &str,
    errors: &mut Errors,
) {
    for key in unknown.keys() {
        errors.push(
            Error::new(
                Kind::Config,
                format!("{section}: unknown setting \"{key}\""),
            )
            .with_source(src),
        );
    }
}

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

/// Parses `250ms`, `5s`, `1.5s`, `2m` or a bare number of seconds (more than 0, at most an hour).
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num.trim().parse().ok()?;
    let v = v * scale;
    (v.is_finite() && v > 0.0 && v <= 3600.0).then(|| Duration::from_secs_f64(v))
}

/// What a bad duration is told: `AT: expected a duration like …`.
pub(crate) const EXPECTED_DURATION: &str = "expected a duration like 5s or 500ms (at most 1 hour)";

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

/// The transport keys of a remote source's section as written.
#[derive(Debug, Default, Deserialize)]
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

/// Declares a remote source's section as written: its own keys, then the transport keys
/// (`ca_cert`, `timeout`, `deadline`, `retries`) and the unknown keys (refused, 78, once it
/// implements [`Section`]: `section!(T)`, or by hand for nested sections); implements
/// `transport()` ([`RawTransport`]) for it. Plain fields, not a flattened
/// struct: serde's flatten would buffer every key and grow the binary.
macro_rules! remote_section {
    (
        $(#[$m:meta])*
        pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident: $t:ty,)* }
    ) => {
        $(#[$m])*
        #[derive(Debug, Default, serde::Deserialize)]
        pub struct $name {
            $($(#[$fm])* pub $f: $t,)*
            /// `ca_cert`, `timeout`, `deadline`, `retries`.
            #[serde(flatten)]
            pub transport: $crate::source::section::RawTransport,
            /// Unknown keys, refused (78).
            #[serde(flatten)]
            pub unknown: std::collections::BTreeMap<String, serde::de::IgnoredAny>,
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
            type Target = $crate::source::section::Transport;
            fn deref(&self) -> &$crate::source::section::Transport {
                &self.transport
            }
        }
    };
}
pub(crate) use transport_deref;

/// Implements [`Section`] for a struct whose unknown keys are its `unknown` field.
macro_rules! section {
    ($t:ty) => {
        impl $crate::source::section::Section for $t {
            fn unknown(&self) -> &std::collections::BTreeMap<String, serde::de::IgnoredAny> {
                &self.unknown
            }
        }
    };
}
pub(crate) use section;

#[cfg(test)]
mod tests {
    use super::*;

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
            (TIMEOUT, DEADLINE, RETRIES)
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
}

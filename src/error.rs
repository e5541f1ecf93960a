//! Errors as the user sees them: one line each, naming the secret and the source, never a value.
//!
//! Every error carries a [`Kind`]; the process exit code comes from the kind alone (the README's
//! table, after sysexits.h and the tini/dumb-init conventions), never from matching message text.

use std::fmt;

/// What went wrong, in the terms of the exit-code table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// 64: bad flags, no program.
    Usage,
    /// 65: invalid names, YAML, types, sizes, NUL in an env value, failed decryption.
    Data,
    /// 66: an input file named on purpose (`--config`) does not exist (EX_NOINPUT).
    NoInput,
    /// 69: a required secret or source is unavailable.
    Unavailable,
    /// 73: an output cannot be created.
    CantCreate,
    /// 77: permission, authentication or TLS failure.
    Permission,
    /// 78: configuration refused (unknown setting, insecure address, dangerous env name).
    Config,
    /// 126: the program is not executable.
    NotExecutable,
    /// 127: the program is not found.
    NotFound,
    /// 128+N: stopped by signal N before the program started.
    Signal(i32),
}

impl Kind {
    /// The process exit code for this kind.
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Usage => 64,
            Kind::Data => 65,
            Kind::NoInput => 66,
            Kind::Unavailable => 69,
            Kind::CantCreate => 73,
            Kind::Permission => 77,
            Kind::Config => 78,
            Kind::NotExecutable => 126,
            Kind::NotFound => 127,
            // Signal numbers are 1..=64 on Linux, so 128+N stays within a byte.
            Kind::Signal(n) => (128 + n.clamp(0, 127)) as u8,
        }
    }
}

/// Why a store did not answer: the failures that say nothing about whether we may have the
/// secret, only that the store could not be asked (after the client's retries). Set by the one
/// HTTP client (`src/http/`) alone; every other error, a 401/403, a 404, a wrong certificate, a
/// malformed answer or a configuration problem included, has none. A last-known-good snapshot
/// (`src/fallback/`) may stand in for a value only when its fetch failed with one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outage {
    /// No connection: refused, reset, no route, a name that does not resolve.
    Network,
    /// No answer in time: an attempt's timeout (TLS handshake included) or the deadline.
    Timeout,
    /// The store answered 5xx (other than 501) on every attempt.
    ServerError,
    /// The store throttled every attempt (429, or a provider's own throttling answer).
    Throttled,
    /// A proxy on the way could not or would not open the tunnel (not a 407: our credentials).
    Proxy,
}

impl Outage {
    /// The outage in a few words, for the stale lines.
    pub fn words(self) -> &'static str {
        match self {
            Outage::Network => "cannot connect",
            Outage::Timeout => "no answer in time",
            Outage::ServerError => "server error",
            Outage::Throttled => "throttled",
            Outage::Proxy => "the proxy did not open the tunnel",
        }
    }
}

/// One problem: a kind, optionally the secret and source it concerns, and what happened (the
/// fields of [`Problem`], which it derefs to).
///
/// Boxed: a `Result<T, Error>` is then one pointer wider than `T`, where the fields inline made
/// every `Result` carry about 100 bytes and every `?` and builder call copy them (72,000 bytes of
/// the static binary, docs/size.md). The one allocation is paid only where an error is made,
/// and a start does fewer instructions than with the fields inline.
#[derive(Clone, PartialEq, Eq)]
pub struct Error(Box<Problem>);

/// What an [`Error`] holds.
#[derive(Clone, PartialEq, Eq)]
pub struct Problem {
    /// The class of failure, which decides the exit code.
    pub kind: Kind,
    /// The secret concerned, if any.
    pub secret: Option<String>,
    /// Where it was looked up or delivered (`env:TRUSS_SECRET_db`, `file:/secrets/db`, ...).
    pub source: Option<String>,
    /// What happened; never contains a value.
    pub what: String,
    /// The cause, where the code that failed knows it more precisely than its kind says; it
    /// only refines [`Error::reason`].
    pub cause: Option<Cause>,
    /// Set when the store could not be asked at all (see [`Outage`]); typed, never read from
    /// the message.
    pub outage: Option<Outage>,
}

impl std::ops::Deref for Error {
    type Target = Problem;
    fn deref(&self) -> &Problem {
        &self.0
    }
}

impl std::ops::DerefMut for Error {
    fn deref_mut(&mut self) -> &mut Problem {
        &mut self.0
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("secret", &self.secret)
            .field("source", &self.source)
            .field("what", &self.what)
            .field("cause", &self.cause)
            .field("outage", &self.outage)
            .finish()
    }
}

/// A cause finer than a [`Kind`], for the machine-readable reason code
/// (docs/observability.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// A required secret was found in no source.
    SecretMissing,
    /// A remote store did not answer in time or at all (after retries, or past the deadline).
    StoreUnreachable,
    /// The store refused the TLS handshake or its certificate.
    Tls,
    /// A value or an answer over its size limit.
    TooLarge,
}

impl Cause {
    /// Its reason code.
    pub fn code(self) -> &'static str {
        match self {
            Cause::SecretMissing => "secret_missing",
            Cause::StoreUnreachable => "store_unreachable",
            Cause::Tls => "tls_failed",
            Cause::TooLarge => "too_large",
        }
    }
}

impl Kind {
    /// The reason code of a failure of this kind with no finer [`Cause`]: stable, snake_case,
    /// one per exit code (docs/observability.md).
    pub fn code(self) -> &'static str {
        match self {
            Kind::Usage => "usage",
            Kind::Data => "invalid_data",
            Kind::NoInput => "no_input",
            Kind::Unavailable => "unavailable",
            Kind::CantCreate => "cannot_create",
            Kind::Permission => "permission_denied",
            Kind::Config => "config_refused",
            Kind::NotExecutable => "not_executable",
            Kind::NotFound => "program_not_found",
            Kind::Signal(_) => "stopped_by_signal",
        }
    }
}

impl Error {
    /// "cannot read: WHY" for a failed read or open, with its kind.
    pub fn cannot_read(kind: Kind, e: &std::io::Error) -> Error {
        Error::new(kind, format!("cannot read: {}", io_text(e)))
    }

    /// An error not tied to one secret.
    pub fn new(kind: Kind, what: impl Into<String>) -> Self {
        Error(Box::new(Problem {
            kind,
            secret: None,
            source: None,
            what: what.into(),
            cause: None,
            outage: None,
        }))
    }

    /// An error about one secret as seen by one source.
    pub fn secret(
        kind: Kind,
        secret: &str,
        source: impl Into<String>,
        what: impl Into<String>,
    ) -> Self {
        Error(Box::new(Problem {
            kind,
            secret: Some(secret.to_string()),
            source: Some(source.into()),
            what: what.into(),
            cause: None,
            outage: None,
        }))
    }

    /// The fields, by value.
    pub fn into_problem(self) -> Problem {
        *self.0
    }

    /// Sets the secret this error concerns (sources report errors before they know the name).
    pub fn for_secret(mut self, secret: &str) -> Self {
        self.secret = Some(secret.to_string());
        self
    }

    /// Marks the error as a store outage (the HTTP client, after its retries).
    pub fn with_outage(mut self, outage: Outage) -> Self {
        self.outage = Some(outage);
        self
    }

    /// Sets the source description.
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }

    /// Sets the finer cause.
    pub fn because(mut self, cause: Cause) -> Self {
        self.cause = Some(cause);
        self
    }

    /// The stable machine-readable reason code: the cause's where one is known, else the
    /// kind's. Never derived from the message text.
    pub fn reason(&self) -> &'static str {
        self.cause.map_or_else(|| self.kind.code(), Cause::code)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.secret, &self.source) {
            (Some(s), Some(src)) => write!(f, "secret \"{s}\" ({src}): {}", self.what),
            (Some(s), None) => write!(f, "secret \"{s}\": {}", self.what),
            (None, Some(src)) => write!(f, "{src}: {}", self.what),
            (None, None) => f.write_str(&self.what),
        }
    }
}

impl std::error::Error for Error {}

/// Several problems found together (all missing secrets, all invalid names), reported one per line.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<Error>);

impl Errors {
    /// The exit code for the whole set: the first problem that is not a plain "missing" decides,
    /// so a bad input is never reported as merely unavailable.
    pub fn exit_code(&self) -> u8 {
        self.0
            .iter()
            .find(|e| e.kind != Kind::Unavailable)
            .or_else(|| self.0.first())
            .map_or(0, Error::exit_code)
    }

    /// Turns a non-empty set into `Err`.
    pub fn into_result(self) -> Result<(), Errors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// Adds a problem.
    pub fn push(&mut self, e: Error) {
        self.0.push(e);
    }

    /// One line per cause: problems that differ only in their secret (one misspelt secret id
    /// that every secret looked up in) become one, naming the secrets it affects, at the place
    /// of the first.
    pub fn grouped(self) -> Errors {
        let mut out: Vec<(Error, Vec<String>)> = Vec::new();
        for e in self.0 {
            let same = out.iter_mut().find(|(o, _)| {
                o.kind == e.kind && o.source == e.source && o.what == e.what && e.secret.is_some()
            });
            match (same, e.secret.clone()) {
                (Some((_, secrets)), Some(s)) if !secrets.is_empty() => secrets.push(s),
                _ => {
                    let secrets = e.secret.iter().cloned().collect();
                    out.push((e, secrets));
                }
            }
        }
        Errors(
            out.into_iter()
                .map(|(mut e, secrets)| {
                    if secrets.len() > 1 {
                        let names: Vec<String> =
                            secrets.iter().map(|s| format!("\"{s}\"")).collect();
                        e.what = format!("{} (secrets {})", e.what, names.join(", "));
                        e.secret = None;
                    }
                    e
                })
                .collect(),
        )
    }
}

impl From<Error> for Errors {
    fn from(e: Error) -> Self {
        Errors(vec![e])
    }
}

/// The kind of a failure to open an input: `missing` when it is not there (what that means
/// depends on the input), 77 when we may not read it, 65 otherwise.
pub fn io_kind(e: &std::io::Error, missing: Kind) -> Kind {
    match e.kind() {
        std::io::ErrorKind::NotFound => missing,
        std::io::ErrorKind::PermissionDenied => Kind::Permission,
        _ => Kind::Data,
    }
}

/// Renders an `io::Error` without the "(os error N)" noise but with the errno name's text.
pub fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_cause_is_one_line() {
        let cause = |s: &str| {
            Error::secret(
                Kind::Unavailable,
                s,
                "aws-sm:prod/typo",
                "it does not exist",
            )
        };
        let other = Error::secret(Kind::Unavailable, "x", "env:X", "not found");
        let lines: Vec<String> = Errors(vec![cause("a"), other, cause("b"), cause("c")])
            .grouped()
            .0
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            [
                "aws-sm:prod/typo: it does not exist (secrets \"a\", \"b\", \"c\")",
                "secret \"x\" (env:X): not found",
            ]
        );
    }

    #[test]
    fn exit_codes_follow_the_table() {
        let table = [
            (Kind::Usage, 64),
            (Kind::Data, 65),
            (Kind::NoInput, 66),
            (Kind::Unavailable, 69),
            (Kind::CantCreate, 73),
            (Kind::Permission, 77),
            (Kind::Config, 78),
            (Kind::NotExecutable, 126),
            (Kind::NotFound, 127),
            (Kind::Signal(15), 143),
            (Kind::Signal(2), 130),
        ];
        for (k, code) in table {
            assert_eq!(k.exit_code(), code, "{k:?}");
        }
    }

    #[test]
    fn a_bad_input_outranks_missing_secrets() {
        let mut errs = Errors::default();
        errs.push(Error::new(Kind::Unavailable, "a"));
        errs.push(Error::new(Kind::Data, "b"));
        assert_eq!(errs.exit_code(), 65);
        assert_eq!(
            Errors(vec![Error::new(Kind::Unavailable, "a")]).exit_code(),
            69
        );
    }

    #[test]
    fn reason_codes_come_from_the_cause_then_the_kind() {
        let e = Error::new(Kind::Unavailable, "gone");
        assert_eq!(e.reason(), "unavailable");
        assert_eq!(
            e.because(Cause::StoreUnreachable).reason(),
            "store_unreachable"
        );
        assert_eq!(
            Error::new(Kind::Signal(15), "x").reason(),
            "stopped_by_signal"
        );
        // Every code is distinct: a tool may key on it.
        let kinds = [
            Kind::Usage,
            Kind::Data,
            Kind::NoInput,
            Kind::Unavailable,
            Kind::CantCreate,
            Kind::Permission,
            Kind::Config,
            Kind::NotExecutable,
            Kind::NotFound,
            Kind::Signal(1),
        ];
        let causes = [
            Cause::SecretMissing,
            Cause::StoreUnreachable,
            Cause::Tls,
            Cause::TooLarge,
        ];
        let mut codes: Vec<&str> = kinds.iter().map(|k| k.code()).collect();
        codes.extend(causes.iter().map(|c| c.code()));
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), n);
    }

    #[test]
    fn message_shape() {
        let e = Error::secret(Kind::Unavailable, "db", "env:TRUSS_SECRET_db", "not found");
        assert_eq!(
            e.to_string(),
            "secret \"db\" (env:TRUSS_SECRET_db): not found"
        );
    }
}

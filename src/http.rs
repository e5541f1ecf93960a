//! A small blocking HTTPS client for the remote sources (the vault, bundles fetched by URL).
//!
//! Built on `ureq` 3 with `rustls` and the ring provider: no async runtime, and no thread is ever
//! started (ureq's default resolver spawns one per lookup when a timeout is set, so this module
//! plugs in a resolver that calls `getaddrinfo` inline; musl's resolver has its own timeouts).
//! One [`Client`] holds one ureq agent, so every request of a run reuses one kept-alive TLS
//! connection. Nothing happens when a client is built: the CA bundle is read and the agent created
//! on the first request, so a run that never reaches a remote source pays nothing.
//!
//! Policy, the same for every caller:
//! - **Trust**: TLS is always verified, against exactly one PEM bundle: the caller's explicit CA
//!   file, else `SSL_CERT_FILE`, else the system bundle ([`SYSTEM_CA_FILE`]). No compiled-in roots.
//! - **Plain http** is refused (78) unless the host is loopback or the caller opted in.
//! - **Redirects** are never followed; a 3xx is an error naming the target host, so a token header
//!   can never travel to another host (reqwest forwards custom headers across hosts).
//! - **Retries**: connection errors, timeouts, 5xx other than 501, and 429 are retried up to
//!   [`Options::retries`] times with exponential backoff and full jitter (`sleep = rand(0,
//!   min(max, base·2^n))`); a 429/503 `Retry-After` in seconds is honoured when it fits in the
//!   deadline. TLS failures and other 4xx are never retried: they will not get better.
//! - **Time**: each attempt has [`Options::timeout`] (connect, TLS, headers and body together), and
//!   all attempts and sleeps of one client share [`Options::deadline`], counted from its first
//!   request. An attempt that times out doubles the attempt timeout for the rest of the client's
//!   life: a server that answers slowly is busy, not gone (a fleet of replicas starting together
//!   makes it so), and retrying it on the same short timeout would re-send work it is still
//!   doing (measured with `scripts/fleet`, docs/fleet.md).
//! - **Size**: bodies larger than [`Options::max_body`] are refused (65) without being kept.
//! - **Secrecy**: header values (tokens) are never logged; URLs are logged and reported without
//!   their query string (presigned URLs carry credentials there); response bodies are [`Secret`]s.
//!
//! Errors are [`crate::error::Error`]s with the kind already decided: 77 for TLS, 69 for
//! unavailable (after retries, deadline, redirect), 65 for an oversized body, 78 for refused
//! configuration. Non-2xx responses that are not retried (404, 403, ...) are returned as a
//! [`Response`] so the caller can word them in its own terms.
//!
//! Use, from inside the crate:
//!
//! ```text
//! let mut client = Client::new(Options {
//!     ca_file: ca_file(None, env), // SSL_CERT_FILE, else the system bundle
//!     ..Options::default()
//! });
//! let resp = client.get("https://example.internal/vaults.json", &[])?;
//! if resp.status == 200 {
//!     let _bytes: &[u8] = resp.body.expose();
//! }
//! ```

use std::io::Read;
use std::net::{IpAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig, TlsProvider};
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};
use ureq::{Agent, Body};

use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::secret::Secret;

/// The Debian/Ubuntu/Alpine system CA bundle, the last trust fallback.
pub const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Largest CA bundle read (the Debian bundle is about 220 KB).
const MAX_CA_BYTES: u64 = 4 * 1024 * 1024;

/// Request methods the remote sources use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET: reads.
    Get,
    /// POST: logins.
    Post,
    /// PUT: the EC2 instance metadata token.
    Put,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }
}

/// Client policy: trust, time, retries and size limits.
#[derive(Clone, Debug)]
pub struct Options {
    /// The PEM bundle of trusted CAs (see [`ca_file`] for the usual choice).
    pub ca_file: PathBuf,
    /// Budget of one attempt: connect, TLS handshake, request, response headers and body.
    pub timeout: Duration,
    /// Budget of everything this client does, counted from its first request.
    pub deadline: Duration,
    /// Retries after the first attempt (so `retries + 1` attempts at most).
    pub retries: u32,
    /// First backoff ceiling; doubles per retry.
    pub backoff_base: Duration,
    /// Largest backoff ceiling.
    pub backoff_max: Duration,
    /// Full jitter: wait a uniform draw in `[0, ceiling]`; when false, wait the ceiling itself
    /// (only useful to measure how replicas that fail together retry together).
    pub jitter: bool,
    /// Largest response body accepted, in bytes.
    pub max_body: u64,
    /// Permit plain `http://` to hosts other than loopback.
    pub allow_insecure_http: bool,
    /// Also retry a non-2xx answer when this says so (AWS throttling comes as a 400 whose body
    /// names a throttling code).
    pub retry_if: Option<fn(u16, &[u8]) -> bool>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ca_file: PathBuf::from(SYSTEM_CA_FILE),
            timeout: Duration::from_secs(5),
            deadline: Duration::from_secs(30),
            retries: 3,
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(5),
            jitter: true,
            max_body: 4 * 1024 * 1024,
            allow_insecure_http: false,
            retry_if: None,
        }
    }
}

/// The CA bundle to trust: `explicit` (a setting or `VAULT_CACERT`), else `SSL_CERT_FILE` from the
/// start-time environment, else [`SYSTEM_CA_FILE`].
pub fn ca_file(explicit: Option<&Path>, env: &Environ) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    match env.get("SSL_CERT_FILE").filter(|v| !v.is_empty()) {
        Some(v) => PathBuf::from(v),
        None => PathBuf::from(SYSTEM_CA_FILE),
    }
}

/// A response that was not retried: its status and its body (kept secret: it may hold values).
#[derive(Debug)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The body, at most [`Options::max_body`] bytes.
    pub body: Secret,
    /// The `ETag` header, when present and printable (for a conditional GET next time).
    pub etag: Option<String>,
}

/// What the client did, for logs and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests sent (attempts, including retries).
    pub attempts: u32,
    /// Agents created (each holds its own connection pool; 1 means one TLS connection reused).
    pub agents: u32,
}

/// A blocking HTTPS client with the module's policy. Build with [`Client::new`]; no I/O until the
/// first [`Client::send`].
pub struct Client {
    opts: Options,
    agent: Option<(Agent, bool)>,
    began: Option<Instant>,
    /// The current per-attempt timeout: [`Options::timeout`], doubled after each timed-out attempt.
    timeout: Duration,
    stats: Stats,
}

impl Client {
    /// A client with `opts`; reads nothing and connects nowhere yet.
    pub fn new(opts: Options) -> Client {
        Client {
            timeout: opts.timeout,
            opts,
            agent: None,
            began: None,
            stats: Stats::default(),
        }
    }

    /// Starts a new deadline (and the first per-attempt timeout) for what follows: a client kept
    /// across refresh passes gives each pass the whole [`Options::deadline`], not what the first
    /// pass left of it.
    pub fn restart_deadline(&mut self) {
        self.began = None;
        self.timeout = self.opts.timeout;
    }

    /// Counters of what this client has done.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Checks `url` against the scheme policy without sending anything: https, or http to a
    /// loopback host, or http with the opt-in. The error (78) names the URL without its query.
    pub fn check_url(&self, url: &str) -> Result<(), Error> {
        check_url(url, self.opts.allow_insecure_http).map(|_| ())
    }

    /// GET `url` with `headers` (values are never logged).
    pub fn get(&mut self, url: &str, headers: &[(&str, &[u8])]) -> Result<Response, Error> {
        self.send(Method::Get, url, headers, None)
    }

    /// POST `body` to `url` with `headers`.
    pub fn post(
        &mut self,
        url: &str,
        headers: &[(&str, &[u8])],
        body: &[u8],
    ) -> Result<Response, Error> {
        self.send(Method::Post, url, headers, Some(body))
    }

    /// PUT `body` to `url` with `headers`.
    pub fn put(
        &mut self,
        url: &str,
        headers: &[(&str, &[u8])],
        body: &[u8],
    ) -> Result<Response, Error> {
        self.send(Method::Put, url, headers, Some(body))
    }

    /// Sends one request under the retry, deadline, redirect and size policy.
    pub fn send(
        &mut self,
        method: Method,
        url: &str,
        headers: &[(&str, &[u8])],
        body: Option<&[u8]>,
    ) -> Result<Response, Error> {
        let https = check_url(url, self.opts.allow_insecure_http)?;
        let shown = redact_url(url);
        let began = *self.began.get_or_insert_with(Instant::now);
        let deadline = began + self.opts.deadline;
        self.ensure_agent(https)?;
        let mut attempt: u32 = 0;
        loop {
            let now = Instant::now();
            let remaining = deadline.saturating_duration_since(now);
            if remaining.is_zero() {
                return Err(self.gave_up(method, &shown, "deadline reached", attempt, began));
            }
            let budget = self.timeout.min(remaining);
            attempt += 1;
            self.stats.attempts += 1;
            crate::trace!(
                "{} {shown} (attempt {attempt}, timeout {} ms)",
                method.as_str(),
                budget.as_millis()
            );
            let (why, retry_after) = match self.once(method, url, headers, body, budget) {
                Ok(Outcome::Done(resp)) => {
                    crate::trace!("{} {shown}: HTTP {}", method.as_str(), resp.status);
                    return Ok(resp);
                }
                Ok(Outcome::Redirect(status, location)) => {
                    return Err(Error::new(
                        Kind::Unavailable,
                        format!(
                            "{} {shown}: HTTP {status} redirect to {location} refused (redirects are never followed; use the address it points to)",
                            method.as_str()
                        ),
                    ));
                }
                Ok(Outcome::Retry(status, retry_after)) => (format!("HTTP {status}"), retry_after),
                Err(Failure::Fatal(kind, why)) => {
                    return Err(Error::new(
                        kind,
                        format!("{} {shown}: {why}", method.as_str()),
                    ));
                }
                Err(Failure::Transient(why)) => (why, None),
                Err(Failure::TimedOut(why)) => {
                    self.timeout = self.timeout.saturating_mul(2).min(self.opts.deadline);
                    (why, None)
                }
            };
            crate::debug!("{} {shown}: {why} (attempt {attempt})", method.as_str());
            if attempt > self.opts.retries {
                return Err(self.gave_up(method, &shown, &why, attempt, began));
            }
            let wait = match retry_after {
                Some(s) => s,
                None => backoff(
                    self.opts.backoff_base,
                    self.opts.backoff_max,
                    attempt - 1,
                    self.opts.jitter.then(random_u64),
                ),
            };
            let remaining = deadline.saturating_duration_since(Instant::now());
            if wait >= remaining {
                let why = if retry_after.is_some() {
                    format!(
                        "{why}; server asked to retry after {} s, past the deadline",
                        wait.as_secs()
                    )
                } else {
                    format!("{why}; deadline reached")
                };
                return Err(self.gave_up(method, &shown, &why, attempt, began));
            }
            // A stop signal can be pending only while the supervisor holds it blocked (a live
            // refresh): the refresh is abandoned rather than retried.
            let until = Instant::now() + wait;
            loop {
                if crate::sys::stop_pending() {
                    return Err(Error::new(
                        Kind::Signal(nix::libc::SIGTERM),
                        format!(
                            "{} {shown}: {why}; stopping (a stop signal is pending)",
                            method.as_str()
                        ),
                    ));
                }
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                std::thread::sleep(left.min(Duration::from_millis(100)));
            }
        }
    }

    fn gave_up(
        &self,
        method: Method,
        shown: &str,
        why: &str,
        attempts: u32,
        began: Instant,
    ) -> Error {
        Error::new(
            Kind::Unavailable,
            format!(
                "{} {shown}: {why} (gave up after {attempts} attempt{} in {:.1} s)",
                method.as_str(),
                if attempts == 1 { "" } else { "s" },
                began.elapsed().as_secs_f64()
            ),
        )
    }

    /// Creates the agent on first use; the CA bundle is read only when an https URL needs it.
    fn ensure_agent(&mut self, https: bool) -> Result<(), Error> {
        if let Some((_, trusted)) = &self.agent
            && (*trusted || !https)
        {
            return Ok(());
        }
        let mut tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(Arc::new(tls_provider()));
        if https {
            tls = tls.root_certs(load_ca(&self.opts.ca_file)?);
        } else {
            // No trust anchors at all: a plain-http agent must never be able to verify anything.
            tls = tls.root_certs(RootCerts::Specific(Arc::new(Vec::new())));
        }
        let config = Config::builder()
            .http_status_as_error(false)
            .https_only(false)
            .max_redirects(0)
            .proxy(None)
            .user_agent(concat!("secret-init/", env!("CARGO_PKG_VERSION")))
            .accept("application/json")
            .tls_config(tls.build())
            .build();
        let agent = Agent::with_parts(config, DefaultConnector::default(), InlineResolver);
        self.agent = Some((agent, https));
        self.stats.agents += 1;
        Ok(())
    }

    fn once(
        &mut self,
        method: Method,
        url: &str,
        headers: &[(&str, &[u8])],
        body: Option<&[u8]>,
        budget: Duration,
    ) -> Result<Outcome, Failure> {
        let Some((agent, _)) = &self.agent else {
            return Err(Failure::Fatal(
                Kind::Unavailable,
                "no HTTP agent (internal error)".into(),
            ));
        };
        let result = match method {
            Method::Get => {
                let mut rb = agent.get(url).config().timeout_global(Some(budget)).build();
                for (k, v) in headers {
                    rb = rb.header(*k, *v);
                }
                rb.call()
            }
            Method::Post | Method::Put => {
                let rb = if method == Method::Put {
                    agent.put(url)
                } else {
                    agent.post(url)
                };
                let mut rb = rb.config().timeout_global(Some(budget)).build();
                // JSON unless the caller names its own type (AWS JSON 1.1, STS forms).
                if !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                {
                    rb = rb.header("Content-Type", "application/json");
                }
                for (k, v) in headers {
                    rb = rb.header(*k, *v);
                }
                rb.send(body.unwrap_or_default())
            }
        };
        let mut resp = result.map_err(classify)?;
        let status = resp.status().as_u16();
        // 304 Not Modified answers a conditional GET; every other 3xx is a redirect.
        if (300..400).contains(&status) && status != 304 {
            let location = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map_or_else(|| "(no Location)".to_string(), redact_url);
            return Ok(Outcome::Redirect(status, location));
        }
        if status == 429 || (500..600).contains(&status) && status != 501 {
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            // Read a small error body to the end so the connection goes back to the pool and the
            // retry reuses it; a large one is dropped with its connection.
            let _ = read_capped(resp.body_mut(), 64 * 1024);
            return Ok(Outcome::Retry(status, retry_after));
        }
        let etag = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.len() <= 256 && !v.is_empty())
            .map(str::to_string);
        let body = read_capped(resp.body_mut(), self.opts.max_body)?;
        if !(200..300).contains(&status)
            && let Some(retry) = self.opts.retry_if
            && retry(status, body.expose())
        {
            return Ok(Outcome::Retry(status, None));
        }
        Ok(Outcome::Done(Response { status, body, etag }))
    }
}

enum Outcome {
    Done(Response),
    Redirect(u16, String),
    Retry(u16, Option<Duration>),
}

enum Failure {
    Fatal(Kind, String),
    Transient(String),
    /// Like `Transient`, but the attempt ran out of time: the next one gets longer.
    TimedOut(String),
}

fn read_capped(body: &mut Body, max: u64) -> Result<Secret, Failure> {
    let mut reader = body.with_config().limit(max).reader();
    let mut buf = zeroize::Zeroizing::new(Vec::new());
    match reader.read_to_end(&mut buf) {
        Ok(_) => Ok(Secret::new(std::mem::take(&mut *buf))),
        Err(e) => match ureq::Error::from(e) {
            ureq::Error::BodyExceedsLimit(_) => Err(Failure::Fatal(
                Kind::Data,
                format!("response body larger than the {max}-byte limit"),
            )),
            other => Err(classify(other)),
        },
    }
}

/// Decides whether a transport error is worth another attempt.
fn classify(e: ureq::Error) -> Failure {
    use ureq::Error as U;
    match e {
        U::Tls(why) => Failure::Fatal(Kind::Permission, format!("TLS: {why}")),
        U::Rustls(e) => Failure::Fatal(Kind::Permission, format!("TLS: {e}")),
        U::Pem(e) => Failure::Fatal(Kind::Permission, format!("TLS: {e}")),
        U::Io(e) => {
            if let Some(tls) = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                return Failure::Fatal(Kind::Permission, format!("TLS: {tls}"));
            }
            if e.kind() == std::io::ErrorKind::TimedOut {
                return Failure::TimedOut(crate::error::io_text(&e));
            }
            Failure::Transient(crate::error::io_text(&e))
        }
        U::Timeout(t) => Failure::TimedOut(format!("timed out ({t})")),
        U::HostNotFound => Failure::Transient("host not found".into()),
        U::ConnectionFailed => Failure::Transient("connection failed".into()),
        U::Protocol(p) => Failure::Transient(format!("HTTP protocol error: {p}")),
        U::BodyExceedsLimit(n) => Failure::Fatal(
            Kind::Data,
            format!("response body larger than the {n}-byte limit"),
        ),
        other => Failure::Fatal(Kind::Unavailable, other.to_string()),
    }
}

/// Applies the scheme policy; returns whether the URL is https.
fn check_url(url: &str, allow_insecure_http: bool) -> Result<bool, Error> {
    let uri: Uri = url.parse().map_err(|_| {
        Error::new(
            Kind::Config,
            format!("{}: not a valid URL", redact_url(url)),
        )
    })?;
    let host = uri.host().unwrap_or_default();
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(true),
        Some("http") if !host.is_empty() => {
            if allow_insecure_http || is_loopback(host) {
                Ok(false)
            } else {
                Err(Error::new(
                    Kind::Config,
                    format!(
                        "{}: plain http to a non-loopback host is refused (use https, or opt in with --allow-insecure-http)",
                        redact_url(url)
                    ),
                ))
            }
        }
        _ => Err(Error::new(
            Kind::Config,
            format!("{}: expected an https:// URL with a host", redact_url(url)),
        )),
    }
}

/// Whether `host` (as in a URL authority) is a loopback address or `localhost`.
pub fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A URL as shown in logs and errors: scheme, host, port and path; never userinfo or query.
pub fn redact_url(url: &str) -> String {
    match url.parse::<Uri>() {
        Ok(u) => {
            let scheme = u.scheme_str().unwrap_or("?");
            let host = u.host().unwrap_or("?");
            let port = u.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
            let query = if u.query().is_some() { "?…" } else { "" };
            format!("{scheme}://{host}{port}{}{query}", u.path())
        }
        Err(_) => "<invalid URL>".into(),
    }
}

/// Reads and parses a PEM CA bundle (certificates only; other PEM items are ignored).
fn load_ca(path: &Path) -> Result<RootCerts, Error> {
    let shown = path.display();
    let cannot_read = |e: std::io::Error| {
        Error::new(
            Kind::Config,
            format!(
                "CA bundle {shown}: cannot read: {}",
                crate::error::io_text(&e)
            ),
        )
    };
    let file = std::fs::File::open(path).map_err(cannot_read)?;
    let pem = crate::fsx::read_capped(file, MAX_CA_BYTES)
        .map_err(cannot_read)?
        .ok_or_else(|| {
            Error::new(
                Kind::Config,
                format!("CA bundle {shown}: larger than {MAX_CA_BYTES} bytes"),
            )
        })?;
    let mut certs: Vec<Certificate<'static>> = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(Error::new(
                    Kind::Config,
                    format!("CA bundle {shown}: invalid PEM: {e}"),
                ));
            }
        }
    }
    if certs.is_empty() {
        return Err(Error::new(
            Kind::Config,
            format!("CA bundle {shown}: no certificates in it"),
        ));
    }
    crate::debug!("trusting {} CA certificates from {shown}", certs.len());
    Ok(RootCerts::new_with_certs(&certs))
}

/// Exponential backoff with full jitter: a uniform draw in `[0, min(max, base·2^n)]`; without a
/// random number (jitter off), the ceiling itself.
fn backoff(base: Duration, max: Duration, n: u32, random: Option<u64>) -> Duration {
    let ceiling = base
        .checked_mul(1u32.checked_shl(n.min(20)).unwrap_or(u32::MAX))
        .unwrap_or(max)
        .min(max);
    let nanos = ceiling.as_nanos() as u64;
    match random {
        Some(r) if nanos > 0 => Duration::from_nanos(r % (nanos + 1)),
        Some(_) => Duration::ZERO,
        None => ceiling,
    }
}

/// A random u64 from std's per-process SipHash keys (seeded from the OS), so jitter differs
/// between the replicas that start together; not for cryptography.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// The rustls ring provider, trimmed to what a verifying client uses: AES-GCM suites (TLS 1.3 and
/// the ECDHE TLS 1.2 ones), X25519/P-256/P-384 key exchange, every signature algorithm of the
/// default provider (servers choose their certificates), and no private-key loading (there are no
/// client certificates). Dropping ChaCha20-Poly1305 and the signing code shrinks the binary.
fn tls_provider() -> rustls::crypto::CryptoProvider {
    use rustls::SignatureScheme as S;
    use rustls::crypto::ring::{cipher_suite as cs, kx_group as kx};
    use webpki::ring as alg;
    static SIG_ALGS: rustls::crypto::WebPkiSupportedAlgorithms =
        rustls::crypto::WebPkiSupportedAlgorithms {
            all: &[
                alg::ECDSA_P256_SHA256,
                alg::ECDSA_P256_SHA384,
                alg::ECDSA_P384_SHA256,
                alg::ECDSA_P384_SHA384,
                alg::ED25519,
                alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
                alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
                alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
                alg::RSA_PKCS1_2048_8192_SHA256,
                alg::RSA_PKCS1_2048_8192_SHA384,
                alg::RSA_PKCS1_2048_8192_SHA512,
                alg::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
                alg::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
                alg::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
            ],
            mapping: &[
                (
                    S::ECDSA_NISTP384_SHA384,
                    &[alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384],
                ),
                (
                    S::ECDSA_NISTP256_SHA256,
                    &[alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256],
                ),
                (S::ED25519, &[alg::ED25519]),
                (
                    S::RSA_PSS_SHA512,
                    &[alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY],
                ),
                (
                    S::RSA_PSS_SHA384,
                    &[alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY],
                ),
                (
                    S::RSA_PSS_SHA256,
                    &[alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY],
                ),
                (S::RSA_PKCS1_SHA512, &[alg::RSA_PKCS1_2048_8192_SHA512]),
                (S::RSA_PKCS1_SHA384, &[alg::RSA_PKCS1_2048_8192_SHA384]),
                (S::RSA_PKCS1_SHA256, &[alg::RSA_PKCS1_2048_8192_SHA256]),
            ],
        };
    rustls::crypto::CryptoProvider {
        cipher_suites: vec![
            cs::TLS13_AES_256_GCM_SHA384,
            cs::TLS13_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ],
        kx_groups: vec![kx::X25519, kx::SECP256R1, kx::SECP384R1],
        signature_verification_algorithms: SIG_ALGS,
        secure_random: &SystemRandom,
        key_provider: &NoPrivateKeys,
    }
}

/// Randomness for rustls from the OS (ring's `SystemRandom`, i.e. `getrandom(2)`).
#[derive(Debug)]
struct SystemRandom;

impl rustls::crypto::SecureRandom for SystemRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), rustls::crypto::GetRandomFailed> {
        use ring::rand::SecureRandom;
        ring::rand::SystemRandom::new()
            .fill(buf)
            .map_err(|_| rustls::crypto::GetRandomFailed)
    }
}

/// secret-init presents no client certificate, so it never loads a private key.
#[derive(Debug)]
struct NoPrivateKeys;

impl rustls::crypto::KeyProvider for NoPrivateKeys {
    fn load_private_key(
        &self,
        _key: rustls::pki_types::PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn rustls::sign::SigningKey>, rustls::Error> {
        Err(rustls::Error::General(
            "client certificates are not supported".into(),
        ))
    }
}

/// Resolves names inline with `getaddrinfo`: ureq's default resolver starts a thread per lookup
/// when a timeout is set, and secret-init must not leave threads behind.
#[derive(Debug)]
struct InlineResolver;

impl Resolver for InlineResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri
            .host()
            .ok_or_else(|| ureq::Error::BadUri("no host".into()))?;
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("http") {
                80
            } else {
                443
            });
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs = (bare, port)
            .to_socket_addrs()
            .map_err(|_| ureq::Error::HostNotFound)?;
        let mut out = self.empty();
        // The array holds 16 addresses (ureq's MAX_ADDRS); more would panic on push.
        for a in config.ip_family().keep_wanted(addrs).take(16) {
            out.push(a);
        }
        if out.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_policy() {
        assert_eq!(
            check_url("https://vault.example:8200/v1/x", false),
            Ok(true)
        );
        assert_eq!(check_url("http://127.0.0.1:8200/v1/x", false), Ok(false));
        assert_eq!(check_url("http://[::1]:8200/v1/x", false), Ok(false));
        assert_eq!(check_url("http://localhost/v1/x", false), Ok(false));
        assert_eq!(check_url("http://vault.example/v1/x", true), Ok(false));
        for bad in [
            "http://vault.example/v1/x",
            "http://10.0.0.1/",
            "ftp://x/",
            "https:///x",
            "vault.example",
        ] {
            let e = check_url(bad, false).expect_err(bad);
            assert_eq!(e.exit_code(), 78, "{bad}: {e}");
        }
    }

    #[test]
    fn urls_are_shown_without_query_or_userinfo() {
        assert_eq!(
            redact_url("https://u:p@h.example:9/b/k?X-Amz-Signature=abc"),
            "https://h.example:9/b/k?…"
        );
        assert_eq!(redact_url("https://h/v1/x"), "https://h/v1/x");
    }

    #[test]
    fn backoff_has_full_jitter_under_a_growing_ceiling() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        assert_eq!(backoff(base, max, 0, Some(0)), Duration::ZERO);
        assert_eq!(
            backoff(base, max, 0, Some(u64::MAX)),
            Duration::from_nanos(u64::MAX % 100_000_001)
        );
        for n in 0..40 {
            for r in [0, 1, 12345, u64::MAX / 3, u64::MAX] {
                let ceiling = (base * 2u32.pow(n.min(20))).min(max);
                assert!(backoff(base, max, n, Some(r)) <= ceiling, "n={n} r={r}");
            }
            // Jitter off: exactly the ceiling, the same for every replica.
            assert_eq!(
                backoff(base, max, n, None),
                (base * 2u32.pow(n.min(20))).min(max)
            );
        }
        assert_ne!(random_u64(), random_u64());
    }

    #[test]
    fn no_io_until_the_first_request() {
        let c = Client::new(Options {
            ca_file: PathBuf::from("/nonexistent/ca.pem"),
            ..Options::default()
        });
        assert_eq!(c.stats(), Stats::default());
        assert!(c.check_url("https://h/").is_ok());
    }

    #[test]
    fn missing_ca_bundle_is_a_config_error() {
        let mut c = Client::new(Options {
            ca_file: PathBuf::from("/nonexistent/ca.pem"),
            ..Options::default()
        });
        let e = c.get("https://127.0.0.1:1/", &[]).expect_err("no CA");
        assert_eq!(e.exit_code(), 78, "{e}");
        assert!(e.what.contains("/nonexistent/ca.pem"), "{e}");
    }
}

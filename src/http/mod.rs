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
//!   min(max, base·2^n))`). TLS failures and other 4xx are never retried: they will not get
//!   better.
//! - **Throttling** (HTTP 429, or an answer [`Options::throttled_if`] recognises, as AWS's 400
//!   `ThrottlingException`) says the service is there but over its quota: it is retried while
//!   the deadline allows (up to [`THROTTLED_RETRIES`], however few `retries` are set, unless
//!   they are 0), after the `Retry-After` the answer asks for (seconds or an HTTP date) plus
//!   the full-jitter draw, so replicas told the same wait do not all come back together. Given
//!   up, the error says "throttled" and is 69, the store being unavailable.
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
//! configuration. Only here is an error marked a store outage ([`crate::error::Outage`]): after
//! the last attempt failed to connect, timed out, got 5xx or was throttled, or when a proxy would
//! not open the tunnel. A TLS failure, a redirect, a 4xx answer and anything the caller makes of
//! a response never are: they say something about us, not about the store's health. Non-2xx responses that are not retried (404, 403, ...) are returned as a
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
//!
//! The module's parts: this file is the policy (options, the retry and deadline loop, the URL
//! rules) and the small request helpers the sources share; [`exchange`] is one attempt (the
//! request as sent, the response as read, transport errors classified); [`connect`] is the
//! connection side (the trust store, the trimmed rustls provider, the inline resolver, the agent).

// A build with only some of the remote sources uses only part of the client (a bundle URL is a
// plain GET): what the others need is dead code there, and only there.
#![cfg_attr(
    not(all(feature = "vault", feature = "aws", feature = "gcp", feature = "azure")),
    allow(dead_code, unreachable_pub)
)]

mod connect;
mod exchange;
mod proxy;
pub(crate) mod timing;

pub(crate) use proxy::Proxies;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ureq::Agent;
use ureq::http::Uri;

use crate::environ::Environ;
use crate::error::{Cause, Error, Kind, Outage};
use crate::order::CollectOrdered;
use crate::secret::Secret;
use exchange::{Failure, Outcome};

/// The most retries of throttling answers, whatever [`Options::retries`] is (but 0): a fleet
/// starting together is throttled for as long as the quota's minimum time for all of it, and
/// the deadline is what bounds the wait (200 ms, 400 ms, ... 5 s ceilings: 20 are ~80 s).
pub(crate) const THROTTLED_RETRIES: u32 = 20;

/// The Debian/Ubuntu/Alpine system CA bundle, the last trust fallback.
pub(crate) const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Request methods the remote sources use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
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

/// Recognises a throttling answer by its status and body: `Some(its code)`.
pub(crate) type ThrottledIf = fn(u16, &[u8]) -> Option<String>;

/// Client policy: trust, time, retries and size limits.
#[derive(Clone, Debug)]
pub(crate) struct Options {
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
    /// Recognises a throttling answer that is not a 429 (AWS throttling comes as a 400 whose
    /// body names a throttling code): `Some(the code)` makes it retried as throttling.
    pub throttled_if: Option<ThrottledIf>,
    /// Retry throttling answers (the default). Off, the first one is given up on at once: for a
    /// call that has a cheaper way round (a batch whose items can be read one by one under a
    /// larger quota).
    pub throttle_retries: bool,
    /// The HTTP proxies to go through ([`Proxies::from_env`]); none by default, so a client
    /// built without them (instance metadata, container credentials) always connects directly.
    pub proxies: Proxies,
    /// A client certificate and its key (PEM files) to present to https servers (mutual TLS).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Which store this client talks to, for the request-duration histogram ([`timing`]).
    pub service: timing::Service,
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
            throttled_if: None,
            throttle_retries: true,
            proxies: Proxies::default(),
            client_cert: None,
            service: timing::Service::Other,
        }
    }
}

#[cfg(any(feature = "vault", feature = "aws", feature = "gcp", feature = "azure"))]
/// The [`Options`] a remote source's settings ask for: `$settings` is a settings value with the
/// fields `ca_cert`, `timeout`, `deadline`, `retries` and `allow_insecure_http` (the vault's,
/// aws', gcp's and azure's all have them), `$env` the start-time [`Environ`]; then the other
/// fields the caller sets (`max_body`, `jitter: true`), the rest being the defaults. The
/// proxies come from `$env` (`HTTPS_PROXY`, `NO_PROXY`, ...).
macro_rules! settings_options {
    ($settings:expr, $env:expr $(, $field:ident $(: $value:expr)?)* $(,)?) => {
        $crate::http::Options {
            $($field $(: $value)?,)*
            ca_file: $crate::http::ca_file($settings.ca_cert.as_deref(), $env),
            timeout: $settings.timeout,
            deadline: $settings.deadline,
            retries: $settings.retries,
            allow_insecure_http: $settings.allow_insecure_http,
            proxies: $crate::http::Proxies::from_env($env),
            ..$crate::http::Options::default()
        }
    };
}
#[cfg(any(feature = "vault", feature = "aws", feature = "gcp", feature = "azure"))]
pub(crate) use settings_options;

/// The CA bundle to trust: `explicit` (a setting or `VAULT_CACERT`), else `SSL_CERT_FILE` from the
/// start-time environment, else [`SYSTEM_CA_FILE`].
pub(crate) fn ca_file(explicit: Option<&Path>, env: &Environ) -> PathBuf {
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
pub(crate) struct Stats {
    /// Requests sent (attempts, including retries).
    pub attempts: u32,
    /// Agents created (each holds its own connection pool; 1 means one TLS connection reused).
    pub agents: u32,
}

/// A blocking HTTPS client with the module's policy. Build with [`Client::new`]; no I/O until the
/// first [`Client::send`].
pub(crate) struct Client {
    opts: Options,
    /// The agent, whether it trusts the CA bundle, and the proxy it goes through.
    agent: Option<(Agent, bool, Option<String>)>,
    began: Option<Instant>,
    /// The current per-attempt timeout: [`Options::timeout`], doubled after each timed-out attempt.
    timeout: Duration,
    stats: Stats,
}

impl Client {
    /// A client with `opts`; reads nothing and connects nowhere yet.
    pub(crate) fn new(opts: Options) -> Client {
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
    pub(crate) fn restart_deadline(&mut self) {
        self.began = None;
        self.timeout = self.opts.timeout;
    }

    /// A second client for requests sent alongside this one's (concurrent reads): the same
    /// policy, the same agent (its connection pool: an idle connection is reused, a busy one is
    /// not shared) and the same deadline, counted from this client's first request.
    pub(crate) fn fork(&self) -> Client {
        Client {
            opts: self.opts.clone(),
            agent: self.agent.clone(),
            began: self.began,
            timeout: self.timeout,
            stats: Stats::default(),
        }
    }

    /// Whether throttling answers are retried from now on ([`Options::throttle_retries`]).
    pub(crate) fn retry_throttling(&mut self, on: bool) {
        self.opts.throttle_retries = on;
    }

    /// Counters of what this client has done.
    #[cfg(test)]
    pub(crate) fn stats(&self) -> Stats {
        self.stats
    }

    /// Checks `url` against the scheme policy without sending anything: https, or http to a
    /// loopback host, or http with the opt-in. The error (78) names the URL without its query.
    pub(crate) fn check_url(&self, url: &str) -> Result<(), Error> {
        check_url(url, self.opts.allow_insecure_http).map(|_| ())
    }

    /// GET `url` with `headers` (values are never logged).
    pub(crate) fn get(&mut self, url: &str, headers: &[(&str, &[u8])]) -> Result<Response, Error> {
        self.send(Method::Get, url, headers, None)
    }

    /// POST `body` to `url` with `headers` (PUT and the rest: [`Client::send`]).
    pub(crate) fn post(
        &mut self,
        url: &str,
        headers: &[(&str, &[u8])],
        body: &[u8],
    ) -> Result<Response, Error> {
        self.send(Method::Post, url, headers, Some(body))
    }

    /// Sends one request under the retry, deadline, redirect and size policy.
    pub(crate) fn send(
        &mut self,
        method: Method,
        url: &str,
        headers: &[(&str, &[u8])],
        body: Option<&[u8]>,
    ) -> Result<Response, Error> {
        let https = check_url(url, self.opts.allow_insecure_http)?;
        let route = self.opts.proxies.route(&url.parse::<Uri>().map_err(|_| {
            Error::new(
                Kind::Config,
                format!("{}: not a valid URL", crate::url::redact_url(url)),
            )
        })?)?;
        let shown = match &route {
            Some(r) => format!(
                "{} (through the proxy {})",
                crate::url::redact_url(url),
                r.shown
            ),
            None => crate::url::redact_url(url),
        };
        let began = *self.began.get_or_insert_with(Instant::now);
        let deadline = began + self.opts.deadline;
        let agent = self.agent(https, route)?;
        let mut attempt: u32 = 0;
        // Retries of other failures and of throttling answers, each its own backoff sequence.
        let (mut retried, mut throttled_retries) = (0u32, 0u32);
        // How the last attempt failed, when it says the store could not be asked; a giving up
        // carries it (a deadline reached before any attempt is a timeout).
        let mut outage = Some(Outage::Timeout);
        loop {
            let now = Instant::now();
            let remaining = deadline.saturating_duration_since(now);
            if remaining.is_zero() {
                let why = "deadline reached";
                return Err(self.gave_up(method, &shown, why, attempt, began, outage));
            }
            let budget = self.timeout.min(remaining);
            attempt += 1;
            self.stats.attempts += 1;
            crate::log::trace!(
                "{} {shown} (attempt {attempt}, timeout {} ms)",
                method.as_str(),
                budget.as_millis()
            );
            let sent = Instant::now();
            let answer = exchange::once(&agent, &self.opts, method, url, headers, body, budget);
            timing::observe(self.opts.service, sent.elapsed());
            let (why, retry_after, throttled) = match answer {
                Ok(Outcome::Done(resp)) => {
                    crate::log::trace!("{} {shown}: HTTP {}", method.as_str(), resp.status);
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
                Ok(Outcome::Retry(status, retry_after, throttled)) => {
                    // 5xx is the server failing; 429 and a provider's own throttling answer
                    // (AWS: a 400 naming a throttling code, `throttled_if`) are throttling.
                    outage = Some(if throttled.is_none() && (500..600).contains(&status) {
                        Outage::ServerError
                    } else {
                        Outage::Throttled
                    });
                    match throttled {
                        Some(how) => (format!("throttled ({how})"), retry_after, true),
                        None => (format!("HTTP {status}"), retry_after, false),
                    }
                }
                Err(Failure::Fatal(kind, why)) => {
                    // exchange.rs: a fatal 77 is always TLS, a fatal 65 an oversized body.
                    let cause = match kind {
                        Kind::Permission => Some(Cause::Tls),
                        Kind::Data => Some(Cause::TooLarge),
                        _ => None,
                    };
                    let e = Error::new(kind, format!("{} {shown}: {why}", method.as_str()));
                    return Err(match cause {
                        Some(c) => e.because(c),
                        None => e,
                    });
                }
                Err(Failure::Blocked(why)) => {
                    return Err(Error::new(
                        Kind::Unavailable,
                        format!("{} {shown}: {why}", method.as_str()),
                    )
                    .with_outage(Outage::Proxy));
                }
                Err(Failure::Transient(why, cause)) => {
                    outage = cause;
                    (why, None, false)
                }
                Err(Failure::TimedOut(why)) => {
                    self.timeout = self.timeout.saturating_mul(2).min(self.opts.deadline);
                    outage = Some(Outage::Timeout);
                    (why, None, false)
                }
            };
            crate::log::debug!("{} {shown}: {why} (attempt {attempt})", method.as_str());
            let (n, limit) = if throttled && self.opts.throttle_retries {
                throttled_retries += 1;
                (
                    throttled_retries,
                    if self.opts.retries == 0 {
                        0
                    } else {
                        self.opts.retries.max(THROTTLED_RETRIES)
                    },
                )
            } else {
                retried += 1;
                (retried, if throttled { 0 } else { self.opts.retries })
            };
            if n > limit {
                return Err(self.gave_up(method, &shown, &why, attempt, began, outage));
            }
            let jitter = backoff(
                self.opts.backoff_base,
                self.opts.backoff_max,
                n - 1,
                self.opts.jitter.then(random_u64),
            );
            // A throttled answer's Retry-After is the least wait; the jitter spreads the
            // replicas told the same. Another status's Retry-After is waited as it is.
            let wait = match retry_after {
                Some(s) if throttled => s.saturating_add(jitter),
                Some(s) => s,
                None => jitter,
            };
            let remaining = deadline.saturating_duration_since(Instant::now());
            if wait >= remaining {
                let why = match retry_after {
                    Some(s) if s >= remaining => format!(
                        "{why}; server asked to retry after {} s, past the deadline",
                        s.as_secs()
                    ),
                    _ => format!("{why}; deadline reached"),
                };
                return Err(self.gave_up(method, &shown, &why, attempt, began, outage));
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

    /// The error after the last attempt: 69, with the outage the attempts ended on.
    fn gave_up(
        &self,
        method: Method,
        shown: &str,
        why: &str,
        attempts: u32,
        began: Instant,
        outage: Option<Outage>,
    ) -> Error {
        let e = Error::new(
            Kind::Unavailable,
            format!(
                "{} {shown}: {why} (gave up after {attempts} attempt{} in {:.1} s)",
                method.as_str(),
                if attempts == 1 { "" } else { "s" },
                began.elapsed().as_secs_f64()
            ),
        )
        .because(Cause::StoreUnreachable);
        match outage {
            Some(o) => e.with_outage(o),
            None => e,
        }
    }

    /// The agent, created on first use; the CA bundle is read only when an https URL needs it.
    /// (An agent is a handle on a shared connection pool: the copy returned is the same agent.)
    /// A request through another proxy (or none, where the last went through one) gets a new
    /// agent: one agent has one proxy.
    fn agent(&mut self, https: bool, route: Option<proxy::Route>) -> Result<Agent, Error> {
        let via = route.as_ref().map(|r| r.shown.clone());
        if let Some((agent, trusted, through)) = &self.agent
            && (*trusted || !https)
            && *through == via
        {
            return Ok(agent.clone());
        }
        let agent = connect::agent(
            &self.opts.ca_file,
            https,
            route.map(|r| r.proxy),
            self.opts.client_cert.as_ref(),
        )?;
        self.agent = Some((agent.clone(), https, via));
        self.stats.agents += 1;
        Ok(agent)
    }
}

/// Clients for several hosts under one policy: one [`Client`] (one agent, one kept-alive
/// connection, one deadline) per key, created on first use.
pub(crate) struct Pool {
    opts: Options,
    by_key: BTreeMap<String, Client>,
}

impl Pool {
    /// A pool whose clients get `opts`; no I/O.
    pub(crate) fn new(opts: Options) -> Pool {
        Pool {
            opts,
            by_key: BTreeMap::new(),
        }
    }

    /// A pool for a concurrent reader: each client a [`Client::fork`] (the same agents and
    /// deadlines), the same options for the clients made later.
    pub(crate) fn fork(&self) -> Pool {
        Pool {
            opts: self.opts.clone(),
            by_key: self
                .by_key
                .iter()
                .map(|(k, c)| (k.clone(), c.fork()))
                .collect_ordered(),
        }
    }

    /// The client for `key` (an endpoint or an [`origin`]); the first time, it is built with the
    /// pool's options as `adjust` changes them (a metadata host's own limits).
    pub(crate) fn client(&mut self, key: &str, adjust: impl FnOnce(&mut Options)) -> &mut Client {
        self.by_key.entry(key.to_string()).or_insert_with(|| {
            let mut opts = self.opts.clone();
            adjust(&mut opts);
            Client::new(opts)
        })
    }
}

/// The scheme and authority of `url` (`https://host:port`), the key of its connection.
pub(crate) fn origin(url: &str) -> String {
    url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/")
}

/// An `Authorization` header value for `token`, in a buffer wiped on drop.
pub(crate) fn bearer(token: &[u8]) -> zeroize::Zeroizing<Vec<u8>> {
    let mut auth = zeroize::Zeroizing::new(b"Bearer ".to_vec());
    auth.extend_from_slice(token);
    auth
}

/// An `application/x-www-form-urlencoded` body of `pairs`, in a buffer wiped on drop (the
/// values are assertions, tokens and client secrets).
pub(crate) fn form(pairs: &[(&str, &[u8])]) -> zeroize::Zeroizing<Vec<u8>> {
    let mut out = zeroize::Zeroizing::new(Vec::new());
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        crate::url::form_encode(&mut out, k.as_bytes());
        out.push(b'=');
        crate::url::form_encode(&mut out, v);
    }
    out
}

/// A service's own text (an error code or message from an answer) as our errors may carry it:
/// trimmed, control characters escaped, at most 200 characters.
pub(crate) fn service_text(s: &str) -> String {
    crate::log::escape_controls(s.trim())
        .chars()
        .take(200)
        .collect()
}

/// Applies the scheme policy; returns whether the URL is https.
fn check_url(url: &str, allow_insecure_http: bool) -> Result<bool, Error> {
    let uri: Uri = url.parse().map_err(|_| {
        Error::new(
            Kind::Config,
            format!("{}: not a valid URL", crate::url::redact_url(url)),
        )
    })?;
    let host = uri.host().unwrap_or_default();
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(true),
        Some("http") if !host.is_empty() => {
            if allow_insecure_http || crate::url::is_loopback(host) {
                Ok(false)
            } else {
                Err(Error::new(
                    Kind::Config,
                    format!(
                        "{}: plain http to a non-loopback host is refused (use https, or opt in with --allow-insecure-http)",
                        crate::url::redact_url(url)
                    ),
                ))
            }
        }
        _ => Err(Error::new(
            Kind::Config,
            format!(
                "{}: expected an https:// URL with a host",
                crate::url::redact_url(url)
            ),
        )),
    }
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
        assert_eq!(e.outage, None, "a configuration error is no outage");
    }

    /// A loopback server answering every connection with `answer` (raw bytes), for `n`
    /// connections; its URL.
    fn answering(answer: &'static [u8], n: usize) -> String {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/v1/x", l.local_addr().expect("addr"));
        std::thread::spawn(move || {
            for s in l.incoming().take(n) {
                let Ok(mut s) = s else { return };
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(answer);
            }
        });
        url
    }

    /// What the fallback snapshot may stand in for is typed here and only here: every attempt
    /// refused, 5xx or 429 is an outage; a 403 or 404 is an answer (no error at all), and a
    /// peer that is not HTTP is no outage.
    #[test]
    fn an_outage_is_typed_and_an_answer_is_not() {
        let quick = || {
            Client::new(Options {
                retries: 1,
                backoff_base: Duration::from_millis(1),
                timeout: Duration::from_secs(2),
                deadline: Duration::from_secs(5),
                ..Options::default()
            })
        };
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            format!("http://{}/v1/x", l.local_addr().expect("addr"))
        };
        let e = quick().get(&closed, &[]).expect_err("refused");
        assert_eq!(
            (e.outage, e.exit_code()),
            (Some(Outage::Network), 69),
            "{e}"
        );
        let busy = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
        let e = quick().get(&answering(busy, 2), &[]).expect_err("503");
        assert_eq!(e.outage, Some(Outage::ServerError), "{e}");
        // Throttling is retried past `retries` (its own budget): short waits, room for them all.
        let slow = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n";
        let e = Client::new(Options {
            backoff_max: Duration::from_millis(10),
            ..quick().opts
        })
        .get(&answering(slow, 2 * THROTTLED_RETRIES as usize), &[])
        .expect_err("429");
        assert_eq!(e.outage, Some(Outage::Throttled), "{e}");
        assert!(e.what.contains("throttled (HTTP 429)"), "{e}");
        let denied = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
        let r = quick().get(&answering(denied, 1), &[]).expect("an answer");
        assert_eq!(r.status, 403);
        let e = quick()
            .get(&answering(b"SSH-2.0-OpenSSH\r\n", 2), &[])
            .expect_err("not HTTP");
        assert_eq!(e.outage, None, "{e}");
    }
}

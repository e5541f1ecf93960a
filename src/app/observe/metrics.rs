//! The metrics endpoint: Prometheus text (format 0.0.4) at `GET /metrics`, on a TCP address the
//! user named (loopback unless they named another) or a unix socket (docs/observability.md).
//!
//! A hand-written HTTP/1.1 responder rather than a server crate: it answers one read-only GET
//! per connection and closes, which is some 150 lines, where hyper or tiny_http would bring a
//! runtime or a thread pool and several hundred KiB to a binary kept under 3.5 MiB. Its limits
//! are what make it safe to expose to a scraper:
//!
//! - one thread blocked in `accept`: no wakeup at all while nobody scrapes;
//! - at most [`MAX_CONNECTIONS`] connections served at once, each on a small thread; one over
//!   that is closed at once (a flood costs a closed socket each, not memory);
//! - a request line and headers of at most [`MAX_REQUEST`] bytes (431 past that), read within
//!   [`DEADLINE`] in all (a slow client, slowloris, is cut off then), the answer written within
//!   the same deadline;
//! - `GET /metrics` only (404 for another path, 405 for another method); nothing it reads
//!   changes anything: it copies the shared state under its mutex and renders the copy.
//!
//! Every thread runs with all signals blocked (they are the supervisor's, taken by its
//! signalfd), and the listener is opened close-on-exec, so the program never inherits it.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::State;
use crate::error::{Error, Kind};
#[cfg(feature = "tls")]
use crate::http::timing;
use crate::provenance::ProgramUser;
use crate::settings::Listen;

/// Connections served at once; more are closed unanswered.
pub(crate) const MAX_CONNECTIONS: usize = 4;
/// The largest request (line and headers) read.
pub const MAX_REQUEST: usize = 8 * 1024;
/// The time a connection has, reading and writing together.
pub(crate) const DEADLINE: Duration = Duration::from_secs(5);
/// Each connection thread's stack: rendering needs little.
const STACK: usize = 256 * 1024;

/// A bound listener, not yet served.
pub(crate) enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

fn refused(l: &Listen, why: impl std::fmt::Display, kind: Kind) -> Error {
    Error::new(kind, format!("secret_init.metrics.listen {l}: {why}"))
}

impl Listener {
    /// Binds `l`. A unix socket's directory is opened without following a link and must be out
    /// of the program's user's reach under `--user` (78); the socket is made 0600 (only
    /// secret-init's user, root in a container, connects), a stale socket of ours replaced.
    pub(crate) fn bind(l: &Listen, user: Option<&ProgramUser>) -> Result<Listener, Error> {
        match l {
            Listen::Tcp(addr) => {
                if crate::settings::beyond_loopback(addr) {
                    crate::log::warn!(
                        "metrics: listening on {addr}, beyond loopback: anyone who can reach it reads secret names, sources and timings (docs/observability.md)"
                    );
                }
                TcpListener::bind(addr)
                    .map(Listener::Tcp)
                    .map_err(|e| refused(l, crate::error::io_text(&e), Kind::CantCreate))
            }
            Listen::Unix(path) => {
                let parent = path.parent().unwrap_or(std::path::Path::new("/"));
                if let Some(u) = user
                    && u.could_change_dir(parent)
                {
                    return Err(refused(
                        l,
                        format!(
                            "the program's user (uid {}) can change its directory; under --user the socket must be out of the program's reach",
                            u.uid
                        ),
                        Kind::Config,
                    ));
                }
                let dir = crate::fsx::open_parent(path)
                    .map_err(|why| refused(l, why, Kind::CantCreate))?
                    .ok_or_else(|| refused(l, "its directory does not exist", Kind::CantCreate))?;
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .ok_or_else(|| refused(l, "not a file name", Kind::Config))?;
                // A socket left by an earlier run of ours is replaced; anything else is not.
                if let Ok(st) =
                    nix::sys::stat::fstatat(&dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
                {
                    let socket = st.st_mode & nix::sys::stat::SFlag::S_IFMT.bits()
                        == nix::sys::stat::SFlag::S_IFSOCK.bits();
                    if !socket || st.st_uid != nix::unistd::geteuid().as_raw() {
                        return Err(refused(l, "something else is in the way", Kind::CantCreate));
                    }
                    let _ =
                        nix::unistd::unlinkat(&dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
                }
                // Bound through the directory's descriptor: no link on the way is followed.
                use std::os::fd::AsRawFd;
                let via = format!("/proc/self/fd/{}/{name}", dir.as_raw_fd());
                let at = if std::path::Path::new("/proc/self/fd").is_dir() {
                    std::path::PathBuf::from(via)
                } else {
                    path.clone()
                };
                let listener = UnixListener::bind(&at)
                    .map_err(|e| refused(l, crate::error::io_text(&e), Kind::CantCreate))?;
                nix::sys::stat::fchmodat(
                    &dir,
                    name,
                    nix::sys::stat::Mode::from_bits_truncate(0o600),
                    nix::sys::stat::FchmodatFlags::NoFollowSymlink,
                )
                .or_else(|_| {
                    nix::sys::stat::fchmodat(
                        &dir,
                        name,
                        nix::sys::stat::Mode::from_bits_truncate(0o600),
                        nix::sys::stat::FchmodatFlags::FollowSymlink,
                    )
                })
                .map_err(|e| refused(l, e.desc(), Kind::CantCreate))?;
                Ok(Listener::Unix(listener))
            }
        }
    }
}

/// Runs `f` on a new thread that starts with every signal blocked (the mask is inherited from
/// the spawning thread, so it is blocked there around the spawn and restored after).
fn spawn_blocked(name: &str, f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    use nix::sys::signal::{SigSet, SigmaskHow, pthread_sigmask};
    let mut old = SigSet::empty();
    let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&SigSet::all()), Some(&mut old));
    let spawned = std::thread::Builder::new()
        .name(name.to_string())
        .stack_size(STACK)
        .spawn(f);
    let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    spawned.map(|_| ())
}

/// Serves the metrics from a thread of its own until the process ends.
pub(crate) fn serve(listener: Listener, state: Arc<Mutex<State>>) {
    let busy = Arc::new(AtomicUsize::new(0));
    let started = spawn_blocked("metrics", move || {
        loop {
            let accepted: std::io::Result<Box<dyn Conn>> = match &listener {
                Listener::Tcp(l) => l.accept().map(|(s, _)| Box::new(s) as Box<dyn Conn>),
                Listener::Unix(l) => l.accept().map(|(s, _)| Box::new(s) as Box<dyn Conn>),
            };
            let conn = match accepted {
                Ok(c) => c,
                // Out of descriptors (EMFILE, ENFILE) or memory: an error that repeats at once
                // would spin; a pause lets connections end. Never a busy loop.
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            if busy.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
                busy.fetch_sub(1, Ordering::AcqRel);
                drop(conn);
                continue;
            }
            let (busy2, state) = (busy.clone(), state.clone());
            let ran = spawn_blocked("metrics-conn", move || {
                answer(conn, &state);
                busy2.fetch_sub(1, Ordering::AcqRel);
            });
            if ran.is_err() {
                busy.fetch_sub(1, Ordering::AcqRel);
            }
        }
    });
    if let Err(e) = started {
        crate::log::warn!("metrics: cannot start the server thread: {e}");
    }
}

/// A connection: TCP or unix stream.
trait Conn: Read + Write + Send {
    fn deadline(&self, t: Duration);
}

impl Conn for std::net::TcpStream {
    fn deadline(&self, t: Duration) {
        let _ = self.set_read_timeout(Some(t));
        let _ = self.set_write_timeout(Some(t));
    }
}

impl Conn for std::os::unix::net::UnixStream {
    fn deadline(&self, t: Duration) {
        let _ = self.set_read_timeout(Some(t));
        let _ = self.set_write_timeout(Some(t));
    }
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Asked {
    /// `GET /metrics`: 200 with the metrics.
    Metrics,
    /// `GET` of another path: 404.
    NotFound,
    /// Another method: 405.
    NotAllowed,
    /// A head over [`MAX_REQUEST`]: 431.
    TooLarge,
    /// Not an HTTP/1.x request line: 400.
    Bad,
}

/// Reads the request head (line and headers) within the deadline and the size cap.
fn read_head(conn: &mut dyn Conn, until: Instant) -> Option<Vec<u8>> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        conn.deadline(left);
        let n = conn.read(&mut buf).ok()?;
        if n == 0 {
            return Some(head);
        }
        head.extend_from_slice(&buf[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            return Some(head);
        }
        if head.len() > MAX_REQUEST {
            return Some(head);
        }
    }
}

/// Decides the answer from the request head (network input: the `metrics_request` fuzz
/// target drives it).
pub fn asked(head: &[u8]) -> Asked {
    if head.len() > MAX_REQUEST {
        return Asked::TooLarge;
    }
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.trim_end().split(' ');
    let (Some(method), Some(target), Some(version)) = (words.next(), words.next(), words.next())
    else {
        return Asked::Bad;
    };
    if !version.starts_with("HTTP/1.") {
        return Asked::Bad;
    }
    let path = target.split('?').next().unwrap_or(target);
    match (method, path) {
        ("GET", "/metrics") => Asked::Metrics,
        ("GET", _) => Asked::NotFound,
        _ => Asked::NotAllowed,
    }
}

fn answer(mut conn: Box<dyn Conn>, state: &Mutex<State>) {
    let until = Instant::now() + DEADLINE;
    let Some(head) = read_head(conn.as_mut(), until) else {
        return;
    };
    let (status, extra, body) = match asked(&head) {
        Asked::Metrics => {
            let copy = state.lock().unwrap_or_else(PoisonError::into_inner).clone();
            ("200 OK", "", render(&copy))
        }
        Asked::NotFound => ("404 Not Found", "", "not found: GET /metrics\n".to_string()),
        Asked::NotAllowed => (
            "405 Method Not Allowed",
            "Allow: GET\r\n",
            "method not allowed: GET /metrics\n".to_string(),
        ),
        Asked::TooLarge => (
            "431 Request Header Fields Too Large",
            "",
            "request too large\n".to_string(),
        ),
        Asked::Bad => ("400 Bad Request", "", "bad request\n".to_string()),
    };
    let text = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    );
    let left = until.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return;
    }
    conn.deadline(left);
    let _ = conn.write_all(text.as_bytes());
}

/// A label value in the text format: `\`, `"` and newlines escaped.
pub fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
}

/// The metrics text (docs/observability.md lists every family). Labels carry secret names and
/// source kinds, never a value, a path's content or a token.
pub(crate) fn render(s: &State) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "secret_init_start_time_seconds",
        "gauge",
        "When the supervisor started the program, in Unix seconds.",
    );
    out.push_str(&format!("secret_init_start_time_seconds {}\n", s.started));
    family(
        &mut out,
        "secret_init_secret_last_success_timestamp_seconds",
        "gauge",
        "When each secret was last read successfully, in Unix seconds.",
    );
    for (name, st) in &s.secrets {
        if let Some(t) = st.fetched {
            out.push_str(&format!(
                "secret_init_secret_last_success_timestamp_seconds{{secret=\"{}\",source=\"{}\"}} {t}\n",
                label(name),
                label(&st.kind)
            ));
        }
    }
    family(
        &mut out,
        "secret_init_secret_lease_expiry_timestamp_seconds",
        "gauge",
        "When each leased secret's lease ends, in Unix seconds.",
    );
    for (name, st) in &s.secrets {
        if let Some(t) = st.expires {
            out.push_str(&format!(
                "secret_init_secret_lease_expiry_timestamp_seconds{{secret=\"{}\",source=\"{}\"}} {t}\n",
                label(name),
                label(&st.kind)
            ));
        }
    }
    family(
        &mut out,
        "secret_init_secret_failing",
        "gauge",
        "1 when the last refresh failed for this secret, else 0.",
    );
    for (name, st) in &s.secrets {
        out.push_str(&format!(
            "secret_init_secret_failing{{secret=\"{}\",source=\"{}\"}} {}\n",
            label(name),
            label(&st.kind),
            u8::from(st.failing.is_some())
        ));
    }
    if let Some(t) = s.token_expires {
        family(
            &mut out,
            "secret_init_vault_token_expiry_timestamp_seconds",
            "gauge",
            "When the vault token secret-init holds expires, in Unix seconds.",
        );
        out.push_str(&format!(
            "secret_init_vault_token_expiry_timestamp_seconds {t}\n"
        ));
    }
    family(
        &mut out,
        "secret_init_refreshes_total",
        "counter",
        "Refresh passes, by the source kinds they read.",
    );
    for (source, n) in &s.refreshes {
        out.push_str(&format!(
            "secret_init_refreshes_total{{source=\"{}\"}} {n}\n",
            label(source)
        ));
    }
    family(
        &mut out,
        "secret_init_refresh_failures_total",
        "counter",
        "Failed refresh passes, by source kind and reason code.",
    );
    for ((source, reason), n) in &s.failures {
        out.push_str(&format!(
            "secret_init_refresh_failures_total{{source=\"{}\",reason=\"{}\"}} {n}\n",
            label(source),
            label(reason)
        ));
    }
    family(
        &mut out,
        "secret_init_changes_published_total",
        "counter",
        "Refreshes that published a changed secret.",
    );
    out.push_str(&format!(
        "secret_init_changes_published_total {}\n",
        s.changes
    ));
    family(
        &mut out,
        "secret_init_program_restarts_total",
        "counter",
        "Restarts of the program after a refresh.",
    );
    out.push_str(&format!(
        "secret_init_program_restarts_total {}\n",
        s.restarts
    ));
    family(
        &mut out,
        "secret_init_fallback_secrets",
        "gauge",
        "Secrets served from the fallback snapshot because their store could not be asked.",
    );
    out.push_str(&format!("secret_init_fallback_secrets {}\n", s.fallback));
    // Without a remote source (the core build) no request is ever made.
    #[cfg(feature = "tls")]
    request_durations(&mut out);
    out
}

/// The histogram of store request durations, one series a service.
#[cfg(feature = "tls")]
fn request_durations(out: &mut String) {
    family(
        out,
        "secret_init_provider_request_duration_seconds",
        "histogram",
        "Duration of each request to a store (every attempt, retries included).",
    );
    for service in timing::Service::ALL {
        let h = timing::read(service);
        let name = service.name();
        for (bound, n) in timing::BUCKETS.iter().zip(&h.cumulative) {
            out.push_str(&format!(
                "secret_init_provider_request_duration_seconds_bucket{{service=\"{name}\",le=\"{bound}\"}} {n}\n"
            ));
        }
        let count = h.cumulative[timing::BUCKETS.len()];
        out.push_str(&format!(
            "secret_init_provider_request_duration_seconds_bucket{{service=\"{name}\",le=\"+Inf\"}} {count}\n\
             secret_init_provider_request_duration_seconds_sum{{service=\"{name}\"}} {}\n\
             secret_init_provider_request_duration_seconds_count{{service=\"{name}\"}} {count}\n",
            h.sum_seconds
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_read_only_and_bounded() {
        assert_eq!(
            asked(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Asked::Metrics
        );
        assert_eq!(asked(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"), Asked::Metrics);
        assert_eq!(asked(b"GET / HTTP/1.1\r\n\r\n"), Asked::NotFound);
        assert_eq!(asked(b"POST /metrics HTTP/1.1\r\n\r\n"), Asked::NotAllowed);
        assert_eq!(
            asked(b"DELETE /metrics HTTP/1.1\r\n\r\n"),
            Asked::NotAllowed
        );
        assert_eq!(asked(b"GET /metrics\r\n\r\n"), Asked::Bad);
        assert_eq!(asked(b"\x16\x03\x01"), Asked::Bad);
        let big = vec![b'a'; MAX_REQUEST + 1];
        assert_eq!(asked(&big), Asked::TooLarge);
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}

//! `secret_init.metrics` and `secret_init.audit` (docs/observability.md), typed: where the
//! metrics are served and where the audit trail goes, both off unless set.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use crate::error::{Error, Kind};
use crate::manifest::{RawAudit, RawMetrics};

/// The audit trail's default size cap: past it the file is renamed to `PATH.1` (one old
/// generation kept) and a new one begun.
pub(crate) const AUDIT_MAX_BYTES: u64 = 10 * 1024 * 1024;

/// Where the metrics endpoint listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// A TCP address the user named (loopback unless they named another).
    Tcp(SocketAddr),
    /// A unix socket at this absolute path.
    Unix(PathBuf),
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Tcp(a) => write!(f, "{a}"),
            Listen::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// Where the audit trail goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditTo {
    /// secret-init's stderr, one JSON line each.
    Stderr,
    /// An append-only file, 0600, renamed to `PATH.1` past `max_bytes`.
    File {
        /// The absolute path.
        path: PathBuf,
        /// The size cap, in bytes.
        max_bytes: u64,
    },
}

/// Metrics and audit, each `None` when off.
#[derive(Clone, Debug, Default)]
pub struct ObserveSettings {
    /// The metrics endpoint.
    pub metrics: Option<Listen>,
    /// The audit trail.
    pub audit: Option<AuditTo>,
}

impl ObserveSettings {
    /// Whether a running supervisor is needed to serve them (the metrics are).
    pub fn needs_supervisor(&self) -> bool {
        self.metrics.is_some()
    }
}

/// `secret_init.metrics.listen`: `HOST:PORT` with an IP literal (no name is resolved, so a name
/// that also resolves to a public address cannot widen it), `[::1]:PORT`, or `unix:/PATH`.
pub fn listen(text: &str) -> Result<Listen, Error> {
    let bad = |why: &str| {
        Error::new(
            Kind::Config,
            format!("secret_init.metrics.listen {text:?}: {why}"),
        )
    };
    if let Some(p) = text.strip_prefix("unix:") {
        let path = PathBuf::from(p);
        if !path.is_absolute() || path.file_name().is_none() {
            return Err(bad(
                "a unix socket needs an absolute path, unix:/run/secret-init/m.sock",
            ));
        }
        // sun_path holds 108 bytes with its NUL.
        if p.len() > 107 {
            return Err(bad("a unix socket path is at most 107 bytes"));
        }
        return Ok(Listen::Unix(path));
    }
    let addr: SocketAddr = text.parse().map_err(|_| {
        bad("expected IP:PORT (127.0.0.1:9464, [::1]:9464) or unix:/PATH; a host name is not resolved")
    })?;
    if addr.port() == 0 {
        return Err(bad("port 0 is not a place a scraper can find"));
    }
    Ok(Listen::Tcp(addr))
}

/// Whether `addr` reaches beyond this host: anything but loopback.
pub(crate) fn beyond_loopback(addr: &SocketAddr) -> bool {
    match addr.ip() {
        IpAddr::V4(a) => !a.is_loopback(),
        IpAddr::V6(a) => !a.is_loopback(),
    }
}

/// The settings from `secret_init.metrics` and `secret_init.audit`.
pub(crate) fn resolve(
    metrics: Option<&RawMetrics>,
    audit: Option<&RawAudit>,
) -> Result<ObserveSettings, Error> {
    let metrics = match metrics {
        None => None,
        Some(m) => match m.listen.as_deref() {
            None => {
                return Err(Error::new(
                    Kind::Config,
                    "secret_init.metrics: listen is required (127.0.0.1:9464 or unix:/PATH)",
                ));
            }
            Some(t) => Some(listen(t.trim())?),
        },
    };
    let audit = match audit {
        None => None,
        Some(a) => {
            let max_bytes = a.max_bytes.unwrap_or(AUDIT_MAX_BYTES);
            if max_bytes < 4096 {
                return Err(Error::new(
                    Kind::Config,
                    "secret_init.audit.max_bytes: at least 4096",
                ));
            }
            match a.file.as_deref() {
                None => {
                    return Err(Error::new(
                        Kind::Config,
                        "secret_init.audit: file is required (an absolute path, or stderr)",
                    ));
                }
                Some("stderr") => Some(AuditTo::Stderr),
                Some(p) if PathBuf::from(p).is_absolute() => Some(AuditTo::File {
                    path: PathBuf::from(p),
                    max_bytes,
                }),
                Some(p) => {
                    return Err(Error::new(
                        Kind::Config,
                        format!("secret_init.audit.file {p:?}: an absolute path, or stderr"),
                    ));
                }
            }
        }
    };
    Ok(ObserveSettings { metrics, audit })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(
            listen("127.0.0.1:9464").expect("accepted"),
            Listen::Tcp("127.0.0.1:9464".parse().expect("an address"))
        );
        assert_eq!(
            listen("unix:/run/secret-init/m.sock").expect("accepted"),
            Listen::Unix("/run/secret-init/m.sock".into())
        );
        assert!(listen("[::1]:9464").is_ok());
        for bad in [
            "localhost:9464",
            ":9464",
            "9464",
            "unix:m.sock",
            "127.0.0.1:0",
            "unix:/",
        ] {
            let e = listen(bad).expect_err("refused");
            assert_eq!(e.kind, Kind::Config, "{bad}");
        }
        assert!(!beyond_loopback(
            &"127.0.0.1:1".parse().expect("an address")
        ));
        assert!(!beyond_loopback(&"[::1]:1".parse().expect("an address")));
        assert!(beyond_loopback(&"0.0.0.0:1".parse().expect("an address")));
        assert!(beyond_loopback(&"10.0.0.1:1".parse().expect("an address")));
    }
}

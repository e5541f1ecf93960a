//! One attempt of a request: the request as ureq sends it (headers, JSON by default), the
//! response as read (redirects and retryable statuses recognised, the body read under the size
//! cap into a [`Secret`]), and transport errors sorted into fatal, transient and timed out. The
//! loop around it (retries, backoff, the deadline) is in the module root.

use std::io::Read;
use std::time::Duration;

use ureq::{Agent, Body};

use super::{Method, Options, Response};
use crate::error::{Kind, Outage};
use crate::secret::Secret;
use crate::url::redact_url;

/// Sends `method url` once within `budget`; no retry here.
pub(super) fn once(
    agent: &Agent,
    opts: &Options,
    method: Method,
    url: &str,
    headers: &[(&str, &[u8])],
    body: Option<&[u8]>,
    budget: Duration,
) -> Result<Outcome, Failure> {
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
            .and_then(|v| retry_after(v, std::time::SystemTime::now()));
        // Read a small error body to the end so the connection goes back to the pool and the
        // retry reuses it; a large one is dropped with its connection.
        let _ = read_capped(resp.body_mut(), 64 * 1024);
        let throttled = (status == 429).then(|| format!("HTTP {status}"));
        return Ok(Outcome::Retry(status, retry_after, throttled));
    }
    let etag = resp
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 256 && !v.is_empty())
        .map(str::to_string);
    let body = read_capped(resp.body_mut(), opts.max_body)?;
    if !(200..300).contains(&status)
        && let Some(throttled) = opts.throttled_if
        && let Some(code) = throttled(status, body.expose())
    {
        return Ok(Outcome::Retry(
            status,
            None,
            Some(format!("HTTP {status} {code}")),
        ));
    }
    Ok(Outcome::Done(Response { status, body, etag }))
}

pub(super) enum Outcome {
    Done(Response),
    Redirect(u16, String),
    /// A status worth another attempt, the wait its `Retry-After` asks for, and, when it is a
    /// throttling answer, how it said so (`HTTP 429`, `HTTP 400 ThrottlingException`).
    Retry(u16, Option<Duration>, Option<String>),
}

/// A `Retry-After` value as a wait from `now`: delay-seconds, or an HTTP-date (RFC 9110
/// IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`; a date already past is no wait). `None` when
/// it is neither.
pub(super) fn retry_after(v: &str, now: std::time::SystemTime) -> Option<Duration> {
    let v = v.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(v.parse().unwrap_or(u64::MAX)));
    }
    let at = http_date(v)?;
    let now = now.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// An IMF-fixdate as Unix seconds (`None` when malformed or before 1970).
fn http_date(v: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut f = v.split(' ');
    let (_weekday, day, month, year, time, zone) = (
        f.next()?,
        f.next()?,
        f.next()?,
        f.next()?,
        f.next()?,
        f.next()?,
    );
    if f.next().is_some() || zone != "GMT" || day.len() != 2 || year.len() != 4 {
        return None;
    }
    let num = |s: &str| -> Option<i64> {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    let (d, y) = (num(day)?, num(year)?);
    let m = MONTHS.iter().position(|x| *x == month)? as i64 + 1;
    let mut t = time.split(':');
    let (h, mi, s) = (num(t.next()?)?, num(t.next()?)?, num(t.next()?)?);
    if t.next().is_some() || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Days since 1970-01-01 of y-m-d (Howard Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + mi * 60 + s).ok()
}

pub(super) enum Failure {
    Fatal(Kind, String),
    /// Not retried, and the store was never asked: a proxy that refused the tunnel.
    Blocked(String),
    /// Worth another attempt; with the outage it is when every attempt ends so (an HTTP protocol
    /// error has none: a peer that is not HTTP is not a store that is down).
    Transient(String, Option<Outage>),
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

/// A proxy that did not open the tunnel. ureq words it "proxy server responded 407/Proxy
/// Authentication Required" or "proxy server did not respond". A proxy that cannot reach the
/// server now (502, 503, 504) or says nothing may do better on a retry; one that refuses the
/// credentials (407) or the destination (403, ...) will not.
fn proxy_failure(why: &str) -> Failure {
    let status = why
        .strip_prefix("proxy server responded ")
        .and_then(|s| s.split('/').next())
        .and_then(|s| s.parse::<u16>().ok());
    match status {
        Some(407) => Failure::Fatal(
            Kind::Unavailable,
            "the proxy refused: HTTP 407 Proxy Authentication Required (missing or wrong user and password in the proxy URL)".into(),
        ),
        Some(s) if (500..600).contains(&s) => Failure::Transient(
            format!("the proxy could not open the tunnel: HTTP {s}"),
            Some(Outage::Proxy),
        ),
        Some(s) => Failure::Blocked(format!(
            "the proxy refused the tunnel: HTTP {s} (does it allow CONNECT to this host and port?)"
        )),
        None => Failure::Transient(
            format!(
                "the proxy did not answer CONNECT ({})",
                crate::log::escape_controls(why)
            ),
            Some(Outage::Proxy),
        ),
    }
}

/// A TLS failure in words: an answer that is not TLS at all (its first byte is no TLS record
/// type) is nearly always a server speaking plain HTTP on that port, and says so.
fn tls_text(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
            "TLS: the server speaks plain HTTP, not HTTPS (answered the TLS handshake with a \
             non-TLS message): use an http:// address for it, or give it TLS"
                .to_string()
        }
        other => format!("TLS: {other}"),
    }
}

/// Decides whether a transport error is worth another attempt.
fn classify(e: ureq::Error) -> Failure {
    use ureq::Error as U;
    match e {
        U::Tls(why) => Failure::Fatal(Kind::Permission, format!("TLS: {why}")),
        U::Rustls(e) => Failure::Fatal(Kind::Permission, tls_text(&e)),
        U::Pem(e) => Failure::Fatal(Kind::Permission, format!("TLS: {e}")),
        U::Io(e) => {
            if let Some(tls) = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                return Failure::Fatal(Kind::Permission, tls_text(tls));
            }
            if e.kind() == std::io::ErrorKind::TimedOut {
                return Failure::TimedOut(crate::error::io_text(&e));
            }
            Failure::Transient(crate::error::io_text(&e), Some(Outage::Network))
        }
        U::Timeout(t) => Failure::TimedOut(format!("timed out ({t})")),
        U::HostNotFound => Failure::Transient("host not found".into(), Some(Outage::Network)),
        U::ConnectionFailed => {
            Failure::Transient("connection failed".into(), Some(Outage::Network))
        }
        U::Protocol(p) => Failure::Transient(format!("HTTP protocol error: {p}"), None),
        U::ConnectProxyFailed(why) => proxy_failure(&why),
        U::BodyExceedsLimit(n) => Failure::Fatal(
            Kind::Data,
            format!("response body larger than the {n}-byte limit"),
        ),
        other => Failure::Fatal(Kind::Unavailable, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_770); // Sun, 06 Nov 1994 08:49:30 GMT
        assert_eq!(retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        // A date already past is no wait; the epoch itself is a date.
        assert_eq!(
            retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            http_date("Tue, 29 Feb 2028 12:00:00 GMT"),
            Some(1_835_438_400)
        );
        for bad in [
            "",
            "-1",
            "1.5",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
        ] {
            assert_eq!(retry_after(bad, SystemTime::now()), None, "{bad:?}");
        }
    }

    /// A proxy that cannot open the tunnel (5xx, no answer) or refuses the destination keeps the
    /// store from being asked: an outage. A 407 is our proxy credentials: not one.
    #[test]
    fn a_proxy_in_the_way_is_an_outage_but_its_407_is_not() {
        for why in [
            "proxy server responded 502/Bad Gateway",
            "proxy server responded 503/Service Unavailable",
            "proxy server did not respond",
        ] {
            assert!(
                matches!(
                    proxy_failure(why),
                    Failure::Transient(_, Some(Outage::Proxy))
                ),
                "{why}"
            );
        }
        assert!(matches!(
            proxy_failure("proxy server responded 403/Forbidden"),
            Failure::Blocked(_)
        ));
        assert!(matches!(
            proxy_failure("proxy server responded 407/Proxy Authentication Required"),
            Failure::Fatal(Kind::Unavailable, _)
        ));
    }
}

//! The last two links of botocore's credential chain: the container credential endpoint (ECS
//! task roles, EKS Pod Identity) and EC2 instance metadata (IMDSv2).
//!
//! - **Container** (botocore's `ContainerProvider`): `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`
//!   (appended to `http://169.254.170.2`, checked first, as botocore does) else
//!   `AWS_CONTAINER_CREDENTIALS_FULL_URI`. A full URI must be `https://`, or `http://` to a
//!   loopback address or one of the container hosts botocore allows (`169.254.170.2`,
//!   `169.254.170.23`, `fd00:ec2::23`). The `Authorization` header is the content of
//!   `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (re-read at every fetch: EKS rotates it), else
//!   `AWS_CONTAINER_AUTHORIZATION_TOKEN`; a token holding CR or LF is refused. GET, 2 s per
//!   attempt, 3 attempts (botocore's `ContainerMetadataFetcher`), all within the aws source's
//!   `deadline`.
//! - **Instance metadata** (botocore's `InstanceMetadataProvider`, IMDSv2 only): unless
//!   `AWS_EC2_METADATA_DISABLED=true`, `PUT /latest/api/token` with
//!   `x-aws-ec2-metadata-token-ttl-seconds: 21600`, then `GET
//!   /latest/meta-data/iam/security-credentials/` (the role's name) and `GET .../ROLE`, both with
//!   `x-aws-ec2-metadata-token`. The base is `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else
//!   `http://[fd00:ec2::254]` when `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`, else
//!   `http://169.254.169.254`. `AWS_METADATA_SERVICE_TIMEOUT` (default 1 s) and
//!   `AWS_METADATA_SERVICE_NUM_ATTEMPTS` (default 1) as botocore reads them, so a laptop without
//!   IMDS fails in about a second. There is no IMDSv1 fallback: a token refused (403, 404, 405)
//!   is 77 saying so.
//!
//! Both answer the same JSON (`AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`; IMDS adds
//! `Code: Success`), read by [`parse_credentials`] with no I/O (a fuzz target calls it). Plain
//! http is allowed to exactly these link-local hosts and loopback; any other plain-http endpoint
//! needs `--allow-insecure-http`, as everywhere else.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::sigv4::Credentials;
use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::http;
use crate::secret::Secret;
use crate::source::remote::read_token_file;

/// The container credential host of `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`.
const CONTAINER_HOST: &str = "169.254.170.2";
/// Hosts a plain-http full URI may name besides loopback (botocore's `_ALLOWED_HOSTS`).
const CONTAINER_HOSTS: &[&str] = &[CONTAINER_HOST, "169.254.170.23", "fd00:ec2::23"];
/// The instance metadata hosts (IPv4 and IPv6 modes).
const IMDS_HOSTS: &[&str] = &["169.254.169.254", "fd00:ec2::254"];
/// Largest credentials answer accepted.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// Where the container's credentials are, decided from the environment alone.
#[derive(Clone, Debug)]
pub(crate) struct Container {
    /// The endpoint URL.
    pub url: String,
    /// The `Authorization` header's source.
    token: Option<Token>,
    /// The variables it came from, for messages.
    pub origin: &'static str,
}

#[derive(Clone)]
enum Token {
    Value(Secret),
    File(PathBuf),
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Value(_) => f.write_str("Token::Value(..)"),
            Token::File(p) => write!(f, "Token::File({})", p.display()),
        }
    }
}

impl Container {
    /// The file the `Authorization` header is read from, if any.
    pub(crate) fn token_file(&self) -> Option<&std::path::Path> {
        match &self.token {
            Some(Token::File(p)) => Some(p),
            _ => None,
        }
    }
}

/// The instance metadata service, when enabled.
#[derive(Clone, Debug)]
pub(crate) struct Imds {
    /// The base URL (no trailing slash).
    pub base: String,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Attempts per request.
    pub attempts: u32,
}

/// The container endpoint the environment names, if any. No I/O.
pub(crate) fn container(env: &Environ) -> Option<Container> {
    let token = match (
        env.text("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
        env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
            .filter(|v| !v.is_empty()),
    ) {
        (Some(f), _) => Some(Token::File(PathBuf::from(f))),
        (None, Some(v)) => Some(Token::Value(Secret::new(
            std::os::unix::ffi::OsStrExt::as_bytes(v).to_vec(),
        ))),
        (None, None) => None,
    };
    if let Some(rel) = env.text("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
        return Some(Container {
            url: format!("http://{CONTAINER_HOST}{rel}"),
            token,
            origin: "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        });
    }
    env.text("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .map(|url| Container {
            url,
            token,
            origin: "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        })
}

/// The instance metadata service, unless `AWS_EC2_METADATA_DISABLED=true`. No I/O.
pub(crate) fn imds(env: &Environ) -> Option<Imds> {
    if env
        .text("AWS_EC2_METADATA_DISABLED")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return None;
    }
    let base = match env.text("AWS_EC2_METADATA_SERVICE_ENDPOINT") {
        Some(u) => u.trim_end_matches('/').to_string(),
        None if env
            .text("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")
            .is_some_and(|m| m.eq_ignore_ascii_case("ipv6")) =>
        {
            "http://[fd00:ec2::254]".into()
        }
        None => "http://169.254.169.254".into(),
    };
    let timeout = env
        .text("AWS_METADATA_SERVICE_TIMEOUT")
        .and_then(|t| t.trim().parse::<f64>().ok())
        .filter(|t| t.is_finite() && *t > 0.0 && *t <= 60.0)
        .map_or(Duration::from_secs(1), Duration::from_secs_f64);
    let attempts = env
        .text("AWS_METADATA_SERVICE_NUM_ATTEMPTS")
        .and_then(|n| n.trim().parse::<u32>().ok())
        .filter(|n| (1..=10).contains(n))
        .unwrap_or(1);
    Some(Imds {
        base,
        timeout,
        attempts,
    })
}

/// Checks a metadata URL: https anywhere; plain http to loopback or one of `hosts`, else only
/// with the opt-in. Returns whether plain http must be permitted for it.
fn permit(url: &str, hosts: &[&str], allow_insecure_http: bool, what: &str) -> Result<(), Error> {
    let uri: ureq::http::Uri = url.parse().map_err(|_| {
        Error::new(Kind::Config, format!("{what}: not a valid URL")).with_source("aws credentials")
    })?;
    let host = uri.host().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(()),
        Some("http")
            if crate::url::is_loopback(host) || hosts.contains(&bare) || allow_insecure_http =>
        {
            Ok(())
        }
        _ => Err(Error::new(
            Kind::Config,
            format!(
                "{what} {}: expected https://, or http:// to a loopback address or {}",
                crate::url::redact_url(url),
                hosts.join(", ")
            ),
        )
        .with_source("aws credentials")),
    }
}

/// A client for `attempts` tries of `timeout` each, all within `deadline` (the aws source's).
fn client(timeout: Duration, attempts: u32, deadline: Duration, ca_file: PathBuf) -> http::Client {
    http::Client::new(http::Options {
        ca_file,
        timeout: timeout.min(deadline),
        deadline: timeout
            .saturating_mul(attempts.saturating_mul(2) + 1)
            .min(deadline),
        retries: attempts.saturating_sub(1),
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_secs(1),
        max_body: MAX_ANSWER_BYTES,
        service: http::timing::Service::Aws,
        // The URL was checked by `permit` against the metadata hosts.
        allow_insecure_http: true,
        ..http::Options::default()
    })
}

/// Names the deadline a metadata request ran under in a failure it gave up on.
fn within(e: Error, deadline: Duration) -> Error {
    if e.kind != Kind::Unavailable {
        return e;
    }
    Error::new(
        e.kind,
        format!(
            "{} (within secret_init.aws.deadline, {} s)",
            e.what,
            deadline.as_secs_f64()
        ),
    )
}

/// Fetches the container's credentials (see the module docs).
pub(crate) fn fetch_container(
    c: &Container,
    ca_file: PathBuf,
    allow_insecure_http: bool,
    deadline: Duration,
) -> Result<Credentials, Error> {
    let src = format!("aws container credentials at {}", c.origin);
    permit(&c.url, CONTAINER_HOSTS, allow_insecure_http, c.origin)?;
    let token = match &c.token {
        None => None,
        Some(Token::Value(v)) => Some(v.clone()),
        Some(Token::File(p)) => Some(read_token_file(
            p,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        )?),
    };
    let mut headers: Vec<(&str, &[u8])> = Vec::new();
    if let Some(t) = &token {
        if t.expose().iter().any(|&b| b == b'\r' || b == b'\n') {
            return Err(Error::new(
                Kind::Permission,
                "the authorization token holds a line break (refused, as botocore does)",
            )
            .with_source(src));
        }
        headers.push(("Authorization", t.expose()));
    }
    let mut client = client(Duration::from_secs(2), 3, deadline, ca_file);
    let resp = client
        .get(&c.url, &headers)
        .map_err(|e| within(e, deadline).with_source(src.clone()))?;
    let status = resp.status;
    parse_credentials(status, &resp.body).map_err(|mut e| {
        if matches!(status, 401 | 403) {
            e.what.push_str(match &c.token {
                Some(Token::Value(_)) => {
                    ": the endpoint refused the token in AWS_CONTAINER_AUTHORIZATION_TOKEN"
                }
                Some(Token::File(_)) => {
                    ": the endpoint refused the token in AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
                }
                None => ": no AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE) was set to send",
            });
        }
        e.with_source(src)
    })
}

/// Fetches the instance role's credentials with IMDSv2 (see the module docs).
pub(crate) fn fetch_imds(
    i: &Imds,
    ca_file: PathBuf,
    allow_insecure_http: bool,
    deadline: Duration,
) -> Result<Credentials, Error> {
    let src = format!(
        "aws instance metadata at {}",
        crate::url::redact_url(&i.base)
    );
    permit(
        &i.base,
        IMDS_HOSTS,
        allow_insecure_http,
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    )?;
    let mut client = client(i.timeout, i.attempts, deadline, ca_file);
    let unreachable = |e: Error| {
        let e = within(e, deadline);
        Error::new(
            e.kind,
            format!(
                "{} (not on EC2? set AWS_EC2_METADATA_DISABLED=true to skip instance metadata)",
                e.what
            ),
        )
        .with_source(src.clone())
    };
    let resp = client
        .send(
            http::Method::Put,
            &format!("{}/latest/api/token", i.base),
            &[("x-aws-ec2-metadata-token-ttl-seconds", b"21600".as_slice())],
            Some(b""),
        )
        .map_err(unreachable)?;
    let token = match resp.status {
        200 if !resp.body.is_empty() => resp.body,
        403..=405 => {
            return Err(Error::new(
                Kind::Permission,
                format!(
                    "HTTP {}: the IMDSv2 token was refused (IMDSv1 is not used)",
                    resp.status
                ),
            )
            .with_source(src));
        }
        s => {
            return Err(Error::new(Kind::Unavailable, format!("token: HTTP {s}")).with_source(src));
        }
    };
    let headers: [(&str, &[u8]); 1] = [("x-aws-ec2-metadata-token", token.expose())];
    let list_url = format!("{}/latest/meta-data/iam/security-credentials/", i.base);
    let resp = client.get(&list_url, &headers).map_err(unreachable)?;
    let role = parse_role_list(resp.status, &resp.body).map_err(|e| e.with_source(src.clone()))?;
    let resp = client
        .get(&format!("{list_url}{role}"), &headers)
        .map_err(unreachable)?;
    parse_credentials(resp.status, &resp.body)
        .map_err(|e| e.with_source(format!("{src}, role {role}")))
}

/// The role name of a `security-credentials/` listing (its first line), with no I/O. A name is
/// what IAM allows (`[A-Za-z0-9+=,.@_-]`, at most 64), since it goes into the next URL and into
/// messages.
pub fn parse_role_list(status: u16, body: &Secret) -> Result<String, Error> {
    if status == 404 {
        return Err(Error::new(
            Kind::Permission,
            "no IAM role is attached to this instance",
        ));
    }
    if status != 200 {
        return Err(Error::new(
            Kind::Unavailable,
            format!("role listing: HTTP {status}"),
        ));
    }
    let text = body.expose();
    let first = text
        .split(|&b| b == b'\n')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    if first.is_empty()
        || first.len() > 64
        || !first
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(b))
    {
        return Err(Error::new(
            Kind::Permission,
            "the role listing holds no valid IAM role name",
        ));
    }
    Ok(String::from_utf8_lossy(first).into_owned())
}

/// Interprets a container or instance metadata credentials answer, with no I/O (the fuzz target
/// calls it). `Code`, when present, must be `Success`; the key id must be ASCII letters and
/// digits (it is shown in logs); `Expiration`, when present, must be an RFC 3339 time.
pub fn parse_credentials(status: u16, body: &Secret) -> Result<Credentials, Error> {
    if status != 200 {
        let kind = if (400..500).contains(&status) {
            Kind::Permission
        } else {
            Kind::Unavailable
        };
        return Err(Error::new(kind, format!("HTTP {status}")));
    }
    let Ok(Value::Object(mut o)) = serde_json::from_slice::<Value>(body.expose()) else {
        return Err(Error::new(Kind::Permission, "answer is not a JSON object"));
    };
    if let Some(code) = o.get("Code")
        && code.as_str() != Some("Success")
    {
        let shown = code
            .as_str()
            .filter(|c| c.len() <= 64 && c.bytes().all(|b| b.is_ascii_alphanumeric()))
            .unwrap_or("(not shown)");
        return Err(Error::new(
            Kind::Permission,
            format!("answer's Code is {shown}, not Success"),
        ));
    }
    let mut field = |name: &str| match o.remove(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(Error::new(
            Kind::Permission,
            format!("answer has no {name} string"),
        )),
    };
    let id = field("AccessKeyId")?;
    if id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::new(
            Kind::Permission,
            "answer has a malformed AccessKeyId",
        ));
    }
    let secret = Secret::new(field("SecretAccessKey")?.into_bytes());
    let token = match o.remove("Token") {
        Some(Value::String(t)) if !t.is_empty() => Some(Secret::new(t.into_bytes())),
        None | Some(Value::Null) => None,
        Some(_) => {
            return Err(Error::new(
                Kind::Permission,
                "answer's Token is not a string",
            ));
        }
    };
    let expires_at = match o.remove("Expiration") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(parse_expiration(&t).ok_or_else(|| {
            Error::new(
                Kind::Permission,
                "answer's Expiration is not an RFC 3339 time",
            )
        })?),
        Some(_) => {
            return Err(Error::new(
                Kind::Permission,
                "answer's Expiration is not a string",
            ));
        }
    };
    Ok(Credentials {
        access_key_id: id,
        secret_access_key: secret,
        session_token: token,
        expires_at,
    })
}

/// An RFC 3339 time (`2026-12-01T23:00:00Z`, fractions and `±HH:MM` offsets allowed) as Unix
/// seconds; `None` when malformed or before 1970. The inverse of `bundle::format::rfc3339`
/// (Howard Hinnant's `days_from_civil`).
pub fn parse_expiration(t: &str) -> Option<u64> {
    let b = t.trim().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = b.get(r)?;
        if s.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(s).ok()?.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d, h, mi, s) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &b[19..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let v = i64::from(h1 - b'0') * 600
                + i64::from(h2 - b'0') * 60
                + i64::from(m1 - b'0') * 10
                + i64::from(m2 - b'0');
            if *sign == b'+' { v * 60 } else { -v * 60 }
        }
        _ => return None,
    };
    let (y, m) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3_600 + mi * 60 + s - offset;
    u64::try_from(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::secret::text as s;

    #[test]
    fn expiration_times() {
        assert_eq!(parse_expiration("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_expiration("2024-01-15T10:30:00Z"),
            Some(1_705_314_600)
        );
        assert_eq!(
            parse_expiration("2024-01-15T10:30:00.123Z"),
            Some(1_705_314_600)
        );
        assert_eq!(
            parse_expiration("2024-01-15T11:30:00+01:00"),
            Some(1_705_314_600)
        );
        assert_eq!(parse_expiration("2000-02-29T00:00:00Z"), Some(951_782_400));
        for secs in [0, 951_782_400, 1_705_314_600, 4_102_444_799] {
            let t = crate::bundle::format::rfc3339(secs);
            assert_eq!(parse_expiration(&t), Some(secs), "{t}");
        }
        for bad in [
            "",
            "2024-01-15",
            "2024-13-01T00:00:00Z",
            "2024-01-15T10:30:00",
            "x024-01-15T10:30:00Z",
            "2024-01-15T10:30:00.Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_expiration(bad), None, "{bad}");
        }
    }

    #[test]
    fn credential_answers() {
        let c = parse_credentials(
            200,
            &s(r#"{"Code":"Success","AccessKeyId":"ASIA1","SecretAccessKey":"canary-sk","Token":"canary-tok","Expiration":"2024-01-15T10:30:00Z"}"#),
        )
        .expect("ok");
        assert_eq!(c.access_key_id, "ASIA1");
        assert_eq!(c.expires_at, Some(1_705_314_600));
        assert!(!c.fresh_at(1_705_314_600 - 60));
        assert!(c.fresh_at(1_705_314_600 - 3_600));
        for (status, body, code) in [
            (
                200,
                r#"{"Code":"AssumeRoleUnauthorizedAccess","AccessKeyId":"A","SecretAccessKey":"s"}"#,
                77,
            ),
            (
                200,
                r#"{"AccessKeyId":"A B","SecretAccessKey":"canary-x"}"#,
                77,
            ),
            (200, r#"{"AccessKeyId":"A"}"#, 77),
            (
                200,
                r#"{"AccessKeyId":"A","SecretAccessKey":"s","Expiration":"soon"}"#,
                77,
            ),
            (200, "canary-not-json", 77),
            (401, "canary", 77),
            (500, "canary", 69),
        ] {
            let e = parse_credentials(status, &s(body)).expect_err(body);
            assert_eq!(e.exit_code(), code, "{body}: {e}");
            assert!(!e.what.contains("canary"), "{e}");
        }
        assert_eq!(
            parse_role_list(200, &s("app-role\nother\n")).expect("role"),
            "app-role"
        );
        assert!(parse_role_list(200, &s("../x")).is_err());
        assert_eq!(
            parse_role_list(404, &s("")).expect_err("none").exit_code(),
            77
        );
    }

    #[test]
    fn endpoints_from_the_environment() {
        let env = Environ::from_pairs(&[
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "http://127.0.0.1:9/creds",
            ),
            (
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "/v2/credentials/x",
            ),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "canary-token"),
        ]);
        let c = container(&env).expect("container");
        assert_eq!(c.url, "http://169.254.170.2/v2/credentials/x");
        assert!(!format!("{c:?}").contains("canary"));
        assert!(imds(&env).is_some());
        let off = Environ::from_pairs(&[("AWS_EC2_METADATA_DISABLED", "TRUE")]);
        assert!(imds(&off).is_none() && container(&off).is_none());
        let six = Environ::from_pairs(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6")]);
        assert_eq!(imds(&six).expect("on").base, "http://[fd00:ec2::254]");
        for (url, ok) in [
            ("http://127.0.0.1:9/x", true),
            ("http://169.254.170.23/x", true),
            ("http://[fd00:ec2::23]/x", true),
            ("https://creds.internal/x", true),
            ("http://10.0.0.1/x", false),
            ("ftp://127.0.0.1/x", false),
        ] {
            assert_eq!(
                permit(url, CONTAINER_HOSTS, false, "u").is_ok(),
                ok,
                "{url}"
            );
        }
        assert!(permit("http://169.254.169.254", IMDS_HOSTS, false, "u").is_ok());
        assert!(permit("http://169.254.169.254", CONTAINER_HOSTS, false, "u").is_err());
    }
}

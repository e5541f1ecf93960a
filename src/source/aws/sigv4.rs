//! AWS Signature Version 4, written out over ring's HMAC-SHA256 and SHA-256 (no AWS SDK).
//!
//! The canonical request follows botocore's `SigV4Auth` exactly, so the two produce byte-equal
//! `Authorization` headers (the known-answer tests sign the same requests with both): the path
//! has its dot segments and empty segments removed and is percent-encoded with `/` and `~` kept
//! (non-S3 services encode an already-encoded path once more, as botocore does); query pairs are
//! percent-encoded with only `-_.~` kept and sorted by encoded key, then value; header names are
//! lower-cased and sorted, values trimmed with inner whitespace runs collapsed to one space; the
//! payload is hashed whole. The signing key is derived from `AWS4<secret>` through date, region,
//! service and `aws4_request` (AWS's "Create a signed AWS API request" guide).
//!
//! Key material lives only in zeroized buffers; [`Signed`] holds the headers to send, of which
//! `Authorization` is a signature (not a secret) and `X-Amz-Security-Token` a secret.

use ring::{digest, hmac};
use zeroize::Zeroizing;

use crate::secret::Secret;

/// A set of AWS credentials. `Debug` shows the key id only.
#[derive(Clone)]
pub struct Credentials {
    /// The access key id (an identifier, shown in messages).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// The session token of temporary credentials.
    pub session_token: Option<Secret>,
    /// When temporary credentials expire (Unix seconds), from the `Expiration` of an STS,
    /// container or instance metadata answer; `None` for static keys. A long-lived supervisor
    /// obtains new ones before then ([`Credentials::fresh_at`]).
    pub expires_at: Option<u64>,
}

/// Credentials this close to their expiry are obtained anew: botocore's mandatory refresh
/// window (10 minutes), so a request is never signed with keys about to lapse.
pub(crate) const REFRESH_BEFORE_SECS: u64 = 600;

impl Credentials {
    /// Whether these can still be used at `now` (Unix seconds): static keys always; temporary
    /// ones until [`REFRESH_BEFORE_SECS`] before they expire.
    pub fn fresh_at(&self, now: u64) -> bool {
        self.expires_at
            .is_none_or(|t| now.saturating_add(REFRESH_BEFORE_SECS) < t)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// One request to sign: everything that goes into the canonical request.
pub struct Request<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The host header value: `host` or `host:port` (default ports omitted, as botocore does).
    pub host: &'a str,
    /// The URL path as sent (`/` for the JSON APIs).
    pub path: &'a str,
    /// Query parameters, unencoded.
    pub query: &'a [(&'a str, &'a str)],
    /// Headers to sign besides `host`, `x-amz-date` and `x-amz-security-token`.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub payload: &'a [u8],
    /// The region of the credential scope.
    pub region: &'a str,
    /// The service of the credential scope (`secretsmanager`, `ssm`).
    pub service: &'a str,
    /// `YYYYMMDDTHHMMSSZ`.
    pub amz_date: &'a str,
}

/// The headers a signed request carries.
pub struct Signed {
    /// `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
    pub authorization: String,
    /// `X-Amz-Date`.
    pub amz_date: String,
    /// `X-Amz-Security-Token`, when the credentials have a session token.
    pub security_token: Option<Secret>,
}

/// Signs `req` with `creds`.
pub fn sign(req: &Request<'_>, creds: &Credentials) -> Signed {
    let token = creds
        .session_token
        .as_ref()
        .map(|t| String::from_utf8_lossy(t.expose()).into_owned());
    let token = token.map(Zeroizing::new);
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), trim_all(v)))
        .collect();
    headers.push(("host".into(), trim_all(req.host)));
    headers.push(("x-amz-date".into(), req.amz_date.to_string()));
    if let Some(t) = &token {
        headers.push(("x-amz-security-token".into(), trim_all(t)));
    }
    crate::order::sort(&mut headers);
    // Repeated names are joined with commas, as botocore's canonical_headers does.
    let mut canonical_headers = String::new();
    let mut names: Vec<&str> = Vec::new();
    for (i, (k, v)) in headers.iter().enumerate() {
        if i > 0 && headers[i - 1].0 == *k {
            canonical_headers.pop();
            canonical_headers.push(',');
        } else {
            canonical_headers.push_str(k);
            canonical_headers.push(':');
            names.push(k);
        }
        canonical_headers.push_str(v);
        canonical_headers.push('\n');
    }
    let signed_headers = names.join(";");
    let canonical = Zeroizing::new(format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method.to_ascii_uppercase(),
        canonical_path(req.path),
        canonical_query(req.query),
        canonical_headers,
        signed_headers,
        crate::hex::encode(digest::digest(&digest::SHA256, req.payload).as_ref())
    ));
    let date = req.amz_date.get(..8).unwrap_or(req.amz_date);
    let scope = format!("{date}/{}/{}/aws4_request", req.region, req.service);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        req.amz_date,
        crate::hex::encode(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    );
    let mut secret = Zeroizing::new(b"AWS4".to_vec());
    secret.extend_from_slice(creds.secret_access_key.expose());
    let k_date = mac(&secret, date.as_bytes());
    let k_region = mac(&k_date, req.region.as_bytes());
    let k_service = mac(&k_region, req.service.as_bytes());
    let k_signing = mac(&k_service, b"aws4_request");
    let signature = crate::hex::encode(&mac(&k_signing, to_sign.as_bytes()));
    Signed {
        authorization: format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            creds.access_key_id
        ),
        amz_date: req.amz_date.to_string(),
        security_token: creds.session_token.clone(),
    }
}

fn mac(key: &[u8], data: &[u8]) -> Zeroizing<Vec<u8>> {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    Zeroizing::new(hmac::sign(&k, data).as_ref().to_vec())
}

/// Python's `' '.join(value.split())`: trimmed, inner whitespace runs become one space.
fn trim_all(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// botocore's `quote(v, safe='~')`.
fn unreserved(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, crate::url::UNRESERVED).to_string()
}

/// botocore's `quote(normalize_url_path(path), safe='/~')`.
fn canonical_path(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut p = String::new();
    if path.starts_with('/') {
        p.push('/');
    }
    p.push_str(&out.join("/"));
    if path.ends_with('/') && !out.is_empty() {
        p.push('/');
    }
    if p.is_empty() {
        p.push('/');
    }
    percent_encoding::utf8_percent_encode(&p, crate::url::PATH).to_string()
}

fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (unreserved(k), unreserved(v)))
        .collect();
    crate::order::sort(&mut pairs);
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The `X-Amz-Date` form of a Unix time: `YYYYMMDDTHHMMSSZ` (UTC).
pub fn amz_date(unix: u64) -> String {
    // RFC 3339 (`YYYY-MM-DDTHH:MM:SSZ`) without its separators.
    crate::bundle::format::rfc3339(unix).replace(['-', ':'], "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
        assert_eq!(amz_date(4_102_444_799), "20991231T235959Z");
    }

    /// AWS's own documented example (the IAM ListUsers GET of the SigV4 test suite), so the
    /// signer is checked against a value nobody here computed.
    #[test]
    fn aws_documented_example() {
        let creds = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::new(b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_vec()),
            session_token: None,
            expires_at: None,
        };
        let s = sign(
            &Request {
                method: "GET",
                host: "iam.amazonaws.com",
                path: "/",
                query: &[("Action", "ListUsers"), ("Version", "2010-05-08")],
                headers: &[(
                    "Content-Type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                )],
                payload: b"",
                region: "us-east-1",
                service: "iam",
                amz_date: "20150830T123600Z",
            },
            &creds,
        );
        assert_eq!(
            s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn paths_and_queries() {
        assert_eq!(canonical_path(""), "/");
        assert_eq!(canonical_path("/a/./b/../c//d/"), "/a/c/d/");
        assert_eq!(canonical_path("/caf\u{e9} x"), "/caf%C3%A9%20x");
        assert_eq!(canonical_path("/%41"), "/%2541");
        assert_eq!(
            canonical_query(&[("b", "2"), ("a", "x y"), ("a", "1~")]),
            "a=1~&a=x%20y&b=2"
        );
    }
}

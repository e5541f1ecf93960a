//! STS `AssumeRoleWithWebIdentity` (an unsigned form POST, as the SDKs send it) and `AssumeRole`
//! (the same form, SigV4-signed with the source profile's credentials), answered in XML, and the
//! small XML reader for their fixed answers.

use super::{Clients, Signing, status_error};
use crate::error::{Error, Kind};
use crate::http;
use crate::secret::Secret;
use crate::source::aws::credentials::AssumeRole;
use crate::source::aws::credentials::{WebIdentity, read_token};
use crate::source::aws::sigv4::Credentials;

/// The content type of STS's form requests, as the SDKs send it.
const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

impl Clients {
    /// Exchanges a web identity token for credentials at STS (unsigned, as the SDKs do).
    pub(crate) fn assume_role_with_web_identity(
        &mut self,
        endpoint: &str,
        w: &WebIdentity,
    ) -> Result<Credentials, Error> {
        let token = read_token(&w.token_file)?;
        let body = http::form(&[
            ("Action", b"AssumeRoleWithWebIdentity".as_slice()),
            ("Version", b"2011-06-15"),
            ("RoleArn", w.role_arn.as_bytes()),
            ("RoleSessionName", w.session_name.as_bytes()),
            ("WebIdentityToken", token.expose()),
        ]);
        let url = format!("{endpoint}/");
        let resp = self
            .client(endpoint)
            .post(&url, &[("Content-Type", FORM.as_bytes())], &body)?;
        sts_answer(
            &resp,
            format!("aws sts AssumeRoleWithWebIdentity ({})", w.role_arn),
        )
    }
}

impl Clients {
    /// Assumes `r.role_arn` at STS with `source` (a form POST signed for `sts` in `region`).
    pub(crate) fn assume_role(
        &mut self,
        endpoint: &str,
        region: &str,
        r: &AssumeRole,
        source: &Credentials,
        now: u64,
    ) -> Result<Credentials, Error> {
        let src = format!("aws sts AssumeRole ({}, {})", r.role_arn, r.origin);
        let duration = r.duration_seconds.map(|d| d.to_string());
        let mut pairs: Vec<(&str, &[u8])> = vec![
            ("Action", b"AssumeRole".as_slice()),
            ("Version", b"2011-06-15"),
            ("RoleArn", r.role_arn.as_bytes()),
            ("RoleSessionName", r.session_name.as_bytes()),
        ];
        if let Some(x) = &r.external_id {
            pairs.push(("ExternalId", x.as_bytes()));
        }
        if let Some(d) = &duration {
            pairs.push(("DurationSeconds", d.as_bytes()));
        }
        let body = http::form(&pairs);
        let signing = Signing {
            service: "sts",
            region,
            creds: source,
            now,
        };
        let resp = self
            .signed_post(endpoint, &[("Content-Type", FORM)], &body, &signing)
            .map_err(|e| e.with_source(src.clone()))?;
        sts_answer(&resp, src)
    }
}

/// The credentials in an STS answer; a refusal of the request (any 4xx) is 77, naming `src`.
fn sts_answer(resp: &http::Response, src: String) -> Result<Credentials, Error> {
    parse_assume_role(resp.status, &resp.body).map_err(|e| {
        let e = if e.kind == Kind::Unavailable && (400..500).contains(&resp.status) {
            Error::new(Kind::Permission, e.into_problem().what)
        } else {
            e
        };
        e.with_source(src)
    })
}

/// Interprets an `AssumeRoleWithWebIdentity` or `AssumeRole` answer (XML), with no I/O (the fuzz target calls
/// it). The credentials are the `<Credentials>` element's `AccessKeyId`, `SecretAccessKey` and
/// `SessionToken`.
pub fn parse_assume_role(status: u16, body: &Secret) -> Result<Credentials, Error> {
    if status != 200 {
        return Err(status_error(status, body.expose()));
    }
    let creds = xml_inner(body.expose(), "Credentials")
        .ok_or_else(|| Error::new(Kind::Permission, "answer has no Credentials element"))?;
    let field = |name: &str| {
        xml_text(creds, name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::new(Kind::Permission, format!("answer has no {name}")))
    };
    let id = field("AccessKeyId")?;
    // Key ids are uppercase letters and digits; anything else is not an STS answer (and the
    // id is shown in logs, so it must not be able to carry other text).
    if id.len() > 128 || !id.expose().iter().all(u8::is_ascii_alphanumeric) {
        return Err(Error::new(
            Kind::Permission,
            "answer has a malformed AccessKeyId",
        ));
    }
    Ok(Credentials {
        access_key_id: String::from_utf8_lossy(id.expose()).into_owned(),
        secret_access_key: field("SecretAccessKey")?,
        session_token: Some(field("SessionToken")?),
        expires_at: xml_text(creds, "Expiration").and_then(|t| {
            crate::source::aws::metadata::parse_expiration(&String::from_utf8_lossy(t.expose()))
        }),
    })
}

/// The text of the first `<tag>...</tag>` element (attributes allowed on the opening tag),
/// trimmed, with the five predefined entities and numeric character references decoded. A
/// deliberately small reader for STS's fixed, namespace-free answers; not a general XML parser.
pub fn xml_text(doc: &[u8], tag: &str) -> Option<Secret> {
    unescape(xml_inner(doc, tag)?)
}

/// The raw content of the first `<tag>...</tag>` element, trimmed (entities left as they are).
fn xml_inner<'a>(doc: &'a [u8], tag: &str) -> Option<&'a [u8]> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut from = 0;
    let start = loop {
        let at = find(&doc[from..], open.as_bytes())? + from;
        let after = at + open.len();
        match doc.get(after) {
            Some(b'>') => break after + 1,
            Some(b' ' | b'\t' | b'\n' | b'\r') => {
                let gt = find(&doc[after..], b">")? + after;
                if doc[gt - 1] == b'/' {
                    return Some(&[]);
                }
                break gt + 1;
            }
            _ => from = after,
        }
    };
    let end = find(&doc[start..], close.as_bytes())? + start;
    Some(doc[start..end].trim_ascii())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn unescape(s: &[u8]) -> Option<Secret> {
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(s.len()));
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'&' {
            out.push(s[i]);
            i += 1;
            continue;
        }
        let semi = s[i..].iter().take(12).position(|&b| b == b';')? + i;
        let ent = &s[i + 1..semi];
        match ent {
            b"amp" => out.push(b'&'),
            b"lt" => out.push(b'<'),
            b"gt" => out.push(b'>'),
            b"quot" => out.push(b'"'),
            b"apos" => out.push(b'\''),
            _ => {
                let n = std::str::from_utf8(ent).ok()?;
                let code = match n.strip_prefix("#x").or_else(|| n.strip_prefix("#X")) {
                    Some(h) => u32::from_str_radix(h, 16).ok()?,
                    None => n.strip_prefix('#')?.parse().ok()?,
                };
                let c = char::from_u32(code)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
        i = semi + 1;
    }
    Some(Secret::new(std::mem::take(&mut *out)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::text as s;

    #[test]
    fn sts_answers() {
        let ok = s(
            "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleWithWebIdentityResult><Credentials>\n <AccessKeyId>ASIA1</AccessKeyId>\n <SecretAccessKey>a&amp;b&#x3c;</SecretAccessKey><SessionToken>tok&#47;</SessionToken></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>",
        );
        let c = parse_assume_role(200, &ok).expect("ok");
        assert_eq!(c.access_key_id, "ASIA1");
        assert_eq!(c.secret_access_key.expose(), b"a&b<");
        assert_eq!(c.session_token.expect("token").expose(), b"tok/");
        let denied = s(
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>bad\ntoken</Message></Error></ErrorResponse>",
        );
        let e = parse_assume_role(400, &denied).expect_err("denied");
        assert_eq!(e.exit_code(), 77);
        assert_eq!(e.what, "HTTP 400 InvalidIdentityToken: bad\\ntoken");
        assert!(parse_assume_role(200, &s("<x/>")).is_err());
        // Found by fuzz/fuzz_targets/aws_response.rs: a key id holding the token's text.
        let nested = s(
            "<Credentials><AccessKeyId>A<SessionToken>secret-token</SessionToken></AccessKeyId><SecretAccessKey>k</SecretAccessKey><SessionToken>x</SessionToken></Credentials>",
        );
        assert!(parse_assume_role(200, &nested).is_err());
        assert!(xml_text(b"<A>&bogus;</A>", "A").is_none());
        assert_eq!(
            xml_text(b"<AB>1</AB><A>2</A>", "A").expect("a").expose(),
            b"2"
        );
    }
}

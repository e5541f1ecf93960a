//! IAM Identity Center's `GetRoleCredentials`: a GET to the SSO portal with the token `aws sso
//! login` cached, answered in JSON (`roleCredentials`, the expiration in milliseconds).

use serde_json::Value;

use super::{Clients, status_error};
use crate::error::{Error, Kind};
use crate::secret::Secret;
use crate::source::aws::sigv4::Credentials;
use crate::source::aws::sso::Sso;

impl Clients {
    /// Exchanges the cached SSO token for the role's credentials at `endpoint`.
    pub(crate) fn sso_role_credentials(
        &mut self,
        endpoint: &str,
        s: &Sso,
    ) -> Result<Credentials, Error> {
        let src = format!(
            "aws sso GetRoleCredentials ({} in {}, {})",
            s.role_name, s.account_id, s.origin
        );
        let enc =
            |v: &str| percent_encoding::utf8_percent_encode(v, crate::url::UNRESERVED).to_string();
        let url = format!(
            "{endpoint}/federation/credentials?role_name={}&account_id={}",
            enc(&s.role_name),
            enc(&s.account_id)
        );
        let resp = self
            .client(endpoint)
            .get(&url, &[("x-amz-sso_bearer_token", s.token.expose())])
            .map_err(|e| e.with_source(src.clone()))?;
        parse_role_credentials(resp.status, &resp.body).map_err(|e| e.with_source(src))
    }
}

/// Interprets a `GetRoleCredentials` answer, with no I/O (the fuzz target calls it).
pub fn parse_role_credentials(status: u16, body: &Secret) -> Result<Credentials, Error> {
    if status != 200 {
        let e = status_error(status, body.expose());
        return Err(if (400..500).contains(&status) {
            Error::new(
                Kind::Permission,
                format!(
                    "{} (is the cached SSO token still valid (`aws sso login`), and may its user take this role in this account?)",
                    e.what
                ),
            )
        } else {
            e
        });
    }
    let v: Value = serde_json::from_slice(body.expose())
        .map_err(|_| Error::new(Kind::Permission, "answer is not JSON"))?;
    let c = v
        .get("roleCredentials")
        .ok_or_else(|| Error::new(Kind::Permission, "answer has no roleCredentials"))?;
    let field = |name: &str| {
        c.get(name)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::new(Kind::Permission, format!("answer has no {name}")))
    };
    let id = field("accessKeyId")?;
    if id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::new(
            Kind::Permission,
            "answer has a malformed accessKeyId",
        ));
    }
    Ok(Credentials {
        access_key_id: id.to_string(),
        secret_access_key: Secret::new(field("secretAccessKey")?.as_bytes().to_vec()),
        session_token: Some(Secret::new(field("sessionToken")?.as_bytes().to_vec())),
        expires_at: c
            .get("expiration")
            .and_then(Value::as_u64)
            .map(|ms| ms / 1000),
    })
}

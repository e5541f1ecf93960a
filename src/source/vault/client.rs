//! The Vault/OpenBao HTTP API as the vault source uses it: one login, then KV reads.
//!
//! Every request goes through one [`http::Client`] (one agent, one kept-alive TLS connection),
//! except the concurrent KV reads of [`Vault::read_all`], each on a fork of it (the same agent's
//! pool, the same deadline).
//! The token lives only in a [`Secret`] and in the `X-Vault-Token` header, which the HTTP layer
//! never logs. Login inputs (secret ids, JWTs) are read from files or the start-time environment
//! into `Secret`s at login time and serialised into a zeroized request body.
//!
//! KV responses: v2 is `{"data": {"data": {...}, "metadata": {"version": N, ...}}}`, v1 is
//! `{"data": {...}}`. A KV v2 read of a deleted or destroyed version answers 404 with the metadata
//! still present, which is how those two cases get their own messages. Values that are not strings
//! (numbers, booleans, objects) are delivered as their JSON text; `null` counts as absent.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use zeroize::Zeroizing;

use super::config::{Auth, Credential, KvVersion, VaultSettings};
use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::http;
use crate::secret::Secret;
use crate::tree::Tree;

mod answers;
use answers::*;
pub use answers::{json_body, parse_kv, parse_login};

/// Largest credential file read (tokens, ids and JWTs are far smaller).
const MAX_CREDENTIAL_BYTES: u64 = 64 * 1024;

/// The key/value data of one KV secret.
#[derive(Debug, Default)]
pub struct KvData {
    /// Keys and their values.
    pub values: BTreeMap<String, Secret>,
    /// The KV v2 version read, if the engine is v2.
    pub version: Option<u64>,
}

/// A logged-in (or about to log in) connection to one Vault/OpenBao server.
pub struct Vault {
    http: http::Client,
    address: String,
    namespace: Option<String>,
    kv_version: KvVersion,
    token: Option<Secret>,
    /// Whether `token` is ours, from a login (AppRole, JWT, Kubernetes): revoked on drop. A token
    /// the user supplied (`VAULT_TOKEN`, `token_file`) is theirs and never revoked.
    owned: bool,
    /// The AppRole secret id file to remove once the program has started (`consumed_files`).
    consumed: Option<std::path::PathBuf>,
    /// The token's TTL and renewability as the login (or a lookup) reported; `None` until known.
    pub lease: Option<TokenLease>,
}

/// What the server said about our token's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenLease {
    /// Seconds left when the answer came (0: a token that never expires, like root).
    pub ttl: u64,
    /// Whether `renew-self` may extend it.
    pub renewable: bool,
    /// The TTL to ask for at each renewal: the token's own (`creation_ttl`), else `ttl`.
    pub increment: u64,
}

impl Vault {
    /// A client for `settings`; no I/O.
    pub fn new(settings: &VaultSettings, env: &Environ) -> Vault {
        let opts = http::settings_options!(
            settings,
            env,
            jitter: settings.retry_jitter,
            service: http::timing::Service::Vault,
            client_cert: settings
                .auth
                .client_cert()
                .map(|(c, k)| (c.clone(), k.clone())),
        );
        Vault {
            http: http::Client::new(opts),
            address: settings.address.clone(),
            namespace: settings.namespace.clone(),
            kv_version: settings.kv_version,
            token: None,
            owned: false,
            consumed: None,
            lease: None,
        }
    }

    /// A new deadline for what follows (the next refresh pass, a renewal).
    pub fn restart_deadline(&mut self) {
        self.http.restart_deadline();
    }

    /// Whether the token came from our login (and so may be logged in again and revoked).
    pub fn owns_token(&self) -> bool {
        self.owned
    }

    /// Keeps the token alive past this client: it is not revoked on drop (leases issued under it
    /// would be revoked with it, and the program still uses them after we exec).
    pub fn disown(&mut self) {
        self.owned = false;
    }

    /// One authenticated request to API path `path`: GET, or POST with `body`. The status and
    /// body; errors carry `src`.
    pub fn call(
        &mut self,
        path: &str,
        body: Option<&Secret>,
        src: &str,
    ) -> Result<http::Response, Error> {
        let Some(token) = &self.token else {
            return Err(Error::new(Kind::Permission, "not logged in").with_source(src));
        };
        let url = self.url(path);
        let mut headers = self.namespace_header();
        headers.push(("X-Vault-Token", token.expose().to_vec()));
        let result = match body {
            Some(b) => self.http.post(&url, &header_refs(&headers), b.expose()),
            None => self.http.get(&url, &header_refs(&headers)),
        };
        for (_, v) in &mut headers {
            zeroize::Zeroize::zeroize(v);
        }
        result.map_err(|e| e.with_source(src))
    }

    /// `auth/token/lookup-self`: the token's TTL and renewability (a user-supplied token).
    pub fn lookup_self(&mut self) -> Result<TokenLease, Error> {
        let src = "vault token lookup-self";
        let r = self.call("auth/token/lookup-self", None, src)?;
        let v = answer(r.status, &r.body, src)?;
        let ttl = v.pointer("/data/ttl").and_then(Value::as_u64).unwrap_or(0);
        let lease = TokenLease {
            ttl,
            renewable: v
                .pointer("/data/renewable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            increment: v
                .pointer("/data/creation_ttl")
                .and_then(Value::as_u64)
                .filter(|t| *t > 0)
                .unwrap_or(ttl),
        };
        self.lease = Some(lease);
        Ok(lease)
    }

    /// A read refused with 401/403 is the token's policies or the token itself (expired,
    /// revoked, mistyped, another server's): `lookup-self`, which every valid token may call
    /// (the default policy), tells them apart, and the message says which.
    fn refused_why(&mut self, mut e: Error) -> Error {
        let looked = self.call("auth/token/lookup-self", None, "vault token lookup-self");
        match looked {
            Ok(r) if matches!(r.status, 401 | 403) => {
                e.what = format!(
                    "{} (the token itself is refused: auth/token/lookup-self answers {} too, so it \
                     has expired, was revoked, or is not a token of this server)",
                    status_text(r.status, &r.body),
                    r.status
                );
            }
            Ok(r) if r.status == 200 => {
                let policies = answer(r.status, &r.body, "vault token lookup-self")
                    .ok()
                    .and_then(|v| {
                        let names: Vec<String> = v
                            .pointer("/data/policies")?
                            .as_array()?
                            .iter()
                            .filter_map(Value::as_str)
                            .map(crate::log::escape_controls)
                            .collect();
                        Some(names.join(", "))
                    })
                    .unwrap_or_default();
                e.what = format!("{} (the token is valid; its policies: {policies})", e.what);
            }
            _ => {}
        }
        e
    }

    /// `auth/token/renew-self` asking for `increment` seconds: the new TTL (the server may give
    /// less: the max TTL caps it).
    pub fn renew_self(&mut self, increment: u64) -> Result<TokenLease, Error> {
        let src = "vault token renew-self";
        let body = Secret::new(format!("{{\"increment\":\"{increment}s\"}}").into_bytes());
        let r = self.call("auth/token/renew-self", Some(&body), src)?;
        let v = answer(r.status, &r.body, src)?;
        let lease = auth_lease(&v).ok_or_else(|| {
            Error::new(
                Kind::Unavailable,
                "renewal answer has no auth.lease_duration",
            )
            .with_source(src)
        })?;
        self.lease = Some(lease);
        Ok(lease)
    }

    /// `sys/leases/renew` for `lease_id`, asking for `increment` seconds: the new lease duration.
    pub fn renew_lease(&mut self, lease_id: &str, increment: u64, src: &str) -> Result<u64, Error> {
        let id = Secret::new(lease_id.as_bytes().to_vec());
        let inc = Secret::new(increment.to_string().into_bytes());
        let body = json_body(&[("lease_id", &id), ("increment", &inc)]);
        let r = self.call("sys/leases/renew", Some(&body), src)?;
        let v = answer(r.status, &r.body, src)?;
        Ok(v.get("lease_duration").and_then(Value::as_u64).unwrap_or(0))
    }

    /// `sys/leases/revoke` for `lease_id`; failure is only logged (the lease expires anyway).
    pub fn revoke_lease(&mut self, lease_id: &str, src: &str) {
        let id = Secret::new(lease_id.as_bytes().to_vec());
        let body = json_body(&[("lease_id", &id)]);
        let result = self.call("sys/leases/revoke", Some(&body), src);
        log_revocation(result, &format!("{src}: lease"));
    }

    /// Files a login consumed that are to be removed once the program has started
    /// (`remove_secret_id_file`); taken, so they are handed out once.
    pub fn take_consumed(&mut self) -> Option<std::path::PathBuf> {
        self.consumed.take()
    }

    /// Revokes the token we logged in with (`auth/token/revoke-self`), as vault-k8s'
    /// `revoke-on-shutdown` does, so it does not outlive its use; a user-supplied token is left
    /// alone. Failure is only logged: the token then expires with its TTL.
    pub fn revoke(&mut self) {
        let Some(token) = self.token.take() else {
            return;
        };
        if self.owned {
            self.revoke_token(&token);
        }
    }

    fn revoke_token(&mut self, token: &Secret) {
        let url = self.url("auth/token/revoke-self");
        let mut headers = self.namespace_header();
        headers.push(("X-Vault-Token", token.expose().to_vec()));
        let result = self.http.post(&url, &header_refs(&headers), b"{}");
        for (_, v) in &mut headers {
            zeroize::Zeroize::zeroize(v);
        }
        log_revocation(result, "vault: the login token");
    }

    /// Logs in again with `auth` (renewal refused or the max TTL reached). On success the old
    /// token, ours, is revoked; on failure it stays in use until it expires.
    pub fn relogin(&mut self, auth: &Auth, env: &Environ) -> Result<(), Error> {
        let old = self.token.take();
        let old_lease = self.lease;
        match self.login(auth, env) {
            Ok(()) => {
                if let Some(t) = old {
                    self.revoke_token(&t);
                }
                Ok(())
            }
            Err(e) => {
                self.token = old;
                self.lease = old_lease;
                Err(e)
            }
        }
    }

    fn url(&self, api_path: &str) -> String {
        format!("{}/v1/{api_path}", self.address)
    }

    /// Obtains a token with `auth`. Inputs are read now, never earlier.
    pub fn login(&mut self, auth: &Auth, env: &Environ) -> Result<(), Error> {
        let token = match auth {
            Auth::Token { file } => {
                let t = match file {
                    Some(f) => read_credential(f, "token_file")?,
                    None => env_credential(env, &["VAULT_TOKEN", "BAO_TOKEN"]).ok_or_else(|| {
                        Error::new(
                            Kind::Permission,
                            "no token: set VAULT_TOKEN (or BAO_TOKEN), or secret_init.vault.auth (token_file, approle, jwt, kubernetes)",
                        )
                    })?,
                };
                crate::log::debug!("vault: using the configured token (method token)");
                t
            }
            Auth::AppRole {
                mount,
                role_id,
                secret_id,
                remove_secret_id_file,
            } => {
                let role = credential(role_id, env, "role_id")?;
                let secret = credential(secret_id, env, "secret_id")?;
                let body = json_body(&[("role_id", &role), ("secret_id", &secret)]);
                let token = self.login_post(mount, "", "approle", &body)?;
                // Removed only once the program has started: a start that fails later must be
                // able to try again with the same secret id.
                if *remove_secret_id_file && let Credential::File(f) = secret_id {
                    self.consumed = Some(f.clone());
                }
                self.owned = true;
                token
            }
            Auth::Jwt {
                method,
                mount,
                role,
                jwt_file,
            } => {
                let jwt = read_credential(jwt_file, "jwt_file")?;
                let role = Secret::new(role.as_bytes().to_vec());
                let body = json_body(&[("role", &role), ("jwt", &jwt)]);
                let token = self.login_post(mount, "", method, &body)?;
                self.owned = true;
                token
            }
            // The certificate travels in the TLS handshake (the client was built with it).
            Auth::Cert { mount, name, .. } => {
                let name = name.as_deref().map(|n| Secret::new(n.as_bytes().to_vec()));
                let body = match &name {
                    Some(n) => json_body(&[("name", n)]),
                    None => json_body(&[]),
                };
                let token = self.login_post(mount, "", "cert", &body)?;
                self.owned = true;
                token
            }
            Auth::Userpass {
                mount,
                username,
                password,
            } => {
                let password = credential(password, env, "password")?;
                let body = json_body(&[("password", &password)]);
                let token = self.login_post(mount, &format!("/{username}"), "userpass", &body)?;
                self.owned = true;
                token
            }
        };
        // A header value with CR or LF could add headers of its own; a token is printable ASCII.
        if !token.expose().iter().all(|b| b.is_ascii_graphic()) {
            return Err(Error::new(
                Kind::Data,
                "the vault token holds a space or a control byte (CRLF?); refusing to send it",
            )
            .with_source(format!("vault {} token", auth_label(auth))));
        }
        self.token = Some(token);
        Ok(())
    }

    /// POSTs `body` to `auth/<mount>/login<tail>` (`tail`: `/<username>` for userpass).
    fn login_post(
        &mut self,
        mount: &str,
        tail: &str,
        method: &str,
        body: &Secret,
    ) -> Result<Secret, Error> {
        let path = format!("auth/{mount}/login{tail}");
        let src = format!("vault {method} login (auth/{mount})");
        let url = self.url(&path);
        let headers = self.namespace_header();
        let resp = self
            .http
            .post(&url, &header_refs(&headers), body.expose())
            .map_err(|e| e.with_source(src.clone()))?;
        let token = parse_login(resp.status, &resp.body, method, &src)?;
        self.lease = serde_json::from_slice::<Value>(resp.body.expose())
            .ok()
            .and_then(|v| auth_lease(&v));
        Ok(token)
    }

    fn namespace_header(&self) -> Vec<(&'static str, Vec<u8>)> {
        self.namespace
            .iter()
            .map(|ns| ("X-Vault-Namespace", ns.as_bytes().to_vec()))
            .collect()
    }

    /// A second handle on the same server and token for a concurrent reader: it shares the
    /// connection pool and the deadline, and never revokes the token (it is not its own).
    fn reader(&self) -> Vault {
        Vault {
            http: self.http.fork(),
            address: self.address.clone(),
            namespace: self.namespace.clone(),
            kv_version: self.kv_version,
            token: self.token.clone(),
            owned: false,
            consumed: None,
            lease: None,
        }
    }

    /// Reads the latest version of each of `paths` together, on up to
    /// [`crate::source::remote::PARALLEL_READS`] connections
    /// ([`crate::source::remote::read_together`]); results in `paths`' order, `None` for a path
    /// not read after a failure.
    pub fn read_all(&mut self, paths: &[String]) -> Vec<Option<Result<KvData, Error>>> {
        crate::source::remote::read_together(paths, self, Vault::reader, |v, p| v.read(p, None))
    }

    /// Reads the KV secret at API path `path`, optionally a pinned KV v2 `version`. Errors carry
    /// the source `vault:PATH` (never the token).
    pub fn read(&mut self, path: &str, version: Option<u64>) -> Result<KvData, Error> {
        let src = format!("vault:{path}");
        if version.is_some() && self.kv_version == KvVersion::V1 {
            return Err(Error::new(
                Kind::Config,
                "a version is pinned but kv_version is 1 (versions exist only in KV v2)",
            )
            .with_source(src));
        }
        let Some(token) = &self.token else {
            return Err(Error::new(Kind::Permission, "not logged in").with_source(src));
        };
        let mut url = self.url(path);
        if let Some(v) = version {
            url.push_str(&format!("?version={v}"));
        }
        let mut headers = self.namespace_header();
        headers.push(("X-Vault-Token", token.expose().to_vec()));
        let result = self.http.get(&url, &header_refs(&headers));
        for (_, v) in &mut headers {
            zeroize::Zeroize::zeroize(v);
        }
        let resp = result.map_err(|e| e.with_source(src.clone()))?;
        let out = match parse_kv(path, version, self.kv_version, resp.status, &resp.body) {
            Err(e) if matches!(resp.status, 401 | 403) => return Err(self.refused_why(e)),
            other => other?,
        };
        crate::log::debug!(
            "vault:{path}: {} keys{}",
            out.values.len(),
            out.version
                .map(|v| format!(" (KV v2 version {v})"))
                .unwrap_or_else(|| " (KV v1)".into())
        );
        Ok(out)
    }
}

/// Logs how revoking `what` went: a failure is only a warning (it then expires with its TTL).
fn log_revocation(result: Result<http::Response, Error>, what: &str) {
    match result {
        Ok(r) if (200..300).contains(&r.status) => crate::log::debug!("{what}: revoked"),
        Ok(r) => crate::log::warn!(
            "{what}: could not revoke it ({}); it expires with its TTL",
            status_text(r.status, &r.body)
        ),
        Err(e) => crate::log::warn!(
            "{what}: could not revoke it ({}); it expires with its TTL",
            e.what
        ),
    }
}

/// `auth.lease_duration` and `auth.renewable` of a login or renewal answer.
fn auth_lease(v: &Value) -> Option<TokenLease> {
    let ttl = v.pointer("/auth/lease_duration")?.as_u64()?;
    Some(TokenLease {
        ttl,
        increment: ttl,
        renewable: v
            .pointer("/auth/renewable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// A 2xx answer's JSON object; anything else an error naming `src` (never the body's values).
pub(crate) fn answer(status: u16, body: &Secret, src: &str) -> Result<Value, Error> {
    if !(200..300).contains(&status) {
        let kind = if matches!(status, 401 | 403) {
            Kind::Permission
        } else {
            Kind::Unavailable
        };
        return Err(Error::new(kind, status_text(status, body)).with_source(src));
    }
    match serde_json::from_slice::<Tree>(body.expose()) {
        Ok(Tree(v @ Value::Object(_))) => Ok(v),
        Ok(_) => Err(Error::new(Kind::Unavailable, "answer is not a JSON object").with_source(src)),
        Err(e) if e.is_data() => Err(duplicate_key(&e).with_source(src)),
        Err(_) => Err(Error::new(Kind::Unavailable, "answer is not JSON").with_source(src)),
    }
}

fn auth_label(auth: &Auth) -> &'static str {
    match auth {
        Auth::Token { .. } => "token",
        Auth::AppRole { .. } => "approle",
        Auth::Jwt { .. } => "login",
        Auth::Cert { .. } => "cert",
        Auth::Userpass { .. } => "userpass",
    }
}

impl Drop for Vault {
    fn drop(&mut self) {
        self.revoke();
    }
}

fn env_credential(env: &Environ, names: &[&str]) -> Option<Secret> {
    use std::os::unix::ffi::OsStrExt;
    names.iter().find_map(|n| {
        env.get(n)
            .filter(|v| !v.is_empty())
            .map(|v| Secret::new(v.as_bytes().to_vec()))
    })
}

fn credential(c: &Credential, env: &Environ, what: &str) -> Result<Secret, Error> {
    match c {
        Credential::Literal(s) => Ok(Secret::new(s.as_bytes().to_vec())),
        Credential::File(f) => read_credential(f, &format!("{what}_file")),
        Credential::Env(names) => env_credential(env, names).ok_or_else(|| {
            Error::new(
                Kind::Permission,
                format!(
                    "no {what}: set secret_init.vault.auth.{what}_file or {}",
                    names.join(" / ")
                ),
            )
        }),
    }
}

/// Reads a small credential file, dropping surrounding whitespace (files usually end in `\n`).
fn read_credential(path: &Path, key: &str) -> Result<Secret, Error> {
    let src = format!("secret_init.vault.auth.{key} {}", path.display());
    // The one input reader: a FIFO in its place cannot block the login; regular files only.
    let read = match crate::fsx::read_file(path, MAX_CREDENTIAL_BYTES) {
        Ok(Some(read)) => read,
        Ok(None) => {
            return Err(
                Error::new(Kind::Permission, "cannot read: No such file or directory")
                    .with_source(src),
            );
        }
        Err(e) => {
            return Err(Error::new(e.kind(Kind::Data), e.text()).with_source(src));
        }
    };
    let buf = read.expose();
    let start = buf
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(buf.len());
    let end = buf
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    if start >= end {
        return Err(Error::new(Kind::Permission, "empty").with_source(src));
    }
    Ok(Secret::new(buf[start..end].to_vec()))
}

#[cfg(test)]
mod tests;

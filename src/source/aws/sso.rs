//! IAM Identity Center (SSO) profiles, as botocore's `SSOProvider` reads them: a profile with
//! `sso_account_id` + `sso_role_name` and either `sso_session` (whose `[sso-session NAME]`
//! section gives `sso_region`) or the legacy `sso_start_url` + `sso_region`. The access token is
//! the one `aws sso login` cached under secret-init's own HOME, in
//! `~/.aws/sso/cache/<hex SHA-1 of the session name, or of the start URL in the legacy form>.json`;
//! its `expiresAt` is checked before anything is sent. secret-init never logs in and never
//! refreshes the token (no one is there to approve a device code): an expired token is a clear
//! 77 naming the `aws sso login` command to run. The token is exchanged for role credentials at
//! the portal ([`super::client`]'s `sso_role_credentials`).

use std::path::Path;

use crate::environ::{Environ, expand_home};
use crate::error::{Error, Kind};
use crate::secret::Secret;

/// The inputs of IAM Identity Center's `GetRoleCredentials` for an `sso_*` profile.
pub(crate) struct Sso {
    /// The cached access token (already checked not to have expired).
    pub token: Secret,
    /// `sso_account_id`.
    pub account_id: String,
    /// `sso_role_name`.
    pub role_name: String,
    /// `sso_region`: the portal's region.
    pub region: String,
    /// `profile NAME (sso_session S)` or `profile NAME (legacy sso_start_url)`, for messages.
    pub origin: String,
}

/// A profile's `sso_*` settings as the config file gives them (`region`: the `sso_region` of
/// its `[sso-session NAME]` section, or of the profile itself in the legacy form).
pub(crate) struct SsoProfile {
    /// The profile's name.
    pub name: String,
    /// `sso_session`.
    pub session: Option<String>,
    /// `sso_start_url` (the legacy form's cache key).
    pub start_url: Option<String>,
    /// `sso_account_id`.
    pub account: Option<String>,
    /// `sso_role_name`.
    pub role: Option<String>,
    /// `sso_region`, from where the form puts it.
    pub region: Option<String>,
}

/// A file reader: `Ok(None)` when the file does not exist.
pub(crate) type ReadFile = fn(&Path) -> Result<Option<Secret>, Error>;

/// The profile's `GetRoleCredentials` inputs, its cached token (under `env`'s HOME, read with
/// `read_file`) checked against `now`.
pub(crate) fn resolve(
    p: SsoProfile,
    env: &Environ,
    now: u64,
    read_file: ReadFile,
) -> Result<Sso, Error> {
    let SsoProfile {
        name,
        session,
        start_url,
        account,
        role,
        region,
    } = p;
    let origin = match &session {
        Some(s) => format!("profile {name} (sso_session {s})"),
        None => format!("profile {name} (legacy sso_start_url)"),
    };
    let config = |what: String| Error::new(Kind::Config, what).with_source(origin.clone());
    let (Some(account_id), Some(role_name)) = (account, role) else {
        return Err(config(
            "an SSO profile needs sso_account_id and sso_role_name".into(),
        ));
    };
    let (cache_key, login, needs) = match &session {
        Some(s) => (
            Some(s.clone()),
            format!("aws sso login --sso-session {s}"),
            format!("no [sso-session {s}] section with sso_region in the config file"),
        ),
        None => (
            start_url,
            format!("aws sso login --profile {name}"),
            "a legacy SSO profile needs sso_start_url and sso_region (or use sso_session)".into(),
        ),
    };
    let (Some(cache_key), Some(region)) = (cache_key, region) else {
        return Err(config(needs));
    };
    let region = super::config::checked_region(&region, &format!("sso_region of {origin}"))?;
    let denied = |what: String| Error::new(Kind::Permission, what).with_source(origin.clone());
    let Some(path) = expand_home(&format!("~/.aws/sso/cache/{}", cache_file(&cache_key)), env)
    else {
        return Err(denied("no HOME to find the SSO token cache in".into()));
    };
    let Some(bytes) = read_file(&path)? else {
        return Err(denied(format!(
            "no cached SSO token at {} (run `{login}`)",
            path.display()
        )));
    };
    let token = match cached_token(&bytes, now) {
        Ok(t) => t,
        Err(Cache::Expired) => {
            return Err(denied(format!(
                "the cached SSO token has expired (run `{login}` again)"
            )));
        }
        Err(Cache::Bad(why)) => {
            return Err(denied(format!(
                "SSO token cache {}: {why} (run `{login}`)",
                path.display()
            )));
        }
    };
    Ok(Sso {
        token,
        account_id,
        role_name,
        region,
        origin,
    })
}

/// The cache file's name for a session name or start URL: its SHA-1 in hex, `.json` (botocore's
/// `SSOTokenLoader._generate_cache_key`).
fn cache_file(key: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, key.as_bytes());
    format!("{}.json", crate::hex::encode(digest.as_ref()))
}

/// Why a cached token cannot be used.
#[derive(Debug, PartialEq)]
enum Cache {
    /// Its `expiresAt` has passed.
    Expired,
    /// The file is not a token cache: why (never its content).
    Bad(&'static str),
}

/// The access token of a cache file, when it has not expired at `now`. `expiresAt` is RFC 3339
/// (`2026-12-07T15:00:00Z`) or the legacy CLI's `2026-12-07T15:00:00UTC`.
fn cached_token(bytes: &Secret, now: u64) -> Result<Secret, Cache> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes.expose()).map_err(|_| Cache::Bad("not JSON"))?;
    let token = v
        .get("accessToken")
        .and_then(serde_json::Value::as_str)
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or(Cache::Bad("no accessToken"))?;
    let expires = v
        .get("expiresAt")
        .and_then(serde_json::Value::as_str)
        .and_then(|t| {
            let t = t
                .strip_suffix("UTC")
                .map_or_else(|| t.to_string(), |t| format!("{t}Z"));
            super::metadata::parse_expiration(&t)
        })
        .ok_or(Cache::Bad("no valid expiresAt"))?;
    if expires <= now {
        return Err(Cache::Expired);
    }
    Ok(Secret::new(token.as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::text as s;

    #[test]
    fn cache_names_are_botocores() {
        // Known SHA-1 digests (FIPS 180 "abc", and the empty string).
        assert_eq!(
            cache_file("abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d.json"
        );
        assert_eq!(
            cache_file(""),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709.json"
        );
    }

    #[test]
    fn cached_tokens() {
        let at = |exp: &str| {
            s(&format!(
                r#"{{"accessToken": "tok", "expiresAt": "{exp}"}}"#
            ))
        };
        // 2030-01-01T00:00:00Z is 1893456000.
        let t = cached_token(&at("2030-01-01T00:00:00Z"), 1_893_455_999).expect("fresh");
        assert_eq!(t.expose(), b"tok");
        assert!(cached_token(&at("2030-01-01T00:00:00UTC"), 1_893_455_999).is_ok());
        assert_eq!(
            cached_token(&at("2030-01-01T00:00:00Z"), 1_893_456_000).err(),
            Some(Cache::Expired)
        );
        assert_eq!(
            cached_token(&s("canary"), 0).err(),
            Some(Cache::Bad("not JSON"))
        );
        assert_eq!(
            cached_token(&s(r#"{"expiresAt": "2030-01-01T00:00:00Z"}"#), 0).err(),
            Some(Cache::Bad("no accessToken"))
        );
        assert_eq!(
            cached_token(&s(r#"{"accessToken": "tok"}"#), 0).err(),
            Some(Cache::Bad("no valid expiresAt"))
        );
    }
}

//! `secret_init.fallback` merged with `--no-fallback`: where the last-known-good snapshot is
//! kept, where its key comes from, and how old a value it may serve (docs/fallback.md).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::merge::flag;
use crate::cli::{Invocation, Opt};
use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::manifest::RawFallbackSettings;

/// The longest `max_age`: thirty days bounds every sensible one (a value older than that has
/// outlived any rotation policy).
const MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

/// Where the snapshot's key comes from: the places a bundle key comes from. A KMS-wrapped key
/// is one more variant here and one more arm in `fallback::key::load`; nothing else changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyFrom {
    /// A file holding the base64 key (`key_file`).
    File(PathBuf),
    /// A variable of secret-init's own start-time environment holding it (`key_env`).
    Env(String),
}

/// The snapshot's settings; `None` in [`crate::settings::Settings`] when off.
#[derive(Clone, Debug)]
pub struct FallbackSettings {
    /// The sealed snapshot's path.
    pub path: PathBuf,
    /// Its key.
    pub key: KeyFrom,
    /// The oldest value it may serve, counted from the value's last successful fetch.
    pub max_age: Duration,
}

fn config(what: impl Into<String>) -> Error {
    Error::new(
        Kind::Config,
        format!("secret_init.fallback.{}", what.into()),
    )
}

/// `secret_init.fallback` checked (even when `--no-fallback` turns it off for this start, so a
/// broken section is found before the outage that needs it); `None` when absent or turned off.
pub(super) fn resolve(
    inv: &Invocation,
    env: &Environ,
    file: Option<&RawFallbackSettings>,
    output_dir: &Path,
    env_prefix: &str,
) -> Result<Option<FallbackSettings>, Error> {
    let Some(raw) = file else {
        return Ok(None);
    };
    let path = raw
        .path
        .clone()
        .ok_or_else(|| config("path: required (where the sealed snapshot is kept)"))?;
    if !path.is_absolute() || path.file_name().is_none() {
        return Err(config(format!(
            "path: {} must be an absolute file path",
            path.display()
        )));
    }
    let spelled = |p: &Path| p.components().collect::<PathBuf>();
    if spelled(&path).starts_with(spelled(output_dir)) {
        return Err(config(format!(
            "path: {} is inside the output dir {}: the snapshot is never where the program's files are",
            path.display(),
            output_dir.display()
        )));
    }
    let key = match (&raw.key_file, &raw.key_env) {
        (Some(f), None) if f.is_absolute() => KeyFrom::File(f.clone()),
        (Some(f), None) => {
            return Err(config(format!(
                "key_file: {} must be an absolute path",
                f.display()
            )));
        }
        (None, Some(v)) if v.starts_with(env_prefix) => {
            return Err(config(format!(
                "key_env: {v} starts with the secrets' prefix {env_prefix}: it would be a secret for the program"
            )));
        }
        (None, Some(v)) if crate::name::is_env_name(v) => KeyFrom::Env(v.clone()),
        (None, Some(v)) => {
            return Err(config(format!(
                "key_env: {v:?} is not an environment variable name"
            )));
        }
        (Some(_), Some(_)) => return Err(config("key_file and key_env: give one, not both")),
        (None, None) => {
            return Err(config(
                "key_file or key_env: required (the snapshot is always sealed)",
            ));
        }
    };
    if let KeyFrom::File(f) = &key
        && spelled(f).starts_with(spelled(output_dir))
    {
        return Err(config(format!(
            "key_file: {} is inside the output dir {}",
            f.display(),
            output_dir.display()
        )));
    }
    let text = match &raw.max_age {
        None => {
            return Err(config(
                "max_age: required (the oldest value the snapshot may serve, e.g. 6h)",
            ));
        }
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let max_age = crate::duration::parse(&text, MAX_AGE)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            config("max_age: expected a duration such as 30m or 6h (more than 0, at most 720h)")
        })?;
    if flag(inv, env, Opt::NoFallback, None)? {
        crate::log::debug!("--no-fallback: the fallback snapshot is neither read nor written");
        return Ok(None);
    }
    Ok(Some(FallbackSettings { path, key, max_age }))
}

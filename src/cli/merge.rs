//! Merging one option from its sources: the command line, then its `SECRET_INIT_*` env twin
//! (then, at the caller, the config file). Every setting, generic or a source's own, goes through
//! these, so precedence and the boolean spelling are the same everywhere.

use std::ffi::OsString;

use super::{Invocation, env_twin};
use crate::environ::Environ;
use crate::error::{Error, Kind};

/// The one boolean spelling: `1|true|yes|on` and `0|false|no|off`, any case; `None` otherwise.
pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Picks an option's raw value by precedence: command line, then env twin.
pub(crate) fn pick(inv: &Invocation, env: &Environ, long: &str) -> Option<(OsString, String)> {
    if let Some(v) = inv.values.get(long).and_then(|v| v.last()) {
        return Some((v.clone(), format!("--{long}")));
    }
    let twin = env_twin(long);
    env.get(&twin).map(|v| (v.to_os_string(), twin))
}

/// All command-line values of a repeatable option, else its env twin split on `sep`.
pub(crate) fn pick_list(
    inv: &Invocation,
    env: &Environ,
    long: &str,
    sep: char,
) -> Option<Vec<String>> {
    if let Some(v) = inv.values.get(long) {
        return Some(v.iter().map(|s| s.to_string_lossy().into_owned()).collect());
    }
    env.get(&env_twin(long)).map(|v| {
        v.to_string_lossy()
            .split(sep)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    })
}

pub(crate) fn flag(
    inv: &Invocation,
    env: &Environ,
    long: &str,
    file: Option<bool>,
) -> Result<bool, Error> {
    if inv.values.contains_key(long) {
        return Ok(true);
    }
    let twin = env_twin(long);
    match env.get(&twin).map(|v| v.to_string_lossy()) {
        Some(v) if v.is_empty() => Ok(false),
        Some(v) if let Some(b) = parse_bool(&v) => Ok(b),
        Some(_) => Err(Error::new(
            Kind::Usage,
            format!("{twin}: expected true or false"),
        )),
        None => Ok(file.unwrap_or(false)),
    }
}

pub(crate) fn text(v: OsString, origin: &str) -> Result<String, Error> {
    v.into_string()
        .map_err(|_| Error::new(Kind::Usage, format!("{origin}: not valid UTF-8")))
}

//! Merging one option from its sources: the command line, then its `SECRET_INIT_*` env twin
//! (then, at the caller, the config file). Every setting, generic or a source's own, goes through
//! these, so precedence and the boolean spelling are the same everywhere.

use std::ffi::OsString;

use super::{Invocation, Opt};
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
pub(crate) fn pick(inv: &Invocation, env: &Environ, opt: Opt) -> Option<(OsString, String)> {
    if let Some(v) = inv.values(opt).last() {
        return Some((v.clone(), format!("--{}", opt.long())));
    }
    opt.twin_value(env)
        .map(|v| (v.to_os_string(), opt.env_twin()))
}

/// All command-line values of a repeatable option, else its env twin split on `sep`.
pub(crate) fn pick_list(
    inv: &Invocation,
    env: &Environ,
    opt: Opt,
    sep: char,
) -> Option<Vec<String>> {
    if inv.given(opt) {
        let v = inv.values(opt);
        return Some(v.iter().map(|s| s.to_string_lossy().into_owned()).collect());
    }
    opt.twin_value(env).map(|v| {
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
    opt: Opt,
    file: Option<bool>,
) -> Result<bool, Error> {
    if inv.given(opt) {
        return Ok(true);
    }
    match opt.twin_value(env).map(|v| v.to_string_lossy()) {
        Some(v) if v.is_empty() => Ok(false),
        Some(v) if let Some(b) = parse_bool(&v) => Ok(b),
        Some(_) => Err(Error::new(
            Kind::Usage,
            format!("{}: expected true or false", opt.env_twin()),
        )),
        None => Ok(file.unwrap_or(false)),
    }
}

pub(crate) fn text(v: OsString, origin: &str) -> Result<String, Error> {
    v.into_string()
        .map_err(|_| Error::new(Kind::Usage, format!("{origin}: not valid UTF-8")))
}

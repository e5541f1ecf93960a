//! `--mask` / `secret_init.mask` with `mask_min_length` and `mask_marker` (docs/masking.md),
//! typed: `None` when masking is off.

use crate::cli::merge::flag;
use crate::cli::{Invocation, Opt};
use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::manifest::FileSettings;

/// `--mask` / `secret_init.mask`, with `mask_min_length` and `mask_marker`.
pub(super) fn resolve(
    inv: &Invocation,
    env: &Environ,
    file: &FileSettings,
) -> Result<Option<crate::mask::Rules>, Error> {
    if !flag(inv, env, Opt::Mask, file.mask)? {
        return Ok(None);
    }
    // Up to 4096: a value longer than any masked one would mask nothing.
    let min_length = match file.mask_min_length {
        None => crate::mask::DEFAULT_MIN_LENGTH,
        Some(n @ 1..=4096) => n as usize,
        Some(_) => {
            return Err(Error::new(
                Kind::Usage,
                "secret_init.mask_min_length: expected a number of bytes from 1 to 4096",
            ));
        }
    };
    let marker = file
        .mask_marker
        .as_deref()
        .unwrap_or(crate::mask::DEFAULT_MARKER);
    Ok(Some(crate::mask::Rules {
        min_length,
        marker: marker.to_string(),
    }))
}

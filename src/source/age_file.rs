//! `NAME.age` in a secrets dir: when the file source looks for `NAME` and the dir has
//! `NAME.age`, that file is decrypted with sops' age identities (the ones `age:` references
//! use, [`AgeKeys`]) and is the value, shown as `file:DIR/NAME.age`. A plain `NAME` beside it
//! that is an input is ambiguous and refused (65): which one was meant cannot be told. One that
//! is not an input (a delivery of ours, a dangling link, one the program could have written) is
//! no rival. `NAME.age` is opened like `NAME` (beneath the dir, regular, capped).

use std::collections::HashSet;
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::errno::Errno;

use super::file::{errno_error, not_input};
use super::sops::AgeKeys;
use super::{Found, Origin, SourceKind};
use crate::error::{Error, Kind};
use crate::fsx::{READ_FLAGS, open_beneath, read_regular};
use crate::name::SecretName;
use crate::provenance::{Inputs, NotInput};

/// What an age file adds to its plaintext, at most: the header (a few stanzas), 16 bytes per
/// 64 KiB chunk, and armor (base64, a third more, and its lines).
fn sealed_cap(max: u64) -> u64 {
    max.saturating_add(max / 2).saturating_add(64 * 1024)
}

/// The value of `NAME.age` in the open dir `dirfd` (at `dir`, listed as `names`), or `None` when
/// there is none to read (the caller then tries the plain `NAME`).
pub(super) fn lookup(
    dirfd: &OwnedFd,
    names: &HashSet<Vec<u8>>,
    dir: &Path,
    name: &SecretName,
    inputs: &Inputs,
    keys: &mut AgeKeys,
    max: u64,
) -> Result<Option<Found>, Error> {
    let sealed = format!("{}.age", name.as_str());
    if !names.contains(sealed.as_bytes()) {
        return Ok(None);
    }
    let visible = dir.join(&sealed);
    let src = format!("file:{}", visible.display());
    if names.contains(name.as_str().as_bytes()) && rivals(dirfd, name.as_str(), inputs) {
        return Err(Error::new(
            Kind::Data,
            format!(
                "both {name} and {sealed} are in {}; keep only one",
                dir.display()
            ),
        )
        .with_source(src));
    }
    let fd = match open_beneath(dirfd, &sealed, READ_FLAGS) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(errno_error(e, "open").with_source(src)),
    };
    let st = match inputs.judge(&fd, Some((dirfd, &sealed))) {
        Ok(st) => st,
        Err(NotInput::Delivered) => return Ok(None),
        Err(NotInput::Writable(how)) => {
            crate::log::warn!(
                "secret \"{name}\": {src} is not an input: the program's user could have written it ({how})"
            );
            return Ok(None);
        }
        Err(why) => return Err(not_input(why).with_source(src)),
    };
    let file = read_regular(fd, &st, sealed_cap(max))
        .map_err(|why| Error::new(Kind::Data, why).with_source(src.clone()))?;
    let value = keys
        .decrypt(file.expose())
        .map_err(|e| e.with_source(src.clone()))?;
    if value.expose().len() as u64 > max {
        return Err(Error::new(
            Kind::Data,
            format!("decrypted, exceeds the {max}-byte limit"),
        )
        .with_source(src));
    }
    crate::log::debug!("secret \"{name}\": found in {src}");
    Ok(Some(Found {
        value,
        origin: Origin {
            kind: SourceKind::File,
            label: src,
            path: Some(visible),
            version: None,
        },
    }))
}

/// Whether the plain `name` beside `NAME.age` would be read as a value: anything but a file that
/// is absent (a dangling link), a delivery of ours, or one the program could have written.
fn rivals(dirfd: &OwnedFd, name: &str, inputs: &Inputs) -> bool {
    match open_beneath(dirfd, name, READ_FLAGS) {
        Ok(fd) => !matches!(
            inputs.judge(&fd, Some((dirfd, name))),
            Err(NotInput::Delivered | NotInput::Writable(_))
        ),
        Err(Errno::ENOENT) => false,
        Err(_) => true,
    }
}

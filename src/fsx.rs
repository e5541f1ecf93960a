//! The one audited place for touching the filesystem where an attacker may own part of the path:
//! reading inputs secret-init does not control (config files, CA bundles, /etc/passwd) with a size
//! cap (at most `max + 1` bytes are read, so an oversized or endless input is detected without
//! ever being loaded whole), opening a directory component by component without following links,
//! and listing a directory.

use std::collections::HashSet;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

/// Reads all of `r` when it holds at most `max` bytes; `Ok(None)` when it holds more.
pub fn read_capped(r: impl Read, max: u64) -> io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    r.take(max.saturating_add(1)).read_to_end(&mut buf)?;
    Ok((buf.len() as u64 <= max).then_some(buf))
}

/// Flags for each step of a no-follow directory walk.
pub const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// Opens the parent directory of `path` component by component without following links and
/// without creating anything; `Ok(None)` when a component does not exist.
pub fn open_parent(path: &Path) -> Result<Option<OwnedFd>, String> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    open_dir_nofollow(dir)
}

/// Opens `dir` from `/` without following links or creating anything; `Ok(None)` when missing.
pub fn open_dir_nofollow(dir: &Path) -> Result<Option<OwnedFd>, String> {
    if !dir.is_absolute() {
        return Err(format!("{} is not an absolute path", dir.display()));
    }
    let mut fd = nix::fcntl::open("/", DIR_FLAGS, Mode::empty())
        .map_err(|e| format!("cannot open /: {}", e.desc()))?;
    let mut sofar = PathBuf::from("/");
    for comp in dir.components() {
        let name = match comp {
            Component::RootDir | Component::CurDir => continue,
            Component::Normal(n) => n,
            _ => return Err(format!("{} contains \"..\"", dir.display())),
        };
        sofar.push(name);
        fd = match nix::fcntl::openat(&fd, name, DIR_FLAGS, Mode::empty()) {
            Ok(n) => n,
            Err(Errno::ENOENT) => return Ok(None),
            Err(Errno::ELOOP | Errno::ENOTDIR) => {
                return Err(format!(
                    "{} is a symlink or not a directory; refusing",
                    sofar.display()
                ));
            }
            Err(e) => return Err(format!("cannot open {}: {}", sofar.display(), e.desc())),
        };
    }
    Ok(Some(fd))
}

/// The directories on the way to `path`'s parent that do not exist yet, outermost first.
pub fn missing_dirs(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut cur = path.parent();
    while let Some(d) = cur {
        if d.as_os_str().is_empty() || d == Path::new("/") {
            break;
        }
        match std::fs::symlink_metadata(d) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => out.push(d.to_path_buf()),
            _ => break,
        }
        cur = d.parent();
    }
    out.reverse();
    out
}

/// The names in a directory, `..*` entries excluded (never secrets).
pub fn list(dir: &OwnedFd) -> Result<HashSet<Vec<u8>>, Errno> {
    let mut d = nix::dir::Dir::openat(
        dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut names = HashSet::new();
    for entry in d.iter() {
        let name = entry?.file_name().to_bytes().to_vec();
        if !name.starts_with(b"..") && name != b"." {
            names.insert(name);
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_is_inclusive() {
        assert_eq!(
            read_capped(&b"abc"[..], 3).expect("io"),
            Some(b"abc".to_vec())
        );
        assert_eq!(read_capped(&b"abcd"[..], 3).expect("io"), None);
        assert_eq!(
            read_capped(io::repeat(b'x'), 1024).expect("io"),
            None,
            "endless input stops"
        );
    }
}

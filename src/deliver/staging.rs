//! The private staging directory of a publish (`.secret-init-<16 hex digits>`, 0700): made and
//! `flock`ed for as long as a start uses it, checked still to be itself before its files are
//! renamed out, and swept when a killed start left one behind (it holds plaintext). Everything
//! relative to directory descriptors, never through a link.

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::errno::Errno;
use std::os::unix::ffi::OsStrExt;

use nix::fcntl::{AtFlags, Flock, FlockArg};
use nix::sys::stat::{Mode, SFlag, fstat, fstatat, mkdirat};
use nix::unistd::{UnlinkatFlags, unlinkat};

use super::dirs::{cannot_create_dir, permission_hint, read_only_hint};
use crate::fsx::DIR_FLAGS;

/// A random suffix for this start's staging dir.
fn random_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS per process; uniqueness is all that is needed here, as
    // O_EXCL (mkdir) refuses a name someone else planted.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

pub(super) const STAGING_PREFIX: &str = ".secret-init-";

/// Whether `name` is one of our staging dirs: the prefix and 16 lower-case hex digits.
pub(super) fn is_staging_name(name: &[u8]) -> bool {
    name.strip_prefix(STAGING_PREFIX.as_bytes())
        .is_some_and(|h| h.len() == 16 && h.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// Whether `name` in `dirfd` is still the directory open as `fd` (not removed or replaced).
pub(super) fn still_linked(dirfd: &OwnedFd, name: &str, fd: &OwnedFd) -> bool {
    match (
        fstatat(dirfd, name, AtFlags::AT_SYMLINK_NOFOLLOW),
        fstat(fd),
    ) {
        (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino,
        _ => false,
    }
}

/// Makes this start's staging dir, `flock`ed exclusively for as long as the start uses it.
/// `missing`: the probe's directory a run would create in `dir` first; a mkdir that fails is
/// reported as that directory's failure, as the run would report it.
pub(super) fn make_staging(
    dirfd: &OwnedFd,
    dir: &Path,
    missing: Option<&Path>,
) -> Result<(String, OwnedFd, Flock<OwnedFd>), String> {
    let cannot = |e: Errno| format!("cannot open staging dir in {}: {}", dir.display(), e.desc());
    for _ in 0..8 {
        let name = format!("{STAGING_PREFIX}{}", random_suffix());
        match mkdirat(dirfd, name.as_str(), Mode::from_bits_truncate(0o700)) {
            Ok(()) => {
                let fd = nix::fcntl::openat(dirfd, name.as_str(), DIR_FLAGS, Mode::empty())
                    .map_err(cannot)?;
                let dup = fd
                    .try_clone()
                    .map_err(|e| format!("cannot open staging dir in {}: {e}", dir.display()))?;
                let lock = Flock::lock(dup, FlockArg::LockExclusiveNonblock)
                    .map_err(|(_, e)| cannot(e))?;
                // Between mkdir and flock another start's sweep could take the new, unlocked
                // dir for a stale one and remove it: then make another.
                if still_linked(dirfd, &name, &fd) {
                    return Ok((name, fd, lock));
                }
                continue;
            }
            Err(Errno::EEXIST) => continue,
            Err(Errno::EROFS) => return Err(read_only_hint(missing.unwrap_or(dir))),
            Err(e) => {
                return Err(match missing {
                    Some(m) => cannot_create_dir(m, e),
                    None => format!(
                        "cannot create a staging dir in {}: {}{}",
                        dir.display(),
                        e.desc(),
                        permission_hint(e)
                    ),
                });
            }
        }
    }
    Err(format!(
        "cannot create a staging dir in {}: names taken",
        dir.display()
    ))
}

/// Removes staging dirs a start killed with SIGKILL (or a power loss) left behind: they hold
/// plaintext. Only names of our form, only real directories (never through a link) that we own,
/// and only those whose `flock` we get without waiting, so a live start sharing the directory
/// (two containers on one emptyDir) keeps its own. All of it relative to descriptors.
pub(super) fn sweep_stale(dirfd: &OwnedFd, dir: &Path) {
    let Ok(names) = crate::fsx::list(dirfd) else {
        return;
    };
    let euid = nix::unistd::geteuid().as_raw();
    for raw in names.iter().filter(|n| is_staging_name(n)) {
        // is_staging_name admits ASCII only.
        let name = String::from_utf8_lossy(raw);
        let name = name.as_ref();
        let Ok(st) = fstatat(dirfd, name, AtFlags::AT_SYMLINK_NOFOLLOW) else {
            continue;
        };
        if st.st_mode & SFlag::S_IFMT.bits() != SFlag::S_IFDIR.bits() || st.st_uid != euid {
            continue;
        }
        let Ok(fd) = nix::fcntl::openat(dirfd, name, DIR_FLAGS, Mode::empty()) else {
            continue;
        };
        let Ok(dup) = fd.try_clone() else {
            continue;
        };
        let Ok(_lock) = Flock::lock(dup, FlockArg::LockExclusiveNonblock) else {
            continue; // a live start's
        };
        if !still_linked(dirfd, name, &fd) {
            continue;
        }
        let mut left = 0usize;
        // Every name, `..*` included (the record of deliveries is staged as one).
        for entry in crate::fsx::names(&fd).unwrap_or_default().iter() {
            let entry = std::ffi::OsStr::from_bytes(entry);
            if unlinkat(&fd, entry, UnlinkatFlags::NoRemoveDir).is_err() {
                left += 1;
            }
        }
        match unlinkat(dirfd, name, UnlinkatFlags::RemoveDir) {
            Ok(()) => crate::log::info!("removed stale staging dir {}/{name}", dir.display()),
            Err(e) => crate::log::warn!(
                "cannot remove stale staging dir {}/{name} ({left} entries left): {}",
                dir.display(),
                e.desc()
            ),
        }
    }
}

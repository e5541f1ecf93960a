//! The destination directories of a publish: opened component by component from `/` without
//! following a link (created 0700 where missing, owned as asked), checked against the write
//! policy, and a fresh memory-backed mount made private before use.

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::stat::{Mode, SFlag, fchmod, fstat, fstatat, mkdirat};
use nix::unistd::fchown;

use crate::error::{Error, Kind};
use crate::fsx::{DIR_FLAGS, Step};

/// Policy for the destination directories.
#[derive(Clone, Debug, Default)]
pub(crate) struct WriteOptions {
    /// Permit directories that other users can write to or that another user owns.
    pub allow_shared_dir: bool,
    /// Owners of directories and existing files that are trusted besides root and ourselves
    /// (the `--user` the program runs as).
    pub trusted_uids: Vec<u32>,
    /// `fsync` each file and its directory (on disk-backed filesystems), for writes that must
    /// survive a crash; start-time deliveries, rebuilt on every start, do not ask for it.
    pub durable: bool,
    /// The output dir whose record of deliveries (`provenance`) lists what is published, so
    /// that no later pass or start reads it back as an input; `None` for writes that are not
    /// deliveries (the status file, the record itself, bundle files).
    pub record: Option<std::path::PathBuf>,
}

/// Opens (creating 0700 where missing) every component of `dir` without following links.
pub(crate) fn open_dir_chain(dir: &Path) -> Result<OwnedFd, String> {
    open_dir_chain_owned(dir, None)
}

/// [`open_dir_chain`], with the directories it creates owned by `owner` (uid, gid).
pub(crate) fn open_dir_chain_owned(
    dir: &Path,
    owner: Option<(u32, u32)>,
) -> Result<OwnedFd, String> {
    crate::fsx::absolute(dir)?;
    let fd = crate::fsx::walk_dirs(dir, &mut |s| match s.errno {
        Errno::ENOENT => create_dir(&s, owner).map(Some),
        Errno::ELOOP | Errno::ENOTDIR => {
            let is_link = fstatat(s.parent, s.name, AtFlags::AT_SYMLINK_NOFOLLOW)
                .is_ok_and(|st| st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFLNK.bits());
            Err(if is_link {
                format!("refusing to follow symlink at {}", s.sofar.display())
            } else {
                format!("{} is not a directory", s.sofar.display())
            })
        }
        e => Err(format!(
            "cannot open directory {}: {}",
            s.sofar.display(),
            e.desc()
        )),
    })?;
    // Every failed step above gives a directory or an error, so the walk ends with one.
    fd.ok_or_else(|| format!("cannot open directory {}", dir.display()))
}

/// Creates the missing directory of a walk step, exactly 0700 and owned by `owner`, and opens it.
fn create_dir(s: &Step<'_>, owner: Option<(u32, u32)>) -> Result<OwnedFd, String> {
    let (fd, name, sofar) = (s.parent, s.name, s.sofar);
    match mkdirat(fd, name, Mode::from_bits_truncate(0o700)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(Errno::EROFS) => return Err(read_only_hint(sofar)),
        Err(e) => return Err(cannot_create_dir(sofar, e)),
    }
    let n = nix::fcntl::openat(fd, name, DIR_FLAGS, Mode::empty())
        .map_err(|e| format!("cannot open directory {}: {}", sofar.display(), e.desc()))?;
    // mkdir applies the umask; a created parent is exactly 0700 whatever it is.
    fchmod(&n, Mode::from_bits_truncate(0o700))
        .map_err(|e| format!("cannot chmod {}: {}", sofar.display(), e.desc()))?;
    if let Some((uid, gid)) = owner {
        fchown(&n, Some(uid.into()), Some(gid.into())).map_err(|e| {
            format!(
                "cannot chown {} to {uid}:{gid}: {}",
                sofar.display(),
                e.desc()
            )
        })?;
    }
    Ok(n)
}

/// "cannot create directory DIR: WHY", with what to do when WHY is a permission.
pub(super) fn cannot_create_dir(dir: &Path, e: Errno) -> String {
    format!(
        "cannot create directory {}: {}{}",
        dir.display(),
        e.desc(),
        permission_hint(e)
    )
}

/// What to do when a directory cannot be made for want of permission: usually not root on a
/// developer machine, where the default `/secrets` is out of reach. Empty for other errors.
pub(super) fn permission_hint(e: Errno) -> String {
    if !matches!(e, Errno::EACCES | Errno::EPERM) {
        return String::new();
    }
    let euid = nix::unistd::geteuid().as_raw();
    let who = if euid == 0 {
        String::new()
    } else {
        format!("secret-init runs as uid {euid}, not root; ")
    };
    format!(
        " ({who}write elsewhere with --output-dir DIR, e.g. --output-dir ./secrets, or run it as \
         the container does)"
    )
}

pub(super) fn read_only_hint(dir: &Path) -> String {
    format!(
        "{} is on a read-only filesystem (a mounted secret volume?): it can be the output dir only when every \
         secret comes from it; write elsewhere with --output-dir DIR, or deliver by env only (--env-only)",
        dir.display()
    )
}

pub(super) fn check_dir(fd: &OwnedFd, dir: &Path, opts: &WriteOptions) -> Result<(), Error> {
    if opts.allow_shared_dir {
        return Ok(());
    }
    let st = fstat(fd).map_err(|e| {
        Error::new(
            Kind::CantCreate,
            format!("cannot stat {}: {}", dir.display(), e.desc()),
        )
    })?;
    let euid = nix::unistd::geteuid().as_raw();
    if st.st_mode & 0o022 != 0 {
        let who = if st.st_mode & 0o002 != 0 {
            "world"
        } else {
            "group"
        };
        let uid = opts.trusted_uids.first().copied().unwrap_or(euid);
        let fix = if st.st_uid == 0 && euid != 0 && is_mount_point(fd, &st) {
            // A root-owned shared mount (`--tmpfs DIR` or an emptyDir) and an unprivileged
            // secret-init: only root could have made it private, so say how it gets private.
            // Docker passes uid= to the kernel; podman's parser knows only its own U (chown to
            // the container's user).
            format!(
                "mount it private: --tmpfs {d}:mode=0700,uid={uid}, or with podman \
                 --tmpfs {d}:mode=0700,U; or start secret-init as root with --user",
                d = dir.display()
            )
        } else {
            "use a private dir, or allow_shared_dir".to_string()
        };
        return Err(Error::new(
            Kind::Config,
            format!(
                "output dir {} is {who}-writable; refusing ({fix})",
                dir.display()
            ),
        ));
    }
    if st.st_uid != euid && st.st_uid != 0 && !opts.trusted_uids.contains(&st.st_uid) {
        return Err(Error::new(
            Kind::Config,
            format!(
                "output dir {} is owned by uid {}; refusing (use a private dir, or allow_shared_dir)",
                dir.display(),
                st.st_uid
            ),
        ));
    }
    Ok(())
}

/// Makes a fresh engine-made mount at `dir` private before anything is read from or written to it.
///
/// `docker run --tmpfs /secrets` and `podman run --tmpfs /secrets` mount a tmpfs that is root's,
/// mode 1777 and empty; a Kubernetes `emptyDir` is root's, 0777 and empty. Such a dir is tightened
/// to 0700 and given to `owner` (the `--user`; else we keep it): it is a mount point made for this
/// container with nothing in it, so no other user holds a file or a link there, and after the
/// chmod none can add one (the listing is taken again afterwards to close the window between).
/// Anything else (not a mount point, not root's, or with any entry in it, `..*` included) is left
/// alone for [`check_dir`] to judge, so a shared dir someone already uses is still refused. A
/// missing dir is left to the writer.
pub(crate) fn tighten_fresh_mount(dir: &Path, owner: Option<(u32, u32)>) {
    let Some(fd) = fresh_mount(dir) else {
        return;
    };
    // When we may not (a non-root secret-init), the dir stays as it is and check_dir refuses it
    // with the mount option that fixes it.
    if let Some((uid, gid)) = owner
        && let Err(e) = fchown(&fd, Some(uid.into()), Some(gid.into()))
    {
        crate::log::debug!(
            "{}: cannot chown the fresh mount: {}",
            dir.display(),
            e.desc()
        );
        return;
    }
    if let Err(e) = fchmod(&fd, Mode::from_bits_truncate(0o700)) {
        crate::log::debug!(
            "{}: cannot chmod the fresh mount: {}",
            dir.display(),
            e.desc()
        );
        return;
    }
    if !is_empty(&fd) {
        // Someone wrote between the listing and the chmod: whatever they left is theirs, and
        // the publisher refuses another user's file at any destination name.
        crate::log::warn!(
            "{}: an entry appeared while it was made private",
            dir.display()
        );
    }
    crate::log::debug!(
        "{}: fresh world-writable mount made private (0700)",
        dir.display()
    );
}

/// `dir` opened, when it is a fresh engine-made mount that [`tighten_fresh_mount`] makes private:
/// root's, world-writable, a mount point, and empty.
fn fresh_mount(dir: &Path) -> Option<OwnedFd> {
    let fd = open_existing_dir(dir).ok()?;
    let st = fstat(&fd).ok()?;
    let world_writable_root = st.st_mode & 0o002 != 0 && st.st_uid == 0;
    (world_writable_root && is_mount_point(&fd, &st) && is_empty(&fd)).then_some(fd)
}

/// Whether a run would make `dir` private before use ([`tighten_fresh_mount`]): a fresh mount,
/// and we are root (only root may chmod root's directory). `check` then judges the dir as the run
/// will find it, without changing it.
pub(crate) fn would_tighten(dir: &Path) -> bool {
    nix::unistd::geteuid().is_root() && fresh_mount(dir).is_some()
}

/// Whether the directory `fd` (whose stat is `st`) is the root of a mount: its parent is on
/// another device (`/` itself never is one here, its `..` being itself).
fn is_mount_point(fd: &OwnedFd, st: &nix::sys::stat::FileStat) -> bool {
    fstatat(fd, "..", AtFlags::empty()).is_ok_and(|up| up.st_dev != st.st_dev)
}

/// Whether a directory holds nothing but `.` and `..`.
fn is_empty(fd: &OwnedFd) -> bool {
    crate::fsx::names(fd).is_ok_and(|n| n.is_empty())
}

/// Whether `fd` lives on tmpfs or ramfs, where data never reaches a disk and fsync is a no-op.
pub(super) fn is_memory_fs(fd: &OwnedFd) -> bool {
    use nix::sys::statfs::{FsType, TMPFS_MAGIC, fstatfs};
    // RAMFS_MAGIC from linux/magic.h; nix names only TMPFS_MAGIC.
    const RAMFS_MAGIC: FsType = FsType(0x8584_58f6);
    fstatfs(fd)
        .is_ok_and(|s| s.filesystem_type() == TMPFS_MAGIC || s.filesystem_type() == RAMFS_MAGIC)
}

/// Opens an existing directory from `/`, one component at a time, never following a link.
pub(super) fn open_existing_dir(dir: &Path) -> Result<OwnedFd, String> {
    let fd = crate::fsx::walk_dirs(dir, &mut |s| {
        Err(match s.errno {
            Errno::ELOOP | Errno::ENOTDIR => {
                format!("{} is no longer a directory (a symlink?)", dir.display())
            }
            e => format!("cannot open {}: {}", dir.display(), e.desc()),
        })
    })?;
    // Every failed step above is an error, so the walk ends with a directory.
    fd.ok_or_else(|| format!("cannot open {}", dir.display()))
}

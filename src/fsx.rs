//! The one audited place for touching the filesystem where an attacker may own part of the path:
//! reading inputs secret-init does not control (config files, CA bundles, /etc/passwd, files a
//! merge must keep) with a size cap (at most `max + 1` bytes are read, so an oversized or endless
//! input is detected without ever being loaded whole), secrets into memory that is wiped when
//! freed, opening a directory component by component without following links, and listing a
//! directory.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{Mode, SFlag, fstat};
use zeroize::Zeroizing;

use crate::secret::Secret;

/// Reads all of `r` when it holds at most `max` bytes; `Ok(None)` when it holds more.
pub(crate) fn read_capped(r: impl Read, max: u64) -> io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    r.take(max.saturating_add(1)).read_to_end(&mut buf)?;
    Ok((buf.len() as u64 <= max).then_some(buf))
}

/// [`read_capped`] for a secret: the bytes only ever live in memory that is wiped when freed,
/// each growth included (a `Vec` that grows leaves its old buffer behind unwiped). `hint` is the
/// expected size, so that a file read at its `st_size` needs no growth at all, and one `read`:
/// a read that stops short of the buffer with exactly `hint` bytes in it is the end (a regular
/// file is read to its end or to the buffer's; a size that was wrong, as procfs' 0 or sysfs'
/// 4096, never matches a short read's total, and the reading goes on to a read of 0).
pub(crate) fn read_secret(r: impl Read, max: u64, hint: usize) -> io::Result<Option<Secret>> {
    let mut r = r.take(max.saturating_add(1));
    let mut buf = Zeroizing::new(Vec::with_capacity(hint.saturating_add(1).max(64)));
    loop {
        if buf.len() == buf.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(buf.capacity() * 2));
            bigger.extend_from_slice(&buf);
            buf = bigger;
        }
        let (len, cap) = (buf.len(), buf.capacity());
        buf.resize(cap, 0);
        let got = r.read(&mut buf[len..]);
        buf.truncate(len + *got.as_ref().unwrap_or(&0));
        match got {
            Ok(0) => break,
            Ok(n) if n < cap - len && buf.len() == hint => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if buf.len() as u64 > max {
        return Ok(None);
    }
    Ok(Some(Secret::new(std::mem::take(&mut *buf))))
}

/// `dir.join(name)` in one allocation of its size (`join` copies `dir`, then grows for `name`).
pub(crate) fn joined(dir: &Path, name: &str) -> PathBuf {
    let mut out = PathBuf::with_capacity(dir.as_os_str().len() + 1 + name.len());
    out.push(dir);
    out.push(name);
    out
}

/// Flags for opening an input file: never blocking on a FIFO, never a controlling terminal.
pub(crate) const READ_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_NONBLOCK)
    .union(OFlag::O_NOCTTY)
    .union(OFlag::O_CLOEXEC);

/// Opens `name` beneath `dir`: `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`, so a link that
/// escapes `dir` or a `/proc` magic link is refused by the kernel; where openat2 is missing or
/// filtered, every link is refused (`O_NOFOLLOW`).
pub(crate) fn open_beneath(dir: &OwnedFd, name: &str, flags: OFlag) -> Result<OwnedFd, Errno> {
    let how = OpenHow::new()
        .flags(flags)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    match nix::fcntl::openat2(dir, name, how) {
        // No openat2 (kernel < 5.6) or a seccomp filter that refuses it: refuse every link instead.
        Err(Errno::ENOSYS) | Err(Errno::EPERM) => {
            nix::fcntl::openat(dir, name, flags | OFlag::O_NOFOLLOW, Mode::empty())
        }
        other => other,
    }
}

/// Describes a non-regular file type for messages.
fn type_name(mode: u32) -> &'static str {
    match SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits()) {
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFCHR => "a character device",
        SFlag::S_IFBLK => "a block device",
        SFlag::S_IFLNK => "a symbolic link",
        _ => "not a regular file",
    }
}

/// Reads an open descriptor as a secret: regular files only, at most `max` bytes. `st` is its
/// `fstat` (the caller has it already: it judged the file an input, `provenance`).
pub(crate) fn read_regular(
    fd: OwnedFd,
    st: &nix::sys::stat::FileStat,
    max: u64,
) -> Result<Secret, String> {
    if st.st_mode & SFlag::S_IFMT.bits() != SFlag::S_IFREG.bits() {
        return Err(format!("not a regular file ({})", type_name(st.st_mode)));
    }
    if st.st_size as u64 > max {
        return Err(format!("exceeds the {max}-byte limit"));
    }
    read_secret(File::from(fd), max, st.st_size as usize)
        .map_err(|e| format!("cannot read: {}", crate::error::io_text(&e)))?
        // Grew while we read: the size check above is only a fast path.
        .ok_or_else(|| format!("exceeds the {max}-byte limit"))
}

/// Why an input file named by a path could not be read: the open failed (`errno`), or what was
/// opened is not a regular file within the cap (`why`). The caller words it and picks the kind.
#[derive(Debug)]
pub(crate) enum Unreadable {
    /// `open(2)` failed (other than "does not exist").
    Open(Errno),
    /// Opened, but not a regular file of at most the cap, or the read failed.
    Invalid(String),
}

impl Unreadable {
    /// The message: "cannot read: ..." for an open that failed, else the reason as it is.
    pub(crate) fn text(&self) -> String {
        match self {
            Unreadable::Open(e) => format!("cannot read: {}", e.desc()),
            Unreadable::Invalid(why) => why.clone(),
        }
    }

    /// The exit kind: 77 for a permission the open was refused, `other` for anything else
    /// (a FIFO, a device, a file over the cap).
    pub(crate) fn kind(&self, other: crate::error::Kind) -> crate::error::Kind {
        match self {
            Unreadable::Open(Errno::EACCES | Errno::EPERM) => crate::error::Kind::Permission,
            _ => other,
        }
    }
}

/// Reads an input file secret-init's own settings or environment name by path (a credential,
/// key, token, bundle or CA file): opened with [`READ_FLAGS`], so a FIFO planted in its place
/// cannot block the start (it opens at once and is refused here), then [`read_regular`]:
/// regular files only, at most `max` bytes, into wiped memory. Links are followed, as every
/// tool reading these files does (a Kubernetes projected token is a link into `..data`).
/// `Ok(None)` when it does not exist.
pub(crate) fn read_file(path: &Path, max: u64) -> Result<Option<Secret>, Unreadable> {
    let fd = match nix::fcntl::open(path, READ_FLAGS, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(Unreadable::Open(e)),
    };
    let st = fstat(&fd).map_err(|e| Unreadable::Invalid(format!("cannot stat: {}", e.desc())))?;
    read_regular(fd, &st, max)
        .map(Some)
        .map_err(Unreadable::Invalid)
}

/// Flags for each step of a no-follow directory walk.
pub(crate) const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// A component of a no-follow walk that did not open, for the caller to word (or to create and
/// go on): the directory it is in, its name, the path so far, and why.
pub(crate) struct Step<'a> {
    /// The directory the component is in.
    pub parent: &'a OwnedFd,
    /// The component.
    pub name: &'a OsStr,
    /// The path up to and including the component.
    pub sofar: &'a Path,
    /// Why it did not open (`ELOOP` or `ENOTDIR` for a link or a file).
    pub errno: Errno,
}

/// Opens `dir` from `/` one component at a time with [`DIR_FLAGS`], so no link is ever followed
/// on the way. A component that does not open goes to `failed`, which gives the directory to go
/// on with (one it created), `Ok(None)` to stop with nothing, or the caller's error text.
pub(crate) fn walk_dirs(
    dir: &Path,
    failed: &mut dyn FnMut(Step<'_>) -> Result<Option<OwnedFd>, String>,
) -> Result<Option<OwnedFd>, String> {
    let mut fd = nix::fcntl::open("/", DIR_FLAGS, Mode::empty())
        .map_err(|e| format!("cannot open /: {}", e.desc()))?;
    let mut sofar = PathBuf::from("/");
    for comp in dir.components() {
        let name = match comp {
            Component::RootDir | Component::CurDir => continue,
            Component::Normal(n) => n,
            Component::ParentDir | Component::Prefix(_) => {
                return Err(format!("{} contains \"..\"", dir.display()));
            }
        };
        sofar.push(name);
        fd = match nix::fcntl::openat(&fd, name, DIR_FLAGS, Mode::empty()) {
            Ok(n) => n,
            Err(errno) => {
                let step = Step {
                    parent: &fd,
                    name,
                    sofar: &sofar,
                    errno,
                };
                match failed(step)? {
                    Some(n) => n,
                    None => return Ok(None),
                }
            }
        };
    }
    Ok(Some(fd))
}

/// Refuses a relative `dir` for a walk from `/`.
pub(crate) fn absolute(dir: &Path) -> Result<(), String> {
    if dir.is_absolute() {
        Ok(())
    } else {
        Err(format!("{} is not an absolute path", dir.display()))
    }
}

/// Opens the parent directory of `path` component by component without following links and
/// without creating anything; `Ok(None)` when a component does not exist.
pub(crate) fn open_parent(path: &Path) -> Result<Option<OwnedFd>, String> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    open_dir_nofollow(dir)
}

/// Opens `dir` from `/` without following links or creating anything; `Ok(None)` when missing.
pub(crate) fn open_dir_nofollow(dir: &Path) -> Result<Option<OwnedFd>, String> {
    absolute(dir)?;
    walk_dirs(dir, &mut |s| match s.errno {
        Errno::ENOENT => Ok(None),
        Errno::ELOOP | Errno::ENOTDIR => Err(format!(
            "{} is a symlink or not a directory; refusing",
            s.sofar.display()
        )),
        e => Err(format!("cannot open {}: {}", s.sofar.display(), e.desc())),
    })
}

/// Reads a file that already exists, for a merge or a state file: every component opened
/// without following links, regular files only, no second name for another user's file, at most
/// `max` bytes, into wiped memory. `Ok(None)` when it (or a parent) does not exist; the mode
/// comes with it.
pub(crate) fn read_existing(path: &Path, max: u64) -> Result<Option<(Secret, u32)>, String> {
    let Some(fd) = open_parent(path)? else {
        return Ok(None);
    };
    let name = path
        .file_name()
        .ok_or_else(|| format!("{} has no file name", path.display()))?;
    let flags = OFlag::O_RDONLY
        | OFlag::O_NOFOLLOW
        | OFlag::O_NONBLOCK
        | OFlag::O_NOCTTY
        | OFlag::O_CLOEXEC;
    let fd = match nix::fcntl::openat(&fd, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(None),
        Err(Errno::ELOOP) => {
            return Err(format!("refusing to follow symlink at {}", path.display()));
        }
        Err(e) => return Err(format!("cannot read {}: {}", path.display(), e.desc())),
    };
    let st = fstat(&fd).map_err(|e| format!("cannot stat {}: {}", path.display(), e.desc()))?;
    if st.st_mode & SFlag::S_IFMT.bits() != SFlag::S_IFREG.bits() {
        return Err(format!(
            "{} exists and is not a regular file",
            path.display()
        ));
    }
    // A second name for someone else's file (a hardlink to /etc/shadow planted at
    // ~/.aws/credentials) would be read and merged into a file the program's user owns. As root
    // every system file is "ours", so there any hardlinked file is refused.
    let euid = nix::unistd::geteuid().as_raw();
    if st.st_nlink > 1 && (st.st_uid != euid || euid == 0) {
        return Err(format!(
            "{} has {} hard links and is owned by uid {}; refusing to read it (replace it with a plain file)",
            path.display(),
            st.st_nlink,
            st.st_uid
        ));
    }
    let hint = usize::try_from(st.st_size).unwrap_or(0);
    match read_secret(File::from(fd), max, hint) {
        Ok(Some(bytes)) => Ok(Some((bytes, st.st_mode & 0o7777))),
        Ok(None) => Err(format!("{} is larger than {max} bytes", path.display())),
        Err(e) => Err(format!(
            "cannot read {}: {}",
            path.display(),
            crate::error::io_text(&e)
        )),
    }
}

/// The directories on the way to `path`'s parent that do not exist yet, outermost first.
pub(crate) fn missing_dirs(path: &Path) -> Vec<PathBuf> {
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

/// A directory's names, read once: one buffer and a hash index into it (keyed per listing, as
/// std's maps are), so a directory of 10,000 secrets costs a few allocations rather than one a
/// name, and a lookup asks no syscall.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// Every name's bytes, one after another.
    bytes: Vec<u8>,
    /// Each name as (start, length) in `bytes`, in directory order.
    names: Vec<(u32, u32)>,
    /// Open addressing over `names`: a name's index plus one, 0 for a free slot; a power of
    /// two at least twice as many as the names (empty when there are none).
    slots: Vec<u32>,
    keys: std::hash::RandomState,
}

impl Listing {
    fn name(&self, (start, len): (u32, u32)) -> &[u8] {
        &self.bytes[start as usize..(start + len) as usize]
    }

    /// The slot to start probing at for the name `head` followed by `tail`.
    fn home(&self, head: &[u8], tail: &[u8]) -> usize {
        use std::hash::{BuildHasher, Hasher};
        let mut h = self.keys.build_hasher();
        // A byte stream: the two parts hash as their concatenation does.
        h.write(head);
        h.write(tail);
        h.finish() as usize & (self.slots.len() - 1)
    }

    fn index(&mut self) {
        self.slots = vec![0; (self.names.len() * 2).next_power_of_two()];
        for (i, &n) in self.names.iter().enumerate() {
            let mut at = self.home(self.name(n), b"");
            while self.slots[at] != 0 {
                at = (at + 1) & (self.slots.len() - 1);
            }
            // At most u32::MAX names: `listing` refuses more bytes than that.
            self.slots[at] = i as u32 + 1;
        }
    }

    /// Whether `name` is listed.
    pub(crate) fn contains(&self, name: &[u8]) -> bool {
        self.contains_joined(name, b"")
    }

    /// Whether the name `head` followed by `tail` is listed (`NAME.age`), without joining them.
    pub(crate) fn contains_joined(&self, head: &[u8], tail: &[u8]) -> bool {
        if self.names.is_empty() {
            return false;
        }
        let mut at = self.home(head, tail);
        loop {
            let Some(i) = self.slots[at].checked_sub(1) else {
                return false;
            };
            let n = self.name(self.names[i as usize]);
            if n.len() == head.len() + tail.len() && n.starts_with(head) && n.ends_with(tail) {
                return true;
            }
            at = (at + 1) & (self.slots.len() - 1);
        }
    }

    /// Every name, in directory order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.names.iter().map(|&n| self.name(n))
    }

    /// How many names there are.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Every name in a directory but `.` and `..` (`keep` says which others).
fn listing(dir: &OwnedFd, keep: impl Fn(&[u8]) -> bool) -> Result<Listing, Errno> {
    let fd = nix::fcntl::openat(
        dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut out = Listing::default();
    // By `getdents64` into one buffer: no allocation a name (nix's `Dir` boxes each entry), and
    // a syscall per few hundred names. A record is `struct linux_dirent64`: d_ino (8 bytes),
    // d_off (8), d_reclen (2), d_type (1), then the name and its NUL.
    const NAME_AT: usize = 19;
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = crate::sys::getdents(&fd, &mut buf)?;
        if n == 0 {
            break;
        }
        let mut at = 0;
        while at + NAME_AT <= n {
            let len = usize::from(u16::from_ne_bytes([buf[at + 16], buf[at + 17]]));
            // A record that would run past what the kernel returned stops the listing.
            let Some(rec) = buf
                .get(at + NAME_AT..at + len)
                .filter(|_| len > NAME_AT && at + len <= n)
            else {
                return Err(Errno::EIO);
            };
            let name = rec.split(|b| *b == 0).next().unwrap_or(rec);
            at += len;
            if name == b"." || name == b".." || !keep(name) {
                continue;
            }
            // Offsets are u32: a listing of more than 4 GiB of names is refused.
            let (Ok(start), Ok(_)) = (
                u32::try_from(out.bytes.len()),
                u32::try_from(out.bytes.len() + name.len()),
            ) else {
                return Err(Errno::EOVERFLOW);
            };
            out.names.push((start, name.len() as u32));
            out.bytes.extend_from_slice(name);
        }
    }
    out.index();
    Ok(out)
}

/// Every name in a directory but `.` and `..`.
pub(crate) fn names(dir: &OwnedFd) -> Result<Listing, Errno> {
    listing(dir, |_| true)
}

/// The names in a directory, `..*` entries excluded (never secrets).
pub(crate) fn list(dir: &OwnedFd) -> Result<Listing, Errno> {
    listing(dir, |n| !n.starts_with(b".."))
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

    #[test]
    fn secret_reads_grow_and_stop_at_the_cap() {
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let got = read_secret(&big[..], 100_000, 0)
            .expect("io")
            .expect("fits");
        assert_eq!(got.expose(), &big[..], "every growth keeps what was read");
        // One read of a known size: a reader that would fail on a second read is not asked.
        struct Once<'a>(Option<&'a [u8]>);
        impl Read for Once<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let b = self
                    .0
                    .take()
                    .ok_or_else(|| io::Error::other("read twice"))?;
                out[..b.len()].copy_from_slice(b);
                Ok(b.len())
            }
        }
        let once = read_secret(Once(Some(&big[..7])), 100, 7)
            .expect("one read")
            .expect("fits");
        assert_eq!(once.expose(), &big[..7]);
        // A size that was wrong (a short read with fewer bytes) reads on to the end.
        assert!(read_secret(Once(Some(&big[..5])), 100, 7).is_err());
        assert_eq!(
            read_secret(&big[..5], 100, 4096)
                .expect("io")
                .expect("fits")
                .expose(),
            &big[..5]
        );
        let exact = read_secret(&big[..10], 10, 10).expect("io").expect("fits");
        assert_eq!(exact.expose(), &big[..10]);
        assert!(read_secret(&big[..11], 10, 10).expect("io").is_none());
        assert!(
            read_secret(io::repeat(b'x'), 1024, 0)
                .expect("io")
                .is_none()
        );
        assert!(
            read_secret(&b""[..], 0, 0)
                .expect("io")
                .is_some_and(|s| s.is_empty())
        );
    }

    #[test]
    fn listings_find_names_and_joined_names() {
        let base = std::env::temp_dir().join(format!("fsx-list-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).expect("mkdir");
        for n in ["b", "a.age", "ab", "..data", "a"] {
            std::fs::write(base.join(n), "x").expect("write");
        }
        let fd: OwnedFd = File::open(&base).expect("open").into();
        let l = list(&fd).expect("list");
        let mut all: Vec<&[u8]> = l.iter().collect();
        all.sort();
        assert_eq!(all, [&b"a"[..], b"a.age", b"ab", b"b"]);
        assert!(l.contains(b"a") && l.contains(b"ab") && !l.contains(b"..data"));
        assert!(!l.contains(b"") && !l.contains(b"a.") && !l.contains(b"c"));
        assert!(l.contains_joined(b"a", b".age") && l.contains_joined(b"a.", b"age"));
        assert!(!l.contains_joined(b"b", b".age") && !l.contains_joined(b"a", b".ag"));
        assert_eq!(names(&fd).expect("names").len(), 5, "..data included");
        let empty = base.join("empty");
        std::fs::create_dir(&empty).expect("mkdir");
        let fd: OwnedFd = File::open(&empty).expect("open").into();
        let l = list(&fd).expect("list");
        assert!(l.is_empty() && !l.contains(b"a") && !l.contains(b""));
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn walks_refuse_links_and_dotdot() {
        let base = std::env::temp_dir().join(format!("fsx-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("real/sub")).expect("mkdir");
        std::os::unix::fs::symlink(base.join("real"), base.join("link")).expect("symlink");
        assert!(
            open_dir_nofollow(&base.join("real/sub"))
                .expect("walk")
                .is_some()
        );
        assert!(
            open_dir_nofollow(&base.join("missing/x"))
                .expect("walk")
                .is_none()
        );
        let err = open_dir_nofollow(&base.join("link/sub")).expect_err("a link");
        assert!(
            err.ends_with("link is a symlink or not a directory; refusing"),
            "{err}"
        );
        let err = open_dir_nofollow(&base.join("real/../real")).expect_err("dotdot");
        assert!(err.ends_with("contains \"..\""), "{err}");
        assert!(open_dir_nofollow(Path::new("rel/dir")).is_err());
        let _ = std::fs::remove_dir_all(&base);
    }
}

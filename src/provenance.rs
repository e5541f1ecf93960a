//! Which files may be inputs (docs/threat-model.md, "Which files are inputs"): a value comes
//! from a file someone trusted put there, never from one secret-init wrote, never from one the
//! program could have written, and never from one of secret-init's own credentials.
//!
//! - **What secret-init delivered is never an input.** Every publish records the device and
//!   inode of each file it wrote in [`RECORD_NAME`] in the output dir (a name no secret can
//!   have, so the file source never lists it), written before the files are renamed into place:
//!   a crash leaves the record ahead of the files, never behind. The record survives a restart
//!   as the files do (a container restarted without `--tmpfs`, an emptyDir), and the next start
//!   skips what it lists. A file anyone else puts at that name (a Kubernetes volume, an operator's
//!   copy) has another inode and stays an input. A record that is not ours (owned by another
//!   user, or writable by others) is not read; and whatever a record lists can only make a file
//!   be skipped, never be read: a forged one fails safe (the secret comes from the next source
//!   or is missing).
//! - **Under `--user`, a file the program's user could have written is not an input**: one it
//!   owns, or can write through its group or other bits, or one in a directory it could change
//!   (owned by it, or writable by it without the sticky bit), checking every directory from the
//!   file's own up to `/`. Kubernetes volumes, read-only mounts and root's files stay inputs.
//! - **secret-init's own credential files** (the bundle master key, Vault token, AppRole and JWT
//!   files, the cloud credential and token files), compared by device and inode whatever path
//!   names them, are never a value for the program.

use std::collections::{HashMap, HashSet};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat};

/// The record of deliveries, in the output dir. It starts with `..`: never a secret's name.
pub(crate) const RECORD_NAME: &str = "..secret-init-delivered";

/// The largest record read (about 60 bytes an entry, and two entries a file in the steady
/// state: 10,000 files in 1.2 MiB).
const MAX_RECORD_BYTES: u64 = 16 * 1024 * 1024;

/// A file as written: device, inode and modification time. The time tells a file we wrote
/// from a later one that got the same inode number once ours was gone (ext4 reuses them); a
/// rename keeps all three.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FileId {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
    /// `st_mtime`.
    pub mtime: i64,
    /// `st_mtime_nsec`.
    pub mtime_nsec: i64,
}

impl FileId {
    /// The identity in a `stat` answer.
    pub(crate) fn of(st: &FileStat) -> FileId {
        FileId {
            dev: st.st_dev,
            ino: st.st_ino,
            mtime: st.st_mtime,
            mtime_nsec: st.st_mtime_nsec,
        }
    }

    /// Whether both are the same file (device and inode), whenever it was written.
    fn same_file(&self, other: &FileId) -> bool {
        self.dev == other.dev && self.ino == other.ino
    }
}

/// The user the program runs as (`--user`), when it is not secret-init's own.
#[derive(Clone, Debug)]
pub(crate) struct ProgramUser {
    /// Its uid.
    pub uid: u32,
    /// Its groups, the primary one included.
    pub groups: Vec<u32>,
}

impl ProgramUser {
    /// Whether this user can write `st` (a file) or change its entries (a directory).
    fn can_write(&self, st: &FileStat) -> Option<&'static str> {
        let mode = st.st_mode;
        let is_dir = mode & SFlag::S_IFMT.bits() == SFlag::S_IFDIR.bits();
        // In a sticky directory (/tmp) a user can only replace its own entries, which it owns.
        let sticky = is_dir && mode & 0o1000 != 0;
        if st.st_uid == self.uid {
            Some("owned by the program's user")
        } else if mode & 0o002 != 0 && !sticky {
            Some("writable by every user")
        } else if mode & 0o020 != 0 && !sticky && self.groups.contains(&st.st_gid) {
            Some("writable by the program's group")
        } else {
            None
        }
    }
}

impl ProgramUser {
    /// Why this user could have written the file at `path` (it, or a directory on its real
    /// path, is writable by the user); `None` when it could not, or when nothing is there.
    pub(crate) fn could_write(&self, path: &Path) -> Option<String> {
        let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
        let fd = match nix::fcntl::open(path, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return None,
            Err(e) => return Some(format!("it cannot be checked: {}", e.desc())),
        };
        let st = match fstat(&fd) {
            Ok(st) => st,
            Err(e) => return Some(format!("it cannot be checked: {}", e.desc())),
        };
        if let Some(why) = self.can_write(&st) {
            return Some(why.to_string());
        }
        match real_parent(&fd, &st) {
            Some(dir) => writable_chain(&dir, self),
            None => Some("its directory cannot be found to check who can change it".into()),
        }
    }

    /// Whether this user could change what is in `dir` (it, or a directory above it, is
    /// writable by the user); also when `dir` cannot be checked.
    pub(crate) fn could_change_dir(&self, dir: &Path) -> bool {
        match nix::fcntl::open(
            dir,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => writable_chain(&fd, self).is_some(),
            Err(_) => true,
        }
    }
}

/// Why a file is not an input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NotInput {
    /// secret-init delivered it (an earlier start, or this one).
    Delivered,
    /// The program's user could have written it: what shows it.
    Writable(String),
    /// One of secret-init's own credentials: which one.
    Credential(String),
}

/// The input rule for one pass; see the module docs.
#[derive(Clone, Debug, Default)]
pub(crate) struct Inputs {
    delivered: HashSet<FileId>,
    program: Option<ProgramUser>,
    /// secret-init's own credential files (path, what it is), stat'ed at the first file judged:
    /// a start that reads no file as a value looks none of them up.
    credential_paths: Vec<(PathBuf, String)>,
    credentials: std::cell::OnceCell<Vec<(FileId, String)>>,
    /// Each directory's verdict (device, inode → why the program could change it), so that
    /// 10,000 secrets in one directory walk its path up to `/` once.
    chains: std::cell::RefCell<HashMap<(u64, u64), Option<String>>>,
}

impl Inputs {
    /// The rule for a pass: the record in `output_dir` plus `written` (this process's own
    /// deliveries), the program's user (`None` when it runs as we do), and the credential files
    /// secret-init consumes (path and what it is; missing ones are left out).
    pub(crate) fn new(
        output_dir: &Path,
        written: &HashSet<FileId>,
        program: Option<ProgramUser>,
        credentials: Vec<(PathBuf, String)>,
    ) -> Inputs {
        let mut delivered: HashSet<FileId> = HashSet::new();
        load_record(output_dir, |_, id| {
            delivered.insert(id);
        });
        delivered.extend(written.iter().copied());
        Inputs {
            delivered,
            program,
            credential_paths: credentials,
            credentials: Default::default(),
            chains: Default::default(),
        }
    }

    /// The credential files that exist, by file id (missing ones are left out).
    fn credentials(&self) -> &[(FileId, String)] {
        self.credentials.get_or_init(|| {
            self.credential_paths
                .iter()
                .filter_map(|(p, what)| {
                    let st = nix::sys::stat::stat(p.as_path()).ok()?;
                    Some((FileId::of(&st), what.clone()))
                })
                .collect()
        })
    }

    /// The program's user, when it is not ours (`--user`).
    pub(crate) fn program(&self) -> Option<&ProgramUser> {
        self.program.as_ref()
    }

    /// Whether the file open as `fd` may be read as a value; its `fstat`, for the read that
    /// follows. `found`: the directory it was opened in and its name there, when known (the
    /// file source, `X_FILE`): when the name is the file itself (no link on the way), that
    /// directory is its own; else /proc says where it is.
    pub(crate) fn judge(
        &self,
        fd: &OwnedFd,
        found: Option<(&OwnedFd, &str)>,
    ) -> Result<FileStat, NotInput> {
        let st = fstat(fd).map_err(|e| NotInput::Writable(format!("cannot stat: {}", e.desc())))?;
        let id = FileId::of(&st);
        if let Some((_, what)) = self.credentials().iter().find(|(c, _)| c.same_file(&id)) {
            return Err(NotInput::Credential(what.clone()));
        }
        if self.delivered.contains(&id) {
            return Err(NotInput::Delivered);
        }
        let Some(user) = &self.program else {
            return Ok(st);
        };
        if let Some(why) = user.can_write(&st) {
            return Err(NotInput::Writable(why.to_string()));
        }
        let direct = found.filter(|(dir, name)| {
            fstatat(*dir, *name, AtFlags::AT_SYMLINK_NOFOLLOW)
                .is_ok_and(|here| FileId::of(&here) == id)
        });
        let parent = match direct {
            Some((dir, _)) => try_clone(dir),
            None => real_parent(fd, &st),
        };
        let Some(parent) = parent else {
            return Err(NotInput::Writable(
                "its directory cannot be found to check who can change it".into(),
            ));
        };
        let key = fstat(&parent).map(|d| (d.st_dev, d.st_ino)).ok();
        let cached = key.and_then(|k| self.chains.borrow().get(&k).cloned());
        let verdict = match cached {
            Some(v) => v,
            None => {
                let v = writable_chain(&parent, user);
                if let Some(k) = key {
                    self.chains.borrow_mut().insert(k, v.clone());
                }
                v
            }
        };
        match verdict {
            Some(why) => Err(NotInput::Writable(why)),
            None => Ok(st),
        }
    }
}

fn try_clone(fd: &OwnedFd) -> Option<OwnedFd> {
    fd.try_clone().ok()
}

/// The directory the file open as `fd` is in, from its path as /proc shows it, opened without
/// following links and checked to still hold this very file.
fn real_parent(fd: &OwnedFd, st: &FileStat) -> Option<OwnedFd> {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
    let dir = crate::fsx::open_parent(&link).ok()??;
    let here = fstatat(&dir, link.file_name()?, AtFlags::AT_SYMLINK_NOFOLLOW).ok()?;
    (FileId::of(&here) == FileId::of(st)).then_some(dir)
}

/// The first directory from `dir` up to `/` that `user` could change, said as why.
fn writable_chain(dir: &OwnedFd, user: &ProgramUser) -> Option<String> {
    let mut cur = try_clone(dir)?;
    for _ in 0..256 {
        let Ok(st) = fstat(&cur) else {
            return Some("a directory on its path cannot be checked".into());
        };
        if let Some(why) = user.can_write(&st) {
            return Some(format!("a directory on its path is {why}"));
        }
        let up = match nix::fcntl::openat(
            &cur,
            "..",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(up) => up,
            Err(e) => return Some(format!("cannot check its directories: {}", e.desc())),
        };
        match fstat(&up) {
            Ok(p) if FileId::of(&p) == FileId::of(&st) => return None,
            Ok(_) => cur = up,
            Err(e) => return Some(format!("cannot check its directories: {}", e.desc())),
        }
    }
    Some("its path is too deep to check".into())
}

/// One file in the record (the tests' view of it: the publisher streams the lines).
#[cfg(test)]
#[derive(Clone, Debug)]
struct Entry {
    /// Where it was published.
    pub path: PathBuf,
    /// What was published there.
    pub id: FileId,
}

/// The record's first line; the number is the format's version.
const RECORD_HEADER: &[u8] = b"secret-init deliveries 1\n";

/// The record's text: the header, then a line per file, `DEV INO MTIME NSEC LEN:PATH` (numbers
/// in decimal, the path's bytes as they are, counted so that any byte may be in it). A format
/// of its own: a 10,000-file start reads and writes it in a few milliseconds.
#[cfg(test)]
fn encode(files: &[Entry]) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let mut out = RECORD_HEADER.to_vec();
    for e in files {
        // Writing into a Vec cannot fail.
        let _ = push_line(&mut out, e.path.as_os_str().as_bytes(), e.id);
    }
    out
}

/// One line of the record (see [`encode`]).
fn push_line(out: &mut impl std::io::Write, path: &[u8], id: FileId) -> std::io::Result<()> {
    // The numbers spelled by hand into one buffer: `write!`'s formatting machinery was most of
    // a 10,000-line record's cost.
    let mut head = [0u8; 5 * 22];
    let mut len = 0;
    let nums = [
        (false, id.dev),
        (false, id.ino),
        (id.mtime < 0, id.mtime.unsigned_abs()),
        (id.mtime_nsec < 0, id.mtime_nsec.unsigned_abs()),
        (false, path.len() as u64),
    ];
    for (i, (negative, n)) in nums.into_iter().enumerate() {
        if negative {
            head[len] = b'-';
            len += 1;
        }
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut n = n;
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        head[len..len + digits.len() - at].copy_from_slice(&digits[at..]);
        len += digits.len() - at;
        head[len] = if i == 4 { b':' } else { b' ' };
        len += 1;
    }
    out.write_all(&head[..len])?;
    out.write_all(path)?;
    out.write_all(b"\n")
}

/// The entries of a record's text; `None` when it is not one this version writes.
#[cfg(test)]
fn decode(bytes: &[u8]) -> Option<Vec<Entry>> {
    use std::os::unix::ffi::OsStrExt;
    let mut out = Vec::new();
    each_entry(bytes, |path, id| {
        out.push(Entry {
            path: PathBuf::from(std::ffi::OsStr::from_bytes(path)),
            id,
        })
    })?;
    Some(out)
}

/// Calls `each` with every entry's path and file of a record's text; `None` when it is not one
/// this version writes.
fn each_entry(bytes: &[u8], mut each: impl FnMut(&[u8], FileId)) -> Option<()> {
    let mut rest = bytes.strip_prefix(RECORD_HEADER)?;
    while !rest.is_empty() {
        let colon = rest.iter().position(|b| *b == b':')?;
        let head = std::str::from_utf8(&rest[..colon]).ok()?;
        let mut n = head.split(' ');
        let mut num = || n.next()?.parse::<i128>().ok();
        let (dev, ino, mtime, nsec, len) = (num()?, num()?, num()?, num()?, num()?);
        let len = usize::try_from(len).ok()?;
        let path = rest.get(colon + 1..colon + 1 + len)?;
        if rest.get(colon + 1 + len) != Some(&b'\n') {
            return None;
        }
        each(
            path,
            FileId {
                dev: u64::try_from(dev).ok()?,
                ino: u64::try_from(ino).ok()?,
                mtime: i64::try_from(mtime).ok()?,
                mtime_nsec: i64::try_from(nsec).ok()?,
            },
        );
        rest = &rest[colon + 2 + len..];
    }
    Some(())
}

/// The record in `output_dir`: `each` gets every entry, if there is a record that is ours and
/// writable by us only.
fn load_record(output_dir: &Path, each: impl FnMut(&[u8], FileId)) {
    let path = output_dir.join(RECORD_NAME);
    let euid = nix::unistd::geteuid().as_raw();
    match std::fs::symlink_metadata(&path) {
        Ok(md) => {
            use std::os::unix::fs::MetadataExt;
            if md.uid() != euid || md.mode() & 0o022 != 0 {
                crate::log::warn!(
                    "{}: owned by uid {} with mode {:o}, not ours; not read (the files it would list are judged like any other)",
                    path.display(),
                    md.uid(),
                    md.mode() & 0o7777
                );
                return;
            }
        }
        Err(_) => return,
    }
    let bytes = match crate::fsx::read_existing(&path, MAX_RECORD_BYTES) {
        Ok(Some((bytes, _))) => bytes,
        Ok(None) => return,
        Err(why) => {
            crate::log::warn!("the record of deliveries is not read: {why}");
            return;
        }
    };
    if each_entry(bytes.expose(), each).is_none() {
        crate::log::warn!(
            "{}: not a record of deliveries this version reads; the rest of it is ignored",
            path.display()
        );
    }
}

/// Each path of a set being published (its bytes), with the file it replaces, if any.
type SetPaths<'p> = HashMap<&'p [u8], Option<FileId>>;

/// Writes the record after a publish of `new` into `output_dir` to `out`, line by line (a
/// 10,000-file record is never whole in memory): the new files, and every entry of the old record
/// whose path still holds the file it names (a file delivered before and not now, or one about
/// to be replaced: until the renames are done it is still there). `new` gives each file of the
/// set as its path's bytes, the file written and the file it replaces, as the publisher saw it
/// (no second stat). The set is indexed only when there is an old record to compare.
pub(crate) fn write_record<'p, I>(
    out: &mut impl std::io::Write,
    output_dir: &Path,
    new: I,
) -> std::io::Result<()>
where
    I: Iterator<Item = (&'p [u8], FileId, Option<FileId>)> + Clone,
{
    use std::os::unix::ffi::OsStrExt;
    out.write_all(RECORD_HEADER)?;
    for (path, id, _) in new.clone() {
        push_line(out, path, id)?;
    }
    // The files written, and what each path of the set holds now; keyed by the paths' bytes:
    // Path's own hash walks components and costs far more.
    let mut index: Option<(HashSet<FileId>, SetPaths)> = None;
    let mut dirs: HashMap<PathBuf, Option<OwnedFd>> = HashMap::new();
    let mut failed = None;
    load_record(output_dir, |path, id| {
        if failed.is_some() {
            return;
        }
        let (seen, in_set) = index.get_or_insert_with(|| {
            let (seen, in_set) = new.clone().map(|(p, id, was)| (id, (p, was))).unzip();
            (seen, in_set)
        });
        if seen.contains(&id) {
            return;
        }
        let keep = if let Some(replaced) = in_set.get(path) {
            *replaced == Some(id)
        } else {
            let path = Path::new(std::ffi::OsStr::from_bytes(path));
            let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
                return;
            };
            let dir = dirs
                .entry(parent.to_path_buf())
                .or_insert_with(|| crate::fsx::open_dir_nofollow(parent).ok().flatten());
            match dir
                .as_ref()
                .map(|d| fstatat(d, name, AtFlags::AT_SYMLINK_NOFOLLOW))
            {
                None | Some(Err(Errno::ENOENT)) => false,
                Some(Ok(st)) => FileId::of(&st) == id,
                // Cannot tell: kept, which can only make a file be skipped.
                Some(Err(_)) => true,
            }
        };
        if keep {
            seen.insert(id);
            if let Err(e) = push_line(out, path, id) {
                failed = Some(e);
            }
        }
    });
    failed.map_or(Ok(()), Err)
}

/// The record's path in `output_dir`.
pub(crate) fn record_path(output_dir: &Path) -> PathBuf {
    output_dir.join(RECORD_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    /// A stat answer with the given owner and mode (the rest from `/`).
    fn st(uid: u32, gid: u32, mode: u32) -> FileStat {
        let root: OwnedFd = std::fs::File::open("/").expect("open /").into();
        let mut s = fstat(&root).expect("fstat /");
        s.st_uid = uid;
        s.st_gid = gid;
        s.st_mode = mode;
        s
    }

    #[test]
    fn records_round_trip_any_path() {
        let files = vec![
            Entry {
                path: PathBuf::from("/secrets/db"),
                id: FileId {
                    dev: 64,
                    ino: u64::MAX,
                    mtime: -1,
                    mtime_nsec: 999_999_999,
                },
            },
            Entry {
                path: PathBuf::from(std::ffi::OsStr::from_bytes(b"/odd/na\nme: 1 2\xff")),
                id: FileId {
                    dev: 1,
                    ino: 2,
                    mtime: 3,
                    mtime_nsec: 4,
                },
            },
        ];
        let text = encode(&files);
        assert!(
            text.starts_with(
                b"secret-init deliveries 1\n64 18446744073709551615 -1 999999999 11:/secrets/db\n"
            ),
            "{}",
            String::from_utf8_lossy(&text)
        );
        let min = FileId {
            dev: 0,
            ino: 0,
            mtime: i64::MIN,
            mtime_nsec: 0,
        };
        let mut line = Vec::new();
        push_line(&mut line, b"/x", min).expect("a Vec takes it");
        assert_eq!(line, b"0 0 -9223372036854775808 0 2:/x\n");
        let back = decode(&text).expect("decodes");
        assert_eq!(back.len(), 2);
        for (a, b) in files.iter().zip(&back) {
            assert_eq!((&a.path, a.id), (&b.path, b.id));
        }
        assert!(decode(b"{}").is_none(), "not a record");
        assert!(decode(&text[..text.len() - 3]).is_none(), "cut short");
        assert_eq!(decode(RECORD_HEADER).map(|f| f.len()), Some(0));
    }

    #[test]
    fn who_can_write() {
        let u = ProgramUser {
            uid: 1000,
            groups: vec![1000, 50],
        };
        let reg = SFlag::S_IFREG.bits();
        let dir = SFlag::S_IFDIR.bits();
        assert!(u.can_write(&st(1000, 0, reg | 0o400)).is_some(), "owner");
        assert!(u.can_write(&st(0, 0, reg | 0o646)).is_some(), "other");
        assert!(u.can_write(&st(0, 50, reg | 0o460)).is_some(), "group");
        assert!(
            u.can_write(&st(0, 51, reg | 0o460)).is_none(),
            "not its group"
        );
        assert!(u.can_write(&st(0, 0, reg | 0o644)).is_none(), "root's");
        assert!(
            u.can_write(&st(0, 0, dir | 0o1777)).is_none(),
            "sticky /tmp"
        );
        assert!(u.can_write(&st(0, 0, dir | 0o777)).is_some(), "not sticky");
    }
}

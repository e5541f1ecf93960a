//! Change detection for local sources: inotify on each watched directory, or a 1 s stat poll.
//!
//! A Kubernetes secret volume swaps its `..data` link (AtomicWriter: a new timestamped directory,
//! a temporary link, a rename over `..data`), so a watch on a file itself only ever sees
//! IN_DELETE_SELF (kubernetes#111947). The watch is therefore on the directory, and the refresh
//! re-reads every value through its path. inotify's limits are per user and shared by the whole
//! node (`max_user_instances`, `max_user_watches`): when `inotify_init1` or `inotify_add_watch`
//! fails (EMFILE, ENOSPC, or anything else), the watcher falls back to comparing a stat
//! fingerprint of the same directories once a second.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};

/// How often the fallback compares fingerprints.
pub(crate) const POLL_EVERY: Duration = Duration::from_secs(1);

/// The most directory entries a poll fingerprints per directory.
const MAX_ENTRIES: usize = 10_000;

/// One watched place: a directory, or one entry of it.
#[derive(Clone, Debug)]
pub(crate) struct Watched {
    /// The directory.
    pub dir: PathBuf,
    /// Only this entry of it matters (a bundle file, the local config); `None`: all of it.
    pub name: Option<OsString>,
}

impl Watched {}

enum Mode {
    Inotify(Inotify, Vec<(WatchDescriptor, usize)>),
    Poll { last: Vec<u64>, next: Instant },
}

/// The watcher over every local source.
pub(crate) struct Watcher {
    places: Vec<Watched>,
    /// What secret-init itself writes that may sit in a watched directory (the status file):
    /// never a change.
    own: Vec<PathBuf>,
    mode: Mode,
}

/// Whether `name` in `dir` is one of secret-init's own writes, which never count as a change:
/// a publisher's staging dir, the record of deliveries, or one of `own` (the status file).
fn is_own(dir: &std::path::Path, name: &std::ffi::OsStr, own: &[PathBuf]) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let n = name.as_bytes();
    n.starts_with(b".secret-init-")
        || n == crate::provenance::RECORD_NAME.as_bytes()
        || own
            .iter()
            .any(|p| p.parent() == Some(dir) && p.file_name() == Some(name))
}

const EVENTS: AddWatchFlags = AddWatchFlags::IN_CREATE
    .union(AddWatchFlags::IN_DELETE)
    .union(AddWatchFlags::IN_MOVED_TO)
    .union(AddWatchFlags::IN_MOVED_FROM)
    .union(AddWatchFlags::IN_CLOSE_WRITE)
    .union(AddWatchFlags::IN_MODIFY)
    .union(AddWatchFlags::IN_ATTRIB)
    .union(AddWatchFlags::IN_DELETE_SELF)
    .union(AddWatchFlags::IN_MOVE_SELF)
    .union(AddWatchFlags::IN_ONLYDIR);

impl Watcher {
    /// Watches `places` (directories that do not exist are left out by the caller); `own` are
    /// files secret-init writes itself, whose changes are never changes of a source.
    pub(crate) fn new(places: Vec<Watched>, own: Vec<PathBuf>) -> Watcher {
        let mode = match Self::inotify(&places) {
            Ok(mode) => mode,
            Err(why) => {
                crate::log::warn!("refresh: inotify unavailable ({why}); polling every 1s instead");
                Self::poll_mode(&places, &own)
            }
        };
        Watcher { places, own, mode }
    }

    fn inotify(places: &[Watched]) -> Result<Mode, String> {
        let fd = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .map_err(|e| format!("inotify_init1: {}", e.desc()))?;
        let mut wds = Vec::new();
        for (i, p) in places.iter().enumerate() {
            let wd = fd
                .add_watch(&p.dir, EVENTS)
                .map_err(|e| format!("inotify_add_watch {}: {}", p.dir.display(), e.desc()))?;
            wds.push((wd, i));
        }
        Ok(Mode::Inotify(fd, wds))
    }

    fn poll_mode(places: &[Watched], own: &[PathBuf]) -> Mode {
        Mode::Poll {
            last: places.iter().map(|p| fingerprint(p, own)).collect(),
            next: Instant::now() + POLL_EVERY,
        }
    }

    /// `inotify` or `poll`, for `check` and the status file.
    pub(crate) fn how(&self) -> &'static str {
        match self.mode {
            Mode::Inotify(..) => "inotify",
            Mode::Poll { .. } => "poll 1s",
        }
    }

    /// The inotify descriptor, readable when events are queued; `None` when polling.
    pub(crate) fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        match &self.mode {
            Mode::Inotify(fd, _) => Some(fd.as_fd()),
            Mode::Poll { .. } => None,
        }
    }

    /// When the stat poll looks next; `None` with inotify (its descriptor says when).
    pub(crate) fn next_look(&self) -> Option<Instant> {
        match &self.mode {
            Mode::Inotify(..) => None,
            Mode::Poll { next, .. } => Some(*next),
        }
    }

    /// Whether anything watched changed since the last call (never blocks).
    pub(crate) fn changed(&mut self, now: Instant) -> bool {
        let mut fall_back = None;
        let changed = match &mut self.mode {
            Mode::Inotify(fd, wds) => {
                let mut changed = false;
                loop {
                    match fd.read_events() {
                        Ok(events) if events.is_empty() => break,
                        Ok(events) => {
                            for e in events {
                                if e.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                                    changed = true;
                                    continue;
                                }
                                if e.mask.contains(AddWatchFlags::IN_IGNORED) {
                                    // The directory itself went away: only polling can see
                                    // it come back.
                                    fall_back = Some("a watched directory was removed".into());
                                    changed = true;
                                    continue;
                                }
                                let place = wds.iter().find(|(wd, _)| *wd == e.wd).map(|w| w.1);
                                let relevant = place.is_some_and(|i| {
                                    let p = &self.places[i];
                                    match (&p.name, &e.name) {
                                        (_, Some(got)) if is_own(&p.dir, got, &self.own) => false,
                                        (None, _) => true,
                                        // A file in a Kubernetes volume (a ConfigMap of SOPS
                                        // files, a bundle) is a link through `..data`, and a
                                        // swap renames only `..data`.
                                        (Some(want), Some(got)) => want == got || got == "..data",
                                        (Some(_), None) => true,
                                    }
                                });
                                changed |= relevant;
                            }
                        }
                        Err(nix::errno::Errno::EAGAIN) => break,
                        Err(e) => {
                            fall_back = Some(format!("reading inotify events: {}", e.desc()));
                            changed = true;
                            break;
                        }
                    }
                }
                changed
            }
            Mode::Poll { last, next } => {
                if now < *next {
                    return false;
                }
                *next = now + POLL_EVERY;
                let current: Vec<u64> = self
                    .places
                    .iter()
                    .map(|p| fingerprint(p, &self.own))
                    .collect();
                let changed = current != *last;
                *last = current;
                changed
            }
        };
        if let Some(why) = fall_back {
            crate::log::warn!("refresh: inotify stopped working ({why}); polling every 1s instead");
            self.mode = Self::poll_mode(&self.places, &self.own);
        }
        changed
    }
}

/// A hash of what `stat` says about a place: the directory itself and each relevant entry,
/// both the entry (a link's own inode and times) and what it points to.
fn fingerprint(p: &Watched, own: &[PathBuf]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let stat = |path: &std::path::Path, h: &mut std::collections::hash_map::DefaultHasher| {
        for m in [std::fs::symlink_metadata(path), std::fs::metadata(path)] {
            match m {
                Ok(m) => (
                    m.ino(),
                    m.size(),
                    m.mtime(),
                    m.mtime_nsec(),
                    m.ctime(),
                    m.ctime_nsec(),
                    m.mode(),
                )
                    .hash(h),
                Err(e) => e.raw_os_error().hash(h),
            }
        }
    };
    stat(&p.dir, &mut h);
    match &p.name {
        Some(n) => stat(&p.dir.join(n), &mut h),
        None => {
            let mut names: Vec<OsString> = std::fs::read_dir(&p.dir)
                .map(|d| {
                    d.flatten()
                        .take(MAX_ENTRIES)
                        .map(|e| e.file_name())
                        .filter(|n| !is_own(&p.dir, n, own))
                        .collect()
                })
                .unwrap_or_default();
            crate::order::sort(&mut names);
            for n in names {
                n.hash(&mut h);
                stat(&p.dir.join(&n), &mut h);
            }
        }
    }
    h.finish()
}

/// [`fingerprint`], for the unit tests in mod.rs.
#[cfg(test)]
pub(crate) fn tests_fingerprint(p: &Watched) -> u64 {
    fingerprint(p, &[])
}

//! Publishing secret files: all of them or none, each exactly its mode, never through a link.
//!
//! The algorithm follows systemd's credential writer and Kubernetes' AtomicWriter:
//!
//! 1. Each destination directory is opened component by component from `/` with `O_NOFOLLOW`,
//!    creating missing parents `0700`; a symlink anywhere on the way is refused. All later work
//!    is relative to that descriptor, so no path is resolved twice (CVE-2021-25741's lesson).
//! 2. A directory other users can write to, or owned by another user, is refused unless allowed.
//! 3. A private staging dir `.secret-init-<random>` (0700) is made inside it; each file is created
//!    there with `O_CREAT|O_EXCL|O_NOFOLLOW` and its exact mode (or 0600, `fchown`ed if asked and
//!    `fchmod`ed to its mode, where the umask or the chown would take bits away), written, and,
//!    when the write is durable and the dir is on a disk, `fsync`ed.
//! 4. Every destination name is checked before anything is published: a symlink, a directory, a
//!    FIFO or another user's file there stops the whole delivery.
//! 5. Files are published by `renameat2`: `RENAME_NOREPLACE` for new names and `RENAME_EXCHANGE`
//!    for existing ones, so the old file is kept in staging until the whole set is in place. If a
//!    rename fails part-way, the earlier ones are swapped back: readers see the old set or the new.
//! 6. The directories are `fsync`ed (durable writes only) and the staging dirs (now holding the old
//!    files) removed with dirfd-relative unlinks only.
//!
//! Durability is asked for by the caller ([`WriteOptions::durable`]). Start-time deliveries are not
//! durable: they are rebuilt from the sources on every start, so a crash loses nothing a restart
//! does not recreate, and an fsync per file costs ~0.4 ms on ext4 (20 ms for 50 secrets).
//! Kubernetes' AtomicWriter does not fsync either. What edits user data is durable: `materialize`
//! and `clean` on a developer machine, and every bundle write (`vault set`, `rekey`, ...).
//! Atomicity does not depend on it: readers see the old set or the new one either way.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, Flock, OFlag, renameat};
use nix::sys::stat::{Mode, SFlag, fchmod, fstat, fstatat};
use nix::unistd::{UnlinkatFlags, fchown, unlinkat};

pub(crate) use super::dirs::WriteOptions;
use super::dirs::{check_dir, is_memory_fs, open_existing_dir};
pub(crate) use super::dirs::{
    open_dir_chain, open_dir_chain_owned, tighten_fresh_mount, would_tighten,
};
use super::staging::{make_staging, sweep_stale};
use crate::error::{Error, Kind};
use crate::plan::FileDelivery;
use crate::provenance::{self, FileId};
use crate::sys::{RENAME_EXCHANGE, RENAME_NOREPLACE, renameat2};

/// What was published, for `--cleanup` and `materialize`.
#[derive(Debug, Default)]
pub(crate) struct Published {
    /// Every file written, in order.
    pub files: Vec<PathBuf>,
    /// The device, inode and mtime of each, in the same order.
    pub ids: Vec<FileId>,
    /// The record of deliveries published with them, if one was kept.
    pub record: Option<PathBuf>,
}

struct Target<'a> {
    delivery: &'a FileDelivery,
    /// Its file name, borrowed from the delivery's path.
    name: &'a std::ffi::OsStr,
    existed: bool,
    /// The staged file's device, inode and mtime (a rename keeps them), once written.
    id: Option<FileId>,
    /// The record of deliveries (`provenance`), published with the set but not one of its files.
    record: bool,
    /// The file it replaces, if one is there (seen by [`check_target`]).
    replaces: Option<FileId>,
}

struct DirJob<'a> {
    path: PathBuf,
    fd: OwnedFd,
    /// Whether to fsync here: a durable write to a dir not on tmpfs or ramfs (where it is a no-op).
    sync: bool,
    staging_name: String,
    staging: OwnedFd,
    /// The staging dir's `flock`, held while this start may still use it (see [`sweep_stale`]).
    _staging_lock: Flock<OwnedFd>,
    targets: Vec<Target<'a>>,
}

enum Done {
    Exchanged(usize, usize),
    Created(usize, usize),
}

fn cant_create(d: &FileDelivery, what: impl Into<String>) -> Error {
    Error::secret(
        Kind::CantCreate,
        &d.secret,
        d.path.display().to_string(),
        what,
    )
}

/// A pending stop (SIGTERM and the like) that publication must honour.
pub(crate) trait Stop {
    /// The stop signal received so far, if any.
    fn pending(&self) -> Option<i32>;
    /// Makes later stop signals wait (blocked, for the program) instead of being recorded; called
    /// once the whole set is in place, just before the last look at [`Stop::pending`].
    fn hold(&self) {}
}

/// A plain poll, for callers with no signal state (tests, `bundle`).
impl<F: Fn() -> Option<i32>> Stop for F {
    fn pending(&self) -> Option<i32> {
        self()
    }
}

/// secret-init's own stop signals (sys.rs): recorded during delivery, then held.
pub(crate) struct SignalStop;

impl Stop for SignalStop {
    fn pending(&self) -> Option<i32> {
        crate::sys::pending_stop()
    }
    fn hold(&self) {
        crate::sys::hold_stop_signals();
    }
}

fn stopped(sig: i32, what: &str) -> Error {
    Error::new(
        Kind::Signal(sig),
        format!("stopped by signal {sig} {what}; nothing written"),
    )
}

/// Publishes `files`, all or none. `stop` is polled before every rename; after the last one the
/// stop signals are held and polled once more, so a stop at any point before the set is committed
/// rolls the renames back to the old set, and one after it waits for the program.
pub(crate) fn publish(
    files: &[FileDelivery],
    opts: &WriteOptions,
    stop: impl Stop,
) -> Result<Published, Error> {
    if files.is_empty() {
        stop.hold();
        return match stop.pending() {
            Some(sig) => Err(stopped(sig, "before the program started")),
            None => Ok(Published::default()),
        };
    }
    // Keyed by the dir's bytes: Path's own ordering walks components and costs far more.
    let mut by_dir: BTreeMap<Vec<u8>, (PathBuf, Vec<&FileDelivery>)> = BTreeMap::new();
    for d in files {
        let dir = d.path.parent().unwrap_or(Path::new("/"));
        // Looked up first: the key is copied only for a new dir, not once per file.
        match by_dir.get_mut(dir.as_os_str().as_bytes()) {
            Some((_, list)) => list.push(d),
            None => {
                by_dir.insert(
                    dir.as_os_str().as_bytes().to_vec(),
                    (dir.to_path_buf(), vec![d]),
                );
            }
        }
    }
    // Declared before the jobs, which borrow it.
    let mut record_slot: Option<FileDelivery> = None;
    let mut jobs: Vec<DirJob> = Vec::new();
    let result = stage(&by_dir, opts, &mut jobs)
        .and_then(|()| check_targets(&mut jobs, opts))
        .and_then(|()| add_record(&mut jobs, opts, &mut record_slot))
        .and_then(|()| rename_all(&jobs, &stop));
    for job in &jobs {
        if result.is_ok() && job.sync {
            // Durability of the renames; a failure here cannot be undone, so it is only logged.
            if let Err(e) = nix::unistd::fsync(&job.fd) {
                crate::log::warn!("fsync of {} failed: {}", job.path.display(), e.desc());
            }
        }
        remove_staging(job, result.is_ok());
    }
    result?;
    let targets = || jobs.iter().flat_map(|j| j.targets.iter());
    let published = Published {
        files: targets()
            .filter(|t| !t.record)
            .map(|t| t.delivery.path.clone())
            .collect(),
        ids: targets()
            .filter(|t| !t.record)
            .filter_map(|t| t.id)
            .collect(),
        record: targets()
            .find(|t| t.record)
            .map(|t| t.delivery.path.clone()),
    };
    for p in &published.files {
        crate::log::debug!("wrote {}", p.display());
    }
    Ok(published)
}

/// `check`'s pre-flight for `files`: every destination directory passes the same policy as a
/// publish ([`check_dir`]) and takes a staging dir, which is made empty and removed again, so
/// nothing is written and no secret touches the disk. A directory that does not exist yet is
/// probed at its nearest existing parent, where a run would create it. `tightened` is a fresh
/// mount the run would make private first ([`would_tighten`]): its mode is not held against it.
pub(crate) fn probe(
    files: &[FileDelivery],
    opts: &WriteOptions,
    tightened: Option<&Path>,
) -> Result<(), Error> {
    let mut dirs: BTreeMap<Vec<u8>, &FileDelivery> = BTreeMap::new();
    for d in files {
        let dir = d.path.parent().unwrap_or(Path::new("/"));
        dirs.entry(dir.as_os_str().as_bytes().to_vec()).or_insert(d);
    }
    for d in dirs.values() {
        let dir = d.path.parent().unwrap_or(Path::new("/"));
        let existing = dir
            .ancestors()
            .find(|a| a.symlink_metadata().is_ok())
            .unwrap_or(Path::new("/"));
        let fd = open_dir_chain(existing).map_err(|what| cant_create(d, what))?;
        if existing == dir && tightened != Some(dir) {
            check_dir(&fd, dir, opts).map_err(|e| {
                e.for_secret(&d.secret)
                    .with_source(d.path.display().to_string())
            })?;
        }
        // Removed while still locked, so no other start's sweep can take it meanwhile.
        // A run would first create the missing directory below `existing`, a mkdir in
        // `existing` as the staging dir is: a failure is told in the run's words.
        let missing = dir
            .ancestors()
            .take_while(|a| *a != existing)
            .last()
            .filter(|_| existing != dir);
        let (name, _staging, _lock) =
            make_staging(&fd, existing, missing).map_err(|what| cant_create(d, what))?;
        unlinkat(&fd, name.as_str(), UnlinkatFlags::RemoveDir)
            .map_err(|e| cant_create(d, format!("cannot remove the probe dir: {}", e.desc())))?;
    }
    Ok(())
}

fn stage<'a>(
    by_dir: &BTreeMap<Vec<u8>, (PathBuf, Vec<&'a FileDelivery>)>,
    opts: &WriteOptions,
    jobs: &mut Vec<DirJob<'a>>,
) -> Result<(), Error> {
    for (dir, deliveries) in by_dir.values() {
        let mut job = open_job(dir, deliveries[0], opts)?;
        // One more: the record of deliveries, if this is the output dir.
        job.targets.reserve_exact(deliveries.len() + 1);
        for d in deliveries {
            let name = d
                .path
                .file_name()
                .ok_or_else(|| cant_create(d, "has no file name"))?;
            let mut target = Target {
                delivery: d,
                name,
                existed: false,
                id: None,
                record: false,
                replaces: None,
            };
            let staged = write_staged(&job.staging, target.name, d, job.sync, |f| {
                f.write_all(d.content.expose())
            });
            if let Ok(id) = staged {
                target.id = Some(id);
            }
            // Kept whatever the outcome, so a failed write's partial file is cleaned up too.
            job.targets.push(target);
            if let Err(e) = staged {
                jobs.push(job);
                return Err(e);
            }
        }
        jobs.push(job);
    }
    Ok(())
}

/// Opens `dir` for a publish (created as needed, `first`'s owner when trusted), checks it,
/// sweeps what a killed start left there and makes this start's staging dir in it.
fn open_job<'a>(
    dir: &Path,
    first: &FileDelivery,
    opts: &WriteOptions,
) -> Result<DirJob<'a>, Error> {
    // Directories created for a file of a trusted owner (the `--user` the program runs as)
    // are that user's, so the program can reach its files; nothing existing is chowned.
    let dir_owner = first
        .owner
        .filter(|(uid, _)| opts.trusted_uids.contains(uid));
    let fd = open_dir_chain_owned(dir, dir_owner).map_err(|what| cant_create(first, what))?;
    check_dir(&fd, dir, opts).map_err(|e| {
        e.for_secret(&first.secret)
            .with_source(first.path.display().to_string())
    })?;
    sweep_stale(&fd, dir);
    let (staging_name, staging, staging_lock) =
        make_staging(&fd, dir, None).map_err(|what| cant_create(first, what))?;
    let on_disk = !is_memory_fs(&fd);
    // A start's (or a refresh's) deliveries: a warning, for the container whose /secrets
    // is its image's disk. A developer machine's `materialize` (durable) and the refresh
    // status file (no record: it holds no value) are meant for disk.
    if on_disk && !opts.durable && opts.record.is_some() {
        crate::log::warn!(
            "{} is not memory-backed (tmpfs/ramfs): the secrets written there may reach disk; \
             mount a memory-backed volume there (docker run --tmpfs {0}, emptyDir: {{medium: \
             Memory}}) or deliver by env only (--env-only)",
            dir.display()
        );
    } else if on_disk {
        crate::log::debug!(
            "{} is not on tmpfs/ramfs: secrets may reach disk (use a memory-backed volume)",
            dir.display()
        );
    }
    Ok(DirJob {
        path: dir.to_path_buf(),
        fd,
        sync: on_disk && opts.durable,
        staging_name,
        staging,
        _staging_lock: staging_lock,
        targets: Vec::new(),
    })
}

/// The process's umask, read once (setting it to itself: no thread runs when files are
/// written, and nothing else changes it).
fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        let old = nix::sys::stat::umask(Mode::from_bits_truncate(0o077));
        nix::sys::stat::umask(old);
        old.bits()
    })
}

/// Writes one file into the staging dir, its bytes by `body`; its device and inode.
fn write_staged(
    staging: &OwnedFd,
    name: &std::ffi::OsStr,
    d: &FileDelivery,
    sync: bool,
    body: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> Result<FileId, Error> {
    let flags =
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    // Created with its mode when the umask leaves it whole and no chown comes after (which
    // could clear bits): one `fchmod` a file less. Otherwise 0600, then the exact mode.
    let exact = d.owner.is_none() && d.mode & !0o777 == 0 && d.mode & umask() == 0;
    let mode = if exact { d.mode } else { 0o600 };
    let fd = nix::fcntl::openat(staging, name, flags, Mode::from_bits_truncate(mode))
        .map_err(|e| cant_create(d, format!("cannot create: {}", e.desc())))?;
    if let Some((uid, gid)) = d.owner {
        fchown(&fd, Some(uid.into()), Some(gid.into()))
            .map_err(|e| cant_create(d, format!("cannot chown to {uid}:{gid}: {}", e.desc())))?;
    }
    if !exact {
        fchmod(&fd, Mode::from_bits_truncate(d.mode))
            .map_err(|e| cant_create(d, format!("cannot chmod: {}", e.desc())))?;
    }
    let mut f = File::from(fd);
    body(&mut f)
        .map_err(|e| cant_create(d, format!("write failed: {}", crate::error::io_text(&e))))?;
    if sync {
        f.sync_all()
            .map_err(|e| cant_create(d, format!("fsync failed: {}", crate::error::io_text(&e))))?;
    }
    // After the write: the modification time is part of what the record compares.
    fstat(&f)
        .map(|st| FileId::of(&st))
        .map_err(|e| cant_create(d, format!("cannot stat: {}", e.desc())))
}

/// Adds the record of deliveries (`provenance`), listing every staged file, to the set: staged
/// in the output dir's job (made for it when no file goes there) and renamed first, so a crash
/// between renames leaves the record ahead of the files, never behind, and a rollback puts the
/// old record back with the old files. A record that cannot be written stops the publish: a
/// delivery not recorded would be read back as an input.
fn add_record<'a>(
    jobs: &mut Vec<DirJob<'a>>,
    opts: &WriteOptions,
    slot: &'a mut Option<FileDelivery>,
) -> Result<(), Error> {
    let Some(output_dir) = &opts.record else {
        return Ok(());
    };
    let at = jobs.iter().position(|j| j.path == *output_dir);
    if at.is_none() {
        // Nothing goes into the output dir: a missing one is not created for the record alone,
        // and a read-only one (a mounted secrets dir) cannot hold it.
        let writable = crate::fsx::open_dir_nofollow(output_dir)
            .ok()
            .flatten()
            .is_some_and(|fd| {
                nix::sys::statvfs::fstatvfs(&fd)
                    .is_ok_and(|v| !v.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
            });
        if !writable {
            crate::log::debug!(
                "{}: missing or read-only; no record of deliveries kept",
                output_dir.display()
            );
            return Ok(());
        }
    }
    // Written as it is staged, from the targets (no copy of the set).
    let d: &'a FileDelivery = slot.insert(FileDelivery {
        secret: "record of deliveries".into(),
        content: crate::secret::Secret::new(Vec::new()),
        path: provenance::record_path(output_dir),
        mode: 0o600,
        owner: None,
    });
    let at = match at {
        Some(i) => i,
        None => {
            jobs.push(open_job(output_dir, d, opts)?);
            jobs.len() - 1
        }
    };
    let set = jobs.iter().flat_map(|j| j.targets.iter()).filter_map(|t| {
        t.id.map(|id| (t.delivery.path.as_os_str().as_bytes(), id, t.replaces))
    });
    let job = &jobs[at];
    let staged = write_staged(
        &job.staging,
        OsStr::new(provenance::RECORD_NAME),
        d,
        job.sync,
        |f| {
            let mut w = std::io::BufWriter::with_capacity(64 * 1024, f);
            provenance::write_record(&mut w, output_dir, set)?;
            w.flush()
        },
    );
    let job = &mut jobs[at];
    let mut target = Target {
        delivery: d,
        name: OsStr::new(provenance::RECORD_NAME),
        existed: false,
        id: staged.as_ref().ok().copied(),
        record: true,
        replaces: None,
    };
    // Its place is checked as every destination is (a link or a directory there stops it).
    let euid = nix::unistd::geteuid().as_raw();
    let checked = staged.and_then(|_| check_target(&job.fd, &mut target, opts, euid));
    job.targets.insert(0, target);
    checked?;
    // Renamed first.
    jobs.swap(0, at);
    Ok(())
}

fn check_targets(jobs: &mut [DirJob], opts: &WriteOptions) -> Result<(), Error> {
    let euid = nix::unistd::geteuid().as_raw();
    for job in jobs.iter_mut() {
        // One listing instead of one stat per name: in a fresh container most names are new.
        // Every name, `..*` included (the record of deliveries is one).
        let present = crate::fsx::names(&job.fd).ok();
        for t in &mut job.targets {
            if present
                .as_ref()
                .is_some_and(|p| !p.contains(t.name.as_bytes()))
            {
                t.existed = false;
                continue;
            }
            check_target(&job.fd, t, opts, euid)?;
        }
    }
    Ok(())
}

/// What is at one destination name: nothing, or a regular file we may replace (ours, the
/// `--user`'s, or the owner the delivery names), whose identity is kept for the record.
fn check_target(
    dir: &OwnedFd,
    t: &mut Target,
    opts: &WriteOptions,
    euid: u32,
) -> Result<(), Error> {
    let d = t.delivery;
    let st = match fstatat(dir, t.name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Err(Errno::ENOENT) => {
            t.existed = false;
            return Ok(());
        }
        Err(e) => {
            return Err(cant_create(
                d,
                format!("cannot check the destination: {}", e.desc()),
            ));
        }
        Ok(st) => st,
    };
    let kind = st.st_mode & SFlag::S_IFMT.bits();
    if kind == SFlag::S_IFLNK.bits() {
        return Err(cant_create(
            d,
            format!("refusing to replace symlink at {}", d.path.display()),
        ));
    }
    if kind == SFlag::S_IFDIR.bits() {
        return Err(cant_create(d, "exists and is a directory"));
    }
    if kind != SFlag::S_IFREG.bits() {
        return Err(cant_create(d, "exists and is not a regular file"));
    }
    let owner_ok = st.st_uid == euid
        || opts.trusted_uids.contains(&st.st_uid)
        || d.owner.is_some_and(|(u, _)| u == st.st_uid);
    if !owner_ok {
        return Err(cant_create(
            d,
            format!(
                "exists and is owned by uid {}; refusing to replace another user's file",
                st.st_uid
            ),
        ));
    }
    t.existed = true;
    t.replaces = Some(FileId::of(&st));
    Ok(())
}

/// Renames every staged file into place; a failed rename or a pending stop swaps the earlier ones
/// back, so the directory holds the old set again.
fn rename_all(jobs: &[DirJob], stop: &impl Stop) -> Result<(), Error> {
    let mut done: Vec<Done> = Vec::new();
    for (j, job) in jobs.iter().enumerate() {
        for (i, t) in job.targets.iter().enumerate() {
            if let Some(sig) = stop.pending() {
                roll_back(jobs, &done);
                return Err(stopped(sig, "while publishing; the old files are back"));
            }
            let name = t.name;
            let flags = if t.existed {
                RENAME_EXCHANGE
            } else {
                RENAME_NOREPLACE
            };
            let r = match renameat2(&job.staging, name, &job.fd, name, flags) {
                // A filesystem without renameat2 flags: a plain rename is still atomic per file.
                Err(Errno::EINVAL) => renameat(&job.staging, name, &job.fd, name).map(|()| false),
                other => other.map(|()| true),
            };
            match r {
                Ok(true) if t.existed => done.push(Done::Exchanged(j, i)),
                Ok(_) => done.push(Done::Created(j, i)),
                Err(e) => {
                    let err = cant_create(t.delivery, format!("cannot publish: {}", e.desc()));
                    roll_back(jobs, &done);
                    return Err(err);
                }
            }
        }
    }
    // The commit point: from here a stop signal waits for the program instead.
    stop.hold();
    if let Some(sig) = stop.pending() {
        roll_back(jobs, &done);
        return Err(stopped(sig, "while publishing; the old files are back"));
    }
    Ok(())
}

fn roll_back(jobs: &[DirJob], done: &[Done]) {
    for step in done.iter().rev() {
        let (j, i, exchange) = match *step {
            Done::Exchanged(j, i) => (j, i, true),
            Done::Created(j, i) => (j, i, false),
        };
        let job = &jobs[j];
        let name = job.targets[i].name;
        let r = if exchange {
            renameat2(&job.fd, name, &job.staging, name, RENAME_EXCHANGE)
        } else {
            renameat(&job.fd, name, &job.staging, name)
        };
        if let Err(e) = r {
            crate::log::error!(
                "rolling back {} failed: {}",
                job.targets[i].delivery.path.display(),
                e.desc()
            );
        }
    }
}

/// Empties and removes the staging dir. After a publish only the old files swapped out
/// (`existed`) are left in it, so only those are unlinked (one failing `unlinkat` per new file
/// saved); after a failure or a rollback every staged name may be there.
fn remove_staging(job: &DirJob, published: bool) {
    for t in job.targets.iter().filter(|t| !published || t.existed) {
        match unlinkat(&job.staging, t.name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => crate::log::warn!(
                "cannot remove staged {}: {}",
                String::from_utf8_lossy(t.name.as_bytes()),
                e.desc()
            ),
        }
    }
    if let Err(e) = unlinkat(&job.fd, job.staging_name.as_str(), UnlinkatFlags::RemoveDir) {
        crate::log::warn!(
            "cannot remove staging dir {}/{}: {}",
            job.path.display(),
            job.staging_name,
            e.desc()
        );
    }
}

/// Removes published files (`--cleanup`): each parent is opened component by component with
/// `O_NOFOLLOW` (never created), and a name is unlinked only while it is a regular file. A
/// symlink or anything else found in a file's place is left alone with a warning, so a link
/// planted there is neither followed nor trusted. Returns how many files were removed.
pub(crate) fn remove_published(paths: &[PathBuf]) -> usize {
    remove_files(paths, "cleanup")
}

/// Removes `paths` as [`remove_published`] does, its warnings prefixed with `why` (`cleanup`,
/// `consumed input`): a parent opened without following links, a name unlinked only while it
/// is a regular file. How many were removed.
pub(crate) fn remove_files(paths: &[PathBuf], why: &str) -> usize {
    let mut removed = 0;
    for path in paths {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            continue;
        };
        let fd = match open_existing_dir(dir) {
            Ok(fd) => fd,
            Err(reason) => {
                crate::log::warn!("{why}: not removing {}: {reason}", path.display());
                continue;
            }
        };
        match fstatat(&fd, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Err(Errno::ENOENT) => {}
            Err(e) => crate::log::warn!("{why}: cannot check {}: {}", path.display(), e.desc()),
            Ok(st) if st.st_mode & SFlag::S_IFMT.bits() != SFlag::S_IFREG.bits() => {
                crate::log::warn!("{why}: not removing {}: not a regular file", path.display());
            }
            Ok(_) => match unlinkat(&fd, name, UnlinkatFlags::NoRemoveDir) {
                Ok(()) => {
                    removed += 1;
                    crate::log::debug!("{why}: removed {}", path.display());
                }
                Err(Errno::ENOENT) => {}
                Err(e) => {
                    crate::log::warn!("{why}: cannot remove {}: {}", path.display(), e.desc())
                }
            },
        }
    }
    removed
}

#[cfg(test)]
mod tests;

//! The audit trail: one JSON line per start, per refresh that published something and per failed
//! refresh, to stderr or to a file (docs/observability.md lists the fields).
//!
//! The file is opened once, at the start, beneath its directory opened from `/` without following
//! a link (fsx), `O_APPEND | O_NOFOLLOW`, created 0600 and kept 0600, owned by secret-init's user:
//! under `--user` the program's user can neither read nor write it, and its directory must be out
//! of that user's reach too (else the file could be swapped; refused with 78). Past its size cap
//! it is renamed to `PATH.1` (the one older generation, replaced) and a new file is begun, so it
//! never fills the disk. A line that cannot be written is logged as a warning; the program is
//! never stopped for the audit's sake.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, SFlag};

use crate::error::{Error, Kind};
use crate::provenance::ProgramUser;
use crate::settings::AuditTo;

/// The file's flags: append-only, no link, no terminal, not inherited by the program.
const FLAGS: OFlag = OFlag::O_WRONLY
    .union(OFlag::O_APPEND)
    .union(OFlag::O_CREAT)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_NOCTTY)
    .union(OFlag::O_CLOEXEC);

/// Where the lines go.
pub(super) enum Trail {
    Stderr,
    File {
        dir: OwnedFd,
        name: String,
        path: PathBuf,
        file: File,
        size: u64,
        max_bytes: u64,
    },
}

fn cannot(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::new(
        Kind::CantCreate,
        format!("secret_init.audit.file {}: {why}", path.display()),
    )
}

/// Opens `name` beneath `dir` for appending, 0600, and checks it is a regular file of ours with
/// one name; returns it with its size.
fn open_file(dir: &OwnedFd, name: &str, path: &Path) -> Result<(File, u64), Error> {
    let fd = crate::fsx::open_beneath(dir, name, FLAGS).map_err(|e| cannot(path, e.desc()))?;
    let st = nix::sys::stat::fstat(&fd).map_err(|e| cannot(path, e.desc()))?;
    if st.st_mode & SFlag::S_IFMT.bits() != SFlag::S_IFREG.bits() {
        return Err(cannot(path, "not a regular file"));
    }
    if st.st_uid != nix::unistd::geteuid().as_raw() || st.st_nlink != 1 {
        return Err(cannot(
            path,
            "owned by another user or with a second name: refusing to append to it",
        ));
    }
    // Created with the umask's bits at most; whatever it was, it is 0600 from here on.
    nix::sys::stat::fchmod(&fd, Mode::from_bits_truncate(0o600))
        .map_err(|e| cannot(path, e.desc()))?;
    Ok((File::from(fd), st.st_size.max(0) as u64))
}

impl Trail {
    /// Opens the trail; under `--user`, refuses (78) a directory the program's user can change.
    pub(super) fn open(to: &AuditTo, user: Option<&ProgramUser>) -> Result<Trail, Error> {
        let (path, max_bytes) = match to {
            AuditTo::Stderr => return Ok(Trail::Stderr),
            AuditTo::File { path, max_bytes } => (path.clone(), *max_bytes),
        };
        let Some(parent) = path.parent() else {
            return Err(cannot(&path, "no directory"));
        };
        if let Some(u) = user
            && u.could_change_dir(parent)
        {
            return Err(Error::new(
                Kind::Config,
                format!(
                    "secret_init.audit.file {}: the program's user (uid {}) can change its directory; under --user the audit trail must be out of the program's reach",
                    path.display(),
                    u.uid
                ),
            ));
        }
        let dir = crate::fsx::open_parent(&path)
            .map_err(|why| cannot(&path, why))?
            .ok_or_else(|| cannot(&path, "its directory does not exist"))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| cannot(&path, "not a file name"))?
            .to_string();
        let (file, size) = open_file(&dir, &name, &path)?;
        Ok(Trail::File {
            dir,
            name,
            path,
            file,
            size,
            max_bytes,
        })
    }

    /// Appends one record as one line (a single write: `O_APPEND` keeps lines whole).
    pub(super) fn append(&mut self, rec: &serde_json::Value) {
        let line = format!("{rec}\n");
        match self {
            Trail::Stderr => {
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(line.as_bytes());
            }
            Trail::File {
                dir,
                name,
                path,
                file,
                size,
                max_bytes,
            } => {
                if *size + line.len() as u64 > *max_bytes && *size > 0 {
                    let old = format!("{name}.1");
                    match nix::fcntl::renameat(
                        dir.as_fd(),
                        name.as_str(),
                        dir.as_fd(),
                        old.as_str(),
                    )
                    .map_err(|e| e.desc().to_string())
                    .and_then(|()| open_file(dir, name, path).map_err(|e| e.into_problem().what))
                    {
                        Ok((f, s)) => {
                            *file = f;
                            *size = s;
                        }
                        Err(why) => crate::log::warn!(
                            "audit: cannot rotate {} past {} bytes: {why}",
                            path.display(),
                            max_bytes
                        ),
                    }
                }
                match file.write_all(line.as_bytes()) {
                    Ok(()) => *size += line.len() as u64,
                    Err(e) => crate::log::warn!(
                        "audit: cannot write to {}: {}",
                        path.display(),
                        crate::error::io_text(&e)
                    ),
                }
            }
        }
    }
}

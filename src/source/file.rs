//! The `file` source: `<dir>/<name>` in each mounted secrets dir, read byte-exact.
//!
//! Kubernetes secret volumes publish keys as links `name -> ..data/name`, where `..data` itself
//! links to a timestamped directory swapped atomically on update (AtomicWriter). Opening `..data`
//! once and reading every key relative to that descriptor gives one consistent snapshot even if an
//! update races with us. Entries starting with `..` are never secrets (names cannot start with
//! `..`). Every open uses `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`, so a link that
//! escapes the dir (`-> /etc/shadow`, `-> ../x`) or a `/proc` magic link is refused by the kernel
//! rather than by a racy check; on kernels without openat2 every symlink is refused instead.
//! Opens are `O_NONBLOCK` and the type is checked on the open descriptor, so a FIFO cannot hang
//! the start and a device, socket or directory is refused. Reads stop at the size cap plus one.
//! A `NAME.age` where `NAME` is looked for is decrypted with the age identities ([`sealed`]).

use std::collections::HashSet;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::age_keys::AgeKeys;
use super::{Found, Injected, Origin, Source, SourceKind, not_mine};
use crate::environ::Environ;
use crate::error::{Error, Errors, Kind};
use crate::fsx::{READ_FLAGS, list, open_beneath, read_regular};
use crate::name::SecretName;
use crate::provenance::{Inputs, NotInput};
use crate::reference::Reference;
use crate::secret::Secret;

enum Dir {
    /// Not opened yet.
    Pending,
    /// The dir does not exist: no secrets there.
    Absent,
    /// Open; `fd` is the `..data` snapshot for a Kubernetes volume, else the dir itself.
    /// `names` is its listing, read once: a name not in it is absent without another syscall
    /// (one getdents instead of one failed open per secret; a start has dozens).
    Open {
        fd: OwnedFd,
        names: HashSet<Vec<u8>>,
    },
}

/// Reads secrets from mounted directories.
pub struct FileSource {
    dirs: Vec<(PathBuf, Dir)>,
    max_bytes: u64,
    /// Which files may be inputs (`provenance`): never one secret-init delivered (when the
    /// output dir is also a secrets dir), nor, under `--user`, one the program could have
    /// written, nor one of secret-init's own credentials.
    inputs: Inputs,
    /// The identities for `NAME.age` files.
    age: AgeKeys,
}

impl FileSource {
    /// A source over `dirs`, searched in order, reading at most `max_bytes` per secret.
    pub fn new(dirs: Vec<PathBuf>, max_bytes: u64) -> Self {
        FileSource {
            dirs: dirs.into_iter().map(|d| (d, Dir::Pending)).collect(),
            max_bytes,
            inputs: Inputs::default(),
            age: AgeKeys::new(Environ::default(), super::Outputs::default()),
        }
    }

    /// The same source, decrypting `NAME.age` files with `keys`.
    pub(crate) fn with_age(mut self, keys: AgeKeys) -> Self {
        self.age = keys;
        self
    }

    /// The same source, reading only the files `inputs` allows.
    pub(crate) fn judged_by(mut self, inputs: &Inputs) -> Self {
        self.inputs = inputs.clone();
        self
    }
}

/// The error for a file that is not an input, read through an explicit reference (`from:
/// file:`, `X_FILE`): one secret-init delivered is absent, one the program could have written
/// is refused, one of our own credentials is a configuration error.
fn not_input(why: NotInput) -> Error {
    match why {
        NotInput::Delivered => Error::new(
            Kind::Unavailable,
            "is a file secret-init delivered, never an input (deliver it elsewhere, or give the value's real source)",
        ),
        NotInput::Writable(how) => Error::new(
            Kind::Permission,
            format!("not an input: the program's user could have written it ({how})"),
        ),
        NotInput::Credential(what) => Error::new(
            Kind::Config,
            format!(
                "refused: it is {what}, one of secret-init's own credentials, never handed to the program"
            ),
        ),
    }
}

/// The file at `path`, named by a reference (`from: file:`, `sops:`, `age:`), read whole if
/// `inputs` allows it: not on procfs, not a file secret-init delivered or consumes as a
/// credential, not one the program's user could have written; regular, at most `max` bytes.
/// `Ok(None)`: no such file. Errors carry `src`.
pub(crate) fn read_input(
    path: &Path,
    inputs: &Inputs,
    max: u64,
    src: &str,
) -> Result<Option<Secret>, Error> {
    let fd = match nix::fcntl::open(path, READ_FLAGS, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(errno_error(e, "open").with_source(src)),
    };
    // Whatever the path (a link into /proc, a bind mount), procfs shows our own environment
    // and memory: never a secret for the program.
    if nix::sys::statfs::fstatfs(&fd)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
    {
        return Err(Error::new(
            Kind::Data,
            "refused: the file is on procfs (secret-init's own process state)",
        )
        .with_source(src));
    }
    let st = inputs
        .judge(&fd, None)
        .map_err(|why| not_input(why).with_source(src))?;
    read_regular(fd, &st, max)
        .map(Some)
        .map_err(|why| Error::new(Kind::Data, why).with_source(src))
}

fn open_dir(path: &Path) -> Result<Dir, Errno> {
    let fd = match nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(Dir::Absent),
        Err(e) => return Err(e),
    };
    let fd = match open_beneath(
        &fd,
        "..data",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
    ) {
        Ok(data) => {
            crate::log::debug!(
                "{}: Kubernetes layout, reading one ..data snapshot",
                path.display()
            );
            data
        }
        Err(Errno::ENOENT) => fd,
        Err(e) => return Err(e),
    };
    let names = list(&fd)?;
    Ok(Dir::Open { fd, names })
}

/// Docker's `X_FILE` convention for the names in `secret_init.file_env`: `X_FILE=/run/secrets/db`
/// delivers the file's bytes as `X`, read as a mounted secret is (no link out of its directory,
/// regular files only, at most `max` bytes). `X` and `X_FILE` both set is ambiguous (65), as
/// in the official images' entrypoints; a name with neither is skipped.
pub(crate) fn file_env(
    names: &[String],
    env: &Environ,
    max: u64,
    inputs: &Inputs,
) -> Result<Vec<Injected>, Errors> {
    let mut out = Vec::new();
    let mut errors = Errors::default();
    for var in names {
        let pointer = format!("{var}_FILE");
        let Some(path) = env.get(&pointer) else {
            continue;
        };
        let path = PathBuf::from(path);
        let origin = format!("env:{pointer}, file:{}", path.display());
        if env.get(var).is_some() {
            errors.push(
                Error::new(
                    Kind::Data,
                    format!("env var {var} and {pointer} are both set; set only one"),
                )
                .with_source(origin),
            );
            continue;
        }
        match read_pointed(&path, max, inputs) {
            Ok(value) => out.push(Injected {
                var: var.clone(),
                value,
                origin,
            }),
            Err(e) => errors
                .push(Error::new(e.kind, format!("env var {var}: {}", e.what)).with_source(origin)),
        }
    }
    errors.into_result().map(|()| out)
}

fn read_pointed(path: &Path, max: u64, inputs: &Inputs) -> Result<Secret, Error> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Err(Error::new(Kind::Config, "not a path to a file"));
    };
    if !path.is_absolute() {
        return Err(Error::new(Kind::Config, "not an absolute path"));
    }
    let dirfd = nix::fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| missing_or(e, "open its directory"))?;
    let fd = open_beneath(&dirfd, name, READ_FLAGS).map_err(|e| missing_or(e, "open"))?;
    let st = inputs.judge(&fd, Some((&dirfd, name))).map_err(not_input)?;
    read_regular(fd, &st, max).map_err(|why| Error::new(Kind::Data, why))
}

fn missing_or(e: Errno, what: &str) -> Error {
    match e {
        Errno::ENOENT => Error::new(Kind::Unavailable, "the file does not exist"),
        e => errno_error(e, what),
    }
}

fn errno_error(e: Errno, what: &str) -> Error {
    match e {
        Errno::EXDEV => Error::new(
            Kind::Data,
            "is a link that escapes the secrets dir; refused",
        ),
        Errno::ELOOP => Error::new(
            Kind::Data,
            "is a symbolic link that cannot be followed safely; refused",
        ),
        Errno::EACCES | Errno::EPERM => Error::new(
            Kind::Permission,
            format!("cannot {what}: permission denied"),
        ),
        Errno::ENXIO => Error::new(Kind::Data, "not a regular file (a socket)"),
        e => Error::new(Kind::Data, format!("cannot {what}: {}", e.desc())),
    }
}

impl Source for FileSource {
    fn kind(&self) -> SourceKind {
        SourceKind::File
    }

    /// Each dir's `NAME`, then its `NAME.age` ([`sealed`]): both are looked for.
    fn describe(&self, name: &SecretName) -> String {
        let dirs: Vec<String> = self
            .dirs
            .iter()
            .map(|(d, _)| {
                let plain = d.join(name.as_str());
                format!("file:{}, file:{}.age", plain.display(), plain.display())
            })
            .collect();
        dirs.join(", ")
    }

    fn lookup(&mut self, name: &SecretName) -> Result<Option<Found>, Error> {
        for (path, dir) in &mut self.dirs {
            let visible = path.join(name.as_str());
            let src = format!("file:{}", visible.display());
            if let Dir::Pending = dir {
                *dir = open_dir(path).map_err(|e| {
                    errno_error(e, "open the secrets dir")
                        .with_source(format!("file:{}", path.display()))
                })?;
            }
            let Dir::Open { fd: dirfd, names } = dir else {
                continue;
            };
            let (dir, inputs, max) = (path.as_path(), &self.inputs, self.max_bytes);
            if let Some(f) = sealed(dirfd, names, dir, name, inputs, &mut self.age, max)? {
                return Ok(Some(f));
            }
            if !names.contains(name.as_str().as_bytes()) {
                continue;
            }
            let fd = match open_beneath(dirfd, name.as_str(), READ_FLAGS) {
                Ok(fd) => fd,
                // Absent, or a dangling link (Kubernetes publishes links before targets: #93686).
                Err(Errno::ENOENT) => continue,
                Err(e) => return Err(errno_error(e, "open").with_source(src)),
            };
            let st = match self.inputs.judge(&fd, Some((dirfd, name.as_str()))) {
                Ok(st) => st,
                Err(NotInput::Delivered) => {
                    crate::log::debug!(
                        "secret \"{name}\": {src} is a delivery of ours, not an input"
                    );
                    continue;
                }
                Err(NotInput::Writable(how)) => {
                    crate::log::warn!(
                        "secret \"{name}\": {src} is not an input: the program's user could have written it ({how})"
                    );
                    continue;
                }
                Err(why) => return Err(not_input(why).with_source(src)),
            };
            let value = read_regular(fd, &st, self.max_bytes)
                .map_err(|why| Error::new(Kind::Data, why).with_source(src.clone()))?;
            crate::log::debug!("secret \"{name}\": found in {src}");
            return Ok(Some(Found {
                value,
                origin: Origin {
                    kind: SourceKind::File,
                    label: src,
                    path: Some(visible),
                    version: None,
                },
            }));
        }
        Ok(None)
    }

    fn fetch(&mut self, reference: &Reference, _name: &SecretName) -> Result<Option<Found>, Error> {
        let Reference::File(path) = reference else {
            return Err(not_mine(SourceKind::File, reference));
        };
        let src = format!("file:{}", path.display());
        let Some(value) = read_input(path, &self.inputs, self.max_bytes, &src)? else {
            return Ok(None);
        };
        Ok(Some(Found {
            value,
            origin: Origin {
                kind: SourceKind::File,
                label: src,
                path: Some(path.clone()),
                version: None,
            },
        }))
    }
}

/// The cap on an age file whose plaintext may be `max` bytes: room for the header (a few
/// stanzas), 16 bytes per 64 KiB chunk and armor (base64, a third more, and its lines).
fn sealed_cap(max: u64) -> u64 {
    max.saturating_add(max / 2).saturating_add(64 * 1024)
}

/// `NAME.age` where `NAME` is looked for: decrypted with the age identities (the ones `age:`
/// references use) and shown as `file:DIR/NAME.age`. A plain `NAME` beside it that is an input is
/// ambiguous and refused (65); one that is not (a delivery of ours, a dangling link, one the
/// program could have written) is no rival. Opened as `NAME` is (beneath the dir, regular, capped).
/// `dirfd` is the open dir at `dir`, listed as `names`; `None`: no `NAME.age` to read (the caller
/// then tries the plain `NAME`).
fn sealed(
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

//! `secret-init vault ...`: create and edit a bundle file (runqy's `vault` commands, plus `rekey`).
//!
//! Every command that reads or writes values first checks the master key against the file's key
//! check, so a wrong key can never add entries sealed under a second key. Every change is written
//! through the same atomic writer as secret files (private staging file, 0600, fsync, rename, dir
//! fsync): a reader, or a crash, sees the old file or the new one, never half of either. Secret
//! values reach stdout only through `get`; `show` masks them. The help texts and the option
//! parser are `args.rs`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::fcntl::Flock;

use crate::bundle::format::{self, Bundle, Vault, WrappedKey};
use crate::bundle::seal::MasterKey;
use crate::cli::Opt;
use crate::deliver::file::{self, WriteOptions};
use crate::environ::Environ;
use crate::error::{Error, Errors, Kind};
use crate::plan::FileDelivery;
use crate::secret::Secret;
use crate::source::bundle::{bundle_key, bundle_kms_key};
use crate::source::kms::KmsClients;
use args::{Args, HELP, parse, usage, verb_help};

mod args;

/// Largest value `set` reads from stdin or the command line.
pub(crate) const MAX_VALUE_BYTES: u64 = 1024 * 1024;

/// The writers' lock on a bundle's directory; none while the directory does not exist yet.
type Lock = Option<Flock<OwnedFd>>;

struct Ctx {
    args: Args,
    env: Environ,
}

impl Ctx {
    fn file(&self) -> Result<PathBuf, Error> {
        let raw = match &self.args.file {
            Some(p) => {
                if self.args.old_file_flag {
                    crate::log::warn!(
                        "--file is now --bundle (as in runs); the old name still works"
                    );
                }
                p.clone()
            }
            None => match self.bundle_env()? {
                Some(v) => PathBuf::from(v),
                None => {
                    return Err(usage(
                        "no bundle file: give --bundle PATH or set SECRET_INIT_BUNDLE",
                    ));
                }
            },
        };
        if raw
            .to_str()
            .is_some_and(|r| r.starts_with("https://") || r.starts_with("http://"))
        {
            return Err(usage(
                "bundle commands edit a local file; a URL bundle is read-only (--bundle PATH)",
            ));
        }
        std::path::absolute(&raw).map_err(|e| {
            Error::new(
                Kind::Usage,
                format!("{}: {}", raw.display(), crate::error::io_text(&e)),
            )
        })
    }

    /// The bundle file from the environment: `SECRET_INIT_BUNDLE` (the name runs read), else the
    /// old `SECRET_INIT_VAULT_FILE` with a warning.
    fn bundle_env(&self) -> Result<Option<&std::ffi::OsStr>, Error> {
        if let Some(v) = self
            .env
            .get(&Opt::Bundle.env_twin())
            .filter(|v| !v.is_empty())
        {
            return Ok(Some(v));
        }
        let old = self
            .env
            .get("SECRET_INIT_VAULT_FILE")
            .filter(|v| !v.is_empty());
        if old.is_some() {
            crate::log::warn!(
                "SECRET_INIT_VAULT_FILE is now SECRET_INIT_BUNDLE (as in runs); the old name still works"
            );
        }
        Ok(old)
    }

    /// The master key file given (`--master-key-file`, `SECRET_INIT_MASTER_KEY_FILE`), if any.
    fn key_file(&self) -> Option<PathBuf> {
        match &self.args.key_file {
            Some(p) => Some(p.clone()),
            None => self
                .env
                .get(&Opt::MasterKeyFile.env_twin())
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        }
    }

    fn key(&self) -> Result<MasterKey, Error> {
        crate::bundle::load_master_key(&self.env, self.key_file().as_deref())
    }

    /// The KMS key trusted to wrap the bundle's data key: `--kms` (except for `rekey`, where it
    /// names the new key), else `SECRET_INIT_BUNDLE_KMS`.
    fn trusted_kms(&self) -> Option<String> {
        let from_flag = match self.args.words[0].as_str() {
            "rekey" => None,
            _ => self.args.kms.clone(),
        };
        from_flag.or_else(|| self.env.text(&Opt::BundleKms.env_twin()))
    }

    /// The KMS clients, from the environment alone (`AWS_*`, `VAULT_*`, ...): the bundle
    /// commands read no config file.
    fn kms(&self) -> Result<KmsClients, Error> {
        let inv = crate::cli::Invocation::new(crate::cli::Command::Bundle {
            args: Vec::new(),
            alias: false,
        });
        let settings = crate::source::registry::SourceSettings::resolve(
            &inv,
            &self.env,
            &crate::source::registry::FileSections::default(),
            false,
            None,
        )?;
        Ok(settings.kms(&self.env, &crate::source::Outputs::new([]), None))
    }

    /// The key that opens `b`: its KMS-wrapped data key (the KMS key trusted), else the master
    /// key given.
    fn key_for(&self, b: &Bundle, src: &str) -> Result<MasterKey, Error> {
        if b.wrapped_key.is_none() && self.trusted_kms().is_none() {
            return self.key();
        }
        bundle_key(
            b,
            self.trusted_kms().as_deref(),
            || self.key(),
            &self.kms()?,
            src,
        )
    }

    /// A new random data key wrapped by the KMS key `spec`.
    fn new_wrapped_key(&self, spec: &str) -> Result<(MasterKey, WrappedKey), Error> {
        let key = bundle_kms_key(spec).map_err(|why| usage(format!("--kms: {why}")))?;
        let raw = MasterKey::generate_raw().map_err(|e| Error::new(Kind::CantCreate, e.0))?;
        let wrapped = crate::source::kms::wrap(&key, raw.as_ref(), &self.kms()?)?;
        let master =
            MasterKey::from_bytes(raw.as_ref()).map_err(|e| Error::new(Kind::Data, e.0))?;
        crate::log::info!("a new data key, wrapped by kms {key}");
        Ok((
            master,
            WrappedKey {
                kms: spec.to_string(),
                wrapped,
            },
        ))
    }

    fn allow_shared_dir(&self) -> bool {
        self.args.allow_shared_dir
            || self
                .env
                .get(&Opt::AllowSharedDir.env_twin())
                .is_some_and(|v| crate::cli::merge::parse_bool(&v.to_string_lossy()) == Some(true))
    }

    /// Reads the bundle, finds its key and checks it against the bundle.
    fn open(&self) -> Result<(MasterKey, PathBuf, Bundle), Error> {
        let (path, b) = self.read()?;
        let src = path.display().to_string();
        let key = self.key_for(&b, &src)?;
        b.check_key(&key, &src)?;
        Ok((key, path, b))
    }

    fn read(&self) -> Result<(PathBuf, Bundle), Error> {
        let path = self.file()?;
        let src = path.display().to_string();
        let bytes = format::read_file(&path).map_err(|e| {
            if e.kind == Kind::Unavailable {
                Error::new(
                    Kind::Unavailable,
                    "no such bundle file (create a vault first)",
                )
                .with_source(src.clone())
            } else {
                e
            }
        })?;
        Ok((path, Bundle::parse(&bytes, &src)?))
    }

    /// The bundle opened for a change: the key checked against it, and the writers' [`lock`]
    /// held until the command ends.
    ///
    /// [`lock`]: Ctx::lock
    fn edit(&self) -> Result<(MasterKey, Lock, PathBuf, Bundle), Error> {
        let lock = self.lock()?;
        let (key, path, b) = self.open()?;
        Ok((key, lock, path, b))
    }

    /// Serializes the writers of one bundle: an exclusive `flock` on its directory, held until
    /// the command ends. Each change reads, edits and replaces the whole file, so without it two
    /// `vault set` at once would lose one update. Readers need no lock: every replace is atomic.
    fn lock(&self) -> Result<Lock, Error> {
        use nix::fcntl::{FlockArg, OFlag};
        let path = self.file()?;
        let dir = path.parent().unwrap_or(Path::new("/"));
        let fd = match nix::fcntl::open(
            dir,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        ) {
            Ok(fd) => fd,
            // Not there yet: the writer creates it; there is no earlier bundle to race over.
            Err(nix::errno::Errno::ENOENT) => return Ok(None),
            Err(e) => {
                return Err(Error::new(
                    Kind::CantCreate,
                    format!("cannot open {} to lock it: {}", dir.display(), e.desc()),
                ));
            }
        };
        Flock::lock(fd, FlockArg::LockExclusive)
            .map(Some)
            .map_err(|(_, e)| {
                Error::new(
                    Kind::CantCreate,
                    format!("cannot lock {}: {}", dir.display(), e.desc()),
                )
            })
    }

    fn save(&self, path: &Path, b: &Bundle) -> Result<(), Error> {
        write_private(path, b.to_json(), self.allow_shared_dir())
    }

    fn words(&self, n: std::ops::RangeInclusive<usize>, form: &str) -> Result<&[String], Error> {
        let w = &self.args.words[1..];
        if !n.contains(&w.len()) {
            return Err(usage(format!("expected: secret-init bundle {form}")));
        }
        for (i, word) in w.iter().enumerate() {
            // Vault names and keys follow the secret-name rule; a value (3rd word of set) is free.
            if i < 2 {
                let what = if i == 0 { "vault name" } else { "entry key" };
                format::check_name(what, word).map_err(|why| Error::new(Kind::Usage, why))?;
            }
        }
        Ok(w)
    }
}

/// Writes `bytes` to `path` atomically with mode 0600 (the secret-file writer).
pub(crate) fn write_private(
    path: &Path,
    bytes: Vec<u8>,
    allow_shared_dir: bool,
) -> Result<(), Error> {
    let delivery = FileDelivery {
        secret: path.file_name().map_or_else(
            || "bundle".to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        path: path.to_path_buf(),
        content: Secret::new(bytes),
        mode: 0o600,
        owner: None,
    };
    let opts = WriteOptions {
        allow_shared_dir,
        trusted_uids: Vec::new(),
        durable: true,
        // A bundle edit is the user's own input, not a delivery.
        record: None,
    };
    file::publish(std::slice::from_ref(&delivery), &opts, || None).map(|_| ())
}

fn print(bytes: &[u8]) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| {
            Error::new(
                Kind::CantCreate,
                format!("stdout: {}", crate::error::io_text(&e)),
            )
        })
}

fn all(errors: Vec<Error>) -> Errors {
    Errors(errors)
}

/// Runs `secret-init bundle ARGS...`.
pub(crate) fn run(args: Vec<OsString>, env: Environ) -> Result<u8, Errors> {
    let args = parse(args)?;
    if let Some(text) = args
        .words
        .first()
        .filter(|_| args.help)
        .and_then(|v| verb_help(v))
    {
        print(text.as_bytes())?;
        return Ok(0);
    }
    if args.help || args.words.is_empty() {
        print(HELP.as_bytes())?;
        return if args.help {
            Ok(0)
        } else {
            Err(usage("no bundle verb given").into())
        };
    }
    let c = Ctx { args, env };
    match c.args.words[0].as_str() {
        "keygen" => keygen(&c),
        "create" => create(&c),
        "set" => set(&c),
        "unset" => unset(&c),
        "show" => show(&c),
        "get" => get(&c),
        "list" => list(&c),
        "delete" => delete(&c),
        "rekey" => rekey(&c),
        other => Err(usage(format!(
            "unknown bundle verb \"{}\"",
            crate::log::escape_controls(other)
        ))
        .into()),
    }
}

fn keygen(c: &Ctx) -> Result<u8, Errors> {
    c.words(0..=0, "keygen [--output PATH]")?;
    let key = MasterKey::generate_base64().map_err(|e| Error::new(Kind::CantCreate, e.0))?;
    let mut line = zeroize::Zeroizing::new(key.as_bytes().to_vec());
    line.push(b'\n');
    match &c.args.output {
        None => print(&line)?,
        Some(p) => {
            let p = std::path::absolute(p)
                .map_err(|e| Error::new(Kind::Usage, crate::error::io_text(&e)))?;
            // Overwriting a key would make everything sealed under it unrecoverable.
            if p.symlink_metadata().is_ok() {
                return Err(Error::new(
                    Kind::CantCreate,
                    "exists; refusing to overwrite a master key",
                )
                .with_source(p.display().to_string())
                .into());
            }
            write_private(&p, line.to_vec(), c.allow_shared_dir())?;
            crate::log::info!("wrote a new master key to {} (mode 0600)", p.display());
        }
    }
    Ok(0)
}

fn create(c: &Ctx) -> Result<u8, Errors> {
    let w = c.words(1..=1, "create NAME [-d DESCRIPTION] [--kms KEY]")?;
    let _lock = c.lock()?;
    let exists = match c.read() {
        Ok(_) => true,
        Err(e) if e.kind == Kind::Unavailable => false,
        Err(e) => return Err(e.into()),
    };
    let (path, mut b) = if exists {
        let (_, path, b) = c.open()?;
        (path, b)
    } else {
        let b = match &c.args.kms {
            Some(spec) => {
                let (key, wrapped) = c.new_wrapped_key(spec)?;
                Bundle::new(&key, Some(wrapped))?
            }
            None => Bundle::new(&c.key()?, None)?,
        };
        (c.file()?, b)
    };
    if b.vaults.contains_key(&w[0]) {
        return Err(
            Error::new(Kind::Data, format!("vault \"{}\" already exists", w[0]))
                .with_source(path.display().to_string())
                .into(),
        );
    }
    let now = format::now_rfc3339();
    b.vaults.insert(
        w[0].clone(),
        Vault {
            description: c.args.description.clone().unwrap_or_default(),
            created: now.clone(),
            updated: now,
            entries: BTreeMap::new(),
        },
    );
    c.save(&path, &b)?;
    crate::log::info!("created vault \"{}\" in {}", w[0], path.display());
    Ok(0)
}

fn read_value(word: Option<&String>, allow_empty: bool) -> Result<Secret, Error> {
    match word.map(String::as_str) {
        Some("-") | None => {
            let buf = crate::fsx::read_secret(std::io::stdin().lock(), MAX_VALUE_BYTES, 0)
                .map_err(|e| {
                    Error::new(Kind::Data, format!("stdin: {}", crate::error::io_text(&e)))
                })?
                .ok_or_else(|| {
                    Error::new(
                        Kind::Data,
                        format!("value on stdin exceeds {MAX_VALUE_BYTES} bytes"),
                    )
                })?;
            // An empty stdin is far more often a pipe that produced nothing (an unset variable,
            // a failed command) than a value someone meant to store.
            if buf.is_empty() && !allow_empty {
                return Err(Error::new(
                    Kind::Data,
                    "stdin is empty; refusing to store an empty value (--allow-empty to mean it)",
                ));
            }
            Ok(buf)
        }
        Some(v) => Ok(Secret::new(v.as_bytes().to_vec())),
    }
}

fn set(c: &Ctx) -> Result<u8, Errors> {
    let w = c.words(
        2..=3,
        "set NAME KEY [VALUE|-] [--no-secret] [--allow-empty]",
    )?;
    let (key, _lock, path, mut b) = c.edit()?;
    let src = path.display().to_string();
    b.vault(&w[0], &src)?;
    let value = read_value(w.get(2), c.args.allow_empty)?;
    b.set(
        &key,
        &w[0],
        &w[1],
        value.expose(),
        !c.args.no_secret,
        &format::now_rfc3339(),
    )
    .map_err(|e| e.with_source(src))?;
    c.save(&path, &b)?;
    crate::log::info!(
        "set {} ({} bytes)",
        format::entry_label(&w[0], &w[1]),
        value.len()
    );
    Ok(0)
}

fn unset(c: &Ctx) -> Result<u8, Errors> {
    let w = c.words(2..=2, "unset NAME KEY")?;
    let (_, _lock, path, mut b) = c.edit()?;
    let src = path.display().to_string();
    b.vault(&w[0], &src)?;
    let now = format::now_rfc3339();
    let v = b
        .vaults
        .get_mut(&w[0])
        .ok_or_else(|| Error::new(Kind::Unavailable, "vanished"))?;
    if v.entries.remove(&w[1]).is_none() {
        return Err(Error::new(
            Kind::Unavailable,
            format!("{} does not exist", format::entry_label(&w[0], &w[1])),
        )
        .with_source(src)
        .into());
    }
    v.updated = now;
    c.save(&path, &b)?;
    Ok(0)
}

fn show(c: &Ctx) -> Result<u8, Errors> {
    let w = c.words(1..=1, "show NAME")?;
    let (key, path, b) = c.open()?;
    let src = path.display().to_string();
    let v = b.vault(&w[0], &src)?;
    let opened = b.open_vault(&key, &w[0], &src).map_err(all)?;
    let mut rows = vec![["KEY".to_string(), "VALUE".to_string(), "SECRET".to_string()]];
    for o in &opened {
        let value = if o.secret {
            o.value.masked()
        } else {
            crate::log::escape_controls(&String::from_utf8_lossy(o.value.expose()))
        };
        rows.push([
            o.key.clone(),
            value,
            if o.secret { "yes" } else { "no" }.to_string(),
        ]);
    }
    let esc = |s: &str| crate::log::escape_controls(s);
    let mut out = format!(
        "Vault: {}\nDescription: {}\nCreated: {}\nUpdated: {}\n\nEntries ({}):\n",
        w[0],
        esc(&v.description),
        esc(&v.created),
        esc(&v.updated),
        opened.len()
    );
    out.push_str(&super::columns(&rows));
    print(out.as_bytes())?;
    Ok(0)
}

fn get(c: &Ctx) -> Result<u8, Errors> {
    let w = c.words(2..=2, "get NAME KEY")?;
    let (key, path, b) = c.open()?;
    let src = path.display().to_string();
    let v = b.vault(&w[0], &src)?;
    let entry = v.entries.get(&w[1]).ok_or_else(|| {
        Error::new(
            Kind::Unavailable,
            format!("{} does not exist", format::entry_label(&w[0], &w[1])),
        )
        .with_source(src.clone())
    })?;
    let value = Bundle::open_entry(&key, &w[0], &w[1], entry).map_err(|e| {
        Error::new(
            Kind::Data,
            format!("{}: {e}", format::entry_label(&w[0], &w[1])),
        )
        .with_source(src.clone())
    })?;
    print(value.expose())?;
    Ok(0)
}

fn list(c: &Ctx) -> Result<u8, Errors> {
    c.words(0..=0, "list")?;
    // Names, counts and descriptions are not sealed: listing needs no key.
    let (_, b) = c.read()?;
    let mut rows = vec![[
        "NAME".to_string(),
        "ENTRIES".to_string(),
        "UPDATED".to_string(),
        "DESCRIPTION".to_string(),
    ]];
    for (name, v) in &b.vaults {
        rows.push([
            name.clone(),
            v.entries.len().to_string(),
            crate::log::escape_controls(&v.updated),
            crate::log::escape_controls(&v.description),
        ]);
    }
    print(super::columns(&rows).as_bytes())?;
    Ok(0)
}

fn delete(c: &Ctx) -> Result<u8, Errors> {
    let w = c.words(1..=1, "delete NAME")?;
    let (_, _lock, path, mut b) = c.edit()?;
    if b.vaults.remove(&w[0]).is_none() {
        return Err(
            Error::new(Kind::Unavailable, format!("no vault named \"{}\"", w[0]))
                .with_source(path.display().to_string())
                .into(),
        );
    }
    c.save(&path, &b)?;
    crate::log::info!("deleted vault \"{}\"", w[0]);
    Ok(0)
}

/// `rekey --kms KEY`: every entry re-sealed under a new random data key, which KEY wraps.
fn rekey_kms(c: &Ctx, spec: &str) -> Result<u8, Errors> {
    let _lock = c.lock()?;
    let (old, path, b) = c.open()?;
    let src = path.display().to_string();
    let (new, wrapped) = c.new_wrapped_key(spec)?;
    let fresh = b.rekey(&old, &new, Some(wrapped), &src).map_err(all)?;
    c.save(&path, &fresh)?;
    let n: usize = fresh.vaults.values().map(|v| v.entries.len()).sum();
    crate::log::info!(
        "re-sealed {n} entries under a new data key wrapped by kms {spec} in {src}; the old key no longer opens it"
    );
    Ok(0)
}

fn rekey(c: &Ctx) -> Result<u8, Errors> {
    c.words(
        0..=0,
        "rekey --new-key-file PATH [--write-key-file] | rekey --kms KEY",
    )?;
    if let Some(spec) = c.args.kms.clone() {
        if c.args.new_key_file.is_some() || c.args.write_key_file {
            return Err(usage("rekey takes --kms KEY or --new-key-file PATH, not both").into());
        }
        return rekey_kms(c, &spec);
    }
    let new_file = c
        .args
        .new_key_file
        .as_deref()
        .ok_or_else(|| usage("rekey needs --new-key-file PATH or --kms KEY"))?;
    // Checked before anything changes: the key to replace must be a file.
    let key_file = match (c.args.write_key_file, c.key_file()) {
        (false, _) => None,
        (true, Some(f)) => Some(std::path::absolute(&f).map_err(|e| {
            Error::new(Kind::Usage, crate::error::io_text(&e)).with_source(f.display().to_string())
        })?),
        (true, None) => {
            return Err(usage(
                "--write-key-file replaces the --master-key-file; the current key is not in a file",
            )
            .into());
        }
    };
    let new = crate::bundle::read_key_file(new_file)?;
    let _lock = c.lock()?;
    let (old, path, b) = c.open()?;
    let src = path.display().to_string();
    if b.wrapped_key.is_none() && b.check_key(&new, &src).is_ok() {
        return Err(Error::new(Kind::Usage, "the new key is the current key").into());
    }
    // Everything is re-sealed in memory first; one atomic replace publishes it, so a failure at
    // any step leaves the old file as it was.
    let fresh = b.rekey(&old, &new, None, &src).map_err(all)?;
    c.save(&path, &fresh)?;
    let n: usize = fresh.vaults.values().map(|v| v.entries.len()).sum();
    crate::log::info!(
        "re-sealed {n} entries under the new key in {src}; the old key no longer opens it"
    );
    match key_file {
        Some(kf) => {
            // The new key file was read and checked above; it is copied byte for byte.
            let bytes = match crate::fsx::read_file(new_file, crate::bundle::MAX_KEY_FILE_BYTES) {
                Ok(Some(b)) => b,
                Ok(None) => {
                    return Err(Error::new(Kind::Unavailable, "the new key file is gone")
                        .with_source(new_file.display().to_string())
                        .into());
                }
                Err(e) => {
                    return Err(Error::new(e.kind(Kind::Data), e.text())
                        .with_source(new_file.display().to_string())
                        .into());
                }
            };
            write_private(&kf, bytes.expose().to_vec(), c.allow_shared_dir()).map_err(|e| {
                Error::new(
                    e.kind,
                    format!(
                        "the bundle is re-sealed but the key file was not replaced ({}); \
                         use the new key file from now on",
                        e.what
                    ),
                )
                .with_source(kf.display().to_string())
            })?;
            crate::log::info!("replaced {} with the new key (mode 0600)", kf.display());
        }
        None => crate::log::info!(
            "point --master-key-file (or SECRET_INIT_MASTER_KEY) at the new key, or pass --write-key-file next time"
        ),
    }
    Ok(0)
}

//! `secret-init vault ...`: create and edit a bundle file (runqy's `vault` commands, plus `rekey`).
//!
//! Every command that reads or writes values first checks the master key against the file's key
//! check, so a wrong key can never add entries sealed under a second key. Every change is written
//! through the same atomic writer as secret files (private staging file, 0600, fsync, rename, dir
//! fsync): a reader, or a crash, sees the old file or the new one, never half of either. Secret
//! values reach stdout only through `get`; `show` masks them.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::bundle::format::{self, Bundle, Vault};
use crate::bundle::seal::MasterKey;
use crate::cli::Opt;
use crate::deliver::file::{self, WriteOptions};
use crate::environ::Environ;
use crate::error::{Error, Errors, Kind};
use crate::plan::FileDelivery;
use crate::secret::Secret;

/// Largest value `set` reads from stdin or the command line.
pub const MAX_VALUE_BYTES: u64 = 1024 * 1024;

/// The help text of `secret-init bundle`.
pub const HELP: &str = "\
secret-init bundle: manage an encrypted bundle (AES-256-GCM vaults, docs/bundle.md)

USAGE:
    secret-init bundle keygen [--output PATH]          print (or write, 0600) a new base64 master key
    secret-init bundle create NAME [-d DESCRIPTION]    add an empty vault (creates the file)
    secret-init bundle set NAME KEY [VALUE|-] [--no-secret] [--allow-empty]
                                                       seal a value; '-' or no VALUE reads stdin
    secret-init bundle unset NAME KEY                  remove an entry
    secret-init bundle show NAME                       table of entries, secret values masked
    secret-init bundle get NAME KEY                    print one decrypted value, byte-exact
    secret-init bundle list                            vaults with entry counts
    secret-init bundle delete NAME                     remove a vault and its entries
    secret-init bundle rekey --new-key-file PATH [--write-key-file]
                                                       re-seal every entry under a new key
    secret-init bundle VERB --help                     one verb's options and an example
    (`secret-init vault ...` is the old name and still works, with a warning.)

OPTIONS (after the verb):
    --bundle PATH            the bundle file                env: SECRET_INIT_BUNDLE
                             (--file and SECRET_INIT_VAULT_FILE: old names, still read, with a warning)
    --master-key-file PATH   base64 master key file         env: SECRET_INIT_MASTER_KEY_FILE
                             (or the key itself in SECRET_INIT_MASTER_KEY)
    --allow-shared-dir       permit a bundle dir other users can write to
                                                            env: SECRET_INIT_ALLOW_SHARED_DIR
    -h, --help               this text

EXIT CODES:
    64 usage; 65 wrong key, tampered or invalid bundle, empty value; 69 no such file, vault or entry;
    73 cannot write the bundle; 78 no master key
";

const BUNDLE_OPT: &str = "    --bundle PATH            the bundle file [env: SECRET_INIT_BUNDLE]\n";
const KEY_OPT: &str = "    --master-key-file PATH   base64 master key file [env: SECRET_INIT_MASTER_KEY_FILE;\n                             or the key itself in SECRET_INIT_MASTER_KEY]\n";
const SHARED_OPT: &str =
    "    --allow-shared-dir       permit a bundle dir other users can write to\n";

/// One verb's help: usage, what it does, its own options, and an example.
struct VerbHelp {
    verb: &'static str,
    usage: &'static str,
    about: &'static str,
    options: &'static [&'static str],
    example: &'static str,
}

const VERB_HELP: &[VerbHelp] = &[
    VerbHelp {
        verb: "keygen",
        usage: "secret-init bundle keygen [--output PATH]",
        about: "Make a new random 256-bit master key, base64; printed, or written 0600 to a new file.",
        options: &[
            "    --output PATH            write the key there (refuses to overwrite a file)\n",
            SHARED_OPT,
        ],
        example: "secret-init bundle keygen --output ~/.truss/master.key",
    },
    VerbHelp {
        verb: "create",
        usage: "secret-init bundle create NAME [-d DESCRIPTION]",
        about: "Add an empty vault NAME; creates the bundle file when there is none.",
        options: &[
            "    -d, --description TEXT   what the vault is for (not sealed)\n",
            BUNDLE_OPT,
            KEY_OPT,
            SHARED_OPT,
        ],
        example: "secret-init bundle create prod -d \"production API keys\" --bundle bundle.json",
    },
    VerbHelp {
        verb: "set",
        usage: "secret-init bundle set NAME KEY [VALUE|-] [--no-secret] [--allow-empty]",
        about: "Seal VALUE as entry KEY of vault NAME. Without VALUE, or with '-', the value is read\n\
                from stdin (keeps it off the command line); empty stdin is refused.",
        options: &[
            "    --no-secret              store it as a plain setting (shown unmasked by show)\n",
            "    --allow-empty            store an empty value from stdin on purpose\n",
            BUNDLE_OPT,
            KEY_OPT,
            SHARED_OPT,
        ],
        example: "printf %s \"$TOKEN\" | secret-init bundle set prod hf_access_token --bundle bundle.json",
    },
    VerbHelp {
        verb: "unset",
        usage: "secret-init bundle unset NAME KEY",
        about: "Remove entry KEY from vault NAME.",
        options: &[BUNDLE_OPT, KEY_OPT, SHARED_OPT],
        example: "secret-init bundle unset prod old_token",
    },
    VerbHelp {
        verb: "show",
        usage: "secret-init bundle show NAME",
        about: "A table of vault NAME's entries; secret values are masked.",
        options: &[BUNDLE_OPT, KEY_OPT],
        example: "secret-init bundle show prod",
    },
    VerbHelp {
        verb: "get",
        usage: "secret-init bundle get NAME KEY",
        about: "Print one decrypted value, byte-exact, on stdout.",
        options: &[BUNDLE_OPT, KEY_OPT],
        example: "secret-init bundle get prod hf_access_token > token",
    },
    VerbHelp {
        verb: "list",
        usage: "secret-init bundle list",
        about: "The vaults with their entry counts and descriptions; needs no key.",
        options: &[BUNDLE_OPT],
        example: "secret-init bundle list --bundle bundle.json",
    },
    VerbHelp {
        verb: "delete",
        usage: "secret-init bundle delete NAME",
        about: "Remove vault NAME and all its entries.",
        options: &[BUNDLE_OPT, KEY_OPT, SHARED_OPT],
        example: "secret-init bundle delete staging",
    },
    VerbHelp {
        verb: "rekey",
        usage: "secret-init bundle rekey --new-key-file PATH [--write-key-file]",
        about: "Re-seal every entry under the key in PATH, in one atomic replace. The old key then no\n\
                longer opens the bundle: with --write-key-file the --master-key-file is replaced\n\
                (atomically, 0600) by the new key once the bundle is rewritten.",
        options: &[
            "    --new-key-file PATH      the new base64 key (make one with keygen --output)\n",
            "    --write-key-file         then replace the --master-key-file with the new key\n",
            BUNDLE_OPT,
            KEY_OPT,
            SHARED_OPT,
        ],
        example: "secret-init bundle keygen --output new.key &&\n    secret-init bundle rekey --new-key-file new.key --master-key-file master.key --write-key-file",
    },
];

fn verb_help(verb: &str) -> Option<String> {
    let v = VERB_HELP.iter().find(|v| v.verb == verb)?;
    let mut out = format!(
        "secret-init bundle {}: {}\n\nUSAGE:\n    {}\n\nOPTIONS:\n",
        v.verb, v.about, v.usage
    );
    for o in v.options {
        out.push_str(o);
    }
    out.push_str(&format!(
        "    -h, --help               this text\n\nEXAMPLE:\n    {}\n",
        v.example
    ));
    Some(out)
}

struct Args {
    words: Vec<String>,
    file: Option<PathBuf>,
    /// The file was named by the old `--file`.
    old_file_flag: bool,
    key_file: Option<PathBuf>,
    new_key_file: Option<PathBuf>,
    output: Option<PathBuf>,
    description: Option<String>,
    no_secret: bool,
    allow_empty: bool,
    write_key_file: bool,
    allow_shared_dir: bool,
    help: bool,
}

fn usage(what: impl Into<String>) -> Error {
    Error::new(
        Kind::Usage,
        format!("{} (see secret-init bundle VERB --help)", what.into()),
    )
}

fn parse(args: Vec<OsString>) -> Result<Args, Error> {
    use lexopt::Arg;
    let mut p = lexopt::Parser::from_args(args);
    let mut a = Args {
        words: Vec::new(),
        file: None,
        old_file_flag: false,
        key_file: None,
        new_key_file: None,
        output: None,
        description: None,
        no_secret: false,
        allow_empty: false,
        write_key_file: false,
        allow_shared_dir: false,
        help: false,
    };
    let text = |v: OsString, what: &str| {
        v.into_string()
            .map_err(|_| usage(format!("{what} is not valid UTF-8")))
    };
    while let Some(arg) = p.next().map_err(|e| usage(e.to_string()))? {
        let path = |p: &mut lexopt::Parser, o: &str| {
            p.value()
                .map(PathBuf::from)
                .map_err(|_| usage(format!("{o} needs a value")))
        };
        match arg {
            Arg::Short('h') | Arg::Long("help") => a.help = true,
            Arg::Long("bundle") => a.file = Some(path(&mut p, "--bundle")?),
            Arg::Long("file") => {
                a.file = Some(path(&mut p, "--file")?);
                a.old_file_flag = true;
            }
            Arg::Long("master-key-file") => a.key_file = Some(path(&mut p, "--master-key-file")?),
            Arg::Long("new-key-file") => a.new_key_file = Some(path(&mut p, "--new-key-file")?),
            Arg::Long("output") => a.output = Some(path(&mut p, "--output")?),
            Arg::Short('d') | Arg::Long("description") => {
                let v = p.value().map_err(|_| usage("-d needs a description"))?;
                a.description = Some(text(v, "the description")?);
            }
            Arg::Long("no-secret") => a.no_secret = true,
            Arg::Long("allow-empty") => a.allow_empty = true,
            Arg::Long("write-key-file") => a.write_key_file = true,
            Arg::Long("allow-shared-dir") => a.allow_shared_dir = true,
            // `-` alone is a value (stdin), which lexopt reports as a value already.
            Arg::Value(v) => a.words.push(text(v, "an argument")?),
            Arg::Short(c) => return Err(usage(format!("unknown option -{c}"))),
            Arg::Long(o) => return Err(usage(format!("unknown option --{o}"))),
        }
    }
    Ok(a)
}

struct Ctx {
    args: Args,
    env: Environ,
}

impl Ctx {
    fn file(&self) -> Result<PathBuf, Error> {
        let raw = match &self.args.file {
            Some(p) => {
                if self.args.old_file_flag {
                    crate::warn!("--file is now --bundle (as in runs); the old name still works");
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
            crate::warn!(
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

    fn allow_shared_dir(&self) -> bool {
        self.args.allow_shared_dir
            || self
                .env
                .get(&Opt::AllowSharedDir.env_twin())
                .is_some_and(|v| crate::cli::merge::parse_bool(&v.to_string_lossy()) == Some(true))
    }

    /// Reads the bundle and checks the key against it.
    fn open(&self, key: &MasterKey) -> Result<(PathBuf, Bundle), Error> {
        let (path, b) = self.read()?;
        b.check_key(key, &path.display().to_string())?;
        Ok((path, b))
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

    /// Serializes the writers of one bundle: an exclusive `flock` on its directory, held until
    /// the command ends. Each change reads, edits and replaces the whole file, so without it two
    /// `vault set` at once would lose one update. Readers need no lock: every replace is atomic.
    fn lock(&self) -> Result<Option<nix::fcntl::Flock<std::os::fd::OwnedFd>>, Error> {
        use nix::fcntl::{Flock, FlockArg, OFlag};
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
pub fn write_private(path: &Path, bytes: Vec<u8>, allow_shared_dir: bool) -> Result<(), Error> {
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
pub fn run(args: Vec<OsString>, env: Environ) -> Result<u8, Errors> {
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
            crate::info!("wrote a new master key to {} (mode 0600)", p.display());
        }
    }
    Ok(0)
}

fn create(c: &Ctx) -> Result<u8, Errors> {
    let w = c.words(1..=1, "create NAME [-d DESCRIPTION]")?;
    let key = c.key()?;
    let _lock = c.lock()?;
    let (path, mut b) = match c.open(&key) {
        Ok(pb) => pb,
        Err(e) if e.kind == Kind::Unavailable => (c.file()?, Bundle::new(&key)?),
        Err(e) => return Err(e.into()),
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
    crate::info!("created vault \"{}\" in {}", w[0], path.display());
    Ok(0)
}

fn read_value(word: Option<&String>, allow_empty: bool) -> Result<Secret, Error> {
    match word.map(String::as_str) {
        Some("-") | None => {
            let mut buf = zeroize::Zeroizing::new(Vec::new());
            std::io::stdin()
                .lock()
                .take(MAX_VALUE_BYTES + 1)
                .read_to_end(&mut buf)
                .map_err(|e| {
                    Error::new(Kind::Data, format!("stdin: {}", crate::error::io_text(&e)))
                })?;
            if buf.len() as u64 > MAX_VALUE_BYTES {
                return Err(Error::new(
                    Kind::Data,
                    format!("value on stdin exceeds {MAX_VALUE_BYTES} bytes"),
                ));
            }
            // An empty stdin is far more often a pipe that produced nothing (an unset variable,
            // a failed command) than a value someone meant to store.
            if buf.is_empty() && !allow_empty {
                return Err(Error::new(
                    Kind::Data,
                    "stdin is empty; refusing to store an empty value (--allow-empty to mean it)",
                ));
            }
            Ok(Secret::new(std::mem::take(&mut *buf)))
        }
        Some(v) => Ok(Secret::new(v.as_bytes().to_vec())),
    }
}

fn set(c: &Ctx) -> Result<u8, Errors> {
    let w = c.words(
        2..=3,
        "set NAME KEY [VALUE|-] [--no-secret] [--allow-empty]",
    )?;
    let key = c.key()?;
    let _lock = c.lock()?;
    let (path, mut b) = c.open(&key)?;
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
    crate::info!(
        "set {} ({} bytes)",
        format::entry_label(&w[0], &w[1]),
        value.len()
    );
    Ok(0)
}

fn unset(c: &Ctx) -> Result<u8, Errors> {
    let w = c.words(2..=2, "unset NAME KEY")?;
    let key = c.key()?;
    let _lock = c.lock()?;
    let (path, mut b) = c.open(&key)?;
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
    let key = c.key()?;
    let (path, b) = c.open(&key)?;
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
    out.push_str(&columns(&rows));
    print(out.as_bytes())?;
    Ok(0)
}

fn columns<const N: usize>(rows: &[[String; N]]) -> String {
    let mut width = [0usize; N];
    for r in rows {
        for (w, s) in width.iter_mut().zip(r) {
            *w = (*w).max(s.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, (s, w)) in r.iter().zip(width).enumerate() {
            if i + 1 == N {
                line.push_str(s);
            } else {
                line.push_str(&format!("{s:<w$}  "));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn get(c: &Ctx) -> Result<u8, Errors> {
    let w = c.words(2..=2, "get NAME KEY")?;
    let key = c.key()?;
    let (path, b) = c.open(&key)?;
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
    print(columns(&rows).as_bytes())?;
    Ok(0)
}

fn delete(c: &Ctx) -> Result<u8, Errors> {
    let w = c.words(1..=1, "delete NAME")?;
    let key = c.key()?;
    let _lock = c.lock()?;
    let (path, mut b) = c.open(&key)?;
    if b.vaults.remove(&w[0]).is_none() {
        return Err(
            Error::new(Kind::Unavailable, format!("no vault named \"{}\"", w[0]))
                .with_source(path.display().to_string())
                .into(),
        );
    }
    c.save(&path, &b)?;
    crate::info!("deleted vault \"{}\"", w[0]);
    Ok(0)
}

fn rekey(c: &Ctx) -> Result<u8, Errors> {
    c.words(0..=0, "rekey --new-key-file PATH [--write-key-file]")?;
    let new_file = c
        .args
        .new_key_file
        .as_deref()
        .ok_or_else(|| usage("rekey needs --new-key-file PATH"))?;
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
    let old = c.key()?;
    let new = crate::bundle::read_key_file(new_file)?;
    let _lock = c.lock()?;
    let (path, b) = c.open(&old)?;
    let src = path.display().to_string();
    if b.check_key(&new, &src).is_ok() {
        return Err(Error::new(Kind::Usage, "the new key is the current key").into());
    }
    // Everything is re-sealed in memory first; one atomic replace publishes it, so a failure at
    // any step leaves the old file as it was.
    let fresh = b.rekey(&old, &new, &src).map_err(all)?;
    c.save(&path, &fresh)?;
    let n: usize = fresh.vaults.values().map(|v| v.entries.len()).sum();
    crate::info!(
        "re-sealed {n} entries under the new key in {src}; the old key no longer opens it"
    );
    match key_file {
        Some(kf) => {
            // The new key file was read and checked above; it is copied byte for byte.
            let mut bytes = zeroize::Zeroizing::new(std::fs::read(new_file).map_err(|e| {
                Error::new(Kind::Unavailable, crate::error::io_text(&e))
                    .with_source(new_file.display().to_string())
            })?);
            write_private(&kf, std::mem::take(&mut *bytes), c.allow_shared_dir()).map_err(|e| {
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
            crate::info!("replaced {} with the new key (mode 0600)", kf.display());
        }
        None => crate::info!(
            "point --master-key-file (or SECRET_INIT_MASTER_KEY) at the new key, or pass --write-key-file next time"
        ),
    }
    Ok(0)
}

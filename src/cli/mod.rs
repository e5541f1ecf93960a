//! The command line: argv into an [`Invocation`] (a command plus raw option values).
//!
//! Every option is declared once, in the `options!` table below, which makes both the [`Opt`]
//! enum that code names options by (a misspelled option is a compile error) and the [`OPTIONS`]
//! rows that parsing reads. Its env twin is derived from its name (`--output-dir` ↔
//! `SECRET_INIT_OUTPUT_DIR`) and `--help` is generated from the same rows, so an option cannot
//! exist without its twin or its help line. `merge` gives the command line > env twin order and
//! the one boolean spelling; the typed settings are built in `settings.rs` and by each source.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use crate::error::{Error, Kind};

mod help;
pub(crate) mod merge;

#[cfg(test)]
pub(crate) use help::command_names;
pub(crate) use help::{command_help, help};

/// The bundle verbs; `secret-init bundle` is our command only when one of these follows.
pub(crate) const BUNDLE_VERBS: &[&str] = &[
    "keygen", "create", "set", "unset", "show", "get", "list", "delete", "rekey",
];

/// One option: its name, its long spelling, whether it takes a value, and its help line.
pub struct OptSpec {
    /// The option, as code names it.
    pub opt: Opt,
    /// Long name without dashes.
    pub long: &'static str,
    /// Value placeholder for help; `None` for a flag.
    pub value: Option<&'static str>,
    /// Whether it may be given several times (values accumulate).
    pub repeat: bool,
    /// One help line.
    pub help: &'static str,
}

/// Declares every option once: the [`Opt`] enum code names options by (a misspelled option is a
/// compile error) and the [`OPTIONS`] table that parsing, the env twins and `--help` read, in
/// the same order, so `OPTIONS[opt as usize].opt == opt`.
macro_rules! options {
    ($($opt:ident = $long:literal, $value:expr, $repeat:literal, $help:literal;)*) => {
        /// Every option secret-init accepts, by name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Opt {
            $(
                #[doc = concat!("`--", $long, "`")]
                $opt,
            )*
        }

        /// Every option secret-init accepts, in help order (the order of [`Opt`]).
        pub(crate) const OPTIONS: &[OptSpec] = &[
            $(OptSpec { opt: Opt::$opt, long: $long, value: $value, repeat: $repeat, help: $help },)*
        ];
    };
}

options! {
    Config = "config", Some("PATH"), false,
        "Truss config.yaml declaring the secrets [default: ./config.yaml if present]";
    SecretsDir = "secrets-dir", Some("DIR"), true,
        "mounted secrets dir to read <DIR>/<name> from; repeatable; env: colon-separated [default: /secrets:/run/secrets]";
    OutputDir = "output-dir", Some("DIR"), false,
        "where secret files are written, mode 0600 [default: /secrets]";
    EnvPrefix = "env-prefix", Some("PREFIX"), false,
        "env-var source prefix; the name is appended verbatim [default: TRUSS_SECRET_]";
    LocalConfig = "local-config", Some("PATH"), false,
        "developer-machine values (secrets: map) [default: ~/.truss/config.yaml]";
    Bundle = "bundle", Some("LOCATION"), false,
        "encrypted vault bundle: a file path or https:// URL (docs/bundle.md)";
    BundleVaults = "bundle-vaults", Some("NAME"), true,
        "bundle vaults secrets are looked up in, merged in order (later wins); repeatable; env: comma-separated";
    BundleEnvVaults = "bundle-env-vaults", Some("NAME"), true,
        "bundle vaults injected whole as env vars; repeatable; env: comma-separated";
    MasterKeyFile = "master-key-file", Some("PATH"), false,
        "file holding the bundle's base64 master key (else SECRET_INIT_MASTER_KEY)";
    BundleCaCert = "bundle-ca-cert", Some("PATH"), false,
        "PEM CA bundle for an https:// bundle [default: SSL_CERT_FILE, system bundle]";
    BundleKms = "bundle-kms", Some("KEY"), false,
        "the KMS key trusted to wrap the bundle's data key: aws:ARN, gcp:RESOURCE, azure:URL, transit:MOUNT/NAME (docs/bundle.md)";
    Sources = "sources", Some("LIST"), false,
        "source precedence, highest first [default: file,env,vault,aws,gcp,azure,bundle,local,default]";
    MaxSecretBytes = "max-secret-bytes", Some("N"), false,
        "largest secret file read [default: 1048576]";
    AllowDangerousEnv = "allow-dangerous-env", None, false,
        "permit env deliveries into LD_*, PATH, PYTHONPATH and similar";
    AllowSharedDir = "allow-shared-dir", None, false,
        "permit an output dir that other users can write to";
    ScrubEnv = "scrub-env", Some("VAR"), true,
        "also remove VAR from the program's environment; repeatable; env: comma-separated";
    FileEnv = "file-env", Some("VAR"), true,
        "deliver VAR from the file VAR_FILE names (Docker's *_FILE convention); repeatable; env: comma-separated";
    ResolveEnvReferences = "resolve-env-references", None, false,
        "an env var whose whole value is a reference (aws-sm:..., vault:...) reaches the program resolved";
    EnvOnly = "env-only", None, false,
        "deliver by env only: no file is written and no output dir made; a secret without env: goes to the variable of its own name";
    VaultAddr = "vault-addr", Some("URL"), false,
        "Vault/OpenBao address [default: secret_init.vault.address, VAULT_ADDR, BAO_ADDR]";
    VaultCaCert = "vault-ca-cert", Some("PATH"), false,
        "PEM CA bundle for the vault [default: VAULT_CACERT, BAO_CACERT, SSL_CERT_FILE, system bundle]";
    VaultNamespace = "vault-namespace", Some("NS"), false,
        "vault namespace [default: VAULT_NAMESPACE, BAO_NAMESPACE]";
    VaultPath = "vault-path", Some("PATH"), true,
        "KV API path to look secrets up in, e.g. secret/data/app; repeatable, later wins; env: comma-separated";
    VaultTimeout = "vault-timeout", Some("DURATION"), false,
        "per-request timeout for the vault, e.g. 5s, 500ms [default: 5s]";
    VaultDeadline = "vault-deadline", Some("DURATION"), false,
        "overall deadline for all vault requests and retries [default: 30s]";
    VaultRetries = "vault-retries", Some("N"), false,
        "retries on connection errors, 5xx and 429, with backoff and jitter [default: 8]";
    VaultRetryJitter = "vault-retry-jitter", Some("on|off"), false,
        "randomise retry backoff (full jitter) so replicas starting together spread out [default: on]";
    AllowInsecureHttp = "allow-insecure-http", None, false,
        "permit plain http:// to a remote source that is not on loopback (tokens travel in clear)";
    Init = "init", None, false,
        "supervise (forward signals, reap zombies) even when not PID 1, as a child subreaper";
    NoInit = "no-init", None, false,
        "exec the program even as PID 1 (it then gets no signal it has no handler for)";
    ProcessGroup = "process-group", None, false,
        "supervised: run the program in its own process group and forward signals to the whole group";
    GracePeriod = "grace-period", Some("SECONDS"), false,
        "supervised: after the program exits, its leftover descendants get SIGTERM, then SIGKILL after this [default: 5]";
    User = "user", Some("USER[:GROUP]"), false,
        "run the program as this uid/name (image's /etc/passwd, /etc/group); delivered files are owned by it";
    NoRoot = "no-root", None, false,
        "refuse to run the program as uid 0";
    Cleanup = "cleanup", None, false,
        "remove the delivered files when the program exits (implies supervision)";
    Mask = "mask", None, false,
        "replace every delivered secret value (and its base64, URL and JSON forms) in the program's stdout and stderr with a marker (implies supervision; docs/masking.md)";
    NoFallback = "no-fallback", None, false, "do not read or write the fallback snapshot";
    Refresh = "refresh", Some("INTERVAL"), false,
        "live refresh: re-read remote sources every INTERVAL (30s, 5m, 1h; 0 = off) and watch mounted files (implies supervision; docs/refresh.md)";
    OnChange = "on-change", Some("WHAT"), false,
        "after a refresh changed something: signal, restart or none [default: signal]";
    RefreshSignal = "refresh-signal", Some("SIG"), false,
        "the signal --on-change signal sends [default: SIGHUP]";
    LogLevel = "log-level", Some("LEVEL"), false,
        "error|warn|info|debug|trace [default: info]";
    LogFormat = "log-format", Some("FORMAT"), false,
        "text|json [default: text]";
    Offline = "offline", None, false,
        "check: contact no remote source and read no credential; check config, references, templates, plan and destinations";
    ShowPrefix = "show-prefix", None, false,
        "check: show the first quarter (at most 8 characters) of each printable value, nothing of its end";
    Format = "format", Some("FORMAT"), false,
        "check and --version: output as table|json [default: table]";
    StatusFile = "status-file", Some("PATH"), false,
        "the live refresh's status file, written by a run and read by status [default: secret_init.refresh.status_file]";
    Ready = "ready", None, false,
        "status: exit 0 only when every required secret is present, unexpired and not failing (a probe)";
    StateFile = "state-file", Some("PATH"), false,
        "materialize/clean: record of what was written [default: $XDG_STATE_HOME/secret-init/materialized.json]";
}

impl Opt {
    /// The option's table row.
    pub fn spec(self) -> &'static OptSpec {
        &OPTIONS[self as usize]
    }

    /// Its long name without dashes.
    pub fn long(self) -> &'static str {
        self.spec().long
    }

    /// Its env twin (`SECRET_INIT_...`).
    pub fn env_twin(self) -> String {
        env_twin(self.long())
    }

    /// The value of its env twin in `env` (the first, as [`Environ::get`]), found without
    /// building the twin's name: settings read a few dozen twins at every start.
    pub(crate) fn twin_value(self, env: &crate::environ::Environ) -> Option<&std::ffi::OsStr> {
        env.0
            .iter()
            .find(|(k, _)| is_env_twin(k.as_bytes(), self.long()))
            .map(|(_, v)| v.as_os_str())
    }
}

/// The env twin of an option: `SECRET_INIT_` + upper-cased name with `-` → `_`.
pub(crate) fn env_twin(long: &str) -> String {
    format!(
        "SECRET_INIT_{}",
        long.to_ascii_uppercase().replace('-', "_")
    )
}

/// Whether `key` is the env twin of the option named `long`, compared as [`env_twin`] spells it.
fn is_env_twin(key: &[u8], long: &str) -> bool {
    // The length first: it tells most of an environment apart without reading a byte.
    key.len() == "SECRET_INIT_".len() + long.len()
        && key.strip_prefix(b"SECRET_INIT_").is_some_and(|rest| {
            rest.iter().zip(long.bytes()).all(|(&k, l)| {
                k == match l {
                    b'-' => b'_',
                    l => l.to_ascii_uppercase(),
                }
            })
        })
}

/// Our other `SECRET_INIT_*` variables: the bundle key, Azure endpoint, bundle file's old name.
const OTHER_OWN_VARS: &[&str] = &[
    "SECRET_INIT_MASTER_KEY",
    "SECRET_INIT_AZURE_ENDPOINT",
    "SECRET_INIT_VAULT_FILE",
];

/// Each `SECRET_INIT_*` variable in `env` that is none of ours (a misspelled twin would
/// otherwise be ignored in silence), with the one it was closest to: the caller warns.
pub(crate) fn unknown_own_vars(env: &crate::environ::Environ) -> Vec<(String, Option<String>)> {
    let unknown: Vec<&str> = env
        .0
        .iter()
        .filter_map(|(k, _)| k.to_str())
        .filter(|k| {
            k.starts_with("SECRET_INIT_")
                && !OPTIONS.iter().any(|s| is_env_twin(k.as_bytes(), s.long))
                && !OTHER_OWN_VARS.contains(k)
        })
        .collect();
    if unknown.is_empty() {
        return Vec::new();
    }
    // Only for a warning: the names it could have meant.
    let twins: Vec<String> = OPTIONS.iter().map(|s| env_twin(s.long)).collect();
    let known: Vec<&str> = twins
        .iter()
        .map(String::as_str)
        .chain(OTHER_OWN_VARS.iter().copied())
        .collect();
    unknown
        .into_iter()
        .map(|k| {
            let near = crate::name::closest(k, known.iter().copied()).map(str::to_string);
            (k.to_string(), near)
        })
        .collect()
}

/// What to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// Resolve, deliver, then exec or supervise the program.
    Run(Vec<OsString>),
    /// The pre-flight of a run: everything short of writing; optionally the program's lookup.
    Check(Vec<OsString>),
    /// Print one resolved value.
    Get(String),
    /// `bundle VERB ...`: manage an encrypted bundle; the words after `bundle`, parsed by its
    /// module. `alias`: it was spelled `vault`, the old name.
    Bundle {
        /// The verb and everything after it.
        args: Vec<OsString>,
        /// Spelled `vault`.
        alias: bool,
    },
    /// List the built-in providers and their destinations.
    Providers,
    /// Deliver everything without starting a program, recording what was written.
    Materialize,
    /// Remove what `materialize` wrote.
    Clean,
    /// Print `export` lines for the env deliveries.
    Env,
    /// What the running supervisor last wrote to its status file; `--ready` for probes.
    Status,
    /// Print help: the whole of it, or one command's.
    Help(Option<&'static str>),
    /// Print the version.
    Version,
}

impl Command {
    /// The subcommand's word, for its own `--help`; `None` for a run.
    pub fn name(&self) -> Option<&'static str> {
        match self {
            Command::Check(_) => Some("check"),
            Command::Get(_) => Some("get"),
            Command::Providers => Some("providers"),
            Command::Materialize => Some("materialize"),
            Command::Clean => Some("clean"),
            Command::Env => Some("env"),
            Command::Status => Some("status"),
            Command::Run(_) | Command::Bundle { .. } | Command::Help(_) | Command::Version => None,
        }
    }
}

/// A parsed command line: the command and the raw values of the options given on it.
#[derive(Debug)]
pub struct Invocation {
    /// The command.
    pub command: Command,
    /// Each option's values, indexed by [`Opt`] (a flag given holds one empty string).
    values: [Vec<OsString>; OPTIONS.len()],
}

impl Invocation {
    /// An invocation of `command` with no options given.
    pub fn new(command: Command) -> Invocation {
        Invocation {
            command,
            values: [const { Vec::new() }; OPTIONS.len()],
        }
    }

    /// The values `opt` was given on the command line, in order; empty when it was not.
    pub fn values(&self, opt: Opt) -> &[OsString] {
        &self.values[opt as usize]
    }

    /// Whether `opt` was given on the command line.
    pub fn given(&self, opt: Opt) -> bool {
        !self.values(opt).is_empty()
    }

    /// Whether any option was given on the command line.
    pub fn any_given(&self) -> bool {
        self.values.iter().any(|v| !v.is_empty())
    }
}

/// The options of the bundle verbs that take a value, so that they may come before the verb.
const BUNDLE_VALUE_OPTIONS: &[&str] = &[
    "--bundle",
    "--file",
    "--master-key-file",
    "--new-key-file",
    "--output",
    "--description",
    "-d",
];

/// Whether the words after `bundle` name one of its verbs: the first word that is neither an
/// option nor an option's value (`bundle --bundle F create x`). Another first word (`bundle
/// exec puma`) is Ruby's Bundler, run as the program.
fn verb_follows(rest: &[OsString]) -> bool {
    let mut words = rest.iter().filter_map(|w| w.to_str());
    while let Some(w) = words.next() {
        if BUNDLE_VALUE_OPTIONS.contains(&w) {
            words.next();
        } else if !w.starts_with('-') {
            return BUNDLE_VERBS.contains(&w);
        }
    }
    false
}

fn usage(what: impl Into<String>) -> Error {
    Error::new(
        Kind::Usage,
        format!("{} (see secret-init --help)", what.into()),
    )
}

/// Parses argv (without the program name).
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Invocation, Error> {
    use lexopt::Arg;
    let mut parser = lexopt::Parser::from_args(args);
    let mut inv = Invocation::new(Command::Version);
    let mut command: Option<Command> = None;
    let mut version = false;
    loop {
        // `--` ends the options: everything after it is the program, even a word like "check".
        if let Some(mut raw) = parser.try_raw_args()
            && raw.peek().is_some_and(|a| a == "--")
        {
            raw.next();
            let program: Vec<OsString> = raw.collect();
            command = match command {
                None | Some(Command::Run(_)) => Some(Command::Run(program)),
                Some(Command::Check(_)) => Some(Command::Check(program)),
                Some(_) => return Err(usage("a program after -- only goes with a run or check")),
            };
            break;
        }
        let arg = parser.next().map_err(|e| usage(e.to_string()))?;
        let Some(arg) = arg else { break };
        match arg {
            Arg::Short('h') | Arg::Long("help") => {
                inv.command = Command::Help(command.as_ref().and_then(Command::name));
                return Ok(inv);
            }
            // The other options are still read, for `--version --format json`.
            Arg::Short('V') | Arg::Long("version") => version = true,
            Arg::Long(name) => {
                let name = name.to_string();
                let spec = OPTIONS
                    .iter()
                    .find(|s| s.long == name.as_str())
                    .ok_or_else(|| usage(format!("unknown option --{name}")))?;
                let v = if spec.value.is_some() {
                    parser
                        .value()
                        .map_err(|_| usage(format!("--{name} needs a value")))?
                } else {
                    OsString::new()
                };
                let slot = &mut inv.values[spec.opt as usize];
                if !spec.repeat && !slot.is_empty() {
                    return Err(usage(format!("--{name} given twice")));
                }
                slot.push(v);
            }
            Arg::Short(c) => return Err(usage(format!("unknown option -{c}"))),
            Arg::Value(v) => {
                let word = v.to_string_lossy().into_owned();
                match (&command, word.as_str()) {
                    (None, "check") => command = Some(Command::Check(Vec::new())),
                    // The NAME is the next word that is not an option, so `get --help` is help.
                    (None, "get") => command = Some(Command::Get(String::new())),
                    (Some(Command::Get(name)), _) if name.is_empty() => {
                        command = Some(Command::Get(word));
                    }
                    (None, "providers") => command = Some(Command::Providers),
                    (None, "materialize") => command = Some(Command::Materialize),
                    (None, "clean") => command = Some(Command::Clean),
                    (None, "env") => command = Some(Command::Env),
                    (None, "status") => command = Some(Command::Status),
                    (None, "run") => {}
                    (None, "vault") => {
                        let rest = parser.raw_args().map_err(|e| usage(e.to_string()))?;
                        command = Some(Command::Bundle {
                            args: rest.collect(),
                            alias: true,
                        });
                        break;
                    }
                    // Programs may be given without `--`, and `bundle` is also Ruby's Bundler:
                    // the word is our command only when one of its verbs follows
                    // (`secret-init bundle exec puma` runs Bundler).
                    (None, "bundle")
                        if parser
                            .try_raw_args()
                            .is_some_and(|raw| verb_follows(raw.as_slice())) =>
                    {
                        let rest = parser.raw_args().map_err(|e| usage(e.to_string()))?;
                        command = Some(Command::Bundle {
                            args: rest.collect(),
                            alias: false,
                        });
                        break;
                    }
                    (None | Some(Command::Run(_)), _) => {
                        // The program starts here; everything after it is its own argv.
                        let mut program = vec![v];
                        program.extend(parser.raw_args().map_err(|e| usage(e.to_string()))?);
                        command = Some(Command::Run(program));
                        break;
                    }
                    (Some(_), _) => return Err(usage(format!("unexpected argument \"{word}\""))),
                }
            }
        }
    }
    if version {
        return Ok(inv);
    }
    let command = match command {
        Some(c) => c,
        None => {
            return Err(usage(
                "no program given: secret-init [OPTIONS] -- PROGRAM [ARGS...]",
            ));
        }
    };
    if command == Command::Run(Vec::new()) {
        return Err(usage("no program given"));
    }
    if command == Command::Get(String::new()) {
        return Err(usage("get needs a secret NAME"));
    }
    inv.command = command;
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An option's env twin is found as `env_twin` spells it, and only so; unknown
    /// `SECRET_INIT_*` names are reported, the known ones never.
    #[test]
    fn env_twins_are_matched_as_spelled() {
        let env = crate::environ::Environ::from_pairs(&[
            ("SECRET_INIT_LOG_LEVELX", "x"),
            ("secret_init_log_level", "y"),
            ("SECRET_INIT_LOG_LEVEL", "debug"),
            ("SECRET_INIT_LOG_LEVEL", "later"),
            ("SECRET_INIT_ALLOW_SHARED_DIR", "1"),
            ("SECRET_INIT_OUTPT_DIR", "/x"),
            ("SECRET_INIT_MASTER_KEY", "k"),
        ]);
        assert_eq!(Opt::LogLevel.twin_value(&env), Some("debug".as_ref()));
        assert_eq!(Opt::AllowSharedDir.twin_value(&env), Some("1".as_ref()));
        assert_eq!(Opt::LogFormat.twin_value(&env), None);
        for spec in OPTIONS {
            let twin = env_twin(spec.long);
            assert!(is_env_twin(twin.as_bytes(), spec.long), "{twin}");
            assert!(!is_env_twin(twin.to_lowercase().as_bytes(), spec.long));
            assert!(!is_env_twin(&twin.as_bytes()[..twin.len() - 1], spec.long));
        }
        let unknown: Vec<String> = unknown_own_vars(&env).into_iter().map(|(k, _)| k).collect();
        assert_eq!(unknown, ["SECRET_INIT_LOG_LEVELX", "SECRET_INIT_OUTPT_DIR"]);
    }

    #[test]
    fn help_lists_every_source_in_the_default_order() {
        let text = help();
        let section = text
            .split("SOURCES (default precedence, highest first):")
            .nth(1)
            .and_then(|s| s.split("EXIT CODES").next())
            .expect("a SOURCES section");
        let listed: Vec<&str> = section
            .lines()
            .filter_map(|l| l.strip_prefix("    ")?.split_whitespace().next())
            .collect();
        let kinds: Vec<&str> = crate::source::SourceKind::ALL
            .iter()
            .map(|k| k.name())
            .collect();
        assert_eq!(listed, kinds);
    }

    fn args(s: &[&str]) -> Vec<OsString> {
        s.iter().map(OsString::from).collect()
    }

    #[test]
    fn program_after_double_dash_keeps_its_flags() {
        let inv = parse(args(&[
            "--output-dir",
            "/o",
            "--",
            "python",
            "-c",
            "--config",
        ]))
        .expect("ok");
        assert_eq!(
            inv.command,
            Command::Run(args(&["python", "-c", "--config"]))
        );
        assert_eq!(inv.values(Opt::OutputDir), args(&["/o"]));
    }

    #[test]
    fn program_without_double_dash() {
        let inv = parse(args(&[
            "--secrets-dir=/a",
            "--secrets-dir",
            "/b",
            "sh",
            "-c",
            "x",
        ]))
        .expect("ok");
        assert_eq!(inv.command, Command::Run(args(&["sh", "-c", "x"])));
        assert_eq!(inv.values(Opt::SecretsDir), args(&["/a", "/b"]));
    }

    #[test]
    fn subcommands() {
        assert_eq!(
            parse(args(&["check", "--format", "json"]))
                .expect("ok")
                .command,
            Command::Check(Vec::new())
        );
        assert_eq!(
            parse(args(&["get", "db"])).expect("ok").command,
            Command::Get("db".into())
        );
        assert_eq!(
            parse(args(&["--", "check"])).expect("ok").command,
            Command::Run(args(&["check"]))
        );
    }

    #[test]
    fn usage_errors_exit_64() {
        for bad in [
            &[][..],
            &["--"],
            &["--nope", "--", "x"],
            &["--output-dir"],
            &["get"],
            &["check", "extra"],
            &["get", "--", "x"],
        ] {
            let e = parse(args(bad)).expect_err("should fail");
            assert_eq!(e.exit_code(), 64, "{bad:?}: {e}");
        }
    }

    #[test]
    fn every_command_has_help_with_known_options_and_an_example() {
        for name in command_names() {
            let inv = parse(args(&[name, "--help"])).expect("ok");
            assert_eq!(inv.command, Command::Help(Some(name)), "{name}");
            let h = command_help(name).expect("help");
            assert!(h.contains("EXAMPLE:\n    "), "{name}: {h}");
            assert!(h.contains(&format!("secret-init {name}")), "{name}");
        }
        for (i, spec) in OPTIONS.iter().enumerate() {
            assert_eq!(spec.opt as usize, i, "--{}", spec.long);
        }
    }

    #[test]
    fn bundle_is_the_command_only_before_one_of_its_verbs() {
        assert_eq!(
            parse(args(&["bundle", "exec", "puma"]))
                .expect("ok")
                .command,
            Command::Run(args(&["bundle", "exec", "puma"]))
        );
        assert_eq!(
            parse(args(&["bundle", "list", "--bundle", "f"]))
                .expect("ok")
                .command,
            Command::Bundle {
                args: args(&["list", "--bundle", "f"]),
                alias: false
            }
        );
        assert_eq!(
            parse(args(&["bundle", "--bundle", "f", "-d", "x", "create", "y"]))
                .expect("ok")
                .command,
            Command::Bundle {
                args: args(&["--bundle", "f", "-d", "x", "create", "y"]),
                alias: false
            }
        );
        assert_eq!(
            parse(args(&["bundle", "--help"])).expect("ok").command,
            Command::Run(args(&["bundle", "--help"]))
        );
        assert_eq!(
            parse(args(&["vault", "list"])).expect("ok").command,
            Command::Bundle {
                args: args(&["list"]),
                alias: true
            }
        );
        assert_eq!(
            parse(args(&["check", "--", "python", "-c", "x"]))
                .expect("ok")
                .command,
            Command::Check(args(&["python", "-c", "x"]))
        );
    }

    #[test]
    fn help_lists_every_option_with_its_twin() {
        let h = help();
        for spec in OPTIONS {
            assert!(
                h.contains(&format!("--{}", spec.long)) && h.contains(&env_twin(spec.long)),
                "{}",
                spec.long
            );
        }
    }
}

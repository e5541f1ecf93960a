//! The command line: argv into an [`Invocation`] (a command plus raw option values).
//!
//! Every option is declared once in [`OPTIONS`]; its env twin is derived from its name
//! (`--output-dir` ↔ `SECRET_INIT_OUTPUT_DIR`) and `--help` is generated from the same table, so
//! an option cannot exist without its twin or its help line. Typed interpretation and the
//! CLI > env > file precedence live in `settings.rs`.

use std::collections::BTreeMap;
use std::ffi::OsString;

use crate::error::{Error, Kind};

pub(crate) mod merge;

/// The bundle verbs; `secret-init bundle` is our command only when one of these follows.
pub const BUNDLE_VERBS: &[&str] = &[
    "keygen", "create", "set", "unset", "show", "get", "list", "delete", "rekey",
];

/// One option: its long name, whether it takes a value, and its help line.
pub struct OptSpec {
    /// Long name without dashes.
    pub long: &'static str,
    /// Value placeholder for help; `None` for a flag.
    pub value: Option<&'static str>,
    /// Whether it may be given several times (values accumulate).
    pub repeat: bool,
    /// One help line.
    pub help: &'static str,
}

/// Every option secret-init accepts, in help order.
pub const OPTIONS: &[OptSpec] = &[
    OptSpec {
        long: "config",
        value: Some("PATH"),
        repeat: false,
        help: "Truss config.yaml declaring the secrets [default: ./config.yaml if present]",
    },
    OptSpec {
        long: "secrets-dir",
        value: Some("DIR"),
        repeat: true,
        help: "mounted secrets dir to read <DIR>/<name> from; repeatable; env: colon-separated [default: /secrets:/run/secrets]",
    },
    OptSpec {
        long: "output-dir",
        value: Some("DIR"),
        repeat: false,
        help: "where secret files are written, mode 0600 [default: /secrets]",
    },
    OptSpec {
        long: "env-prefix",
        value: Some("PREFIX"),
        repeat: false,
        help: "env-var source prefix; the name is appended verbatim [default: TRUSS_SECRET_]",
    },
    OptSpec {
        long: "local-config",
        value: Some("PATH"),
        repeat: false,
        help: "developer-machine values (secrets: map) [default: ~/.truss/config.yaml]",
    },
    OptSpec {
        long: "bundle",
        value: Some("LOCATION"),
        repeat: false,
        help: "encrypted vault bundle: a file path or https:// URL (docs/bundle.md)",
    },
    OptSpec {
        long: "bundle-vaults",
        value: Some("NAME"),
        repeat: true,
        help: "bundle vaults secrets are looked up in, merged in order (later wins); repeatable; env: comma-separated",
    },
    OptSpec {
        long: "bundle-env-vaults",
        value: Some("NAME"),
        repeat: true,
        help: "bundle vaults injected whole as env vars; repeatable; env: comma-separated",
    },
    OptSpec {
        long: "master-key-file",
        value: Some("PATH"),
        repeat: false,
        help: "file holding the bundle's base64 master key (else SECRET_INIT_MASTER_KEY)",
    },
    OptSpec {
        long: "bundle-ca-cert",
        value: Some("PATH"),
        repeat: false,
        help: "PEM CA bundle for an https:// bundle [default: SSL_CERT_FILE, system bundle]",
    },
    OptSpec {
        long: "sources",
        value: Some("LIST"),
        repeat: false,
        help: "source precedence, highest first [default: file,env,vault,aws,gcp,azure,bundle,local,default]",
    },
    OptSpec {
        long: "max-secret-bytes",
        value: Some("N"),
        repeat: false,
        help: "largest secret file read [default: 1048576]",
    },
    OptSpec {
        long: "allow-dangerous-env",
        value: None,
        repeat: false,
        help: "permit env deliveries into LD_*, PATH, PYTHONPATH and similar",
    },
    OptSpec {
        long: "allow-shared-dir",
        value: None,
        repeat: false,
        help: "permit an output dir that other users can write to",
    },
    OptSpec {
        long: "scrub-env",
        value: Some("VAR"),
        repeat: true,
        help: "also remove VAR from the program's environment; repeatable; env: comma-separated",
    },
    OptSpec {
        long: "vault-addr",
        value: Some("URL"),
        repeat: false,
        help: "Vault/OpenBao address [default: secret_init.vault.address, VAULT_ADDR, BAO_ADDR]",
    },
    OptSpec {
        long: "vault-ca-cert",
        value: Some("PATH"),
        repeat: false,
        help: "PEM CA bundle for the vault [default: VAULT_CACERT, BAO_CACERT, SSL_CERT_FILE, system bundle]",
    },
    OptSpec {
        long: "vault-namespace",
        value: Some("NS"),
        repeat: false,
        help: "vault namespace [default: VAULT_NAMESPACE, BAO_NAMESPACE]",
    },
    OptSpec {
        long: "vault-path",
        value: Some("PATH"),
        repeat: true,
        help: "KV API path to look secrets up in, e.g. secret/data/app; repeatable, later wins; env: comma-separated",
    },
    OptSpec {
        long: "vault-timeout",
        value: Some("DURATION"),
        repeat: false,
        help: "per-request timeout for the vault, e.g. 5s, 500ms [default: 5s]",
    },
    OptSpec {
        long: "vault-deadline",
        value: Some("DURATION"),
        repeat: false,
        help: "overall deadline for all vault requests and retries [default: 30s]",
    },
    OptSpec {
        long: "vault-retries",
        value: Some("N"),
        repeat: false,
        help: "retries on connection errors, 5xx and 429, with backoff and jitter [default: 8]",
    },
    OptSpec {
        long: "vault-retry-jitter",
        value: Some("on|off"),
        repeat: false,
        help: "randomise retry backoff (full jitter) so replicas starting together spread out [default: on]",
    },
    OptSpec {
        long: "allow-insecure-http",
        value: None,
        repeat: false,
        help: "permit plain http:// to a remote source that is not on loopback (tokens travel in clear)",
    },
    OptSpec {
        long: "init",
        value: None,
        repeat: false,
        help: "supervise (forward signals, reap zombies) even when not PID 1, as a child subreaper",
    },
    OptSpec {
        long: "no-init",
        value: None,
        repeat: false,
        help: "exec the program even as PID 1 (it then gets no signal it has no handler for)",
    },
    OptSpec {
        long: "process-group",
        value: None,
        repeat: false,
        help: "supervised: run the program in its own process group and forward signals to the whole group",
    },
    OptSpec {
        long: "grace-period",
        value: Some("SECONDS"),
        repeat: false,
        help: "supervised: after the program exits, its leftover descendants get SIGTERM, then SIGKILL after this [default: 5]",
    },
    OptSpec {
        long: "user",
        value: Some("USER[:GROUP]"),
        repeat: false,
        help: "run the program as this uid/name (image's /etc/passwd, /etc/group); delivered files are owned by it",
    },
    OptSpec {
        long: "no-root",
        value: None,
        repeat: false,
        help: "refuse to run the program as uid 0",
    },
    OptSpec {
        long: "cleanup",
        value: None,
        repeat: false,
        help: "remove the delivered files when the program exits (implies supervision)",
    },
    OptSpec {
        long: "refresh",
        value: Some("INTERVAL"),
        repeat: false,
        help: "live refresh: re-read remote sources every INTERVAL (30s, 5m, 1h; 0 = off) and watch mounted files (implies supervision; docs/refresh.md)",
    },
    OptSpec {
        long: "on-change",
        value: Some("WHAT"),
        repeat: false,
        help: "after a refresh changed something: signal, restart or none [default: signal]",
    },
    OptSpec {
        long: "refresh-signal",
        value: Some("SIG"),
        repeat: false,
        help: "the signal --on-change signal sends [default: SIGHUP]",
    },
    OptSpec {
        long: "log-level",
        value: Some("LEVEL"),
        repeat: false,
        help: "error|warn|info|debug|trace [default: info]",
    },
    OptSpec {
        long: "log-format",
        value: Some("FORMAT"),
        repeat: false,
        help: "text|json [default: text]",
    },
    OptSpec {
        long: "format",
        value: Some("FORMAT"),
        repeat: false,
        help: "check: output as table|json [default: table]",
    },
    OptSpec {
        long: "state-file",
        value: Some("PATH"),
        repeat: false,
        help: "materialize/clean: record of what was written [default: $XDG_STATE_HOME/secret-init/materialized.json]",
    },
];

/// The env twin of an option: `SECRET_INIT_` + upper-cased name with `-` → `_`.
pub fn env_twin(long: &str) -> String {
    format!(
        "SECRET_INIT_{}",
        long.to_ascii_uppercase().replace('-', "_")
    )
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
            Command::Run(_) | Command::Bundle { .. } | Command::Help(_) | Command::Version => None,
        }
    }
}

/// A parsed command line: the command and the raw values of the options given on it.
#[derive(Debug)]
pub struct Invocation {
    /// The command.
    pub command: Command,
    /// Option values by long name (flags hold an empty string).
    pub values: BTreeMap<&'static str, Vec<OsString>>,
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
    let mut values: BTreeMap<&'static str, Vec<OsString>> = BTreeMap::new();
    let mut command: Option<Command> = None;
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
                return Ok(Invocation {
                    command: Command::Help(command.as_ref().and_then(Command::name)),
                    values,
                });
            }
            Arg::Short('V') | Arg::Long("version") => {
                return Ok(Invocation {
                    command: Command::Version,
                    values,
                });
            }
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
                let slot = values.entry(spec.long).or_default();
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
                        if parser.try_raw_args().is_some_and(|raw| {
                            raw.peek()
                                .and_then(|w| w.to_str())
                                .is_some_and(|w| BUNDLE_VERBS.contains(&w))
                        }) =>
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
    Ok(Invocation { command, values })
}

/// The `--help` text, generated from [`OPTIONS`].
pub fn help() -> String {
    let mut out = String::from(concat!(
        "secret-init ",
        env!("CARGO_PKG_VERSION"),
        "\n",
        "Resolve the secrets an app declares (Truss config.yaml), deliver them as 0600 files and env vars,\n",
        "then exec the program (or supervise it when PID 1). Nothing is written and the program never\n",
        "starts unless every required secret resolved.\n\n",
        "USAGE:\n",
        "    secret-init [OPTIONS] -- PROGRAM [ARGS...]   resolve, deliver, exec\n",
        "    secret-init check [OPTIONS] [-- PROGRAM]     pre-flight: everything a run does short of writing\n",
        "    secret-init get NAME [OPTIONS]               print one resolved value\n",
        "    secret-init bundle VERB ...                  manage an encrypted bundle; VERB: keygen create set unset\n",
        "                                                 show get list delete rekey (bundle VERB --help)\n",
        "    secret-init providers                        built-in providers, their fields and destinations\n",
        "    secret-init materialize [--state-file PATH]  deliver without a program; record what was written\n",
        "    secret-init clean [--state-file PATH]        remove what materialize wrote (changed files kept)\n",
        "    secret-init env                              export lines for eval \"$(secret-init env)\"\n",
        "    secret-init COMMAND --help                   one command's options and an example\n\n",
        "EXAMPLE:\n",
        "    ENTRYPOINT [\"secret-init\", \"--\", \"python\", \"main.py\"]\n",
        "    TRUSS_SECRET_hf_access_token=hf_xxx secret-init check\n\n",
        "OPTIONS (each also read from its env twin; the command line wins over env, env over config.yaml):\n",
    ));
    for spec in OPTIONS {
        push_option(&mut out, spec);
    }
    out.push_str(concat!(
        "    -h, --help                   this text\n",
        "    -V, --version                the version\n\n",
        "SOURCES (default precedence, highest first):\n",
        "    file     <secrets-dir>/<name>, byte-exact; Kubernetes ..data layout read as one snapshot\n",
        "    env      <env-prefix><name>, e.g. TRUSS_SECRET_hf_access_token\n",
        "    vault    Vault/OpenBao KV paths (secret_init.vault), merged in order, later wins\n",
        "    bundle   entries of an AES-256-GCM bundle file or https URL (--bundle, docs/bundle.md)\n",
        "    local    secrets: map of ~/.truss/config.yaml\n",
        "    default  the value given in config.yaml\n\n",
        "EXIT CODES:\n",
        "    the program's own; 128+N killed by (or stopped by) signal N; 64 usage; 65 invalid input;\n",
        "    66 --config file not found; 69 secret/source unavailable; 73 cannot write output;\n",
        "    77 permission/auth/TLS; 78 configuration refused; 126 not executable; 127 not found\n",
        "    (126/127 are decided before anything is written)\n",
    ));
    out
}

/// The options that say where secrets come from: every resolving command takes them.
const SOURCE_OPTIONS: &[&str] = &[
    "config",
    "secrets-dir",
    "env-prefix",
    "local-config",
    "bundle",
    "bundle-vaults",
    "bundle-env-vaults",
    "master-key-file",
    "bundle-ca-cert",
    "sources",
    "max-secret-bytes",
    "vault-addr",
    "vault-ca-cert",
    "vault-namespace",
    "vault-path",
    "vault-timeout",
    "vault-deadline",
    "vault-retries",
    "vault-retry-jitter",
    "allow-insecure-http",
    "log-level",
    "log-format",
];

/// One subcommand's help: what it does, its usage, its own options beyond [`SOURCE_OPTIONS`]
/// (when `sources` is set), and an example.
struct CommandHelp {
    name: &'static str,
    usage: &'static str,
    about: &'static str,
    sources: bool,
    options: &'static [&'static str],
    example: &'static str,
}

const COMMAND_HELP: &[CommandHelp] = &[
    CommandHelp {
        name: "check",
        usage: "secret-init check [OPTIONS] [--format table|json] [-- PROGRAM [ARGS...]]",
        about: "The pre-flight of a run: resolve every secret, plan every delivery, apply the output-dir\n\
                policy, probe that each destination dir is writable (an empty staging dir, made and\n\
                removed: no secret is written), check the environment's policy and size and, with\n\
                -- PROGRAM, look the program up. Prints a table (values masked) and exits with the\n\
                code the run would have.",
        sources: true,
        options: &[
            "output-dir",
            "allow-dangerous-env",
            "allow-shared-dir",
            "scrub-env",
            "user",
            "no-root",
            "format",
        ],
        example: "TRUSS_SECRET_hf_access_token=hf_xxx secret-init check --format json -- python main.py",
    },
    CommandHelp {
        name: "get",
        usage: "secret-init get NAME [OPTIONS]",
        about: "Resolve one declared secret and print its value, byte-exact, on stdout (for scripts).",
        sources: true,
        options: &[],
        example: "secret-init get hf_access_token --config config.yaml > token",
    },
    CommandHelp {
        name: "providers",
        usage: "secret-init providers [--config PATH]",
        about: "List the built-in providers: their fields and the files and env vars they deliver.",
        sources: false,
        options: &["config"],
        example: "secret-init providers",
    },
    CommandHelp {
        name: "materialize",
        usage: "secret-init materialize [OPTIONS] [--state-file PATH]",
        about: "Deliver every file without starting a program (a developer machine), recording what\n\
                was written so that clean can remove it.",
        sources: true,
        options: &[
            "output-dir",
            "allow-dangerous-env",
            "allow-shared-dir",
            "state-file",
        ],
        example: "secret-init materialize --output-dir ~/.secrets && secret-init clean",
    },
    CommandHelp {
        name: "clean",
        usage: "secret-init clean [--state-file PATH]",
        about: "Remove what materialize wrote; a file changed since is kept and named.",
        sources: false,
        options: &["config", "state-file", "log-level", "log-format"],
        example: "secret-init clean --state-file /tmp/si-state.json",
    },
    CommandHelp {
        name: "env",
        usage: "secret-init env [OPTIONS]",
        about: "Print one `export NAME='value'` line per env delivery, for a shell to eval.",
        sources: true,
        options: &["allow-dangerous-env"],
        example: "eval \"$(secret-init env)\"",
    },
];

/// The names of the subcommands that have their own `--help`.
pub fn command_names() -> impl Iterator<Item = &'static str> {
    COMMAND_HELP.iter().map(|c| c.name)
}

/// One subcommand's `--help`: usage, what it does, its options, an example.
pub fn command_help(name: &str) -> Option<String> {
    let c = COMMAND_HELP.iter().find(|c| c.name == name)?;
    let mut out = format!(
        "secret-init {}: {}\n\nUSAGE:\n    {}\n\nOPTIONS (each also read from its env twin):\n",
        c.name, c.about, c.usage
    );
    let own = c.options.iter();
    let shared = SOURCE_OPTIONS.iter().filter(|_| c.sources);
    for long in own.chain(shared) {
        if let Some(spec) = OPTIONS.iter().find(|s| s.long == *long) {
            push_option(&mut out, spec);
        }
    }
    out.push_str(&format!(
        "    -h, --help                   this text\n\nEXAMPLE:\n    {}\n",
        c.example
    ));
    Some(out)
}

fn push_option(out: &mut String, spec: &OptSpec) {
    let flag = match spec.value {
        Some(v) => format!("--{} {v}", spec.long),
        None => format!("--{}", spec.long),
    };
    out.push_str(&format!(
        "    {flag:<28} {}\n    {:<28} env: {}\n",
        spec.help,
        "",
        env_twin(spec.long)
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(inv.values["output-dir"], args(&["/o"]));
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
        assert_eq!(inv.values["secrets-dir"], args(&["/a", "/b"]));
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
        for c in COMMAND_HELP {
            for long in c.options.iter().chain(SOURCE_OPTIONS) {
                assert!(
                    OPTIONS.iter().any(|s| s.long == *long),
                    "{}: --{long}",
                    c.name
                );
            }
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

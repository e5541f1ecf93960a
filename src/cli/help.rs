//! The help texts: `--help` generated from the options table, and each command's own
//! `COMMAND --help` (its usage, what it does, its options, an example).

use super::{OPTIONS, Opt, OptSpec, env_twin};

/// The `--help` text, generated from [`OPTIONS`].
pub(crate) fn help() -> String {
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
        "    secret-init status [--format json] [--ready] the running supervisor's secrets; --ready: a probe\n",
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
        "    -V, --version                version, source commit, target, sources and features compiled in\n",
        "                                 (--version --format json: one JSON object)\n\n",
        "SOURCES (default precedence, highest first):\n",
        "    file     <secrets-dir>/<name>, byte-exact; Kubernetes ..data layout read as one snapshot\n",
        "    env      <env-prefix><name>, e.g. TRUSS_SECRET_hf_access_token\n",
        "    vault    Vault/OpenBao KV paths (secret_init.vault), merged in order, later wins\n",
        "    aws      AWS Secrets Manager / Parameter Store (secret_init.aws, arn:aws:..., aws-sm:, aws-ssm:)\n",
        "    gcp      GCP Secret Manager (secret_init.gcp, gcp:secretmanager:..., sm://P/S)\n",
        "    azure    Azure Key Vault (secret_init.azure, azure-kv:VAULT/NAME)\n",
        "    bundle   entries of an AES-256-GCM bundle file or https URL (--bundle, docs/bundle.md)\n",
        "    sops     SOPS-encrypted files (secret_init.sops.files, sops:FILE#a.b, age:FILE; docs/sops.md)\n",
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
const SOURCE_OPTIONS: &[Opt] = &[
    Opt::Config,
    Opt::SecretsDir,
    Opt::EnvPrefix,
    Opt::LocalConfig,
    Opt::Bundle,
    Opt::BundleVaults,
    Opt::BundleEnvVaults,
    Opt::MasterKeyFile,
    Opt::BundleCaCert,
    Opt::BundleKms,
    Opt::Sources,
    Opt::MaxSecretBytes,
    Opt::VaultAddr,
    Opt::VaultCaCert,
    Opt::VaultNamespace,
    Opt::VaultPath,
    Opt::VaultTimeout,
    Opt::VaultDeadline,
    Opt::VaultRetries,
    Opt::VaultRetryJitter,
    Opt::AllowInsecureHttp,
    Opt::FileEnv,
    Opt::ResolveEnvReferences,
    Opt::NoFallback,
    Opt::LogLevel,
    Opt::LogFormat,
];

/// One subcommand's help: what it does, its usage, its own options beyond [`SOURCE_OPTIONS`]
/// (when `sources` is set), and an example.
struct CommandHelp {
    name: &'static str,
    usage: &'static str,
    about: &'static str,
    sources: bool,
    options: &'static [Opt],
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
                code the run would have. With --offline, no remote source is contacted and no\n\
                credential read: their references are checked and their rows say \"not contacted\".",
        sources: true,
        options: &[
            Opt::OutputDir,
            Opt::AllowDangerousEnv,
            Opt::AllowSharedDir,
            Opt::ScrubEnv,
            Opt::User,
            Opt::NoRoot,
            Opt::EnvOnly,
            Opt::Offline,
            Opt::ShowPrefix,
            Opt::Mask,
            Opt::Format,
        ],
        example: "TRUSS_SECRET_hf_access_token=hf_xxx secret-init check --format json -- python main.py",
    },
    CommandHelp {
        name: "status",
        usage: "secret-init status [--status-file FILE] [--format table|json] [--ready]",
        about: "What the running supervisor last wrote to its status file (live refresh): one row per\n\
                secret with its source, version or fetch time, lease expiry, last refresh result and\n\
                next refresh. --ready exits 0 only when every required secret is present, none is past\n\
                its lease and none has failed 3 refreshes in a row, and says what is wrong otherwise\n\
                (69): a Kubernetes exec probe. Reads the file only; contacts no store.",
        sources: false,
        options: &[Opt::Config, Opt::StatusFile, Opt::Format, Opt::Ready],
        example: "secret-init status --ready --status-file /run/secret-init/status.json",
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
        options: &[Opt::Config],
        example: "secret-init providers",
    },
    CommandHelp {
        name: "materialize",
        usage: "secret-init materialize [OPTIONS] [--state-file PATH]",
        about: "Deliver every file without starting a program (a developer machine), recording what\n\
                was written so that clean can remove it.",
        sources: true,
        options: &[
            Opt::OutputDir,
            Opt::AllowDangerousEnv,
            Opt::AllowSharedDir,
            Opt::StateFile,
        ],
        example: "secret-init materialize --output-dir ~/.secrets && secret-init clean",
    },
    CommandHelp {
        name: "clean",
        usage: "secret-init clean [--state-file PATH]",
        about: "Remove what materialize wrote; a file changed since is kept and named.",
        sources: false,
        options: &[Opt::Config, Opt::StateFile, Opt::LogLevel, Opt::LogFormat],
        example: "secret-init clean --state-file /tmp/si-state.json",
    },
    CommandHelp {
        name: "env",
        usage: "secret-init env [OPTIONS]",
        about: "Print one `export NAME='value'` line per env delivery, for a shell to eval.",
        sources: true,
        options: &[Opt::AllowDangerousEnv],
        example: "eval \"$(secret-init env)\"",
    },
];

/// The names of the subcommands that have their own `--help`.
#[cfg(test)]
pub(crate) fn command_names() -> impl Iterator<Item = &'static str> {
    COMMAND_HELP.iter().map(|c| c.name)
}

/// One subcommand's `--help`: usage, what it does, its options, an example.
pub(crate) fn command_help(name: &str) -> Option<String> {
    let c = COMMAND_HELP.iter().find(|c| c.name == name)?;
    let mut out = format!(
        "secret-init {}: {}\n\nUSAGE:\n    {}\n\nOPTIONS (each also read from its env twin):\n",
        c.name, c.about, c.usage
    );
    let own = c.options.iter();
    let shared = SOURCE_OPTIONS.iter().filter(|_| c.sources);
    for opt in own.chain(shared) {
        push_option(&mut out, opt.spec());
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

//! The command line of `secret-init bundle`: the help texts (one per verb) and the parser of
//! its options and words.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::error::{Error, Kind};

/// The help text of `secret-init bundle`.
pub(super) const HELP: &str = "\
secret-init bundle: manage an encrypted bundle (AES-256-GCM vaults, docs/bundle.md)

USAGE:
    secret-init bundle keygen [--output PATH]          print (or write, 0600) a new base64 master key
    secret-init bundle create NAME [-d DESCRIPTION] [--kms KEY]
                                                       add an empty vault (creates the file; with
                                                       --kms its data key is wrapped by KEY)
    secret-init bundle set NAME KEY [VALUE|-] [--no-secret] [--allow-empty]
                                                       seal a value; '-' or no VALUE reads stdin
    secret-init bundle unset NAME KEY                  remove an entry
    secret-init bundle show NAME                       table of entries, secret values masked
    secret-init bundle get NAME KEY                    print one decrypted value, byte-exact
    secret-init bundle list                            vaults with entry counts
    secret-init bundle delete NAME                     remove a vault and its entries
    secret-init bundle rekey --new-key-file PATH [--write-key-file]
                                                       re-seal every entry under a new key
    secret-init bundle rekey --kms KEY                 ... under a new data key wrapped by KEY
    secret-init bundle VERB --help                     one verb's options and an example
    (`secret-init vault ...` is the old name and still works, with a warning.)

OPTIONS (after the verb):
    --bundle PATH            the bundle file                env: SECRET_INIT_BUNDLE
                             (--file and SECRET_INIT_VAULT_FILE: old names, still read, with a warning)
    --master-key-file PATH   base64 master key file         env: SECRET_INIT_MASTER_KEY_FILE
                             (or the key itself in SECRET_INIT_MASTER_KEY)
    --kms KEY                a KMS key: aws:ARN, gcp:projects/P/locations/L/keyRings/R/cryptoKeys/K,
                             azure:https://V.vault.azure.net/keys/N/VERSION, transit:MOUNT/NAME;
                             for a bundle it already wraps, the key trusted
                                                            env: SECRET_INIT_BUNDLE_KMS
    --allow-shared-dir       permit a bundle dir other users can write to
                                                            env: SECRET_INIT_ALLOW_SHARED_DIR
    -h, --help               this text

EXIT CODES:
    64 usage; 65 wrong key, tampered or invalid bundle, empty value; 69 no such file, vault or entry;
    73 cannot write the bundle; 77 the KMS refused; 78 no master key, or no trusted KMS key
";

const BUNDLE_OPT: &str = "    --bundle PATH            the bundle file [env: SECRET_INIT_BUNDLE]\n";
const KEY_OPT: &str = "    --master-key-file PATH   base64 master key file [env: SECRET_INIT_MASTER_KEY_FILE;\n                             or the key itself in SECRET_INIT_MASTER_KEY]\n";
const KMS_OPT: &str = "    --kms KEY                the KMS key trusted to wrap the data key [env: SECRET_INIT_BUNDLE_KMS]\n";
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
        usage: "secret-init bundle create NAME [-d DESCRIPTION] [--kms KEY]",
        about: "Add an empty vault NAME; creates the bundle file when there is none. With --kms, a new\n\
                file's data key is random and wrapped by that KMS key (docs/bundle.md, \"Keys in a KMS\").",
        options: &[
            "    -d, --description TEXT   what the vault is for (not sealed)\n",
            "    --kms KEY                wrap a new file's data key with KEY (aws:ARN, gcp:RESOURCE,\n                             azure:URL, transit:MOUNT/NAME); for an existing file, the key trusted\n",
            BUNDLE_OPT,
            KEY_OPT,
            SHARED_OPT,
        ],
        example: "secret-init bundle create prod -d \"production API keys\" --bundle bundle.json\n    secret-init bundle create prod --kms aws:arn:aws:kms:eu-west-1:111122223333:alias/app --bundle bundle.json",
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
            KMS_OPT,
            SHARED_OPT,
        ],
        example: "printf %s \"$TOKEN\" | secret-init bundle set prod hf_access_token --bundle bundle.json",
    },
    VerbHelp {
        verb: "unset",
        usage: "secret-init bundle unset NAME KEY",
        about: "Remove entry KEY from vault NAME.",
        options: &[BUNDLE_OPT, KEY_OPT, KMS_OPT, SHARED_OPT],
        example: "secret-init bundle unset prod old_token",
    },
    VerbHelp {
        verb: "show",
        usage: "secret-init bundle show NAME",
        about: "A table of vault NAME's entries; secret values are masked.",
        options: &[BUNDLE_OPT, KEY_OPT, KMS_OPT],
        example: "secret-init bundle show prod",
    },
    VerbHelp {
        verb: "get",
        usage: "secret-init bundle get NAME KEY",
        about: "Print one decrypted value, byte-exact, on stdout.",
        options: &[BUNDLE_OPT, KEY_OPT, KMS_OPT],
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
        options: &[BUNDLE_OPT, KEY_OPT, KMS_OPT, SHARED_OPT],
        example: "secret-init bundle delete staging",
    },
    VerbHelp {
        verb: "rekey",
        usage: "secret-init bundle rekey --new-key-file PATH [--write-key-file] | --kms KEY",
        about: "Re-seal every entry under the key in PATH, in one atomic replace. The old key then no\n\
                longer opens the bundle: with --write-key-file the --master-key-file is replaced\n\
                (atomically, 0600) by the new key once the bundle is rewritten.",
        options: &[
            "    --new-key-file PATH      the new base64 key (make one with keygen --output)\n",
            "    --write-key-file         then replace the --master-key-file with the new key\n",
            "    --kms KEY                instead: a new random data key, wrapped by KEY (the current\n                             KMS key, if any, trusted from SECRET_INIT_BUNDLE_KMS)\n",
            BUNDLE_OPT,
            KEY_OPT,
            SHARED_OPT,
        ],
        example: "secret-init bundle keygen --output new.key &&\n    secret-init bundle rekey --new-key-file new.key --master-key-file master.key --write-key-file",
    },
];

/// The help text of one verb.
pub(super) fn verb_help(verb: &str) -> Option<String> {
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

/// The parsed command line.
pub(super) struct Args {
    pub(super) words: Vec<String>,
    pub(super) file: Option<PathBuf>,
    /// The file was named by the old `--file`.
    pub(super) old_file_flag: bool,
    pub(super) key_file: Option<PathBuf>,
    pub(super) kms: Option<String>,
    pub(super) new_key_file: Option<PathBuf>,
    pub(super) output: Option<PathBuf>,
    pub(super) description: Option<String>,
    pub(super) no_secret: bool,
    pub(super) allow_empty: bool,
    pub(super) write_key_file: bool,
    pub(super) allow_shared_dir: bool,
    pub(super) help: bool,
}

/// A usage error (64), pointing at the verbs' help.
pub(super) fn usage(what: impl Into<String>) -> Error {
    Error::new(
        Kind::Usage,
        format!("{} (see secret-init bundle VERB --help)", what.into()),
    )
}

/// Parses the words and options after `bundle`.
pub(super) fn parse(args: Vec<OsString>) -> Result<Args, Error> {
    use lexopt::Arg;
    let mut p = lexopt::Parser::from_args(args);
    let mut a = Args {
        words: Vec::new(),
        file: None,
        old_file_flag: false,
        key_file: None,
        kms: None,
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
            Arg::Long("kms") => {
                let v = p.value().map_err(|_| usage("--kms needs a key"))?;
                a.kms = Some(text(v, "the KMS key")?);
            }
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

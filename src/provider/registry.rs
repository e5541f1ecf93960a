//! The built-in providers' outputs: for each kind, the files it writes (where, in which format,
//! with which mode) and the env vars it sets. Its fields are the other half of the table,
//! `manifest/providers.rs` (the schema config.yaml is checked against); a provider is one row in
//! each, under the same name.
//!
//! Destinations follow the tool's own lookup, override variables first: botocore
//! (`AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`), huggingface_hub (`HF_TOKEN_PATH`, `HF_HOME`,
//! `XDG_CACHE_HOME`), google-auth (`GOOGLE_APPLICATION_CREDENTIALS`, `CLOUDSDK_CONFIG`), the docker
//! CLI and SDK (`DOCKER_CONFIG`), kubectl and the kubernetes client (`KUBECONFIG`, first entry), gh
//! (`GH_CONFIG_DIR`, `XDG_CONFIG_HOME`), the Azure CLI (`AZURE_CONFIG_DIR`) and netrc readers
//! (`NETRC`). Defaults are Runhouse's (`runhouse/resources/secrets/provider_secrets/*.py`).

use crate::manifest::providers::KindSpec;

/// One step of a destination lookup; the first step whose variable is set wins.
#[derive(Debug)]
pub(crate) enum Loc {
    /// The variable holds the whole path.
    Var(&'static str),
    /// The variable holds a colon-separated list; the first entry is the path (`KUBECONFIG`).
    VarList(&'static str),
    /// The variable holds a directory; the file is this relative path inside it.
    VarDir(&'static str, &'static str),
    /// Relative to `HOME`; the last resort.
    Home(&'static str),
}

/// How a file's content is built and merged with what is already there.
#[derive(Debug)]
pub(crate) enum Format {
    /// The field's value is the whole file (token files, kubeconfig); `newline` ensures one at the end.
    Whole {
        /// The field written.
        field: &'static str,
        /// Append `\n` when the value lacks one (OpenSSH refuses a key without it).
        newline: bool,
    },
    /// A JSON object document (a service-account or ADC file), checked before delivery.
    JsonDocument(&'static str),
    /// INI: keys set in one section, other sections and keys kept.
    Ini {
        /// The section the keys go in.
        section: Section,
        /// `(ini key, field)` pairs; absent optional fields are skipped.
        keys: &'static [(&'static str, &'static str)],
    },
    /// `key = value` lines with no section (`~/.lambda_cloud/lambda_keys`).
    KeyValue(&'static [(&'static str, &'static str)]),
    /// Docker's `config.json`: `auths.<registry>.auth` merged, other registries kept.
    DockerAuths,
    /// gh's `hosts.yml`: one top-level host block merged, other hosts kept.
    GhHosts,
    /// `~/.netrc`: one `machine` entry merged, other machines kept.
    Netrc,
    /// `known_hosts`: lines appended when missing.
    Lines(&'static str),
}

/// The INI section a provider writes.
#[derive(Debug)]
pub(crate) enum Section {
    /// `[<profile>]` (the AWS credentials file).
    Profile,
    /// `[default]` or `[profile <profile>]` (the AWS config file).
    ConfigProfile,
    /// A fixed name.
    Fixed(&'static str),
}

/// A file a provider writes.
#[derive(Debug)]
pub(crate) struct FileSpec {
    /// What it is, for `secret-init providers`.
    pub role: &'static str,
    /// Where it goes: the first step that applies.
    pub loc: &'static [Loc],
    /// What goes in it.
    pub format: Format,
    /// Its permission bits.
    pub mode: u32,
    /// Written only when this field has a value (the AWS config only with a region).
    pub needs: &'static str,
}

/// Where an env var's value comes from.
#[derive(Debug)]
pub(crate) enum EnvValue {
    /// A field's value.
    Field(&'static str),
    /// The path of the provider's file with this index (`GOOGLE_APPLICATION_CREDENTIALS`).
    PathOf(usize),
}

/// An env var a provider sets in the program's environment.
#[derive(Debug)]
pub(crate) struct EnvSpec {
    /// The variable.
    pub var: &'static str,
    /// Its value.
    pub value: EnvValue,
}

/// A provider kind's outputs.
#[derive(Debug)]
pub(crate) struct Outputs {
    /// The kind's name, as in `manifest::providers::KINDS`.
    pub kind: &'static str,
    /// The files it writes.
    pub files: &'static [FileSpec],
    /// The env vars it sets.
    pub env: &'static [EnvSpec],
}

/// Every built-in provider kind's outputs, in the order of `manifest::providers::KINDS`.
pub(crate) const OUTPUTS: &[Outputs] = &[
    Outputs {
        kind: "aws",
        files: &[
            FileSpec {
                role: "credentials",
                loc: &[
                    Loc::Var("AWS_SHARED_CREDENTIALS_FILE"),
                    Loc::Home(".aws/credentials"),
                ],
                format: Format::Ini {
                    section: Section::Profile,
                    keys: &[
                        ("aws_access_key_id", "aws_access_key_id"),
                        ("aws_secret_access_key", "aws_secret_access_key"),
                        ("aws_session_token", "aws_session_token"),
                    ],
                },
                mode: 0o600,
                needs: "aws_access_key_id",
            },
            FileSpec {
                role: "config",
                loc: &[Loc::Var("AWS_CONFIG_FILE"), Loc::Home(".aws/config")],
                format: Format::Ini {
                    section: Section::ConfigProfile,
                    keys: &[("region", "region")],
                },
                mode: 0o600,
                needs: "region",
            },
        ],
        env: &[
            field_var("AWS_ACCESS_KEY_ID", "aws_access_key_id"),
            field_var("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key"),
            field_var("AWS_SESSION_TOKEN", "aws_session_token"),
            field_var("AWS_DEFAULT_REGION", "region"),
        ],
    },
    Outputs {
        kind: "gcp",
        files: &[FileSpec {
            role: "credentials",
            loc: &[
                Loc::Var("GOOGLE_APPLICATION_CREDENTIALS"),
                Loc::VarDir("CLOUDSDK_CONFIG", "application_default_credentials.json"),
                Loc::Home(".config/gcloud/application_default_credentials.json"),
            ],
            format: Format::JsonDocument("credentials"),
            mode: 0o600,
            needs: "credentials",
        }],
        env: &[
            EnvSpec {
                var: "GOOGLE_APPLICATION_CREDENTIALS",
                value: EnvValue::PathOf(0),
            },
            field_var("GOOGLE_CLOUD_PROJECT", "project"),
        ],
    },
    Outputs {
        kind: "azure",
        files: &[FileSpec {
            role: "clouds.config",
            loc: &[
                Loc::VarDir("AZURE_CONFIG_DIR", "clouds.config"),
                Loc::Home(".azure/clouds.config"),
            ],
            format: Format::Ini {
                section: Section::Fixed("AzureCloud"),
                keys: &[("subscription", "subscription_id")],
            },
            mode: 0o600,
            needs: "subscription_id",
        }],
        env: &[
            field_var("AZURE_SUBSCRIPTION_ID", "subscription_id"),
            field_var("AZURE_TENANT_ID", "tenant_id"),
            field_var("AZURE_CLIENT_ID", "client_id"),
            field_var("AZURE_CLIENT_SECRET", "client_secret"),
        ],
    },
    Outputs {
        kind: "github",
        files: &[FileSpec {
            role: "hosts.yml",
            loc: &[
                Loc::VarDir("GH_CONFIG_DIR", "hosts.yml"),
                Loc::VarDir("XDG_CONFIG_HOME", "gh/hosts.yml"),
                Loc::Home(".config/gh/hosts.yml"),
            ],
            format: Format::GhHosts,
            mode: 0o600,
            needs: "token",
        }],
        env: &[field_var("GH_TOKEN", "token")],
    },
    Outputs {
        kind: "huggingface",
        files: &[FileSpec {
            role: "token",
            loc: &[
                Loc::Var("HF_TOKEN_PATH"),
                Loc::VarDir("HF_HOME", "token"),
                Loc::VarDir("XDG_CACHE_HOME", "huggingface/token"),
                Loc::Home(".cache/huggingface/token"),
            ],
            format: Format::Whole {
                field: "token",
                newline: false,
            },
            mode: 0o600,
            needs: "token",
        }],
        env: &[field_var("HF_TOKEN", "token")],
    },
    Outputs {
        kind: "lambda",
        files: &[FileSpec {
            role: "lambda_keys",
            loc: &[Loc::Home(".lambda_cloud/lambda_keys")],
            format: Format::KeyValue(&[("api_key", "api_key")]),
            mode: 0o600,
            needs: "api_key",
        }],
        env: &[],
    },
    Outputs {
        kind: "ssh",
        files: SSH_FILES,
        env: &[],
    },
    Outputs {
        kind: "sky",
        files: SSH_FILES,
        env: &[],
    },
    Outputs {
        kind: "kubernetes",
        files: &[FileSpec {
            role: "kubeconfig",
            loc: &[Loc::VarList("KUBECONFIG"), Loc::Home(".kube/config")],
            format: Format::Whole {
                field: "kubeconfig",
                newline: false,
            },
            mode: 0o600,
            needs: "kubeconfig",
        }],
        env: &[],
    },
    Outputs {
        kind: "docker",
        files: &[FileSpec {
            role: "config.json",
            loc: &[
                Loc::VarDir("DOCKER_CONFIG", "config.json"),
                Loc::Home(".docker/config.json"),
            ],
            format: Format::DockerAuths,
            mode: 0o600,
            needs: "password",
        }],
        env: &[
            field_var("SKYPILOT_DOCKER_USERNAME", "username"),
            field_var("SKYPILOT_DOCKER_PASSWORD", "password"),
            field_var("SKYPILOT_DOCKER_SERVER", "registry"),
        ],
    },
    api_key!("anthropic", "ANTHROPIC_API_KEY"),
    api_key!("cohere", "COHERE_API_KEY"),
    api_key!("langchain", "LANGCHAIN_API_KEY"),
    api_key!("openai", "OPENAI_API_KEY"),
    api_key!("pinecone", "PINECONE_API_KEY"),
    Outputs {
        kind: "wandb",
        files: &[FileSpec {
            role: "netrc",
            loc: &[Loc::Var("NETRC"), Loc::Home(".netrc")],
            format: Format::Netrc,
            mode: 0o600,
            needs: "api_key",
        }],
        env: &[field_var("WANDB_API_KEY", "api_key")],
    },
    Outputs {
        kind: "env",
        files: &[],
        env: &[],
    },
    Outputs {
        kind: "files",
        files: &[],
        env: &[],
    },
];

const SSH_FILES: &[FileSpec] = &[
    FileSpec {
        role: "private key",
        loc: &[Loc::Home(".ssh/{key_name}")],
        format: Format::Whole {
            field: "private_key",
            newline: true,
        },
        mode: 0o600,
        needs: "private_key",
    },
    FileSpec {
        role: "public key",
        loc: &[Loc::Home(".ssh/{key_name}.pub")],
        format: Format::Whole {
            field: "public_key",
            newline: true,
        },
        mode: 0o644,
        needs: "public_key",
    },
    FileSpec {
        role: "known_hosts",
        loc: &[Loc::Home(".ssh/known_hosts")],
        format: Format::Lines("known_hosts"),
        mode: 0o600,
        needs: "known_hosts",
    },
];

/// An env var set to a field's value.
const fn field_var(var: &'static str, field: &'static str) -> EnvSpec {
    EnvSpec {
        var,
        value: EnvValue::Field(field),
    }
}

/// An API-key provider: its one field delivered as one env var.
macro_rules! api_key {
    ($kind:literal, $var:literal) => {
        Outputs {
            kind: $kind,
            files: &[],
            env: &[field_var($var, "api_key")],
        }
    };
}
use api_key;

/// What `kind` writes; nothing for a kind without a row (the test below keeps the two tables in
/// step, so that is never the case).
pub(crate) fn outputs(kind: &KindSpec) -> &'static Outputs {
    const NONE: Outputs = Outputs {
        kind: "",
        files: &[],
        env: &[],
    };
    OUTPUTS
        .iter()
        .find(|o| o.kind == kind.name)
        .unwrap_or(&NONE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::providers::KINDS;

    #[test]
    fn every_kind_has_its_outputs_row() {
        let kinds: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
        let rows: Vec<&str> = OUTPUTS.iter().map(|o| o.kind).collect();
        assert_eq!(kinds, rows, "manifest::providers::KINDS and OUTPUTS differ");
    }
}

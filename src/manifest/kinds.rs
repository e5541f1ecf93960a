//! The one table of provider kinds: for each, its name, its fields (secret or not, required,
//! default, shape: the schema `secret_init.providers` is checked against) and its outputs (the
//! files it writes, where, in which format and mode, and the env vars it sets). A provider is
//! one row; `provider/` builds the deliveries from it and the file formats live there.
//!
//! Destinations follow the tool's own lookup, override variables first: botocore
//! (`AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`), huggingface_hub (`HF_TOKEN_PATH`, `HF_HOME`,
//! `XDG_CACHE_HOME`), google-auth (`GOOGLE_APPLICATION_CREDENTIALS`, `CLOUDSDK_CONFIG`), the docker
//! CLI and SDK (`DOCKER_CONFIG`), kubectl and the kubernetes client (`KUBECONFIG`, first entry), gh
//! (`GH_CONFIG_DIR`, `XDG_CONFIG_HOME`), the Azure CLI (`AZURE_CONFIG_DIR`) and netrc readers
//! (`NETRC`). Defaults are Runhouse's (`runhouse/resources/secrets/provider_secrets/*.py`).

/// One input of a provider.
#[derive(Debug)]
pub struct FieldSpec {
    /// The field's name in `fields:` / `values:`.
    pub name: &'static str,
    /// Whether it must come from a declared secret (never a literal in config.yaml).
    pub secret: bool,
    /// Whether the provider cannot work without it.
    pub required: bool,
    /// Whether the value is a whole document (a key, a JSON file) rather than one line.
    pub multiline: bool,
    /// The value used when the manifest gives none.
    pub default: Option<&'static str>,
    /// What the value must look like beyond one line of text.
    pub shape: Shape,
}

/// What a setting's value is, so that a wrong one is refused rather than written where the tool
/// cannot read it (wandb reads `machine https://api.wandb.ai` as no entry at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Any one line (or document).
    Text,
    /// A host name or IP address, optionally `:port`; no scheme, no path.
    Host,
    /// A registry: a host as for [`Shape::Host`], optionally with an `https://` or `http://`
    /// scheme and a path (docker's config.json keys take both forms).
    Registry,
}

const fn secret(name: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        secret: true,
        required: true,
        multiline: false,
        default: None,
        shape: Shape::Text,
    }
}

const fn secret_opt(name: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        secret: true,
        required: false,
        multiline: false,
        default: None,
        shape: Shape::Text,
    }
}

const fn document(name: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        secret: true,
        required: true,
        multiline: true,
        default: None,
        shape: Shape::Text,
    }
}

/// A non-secret setting that names a host (or registry), checked as one.
const fn host(name: &'static str, default: &'static str, shape: Shape) -> FieldSpec {
    FieldSpec {
        name,
        secret: false,
        required: false,
        multiline: false,
        default: Some(default),
        shape,
    }
}

/// A non-secret setting: may be a literal under `values:` or come from a secret.
const fn setting(name: &'static str, default: Option<&'static str>) -> FieldSpec {
    FieldSpec {
        name,
        secret: false,
        required: false,
        multiline: false,
        default,
        shape: Shape::Text,
    }
}

const fn setting_required(name: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        secret: false,
        required: true,
        multiline: false,
        default: None,
        shape: Shape::Text,
    }
}

/// Kinds whose fields are not fixed (Run:ai's generic credential kinds).
#[derive(Debug, PartialEq, Eq)]
pub enum Open {
    /// Fixed fields.
    No,
    /// Every field is an env var of that name.
    EnvVars,
    /// Every field is a file of that name in the instance's `path` directory.
    FileNames,
}

/// A provider kind as the schema sees it: its name, its fields and whether they are open.
#[derive(Debug)]
pub struct KindSpec {
    /// Its name in `kind:` and `secret-init providers`.
    pub name: &'static str,
    /// One line about it.
    pub about: &'static str,
    /// Its fields.
    pub fields: &'static [FieldSpec],
    /// Whether env vars are delivered when the instance does not say `env:`.
    pub env_default: bool,
    /// Whether its fields are open.
    pub open: Open,
    /// The files it writes.
    pub files: &'static [FileSpec],
    /// The env vars it sets.
    pub env: &'static [EnvSpec],
}

/// Every built-in provider kind, in listing order: its fields (the schema config.yaml is
/// checked against) and its outputs (the files it writes and the env vars it sets).
pub(crate) const KINDS: &[KindSpec] = &[
    KindSpec {
        name: "aws",
        about: "AWS credentials and config files (botocore, boto3, the aws CLI)",
        fields: &[
            secret("aws_access_key_id"),
            secret("aws_secret_access_key"),
            secret_opt("aws_session_token"),
            setting("region", None),
            setting("profile", Some("default")),
        ],
        // Env vars beat every profile in botocore, so they are opt-in: the files are enough.
        env_default: false,
        open: Open::No,
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
    KindSpec {
        name: "gcp",
        about: "Google service-account or ADC JSON (google-auth, gcloud)",
        fields: &[document("credentials"), setting("project", None)],
        env_default: true,
        open: Open::No,
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
    KindSpec {
        name: "azure",
        about: "Azure subscription (az CLI clouds.config) and service-principal env vars (azure-identity)",
        fields: &[
            setting_required("subscription_id"),
            setting("tenant_id", None),
            setting("client_id", None),
            secret_opt("client_secret"),
        ],
        env_default: true,
        open: Open::No,
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
    KindSpec {
        name: "github",
        about: "GitHub token: gh's hosts.yml and GH_TOKEN",
        fields: &[
            secret("token"),
            setting("user", None),
            host("host", "github.com", Shape::Host),
        ],
        env_default: true,
        open: Open::No,
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
    KindSpec {
        name: "huggingface",
        about: "Hugging Face token file and HF_TOKEN (huggingface_hub, transformers)",
        fields: &[secret("token")],
        env_default: true,
        open: Open::No,
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
    KindSpec {
        name: "lambda",
        about: "Lambda Cloud API key file",
        fields: &[secret("api_key")],
        env_default: false,
        open: Open::No,
        files: &[FileSpec {
            role: "lambda_keys",
            loc: &[Loc::Home(".lambda_cloud/lambda_keys")],
            format: Format::KeyValue(&[("api_key", "api_key")]),
            mode: 0o600,
            needs: "api_key",
        }],
        env: &[],
    },
    KindSpec {
        name: "ssh",
        about: "SSH key pair: private key 0600, public key 0644, known_hosts merged",
        fields: &[
            document("private_key"),
            setting("public_key", None),
            KNOWN_HOSTS,
            setting("key_name", Some("id_rsa")),
        ],
        env_default: false,
        open: Open::No,
        files: SSH_FILES,
        env: &[],
    },
    KindSpec {
        name: "sky",
        about: "SkyPilot's SSH key pair (~/.ssh/sky-key)",
        fields: &[
            document("private_key"),
            setting("public_key", None),
            KNOWN_HOSTS,
            setting("key_name", Some("sky-key")),
        ],
        env_default: false,
        open: Open::No,
        files: SSH_FILES,
        env: &[],
    },
    KindSpec {
        name: "kubernetes",
        about: "kubeconfig (kubectl, the kubernetes Python client)",
        fields: &[document("kubeconfig")],
        env_default: false,
        open: Open::No,
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
    KindSpec {
        name: "docker",
        about: "Docker registry login: config.json auths (docker CLI and SDK, SkyPilot env vars)",
        fields: &[
            host("registry", "https://index.docker.io/v1/", Shape::Registry),
            setting_required("username"),
            secret("password"),
        ],
        env_default: false,
        open: Open::No,
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
    KindSpec {
        name: "anthropic",
        about: "Anthropic API key",
        fields: API_KEY_FIELDS,
        env_default: true,
        open: Open::No,
        files: &[],
        env: &[field_var("ANTHROPIC_API_KEY", "api_key")],
    },
    KindSpec {
        name: "cohere",
        about: "Cohere API key",
        fields: API_KEY_FIELDS,
        env_default: true,
        open: Open::No,
        files: &[],
        env: &[field_var("COHERE_API_KEY", "api_key")],
    },
    KindSpec {
        name: "langchain",
        about: "LangChain / LangSmith API key",
        fields: API_KEY_FIELDS,
        env_default: true,
        open: Open::No,
        files: &[],
        env: &[field_var("LANGCHAIN_API_KEY", "api_key")],
    },
    KindSpec {
        name: "openai",
        about: "OpenAI API key",
        fields: API_KEY_FIELDS,
        env_default: true,
        open: Open::No,
        files: &[],
        env: &[field_var("OPENAI_API_KEY", "api_key")],
    },
    KindSpec {
        name: "pinecone",
        about: "Pinecone API key",
        fields: API_KEY_FIELDS,
        env_default: true,
        open: Open::No,
        files: &[],
        env: &[field_var("PINECONE_API_KEY", "api_key")],
    },
    KindSpec {
        name: "wandb",
        about: "Weights & Biases: WANDB_API_KEY and the ~/.netrc entry wandb login writes",
        fields: &[
            secret("api_key"),
            host("host", "api.wandb.ai", Shape::Host),
            setting("login", Some("user")),
        ],
        env_default: true,
        open: Open::No,
        files: &[FileSpec {
            role: "netrc",
            loc: &[Loc::Var("NETRC"), Loc::Home(".netrc")],
            format: Format::Netrc,
            mode: 0o600,
            needs: "api_key",
        }],
        env: &[field_var("WANDB_API_KEY", "api_key")],
    },
    KindSpec {
        name: "env",
        about: "a group of env vars (Run:ai's environment-variable credential): field = variable name",
        fields: &[],
        env_default: true,
        open: Open::EnvVars,
        files: &[],
        env: &[],
    },
    KindSpec {
        name: "files",
        about: "a directory of named files (Run:ai's file-mount credential): field = file name in `path`",
        fields: &[],
        env_default: false,
        open: Open::FileNames,
        files: &[],
        env: &[],
    },
];

/// `known_hosts` lines for the ssh and sky kinds: not secret, optional, a whole document.
const KNOWN_HOSTS: FieldSpec = FieldSpec {
    name: "known_hosts",
    secret: false,
    required: false,
    multiline: true,
    default: None,
    shape: Shape::Text,
};

/// The fields of an API-key provider: one secret, delivered as one env var.
const API_KEY_FIELDS: &[FieldSpec] = &[secret("api_key")];

/// The kind called `name`.
pub(crate) fn kind(name: &str) -> Option<&'static KindSpec> {
    KINDS.iter().find(|k| k.name == name)
}

impl KindSpec {
    /// The field called `name`, for fixed kinds.
    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// One step of a destination lookup; the first step whose variable is set wins.
#[derive(Debug)]
pub enum Loc {
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
pub enum Format {
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
pub enum Section {
    /// `[<profile>]` (the AWS credentials file).
    Profile,
    /// `[default]` or `[profile <profile>]` (the AWS config file).
    ConfigProfile,
    /// A fixed name.
    Fixed(&'static str),
}

/// A file a provider writes.
#[derive(Debug)]
pub struct FileSpec {
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
pub enum EnvValue {
    /// A field's value.
    Field(&'static str),
    /// The path of the provider's file with this index (`GOOGLE_APPLICATION_CREDENTIALS`).
    PathOf(usize),
}

/// An env var a provider sets in the program's environment.
#[derive(Debug)]
pub struct EnvSpec {
    /// The variable.
    pub var: &'static str,
    /// Its value.
    pub value: EnvValue,
}

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

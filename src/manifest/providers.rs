//! `secret_init.providers` as written and validated, and the half of the provider table the
//! schema needs: each kind's name and fields (secret or not, required, default, shape). Where a
//! kind's files go and which env vars it sets is the other half, `provider/registry.rs`, keyed by
//! the same names. An instance's fields are mapped to declared secrets or literals here; nothing
//! is resolved or delivered.

use std::collections::BTreeMap;

use super::Declared;
use crate::error::{Error, Errors, Kind};
use crate::name::{self, SecretName};

crate::source::section::raw_section! {
    /// `secret_init.providers.<name>` as written.
    pub struct RawInstance {
        kind: Option<String>,
        profile: Option<String>,
        path: Option<String>,
        fields: BTreeMap<String, String>,
        values: BTreeMap<String, String>,
        overwrite: Option<bool>,
        env: Option<bool>,
    }
}

/// Where a field's value comes from.
#[derive(Clone, Debug)]
pub enum FieldSource {
    /// A declared secret, resolved like any other.
    Secret(SecretName),
    /// A literal from `values:` (non-secret fields only).
    Literal(String),
}

/// A validated provider instance.
#[derive(Clone, Debug)]
pub struct Instance {
    /// Its key under `providers:`.
    pub name: String,
    /// Its kind.
    pub kind: &'static KindSpec,
    /// Field name → where its value comes from.
    pub fields: BTreeMap<String, FieldSource>,
    /// The mount directory of a `files` instance, as written (`~/` allowed).
    pub path: Option<String>,
    /// Replace conflicting values already in the files.
    pub overwrite: bool,
    /// Deliver the kind's env vars.
    pub env: bool,
}

/// Validates the `providers:` map against the declared secrets; problems go to `errors` (78 for
/// unknown keys, kinds and fields).
pub(crate) fn validate(
    raw: BTreeMap<String, RawInstance>,
    declared: &[Declared],
    src: &str,
    errors: &mut Errors,
) -> Vec<Instance> {
    let mut out = Vec::new();
    for (name, raw) in raw {
        let section = format!("secret_init.providers.{name}");
        let refuse =
            |what: String| Error::new(Kind::Config, format!("{section}: {what}")).with_source(src);
        let before = errors.0.len();
        super::reject_unknown(&section, &raw.unknown, src, errors);
        if let Err(why) = SecretName::parse(&name) {
            errors.push(refuse(format!("provider name: {why}")));
            continue;
        }
        let kind_name = raw.kind.clone().unwrap_or_else(|| name.clone());
        let Some(kind) = kind(&kind_name) else {
            let known: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
            errors.push(refuse(format!(
                "unknown provider kind \"{}\" (known: {}); set kind: when the name is not a kind",
                crate::log::escape_controls(&kind_name),
                known.join(", ")
            )));
            continue;
        };
        let mut fields: BTreeMap<String, FieldSource> = BTreeMap::new();
        let check_field = |field: &str| -> Result<Option<&'static FieldSpec>, String> {
            match kind.open {
                Open::No => kind.field(field).map(Some).ok_or_else(|| {
                    let known: Vec<&str> = kind.fields.iter().map(|f| f.name).collect();
                    format!(
                        "unknown field \"{}\" for kind {} (fields: {})",
                        crate::log::escape_controls(field),
                        kind.name,
                        known.join(", ")
                    )
                }),
                Open::EnvVars if name::is_env_name(field) => Ok(None),
                Open::EnvVars => Err(format!(
                    "field \"{}\" is not a valid env var name",
                    crate::log::escape_controls(field)
                )),
                Open::FileNames => SecretName::parse(field).map(|_| None).map_err(|why| {
                    format!(
                        "file name \"{}\": {why}",
                        crate::log::escape_controls(field)
                    )
                }),
            }
        };
        for (field, secret) in &raw.fields {
            if let Err(why) = check_field(field) {
                errors.push(refuse(why));
                continue;
            }
            match declared.iter().find(|d| d.name.as_str() == secret) {
                Some(d) => {
                    fields.insert(field.clone(), FieldSource::Secret(d.name.clone()));
                }
                None => errors.push(refuse(format!(
                    "field {field}: secret \"{}\" is not declared under secrets:",
                    crate::log::escape_controls(secret)
                ))),
            }
        }
        let mut literals = raw.values.clone();
        if let Some(p) = &raw.profile {
            if kind.field("profile").is_none() {
                errors.push(refuse(format!(
                    "profile: not a setting of kind {}",
                    kind.name
                )));
            } else if literals.insert("profile".into(), p.clone()).is_some() {
                errors.push(refuse(
                    "profile given twice (profile: and values.profile)".into(),
                ));
            }
        }
        for (field, value) in literals {
            match check_field(&field) {
                Err(why) => errors.push(refuse(why)),
                Ok(Some(spec)) if spec.secret => errors.push(refuse(format!(
                    "field {field} is secret: map it to a declared secret under fields:, never a literal"
                ))),
                Ok(_) if fields.contains_key(&field) => {
                    errors.push(refuse(format!("field {field} given under both fields: and values:")))
                }
                Ok(_) => {
                    fields.insert(field, FieldSource::Literal(value));
                }
            }
        }
        for spec in kind.fields {
            if spec.required && spec.default.is_none() && !fields.contains_key(spec.name) {
                errors.push(refuse(format!("required field {} is not given", spec.name)));
            }
        }
        match (&kind.open, &raw.path) {
            (Open::FileNames, None) => {
                errors.push(refuse("path: the mount directory is required".into()))
            }
            (Open::FileNames, Some(p))
                if !(p.starts_with('/') || p.starts_with("~/"))
                    || p.split('/').any(|c| c == "..") =>
            {
                errors.push(refuse(
                    "path: must be absolute (or ~/...) without \"..\"".into(),
                ))
            }
            (Open::FileNames, Some(_)) => {}
            (_, Some(_)) => errors.push(refuse(format!(
                "path: only a files instance has a path, not {}",
                kind.name
            ))),
            (_, None) => {}
        }
        if kind.open != Open::No && fields.is_empty() {
            errors.push(refuse("no fields given".into()));
        }
        if errors.0.len() > before {
            continue;
        }
        out.push(Instance {
            name,
            kind,
            fields,
            path: raw.path,
            overwrite: raw.overwrite.unwrap_or(false),
            env: raw.env.unwrap_or(kind.env_default),
        });
    }
    out
}

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
}

/// Every built-in provider kind, in listing order (`provider::registry::OUTPUTS` holds the same
/// names in the same order).
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
    },
    KindSpec {
        name: "gcp",
        about: "Google service-account or ADC JSON (google-auth, gcloud)",
        fields: &[document("credentials"), setting("project", None)],
        env_default: true,
        open: Open::No,
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
    },
    KindSpec {
        name: "huggingface",
        about: "Hugging Face token file and HF_TOKEN (huggingface_hub, transformers)",
        fields: &[secret("token")],
        env_default: true,
        open: Open::No,
    },
    KindSpec {
        name: "lambda",
        about: "Lambda Cloud API key file",
        fields: &[secret("api_key")],
        env_default: false,
        open: Open::No,
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
    },
    KindSpec {
        name: "kubernetes",
        about: "kubeconfig (kubectl, the kubernetes Python client)",
        fields: &[document("kubeconfig")],
        env_default: false,
        open: Open::No,
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
    },
    api_key("anthropic", "Anthropic API key"),
    api_key("cohere", "Cohere API key"),
    api_key("langchain", "LangChain / LangSmith API key"),
    api_key("openai", "OpenAI API key"),
    api_key("pinecone", "Pinecone API key"),
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
    },
    KindSpec {
        name: "env",
        about: "a group of env vars (Run:ai's environment-variable credential): field = variable name",
        fields: &[],
        env_default: true,
        open: Open::EnvVars,
    },
    KindSpec {
        name: "files",
        about: "a directory of named files (Run:ai's file-mount credential): field = file name in `path`",
        fields: &[],
        env_default: false,
        open: Open::FileNames,
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

/// An API-key provider: one secret field (delivered as one env var).
const fn api_key(name: &'static str, about: &'static str) -> KindSpec {
    const API_KEY: &[FieldSpec] = &[secret("api_key")];
    KindSpec {
        name,
        about,
        fields: API_KEY,
        env_default: true,
        open: Open::No,
    }
}

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

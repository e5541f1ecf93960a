//! `secret_init.providers` as written and validated against the provider table
//! (`manifest/kinds.rs`). An instance's fields are mapped to declared secrets or literals here;
//! nothing is resolved or delivered.

use std::collections::BTreeMap;

use super::Declared;
use super::kinds::{FieldSpec, KINDS, KindSpec, Open, kind};
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
        super::reject_unknown::<RawInstance>(&section, &raw.unknown, src, errors);
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

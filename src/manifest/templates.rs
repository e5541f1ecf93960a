//! `secret_init.templates` as written and validated: the schema half of templates, here so that
//! the manifest needs nothing from the renderer (`template/`), which reads these values.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Errors, Kind};

/// A declared template, validated.
#[derive(Clone, Debug)]
pub struct Template {
    /// Its name under `secret_init.templates`, for messages and `check`.
    pub name: String,
    /// Where the rendered file goes (absolute).
    pub destination: PathBuf,
    /// The template text, or where to read it.
    pub body: Body,
    /// File mode, default 0o600.
    pub mode: u32,
    /// Owner `UID[:GID]`, as for secrets.
    pub owner: Option<String>,
}

/// Where a template's text is.
#[derive(Clone, Debug)]
pub enum Body {
    /// `template:` inline in config.yaml.
    Inline(String),
    /// `source:` a file; includes are looked up in its directory.
    Source(PathBuf),
}

crate::source::section::raw_section! {
    /// `secret_init.templates.<name>` as written.
    pub struct RawTemplate {
        destination: Option<PathBuf>,
        template: Option<String>,
        source: Option<PathBuf>,
        mode: Option<super::RawMode>,
        owner: Option<String>,
    }
}

/// Validates `secret_init.templates`; problems are added to `errors` (`src` names the file).
pub(crate) fn validate(
    raw: BTreeMap<String, RawTemplate>,
    src: &str,
    errors: &mut Errors,
) -> Vec<Template> {
    let mut out = Vec::new();
    for (name, t) in raw {
        let section = format!("secret_init.templates.{name}");
        let fail =
            |why: String| Error::new(Kind::Data, format!("{section}: {why}")).with_source(src);
        if let Err(why) = crate::name::SecretName::parse(&name) {
            errors.push(fail(why));
            continue;
        }
        super::reject_unknown::<RawTemplate>(&section, &t.unknown, src, errors);
        let destination = match t.destination {
            Some(d) if is_clean_absolute(&d) && d.file_name().is_some() => d,
            Some(_) => {
                errors.push(fail(
                    "destination: must be an absolute file path without \"..\"".into(),
                ));
                continue;
            }
            None => {
                errors.push(fail("destination: missing".into()));
                continue;
            }
        };
        let body = match (t.template, t.source) {
            (Some(text), None) => Body::Inline(text),
            (None, Some(p)) if is_clean_absolute(&p) && p.file_name().is_some() => Body::Source(p),
            (None, Some(_)) => {
                errors.push(fail(
                    "source: must be an absolute file path without \"..\"".into(),
                ));
                continue;
            }
            _ => {
                errors.push(fail(
                    "give exactly one of template: (inline text) or source: (a file)".into(),
                ));
                continue;
            }
        };
        let mode = match t.mode.as_ref().map(super::RawMode::parse).transpose() {
            Ok(m) => m.unwrap_or(0o600),
            Err(why) => {
                errors.push(fail(why));
                continue;
            }
        };
        if let Some(Err(why)) = t.owner.as_deref().map(super::parse_owner) {
            errors.push(fail(why));
            continue;
        }
        out.push(Template {
            name,
            destination,
            body,
            mode,
            owner: t.owner,
        });
    }
    out
}

fn is_clean_absolute(p: &Path) -> bool {
    p.is_absolute() && !p.components().any(|c| matches!(c, Component::ParentDir))
}

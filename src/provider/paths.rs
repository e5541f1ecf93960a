//! Where a provider's files go: each [`FileSpec`]'s lookup steps ([`Loc`]) tried against the
//! start-time environment, `~/` expanded from HOME, `{field}` placeholders filled with a field's
//! value checked as one file name.

use std::path::{Component, PathBuf};

use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::manifest::kinds::{FileSpec, Loc};
use crate::name::SecretName;

/// Resolves a file's destination from the start-time environment: the first applicable step.
/// Returns the path and what decided it (`AWS_SHARED_CREDENTIALS_FILE`, `HOME`).
pub(crate) fn locate(
    spec: &FileSpec,
    env: &Environ,
    values: &dyn Fn(&str) -> Option<String>,
) -> Result<(PathBuf, &'static str), Error> {
    let var = |name: &str| {
        env.get(name)
            .filter(|v| !v.is_empty())
            .map(|v| v.to_string_lossy().into_owned())
    };
    for step in spec.loc {
        match step {
            Loc::Var(v) => {
                if let Some(p) = var(v) {
                    return Ok((expand(&p, env, v)?, v));
                }
            }
            Loc::VarList(v) => {
                if let Some(first) =
                    var(v).and_then(|l| l.split(':').find(|s| !s.is_empty()).map(str::to_string))
                {
                    return Ok((expand(&first, env, v)?, v));
                }
            }
            Loc::VarDir(v, rel) => {
                if let Some(dir) = var(v) {
                    let dir = expand(&dir, env, v)?;
                    return Ok((dir.join(substitute(rel, values)?), v));
                }
            }
            Loc::Home(rel) => {
                let home = var("HOME").ok_or_else(|| {
                    Error::new(Kind::Config, format!("{}: HOME is not set", spec.role))
                })?;
                let home = expand(&home, env, "HOME")?;
                return Ok((home.join(substitute(rel, values)?), "HOME"));
            }
        }
    }
    Err(Error::new(
        Kind::Config,
        format!("{}: no destination", spec.role),
    ))
}

/// Expands a path from an env var or the manifest: `~/` from HOME; relative paths are refused.
pub(super) fn expand(raw: &str, env: &Environ, origin: &str) -> Result<PathBuf, Error> {
    let p = crate::environ::expand_home(raw, env).ok_or_else(|| {
        Error::new(
            Kind::Config,
            format!("{origin}: \"~\" used but HOME is not set"),
        )
    })?;
    if !p.is_absolute() || p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(Error::new(
            Kind::Config,
            format!(
                "{origin}: {} must be an absolute path without \"..\"",
                p.display()
            ),
        ));
    }
    Ok(p)
}

pub(super) fn substitute(
    template: &str,
    values: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Error> {
    let Some(start) = template.find('{') else {
        return Ok(template.to_string());
    };
    let end = template[start..]
        .find('}')
        .map(|e| start + e)
        .unwrap_or(template.len());
    let field = &template[start + 1..end];
    let v = values(field).unwrap_or_default();
    if SecretName::parse(&v).is_err() {
        return Err(Error::new(
            Kind::Config,
            format!(
                "{field}: \"{}\" is not a valid file name",
                crate::log::escape_controls(&v)
            ),
        ));
    }
    Ok(format!(
        "{}{v}{}",
        &template[..start],
        &template[(end + 1).min(template.len())..]
    ))
}

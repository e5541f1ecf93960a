//! Resolution: every declared secret looked up in memory before anything is written.
//!
//! A secret with a `from:` reference is fetched from exactly that place; every other secret walks
//! the source order and takes the first hit. Problems are collected, not returned early, so a start
//! that lacks three secrets says so in three lines at once, each listing the sources tried.

use crate::error::{Error, Errors, Kind};
use crate::manifest::{Declared, Manifest, SecretSettings};
use crate::name::SecretName;
use crate::secret::Secret;
use crate::source::{Origin, SourceKind, Sources};

/// The outcome for one declared secret.
#[derive(Debug)]
pub struct Resolution {
    /// The secret's name.
    pub name: SecretName,
    /// Its value, unless it is missing (optional) or failed.
    pub value: Option<Secret>,
    /// Where the value came from.
    pub origin: Option<Origin>,
    /// The per-secret settings, for planning its delivery.
    pub settings: SecretSettings,
    /// The places looked in, in order.
    pub tried: Vec<String>,
    /// Why it has no value, when it has none and that is an error.
    pub problem: Option<Error>,
}

/// Resolves `declared` (all, or a subset for `get`) against `sources`.
pub fn resolve<'a>(
    declared: impl IntoIterator<Item = &'a Declared>,
    sources: &mut Sources,
) -> (Vec<Resolution>, Errors) {
    let mut out = Vec::new();
    let mut errors = Errors::default();
    for d in declared {
        let r = resolve_one(d, sources);
        if let Some(p) = &r.problem {
            errors.push(p.clone());
        } else if r.value.is_none() {
            crate::warn!(
                "optional secret \"{}\" not found in {}; skipped",
                r.name,
                r.tried.join(", ")
            );
        }
        out.push(r);
    }
    (out, errors)
}

/// Resolves every secret a manifest declares.
pub fn resolve_all(manifest: &Manifest, sources: &mut Sources) -> (Vec<Resolution>, Errors) {
    resolve(&manifest.secrets, sources)
}

fn resolve_one(d: &Declared, sources: &mut Sources) -> Resolution {
    let mut r = Resolution {
        name: d.name.clone(),
        value: None,
        origin: None,
        settings: d.settings.clone(),
        tried: Vec::new(),
        problem: None,
    };
    let found = match &d.settings.from {
        Some(reference) => {
            r.tried.push(reference.to_string());
            match sources.get(SourceKind::of(reference)) {
                Some(source) => source.fetch(reference, &d.name),
                None => Err(Error::new(
                    Kind::Config,
                    format!("{} source is not configured", SourceKind::of(reference)),
                )
                .with_source(reference.to_string())),
            }
        }
        None => {
            let mut hit = Ok(None);
            for i in 0..sources.order().len() {
                let kind = sources.order()[i];
                let Some(source) = sources.get(kind) else {
                    continue;
                };
                match source.lookup(&d.name) {
                    Ok(None) => continue,
                    other => {
                        hit = other;
                        break;
                    }
                }
            }
            hit
        }
    };
    match found {
        Ok(Some(f)) => {
            let value = if d.settings.trim_newline {
                trim_one_newline(f.value)
            } else {
                f.value
            };
            crate::debug!(
                "secret \"{}\": resolved from {} ({} bytes)",
                d.name,
                f.origin,
                value.len()
            );
            r.value = Some(value);
            r.origin = Some(f.origin);
        }
        Ok(None) => {
            // The list of places looked in is only needed for a miss, so it is built only then.
            if d.settings.from.is_none() {
                r.tried = sources
                    .order()
                    .to_vec()
                    .into_iter()
                    .filter_map(|k| sources.get(k).map(|s| s.describe(&d.name)))
                    .collect();
            }
            if d.settings.optional {
                return r;
            }
            let tried = if r.tried.is_empty() {
                "no sources".to_string()
            } else {
                r.tried.join(", ")
            };
            r.problem = Some(Error::secret(
                Kind::Unavailable,
                d.name.as_str(),
                tried,
                "not found",
            ));
        }
        Err(e) => r.problem = Some(e.for_secret(d.name.as_str())),
    }
    r
}

/// Strips exactly one trailing `\n` or `\r\n`.
fn trim_one_newline(v: Secret) -> Secret {
    let b = v.expose();
    let cut = if b.ends_with(b"\r\n") {
        2
    } else if b.ends_with(b"\n") {
        1
    } else {
        return v;
    };
    Secret::new(b[..b.len() - cut].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest;
    use crate::settings::Environ;
    use crate::source::{default::DefaultSource, env::EnvSource};

    fn sources(m: &Manifest, env: &[(&str, &str)], order: Vec<SourceKind>) -> Sources {
        let env = Environ::from_pairs(env);
        Sources::from_parts(
            vec![
                Box::new(EnvSource::new("TRUSS_SECRET_".into(), env)),
                Box::new(DefaultSource::new(m)),
            ],
            order,
        )
    }

    #[test]
    fn precedence_follows_the_order() {
        let m = manifest::parse("secrets: {a: dflt, b: dflt}\n", "c").expect("ok");
        let env = [("TRUSS_SECRET_a", "from-env")];
        let (rs, errs) = resolve_all(
            &m,
            &mut sources(&m, &env, vec![SourceKind::Env, SourceKind::Default]),
        );
        assert!(errs.0.is_empty());
        assert_eq!(
            rs[0].value.as_ref().map(Secret::expose),
            Some(&b"from-env"[..])
        );
        assert_eq!(
            rs[1].origin.as_ref().map(|o| o.label.as_str()),
            Some("default")
        );
        let (rs, _) = resolve_all(
            &m,
            &mut sources(&m, &env, vec![SourceKind::Default, SourceKind::Env]),
        );
        assert_eq!(rs[0].value.as_ref().map(Secret::expose), Some(&b"dflt"[..]));
    }

    #[test]
    fn all_missing_are_reported_together() {
        let m = manifest::parse("secrets: {a: null, b: null, c: x}\n", "c").expect("ok");
        let (_, errs) = resolve_all(
            &m,
            &mut sources(&m, &[], vec![SourceKind::Env, SourceKind::Default]),
        );
        let lines: Vec<String> = errs.0.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "secret \"a\" (env:TRUSS_SECRET_a, default): not found",
                "secret \"b\" (env:TRUSS_SECRET_b, default): not found",
            ]
        );
        assert_eq!(errs.exit_code(), 69);
    }

    #[test]
    fn optional_and_references() {
        let m = manifest::parse(
            "secrets: {a: null, b: null}\nsecret_init:\n  secrets:\n    a: {optional: true}\n    b: {from: 'env:OTHER', trim_newline: true}\n",
            "c",
        )
        .expect("ok");
        let (rs, errs) = resolve_all(
            &m,
            &mut sources(&m, &[("OTHER", "v\r\n")], vec![SourceKind::Env]),
        );
        assert!(errs.0.is_empty(), "{errs:?}");
        assert!(rs[0].value.is_none());
        assert_eq!(rs[1].value.as_ref().map(Secret::expose), Some(&b"v"[..]));
        assert_eq!(
            rs[1].origin.as_ref().map(|o| o.label.as_str()),
            Some("env:OTHER")
        );
    }

    #[test]
    fn reference_to_unconfigured_source() {
        let m = manifest::parse("secrets: {a: null}\nsecret_init:\n  secrets:\n    a: {from: 'vault:secret/data/x#k'}\n", "c")
            .expect("ok");
        let (_, errs) = resolve_all(&m, &mut sources(&m, &[], vec![SourceKind::Env]));
        assert_eq!(errs.exit_code(), 78);
    }
}

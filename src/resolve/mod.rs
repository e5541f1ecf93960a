//! Resolution: every declared secret looked up in memory before anything is written.
//!
//! A secret with a `from:` reference is fetched from exactly that place; every other secret walks
//! the source order and takes the first hit. Problems are collected, not returned early, so a start
//! that lacks three secrets says so in three lines at once, each listing the sources tried.

use crate::error::{Cause, Error, Errors, Kind};
/// Why a reference's source is missing from the pass: not configured, or not in this build.
fn not_built(kind: SourceKind) -> String {
    if kind.compiled_in() {
        format!("{kind} source is not configured")
    } else {
        format!("this secret-init is built without the {kind} source (Cargo feature `{kind}`)")
    }
}

#[cfg(test)]
use crate::manifest::Manifest;
use crate::manifest::{Declared, SecretSettings};
use crate::name::SecretName;
use crate::secret::Secret;
use crate::source::{Origin, SourceKind};

mod sources;
pub(crate) use sources::Sources;

/// The outcome for one declared secret. It borrows the declaration's settings (a 10,000-secret
/// start holds one of these per secret, and a copy of the settings is ~200 bytes each).
#[derive(Debug)]
pub struct Resolution<'a> {
    /// The secret's name.
    pub name: &'a SecretName,
    /// Its value, unless it is missing (optional) or failed.
    pub value: Option<Secret>,
    /// Where the value came from.
    pub origin: Option<Origin>,
    /// The per-secret settings, for planning its delivery.
    pub settings: &'a SecretSettings,
    /// The places looked in, in order.
    pub tried: Vec<String>,
    /// Why it has no value, when it has none and that is an error (boxed: rare, and 80 bytes
    /// inline in every resolution).
    pub problem: Option<Box<Error>>,
    /// The source whose failure is the problem, when one failed (not for a plain miss): a
    /// remote one that could not be asked may be stood in for by the fallback snapshot.
    pub failed: Option<SourceKind>,
}

/// Why a secret was looked up nowhere: every source in the order is unconfigured.
const NO_SOURCE: &str = "no source in the order is configured to look in";

/// Resolves `declared` (all, or a subset for `get`) against `sources`.
pub(crate) fn resolve<'a>(
    declared: impl IntoIterator<Item = &'a Declared>,
    sources: &mut Sources,
) -> (Vec<Resolution<'a>>, Errors) {
    let declared: Vec<&Declared> = declared.into_iter().collect();
    let references: Vec<&crate::reference::Reference> = declared
        .iter()
        .filter_map(|d| d.settings.from.as_deref())
        .filter(|r| r.own_credential().is_none())
        .collect();
    sources.prefetch(&references);
    let mut out = Vec::with_capacity(declared.len());
    let mut errors = Errors::default();
    for d in declared {
        let r = resolve_one(d, sources);
        if let Some(p) = &r.problem {
            errors.push(Error::clone(p));
        } else if r.value.is_none() {
            // An empty order (`--sources` naming only unconfigured sources) tried nothing.
            if r.tried.is_empty() {
                crate::log::warn!(
                    "optional secret \"{}\" not looked up: {NO_SOURCE}; skipped",
                    r.name
                );
            } else {
                crate::log::warn!(
                    "optional secret \"{}\" not found in {}; skipped",
                    r.name,
                    r.tried.join(", ")
                );
            }
        }
        out.push(r);
    }
    (out, errors)
}

/// Resolves every secret a manifest declares.
#[cfg(test)]
pub(crate) fn resolve_all<'a>(
    manifest: &'a Manifest,
    sources: &mut Sources,
) -> (Vec<Resolution<'a>>, Errors) {
    resolve(&manifest.secrets, sources)
}

fn resolve_one<'a>(d: &'a Declared, sources: &mut Sources) -> Resolution<'a> {
    let mut r = Resolution {
        name: &d.name,
        value: None,
        origin: None,
        settings: &d.settings,
        tried: Vec::new(),
        problem: None,
        failed: None,
    };
    let found = match &d.settings.from {
        Some(reference) => {
            r.tried.push(reference.to_string());
            let refused = reference.own_credential();
            match sources.get(SourceKind::of(reference)) {
                // Never requested: the answer would be one of our credentials.
                _ if refused.is_some() => Err(Error::new(
                    Kind::Config,
                    format!("refused: {}", refused.unwrap_or_default()),
                )
                .with_source(reference.to_string())),
                Some(source) => {
                    r.failed = Some(SourceKind::of(reference));
                    source.fetch(reference, &d.name)
                }
                None => Err(
                    Error::new(Kind::Config, not_built(SourceKind::of(reference)))
                        .with_source(reference.to_string()),
                ),
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
                        r.failed = Some(kind);
                        hit = other;
                        break;
                    }
                }
            }
            hit
        }
    };
    if found.is_ok() {
        r.failed = None;
    }
    match found {
        Ok(Some(f)) => {
            let value = if d.settings.trim_newline {
                trim_one_newline(f.value)
            } else {
                f.value
            };
            crate::log::debug!(
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
            r.problem = Some(Box::new(if r.tried.is_empty() {
                Error::secret(Kind::Unavailable, d.name.as_str(), "--sources", NO_SOURCE)
                    .because(Cause::SecretMissing)
            } else {
                Error::secret(
                    Kind::Unavailable,
                    d.name.as_str(),
                    r.tried.join(", "),
                    "not found",
                )
                .because(Cause::SecretMissing)
            }));
        }
        Err(e) => r.problem = Some(Box::new(e.for_secret(d.name.as_str()))),
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
    use crate::environ::Environ;
    use crate::manifest;
    use crate::source::{default::DefaultSource, env::EnvSource};

    fn sources(m: &Manifest, env: &[(&str, &str)], order: Vec<SourceKind>) -> Sources {
        let env = Environ::from_pairs(env);
        Sources::from_parts(
            vec![
                Box::new(EnvSource::new("TRUSS_SECRET_".into(), env)),
                Box::new(DefaultSource::new(sources::defaults(m))),
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

    /// Property tests of the precedence rules over the real file, env, local and default sources
    /// with random contents and orders: the winner is the first source in the order that
    /// has the name; a `from:` reference is served by its own source whatever the order says.
    mod precedence {
        use std::path::Path;

        use proptest::prelude::*;

        use super::*;
        use crate::manifest::{Declared, SecretSettings};
        use crate::reference::Reference;
        use crate::source::{Source, file::FileSource, local::LocalSource};

        const NAMES: [&str; 4] = ["a", "b.key", "c_1", "d-2"];
        const KINDS: [SourceKind; 4] = [
            SourceKind::File,
            SourceKind::Env,
            SourceKind::Local,
            SourceKind::Default,
        ];

        /// Per name: none, `env:REF_<i>` or `file:<dir>/ref/<name>`, and whether it exists.
        #[derive(Clone, Debug)]
        enum From {
            Order,
            Env(bool),
            File(bool),
        }

        fn from_strategy() -> impl Strategy<Value = From> {
            prop_oneof![
                3 => Just(From::Order),
                1 => any::<bool>().prop_map(From::Env),
                1 => any::<bool>().prop_map(From::File),
            ]
        }

        fn value(kind: SourceKind, name: &str) -> Vec<u8> {
            format!("{kind}-value-of-{name}").into_bytes()
        }

        fn yaml_quote(s: &str) -> String {
            format!("'{s}'")
        }

        fn build(
            dir: &Path,
            has: &[[bool; 4]; 4],
            order: &[SourceKind],
            from: &[From],
            optional: &[bool],
        ) -> (Manifest, Sources) {
            let secrets = dir.join("secrets");
            let refs = dir.join("ref");
            std::fs::create_dir_all(&secrets).expect("mkdir secrets");
            std::fs::create_dir_all(&refs).expect("mkdir ref");
            let mut env = Vec::new();
            let mut local = String::from("secrets:\n");
            let mut declared = Vec::new();
            for (i, name) in NAMES.iter().enumerate() {
                if has[0][i] {
                    std::fs::write(secrets.join(name), value(SourceKind::File, name))
                        .expect("write");
                }
                if has[1][i] {
                    let v = String::from_utf8(value(SourceKind::Env, name)).expect("utf-8");
                    env.push((format!("TRUSS_SECRET_{name}"), v));
                }
                if has[2][i] {
                    let v = String::from_utf8(value(SourceKind::Local, name)).expect("utf-8");
                    local.push_str(&format!("  {}: {}\n", yaml_quote(name), yaml_quote(&v)));
                }
                let reference = match from[i] {
                    From::Order => None,
                    From::Env(exists) => {
                        if exists {
                            env.push((format!("REF_{i}"), format!("ref-env-{name}")));
                        }
                        Some(Reference::Env(format!("REF_{i}")))
                    }
                    From::File(exists) => {
                        let path = refs.join(name);
                        if exists {
                            std::fs::write(&path, format!("ref-file-{name}")).expect("write");
                        }
                        Some(Reference::File(path))
                    }
                };
                declared.push(Declared {
                    name: SecretName::parse(name).expect("valid name"),
                    default: has[3][i].then(|| Secret::new(value(SourceKind::Default, name))),
                    settings: SecretSettings {
                        from: reference.map(Box::new),
                        optional: optional[i],
                        ..SecretSettings::default()
                    },
                });
            }
            let local_path = dir.join("local.yaml");
            std::fs::write(&local_path, local).expect("write local config");
            let manifest = Manifest {
                secrets: declared,
                ..Manifest::default()
            };
            let pairs: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let all: Vec<Box<dyn Source>> = vec![
                Box::new(FileSource::new(vec![secrets], 1024)),
                Box::new(EnvSource::new(
                    "TRUSS_SECRET_".into(),
                    Environ::from_pairs(&pairs),
                )),
                Box::new(LocalSource::new(
                    local_path,
                    crate::manifest::read_local_secrets,
                )),
                Box::new(DefaultSource::new(sources::defaults(&manifest))),
            ];
            (manifest, Sources::from_parts(all, order.to_vec()))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            #[test]
            fn first_source_in_order_wins_and_references_bypass_it(
                has in proptest::array::uniform4(proptest::array::uniform4(any::<bool>())),
                order in Just(KINDS.to_vec()).prop_shuffle(),
                keep in 0usize..=4,
                from in proptest::collection::vec(from_strategy(), 4),
                optional in proptest::collection::vec(any::<bool>(), 4),
            ) {
                let order = &order[..keep];
                let dir = tempfile::tempdir().expect("tempdir");
                let (manifest, mut sources) = build(dir.path(), &has, order, &from, &optional);
                let (rs, errs) = resolve_all(&manifest, &mut sources);
                let mut problems = 0;
                for (i, r) in rs.iter().enumerate() {
                    let name = NAMES[i];
                    let expected: Option<(SourceKind, Vec<u8>)> = match from[i] {
                        From::Order => order
                            .iter()
                            .find(|k| has[KINDS.iter().position(|x| x == *k).expect("kind")][i])
                            .map(|k| (*k, value(*k, name))),
                        From::Env(exists) => exists
                            .then(|| (SourceKind::Env, format!("ref-env-{name}").into_bytes())),
                        From::File(exists) => exists
                            .then(|| (SourceKind::File, format!("ref-file-{name}").into_bytes())),
                    };
                    match expected {
                        Some((kind, v)) => {
                            prop_assert_eq!(r.value.as_ref().map(|s| s.expose().to_vec()), Some(v));
                            prop_assert_eq!(r.origin.as_ref().map(|o| o.kind), Some(kind));
                            prop_assert!(r.problem.is_none());
                        }
                        None => {
                            prop_assert!(r.value.is_none());
                            prop_assert_eq!(r.problem.is_some(), !optional[i]);
                            if r.problem.is_some() {
                                problems += 1;
                                prop_assert_eq!(r.problem.as_ref().map(|p| p.exit_code()), Some(69));
                            }
                        }
                    }
                    if let Some(reference) = &manifest.secrets[i].settings.from {
                        prop_assert_eq!(&r.tried, &vec![reference.to_string()]);
                    }
                }
                prop_assert_eq!(errs.0.len(), problems);
            }
        }
    }
}

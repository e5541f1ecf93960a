//! Environment values as references (`secret_init.resolve_env_references: true`): each
//! variable the program would inherit whose value is a reference by the rule of
//! `reference::env_value` becomes a declared secret, delivered only as that variable.

use crate::deliver::env::is_scrubbed;
use crate::environ::Environ;
use crate::manifest::{Declared, FileTarget, SecretSettings};
use crate::name::SecretName;
use crate::reference::env_value::{Verdict, reference_in};
use crate::settings::Settings;

/// The environment's references as declared secrets, in the environment's order: each with
/// `from:` the reference, delivered only as the same variable (no file). Empty unless
/// `resolve_env_references` is on. A name declared in the manifest is not taken again: the
/// manifest's own settings for it win.
pub(super) fn declared(env: &Environ, settings: &Settings, manifest: &[Declared]) -> Vec<Declared> {
    if !settings.resolve_env_references {
        return Vec::new();
    }
    let mut out: Vec<Declared> = Vec::new();
    for (k, v) in env.0.iter() {
        let Some(var) = k.to_str() else { continue };
        if is_scrubbed(var.as_bytes(), &settings.env_prefix, &settings.scrub_env)
            || !crate::name::is_env_name(var)
        {
            continue;
        }
        let reference = match reference_in(std::os::unix::ffi::OsStrExt::as_bytes(v.as_os_str())) {
            Verdict::Plain => continue,
            Verdict::Malformed => {
                crate::log::warn!(
                    "environment variable {var} starts like a reference but is not one; passed on unchanged"
                );
                continue;
            }
            Verdict::Reference(r) => r,
        };
        let Ok(name) = SecretName::parse(var) else {
            continue;
        };
        if manifest.iter().chain(&out).any(|d| d.name == name) {
            continue;
        }
        out.push(Declared {
            name,
            default: None,
            settings: SecretSettings {
                from: Some(Box::new(reference)),
                env: Some(var.to_string()),
                file: FileTarget::Disabled,
                ..SecretSettings::default()
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_inherited_variables_and_only_when_enabled() {
        let env = Environ::from_pairs(&[
            ("DB", "aws-sm:app/db#password"),
            ("TRUSS_SECRET_x", "aws-sm:app/x"),
            ("SECRET_INIT_Y", "aws-sm:app/y"),
            ("SCRUBBED", "aws-sm:app/z"),
            ("DECLARED", "aws-sm:app/d"),
            ("PLAIN", "value"),
        ]);
        let inv = crate::cli::parse(["check".into()]).expect("argv");
        let file = crate::manifest::FileSettings {
            scrub_env: Some(vec!["SCRUBBED".into()]),
            ..Default::default()
        };
        let mut settings = Settings::resolve(&inv, &Environ::default(), &file).expect("settings");
        assert!(declared(&env, &settings, &[]).is_empty(), "off by default");
        settings.resolve_env_references = true;
        let manifest = [Declared {
            name: SecretName::parse("DECLARED").expect("name"),
            default: None,
            settings: SecretSettings::default(),
        }];
        let d = declared(&env, &settings, &manifest);
        let names: Vec<&str> = d.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["DB"]);
        assert_eq!(d[0].settings.env.as_deref(), Some("DB"));
        assert_eq!(d[0].settings.file, FileTarget::Disabled);
    }
}

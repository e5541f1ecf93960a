//! The manifest: Truss's `config.yaml`.
//!
//! Only two top-level keys matter here: `secrets:` (name → `null` for required, or a fallback
//! default) and `secret_init:` (our own settings). Every other Truss key is ignored, never
//! rejected. Parsing is bounded before it starts: the file is capped in size and the YAML parser
//! runs with budgets on aliases, nodes and depth, so an alias bomb or 10,000-deep nesting fails
//! in milliseconds. Duplicate keys are errors. A wrong type names the secret and the type only:
//! the value is never echoed (serde's own messages would print it).
//!
//! Here: the model and its validation. `yaml.rs` reads a file as bounded YAML, `secrets.rs` the
//! `secrets:` map (and a local config's), `providers.rs` and `templates.rs` the schemas of
//! `secret_init.providers` and `secret_init.templates`.

pub(crate) mod kinds;
pub(crate) mod providers;
mod secret_init;
mod secrets;
pub(crate) mod templates;
mod yaml;

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Errors, Kind};
use crate::name::SecretName;
use crate::reference::Reference;
use crate::secret::Secret;
use crate::source::section::{TakeKey, reject_unknown_among};
pub(crate) use secret_init::{
    FileSettings, RawAudit, RawFallbackSettings, RawMetrics, RawRefreshSettings,
};
use secrets::RawSecrets;
pub(crate) use secrets::{RawDefault, read_local_secrets};
pub use yaml::yaml_options;
pub(crate) use yaml::{from_yaml, read_config_file, read_config_text};

/// Largest config file read (config.yaml, ~/.truss/config.yaml).
pub(crate) const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// A declared secret: its validated name, its fallback default and its delivery settings.
#[derive(Debug)]
pub struct Declared {
    /// The secret's name.
    pub name: SecretName,
    /// The manifest's non-null value, used by the `default` source.
    pub default: Option<Secret>,
    /// Per-secret settings from `secret_init.secrets.<name>`.
    pub settings: SecretSettings,
}

/// The whole manifest, validated.
#[derive(Debug, Default)]
pub struct Manifest {
    /// Where it was read from, if anywhere.
    pub path: Option<PathBuf>,
    /// Declared secrets in name order.
    pub secrets: Vec<Declared>,
    /// The `secret_init:` section.
    pub settings: FileSettings,
    /// Provider instances (`secret_init.providers`), validated.
    pub providers: Vec<providers::Instance>,
    /// Templates (`secret_init.templates`), validated.
    pub templates: Vec<templates::Template>,
}

/// Where a delivered file goes: the default location, another path, or nowhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileTarget {
    /// `<output_dir>/<name>` (the default, or `file: true`).
    Default,
    /// `file: false`: deliver by env only.
    Disabled,
    /// `file: /some/path`.
    Path(PathBuf),
}

/// Per-secret settings (`secret_init.secrets.<name>`), all optional.
#[derive(Clone, Debug)]
pub struct SecretSettings {
    /// One exact reference instead of the source order (boxed: rare, and 128 bytes inline in
    /// every declared secret).
    pub from: Option<Box<Reference>>,
    /// Also deliver as this environment variable.
    pub env: Option<String>,
    /// Where the file goes.
    pub file: FileTarget,
    /// File mode, default 0o600.
    pub mode: u32,
    /// File owner as `UID[:GID]` or names, resolved at delivery.
    pub owner: Option<String>,
    /// A missing optional secret is a warning, not an error.
    pub optional: bool,
    /// Strip exactly one trailing `\n` or `\r\n` from the value.
    pub trim_newline: bool,
}

impl Default for SecretSettings {
    fn default() -> Self {
        SecretSettings {
            from: None,
            env: None,
            file: FileTarget::Default,
            mode: 0o600,
            owner: None,
            optional: false,
            trim_newline: false,
        }
    }
}

crate::source::section::raw_section! {
    /// `secret_init.secrets.<name>` as written.
    pub struct RawSecretSettings {
        from: Option<String>,
        env: Option<String>,
        file: Option<RawFileTarget>,
        mode: Option<RawMode>,
        owner: Option<String>,
        optional: Option<bool>,
        trim_newline: Option<bool>,
    }
}

/// `file:` as written: `true`/`false` or a path. A hand-written visitor instead of
/// `#[serde(untagged)]`, which buffers every value; other values get untagged's message.
#[derive(Debug)]
enum RawFileTarget {
    Enabled(bool),
    Path(PathBuf),
}

impl<'de> Deserialize<'de> for RawFileTarget {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const NO_VARIANT: &str = "data did not match any variant of untagged enum RawFileTarget";
        fn no<E: serde::de::Error, T>() -> Result<T, E> {
            Err(E::custom(NO_VARIANT))
        }
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawFileTarget;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(NO_VARIANT)
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<RawFileTarget, E> {
                Ok(RawFileTarget::Enabled(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawFileTarget, E> {
                Ok(RawFileTarget::Path(PathBuf::from(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<RawFileTarget, E> {
                no()
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<RawFileTarget, E> {
                no()
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<RawFileTarget, E> {
                no()
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<RawFileTarget, E> {
                no()
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                _: A,
            ) -> Result<RawFileTarget, A::Error> {
                no()
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                _: A,
            ) -> Result<RawFileTarget, A::Error> {
                no()
            }
        }
        d.deserialize_any(V)
    }
}

/// Reads and validates a manifest; `None` means no config file (no secrets declared).
pub(crate) fn load(path: Option<&Path>) -> Result<Manifest, Errors> {
    let Some(path) = path else {
        return Ok(Manifest::default());
    };
    let text = read_config_text(path).map_err(Errors::from)?;
    let mut m = parse(&text, &path.display().to_string())?;
    m.path = Some(path.to_path_buf());
    Ok(m)
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    secrets: Option<RawSecrets>,
    #[serde(default)]
    secret_init: Option<FileSettings>,
}

/// Parses manifest text; `src` names the file in messages.
pub fn parse(text: &str, src: &str) -> Result<Manifest, Errors> {
    let raw: Option<RawConfig> = from_yaml(text, src)?;
    let raw = raw.unwrap_or(RawConfig {
        secrets: None,
        secret_init: None,
    });
    let mut errors = Errors::default();
    let mut settings = raw.secret_init.unwrap_or_default();
    reject_unknown::<FileSettings>("secret_init", &settings.unknown, src, &mut errors);
    if let Some(r) = &settings.refresh {
        reject_unknown::<secret_init::RawRefreshSettings>(
            "secret_init.refresh",
            &r.unknown,
            src,
            &mut errors,
        );
    }
    if let Some(m) = &settings.metrics {
        reject_unknown::<RawMetrics>("secret_init.metrics", &m.unknown, src, &mut errors);
    }
    if let Some(a) = &settings.audit {
        reject_unknown::<RawAudit>("secret_init.audit", &a.unknown, src, &mut errors);
    }
    if let Some(r) = &settings.fallback {
        reject_unknown::<secret_init::RawFallbackSettings>(
            "secret_init.fallback",
            &r.unknown,
            src,
            &mut errors,
        );
    }
    settings.sections().reject_unknown(src, &mut errors);

    let declared = raw.secrets.map(|s| s.0).unwrap_or_default();
    // Sized once: grown by doubling, 10,000 entries would hold room for 16,384.
    let mut secrets = Vec::with_capacity(declared.len());
    for (raw_name, value) in declared {
        let name = match SecretName::parse(&raw_name) {
            Ok(n) => n,
            Err(why) => {
                errors.push(Error::secret(Kind::Data, &raw_name, src, why));
                continue;
            }
        };
        let default = match value {
            RawDefault::Null => None,
            RawDefault::Text(s) => Some(Secret::new(s.into_bytes())),
            RawDefault::Wrong(ty) => {
                errors.push(Error::secret(
                    Kind::Data,
                    &raw_name,
                    src,
                    format!("expected a string or null, found {ty}"),
                ));
                continue;
            }
        };
        secrets.push(Declared {
            name,
            default,
            settings: SecretSettings::default(),
        });
    }
    crate::order::sort_by(&mut secrets, |a, b| a.name.cmp(&b.name));

    for (raw_name, raw_settings) in std::mem::take(&mut settings.secrets) {
        let section = format!("secret_init.secrets.{raw_name}");
        reject_unknown::<RawSecretSettings>(&section, &raw_settings.unknown, src, &mut errors);
        let Some(declared) = secrets.iter_mut().find(|d| d.name.as_str() == raw_name) else {
            errors.push(
                Error::new(
                    Kind::Config,
                    format!("{section}: settings for a secret that is not declared under secrets:"),
                )
                .with_source(src),
            );
            continue;
        };
        match validate_settings(raw_settings) {
            Ok(s) => declared.settings = s,
            Err(why) => errors.push(Error::secret(Kind::Data, &raw_name, src, why)),
        }
    }
    let providers = providers::validate(
        std::mem::take(&mut settings.providers),
        &secrets,
        src,
        &mut errors,
    );
    let templates = templates::validate(std::mem::take(&mut settings.templates), src, &mut errors);
    errors.into_result()?;
    Ok(Manifest {
        path: None,
        secrets,
        settings,
        providers,
        templates,
    })
}

fn validate_settings(raw: RawSecretSettings) -> Result<SecretSettings, String> {
    let from = raw
        .from
        .as_deref()
        .map(|r| Reference::parse(r).map(Box::new))
        .transpose()?;
    let mode = raw.mode.as_ref().map_or(Ok(0o600), RawMode::parse)?;
    let file = match raw.file {
        None | Some(RawFileTarget::Enabled(true)) => FileTarget::Default,
        Some(RawFileTarget::Enabled(false)) => FileTarget::Disabled,
        Some(RawFileTarget::Path(p)) => {
            if !p.is_absolute()
                || p.components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
            {
                return Err("file: must be an absolute path without \"..\"".into());
            }
            FileTarget::Path(p)
        }
    };
    if let Some(env) = &raw.env
        && !crate::name::is_env_name(env)
    {
        return Err(format!(
            "env: \"{}\" is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)",
            crate::log::escape_controls(env)
        ));
    }
    Ok(SecretSettings {
        from,
        env: raw.env,
        file,
        mode,
        owner: raw.owner,
        optional: raw.optional.unwrap_or(false),
        trim_newline: raw.trim_newline.unwrap_or(false),
    })
}

/// `mode:` as written. Unquoted `0400` reaches here as the text `0400` (the YAML reader keeps
/// a number with a leading zero as written, see `yaml::yaml_options`), so it is the octal mode
/// it is in YAML 1.1 and in every Kubernetes `defaultMode`; a plain number without one (`400`)
/// is decimal to YAML and refused with the fix, never taken as some other mode.
#[derive(Debug)]
pub(crate) enum RawMode {
    /// Quoted, or unquoted with a leading zero.
    Text(String),
    /// A plain number, as YAML read it.
    Number(String),
}

impl<'de> Deserialize<'de> for RawMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RawMode;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an octal mode such as 0400 or \"0640\"")
            }
            fn visit_str<E>(self, v: &str) -> Result<RawMode, E> {
                Ok(RawMode::Text(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<RawMode, E> {
                Ok(RawMode::Number(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<RawMode, E> {
                Ok(RawMode::Number(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<RawMode, E> {
                Ok(RawMode::Number(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl RawMode {
    /// The mode, or why it is not one, with the fix.
    pub(crate) fn parse(&self) -> Result<u32, String> {
        match self {
            RawMode::Text(s) => parse_mode(s),
            // Not a mode even with a leading zero (`4755`, `900`): say why as for text.
            RawMode::Number(n) if parse_mode(&format!("0{n}")).is_err() => parse_mode(n),
            RawMode::Number(n) => Err(format!(
                "mode: {n} is a decimal number to YAML, not an octal mode; write it with its \
                 leading zero, as Kubernetes' defaultMode is: mode: 0{n} (or quoted: \"0{n}\")"
            )),
        }
    }
}

/// Refuses the unknown keys of a `T` (78), each with the key of `T` it was closest to, or the
/// keys `T` knows.
fn reject_unknown<T: TakeKey>(
    section: &str,
    unknown: &std::collections::BTreeMap<String, serde::de::IgnoredAny>,
    src: &str,
    errors: &mut Errors,
) {
    let mut known = Vec::new();
    T::keys(&mut known);
    reject_unknown_among(section, unknown, &known, src, errors);
}

/// Parses an octal permission string such as `"0400"` or `"0o640"`; setuid/setgid/sticky are refused.
pub(crate) fn parse_mode(s: &str) -> Result<u32, String> {
    let shown = crate::log::escape_controls(s);
    let digits = s.strip_prefix("0o").unwrap_or(s);
    let mode = u32::from_str_radix(digits, 8).map_err(|_| {
        format!("mode: {shown} is not an octal mode (digits 0-7, e.g. mode: 0400 or mode: 0640)")
    })?;
    if mode > 0o777 {
        return Err(format!(
            "mode: {shown} has bits beyond 0777 (setuid, setgid and sticky are refused); e.g. mode: 0755"
        ));
    }
    Ok(mode)
}

/// Parses an owner `UID[:GID]` (numeric); a missing GID means the user's primary group, taken as
/// the same number when no passwd entry is available.
pub(crate) fn parse_owner(s: &str) -> Result<(u32, u32), String> {
    let (u, g) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let uid: u32 = u
        .parse()
        .map_err(|_| format!("owner: \"{s}\" is not UID[:GID]"))?;
    let gid: u32 = match g {
        Some(g) => g
            .parse()
            .map_err(|_| format!("owner: \"{s}\" is not UID[:GID]"))?,
        None => uid,
    };
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::secrets::parse_local_secrets;
    use super::yaml::redact_scalars;
    use super::*;

    fn codes(r: Result<Manifest, Errors>) -> Vec<(u8, String)> {
        r.expect_err("should fail")
            .0
            .iter()
            .map(|e| (e.exit_code(), e.to_string()))
            .collect()
    }

    #[test]
    fn truss_config_with_other_keys() {
        let m = parse(
            "model_name: m\nresources: {cpu: '1'}\nsecrets:\n  hf_access_token: null\n  aws_region: \"us-east-1\"\n",
            "config.yaml",
        )
        .expect("valid");
        assert_eq!(m.secrets.len(), 2);
        assert_eq!(m.secrets[0].name.as_str(), "aws_region");
        assert_eq!(
            m.secrets[0].default.as_ref().map(|s| s.expose()),
            Some(&b"us-east-1"[..])
        );
        assert!(m.secrets[1].default.is_none());
    }

    #[test]
    fn wrong_types_name_the_type_not_the_value() {
        let errs = codes(parse(
            "secrets:\n  db: 5432\n  l: [canary1]\n  m: {a: canary2}\n  b: true\n",
            "c",
        ));
        let text = format!("{errs:?}");
        assert!(
            text.contains("found integer")
                && text.contains("found sequence")
                && text.contains("found mapping")
        );
        assert!(text.contains("found boolean"));
        assert!(!text.contains("5432") && !text.contains("canary"), "{text}");
        assert!(errs.iter().all(|(c, _)| *c == 65));
    }

    #[test]
    fn a_scalar_in_place_of_the_secrets_map_is_not_quoted() {
        for doc in [
            "secrets: canary-scalar\n",
            "secrets: \"canary \\\" quoted\"\n",
            "secrets: 98765432123\n",
            "secrets: 1.2345678\n",
        ] {
            let text = format!("{:?}", codes(parse(doc, "c")));
            assert!(text.contains("invalid type"), "{text}");
            for leak in ["canary", "quoted", "98765432123", "2345678"] {
                assert!(!text.contains(leak), "{doc}: {text}");
            }
        }
        let local = parse_local_secrets("secrets: canary-local\n", "l").expect_err("scalar");
        assert!(!local.to_string().contains("canary"), "{local}");
        assert_eq!(
            redact_scalars("invalid type: string \"a\\\"b\", expected x; integer `7`"),
            "invalid type: string, expected x; integer"
        );
        assert_eq!(redact_scalars("string \"unterminated"), "string");
    }

    /// Keys that are different YAML nodes but the same secret name.
    #[test]
    fn keys_naming_one_secret_twice_are_errors() {
        for text in [
            "secrets:\n  1: null\n  \"1\": dflt\n",
            "secrets:\n  5: null\n  !!str 5: dflt\n",
            "secrets:\n  a: null\nsecret_init:\n  secrets:\n    1: {env: X}\n    '1': {env: Y}\n",
        ] {
            let errs = codes(parse(text, "c"));
            assert_eq!(errs.len(), 1, "{text}: {errs:?}");
            assert_eq!(errs[0].0, 65, "{text}");
            assert!(errs[0].1.contains("duplicate key"), "{}", errs[0].1);
        }
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let errs = codes(parse("secrets:\n  db: null\n  db: null\n", "c"));
        assert_eq!(errs[0].0, 65);
        assert!(errs[0].1.contains("uplicate"), "{}", errs[0].1);
        // Also in a part of the document secret-init does not read, and in an anchored map.
        for text in [
            "model_metadata:\n  k: 1\n  k: 2\nsecrets: {}\n",
            "base: &b {a: 1, a: 2}\nsecrets: {}\n",
        ] {
            let errs = codes(parse(text, "c"));
            assert!(errs[0].1.contains("uplicate"), "{text}: {errs:?}");
        }
        // A merge key's entry overridden by the map's own is no duplicate: the map's wins.
        let m = parse(
            "base: &b {a: x, b: z}\nsecrets:\n  <<: *b\n  a: mine\n",
            "c",
        )
        .expect("a merge");
        let a = m
            .secrets
            .iter()
            .find(|d| d.name.as_str() == "a")
            .expect("a");
        assert_eq!(
            a.default.as_ref().map(|v| v.expose().to_vec()),
            Some(b"mine".to_vec())
        );
        assert_eq!(m.secrets.len(), 2);
    }

    #[test]
    fn unknown_settings_are_refused() {
        let errs = codes(parse(
            "secrets: {a: null}\nsecret_init:\n  secret: {}\n  output_dri: /x\n",
            "c",
        ));
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(
            errs.iter()
                .all(|(c, m)| *c == 78 && m.contains("unknown setting"))
        );
        let errs = codes(parse(
            "secrets: {a: null}\nsecret_init:\n  secrets:\n    a: {envv: X}\n",
            "c",
        ));
        assert!(
            errs[0]
                .1
                .contains("secret_init.secrets.a: unknown setting \"envv\""),
            "{errs:?}"
        );
    }

    #[test]
    fn per_secret_settings() {
        let m = parse(
            "secrets: {a: null}\nsecret_init:\n  secrets:\n    a: {env: A_KEY, file: /run/a, mode: \"0400\", optional: true, from: \"env:X\"}\n",
            "c",
        )
        .expect("valid");
        let s = &m.secrets[0].settings;
        assert_eq!(s.env.as_deref(), Some("A_KEY"));
        assert_eq!(s.file, FileTarget::Path("/run/a".into()));
        assert_eq!(s.mode, 0o400);
        assert!(s.optional);
        assert_eq!(s.from.as_deref(), Some(&Reference::Env("X".into())));
        let errs = codes(parse(
            "secrets: {a: null}\nsecret_init:\n  secrets:\n    b: {env: B}\n",
            "c",
        ));
        assert_eq!(errs[0].0, 78);
    }

    #[test]
    fn bad_modes() {
        assert_eq!(parse_mode("0400"), Ok(0o400));
        assert_eq!(parse_mode("0o640"), Ok(0o640));
        assert!(parse_mode("4755").is_err());
        assert!(parse_mode("0800").is_err());
    }

    #[test]
    fn empty_and_missing_sections() {
        assert!(parse("", "c").expect("empty").secrets.is_empty());
        assert!(
            parse("model_name: x\n", "c")
                .expect("no secrets")
                .secrets
                .is_empty()
        );
        assert!(
            parse("secrets:\n", "c")
                .expect("null secrets")
                .secrets
                .is_empty()
        );
    }
}

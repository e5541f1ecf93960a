//! Environment values as references (`secret_init.resolve_env_references: true`): the convention
//! vault-env, doitintl/secrets-init and berglas users rely on. A variable whose whole value is a
//! reference (`DB_PASSWORD=arn:aws:secretsmanager:...#password`) reaches the program holding the
//! value it names, resolved with the declared secrets: all or nothing, the same error rules, and
//! listed by `check`.
//!
//! The exact rule ([`reference_in`]); a variable counts when all of these hold:
//! - the program would inherit it (not `TRUSS_SECRET_*`, `SECRET_INIT_*`, a token secret-init
//!   consumes, or a `scrub_env` name) and its name is a valid secret name;
//! - its value is valid UTF-8 with no whitespace or control character anywhere (the *whole*
//!   value: nothing before or after the reference);
//! - the value starts with one of [`SCHEMES`] and parses as that reference, exactly as `from:`
//!   would. `https://` counts only as an Azure Key Vault secret URL (a Key Vault host suffix
//!   and `/secrets/NAME`): every other URL is left alone. `env:` and `file:` never count (a
//!   program's own `file:` setting is not ours), nor vault-env's Transit ciphertexts
//!   (`vault:v1:...`).
//!
//! Anything else is left exactly as it was, including a value that starts like a reference but
//! does not parse; that one gets a warning naming the variable (never the value). Parsing does
//! no I/O.

use crate::deliver::env::is_scrubbed;
use crate::manifest::{Declared, FileTarget, SecretSettings};
use crate::name::SecretName;
use crate::reference::Reference;
use crate::settings::{Environ, Settings};

/// The value prefixes that make an environment value a reference candidate.
pub const SCHEMES: &[&str] = &[
    "vault:",
    "bundle:",
    "arn:aws:secretsmanager:",
    "arn:aws:ssm:",
    "arn:aws-cn:secretsmanager:",
    "arn:aws-cn:ssm:",
    "arn:aws-us-gov:secretsmanager:",
    "arn:aws-us-gov:ssm:",
    "aws-sm:",
    "aws-ssm:",
    "gcp:secretmanager:",
    "sm://",
    "azure-kv:",
    "https://",
];

/// What one value is: not a candidate, a reference, or a candidate that did not parse.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not a reference: left alone silently.
    Plain,
    /// A reference to resolve.
    Reference(Reference),
    /// Starts like one but does not parse: left alone, with a warning.
    Malformed,
}

/// Applies the value part of the rule in the module docs.
pub fn reference_in(value: &[u8]) -> Verdict {
    let Ok(v) = std::str::from_utf8(value) else {
        return Verdict::Plain;
    };
    if !SCHEMES.iter().any(|s| v.starts_with(s)) {
        return Verdict::Plain;
    }
    if v.starts_with("https://") && !is_key_vault_url(v) {
        return Verdict::Plain;
    }
    if is_transit_ciphertext(v) {
        return Verdict::Plain;
    }
    if v.bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Verdict::Malformed;
    }
    match Reference::parse(v) {
        Ok(r @ (Reference::Env(_) | Reference::File(_))) => {
            let _ = r;
            Verdict::Plain
        }
        Ok(r) => Verdict::Reference(r),
        Err(_) => Verdict::Malformed,
    }
}

/// Whether an `https://` value names a Key Vault host (any suffix of the Azure clouds).
fn is_key_vault_url(v: &str) -> bool {
    let host = v["https://".len()..]
        .split(['/', '#', '?'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    crate::source::azure::reference::SUFFIXES
        .iter()
        .any(|s| host.ends_with(&format!(".{s}")))
}

/// vault-env's Transit ciphertext (`vault:v1:...`): a value to decrypt, not a path.
fn is_transit_ciphertext(v: &str) -> bool {
    v.strip_prefix("vault:v")
        .and_then(|r| r.split_once(':'))
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The environment's references as declared secrets, in the environment's order: each with
/// `from:` the reference, delivered only as the same variable (no file). Empty unless
/// `resolve_env_references` is on. A name declared in the manifest is not taken again: the
/// manifest's own settings for it win.
pub fn declared(env: &Environ, settings: &Settings, manifest: &[Declared]) -> Vec<Declared> {
    if !settings.resolve_env_references {
        return Vec::new();
    }
    let mut out: Vec<Declared> = Vec::new();
    for (k, v) in &env.0 {
        let Some(var) = k.to_str() else { continue };
        if is_scrubbed(var.as_bytes(), &settings.env_prefix, &settings.scrub_env)
            || !crate::name::is_env_name(var)
        {
            continue;
        }
        let reference = match reference_in(std::os::unix::ffi::OsStrExt::as_bytes(v.as_os_str())) {
            Verdict::Plain => continue,
            Verdict::Malformed => {
                crate::warn!(
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
                from: Some(reference),
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

    fn kind(v: &str) -> &'static str {
        match reference_in(v.as_bytes()) {
            Verdict::Plain => "plain",
            Verdict::Reference(_) => "ref",
            Verdict::Malformed => "malformed",
        }
    }

    #[test]
    fn the_rule() {
        for (v, want) in [
            (
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:db#password",
                "ref",
            ),
            ("arn:aws:ssm:us-east-1:123456789012:parameter/app/db", "ref"),
            ("aws-sm:app/db", "ref"),
            ("aws-ssm:/app/db", "ref"),
            ("vault:secret/data/x#k", "ref"),
            ("bundle:shared#KEY", "ref"),
            ("gcp:secretmanager:projects/p/secrets/s", "ref"),
            ("sm://p/s#3", "ref"),
            ("azure-kv:my-vault/db", "ref"),
            ("https://my-vault.vault.azure.net/secrets/db", "ref"),
            ("https://MY-VAULT.VAULT.AZURE.NET/secrets/db", "ref"),
            // Left alone: other URLs, other ARNs, our own schemes, Transit ciphertexts, text.
            ("https://example.com/secrets/db", "plain"),
            ("https://vault.azure.net.example.com/secrets/db", "plain"),
            ("http://my-vault.vault.azure.net/secrets/db", "plain"),
            ("arn:aws:iam::123456789012:role/app", "plain"),
            ("arn:aws:s3:::bucket", "plain"),
            ("env:HOME", "plain"),
            ("file:/etc/passwd", "plain"),
            ("vault:v1:c2VjcmV0", "plain"),
            ("postgres://u:p@db/x", "plain"),
            ("hello vault:secret/data/x#k", "plain"),
            ("", "plain"),
            // Candidates that do not parse (a warning, the value unchanged).
            ("vault:secret/data/x#k ", "malformed"),
            ("vault:", "malformed"),
            ("aws-sm:", "malformed"),
            ("gcp:secretmanager:nope", "malformed"),
            ("https://my-vault.vault.azure.net/keys/k", "malformed"),
        ] {
            assert_eq!(kind(v), want, "{v:?}");
        }
        assert_eq!(reference_in(&[b'v', b'a', 0xff]), Verdict::Plain);
    }

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

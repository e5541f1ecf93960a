//! Which environment values are references (`secret_init.resolve_env_references: true`, applied
//! by `app::env_refs`): the convention
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

use super::Reference;

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
    super::azure::SUFFIXES
        .iter()
        .any(|s| host.ends_with(&format!(".{s}")))
}

/// vault-env's Transit ciphertext (`vault:v1:...`): a value to decrypt, not a path.
fn is_transit_ciphertext(v: &str) -> bool {
    v.strip_prefix("vault:v")
        .and_then(|r| r.split_once(':'))
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
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
}

//! Azure Key Vault references, each optionally followed by `#KEY`:
//!
//! | form | what is read |
//! |---|---|
//! | `azure-kv:VAULT/NAME[/VERSION]` | secret `NAME` of vault `VAULT` (`https://VAULT.vault.azure.net`) |
//! | `https://VAULT.vault.azure.net/secrets/NAME[/VERSION]` | the same, as the secret's URL (the portal's "Secret Identifier") |
//!
//! The URL form also takes the sovereign clouds' suffixes (`vault.azure.cn`,
//! `vault.usgovcloudapi.net`, `vault.microsoftazure.de`); no other host is accepted, so a
//! reference can never send a bearer token elsewhere. Without `/VERSION` the current version is
//! read. `#KEY` picks one key of a JSON object value (a string as its text, other JSON values as
//! their JSON). Vault names are 3-24 letters, digits and `-`, starting with a letter; secret
//! names 1-127 letters, digits and `-`; versions letters and digits (32 hex digits in practice).
//! Parsing does no I/O.

use std::fmt;

/// The Key Vault DNS suffixes of the public and sovereign clouds.
pub const SUFFIXES: &[&str] = &[
    "vault.azure.net",
    "vault.azure.cn",
    "vault.usgovcloudapi.net",
    "vault.microsoftazure.de",
];

/// A parsed Key Vault reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AzureRef {
    /// The vault's name (the first DNS label).
    pub vault: String,
    /// The cloud's DNS suffix, one of [`SUFFIXES`].
    pub suffix: &'static str,
    /// The secret's name.
    pub name: String,
    /// A pinned version.
    pub version: Option<String>,
    /// The JSON key to pick; `None`: the whole value.
    pub key: Option<String>,
    /// Written as a URL (shown back the same way).
    url: bool,
}

const FORMS: &str = "expected azure-kv:VAULT/NAME[/VERSION] or https://VAULT.vault.azure.net/secrets/NAME[/VERSION], then optionally #KEY";

/// Whether `v` is a valid vault name.
pub fn valid_vault(v: &str) -> bool {
    (3..=24).contains(&v.len())
        && v.starts_with(|c: char| c.is_ascii_alphabetic())
        && !v.ends_with('-')
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Whether `n` is a valid secret name.
pub fn valid_name(n: &str) -> bool {
    (1..=127).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn valid_version(v: &str) -> bool {
    (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl AzureRef {
    /// Parses one of the forms in the module docs; the error explains the expected form.
    pub fn parse(s: &str) -> Result<AzureRef, String> {
        let bad = || format!("invalid reference: {FORMS}");
        let (head, key) = match s.split_once('#') {
            Some((h, k)) => (h, Some(k)),
            None => (s, None),
        };
        if key == Some("") || key.is_some_and(|k| k.contains('#')) {
            return Err("invalid reference: one non-empty #KEY at most".into());
        }
        let (vault, suffix, path, url) = if let Some(rest) = head.strip_prefix("azure-kv:") {
            let (vault, path) = rest.split_once('/').ok_or_else(bad)?;
            (vault, SUFFIXES[0], path, false)
        } else if let Some(rest) = head.strip_prefix("https://") {
            let (host, path) = rest.split_once('/').ok_or_else(bad)?;
            let host = host
                .strip_suffix(":443")
                .unwrap_or(host)
                .to_ascii_lowercase();
            let (vault, domain) = host.split_once('.').ok_or_else(bad)?;
            let suffix = SUFFIXES
                .iter()
                .find(|s| **s == domain)
                .ok_or_else(|| {
                    format!(
                        "invalid reference: a Key Vault URL's host must end in .{} (or a sovereign cloud's suffix)",
                        SUFFIXES[0]
                    )
                })?;
            let path = path.strip_prefix("secrets/").ok_or_else(bad)?;
            (
                &rest[..vault.len()],
                *suffix,
                path.trim_end_matches('/'),
                true,
            )
        } else {
            return Err(bad());
        };
        let vault = vault.to_ascii_lowercase();
        let mut parts = path.split('/');
        let name = parts.next().unwrap_or_default();
        let version = parts.next();
        if !valid_vault(&vault) {
            return Err(
                "invalid reference: a vault name is 3-24 letters, digits and '-', starting with a letter"
                    .into(),
            );
        }
        if !valid_name(name) {
            return Err(
                "invalid reference: a Key Vault secret name is 1-127 letters, digits and '-'"
                    .into(),
            );
        }
        if parts.next().is_some() || version.is_some_and(|v| !valid_version(v)) {
            return Err(bad());
        }
        Ok(AzureRef {
            vault,
            suffix,
            name: name.to_string(),
            version: version.map(str::to_string),
            key: key.map(str::to_string),
            url,
        })
    }

    /// The vault's base URL (`https://VAULT.vault.azure.net`).
    pub fn vault_url(&self) -> String {
        format!("https://{}.{}", self.vault, self.suffix)
    }

    /// The path of the secret under the vault's URL (`/secrets/NAME[/VERSION]`).
    pub fn path(&self) -> String {
        match &self.version {
            Some(v) => format!("/secrets/{}/{v}", self.name),
            None => format!("/secrets/{}", self.name),
        }
    }

    /// The reference without its `#KEY`: what is read.
    pub fn target(&self) -> String {
        if self.url {
            format!("{}{}", self.vault_url(), self.path())
        } else {
            let mut s = format!("azure-kv:{}/{}", self.vault, self.name);
            if let Some(v) = &self.version {
                s.push('/');
                s.push_str(v);
            }
            s
        }
    }
}

impl fmt::Display for AzureRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.target())?;
        if let Some(k) = &self.key {
            write!(f, "#{k}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let r = AzureRef::parse("azure-kv:my-vault/db-password").expect("short");
        assert_eq!(r.vault_url(), "https://my-vault.vault.azure.net");
        assert_eq!(r.path(), "/secrets/db-password");
        assert_eq!(r.to_string(), "azure-kv:my-vault/db-password");
        let r = AzureRef::parse("azure-kv:kv1/db/0123456789abcdef0123456789abcdef#user")
            .expect("version and key");
        assert_eq!(
            r.version.as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(r.key.as_deref(), Some("user"));
        let r =
            AzureRef::parse("https://KV1.vault.usgovcloudapi.net/secrets/db/abc#k").expect("url");
        assert_eq!(r.vault, "kv1");
        assert_eq!(r.suffix, "vault.usgovcloudapi.net");
        assert_eq!(
            r.to_string(),
            "https://kv1.vault.usgovcloudapi.net/secrets/db/abc#k"
        );
        for s in [
            "azure-kv:kv1/db/v1",
            "https://kv1.vault.azure.net/secrets/db",
            "https://kv1.vault.azure.cn/secrets/db/0a",
        ] {
            assert_eq!(AzureRef::parse(s).expect(s).to_string(), s);
        }
    }

    #[test]
    fn refused() {
        for bad in [
            "azure-kv:",
            "azure-kv:kv1",
            "azure-kv:kv1/",
            "azure-kv:k/db",
            "azure-kv:1kv/db",
            "azure-kv:kv1/db_x",
            "azure-kv:kv1/db/v/x",
            "azure-kv:kv1/db/v-1",
            "azure-kv:kv1/db#",
            "azure-kv:kv1/db#a#b",
            "https://kv1.example.com/secrets/db",
            "https://kv1.vault.azure.net.example.com/secrets/db",
            "https://kv1.vault.azure.net:8443/secrets/db",
            "https://kv1.vault.azure.net/keys/db",
            "https://a.kv1.vault.azure.net/secrets/db",
            "http://kv1.vault.azure.net/secrets/db",
        ] {
            assert!(AzureRef::parse(bad).is_err(), "{bad}");
        }
    }
}

//! The kinds of source, as named in `sources:` and `--sources`, in the default precedence
//! order, and which kind serves each reference scheme.

use crate::reference::Reference;

/// The kinds of source. The declaration order is the default precedence order, the order of
/// the "unknown source" list and the order the sources are built in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    /// Mounted files: `<secrets_dir>/<name>`.
    File,
    /// Environment variables: `<prefix><name>`.
    Env,
    /// HashiCorp Vault / OpenBao KV.
    Vault,
    /// AWS Secrets Manager and Parameter Store.
    Aws,
    /// GCP Secret Manager.
    Gcp,
    /// Azure Key Vault.
    Azure,
    /// Encrypted vault bundles.
    Bundle,
    /// SOPS-encrypted files (`secret_init.sops.files`; `sops:` and `age:` references).
    Sops,
    /// The developer-machine config (`~/.truss/config.yaml`).
    Local,
    /// The manifest's own default value.
    Default,
}

impl SourceKind {
    /// Every kind, in the default precedence order.
    pub const ALL: &'static [SourceKind] = &[
        SourceKind::File,
        SourceKind::Env,
        SourceKind::Vault,
        SourceKind::Aws,
        SourceKind::Gcp,
        SourceKind::Azure,
        SourceKind::Bundle,
        SourceKind::Sops,
        SourceKind::Local,
        SourceKind::Default,
    ];

    /// Parses a source name (`files` is an alias of `file`).
    pub fn parse(s: &str) -> Option<SourceKind> {
        Some(match s {
            "file" | "files" => SourceKind::File,
            "env" => SourceKind::Env,
            "vault" => SourceKind::Vault,
            "aws" => SourceKind::Aws,
            "gcp" => SourceKind::Gcp,
            "azure" => SourceKind::Azure,
            "bundle" => SourceKind::Bundle,
            "sops" => SourceKind::Sops,
            "local" => SourceKind::Local,
            "default" => SourceKind::Default,
            _ => return None,
        })
    }

    /// The name used in settings and messages.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::File => "file",
            SourceKind::Env => "env",
            SourceKind::Vault => "vault",
            SourceKind::Aws => "aws",
            SourceKind::Gcp => "gcp",
            SourceKind::Azure => "azure",
            SourceKind::Bundle => "bundle",
            SourceKind::Sops => "sops",
            SourceKind::Local => "local",
            SourceKind::Default => "default",
        }
    }

    /// The source kind that serves an exact reference.
    pub fn of(reference: &Reference) -> SourceKind {
        match reference {
            Reference::File(_) => SourceKind::File,
            Reference::Env(_) => SourceKind::Env,
            Reference::Vault { .. } => SourceKind::Vault,
            Reference::Aws(_) => SourceKind::Aws,
            Reference::Gcp(_) => SourceKind::Gcp,
            Reference::Azure(_) => SourceKind::Azure,
            Reference::Bundle { .. } => SourceKind::Bundle,
            Reference::Sops(_) | Reference::Age(_) => SourceKind::Sops,
        }
    }

    /// Whether this build has the source (the remote ones are Cargo features).
    // One arm per remote source reads better than a `matches!` of the cfg'd ones.
    #[allow(clippy::match_like_matches_macro)]
    pub fn compiled_in(self) -> bool {
        match self {
            SourceKind::Vault => cfg!(feature = "vault"),
            SourceKind::Aws => cfg!(feature = "aws"),
            SourceKind::Gcp => cfg!(feature = "gcp"),
            SourceKind::Azure => cfg!(feature = "azure"),
            _ => true,
        }
    }

    /// Whether it reads only this machine and asks no credential of anyone: `check --offline`
    /// reads these and contacts none of the others (a bundle needs its master key, a SOPS file
    /// its age key or KMS).
    pub fn is_local(self) -> bool {
        match self {
            SourceKind::File | SourceKind::Env | SourceKind::Local | SourceKind::Default => true,
            SourceKind::Vault
            | SourceKind::Aws
            | SourceKind::Gcp
            | SourceKind::Azure
            | SourceKind::Bundle
            | SourceKind::Sops => false,
        }
    }

    /// The names of every kind, for messages: `file, env, vault, …`.
    pub fn names() -> String {
        SourceKind::ALL
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in SourceKind::ALL {
            assert_eq!(SourceKind::parse(k.name()), Some(*k));
        }
        assert_eq!(SourceKind::parse("files"), Some(SourceKind::File));
        assert_eq!(
            SourceKind::names(),
            "file, env, vault, aws, gcp, azure, bundle, sops, local, default"
        );
    }

    #[test]
    fn every_reference_reaches_its_kind() {
        for (r, kind) in [
            ("file:/run/secrets/db", SourceKind::File),
            ("env:DB", SourceKind::Env),
            ("vault:secret/data/app#db", SourceKind::Vault),
            ("aws-sm:app/db", SourceKind::Aws),
            ("gcp:secretmanager:projects/p/secrets/s", SourceKind::Gcp),
            ("azure-kv:kv1/db", SourceKind::Azure),
            ("bundle:shared#db", SourceKind::Bundle),
            ("sops:app.yaml#db.password", SourceKind::Sops),
            ("age:/run/secrets/db.age", SourceKind::Sops),
        ] {
            let parsed = Reference::parse(r).unwrap_or_else(|e| panic!("{r}: {e}"));
            assert_eq!(SourceKind::of(&parsed), kind, "{r}");
        }
    }
}

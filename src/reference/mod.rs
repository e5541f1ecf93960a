//! Exact references (`from:` in a secret's settings): one place to take a value from, instead of
//! walking the source order. Parsing has no side effects (berglas' lesson).
//!
//! | form | meaning |
//! |---|---|
//! | `env:VAR` | the environment variable `VAR` |
//! | `file:/abs/path` | the regular file at that absolute path |
//! | `vault:PATH[#KEY[#VERSION]]` | key `KEY` (default: the secret's name) of the Vault/OpenBao API path `PATH`, optionally a KV v2 version |
//! | `bundle:VAULT[#KEY]` | entry `KEY` (default: the secret's name) of vault `VAULT` in the encrypted bundle |
//! | `arn:aws:secretsmanager:…`, `arn:aws:ssm:…:parameter/…`, `aws-sm:NAME`, `aws-ssm:/PATH`, each `[#KEY[#VERSION]]` | AWS Secrets Manager / Parameter Store (`reference::aws`) |
//! | `gcp:secretmanager:projects/P/secrets/S[/versions/V][#KEY]`, `sm://P/S[#VERSION]` | GCP Secret Manager (`reference::gcp`; in `sm://` the fragment is the version) |
//! | `azure-kv:VAULT/NAME[/VERSION]`, `https://VAULT.vault.azure.net/secrets/NAME[/VERSION]`, each `[#KEY]` | Azure Key Vault (`reference::azure`) |
//! | `sops:FILE[#PATH]` | a value of a SOPS-encrypted file, or the whole file (`reference::sops`) |
//! | `age:FILE` | an age-encrypted file, decrypted whole |

pub mod aws;
pub mod azure;
pub mod env_value;
pub mod gcp;
pub mod sops;

use std::fmt;
use std::path::PathBuf;

/// A parsed exact reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    /// An environment variable of secret-init's own environment.
    Env(String),
    /// A file, by absolute path.
    File(PathBuf),
    /// A key in a Vault/OpenBao KV secret.
    Vault {
        /// API path, e.g. `secret/data/shared` (KV v2) or `kv/shared` (KV v1).
        path: String,
        /// The key inside the secret's data; `None` means the secret's own name.
        key: Option<String>,
        /// A pinned KV v2 version.
        version: Option<u64>,
    },
    /// An entry of a vault in the encrypted bundle.
    Bundle {
        /// The vault's name.
        vault: String,
        /// The entry's key; `None` means the secret's own name.
        key: Option<String>,
    },
    /// An AWS Secrets Manager secret or Parameter Store parameter.
    Aws(aws::AwsRef),
    /// A GCP Secret Manager secret version.
    Gcp(gcp::GcpRef),
    /// An Azure Key Vault secret.
    Azure(azure::AzureRef),
    /// A value of a SOPS-encrypted file.
    Sops(sops::SopsRef),
    /// An age-encrypted file, whole.
    Age(PathBuf),
}

impl Reference {
    /// Parses a reference; the error explains the expected form.
    pub fn parse(s: &str) -> Result<Reference, String> {
        let (scheme, rest) = s
            .split_once(':')
            .ok_or("invalid reference: expected env:VAR, file:/path, vault:PATH#KEY[#VERSION] or bundle:VAULT#KEY")?;
        match scheme {
            "gcp" | "sm" => gcp::GcpRef::parse(s).map(Reference::Gcp),
            "azure-kv" | "https" => azure::AzureRef::parse(s).map(Reference::Azure),
            "arn" | "aws-sm" | "aws-ssm" => aws::AwsRef::parse(s).map(Reference::Aws),
            "sops" => sops::SopsRef::parse(rest).map(Reference::Sops),
            "age" => sops::check_file("age", rest).map(Reference::Age),
            "env" => {
                if rest.is_empty() || rest.contains('=') || rest.contains('\0') {
                    return Err(
                        "invalid reference: env:VAR needs a variable name without '=' or NUL"
                            .into(),
                    );
                }
                if is_own_input(rest) {
                    return Err(format!(
                        "refused reference env:{rest}: it is one of secret-init's own inputs (a token, a role or secret id, or SECRET_INIT_*), never handed to the program"
                    ));
                }
                Ok(Reference::Env(rest.to_string()))
            }
            "file" => {
                if !rest.starts_with('/') || rest.contains('\0') {
                    return Err("invalid reference: file: needs an absolute path".into());
                }
                let path = PathBuf::from(rest);
                if path
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
                {
                    return Err("invalid reference: file: path must not contain \"..\"".into());
                }
                if is_process_view(&path) {
                    return Err(format!(
                        "refused reference file:{rest}: /proc (and /dev/fd, /dev/std*) show secret-init's own memory and environment"
                    ));
                }
                Ok(Reference::File(path))
            }
            "vault" => {
                let mut parts = rest.split('#');
                let path = parts.next().unwrap_or_default().trim_matches('/');
                if path.is_empty()
                    || path
                        .split('/')
                        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
                    // A query or an escape in the path would change the request, not the path
                    // (`?list=true` turned a read into a LIST).
                    || path.bytes().any(|b| {
                        matches!(b, b'?' | b'%' | b'\\' | b' ' | b'"' | b'<' | b'>')
                            || b.is_ascii_control()
                    })
                {
                    return Err(
                        "invalid reference: vault: needs an API path like secret/data/app".into(),
                    );
                }
                let key = parts.next().map(str::to_string);
                if key.as_deref() == Some("") {
                    return Err("invalid reference: empty key after '#'".into());
                }
                let version = match parts.next() {
                    None => None,
                    Some(v) => Some(
                        v.parse::<u64>()
                            .ok()
                            .filter(|n| *n > 0)
                            .ok_or("invalid reference: version after the second '#' must be a positive integer")?,
                    ),
                };
                if parts.next().is_some() {
                    return Err(
                        "invalid reference: at most two '#' in vault:PATH#KEY#VERSION".into(),
                    );
                }
                Ok(Reference::Vault {
                    path: path.to_string(),
                    key,
                    version,
                })
            }
            "bundle" => {
                let (vault, key) = match rest.split_once('#') {
                    Some((v, k)) => (v, Some(k)),
                    None => (rest, None),
                };
                if vault.is_empty() || key == Some("") || key.is_some_and(|k| k.contains('#')) {
                    return Err("invalid reference: expected bundle:VAULT#KEY".into());
                }
                Ok(Reference::Bundle {
                    vault: vault.to_string(),
                    key: key.map(str::to_string),
                })
            }
            other => Err(format!(
                "invalid reference: unknown scheme \"{other}\" (env, file, vault, bundle, arn, aws-sm, aws-ssm, gcp, sm, azure-kv, https, sops, age)"
            )),
        }
    }
}

/// The Vault/OpenBao API areas that hold secret-init's own credentials, not secrets: `auth/`
/// (its token: `auth/token/lookup-self` answers with the token itself; its AppRole's role and
/// secret ids), `sys/` (wrapping, leases, its token's capabilities), `identity/` (identity tokens
/// signed for it) and `cubbyhole/` (its token's private storage).
pub const OWN_VAULT_AREAS: &[&str] = &["auth", "sys", "identity", "cubbyhole"];

/// The area of [`OWN_VAULT_AREAS`] an API path reaches, if any: its first segment, or any later
/// one but the last that comes before a KV v2 `data` or `metadata` segment (a namespace in the
/// path: `team/auth/token/lookup-self`). A KV key may still be named `auth` (`secret/data/auth`,
/// `secret/data/app/auth`, `kv/app/auth`).
pub fn own_vault_area(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        if *seg == "data" || *seg == "metadata" {
            break;
        }
        if (i == 0 || i < last)
            && let Some(area) = OWN_VAULT_AREAS.iter().find(|a| **a == *seg)
        {
            return Some(area);
        }
    }
    None
}

impl Reference {
    /// Why this reference would hand the program one of secret-init's own credentials, if it
    /// would: a `vault:` path in one of [`OWN_VAULT_AREAS`]. (`env:` references to our inputs
    /// are refused when parsed; `file:` references to our credential files when read, by
    /// device and inode.)
    pub fn own_credential(&self) -> Option<String> {
        match self {
            Reference::Vault { path, .. } => own_vault_area(path).map(|area| {
                format!(
                    "vault {area}/ holds secret-init's own credentials (its token, its login, its identity), never a secret for the program"
                )
            }),
            _ => None,
        }
    }
}

/// Environment variables that are secret-init's own inputs: its settings and the bundle master
/// key (`SECRET_INIT_*`) and the vault credentials it consumes (deliver/env.rs scrubs the same).
fn is_own_input(var: &str) -> bool {
    var.starts_with("SECRET_INIT_") || crate::name::OWN_CREDENTIAL_VARS.contains(&var)
}

/// Paths that show a process's own state (environment, memory, descriptors) rather than a file.
/// The file source also refuses anything on procfs after opening it, whatever the path.
fn is_process_view(path: &std::path::Path) -> bool {
    [
        "/proc",
        "/dev/fd",
        "/dev/stdin",
        "/dev/stdout",
        "/dev/stderr",
    ]
    .iter()
    .any(|p| path.starts_with(p))
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Env(v) => write!(f, "env:{v}"),
            Reference::File(p) => write!(f, "file:{}", p.display()),
            Reference::Vault { path, key, version } => {
                write!(f, "vault:{path}")?;
                if let Some(k) = key {
                    write!(f, "#{k}")?;
                }
                if let Some(v) = version {
                    write!(f, "#{v}")?;
                }
                Ok(())
            }
            Reference::Aws(r) => write!(f, "{r}"),
            Reference::Gcp(r) => write!(f, "{r}"),
            Reference::Azure(r) => write!(f, "{r}"),
            Reference::Sops(r) => write!(f, "{r}"),
            Reference::Age(p) => write!(f, "age:{}", p.display()),
            Reference::Bundle { vault, key } => {
                write!(f, "bundle:{vault}")?;
                if let Some(k) = key {
                    write!(f, "#{k}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_paths_to_our_own_credentials() {
        for p in [
            "auth/token/lookup-self",
            "auth",
            "sys/wrapping/lookup",
            "identity/oidc/token/app",
            "cubbyhole/x",
            "team/auth/token/lookup-self",
            "a/b/cubbyhole/x",
            "kv/sys/x",
        ] {
            assert!(own_vault_area(p).is_some(), "{p}");
        }
        for p in [
            "secret/data/auth",
            "secret/data/auth/db",
            "secret/data/app/sys/x",
            "secret/metadata/identity/x",
            "kv/app/auth",
            "pki/issue/web",
            "database/creds/app",
        ] {
            assert_eq!(own_vault_area(p), None, "{p}");
        }
        let r = Reference::parse("vault:auth/token/lookup-self#id").expect("parses");
        assert!(r.own_credential().is_some());
        assert!(
            Reference::parse("file:/x")
                .expect("parses")
                .own_credential()
                .is_none()
        );
    }

    #[test]
    fn parses_and_round_trips() {
        for s in [
            "env:OPENAI_KEY",
            "file:/run/secrets/db",
            "vault:secret/data/shared#openai",
            "vault:secret/data/shared#openai#3",
            "vault:kv/app",
            "bundle:shared#HF_TOKEN",
            "bundle:shared",
            "aws-sm:app/db#password",
            "arn:aws:ssm:us-east-1:123456789012:parameter/app/db",
        ] {
            let r = Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(r.to_string(), s);
        }
        assert_eq!(
            Reference::parse("vault:secret/data/x#k#2"),
            Ok(Reference::Vault {
                path: "secret/data/x".into(),
                key: Some("k".into()),
                version: Some(2)
            })
        );
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "nothing",
            "env:",
            "env:A=B",
            "file:relative",
            "vault:",
            "vault:a/../b#k",
            "vault:a#",
            "vault:a#k#0",
            "vault:a#k#x",
            "vault:a#k#1#2",
            "bundle:",
            "bundle:v#",
            "s3:bucket",
            // secret-init's own inputs and /proc.
            "env:SECRET_INIT_MASTER_KEY",
            "env:VAULT_TOKEN",
            "env:BAO_SECRET_ID",
            "file:/proc/self/environ",
            "file:/proc/1/environ",
            "file:/dev/fd/3",
            "file:/tmp/../proc/self/mem",
            // A query or an escape smuggled into a vault path.
            "vault:secret/data/x?list=true#k",
            "vault:secret/metadata/%3Flist=true",
            "vault:secret/data/a b",
        ] {
            assert!(Reference::parse(s).is_err(), "{s:?} should fail");
        }
    }
}

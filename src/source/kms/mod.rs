//! Keys that live in a KMS: a data key wrapped (encrypted) under a key of AWS KMS, GCP Cloud KMS,
//! Azure Key Vault or Vault/OpenBao transit, and unwrapped at start, so a container needs only
//! the permission to decrypt and holds no key of its own. sops files keep their data key this way
//! (sops' `kms`, `gcp_kms`, `azure_kv` and `hc_vault` master keys), and so can bundles
//! (docs/bundle.md, "Keys in a KMS").
//!
//! Each provider is a file beside this one and goes through its source's own client: the same
//! credential chain, TLS settings, proxies, retries, size caps and deadline as the secrets read
//! from it ([`aws`]: SigV4 `TrentService.Decrypt`/`Encrypt` with the encryption context;
//! [`gcp`]: cloudkms v1 `:decrypt`/`:encrypt`; [`azure`]: `unwrapkey`/`wrapkey` with RSA-OAEP-256;
//! [`transit`]: `MOUNT/decrypt/NAME`, `MOUNT/encrypt/NAME`). [`KmsClients`] is built from the
//! settings the sources are built from and does nothing until a key is first used; every
//! (key, wrapped key) pair is then unwrapped at most once per run, its answer (or failure) kept
//! in memory.
//!
//! Errors are one line naming the key (an ARN, a resource name, a URL: never key material) and
//! what failed: refused 77, unreachable or missing 69, a wrapped key the KMS does not accept (or
//! an answer for another key) 65, a key written wrongly 78. A transit key's own vault address (as
//! a sops file records it) is never where our token goes: the configured vault is.

#[cfg(feature = "aws")]
mod aws;
#[cfg(feature = "azure")]
pub(crate) mod azure;
#[cfg(feature = "gcp")]
pub(crate) mod gcp;
#[cfg(feature = "vault")]
mod transit;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

use zeroize::Zeroizing;

use crate::environ::Environ;
use crate::error::{Error, Kind};
use crate::source::Outputs;

/// The most a cloud KMS answer may hold: a data key, or its wrapped form, in JSON.
#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
const MAX_ANSWER: u64 = 64 * 1024;

/// A key in a KMS that wraps data keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KmsKey {
    /// An AWS KMS key (or alias) by ARN, with the encryption context bound into its ciphertexts,
    /// optionally used as a role or through a named profile (sops' `role`, `aws_profile`).
    Aws {
        /// `arn:PARTITION:kms:REGION:ACCOUNT:key/ID` or `...:alias/NAME`.
        arn: String,
        /// The encryption context, in order.
        context: Vec<(String, String)>,
        /// A role to assume with the chain's credentials.
        role: Option<String>,
        /// The profile whose credentials to use (`AWS_PROFILE` for this key).
        profile: Option<String>,
    },
    /// A GCP Cloud KMS key: `projects/P/locations/L/keyRings/R/cryptoKeys/K`.
    Gcp {
        /// The key's resource name.
        resource_id: String,
    },
    /// An Azure Key Vault RSA key version, wrapping with RSA-OAEP-256.
    Azure {
        /// `https://VAULT.vault.azure.net` (or a sovereign cloud's suffix).
        vault_url: String,
        /// The key's name.
        name: String,
        /// The key's version.
        version: String,
    },
    /// A Vault/OpenBao transit key.
    Transit {
        /// The vault address the key was written with (informational: see the module docs).
        address: Option<String>,
        /// The transit engine's mount path (`transit`).
        mount: String,
        /// The key's name.
        key_name: String,
    },
}

/// The forms [`KmsKey::parse`] reads.
const FORMS: &str = "expected aws:ARN, gcp:projects/P/locations/L/keyRings/R/cryptoKeys/K, azure:https://VAULT.vault.azure.net/keys/NAME/VERSION or transit:MOUNT/NAME";

impl KmsKey {
    /// Parses `aws:ARN`, `gcp:RESOURCE`, `azure:URL` or `transit:MOUNT/NAME` (the `--kms` option
    /// and a bundle's header), with no I/O.
    pub fn parse(spec: &str) -> Result<KmsKey, String> {
        let (provider, rest) = spec.split_once(':').ok_or_else(|| FORMS.to_string())?;
        match provider {
            "aws" => KmsKey::aws(rest),
            "gcp" => KmsKey::gcp(rest),
            "azure" => KmsKey::azure(rest),
            "transit" => KmsKey::transit(None, rest),
            _ => Err(FORMS.to_string()),
        }
    }

    /// An AWS key by ARN (no context, role or profile).
    pub(crate) fn aws(arn: &str) -> Result<KmsKey, String> {
        let bad = || {
            format!(
                "\"{}\" is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID or ...:alias/NAME)",
                crate::log::escape_controls(arn)
            )
        };
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let ["arn", partition, "kms", region, account, resource] = parts[..] else {
            return Err(bad());
        };
        let id = resource
            .strip_prefix("key/")
            .or_else(|| resource.strip_prefix("alias/"))
            .unwrap_or_default();
        let ok = partition.starts_with("aws")
            && crate::reference::aws::valid_region(region)
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && !id.is_empty()
            && id.len() <= 256
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_/".contains(&b));
        if !ok {
            return Err(bad());
        }
        Ok(KmsKey::Aws {
            arn: arn.to_string(),
            context: Vec::new(),
            role: None,
            profile: None,
        })
    }

    /// A GCP key by resource name.
    pub(crate) fn gcp(resource: &str) -> Result<KmsKey, String> {
        let parts: Vec<&str> = resource.split('/').collect();
        let ok = matches!(
            parts[..],
            [
                "projects",
                _,
                "locations",
                _,
                "keyRings",
                _,
                "cryptoKeys",
                _
            ]
        ) && parts.iter().skip(1).step_by(2).all(|id| {
            (1..=100).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        });
        if !ok {
            return Err(format!(
                "\"{}\" is not a Cloud KMS key (projects/P/locations/L/keyRings/R/cryptoKeys/K)",
                crate::log::escape_controls(resource)
            ));
        }
        Ok(KmsKey::Gcp {
            resource_id: resource.to_string(),
        })
    }

    /// An Azure key version by URL: `https://VAULT.vault.azure.net/keys/NAME/VERSION`.
    pub(crate) fn azure(url: &str) -> Result<KmsKey, String> {
        let bad = || {
            format!(
                "\"{}\" is not a Key Vault key version (https://VAULT.vault.azure.net/keys/NAME/VERSION)",
                crate::log::escape_controls(url)
            )
        };
        let rest = url.strip_prefix("https://").ok_or_else(bad)?;
        let parts: Vec<&str> = rest.split('/').collect();
        let [host, "keys", name, version] = parts[..] else {
            return Err(bad());
        };
        let host = host.strip_suffix(":443").unwrap_or(host);
        let (vault, suffix) = host.split_once('.').ok_or_else(bad)?;
        let ok = crate::reference::azure::valid_vault(vault)
            && crate::reference::azure::SUFFIXES.contains(&suffix)
            && crate::reference::azure::valid_name(name)
            && (1..=64).contains(&version.len())
            && version.bytes().all(|b| b.is_ascii_alphanumeric());
        if !ok {
            return Err(bad());
        }
        Ok(KmsKey::Azure {
            vault_url: format!("https://{host}"),
            name: name.to_string(),
            version: version.to_string(),
        })
    }

    /// A transit key by `MOUNT/NAME` (the mount may have several segments).
    pub(crate) fn transit(address: Option<String>, path: &str) -> Result<KmsKey, String> {
        let bad = || {
            format!(
                "\"{}\" is not a transit key (MOUNT/NAME, like transit/app)",
                crate::log::escape_controls(path)
            )
        };
        let (mount, name) = path.trim_matches('/').rsplit_once('/').ok_or_else(bad)?;
        let ok = mount.split('/').chain([name]).all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        });
        if !ok {
            return Err(bad());
        }
        Ok(KmsKey::Transit {
            address,
            mount: mount.to_string(),
            key_name: name.to_string(),
        })
    }

    /// Which provider: `aws`, `gcp`, `azure` or `transit`.
    pub fn provider(&self) -> &'static str {
        match self {
            KmsKey::Aws { .. } => "aws",
            KmsKey::Gcp { .. } => "gcp",
            KmsKey::Azure { .. } => "azure",
            KmsKey::Transit { .. } => "transit",
        }
    }

    /// Where errors say the key is: `kms aws:ARN`.
    fn label(&self) -> String {
        format!("kms {self}")
    }
}

/// The form [`KmsKey::parse`] reads back (the context, role, profile and address are not part
/// of it).
impl fmt::Display for KmsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KmsKey::Aws { arn, .. } => write!(f, "aws:{arn}"),
            KmsKey::Gcp { resource_id } => write!(f, "gcp:{resource_id}"),
            KmsKey::Azure {
                vault_url,
                name,
                version,
            } => write!(f, "azure:{vault_url}/keys/{name}/{version}"),
            KmsKey::Transit {
                mount, key_name, ..
            } => write!(f, "transit:{mount}/{key_name}"),
        }
    }
}

/// What a key's unwrapping gave, kept for the run.
type Unwrapped = Result<Zeroizing<Vec<u8>>, Error>;

/// The providers' clients and what they answered, made on first use.
#[derive(Default)]
struct State {
    #[cfg(feature = "aws")]
    aws: aws::Clients,
    #[cfg(feature = "gcp")]
    gcp: gcp::Clients,
    #[cfg(feature = "azure")]
    azure: azure::Clients,
    #[cfg(feature = "vault")]
    transit: transit::Clients,
    /// (key, wrapped key) → the data key or the failure.
    unwrapped: BTreeMap<(String, Vec<u8>), Unwrapped>,
}

/// Every provider's settings and, once used, its client and credentials. No I/O until a key is
/// used.
pub(crate) struct KmsClients {
    #[cfg_attr(
        not(any(feature = "aws", feature = "gcp", feature = "azure", feature = "vault")),
        allow(dead_code)
    )]
    env: Environ,
    #[cfg_attr(
        not(any(feature = "aws", feature = "gcp", feature = "azure")),
        allow(dead_code)
    )]
    outputs: Outputs,
    #[cfg(feature = "aws")]
    aws: crate::source::aws::config::AwsSettings,
    /// The program's user under `--user`, for an AWS `credential_process`.
    #[cfg(feature = "aws")]
    program: Option<crate::provenance::ProgramUser>,
    #[cfg(feature = "gcp")]
    gcp: crate::source::gcp::config::GcpSettings,
    #[cfg(feature = "azure")]
    azure: crate::source::azure::config::AzureSettings,
    #[cfg(feature = "vault")]
    vault: Option<crate::source::vault::config::VaultSettings>,
    state: RefCell<State>,
}

impl fmt::Debug for KmsClients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KmsClients(..)")
    }
}

/// The settings [`KmsClients`] is built from: the sources' own (a build without a source has
/// no field for it).
pub(crate) struct KmsSettings {
    /// `secret_init.aws` merged.
    #[cfg(feature = "aws")]
    pub(crate) aws: crate::source::aws::config::AwsSettings,
    /// The program's user under `--user` (when not ours), for an AWS `credential_process`.
    #[cfg(feature = "aws")]
    pub(crate) program: Option<crate::provenance::ProgramUser>,
    /// `secret_init.gcp` merged (its `kms_endpoint` is where keys are used).
    #[cfg(feature = "gcp")]
    pub(crate) gcp: crate::source::gcp::config::GcpSettings,
    /// `secret_init.azure` merged.
    #[cfg(feature = "azure")]
    pub(crate) azure: crate::source::azure::config::AzureSettings,
    /// `secret_init.vault` merged, when a vault is configured.
    #[cfg(feature = "vault")]
    pub(crate) vault: Option<crate::source::vault::config::VaultSettings>,
}

impl KmsClients {
    /// Clients under `settings`; `env` is secret-init's own environment (credentials, endpoints),
    /// `outputs` the files it delivers (never read as its credentials). No I/O.
    pub(crate) fn new(settings: KmsSettings, env: Environ, outputs: Outputs) -> KmsClients {
        let _ = &settings;
        KmsClients {
            env,
            outputs,
            #[cfg(feature = "aws")]
            aws: settings.aws,
            #[cfg(feature = "aws")]
            program: settings.program,
            #[cfg(feature = "gcp")]
            gcp: settings.gcp,
            #[cfg(feature = "azure")]
            azure: settings.azure,
            #[cfg(feature = "vault")]
            vault: settings.vault,
            state: RefCell::new(State::default()),
        }
    }
}

/// The error of a provider this build lacks (78).
fn not_built(key: &KmsKey, feature: &str) -> Error {
    Error::new(
        Kind::Config,
        format!(
            "this secret-init is built without the {feature} source (Cargo feature `{feature}`)"
        ),
    )
    .with_source(key.label())
}

/// The data key inside `wrapped`, unwrapped by `key`'s KMS: AWS and GCP take the raw
/// ciphertext bytes, Azure the wrapped key bytes, transit the `vault:v1:...` text's bytes. Each
/// (key, wrapped) pair is sent at most once per `with`.
pub(crate) fn unwrap(
    key: &KmsKey,
    wrapped: &[u8],
    with: &KmsClients,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let cache_key = (key.to_string(), wrapped.to_vec());
    if let Some(hit) = with.state.borrow().unwrapped.get(&cache_key) {
        return hit.clone();
    }
    let mut state = with.state.borrow_mut();
    let r = unwrap_uncached(key, wrapped, with, &mut state).map_err(|e| e.with_source(key.label()));
    match &r {
        Ok(k) => crate::log::debug!("kms: {key}: unwrapped a {}-byte data key", k.len()),
        Err(e) => crate::log::debug!("kms: {key}: {}", e.what),
    }
    state.unwrapped.insert(cache_key, r.clone());
    r
}

/// `data_key` wrapped under `key`, in the form [`unwrap`] takes.
pub(crate) fn wrap(key: &KmsKey, data_key: &[u8], with: &KmsClients) -> Result<Vec<u8>, Error> {
    let mut state = with.state.borrow_mut();
    wrap_uncached(key, data_key, with, &mut state).map_err(|e| e.with_source(key.label()))
}

#[allow(unused_variables)]
fn unwrap_uncached(
    key: &KmsKey,
    wrapped: &[u8],
    with: &KmsClients,
    state: &mut State,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    match key {
        #[cfg(feature = "aws")]
        KmsKey::Aws { .. } => state.aws.unwrap(key, wrapped, with),
        #[cfg(feature = "gcp")]
        KmsKey::Gcp { resource_id } => state.gcp.unwrap(resource_id, wrapped, with),
        #[cfg(feature = "azure")]
        KmsKey::Azure { .. } => state.azure.unwrap(key, wrapped, with),
        #[cfg(feature = "vault")]
        KmsKey::Transit { .. } => state.transit.unwrap(key, wrapped, with),
        #[allow(unreachable_patterns)]
        other => Err(not_built(other, feature_of(other))),
    }
}

#[allow(unused_variables)]
fn wrap_uncached(
    key: &KmsKey,
    data_key: &[u8],
    with: &KmsClients,
    state: &mut State,
) -> Result<Vec<u8>, Error> {
    match key {
        #[cfg(feature = "aws")]
        KmsKey::Aws { .. } => state.aws.wrap(key, data_key, with),
        #[cfg(feature = "gcp")]
        KmsKey::Gcp { resource_id } => state.gcp.wrap(resource_id, data_key, with),
        #[cfg(feature = "azure")]
        KmsKey::Azure { .. } => state.azure.wrap(key, data_key, with),
        #[cfg(feature = "vault")]
        KmsKey::Transit { .. } => state.transit.wrap(key, data_key, with),
        #[allow(unreachable_patterns)]
        other => Err(not_built(other, feature_of(other))),
    }
}

/// The Cargo feature that brings `key`'s provider.
fn feature_of(key: &KmsKey) -> &'static str {
    match key {
        KmsKey::Transit { .. } => "vault",
        other => other.provider(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any text as a key name: an error or a key that prints back as written, never a panic.
        #[test]
        fn any_key_name_parses_or_is_refused(s in "\\PC{0,120}", provider in 0usize..5) {
            let spec = format!("{}{s}", ["aws:arn:aws:kms:", "gcp:projects/", "azure:https://", "transit:", ""][provider]);
            if let Ok(k) = KmsKey::parse(&spec) {
                proptest::prop_assert_eq!(k.to_string(), spec);
            }
        }
    }

    #[test]
    fn keys_round_trip() {
        for spec in [
            "aws:arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "aws:arn:aws-cn:kms:cn-north-1:111122223333:alias/app/prod",
            "gcp:projects/p-1/locations/global/keyRings/r/cryptoKeys/k",
            "azure:https://my-vault.vault.azure.net/keys/k-1/0123456789abcdef0123456789abcdef",
            "transit:transit/app",
            "transit:kv/team/transit/app.key",
        ] {
            let k = KmsKey::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(k.to_string(), spec);
        }
        for bad in [
            "aws",
            "kms:x",
            "aws:arn:aws:kms:us-east-1:1111:key/x",
            "aws:arn:aws:s3:us-east-1:111122223333:key/x",
            "aws:arn:aws:kms:us-east-1:111122223333:key/",
            "aws:arn:aws:kms:x@evil:111122223333:key/k",
            "gcp:projects/p/locations/l/keyRings/r",
            "gcp:projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
            "gcp:projects/p?/locations/l/keyRings/r/cryptoKeys/k",
            "azure:https://evil.example.com/keys/k/1",
            "azure:http://v1v.vault.azure.net/keys/k/1",
            "azure:https://vvv.vault.azure.net/keys/k",
            "azure:https://vvv.vault.azure.net/secrets/k/1",
            "transit:app",
            "transit:../app",
            "transit:transit/a b",
            "transit:transit//app",
        ] {
            assert!(KmsKey::parse(bad).is_err(), "{bad}");
        }
    }
}

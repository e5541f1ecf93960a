//! The entry points the fuzz targets (`fuzz/`) and the sigv4 test-vector test drive, and nothing
//! else: every other module is private, so the compiler reports what nothing calls. Hidden from
//! the docs; not an API. Grouped as the fuzz targets use them.

/// `fuzz_targets/aws_response.rs`, `aws_metadata.rs`, `aws_process.rs`; `tests/aws.rs` (SigV4 test vectors).
#[cfg(feature = "aws")]
pub mod aws {
    pub use crate::source::aws::client::{
        Stored, parse_assume_role, parse_batch_secrets, parse_parameter, parse_parameters,
        parse_role_credentials, parse_secret_value, xml_text,
    };
    pub use crate::source::aws::metadata::{parse_credentials, parse_expiration, parse_role_list};
    pub use crate::source::aws::process::{parse_output, split};
    pub use crate::source::aws::sigv4;
    pub use crate::source::aws::sigv4::Credentials;
}

/// `fuzz_targets/gcp.rs`.
#[cfg(feature = "gcp")]
pub mod gcp {
    pub use crate::reference::gcp::GcpRef;
    pub use crate::source::gcp::client::{parse_access, parse_token};
    pub use crate::source::gcp::crc32c::crc32c;
    pub use crate::source::gcp::credentials::parse_file;
}

/// `fuzz_targets/azure.rs`.
#[cfg(feature = "azure")]
pub mod azure {
    pub use crate::reference::azure::AzureRef;
    pub use crate::source::azure::client::{may_carry_token, parse_secret, parse_token};
}

/// `fuzz_targets/vault_json.rs`.
#[cfg(feature = "vault")]
pub mod vault {
    pub use crate::source::vault::client::{KvData, json_body, parse_kv, parse_login};
    pub use crate::source::vault::config::KvVersion;
}

/// `fuzz_targets/kms.rs`.
pub mod kms {
    #[cfg(feature = "aws")]
    pub use crate::source::aws::client::{parse_kms_decrypt, parse_kms_encrypt};
    pub use crate::source::kms::KmsKey;
    #[cfg(feature = "azure")]
    pub use crate::source::kms::azure::parse_key_result;
    #[cfg(feature = "gcp")]
    pub use crate::source::kms::gcp::{
        parse_decrypt as parse_gcp_decrypt, parse_encrypt as parse_gcp_encrypt,
    };
}

/// `fuzz_targets/bundle.rs`.
pub mod bundle {
    pub use crate::bundle::format::{Bundle, Vault, rfc3339};
    pub use crate::bundle::seal::MasterKey;
}

/// `fuzz_targets/fallback.rs`: the snapshot file under the fixed fuzz key (32 bytes of 0x07)
/// and a fixed identity.
pub mod fallback {
    use crate::bundle::seal::MasterKey;
    use crate::fallback::file;
    use crate::secret::Secret;

    const IDENTITY: &str = "manifest=/fuzz/config.yaml\0snapshot=/fuzz/snap";

    fn key() -> MasterKey {
        // Invariant: 32 bytes is a valid AES-256 key.
        MasterKey::from_bytes(&[7; 32]).expect("32-byte key")
    }

    /// Opens `bytes` as a snapshot: (generation, every value as (name, source, fetched, value)),
    /// or why not.
    #[allow(clippy::type_complexity)]
    pub fn open(bytes: &[u8]) -> Result<(u64, Vec<(String, String, u64, Vec<u8>)>), String> {
        let opened = file::parse(bytes, key(), IDENTITY)?;
        let mut out = Vec::new();
        for v in &opened.values {
            let value = opened.open(v)?;
            out.push((
                v.name.clone(),
                v.source.clone(),
                v.fetched,
                value.expose().to_vec(),
            ));
        }
        Ok((opened.generation, out))
    }

    /// Seals `values` ((name, source, fetched, value)) as `generation`.
    pub fn seal(generation: u64, values: &[(String, String, u64, Vec<u8>)]) -> Vec<u8> {
        let fresh: Vec<file::Fresh> = values
            .iter()
            .map(|(name, source, fetched, value)| file::Fresh {
                name: name.clone(),
                source: source.clone(),
                kind: "vault".into(),
                fetched: *fetched,
                value: Secret::new(value.clone()),
            })
            .collect();
        // Invariant: sealing fails only when the system random source does.
        file::seal(&key(), IDENTITY, generation, &fresh)
            .expect("seal")
            .expose()
            .to_vec()
    }
}

/// `fuzz_targets/env.rs`.
pub mod env {
    pub use crate::deliver::env::{ALWAYS_SCRUBBED, check_exec_size, child_environment};
    pub use crate::environ::Environ;
    pub use crate::plan::{EnvDelivery, check_env};
}

/// `fuzz_targets/mask.rs`.
pub mod mask {
    pub use crate::mask::fuzz_stream;
}

/// `fuzz_targets/manifest.rs`.
pub mod manifest {
    pub use crate::cli::parse as parse_args;
    pub use crate::environ::Environ;
    pub use crate::manifest::{parse, yaml_options};
    pub use crate::settings::Settings;
}

/// `fuzz_targets/secret_dir.rs`.
pub mod secret_dir {
    pub use crate::source::Source;
    pub use crate::source::file::FileSource;
}

/// `fuzz_targets/template.rs`.
pub mod template {
    pub use crate::log::escape_controls;
    pub use crate::manifest::templates::{Body, Template};
    pub use crate::template::{MAX_OUTPUT_BYTES, Secrets, render};
}

/// `fuzz_targets/metrics_request.rs`.
pub mod observe {
    pub use crate::app::observe::metrics::{Asked, MAX_REQUEST, asked, label};
    pub use crate::settings::observe::{Listen, listen};
}

/// `fuzz_targets/sops.rs`: the SOPS readers, the walk and the MAC, and the age format, driven
/// with fixed keys.
pub mod sops {
    use zeroize::Zeroizing;

    /// Reads `bytes` as a SOPS file of the format `which` picks (YAML, JSON, dotenv, INI, binary), opens
    /// it with a data key of 32 bytes of 7 (every master key answers with it) and reads
    /// every top-level value, the whole file and `path`. Whether it opened.
    pub fn open_with_fixed_key(which: u8, bytes: &[u8], path: &str) -> bool {
        use crate::sops::{Encrypted, Format, Step};
        let format = match which % 5 {
            0 => Format::Yaml,
            1 => Format::Json,
            2 => Format::Dotenv,
            3 => Format::Ini,
            _ => Format::Binary,
        };
        let Ok(file) = Encrypted::parse(bytes, format) else {
            return false;
        };
        let Ok(opened) = file.open(|_| Ok(Zeroizing::new(vec![7; 32]))) else {
            return false;
        };
        for (_, v) in opened.top_level() {
            let _ = v.len();
        }
        let _ = opened.whole();
        if let Ok(steps) = crate::reference::sops::parse_path(path) {
            let steps: Vec<Step<'_>> = steps
                .iter()
                .map(|s| match s {
                    crate::reference::sops::Step::Key(k) => Step::Key(k),
                    crate::reference::sops::Step::Index(i) => Step::Index(*i),
                })
                .collect();
            let _ = opened.get(&steps);
        }
        true
    }

    /// Decrypts `bytes` as an age file with the identity of 32 bytes of 7; the plaintext.
    pub fn age_decrypt_with_fixed_identity(bytes: &[u8]) -> Option<Vec<u8>> {
        let raw = crate::age::bech32::encode("age-secret-key-", &[7; 32]).to_ascii_uppercase();
        let id = crate::age::Identity::parse(&raw).ok()?;
        crate::age::decrypt(bytes, &[id]).ok().map(|p| p.to_vec())
    }
}

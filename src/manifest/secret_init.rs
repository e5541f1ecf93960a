//! The `secret_init:` section of config.yaml as written: the global options (the command line
//! and the env twins override them, `settings.rs` merges), each source's own section and the raw per-secret, provider and template maps (validated in
//! `manifest::parse`).

use std::collections::BTreeMap;
use std::path::PathBuf;

#[cfg(doc)]
use super::SecretSettings;
use super::{RawSecretSettings, providers, templates};
use crate::source::bundle::RawBundleSettings;
use crate::source::registry::{AwsFile, AzureFile, FileSections, GcpFile, VaultFile};
use crate::source::sops::RawSopsSettings;

crate::source::section::raw_section! {
    /// The `secret_init:` section as written in the file (global options; CLI and env override them).
    pub struct FileSettings {
        /// Source precedence, highest first.
        pub sources: Option<Vec<String>>,
        /// Prefix of env-var secrets.
        pub env_prefix: Option<String>,
        /// Mounted secret directories.
        pub secrets_dirs: Option<Vec<PathBuf>>,
        /// Where secret files are written.
        pub output_dir: Option<PathBuf>,
        /// The developer-machine config (`~/.truss/config.yaml`).
        pub local_config: Option<String>,
        /// Log level.
        pub log_level: Option<String>,
        /// Log format.
        pub log_format: Option<String>,
        /// Permit env deliveries into loader/interpreter variables such as `LD_PRELOAD`.
        pub allow_dangerous_env: Option<bool>,
        /// Permit an output dir that other users can write to.
        pub allow_shared_dir: Option<bool>,
        /// Largest secret file read, in bytes.
        pub max_secret_bytes: Option<u64>,
        /// Extra variables removed from the program's environment.
        pub scrub_env: Option<Vec<String>>,
        /// Variables `X` whose `X_FILE` names a file to read into `X` (Docker's `*_FILE` convention).
        pub file_env: Option<Vec<String>>,
        /// Resolve environment variables whose whole value is a reference (`env_refs`).
        pub resolve_env_references: Option<bool>,
        /// Deliver by env only: no file written, no output dir made (`--env-only`).
        pub env_only: Option<bool>,
        /// `true`: supervise even when not PID 1 (`--init`); `false`: always exec (`--no-init`).
        pub init: Option<bool>,
        /// Forward signals to the program's process group.
        pub process_group: Option<bool>,
        /// Seconds leftover descendants get between SIGTERM and SIGKILL.
        pub grace_period: Option<f64>,
        /// Run the program as this user (`UID[:GID]` or `NAME[:GROUP]`).
        pub user: Option<String>,
        /// Refuse to run the program as uid 0.
        pub no_root: Option<bool>,
        /// Remove delivered files when the program exits.
        pub cleanup: Option<bool>,
        /// Mask delivered values in the program's output (`--mask`; docs/masking.md).
        pub mask: Option<bool>,
        /// Values shorter than this many bytes are not masked [default: 8].
        pub mask_min_length: Option<u64>,
        /// What replaces a masked value; `{name}` is the secret's name [default: `<secret:{name}>`].
        pub mask_marker: Option<String>,
        /// Live refresh (`secret_init.refresh`; docs/refresh.md).
        pub refresh: Option<RawRefreshSettings>,
        /// The metrics endpoint (`secret_init.metrics`; docs/observability.md).
        pub metrics: Option<RawMetrics>,
        /// The audit trail (`secret_init.audit`; docs/observability.md).
        pub audit: Option<RawAudit>,
        /// The last-known-good snapshot (`secret_init.fallback`; docs/fallback.md).
        pub fallback: Option<RawFallbackSettings>,
        /// Per-secret settings, raw; validated into [`SecretSettings`].
        pub secrets: BTreeMap<String, RawSecretSettings>,
        /// Provider instances, raw; validated by [`providers::validate`].
        pub providers: BTreeMap<String, providers::RawInstance>,
        /// Templates, raw; validated by [`templates::validate`].
        pub templates: BTreeMap<String, templates::RawTemplate>,
    }
    renamed {
        /// `secret_init.vault` as written.
        pub vault: Option<VaultFile> = "vault",
        /// `secret_init.aws` as written.
        pub aws: Option<AwsFile> = "aws",
        /// `secret_init.gcp` as written.
        pub gcp: Option<GcpFile> = "gcp",
        /// `secret_init.azure` as written.
        pub azure: Option<AzureFile> = "azure",
        /// `secret_init.bundles` as written.
        pub bundle: Option<RawBundleSettings> = "bundles",
        /// `secret_init.sops` as written.
        pub sops: Option<RawSopsSettings> = "sops",
    }
}

impl FileSettings {
    /// Every source's section, for the source table.
    pub fn sections(&self) -> FileSections<'_> {
        FileSections {
            vault: self.vault.as_ref(),
            aws: self.aws.as_ref(),
            gcp: self.gcp.as_ref(),
            azure: self.azure.as_ref(),
            bundle: self.bundle.as_ref(),
            sops: self.sops.as_ref(),
        }
    }
}

crate::source::section::raw_section! {
    /// `secret_init.refresh` as written; interpreted (with CLI and env) by `settings.rs`.
    pub struct RawRefreshSettings {
        /// How often remote sources are re-read: `30s`, `5m`, `1h`, a number of seconds; 0 = off.
        pub interval: Option<serde_json::Value>,
        /// Spread of every wait, `10%` (or a fraction, 0.1).
        pub jitter: Option<serde_json::Value>,
        /// `signal`, `restart` or `none`.
        pub on_change: Option<String>,
        /// The signal `on_change: signal` sends.
        pub signal: Option<String>,
        /// Where the refresh status (JSON) is written.
        pub status_file: Option<PathBuf>,
    }
}

crate::source::section::raw_section! {
    /// `secret_init.metrics` as written; interpreted by `settings.rs`.
    pub struct RawMetrics {
        /// `127.0.0.1:9464`, `[::1]:9464` or `unix:/run/secret-init/m.sock`.
        pub listen: Option<String>,
    }
}

crate::source::section::raw_section! {
    /// `secret_init.audit` as written; interpreted by `settings.rs`.
    pub struct RawAudit {
        /// An absolute path, or `stderr`.
        pub file: Option<String>,
        /// The size past which the file is rotated to `PATH.1`.
        pub max_bytes: Option<u64>,
    }
}

crate::source::section::raw_section! {
    /// `secret_init.fallback` as written; interpreted (with `--no-fallback`) by `settings.rs`.
    pub struct RawFallbackSettings {
        /// Where the sealed snapshot is kept (an absolute path outside the output dir).
        pub path: Option<PathBuf>,
        /// A file holding the base64 key that seals it.
        pub key_file: Option<PathBuf>,
        /// A variable holding the base64 key that seals it.
        pub key_env: Option<String>,
        /// The oldest value it may serve: `6h`, `30m`, a number of seconds.
        pub max_age: Option<serde_json::Value>,
    }
}

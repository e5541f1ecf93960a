//! The status file (docs/refresh.md, "The status file"; docs/observability.md): what the
//! `status` command and probes read. No value ever reaches it (names, sources, versions, times
//! and errors only, and errors never carry a value), so it is written 0644 for a probe running
//! as another user.

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::{Watch, on_change_name};
use crate::deliver::file;
use crate::fallback::Stale;
use crate::settings::{OnChange, RefreshSettings};

/// The status file: what probes read. No value ever reaches it (names, sources and errors only,
/// and errors never carry a value), so it is written 0644 for a probe running as another user.
pub(super) struct Status {
    pub(super) interval: Duration,
    pub(super) on_change: OnChange,
    pub(super) last_attempt: Option<SystemTime>,
    pub(super) last_success: Option<SystemTime>,
    pub(super) error: Option<String>,
    pub(super) failed: Vec<String>,
    pub(super) failures: u32,
    pub(super) changes: u64,
    pub(super) program_pid: Option<i32>,
    pub(super) watch_mode: String,
    pub(super) sources: Vec<Watch>,
    /// The vault's token and dynamic secrets (keep.rs), when a vault is in use.
    pub(super) vault: Option<serde_json::Value>,
    /// One row per secret (observe.rs `State::rows`).
    pub(super) secrets: serde_json::Value,
    /// The failed pass's reason codes (docs/observability.md).
    pub(super) reasons: Vec<&'static str>,
    /// How it is written: the deliveries' publisher and policy (no link followed on the way, an
    /// atomic rename), but not recorded as a delivery, and allowed in a shared dir (it holds no
    /// value).
    pub(super) opts: file::WriteOptions,
    /// The secrets the fallback snapshot stands in for, until the store answers again.
    pub(super) stale: Vec<Stale>,
}

/// Whether an error's source (`vault:secret/data/app#db`, `file:/secrets/db`) is about a watched
/// source (`vault:https://…`, `file:/secrets`): the same kind, and for files the same directory.
pub(super) fn concerns(error_source: &str, watched: &str) -> bool {
    let kind = |s: &str| s.split(':').next().unwrap_or(s).to_string();
    kind(error_source) == kind(watched)
        && (kind(watched) != "file" || error_source.starts_with(watched))
}

fn unix(t: Option<SystemTime>) -> serde_json::Value {
    t.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(serde_json::Value::Null, |d| {
            serde_json::json!(d.as_millis() as f64 / 1000.0)
        })
}

impl Status {
    pub(super) fn new(
        s: &RefreshSettings,
        sources: Vec<Watch>,
        opts: &file::WriteOptions,
    ) -> Status {
        Status {
            opts: file::WriteOptions {
                allow_shared_dir: true,
                record: None,
                durable: false,
                ..opts.clone()
            },
            interval: s.interval,
            on_change: s.on_change,
            last_attempt: None,
            last_success: Some(SystemTime::now()),
            error: None,
            failed: Vec::new(),
            failures: 0,
            changes: 0,
            program_pid: None,
            watch_mode: String::new(),
            sources,
            vault: None,
            secrets: serde_json::json!([]),
            reasons: Vec::new(),
            stale: Vec::new(),
        }
    }

    fn json(&self) -> serde_json::Value {
        let sources: Vec<serde_json::Value> = self
            .sources
            .iter()
            .map(|w| {
                let failing = self.failed.iter().any(|f| concerns(f, &w.source));
                serde_json::json!({
                    "source": w.source,
                    "watch": w.how,
                    "state": if failing { "error" } else { "ok" },
                })
            })
            .collect();
        let vault_ok = self
            .vault
            .as_ref()
            .is_none_or(|v| v["token"]["state"] == "ok");
        serde_json::json!({
            "ok": self.error.is_none() && vault_ok,
            "interval_seconds": self.interval.as_secs_f64(),
            "on_change": on_change_name(self.on_change),
            "last_attempt": unix(self.last_attempt),
            "last_success": unix(self.last_success),
            "error": self.error,
            "failed_sources": self.failed,
            "failures_in_a_row": self.failures,
            "changes_published": self.changes,
            "program_pid": self.program_pid,
            "sources": sources,
            "vault": self.vault,
            "reasons": self.reasons,
            "secrets": self.secrets,
            "stale": self.stale_json(),
        })
    }

    /// The secrets served from the fallback snapshot: name, source, when fetched and how old,
    /// why the store could not be asked; never the value.
    fn stale_json(&self) -> Vec<serde_json::Value> {
        let now = crate::fallback::now();
        self.stale
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.name,
                    "source": s.source,
                    "fetched": s.fetched as f64 / 1000.0,
                    "age_seconds": s.age(now).as_secs_f64(),
                    "why": s.outage.words(),
                })
            })
            .collect()
    }

    /// Writes the status with the deliveries' publisher (deliver/file.rs): its directory opened
    /// from `/` without following a link, the file staged and renamed into place. A link on the
    /// way (a `--user` program swapping a directory it owns) fails the write, logged; nothing is
    /// written through it.
    pub(super) fn write(&self, path: Option<&Path>) {
        let Some(path) = path else { return };
        let status = crate::plan::FileDelivery {
            secret: "refresh status".into(),
            path: path.to_path_buf(),
            content: crate::secret::Secret::new(format!("{}\n", self.json()).into_bytes()),
            mode: 0o644,
            owner: None,
        };
        if let Err(e) = file::publish(std::slice::from_ref(&status), &self.opts, || None) {
            crate::log::warn!("refresh: cannot write the status file: {}", e.what);
        }
    }
}

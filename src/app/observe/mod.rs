//! What a running supervisor tells about itself (docs/observability.md): per secret its source,
//! version, fetch time, lease expiry and last result, shared with the metrics endpoint's thread
//! (metrics.rs) and written into the status file; and the audit trail (audit.rs), one JSON line
//! per start, per refresh that published something and per failed refresh.
//!
//! Only names, sources, versions, destinations, times and reason codes are kept: never a value
//! and never a digest of one (a digest of a short secret is a dictionary attack away from it).
//! The refresh loop updates the [`State`] after each pass; the metrics thread only reads it, under
//! a mutex held for the time of a copy, so a scrape never delays a refresh for long.

mod audit;
pub(crate) mod metrics;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use serde_json::{Value, json};

use crate::error::{Error, Errors};
use crate::order::CollectOrdered;
use crate::plan::Plan;
use crate::settings::Settings;
use crate::source::{Origin, SourceKind};
use crate::sys;

/// How many failed refreshes in a row make a secret "failing" for `status --ready`.
pub(crate) const FAILING_AFTER: u32 = 3;

/// Seconds since the epoch, with milliseconds.
pub(crate) fn unix_now() -> f64 {
    unix(SystemTime::now())
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64 / 1000.0)
}

/// One secret as the supervisor last saw it.
#[derive(Clone, Debug, Default)]
pub(crate) struct SecretState {
    /// Required by config.yaml (not `optional`).
    pub required: bool,
    /// Its source kind (`vault`, `file`), the metrics' `source` label; empty when not found.
    pub kind: String,
    /// Its source as `check` shows it (`vault:secret/data/app#db`).
    pub source: String,
    /// The source's version of the value, where it has one (a KV v2 version).
    pub version: Option<String>,
    /// When the value was last read successfully (Unix seconds).
    pub fetched: Option<f64>,
    /// When its lease ends (a dynamic secret), Unix seconds.
    pub expires: Option<f64>,
    /// The last pass's failure for this secret: its reason code and its line.
    pub failing: Option<(&'static str, String)>,
    /// Where it is delivered: file paths and `env:VAR`.
    pub destinations: Vec<String>,
}

/// What the metrics endpoint and the status file show; updated by the refresh loop only.
#[derive(Clone, Debug, Default)]
pub(crate) struct State {
    /// When the program was first started (Unix seconds).
    pub started: f64,
    /// Per secret, by name.
    pub secrets: BTreeMap<String, SecretState>,
    /// Refresh passes per source kind.
    pub refreshes: BTreeMap<String, u64>,
    /// Failed passes per source kind and reason code.
    pub failures: BTreeMap<(String, &'static str), u64>,
    /// Refreshes that published a change.
    pub changes: u64,
    /// Failed refreshes in a row.
    pub failing_in_a_row: u32,
    /// The vault token's expiry (Unix seconds), when a vault login is kept.
    pub token_expires: Option<f64>,
    /// Restarts of the program by a refresh.
    pub restarts: u64,
    /// Secrets served from the fallback snapshot (`secret_init.fallback`) right now.
    pub fallback: usize,
}

/// The source kind named by an error's or an origin's source text (`vault:secret/...`), or
/// `other`.
fn kind_of(source: &str) -> String {
    let head = source.split([':', ',', ' ']).next().unwrap_or("");
    match SourceKind::parse(head) {
        Some(k) => k.name().to_string(),
        None => "other".to_string(),
    }
}

/// A file source's version: the file's modification time and inode (what a mounted secret's
/// rotation changes), read from the path the user sees.
fn file_version(o: &Origin) -> Option<Value> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(o.path.as_ref()?).ok()?;
    Some(json!({
        "mtime": meta.mtime() as f64 + meta.mtime_nsec() as f64 / 1e9,
        "inode": meta.ino(),
    }))
}

/// The supervisor's observer: the shared [`State`], the audit trail and the metrics listener.
pub(crate) struct Observer {
    state: Arc<Mutex<State>>,
    audit: Option<audit::Trail>,
    listener: Option<metrics::Listener>,
    /// The start's record, written once the program's PID is known.
    pending_start: Option<Value>,
    pid: Option<i32>,
}

impl Observer {
    /// Opens the audit trail and binds the metrics listener, before anything is delivered: a
    /// failure stops the start (78 for a refused setting, 73 when it cannot be created). Under
    /// `--user` both must be out of the program's user's reach.
    pub(crate) fn open(
        settings: &Settings,
        creds: Option<&sys::Credentials>,
    ) -> Result<Observer, Error> {
        let user = crate::app::pipeline::program_user(creds);
        let audit = settings
            .observe
            .audit
            .as_ref()
            .map(|to| audit::Trail::open(to, user.as_ref()))
            .transpose()?;
        let listener = settings
            .observe
            .metrics
            .as_ref()
            .map(|l| metrics::Listener::bind(l, user.as_ref()))
            .transpose()?;
        Ok(Observer {
            state: Arc::new(Mutex::new(State {
                started: unix_now(),
                ..State::default()
            })),
            audit,
            listener,
            pending_start: None,
            pid: None,
        })
    }

    /// Whether anything is observed at all (else nothing needs the supervisor's hooks).
    pub(crate) fn active(&self) -> bool {
        self.audit.is_some() || self.listener.is_some()
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut s)
    }

    /// A copy of the state, for the status file.
    pub(crate) fn snapshot(&self) -> State {
        self.with(|s| s.clone())
    }

    /// The start's delivery: every declared secret's state, and the start record for the audit
    /// trail (written by [`Observer::program`] once the PID is known, at once by `exec`).
    pub(crate) fn started(
        &mut self,
        declared: &[crate::manifest::Declared],
        dynamic: &[&str],
        plan: &Plan,
    ) {
        let now = unix_now();
        let audited = self.audit.is_some();
        let published = self.with(|s| {
            for d in declared {
                s.secrets.entry(d.name.to_string()).or_default().required = !d.settings.optional;
            }
            for name in dynamic {
                let st = s.secrets.entry((*name).to_string()).or_default();
                st.required = true;
                st.kind = "vault".into();
                st.source = "vault dynamic".into();
            }
            record(s, plan, now, None, audited)
        });
        self.pending_start = Some(json!({
            "time": now,
            "event": "start",
            "published": published,
        }));
    }

    /// The program's PID, at every supervisor tick: the first one writes the start record.
    pub(crate) fn program(&mut self, pid: i32, then: &str) {
        self.pid = Some(pid);
        if let Some(mut rec) = self.pending_start.take() {
            rec["program_pid"] = json!(pid);
            rec["then"] = json!(then);
            self.write(&rec);
        }
    }

    /// Starts serving the metrics, from a thread of its own; after the start-up arena ended.
    pub(crate) fn serve(&mut self) {
        if let Some(l) = self.listener.take() {
            metrics::serve(l, self.state.clone());
        }
    }

    /// A refresh that succeeded: the state of every secret in `plan`; with `changed` (the
    /// names published and what the program was told), an audit record.
    pub(crate) fn passed(&mut self, plan: &Plan, changed: Option<(&BTreeSet<String>, String)>) {
        let now = unix_now();
        let pid = self.pid;
        let audited = self.audit.is_some();
        let rec = self.with(|s| {
            let kinds: BTreeSet<String> = plan
                .from
                .values()
                .map(|o| o.kind.name().to_string())
                .collect_ordered();
            for k in kinds {
                *s.refreshes.entry(k).or_default() += 1;
            }
            s.failing_in_a_row = 0;
            for st in s.secrets.values_mut() {
                st.failing = None;
            }
            let only = changed.as_ref().map(|(names, _)| *names);
            let published = record(s, plan, now, only, audited);
            changed.as_ref().map(|(_, then)| {
                s.changes += 1;
                if then.starts_with("restart") {
                    s.restarts += 1;
                }
                json!({"time": now, "event": "refresh", "program_pid": pid,
                       "published": published, "then": then})
            })
        });
        if let Some(rec) = rec {
            self.write(&rec);
        }
    }

    /// A refresh that failed: each error's secret marked failing with its reason code, the
    /// counters, and an audit record.
    pub(crate) fn failed(&mut self, errors: &Errors) {
        let now = unix_now();
        let pid = self.pid;
        let rec = self.with(|s| {
            s.failing_in_a_row += 1;
            let mut kinds: BTreeSet<String> = s
                .secrets
                .values()
                .filter(|st| !st.kind.is_empty())
                .map(|st| st.kind.clone())
                .collect_ordered();
            let mut counted: BTreeSet<(String, &'static str)> = BTreeSet::new();
            let mut lines = Vec::new();
            for e in &errors.0 {
                let known = e
                    .secret
                    .as_ref()
                    .and_then(|n| s.secrets.get(n))
                    .map(|st| st.kind.clone())
                    .filter(|k| !k.is_empty());
                let kind = known.unwrap_or_else(|| kind_of(e.source.as_deref().unwrap_or("")));
                kinds.insert(kind.clone());
                counted.insert((kind.clone(), e.reason()));
                let line = e.to_string();
                match e.secret.as_ref().and_then(|n| s.secrets.get_mut(n)) {
                    Some(st) => st.failing = Some((e.reason(), line.clone())),
                    // Not tied to one secret (a store down): every secret of that source.
                    None => {
                        for st in s
                            .secrets
                            .values_mut()
                            .filter(|st| st.kind == kind || st.kind.is_empty())
                        {
                            st.failing = Some((e.reason(), line.clone()));
                        }
                    }
                }
                lines.push(json!({"secret": e.secret, "source": e.source,
                                  "reason": e.reason(), "message": line}));
            }
            for k in kinds {
                *s.refreshes.entry(k).or_default() += 1;
            }
            for key in counted {
                *s.failures.entry(key).or_default() += 1;
            }
            json!({"time": now, "event": "refresh_failed", "program_pid": pid,
                   "errors": lines, "then": "none"})
        });
        self.write(&rec);
    }

    /// How many secrets the last pass took from the fallback snapshot.
    pub(crate) fn fallback(&mut self, served: usize) {
        self.with(|s| s.fallback = served);
    }

    /// The vault's keep (token and dynamic secrets, keep.rs `status`): each dynamic secret's
    /// lease expiry and the token's.
    #[cfg(feature = "vault")]
    pub(crate) fn leases(&mut self, vault: &Value) {
        self.with(|s| {
            s.token_expires = vault["token"]["expires"].as_f64();
            if let Some(dynamic) = vault["dynamic"].as_object() {
                for (name, d) in dynamic {
                    let st = s.secrets.entry(name.clone()).or_default();
                    st.required = true;
                    st.expires = d["expires"].as_f64();
                }
            }
        });
    }

    fn write(&mut self, rec: &Value) {
        if let Some(a) = self.audit.as_mut() {
            a.append(rec);
        }
    }
}

/// Updates each secret of `plan` (or only those in `only`) in `s`, and returns their audit
/// entries (`audited`: else none are made, nor the file versions stat'ed): name, source,
/// version, destinations. Never a value.
fn record(
    s: &mut State,
    plan: &Plan,
    now: f64,
    only: Option<&BTreeSet<String>>,
    audited: bool,
) -> Vec<Value> {
    let mut dest: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for f in &plan.files {
        dest.entry(f.secret.as_str())
            .or_default()
            .push(f.path.display().to_string());
    }
    for e in &plan.env {
        dest.entry(e.secret.as_str())
            .or_default()
            .push(format!("env:{}", e.var));
    }
    let mut out = Vec::new();
    for (name, o) in &plan.from {
        let st = s.secrets.entry(name.clone()).or_default();
        st.kind = o.kind.name().to_string();
        st.source = o.label.clone();
        st.version = o.version.clone();
        st.fetched = Some(now);
        st.failing = None;
        st.destinations = dest.get(name.as_str()).cloned().unwrap_or_default();
        if !audited || only.is_some_and(|n| !n.contains(name)) {
            continue;
        }
        let mut entry = json!({
            "secret": name,
            "source": o.label,
            "source_kind": st.kind,
            "version": st.version,
            "destinations": st.destinations,
        });
        if let Some(f) = file_version(o) {
            entry["file"] = f;
        }
        out.push(entry);
    }
    // A dynamic secret (no origin in the plan): its files, by the name it was issued under.
    for (name, paths) in dest {
        if plan.from.contains_key(name) || only.is_some_and(|n| !n.contains(name)) {
            continue;
        }
        if let Some(st) = s.secrets.get_mut(name) {
            st.fetched = Some(now);
            st.destinations = paths.clone();
            if !audited {
                continue;
            }
            out.push(
                json!({"secret": name, "source": st.source, "source_kind": st.kind,
                            "version": null, "destinations": paths}),
            );
        }
    }
    out
}

impl State {
    /// The status file's `secrets` rows.
    pub(crate) fn rows(&self, next: Option<f64>) -> Value {
        let rows: Vec<Value> = self
            .secrets
            .iter()
            .map(|(name, st)| {
                json!({
                    "name": name,
                    "required": st.required,
                    "source": if st.source.is_empty() { Value::Null } else { json!(st.source) },
                    "source_kind": if st.kind.is_empty() { Value::Null } else { json!(st.kind) },
                    "version": st.version,
                    "fetched": st.fetched,
                    "expires": st.expires,
                    "result": match (&st.failing, st.fetched) {
                        (Some(_), _) => "error",
                        (None, Some(_)) => "ok",
                        (None, None) => "missing",
                    },
                    "reason": st.failing.as_ref().map(|(r, _)| *r),
                    "error": st.failing.as_ref().map(|(_, l)| l.as_str()),
                    "destinations": st.destinations,
                    "next_refresh": next,
                })
            })
            .collect();
        json!(rows)
    }
}

/// The reason code of a start that failed, for messages that carry one.
pub(crate) fn reasons(errors: &Errors) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = errors.0.iter().map(Error::reason).collect();
    out.dedup();
    out
}

/// The supervisor's hook when metrics or the audit trail are on without live refresh: it only
/// learns the program's PID (for the start record) and never asks for a wakeup.
pub(crate) struct Watchman<'a>(pub &'a mut Observer);

impl crate::process::supervise::Refresh for Watchman<'_> {
    fn due(&self) -> Option<std::time::Instant> {
        None
    }

    fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        None
    }

    fn tick(&mut self, main: i32) -> crate::process::supervise::Tell {
        self.0.program(main, "start");
        crate::process::supervise::Tell::Nothing
    }

    fn spawned(&mut self, main: i32) {
        self.0.program(main, "start");
    }
}

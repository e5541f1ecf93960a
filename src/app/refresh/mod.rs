//! Live refresh (docs/refresh.md): while the supervisor runs the program, the whole pipeline
//! (resolve → plan → publish, [`crate::app::pipeline::delivery`]) runs again when a watched local
//! source changes or the interval comes round, and the program is told only after the new set
//! is published.
//!
//! - Mounted dirs, a local bundle file and the local config are watched (watch.rs: inotify on
//!   the directory, a 1 s stat poll when inotify fails); a burst of events coalesces into one
//!   refresh [`COALESCE`] after its first event.
//! - Everything (remote sources included: a vault's KV data path, a bundle URL) is re-read at the
//!   interval, jittered; a bundle URL with a conditional GET (its ETag carried between passes).
//! - What is out there is remembered as digests only ([`Delivered`]): a refresh publishes the
//!   files whose content, mode or owner changed, with the start's atomic publisher, and never
//!   rewrites an unchanged one. The files it wrote are not read back by the file source.
//! - A failed refresh (a source down, a value now invalid) changes nothing: the last good set
//!   stays, one line is logged, and the next attempt backs off (1 s, 2 s, … up to the interval,
//!   jittered). A stop signal pending at any step abandons the refresh before anything is
//!   published; the supervisor then forwards it as always.
//! - `on_change: signal` sends the refresh signal; a changed env delivery forces a restart (a
//!   running process's environment cannot be changed) unless `on_change: none`.

mod status;
pub(crate) mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::app::observe::Observer;
use crate::app::pipeline::Context;
use crate::deliver::file;
use crate::error::{Errors, Kind};
use crate::order::CollectOrdered;
use crate::plan::Plan;
use crate::process;
use crate::process::supervise::{Refresh, Tell};
use crate::settings::{OnChange, RefreshSettings, Settings};
use crate::source::Carry;
use crate::source::SourceKind;
use crate::source::Watching;
use crate::sys;

use status::Status;
use watch::{Watched, Watcher};

/// How long a burst of watch events may go on before the refresh runs.
pub(crate) const COALESCE: Duration = Duration::from_millis(100);

type Digest = [u8; 32];

fn digest(parts: &[&[u8]]) -> Digest {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        ctx.update(&(p.len() as u64).to_le_bytes());
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// What is out there, as digests (never the values): each file's content, mode and owner, and
/// the program's whole environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Delivered {
    files: BTreeMap<PathBuf, Digest>,
    env: Option<Digest>,
    /// Each env-delivered variable's value, to name the ones that changed.
    vars: BTreeMap<String, Digest>,
}

impl Delivered {
    /// The digests of a plan and the environment built from it.
    pub(crate) fn of(plan: &Plan, env: &[(OsString, OsString)]) -> Delivered {
        use std::os::unix::ffi::OsStrExt;
        let files = plan
            .files
            .iter()
            .map(|f| {
                let owner = format!("{:?}", f.owner);
                let mode = f.mode.to_le_bytes();
                (
                    f.path.clone(),
                    digest(&[f.content.expose(), &mode, owner.as_bytes()]),
                )
            })
            .collect_ordered();
        let mut parts: Vec<&[u8]> = Vec::new();
        for (k, v) in env {
            parts.push(k.as_bytes());
            parts.push(v.as_bytes());
        }
        let vars = plan
            .env
            .iter()
            .map(|e| (e.var.clone(), digest(&[e.value.expose()])))
            .collect_ordered();
        Delivered {
            files,
            env: Some(digest(&parts)),
            vars,
        }
    }

    /// Carries over `last`'s digest for each file a pass leaves alone because it already holds
    /// what would be written (`Plan::unchanged`: a provider file the start wrote, merged again
    /// and found the same). Without this the start's record (the file written) and a later
    /// pass's plan (the file left out) never agree, and every pass looks like a change.
    fn keep_unchanged(mut self, unchanged: &[PathBuf], last: &Delivered) -> Delivered {
        for p in unchanged {
            if let Some(d) = last.files.get(p) {
                self.files.insert(p.clone(), *d);
            }
        }
        self
    }
}

/// One source as the refresh sees it: what it is and how a change is noticed.
#[derive(Debug)]
pub(crate) struct Watch {
    /// `file:/secrets`, `vault:https://…`, `bundle:/etc/app.bundle`.
    pub source: String,
    /// `inotify /secrets`, `poll every 5m`, `fixed at start`.
    pub how: String,
}

/// What the configured sources watch, in registry order, each with its kind.
fn watching(s: &Settings) -> Vec<Watching> {
    let generic = s.generic();
    SourceKind::ALL
        .iter()
        .filter(|k| s.sources.contains(k))
        .flat_map(|k| s.source.watching(*k, &generic))
        .collect()
}

/// The places watched for local changes: what the sources watch, and the files declared
/// secrets name with `sops:` and `age:` references.
fn places(s: &Settings, declared: &[crate::manifest::Declared]) -> Vec<Watched> {
    let mut out = Vec::new();
    let referenced = declared
        .iter()
        .filter_map(|d| match d.settings.from.as_deref()? {
            crate::reference::Reference::Sops(r) => Some(s.source.sops.locate(&r.file)),
            crate::reference::Reference::Age(p) => Some(s.source.sops.locate(p)),
            _ => None,
        })
        .map(|path| Watching::File {
            label: String::new(),
            path,
            only_if_present: false,
        });
    for w in watching(s).into_iter().chain(referenced) {
        match w {
            Watching::Dir { path, .. } if path.is_dir() => out.push(Watched {
                dir: path,
                name: None,
            }),
            Watching::File {
                path,
                only_if_present,
                ..
            } if !only_if_present || path.is_file() => {
                if let (Some(dir), Some(name)) = (path.parent(), path.file_name())
                    && dir.is_dir()
                {
                    out.push(Watched {
                        dir: dir.to_path_buf(),
                        name: Some(name.to_os_string()),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// What each configured source would watch or poll, for `check` and the status file.
/// `watcher`: the running watcher's mode (`inotify`, `poll 1s`); `None` in `check`.
/// Whether a cloud source takes any part in this configuration: lookups by name or whole
/// secrets to env configured in its section, a declared secret's `from:` naming it, or environment references (which may
/// name any). A source in none of these is never read, so a refresh does not poll it.
pub(crate) fn in_use(
    s: &Settings,
    declared: &[crate::manifest::Declared],
    kind: SourceKind,
) -> bool {
    // `None`: not a cloud source, always in use.
    let by_name: Option<bool> = match kind {
        #[cfg(feature = "aws")]
        SourceKind::Aws => Some(s.source.aws.reads_by_itself()),
        #[cfg(feature = "gcp")]
        SourceKind::Gcp => Some(s.source.gcp.reads_by_itself()),
        #[cfg(feature = "azure")]
        SourceKind::Azure => Some(s.source.azure.vault.is_some()),
        _ => None,
    };
    by_name.is_none_or(|configured| {
        configured
            || s.resolve_env_references
            || declared
                .iter()
                .filter_map(|d| d.settings.from.as_deref())
                .any(|r| SourceKind::of(r) == kind)
    })
}

/// What each configured source watches or polls, as `check` and the start line tell it.
pub(crate) fn watches(
    s: &Settings,
    declared: &[crate::manifest::Declared],
    r: &RefreshSettings,
    watcher: Option<&str>,
) -> Vec<Watch> {
    let how = watcher.unwrap_or("inotify (poll 1s if inotify fails)");
    let every = format!("poll every {}", human(r.interval));
    let watched = places(s, declared);
    let local = |source: String, p: &Path| {
        let dir = if p.is_dir() { Some(p) } else { p.parent() };
        let found = watched
            .iter()
            .any(|w| Some(w.dir.as_path()) == dir && (w.name.is_none() || !p.is_dir()));
        Watch {
            source,
            how: if found {
                format!("{how}, and {every}")
            } else {
                format!("not present: {every}")
            },
        }
    };
    let mut out = Vec::new();
    for kind in s.sources.iter().filter(|k| in_use(s, declared, **k)) {
        for w in s.source.watching(*kind, &s.generic()) {
            out.push(match w {
                Watching::Dir { label, path } | Watching::File { label, path, .. } => {
                    local(label, &path)
                }
                Watching::Poll { label, what } => Watch {
                    source: label,
                    how: format!("{every} ({what})"),
                },
                Watching::Fixed { label, why } => Watch {
                    source: label,
                    how: format!("fixed at start ({why})"),
                },
            });
        }
    }
    out
}

/// The sources a failed pass names, each once (two secrets from one broken path are one
/// failed source), in the order first met.
fn failed_sources(errors: &Errors) -> Vec<String> {
    let mut failed: Vec<String> = Vec::new();
    for src in errors.0.iter().filter_map(|e| e.source.clone()) {
        if !failed.contains(&src) {
            failed.push(src);
        }
    }
    failed
}

/// `5m`, `30s`, `1.5s`.
pub(crate) fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 3600.0 && s % 3600.0 == 0.0 {
        format!("{}h", s / 3600.0)
    } else if s >= 60.0 && s % 60.0 == 0.0 {
        format!("{}m", s / 60.0)
    } else {
        format!("{s}s")
    }
}

/// The `on_change` word.
pub(crate) fn on_change_name(o: OnChange) -> &'static str {
    match o {
        OnChange::Signal => "signal",
        OnChange::Restart => "restart",
        OnChange::None => "none",
    }
}

/// `d` spread by ±`jitter` (a fraction), from the system's random source.
fn jittered(d: Duration, jitter: f64) -> Duration {
    match unit() {
        Some(u) => d.mul_f64((1.0 + jitter * (2.0 * u - 1.0)).max(0.0)),
        None => d,
    }
}

/// A uniform number in [0, 1) from the system's random source.
fn unit() -> Option<f64> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 8];
    ring::rand::SystemRandom::new().fill(&mut b).ok()?;
    Some((u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64)
}

/// The wait before the first poll: with jitter, a uniform point of the first interval (a
/// splay: a fleet started together — a rollout — then polls spread over the whole interval
/// instead of in one burst that ±jitter only widens); without, the interval itself.
fn splayed(d: Duration, jitter: f64) -> Duration {
    match unit() {
        Some(u) if jitter > 0.0 => d.mul_f64(0.05 + 0.95 * u),
        _ => d,
    }
}

/// What the start leaves the refresh: what it delivered, what its pass carries on, and the
/// observer (status rows, metrics, audit).
pub(crate) struct Started {
    /// The digests of what the start delivered.
    pub last: Delivered,
    /// What the start's pass left for the next one.
    pub carry: Carry,
    /// The supervisor's observer.
    pub observe: Observer,
}

enum Outcome {
    Unchanged,
    Abandoned,
    Published(Tell),
}

/// The refresh the supervisor drives; see the module docs.
pub(crate) struct Refresher<'a> {
    ctx: &'a Context,
    settings: RefreshSettings,
    creds: Option<sys::Credentials>,
    program: &'a [OsString],
    write_opts: file::WriteOptions,
    watcher: Watcher,
    last: Delivered,
    /// What one pass leaves for the next: every file written (for `--cleanup`; by device and
    /// inode, never read back as an input) and a bundle URL's last answer.
    carry: Carry,
    next_poll: Instant,
    due: Option<Instant>,
    failures: u32,
    status: Status,
    /// The values `--mask` masks, updated before a change is published.
    masks: Option<std::sync::Arc<crate::mask::Masks>>,
    /// The state the metrics and the status file show, and the audit trail.
    observe: Observer,
}

impl<'a> Refresher<'a> {
    /// A refresher for the program the start left as `started`.
    pub(crate) fn new(
        ctx: &'a Context,
        settings: RefreshSettings,
        creds: Option<sys::Credentials>,
        program: &'a [OsString],
        write_opts: file::WriteOptions,
        started: Started,
    ) -> Refresher<'a> {
        let Started {
            last,
            mut carry,
            observe,
        } = started;
        let program_user = crate::app::pipeline::program_user(creds.as_ref());
        let watched: Vec<Watched> = places(&ctx.settings, &ctx.manifest.secrets)
            .into_iter()
            .filter(|w| match &program_user {
                // Nothing there is an input (provenance): its changes are the program's own.
                Some(u) if u.could_change_dir(&w.dir) => {
                    crate::log::info!(
                        "refresh: {} is not watched: the program's user can change it, so nothing in it is an input",
                        w.dir.display()
                    );
                    false
                }
                _ => true,
            })
            .collect();
        let own = settings.status_file.clone().into_iter().collect();
        let watcher = Watcher::new(watched, own);
        let sources = watches(
            &ctx.settings,
            &ctx.manifest.secrets,
            &settings,
            Some(watcher.how()),
        );
        crate::log::info!(
            "refresh: every {} (±{:.0}%), on change: {}; {}",
            human(settings.interval),
            settings.jitter * 100.0,
            match settings.on_change {
                OnChange::Signal => format!("signal {}", signal_name(settings.signal)),
                other => on_change_name(other).to_string(),
            },
            sources
                .iter()
                .map(|w| format!("{}: {}", w.source, w.how))
                .collect::<Vec<_>>()
                .join("; ")
        );
        carry.written = last.files.keys().cloned().collect_ordered();
        let mut r = Refresher {
            ctx,
            observe,
            next_poll: Instant::now() + splayed(settings.interval, settings.jitter),
            status: Status::new(&settings, sources, &write_opts),
            settings,
            creds,
            program,
            write_opts,
            watcher,
            last,
            carry,
            due: None,
            failures: 0,
            masks: None,
        };
        r.write_status();
        r
    }

    /// Masks the values of every pass in the program's output (`--mask`).
    pub(crate) fn masking(mut self, masks: Option<std::sync::Arc<crate::mask::Masks>>) -> Self {
        self.masks = masks;
        self
    }

    /// The secrets the start took from the fallback snapshot: shown in the status file, and
    /// the store is tried again on the failure backoff (1 s, 2 s, … up to the interval) rather
    /// than at the interval, so fresh values replace them as soon as it answers.
    pub(crate) fn with_stale(mut self, stale: Vec<crate::fallback::Stale>) -> Self {
        if !stale.is_empty() {
            self.observe.fallback(stale.len());
            self.status.stale = stale;
            self.failures = 1;
            self.next_poll = Instant::now() + self.backoff();
            self.write_status();
        }
        self
    }

    /// The wait after `self.failures` failed (or stale) passes in a row: 1 s, 2 s, 4 s, …, at
    /// most the interval, jittered.
    fn backoff(&self) -> Duration {
        let backoff = Duration::from_secs(1 << self.failures.min(12).saturating_sub(1))
            .min(self.settings.interval);
        jittered(backoff, self.settings.jitter)
    }

    /// When to poll after a pass that began at `began` and succeeded. Counted from its start, so
    /// a pass slowed down by retries (a sealed vault) keeps its place in the interval; after a
    /// pass that ran past the interval, or the first success after failed ones, the next poll is
    /// splayed over the interval again: a fleet that failed or waited together would otherwise
    /// poll together ever after (docs/fleet.md: a seal re-synchronised 200 replicas).
    fn next_after_success(&self, began: Instant) -> Instant {
        let (interval, jitter) = (self.settings.interval, self.settings.jitter);
        let next = began + jittered(interval, jitter);
        let now = Instant::now();
        if self.failures > 0 || next <= now {
            now + splayed(interval, jitter)
        } else {
            next
        }
    }

    /// Writes the status file, with each secret's row from the observer.
    fn write_status(&mut self) {
        let wait = self.next_poll.saturating_duration_since(Instant::now());
        let next = crate::app::observe::unix_now() + wait.as_secs_f64();
        self.status.secrets = self.observe.snapshot().rows(Some(next));
        self.status.write(self.settings.status_file.as_deref());
    }

    /// Every file delivered, at the start or by a refresh (for `--cleanup`).
    pub(crate) fn into_published(self) -> BTreeSet<PathBuf> {
        self.carry.written
    }

    fn attempt(&mut self) -> Tell {
        let now = SystemTime::now();
        let began = Instant::now();
        self.status.last_attempt = Some(now);
        let tell = match self.once() {
            Ok((Outcome::Abandoned, _)) => {
                crate::log::debug!("refresh abandoned: a stop signal is pending");
                self.write_status();
                return Tell::Nothing;
            }
            Ok((outcome, stale)) => {
                if stale.is_empty() {
                    self.next_poll = self.next_after_success(began);
                    self.failures = 0;
                } else {
                    // Served, but not by the store: keep trying it on the failure backoff.
                    self.failures += 1;
                    self.next_poll = Instant::now() + self.backoff();
                }
                self.observe.fallback(stale.len());
                self.status.stale = stale;
                self.status.last_success = Some(now);
                self.status.error = None;
                self.status.failures = 0;
                match outcome {
                    Outcome::Published(tell) => tell,
                    _ => Tell::Nothing,
                }
            }
            Err(errors) => {
                self.failures += 1;
                let wait = self.backoff();
                self.next_poll = Instant::now() + wait;
                let line = errors
                    .0
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                crate::log::error!(
                    "refresh failed, the program keeps the last good set: {line} (retry in {:.1}s)",
                    wait.as_secs_f64()
                );
                self.status.failures = self.failures;
                self.status.error = Some(line);
                self.status.failed = failed_sources(&errors);
                self.status.reasons = crate::app::observe::reasons(&errors);
                self.observe.failed(&errors);
                Tell::Nothing
            }
        };
        if self.status.error.is_none() {
            self.status.failed.clear();
            self.status.reasons.clear();
        }
        self.write_status();
        tell
    }

    /// One pass: resolve and check everything, publish what changed, say what to tell.
    fn once(&mut self) -> Result<(Outcome, Vec<crate::fallback::Stale>), Errors> {
        if sys::stop_pending() {
            return Ok((Outcome::Abandoned, Vec::new()));
        }
        let mut stale = Vec::new();
        let outcome = self.publish(&mut stale)?;
        Ok((outcome, stale))
    }

    /// The pass and what it publishes; the secrets the snapshot stood in for go to `stale`.
    fn publish(&mut self, stale: &mut Vec<crate::fallback::Stale>) -> Result<Outcome, Errors> {
        let delivery = crate::app::pipeline::delivery(
            self.ctx,
            self.creds.as_ref(),
            &mut self.carry,
            self.program,
        );
        let crate::app::pipeline::Delivery {
            plan,
            env,
            stale: served_stale,
            snapshot,
            ..
        } = match delivery {
            Ok(done) => done,
            // A source gave up because a stop signal is pending (src/http/): not a failure.
            Err(_) if sys::stop_pending() => return Ok(Outcome::Abandoned),
            Err(e) => return Err(e),
        };
        if sys::stop_pending() {
            return Ok(Outcome::Abandoned);
        }
        *stale = served_stale;
        // Every pass that succeeded refreshes the snapshot: a value's age is from its last
        // fetch, and a stale one keeps its own.
        super::snapshot::write(&self.ctx.settings, snapshot);
        let now = Delivered::of(&plan, &env).keep_unchanged(&plan.unchanged, &self.last);
        if now == self.last {
            crate::log::debug!("refresh: nothing changed");
            self.observe.passed(&plan, None);
            return Ok(Outcome::Unchanged);
        }
        let changed: Vec<&crate::plan::FileDelivery> = plan
            .files
            .iter()
            .filter(|f| self.last.files.get(&f.path) != now.files.get(&f.path))
            .collect();
        let env_changed = now.env != self.last.env;
        let owned: Vec<crate::plan::FileDelivery> = changed
            .iter()
            .map(|f| crate::plan::FileDelivery {
                secret: f.secret.clone(),
                path: f.path.clone(),
                content: f.content.clone(),
                mode: f.mode,
                owner: f.owner,
            })
            .collect();
        // Masked from before the first file holds them until well after they are replaced.
        if let Some(m) = &self.masks {
            m.publish(plan.masked_values());
        }
        let stop = || sys::stop_pending().then_some(nix::libc::SIGTERM);
        match file::publish(&owned, &self.write_opts, stop) {
            Ok(p) => {
                self.carry.written_ids.extend(p.ids);
                self.carry.written.extend(p.files);
                self.carry.written.extend(p.record);
            }
            Err(e) if matches!(e.kind, Kind::Signal(_)) => return Ok(Outcome::Abandoned),
            Err(e) => return Err(e.into()),
        }
        // Each file by its secret, and by its path too where the file is not named after the
        // secret (a dynamic secret's re-issue writes `web.cert`, `web.key`), with its source.
        let names: Vec<String> = owned
            .iter()
            .map(|f| {
                let name = if f.path.file_name() == Some(std::ffi::OsStr::new(&f.secret)) {
                    f.secret.clone()
                } else {
                    format!("{}: {}", f.secret, f.path.display())
                };
                match plan.origins.get(&f.secret) {
                    Some(o) => format!("{name} ({o})"),
                    None => name,
                }
            })
            .collect();
        // Only the variables whose value changed (digests, never values).
        let env_names: Vec<String> = plan
            .env
            .iter()
            .filter(|e| self.last.vars.get(&e.var) != now.vars.get(&e.var))
            .map(|e| match plan.origins.get(&e.secret) {
                Some(o) => format!("{} ({o})", e.var),
                None => e.var.clone(),
            })
            .collect();
        self.last = now;
        let tell = match (self.settings.on_change, env_changed) {
            (OnChange::None, _) => Tell::Nothing,
            (OnChange::Restart, _) | (OnChange::Signal, true) => {
                match process::command(self.program, &env) {
                    Some(cmd) => Tell::Restart(cmd),
                    None => Tell::Nothing,
                }
            }
            (OnChange::Signal, false) => Tell::Signal(self.settings.signal),
        };
        crate::log::info!(
            "refresh: published {} changed file(s){}{}; {}",
            owned.len(),
            if names.is_empty() {
                String::new()
            } else {
                format!(": {}", names.join(", "))
            },
            if env_changed {
                format!("; environment changed ({})", env_names.join(", "))
            } else {
                String::new()
            },
            match &tell {
                Tell::Nothing => "the program is not told (on_change: none)".to_string(),
                Tell::Signal(s) => format!("sending {}", signal_name(*s)),
                Tell::Restart(_) if env_changed && self.settings.on_change == OnChange::Signal => {
                    "restarting the program (an env-delivered value changed)".to_string()
                }
                Tell::Restart(_) => "restarting the program".to_string(),
            }
        );
        self.status.changes += 1;
        let published: BTreeSet<String> = owned
            .iter()
            .map(|f| f.secret.clone())
            .chain(
                plan.env
                    .iter()
                    .filter(|e| {
                        env_names
                            .iter()
                            .any(|n| n.split(' ').next() == Some(e.var.as_str()))
                    })
                    .map(|e| e.secret.clone()),
            )
            .collect_ordered();
        let then = match &tell {
            Tell::Nothing => "none".to_string(),
            Tell::Signal(s) => format!("signal {}", signal_name(*s)),
            Tell::Restart(_) => "restart".to_string(),
        };
        self.observe.passed(&plan, Some((&published, then)));
        Ok(Outcome::Published(tell))
    }
}

impl Refresher<'_> {
    /// Keeps the vault's token and leases alive (source/vault/keep.rs); true when a dynamic
    /// secret is due for a re-issue. A change in the token's health is written to the status
    /// file at once.
    #[cfg(not(feature = "vault"))]
    fn keep_vault(&mut self, _: Instant) -> bool {
        false
    }

    /// See above.
    #[cfg(feature = "vault")]
    fn keep_vault(&mut self, now: Instant) -> bool {
        let (reissue, vault) = {
            let keep = &mut self.carry.vault;
            (keep.tick(now), keep.status())
        };
        if self.status.vault.as_ref() != Some(&vault) {
            let health_changed = self.status.vault.as_ref().map(|v| &v["token"]["state"])
                != Some(&vault["token"]["state"]);
            self.observe.leases(&vault);
            self.status.vault = Some(vault);
            if health_changed {
                self.write_status();
            }
        }
        reissue
    }

    /// When the vault's keep has a renewal or a re-issue due next.
    #[cfg(not(feature = "vault"))]
    fn vault_due(&self) -> Option<Instant> {
        None
    }

    /// See above.
    #[cfg(feature = "vault")]
    fn vault_due(&self) -> Option<Instant> {
        self.carry.vault.next_due()
    }
}

impl Refresh for Refresher<'_> {
    /// The earliest of: a coalesced change's refresh, the next poll, the stat poll's next look
    /// (without inotify), and the vault's next renewal or re-issue. Between them the supervisor
    /// sleeps; a watched change wakes it through [`Refresh::fd`].
    fn due(&self) -> Option<Instant> {
        [
            self.due,
            Some(self.next_poll),
            self.watcher.next_look(),
            self.vault_due(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.watcher.fd()
    }

    fn spawned(&mut self, main: i32) {
        self.observe.program(main, "start");
    }

    fn tick(&mut self, main: i32) -> Tell {
        self.status.program_pid = Some(main);
        self.observe.program(main, "start");
        let now = Instant::now();
        // During a failure backoff nothing brings the next pass forward: not a re-issue, not a
        // watched change (a program writing into a watched dir would otherwise drive a remote
        // read every COALESCE).
        let backoff_end = (self.failures > 0).then_some(self.next_poll);
        let not_before = |at: Instant| backoff_end.map_or(at, |end| at.max(end));
        if self.keep_vault(now) && self.due.is_none() {
            self.due = Some(not_before(now));
        }
        if self.watcher.changed(now) && self.due.is_none() {
            crate::log::debug!("refresh: a watched source changed");
            self.due = Some(not_before(now + COALESCE));
        }
        let was_inotify = self.status.watch_mode != self.watcher.how();
        if was_inotify {
            self.status.watch_mode = self.watcher.how().to_string();
            self.status.sources = watches(
                &self.ctx.settings,
                &self.ctx.manifest.secrets,
                &self.settings,
                Some(self.watcher.how()),
            );
        }
        if self.due.is_some_and(|d| now >= d) || now >= self.next_poll {
            self.due = None;
            return self.attempt();
        }
        Tell::Nothing
    }
}

/// `SIGHUP` for 1.
pub(crate) fn signal_name(n: i32) -> String {
    nix::sys::signal::Signal::try_from(n)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {n}"))
}

#[cfg(test)]
mod tests;

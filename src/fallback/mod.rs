//! The last-known-good snapshot (`secret_init.fallback`, docs/fallback.md): when a remote store
//! cannot be asked, the values it served last stand in for it, sealed, bounded in age, and said
//! so on every channel.
//!
//! Part of the one pass (`app::pipeline`): after resolving, [`stand_in`] looks at the secrets
//! whose remote source failed with an outage (`error::Outage`, set by the HTTP client alone after
//! its retries) and, only if there is one, opens the snapshot and gives each its stored value
//! when it is no older than `max_age`. A secret that failed for any other reason (401/403, 404,
//! a wrong certificate, a malformed answer, a configuration error) fails as it would without a
//! snapshot, and when every failure is of that sort the snapshot is not even read. After a pass
//! that succeeded, [`next`] seals what the start or refresh then writes (`app`): every value
//! from a remote source, with the time it was last fetched (a stale value keeps its own),
//! nothing the manifest no longer declares, no dynamic secret (those are not resolutions).
//!
//! Like Doppler's `--fallback` file, but read only on an outage; like Vault Agent's persistent
//! cache, but sealed with a key that is never stored beside it.

pub(crate) mod file;

use std::time::{Duration, SystemTime};

use crate::environ::Environ;
use crate::error::Outage;
use crate::manifest::Manifest;
use crate::resolve::Resolution;
use crate::secret::Secret;
use crate::settings::{FallbackSettings, Settings};
use crate::source::{Origin, SourceKind};

pub(crate) use file::generation_path;

/// A secret served from the snapshot: what the stale lines, the status file and `check` show
/// (never the value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stale {
    /// The secret's name.
    pub name: String,
    /// The source that could not be asked, as a reference.
    pub source: String,
    /// Unix milliseconds of the value's last successful fetch.
    pub fetched: u64,
    /// Why the source could not be asked.
    pub outage: Outage,
}

impl Stale {
    /// How old the value is at `now` (Unix milliseconds).
    pub(crate) fn age(&self, now: u64) -> Duration {
        Duration::from_millis(now.saturating_sub(self.fetched))
    }
}

/// The snapshot a pass would write: sealed bytes and their generation.
pub(crate) struct Next {
    /// The sealed file.
    pub bytes: Secret,
    /// Its generation, for the state file.
    pub generation: u64,
}

/// Unix milliseconds now: a value's age is counted in them, so a `max_age` below a second means
/// what it says.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `2h 5m`, `41s`, `0.25s`: an age in words.
pub(crate) fn human_age(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, _) if d < Duration::from_secs(10) => format!("{:.2}s", d.as_secs_f64()),
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m {sec}s"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

/// Whether values from `kind` are remote (fetched over the network) in these settings: the
/// vault and the clouds, and a bundle fetched by URL. Only they are stored and stood in for.
fn remote(kind: SourceKind, settings: &Settings) -> bool {
    match kind {
        SourceKind::Vault | SourceKind::Aws | SourceKind::Gcp | SourceKind::Azure => true,
        SourceKind::Bundle => matches!(
            settings.source.bundle.as_ref().map(|b| &b.location),
            Some(crate::source::bundle::Location::Url(_))
        ),
        // A SOPS or age file is read from disk; only its KMS master key is remote, and a
        // snapshot of its values would outlive a revoked key.
        SourceKind::File
        | SourceKind::Env
        | SourceKind::Sops
        | SourceKind::Local
        | SourceKind::Default => false,
    }
}

/// The source a resolution's value is stored under: its `from:` reference, else its origin.
fn source_of(r: &Resolution) -> Option<String> {
    match &r.settings.from {
        Some(reference) => Some(reference.to_string()),
        None => r.origin.as_ref().map(|o| o.label.clone()),
    }
}

fn identity(settings: &FallbackSettings, manifest: &Manifest) -> String {
    file::identity(manifest.path.as_deref(), &settings.path)
}

/// Gives each secret whose remote source could not be asked its value from the snapshot, when
/// it holds one for that secret and source no older than `max_age`; one stale line each. The
/// snapshot is read only when there is such a secret; a snapshot that cannot be used is named
/// in one warning and changes nothing (the start fails as it would without it).
pub(crate) fn stand_in(
    settings: &Settings,
    manifest: &Manifest,
    env: &Environ,
    resolutions: &mut [Resolution],
) -> Vec<Stale> {
    let Some(fb) = settings.fallback.as_ref() else {
        return Vec::new();
    };
    let wanted: Vec<usize> = resolutions
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.problem.as_ref().is_some_and(|p| p.outage.is_some())
                && r.failed.is_some_and(|k| remote(k, settings))
        })
        .map(|(i, _)| i)
        .collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let shown = fb.path.display();
    let opened = match open(fb, manifest, env) {
        Ok(Some(o)) => o,
        Ok(None) => {
            crate::log::warn!(
                "fallback snapshot {shown}: there is none yet; nothing stands in for the unavailable store"
            );
            return Vec::new();
        }
        Err(why) => {
            crate::log::warn!(
                "fallback snapshot {shown} ignored: {why}; the start goes on as without it"
            );
            return Vec::new();
        }
    };
    let now = now();
    let mut stale = Vec::new();
    for i in wanted {
        let r = &mut resolutions[i];
        let (Some(kind), Some(outage), Some(why)) = (
            r.failed,
            r.problem.as_ref().and_then(|p| p.outage),
            r.problem.as_ref().map(|p| p.what.clone()),
        ) else {
            continue;
        };
        let from = r.settings.from.as_ref().map(ToString::to_string);
        let Some(stored) = opened.values.iter().find(|s| {
            s.name == r.name.as_str()
                && s.kind == kind.name()
                && from.as_ref().is_none_or(|f| *f == s.source)
        }) else {
            crate::log::warn!(
                "secret \"{}\": the fallback snapshot holds no value for it from {kind}",
                r.name
            );
            continue;
        };
        let age = Duration::from_millis(now.saturating_sub(stored.fetched));
        if age > fb.max_age {
            crate::log::warn!(
                "secret \"{}\" ({}): the fallback snapshot's value is {} old, older than max_age {}; not used",
                r.name,
                stored.source,
                human_age(age),
                human_age(fb.max_age)
            );
            continue;
        }
        let value = match opened.open(stored) {
            Ok(v) => v,
            Err(why) => {
                crate::log::warn!(
                    "secret \"{}\": its value in the fallback snapshot does not open: {why}",
                    r.name
                );
                continue;
            }
        };
        crate::log::warn!(
            "secret \"{}\" ({}): stale: served from the fallback snapshot, value {} old (fetched {}), because the store is unavailable ({}: {why})",
            r.name,
            stored.source,
            human_age(age),
            crate::bundle::format::rfc3339(stored.fetched / 1000),
            outage.words()
        );
        r.value = Some(value);
        r.origin = Some(Origin {
            kind,
            label: stored.source.clone(),
            path: None,
            version: None,
        });
        r.problem = None;
        stale.push(Stale {
            name: r.name.to_string(),
            source: stored.source.clone(),
            fetched: stored.fetched,
            outage,
        });
    }
    stale
}

/// The snapshot opened and checked against the generation already seen.
fn open(
    fb: &FallbackSettings,
    manifest: &Manifest,
    env: &Environ,
) -> Result<Option<file::Opened>, String> {
    let Some(bytes) = file::read(&fb.path)? else {
        return Ok(None);
    };
    let key = file::load_key(fb, env).map_err(|e| format!("its key: {e}"))?;
    let opened = file::parse(bytes.expose(), key, &identity(fb, manifest))?;
    let seen = file::seen(&fb.path)?;
    if opened.generation < seen {
        return Err(format!(
            "it is generation {}, older than generation {seen} already seen (a replayed copy)",
            opened.generation
        ));
    }
    Ok(Some(opened))
}

/// The snapshot to write after a pass that succeeded: every value from a remote source (a
/// stale one with the time it was last fetched), sealed as the next generation. `None` when
/// there is nothing to store; an error (no key, a broken state file) is a warning: the start
/// does not depend on its snapshot.
pub(crate) fn next(
    settings: &Settings,
    manifest: &Manifest,
    env: &Environ,
    resolutions: &[Resolution],
    stale: &[Stale],
) -> Option<Next> {
    let fb = settings.fallback.as_ref()?;
    let now = now();
    let values: Vec<file::Fresh> = resolutions
        .iter()
        .filter_map(|r| {
            let origin = r.origin.as_ref().filter(|o| remote(o.kind, settings))?;
            let value = r.value.as_ref()?;
            let source = source_of(r)?;
            let fetched = stale
                .iter()
                .find(|s| s.name == r.name.as_str() && s.source == source)
                .map_or(now, |s| s.fetched);
            Some(file::Fresh {
                name: r.name.to_string(),
                source,
                kind: origin.kind.name().to_string(),
                fetched,
                value: value.clone(),
            })
        })
        .collect();
    if values.is_empty() {
        return None;
    }
    let sealed = file::load_key(fb, env)
        .map_err(|e| e.to_string())
        .and_then(|key| {
            let generation = file::seen(&fb.path)?.saturating_add(1);
            file::seal(&key, &identity(fb, manifest), generation, &values)
                .map(|bytes| Next { bytes, generation })
        });
    match sealed {
        Ok(n) => Some(n),
        Err(why) => {
            crate::log::warn!(
                "fallback snapshot {}: not written: {why}",
                fb.path.display()
            );
            None
        }
    }
}

/// Refuses a secret whose `from:` names the variable holding the snapshot's key: secret-init's
/// own credential is never a value for the program (78).
pub(crate) fn refuse_key_references<'a>(
    settings: &Settings,
    declared: impl IntoIterator<Item = &'a crate::manifest::Declared>,
) -> Result<(), crate::error::Errors> {
    let Some(crate::settings::KeyFrom::Env(var)) = settings.fallback.as_ref().map(|f| &f.key)
    else {
        return Ok(());
    };
    let mut errors = crate::error::Errors::default();
    for d in declared {
        if let Some(r @ crate::reference::Reference::Env(v)) = d.settings.from.as_deref()
            && v == var
        {
            errors.push(crate::error::Error::secret(
                crate::error::Kind::Config,
                d.name.as_str(),
                r.to_string(),
                "refused: it holds the fallback snapshot's key (secret_init.fallback.key_env), secret-init's own credential",
            ));
        }
    }
    errors.into_result()
}

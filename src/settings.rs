//! Settings: the command line, the `SECRET_INIT_*` environment and the `secret_init:` section of
//! config.yaml merged into one typed value (command line > env > file > default).
//!
//! The process environment is read once, at start, into an [`Environ`] snapshot; nothing reads or
//! changes the live environment afterwards (`set_var` is unsound once threads exist).

use std::path::{Path, PathBuf};

use crate::cli::merge::{flag, pick, pick_list, text};
use crate::cli::{Invocation, Opt};
pub(crate) use crate::environ::{Environ, expand_home};
use crate::error::{Error, Kind};
use crate::log;
use crate::manifest::FileSettings;
use crate::source::SourceKind;
use crate::source::registry::{Generic, SourceSettings};

pub(crate) mod observe;
pub(crate) use observe::{AuditTo, Listen, ObserveSettings, beyond_loopback};
mod fallback;
mod mask;
pub(crate) use fallback::{FallbackSettings, KeyFrom};

/// Output format of `check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON document for scripts.
    Json,
}

/// Everything the run needs to know, typed and merged.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Source precedence, highest first.
    pub sources: Vec<SourceKind>,
    /// Prefix of env-var secrets.
    pub env_prefix: String,
    /// Mounted secret directories, searched in order.
    pub secrets_dirs: Vec<PathBuf>,
    /// Where secret files are written.
    pub output_dir: PathBuf,
    /// Developer-machine config; `None` when there is no home directory to find it in.
    pub local_config: Option<PathBuf>,
    /// Largest secret file read.
    pub max_secret_bytes: u64,
    /// Permit env deliveries into dangerous variables.
    pub allow_dangerous_env: bool,
    /// Permit a group/world-writable or foreign output dir.
    pub allow_shared_dir: bool,
    /// Extra variables removed from the child's environment.
    pub scrub_env: Vec<String>,
    /// Variables `X` delivered from the file `X_FILE` names (`secret_init.file_env`).
    pub file_env: Vec<String>,
    /// Environment values that are whole references reach the program resolved
    /// (`secret_init.resolve_env_references`).
    pub resolve_env_references: bool,
    /// Deliver by env only (`--env-only`, `secret_init.env_only`): no file, no output dir.
    pub env_only: bool,
    /// `check --offline`: no remote source contacted, no credential read.
    pub offline: bool,
    /// `check --show-prefix`: values shown by their first quarter instead of masked.
    pub show_prefix: bool,
    /// Log verbosity.
    pub log_level: log::Level,
    /// Log line format.
    pub log_format: log::Format,
    /// `check` output format.
    pub report_format: ReportFormat,
    /// Each source's own settings (`source.vault` is `None` when no vault address is
    /// configured; aws, gcp and azure exist always: references need no settings).
    pub source: SourceSettings,
    /// How the program is run: exec or supervised, as whom, and what happens after it.
    pub process: ProcessSettings,
    /// Where `materialize` records what it wrote (`--state-file`); `None`: the XDG default.
    pub state_file: Option<PathBuf>,
    /// Live refresh; `None` when off (docs/refresh.md).
    pub refresh: Option<RefreshSettings>,
    /// Masking of the program's output; `None` when off (docs/masking.md).
    pub mask: Option<crate::mask::Rules>,
    /// Metrics and the audit trail (docs/observability.md).
    pub observe: ObserveSettings,
    /// The last-known-good snapshot; `None` when off (docs/fallback.md).
    pub fallback: Option<FallbackSettings>,
}

/// What a refresh that changed something does to the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnChange {
    /// Send the refresh signal; a changed env delivery forces a restart.
    Signal,
    /// Stop the program gracefully and start it again with the new environment.
    Restart,
    /// Publish the files only.
    None,
}

/// `secret_init.refresh` merged with `--refresh`, `--on-change`, `--refresh-signal`.
#[derive(Clone, Debug)]
pub struct RefreshSettings {
    /// How often remote sources are re-read (never zero: zero means no refresh at all).
    pub interval: std::time::Duration,
    /// Spread of every wait, as a fraction (0.1 for `10%`).
    pub jitter: f64,
    /// What a change does to the program.
    pub on_change: OnChange,
    /// The signal `OnChange::Signal` sends.
    pub signal: i32,
    /// Where the status JSON is written.
    pub status_file: Option<PathBuf>,
}

/// `secret_init.vault.allow_insecure_http`, the one switch that opts every remote source into
/// plain http (none without the vault source).
fn vault_allows_insecure_http(file: &FileSettings) -> Option<bool> {
    #[cfg(feature = "vault")]
    return file.vault.as_ref().and_then(|v| v.allow_insecure_http);
    #[cfg(not(feature = "vault"))]
    {
        let _ = file;
        None
    }
}

/// The longest refresh interval: a week bounds every sensible one.
const MAX_INTERVAL: std::time::Duration = std::time::Duration::from_secs(604_800);

/// Parses a signal: `SIGHUP`, `HUP` or a number (real-time signals included).
pub(crate) fn parse_signal(t: &str) -> Option<i32> {
    let t = t.trim();
    if let Ok(n) = t.parse::<i32>() {
        return (1..=nix::libc::SIGRTMAX())
            .contains(&n)
            .then_some(n)
            .filter(|&n| n != nix::libc::SIGKILL && n != nix::libc::SIGSTOP);
    }
    let upper = t.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    full.parse::<nix::sys::signal::Signal>()
        .ok()
        .map(|s| s as i32)
        .filter(|&n| n != nix::libc::SIGKILL && n != nix::libc::SIGSTOP)
}

/// A YAML scalar as text (`interval: 300` and `interval: "5m"` alike).
fn scalar_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An option's text and where it came from: the command line or env twin, else the
/// Where the status file is: `--status-file` > `SECRET_INIT_STATUS_FILE` >
/// `secret_init.refresh.status_file`. The `status` command reads the same setting.
pub(crate) fn status_file(
    inv: &Invocation,
    env: &Environ,
    file: Option<&crate::manifest::RawRefreshSettings>,
) -> Option<PathBuf> {
    match pick(inv, env, Opt::StatusFile) {
        Some((v, _)) => Some(PathBuf::from(v)),
        None => file.and_then(|f| f.status_file.clone()),
    }
}

/// `secret_init.refresh.KEY` value.
fn text_or_file(
    inv: &Invocation,
    env: &Environ,
    opt: Opt,
    file: Option<&String>,
    key: &str,
) -> Result<Option<(String, String)>, Error> {
    Ok(match pick(inv, env, opt) {
        Some((v, origin)) => Some((text(v, &origin)?, origin)),
        None => file.map(|v| (v.clone(), format!("secret_init.refresh.{key}"))),
    })
}

fn refresh_settings(
    inv: &Invocation,
    env: &Environ,
    file: Option<&crate::manifest::RawRefreshSettings>,
) -> Result<Option<RefreshSettings>, Error> {
    let (interval, origin) = match pick(inv, env, Opt::Refresh) {
        Some((v, origin)) => (text(v, &origin)?, origin),
        None => match file.and_then(|f| f.interval.as_ref()) {
            Some(v) => (scalar_text(v), "secret_init.refresh.interval".to_string()),
            None => return Ok(None),
        },
    };
    let interval = crate::duration::parse(&interval, MAX_INTERVAL).ok_or_else(|| {
        Error::new(
            Kind::Usage,
            format!(
                "{origin}: expected a duration such as 30s, 5m or 1h (0 = off; at most a week)"
            ),
        )
    })?;
    if interval.is_zero() {
        return Ok(None);
    }
    if interval < std::time::Duration::from_secs(1) {
        return Err(Error::new(
            Kind::Usage,
            format!("{origin}: the refresh interval must be at least 1s"),
        ));
    }
    let jitter = match file.and_then(|f| f.jitter.as_ref()).map(scalar_text) {
        None => 0.1,
        Some(t) => {
            let t = t.trim();
            let parsed = match t.strip_suffix('%') {
                Some(p) => p.trim().parse::<f64>().ok().map(|p| p / 100.0),
                None => t.parse::<f64>().ok(),
            };
            parsed.filter(|j| (0.0..=0.5).contains(j)).ok_or_else(|| {
                Error::new(
                    Kind::Config,
                    "secret_init.refresh.jitter: expected a percentage between 0% and 50%",
                )
            })?
        }
    };
    let on_change = match text_or_file(
        inv,
        env,
        Opt::OnChange,
        file.and_then(|f| f.on_change.as_ref()),
        "on_change",
    )? {
        None => OnChange::Signal,
        Some((v, origin)) => match v.trim() {
            "signal" => OnChange::Signal,
            "restart" => OnChange::Restart,
            "none" => OnChange::None,
            _ => {
                return Err(Error::new(
                    Kind::Usage,
                    format!("{origin}: expected signal, restart or none"),
                ));
            }
        },
    };
    let signal = match text_or_file(
        inv,
        env,
        Opt::RefreshSignal,
        file.and_then(|f| f.signal.as_ref()),
        "signal",
    )? {
        None => nix::libc::SIGHUP,
        Some((v, origin)) => parse_signal(&v).ok_or_else(|| {
            Error::new(
                Kind::Usage,
                format!(
                    "{origin}: expected a signal name such as SIGHUP or a number (not KILL or STOP)"
                ),
            )
        })?,
    };
    let status_file = status_file(inv, env, file);
    if let Some(p) = status_file.as_ref().filter(|p| !p.is_absolute()) {
        return Err(Error::new(
            Kind::Config,
            format!(
                "secret_init.refresh.status_file {} must be an absolute path",
                p.display()
            ),
        ));
    }
    Ok(Some(RefreshSettings {
        interval,
        jitter,
        on_change,
        signal,
        status_file,
    }))
}

/// Whether secret-init stays as the program's parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitMode {
    /// Supervise when PID 1, exec otherwise.
    Auto,
    /// Always supervise (`--init`).
    Supervise,
    /// Always exec (`--no-init`).
    Exec,
}

/// The process options (docs/init.md).
#[derive(Clone, Debug)]
pub struct ProcessSettings {
    /// Exec or supervise.
    pub init: InitMode,
    /// Run the program in its own process group and signal the group.
    pub process_group: bool,
    /// Time leftover descendants get between SIGTERM and SIGKILL.
    pub grace_period: std::time::Duration,
    /// `--user` as given.
    pub user: Option<String>,
    /// Refuse uid 0 for the program.
    pub no_root: bool,
    /// Remove delivered files when the program exits.
    pub cleanup: bool,
}

/// The longest accepted grace period; beyond it an orchestrator's own SIGKILL comes first anyway.
const MAX_GRACE_SECONDS: f64 = 3600.0;

fn grace(seconds: f64, origin: &str) -> Result<std::time::Duration, Error> {
    if !(0.0..=MAX_GRACE_SECONDS).contains(&seconds) {
        return Err(Error::new(
            Kind::Usage,
            format!("{origin}: expected seconds between 0 and {MAX_GRACE_SECONDS}"),
        ));
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

fn process_settings(
    inv: &Invocation,
    env: &Environ,
    file: &FileSettings,
) -> Result<ProcessSettings, Error> {
    // The command line and env decide; the file's `init: true|false` only when neither does.
    let init_on = flag(inv, env, Opt::Init, None)?;
    let init_off = flag(inv, env, Opt::NoInit, None)?;
    let cleanup = flag(inv, env, Opt::Cleanup, file.cleanup)?;
    let init = match (init_on, init_off, file.init) {
        (true, true, _) => {
            return Err(Error::new(
                Kind::Usage,
                "--init and --no-init exclude each other",
            ));
        }
        (true, false, _) | (false, false, Some(true)) => InitMode::Supervise,
        (false, true, _) | (false, false, Some(false)) => InitMode::Exec,
        (false, false, None) => InitMode::Auto,
    };
    if cleanup && init == InitMode::Exec {
        return Err(Error::new(
            Kind::Usage,
            "--cleanup needs secret-init to stay as the program's parent; it excludes --no-init",
        ));
    }
    let grace_period = match pick(inv, env, Opt::GracePeriod) {
        Some((v, origin)) => {
            let t = text(v, &origin)?;
            let secs = t.trim().parse::<f64>().map_err(|_| {
                Error::new(
                    Kind::Usage,
                    format!("{origin}: expected a number of seconds"),
                )
            })?;
            grace(secs, &origin)?
        }
        None => grace(file.grace_period.unwrap_or(5.0), "secret_init.grace_period")?,
    };
    let user = match pick(inv, env, Opt::User) {
        Some((v, origin)) => Some(text(v, &origin)?),
        None => file.user.clone(),
    }
    .filter(|u| !u.is_empty());
    Ok(ProcessSettings {
        init,
        process_group: flag(inv, env, Opt::ProcessGroup, file.process_group)?,
        grace_period,
        user,
        no_root: flag(inv, env, Opt::NoRoot, file.no_root)?,
        cleanup,
    })
}

/// The config file to read: `--config`, then `SECRET_INIT_CONFIG`, then `./config.yaml` if present.
pub(crate) fn config_path(inv: &Invocation, env: &Environ) -> Option<PathBuf> {
    if let Some(v) = inv.values(Opt::Config).last() {
        return Some(PathBuf::from(v));
    }
    if let Some(v) = Opt::Config.twin_value(env).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(v));
    }
    let default = Path::new("config.yaml");
    default.is_file().then(|| default.to_path_buf())
}

/// The default source order: the registry's.
pub(crate) const DEFAULT_SOURCES: &[SourceKind] = SourceKind::ALL;

impl Settings {
    /// What the sources read of the generic settings.
    pub fn generic(&self) -> Generic<'_> {
        Generic {
            max_secret_bytes: self.max_secret_bytes,
            secrets_dirs: &self.secrets_dirs,
            env_prefix: &self.env_prefix,
            local_config: self.local_config.as_deref(),
            inputs: None,
        }
    }

    /// Merges the command line, the environment and the file section.
    pub fn resolve(
        inv: &Invocation,
        env: &Environ,
        file: &FileSettings,
    ) -> Result<Settings, Error> {
        let sources = match pick(inv, env, Opt::Sources) {
            Some((v, origin)) => parse_sources(
                &text(v, &origin)?
                    .split(',')
                    .map(str::trim)
                    .collect::<Vec<_>>(),
                &origin,
            )?,
            None => match &file.sources {
                Some(list) => parse_sources(
                    &list.iter().map(String::as_str).collect::<Vec<_>>(),
                    "secret_init.sources",
                )?,
                None => DEFAULT_SOURCES.to_vec(),
            },
        };
        let env_prefix = match pick(inv, env, Opt::EnvPrefix) {
            Some((v, origin)) => text(v, &origin)?,
            None => file
                .env_prefix
                .clone()
                .unwrap_or_else(|| "TRUSS_SECRET_".to_string()),
        };
        if env_prefix.is_empty()
            || !env_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(Error::new(
                Kind::Config,
                "env prefix must be non-empty and match [A-Za-z0-9_]+",
            ));
        }
        let secrets_dirs = match pick_list(inv, env, Opt::SecretsDir, ':') {
            Some(v) => v.into_iter().map(PathBuf::from).collect(),
            None => file
                .secrets_dirs
                .clone()
                .unwrap_or_else(|| vec![PathBuf::from("/secrets"), PathBuf::from("/run/secrets")]),
        };
        let output_dir = match pick(inv, env, Opt::OutputDir) {
            Some((v, _)) => PathBuf::from(v),
            None => file
                .output_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("/secrets")),
        };
        if !output_dir.is_absolute() {
            return Err(Error::new(
                Kind::Config,
                format!(
                    "output dir {} must be an absolute path",
                    output_dir.display()
                ),
            ));
        }
        let local_raw = match pick(inv, env, Opt::LocalConfig) {
            Some((v, origin)) => text(v, &origin)?,
            None => file
                .local_config
                .clone()
                .unwrap_or_else(|| "~/.truss/config.yaml".to_string()),
        };
        let local_config = expand_home(&local_raw, env);
        let max_secret_bytes = match pick(inv, env, Opt::MaxSecretBytes) {
            Some((v, origin)) => text(v, &origin)?.parse::<u64>().map_err(|_| {
                Error::new(Kind::Usage, format!("{origin}: expected a number of bytes"))
            })?,
            None => file.max_secret_bytes.unwrap_or(1024 * 1024),
        };
        let log_level = match pick(inv, env, Opt::LogLevel) {
            Some((v, origin)) => Some((text(v, &origin)?, origin)),
            None => file
                .log_level
                .clone()
                .map(|v| (v, "secret_init.log_level".to_string())),
        };
        let log_level = match log_level {
            Some((v, origin)) => log::Level::parse(&v).ok_or_else(|| {
                Error::new(
                    Kind::Usage,
                    format!("{origin}: expected error|warn|info|debug|trace"),
                )
            })?,
            None => log::Level::Info,
        };
        let log_format = match pick(inv, env, Opt::LogFormat)
            .map(|(v, o)| (v.to_string_lossy().into_owned(), o))
        {
            Some((v, _)) if v == "text" => log::Format::Text,
            Some((v, _)) if v == "json" => log::Format::Json,
            Some((_, origin)) => {
                return Err(Error::new(
                    Kind::Usage,
                    format!("{origin}: expected text or json"),
                ));
            }
            None => match file.log_format.as_deref() {
                None | Some("text") => log::Format::Text,
                Some("json") => log::Format::Json,
                Some(_) => {
                    return Err(Error::new(
                        Kind::Config,
                        "secret_init.log_format: expected text or json",
                    ));
                }
            },
        };
        let report_format =
            match pick(inv, env, Opt::Format).map(|(v, o)| (v.to_string_lossy().into_owned(), o)) {
                None => ReportFormat::Table,
                Some((v, _)) if v == "table" || v == "text" => ReportFormat::Table,
                Some((v, _)) if v == "json" => ReportFormat::Json,
                Some((_, origin)) => {
                    return Err(Error::new(
                        Kind::Usage,
                        format!("{origin}: expected table or json"),
                    ));
                }
            };
        let allow_insecure_http = flag(
            inv,
            env,
            Opt::AllowInsecureHttp,
            vault_allows_insecure_http(file),
        )?;
        let config_dir = config_path(inv, env).map(|p| {
            let dir = p.parent().map(Path::to_path_buf).unwrap_or_default();
            // `config.yaml` in the working directory: its directory is the working directory.
            match std::env::current_dir() {
                Ok(cwd) if dir.is_relative() => cwd.join(dir),
                _ => dir,
            }
        });
        let source = SourceSettings::resolve(
            inv,
            env,
            &file.sections(),
            allow_insecure_http,
            config_dir.as_deref(),
        )?;
        let state_file = pick(inv, env, Opt::StateFile).map(|(v, _)| PathBuf::from(v));
        if let Some(p) = state_file.as_ref().filter(|p| !p.is_absolute()) {
            return Err(Error::new(
                Kind::Config,
                format!("state file {} must be an absolute path", p.display()),
            ));
        }
        let mut scrub_env = file.scrub_env.clone().unwrap_or_default();
        scrub_env.extend(pick_list(inv, env, Opt::ScrubEnv, ',').unwrap_or_default());
        let mut file_env = file.file_env.clone().unwrap_or_default();
        file_env.extend(pick_list(inv, env, Opt::FileEnv, ',').unwrap_or_default());
        if let Some(bad) = file_env.iter().find(|v| !crate::name::is_env_name(v)) {
            return Err(Error::new(
                Kind::Config,
                format!(
                    "file_env (--file-env, secret_init.file_env): {bad:?} is not an environment variable name"
                ),
            ));
        }
        // The pointer is an input like TRUSS_SECRET_*: the program gets the value, not the path.
        scrub_env.extend(file_env.iter().map(|v| format!("{v}_FILE")));
        let fallback =
            fallback::resolve(inv, env, file.fallback.as_ref(), &output_dir, &env_prefix)?;
        // The snapshot's key is secret-init's own credential: never the program's.
        if let Some(KeyFrom::Env(v)) = fallback.as_ref().map(|f| &f.key) {
            scrub_env.push(v.clone());
        }
        Ok(Settings {
            sources,
            env_prefix,
            secrets_dirs,
            output_dir,
            local_config,
            max_secret_bytes,
            allow_dangerous_env: flag(inv, env, Opt::AllowDangerousEnv, file.allow_dangerous_env)?,
            allow_shared_dir: flag(inv, env, Opt::AllowSharedDir, file.allow_shared_dir)?,
            scrub_env,
            file_env,
            resolve_env_references: flag(
                inv,
                env,
                Opt::ResolveEnvReferences,
                file.resolve_env_references,
            )?,
            env_only: flag(inv, env, Opt::EnvOnly, file.env_only)?,
            offline: flag(inv, env, Opt::Offline, None)?,
            show_prefix: flag(inv, env, Opt::ShowPrefix, None)?,
            log_level,
            log_format,
            report_format,
            source,
            process: process_settings(inv, env, file)?,
            state_file,
            refresh: refresh_settings(inv, env, file.refresh.as_ref())?,
            mask: mask::resolve(inv, env, file)?,
            observe: observe::resolve(file.metrics.as_ref(), file.audit.as_ref())?,
            fallback,
        })
    }
}

fn parse_sources(list: &[&str], origin: &str) -> Result<Vec<SourceKind>, Error> {
    let mut out = Vec::new();
    for s in list {
        let kind = SourceKind::parse(s).ok_or_else(|| {
            Error::new(
                Kind::Config,
                format!("{origin}: unknown source \"{s}\" ({})", SourceKind::names()),
            )
        })?;
        if out.contains(&kind) {
            return Err(Error::new(
                Kind::Config,
                format!("{origin}: source \"{s}\" listed twice"),
            ));
        }
        if !kind.compiled_in() {
            return Err(Error::new(
                Kind::Config,
                format!(
                    "{origin}: this secret-init is built without the {kind} source (Cargo feature `{kind}`)"
                ),
            ));
        }
        out.push(kind);
    }
    if out.is_empty() {
        return Err(Error::new(Kind::Config, format!("{origin}: no sources")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;
    use crate::cli;

    fn inv(a: &[&str]) -> Invocation {
        cli::parse(a.iter().map(OsString::from)).expect("parse")
    }

    fn env(pairs: &[(&str, &str)]) -> Environ {
        Environ::from_pairs(pairs)
    }

    #[test]
    fn cli_beats_env_beats_file() {
        let file = FileSettings {
            output_dir: Some("/from-file".into()),
            env_prefix: Some("FILEP_".into()),
            ..Default::default()
        };
        let e = env(&[
            ("SECRET_INIT_OUTPUT_DIR", "/from-env"),
            ("SECRET_INIT_ENV_PREFIX", "ENVP_"),
        ]);
        let s = Settings::resolve(&inv(&["--output-dir", "/from-cli", "--", "x"]), &e, &file)
            .expect("ok");
        assert_eq!(s.output_dir, PathBuf::from("/from-cli"));
        assert_eq!(s.env_prefix, "ENVP_");
        let s = Settings::resolve(&inv(&["--", "x"]), &env(&[]), &file).expect("ok");
        assert_eq!(s.output_dir, PathBuf::from("/from-file"));
        assert_eq!(s.env_prefix, "FILEP_");
    }

    #[test]
    fn defaults() {
        let s = Settings::resolve(
            &inv(&["--", "x"]),
            &env(&[("HOME", "/home/u")]),
            &FileSettings::default(),
        )
        .expect("ok");
        assert_eq!(s.sources, DEFAULT_SOURCES);
        assert_eq!(s.env_prefix, "TRUSS_SECRET_");
        assert_eq!(
            s.secrets_dirs,
            vec![PathBuf::from("/secrets"), PathBuf::from("/run/secrets")]
        );
        assert_eq!(s.output_dir, PathBuf::from("/secrets"));
        assert_eq!(
            s.local_config,
            Some(PathBuf::from("/home/u/.truss/config.yaml"))
        );
    }

    #[test]
    fn env_lists_and_flags() {
        let e = env(&[
            ("SECRET_INIT_SECRETS_DIR", "/a:/b"),
            ("SECRET_INIT_SOURCES", "env, default"),
            ("SECRET_INIT_ALLOW_SHARED_DIR", "true"),
        ]);
        let s = Settings::resolve(&inv(&["--", "x"]), &e, &FileSettings::default()).expect("ok");
        assert_eq!(
            s.secrets_dirs,
            vec![PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert_eq!(s.sources, vec![SourceKind::Env, SourceKind::Default]);
        assert!(s.allow_shared_dir);
    }

    #[test]
    fn process_options() {
        let s =
            Settings::resolve(&inv(&["--", "x"]), &env(&[]), &FileSettings::default()).expect("ok");
        assert_eq!(s.process.init, InitMode::Auto);
        assert_eq!(s.process.grace_period, std::time::Duration::from_secs(5));
        assert!(!s.process.cleanup && !s.process.no_root && !s.process.process_group);
        let file = FileSettings {
            init: Some(false),
            user: Some("app".into()),
            grace_period: Some(0.5),
            ..Default::default()
        };
        let s = Settings::resolve(&inv(&["--", "x"]), &env(&[]), &file).expect("ok");
        assert_eq!(s.process.init, InitMode::Exec);
        assert_eq!(s.process.user.as_deref(), Some("app"));
        assert_eq!(
            s.process.grace_period,
            std::time::Duration::from_millis(500)
        );
        let s = Settings::resolve(
            &inv(&["--init", "--user", "1000:1000", "--", "x"]),
            &env(&[
                ("SECRET_INIT_CLEANUP", "1"),
                ("SECRET_INIT_GRACE_PERIOD", "0"),
            ]),
            &file,
        )
        .expect("ok");
        assert_eq!(s.process.init, InitMode::Supervise);
        assert_eq!(s.process.user.as_deref(), Some("1000:1000"));
        assert!(s.process.cleanup);
        assert!(s.process.grace_period.is_zero());
        for bad in [
            &["--init", "--no-init", "--", "x"][..],
            &["--cleanup", "--no-init", "--", "x"],
        ] {
            let e = Settings::resolve(&inv(bad), &env(&[]), &FileSettings::default())
                .expect_err("conflict");
            assert_eq!(e.exit_code(), 64, "{bad:?}");
        }
    }

    #[test]
    fn refused_values() {
        for (k, v, code) in [
            ("SECRET_INIT_SOURCES", "file,s3", 78),
            ("SECRET_INIT_SOURCES", "env,env", 78),
            ("SECRET_INIT_ENV_PREFIX", "BAD-", 78),
            ("SECRET_INIT_LOG_LEVEL", "loud", 64),
            ("SECRET_INIT_OUTPUT_DIR", "relative", 78),
            ("SECRET_INIT_ALLOW_SHARED_DIR", "maybe", 64),
            ("SECRET_INIT_GRACE_PERIOD", "-1", 64),
            ("SECRET_INIT_GRACE_PERIOD", "soon", 64),
            ("SECRET_INIT_INIT", "maybe", 64),
        ] {
            let e = Settings::resolve(
                &inv(&["--", "x"]),
                &env(&[(k, v)]),
                &FileSettings::default(),
            )
            .expect_err(k);
            assert_eq!(e.exit_code(), code, "{k}={v}: {e}");
        }
    }
}

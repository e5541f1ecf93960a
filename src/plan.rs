//! The plan: what goes where, checked completely before the first byte is written.
//!
//! Resolved values become file deliveries (`<output_dir>/<name>` or a per-secret path, with its
//! mode and owner) and env deliveries (a per-secret variable name). Every check that could fail a
//! start happens here: env names, the dangerous-variable list, two secrets aimed at one variable
//! or one file, NUL bytes in env values, and the kernel's execve limits.

use std::collections::BTreeMap;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use crate::error::{Error, Errors, Kind};
use crate::manifest::FileTarget;
use crate::name;
use crate::resolve::Resolution;
use crate::secret::Secret;
use crate::settings::Settings;

/// One file to publish.
#[derive(Debug)]
pub(crate) struct FileDelivery {
    /// The secret (or provider) this file carries, for messages.
    pub secret: String,
    /// Absolute destination path.
    pub path: PathBuf,
    /// The bytes to write.
    pub content: Secret,
    /// Exact permission bits.
    pub mode: u32,
    /// Owner uid and gid, when not the current user.
    pub owner: Option<(u32, u32)>,
}

/// One environment variable for the program.
#[derive(Debug)]
pub struct EnvDelivery {
    /// Variable name (validated).
    pub var: String,
    /// The secret it carries, for messages.
    pub secret: String,
    /// The value.
    pub value: Secret,
}

/// Everything to deliver.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Files to write.
    pub files: Vec<FileDelivery>,
    /// Variables to set in the program's environment.
    pub env: Vec<EnvDelivery>,
    /// Files left alone because the value came from that very file.
    pub unchanged: Vec<PathBuf>,
    /// Input files to remove once the program has started (AppRole `remove_secret_id_file`).
    pub consumed: Vec<PathBuf>,
    /// Every value the plan delivers, by secret name (whatever carries it: a file, a variable,
    /// a template, a provider), for `--mask`; kept only with `--mask`.
    pub values: Vec<(String, Secret)>,
    /// Secret name → where its value came from (`vault:secret/data/app#db`), for the refresh
    /// change log; kept only when something reads it (see [`observed`]).
    pub origins: BTreeMap<String, String>,
    /// Secret name → its origin as a value (kind, label, version, the file read), for the
    /// status file, the metrics and the audit trail (docs/observability.md); kept only when
    /// something reads it (see [`observed`]).
    pub from: BTreeMap<String, crate::source::Origin>,
}

impl Plan {
    /// What `--mask` masks: every value delivered, the variables the sources and providers
    /// inject included, each under its secret's name.
    pub(crate) fn masked_values(&self) -> Vec<(String, Secret)> {
        self.values
            .iter()
            .cloned()
            .chain(self.env.iter().map(|e| (e.secret.clone(), e.value.clone())))
            .collect()
    }
}

/// Linux's per-string limit for argv and envp entries (`MAX_ARG_STRLEN`, 32 pages), NUL included.
pub(crate) const MAX_ARG_STRLEN: usize = 32 * 4096;

pub(crate) use crate::manifest::parse_owner;

/// Whether anything reads the plan's origins ([`Plan::origins`], [`Plan::from`]): the audit
/// trail, the metrics and a live refresh (its change log and status file). A start without them
/// keeps no per-secret origin: 10,000 secrets' labels and paths copied for no reader.
pub(crate) fn observed(settings: &Settings) -> bool {
    settings.observe.audit.is_some()
        || settings.observe.metrics.is_some()
        || settings.refresh.is_some()
}

/// Turns resolutions into a checked plan.
pub(crate) fn build(resolutions: &[Resolution], settings: &Settings) -> Result<Plan, Errors> {
    let mut plan = Plan {
        files: Vec::with_capacity(resolutions.len()),
        ..Plan::default()
    };
    let (observed, masked) = (observed(settings), settings.mask.is_some());
    let mut errors = Errors::default();
    // Who delivers each file, to refuse two secrets aimed at one. A file is known by its path as
    // the kernel resolves the spelling (`//x`, `/./x` and `/x` are one file). One in the output
    // dir (every default target `<output_dir>/<name>`, and an explicit path whose parent spells
    // the output dir) is keyed by its name alone, borrowed, so a 10,000-secret start copies no
    // path for this; any other by its whole spelled path (bytes: Path's own ordering walks
    // components and costs far more). The value is the resolution's index, for the other
    // secret's name and spelling in the message.
    let output_dir: PathBuf = settings.output_dir.components().collect();
    let mut in_output_dir: BTreeMap<&[u8], usize> = BTreeMap::new();
    let mut elsewhere: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    let mut env_owner: BTreeMap<String, String> = BTreeMap::new();
    for (index, r) in resolutions.iter().enumerate() {
        let Some(value) = &r.value else { continue };
        let name = r.name.as_str();
        if masked {
            plan.values.push((name.to_string(), value.clone()));
        }
        let src = r.origin.as_ref().map_or("delivery", |o| o.label.as_str());
        if observed {
            let version = r.origin.as_ref().and_then(|o| o.version.as_deref());
            if let Some(o) = &r.origin {
                plan.from.insert(name.to_string(), o.clone());
            }
            plan.origins.insert(
                name.to_string(),
                version.map_or_else(|| src.to_string(), |v| format!("{src}, version {v}")),
            );
        }
        if let (true, FileTarget::Path(p)) = (settings.env_only, &r.settings.file) {
            errors.push(Error::secret(
                Kind::Config,
                name,
                "config.yaml",
                format!(
                    "file: {} is given, but delivery is env only (env_only, --env-only): remove one",
                    p.display()
                ),
            ));
            continue;
        }
        if let Some(path) = file_target(r, settings) {
            let previous = match &r.settings.file {
                FileTarget::Path(p) => {
                    let spelled: PathBuf = p.components().collect();
                    match (spelled.parent(), p.file_name()) {
                        (Some(dir), Some(file)) if dir == output_dir => {
                            in_output_dir.insert(file.as_bytes(), index)
                        }
                        _ => elsewhere.insert(spelled.into_os_string().into_vec(), index),
                    }
                }
                _ => in_output_dir.insert(name.as_bytes(), index),
            };
            if let Some(other) = previous {
                let other_path = file_target(&resolutions[other], settings).unwrap_or_default();
                let other = resolutions[other].name.as_str();
                let what = if other_path.as_os_str() == path.as_os_str() {
                    format!("delivers to {} as secret \"{other}\" does", path.display())
                } else {
                    format!(
                        "delivers to {}, the same file as {} of secret \"{other}\"",
                        path.display(),
                        other_path.display()
                    )
                };
                errors.push(Error::secret(Kind::Data, name, src, what));
            } else if r
                .origin
                .as_ref()
                .and_then(|o| o.path.as_ref())
                .is_some_and(|p| same_path(p, &path))
            {
                // The value came from this very file (output dir = secrets dir): it is left as it
                // is, so settings that would change it cannot be applied; say so rather than
                // ignore them.
                if r.settings.mode != 0o600 || r.settings.trim_newline || r.settings.owner.is_some()
                {
                    errors.push(Error::secret(
                        Kind::Config,
                        name,
                        src,
                        format!(
                            "is read from {} and delivered to that same file, so mode, owner and trim_newline cannot be applied; deliver it elsewhere (--output-dir, file: PATH)",
                            path.display()
                        ),
                    ));
                }
                plan.unchanged.push(path);
            } else {
                let owner = match r.settings.owner.as_deref().map(parse_owner).transpose() {
                    Ok(o) => o,
                    Err(why) => {
                        errors.push(Error::secret(Kind::Data, name, "config.yaml", why));
                        None
                    }
                };
                plan.files.push(FileDelivery {
                    secret: name.to_string(),
                    path,
                    content: value.clone(),
                    mode: r.settings.mode,
                    owner,
                });
            }
        }
        // Env only: a secret without `env:` goes to the variable of its own name.
        let env_name = r
            .settings
            .env
            .as_deref()
            .or(settings.env_only.then_some(name));
        if let Some(var) = env_name {
            if let Err(e) = check_env(var, value, settings.allow_dangerous_env) {
                errors.push(Error::secret(e.kind, name, src, e.into_problem().what));
            } else if let Some(other) = env_owner.insert(var.to_string(), name.to_string()) {
                errors.push(Error::secret(
                    Kind::Data,
                    name,
                    src,
                    format!("env var {var} is already delivered by secret \"{other}\""),
                ));
            } else {
                plan.env.push(EnvDelivery {
                    var: var.to_string(),
                    secret: name.to_string(),
                    value: value.clone(),
                });
            }
        }
    }
    errors.into_result()?;
    Ok(plan)
}

/// Adds whole-environment injections (a vault `env_paths` entry) to `plan`, with the same checks
/// as a per-secret env delivery. A name that a declared secret already delivers is an error: two
/// places would claim one variable, and neither silently wins.
pub(crate) fn add_injected(
    plan: &mut Plan,
    injected: Vec<crate::source::Injected>,
    settings: &Settings,
) -> Result<(), Errors> {
    let mut errors = Errors::default();
    // The variables already delivered, indexed once (injected names are unique among themselves,
    // so the new ones join the plan after the loop). Built by insertion rather than `collect`,
    // which would add a stable-sort instance to the binary for this one map.
    let mut taken: BTreeMap<&str, &str> = BTreeMap::new();
    for d in &plan.env {
        taken.insert(&d.var, &d.secret);
    }
    let mut added = Vec::new();
    for i in injected {
        if let Err(e) = check_env(&i.var, &i.value, settings.allow_dangerous_env) {
            errors.push(Error::new(e.kind, e.into_problem().what).with_source(i.origin));
        } else if let Some(secret) = taken.get(i.var.as_str()) {
            errors.push(
                Error::new(
                    Kind::Data,
                    format!(
                        "env var {} is also delivered by secret \"{}\"",
                        i.var, secret
                    ),
                )
                .with_source(i.origin),
            );
        } else {
            added.push(EnvDelivery {
                var: i.var,
                secret: i.origin,
                value: i.value,
            });
        }
    }
    plan.env.extend(added);
    errors.into_result()
}

/// Env only (`env_only`, `--env-only`): a plan that would still write a file (a template, a
/// provider's credentials file, a dynamic secret) is refused, naming each, rather than writing
/// it or dropping it in silence.
pub(crate) fn env_only(plan: &Plan) -> Result<(), Errors> {
    let mut errors = Errors::default();
    for f in &plan.files {
        errors.push(
            Error::new(
                Kind::Config,
                format!(
                    "writes {}, but delivery is env only (env_only, --env-only): no file is written",
                    f.path.display()
                ),
            )
            .with_source(f.secret.clone()),
        );
    }
    errors.into_result()
}

/// Checks that `value` can be delivered as env var `var`.
pub fn check_env(var: &str, value: &Secret, allow_dangerous: bool) -> Result<(), Error> {
    if !name::is_env_name(var) {
        return Err(Error::new(
            Kind::Data,
            format!("\"{var}\" is not a valid env var name"),
        ));
    }
    if name::is_dangerous_env(var) && !allow_dangerous {
        return Err(Error::new(
            Kind::Config,
            format!(
                "env name \"{var}\" is on the deny list (it changes how programs start); set allow_dangerous_env: true to permit it"
            ),
        ));
    }
    if value.expose().contains(&0) {
        return Err(Error::new(
            Kind::Data,
            "value contains a NUL byte; it cannot be passed via the environment (deliver it as a file)",
        ));
    }
    if var.len() + 1 + value.len() + 1 > MAX_ARG_STRLEN {
        return Err(Error::new(
            Kind::Data,
            format!(
                "{} bytes exceeds the {MAX_ARG_STRLEN}-byte per-variable limit of execve (deliver it as a file)",
                value.len()
            ),
        ));
    }
    Ok(())
}

/// Where `r`'s file goes, if it is delivered as a file.
fn file_target(r: &Resolution, settings: &Settings) -> Option<PathBuf> {
    match &r.settings.file {
        FileTarget::Disabled => None,
        _ if settings.env_only => None,
        FileTarget::Default => Some(crate::fsx::joined(&settings.output_dir, r.name.as_str())),
        FileTarget::Path(p) => Some(p.clone()),
    }
}

fn same_path(a: &std::path::Path, b: &std::path::Path) -> bool {
    a.components().eq(b.components())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners() {
        assert_eq!(parse_owner("1000"), Ok((1000, 1000)));
        assert_eq!(parse_owner("1000:50"), Ok((1000, 50)));
        assert!(parse_owner("bob").is_err());
    }

    #[test]
    fn env_checks() {
        let v = Secret::new(b"x".to_vec());
        assert!(check_env("OK_NAME", &v, false).is_ok());
        assert_eq!(
            check_env("LD_PRELOAD", &v, false).map_err(|e| e.exit_code()),
            Err(78)
        );
        assert!(check_env("LD_PRELOAD", &v, true).is_ok());
        assert_eq!(
            check_env("A", &Secret::new(b"a\0b".to_vec()), false).map_err(|e| e.exit_code()),
            Err(65)
        );
        assert_eq!(
            check_env("A", &Secret::new(vec![b'x'; MAX_ARG_STRLEN]), false)
                .map_err(|e| e.exit_code()),
            Err(65)
        );
        assert!(check_env("A", &Secret::new(vec![b'x'; MAX_ARG_STRLEN - 3]), false).is_ok());
    }
}

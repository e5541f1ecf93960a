//! Development-machine commands: `materialize` (Runhouse's login), `clean` (its logout) and `env`.
//!
//! `materialize` delivers every file a run would, in the same single all-or-nothing publish, and
//! in that same publish writes a state file (0600) listing each path written, the SHA-256 of what
//! was written, what the file held before (so a merged `~/.aws/credentials` can be put back) and
//! the directories it had to create. `clean` reverses exactly that: a file whose digest no longer
//! matches was changed since and is kept (and reported); the others are removed, or restored to
//! their earlier content; created directories are removed when empty. Removal is relative to a
//! parent descriptor opened without following links, so a link planted on the way is refused.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::unistd::{UnlinkatFlags, unlinkat};
use serde::{Deserialize, Serialize};

use crate::app::pipeline::Context;
use crate::deliver::file;
use crate::environ::Environ;
use crate::error::{Error, Errors, Kind};
use crate::plan::{FileDelivery, Plan};
use crate::provider;
use crate::secret::Secret;

/// The state file's format version.
const STATE_VERSION: u32 = 1;

/// What `materialize` wrote.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct State {
    /// Format version.
    pub version: u32,
    /// Every file written.
    pub files: Vec<Entry>,
    /// Directories created on the way, outermost first.
    pub dirs: Vec<PathBuf>,
}

/// One file `materialize` wrote.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// Where.
    pub path: PathBuf,
    /// SHA-256 (hex) of the bytes written.
    pub sha256: String,
    /// What was there before, if anything: restored by `clean`.
    pub previous: Option<Previous>,
}

/// A file's content before `materialize` replaced it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Previous {
    /// Its permission bits.
    pub mode: u32,
    /// Its bytes, hex-encoded (they may not be UTF-8).
    pub hex: String,
}

/// SHA-256 of `bytes` as lower-case hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    crate::hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// The state file: `--state-file`, else `$XDG_STATE_HOME/secret-init/materialized.json`, else
/// `~/.local/state/secret-init/materialized.json`.
pub(crate) fn state_path(ctx: &Context) -> Result<PathBuf, Error> {
    if let Some(p) = &ctx.settings.state_file {
        return Ok(p.clone());
    }
    let var = |k: &str| ctx.env.get(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(d) = var("XDG_STATE_HOME").filter(|d| d.is_absolute()) {
        return Ok(d.join("secret-init/materialized.json"));
    }
    match var("HOME").filter(|d| d.is_absolute()) {
        Some(h) => Ok(h.join(".local/state/secret-init/materialized.json")),
        None => Err(Error::new(
            Kind::Config,
            "no state file: HOME is not set (use --state-file PATH)",
        )),
    }
}

fn load_state(path: &Path) -> Result<Option<State>, Error> {
    let src = path.display().to_string();
    // `clean` deletes and rewrites what the state file lists: one that someone else wrote (or
    // could have) would let them pick which files we delete.
    if let Ok(md) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::MetadataExt;
        let euid = nix::unistd::geteuid().as_raw();
        if md.uid() != euid || md.mode() & 0o022 != 0 {
            return Err(Error::new(
                Kind::Config,
                format!(
                    "state file is owned by uid {} with mode {:o}; refusing to trust it (it must be ours and writable by us only)",
                    md.uid(),
                    md.mode() & 0o7777
                ),
            )
            .with_source(src));
        }
    }
    let Some((bytes, _)) = crate::fsx::read_existing(path, provider::MAX_EXISTING_BYTES)
        .map_err(|why| Error::new(Kind::CantCreate, why).with_source(src.clone()))?
    else {
        return Ok(None);
    };
    let state: State = serde_json::from_slice(bytes.expose()).map_err(|e| {
        Error::new(
            Kind::Data,
            format!(
                "state file is not valid (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
        .with_source(src.clone())
    })?;
    if state.version != STATE_VERSION {
        return Err(Error::new(
            Kind::Data,
            format!(
                "state file version {} is not {STATE_VERSION}",
                state.version
            ),
        )
        .with_source(src));
    }
    Ok(Some(state))
}

fn print(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

/// Delivers the whole plan's files without starting a program and records them.
pub(crate) fn materialize(ctx: &Context, plan: Plan) -> Result<u8, Errors> {
    let state_file = state_path(ctx)?;
    if plan.files.iter().any(|f| f.path == state_file) {
        return Err(Error::new(Kind::Data, "a delivery targets the state file itself").into());
    }
    let old = load_state(&state_file)?;
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    let mut state = State {
        version: STATE_VERSION,
        files: Vec::new(),
        dirs: Vec::new(),
    };
    let mut errors = Errors::default();
    for f in &plan.files {
        dirs.extend(crate::fsx::missing_dirs(&f.path));
        let earlier = old
            .as_ref()
            .and_then(|s| s.files.iter().find(|e| e.path == f.path));
        // A path materialized before keeps its original "before": clean restores the machine as
        // it was before the first materialize, not an intermediate state.
        let previous = match earlier {
            Some(e) => e.previous.as_ref().map(|p| Previous {
                mode: p.mode,
                hex: p.hex.clone(),
            }),
            None => match crate::fsx::read_existing(&f.path, provider::MAX_EXISTING_BYTES) {
                Ok(p) => p.map(|(bytes, mode)| Previous {
                    mode,
                    hex: crate::hex::encode(bytes.expose()),
                }),
                Err(why) => {
                    errors.push(Error::new(Kind::CantCreate, why));
                    continue;
                }
            },
        };
        state.files.push(Entry {
            path: f.path.clone(),
            sha256: sha256_hex(f.content.expose()),
            previous,
        });
    }
    errors.into_result()?;
    if let Some(old) = &old {
        for e in &old.files {
            if !state.files.iter().any(|n| n.path == e.path) {
                state.files.push(Entry {
                    path: e.path.clone(),
                    sha256: e.sha256.clone(),
                    previous: e.previous.as_ref().map(|p| Previous {
                        mode: p.mode,
                        hex: p.hex.clone(),
                    }),
                });
            }
        }
        dirs.extend(old.dirs.iter().cloned());
    }
    dirs.extend(crate::fsx::missing_dirs(&state_file));
    state.dirs = dirs.into_iter().collect();
    let mut json = serde_json::to_vec_pretty(&state)
        .map_err(|e| Error::new(Kind::Data, format!("cannot serialise the state: {e}")))?;
    json.push(b'\n');
    let written: Vec<PathBuf> = plan.files.iter().map(|f| f.path.clone()).collect();
    let mut files = plan.files;
    files.push(FileDelivery {
        secret: "materialize state".into(),
        path: state_file.clone(),
        content: Secret::new(json),
        mode: 0o600,
        owner: None,
    });
    let opts = file::WriteOptions {
        allow_shared_dir: ctx.settings.allow_shared_dir,
        trusted_uids: Vec::new(),
        durable: true,
        // The state file is materialize's record, which `clean` reverses exactly.
        record: None,
    };
    file::publish(&files, &opts, file::SignalStop)?;
    crate::app::pipeline::remove_consumed(&plan.consumed);
    let mut out = String::new();
    for p in &written {
        out.push_str(&format!("wrote {}\n", p.display()));
    }
    for p in &plan.unchanged {
        out.push_str(&format!("unchanged {}\n", p.display()));
    }
    out.push_str(&format!("state {}\n", state_file.display()));
    print(out.as_bytes());
    if !plan.env.is_empty() {
        crate::log::info!(
            "{} env deliveries are not set by materialize; use eval \"$(secret-init env)\"",
            plan.env.len()
        );
    }
    Ok(0)
}

/// Removes what `materialize` recorded, keeping files changed since.
pub(crate) fn clean(ctx: &Context) -> Result<u8, Errors> {
    let state_file = state_path(ctx)?;
    let Some(state) = load_state(&state_file)? else {
        print(
            format!(
                "nothing to clean: {} does not exist\n",
                state_file.display()
            )
            .as_bytes(),
        );
        return Ok(0);
    };
    let mut out = String::new();
    let mut restore = Vec::new();
    let mut remove = Vec::new();
    let mut kept = 0usize;
    for e in &state.files {
        match crate::fsx::read_existing(&e.path, provider::MAX_EXISTING_BYTES) {
            Ok(None) => out.push_str(&format!("gone {}\n", e.path.display())),
            Ok(Some((bytes, _))) if sha256_hex(bytes.expose()) != e.sha256 => {
                kept += 1;
                crate::log::warn!(
                    "{} changed since materialize; kept (remove it by hand if it should go)",
                    e.path.display()
                );
                out.push_str(&format!(
                    "kept {} (changed since materialize)\n",
                    e.path.display()
                ));
            }
            Ok(Some(_)) => match &e.previous {
                Some(p) => {
                    let content = crate::hex::decode(&p.hex).ok_or_else(|| {
                        Error::new(Kind::Data, "state file holds invalid hex")
                            .with_source(state_file.display().to_string())
                    })?;
                    restore.push(FileDelivery {
                        secret: "clean".into(),
                        path: e.path.clone(),
                        content: Secret::new(content),
                        mode: p.mode & 0o777,
                        owner: None,
                    });
                }
                None => remove.push(e.path.clone()),
            },
            Err(why) => {
                kept += 1;
                crate::log::warn!("{why}; kept");
                out.push_str(&format!("kept {} ({why})\n", e.path.display()));
            }
        }
    }
    let opts = file::WriteOptions {
        allow_shared_dir: ctx.settings.allow_shared_dir,
        trusted_uids: Vec::new(),
        durable: true,
        // What clean puts back is the user's own, an input again.
        record: None,
    };
    file::publish(&restore, &opts, file::SignalStop)?;
    for r in &restore {
        out.push_str(&format!("restored {}\n", r.path.display()));
    }
    let mut errors = Errors::default();
    for p in &remove {
        match unlink(p, false) {
            Ok(()) => out.push_str(&format!("removed {}\n", p.display())),
            Err(e) => errors.push(e),
        }
    }
    if let Err(e) = unlink(&state_file, false) {
        errors.push(e);
    }
    // Innermost first; a directory that is not empty now holds something else and stays.
    let mut dirs = state.dirs.clone();
    crate::order::sort_by_key(&mut dirs, |d| std::cmp::Reverse(d.components().count()));
    for d in &dirs {
        match unlink(d, true) {
            Ok(()) => out.push_str(&format!("removed {}/\n", d.display())),
            Err(e) => crate::log::debug!("kept directory {}: {}", d.display(), e.what),
        }
    }
    print(out.as_bytes());
    if kept > 0 {
        crate::log::info!("{kept} files kept because they changed since materialize");
    }
    errors.into_result()?;
    Ok(0)
}

/// Removes `path` relative to its parent, opened without following links; a missing file is fine.
fn unlink(path: &Path, dir: bool) -> Result<(), Error> {
    let src = path.display().to_string();
    let fail = |what: String| Error::new(Kind::CantCreate, what).with_source(src.clone());
    let Some(parent) = crate::fsx::open_parent(path).map_err(fail)? else {
        return Ok(());
    };
    let name = path
        .file_name()
        .ok_or_else(|| fail("has no file name".into()))?;
    let flag = if dir {
        UnlinkatFlags::RemoveDir
    } else {
        UnlinkatFlags::NoRemoveDir
    };
    match unlinkat(&parent, name, flag) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(fail(format!("cannot remove: {}", e.desc()))),
    }
}

/// Quotes `value` for a POSIX shell: single quotes, each `'` as `'\''`. Safe for every byte but
/// NUL (which env deliveries refuse): `$`, backslashes, newlines and quotes stay literal.
pub(crate) fn shell_quote(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 2);
    out.push(b'\'');
    for &b in value {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    out
}

/// Prints `export NAME='value'` for every env delivery, for `eval "$(secret-init env)"`.
pub(crate) fn env(plan: &Plan) -> Result<u8, Errors> {
    let mut out = Vec::new();
    for d in &plan.env {
        out.extend_from_slice(b"export ");
        out.extend_from_slice(d.var.as_bytes());
        out.push(b'=');
        out.extend_from_slice(&shell_quote(d.value.expose()));
        out.push(b'\n');
    }
    print(&out);
    Ok(0)
}

/// The text of `secret-init providers`: every kind with its fields, destinations (resolved from
/// the environment) and env vars, then the instances config.yaml configures.
pub(crate) fn providers(ctx: &Context) -> String {
    use crate::manifest::kinds::{EnvValue, KINDS, Open};
    use crate::manifest::providers::FieldSource;
    let env = ctx.program_env();
    let env: &Environ = &env;
    let mut out = String::new();
    for kind in KINDS {
        out.push_str(&format!("{}: {}\n", kind.name, kind.about));
        let fields: Vec<String> = kind
            .fields
            .iter()
            .map(|f| {
                let mut tags = vec![if f.secret { "secret" } else { "setting" }];
                if f.required {
                    tags.push("required");
                }
                let d = f
                    .default
                    .map(|d| format!(", default {d}"))
                    .unwrap_or_default();
                format!("{} ({}{d})", f.name, tags.join(", "))
            })
            .collect();
        match kind.open {
            Open::No => out.push_str(&format!("  fields: {}\n", fields.join("; "))),
            Open::EnvVars => out.push_str("  fields: any env var name -> its value\n"),
            Open::FileNames => {
                out.push_str("  fields: any file name -> its content; path: the directory\n")
            }
        }
        for (role, dest) in provider::describe_files(kind, env, None) {
            out.push_str(&format!("  file {role}: {dest}\n"));
        }
        let vars: Vec<String> = kind
            .env
            .iter()
            .map(|e| match e.value {
                EnvValue::Field(f) => format!("{} <- {f}", e.var),
                EnvValue::PathOf(_) => format!("{} <- the file's path", e.var),
            })
            .collect();
        if !vars.is_empty() {
            let when = if kind.env_default {
                "on"
            } else {
                "with env: true"
            };
            out.push_str(&format!("  env ({when}): {}\n", vars.join(", ")));
        }
    }
    if !ctx.manifest.providers.is_empty() {
        out.push_str("\nconfigured in config.yaml:\n");
        for inst in &ctx.manifest.providers {
            out.push_str(&format!("{} (kind {}):\n", inst.name, inst.kind.name));
            for (field, source) in &inst.fields {
                let from = match source {
                    FieldSource::Secret(n) => format!("secret {n}"),
                    FieldSource::Literal(v) => {
                        format!("\"{}\"", crate::log::escape_controls(v))
                    }
                };
                out.push_str(&format!("  {field} <- {from}\n"));
            }
            for (role, dest) in provider::describe_files(inst.kind, env, Some(inst)) {
                out.push_str(&format!("  file {role}: {dest}\n"));
            }
            out.push_str(&format!(
                "  env vars: {}; overwrite: {}\n",
                if inst.env {
                    "delivered"
                } else {
                    "not delivered"
                },
                inst.overwrite
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote(b"it's $x"), b"'it'\\''s $x'".to_vec());
        assert_eq!(shell_quote(b""), b"''".to_vec());
    }
}

//! Finding the program before anything is published: the PATH search `execvp` does, the
//! executable bit, and a `#!` interpreter that exists, so a mistyped name or a missing
//! interpreter gets 127/126 with nothing written (rather than after the files are in place).
//!
//! The rules are musl's and glibc's `execvp`: a name with a `/` is used as it is; otherwise each
//! PATH entry is tried in order (an empty entry is the current directory), a candidate that exists
//! but cannot be executed is skipped, and when nothing runs the answer is EACCES (126) if any
//! candidate existed, ENOENT (127) otherwise. `execve` itself reports a missing `#!` interpreter
//! as ENOENT, which is checked here too. The exec that follows still does its own search; this is
//! a pre-flight, not a replacement (a file can change between the two).

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Kind};

/// musl's `execvp` default when PATH is unset.
const DEFAULT_PATH: &str = "/usr/local/bin:/bin:/usr/bin";

/// The words that are secret-init's own commands, for a "did you mean" on a mistyped one.
const COMMANDS: &[&str] = &[
    "check",
    "get",
    "bundle",
    "providers",
    "materialize",
    "clean",
    "env",
    "status",
    "run",
];

enum Candidate {
    Runs,
    NotExecutable(String),
    Missing,
}

/// Resolves `program[0]` as `execvp` would with the child's PATH (`None`: unset); the path that
/// would run, or the 127/126 error the exec would give.
pub(crate) fn resolve(program: &[OsString], path_var: Option<&OsStr>) -> Result<PathBuf, Error> {
    let Some(name) = program.first() else {
        return Err(Error::new(Kind::Usage, "no program given"));
    };
    let shown = crate::log::escape_controls(&name.to_string_lossy());
    if name.is_empty() {
        return Err(Error::new(Kind::NotFound, "\"\": program not found"));
    }
    if name.as_bytes().contains(&b'/') {
        let path = PathBuf::from(name);
        return match candidate(&path) {
            Candidate::Runs => Ok(path),
            Candidate::NotExecutable(why) => Err(not_executable(&shown, &why)),
            Candidate::Missing => Err(not_found(&shown, name)),
        };
    }
    let path_var = path_var.unwrap_or(OsStr::new(DEFAULT_PATH));
    let mut refused = None;
    for dir in path_var.as_bytes().split(|&b| b == b':') {
        let dir = if dir.is_empty() {
            Path::new(".")
        } else {
            Path::new(OsStr::from_bytes(dir))
        };
        let path = dir.join(name);
        match candidate(&path) {
            Candidate::Runs => return Ok(path),
            Candidate::NotExecutable(why) => {
                refused.get_or_insert(why);
            }
            Candidate::Missing => {}
        }
    }
    match refused {
        Some(why) => Err(not_executable(&shown, &why)),
        None => Err(not_found(&shown, name)),
    }
}

fn not_executable(shown: &str, why: &str) -> Error {
    Error::new(
        Kind::NotExecutable,
        format!("{shown}: cannot execute: {why}"),
    )
}

fn not_found(shown: &str, name: &OsStr) -> Error {
    let hint = if name == "bundle" {
        // `bundle` is our command only before a verb (else it is Ruby's Bundler).
        format!(
            " (the command `secret-init bundle` needs a verb: {}; `secret-init bundle VERB --help`)",
            crate::cli::BUNDLE_VERBS.join("|")
        )
    } else {
        suggestion(&name.to_string_lossy())
            .map(|c| format!(" (did you mean the command `secret-init {c}`?)"))
            .unwrap_or_default()
    };
    Error::new(Kind::NotFound, format!("{shown}: program not found{hint}"))
}

/// The command a mistyped word most likely meant: within two edits, and never the word itself.
pub(crate) fn suggestion(word: &str) -> Option<&'static str> {
    if word.contains('/') {
        return None;
    }
    crate::name::closest(word, COMMANDS.iter().copied())
}

fn candidate(path: &Path) -> Candidate {
    let Ok(meta) = std::fs::metadata(path) else {
        return Candidate::Missing;
    };
    if meta.is_dir() {
        return Candidate::NotExecutable("is a directory".into());
    }
    if !meta.is_file() {
        return Candidate::NotExecutable("not a regular file".into());
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Candidate::NotExecutable("Permission denied (no execute bit)".into());
    }
    match interpreter(path) {
        Some(interp) if !interp.exists() => Candidate::NotExecutable(format!(
            "its #! interpreter {} does not exist",
            crate::log::escape_controls(&interp.to_string_lossy())
        )),
        _ => Candidate::Runs,
    }
}

/// The interpreter a `#!` line names, if the file starts with one (Linux reads at most 256 bytes).
fn interpreter(path: &Path) -> Option<PathBuf> {
    let mut head = [0u8; 256];
    // O_NONBLOCK and a second check: a FIFO swapped in after `candidate`'s stat must not hang
    // the lookup; only a regular file is read.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .ok()
        .filter(|f| f.metadata().is_ok_and(|m| m.is_file()))?;
    let n = file.read(&mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = line.split(|&b| b == b'\n').next()?;
    let word = line
        .split(|&b| b == b' ' || b == b'\t')
        .find(|w| !w.is_empty())?;
    Some(PathBuf::from(OsStr::from_bytes(word)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(path: &str) -> Option<&OsStr> {
        Some(OsStr::new(path))
    }

    #[test]
    fn path_search_and_codes() {
        assert!(resolve(&["sh".into()], env("/nonexistent:/bin")).is_ok());
        let e = resolve(&["no-such-prog-x".into()], env("/bin")).expect_err("missing");
        assert_eq!(e.exit_code(), 127);
        let e = resolve(&["/etc/passwd".into()], env("/bin")).expect_err("not exec");
        assert_eq!(e.exit_code(), 126);
        let e = resolve(&["/".into()], env("/bin")).expect_err("dir");
        assert_eq!(e.exit_code(), 126);
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggestion("chek"), Some("check"));
        assert_eq!(suggestion("bundel"), Some("bundle"));
        assert_eq!(suggestion("python"), None);
        assert_eq!(suggestion("check"), None);
        assert_eq!(suggestion("./chek"), None);
    }
}

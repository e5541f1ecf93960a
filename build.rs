//! Build facts for `secret-init --version`: the source commit, where it came from, and the target.
//!
//! The commit comes from, in order: `git`, when this directory is the top of a git checkout; the
//! `.cargo_vcs_info.json` that `cargo package` writes into a source package; the
//! `SECRET_INIT_COMMIT` environment variable (for a source tree without either); else "unknown".
//! A checkout with uncommitted changes to tracked files reports `<commit>-dirty`. Nothing here
//! depends on the time or the build directory, so the same commit builds the same bytes.

use std::path::Path;
use std::process::Command;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&dir);
    let (commit, from) = from_git(dir)
        .or_else(|| from_vcs_info(dir))
        .or_else(from_env)
        .unwrap_or_else(|| ("unknown".to_string(), "unknown"));
    println!("cargo:rustc-env=SECRET_INIT_COMMIT={commit}");
    println!("cargo:rustc-env=SECRET_INIT_COMMIT_FROM={from}");
    let target = std::env::var("TARGET").expect("cargo sets TARGET");
    println!("cargo:rustc-env=SECRET_INIT_TARGET={target}");
    println!("cargo:rerun-if-env-changed=SECRET_INIT_COMMIT");
    // Any rerun-if-changed turns off Cargo's default (rerun on any change in the package), so
    // name the sources too: an edit can make a clean tree dirty.
    for p in [
        "build.rs",
        "Cargo.toml",
        "Cargo.lock",
        "src",
        ".cargo_vcs_info.json",
    ] {
        if dir.join(p).exists() {
            println!("cargo:rerun-if-changed={p}");
        }
    }
}

/// `git rev-parse HEAD`, when `dir` is the top of the checkout (not a package unpacked inside
/// some other repository, such as `cargo package`'s own check under target/).
fn from_git(dir: &Path) -> Option<(String, &'static str)> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != dir.canonicalize().ok()? {
        return None;
    }
    let commit = git(dir, &["rev-parse", "HEAD"])?;
    // HEAD, the branch it names and the index change with a commit, a checkout or `git add`.
    // (A path that does not exist would make Cargo rerun this on every build.)
    let branch = git(dir, &["symbolic-ref", "-q", "HEAD"]);
    for what in ["HEAD", "index", "packed-refs"]
        .into_iter()
        .chain(branch.as_deref())
    {
        if let Some(p) = git(dir, &["rev-parse", "--git-path", what])
            && dir.join(&p).exists()
        {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    let dirty =
        git(dir, &["status", "--porcelain", "--untracked-files=no"]).is_none_or(|s| !s.is_empty());
    let commit = if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    };
    Some((commit, "git"))
}

/// Runs git in `dir` and returns its trimmed stdout, or `None` when git is missing or fails.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        // `git status` must not refresh the index: that would trigger the next rerun.
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8(out.stdout).ok()?.trim().to_string())
}

/// `"sha1": "<hex>"` from the `.cargo_vcs_info.json` of a source package.
fn from_vcs_info(dir: &Path) -> Option<(String, &'static str)> {
    let text = std::fs::read_to_string(dir.join(".cargo_vcs_info.json")).ok()?;
    let rest = &text[text.find("\"sha1\"")? + "\"sha1\"".len()..];
    let rest = rest
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let sha = &rest[..rest.find('"')?];
    if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let dirty = text.contains("\"dirty\": true") || text.contains("\"dirty\":true");
    let commit = if dirty {
        format!("{sha}-dirty")
    } else {
        sha.to_string()
    };
    Some((commit, "cargo package"))
}

/// `SECRET_INIT_COMMIT`, for a source tree with neither git nor `.cargo_vcs_info.json`.
fn from_env() -> Option<(String, &'static str)> {
    let v = std::env::var("SECRET_INIT_COMMIT").ok()?;
    let v = v.trim();
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    ok.then(|| (v.to_string(), "SECRET_INIT_COMMIT"))
}

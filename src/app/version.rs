//! `secret-init --version`: what this binary is, for a reviewer or a script. The version, the
//! source commit and where the build found it (build.rs), the target it was built for, and what is
//! compiled in: the sources (the remote ones are Cargo features), the provider kinds and the
//! features.

use crate::manifest::kinds::KINDS;
use crate::source::SourceKind;

/// The version.
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The source commit (`-dirty` when the checkout had changes), or "unknown".
const COMMIT: &str = env!("SECRET_INIT_COMMIT");
/// Where build.rs found the commit: git, cargo package, SECRET_INIT_COMMIT or unknown.
const COMMIT_FROM: &str = env!("SECRET_INIT_COMMIT_FROM");
/// The target triple.
const TARGET: &str = env!("SECRET_INIT_TARGET");
/// What this build has besides sources and providers.
fn features() -> Vec<&'static str> {
    let mut f = vec!["templates", "refresh", "supervise"];
    if cfg!(feature = "bundle-url") {
        f.push("bundle-url");
    }
    if cfg!(feature = "tls") {
        f.push("https-rustls-ring");
    }
    f
}

/// The `--version` text (`json`: one JSON object on one line).
pub(crate) fn text(json: bool) -> String {
    let sources: Vec<&str> = SourceKind::ALL
        .iter()
        .filter(|k| k.compiled_in())
        .map(|k| k.name())
        .collect();
    let features = features();
    let providers: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
    if json {
        let v = serde_json::json!({
            "name": "secret-init",
            "version": VERSION,
            "commit": COMMIT,
            "commit_from": COMMIT_FROM,
            "target": TARGET,
            "sources": sources,
            "providers": providers,
            "features": features,
        });
        return format!("{v}\n");
    }
    format!(
        "secret-init {VERSION}\ncommit:    {COMMIT} (from {COMMIT_FROM})\ntarget:    {TARGET}\n\
         sources:   {}\nproviders: {}\nfeatures:  {}\n",
        sources.join(", "),
        providers.join(", "),
        features.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_json_say_the_same() {
        let v: serde_json::Value = serde_json::from_str(&text(true)).expect("json");
        let t = text(false);
        assert!(t.starts_with(&format!(
            "secret-init {}\n",
            v["version"].as_str().expect("v")
        )));
        assert!(t.contains(v["commit"].as_str().expect("commit")));
        assert!(t.contains(&format!(
            "target:    {}\n",
            v["target"].as_str().expect("t")
        )));
        assert_eq!(v["sources"][0], "file");
        assert_eq!(v["providers"].as_array().expect("list").len(), KINDS.len());
    }
}

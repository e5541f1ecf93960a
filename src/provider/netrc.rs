//! `~/.netrc`: the `machine api.wandb.ai login user password <key>` entry `wandb login` writes,
//! merged with other machines.
//!
//! netrc is a stream of whitespace-separated tokens; an entry runs from `machine`/`default` to the
//! next one. A missing machine is appended as text (the rest of the file untouched). Replacing a
//! different entry (`overwrite: true`) rewrites that entry's `login`/`password` tokens in place;
//! a file with `macdef` (whose bodies are free text) is not rewritten.

use super::{Merged, refused};
use crate::error::Error;

/// Sets `login`/`password` for `machine host`.
pub(crate) fn merge(
    existing: Option<&str>,
    host: &str,
    login: &str,
    password: &str,
    overwrite: bool,
) -> Result<Merged, Error> {
    for (what, v) in [("host", host), ("login", login), ("password", password)] {
        if v.is_empty()
            || v.bytes()
                .any(|b| b.is_ascii_whitespace() || b == b'"' || b == b'#')
        {
            return Err(refused(format!(
                "netrc {what} must be one token without spaces, quotes or #"
            )));
        }
    }
    let text = existing.unwrap_or_default();
    // Tokens with their byte spans, so an entry can be edited in place.
    let mut tokens: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    let b = text.as_bytes();
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let s = i;
        while i < b.len() && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        tokens.push((s, i));
    }
    let tok = |k: usize| &text[tokens[k].0..tokens[k].1];
    let Some(m) =
        (0..tokens.len().saturating_sub(1)).find(|&k| tok(k) == "machine" && tok(k + 1) == host)
    else {
        let mut out = text.to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!(
            "machine {host}\n  login {login}\n  password {password}\n"
        ));
        return Ok(Merged::Write(out.into_bytes()));
    };
    let end = (m + 2..tokens.len())
        .find(|&k| matches!(tok(k), "machine" | "default"))
        .unwrap_or(tokens.len());
    let mut edits: Vec<(usize, &str)> = Vec::new();
    let mut missing = Vec::new();
    for (key, want) in [("login", login), ("password", password)] {
        match (m + 2..end.saturating_sub(1)).find(|&k| tok(k) == key) {
            Some(k) if tok(k + 1) == want => {}
            Some(k) => edits.push((k + 1, want)),
            None => missing.push((key, want)),
        }
    }
    if edits.is_empty() && missing.is_empty() {
        return Ok(Merged::Same);
    }
    if !overwrite {
        return Err(refused(format!(
            "machine {host} already has a different login or password; set overwrite: true to replace it"
        )));
    }
    if (0..tokens.len()).any(|k| tok(k) == "macdef") {
        return Err(refused(
            "the file has a macdef; refusing to rewrite it (edit the entry by hand)",
        ));
    }
    let mut out = text.to_string();
    // Edit from the end so earlier spans stay valid.
    crate::order::sort_by_key(&mut edits, |(k, _)| std::cmp::Reverse(*k));
    for (k, v) in edits {
        out.replace_range(tokens[k].0..tokens[k].1, v);
    }
    if !missing.is_empty() {
        let at = tokens[m + 1].1;
        let add: String = missing.iter().map(|(k, v)| format!(" {k} {v}")).collect();
        out.insert_str(at, &add);
    }
    Ok(Merged::Write(out.into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::provider::merged_text as text;

    #[test]
    fn append_same_conflict_overwrite() {
        let existing = "machine example.com login a password b\n";
        let out = text(merge(Some(existing), "api.wandb.ai", "user", "k1", false).expect("ok"));
        assert_eq!(
            out,
            "machine example.com login a password b\nmachine api.wandb.ai\n  login user\n  password k1\n"
        );
        assert!(matches!(
            merge(Some(&out), "api.wandb.ai", "user", "k1", false),
            Ok(Merged::Same)
        ));
        assert!(merge(Some(&out), "api.wandb.ai", "user", "k2", false).is_err());
        let over = text(merge(Some(&out), "api.wandb.ai", "user", "k2", true).expect("ok"));
        assert!(
            over.ends_with("password k2\n") && over.starts_with(existing),
            "{over}"
        );
        assert!(merge(None, "h", "u", "a b", false).is_err());
    }
}

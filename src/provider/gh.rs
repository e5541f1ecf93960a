//! gh's `hosts.yml`: one host's `oauth_token` (and `user`) set, other hosts and keys kept.
//!
//! The file is edited as text: a host is a top-level mapping key, its settings the lines indented
//! under it (gh writes four spaces). Only the first indentation level of that block is looked at,
//! so gh's newer `users:` sub-map is kept untouched. Values are written plain when they are plain
//! YAML scalars and double-quoted (JSON escaping, which YAML accepts) otherwise.

use super::{Merged, refused};
use crate::error::Error;

fn scalar(v: &str) -> String {
    let plain = !v.is_empty()
        && v.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b'+' | b'@')
        });
    if plain {
        v.to_string()
    } else {
        serde_json::Value::String(v.to_string()).to_string()
    }
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    if v.starts_with('"') {
        serde_json::from_str::<String>(v).unwrap_or_else(|_| v.to_string())
    } else if let Some(inner) = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        inner.replace("''", "'")
    } else {
        v.to_string()
    }
}

fn is_host_line(line: &str, host: &str) -> bool {
    !line.starts_with([' ', '\t', '#'])
        && line
            .trim_end()
            .strip_suffix(':')
            .is_some_and(|k| unquote(k) == host)
}

/// Sets `host`'s token (and user) in `existing`.
pub(crate) fn merge(
    existing: Option<&str>,
    host: &str,
    token: &str,
    user: Option<&str>,
    overwrite: bool,
) -> Result<Merged, Error> {
    let mut pairs = vec![("oauth_token", token)];
    if let Some(u) = user {
        pairs.push(("user", u));
    }
    let mut lines: Vec<String> = existing
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let Some(start) = lines.iter().position(|l| is_host_line(l, host)) else {
        if lines.first().is_some_and(|l| l.trim() == "{}") && lines.len() == 1 {
            lines.clear();
        }
        lines.push(format!("{}:", scalar(host)));
        for (k, v) in &pairs {
            lines.push(format!("    {k}: {}", scalar(v)));
        }
        lines.push("    git_protocol: https".into());
        return Ok(Merged::Write(finish(&lines)));
    };
    let end = lines[start + 1..]
        .iter()
        .position(|l| !l.trim().is_empty() && !l.starts_with([' ', '\t']))
        .map_or(lines.len(), |i| start + 1 + i);
    let indent: String = lines[start + 1..end]
        .iter()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.chars().take_while(|c| *c == ' ' || *c == '\t').collect())
        .unwrap_or_else(|| "    ".into());
    let mut changed = false;
    let mut insert_at = start + 1;
    for (k, v) in &pairs {
        let found = (start + 1..end).find(|&i| {
            let l = &lines[i];
            l.starts_with(&indent)
                && !l[indent.len()..].starts_with([' ', '\t'])
                && l[indent.len()..]
                    .split_once(':')
                    .is_some_and(|(key, _)| key.trim() == *k)
        });
        match found {
            Some(i) => {
                let cur = lines[i][indent.len()..]
                    .split_once(':')
                    .map(|(_, v)| unquote(v))
                    .unwrap_or_default();
                if cur == *v {
                    continue;
                }
                if !overwrite {
                    return Err(refused(format!(
                        "{host}: {k} is already set to a different value; set overwrite: true to replace it"
                    )));
                }
                lines[i] = format!("{indent}{k}: {}", scalar(v));
                changed = true;
            }
            None => {
                lines.insert(insert_at, format!("{indent}{k}: {}", scalar(v)));
                insert_at += 1;
                changed = true;
            }
        }
    }
    Ok(if changed {
        Merged::Write(finish(&lines))
    } else {
        Merged::Same
    })
}

fn finish(lines: &[String]) -> Vec<u8> {
    let mut s = lines.join("\n");
    s.push('\n');
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::provider::merged_text as text;

    #[test]
    fn new_and_merged_hosts() {
        assert_eq!(
            text(merge(None, "github.com", "gho_x", Some("me"), false).expect("ok")),
            "github.com:\n    oauth_token: gho_x\n    user: me\n    git_protocol: https\n"
        );
        let existing = "ghe.example:\n    oauth_token: other\n    users:\n        a:\n            oauth_token: t\n";
        let out = text(merge(Some(existing), "github.com", "gho_x", None, false).expect("ok"));
        assert!(out.starts_with(existing), "{out}");
        assert!(
            out.contains("github.com:\n    oauth_token: gho_x\n"),
            "{out}"
        );
        assert!(merge(Some(existing), "ghe.example", "gho_x", None, false).is_err());
        let replaced = text(merge(Some(existing), "ghe.example", "gho_x", None, true).expect("ok"));
        assert!(
            replaced.starts_with("ghe.example:\n    oauth_token: gho_x\n    users:\n"),
            "{replaced}"
        );
        assert!(matches!(
            merge(Some(&replaced), "ghe.example", "gho_x", None, false),
            Ok(Merged::Same)
        ));
    }
}

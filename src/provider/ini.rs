//! INI files edited in place: the AWS credentials and config files, Azure's `clouds.config`, and
//! the section-less `key = value` file of Lambda Cloud.
//!
//! The file is edited as text, not re-serialised, so comments, other sections, key order and
//! nested values (`s3 =` followed by indented lines) survive byte for byte. Keys are compared
//! case-insensitively and `=` or `:` separate them from values, as Python's configparser (which
//! botocore and the Azure CLI use) reads them. Only the first section of a name is edited.

use super::{Merged, refused};
use crate::error::Error;

/// A `key = value` line: `(key, value)` trimmed, or `None` for anything else.
fn key_value(line: &str) -> Option<(&str, &str)> {
    match crate::ini::text_line(line) {
        crate::ini::Line::Pair(k, v) => Some((crate::ini::as_text(k), crate::ini::as_text(v))),
        _ => None,
    }
}

fn section_name(line: &str) -> Option<&str> {
    match crate::ini::text_line(line) {
        crate::ini::Line::Section(name) => Some(crate::ini::as_text(name)),
        _ => None,
    }
}

fn lines_of(existing: Option<&str>) -> Vec<String> {
    existing
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn join(lines: &[String]) -> Vec<u8> {
    let mut s = lines.join("\n");
    s.push('\n');
    s.into_bytes()
}

/// Sets `pairs` in `[section]` of `existing`, keeping everything else. A key already set to a
/// different value is a conflict unless `overwrite`.
pub(crate) fn merge(
    existing: Option<&str>,
    section: &str,
    pairs: &[(&str, String)],
    overwrite: bool,
) -> Result<Merged, Error> {
    let mut lines = lines_of(existing);
    // Find the section's header and the extent of its body.
    let header = lines
        .iter()
        .position(|l| section_name(l).is_some_and(|s| s == section));
    let Some(header) = header else {
        if lines.last().is_some_and(|l| !l.trim().is_empty()) {
            lines.push(String::new());
        }
        lines.push(format!("[{section}]"));
        lines.extend(pairs.iter().map(|(k, v)| format!("{k} = {v}")));
        return Ok(Merged::Write(join(&lines)));
    };
    let end = lines[header + 1..]
        .iter()
        .position(|l| section_name(l).is_some())
        .map_or(lines.len(), |i| header + 1 + i);
    set_keys(
        &mut lines,
        header + 1,
        end,
        &format!("[{section}] "),
        pairs,
        overwrite,
    )
}

/// Sets `pairs` in a file without sections (Lambda Cloud's `lambda_keys`).
pub(crate) fn merge_flat(
    existing: Option<&str>,
    pairs: &[(&str, String)],
    overwrite: bool,
) -> Result<Merged, Error> {
    let mut lines = lines_of(existing);
    let end = lines.len();
    set_keys(&mut lines, 0, end, "", pairs, overwrite)
}

fn set_keys(
    lines: &mut Vec<String>,
    start: usize,
    end: usize,
    what: &str,
    pairs: &[(&str, String)],
    overwrite: bool,
) -> Result<Merged, Error> {
    let mut changed = false;
    let mut insert_at = start;
    for (i, l) in lines.iter().enumerate().take(end).skip(start) {
        if key_value(l).is_some() || l.starts_with([' ', '\t']) {
            insert_at = i + 1;
        }
    }
    let mut added = Vec::new();
    for (key, value) in pairs {
        let found = (start..end)
            .find(|&i| key_value(&lines[i]).is_some_and(|(k, _)| k.eq_ignore_ascii_case(key)));
        match found {
            Some(i) => {
                let same = key_value(&lines[i]).is_some_and(|(_, v)| v == value);
                if same {
                    continue;
                }
                if !overwrite {
                    return Err(refused(format!(
                        "{what}{key} is already set to a different value; set overwrite: true to replace it"
                    )));
                }
                lines[i] = format!("{key} = {value}");
                changed = true;
            }
            None => {
                added.push(format!("{key} = {value}"));
                changed = true;
            }
        }
    }
    if !changed {
        return Ok(Merged::Same);
    }
    for (n, l) in added.into_iter().enumerate() {
        lines.insert(insert_at + n, l);
    }
    Ok(Merged::Write(join(lines)))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::provider::merged_text as text;

    fn p(k: &'static str, v: &str) -> (&'static str, String) {
        (k, v.to_string())
    }

    #[test]
    fn new_file_and_new_section() {
        assert_eq!(
            text(merge(None, "default", &[p("a", "1"), p("b", "2")], false).expect("ok")),
            "[default]\na = 1\nb = 2\n"
        );
        let existing = "# mine\n[other]\na = 9\n  nested = x\n";
        assert_eq!(
            text(merge(Some(existing), "default", &[p("a", "1")], false).expect("ok")),
            "# mine\n[other]\na = 9\n  nested = x\n\n[default]\na = 1\n"
        );
    }

    #[test]
    fn existing_section_keeps_other_keys() {
        let existing = "[default]\nregion = eu\n[x]\nk = v\n";
        assert_eq!(
            text(merge(Some(existing), "default", &[p("output", "json")], false).expect("ok")),
            "[default]\nregion = eu\noutput = json\n[x]\nk = v\n"
        );
        assert!(matches!(
            merge(Some(existing), "default", &[p("REGION", "eu")], false),
            Ok(Merged::Same)
        ));
    }

    #[test]
    fn conflict_names_the_key_not_the_value() {
        let existing = "[default]\naws_secret_access_key = old-canary\n";
        let Err(e) = merge(
            Some(existing),
            "default",
            &[p("aws_secret_access_key", "new-canary")],
            false,
        ) else {
            panic!("expected a conflict");
        };
        assert!(
            e.what.contains("[default] aws_secret_access_key") && !e.what.contains("canary"),
            "{e}"
        );
        assert_eq!(
            text(
                merge(
                    Some(existing),
                    "default",
                    &[p("aws_secret_access_key", "new")],
                    true
                )
                .expect("ok")
            ),
            "[default]\naws_secret_access_key = new\n"
        );
    }

    #[test]
    fn flat_file() {
        assert_eq!(
            text(merge_flat(None, &[p("api_key", "k")], false).expect("ok")),
            "api_key = k\n"
        );
        assert!(matches!(
            merge_flat(Some("api_key = k\n"), &[p("api_key", "k")], false),
            Ok(Merged::Same)
        ));
        assert!(merge_flat(Some("api_key = j\n"), &[p("api_key", "k")], false).is_err());
    }
}

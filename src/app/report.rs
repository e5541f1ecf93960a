//! The tables `check` and `status` print: `check`'s rows (name, source, destination, masked
//! value, status and reason code) and text columns.

use crate::error::Kind;
use crate::manifest;
use crate::resolve::Resolution;
use crate::settings::Settings;

pub(super) struct Row {
    pub(super) name: String,
    pub(super) source: String,
    pub(super) destination: Vec<String>,
    pub(super) value: String,
    pub(super) status: String,
    /// The reason code of a row that is not ok.
    pub(super) reason: Option<&'static str>,
}

impl Row {
    pub(super) fn of(r: &Resolution, s: &Settings) -> Row {
        let mut dest = Vec::new();
        match &r.settings.file {
            _ if s.env_only => {}
            manifest::FileTarget::Default => {
                dest.push(s.output_dir.join(r.name.as_str()).display().to_string())
            }
            manifest::FileTarget::Path(p) => dest.push(p.display().to_string()),
            manifest::FileTarget::Disabled => {}
        }
        // As the plan has it: env only delivers a secret without `env:` under its own name.
        let env_only_name = s.env_only.then_some(r.name.as_str());
        if let Some(v) = r.settings.env.as_deref().or(env_only_name) {
            dest.push(format!("env:{v}"));
        }
        let reason = r.problem.as_ref().map(|e| e.reason());
        // `check --offline`: a remote source's value is a placeholder, neither shown nor judged.
        let uncontacted = s.offline && r.origin.as_ref().is_some_and(|o| !o.kind.is_local());
        let status = match (&r.value, &r.problem) {
            (Some(_), None) if uncontacted => crate::source::offline::NOT_CONTACTED.to_string(),
            (_, Some(e)) if e.kind == Kind::Unavailable => "missing".to_string(),
            (_, Some(e)) => format!("error: {}", e.what),
            (Some(v), None) => match &s.mask {
                Some(rules) if v.len() < rules.min_length => format!(
                    "ok, not masked (shorter than mask_min_length {})",
                    rules.min_length
                ),
                Some(_) if v.len() > crate::mask::MAX_LENGTH => {
                    "ok, not masked (longer than 64 KiB)".to_string()
                }
                _ => "ok".to_string(),
            },
            (None, None) => "optional, missing".to_string(),
        };
        Row {
            name: r.name.to_string(),
            source: r
                .origin
                .as_ref()
                .map_or_else(|| "-".to_string(), ToString::to_string),
            destination: dest,
            value: r.value.as_ref().filter(|_| !uncontacted).map_or_else(
                || "-".to_string(),
                |v| {
                    if s.show_prefix {
                        v.prefix_shown()
                    } else {
                        v.masked()
                    }
                },
            ),
            status,
            reason,
        }
    }
}

pub(super) fn table(rows: &[Row]) -> String {
    let header = ["NAME", "SOURCE", "DESTINATION", "VALUE", "STATUS"];
    let dests: Vec<String> = rows
        .iter()
        .map(|r| {
            if r.destination.is_empty() {
                "-".to_string()
            } else {
                r.destination.join(", ")
            }
        })
        .collect();
    let cells: Vec<[&str; 5]> = rows
        .iter()
        .zip(&dests)
        .map(|(r, dest)| {
            [
                r.name.as_str(),
                r.source.as_str(),
                dest.as_str(),
                r.value.as_str(),
                r.status.as_str(),
            ]
        })
        .collect();
    let lines: Vec<[&str; 5]> = std::iter::once(header).chain(cells).collect();
    columns(&lines)
}

/// Rows as text columns: each cell padded to its column's width and two spaces, the last cell
/// as it is, trailing blanks trimmed.
pub(crate) fn columns<S: AsRef<str>, const N: usize>(rows: &[[S; N]]) -> String {
    let mut width = [0usize; N];
    for r in rows {
        for (w, s) in width.iter_mut().zip(r) {
            *w = (*w).max(s.as_ref().chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, (s, w)) in r.iter().zip(width).enumerate() {
            let s = s.as_ref();
            if i + 1 == N {
                line.push_str(s);
            } else {
                line.push_str(&format!("{s:<w$}  "));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

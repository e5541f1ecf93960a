//! Merging into files that already exist: read them without following a link and size-capped,
//! then keep what is theirs and set what is ours, a different value for one of our keys being a
//! conflict unless the instance says `overwrite: true`.

use super::{Values, docker, gh, ini, netrc};
use crate::error::{Error, Kind};
use crate::manifest::kinds::{FileSpec, Format, Section};
use crate::manifest::providers::Instance;
use crate::secret::Secret;

/// How a merge came out.
pub(crate) enum Merged {
    /// The file already says exactly this: nothing to write.
    Same,
    /// New content for the file.
    Write(Vec<u8>),
}

/// A merge result as text, `<same>` when nothing changes (the merge modules' tests).
#[cfg(test)]
pub(crate) fn merged_text(m: Merged) -> String {
    match m {
        Merged::Write(b) => String::from_utf8(b).expect("utf8"),
        Merged::Same => "<same>".into(),
    }
}

/// A file we cannot write as asked: a conflict with what is there, or a file we cannot read as
/// its format (73, like every other file that cannot be made).
pub(super) fn refused(what: impl Into<String>) -> Error {
    Error::new(Kind::CantCreate, what)
}

/// A whole-file value: the same bytes are a no-op, other bytes a conflict unless `overwrite`.
pub(super) fn whole(
    existing: Option<&Secret>,
    new: &[u8],
    overwrite: bool,
) -> Result<Merged, Error> {
    match existing {
        Some(e) if e.expose() == new => Ok(Merged::Same),
        Some(_) if !overwrite => Err(refused(
            "exists with different content; set overwrite: true to replace it",
        )),
        _ => Ok(Merged::Write(new.to_vec())),
    }
}

pub(super) fn merge(
    spec: &FileSpec,
    inst: &Instance,
    values: &Values,
    current: Option<&Secret>,
) -> Result<Merged, Error> {
    let ow = inst.overwrite;
    let text = |s: &Secret| {
        String::from_utf8(s.expose().to_vec())
            .map_err(|_| refused("existing file is not UTF-8 text"))
    };
    let cur = current.map(text).transpose()?;
    let get = |f: &str| values.text(f);
    match &spec.format {
        Format::Whole { field, newline } => {
            let mut v = values
                .get(field)
                .map(|s| s.expose().to_vec())
                .unwrap_or_default();
            if *newline && !v.ends_with(b"\n") {
                v.push(b'\n');
            }
            whole(current, &v, ow)
        }
        Format::JsonDocument(field) => {
            let v = values.get(field).map(Secret::expose).unwrap_or_default();
            match serde_json::from_slice::<serde_json::Value>(v) {
                Ok(serde_json::Value::Object(o))
                    if o.get("type").is_some_and(serde_json::Value::is_string) => {}
                _ => {
                    return Err(refused(format!(
                        "field {field} is not a JSON object with a \"type\" (a service-account or ADC file)"
                    )));
                }
            }
            whole(current, v, ow)
        }
        Format::Ini { section, keys } => {
            let profile = get("profile").unwrap_or_else(|| "default".into());
            let section = match section {
                Section::Profile => profile,
                Section::ConfigProfile if profile == "default" => profile,
                Section::ConfigProfile => format!("profile {profile}"),
                Section::Fixed(s) => (*s).to_string(),
            };
            let pairs: Vec<(&str, String)> = keys
                .iter()
                .filter_map(|(k, f)| get(f).map(|v| (*k, v)))
                .collect();
            ini::merge(cur.as_deref(), &section, &pairs, ow)
        }
        Format::KeyValue(keys) => {
            let pairs: Vec<(&str, String)> = keys
                .iter()
                .filter_map(|(k, f)| get(f).map(|v| (*k, v)))
                .collect();
            ini::merge_flat(cur.as_deref(), &pairs, ow)
        }
        Format::DockerAuths => docker::merge(
            cur.as_deref(),
            &get("registry").unwrap_or_default(),
            &get("username").unwrap_or_default(),
            &get("password").unwrap_or_default(),
            ow,
        ),
        Format::GhHosts => gh::merge(
            cur.as_deref(),
            &get("host").unwrap_or_default(),
            &get("token").unwrap_or_default(),
            get("user").as_deref(),
            ow,
        ),
        Format::Netrc => netrc::merge(
            cur.as_deref(),
            &get("host").unwrap_or_default(),
            &get("login").unwrap_or_default(),
            &get("api_key").unwrap_or_default(),
            ow,
        ),
        Format::Lines(field) => {
            let add = get(field).unwrap_or_default();
            let mut out = cur.clone().unwrap_or_default();
            let mut changed = false;
            for line in add.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
                if !out.lines().any(|l| l.trim_end() == line) {
                    if !out.is_empty() && !out.ends_with('\n') {
                        out.push('\n');
                    }
                    out.push_str(line);
                    out.push('\n');
                    changed = true;
                }
            }
            Ok(if changed {
                Merged::Write(out.into_bytes())
            } else {
                Merged::Same
            })
        }
    }
}

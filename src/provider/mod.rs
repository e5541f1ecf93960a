//! Providers: credentials delivered in the place and format each real tool reads.
//!
//! A provider instance (`secret_init.providers.<name>`, validated by
//! [`crate::manifest::providers`]) names a kind and maps the kind's fields to declared secrets (`fields:`) or, for non-secret settings, literals
//! (`values:`). Nothing here resolves anything: the instance's secrets are resolved with every
//! other declared secret, all-or-nothing, and only then [`build`] turns the values into the file
//! and env deliveries of the kind's row in the provider table (`manifest/kinds.rs`) that join the plain secrets' plan and are published in the same single
//! [`crate::deliver::file::publish`]. Existing files are read (never through a link, size-capped)
//! and merged: other profiles, registries, hosts and machines are kept; a different value already
//! there for a key we set is a conflict (exit 73) unless the instance says `overwrite: true`.

pub(crate) mod docker;
pub(crate) mod gh;
pub(crate) mod ini;
mod merge;
pub(crate) mod netrc;
mod paths;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::environ::Environ;
use crate::error::{Error, Errors, Kind};
use crate::manifest::kinds::{EnvValue, FileSpec};
use crate::manifest::kinds::{KindSpec, Open, Shape};
use crate::manifest::providers::{FieldSource, Instance};
use crate::plan::{EnvDelivery, FileDelivery, Plan};
use crate::resolve::Resolution;
use crate::secret::Secret;
use crate::settings::Settings;
pub(crate) use merge::Merged;
#[cfg(test)]
pub(crate) use merge::merged_text;
use merge::{merge, refused, whole};
use paths::expand;
pub(crate) use paths::locate;

/// Largest existing credentials file read for a merge.
pub(crate) const MAX_EXISTING_BYTES: u64 = 1024 * 1024;

/// One instance's field values, each checked for its format.
struct Values {
    map: BTreeMap<String, Secret>,
}

impl Values {
    fn get(&self, f: &str) -> Option<&Secret> {
        self.map.get(f)
    }

    fn text(&self, f: &str) -> Option<String> {
        self.map
            .get(f)
            .map(|v| String::from_utf8_lossy(v.expose()).into_owned())
    }
}

/// A field value that cannot be delivered (65): `why` completes "field F ...".
fn bad_value(why: &str) -> Error {
    Error::new(Kind::Data, why)
}

/// Trims one-line values (a token read from a file ends with a newline) and refuses control
/// characters, which would let a value inject a line into an INI, YAML or netrc file.
fn one_line(v: &Secret) -> Result<Secret, Error> {
    let b = v.expose();
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(end);
    let t = &b[start..end.max(start)];
    if t.is_empty() {
        return Err(bad_value("is empty"));
    }
    if t.iter().any(|c| c.is_ascii_control()) {
        return Err(bad_value("contains a line break or control character"));
    }
    if std::str::from_utf8(t).is_err() {
        return Err(bad_value("is not valid UTF-8"));
    }
    Ok(Secret::new(t.to_vec()))
}

/// Checks a one-line value against its field's [`Shape`].
fn check_shape(v: Secret, shape: Shape) -> Result<Secret, Error> {
    let text = std::str::from_utf8(v.expose()).map_err(|_| bad_value("is not valid UTF-8"))?;
    let ok = match shape {
        Shape::Text => true,
        Shape::Host => is_host_port(text),
        Shape::Registry => {
            let rest = text
                .strip_prefix("https://")
                .or_else(|| text.strip_prefix("http://"))
                .unwrap_or(text);
            is_host_port(rest.split('/').next().unwrap_or(""))
        }
    };
    match (ok, shape) {
        (true, _) => Ok(v),
        (false, Shape::Registry) => Err(bad_value(
            "is not a registry (host[:port][/path], optionally with https://)",
        )),
        (false, _) => Err(bad_value(
            "is not a host name (host[:port], no scheme or path)",
        )),
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`: DNS labels of letters, digits and `-`
/// (RFC 1123), at most 253 characters, or an IP address.
fn is_host_port(s: &str) -> bool {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after.strip_prefix(':') {
            Some(p) => ("", Some(p)),
            None if after.is_empty() => ("", None),
            None => return false,
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if port.is_some_and(|p| p.parse::<u16>().map_or(true, |n| n == 0)) {
        return false;
    }
    if s.starts_with('[') {
        return true;
    }
    host.len() <= 253
        && !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn gather(inst: &Instance, resolutions: &[Resolution]) -> Result<Values, Errors> {
    let mut errors = Errors::default();
    let mut map = BTreeMap::new();
    let specs: Vec<(&str, bool, bool, Shape)> = match inst.kind.open {
        Open::No => inst
            .kind
            .fields
            .iter()
            .map(|f| (f.name, f.multiline, f.required, f.shape))
            .collect(),
        // Open kinds: every field given is required; a file's content may be a whole document.
        Open::EnvVars | Open::FileNames => {
            let multiline = inst.kind.open == Open::FileNames;
            inst.fields
                .keys()
                .map(|k| (k.as_str(), multiline, true, Shape::Text))
                .collect()
        }
    };
    for (field, multiline, required, shape) in specs {
        let (raw, origin) = match inst.fields.get(field) {
            Some(FieldSource::Literal(s)) => (
                Some(Secret::new(s.clone().into_bytes())),
                "values".to_string(),
            ),
            Some(FieldSource::Secret(n)) => (
                resolutions
                    .iter()
                    .find(|r| r.name == n)
                    .and_then(|r| r.value.clone()),
                format!("secret {n}"),
            ),
            None => (
                inst.kind
                    .field(field)
                    .and_then(|f| f.default)
                    .map(|d| Secret::new(d.as_bytes().to_vec())),
                "default".to_string(),
            ),
        };
        let Some(raw) = raw else {
            if required {
                errors.push(Error::new(
                    Kind::Unavailable,
                    format!(
                        "provider \"{}\" ({origin}): required field {field} has no value",
                        inst.name
                    ),
                ));
            }
            continue;
        };
        let value = if multiline {
            if raw.is_empty() {
                errors.push(Error::new(
                    Kind::Data,
                    format!(
                        "provider \"{}\" ({origin}): field {field} is empty",
                        inst.name
                    ),
                ));
                continue;
            }
            raw
        } else {
            match one_line(&raw).and_then(|v| check_shape(v, shape)) {
                Ok(v) => v,
                Err(e) => {
                    errors.push(Error::new(
                        e.kind,
                        format!(
                            "provider \"{}\" ({origin}): field {field} {}",
                            inst.name, e.what
                        ),
                    ));
                    continue;
                }
            }
        };
        map.insert(field.to_string(), value);
    }
    errors.into_result()?;
    Ok(Values { map })
}

/// A file being assembled in memory: what was there, and what it will hold.
struct Pending {
    existing: Option<Secret>,
    current: Option<Secret>,
    mode: u32,
    owner: String,
}

/// What the providers add to a plan, and where each instance's files go (for reports).
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// `(instance, role, path, written?)` for every file an instance concerns.
    pub files: Vec<(String, String, PathBuf, bool)>,
}

/// Turns resolved values into provider deliveries and adds them to `plan`: files merged with
/// what is on disk, env vars checked like any other. Nothing is written here. Without
/// `with_files` only env deliveries are built (`secret-init env` reads no credentials files).
pub(crate) fn build(
    instances: &[Instance],
    resolutions: &[Resolution],
    env: &Environ,
    settings: &Settings,
    plan: &mut Plan,
    with_files: bool,
) -> Result<Outcome, Errors> {
    let mut errors = Errors::default();
    let mut files: BTreeMap<PathBuf, Pending> = BTreeMap::new();
    let mut outcome = Outcome::default();
    for inst in instances {
        let values = match gather(inst, resolutions) {
            Ok(v) => v,
            Err(e) => {
                errors.0.extend(e.0);
                continue;
            }
        };
        let lookup = |f: &str| values.text(f);
        let mut paths: Vec<Option<PathBuf>> = Vec::new();
        let targets: Vec<(String, PathBuf, u32, Option<&FileSpec>)> = match inst.kind.open {
            Open::FileNames => {
                let dir = match expand(
                    inst.path.as_deref().unwrap_or_default(),
                    env,
                    &format!("provider \"{}\" path", inst.name),
                ) {
                    Ok(d) => d,
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                };
                values
                    .map
                    .keys()
                    .map(|k| (k.clone(), dir.join(k), 0o600, None))
                    .collect()
            }
            _ => {
                let mut t = Vec::new();
                for spec in inst.kind.files {
                    if values.get(spec.needs).is_none() {
                        paths.push(None);
                        continue;
                    }
                    match locate(spec, env, &lookup) {
                        Ok((p, _)) => {
                            paths.push(Some(p.clone()));
                            t.push((spec.role.to_string(), p, spec.mode, Some(spec)));
                        }
                        Err(e) => {
                            paths.push(None);
                            errors.push(Error::new(
                                e.kind,
                                format!("provider \"{}\": {}", inst.name, e.what),
                            ));
                        }
                    }
                }
                t
            }
        };
        for (role, path, mode, spec) in targets.into_iter().filter(|_| with_files) {
            let label = format!("provider \"{}\" ({})", inst.name, path.display());
            if plan.files.iter().any(|f| f.path == path) || plan.unchanged.contains(&path) {
                errors.push(Error::new(
                    Kind::Data,
                    format!("{label}: secret file delivery already writes this path"),
                ));
                continue;
            }
            let pending = match files.entry(path.clone()) {
                std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    match crate::fsx::read_existing(&path, MAX_EXISTING_BYTES) {
                        Ok(existing) => {
                            let existing = existing.map(|(s, _)| s);
                            v.insert(Pending {
                                current: existing.clone(),
                                existing,
                                mode,
                                owner: inst.name.clone(),
                            })
                        }
                        Err(why) => {
                            errors.push(Error::new(Kind::CantCreate, format!("{label}: {why}")));
                            continue;
                        }
                    }
                }
            };
            if pending.mode != mode {
                errors.push(Error::new(
                    Kind::Data,
                    format!(
                        "{label}: also written by provider \"{}\" with another mode",
                        pending.owner
                    ),
                ));
                continue;
            }
            let merged = match spec {
                None => whole(
                    pending.current.as_ref(),
                    values.get(&role).map(Secret::expose).unwrap_or_default(),
                    inst.overwrite,
                ),
                Some(spec) => merge(spec, inst, &values, pending.current.as_ref()),
            };
            match merged {
                Ok(Merged::Same) => outcome.files.push((inst.name.clone(), role, path, false)),
                Ok(Merged::Write(bytes)) => {
                    pending.current = Some(Secret::new(bytes));
                    outcome.files.push((inst.name.clone(), role, path, true));
                }
                Err(e) => errors.push(Error::new(e.kind, format!("{label}: {}", e.what))),
            }
        }
        if inst.env {
            add_env(inst, &values, &paths, settings, plan, &mut errors);
        }
    }
    errors.into_result()?;
    for (path, p) in files {
        let changed = match (&p.existing, &p.current) {
            (Some(a), Some(b)) => a != b,
            (None, Some(_)) => true,
            _ => false,
        };
        if let (true, Some(content)) = (changed, p.current) {
            plan.files.push(FileDelivery {
                secret: format!("provider:{}", p.owner),
                path,
                content,
                mode: p.mode,
                owner: None,
            });
        } else {
            plan.unchanged.push(path);
        }
    }
    Ok(outcome)
}

/// Every file the instances may write, from the manifest alone (no value is needed): the
/// kind's files whose field is mapped, a `files` instance's file per field. A destination that
/// depends on a value (`{key_name}`) or cannot be located is left out: it is no file secret-init
/// reads for itself. These are outputs, never secret-init's own inputs (see `source::Outputs`).
pub(crate) fn destinations(instances: &[Instance], env: &Environ) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for inst in instances {
        match inst.kind.open {
            Open::FileNames => {
                if let Ok(dir) = expand(inst.path.as_deref().unwrap_or_default(), env, "path") {
                    out.extend(inst.fields.keys().map(|k| dir.join(k)));
                }
            }
            _ => {
                for spec in inst.kind.files {
                    if inst.fields.contains_key(spec.needs)
                        && let Ok((p, _)) = locate(spec, env, &|_| None)
                    {
                        out.push(p);
                    }
                }
            }
        }
    }
    out
}

fn add_env(
    inst: &Instance,
    values: &Values,
    paths: &[Option<PathBuf>],
    settings: &Settings,
    plan: &mut Plan,
    errors: &mut Errors,
) {
    let pairs: Vec<(String, Secret)> = match inst.kind.open {
        Open::EnvVars => values
            .map
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        _ => inst
            .kind
            .env
            .iter()
            .filter_map(|e| {
                let v = match e.value {
                    EnvValue::Field(f) => values.get(f).cloned(),
                    EnvValue::PathOf(i) => paths
                        .get(i)
                        .and_then(Option::as_ref)
                        .map(|p| Secret::new(p.as_os_str().as_encoded_bytes().to_vec())),
                };
                v.map(|v| (e.var.to_string(), v))
            })
            .collect(),
    };
    for (var, value) in pairs {
        let label = format!("provider \"{}\" (env:{var})", inst.name);
        if let Err(e) = crate::plan::check_env(&var, &value, settings.allow_dangerous_env) {
            errors.push(Error::new(e.kind, format!("{label}: {}", e.what)));
        } else if let Some(other) = plan.env.iter().find(|d| d.var == var) {
            errors.push(Error::new(
                Kind::Data,
                format!("{label}: already delivered by {}", other.secret),
            ));
        } else {
            plan.env.push(EnvDelivery {
                var,
                secret: format!("provider:{}", inst.name),
                value,
            });
        }
    }
}

/// Destinations for `secret-init providers`: each file of a kind with its resolved path (using
/// defaults for fields like `key_name`) and what decided it.
pub(crate) fn describe_files(
    kind: &KindSpec,
    env: &Environ,
    inst: Option<&Instance>,
) -> Vec<(String, String)> {
    let lookup = |f: &str| -> Option<String> {
        if let Some(FieldSource::Literal(v)) = inst.and_then(|i| i.fields.get(f)) {
            return Some(v.clone());
        }
        kind.field(f).and_then(|s| s.default).map(str::to_string)
    };
    if kind.open == Open::FileNames {
        let dir = inst.and_then(|i| i.path.as_deref()).unwrap_or("PATH");
        return inst
            .map(|i| {
                i.fields
                    .keys()
                    .map(|k| {
                        (
                            k.clone(),
                            format!("{}/{k} (0600)", dir.trim_end_matches('/')),
                        )
                    })
                    .collect()
            })
            .unwrap_or_else(|| vec![("file".into(), "<path>/<field> (0600)".into())]);
    }
    kind.files
        .iter()
        .map(|spec| {
            let dest = match locate(spec, env, &lookup) {
                Ok((p, by)) => format!("{} ({:04o}; from {by})", p.display(), spec.mode),
                Err(e) => format!("unresolved: {}", e.what),
            };
            (spec.role.to_string(), dest)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_shapes() {
        for ok in [
            "api.wandb.ai",
            "github.example.com:8443",
            "localhost",
            "10.0.0.1",
            "[::1]:443",
        ] {
            assert!(is_host_port(ok), "{ok}");
        }
        for bad in [
            "https://api.wandb.ai",
            "a b",
            "host/path",
            "",
            "-x.com",
            "h:0",
            "h:99999",
            "a..b",
        ] {
            assert!(!is_host_port(bad), "{bad}");
        }
        let v = |s: &str| Secret::new(s.as_bytes().to_vec());
        assert!(check_shape(v("https://index.docker.io/v1/"), Shape::Registry).is_ok());
        assert!(check_shape(v("ghcr.io"), Shape::Registry).is_ok());
        assert!(check_shape(v("https://"), Shape::Registry).is_err());
        assert!(check_shape(v("https://api.wandb.ai"), Shape::Host).is_err());
    }
    use std::ffi::OsString;

    fn environ(pairs: &[(&str, &str)]) -> Environ {
        Environ::new(
            pairs
                .iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v)))
                .collect(),
        )
    }

    fn files_of(kind: &str) -> &'static [FileSpec] {
        let kind = crate::manifest::kinds::kind(kind).expect("kind");
        kind.files
    }

    fn hf_path(pairs: &[(&str, &str)]) -> (PathBuf, &'static str) {
        let spec = &files_of("huggingface")[0];
        locate(spec, &environ(pairs), &|_| None).expect("locate")
    }

    #[test]
    fn destinations_follow_the_tools_precedence() {
        let home = ("HOME", "/h");
        assert_eq!(
            hf_path(&[home]),
            (PathBuf::from("/h/.cache/huggingface/token"), "HOME")
        );
        assert_eq!(
            hf_path(&[home, ("XDG_CACHE_HOME", "/x")]).0,
            PathBuf::from("/x/huggingface/token")
        );
        assert_eq!(
            hf_path(&[home, ("XDG_CACHE_HOME", "/x"), ("HF_HOME", "/f")]).0,
            PathBuf::from("/f/token")
        );
        assert_eq!(
            hf_path(&[home, ("HF_HOME", "/f"), ("HF_TOKEN_PATH", "~/t")]),
            (PathBuf::from("/h/t"), "HF_TOKEN_PATH")
        );
        // An empty override is unset, as the tools treat it.
        assert_eq!(
            hf_path(&[home, ("HF_HOME", "")]).0,
            PathBuf::from("/h/.cache/huggingface/token")
        );
        let kube = &files_of("kubernetes")[0];
        let (p, by) =
            locate(kube, &environ(&[home, ("KUBECONFIG", ":/a:/b")]), &|_| None).expect("ok");
        assert_eq!((p, by), (PathBuf::from("/a"), "KUBECONFIG"));
        let ssh = &files_of("ssh")[1];
        let (p, _) = locate(ssh, &environ(&[home]), &|_| Some("id_x".into())).expect("ok");
        assert_eq!(p, PathBuf::from("/h/.ssh/id_x.pub"));
        assert!(locate(ssh, &environ(&[home]), &|_| Some("../x".into())).is_err());
        assert!(locate(kube, &environ(&[("KUBECONFIG", "rel")]), &|_| None).is_err());
        assert!(locate(kube, &environ(&[]), &|_| None).is_err());
    }

    #[test]
    fn one_line_values() {
        let ok =
            |s: &str| one_line(&Secret::new(s.as_bytes().to_vec())).map(|v| v.expose().to_vec());
        assert_eq!(ok("  tok\r\n"), Ok(b"tok".to_vec()));
        assert!(ok("a\nb").is_err());
        assert!(ok("a\tb").is_err());
        assert!(ok(" \n").is_err());
        assert!(one_line(&Secret::new(vec![0xff, b'a'])).is_err());
    }

    #[test]
    fn merges_never_panic_on_odd_files() {
        let odd = [
            "",
            "\n",
            "[",
            "[]",
            "[default",
            "=",
            ":",
            "machine",
            "machine h",
            "machine h login",
            "h:",
            "h:\n\t",
            "ü[ü]=ü\n  ü",
            "\u{feff}[default]\nk=v",
            "{}",
            "[1,2]",
            "{\"auths\": 3}",
            "{\"auths\": {\"r\": 5}}",
            "github.com:\n    oauth_token",
            "\"github.com\":\n  oauth_token: 'a''b'\n",
            "macdef x\nmachine h login u password p",
            "default login a password b",
        ];
        for text in odd {
            for ow in [false, true] {
                let _ = ini::merge(Some(text), "default", &[("k", "v".into())], ow);
                let _ = ini::merge_flat(Some(text), &[("k", "v".into())], ow);
                let _ = docker::merge(Some(text), "r", "u", "p", ow);
                let _ = gh::merge(Some(text), "github.com", "t", Some("u"), ow);
                let _ = netrc::merge(Some(text), "h", "u", "p", ow);
            }
        }
    }
}

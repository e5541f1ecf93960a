//! Templates: config files rendered from secrets (`secret_init.templates`), in Jinja2 syntax by
//! minijinja, published in the same all-or-nothing set as every other file.
//!
//! Vault Agent and consul-template render a missing key as `<no value>` unless told otherwise
//! (vault#18433, consul-template#972) and leave escaping to the user. Here:
//!
//! - The only variable is `secrets`, an object holding the declared secrets (nothing from the
//!   process environment). Looking up a name that is not declared, or declared but without a
//!   value, fails the lookup itself, so no filter (`tojson`, `urlencode`, `default`) ever sees an
//!   undefined value; every other undefined variable is an error too (strict mode).
//! - The escaping filters of [`filters`] replace the engine's `tojson` and `urlencode`.
//! - A fuel budget bounds the work a template can make the engine do, an output cap bounds what
//!   it writes, and a recursion limit bounds includes: a runaway template is exit 65, never a hang.
//! - A template file is opened beneath its directory (`openat2(RESOLVE_BENEATH)`, as the file
//!   source reads a Kubernetes volume) and read by the config reader (size cap, regular files
//!   only); `{% include %}` loads only names inside that same directory, the same way. Inline
//!   templates include nothing. There is no other filesystem or network access.
//! - Engine messages can quote template source or values. Only syntax errors (about the
//!   template's text, compiled before any value exists) and our own value-free messages are
//!   shown; any other engine error is reported by its kind alone, and a message that would still
//!   contain a secret value is withheld whole.
//! - The rendered bytes are written into a buffer that is wiped when it grows and when the
//!   delivery is dropped. Copies the engine makes while evaluating (the values it holds, the
//!   results of filters) are ordinary allocations and are not wiped.

pub(crate) mod filters;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value, ValueKind};
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use zeroize::Zeroizing;

use crate::error::{Error, Errors, Kind};
use crate::order::CollectOrdered;
use crate::plan::{FileDelivery, Plan};
use crate::resolve::Resolution;
use crate::secret::Secret;

pub(crate) use crate::manifest::templates::{Body, Template};
use filters::{OURS, ours};

/// Largest rendered file, in bytes (as large as a secret file may be by default).
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// The work budget of one render, in minijinja fuel (one instruction, or 64 bytes of data
/// produced, checked before a known-size allocation). A real config template uses a few
/// thousand; a runaway loop stops in well under a second, and no render can build more than
/// about 64 MB of strings.
pub(crate) const FUEL: u64 = 1_000_000;

/// How deep includes may nest.
const RECURSION_LIMIT: usize = 32;

/// A rendered template, ready to publish.
#[derive(Debug)]
pub struct Rendered {
    /// The rendered bytes (wiped on drop).
    pub content: Secret,
    /// The secrets it looked up, in name order.
    pub used: Vec<String>,
}

/// The declared secrets a template can see: name → value (`None`: declared, but no value).
#[derive(Default)]
pub struct Secrets(BTreeMap<String, Option<Secret>>);

impl Secrets {
    /// The values of `resolutions` (every declared secret, with or without a value).
    pub fn of(resolutions: &[Resolution]) -> Secrets {
        Secrets(
            resolutions
                .iter()
                .map(|r| (r.name.to_string(), r.value.clone()))
                .collect_ordered(),
        )
    }

    /// A set from literal pairs (tests, fuzzing).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, Option<&'a [u8]>)>) -> Secrets {
        Secrets(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.map(|v| Secret::new(v.to_vec()))))
                .collect(),
        )
    }

    /// Whether `text` contains any value of at least `min` bytes, or equals any value at all.
    fn betrays(&self, text: &[u8], min: usize) -> bool {
        self.0.values().flatten().any(|v| {
            let v = v.expose();
            text == v || (v.len() >= min && text.windows(v.len()).any(|w| w == v))
        })
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets(<{} declared>)", self.0.len())
    }
}

/// The `secrets` variable: lookups by name only, no enumeration, no printing.
struct SecretsObject {
    secrets: Arc<Secrets>,
    used: Mutex<BTreeSet<String>>,
}

impl fmt::Debug for SecretsObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("secrets")
    }
}

impl Object for SecretsObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        // An invalid value fails the lookup instruction itself, before any filter sees it.
        let Some(name) = key.as_str() else {
            return Some(ours("secrets[...]: a secret name is a string").into());
        };
        if self.secrets.betrays(name.as_bytes(), usize::MAX) {
            return Some(ours("secrets[...]: the name looked up is itself a secret value").into());
        }
        let shown = crate::log::escape_controls(&name.chars().take(80).collect::<String>());
        Some(match self.secrets.0.get(name) {
            Some(Some(v)) => {
                if let Ok(mut used) = self.used.lock() {
                    used.insert(name.to_string());
                }
                match std::str::from_utf8(v.expose()) {
                    Ok(text) => Value::from(text),
                    Err(_) => Value::from_bytes(v.expose().to_vec()),
                }
            }
            Some(None) => ours(format!(
                "secret \"{shown}\" has no value (it was not found)"
            ))
            .into(),
            None => ours(format!(
                "secret \"{shown}\" is not declared under secrets: in config.yaml"
            ))
            .into(),
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::NonEnumerable
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secrets>")
    }
}

/// An `io::Write` into a buffer that holds at most [`MAX_OUTPUT_BYTES`] and wipes every buffer
/// it outgrows (a plain `Vec` would leave the old contents in freed memory when it reallocates).
struct Output {
    buf: Zeroizing<Vec<u8>>,
    over: bool,
}

impl std::io::Write for Output {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let need = self.buf.len() + data.len();
        if need > MAX_OUTPUT_BYTES {
            self.over = true;
            return Err(std::io::Error::other("output cap"));
        }
        if need > self.buf.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(
                need.max(self.buf.capacity() * 2).min(MAX_OUTPUT_BYTES),
            ));
            bigger.extend_from_slice(&self.buf);
            // The old buffer is wiped as it drops.
            self.buf = bigger;
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Renders `t` with `secrets`. Errors name the template and the line, never a value.
pub fn render(t: &Template, secrets: &Arc<Secrets>) -> Result<Rendered, Error> {
    let place = format!("template \"{}\"", t.name);
    let (text, dir) = match &t.body {
        Body::Inline(text) => (text.clone(), None),
        Body::Source(path) => {
            let (text, dir) = read_source(path).map_err(|e| e.with_source(place.clone()))?;
            (text, Some(dir))
        }
    };
    let env = environment(dir)?;
    let main = t.name.as_str();
    let object = Arc::new(SecretsObject {
        secrets: Arc::clone(secrets),
        used: Mutex::new(BTreeSet::new()),
    });
    let ctx = minijinja::context! { secrets => Value::from_dyn_object(Arc::clone(&object)) };
    let mut out = Output {
        buf: Zeroizing::new(Vec::new()),
        over: false,
    };
    let result = env
        .template_from_named_str(main, &text)
        .and_then(|tmpl| tmpl.render_captured_to(ctx, &mut out).map(|_| ()));
    drop(env);
    if let Err(e) = result {
        return Err(engine_error(&t.name, &e, out.over, secrets));
    }
    let used = object
        .used
        .lock()
        .map(|u| u.iter().cloned().collect())
        .unwrap_or_default();
    Ok(Rendered {
        content: Secret::new(std::mem::take(&mut *out.buf)),
        used,
    })
}

/// The engine, configured: strict undefined, no auto-escaping, our filters, fuel, the loader.
fn environment(dir: Option<OwnedFd>) -> Result<Environment<'static>, Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // A destination named *.html must not get HTML escaping: the filters say what escaping is.
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
        .map_err(|_| Error::new(Kind::Data, "template syntax configuration refused"))?;
    env.set_syntax(syntax);
    filters::install(&mut env);
    env.set_formatter(|out, state, value| {
        if value.downcast_object_ref::<SecretsObject>().is_some() {
            return Err(ours(
                "`secrets` itself cannot be written; write secrets.NAME",
            ));
        }
        if value.kind() == ValueKind::Bytes
            && std::str::from_utf8(value.as_bytes().unwrap_or_default()).is_err()
        {
            return Err(ours(
                "a value that is not UTF-8 text cannot be written as is (use b64encode)",
            ));
        }
        minijinja::escape_formatter(out, state, value)
    });
    let dir = dir.map(Arc::new);
    env.set_loader(move |name: &str| match &dir {
        None => Err(ours(
            "include: an inline template includes nothing (use source: for a template file)",
        )),
        Some(fd) => read_include(fd, name).map(Some),
    });
    Ok(env)
}

/// Reads a template file: opened beneath its directory, by the config reader.
fn read_source(path: &Path) -> Result<(String, OwnedFd), Error> {
    let shown = path.display().to_string();
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Err(Error::new(
            Kind::Data,
            format!("source {shown}: not a file path"),
        ));
    };
    let dirfd = nix::fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| open_error(e, &shown))?;
    let fd = crate::fsx::open_beneath(&dirfd, name, crate::fsx::READ_FLAGS)
        .map_err(|e| open_error(e, &shown))?;
    let text = crate::manifest::read_config_file(std::fs::File::from(fd), &shown)
        .map_err(|e| Error::new(e.kind, format!("source {shown}: {}", e.what)))?;
    Ok((text, dirfd))
}

fn open_error(e: Errno, shown: &str) -> Error {
    let (kind, why) = match e {
        Errno::EACCES | Errno::EPERM => (Kind::Permission, "permission denied".to_string()),
        Errno::EXDEV => (
            Kind::Data,
            "a link that leaves its directory; refused".to_string(),
        ),
        Errno::ELOOP => (
            Kind::Data,
            "a symbolic link that cannot be followed safely; refused".to_string(),
        ),
        e => (Kind::Data, e.desc().to_string()),
    };
    Error::new(kind, format!("source {shown}: cannot read: {why}"))
}

/// Loads an `{% include %}`: a relative name inside the template's directory, nothing else.
fn read_include(dir: &OwnedFd, name: &str) -> Result<String, minijinja::Error> {
    let shown = crate::log::escape_controls(&name.chars().take(80).collect::<String>());
    let path = Path::new(name);
    if name.is_empty()
        || name.contains('\0')
        || path.is_absolute()
        || path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(ours(format!(
            "include \"{shown}\": only a relative name inside the template's directory may be included"
        )));
    }
    let fd = crate::fsx::open_beneath(dir, name, crate::fsx::READ_FLAGS).map_err(|e| {
        ours(format!(
            "include \"{shown}\": {}",
            open_error(e, &shown).what
        ))
    })?;
    crate::manifest::read_config_file(std::fs::File::from(fd), &shown)
        .map_err(|e| ours(format!("include \"{shown}\": {}", e.what)))
}

/// Our error for an engine failure: the template, the line, and a message that cannot hold a
/// value.
fn engine_error(main: &str, e: &minijinja::Error, over: bool, secrets: &Secrets) -> Error {
    // "could not render include" wraps the included template's own error: report that one.
    let mut e = e;
    while e.kind() == ErrorKind::BadInclude
        && let Some(inner) =
            std::error::Error::source(e).and_then(|s| s.downcast_ref::<minijinja::Error>())
    {
        e = inner;
    }
    let mut place = format!("template \"{main}\"");
    if let Some(file) = e.name().filter(|n| *n != main) {
        let shown = crate::log::escape_controls(file);
        if !secrets.betrays(file.as_bytes(), 4) {
            place.push_str(&format!(" (include \"{shown}\")"));
        }
    }
    if let Some(line) = e.line() {
        place.push_str(&format!(" line {line}"));
    }
    let detail = e.detail().unwrap_or_default();
    let what = if over {
        format!("the output is over the {MAX_OUTPUT_BYTES}-byte limit")
    } else if let Some(own) = detail.strip_prefix(OURS) {
        own.to_string()
    } else {
        match e.kind() {
            ErrorKind::OutOfFuel => {
                format!("the template ran out of its work budget ({FUEL} fuel): a runaway loop?")
            }
            // Compile-time messages: about the template's own text, before any value exists.
            ErrorKind::SyntaxError
            | ErrorKind::UnknownFilter
            | ErrorKind::UnknownTest
            | ErrorKind::UnknownFunction
                if !detail.is_empty() =>
            {
                format!("{}: {detail}", e.kind())
            }
            ErrorKind::InvalidOperation if detail == "recursion limit exceeded" => format!(
                "includes nested more than {RECURSION_LIMIT} deep (a template that includes itself?)"
            ),
            ErrorKind::UndefinedError => {
                "undefined value (the variables are secrets.NAME and the template's own)".into()
            }
            kind => kind.to_string(),
        }
    };
    let what = crate::log::escape_controls(&what);
    let what = if secrets.betrays(what.as_bytes(), 4) {
        "the engine's message was withheld: it would have shown a secret value".to_string()
    } else {
        what
    };
    Error::new(Kind::Data, what).with_source(place)
}

/// One template's outcome, for `check`.
pub(crate) struct Outcome<'a> {
    /// The template.
    pub template: &'a Template,
    /// What it rendered, or why it did not.
    pub result: Result<Rendered, Error>,
}

/// Renders every template with the resolved secrets (a function of the two alone, so a refresh
/// can call it again with new values).
pub(crate) fn render_all<'a>(
    templates: &'a [Template],
    resolutions: &[Resolution],
) -> Vec<Outcome<'a>> {
    let secrets = Arc::new(Secrets::of(resolutions));
    templates
        .iter()
        .map(|t| Outcome {
            template: t,
            result: render(t, &secrets),
        })
        .collect()
}

/// Renders every template and adds the files to `plan`, so they are published with the rest. A
/// destination that another delivery also writes is an error.
pub(crate) fn add_to_plan(
    plan: &mut Plan,
    templates: &[Template],
    resolutions: &[Resolution],
) -> Result<(), Errors> {
    if templates.is_empty() {
        // Nothing to render: no index of the planned files (a copy of every path and name).
        return Ok(());
    }
    let mut errors = Errors::default();
    let mut taken: BTreeMap<PathBuf, String> = plan
        .files
        .iter()
        .map(|f| (f.path.clone(), f.secret.clone()))
        .chain(
            plan.unchanged
                .iter()
                .map(|p| (p.clone(), "an unchanged file".into())),
        )
        .collect_ordered();
    for o in render_all(templates, resolutions) {
        let t = o.template;
        let rendered = match o.result {
            Ok(r) => r,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let label = format!("template:{}", t.name);
        if let Some(other) = taken.insert(t.destination.clone(), label.clone()) {
            errors.push(
                Error::new(
                    Kind::Data,
                    format!("renders to {} as \"{other}\" does", t.destination.display()),
                )
                .with_source(format!("template \"{}\"", t.name)),
            );
            continue;
        }
        crate::log::debug!(
            "template \"{}\": rendered {} bytes for {} from {} secrets",
            t.name,
            rendered.content.len(),
            t.destination.display(),
            rendered.used.len()
        );
        plan.files.push(FileDelivery {
            secret: label,
            path: t.destination.clone(),
            content: rendered.content,
            mode: t.mode,
            // Validated with the manifest.
            owner: t
                .owner
                .as_deref()
                .and_then(|o| crate::manifest::parse_owner(o).ok()),
        });
    }
    errors.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inline(text: &str) -> Template {
        Template {
            name: "t".into(),
            destination: "/x/y".into(),
            body: Body::Inline(text.into()),
            mode: 0o600,
            owner: None,
        }
    }

    fn secrets() -> Arc<Secrets> {
        Arc::new(Secrets::from_pairs([
            ("db", Some(&b"canary-db-pass"[..])),
            ("with-dash", Some(&b"dash-value"[..])),
            ("absent", None),
            ("bin", Some(&b"\xff\x00canary-bin"[..])),
        ]))
    }

    fn ok(text: &str) -> String {
        let r = render(&inline(text), &secrets()).expect("renders");
        String::from_utf8(r.content.expose().to_vec()).expect("utf8")
    }

    fn err(text: &str) -> String {
        let e = render(&inline(text), &secrets()).expect_err("fails");
        assert_eq!(e.exit_code(), 65, "{e}");
        let msg = e.to_string();
        assert!(!msg.contains("canary"), "value in: {msg}");
        msg
    }

    #[test]
    fn lookups_and_used_names() {
        let r = render(
            &inline("a={{ secrets.db }} b={{ secrets[\"with-dash\"] }}\n"),
            &secrets(),
        )
        .expect("renders");
        assert_eq!(r.content.expose(), b"a=canary-db-pass b=dash-value\n");
        assert_eq!(r.used, ["db", "with-dash"]);
        assert_eq!(ok("{{ secrets.db | upper }}"), "CANARY-DB-PASS");
        assert_eq!(ok("{{ secrets.bin | b64encode }}"), "/wBjYW5hcnktYmlu");
    }

    #[test]
    fn an_undeclared_or_absent_name_is_an_error_whatever_filter_follows() {
        for text in [
            "{{ secrets.nope }}",
            "{{ secrets.nope | tojson }}",
            "{{ secrets.nope | urlencode }}",
            "{{ secrets.nope | default('x') }}",
            "{% if secrets.nope is defined %}x{% endif %}",
            "\n\n{{ secrets['nope'] | b64encode }}",
        ] {
            let m = err(text);
            assert!(m.contains("secret \"nope\" is not declared"), "{text}: {m}");
            assert!(m.starts_with("template \"t\" line "), "{m}");
        }
        assert!(err("\n\n{{ secrets['nope'] }}").contains("line 3"));
        assert!(err("{{ secrets.absent | tojson }}").contains("secret \"absent\" has no value"));
        assert!(err("{{ other }}").contains("undefined value"));
        assert!(err("{{ secrets[secrets.db] }}").contains("itself a secret value"));
    }

    #[test]
    fn no_message_shows_a_value() {
        for text in [
            "{{ secrets.db + 1 }}",
            "{{ secrets.db | int + [] }}",
            "{{ secrets.db.nomethod() }}",
            "{{ secrets.bin }}",
            "{{ secrets }}",
            "{% for x in secrets %}{% endfor %}",
            "{{ secrets.db | b64decode }}",
            "{% include secrets.db %}",
            "{{ range(secrets.db) }}",
            "{{ secrets.db | env_quote ~ secrets.db }}{{ 1 / 0 }}",
            "{{ secrets.db | join(secrets.db) | indent(secrets.db) }}",
        ] {
            err(text);
        }
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let m = err("ok\n{{ secrets.db \n");
        assert!(m.contains("syntax error") && m.contains("line 2"), "{m}");
        assert!(err("{% for %}").contains("syntax error"));
    }

    #[test]
    fn runaway_and_oversized_templates_stop() {
        let started = std::time::Instant::now();
        let m = err(
            "{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}",
        );
        assert!(
            m.contains("work budget") || m.contains("output is over"),
            "{m}"
        );
        let m =
            err("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}");
        assert!(m.contains("work budget"), "{m}");
        let m = err("{% for i in range(3000) %}{{ 'y' * 1000 }}{% endfor %}");
        assert!(m.contains("output is over the 1048576-byte limit"), "{m}");
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn inline_templates_include_nothing() {
        assert!(err("{% include 'x' %}").contains("includes nothing"));
    }

    #[test]
    fn trailing_newline_is_kept() {
        assert_eq!(ok("a\n"), "a\n");
    }
}

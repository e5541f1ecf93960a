//! `secret_init.vault.dynamic`: dynamic secrets, one request each whose response's fields are
//! published together (docs/vault.md, "Dynamic secrets"), as written and checked.

use std::collections::BTreeMap;

use super::check_path;
use crate::error::{Error, Kind};
use crate::source::transport::ScalarText;

crate::source::section::raw_section! {
    /// One `secret_init.vault.dynamic` entry as written.
    pub struct DynamicFileSettings {
        /// The API path, e.g. `pki/issue/web` or `database/creds/app`.
        pub path: Option<String>,
        /// `POST` (also `PUT`, the same to Vault) or `GET`; default `POST` with `data`, else `GET`.
        pub method: Option<String>,
        /// The request's parameters (strings or numbers).
        pub data: Option<BTreeMap<String, ScalarText>>,
        /// Delivered file suffix → field of the response's `data`.
        pub fields: Option<BTreeMap<String, String>>,
    }
}

/// One dynamic secret: a request whose response's fields are published as one set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dynamic {
    /// Its name: the files are `<output_dir>/<name>.<field>`.
    pub name: String,
    /// The API path.
    pub path: String,
    /// POST (true) or GET.
    pub post: bool,
    /// The request body's string fields.
    pub data: Vec<(String, String)>,
    /// Delivered file suffix → the response's `data` field.
    pub fields: Vec<(String, String)>,
}

/// A name that is safe as part of one file name: `[A-Za-z0-9_-]`, 1 to 64 bytes.
fn plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `secret_init.vault.dynamic`, checked: every entry has a path and at least one field, the
/// names make plain file names, the method is GET, POST or PUT.
pub(super) fn dynamic(
    d: Option<&BTreeMap<String, DynamicFileSettings>>,
) -> Result<Vec<Dynamic>, Error> {
    let mut out = Vec::new();
    for (name, f) in d.into_iter().flatten() {
        let at = format!(
            "secret_init.vault.dynamic.{}",
            crate::log::escape_controls(name)
        );
        let bad = |what: String| Error::new(Kind::Config, format!("{at}: {what}"));
        if !plain_name(name) {
            return Err(bad(
                "the name must be 1-64 letters, digits, _ or - (it names the files)".into(),
            ));
        }
        let path = f
            .path
            .as_deref()
            .ok_or_else(|| bad("path missing (e.g. pki/issue/web)".into()))?;
        let path = check_path(path, &format!("dynamic.{name}.path"))?;
        let data: Vec<(String, String)> = f
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect();
        let post = match f.method.as_deref().map(str::to_ascii_uppercase).as_deref() {
            None => !data.is_empty(),
            Some("POST" | "PUT") => true,
            Some("GET") if data.is_empty() => false,
            Some("GET") => return Err(bad("method GET takes no data".into())),
            Some(_) => return Err(bad("method: expected POST, PUT or GET".into())),
        };
        let fields: Vec<(String, String)> = f
            .fields
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if fields.is_empty() {
            return Err(bad(
                "fields missing (file suffix: response field, e.g. cert: certificate)".into(),
            ));
        }
        if let Some((k, _)) = fields.iter().find(|(k, v)| !plain_name(k) || v.is_empty()) {
            return Err(bad(format!(
                "fields.{}: the suffix must be 1-64 letters, digits, _ or -, the field non-empty",
                crate::log::escape_controls(k)
            )));
        }
        out.push(Dynamic {
            name: name.clone(),
            path,
            post,
            data,
            fields,
        });
    }
    Ok(out)
}

//! Reading a config file as YAML, bounded before parsing starts: regular files only, the size
//! cap, the UTF-8 check and BOM removal; then the parser's budgets on aliases, nodes and depth,
//! duplicate keys as errors, and error texts that never quote the document (a scalar in a
//! secrets map can be the secret itself).

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::MAX_CONFIG_BYTES;
use crate::error::{Error, Kind};

/// Reads a YAML config with the size cap, UTF-8 check and BOM removal applied.
pub(crate) fn read_config_text(path: &Path) -> Result<String, Error> {
    let src = path.display().to_string();
    // O_NONBLOCK: a FIFO in place of the file must not hang the start; it is refused below.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            // A config named on purpose (--config, SECRET_INIT_CONFIG) that is not there: 66.
            let kind = crate::error::io_kind(&e, Kind::NoInput);
            Error::cannot_read(kind, &e).with_source(src.clone())
        })?;
    read_config_file(file, &src)
}

/// Reads an open config file (or template): regular files only, the size cap, the UTF-8 check
/// and BOM removal applied.
pub(crate) fn read_config_file(file: std::fs::File, src: &str) -> Result<String, Error> {
    let src = src.to_string();
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(Error::new(Kind::Data, "not a regular file").with_source(src));
    }
    let bytes = crate::fsx::read_capped(file, MAX_CONFIG_BYTES)
        .map_err(|e| Error::cannot_read(Kind::Data, &e).with_source(src.clone()))?
        .ok_or_else(|| {
            Error::new(
                Kind::Data,
                format!("larger than the {MAX_CONFIG_BYTES}-byte limit"),
            )
            .with_source(src.clone())
        })?;
    // A UTF-8 byte-order mark is accepted and dropped (editors on Windows add one).
    let bytes = bytes
        .strip_prefix(b"\xef\xbb\xbf")
        .map(<[u8]>::to_vec)
        .unwrap_or(bytes);
    String::from_utf8(bytes).map_err(|e| {
        Error::new(
            Kind::Data,
            format!(
                "not valid UTF-8 at byte offset {}",
                e.utf8_error().valid_up_to()
            ),
        )
        .with_source(src)
    })
}

/// YAML parser options shared by every config we read: duplicates are errors (see
/// [`from_yaml`]), budgets are tight
/// (a manifest has tens of keys, not millions), and error messages carry no source snippet.
pub fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_nodes = 200_000;
    budget.max_events = 400_000;
    budget.max_depth = 64;
    budget.flow_nesting_limit = 64;
    budget.max_total_scalar_bytes = MAX_CONFIG_BYTES as usize;
    let mut opts = serde_saphyr::Options::default();
    opts.budget = Some(budget);
    // Aliases are legal YAML and Truss configs may use a few, but a manifest never needs a large
    // expansion: cap the replay so a billion-laughs document stops after ~10k replayed events.
    let mut aliases = serde_saphyr::options::AliasLimits::default();
    aliases.max_total_replayed_events = 10_000;
    aliases.max_replay_stack_depth = 16;
    opts.alias_limits = aliases;
    opts.with_snippet = false;
    // Every key reaches the tree's reader (`crate::tree`), which refuses any two that read as
    // the same name, a stricter rule than the parser's own (equal as YAML nodes); the parser
    // then keeps no set of the keys it has seen (most of a small manifest's parsing cost).
    opts.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    // `0400` stays the text `0400` (YAML 1.2 would read it as the decimal 400): a file mode is
    // written so in every Kubernetes manifest and means octal, and a value with a leading zero
    // (a PIN, an account number) means its digits as written.
    opts.leading_zero_numbers_as_strings = true;
    opts
}

/// Renders a YAML error without any text of the document: only the parser's reason and location.
pub(crate) fn yaml_error_text(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    // The first line is the reason and position; later lines (if any) would quote the document.
    redact_scalars(text.lines().next().unwrap_or("invalid YAML"))
}

/// Drops the scalar serde quotes in "invalid type/value" messages (`string "…"`, `integer `…``):
/// in a secrets map that scalar can be the secret itself (`secrets: hf_xxx`), so only its kind
/// is kept ("invalid type: string, expected a map ...").
pub(super) fn redact_scalars(line: &str) -> String {
    const KINDS: [(&str, char); 5] = [
        ("string \"", '"'),
        ("integer `", '`'),
        ("floating point `", '`'),
        ("character `", '`'),
        ("boolean `", '`'),
    ];
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some((at, open, close)) = KINDS
        .iter()
        .filter_map(|&(k, c)| rest.find(k).map(|i| (i, k, c)))
        .min_by_key(|t| t.0)
    {
        let body = &rest[at + open.len()..];
        // Strings are Debug-quoted: skip backslash escapes when looking for the closing quote.
        let mut end = None;
        let mut escaped = false;
        for (i, ch) in body.char_indices() {
            if escaped {
                escaped = false;
            } else if ch == '\\' && close == '"' {
                escaped = true;
            } else if ch == close {
                end = Some(i + ch.len_utf8());
                break;
            }
        }
        out.push_str(&rest[..at]);
        out.push_str(&open[..open.len() - 2]);
        // An unterminated quote: drop everything after it rather than guess.
        rest = end.map_or("", |e| &body[e..]);
    }
    out.push_str(rest);
    out
}

/// Reads YAML text into `T` in two steps: the YAML parser (with its budgets and duplicate-key
/// check) builds one generic tree, and `T` is read from that tree. The YAML deserializer is then
/// instantiated for a single type instead of once per settings struct, which is most of its
/// code size (about 250 KB of the static binary).
pub(crate) fn from_yaml<T: serde::de::DeserializeOwned>(
    text: &str,
    src: &str,
) -> Result<Option<T>, Error> {
    let tree: Option<serde_json::Value> = serde_saphyr::from_str_with_options::<
        Option<crate::tree::Tree>,
    >(text, yaml_options())
    .map(|t| t.map(|t| t.0))
    .map_err(|e| {
        Error::new(Kind::Data, format!("invalid YAML: {}", yaml_error_text(&e))).with_source(src)
    })?;
    match tree {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(tree) => T::deserialize(tree).map(Some).map_err(|e| {
            Error::new(
                Kind::Data,
                format!("invalid settings: {}", yaml_tree_error_text(&e)),
            )
            .with_source(src)
        }),
    }
}

/// A typed-read error as one line.
fn yaml_tree_error_text(e: &serde_json::Error) -> String {
    // serde quotes the offending scalar ("invalid type: string \"…\""); it may be a secret.
    redact_scalars(&crate::log::escape_controls(&e.to_string()))
}

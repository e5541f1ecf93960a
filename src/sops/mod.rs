//! SOPS files (sops 3.x, getsops/sops): YAML, JSON, dotenv, INI and binary, decrypted in-process.
//!
//! A file holds its values encrypted under one 256-bit data key (AES-256-GCM, `aes`), and in its
//! `sops` metadata (`meta`) that data key encrypted once for each master key (age, cloud KMS,
//! Vault transit), or split with Shamir across key groups (`shamir`). Opening a file is: read
//! the tree as sops reads it (`yaml`, `json`, `ini`, `dotenv` here), get the data key from the first
//! master key of each group the caller can open (the caller does the age or KMS call, once per
//! data key), then decrypt every value in document order and check the MAC over all of them
//! (`walk`) before any value is handed out. The format follows the file's name as in sops:
//! `.yaml`/`.yml`, `.json`, `.env`, `.ini`, anything else binary.

mod aes;
mod ini;
mod json;
pub(crate) mod meta;
mod shamir;
pub(crate) mod tree;
mod walk;
mod yaml;

use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Error, Kind};
use meta::{MasterKey, Metadata};
use tree::{Item, Node, Scalar};

/// The largest SOPS or age file read.
pub(crate) const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// A file's format, from its name as sops decides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// `.yaml`, `.yml`.
    Yaml,
    /// `.json`.
    Json,
    /// `.env`.
    Dotenv,
    /// `.ini`.
    Ini,
    /// Anything else: sops' binary store (JSON holding `data`).
    Binary,
}

impl Format {
    /// The format sops gives a file of this name.
    pub(crate) fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => Format::Yaml,
            Some("json") => Format::Json,
            Some("env") => Format::Dotenv,
            Some("ini") => Format::Ini,
            _ => Format::Binary,
        }
    }
}

/// A SOPS file as read, still encrypted.
pub(crate) struct Encrypted {
    format: Format,
    branches: Vec<Vec<Item>>,
    /// Its metadata.
    pub(crate) meta: Metadata,
}

/// A SOPS file whose MAC was verified: its values in clear (wiped when dropped).
pub(crate) struct Decrypted {
    format: Format,
    branches: Vec<Vec<Item>>,
    /// The positions of the first branch's entries, sorted by key (equal keys in document
    /// order): a lookup by name is a binary search, not a scan of the file.
    by_key: Vec<usize>,
}

/// The key of a map item (a comment has none).
fn key_of(item: &Item) -> Option<&str> {
    match item {
        Item::Entry(k, _) => Some(k),
        Item::Comment(_) => None,
    }
}

/// The positions of `items`' entries, sorted by key, equal keys in document order.
fn index(items: &[Item]) -> Vec<usize> {
    let mut by_key: Vec<usize> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(k) = key_of(item) else { continue };
        // After the equal keys already placed: document order among them. (An insertion, not a
        // sort: a few bytes of code, and the moves are one memmove each.)
        let at = by_key.partition_point(|&j| key_of(&items[j]).is_some_and(|o| o <= k));
        by_key.insert(at, i);
    }
    by_key
}

/// One step of a path into a decrypted tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step<'a> {
    /// A map's key.
    Key(&'a str),
    /// A list's element.
    Index(usize),
}

/// Takes the `sops` item out of `items`; only one may be there.
fn take_metadata(items: &mut Vec<Item>) -> Result<Option<Vec<Item>>, String> {
    let mut found = None;
    let mut err = None;
    items.retain_mut(|i| match i {
        Item::Entry(k, v) if k == "sops" => {
            match std::mem::replace(v, Node::Null) {
                Node::Map(m) if found.is_none() => found = Some(m),
                _ => err = Some("a second or malformed sops metadata entry".to_string()),
            }
            false
        }
        _ => true,
    });
    match err {
        Some(e) => Err(e),
        None => Ok(found),
    }
}

/// A dotenv file's lines as sops reads them: `#` comments, `KEY=VALUE` with `\n` for newlines.
fn read_dotenv(text: &str) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            items.push(Item::Comment(c.to_string()));
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: not KEY=VALUE", n + 1))?;
        items.push(Item::Entry(
            k.to_string(),
            Node::Scalar(Scalar::str(v.replace("\\n", "\n"))),
        ));
    }
    Ok(items)
}

impl Encrypted {
    /// Reads a file in `format`. Errors name a line or a key, never a value.
    pub(crate) fn parse(bytes: &[u8], format: Format) -> Result<Encrypted, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
        let (branches, meta) = match format {
            Format::Yaml => {
                let mut docs = yaml::read(text)?;
                let mut meta = None;
                for d in &mut docs {
                    if let Some(m) = take_metadata(d)? {
                        meta.get_or_insert(m);
                    }
                }
                (docs, meta)
            }
            Format::Json | Format::Binary => {
                let mut items = json::read(bytes)?;
                let meta = take_metadata(&mut items)?;
                if format == Format::Binary
                    && !matches!(items.as_slice(), [Item::Entry(k, _)] if k == "data")
                {
                    return Err("a sops binary file holds one \"data\" value".into());
                }
                (vec![items], meta)
            }
            Format::Ini => {
                let (items, flat) = ini::read(text)?;
                let meta = (!flat.is_empty())
                    .then(|| meta::unflatten(flat))
                    .transpose()?;
                (vec![items], meta)
            }
            Format::Dotenv => {
                let items = read_dotenv(text)?;
                let (sops, rest): (Vec<Item>, Vec<Item>) = items
                    .into_iter()
                    .partition(|i| matches!(i, Item::Entry(k, _) if k.starts_with("sops_")));
                let flat = sops
                    .into_iter()
                    .filter_map(|i| match i {
                        Item::Entry(k, Node::Scalar(s)) => Some((
                            k["sops_".len()..].to_string(),
                            String::from_utf8_lossy(&s.mac_bytes()).into_owned(),
                        )),
                        _ => None,
                    })
                    .collect::<Vec<_>>();
                let meta = (!flat.is_empty())
                    .then(|| meta::unflatten(flat))
                    .transpose()?;
                (vec![rest], meta)
            }
        };
        let meta = meta.ok_or("no sops metadata: not a file sops encrypted")?;
        Ok(Encrypted {
            format,
            branches,
            meta: Metadata::parse(&meta)?,
        })
    }

    /// Gets the data key (`open` decrypts one master key's copy, or says why not), decrypts
    /// every value and checks the MAC. A failure to get the data key has the kind of the most
    /// telling key failure (a store unavailable, then refused, then a wrong key, then a missing
    /// one); a tampered file is 65.
    pub(crate) fn open(
        self,
        mut open: impl FnMut(&MasterKey) -> Result<Zeroizing<Vec<u8>>, Error>,
    ) -> Result<Decrypted, Error> {
        let meta = &self.meta;
        let mut parts = Vec::new();
        let mut failures = Vec::new();
        let mut kinds = Vec::new();
        for (g, group) in meta.groups.iter().enumerate() {
            // age first, as sops' default decryption order has it; then the file's order.
            let mut order: Vec<&MasterKey> = group.iter().collect();
            crate::order::sort_by_key(&mut order, |k| !matches!(k, MasterKey::Age { .. }));
            let mut why = Vec::new();
            let part = order.into_iter().find_map(|k| match open(k) {
                Ok(p) => Some(p),
                Err(e) => {
                    kinds.push(e.kind);
                    why.push(format!("{}: {}", k.describe(), e.what));
                    None
                }
            });
            match part {
                Some(p) => parts.push(p),
                None if meta.groups.len() > 1 => {
                    failures.push(format!("group {}: {}", g + 1, why.join("; ")))
                }
                None => failures.push(why.join("; ")),
            }
        }
        let kind = [
            Kind::Unavailable,
            Kind::Permission,
            Kind::Data,
            Kind::Config,
        ]
        .into_iter()
        .find(|k| kinds.contains(k))
        .unwrap_or(Kind::Data);
        let key = if meta.groups.len() > 1 {
            if parts.len() < meta.threshold {
                return Err(Error::new(
                    kind,
                    format!(
                        "{} of {} key groups opened, {} needed (shamir_threshold): {}",
                        parts.len(),
                        meta.groups.len(),
                        meta.threshold,
                        failures.join("; ")
                    ),
                ));
            }
            shamir::combine(&parts).map_err(|why| Error::new(Kind::Data, why))?
        } else {
            parts.pop().ok_or_else(|| {
                Error::new(
                    kind,
                    format!("no master key opened the data key: {}", failures.join("; ")),
                )
            })?
        };
        let key: &[u8; 32] = key
            .as_slice()
            .try_into()
            .map_err(|_| Error::new(Kind::Data, "the data key is not 32 bytes"))?;
        let branches =
            walk::decrypt(self.branches, meta, key).map_err(|why| Error::new(Kind::Data, why))?;
        let by_key = branches.first().map(|b| index(b)).unwrap_or_default();
        Ok(Decrypted {
            format: self.format,
            branches,
            by_key,
        })
    }
}

/// A value as delivered: a scalar's text, a map or list as JSON.
fn delivered(n: &Node) -> Zeroizing<Vec<u8>> {
    match n {
        Node::Scalar(s) => s.delivered(),
        other => {
            let mut out = Zeroizing::new(String::new());
            json_of(other, &mut out);
            Zeroizing::new(std::mem::take(&mut *out).into_bytes())
        }
    }
}

fn json_string(s: &[u8], out: &mut String) {
    let text = String::from_utf8_lossy(s);
    out.push_str(&serde_json::Value::String(text.into_owned()).to_string());
}

fn json_items(items: &[Item], out: &mut String) {
    out.push('{');
    let mut first = true;
    for i in items {
        if let Item::Entry(k, v) = i {
            if !first {
                out.push(',');
            }
            first = false;
            json_string(k.as_bytes(), out);
            out.push(':');
            json_of(v, out);
        }
    }
    out.push('}');
}

/// JSON text of a decrypted node, keys in document order, comments left out.
fn json_of(n: &Node, out: &mut String) {
    match n {
        Node::Map(items) => json_items(items, out),
        Node::List(l) => {
            out.push('[');
            let mut first = true;
            for e in l.iter().filter(|e| !matches!(e, Node::Comment(_))) {
                if !first {
                    out.push(',');
                }
                first = false;
                json_of(e, out);
            }
            out.push(']');
        }
        Node::Scalar(Scalar::Str(s)) => json_string(s.as_bytes(), out),
        Node::Scalar(Scalar::Bytes(b)) => json_string(b, out),
        Node::Scalar(Scalar::Float(f)) if !f.is_finite() => {
            json_string(tree::go_float(*f).as_bytes(), out)
        }
        Node::Scalar(s) => out.push_str(&String::from_utf8_lossy(&s.delivered())),
        Node::Null | Node::Comment(_) => out.push_str("null"),
    }
}

impl Decrypted {
    /// The value at `path` (a map or list as JSON), or `None`.
    pub(crate) fn get(&self, path: &[Step<'_>]) -> Option<Zeroizing<Vec<u8>>> {
        let (first, rest) = path.split_first()?;
        let Step::Key(k) = first else { return None };
        let mut node = self.top_node(k)?;
        for step in rest {
            node = match (step, node) {
                (Step::Key(k), Node::Map(items)) => entry(items, k)?,
                (Step::Index(i), Node::List(l)) => l
                    .iter()
                    .filter(|n| !matches!(n, Node::Comment(_)))
                    .nth(*i)?,
                _ => return None,
            };
        }
        match node {
            Node::Null => None,
            n => Some(delivered(n)),
        }
    }

    /// The whole file in clear: a binary file's data; a dotenv file as `KEY=VALUE` lines; YAML
    /// and JSON as one JSON document (every YAML reader reads it), keys in document order.
    pub(crate) fn whole(&self) -> Zeroizing<Vec<u8>> {
        let items = self.branches.first().map_or(&[][..], Vec::as_slice);
        match self.format {
            Format::Binary => match items.first() {
                Some(Item::Entry(_, n)) => delivered(n),
                _ => Zeroizing::new(Vec::new()),
            },
            Format::Dotenv => {
                let mut out = Zeroizing::new(Vec::new());
                for (k, v) in self.top_level() {
                    out.extend_from_slice(k.as_bytes());
                    out.push(b'=');
                    out.extend_from_slice(&v);
                    out.push(b'\n');
                }
                out
            }
            Format::Yaml | Format::Json | Format::Ini => {
                let mut out = Zeroizing::new(String::new());
                json_items(items, &mut out);
                Zeroizing::new(std::mem::take(&mut *out).into_bytes())
            }
        }
    }

    /// The node of the top-level key `key` (the first one, as [`entry`] finds it).
    fn top_node(&self, key: &str) -> Option<&Node> {
        let items = self.branches.first()?;
        let at = self
            .by_key
            .partition_point(|&i| key_of(&items[i]).is_some_and(|k| k < key));
        match items.get(*self.by_key.get(at)?)? {
            Item::Entry(k, v) if k == key => Some(v),
            _ => None,
        }
    }

    /// The value of the top-level key `key` (a map or list as JSON), or `None`.
    pub(crate) fn top(&self, key: &str) -> Option<Zeroizing<Vec<u8>>> {
        match self.top_node(key)? {
            Node::Null => None,
            n => Some(delivered(n)),
        }
    }

    /// Every top-level key and its value (what `sops exec-env` exports), in document order.
    pub(crate) fn top_level(&self) -> Vec<(&str, Zeroizing<Vec<u8>>)> {
        let items = self.branches.first().map_or(&[][..], Vec::as_slice);
        items
            .iter()
            .filter_map(|i| match i {
                Item::Entry(_, Node::Null) | Item::Comment(_) => None,
                Item::Entry(k, v) => Some((k.as_str(), delivered(v))),
            })
            .collect()
    }
}

fn entry<'a>(items: &'a [Item], key: &str) -> Option<&'a Node> {
    items.iter().find_map(|i| match i {
        Item::Entry(k, v) if k == key => Some(v),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_top_level_key_is_found_by_its_index_the_first_of_equals() {
        let entry = |k: &str, v: &str| Item::Entry(k.into(), Node::Scalar(Scalar::str(v)));
        let items = vec![
            entry("b", "1"),
            Item::Comment("c".into()),
            entry("a", "2"),
            entry("b", "3"),
            entry("", "4"),
            entry("ab", "5"),
        ];
        let d = Decrypted {
            format: Format::Yaml,
            by_key: index(&items),
            branches: vec![items],
        };
        for (k, v) in [("a", "2"), ("b", "1"), ("", "4"), ("ab", "5")] {
            assert_eq!(
                d.top(k).as_deref().map(Vec::as_slice),
                Some(v.as_bytes()),
                "{k}"
            );
        }
        for k in ["c", "aa", "bb", "#"] {
            assert!(d.top(k).is_none(), "{k}");
        }
    }
}

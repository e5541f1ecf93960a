//! sops' tree walk (`walkBranch`, `walkSlice`, `shouldBeEncrypted` and `Decrypt` in sops.go):
//! every value in document order, decrypted where the file's rules say it is encrypted, and
//! hashed into the MAC (SHA-512 of the values' bytes, comments left out; with
//! `mac_only_encrypted`, only the encrypted values, after a fixed prefix). The MAC is checked
//! before the caller sees any value.
//!
//! Which values are encrypted follows the rules, never the look of a value: a value the rules
//! say is encrypted but is not fails, so that with `mac_only_encrypted` no one can swap an
//! encrypted value for a plain one outside the MAC.

use super::aes;
use super::meta::{Metadata, Rules};
use super::tree::{Item, Node, Scalar};
use ring::digest::{Context, SHA512};

/// sha256("sops"): the MAC's first bytes when it covers only the encrypted values.
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

struct Walk<'a> {
    rules: &'a Rules,
    key: &'a aes::DataKey,
    hash: Context,
    path: Vec<String>,
    /// The comments in force: one list a level, cleared by each value at that level.
    comments: Vec<Vec<String>>,
}

impl Walk<'_> {
    fn encrypted(&self, is_comment: bool) -> bool {
        let r = self.rules;
        let mut enc = true;
        if let Some(s) = &r.unencrypted_suffix
            && self.path.iter().any(|p| p.ends_with(s.as_str()))
        {
            enc = false;
        }
        if let Some(s) = &r.encrypted_suffix {
            enc = self.path.iter().any(|p| p.ends_with(s.as_str()));
        }
        if let Some(re) = &r.unencrypted_regex
            && self.path.iter().any(|p| re.is_match(p))
        {
            enc = false;
        }
        if let Some(re) = &r.encrypted_regex {
            enc = self.path.iter().any(|p| re.is_match(p));
        }
        if let Some(re) = &r.unencrypted_comment_regex
            && self.comments.iter().flatten().any(|c| re.is_match(c))
        {
            enc = false;
        }
        if let Some(re) = &r.encrypted_comment_regex {
            // The comment that matches is itself left in clear: skip the one just added.
            let levels = self.comments.len();
            enc = self.comments.iter().enumerate().any(|(i, level)| {
                level.iter().enumerate().any(|(j, c)| {
                    let itself = is_comment && i + 1 == levels && j + 1 == level.len();
                    !itself && re.is_match(c)
                })
            });
        }
        enc
    }

    fn aad(&self) -> String {
        let mut s = self.path.join(":");
        s.push(':');
        s
    }

    fn leaf(&mut self, value: Node) -> Result<Node, String> {
        let is_comment = matches!(value, Node::Comment(_));
        let encrypted = self.encrypted(is_comment);
        let out = match (&value, encrypted) {
            (Node::Comment(c), true) => match aes::decrypt(c, self.key, &self.aad()) {
                Ok(Node::Comment(plain)) => Node::Comment(plain),
                // sops keeps a comment it cannot open (files from older versions).
                _ => value,
            },
            (Node::Scalar(Scalar::Str(s)), true) => {
                let plain = aes::decrypt(s, self.key, &self.aad())
                    .map_err(|why| format!("{why} at {}", self.shown()))?;
                // The ciphertext is no secret (it is in the file): freed without the wipe.
                if let Node::Scalar(Scalar::Str(mut s)) = value {
                    drop(std::mem::take(&mut *s));
                }
                plain
            }
            (_, true) => {
                return Err(format!(
                    "a value that should be encrypted is not, at {}",
                    self.shown()
                ));
            }
            (_, false) => value,
        };
        if let Node::Scalar(s) = &out
            && (!self.rules.mac_only_encrypted || encrypted)
        {
            match s {
                Scalar::Str(s) => self.hash.update(s.as_bytes()),
                Scalar::Bytes(b) => self.hash.update(b),
                other => self.hash.update(&other.mac_bytes()),
            }
        }
        Ok(out)
    }

    /// The path for messages: key names only, never a value.
    fn shown(&self) -> String {
        crate::log::escape_controls(&self.path.join("."))
    }

    fn value(&mut self, node: Node) -> Result<Node, String> {
        match node {
            Node::Map(items) => self.branch(items).map(Node::Map),
            Node::List(nodes) => self.list(nodes).map(Node::List),
            Node::Null => Ok(Node::Null),
            leaf => self.leaf(leaf),
        }
    }

    fn branch(&mut self, items: Vec<Item>) -> Result<Vec<Item>, String> {
        self.comments.push(Vec::new());
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Item::Comment(c) => {
                    self.top().push(c.clone());
                    if let Node::Comment(c) = self.leaf(Node::Comment(c))? {
                        out.push(Item::Comment(c));
                    }
                }
                Item::Entry(k, v) => {
                    self.path.push(k);
                    let v = self.value(v)?;
                    let k = self.path.pop().unwrap_or_default();
                    out.push(Item::Entry(k, v));
                    self.top().clear();
                }
            }
        }
        self.comments.pop();
        Ok(out)
    }

    fn list(&mut self, nodes: Vec<Node>) -> Result<Vec<Node>, String> {
        self.comments.push(Vec::new());
        let mut out = Vec::with_capacity(nodes.len());
        for n in nodes {
            let is_comment = if let Node::Comment(c) = &n {
                self.top().push(c.clone());
                true
            } else {
                false
            };
            out.push(self.value(n)?);
            if !is_comment {
                self.top().clear();
            }
        }
        self.comments.pop();
        Ok(out)
    }

    fn top(&mut self) -> &mut Vec<String> {
        if self.comments.is_empty() {
            self.comments.push(Vec::new());
        }
        let last = self.comments.len() - 1;
        &mut self.comments[last]
    }
}

/// Decrypts every branch with `key` and checks the MAC; the decrypted branches, or why not
/// (naming a path, never a value).
pub(crate) fn decrypt(
    branches: Vec<Vec<Item>>,
    meta: &Metadata,
    key: &[u8; 32],
) -> Result<Vec<Vec<Item>>, String> {
    let key = aes::DataKey::new(key);
    let mut walk = Walk {
        rules: &meta.rules,
        key: &key,
        hash: Context::new(&SHA512),
        path: Vec::new(),
        comments: Vec::new(),
    };
    if meta.rules.mac_only_encrypted {
        walk.hash.update(&MAC_ONLY_ENCRYPTED_INIT);
    }
    let mut out = Vec::with_capacity(branches.len());
    for b in branches {
        out.push(walk.branch(b)?);
    }
    let computed = crate::hex::encode(walk.hash.finish().as_ref()).to_ascii_uppercase();
    let stored = match aes::decrypt(&meta.mac, &key, &meta.last_modified) {
        Ok(Node::Scalar(Scalar::Str(s))) => s,
        _ => {
            return Err(
                "the file's MAC does not open (tampered MAC or lastmodified, or another data key)"
                    .into(),
            );
        }
    };
    let same = stored.len() == computed.len()
        && stored
            .bytes()
            .zip(computed.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return Err(
            "MAC mismatch: the file's values, their order or their keys were changed since sops wrote it"
                .into(),
        );
    }
    Ok(out)
}

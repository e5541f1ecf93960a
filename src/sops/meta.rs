//! The `sops:` metadata of a file (stores/stores.go in sops): the key groups and each master key's
//! encrypted copy of the data key (or of its Shamir share), the MAC and its timestamp, and the
//! rules saying which values are encrypted. In dotenv and INI files it is flattened into
//! `sops_age__list_0__map_enc`-style keys, unflattened here into the same shape.

use super::tree::{Item, Node, Scalar};

/// A master key of a key group, with its encrypted copy of the data key (or share).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum MasterKey {
    /// An age recipient; `enc` is an armored age file.
    Age { recipient: String, enc: String },
    /// An AWS KMS key; `enc` is the base64 ciphertext blob.
    Aws {
        arn: String,
        role: Option<String>,
        context: Vec<(String, String)>,
        profile: Option<String>,
        enc: String,
    },
    /// A GCP Cloud KMS key; `enc` is the base64 ciphertext.
    Gcp { resource_id: String, enc: String },
    /// An Azure Key Vault key; `enc` is the base64url wrapped key.
    Azure {
        vault_url: String,
        name: String,
        version: String,
        enc: String,
    },
    /// A Vault/OpenBao transit key; `enc` is `vault:v1:…`.
    Transit {
        address: String,
        engine_path: String,
        key_name: String,
        enc: String,
    },
    /// A kind secret-init does not open (PGP, HuaweiCloud KMS), named for messages.
    Unsupported(&'static str),
}

impl MasterKey {
    /// How the key is named in messages (never its encrypted data key).
    pub(crate) fn describe(&self) -> String {
        match self {
            MasterKey::Age { recipient, .. } => format!("age {recipient}"),
            MasterKey::Aws { arn, .. } => format!("AWS KMS {arn}"),
            MasterKey::Gcp { resource_id, .. } => format!("GCP KMS {resource_id}"),
            MasterKey::Azure {
                vault_url, name, ..
            } => format!("Azure Key Vault {vault_url} key {name}"),
            MasterKey::Transit {
                address,
                engine_path,
                key_name,
                ..
            } => {
                format!("Vault transit {address}/v1/{engine_path}/decrypt/{key_name}")
            }
            MasterKey::Unsupported(kind) => kind.to_string(),
        }
    }
}

/// Which values a file holds encrypted (sops' `shouldBeEncrypted`): at most one rule is set; with
/// none, `unencrypted_suffix: _unencrypted`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rules {
    pub(crate) unencrypted_suffix: Option<String>,
    pub(crate) encrypted_suffix: Option<String>,
    pub(crate) unencrypted_regex: Option<regex_lite::Regex>,
    pub(crate) encrypted_regex: Option<regex_lite::Regex>,
    pub(crate) unencrypted_comment_regex: Option<regex_lite::Regex>,
    pub(crate) encrypted_comment_regex: Option<regex_lite::Regex>,
    /// The MAC covers only the encrypted values.
    pub(crate) mac_only_encrypted: bool,
}

/// A file's metadata.
#[derive(Clone, Debug)]
pub(crate) struct Metadata {
    /// The key groups; more than one means the data key is split with Shamir.
    pub(crate) groups: Vec<Vec<MasterKey>>,
    /// How many groups' shares rebuild the data key.
    pub(crate) threshold: usize,
    /// `lastmodified`, the MAC's associated data.
    pub(crate) last_modified: String,
    /// The encrypted MAC, `ENC[AES256_GCM,…]`.
    pub(crate) mac: String,
    /// The encryption rules.
    pub(crate) rules: Rules,
}

fn get<'a>(items: &'a [Item], key: &str) -> Option<&'a Node> {
    items.iter().find_map(|i| match i {
        Item::Entry(k, v) if k == key => Some(v),
        _ => None,
    })
}

fn text(items: &[Item], key: &str) -> Result<Option<String>, String> {
    match get(items, key) {
        None | Some(Node::Null) => Ok(None),
        Some(Node::Scalar(s)) => Ok(Some(String::from_utf8_lossy(&s.delivered()).into_owned()))
            .map(|s| s.filter(|s| !s.is_empty())),
        Some(_) => Err(format!("sops.{key} is not a value")),
    }
}

fn required(items: &[Item], key: &str, within: &str) -> Result<String, String> {
    text(items, key)?.ok_or_else(|| format!("sops metadata: {within} has no {key}"))
}

fn list<'a>(items: &'a [Item], key: &str) -> Result<Vec<&'a [Item]>, String> {
    match get(items, key) {
        None | Some(Node::Null) => Ok(Vec::new()),
        Some(Node::List(l)) => l
            .iter()
            .filter(|n| !matches!(n, Node::Comment(_)))
            .map(|n| match n {
                Node::Map(m) => Ok(m.as_slice()),
                _ => Err(format!("sops.{key} holds something other than keys")),
            })
            .collect(),
        Some(_) => Err(format!("sops.{key} is not a list")),
    }
}

fn regex(items: &[Item], key: &str) -> Result<Option<regex_lite::Regex>, String> {
    text(items, key)?
        .map(|r| {
            regex_lite::Regex::new(&r)
                .map_err(|_| format!("sops.{key} is not a regular expression this reader takes"))
        })
        .transpose()
}

/// The master keys of one group (the metadata itself, or one of `key_groups`).
fn group(items: &[Item]) -> Result<Vec<MasterKey>, String> {
    let mut keys = Vec::new();
    for k in list(items, "age")? {
        keys.push(MasterKey::Age {
            recipient: required(k, "recipient", "an age key")?,
            enc: required(k, "enc", "an age key")?,
        });
    }
    for k in list(items, "kms")? {
        let context = match get(k, "context") {
            Some(Node::Map(m)) => m
                .iter()
                .filter_map(|i| match i {
                    Item::Entry(k, Node::Scalar(v)) => Some((
                        k.clone(),
                        String::from_utf8_lossy(&v.delivered()).into_owned(),
                    )),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        keys.push(MasterKey::Aws {
            arn: required(k, "arn", "a kms key")?,
            role: text(k, "role")?,
            context,
            profile: text(k, "aws_profile")?,
            enc: required(k, "enc", "a kms key")?,
        });
    }
    for k in list(items, "gcp_kms")? {
        keys.push(MasterKey::Gcp {
            resource_id: required(k, "resource_id", "a gcp_kms key")?,
            enc: required(k, "enc", "a gcp_kms key")?,
        });
    }
    for k in list(items, "azure_kv")? {
        keys.push(MasterKey::Azure {
            vault_url: required(k, "vault_url", "an azure_kv key")?,
            name: required(k, "name", "an azure_kv key")?,
            version: text(k, "version")?.unwrap_or_default(),
            enc: required(k, "enc", "an azure_kv key")?,
        });
    }
    for k in list(items, "hc_vault")? {
        keys.push(MasterKey::Transit {
            address: required(k, "vault_address", "an hc_vault key")?,
            engine_path: required(k, "engine_path", "an hc_vault key")?,
            key_name: required(k, "key_name", "an hc_vault key")?,
            enc: required(k, "enc", "an hc_vault key")?,
        });
    }
    for (key, kind) in [("pgp", "PGP"), ("hckms", "HuaweiCloud KMS")] {
        for _ in list(items, key)? {
            keys.push(MasterKey::Unsupported(kind));
        }
    }
    Ok(keys)
}

impl Metadata {
    /// Reads the `sops` mapping.
    pub(crate) fn parse(items: &[Item]) -> Result<Metadata, String> {
        let key_groups = list(items, "key_groups")?;
        let groups = if key_groups.is_empty() {
            vec![group(items)?]
        } else {
            key_groups
                .into_iter()
                .map(group)
                .collect::<Result<_, _>>()?
        };
        if groups.iter().all(Vec::is_empty) {
            return Err("sops metadata names no master key".into());
        }
        let threshold = match get(items, "shamir_threshold") {
            None | Some(Node::Null) => groups.len(),
            Some(Node::Scalar(Scalar::Int(n))) => usize::try_from(*n).unwrap_or(0),
            Some(Node::Scalar(Scalar::Float(f))) if f.fract() == 0.0 => *f as usize,
            Some(Node::Scalar(Scalar::Str(s))) => s.parse().unwrap_or(0),
            Some(_) => 0,
        };
        if threshold == 0 || threshold > groups.len() {
            return Err(format!(
                "sops metadata: shamir_threshold {threshold} does not fit {} key groups",
                groups.len()
            ));
        }
        let mac_only_encrypted = match get(items, "mac_only_encrypted") {
            Some(Node::Scalar(Scalar::Bool(b))) => *b,
            Some(Node::Scalar(Scalar::Str(s))) => s.as_str() == "true",
            _ => false,
        };
        let mut rules = Rules {
            unencrypted_suffix: text(items, "unencrypted_suffix")?,
            encrypted_suffix: text(items, "encrypted_suffix")?,
            unencrypted_regex: regex(items, "unencrypted_regex")?,
            encrypted_regex: regex(items, "encrypted_regex")?,
            unencrypted_comment_regex: regex(items, "unencrypted_comment_regex")?,
            encrypted_comment_regex: regex(items, "encrypted_comment_regex")?,
            mac_only_encrypted,
        };
        let set = [
            rules.unencrypted_suffix.is_some(),
            rules.encrypted_suffix.is_some(),
            rules.unencrypted_regex.is_some(),
            rules.encrypted_regex.is_some(),
            rules.unencrypted_comment_regex.is_some(),
            rules.encrypted_comment_regex.is_some(),
        ]
        .into_iter()
        .filter(|b| *b)
        .count();
        if set > 1 {
            return Err("sops metadata sets more than one of the encrypted/unencrypted suffix and regex rules".into());
        }
        if set == 0 {
            rules.unencrypted_suffix = Some("_unencrypted".into());
        }
        Ok(Metadata {
            groups,
            threshold,
            last_modified: required(items, "lastmodified", "the metadata")?,
            mac: required(items, "mac", "the metadata")?,
            rules,
        })
    }
}

/// Unflattens dotenv/INI metadata (`age__list_0__map_enc` → `age: [{enc: …}]`), with sops'
/// `\n` escapes decoded, into the mapping [`Metadata::parse`] reads.
pub(crate) fn unflatten(flat: Vec<(String, String)>) -> Result<Vec<Item>, String> {
    let mut root = Node::Map(Vec::new());
    for (key, value) in flat {
        let value = value.replace("\\n", "\n");
        let mut node = &mut root;
        let mut rest = key.as_str();
        let mut first = true;
        loop {
            let (token, next, after) = next_token(rest, first)?;
            first = false;
            node = match (token, node) {
                (Token::Key(k), Node::Map(items)) => {
                    let at = match items
                        .iter()
                        .position(|i| matches!(i, Item::Entry(e, _) if e == k))
                    {
                        Some(at) => at,
                        None => {
                            items.push(Item::Entry(k.to_string(), next.empty()));
                            items.len() - 1
                        }
                    };
                    match &mut items[at] {
                        Item::Entry(_, v) => v,
                        Item::Comment(_) => return Err("sops metadata is malformed".into()),
                    }
                }
                (Token::Index(i), Node::List(nodes)) => {
                    if i > nodes.len() || i > 64 {
                        return Err("sops metadata: list indexes out of order".into());
                    }
                    if i == nodes.len() {
                        nodes.push(next.empty());
                    }
                    &mut nodes[i]
                }
                _ => return Err("sops metadata keys mix lists and maps".into()),
            };
            match after {
                Some(r) => rest = r,
                None => break,
            }
        }
        *node = Node::Scalar(Scalar::str(value));
    }
    match root {
        Node::Map(items) => Ok(items),
        _ => Err("sops metadata is malformed".into()),
    }
}

enum Token<'a> {
    Key(&'a str),
    Index(usize),
}

/// What the node after a token is.
#[derive(Clone, Copy)]
enum Next {
    Map,
    List,
    Leaf,
}

impl Next {
    fn empty(self) -> Node {
        match self {
            Next::Map => Node::Map(Vec::new()),
            Next::List => Node::List(Vec::new()),
            Next::Leaf => Node::Null,
        }
    }
}

/// One token of a flattened key and what follows it: `age__list_0__map_enc` → `age` (a list
/// follows), then `0` (a map), then `enc`.
fn next_token(s: &str, first: bool) -> Result<(Token<'_>, Next, Option<&str>), String> {
    let body = if first {
        s
    } else if let Some(r) = s.strip_prefix("__map_") {
        r
    } else if let Some(r) = s.strip_prefix("__list_") {
        r
    } else {
        return Err("sops metadata is malformed".into());
    };
    let is_list = !first && s.starts_with("__list_");
    let end = body
        .find("__map_")
        .into_iter()
        .chain(body.find("__list_"))
        .min();
    let (tok, after) = match end {
        Some(e) => (&body[..e], Some(&body[e..])),
        None => (body, None),
    };
    let next = match after {
        Some(a) if a.starts_with("__list_") => Next::List,
        Some(_) => Next::Map,
        None => Next::Leaf,
    };
    let token = if is_list {
        Token::Index(
            tok.parse()
                .map_err(|_| "sops metadata: a bad list index".to_string())?,
        )
    } else {
        Token::Key(tok)
    };
    Ok((token, next, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattened_metadata() {
        let items = unflatten(vec![
            ("age__list_0__map_recipient".into(), "age1x".into()),
            ("age__list_0__map_enc".into(), "a\\nb".into()),
            ("age__list_1__map_recipient".into(), "age1y".into()),
            ("age__list_1__map_enc".into(), "c".into()),
            ("lastmodified".into(), "2024-01-01T00:00:00Z".into()),
            ("mac".into(), "ENC[x]".into()),
            ("unencrypted_suffix".into(), "_unencrypted".into()),
        ])
        .expect("unflatten");
        let m = Metadata::parse(&items).expect("metadata");
        assert_eq!(
            m.groups,
            [vec![
                MasterKey::Age {
                    recipient: "age1x".into(),
                    enc: "a\nb".into()
                },
                MasterKey::Age {
                    recipient: "age1y".into(),
                    enc: "c".into()
                },
            ]]
        );
        assert_eq!(m.threshold, 1);
        assert!(unflatten(vec![("age__list_5__map_enc".into(), "x".into())]).is_err());
    }
}

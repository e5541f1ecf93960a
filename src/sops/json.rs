//! A SOPS JSON file read into sops' tree (stores/json in sops): keys in document order, numbers
//! as Go's decoder types them (an integer in the int64 range, else a float), `null` skipped by the
//! walk. Repeated keys are refused (Go's decoder would keep both, in order, and hash both).

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::tree::{Item, MAX_DEPTH, Node, Scalar};

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Int(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Scalar(match i64::try_from(v) {
            Ok(i) => Scalar::Int(i),
            Err(_) => Scalar::Float(v as f64),
        }))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Float(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::str(v)))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::str(v)))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut out = Vec::new();
        while let Some(n) = seq.next_element_seed(Seed)? {
            out.push(n);
        }
        Ok(Node::List(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut out: Vec<Item> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if out
                .iter()
                .any(|i| matches!(i, Item::Entry(k, _) if *k == key))
            {
                return Err(de::Error::custom(format!(
                    "duplicate key \"{}\"",
                    crate::log::escape_controls(&key)
                )));
            }
            let v = map.next_value_seed(Seed)?;
            out.push(Item::Entry(key, v));
        }
        Ok(Node::Map(out))
    }
}

struct Seed;

impl<'de> de::DeserializeSeed<'de> for Seed {
    type Value = Node;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

fn depth(n: &Node) -> usize {
    match n {
        Node::Map(items) => {
            1 + items
                .iter()
                .map(|i| match i {
                    Item::Entry(_, v) => depth(v),
                    Item::Comment(_) => 0,
                })
                .max()
                .unwrap_or(0)
        }
        Node::List(l) => 1 + l.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Reads a JSON object (serde_json's own recursion limit, 128, guards the stack first).
pub(crate) fn read(text: &[u8]) -> Result<Vec<Item>, String> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let node = de::DeserializeSeed::deserialize(Seed, &mut de)
        .map_err(|e| format!("not valid JSON (line {}, column {})", e.line(), e.column()))?;
    de.end()
        .map_err(|_| "not valid JSON: data after the object".to_string())?;
    if depth(&node) > MAX_DEPTH {
        return Err(format!("nested deeper than {MAX_DEPTH} levels"));
    }
    match node {
        Node::Map(items) => Ok(items),
        _ => Err("a SOPS JSON file is an object".into()),
    }
}

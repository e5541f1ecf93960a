//! A generic document tree (`serde_json::Value`) read so that a map may not hold one key twice.
//!
//! `serde_json::Value`'s own reader keeps the last of two equal keys. The YAML parser refuses a
//! repeated key only when the two nodes are equal as YAML, so `1` and `"1"`, or `5` and
//! `!!str 5`, passed it and then collapsed into one secret name, last one winning (a required
//! secret silently got a default). A vault answer could do the same in JSON. Here any two keys
//! that read as the same string are an error, whatever the format.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A [`Value`] whose maps had no repeated key.
pub(crate) struct Tree(pub Value);

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Tree, D::Error> {
        d.deserialize_any(TreeVisitor).map(Tree)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Tree::deserialize(d).map(|t| t.0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Tree(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                // A key is a name (of a secret, a setting or a field), never a value; control
                // bytes are escaped all the same.
                return Err(de::Error::custom(format!(
                    "duplicate key \"{}\" (two keys that read as the same name)",
                    crate::log::escape_controls(&key)
                )));
            }
            let Tree(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys that read as one name are refused, in YAML as in a vault's JSON answer.
    #[test]
    fn equal_keys_are_refused() {
        let t: Tree = serde_json::from_str(r#"{"a": {"x": 1, "y": [1, "s", null]}}"#).expect("ok");
        assert_eq!(t.0["a"]["y"][1], "s");
        let e = serde_json::from_str::<Tree>(r#"{"data": {"k": "1", "k": "2"}}"#)
            .err()
            .expect("duplicate");
        assert!(e.to_string().contains("duplicate key \"k\""), "{e}");
    }
}

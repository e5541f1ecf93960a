//! The `secrets:` map of config.yaml and of a local config (`~/.truss/config.yaml`): each key
//! taken as a name whatever its YAML type, each value classified as null, a string, or the name
//! of the wrong type it had, so that a wrong value is reported by its type and never kept.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::yaml::{from_yaml, read_config_text};
use crate::error::{Error, Kind};
use crate::secret::Secret;

/// The `secrets:` map, with each value classified without keeping non-string values.
pub(super) struct RawSecrets(pub(super) Vec<(String, RawDefault)>);

/// A `secrets:` value: null, a string, or the name of the wrong type it had.
pub(crate) enum RawDefault {
    /// `null` or `~`: required.
    Null,
    /// A string: the fallback default.
    Text(String),
    /// Any other type; only its type name is kept.
    Wrong(&'static str),
}

impl<'de> Deserialize<'de> for RawSecrets {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawSecrets;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of secret names to null or a string")
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawSecrets, E> {
                Ok(RawSecrets(Vec::new()))
            }
            fn visit_none<E: de::Error>(self) -> Result<RawSecrets, E> {
                Ok(RawSecrets(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawSecrets, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<KeyText>()? {
                    out.push((key.0, map.next_value::<RawDefault>()?));
                }
                Ok(RawSecrets(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A mapping key taken as text whatever its YAML type (`123:` is the name "123").
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a secret name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyText, E> {
                Ok(KeyText(String::new()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RawDefault {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawDefault;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("null or a string")
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawDefault, E> {
                Ok(RawDefault::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<RawDefault, E> {
                Ok(RawDefault::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawDefault, D::Error> {
                RawDefault::deserialize(d)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDefault, E> {
                Ok(RawDefault::Text(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<RawDefault, E> {
                Ok(RawDefault::Text(v))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawDefault, E> {
                Ok(RawDefault::Wrong("boolean"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawDefault, E> {
                Ok(RawDefault::Wrong("integer"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawDefault, E> {
                Ok(RawDefault::Wrong("integer"))
            }
            fn visit_i128<E: de::Error>(self, _: i128) -> Result<RawDefault, E> {
                Ok(RawDefault::Wrong("integer"))
            }
            fn visit_u128<E: de::Error>(self, _: u128) -> Result<RawDefault, E> {
                Ok(RawDefault::Wrong("integer"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawDefault, E> {
                Ok(RawDefault::Wrong("float"))
            }
            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<RawDefault, E> {
                Ok(RawDefault::Wrong("binary"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawDefault, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(RawDefault::Wrong("sequence"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawDefault, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(RawDefault::Wrong("mapping"))
            }
        }
        d.deserialize_any(V)
    }
}

/// Reads and parses a local config (`~/.truss/config.yaml`): see [`parse_local_secrets`]; `src`
/// names it in errors.
pub(crate) fn read_local_secrets(
    path: &Path,
    src: &str,
) -> Result<BTreeMap<String, Secret>, Error> {
    let text = read_config_text(path).map_err(|e| e.with_source(src.to_string()))?;
    parse_local_secrets(&text, src)
}

/// Parses the `secrets:` map of a local config (`~/.truss/config.yaml`) into name → value; other
/// keys ignored, wrong types reported by type.
pub(crate) fn parse_local_secrets(
    text: &str,
    src: &str,
) -> Result<BTreeMap<String, Secret>, Error> {
    #[derive(Deserialize)]
    struct Local {
        #[serde(default)]
        secrets: Option<RawSecrets>,
    }
    let local: Option<Local> = from_yaml(text, src)?;
    let mut out = BTreeMap::new();
    for (name, value) in local
        .and_then(|l| l.secrets)
        .map(|s| s.0)
        .unwrap_or_default()
    {
        match value {
            RawDefault::Null => {}
            RawDefault::Text(s) => {
                out.insert(name, Secret::new(s.into_bytes()));
            }
            RawDefault::Wrong(ty) => {
                return Err(Error::secret(
                    Kind::Data,
                    &name,
                    src,
                    format!("expected a string or null, found {ty}"),
                ));
            }
        }
    }
    Ok(out)
}

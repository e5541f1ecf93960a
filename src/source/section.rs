//! What every source's `secret_init.KEY:` section shares: unknown keys refused ([`Section`]), and
//! the keys read by hand ([`raw_section!`]) instead of serde's flatten. What the remote sources'
//! sections share besides (durations, retries, the transport keys) is `source/transport.rs`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::error::{Error, Errors, Kind};

/// A source's section as written: deserialized from config.yaml, its unknown keys refused.
pub(crate) trait Section: Default + std::fmt::Debug + for<'de> Deserialize<'de> {
    /// The keys serde did not know.
    fn unknown(&self) -> &BTreeMap<String, IgnoredAny>;

    /// The keys it knows, for a "did you mean" (none: no suggestion).
    fn known_keys(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// Refuses every unknown key (78); a section with nested sections refuses theirs too.
    fn reject_unknown(&self, section: &str, src: &str, errors: &mut Errors) {
        reject_unknown_among(section, self.unknown(), &self.known_keys(), src, errors);
    }
}

/// Refuses the keys of `unknown`, as `SECTION: unknown setting "KEY"` (78), one error each
/// (the vault's nested sections; the others name the nearest key through the [`Section`] trait).
#[cfg(feature = "vault")]
pub(crate) fn reject_unknown(
    section: &str,
    unknown: &BTreeMap<String, IgnoredAny>,
    src: &str,
    errors: &mut Errors,
) {
    reject_unknown_among(section, unknown, &[], src, errors);
}

/// [`reject_unknown`], naming the known key a misspelled one was closest to, or else the known
/// keys (`known`; empty: neither).
pub(crate) fn reject_unknown_among(
    section: &str,
    unknown: &BTreeMap<String, IgnoredAny>,
    known: &[&str],
    src: &str,
    errors: &mut Errors,
) {
    for key in unknown.keys() {
        let shown = crate::log::escape_controls(key);
        let hint = match crate::name::closest(key, known.iter().copied()) {
            Some(k) => format!(" (did you mean \"{k}\"?)"),
            None if known.is_empty() => String::new(),
            None => format!(" (known: {})", known.join(", ")),
        };
        errors.push(
            Error::new(
                Kind::Config,
                format!("{section}: unknown setting \"{shown}\"{hint}"),
            )
            .with_source(src),
        );
    }
}

/// The keys a raw section takes from a YAML map, one at a time: what [`raw_section!`] generates
/// instead of `#[serde(flatten)]` (which buffers every key of the map and costs code per struct).
pub(crate) trait TakeKey {
    /// Reads the value of `key` into its field and names the field; `None` when `key` is not one
    /// of this struct's (the value is then still unread).
    fn take_key<'de, A: serde::de::MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<Option<&'static str>, A::Error>;

    /// Adds the keys it takes, nested sections' included, to `out`.
    fn keys(out: &mut Vec<&'static str>)
    where
        Self: Sized;
}

/// A raw section: its keys, and the place for the keys it does not know.
pub(crate) trait RawSection: TakeKey + Default {
    /// The unknown keys, to be filled.
    fn unknown_mut(&mut self) -> &mut BTreeMap<String, IgnoredAny>;
}

/// Reads a map into a [`RawSection`]: each key into its field (a key given twice is serde's
/// `duplicate field` error), every other key into `unknown`.
pub(crate) struct SectionVisitor<T>(
    pub(crate) &'static str,
    pub(crate) std::marker::PhantomData<T>,
);

impl<'de, T: RawSection> serde::de::Visitor<'de> for SectionVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.0)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut out = T::default();
        let mut seen: Vec<&'static str> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match out.take_key(&key, &mut map)? {
                Some(f) if seen.contains(&f) => {
                    return Err(<A::Error as serde::de::Error>::duplicate_field(f));
                }
                Some(f) => seen.push(f),
                None => {
                    map.next_value::<IgnoredAny>()?;
                    out.unknown_mut().insert(key, IgnoredAny);
                }
            }
        }
        Ok(out)
    }
}

/// Declares a config section as written, every field optional (`Option` or `Default`), with a
/// hand-written `Deserialize`: each key into its field, the keys of the `nested` structs (their
/// own [`TakeKey`], e.g. [`RawTransport`]) into them, the `renamed` fields from the key given
/// after `=` (`bundle: ... = "bundles"`), every other key into `unknown` (refused
/// after parsing, 78). It replaces `#[serde(flatten)]`, which buffers the whole map and costs
/// code per struct; the messages are serde's own (`invalid type: ...`, `duplicate field`).
macro_rules! raw_section {
    (
        $(#[$m:meta])*
        $vis:vis struct $name:ident {
            $($(#[$fm:meta])* $fvis:vis $f:ident: $t:ty,)*
        }
        $(renamed { $($(#[$rm:meta])* $rvis:vis $r:ident: $rt:ty = $rkey:literal,)* })?
        $(nested { $($(#[$nm:meta])* $nvis:vis $n:ident: $nt:ty,)* })?
    ) => {
        $(#[$m])*
        #[derive(Debug, Default)]
        $vis struct $name {
            $($(#[$fm])* $fvis $f: $t,)*
            $($($(#[$rm])* $rvis $r: $rt,)*)?
            $($($(#[$nm])* $nvis $n: $nt,)*)?
            /// Keys we do not know; refused after parsing (78), so typos never pass silently.
            $vis unknown: std::collections::BTreeMap<String, serde::de::IgnoredAny>,
        }

        impl $crate::source::section::TakeKey for $name {
            fn take_key<'de, A: serde::de::MapAccess<'de>>(
                &mut self,
                key: &str,
                map: &mut A,
            ) -> Result<Option<&'static str>, A::Error> {
                match key {
                    $(stringify!($f) => {
                        self.$f = map.next_value()?;
                        Ok(Some(stringify!($f)))
                    })*
                    $($($rkey => {
                        self.$r = map.next_value()?;
                        Ok(Some($rkey))
                    })*)?
                    _ => {
                        $($(
                            if let Some(k) =
                                $crate::source::section::TakeKey::take_key(&mut self.$n, key, map)?
                            {
                                return Ok(Some(k));
                            }
                        )*)?
                        Ok(None)
                    }
                }
            }

            fn keys(out: &mut Vec<&'static str>) {
                $(out.push(stringify!($f));)*
                $($(out.push($rkey);)*)?
                $($(<$nt as $crate::source::section::TakeKey>::keys(out);)*)?
            }
        }

        impl $crate::source::section::RawSection for $name {
            fn unknown_mut(
                &mut self,
            ) -> &mut std::collections::BTreeMap<String, serde::de::IgnoredAny> {
                &mut self.unknown
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_map($crate::source::section::SectionVisitor::<$name>(
                    concat!("struct ", stringify!($name)),
                    std::marker::PhantomData,
                ))
            }
        }
    };
}
pub(crate) use raw_section;

/// Implements [`Section`] for a struct whose unknown keys are its `unknown` field.
macro_rules! section {
    ($t:ty) => {
        impl $crate::source::section::Section for $t {
            fn unknown(&self) -> &std::collections::BTreeMap<String, serde::de::IgnoredAny> {
                &self.unknown
            }

            fn known_keys(&self) -> Vec<&'static str> {
                let mut out = Vec::new();
                <$t as $crate::source::section::TakeKey>::keys(&mut out);
                out
            }
        }
    };
}
pub(crate) use section;

//! The escaping filters: one per format that users write secrets into, each written for its
//! real consumer and tested against it (tests/templates.rs runs Python's `json`, `yaml`,
//! `urllib.parse` and python-dotenv, and POSIX `sh`, on what they produce).
//!
//! Every filter refuses an undefined value (minijinja's own `tojson` renders it as `null` and its
//! `urlencode` as `""`), and no error quotes its input: the input is usually a secret.

use base64::Engine as _;
use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

/// Prefix of the messages our filters and lookups raise. Only such messages (and syntax errors,
/// which come from the template text) are shown to the user; any other engine message may quote
/// a value and is replaced by a fixed description of its kind.
pub(crate) const OURS: &str = "[secret-init] ";

/// A value-free error raised by our own code.
pub(crate) fn ours(what: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("{OURS}{what}"))
}

/// The bytes of a scalar: a string's or a byte string's own, a number's or a boolean's text.
fn scalar_bytes(filter: &str, v: &Value) -> Result<Vec<u8>, Error> {
    match v.kind() {
        ValueKind::String | ValueKind::Bytes => Ok(v.as_bytes().unwrap_or_default().to_vec()),
        ValueKind::Number | ValueKind::Bool => Ok(v.to_string().into_bytes()),
        ValueKind::Undefined => Err(ours(format!("{filter}: the value is undefined"))),
        other => Err(ours(format!(
            "{filter}: expects a string, not a {}",
            kind_name(other)
        ))),
    }
}

/// The text of a scalar; a byte string that is not UTF-8 is refused (it cannot be written as
/// text without changing it: use `b64encode`).
fn scalar_text(filter: &str, v: &Value) -> Result<String, Error> {
    String::from_utf8(scalar_bytes(filter, v)?).map_err(|_| {
        ours(format!(
            "{filter}: the value is not UTF-8 text (write it with b64encode)"
        ))
    })
}

fn kind_name(k: ValueKind) -> &'static str {
    match k {
        ValueKind::Undefined => "undefined value",
        ValueKind::None => "none",
        ValueKind::Bool => "boolean",
        ValueKind::Number => "number",
        ValueKind::String => "string",
        ValueKind::Bytes => "byte string",
        ValueKind::Seq => "list",
        ValueKind::Map => "map",
        ValueKind::Iterable => "iterable",
        ValueKind::Plain => "object",
        _ => "value",
    }
}

/// `tojson`: a JSON document for strings, numbers, booleans, none, lists and maps; `null` only
/// for an explicit `none`, never for an undefined value.
pub(crate) fn tojson(v: &Value) -> Result<String, Error> {
    let mut out = String::new();
    json(v, &mut out, 0)?;
    Ok(out)
}

fn json(v: &Value, out: &mut String, depth: usize) -> Result<(), Error> {
    if depth > 32 {
        return Err(ours("tojson: nested deeper than 32 levels"));
    }
    match v.kind() {
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => {
            let text = v.to_string();
            // JSON has no NaN or infinity.
            if text.parse::<f64>().is_ok_and(f64::is_finite) {
                out.push_str(&text);
            } else {
                return Err(ours("tojson: a number JSON cannot hold"));
            }
        }
        ValueKind::String | ValueKind::Bytes => {
            let text = scalar_text("tojson", v)?;
            // serde_json escapes quotes, backslashes and every control character.
            out.push_str(&serde_json::to_string(&text).map_err(|_| ours("tojson: cannot encode"))?);
        }
        ValueKind::Seq => {
            out.push('[');
            for (i, item) in v.try_iter()?.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json(&item, out, depth + 1)?;
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            for (i, key) in v.try_iter()?.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let name = key.to_string();
                out.push_str(
                    &serde_json::to_string(&name).map_err(|_| ours("tojson: cannot encode"))?,
                );
                out.push(':');
                json(&v.get_item(&key)?, out, depth + 1)?;
            }
            out.push('}');
        }
        other => {
            return Err(ours(format!(
                "tojson: cannot encode a {}",
                kind_name(other)
            )));
        }
    }
    Ok(())
}

/// `urlencode`: every byte outside RFC 3986's unreserved set (`A-Z a-z 0-9 - . _ ~`) as `%XX`,
/// so the result is safe in any URL component: a userinfo password, a path segment, a query.
pub(crate) fn urlencode(v: &Value) -> Result<String, Error> {
    let bytes = scalar_bytes("urlencode", v)?;
    Ok(percent_encoding::percent_encode(&bytes, crate::url::UNRESERVED).to_string())
}

/// `b64encode`: standard base64 with padding, of the value's exact bytes.
pub(crate) fn b64encode(v: &Value) -> Result<String, Error> {
    Ok(base64::engine::general_purpose::STANDARD.encode(scalar_bytes("b64encode", v)?))
}

/// `b64decode`: the bytes of standard base64 (padding required); text when they are UTF-8.
pub(crate) fn b64decode(v: &Value) -> Result<Value, Error> {
    let text = scalar_bytes("b64decode", v)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim_ascii())
        .map_err(|_| ours("b64decode: the value is not valid base64"))?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => Value::from(s),
        Err(e) => Value::from_bytes(e.into_bytes()),
    })
}

/// `shell_quote`: one POSIX sh word, single-quoted (`'` written as `'\''`). Nothing inside
/// single quotes is special to sh: no `$`, no backquote, no backslash, no glob.
pub(crate) fn shell_quote(v: &Value) -> Result<String, Error> {
    let text = scalar_text("shell_quote", v)?;
    if text.contains('\0') {
        return Err(ours(
            "shell_quote: the value contains a NUL byte, which sh cannot hold",
        ));
    }
    Ok(format!("'{}'", text.replace('\'', "'\\''")))
}

/// `yaml`: a double-quoted YAML scalar. Quote and backslash are escaped, and so is every
/// character a YAML reader would not take literally inside quotes (controls, DEL, C1, the line
/// separators U+0085/U+2028/U+2029 that YAML 1.1 folds, the BOM, non-characters), so the value
/// reads back byte-exact as a string, never as a number, a boolean, null or a tag.
pub(crate) fn yaml(v: &Value) -> Result<String, Error> {
    let text = scalar_text("yaml", v)?;
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            ' '..='~' => out.push(c),
            '\u{a0}'..='\u{d7ff}' if c != '\u{2028}' && c != '\u{2029}' => out.push(c),
            '\u{e000}'..='\u{fffd}' if c != '\u{feff}' => out.push(c),
            c if u32::from(c) > 0xffff => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", u32::from(c))),
        }
    }
    out.push('"');
    Ok(out)
}

/// `env_quote`: a double-quoted dotenv value as python-dotenv (and the tools that follow its
/// format) reads it: `\\`, `\"`, `\n`, `\r`, `\t`, `\v`, `\f` escaped, everything else literal.
/// python-dotenv expands `${NAME}` in every value, quoted or not, and has no escape for it: a
/// value containing `${` is refused rather than written to be read back changed.
pub(crate) fn env_quote(v: &Value) -> Result<String, Error> {
    let text = scalar_text("env_quote", v)?;
    if text.contains("${") {
        return Err(ours(
            "env_quote: the value contains \"${\", which dotenv readers expand and cannot escape \
             (write it with b64encode, or deliver the secret as its own file)",
        ));
    }
    if text.contains('\0') {
        return Err(ours("env_quote: the value contains a NUL byte"));
    }
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}

/// Adds the filters to `env`, replacing the engine's `tojson` and `urlencode` where it has them.
pub(crate) fn install(env: &mut minijinja::Environment<'_>) {
    env.add_filter("tojson", |v: &Value| tojson(v));
    env.add_filter("urlencode", |v: &Value| urlencode(v));
    env.add_filter("b64encode", |v: &Value| b64encode(v));
    env.add_filter("b64decode", |v: &Value| b64decode(v));
    env.add_filter("shell_quote", |v: &Value| shell_quote(v));
    env.add_filter("yaml", |v: &Value| yaml(v));
    env.add_filter("env_quote", |v: &Value| env_quote(v));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    #[test]
    fn urlencode_leaves_only_unreserved() {
        assert_eq!(
            urlencode(&s("a/b@c:d%e?f#g h+~._-")).expect("ok"),
            "a%2Fb%40c%3Ad%25e%3Ff%23g%20h%2B~._-"
        );
        assert_eq!(urlencode(&s("é")).expect("ok"), "%C3%A9");
    }

    #[test]
    fn undefined_is_refused_by_every_filter() {
        let u = Value::UNDEFINED;
        assert!(tojson(&u).is_err());
        assert!(urlencode(&u).is_err());
        assert!(b64encode(&u).is_err());
        assert!(b64decode(&u).is_err());
        assert!(shell_quote(&u).is_err());
        assert!(yaml(&u).is_err());
        assert!(env_quote(&u).is_err());
        assert_eq!(tojson(&Value::from(())).expect("none"), "null");
    }

    #[test]
    fn quoting_shapes() {
        assert_eq!(shell_quote(&s("it's")).expect("ok"), "'it'\\''s'");
        assert_eq!(
            yaml(&s("a\"b\\c\u{2028}\u{1}")).expect("ok"),
            "\"a\\\"b\\\\c\\u2028\\u0001\""
        );
        assert_eq!(
            env_quote(&s("a\"b\\c\nd")).expect("ok"),
            "\"a\\\"b\\\\c\\nd\""
        );
        assert!(env_quote(&s("x${HOME}")).is_err());
        assert_eq!(
            b64encode(&Value::from_bytes(vec![0xff, 0])).expect("ok"),
            "/wA="
        );
        assert_eq!(
            b64decode(&s("/wA=")).expect("ok").as_bytes(),
            Some(&[0xff, 0][..])
        );
        assert!(b64decode(&s("not base64!")).is_err());
    }

    #[test]
    fn no_error_quotes_its_input() {
        let secret = "canary-in-filter";
        for e in [
            b64decode(&s(secret)).expect_err("not base64"),
            env_quote(&s("canary-in-filter${X}")).expect_err("dollar brace"),
            shell_quote(&s("canary-in-filter\0")).expect_err("nul"),
            tojson(&Value::from_bytes(b"canary-in-filter\xff".to_vec())).expect_err("binary"),
        ] {
            assert!(!e.to_string().contains(secret), "{e}");
        }
    }
}

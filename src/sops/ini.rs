//! A SOPS INI file read into sops' tree (stores/ini in sops, over go-ini): one top-level item per
//! section in file order, `DEFAULT` first (the keys before any header), each holding its keys in
//! order with their comments (a section's comment first, a key's after it, as sops places them).
//! Lines are classified by the one INI line reader (`crate::ini`); every value is a string. The
//! `[sops]` section holds the flattened metadata.

use super::tree::{Item, Node, Scalar};

/// A comment line's text (after `;` or `#`), if the line is one.
fn comment(line: &[u8]) -> Option<String> {
    let t = line.trim_ascii();
    let rest = t.strip_prefix(b";").or_else(|| t.strip_prefix(b"#"))?;
    Some(String::from_utf8_lossy(rest.strip_prefix(b" ").unwrap_or(rest)).into_owned())
}

/// A value as go-ini gives it: an inline comment (`;` or `#` after a blank) cut off, one pair of
/// surrounding quotes removed.
fn value(v: &[u8]) -> (String, Option<String>) {
    let mut cut = None;
    for (i, w) in v.windows(2).enumerate() {
        if w[0].is_ascii_whitespace() && (w[1] == b';' || w[1] == b'#') {
            cut = Some(i);
            break;
        }
    }
    let (v, inline) = match cut {
        Some(i) => (
            v[..i].trim_ascii(),
            Some(String::from_utf8_lossy(v[i + 2..].trim_ascii()).into_owned()),
        ),
        None => (v, None),
    };
    let v = match v {
        [b'"', inner @ .., b'"'] | [b'`', inner @ .., b'`'] => inner,
        other => other,
    };
    (String::from_utf8_lossy(v).into_owned(), inline)
}

/// The `[sops]` section's keys and values, flattened (`age__list_0__map_enc`).
pub(crate) type Flat = Vec<(String, String)>;

/// Reads the file: the branch (one) and the `[sops]` section's flattened keys.
pub(crate) fn read(text: &str) -> Result<(Vec<Item>, Flat), String> {
    let mut sections: Vec<(String, Vec<Item>)> = vec![("DEFAULT".into(), Vec::new())];
    let mut pending: Vec<String> = Vec::new();
    for (n, raw) in text.split('\n').enumerate() {
        if let Some(c) = comment(raw.as_bytes()) {
            pending.push(c);
            continue;
        }
        match crate::ini::line(raw.as_bytes()) {
            crate::ini::Line::Section(name) => {
                let name = String::from_utf8_lossy(name).into_owned();
                if sections.iter().any(|(s, _)| *s == name) {
                    return Err(format!("line {}: section [{name}] given twice", n + 1));
                }
                let mut items = Vec::new();
                if !pending.is_empty() {
                    items.push(Item::Comment(pending.join("\n")));
                    pending.clear();
                }
                sections.push((name, items));
            }
            crate::ini::Line::Pair(k, v) => {
                let key = String::from_utf8_lossy(k).into_owned();
                let (v, inline) = value(v);
                let items = &mut sections.last_mut().ok_or("no section")?.1;
                if items
                    .iter()
                    .any(|i| matches!(i, Item::Entry(e, _) if *e == key))
                {
                    return Err(format!("line {}: a key given twice in its section", n + 1));
                }
                items.push(Item::Entry(key, Node::Scalar(Scalar::str(v))));
                pending.extend(inline);
                if !pending.is_empty() {
                    items.push(Item::Comment(pending.join("\n")));
                    pending.clear();
                }
            }
            crate::ini::Line::Other if raw.trim_ascii().is_empty() => {}
            crate::ini::Line::Other => {
                return Err(format!(
                    "line {}: neither a section, a key nor a comment",
                    n + 1
                ));
            }
        }
    }
    let mut meta = Vec::new();
    let mut items = Vec::new();
    for (name, section) in sections {
        if name == "sops" {
            for i in section {
                if let Item::Entry(k, Node::Scalar(s)) = i {
                    meta.push((k, String::from_utf8_lossy(&s.mac_bytes()).into_owned()));
                }
            }
        } else {
            items.push(Item::Entry(name, Node::Map(section)));
        }
    }
    Ok((items, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keys_and_comments_in_order() {
        let (items, meta) =
            read("; top\n[db]\nuser = admin\npass = \"a=b\" ; why\n\n[sops]\nmac = m\n")
                .expect("ini");
        assert_eq!(meta, [("mac".to_string(), "m".to_string())]);
        let names: Vec<&str> = items
            .iter()
            .map(|i| match i {
                Item::Entry(k, _) => k.as_str(),
                Item::Comment(_) => "#",
            })
            .collect();
        assert_eq!(names, ["DEFAULT", "db"]);
        let Item::Entry(_, Node::Map(db)) = &items[1] else {
            panic!()
        };
        assert!(matches!(&db[0], Item::Comment(c) if c == "top"));
        assert!(
            matches!(&db[2], Item::Entry(k, Node::Scalar(v)) if k == "pass" && v.mac_bytes().as_slice() == b"a=b")
        );
        assert!(matches!(&db[3], Item::Comment(c) if c == "why"));
        assert!(read("[a]\n  indented = x\n").is_err());
    }
}

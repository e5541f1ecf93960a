//! A SOPS YAML file read into the tree sops builds from it (stores/yaml in sops): every document
//! a branch, items in document order, comments kept where sops keeps them (a same-line comment
//! before the item it follows, as yaml.v3's line comments are), plain scalars typed as yaml.v3
//! types them. Built from granit-parser's events (the parser serde-saphyr runs on), with its
//! nesting limits; anchors, aliases and tags other than `!!str` are refused: sops never writes
//! them, so in a SOPS file they can only be an attempt to make two readers disagree.

use granit_parser::{Event, Options, Parser, Placement, ScalarStyle};

use super::tree::{Item, MAX_DEPTH, Node, Scalar, resolve_plain};

enum Frame {
    Map {
        items: Vec<Item>,
        key: Option<String>,
    },
    List(Vec<Node>),
}

/// Reads every document of `text`; each must be a mapping (or empty).
pub(crate) fn read(text: &str) -> Result<Vec<Vec<Item>>, String> {
    let mut options = Options::default();
    // Above ours, so that the message is ours: the parser's limit only guards its own stack.
    options.flow_nesting_limit = MAX_DEPTH + 2;
    options.block_nesting_limit = MAX_DEPTH + 2;
    let mut parser = Parser::new_from_str_with_options(text, options);
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // Own-line comments not yet placed: they go before the next key or element, whatever level
    // it is at (yaml.v3 makes them its head comment), or after the document's last item.
    let mut pending: Vec<String> = Vec::new();
    let mut top: Option<Vec<Item>> = None;
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| format!("not valid YAML: {}", e.info()))?;
        let line = span.start.line();
        // A key, or an element of a list, starts here: the pending comments come before it.
        let starts_item = matches!(
            (&ev, stack.last()),
            (Event::Scalar(..), Some(Frame::Map { key: None, .. }))
                | (
                    Event::Scalar(..) | Event::MappingStart(..) | Event::SequenceStart(..),
                    Some(Frame::List(_)),
                )
        );
        if starts_item {
            match stack.last_mut() {
                Some(Frame::Map { items, .. }) => {
                    items.extend(pending.drain(..).map(Item::Comment));
                }
                Some(Frame::List(nodes)) => nodes.extend(pending.drain(..).map(Node::Comment)),
                None => {}
            }
        }
        let node = match ev {
            Event::StreamStart | Event::StreamEnd => continue,
            Event::DocumentStart(..) => {
                top = None;
                continue;
            }
            Event::DocumentEnd => {
                let mut items = top.take().unwrap_or_default();
                items.extend(pending.drain(..).map(Item::Comment));
                docs.push(items);
                continue;
            }
            Event::Comment(text, placement) => {
                let text = text.into_owned();
                // A same-line comment belongs to the item on its line, before it (sops puts a
                // line comment before its item).
                match stack.last_mut() {
                    Some(Frame::Map { items, .. })
                        if placement == Placement::Right
                            && matches!(
                                items.last(),
                                Some(Item::Entry(_, Node::Scalar(_) | Node::Null))
                            ) =>
                    {
                        items.insert(items.len() - 1, Item::Comment(text));
                    }
                    Some(Frame::List(nodes))
                        if placement == Placement::Right
                            && matches!(nodes.last(), Some(Node::Scalar(_) | Node::Null)) =>
                    {
                        nodes.insert(nodes.len() - 1, Node::Comment(text));
                    }
                    _ => pending.push(text),
                }
                continue;
            }
            Event::MappingEnd | Event::SequenceEnd => match stack.pop() {
                Some(Frame::Map { items, .. }) => Node::Map(items),
                Some(Frame::List(nodes)) => Node::List(nodes),
                None => return Err("unbalanced YAML".into()),
            },
            Event::MappingStart(_, anchor, ref tag) | Event::SequenceStart(_, anchor, ref tag) => {
                if anchor != 0 || tag.is_some() {
                    return Err(format!(
                        "line {line}: anchors and tags are not in files sops writes"
                    ));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("nested deeper than {MAX_DEPTH} levels"));
                }
                stack.push(if matches!(ev, Event::MappingStart(..)) {
                    let mut items = Vec::new();
                    if stack.is_empty() {
                        items.extend(pending.drain(..).map(Item::Comment));
                    }
                    Frame::Map { items, key: None }
                } else {
                    Frame::List(Vec::new())
                });
                continue;
            }
            Event::Scalar(value, style, anchor, tag) => {
                if anchor != 0 {
                    return Err(format!("line {line}: anchors are not in files sops writes"));
                }
                let is_str = match &tag {
                    None => style != ScalarStyle::Plain,
                    Some(t) if t.is_yaml_core_schema_tag("str") => true,
                    Some(_) => {
                        return Err(format!("line {line}: tags are not in files sops writes"));
                    }
                };
                if is_str {
                    Node::Scalar(Scalar::str(value.into_owned()))
                } else {
                    resolve_plain(&value)
                }
            }
            // Aliases, and anything a later parser version adds.
            _ => {
                return Err(format!(
                    "line {line}: anchors and aliases are not in files sops writes"
                ));
            }
        };
        // A completed node: a key, a value, an element or the document.
        match stack.last_mut() {
            Some(Frame::Map {
                key: key @ None, ..
            }) => match node {
                Node::Scalar(Scalar::Str(s)) => *key = Some(s.to_string()),
                _ => return Err(format!("line {line}: a key that is not a string")),
            },
            Some(Frame::Map { items, key }) => {
                let k = key.take().unwrap_or_default();
                items.push(Item::Entry(k, node));
            }
            Some(Frame::List(nodes)) => nodes.push(node),
            None => match node {
                Node::Map(items) => top = Some(items),
                Node::Null => top = Some(Vec::new()),
                _ => return Err("a SOPS YAML document is a mapping".into()),
            },
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_types_and_comments() {
        let docs = read(
            "# head\nb: 0755 # mode\na:\n    # above\n    - 1.5\n    - 'x'\n    - true\nc: |\n  block\n",
        )
        .expect("yaml");
        let [doc] = docs.as_slice() else {
            panic!("one doc")
        };
        let keys: Vec<String> = doc
            .iter()
            .map(|i| match i {
                Item::Entry(k, _) => k.clone(),
                Item::Comment(c) => format!("#{c}"),
            })
            .collect();
        assert_eq!(keys, ["# head", "# mode", "b", "a", "c"]);
        let Item::Entry(_, Node::Scalar(s)) = &doc[2] else {
            panic!()
        };
        assert_eq!(s.mac_bytes().as_slice(), b"493");
        let Item::Entry(_, Node::List(l)) = &doc[3] else {
            panic!()
        };
        assert!(matches!(l[0], Node::Comment(_)));
        assert_eq!(l.len(), 4);
        // A comment after a nested block, at the outer level, goes before the next outer key.
        let docs = read(
            "a:
    b: 1
# c
d: 2
",
        )
        .expect("yaml");
        assert!(
            matches!(&docs[0][1], Item::Comment(c) if c == " c"),
            "{:?}",
            docs[0]
        );
    }

    #[test]
    fn refuses_what_sops_never_writes() {
        for bad in [
            "a: &x 1\nb: *x\n",
            "a: !!binary aGk=\n",
            "1: x\n",
            "- a\n",
            "a: [b\n",
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
        let deep = "a:\n".to_string()
            + &(1..200)
                .map(|i| format!("{}b:\n", " ".repeat(i)))
                .collect::<String>();
        assert!(read(&deep).is_err());
    }
}

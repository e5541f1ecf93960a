//! The check that keeps the layering (docs/architecture.md): reads every `crate::x` path in src/,
//! builds the graph of top-level modules, and fails on an import that runs up the layers unless
//! it is in [`ALLOWED_UP`] (each named, with why, in docs/architecture.md), and on an import
//! cycle other than the ones [`KNOWN_CYCLE`] still lists (a ratchet: it may only shrink).
//! Unit tests (`#[cfg(test)] mod tests`) are left out: a test may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module and its layer, lowest first: a module may import only from a lower
/// layer (or, for the leaves, from a lower leaf).
const LAYERS: &[(&str, u8)] = &[
    ("error", 0),
    ("name", 0),
    ("secret", 0),
    ("duration", 0),
    ("hex", 0),
    ("environ", 0),
    ("sys", 0),
    ("log", 1),
    ("fsx", 1),
    ("cli", 1),
    ("tree", 2),
    ("http", 2),
    ("bundle", 2),
    ("reference", 2),
    ("provenance", 2),
    ("source", 3),
    ("manifest", 4),
    ("settings", 5),
    ("resolve", 6),
    ("plan", 7),
    ("deliver", 8),
    ("provider", 9),
    ("template", 9),
    ("process", 10),
    ("user", 11),
    ("app", 12),
    ("fuzzing", 13),
    ("layers", 13),
];

/// Imports that still run up the layers, each named in docs/architecture.md with why: none left.
const ALLOWED_UP: &[(&str, &str)] = &[];

/// The modules of an import cycle still tolerated, made of the arrows in [`ALLOWED_UP`]: none
/// left, so any cycle fails the check.
const KNOWN_CYCLE: &[&str] = &[];

/// The top-level modules each top-level module imports, read from the sources under `src`.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    collect(src, &mut files);
    let known: BTreeSet<&str> = LAYERS.iter().map(|(m, _)| *m).collect();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(src).expect("under src");
        let first = rel.components().next().expect("a path");
        let from = first.as_os_str().to_string_lossy();
        let from = from.trim_end_matches(".rs").to_string();
        if from == "lib" || from == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&f).expect("readable source");
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
        let deps = out.entry(from.clone()).or_default();
        for to in crate_paths(code) {
            if to != from && known.contains(to.as_str()) {
                deps.insert(to);
            }
        }
    }
    out
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("src/ is readable") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The first segment of every `crate::…` path in `code`, comment lines skipped; a group
/// (`crate::{a, b::c}`) gives each of its items' first segments.
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let code: String = code
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `secret_init_crate::` or similar, not ours
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item_start = true;
            let mut word = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => {
                        if !word.is_empty() {
                            out.push(std::mem::take(&mut word));
                        }
                        item_start = true;
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if depth == 1 && item_start {
                    if c.is_alphanumeric() || c == '_' {
                        word.push(c);
                    } else if !word.is_empty() {
                        out.push(std::mem::take(&mut word));
                        item_start = false;
                    }
                }
            }
            if !word.is_empty() {
                out.push(word);
            }
        } else {
            let word: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.push(word);
        }
    }
    out
}

/// The strongly connected components of `g` with more than one member (Tarjan).
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        next: usize,
        out: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        t.index.insert(v, t.next);
        t.low.insert(v, t.next);
        t.next += 1;
        t.stack.push(v);
        let g = t.g;
        for w in g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if t.stack.contains(&w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut scc = BTreeSet::new();
            while let Some(w) = t.stack.pop() {
                scc.insert(w.to_string());
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                t.out.push(scc);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

/// The imports of `g` that run up the layers and are not allowed.
fn upward(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<(String, String)> {
    let rank: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let mut out = Vec::new();
    for (from, tos) in g {
        for to in tos {
            let up = match (rank.get(from.as_str()), rank.get(to.as_str())) {
                (Some(a), Some(b)) => b >= a,
                _ => true, // a module missing from LAYERS must be placed first
            };
            if up && !ALLOWED_UP.contains(&(from.as_str(), to.as_str())) {
                out.push((from.clone(), to.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
    }

    #[test]
    fn every_module_has_a_layer() {
        let g = graph(&src());
        let placed: BTreeSet<&str> = LAYERS.iter().map(|(m, _)| *m).collect();
        for m in g.keys() {
            assert!(placed.contains(m.as_str()), "src/{m} is not in LAYERS");
        }
    }

    #[test]
    fn imports_run_down_the_layers() {
        let bad = upward(&graph(&src()));
        assert!(
            bad.is_empty(),
            "imports up the layers, not in ALLOWED_UP (docs/architecture.md): {bad:?}"
        );
    }

    #[test]
    fn no_import_cycle_beyond_the_known_one() {
        let known: BTreeSet<String> = KNOWN_CYCLE.iter().map(|m| m.to_string()).collect();
        for c in cycles(&graph(&src())) {
            assert!(
                c.is_subset(&known),
                "an import cycle through modules not in KNOWN_CYCLE: {c:?}"
            );
        }
    }

    #[test]
    fn allow_lists_hold_no_stale_entries() {
        let g = graph(&src());
        for (from, to) in ALLOWED_UP {
            assert!(
                g.get(*from).is_some_and(|t| t.contains(*to)),
                "ALLOWED_UP lists {from} -> {to}, which no longer exists: remove it"
            );
        }
        let in_cycles: BTreeSet<String> = cycles(&g).into_iter().flatten().collect();
        for m in KNOWN_CYCLE {
            assert!(
                in_cycles.contains(*m),
                "KNOWN_CYCLE lists {m}, no longer in a cycle: remove it"
            );
        }
    }

    /// Negative controls: the readers and checks do fail on what they must catch.
    #[test]
    fn the_checks_can_fail() {
        assert_eq!(
            crate_paths("use crate::{a::b, c, d::{e, f}};\nlet x = crate::g::h();\n// crate::z"),
            ["a", "c", "d", "g"]
        );
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        g.entry("error".into()).or_default().insert("app".into());
        g.entry("app".into()).or_default().insert("error".into());
        assert_eq!(cycles(&g).len(), 1, "a two-module cycle is found");
        assert_eq!(
            upward(&g),
            [("error".to_string(), "app".to_string())],
            "error -> app runs up"
        );
    }
}

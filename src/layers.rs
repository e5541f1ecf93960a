//! The check that keeps the layering (docs/architecture.md), at every level: reads every path in
//! src/ that names a module of this crate (`crate::`, `super::`, `self::` and a child module's
//! name), resolves it to the file that defines the module, and fails on an import cycle between
//! any two files, and on an import that runs up [`LAYERS`] between top-level modules.
//! Unit tests (`#[cfg(test)] mod tests`) are left out: a test may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module and its layer, lowest first: a module may import only from a lower
/// layer (or, for the leaves, from a lower leaf).
const LAYERS: &[(&str, u8)] = &[
    ("error", 0),
    ("name", 0),
    ("order", 0),
    ("secret", 0),
    ("duration", 0),
    ("hex", 0),
    ("ini", 0),
    ("url", 0),
    ("environ", 0),
    ("sys", 0),
    ("log", 1),
    ("fsx", 1),
    ("cli", 1),
    ("tree", 2),
    ("mask", 2),
    ("http", 2),
    ("bundle", 2),
    ("age", 2),
    ("sops", 2),
    ("reference", 2),
    ("provenance", 2),
    ("source", 3),
    ("manifest", 4),
    ("settings", 5),
    ("resolve", 6),
    ("plan", 7),
    ("fallback", 7),
    ("deliver", 8),
    ("provider", 9),
    ("template", 9),
    ("process", 10),
    ("user", 11),
    ("app", 12),
    ("fuzzing", 13),
    ("layers", 13),
];

/// A module's path from the crate root: `["source", "aws", "credentials"]`; the root is `[]`.
type ModPath = Vec<String>;

/// Every module of the crate under `src` and its file's code (unit tests cut off).
fn modules(src: &Path) -> BTreeMap<ModPath, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("src/ is readable") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let rel = p.strip_prefix(src).expect("under src").with_extension("");
            let mut path: ModPath = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if path
                .last()
                .is_some_and(|l| l == "mod" || l == "lib" || l == "main")
            {
                path.pop();
            }
            if rel == Path::new("main") {
                continue;
            }
            let text = std::fs::read_to_string(&p).expect("readable source");
            let code = without_tests(&text);
            let code: String = code
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            out.insert(path, code);
        }
    }
    out
}

/// `text` up to its unit tests: a `mod tests` whose attribute is a `cfg` naming `test` (the
/// attribute may span lines).
fn without_tests(text: &str) -> &str {
    let mut at = 0;
    while let Some(i) = text[at..].find("#[cfg(") {
        let start = at + i;
        let Some(len) = text[start..].find(")]") else {
            break;
        };
        let end = start + len + 2;
        if text[start..end].contains("test") && text[end..].trim_start().starts_with("mod tests") {
            return &text[..start];
        }
        at = end;
    }
    text
}

/// Every path in `code` that starts with `crate`, `super`, `self` or one of `children`, as its
/// segments: `crate::{a::b, c}` gives `[crate, a, b]` and `[crate, c]`.
fn paths(code: &str, children: &BTreeSet<&str>) -> Vec<Vec<String>> {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !ident(chars[i]) || (i > 0 && (ident(chars[i - 1]) || chars[i - 1] == ':')) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && ident(chars[i]) {
            i += 1;
        }
        let first: String = chars[start..i].iter().collect();
        let rooted = matches!(first.as_str(), "crate" | "super" | "self");
        if !(rooted || children.contains(first.as_str())) || !code_at(&chars, i, "::") {
            continue;
        }
        expand(&chars, &mut i, vec![first], &mut out);
    }
    out
}

fn code_at(chars: &[char], i: usize, s: &str) -> bool {
    s.chars()
        .enumerate()
        .all(|(k, c)| chars.get(i + k) == Some(&c))
}

/// Reads `::seg::seg` or `::{a, b::c}` after `prefix` from `chars[*i..]`.
fn expand(chars: &[char], i: &mut usize, mut prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    while code_at(chars, *i, "::") {
        *i += 2;
        if chars.get(*i) == Some(&'{') {
            *i += 1;
            loop {
                while chars
                    .get(*i)
                    .is_some_and(|c| c.is_whitespace() || *c == ',')
                {
                    *i += 1;
                }
                match chars.get(*i) {
                    None => return,
                    Some('}') => {
                        *i += 1;
                        return;
                    }
                    _ => {}
                }
                let start = *i;
                while chars.get(*i).copied().is_some_and(ident) {
                    *i += 1;
                }
                if start == *i {
                    *i += 1; // `*` or another token: nothing to follow
                    continue;
                }
                let mut item = prefix.clone();
                item.push(chars[start..*i].iter().collect());
                expand(chars, i, item.clone(), out);
                out.push(item);
                // Skip `as NAME` and anything else up to the next item.
                while chars.get(*i).is_some_and(|c| *c != ',' && *c != '}') {
                    *i += 1;
                }
            }
        }
        let start = *i;
        while chars.get(*i).copied().is_some_and(ident) {
            *i += 1;
        }
        if start == *i {
            break;
        }
        prefix.push(chars[start..*i].iter().collect());
    }
    out.push(prefix);
}

/// The module a path seen in module `at` names: the longest prefix of it that is a module.
fn resolve(at: &ModPath, path: &[String], known: &BTreeMap<ModPath, String>) -> Option<ModPath> {
    let mut base = at.clone();
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &path[1..];
        }
        Some("self") => rest = &path[1..],
        Some("super") => {
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        _ => {}
    }
    for seg in rest {
        let mut next = base.clone();
        next.push(seg.clone());
        if !known.contains_key(&next) {
            break;
        }
        base = next;
    }
    (!base.is_empty()).then_some(base)
}

/// Which modules each module imports (its own descendants left out: declaring a child is not
/// depending on it, and a child may use its parent).
fn graph(src: &Path) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let known = modules(src);
    let mut out: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (at, code) in &known {
        if at.is_empty() {
            continue; // lib.rs: the entry point, which declares every module and calls app
        }
        let children: BTreeSet<&str> = known
            .keys()
            .filter(|k| k.len() == at.len() + 1 && k.starts_with(at))
            .filter_map(|k| k.last().map(String::as_str))
            .collect();
        let deps = out.entry(at.clone()).or_default();
        for p in paths(code, &children) {
            if let Some(to) = resolve(at, &p, &known)
                && !to.starts_with(at)
            {
                deps.insert(to);
            }
        }
    }
    out
}

/// The strongly connected components of `g` with more than one member (Tarjan).
fn cycles<N: Ord + Clone>(g: &BTreeMap<N, BTreeSet<N>>) -> Vec<BTreeSet<N>> {
    struct T<'a, N> {
        g: &'a BTreeMap<N, BTreeSet<N>>,
        index: BTreeMap<&'a N, usize>,
        low: BTreeMap<&'a N, usize>,
        stack: Vec<&'a N>,
        next: usize,
        out: Vec<BTreeSet<N>>,
    }
    fn visit<'a, N: Ord + Clone>(t: &mut T<'a, N>, v: &'a N) {
        t.index.insert(v, t.next);
        t.low.insert(v, t.next);
        t.next += 1;
        t.stack.push(v);
        let g = t.g;
        for w in g.get(v).into_iter().flatten() {
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
                scc.insert(w.clone());
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
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

/// The imports between top-level modules that run up the layers (or reach a module without a
/// layer).
fn upward(g: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<(String, String)> {
    let rank: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let mut out = BTreeSet::new();
    for (from, tos) in g {
        for to in tos {
            let (a, b) = (from[0].as_str(), to[0].as_str());
            if a == b {
                continue;
            }
            let up = match (rank.get(a), rank.get(b)) {
                (Some(x), Some(y)) => y >= x,
                _ => true,
            };
            if up {
                out.insert((a.to_string(), b.to_string()));
            }
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
    }

    fn named(m: &[String]) -> String {
        m.join("::")
    }

    #[test]
    fn every_top_level_module_has_a_layer() {
        let placed: BTreeSet<&str> = LAYERS.iter().map(|(m, _)| *m).collect();
        for m in graph(&src()).keys() {
            assert!(
                placed.contains(m[0].as_str()),
                "src/{} is not in LAYERS",
                m[0]
            );
        }
    }

    #[test]
    fn imports_run_down_the_layers() {
        let bad = upward(&graph(&src()));
        assert!(bad.is_empty(), "imports up the layers: {bad:?}");
    }

    #[test]
    fn no_import_cycle_at_any_level() {
        let found: Vec<Vec<String>> = cycles(&graph(&src()))
            .iter()
            .map(|c| c.iter().map(|m| named(m)).collect())
            .collect();
        assert!(found.is_empty(), "import cycles: {found:?}");
    }

    /// Negative controls: the readers and checks do fail on what they must catch.
    #[test]
    fn the_checks_can_fail() {
        let children: BTreeSet<&str> = ["kind"].into();
        let seen = paths(
            "use crate::{a::b, c, d::{e, f}};\nlet x = crate::g::h();\nuse super::x;\nuse kind::K;\nfoo::bar();",
            &children,
        );
        for want in [
            "crate::a::b",
            "crate::c",
            "crate::d::e",
            "crate::g::h",
            "super::x",
            "kind::K",
        ] {
            assert!(
                seen.iter().any(|p| p.join("::") == want),
                "{want} in {seen:?}"
            );
        }
        assert!(!seen.iter().any(|p| p[0] == "foo"), "{seen:?}");
        assert_eq!(
            without_tests("a\n#[cfg(all(\n    test,\n    feature = \"x\"\n))]\nmod tests {b}"),
            "a\n"
        );
        assert_eq!(without_tests("a\nmod tests {b}"), "a\nmod tests {b}");
        let real = graph(&src());
        let m = |s: &str| -> ModPath { s.split("::").map(str::to_string).collect() };
        assert!(
            real[&m("source::registry")].contains(&m("source::vault")),
            "the table's import of the vault source is seen"
        );
        let mut g: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
        g.entry(m("error")).or_default().insert(m("app::x"));
        g.entry(m("app::x")).or_default().insert(m("error"));
        assert_eq!(cycles(&g).len(), 1, "a two-module cycle is found");
        assert_eq!(
            upward(&g),
            [("error".to_string(), "app".to_string())],
            "error -> app runs up"
        );
    }
}

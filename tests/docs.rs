//! The repo speaks to users, and what it says stays true: no file refers to this project's own
//! issue numbers, rounds or past work (upstream references such as `tini#180` are fine); every
//! relative link in README.md and docs/ resolves, and every `src/`, `docs/`, `tests/`, `scripts/`,
//! `fuzz/` or `examples/` path any file names exists; the README stays a manual (at most 450
//! lines); and the figures the docs give about the code and the build (the fuzz targets, the
//! binary's size, the benchmarks) come from the code or from the script that measured them.

use std::path::{Path, PathBuf};

use crate::support::*;

/// Directories that are not the project's own text: build output, tools, fuzz runs and corpora
/// (inputs, not prose), benchmark scratch.
const SKIP_DIRS: &[&str] = &[
    ".git",
    "target",
    ".venv",
    ".tools",
    "bench-results",
    "fuzz/target",
    "fuzz/corpus",
    "fuzz/work",
    "fuzz/artifacts",
    "fuzz/logs",
    "fuzz/coverage",
];

/// Every text file of the repo (not following links), with its path relative to the root.
fn repo_text_files() -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry"))
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let rel = path
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .into_owned();
            let ty = e.file_type().expect("file type");
            if ty.is_dir() {
                if !SKIP_DIRS.contains(&rel.as_str()) {
                    walk(root, &path, out);
                }
            } else if ty.is_file() && rel != "Cargo.lock" && !rel.ends_with(".git") {
                let bytes = std::fs::read(&path).expect("read");
                if bytes.contains(&0) {
                    continue;
                }
                if let Ok(text) = String::from_utf8(bytes) {
                    out.push((rel, text));
                }
            }
        }
    }
    let root = root();
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out
}

/// Phrases that tell the story of how the project was made instead of what it does. Matched
/// against the lowercased line; `N` stands for a number and `_` for a space (written so, this
/// list does not itself read as the history it looks for).
const HISTORY: &[&str] = &[
    "issue_N",
    "issues_N",
    "issue_#N",
    "the_issue's",
    "the_issue_names",
    "that_issue",
    "companion_issue",
    "issues_\"",
    "item_N",
    "this_round",
    "round_N",
    "first_round",
    "second_round",
    "third_round",
    "hardening_round",
    "this_restructure",
    "the_restructure",
    "this_session",
    "the_session's",
    "past_run",
    "earlier_session",
    "previous_session",
];

/// Names the project gave its own pieces of work (`Hardening I`, `Refresh II`): matched
/// case-sensitively, as a whole word.
const WORK_NAMES: &[&str] = &[
    "Hardening",
    "Refresh",
    "AWS",
    "GCP",
    "Azure",
    "Vault",
    "Bundle",
    "Templates",
    "Providers",
    "Fleet",
    "Init",
];

/// Whether `pattern` occurs in `line` (lowercased) as whole words, `N` in the pattern matching
/// one or more digits.
fn matches_at(line: &str, pattern: &str) -> bool {
    let (l, p) = (line.as_bytes(), pattern.as_bytes());
    (0..l.len()).any(|start| {
        if start > 0 && l[start - 1].is_ascii_alphanumeric() {
            return false;
        }
        let mut i = start;
        for &c in p {
            if c == b'N' {
                let from = i;
                while l.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                if i == from {
                    return false;
                }
            } else if l.get(i) == Some(&c) || (c == b'_' && l.get(i) == Some(&b' ')) {
                i += 1;
            } else {
                return false;
            }
        }
        // A pattern that ends in a letter ends at a word boundary (`that issue`, not `that issued`).
        !(p.last().is_some_and(u8::is_ascii_lowercase)
            && l.get(i).is_some_and(u8::is_ascii_alphanumeric))
    })
}

/// The history phrases and work names found in `text`, as `path:line: text`.
fn history_in(path: &str, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let lower = line.to_lowercase();
        let mut hit = HISTORY.iter().any(|p| matches_at(&lower, p));
        for w in WORK_NAMES {
            for numeral in [" I", " II", " III"] {
                let name = format!("{w}{numeral}");
                for (at, _) in line.match_indices(&name) {
                    let before = line[..at].chars().next_back();
                    let after = line[at + name.len()..].chars().next();
                    if !before.is_some_and(|c| c.is_alphanumeric())
                        && !after.is_some_and(|c| c.is_alphanumeric())
                    {
                        hit = true;
                    }
                }
            }
        }
        if hit {
            found.push(format!("{path}:{}: {}", n + 1, line.trim()));
        }
    }
    found
}

#[test]
fn no_file_refers_to_the_projects_own_history() {
    let files = repo_text_files();
    assert!(
        files.iter().any(|(p, _)| p == "src/lib.rs") && files.len() > 100,
        "the walk found {} files",
        files.len()
    );
    let found: Vec<String> = files
        .iter()
        .filter(|(p, _)| p != "tests/docs.rs")
        .flat_map(|(p, t)| history_in(p, t))
        .collect();
    assert!(
        found.is_empty(),
        "history belongs in commit messages and CHANGELOG.md's entries, not here:\n{}",
        found.join("\n")
    );
}

/// The matcher itself: each kind of reference it must catch, and the upstream and ordinary
/// uses of the same words it must let through.
#[test]
fn history_matcher_catches_what_it_should_and_only_that() {
    // `_` stands for the space, as in HISTORY.
    for bad in [
        "see issue_13's goals",
        "Issue_10 item_4: the kernel's rule",
        "fixed in issue_#7",
        "what the \"Hardening I\" round changed",
        "Refresh II (docs/vault.md)",
        "AWS II's parsers",
        "not done this_round",
        "the round_2 figures",
        "Gone in this_restructure: a module",
        "across the_session's runs",
        "when that_issue lands",
        "at the_issue's limits",
    ] {
        let bad = bad.replace('_', " ");
        assert!(!history_in("x", &bad).is_empty(), "missed: {bad}");
    }
    for fine in [
        "after the program ends (tini#180)",
        "runc#5206 and kubernetes#111947",
        "re-issued at two thirds of the lease",
        "path: pki/issue/web",
        "the AWS session token; AWS_ROLE_SESSION_NAME",
        "rotating rounds, 300 rounds",
        "Init: supervised and exec mode",
        "a Vault Agent sidecar",
        "a run that issued dynamic secrets",
        "the first item of the list",
    ] {
        assert!(history_in("x", fine).is_empty(), "false positive: {fine}");
    }
}

/// The targets of a markdown file's relative links (`[text](target)`), each split into the file
/// (empty: this page) and the `#anchor` (empty: none).
fn relative_links(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("](") {
        let rest = &text[at + 2..];
        let Some(end) = rest.find(')') else { continue };
        let target = rest[..end].trim();
        if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
        out.push((file.to_string(), anchor.to_string()));
    }
    out
}

/// The anchors GitHub gives a markdown file's headings: lowercased, spaces as `-`, punctuation
/// other than `-` and `_` dropped.
fn anchors(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            l.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

/// Paths inside the repo that `text` names (`src/x.rs`, `docs/x.md`, `scripts/bench`, ...):
/// a word starting with one of the top-level directories, up to the first character that cannot
/// be part of a path. Glob patterns, placeholders and paths inside URLs are left out.
fn named_paths(text: &str) -> Vec<String> {
    const DIRS: &[&str] = &["src/", "docs/", "tests/", "scripts/", "fuzz/", "examples/"];
    let mut out = Vec::new();
    for dir in DIRS {
        for (at, _) in text.match_indices(dir) {
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || "/._-~$".contains(c)) {
                continue;
            }
            let path: String = text[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || "/._-*<>{}".contains(*c))
                .collect();
            let path = path.trim_end_matches(['.', '/']);
            // A placeholder segment in capitals (`docs/NAME.md`), but not a real file's name.
            let placeholder = path.split('/').any(|seg| {
                let stem = seg.split('.').next().unwrap_or_default();
                stem.len() > 1
                    && stem.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                    && !["README", "CHANGELOG", "LICENSE"].contains(&stem)
            });
            if placeholder || path.contains(['*', '<', '>', '{', '}']) || !path.contains('.') {
                // A pattern, a placeholder, or a directory: only files are checked.
                continue;
            }
            out.push(path.to_string());
        }
    }
    out
}

/// Markdown file names `text` gives without a directory (`design.md`): a word ending in `.md`
/// that is not part of a path, a URL or a shell or template variable.
fn bare_md_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices(".md") {
        let after = text[at + 3..].chars().next();
        if after.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let stem: String = text[..at]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || "_-".contains(*c))
            .collect();
        let before = text[..at - stem.len()].chars().next_back();
        if stem.is_empty() || before.is_some_and(|c| c.is_alphanumeric() || "/.$}{_-".contains(c)) {
            continue;
        }
        out.push(format!("{}.md", stem.chars().rev().collect::<String>()));
    }
    out
}

#[test]
fn every_link_and_path_the_docs_name_exists() {
    let root = root();
    let mut missing = Vec::new();
    let mut links = 0;
    let files = repo_text_files();
    let md_names: Vec<String> = files
        .iter()
        .filter(|(p, _)| p.ends_with(".md"))
        .map(|(p, _)| p.rsplit('/').next().unwrap_or_default().to_string())
        .collect();
    for (path, text) in files {
        let is_doc = path == "README.md" || (path.starts_with("docs/") && path.ends_with(".md"));
        if is_doc {
            let base = Path::new(&path).parent().unwrap_or(Path::new(""));
            for (file, anchor) in relative_links(&text) {
                links += 1;
                let target = root.join(base).join(&file);
                if !file.is_empty() && !target.exists() {
                    missing.push(format!("{path}: link to {file}"));
                    continue;
                }
                let page = if file.is_empty() {
                    text.clone()
                } else if file.ends_with(".md") {
                    read(&target)
                } else {
                    continue;
                };
                if !anchor.is_empty() && !anchors(&page).contains(&anchor) {
                    missing.push(format!("{path}: link to {file}#{anchor}: no such heading"));
                }
            }
        }
        if path == "tests/docs.rs" {
            continue;
        }
        for named in named_paths(&text) {
            if !root.join(&named).exists() {
                missing.push(format!("{path}: names {named}"));
            }
        }
        for name in bare_md_names(&text) {
            if !md_names.contains(&name) {
                missing.push(format!(
                    "{path}: names {name}, which the repo does not have"
                ));
            }
        }
    }
    assert!(links > 50, "only {links} relative links found");
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// The path checks themselves: a file that is not there is caught, one that is passes.
#[test]
fn path_checks_catch_a_missing_file() {
    let text = "See [the map](architecture.md#layers), [gone](design.md) and \
                <https://example.com/x.md>; the client is src/http.rs, the pass src/app/pipeline.rs, \
                targets fuzz/fuzz_targets/*.rs, files <dir>/<name>, std's library/std/src/sys/x.rs, \
                a page docs/NAME.md.";
    let links: Vec<String> = relative_links(text).into_iter().map(|(f, _)| f).collect();
    assert_eq!(links, vec!["architecture.md", "design.md"]);
    assert_eq!(
        anchors("# Live refresh\n## Tokens, leases and `dynamic` secrets (live refresh)\n"),
        vec![
            "live-refresh",
            "tokens-leases-and-dynamic-secrets-live-refresh"
        ]
    );
    assert_eq!(
        named_paths(text),
        vec!["src/http.rs", "src/app/pipeline.rs"],
        "{text}"
    );
    assert!(!root().join("src/http.rs").exists());
    assert_eq!(
        bare_md_names("see design.md, docs/size.md, $name.md and README.md."),
        vec!["design.md", "README.md"]
    );
    assert!(root().join("src/app/pipeline.rs").exists());
}

#[test]
fn readme_is_a_manual_of_at_most_450_lines() {
    let readme = read(&root().join("README.md"));
    let lines = readme.lines().count();
    assert!(lines <= 450, "README.md has {lines} lines");
    // What a manual has: install, a start, the commands, the sources, the exit codes.
    for heading in [
        "## Install",
        "## Quick start",
        "## Commands",
        "## Sources",
        "## Exit codes",
    ] {
        assert!(
            readme.contains(&format!("\n{heading}")),
            "README lacks {heading}"
        );
    }
    // Every source's page is linked from the README.
    for page in [
        "vault",
        "aws",
        "gcp",
        "azure",
        "bundle",
        "templates",
        "refresh",
        "providers",
        "init",
    ] {
        assert!(
            readme.contains(&format!("(docs/{page}.md")),
            "README does not link docs/{page}.md"
        );
    }
}

/// A number written out in words, as the docs might state a count.
fn number_word(n: usize) -> &'static str {
    [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
    ]
    .get(n)
    .copied()
    .unwrap_or("many")
}

/// The fuzz targets: docs/fuzzing.md's table lists exactly the files in fuzz/fuzz_targets/ (and
/// the `[[bin]]`s of fuzz/Cargo.toml), and no doc states a count of them that is not the real one.
#[test]
fn fuzz_targets_in_the_docs_are_the_real_ones() {
    let mut targets: Vec<String> = std::fs::read_dir(root().join("fuzz/fuzz_targets"))
        .expect("fuzz/fuzz_targets")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".rs").map(str::to_string))
        .collect();
    targets.sort();
    assert!(targets.len() >= 5, "{targets:?}");
    let cargo = read(&root().join("fuzz/Cargo.toml"));
    for t in &targets {
        assert!(
            cargo.contains(&format!("name = \"{t}\"")),
            "fuzz/Cargo.toml lacks the target {t}"
        );
    }
    let doc = read(&root().join("docs/fuzzing.md"));
    let mut listed: Vec<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|t| !t.contains('/') && !t.contains(' '))
        .map(str::to_string)
        .collect();
    listed.sort();
    listed.dedup();
    assert_eq!(
        listed, targets,
        "docs/fuzzing.md's targets table against fuzz/fuzz_targets/"
    );
    let real = targets.len();
    for (path, text) in repo_text_files() {
        if !(path == "README.md" || path.starts_with("docs/")) {
            continue;
        }
        let lower = text.to_lowercase();
        for n in 1..=20 {
            if n == real {
                continue;
            }
            for said in [
                format!("{n} fuzz targets"),
                format!("{} fuzz targets", number_word(n)),
                format!("{n} libfuzzer targets"),
                format!("{} libfuzzer targets", number_word(n)),
            ] {
                assert!(
                    !matches_at(&lower, &said),
                    "{path} says \"{said}\"; there are {real} fuzz targets"
                );
            }
        }
    }
}

/// The binary's size as docs/size.md states it (written by `scripts/size`) is the size of the
/// binary under test, within 5%: a build that grew or shrank more than that needs
/// `bash scripts/size` run again. Both default builds, as stated, and the binary under test are
/// at most the 3.5 MiB ceiling.
#[test]
fn size_doc_states_the_binarys_size() {
    let doc = read(&root().join("docs/size.md"));
    assert!(
        doc.starts_with("<!-- Generated by scripts/size"),
        "docs/size.md is written by scripts/size"
    );
    let stated: u64 = doc
        .lines()
        .find_map(|l| l.strip_prefix("| `x86_64-unknown-linux-musl`, default features | "))
        .and_then(|rest| rest.split(' ').next())
        .map(|n| n.replace(',', ""))
        .and_then(|n| n.parse().ok())
        .expect("docs/size.md has the x86_64 row");
    let bin: PathBuf = bin();
    assert!(
        std::env::var_os("SI_TEST_BIN").is_some(),
        "set SI_TEST_BIN to the static release build (scripts/test does)"
    );
    let real = std::fs::metadata(&bin)
        .expect("the binary under test")
        .len();
    let off = (real as f64 - stated as f64).abs() / stated as f64;
    assert!(
        off <= 0.05,
        "docs/size.md says {stated} bytes, {} is {real}: run bash scripts/size",
        bin.display()
    );
    // The ceiling README and docs/size.md state, which scripts/bench.d/core.sh checks too.
    const CEILING: u64 = 3 * 1024 * 1024 + 512 * 1024;
    assert!(
        doc.contains("ceiling is 3.5 MiB"),
        "docs/size.md states the 3.5 MiB ceiling"
    );
    for arch in ["x86_64", "aarch64"] {
        let row = format!("| `{arch}-unknown-linux-musl`, default features | ");
        let Some(bytes) = doc
            .lines()
            .find_map(|l| l.strip_prefix(row.as_str()))
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.replace(',', "").parse::<u64>().ok())
        else {
            assert_ne!(arch, "x86_64", "docs/size.md has the x86_64 row");
            continue;
        };
        assert!(
            bytes <= CEILING,
            "docs/size.md: the {arch} default build is {bytes} bytes, over the {CEILING}-byte ceiling"
        );
    }
    assert!(
        real <= CEILING,
        "{} is {real} bytes, over the {CEILING}-byte (3.5 MiB) ceiling",
        bin.display()
    );
}

/// docs/benchmarks.md is the output of scripts/bench: the generated header, and a section per
/// area script, each with the date and machine it was taken on and the script that took it.
#[test]
fn benchmarks_doc_is_the_bench_scripts_output() {
    let doc = read(&root().join("docs/benchmarks.md"));
    assert!(
        doc.starts_with("<!-- Generated by scripts/bench"),
        "docs/benchmarks.md is written by scripts/bench"
    );
    let mut sections = 0;
    for part in doc.split("<!-- bench: ").skip(1) {
        let (name, body) = part.split_once(" -->\n").expect("section marker");
        assert!(
            root().join("scripts/bench.d").join(name).exists(),
            "a section for {name}, which is not in scripts/bench.d/"
        );
        assert!(
            body.contains(&format!("by `scripts/bench.d/{name}`.")) && body.contains("Taken "),
            "section {name} does not say when and where it was taken"
        );
        sections += 1;
    }
    assert!(sections >= 1, "no section in docs/benchmarks.md");
    let readme = read(&root().join("README.md"));
    assert!(
        !readme.contains("\n## Benchmarks"),
        "benchmarks live in docs/benchmarks.md"
    );
}

/// Every source the binary has is where a user looks for it: the README's `sources:` sample, its
/// live-refresh section, docs/refresh.md's table of how a change is noticed, and (for the remote
/// ones) a section of docs/try-locally.md.
#[test]
fn every_source_is_in_the_samples_the_refresh_docs_and_try_locally() {
    let version = Run::new().arg("--version").output();
    version.expect_ok();
    let line = version
        .stdout()
        .lines()
        .find_map(|l| {
            l.strip_prefix("sources:")
                .map(str::trim)
                .map(str::to_string)
        })
        .expect("--version lists the sources");
    let sources: Vec<&str> = line.split(", ").collect();
    assert!(sources.len() >= 9, "{sources:?}");
    let readme = read(&root().join("README.md"));
    let sample = readme
        .lines()
        .find(|l| l.trim_start().starts_with("sources: ["))
        .expect("a sources: sample in the README");
    let refresh = readme
        .split("\n## Live refresh")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Live refresh section");
    let refresh_doc = read(&root().join("docs/refresh.md"));
    let try_locally = read(&root().join("docs/try-locally.md"));
    for s in &sources {
        assert!(
            sample.contains(s),
            "the README's sources sample lacks {s}: {sample}"
        );
        assert!(
            refresh.contains(&format!("`{s}`")),
            "the README's refresh section lacks {s}"
        );
        assert!(
            refresh_doc
                .lines()
                .any(|l| l.starts_with("| `") && l.contains(&format!("`{s}`"))),
            "docs/refresh.md's table lacks {s}"
        );
    }
    for s in ["vault", "aws", "gcp", "azure"] {
        assert!(
            try_locally
                .lines()
                .any(|l| l.starts_with("## ") && l.to_lowercase().contains(s)),
            "docs/try-locally.md has no section for {s}"
        );
    }
}

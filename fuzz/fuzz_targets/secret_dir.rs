//! The Kubernetes secret-dir reader (`source::file::FileSource`) on a tree built from the input:
//! regular files, directories, FIFOs and symlinks (`..data` links, links to a timestamped dir,
//! links escaping the tree, absolute links, `/proc` magic links, loops), then lookups of names.
//!
//! Invariants: no panic, no hang (FIFOs are in the tree; libFuzzer's -timeout catches a hang), a
//! found value is byte-equal to a file written inside the tree (never the canary outside it,
//! never /proc or /etc content), never longer than the size cap, its visible path is
//! `<dir>/<name>`, and a second reader over the same tree gives the same outcome.
#![no_main]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use secret_init::name::SecretName;
use secret_init::fuzzing::secret_dir::{FileSource, Source};

const CANARY: &[u8] = b"OUTSIDE-THE-TREE-CANARY";
const DIRS: &[&str] = &["", "..data", "..2026_11_23_00_00_00.1", "sub"];
const NAMES: &[&str] = &[
    "db",
    "api_key",
    "..data",
    "..2026_11_23_00_00_00.1",
    "sub",
    ".dockerconfigjson",
    "loop",
    "fifo",
    "..data_tmp",
];
const TARGETS: &[&str] = &[
    "..data/db",
    "..data/api_key",
    "..2026_11_23_00_00_00.1",
    "..data/.dockerconfigjson",
    "../outside/canary",
    "../../outside/canary",
    "@OUTSIDE",
    "@INSIDE",
    "/proc/self/environ",
    "/proc/self/fd/0",
    "/proc/self/root/etc/passwd",
    "/etc/passwd",
    "/dev/zero",
    "db",
    "loop",
    "sub/db",
    "..data",
    ".",
    "..",
    "sub/../db",
    "..data/loop",
    "fifo",
];

#[derive(Arbitrary, Debug)]
enum Node {
    File(Vec<u8>),
    Dir,
    Link(u8),
    Fifo,
}

#[derive(Arbitrary, Debug)]
struct Input {
    nodes: Vec<(u8, u8, Node)>,
    lookups: Vec<u8>,
    max: u16,
    second_dir: bool,
    /// Start from a Kubernetes volume layout (timestamped dir, `..data` link, per-key links).
    k8s_base: bool,
}

fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        // A tmpfs when there is one: the tree is rebuilt for every input.
        let base = Some(PathBuf::from("/dev/shm"))
            .filter(|p| p.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        base.join(format!("si-fuzz-secret-dir-{}", std::process::id()))
    })
}

fn build(root: &Path, input: &Input) -> Vec<Vec<u8>> {
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(root.join("secrets")).expect("create the tree root");
    std::fs::create_dir_all(root.join("outside")).expect("create the outside dir");
    std::fs::write(root.join("outside/canary"), CANARY).expect("write the canary");
    let mut written = Vec::new();
    if input.k8s_base {
        let s = root.join("secrets");
        let ts = s.join("..2026_11_23_00_00_00.1");
        std::fs::create_dir(&ts).expect("create the timestamped dir");
        for (name, value) in [
            ("db", &b"postgres://u:p@db/app"[..]),
            ("api_key", b"sk-123\n"),
        ] {
            std::fs::write(ts.join(name), value).expect("write a k8s key");
            symlink(format!("..data/{name}"), s.join(name)).expect("link a k8s key");
            written.push(value.to_vec());
        }
        symlink("..2026_11_23_00_00_00.1", s.join("..data")).expect("link ..data");
    }
    for (parent, name, node) in input.nodes.iter().take(24) {
        let dir = root
            .join("secrets")
            .join(DIRS[*parent as usize % DIRS.len()]);
        let path = dir.join(NAMES[*name as usize % NAMES.len()]);
        // Creation failures (parent missing or not a dir, name taken) just skip the node.
        match node {
            Node::File(bytes) => {
                let bytes: Vec<u8> = bytes.iter().copied().take(4096).collect();
                // create_new: never follow a link or open a FIFO made by an earlier node.
                let made = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .and_then(|mut f| std::io::Write::write_all(&mut f, &bytes));
                if made.is_ok() {
                    written.push(bytes);
                }
            }
            Node::Dir => {
                let _ = std::fs::create_dir(&path);
            }
            Node::Link(t) => {
                let target = match TARGETS[*t as usize % TARGETS.len()] {
                    "@OUTSIDE" => root.join("outside/canary"),
                    "@INSIDE" => root.join("secrets/db"),
                    other => PathBuf::from(other),
                };
                let _ = symlink(target, &path);
            }
            Node::Fifo => {
                let _ = nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600));
            }
        }
    }
    written
}

type Outcome = Result<Option<(Vec<u8>, Option<PathBuf>)>, String>;

fn lookup(dirs: &[PathBuf], max: u64, names: &[SecretName]) -> Vec<Outcome> {
    let mut src = FileSource::new(dirs.to_vec(), max);
    names
        .iter()
        .map(|n| {
            src.lookup(n)
                .map(|f| f.map(|f| (f.value.expose().to_vec(), f.origin.path)))
                .map_err(|e| e.to_string())
        })
        .collect()
}

fuzz_target!(|input: Input| {
    let root = root();
    let written = build(root, &input);
    let secrets = root.join("secrets");
    let mut dirs = vec![secrets.clone()];
    if input.second_dir {
        dirs.push(secrets.join("sub"));
        dirs.push(root.join("absent"));
    }
    let max = u64::from(input.max);
    let names: Vec<SecretName> = input
        .lookups
        .iter()
        .take(12)
        .filter_map(|i| SecretName::parse(NAMES[*i as usize % NAMES.len()]).ok())
        .collect();
    let first = lookup(&dirs, max, &names);
    for (name, outcome) in names.iter().zip(&first) {
        if let Ok(Some((value, path))) = outcome {
            assert!(
                written.iter().any(|w| w == value),
                "{name}: value read from outside the files written in the tree"
            );
            assert!(value.len() as u64 <= max, "{name}: over the size cap");
            let path = path.as_ref().expect("file origins carry a path");
            assert!(
                dirs.iter().any(|d| &d.join(name.as_str()) == path),
                "{name}: origin path {path:?}"
            );
        }
        if let Err(msg) = outcome {
            assert!(!msg.as_bytes().windows(CANARY.len()).any(|w| w == CANARY));
        }
    }
    assert_eq!(
        first,
        lookup(&dirs, max, &names),
        "a second reader disagrees"
    );
});

//! The release (`bash scripts/release`, README "Install"): what dist/ holds is checked as a user and
//! a security reviewer would check it. The test command runs the release once, before the tests,
//! and points `SI_TEST_DIST` at its dist/ (missing fails, never skips); the reproducibility test
//! builds the binaries a second time, from a clone of the commit in another directory with another
//! `CARGO_HOME`. The image is loaded and used by `container::release` (the podman phase).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

/// The targets of a release: (dist's arch word, Rust target, qemu runner or none).
pub const ARCHES: [(&str, &str); 2] = [
    ("x86_64", "x86_64-unknown-linux-musl"),
    ("aarch64", "aarch64-unknown-linux-musl"),
];

/// The dist/ the test command's release wrote.
pub fn dist() -> PathBuf {
    let d = std::env::var_os("SI_TEST_DIST")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .expect("SI_TEST_DIST unset: run bash scripts/release and export SI_TEST_DIST=$PWD/dist (scripts/test does)");
    assert!(
        d.join("SHA256SUMS").exists(),
        "{} holds no release",
        d.display()
    );
    d
}

/// The version every artifact name carries.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// dist's binary for `arch`.
pub fn binary(arch: &str) -> PathBuf {
    dist().join(format!("secret-init-{}-{arch}-linux-musl", version()))
}

/// The wheel for `arch`.
fn wheel(arch: &str) -> PathBuf {
    dist().join(format!(
        "secret_init-{}-py3-none-manylinux_2_17_{arch}.manylinux2014_{arch}.musllinux_1_1_{arch}.whl",
        version()
    ))
}

/// The commit checked out.
pub fn head() -> String {
    let out = succeeded(
        Command::new("git")
            .arg("-C")
            .arg(root())
            .args(["rev-parse", "HEAD"]),
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

/// Whether tracked files have uncommitted changes (then the release says `-dirty`).
fn dirty() -> bool {
    let out = succeeded(
        Command::new("git")
            .arg("-C")
            .arg(root())
            .args(["status", "--porcelain", "--untracked-files=no"])
            .env("GIT_OPTIONAL_LOCKS", "0"),
    );
    !out.stdout.is_empty()
}

/// Runs `arch`'s binary (under qemu-aarch64-static for arm64) with `args`.
fn run_arch(arch: &str, bin: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = if arch == "aarch64" {
        let mut c = Command::new("qemu-aarch64-static");
        c.arg(bin);
        c
    } else {
        Command::new(bin)
    };
    succeeded(cmd.args(args))
}

/// A section of a 64-bit little-endian ELF file, read with binutils' objcopy for the file's
/// architecture (not the code that wrote the SBOM).
fn dump_section(arch: &str, bin: &Path, section: &str) -> Vec<u8> {
    let sb = Sandbox::new();
    let out = sb.path("section");
    let objcopy = if arch == "aarch64" {
        "aarch64-linux-gnu-objcopy"
    } else {
        "objcopy"
    };
    succeeded(
        Command::new(objcopy)
            .arg(format!("--dump-section={section}={}", out.display()))
            .arg(bin)
            .arg(sb.path("discard")),
    );
    std::fs::read(out).expect("read the dumped section")
}

/// The crates embedded in `bin` (cargo auditable's `.dep-v0`: zlib-compressed JSON), inflated by
/// Python's zlib: name and version → kind ("runtime" or "build").
fn embedded(arch: &str, bin: &Path) -> BTreeMap<(String, String), String> {
    let compressed = dump_section(arch, bin, ".dep-v0");
    let mut cmd = Command::new("python3");
    cmd.args([
        "-c",
        "import sys, zlib; sys.stdout.buffer.write(zlib.decompress(sys.stdin.buffer.read()))",
    ]);
    let json = pipe(cmd, &compressed);
    let v: serde_json::Value = serde_json::from_slice(&json).expect("the section is JSON");
    v["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                (
                    p["name"].as_str().expect("name").to_string(),
                    p["version"].as_str().expect("version").to_string(),
                ),
                p["kind"].as_str().unwrap_or("runtime").to_string(),
            )
        })
        .collect()
}

/// Runs `cmd` with `input` on its stdin and returns its stdout (it must succeed).
fn pipe(mut cmd: Command, input: &[u8]) -> Vec<u8> {
    let out = fed(&mut cmd, input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `cargo tree` for `target` over the given edge kinds: the set of (name, version).
fn cargo_tree(target: &str, edges: &str) -> BTreeSet<(String, String)> {
    let out = succeeded(
        Command::new("cargo")
            .current_dir(root())
            .args([
                "tree",
                "--locked",
                "--offline",
                "--prefix",
                "none",
                "-f",
                "{p}",
            ])
            .args(["-e", edges, "--target", target]),
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((
                w.next()?.to_string(),
                w.next()?.strip_prefix('v')?.to_string(),
            ))
        })
        .collect()
}

/// Cargo.lock's packages: name → versions.
fn lock_packages() -> BTreeMap<String, BTreeSet<String>> {
    let lock = read(&root().join("Cargo.lock"));
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for block in lock.split("[[package]]").skip(1) {
        let field = |k: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k} = \"")))
                .and_then(|v| v.strip_suffix('"'))
                .expect("name and version")
                .to_string()
        };
        out.entry(field("name"))
            .or_default()
            .insert(field("version"));
    }
    out
}

/// Static, stripped, for its target, and `--version` names the commit it was built from.
#[test]
fn binaries_are_static_stripped_and_name_their_commit() {
    let commit = head();
    for (arch, target) in ARCHES {
        let bin = binary(arch);
        let headers = succeeded(Command::new("readelf").args(["-lS", "-W"]).arg(&bin));
        let headers = String::from_utf8_lossy(&headers.stdout);
        assert!(!headers.contains("INTERP"), "{arch}: dynamic:\n{headers}");
        assert!(!headers.contains(" .symtab"), "{arch}: not stripped");
        assert!(!headers.contains(" .debug_"), "{arch}: debug info");
        let out = run_arch(arch, &bin, &["--version", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(v["version"], version());
        assert_eq!(v["target"], target);
        assert_eq!(v["commit_from"], "git");
        let want = if dirty() {
            format!("{commit}-dirty")
        } else {
            commit.clone()
        };
        assert_eq!(v["commit"], want.as_str());
        assert_eq!(v["sources"][0], "file");
        let text = run_arch(arch, &bin, &["--version"]);
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(
            text.starts_with(&format!(
                "secret-init {}\ncommit:    {want} (from git)\ntarget:    {target}\n",
                version()
            )),
            "{text}"
        );
        // No path of the build machine: not Cargo's home, not the checkout, not the toolchain.
        let bytes = std::fs::read(&bin).expect("read");
        let home = std::env::var("CARGO_HOME").unwrap_or_else(|_| "/root/.cargo".to_string());
        for path in [
            home.as_str(),
            "/root/",
            root().to_str().expect("utf-8"),
            "/.rustup/",
        ] {
            assert!(
                !bytes.windows(path.len()).any(|w| w == path.as_bytes()),
                "{arch}: {path} is in the binary"
            );
        }
    }
}

/// The same commit, cloned into another directory and built again at another time with another
/// CARGO_HOME (a copy of this one's registry index and cache only, offline), gives the same bytes.
#[test]
fn binaries_are_reproducible_elsewhere() {
    assert!(
        !dirty(),
        "commit first: the release under test was built from uncommitted changes, a clone of HEAD cannot reproduce it"
    );
    let sb = Sandbox::new();
    let src = sb.path("elsewhere/source-tree");
    succeeded(
        Command::new("git")
            .args(["clone", "-q", "--no-hardlinks"])
            .arg(root())
            .arg(&src),
    );
    succeeded(
        Command::new("git")
            .arg("-C")
            .arg(&src)
            .args(["checkout", "-q", &head()]),
    );
    let home = PathBuf::from(std::env::var("CARGO_HOME").unwrap_or_else(|_| "/root/.cargo".into()));
    let other_home = sb.path("another-cargo-home");
    std::fs::create_dir_all(other_home.join("registry")).expect("mkdir");
    for part in ["index", "cache"] {
        succeeded(
            Command::new("cp")
                .arg("-r")
                .arg(home.join("registry").join(part))
                .arg(other_home.join("registry")),
        );
    }
    let out = succeeded(
        Command::new("bash")
            .arg(src.join("scripts/release"))
            .env("CARGO_HOME", &other_home)
            .env("CARGO_NET_OFFLINE", "true")
            .env("SECRET_INIT_RELEASE_BINARIES_ONLY", "1")
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    root().join(".tools/bin").display(),
                    std::env::var("PATH").expect("PATH")
                ),
            ),
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("building aarch64-unknown-linux-musl"), "{log}");
    for (arch, _) in ARCHES {
        let again = src.join(format!("dist/secret-init-{}-{arch}-linux-musl", version()));
        let (a, b) = (
            std::fs::read(binary(arch)).expect("read"),
            std::fs::read(&again).expect("the second build's binary"),
        );
        assert_eq!(a.len(), b.len(), "{arch}: sizes differ");
        assert!(a == b, "{arch}: the second build differs");
        for path in [
            src.to_str().expect("utf-8"),
            other_home.to_str().expect("utf-8"),
        ] {
            assert!(
                !b.windows(path.len()).any(|w| w == path.as_bytes()),
                "{arch}: {path} is in the binary"
            );
        }
    }
}

/// The dependency list embedded in each binary (what cargo-audit's `bin` mode, Trivy and Syft
/// read) is exactly the crates Cargo resolves for that target, at Cargo.lock's versions; the
/// build-time ones (build scripts' dependencies, proc macros) are marked `build`.
#[test]
fn embedded_dependency_list_matches_cargo_lock() {
    let lock = lock_packages();
    for (arch, target) in ARCHES {
        let list = embedded(arch, &binary(arch));
        for (name, v) in list.keys() {
            assert!(
                lock.get(name).is_some_and(|vs| vs.contains(v)),
                "{arch}: {name} {v} is not in Cargo.lock"
            );
        }
        let runtime: BTreeSet<_> = list
            .iter()
            .filter(|(_, k)| *k == "runtime")
            .map(|(p, _)| p.clone())
            .collect();
        let all: BTreeSet<_> = list.keys().cloned().collect();
        assert_eq!(
            runtime,
            cargo_tree(target, "normal,no-proc-macro"),
            "{arch}"
        );
        assert_eq!(all, cargo_tree(target, "normal,build"), "{arch}");
        assert!(runtime.contains(&(
            "ring".to_string(),
            lock["ring"].first().expect("ring").clone()
        )));
        assert!(
            runtime.len() > 30 && all.len() > runtime.len(),
            "{arch}: {list:?}"
        );
    }
}

/// Each SBOM passes cyclonedx-python-lib's strict JSON validator and lists exactly the embedded
/// crates, with purls, build-time crates scoped "excluded"; its subject's hash is the binary's.
/// A broken copy fails the same validator, so the check can fail.
#[test]
fn sboms_validate_and_list_the_embedded_crates() {
    let validate = |path: &Path| {
        Command::new(python())
            .args([
                "-c",
                "import sys\n\
                 from cyclonedx.schema import SchemaVersion\n\
                 from cyclonedx.validation.json import JsonStrictValidator\n\
                 err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())\n\
                 sys.exit(f'invalid: {err}' if err else 0)",
            ])
            .arg(path)
            .output()
            .expect("python")
    };
    for (arch, target) in ARCHES {
        let bin = binary(arch);
        let path = PathBuf::from(format!("{}.cdx.json", bin.display()));
        let out = validate(&path);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bom: serde_json::Value = serde_json::from_str(&read(&path)).expect("json");
        let list = embedded(arch, &bin);
        let mut listed = BTreeMap::new();
        for c in bom["components"].as_array().expect("components") {
            let (n, v) = (
                c["name"].as_str().expect("n"),
                c["version"].as_str().expect("v"),
            );
            assert_eq!(c["purl"], format!("pkg:cargo/{n}@{v}"));
            let kind = match c["scope"].as_str() {
                Some("required") => "runtime",
                Some("excluded") => "build",
                other => panic!("{n}: scope {other:?}"),
            };
            listed.insert((n.to_string(), v.to_string()), kind.to_string());
        }
        let subject = &bom["metadata"]["component"];
        listed.insert(
            (
                subject["name"].as_str().expect("name").to_string(),
                subject["version"].as_str().expect("version").to_string(),
            ),
            "runtime".to_string(),
        );
        assert_eq!(listed, list, "{arch}");
        let sha = succeeded(Command::new("sha256sum").arg(&bin));
        let sha = String::from_utf8_lossy(&sha.stdout);
        assert_eq!(
            subject["hashes"][0]["content"].as_str(),
            sha.split_whitespace().next()
        );
        assert_eq!(subject["properties"][0]["value"], target);
        // The negative control: a component without a name is refused.
        let sb = Sandbox::new();
        let mut broken = bom.clone();
        broken["components"][0]
            .as_object_mut()
            .expect("object")
            .remove("name");
        let broken_path = sb.write("broken.cdx.json", broken.to_string());
        let out = validate(&broken_path);
        assert!(
            !out.status.success(),
            "the validator accepted a nameless component"
        );
    }
}

/// SHA256SUMS covers every artifact and verifies; its signature verifies with dist's public key.
/// One changed byte in any artifact fails `sha256sum -c` naming it; one in SHA256SUMS fails
/// `minisign -V`. Signing with a key given as input writes that key's public key.
#[test]
fn checksums_and_signature_catch_a_changed_byte() {
    let sb = Sandbox::new();
    let copy = sb.path("dist");
    succeeded(Command::new("cp").arg("-r").arg(dist()).arg(&copy));
    let sums = read(&copy.join("SHA256SUMS"));
    let listed: BTreeSet<String> = sums
        .lines()
        .map(|l| l.split_once("  ").expect("sha256sum line").1.to_string())
        .collect();
    let present: BTreeSet<String> = tree(&copy)
        .into_iter()
        .filter(|f| !["SHA256SUMS", "SHA256SUMS.minisig", "secret-init.pub"].contains(&f.as_str()))
        .collect();
    assert_eq!(listed, present);
    assert_eq!(listed.len(), 7, "{listed:?}");
    let check = || {
        Command::new("sha256sum")
            .args(["-c", "SHA256SUMS"])
            .current_dir(&copy)
            .output()
            .expect("sha256sum")
    };
    let verify = || {
        Command::new("minisign")
            .args(["-V", "-p", "secret-init.pub", "-m", "SHA256SUMS"])
            .current_dir(&copy)
            .output()
            .expect("minisign")
    };
    assert!(check().status.success());
    assert!(verify().status.success());
    let flip = |p: &Path| {
        let mut b = std::fs::read(p).expect("read");
        let at = b.len() / 2;
        b[at] ^= 1;
        std::fs::write(p, b).expect("write");
    };
    for name in &listed {
        let p = copy.join(name);
        flip(&p);
        let out = check();
        assert!(!out.status.success(), "{name}: a changed byte passed");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(&format!("{name}: FAILED")),
            "{name}"
        );
        flip(&p);
    }
    assert!(check().status.success());
    flip(&copy.join("SHA256SUMS"));
    let out = verify();
    assert!(!out.status.success(), "a changed SHA256SUMS verified");
    flip(&copy.join("SHA256SUMS"));
    // Signing with a generated key (the input): its own public key is written, and verifies.
    let (key, public) = (sb.path("release.key"), sb.path("release.pub"));
    succeeded(
        Command::new("minisign")
            .args(["-G", "-W", "-s"])
            .arg(&key)
            .arg("-p")
            .arg(&public),
    );
    let out = succeeded(
        Command::new("bash")
            .arg(root().join("scripts/release.d/sign"))
            .arg(&copy)
            .env("SECRET_INIT_SIGNING_KEY", &key),
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("THROWAWAY"));
    assert_eq!(
        read(&copy.join("secret-init.pub")).lines().last(),
        read(&public).lines().last()
    );
    assert!(verify().status.success());
    assert_eq!(read(&copy.join("SHA256SUMS")), sums, "the sums changed");
    // Another key's public key does not verify it.
    let (k2, p2) = (sb.path("other.key"), sb.path("other.pub"));
    succeeded(
        Command::new("minisign")
            .args(["-G", "-W", "-s"])
            .arg(&k2)
            .arg("-p")
            .arg(&p2),
    );
    let out = Command::new("minisign")
        .args(["-V", "-m", "SHA256SUMS", "-p"])
        .arg(&p2)
        .current_dir(&copy)
        .output()
        .expect("minisign");
    assert!(!out.status.success(), "another key verified the signature");
}

/// Without a signing key the script makes a throwaway one and says so; the release still verifies
/// against the public key written beside it, and a missing key file is an error.
#[test]
fn signing_without_a_key_says_it_used_a_throwaway_key() {
    let sb = Sandbox::new();
    sb.write("d/artifact", "bytes");
    let out = succeeded(
        Command::new("bash")
            .arg(root().join("scripts/release.d/sign"))
            .arg(sb.path("d"))
            .env_remove("SECRET_INIT_SIGNING_KEY"),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("THROWAWAY key"));
    succeeded(
        Command::new("minisign")
            .args(["-V", "-p", "secret-init.pub", "-m", "SHA256SUMS"])
            .current_dir(sb.path("d")),
    );
    let out = Command::new("bash")
        .arg(root().join("scripts/release.d/sign"))
        .arg(sb.path("d"))
        .env("SECRET_INIT_SIGNING_KEY", sb.path("no-such.key"))
        .output()
        .expect("bash");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a readable file"));
}

/// Each wheel carries dist's binary byte for byte and is rebuilt byte for byte from it; the
/// x86_64 wheel installs into a fresh venv with pip (offline) and its `secret-init` on PATH runs a
/// real start: a secret from TRUSS_SECRET_ env delivered to a file the program reads. pip
/// accepts the arm64 wheel for a manylinux arm64 platform, and that binary runs under qemu.
#[test]
fn wheels_carry_the_binary_and_install_with_pip() {
    let sb = Sandbox::new();
    for (arch, _) in ARCHES {
        let whl = wheel(arch);
        let unpacked = sb.path(&format!("unpacked-{arch}"));
        succeeded(
            Command::new("python3")
                .args(["-m", "zipfile", "-e"])
                .arg(&whl)
                .arg(&unpacked),
        );
        let inside = unpacked.join(format!(
            "secret_init-{}.data/scripts/secret-init",
            version()
        ));
        assert!(
            std::fs::read(&inside).expect("the binary in the wheel")
                == std::fs::read(binary(arch)).expect("read"),
            "{arch}"
        );
        // Reproducible: the same binary and commit give the same wheel.
        let again = sb.mkdir(&format!("again-{arch}"));
        let epoch = succeeded(Command::new("git").arg("-C").arg(root()).args([
            "log",
            "-1",
            "--format=%ct",
        ]));
        succeeded(
            Command::new("python3")
                .arg(root().join("scripts/release.d/wheel.py"))
                .arg(binary(arch))
                .args([arch, version()])
                .arg(root().join("LICENSE"))
                .arg(root().join("README.md"))
                .arg(&again)
                .env(
                    "SOURCE_DATE_EPOCH",
                    String::from_utf8_lossy(&epoch.stdout).trim(),
                ),
        );
        let rebuilt = again.join(whl.file_name().expect("name"));
        assert!(
            std::fs::read(&rebuilt).expect("rebuilt") == std::fs::read(&whl).expect("read"),
            "{arch}: the wheel is not reproducible"
        );
    }
    // The arm64 wheel: pip takes it for a manylinux arm64 platform (and a musllinux one).
    for platform in ["manylinux2014_aarch64", "musllinux_1_1_aarch64"] {
        let target = sb.path(&format!("arm64-{platform}"));
        succeeded(
            Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--no-index",
                    "--no-deps",
                    "--only-binary=:all:",
                ])
                .args(["--platform", platform, "--target"])
                .arg(&target)
                .arg(wheel("aarch64"))
                .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
        );
        let bin = target.join("bin/secret-init");
        let out = run_arch("aarch64", &bin, &["--version"]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("aarch64-unknown-linux-musl"));
    }
    // A fresh venv from Debian's python3, the x86_64 wheel installed by pip, offline.
    let venv = sb.path("venv");
    succeeded(
        Command::new("/usr/bin/python3")
            .args(["-m", "venv"])
            .arg(&venv),
    );
    succeeded(
        Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "--no-index"])
            .arg(wheel("x86_64"))
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
    );
    let installed = venv.join("bin/secret-init");
    assert!(
        std::fs::read(&installed).expect("installed")
            == std::fs::read(binary("x86_64")).expect("read")
    );
    assert_eq!(mode(&installed) & 0o111, 0o111);
    let value = canary("wheel");
    sb.config("secrets:\n  api_key: null\n");
    let mut r = sb.run();
    r.program = PathBuf::from("secret-init");
    r.env(
        "PATH",
        format!("{}:/usr/bin:/bin", venv.join("bin").display()),
    );
    r.env("TRUSS_SECRET_api_key", &value);
    let script = format!("echo \"read: $(cat {})\"", sb.path("out/api_key").display());
    r.args(["--", "/bin/sh", "-c", &script]);
    let out = r.output();
    out.expect_ok();
    assert_eq!(out.stdout().trim(), format!("read: {value}"));
    assert!(!out.stderr().contains(&value));
}

/// The OCI archive holds an index with one image per architecture, each carrying dist's binary
/// byte for byte (read straight from the archive's layers), labelled with the version and commit.
#[test]
fn image_archive_holds_both_binaries() {
    let script = r#"
import gzip, io, json, sys, tarfile
outer = tarfile.open(sys.argv[1])
blob = lambda d: outer.extractfile("blobs/sha256/" + d.split(":")[1]).read()
top = json.loads(outer.extractfile("index.json").read())
ref = top["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]
index = json.loads(blob(top["manifests"][0]["digest"]))
out = {"ref": ref, "images": {}}
for m in index["manifests"]:
    manifest = json.loads(blob(m["digest"]))
    files = {}
    for layer in manifest["layers"]:
        t = tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob(layer["digest"]))))
        for member in t.getmembers():
            if member.isfile():
                files[member.name] = t.extractfile(member).read().hex()
    config = json.loads(blob(manifest["config"]["digest"]))
    out["images"][m["platform"]["architecture"]] = {
        "annotations": manifest.get("annotations", {}),
        "labels": config["config"].get("Labels", {}),
        "entrypoint": config["config"].get("Entrypoint"),
        "created": config.get("created"),
        "files": files,
    }
json.dump(out, sys.stdout)
"#;
    let tar = dist().join(format!("secret-init-{}-oci.tar", version()));
    let out = succeeded(Command::new("python3").args(["-c", script]).arg(&tar));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["ref"], format!("secret-init:{}", version()));
    let epoch = succeeded(
        Command::new("git")
            .arg("-C")
            .arg(root())
            .args([
                "log",
                "-1",
                "--format=%cd",
                "--date=format-local:%Y-%m-%dT%H:%M:%SZ",
            ])
            .env("TZ", "UTC"),
    );
    let created = String::from_utf8_lossy(&epoch.stdout).trim().to_string();
    for (arch, platform) in [("x86_64", "amd64"), ("aarch64", "arm64")] {
        let image = &v["images"][platform];
        let files = image["files"].as_object().expect("files");
        let names: BTreeSet<&str> = files.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            BTreeSet::from(["LICENSE", "secret-init"]),
            "{platform}"
        );
        let bytes = std::fs::read(binary(arch)).expect("read");
        assert!(
            files["secret-init"].as_str() == Some(&hex(&bytes)),
            "{platform}: not dist's binary"
        );
        assert_eq!(image["entrypoint"], serde_json::json!(["/secret-init"]));
        for what in ["annotations", "labels"] {
            let a = &image[what];
            assert_eq!(a["org.opencontainers.image.version"], version(), "{what}");
            assert_eq!(
                a["org.opencontainers.image.revision"],
                head().as_str(),
                "{what}"
            );
            assert_eq!(
                a["org.opencontainers.image.created"],
                created.as_str(),
                "{what}"
            );
            assert!(a["org.opencontainers.image.source"].is_string(), "{what}");
        }
        assert_eq!(image["created"], created.as_str());
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `cargo package` makes a complete source package: unpacked away from any git checkout, `cargo
/// install --locked --path` builds and installs it, and its `--version` says the commit came from
/// the package's `.cargo_vcs_info.json`. Without that file the build takes SECRET_INIT_COMMIT,
/// and without either it says unknown.
#[test]
fn cargo_package_builds_and_installs_and_says_where_the_commit_came_from() {
    let sb = Sandbox::new();
    let target_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("package-build");
    let cargo = |args: &[&str]| {
        let mut c = Command::new("cargo");
        c.args(args).env("CARGO_NET_OFFLINE", "true");
        c
    };
    succeeded(
        cargo(&[
            "package",
            "--locked",
            "--allow-dirty",
            "--no-verify",
            "--target-dir",
        ])
        .arg(&target_dir)
        .current_dir(root()),
    );
    let krate = target_dir.join(format!("package/secret-init-{}.crate", version()));
    succeeded(
        Command::new("tar")
            .arg("-xzf")
            .arg(&krate)
            .arg("-C")
            .arg(sb.path("")),
    );
    let pkg = sb.path(&format!("secret-init-{}", version()));
    assert!(!pkg.join(".git").exists());
    for needed in [
        "LICENSE",
        "build.rs",
        ".cargo/config.toml",
        ".cargo/discard-eh-frame.ld",
        "rust-toolchain.toml",
        "Cargo.lock",
    ] {
        assert!(pkg.join(needed).exists(), "the package lacks {needed}");
    }
    let installed = sb.path("installed");
    succeeded(
        cargo(&["install", "--locked", "--path"])
            .arg(&pkg)
            .arg("--root")
            .arg(&installed)
            .arg("--target-dir")
            .arg(&target_dir)
            .current_dir(&pkg),
    );
    let version_of = |bin: &Path| -> serde_json::Value {
        let out = succeeded(Command::new(bin).args(["--version", "--format", "json"]));
        serde_json::from_slice(&out.stdout).expect("json")
    };
    let v = version_of(&installed.join("bin/secret-init"));
    assert_eq!(v["commit_from"], "cargo package");
    assert!(
        v["commit"].as_str().expect("commit").starts_with(&head()),
        "{v}"
    );
    assert_eq!(v["version"], version());
    // Without .cargo_vcs_info.json: the env var, then unknown (debug builds: only the answer matters).
    std::fs::remove_file(pkg.join(".cargo_vcs_info.json")).expect("rm");
    let build = |commit: Option<&str>| {
        let mut c = cargo(&["build", "--locked", "--bin", "secret-init", "--target-dir"]);
        c.arg(&target_dir).current_dir(&pkg);
        match commit {
            Some(v) => c.env("SECRET_INIT_COMMIT", v),
            None => c.env_remove("SECRET_INIT_COMMIT"),
        };
        succeeded(&mut c);
        version_of(&target_dir.join("debug/secret-init"))
    };
    let v = build(Some("0123abc"));
    assert_eq!(
        (v["commit"].as_str(), v["commit_from"].as_str()),
        (Some("0123abc"), Some("SECRET_INIT_COMMIT"))
    );
    let v = build(None);
    assert_eq!(
        (v["commit"].as_str(), v["commit_from"].as_str()),
        (Some("unknown"), Some("unknown"))
    );
}

/// The README's "Install" section, as printed: its version is this release's, and the commands of
/// its "Static binary" and "pip" blocks run as shown in a copy of dist/ (the image's run in
/// `container::release`; "From source" is what the test command itself does). `/usr/local/bin` is a private tmpfs (bubblewrap), so `install` there
/// touches nothing of this machine; pip runs in a fresh venv, offline.
#[test]
fn readme_install_commands_work_as_printed() {
    let blocks = readme_install_blocks();
    let sb = Sandbox::new();
    let copy = sb.path("download");
    succeeded(Command::new("cp").arg("-r").arg(dist()).arg(&copy));
    let venv = sb.path("venv");
    succeeded(
        Command::new("/usr/bin/python3")
            .args(["-m", "venv"])
            .arg(&venv),
    );
    for (heading, script) in &blocks {
        if heading != "static binary" && heading != "pip" {
            continue;
        }
        let out = Command::new("bwrap")
            .args([
                "--dev-bind",
                "/",
                "/",
                "--tmpfs",
                "/usr/local/bin",
                "--chdir",
            ])
            .arg(&copy)
            .args(["/bin/sh", "-exc", script])
            .env(
                "PATH",
                format!(
                    "/usr/local/bin:{}:/usr/bin:/bin",
                    venv.join("bin").display()
                ),
            )
            .env("PIP_NO_INDEX", "1")
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .output()
            .expect("bwrap");
        let so = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{heading}:\n{script}\n{so}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            so.contains(&format!("secret-init {}", version())),
            "{heading}: {so}"
        );
    }
    assert!(
        blocks
            .iter()
            .any(|(h, s)| h.contains("binary") && s.contains("minisign -V")),
        "{blocks:?}"
    );
    assert!(
        blocks
            .iter()
            .any(|(h, s)| h.contains("pip") && s.contains("pip install")),
        "{blocks:?}"
    );
}

/// The "## Install" section's shell blocks: (the `###` heading above, the block).
pub fn readme_install_blocks() -> Vec<(String, String)> {
    let readme = read(&root().join("README.md"));
    let section = readme
        .split("\n## Install\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has an Install section");
    assert!(
        section.contains(&format!("secret-init-{}-x86_64-linux-musl", version())),
        "the Install section is not for version {}",
        version()
    );
    let mut heading = String::new();
    let mut out = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if let Some(h) = line.strip_prefix("### ") {
            heading = h.to_lowercase();
        } else if line == "```sh" || line == "```dockerfile" {
            let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            let kind = if line == "```sh" { "" } else { "dockerfile " };
            out.push((format!("{kind}{heading}"), block.join("\n") + "\n"));
        }
    }
    out
}

/// CHANGELOG.md is in the Keep a Changelog form and has this release.
#[test]
fn changelog_has_this_release() {
    let log = read(&root().join("CHANGELOG.md"));
    assert!(log.contains("keepachangelog.com"));
    assert!(log.contains("\n## [Unreleased]\n"));
    let release = format!("\n## [{}] - ", version());
    let at = log.find(&release).expect("a section for this version");
    let date = &log[at + release.len()..][..10];
    assert!(
        date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-',
        "{date}"
    );
}

/// build.rs names only files that exist for Cargo to watch (a missing one, such as a checkout's
/// absent packed-refs, made every release rebuild the crate for nothing), and among them the
/// checkout's HEAD, so a new commit does rebuild it and `--version` follows.
#[test]
fn build_script_watches_only_files_that_exist() {
    for (_, target) in ARCHES {
        let dir = root().join(format!("target/dist/{target}/release/build"));
        let output = std::fs::read_dir(&dir)
            .expect("the release's build dir")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("secret-init-"))
            .map(|e| e.path().join("output"))
            .filter(|p| p.exists())
            .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .expect("build.rs's output");
        let text = read(&output);
        let watched: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("cargo:rerun-if-changed="))
            .collect();
        for p in &watched {
            assert!(
                root().join(p).exists(),
                "{target}: build.rs watches {p}, which does not exist"
            );
        }
        assert!(watched.iter().any(|p| p.ends_with("HEAD")), "{watched:?}");
        assert!(watched.contains(&"src"), "{watched:?}");
    }
}

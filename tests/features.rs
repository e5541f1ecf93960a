//! Each remote source is a Cargo feature. The core build (`--no-default-features`, built by the
//! test command as `SI_TEST_CORE_BIN`) has files, env, the config's defaults, the local config and
//! bundle files, and no TLS stack; it says what it lacks, naming the feature, wherever a user could
//! ask for a source it does not have.

use std::path::PathBuf;

use crate::support::*;

fn core_bin() -> PathBuf {
    let p = std::env::var_os("SI_TEST_CORE_BIN")
        .map(PathBuf::from)
        .expect("SI_TEST_CORE_BIN: the core build (scripts/test builds it)");
    assert!(p.exists(), "{} missing", p.display());
    p
}

fn core_run(sb: &Sandbox) -> Run {
    let mut r = sb.run();
    r.program = core_bin();
    r
}

#[test]
fn the_core_build_lists_only_its_own_sources() {
    let sb = Sandbox::new();
    let out = core_run(&sb)
        .args(["--version", "--format", "json"])
        .output();
    out.expect_ok();
    let v: serde_json::Value = serde_json::from_str(out.stdout().trim()).expect("json");
    assert_eq!(
        v["sources"],
        serde_json::json!(["file", "env", "bundle", "sops", "local", "default"])
    );
    let features = v["features"].as_array().expect("features");
    assert!(!features.iter().any(|f| f == "https-rustls-ring"), "{v}");
    // The full build, for contrast: every source.
    let out = sb.run().args(["--version", "--format", "json"]).output();
    let v: serde_json::Value = serde_json::from_str(out.stdout().trim()).expect("json");
    assert_eq!(v["sources"].as_array().expect("sources").len(), 10, "{v}");
}

#[test]
fn the_core_build_starts_from_files_and_env() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  a: null\n  b: null\n  c: \"default-c\"\n");
    sb.write("in/b", "from-file");
    let value = canary("core");
    core_run(&sb)
        .env("TRUSS_SECRET_a", &value)
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    assert_eq!(read(&sb.path("out/a")), value);
    assert_eq!(read(&sb.path("out/b")), "from-file");
    assert_eq!(read(&sb.path("out/c")), "default-c");
}

#[test]
fn the_core_build_names_the_feature_it_lacks() {
    let feature = |f: &str| format!("built without the {f} source (Cargo feature `{f}`)");
    // (config.yaml, environment, options, what stderr says)
    type Case = (
        &'static str,
        Vec<(&'static str, &'static str)>,
        Vec<&'static str>,
        String,
    );
    let cases: Vec<Case> = vec![
        (
            "secrets:\n  a: null\nsecret_init:\n  vault:\n    address: https://127.0.0.1:1\n",
            vec![("TRUSS_SECRET_a", "x")],
            vec![],
            format!(
                "secret_init.vault: this secret-init is {}",
                feature("vault")
            ),
        ),
        (
            "secrets:\n  a: null\nsecret_init:\n  aws:\n    region: eu-west-1\n",
            vec![("TRUSS_SECRET_a", "x")],
            vec![],
            format!("secret_init.aws: this secret-init is {}", feature("aws")),
        ),
        (
            "secrets:\n  b: null\nsecret_init:\n  secrets:\n    b: {from: \"gcp:secretmanager:projects/p/secrets/s\"}\n",
            vec![],
            vec![],
            feature("gcp"),
        ),
        (
            "secrets:\n  a: null\n",
            vec![("TRUSS_SECRET_a", "x")],
            vec!["--sources", "env,azure"],
            format!("--sources: this secret-init is {}", feature("azure")),
        ),
        (
            "secrets:\n  a: null\n",
            vec![
                ("TRUSS_SECRET_a", "x"),
                ("SECRET_INIT_VAULT_ADDR", "https://127.0.0.1:1"),
            ],
            vec![],
            format!(
                "SECRET_INIT_VAULT_ADDR: this secret-init is {}",
                feature("vault")
            ),
        ),
    ];
    for (yaml, env, args, says) in cases {
        let sb = Sandbox::new();
        sb.config(yaml);
        for cmd in [&["check"][..], &["--", "/bin/true"]] {
            let mut r = core_run(&sb);
            for (k, v) in &env {
                r.env(*k, *v);
            }
            r.args(&args).args(cmd);
            let out = r.output();
            out.expect_code(78).stderr_has(&says);
            assert!(!sb.path("out").exists(), "{yaml}: nothing written");
        }
    }
    // A bundle by URL needs the bundle-url feature.
    let sb = Sandbox::new();
    sb.config("secrets:\n  a: null\n");
    let out = core_run(&sb)
        .env("SECRET_INIT_BUNDLE", "https://127.0.0.1:1/b.json")
        .env("SECRET_INIT_MASTER_KEY", b64(&[7u8; 32]))
        .env("SECRET_INIT_BUNDLE_VAULTS", "app")
        .args(["check"])
        .output();
    out.expect_code(78).stderr_has("Cargo feature `bundle-url`");
}

/// The crates a build with `extra` options links (`cargo tree -e normal`).
fn normal_deps(extra: &[&str]) -> String {
    let out = std::process::Command::new("cargo")
        .args([
            "tree",
            "--locked",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(extra)
        .current_dir(root())
        .output()
        .expect("cargo tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The core has no TLS stack at all, and stays at most 75% of the full build's size as
/// docs/size.md (written by scripts/size) measures them.
#[test]
fn the_core_build_has_no_tls_stack_and_is_at_most_three_quarters_of_the_full_one() {
    let deps = normal_deps(&["--no-default-features"]);
    for crate_name in ["rustls ", "ureq ", "rustls-webpki "] {
        assert!(
            !deps.contains(crate_name),
            "{crate_name}in the core:\n{deps}"
        );
    }
    let full = normal_deps(&[]);
    assert!(
        full.contains("rustls "),
        "the negative control: the full build has rustls"
    );
    let doc = read(&root().join("docs/size.md"));
    let bytes = |label: &str| -> f64 {
        let line = doc
            .lines()
            .find(|l| l.contains(label))
            .unwrap_or_else(|| panic!("docs/size.md has no row {label}"));
        line.split('|')
            .nth(2)
            .expect("bytes cell")
            .trim()
            .replace(',', "")
            .parse()
            .expect("number")
    };
    let full = bytes("default features");
    let core = bytes("core (`--no-default-features`)");
    assert!(
        core <= 0.75 * full,
        "core {core} bytes, full {full}: over 75%"
    );
}

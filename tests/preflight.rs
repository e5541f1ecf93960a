//! The pre-flight: the program is looked up
//! before anything is published, `check` runs every validation a run does short of writing, and
//! what a first-time user meets — help, names, messages — says what it means.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::support::*;

const ONE_SECRET: &str = "secrets:\n  a: null\n";

fn nothing_in(dir: &Path) -> bool {
    !dir.exists() || tree(dir).is_empty()
}

fn script(sb: &Sandbox, rel: &str, body: &str, mode: u32) -> std::path::PathBuf {
    let p = sb.write(rel, body);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
    p
}

/// 127 for a program that is not on PATH and 126 for one without the execute bit or whose `#!`
/// interpreter is missing, in exec and in supervised mode, with the output dir never created.
#[test]
fn program_is_looked_up_before_anything_is_published() {
    let sb = Sandbox::new();
    sb.config(ONE_SECRET);
    let noexec = script(&sb, "bin/noexec", "#!/bin/sh\necho ran\n", 0o644);
    let badinterp = script(
        &sb,
        "bin/badinterp",
        "#!/nonexistent/interp\necho ran\n",
        0o755,
    );
    for mode in [&["--no-init"][..], &["--init"][..]] {
        for (program, code, needle) in [
            (
                "no-such-program-x",
                127,
                "no-such-program-x: program not found",
            ),
            (noexec.to_str().expect("utf-8"), 126, "cannot execute"),
            (
                badinterp.to_str().expect("utf-8"),
                126,
                "interpreter /nonexistent/interp",
            ),
        ] {
            sb.run()
                .env("TRUSS_SECRET_a", canary("a"))
                .args(mode)
                .args(["--", program])
                .output()
                .expect_code(code)
                .stderr_has(needle);
            assert!(
                nothing_in(&sb.path("out")),
                "{mode:?} {program}: {:?}",
                tree(&sb.path("out"))
            );
        }
    }
    // A program found on the child's PATH (not ours) still runs: the negative control.
    script(&sb, "bin/found-prog", "#!/bin/sh\necho ran\n", 0o755);
    sb.run()
        .env("TRUSS_SECRET_a", canary("a"))
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", sb.path("bin").display()),
        )
        .args(["--", "found-prog"])
        .output()
        .expect_ok()
        .stdout_has("ran");
    assert!(sb.path("out/a").exists());
}

/// A mistyped subcommand is a program that is not found: 127, nothing written, and a hint.
#[test]
fn mistyped_subcommand_suggests_the_command_and_writes_nothing() {
    let sb = Sandbox::new();
    sb.config(ONE_SECRET);
    sb.run()
        .env("TRUSS_SECRET_a", canary("a"))
        .arg("chek")
        .output()
        .expect_code(127)
        .stderr_has("did you mean the command `secret-init check`?");
    assert!(nothing_in(&sb.path("out")));
}

/// `check` exits as the run would: 78 for a world-writable output dir, 73 for a read-only
/// mount, 78 for a denied env name, 127 with `-- PROGRAM` not found; and 0 leaves no trace.
#[test]
fn check_is_the_runs_preflight() {
    let sb = Sandbox::new();
    sb.config(ONE_SECRET);
    let shared = sb.path("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    for cmd in [&["check"][..], &["--", "/bin/true"]] {
        sb.run()
            .env("TRUSS_SECRET_a", canary("a"))
            .env("SECRET_INIT_OUTPUT_DIR", &shared)
            .args(cmd)
            .output()
            .expect_code(78)
            .stderr_has("world-writable");
    }
    sb.run()
        .env("TRUSS_SECRET_a", canary("a"))
        .args(["check", "--", "no-such-program-x"])
        .output()
        .expect_code(127);
    sb.config("secrets:\n  a: null\nsecret_init:\n  secrets:\n    a: {env: LD_PRELOAD}\n");
    sb.run()
        .env("TRUSS_SECRET_a", canary("a"))
        .arg("check")
        .output()
        .expect_code(78)
        .stderr_has("deny list");
    sb.config(ONE_SECRET);
    // The probe writes nothing: a missing output dir is not created, an existing one stays empty.
    sb.run()
        .env("TRUSS_SECRET_a", canary("a"))
        .args(["check", "--", "/bin/true"])
        .output()
        .expect_ok();
    assert!(!sb.path("out").exists());
    let out = sb.mkdir("out");
    sb.run()
        .env("TRUSS_SECRET_a", canary("a"))
        .arg("check")
        .output()
        .expect_ok();
    assert!(tree(&out).is_empty(), "{:?}", tree(&out));
    // A read-only mount (root ignores mode bits, so it takes a real one): 73 from check and run.
    for cmd in [&["check"][..], &["--", "/bin/true"]] {
        let status = Command::new("bwrap")
            .args(["--dev-bind", "/", "/", "--ro-bind"])
            .arg(&out)
            .arg(&out)
            .arg(bin())
            .args(cmd)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("TRUSS_SECRET_a", canary("a"))
            .env("SECRET_INIT_CONFIG", sb.path("config.yaml"))
            .env("SECRET_INIT_OUTPUT_DIR", &out)
            .output()
            .expect("bwrap (installed by scripts/setup)");
        assert_eq!(
            status.status.code(),
            Some(73),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        assert!(String::from_utf8_lossy(&status.stderr).contains("read-only"));
    }
}

/// `check --format json` gives each secret's destinations as a list.
#[test]
fn check_json_destination_is_a_list() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  a: null\n  b: null\nsecret_init:\n  secrets:\n    a: {env: A_VAR}\n    b: {file: false}\n");
    let out = sb
        .run()
        .env("TRUSS_SECRET_a", canary("a"))
        .env("TRUSS_SECRET_b", canary("b"))
        .args(["check", "--format", "json"])
        .output();
    out.expect_ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).expect("json");
    let rows = v["secrets"].as_array().expect("rows");
    let dest = |name: &str| {
        rows.iter()
            .find(|r| r["name"] == name)
            .map(|r| r["destination"].clone())
            .expect("row")
    };
    assert_eq!(
        dest("a"),
        serde_json::json!([sb.path("out/a").display().to_string(), "env:A_VAR"])
    );
    assert_eq!(dest("b"), serde_json::json!([]));
}

/// Every subcommand and every bundle verb answers `--help` with its own usage, options and an
/// example, exit 0.
#[test]
fn every_command_and_bundle_verb_has_help() {
    for cmd in ["check", "get", "providers", "materialize", "clean", "env"] {
        let out = Run::new().args([cmd, "--help"]).output();
        out.expect_ok()
            .stdout_has(&format!("secret-init {cmd}"))
            .stdout_has("EXAMPLE:");
    }
    Run::new()
        .args(["check", "--help"])
        .output()
        .stdout_has("--format FORMAT")
        .stdout_has("--output-dir DIR");
    for verb in [
        "keygen", "create", "set", "unset", "show", "get", "list", "delete", "rekey",
    ] {
        let out = Run::new().args(["bundle", verb, "--help"]).output();
        out.expect_ok()
            .stdout_has(&format!("secret-init bundle {verb}"))
            .stdout_has("EXAMPLE:");
    }
    Run::new()
        .args(["bundle", "set", "--help"])
        .output()
        .stdout_has("--allow-empty");
    Run::new()
        .args(["bundle", "rekey", "--help"])
        .output()
        .stdout_has("--write-key-file");
}

/// `bundle` is the subcommand only before one of its verbs; otherwise it is a program (Ruby's
/// Bundler), and `vault` is the old name, which warns.
#[test]
fn bundle_subcommand_and_the_program_named_bundle() {
    let sb = Sandbox::new();
    sb.config(ONE_SECRET);
    script(
        &sb,
        "bin/bundle",
        "#!/bin/sh\necho \"bundler got $*\"\n",
        0o755,
    );
    sb.run()
        .env("TRUSS_SECRET_a", canary("a"))
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", sb.path("bin").display()),
        )
        .args(["bundle", "exec", "puma"])
        .output()
        .expect_ok()
        .stdout_has("bundler got exec puma");
    // Without a Bundler on PATH, a verb-less `bundle` says what our command needs.
    sb.run()
        .env("TRUSS_SECRET_a", canary("a"))
        .args(["bundle", "--help"])
        .output()
        .expect_code(127)
        .stderr_has("`secret-init bundle` needs a verb: keygen|create|");
    let key = Run::new().args(["bundle", "keygen"]).output().stdout();
    let file = sb.path("b.json");
    let bundle = |args: &[&str]| {
        let mut r = Run::new();
        r.args(args).env("SECRET_INIT_MASTER_KEY", key.trim());
        r
    };
    bundle(&["bundle", "create", "v", "--bundle"])
        .arg(&file)
        .output()
        .expect_ok();
    bundle(&["bundle", "set", "v", "K", "x"])
        .env("SECRET_INIT_BUNDLE", &file)
        .output()
        .expect_ok();
    let out = bundle(&["vault", "list"])
        .env("SECRET_INIT_BUNDLE", &file)
        .output();
    out.expect_ok()
        .stdout_has("v ")
        .stderr_has("`secret-init vault` is now `secret-init bundle`");
    bundle(&["bundle", "get", "v", "K", "--file"])
        .arg(&file)
        .output()
        .expect_ok()
        .stderr_has("--file is now --bundle");
    let out = bundle(&["bundle", "get", "v", "K"])
        .env("SECRET_INIT_VAULT_FILE", &file)
        .output();
    out.expect_ok()
        .stderr_has("SECRET_INIT_VAULT_FILE is now SECRET_INIT_BUNDLE");
    assert_eq!(out.stdout(), "x");
}

/// `rekey --write-key-file` replaces the key file after the bundle is re-sealed, so the next
/// command with the same `--master-key-file` opens it; without it the old file no longer does.
#[test]
fn rekey_write_key_file_replaces_the_key_file() {
    let sb = Sandbox::new();
    let file = sb.path("b.json");
    let kf = sb.path("master.key");
    let newkf = sb.path("new.key");
    let b = |args: &[&str]| {
        let mut r = Run::new();
        r.arg("bundle")
            .args(args)
            .arg("--bundle")
            .arg(&file)
            .arg("--master-key-file")
            .arg(&kf);
        r
    };
    Run::new()
        .args(["bundle", "keygen", "--output"])
        .arg(&kf)
        .output()
        .expect_ok();
    Run::new()
        .args(["bundle", "keygen", "--output"])
        .arg(&newkf)
        .output()
        .expect_ok();
    let c = canary("rekey");
    b(&["create", "v"]).output().expect_ok();
    b(&["set", "v", "K", &c]).output().expect_ok();
    // Without the flag: the old key file is left and the next command fails (the bug's shape).
    let other = sb.path("copy.json");
    std::fs::copy(&file, &other).expect("copy");
    let mut r = Run::new();
    r.args(["bundle", "rekey", "--new-key-file"])
        .arg(&newkf)
        .arg("--bundle")
        .arg(&other)
        .arg("--master-key-file")
        .arg(&kf);
    r.output().expect_ok();
    let mut r = Run::new();
    r.args(["bundle", "get", "v", "K", "--bundle"])
        .arg(&other)
        .arg("--master-key-file")
        .arg(&kf);
    r.output().expect_code(65);
    // With it: the same command line keeps working.
    b(&["rekey", "--write-key-file"])
        .arg("--new-key-file")
        .arg(&newkf)
        .output()
        .expect_ok();
    assert_eq!(read(&kf), read(&newkf));
    assert_eq!(mode(&kf), 0o600);
    let out = b(&["get", "v", "K"]).output();
    out.expect_ok();
    assert_eq!(out.stdout(), c);
    // The key must be in a file to be replaced: refused before anything changes.
    let key = Run::new().args(["bundle", "keygen"]).output().stdout();
    let mut r = Run::new();
    r.args(["bundle", "rekey", "--write-key-file", "--new-key-file"])
        .arg(&kf)
        .arg("--bundle")
        .arg(&file)
        .env("SECRET_INIT_MASTER_KEY", key.trim());
    r.output().expect_code(64).stderr_has("not in a file");
}

/// `bundle set` with an empty stdin stores nothing unless `--allow-empty` says so.
#[test]
fn bundle_set_refuses_empty_stdin_unless_allowed() {
    let sb = Sandbox::new();
    let file = sb.path("b.json");
    let key = Run::new().args(["bundle", "keygen"]).output().stdout();
    let b = |args: &[&str]| {
        let mut r = Run::new();
        r.arg("bundle")
            .args(args)
            .arg("--bundle")
            .arg(&file)
            .env("SECRET_INIT_MASTER_KEY", key.trim());
        r
    };
    b(&["create", "v"]).output().expect_ok();
    b(&["set", "v", "K"])
        .stdin(Vec::new())
        .output()
        .expect_code(65)
        .stderr_has("--allow-empty");
    b(&["get", "v", "K"]).output().expect_code(69);
    b(&["set", "v", "K", "-", "--allow-empty"])
        .stdin(Vec::new())
        .output()
        .expect_ok();
    let out = b(&["get", "v", "K"]).output();
    out.expect_ok();
    assert_eq!(out.stdout(), "");
}

/// Host fields are host names: wandb `host: https://...` is refused (65) before anything is
/// written, as is a github host with a path; a docker registry may be a URL.
#[test]
fn host_like_provider_fields_are_validated_as_hosts() {
    let sb = Sandbox::new();
    for (yaml, ok) in [
        (
            "wandb:\n      fields: {api_key: a}\n      values: {host: \"https://api.wandb.ai\"}",
            false,
        ),
        (
            "github:\n      fields: {token: a}\n      values: {host: \"github.example/x\"}",
            false,
        ),
        (
            "wandb:\n      fields: {api_key: a}\n      values: {host: \"wandb.example:8080\"}",
            true,
        ),
        (
            "docker:\n      fields: {password: a}\n      values: {username: u, registry: \"https://ghcr.io/v2/\"}",
            true,
        ),
        (
            "docker:\n      fields: {password: a}\n      values: {username: u, registry: \"https://bad host/\"}",
            false,
        ),
    ] {
        sb.config(&format!(
            "secrets:\n  a: null\nsecret_init:\n  providers:\n    {yaml}\n"
        ));
        let _ = std::fs::remove_dir_all(sb.path("home"));
        let _ = std::fs::remove_dir_all(sb.path("out"));
        let out = sb
            .run()
            .env("TRUSS_SECRET_a", canary("a"))
            .args(["--", "/bin/true"])
            .output();
        if ok {
            out.expect_ok();
        } else {
            out.expect_code(65).stderr_has("is not a");
            assert!(
                nothing_in(&sb.path("home")),
                "{yaml}: {:?}",
                tree(&sb.path("home"))
            );
            assert!(nothing_in(&sb.path("out")), "{yaml}");
        }
    }
}

/// A bidirectional override in a name is escaped like any other control character.
#[test]
fn bidi_controls_in_names_are_escaped() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  \"ab\u{202e}cd\": null\n");
    let out = sb.run().args(["--", "/bin/true"]).output();
    out.expect_code(65).stderr_has("ab\\u{202e}cd");
    assert!(!out.stderr().contains('\u{202e}'), "{}", out.stderr());
}

/// `//x` and `/./x` are one file: one 65 that names both spellings and both secrets.
#[test]
fn two_spellings_of_one_file_are_one_clear_error() {
    let sb = Sandbox::new();
    let dir = sb.mkdir("o");
    let d = dir.display();
    sb.config(&format!(
        "secrets:\n  a: null\n  b: null\nsecret_init:\n  secrets:\n    a: {{file: \"{d}//x\"}}\n    b: {{file: \"{d}/./x\"}}\n"
    ));
    let out = sb
        .run()
        .env("TRUSS_SECRET_a", canary("a"))
        .env("TRUSS_SECRET_b", canary("b"))
        .args(["--", "/bin/true"])
        .output();
    out.expect_code(65)
        .stderr_has(&format!("{d}/./x, the same file as {d}//x of secret \"a\""));
    assert_eq!(out.stderr().lines().count(), 1, "{}", out.stderr());
    assert!(tree(&dir).is_empty());
}

/// A `--config` that does not exist is EX_NOINPUT (66), for runs and check alike.
#[test]
fn missing_config_file_is_66() {
    let sb = Sandbox::new();
    for cmd in [&["check"][..], &["--", "/bin/true"]] {
        sb.run()
            .args(["--config", "/nonexistent/config.yaml"])
            .args(cmd)
            .output()
            .expect_code(66)
            .stderr_has("/nonexistent/config.yaml");
    }
}

/// Counts read as English: "1 env var", and an empty source order says so.
#[test]
fn wording_of_counts_and_empty_orders() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  a: null\n  o: null\nsecret_init:\n  secrets:\n    a: {env: A_VAR, file: false}\n    o: {optional: true}\n");
    let out = sb
        .run()
        .env("TRUSS_SECRET_a", canary("a"))
        .args(["--", "/bin/true"])
        .output();
    out.expect_ok()
        .stderr_has("2 secrets delivered (0 files written, 0 unchanged, 1 env var)");
    let out = sb.run().args(["--sources", "vault", "check"]).output();
    out.expect_code(69);
    assert!(!out.stderr().contains("no sources"), "{}", out.stderr());
    out.stderr_has("no source in the order is configured");
}

fn root_entries() -> Vec<String> {
    std::fs::read_dir("/")
        .expect("ls /")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// `scripts/demo` shows progress and leaves no mount point (`/secrets`) on the host.
#[test]
fn demo_touches_nothing_outside_its_temp_dir() {
    let before = root_entries();
    assert!(
        !before
            .iter()
            .any(|n| n == "secrets" || n == "secrets-volume"),
        "a /secrets from an older demo is on this host; remove it to run this test"
    );
    let out = Command::new("bash")
        .arg(root().join("scripts/demo"))
        .env("SI_DEMO_BIN", bin())
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("\"secret_init_inputs_left_in_env\": []"),
        "{stdout}"
    );
    let after = root_entries();
    assert_eq!(before.len(), after.len(), "{before:?} -> {after:?}");
    assert!(!Path::new("/secrets").exists());
    assert!(!Path::new("/mnt/secrets-volume").exists());
    let script = std::fs::read_to_string(root().join("scripts/demo")).expect("demo");
    assert!(script.contains("== building"), "the build announces itself");
    assert!(!script.contains("-q\n"), "the build is not silenced");
}

//! Core: manifest, sources, precedence, delivery, the child's environment, exit codes.

use std::os::unix::fs::{MetadataExt, symlink};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::*;

/// A program that records that it ran, so "never started" can be checked.
fn marker_program(sb: &Sandbox) -> Vec<String> {
    vec![
        "/bin/sh".into(),
        "-c".into(),
        format!("touch {}", sb.path("program-ran").display()),
    ]
}

fn program_ran(sb: &Sandbox) -> bool {
    sb.path("program-ran").exists()
}

#[test]
fn env_secret_is_written_0600_and_program_runs() {
    let sb = Sandbox::new();
    sb.config("model_name: demo\nsecrets:\n  hf_access_token: null\n");
    let c = canary("hf");
    let out = sb
        .run()
        .env("TRUSS_SECRET_hf_access_token", &c)
        .args([
            "--",
            "/bin/sh",
            "-c",
            "cat \"$0\"/hf_access_token; echo; env",
        ])
        .arg(sb.path("out"))
        .output();
    out.expect_ok();
    assert!(
        out.stdout().starts_with(&format!("{c}\n")),
        "{}",
        out.stdout()
    );
    assert!(
        !out.stdout().contains("TRUSS_SECRET_"),
        "child env has TRUSS_SECRET_*: {}",
        out.stdout()
    );
    assert_eq!(mode(&sb.path("out/hf_access_token")), 0o600);
    assert_eq!(mode(&sb.path("out")), 0o700);
}

#[test]
fn every_source_and_the_default_precedence() {
    // file > env > local > default, each secret placed so that exactly one source wins.
    let sb = Sandbox::new();
    sb.config("secrets:\n  f: dflt\n  e: dflt\n  l: dflt\n  d: dflt\n");
    sb.write("in/f", "from-file");
    sb.write(
        "local.yaml",
        "secrets:\n  f: local\n  e: local\n  l: local\n",
    );
    let out = sb
        .run()
        .env("TRUSS_SECRET_f", "env")
        .env("TRUSS_SECRET_e", "env")
        .arg("check")
        .output();
    out.expect_ok();
    for (name, source) in [
        ("f", "file:"),
        ("e", "env:TRUSS_SECRET_e"),
        ("l", "local:"),
        ("d", "default"),
    ] {
        let line = out
            .stdout()
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_default()
            .to_string();
        assert!(
            line.contains(source),
            "{name} should come from {source}: {line}\n{}",
            out.stdout()
        );
    }
    sb.run()
        .env("TRUSS_SECRET_f", "env")
        .env("TRUSS_SECRET_e", "env")
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    assert_eq!(read(&sb.path("out/e")), "env");
    assert_eq!(read(&sb.path("out/l")), "local");
    assert_eq!(read(&sb.path("out/d")), "dflt");
    // The file source wrote nothing new into out/ for f: it was read from in/, delivered to out/.
    assert_eq!(read(&sb.path("out/f")), "from-file");
}

#[test]
fn precedence_is_configurable() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  k: dflt\nsecret_init:\n  sources: [default, env]\n");
    sb.run()
        .env("TRUSS_SECRET_k", "env")
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    assert_eq!(read(&sb.path("out/k")), "dflt");
    // The command line wins over the file.
    sb.run()
        .env("TRUSS_SECRET_k", "env")
        .args(["--sources", "env,default", "--", "/bin/true"])
        .output()
        .expect_ok();
    assert_eq!(read(&sb.path("out/k")), "env");
    // And the env twin over the file too.
    sb.run()
        .env("TRUSS_SECRET_k", "env2")
        .env("SECRET_INIT_SOURCES", "env")
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    assert_eq!(read(&sb.path("out/k")), "env2");
}

#[test]
fn exact_references_and_per_secret_delivery() {
    let sb = Sandbox::new();
    let ref_file = sb.write("elsewhere/token", "from-ref-file\n");
    sb.config(&format!(
        "secrets:\n  a: null\n  b: null\n  c: null\n  opt: null\nsecret_init:\n  secrets:\n    a: {{from: 'env:CUSTOM_A', env: A_KEY, file: false}}\n    b: {{from: 'file:{}', file: {}, mode: '0440'}}\n    c: {{env: C_KEY}}\n    opt: {{optional: true}}\n",
        ref_file.display(),
        sb.path("custom/b.txt").display()
    ));
    let out = sb
        .run()
        .env("CUSTOM_A", "va")
        .env("TRUSS_SECRET_c", "vc")
        .args(["--", "/usr/bin/env"])
        .output();
    out.expect_ok()
        .stderr_has("optional secret \"opt\" not found");
    let env = out.stdout();
    assert!(env.lines().any(|l| l == "A_KEY=va"), "{env}");
    assert!(env.lines().any(|l| l == "C_KEY=vc"), "{env}");
    assert!(!env.contains("TRUSS_SECRET_c"), "{env}");
    assert!(
        !sb.path("out/a").exists(),
        "file: false must not write a file"
    );
    assert_eq!(read(&sb.path("custom/b.txt")), "from-ref-file\n");
    assert_eq!(mode(&sb.path("custom/b.txt")), 0o440);
    assert_eq!(read(&sb.path("out/c")), "vc");
    assert!(!sb.path("out/opt").exists());
}

#[test]
fn trailing_newline_is_kept_byte_exact_unless_trimmed() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  keep: null\n  trim: null\n  crlf: null\nsecret_init:\n  secrets:\n    trim: {trim_newline: true}\n    crlf: {trim_newline: true}\n");
    sb.write("in/keep", "hunter2\n");
    sb.write("in/trim", "hunter2\n\n");
    sb.write("in/crlf", "hunter2\r\n");
    sb.run().args(["--", "/bin/true"]).output().expect_ok();
    assert_eq!(
        std::fs::read(sb.path("out/keep")).expect("read"),
        b"hunter2\n"
    );
    assert_eq!(
        std::fs::read(sb.path("out/trim")).expect("read"),
        b"hunter2\n",
        "exactly one newline stripped"
    );
    assert_eq!(
        std::fs::read(sb.path("out/crlf")).expect("read"),
        b"hunter2"
    );
}

#[test]
fn binary_values_pass_through_byte_exact() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  bin: null\n");
    let bytes: Vec<u8> = (0..=255u8).collect();
    sb.write("in/bin", &bytes);
    sb.run().args(["--", "/bin/true"]).output().expect_ok();
    assert_eq!(std::fs::read(sb.path("out/bin")).expect("read"), bytes);
}

#[test]
fn mode_is_exact_whatever_the_umask() {
    for umask in [0o000, 0o077, 0o022] {
        let sb = Sandbox::new();
        sb.config(
            "secrets:\n  a: null\n  b: null\nsecret_init:\n  secrets:\n    b: {mode: '0640'}\n",
        );
        sb.run()
            .env("TRUSS_SECRET_a", "x")
            .env("TRUSS_SECRET_b", "y")
            .env("SECRET_INIT_OUTPUT_DIR", sb.path("deep/nested/out"))
            .umask(umask)
            .args(["--", "/bin/true"])
            .output()
            .expect_ok();
        assert_eq!(
            mode(&sb.path("deep/nested/out/a")),
            0o600,
            "umask {umask:03o}"
        );
        assert_eq!(
            mode(&sb.path("deep/nested/out/b")),
            0o640,
            "umask {umask:03o}"
        );
        for d in ["deep", "deep/nested", "deep/nested/out"] {
            assert_eq!(mode(&sb.path(d)), 0o700, "{d} under umask {umask:03o}");
        }
        // No staging dir is left behind; the record of deliveries is beside the files.
        assert_eq!(
            tree(&sb.path("deep/nested/out")),
            ["..secret-init-delivered", "a", "b"]
        );
    }
}

#[test]
fn a_symlink_at_the_target_is_refused_and_the_victim_untouched() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  aaa: null\n  db: null\n");
    let victim = sb.write("victim", "precious");
    let before = std::fs::metadata(&victim).expect("stat");
    sb.mkdir("out");
    symlink(&victim, sb.path("out/db")).expect("symlink");
    let c = canary("db");
    let mut args = vec!["--".to_string()];
    args.extend(marker_program(&sb));
    let out = sb
        .run()
        .env("TRUSS_SECRET_aaa", "a")
        .env("TRUSS_SECRET_db", &c)
        .args(args)
        .output();
    out.expect_code(73)
        .stderr_has("refusing to replace symlink")
        .no_leak(&[&c]);
    assert_eq!(read(&victim), "precious");
    let after = std::fs::metadata(&victim).expect("stat");
    assert_eq!(before.mtime_nsec(), after.mtime_nsec());
    assert_eq!(
        tree(&sb.path("out")),
        ["db"],
        "nothing else published, no staging left"
    );
    assert!(!program_ran(&sb));
}

#[test]
fn a_symlinked_output_dir_is_refused() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  db: null\n");
    let real = sb.mkdir("real");
    symlink(&real, sb.path("out")).expect("symlink");
    sb.run()
        .env("TRUSS_SECRET_db", "x")
        .args(["--", "/bin/true"])
        .output()
        .expect_code(73)
        .stderr_has("refusing to follow symlink");
    assert!(tree(&real).is_empty());
    // A symlinked parent is refused the same way.
    symlink(&real, sb.path("linkparent")).expect("symlink");
    sb.run()
        .env("TRUSS_SECRET_db", "x")
        .env("SECRET_INIT_OUTPUT_DIR", sb.path("linkparent/sub"))
        .args(["--", "/bin/true"])
        .output()
        .expect_code(73);
    assert!(tree(&real).is_empty());
}

#[test]
fn a_directory_or_shared_dir_at_the_destination_is_refused() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  db: null\n");
    sb.mkdir("out/db");
    sb.run()
        .env("TRUSS_SECRET_db", "x")
        .args(["--", "/bin/true"])
        .output()
        .expect_code(73)
        .stderr_has("is a directory");
    let shared = sb.mkdir("shared");
    std::fs::set_permissions(
        &shared,
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .expect("chmod");
    sb.run()
        .env("TRUSS_SECRET_db", "x")
        .env("SECRET_INIT_OUTPUT_DIR", &shared)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has("world-writable");
    sb.run()
        .env("TRUSS_SECRET_db", "x")
        .env("SECRET_INIT_OUTPUT_DIR", &shared)
        .args(["--allow-shared-dir", "--", "/bin/true"])
        .output()
        .expect_ok();
    assert_eq!(read(&shared.join("db")), "x");
}

#[test]
fn an_existing_file_is_replaced_atomically_and_a_hardlink_victim_kept() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  db: null\n");
    let victim = sb.write("victim", "precious");
    sb.mkdir("out");
    std::fs::hard_link(&victim, sb.path("out/db")).expect("hardlink");
    sb.run()
        .env("TRUSS_SECRET_db", "new")
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    assert_eq!(read(&sb.path("out/db")), "new");
    assert_eq!(
        read(&victim),
        "precious",
        "the old inode is not written through"
    );
    assert_eq!(std::fs::metadata(&victim).expect("stat").nlink(), 1);
}

#[test]
fn kubernetes_secret_volume_layout() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  db: null\n  .dockerconfigjson: null\n");
    // An old and a current timestamped dir; ..data points at the current one.
    sb.write("in/..2024_01_01_00_00_00.1/db", "old");
    sb.write("in/..2024_02_02_00_00_00.2/db", "current\n");
    sb.write(
        "in/..2024_02_02_00_00_00.2/.dockerconfigjson",
        "{\"auths\":{}}",
    );
    symlink("..2024_02_02_00_00_00.2", sb.path("in/..data")).expect("link");
    symlink("..data/db", sb.path("in/db")).expect("link");
    symlink("..data/.dockerconfigjson", sb.path("in/.dockerconfigjson")).expect("link");
    let out = sb.run().args(["check"]).output();
    out.expect_ok();
    sb.run().args(["--", "/bin/true"]).output().expect_ok();
    assert_eq!(read(&sb.path("out/db")), "current\n");
    assert_eq!(read(&sb.path("out/.dockerconfigjson")), "{\"auths\":{}}");
    assert_eq!(mode(&sb.path("out/.dockerconfigjson")), 0o600);
}

#[test]
fn links_that_escape_the_secrets_dir_are_refused() {
    let outside = Sandbox::new();
    let target = outside.write("shadow", "not yours");
    for link in [
        target.display().to_string(),
        "../outside-file".to_string(),
        "/proc/self/environ".to_string(),
    ] {
        let sb = Sandbox::new();
        sb.config("secrets:\n  db: null\n");
        sb.write("outside-file", "not yours");
        sb.mkdir("in");
        symlink(&link, sb.path("in/db")).expect("symlink");
        let mut args = vec!["--".to_string()];
        args.extend(marker_program(&sb));
        let out = sb.run().args(args).output();
        out.expect_code(65)
            .stderr_has("secret \"db\"")
            .no_leak(&["not yours"]);
        assert!(!program_ran(&sb), "{link}");
        assert!(!sb.path("out").exists(), "{link}: nothing written");
    }
    // A link that stays inside the dir is fine.
    let sb = Sandbox::new();
    sb.config("secrets:\n  db: null\n");
    sb.write("in/real", "inside");
    symlink("real", sb.path("in/db")).expect("symlink");
    sb.run().args(["--", "/bin/true"]).output().expect_ok();
    assert_eq!(read(&sb.path("out/db")), "inside");
}

#[test]
fn fifos_directories_and_oversized_files_fail_without_hanging() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  db: null\n");
    sb.mkdir("in");
    let st = std::process::Command::new("mkfifo")
        .arg(sb.path("in/db"))
        .status()
        .expect("mkfifo");
    assert!(st.success());
    let t = Instant::now();
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has("FIFO");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "must not block on the FIFO"
    );
    std::fs::remove_file(sb.path("in/db")).expect("rm");
    sb.mkdir("in/db");
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has("directory");
    std::fs::remove_dir(sb.path("in/db")).expect("rmdir");
    sb.write("in/db", vec![b'x'; 2048]);
    sb.run()
        .args(["--max-secret-bytes", "1024", "--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has("1024-byte limit");
    assert!(!sb.path("out").exists());
}

#[test]
fn a_fifo_in_place_of_a_config_file_does_not_hang() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  db: null\n");
    for fifo in ["local.yaml", "fifo-config.yaml"] {
        let st = std::process::Command::new("mkfifo")
            .arg(sb.path(fifo))
            .status()
            .expect("mkfifo");
        assert!(st.success());
    }
    let t = Instant::now();
    sb.run()
        .args(["check"])
        .output()
        .expect_code(65)
        .stderr_has("not a regular file");
    sb.run()
        .env("SECRET_INIT_CONFIG", sb.path("fifo-config.yaml"))
        .args(["check"])
        .output()
        .expect_code(65)
        .stderr_has("not a regular file");
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn unreadable_secret_file_is_a_permission_error() {
    // Root reads anything: drop to nobody for this one with setpriv.
    assert!(
        nix_is_root(),
        "this test needs root, as CI and the test machine have"
    );
    let sb = Sandbox::new();
    sb.config("secrets:\n  db: null\n");
    sb.write("in/db", "x");
    std::fs::set_permissions(
        sb.path("in/db"),
        std::os::unix::fs::PermissionsExt::from_mode(0o000),
    )
    .expect("chmod");
    for p in ["", "in"] {
        std::fs::set_permissions(
            sb.path(p),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
    }
    let mut r = sb.run();
    r.program = "/usr/bin/setpriv".into();
    r.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin())
        .args(["check"]);
    r.output().expect_code(77).stderr_has("permission denied");
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"))
}

#[test]
fn missing_secrets_are_listed_together_and_nothing_happens() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  a: null\n  b: null\n  c: has-default\n");
    let mut args = vec!["--".to_string()];
    args.extend(marker_program(&sb));
    let out = sb.run().env("TRUSS_SECRET_c", "x").args(args).output();
    out.expect_code(69);
    let stderr = out.stderr();
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(errors.len(), 2, "{}", out.stderr());
    assert!(
        errors[0].contains("secret \"a\" (file:")
            && errors[0].contains("env:TRUSS_SECRET_a")
            && errors[0].contains("default): not found"),
        "{}",
        errors[0]
    );
    assert!(errors[1].contains("secret \"b\""));
    assert!(!program_ran(&sb));
    assert!(
        !sb.path("out").exists(),
        "nothing written, not even the dir"
    );
}

#[test]
fn bad_names_exit_65_before_any_io() {
    let cases = [
        "\"../../etc/passwd\": null",
        "\"/etc/shadow\": null",
        "\"a/b\": null",
        "\"..data\": null",
        "\"..x\": null",
        "\".\": null",
        "\"..\": null",
        "\"\": null",
        "\"a\\nb\": null",
        "\"a\\0b\": null",
    ];
    for case in cases {
        let sb = Sandbox::new();
        sb.config(&format!("secrets:\n  {case}\n  good: null\n"));
        let mut args = vec!["--".to_string()];
        args.extend(marker_program(&sb));
        // TRUSS_SECRET_good is set: if any I/O happened, `good` would be written.
        let out = sb.run().env("TRUSS_SECRET_good", "x").args(args).output();
        out.expect_code(65).stderr_has("invalid name");
        assert!(!sb.path("out").exists() && !program_ran(&sb), "{case}");
        assert_eq!(
            out.stderr().lines().count(),
            1,
            "one line: {}",
            out.stderr()
        );
    }
    let sb = Sandbox::new();
    sb.config(&format!("secrets:\n  {}: null\n", "x".repeat(254)));
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has("at most 253");
    // Control bytes are shown escaped, never raw.
    let sb = Sandbox::new();
    sb.config("secrets:\n  \"a\\nb\": null\n");
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has("secret \"a\\nb\"");
    // Invalid UTF-8 in the config is refused with its offset.
    let sb = Sandbox::new();
    sb.write("config.yaml", b"secrets:\n  caf\xff: null\n");
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has("not valid UTF-8 at byte offset 14");
    // `.dockerconfigjson` is a valid name (only a leading `..` is reserved).
    let sb = Sandbox::new();
    sb.config("secrets:\n  .dockerconfigjson: null\n");
    sb.run()
        .env("TRUSS_SECRET_.dockerconfigjson", "{}")
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    assert_eq!(mode(&sb.path("out/.dockerconfigjson")), 0o600);
}

/// CPU time (user + system) a run of secret-init takes, measured by the kernel for that process
/// alone (wait4), so a busy machine does not make the check flaky the way wall time would.
fn cpu_ms(sb: &Sandbox, args: &[&str]) -> (i32, f64) {
    let script = "import os,sys\npid=os.posix_spawn(sys.argv[1], sys.argv[1:], dict(os.environ))\n_,st,ru=os.wait4(pid,0)\nprint(os.waitstatus_to_exitcode(st), (ru.ru_utime+ru.ru_stime)*1000)\n";
    let out = std::process::Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(bin())
        .args(args)
        .env_clear()
        .env("SECRET_INIT_CONFIG", sb.path("config.yaml"))
        .env("SECRET_INIT_OUTPUT_DIR", sb.path("out"))
        .env("SECRET_INIT_SECRETS_DIR", sb.path("in"))
        .output()
        .expect("python");
    let s = String::from_utf8_lossy(&out.stdout);
    let mut it = s.split_whitespace();
    let code = it.next().and_then(|c| c.parse().ok()).unwrap_or(-1);
    let ms = it.next().and_then(|c| c.parse().ok()).unwrap_or(f64::MAX);
    (code, ms)
}

#[test]
fn alias_bombs_and_deep_nesting_are_rejected_fast() {
    let sb = Sandbox::new();
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (x, y) in ["ab", "bc", "cd", "de", "ef", "fg", "gh", "hi"]
        .iter()
        .map(|p| (&p[0..1], &p[1..2]))
    {
        bomb.push_str(&format!(
            "{y}: &{y} [*{x},*{x},*{x},*{x},*{x},*{x},*{x},*{x},*{x}]\n"
        ));
    }
    bomb.push_str("secrets:\n  db: null\n");
    sb.config(&bomb);
    let (code, ms) = cpu_ms(&sb, &["check"]);
    assert_eq!(code, 65, "alias bomb");
    assert!(ms < 100.0, "alias bomb took {ms} ms of CPU");

    let deep = format!(
        "x: {}{}\nsecrets:\n  db: null\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    sb.config(&deep);
    let (code, ms) = cpu_ms(&sb, &["check"]);
    assert_eq!(code, 65, "10,000-deep nesting");
    assert!(ms < 100.0, "deep nesting took {ms} ms of CPU");
    let deep_block = format!(
        "x:\n{}\nsecrets:\n  db: null\n",
        (0..10_000)
            .map(|i| format!("{}- ", " ".repeat(i * 2)))
            .collect::<String>()
    );
    sb.config(&deep_block);
    let (code, _) = cpu_ms(&sb, &["check"]);
    assert_eq!(code, 65, "deep block nesting");
}

#[test]
fn duplicate_keys_and_wrong_types_are_rejected_without_echo() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  db: null\n  db: null\n");
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has("uplicate");
    let c = canary("type");
    sb.config(&format!(
        "secrets:\n  db: 5432\n  lst: [{c}]\n  map: {{k: {c}}}\n"
    ));
    let out = sb.run().args(["--", "/bin/true"]).output();
    out.expect_code(65)
        .stderr_has("secret \"db\"")
        .stderr_has("found integer")
        .stderr_has("found sequence")
        .no_leak(&[&c, "5432"]);
    sb.config("secrets:\n  db: null\nsecret_init:\n  secret: {}\n");
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has("unknown setting \"secret\"");
    sb.write("config.yaml", vec![b'#'; 2 * 1024 * 1024]);
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has("limit");
}

#[test]
fn env_values_with_equals_are_kept_whole() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  tok: null\nsecret_init:\n  secrets:\n    tok: {env: TOK}\n");
    let out = sb
        .run()
        .env("TRUSS_SECRET_tok", "a=b==")
        .args(["--", "/usr/bin/env"])
        .output();
    out.expect_ok();
    assert!(
        out.stdout().lines().any(|l| l == "TOK=a=b=="),
        "{}",
        out.stdout()
    );
    assert_eq!(read(&sb.path("out/tok")), "a=b==");
}

#[test]
fn env_delivery_refuses_nul_dangerous_names_and_collisions() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  db: null\nsecret_init:\n  secrets:\n    db: {env: DB}\n");
    sb.write("in/db", b"a\0b");
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has("NUL");
    assert!(!sb.path("out").exists());
    sb.config("secrets:\n  db: null\nsecret_init:\n  secrets:\n    db: {env: LD_PRELOAD}\n");
    sb.run()
        .env("TRUSS_SECRET_db", "x")
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has("deny list");
    sb.config("secrets:\n  db-pass: null\n  db_pass: null\nsecret_init:\n  secrets:\n    db-pass: {env: DB_PASS}\n    db_pass: {env: DB_PASS}\n");
    sb.run()
        .env("TRUSS_SECRET_db-pass", "1")
        .env("TRUSS_SECRET_db_pass", "2")
        .args(["--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has("already delivered by secret");
    sb.config("secrets:\n  big: null\nsecret_init:\n  secrets:\n    big: {env: BIG}\n");
    std::fs::remove_file(sb.path("in/db")).expect("rm");
    sb.write("in/big", vec![b'x'; 1024 * 1024]);
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has("per-variable limit");
    assert!(
        !sb.path("out").exists(),
        "nothing published before the env check fails"
    );
    // An empty suffix names no secret.
    sb.config("secrets:\n  db: null\n");
    sb.run()
        .env("TRUSS_SECRET_", "x")
        .env("TRUSS_SECRET_db", "y")
        .args(["--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has("empty secret name");
    // Names are case-sensitive: TRUSS_SECRET_DB is not secret "db".
    sb.run()
        .env("TRUSS_SECRET_DB", "y")
        .args(["check"])
        .output()
        .expect_code(69);
}

#[test]
fn canaries_never_reach_output_at_trace_level() {
    let sb = Sandbox::new();
    let (cf, ce, cl, cd, cm) = (
        canary("file"),
        canary("env"),
        canary("local"),
        canary("default"),
        canary("missing"),
    );
    sb.config(&format!("secrets:\n  f: null\n  e: null\n  l: null\n  d: {cd}\nsecret_init:\n  secrets:\n    e: {{env: E_VAR}}\n"));
    sb.write("in/f", &cf);
    sb.write(
        "local.yaml",
        format!("secrets:\n  l: {cl}\n  other: {cm}\n"),
    );
    let all = [
        cf.as_str(),
        ce.as_str(),
        cl.as_str(),
        cd.as_str(),
        cm.as_str(),
    ];
    let run = |extra: &[&str]| {
        let mut r = sb.run();
        r.env("TRUSS_SECRET_e", &ce)
            .env("SECRET_INIT_LOG_LEVEL", "trace");
        r.args(extra.iter().copied());
        r.output()
    };
    run(&["--", "/bin/true"]).expect_ok().no_leak(&all);
    run(&["check"]).expect_ok().no_leak(&all);
    run(&["check", "--format", "json"])
        .expect_ok()
        .no_leak(&all);
    run(&["--log-format", "json", "--", "/bin/true"])
        .expect_ok()
        .no_leak(&all);
    // Failures too: a symlink in the way, then a missing secret, then a type error.
    std::fs::remove_file(sb.path("out/f")).expect("rm");
    symlink("/dev/null", sb.path("out/f")).expect("symlink");
    run(&["--", "/bin/true"]).expect_code(73).no_leak(&all);
    std::fs::remove_file(sb.path("out/f")).expect("rm");
    sb.config(&format!(
        "secrets:\n  f: null\n  e: null\n  l: null\n  d: {cd}\n  nope: null\n"
    ));
    run(&["--", "/bin/true"]).expect_code(69).no_leak(&all);
    sb.write("local.yaml", format!("secrets:\n  l: [{cl}]\n"));
    run(&["check"]).expect_code(65).no_leak(&all);
}

#[test]
fn child_environment_is_scrubbed() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  db: null\n");
    let out = sb
        .run()
        .env("TRUSS_SECRET_db", "x")
        .env("TRUSS_SECRET_undeclared", "y")
        .env("VAULT_TOKEN", "t")
        .env("SECRET_INIT_MASTER_KEY", "k")
        .env("KEEP_ME", "1")
        .args(["--scrub-env", "DROP_ME", "--", "/usr/bin/env"])
        .env("DROP_ME", "1")
        .output();
    out.expect_ok();
    let env = out.stdout();
    for gone in ["TRUSS_SECRET_", "VAULT_TOKEN", "SECRET_INIT_", "DROP_ME"] {
        assert!(!env.contains(gone), "{gone} reached the child:\n{env}");
    }
    assert!(env.lines().any(|l| l == "KEEP_ME=1"));
}

#[test]
fn program_exit_codes_pass_through() {
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    for code in 0..=255 {
        sb.run()
            .args(["--", "/bin/sh", "-c", &format!("exit {code}")])
            .output()
            .expect_code(code);
    }
    // Killed by a signal: exec mode means the shell's parent sees the signal itself.
    let out = sb
        .run()
        .args(["--", "/bin/sh", "-c", "kill -TERM $$"])
        .output();
    assert_eq!(out.code(), 128 + 15);
}

#[test]
fn not_found_and_not_executable() {
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    sb.run()
        .args(["--", "/nonexistent/prog"])
        .output()
        .expect_code(127)
        .stderr_has("/nonexistent/prog: program not found");
    sb.run()
        .args(["--", "no-such-program-xyz"])
        .output()
        .expect_code(127);
    let f = sb.write("notexec", "#!/bin/sh\n");
    sb.run()
        .arg("--")
        .arg(&f)
        .output()
        .expect_code(126)
        .stderr_has("cannot execute");
    sb.run()
        .arg("--")
        .arg(sb.path(""))
        .output()
        .expect_code(126);
    sb.run()
        .output()
        .expect_code(64)
        .stderr_has("no program given");
    sb.run()
        .args(["--bogus", "--", "/bin/true"])
        .output()
        .expect_code(64);
}

fn status_field(status: &str, key: &str) -> u64 {
    let v = status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("{key} missing"));
    u64::from_str_radix(v, 16).expect("hex")
}

#[test]
fn child_signal_state_is_clean() {
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    let out = sb
        .run()
        .args(["--", "/bin/cat", "/proc/self/status"])
        .output();
    out.expect_ok();
    assert_eq!(
        status_field(&out.stdout(), "SigBlk:"),
        0,
        "blocked mask must be empty"
    );
    let sigpipe = 1u64 << (13 - 1);
    assert_eq!(
        status_field(&out.stdout(), "SigIgn:") & sigpipe,
        0,
        "SIGPIPE must not be ignored"
    );
    // The sigconf case: what secret-init was started with is what the program gets. Python
    // starts secret-init with SIGUSR1 blocked and SIGHUP ignored.
    let script = "import os,signal,sys\nsignal.pthread_sigmask(signal.SIG_BLOCK,[signal.SIGUSR1])\nsignal.signal(signal.SIGHUP,signal.SIG_IGN)\nos.execv(sys.argv[1],sys.argv[1:])\n";
    let mut r = sb.run();
    r.program = python();
    r.arg("-c")
        .arg(script)
        .arg(bin())
        .args(["--", "/bin/cat", "/proc/self/status"]);
    let out = r.output();
    out.expect_ok();
    assert_eq!(
        status_field(&out.stdout(), "SigBlk:"),
        1 << (10 - 1),
        "SIGUSR1 stays blocked, nothing else"
    );
    assert_ne!(
        status_field(&out.stdout(), "SigIgn:") & 1,
        0,
        "SIGHUP stays ignored"
    );
}

#[test]
fn exec_keeps_the_pid() {
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    let mut cmd = sb.run().args(["--", "/bin/sh", "-c", "echo $$"]).command();
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        pid.to_string(),
        "no extra process in exec mode"
    );
}

#[test]
fn check_masks_values_and_reports_like_a_run() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  long: null\n  short: null\n  missing: null\n");
    // Long enough (24+ bytes) for its two characters at each end to be shown.
    let c = format!("sk-{}-0123456789", canary("chk"));
    let out = sb
        .run()
        .env("TRUSS_SECRET_long", &c)
        .env("TRUSS_SECRET_short", "abc")
        .args(["check"])
        .output();
    out.expect_code(69).no_leak(&[&c, "abc"]);
    let table = out.stdout();
    assert!(table.starts_with("NAME"), "{table}");
    let masked = format!("sk****{}", &c[c.len() - 2..]);
    assert!(table.contains(&masked), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("short") && l.contains("****") && l.ends_with("ok")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("missing") && l.ends_with("missing")),
        "{table}"
    );
    let out = sb
        .run()
        .env("TRUSS_SECRET_long", &c)
        .env("TRUSS_SECRET_short", "abc")
        .env("TRUSS_SECRET_missing", "m")
        .args(["check", "--format", "json"])
        .output();
    out.expect_ok().no_leak(&[&c]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).expect("json");
    assert_eq!(v["ok"], true);
    assert_eq!(v["secrets"][0]["name"], "long");
    assert_eq!(v["secrets"][0]["source"], "env:TRUSS_SECRET_long");
    assert_eq!(v["secrets"][0]["value"], masked);
    assert!(!sb.path("out").exists(), "check writes nothing");
}

#[test]
fn get_prints_one_value_byte_exact() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  db: null\n  other: null\n");
    sb.write("in/db", "v\n");
    let out = sb.run().args(["get", "db"]).output();
    out.expect_ok();
    assert_eq!(out.out.stdout, b"v\n");
    sb.run().args(["get", "other"]).output().expect_code(69);
    sb.run()
        .args(["get", "undeclared"])
        .output()
        .expect_code(64);
}

#[test]
fn a_value_from_the_very_file_is_left_alone() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  db: null\n");
    let f = sb.write("in/db", "mounted");
    std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    let before = std::fs::metadata(&f).expect("stat");
    sb.run()
        .env("SECRET_INIT_OUTPUT_DIR", sb.path("in"))
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    let after = std::fs::metadata(&f).expect("stat");
    assert_eq!(
        (before.ino(), before.mtime_nsec(), mode(&f)),
        (after.ino(), after.mtime_nsec(), 0o644)
    );
}

/// Runs secret-init inside a private mount namespace where `out` is a fresh tmpfs with `opts`;
/// stdout ends with a listing of that tmpfs taken after secret-init exits.
fn in_tmpfs(sb: &Sandbox, opts: &str, envs: &[(&str, String)]) -> Out {
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let setup = format!("mount -t tmpfs -o {opts} tmpfs \"$0\"");
    crate::support::in_mount_namespace(sb, &setup, &["--", "/bin/true"], &envs)
}

#[test]
fn no_space_mid_delivery_publishes_nothing() {
    assert!(
        nix_is_root(),
        "this test needs root, as CI and the test machine have"
    );
    let sb = Sandbox::new();
    sb.config("secrets:\n  a1: null\n  a2: null\n  big: null\n  z1: null\n");
    sb.write("in/big", vec![b'x'; 1024 * 1024]);
    let env = [
        ("TRUSS_SECRET_a1", "1".to_string()),
        ("TRUSS_SECRET_a2", "2".to_string()),
        ("TRUSS_SECRET_z1", "3".to_string()),
    ];
    let out = in_tmpfs(&sb, "size=16k,mode=0700", &env);
    out.expect_code(73)
        .stderr_has("secret \"big\"")
        .stderr_has("No space left on device");
    assert_eq!(
        out.stdout().trim(),
        "",
        "nothing published, staging removed"
    );
}

#[test]
fn read_only_output_dir_says_how_out() {
    assert!(
        nix_is_root(),
        "this test needs root, as CI and the test machine have"
    );
    let sb = Sandbox::new();
    sb.config("secrets:\n  db: null\n");
    let out = in_tmpfs(&sb, "ro,mode=0700", &[("TRUSS_SECRET_db", "x".to_string())]);
    out.expect_code(73)
        .stderr_has("read-only")
        .stderr_has("--output-dir");
}

#[test]
fn help_and_version() {
    let out = Run::new().arg("--help").output();
    out.expect_ok()
        .stdout_has("SECRET_INIT_OUTPUT_DIR")
        .stdout_has("EXIT CODES");
    Run::new()
        .arg("--version")
        .output()
        .expect_ok()
        .stdout_has(concat!(
            "secret-init ",
            env!("CARGO_PKG_VERSION"),
            "\ncommit:    "
        ))
        .stdout_has(
            "\nsources:   file, env, vault, aws, gcp, azure, bundle, sops, local, default\n",
        );
    // For scripts: one JSON object, the same facts; the options around --version are still read.
    let out = Run::new().args(["--version", "--format", "json"]).output();
    out.expect_ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).expect("one JSON object");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert!(v["commit"].as_str().is_some_and(|c| !c.is_empty()), "{v}");
    assert!(
        v["target"]
            .as_str()
            .is_some_and(|t| t.ends_with("-linux-musl") || t.ends_with("-linux-gnu")),
        "{v}"
    );
    assert!(
        v["providers"].as_array().is_some_and(|p| p.len() > 10),
        "{v}"
    );
    assert_eq!(
        Run::new()
            .args(["--format", "json", "-V"])
            .output()
            .stdout(),
        out.stdout()
    );
    Run::new()
        .args(["--version", "--format", "yaml"])
        .output()
        .expect_code(64)
        .stderr_has("--format: expected table or json");
}

#[test]
fn no_config_runs_the_program() {
    let sb = Sandbox::new();
    let mut r = sb.run();
    r.env_remove("SECRET_INIT_CONFIG");
    r.args(["--", "/bin/sh", "-c", "exit 7"])
        .output()
        .expect_code(7);
    let _ = Path::new("/");
}

/// docs/options.md lists everything `--help` does, each option and its env twin; a new option
/// without documentation fails here rather than silently drifting. The README's short table
/// names only options `--help` knows.
#[test]
fn options_doc_lists_every_option_and_its_env_twin() {
    let doc = read(&root().join("docs/options.md"));
    let readme = read(&root().join("README.md"));
    let help = Run::new().arg("--help").output();
    help.expect_ok();
    let mut seen = 0;
    let mut options = Vec::new();
    for line in help.stdout().lines() {
        let line = line.trim_start();
        if let Some(twin) = line.strip_prefix("env: ") {
            assert!(
                doc.contains(&format!("`{twin}`")),
                "docs/options.md lacks {twin}"
            );
            seen += 1;
        } else if line.starts_with("--")
            && !line.starts_with("--help")
            && !line.starts_with("--version")
        {
            let opt = line.split_whitespace().next().unwrap_or_default();
            assert!(
                doc.contains(&format!("`{opt}")),
                "docs/options.md lacks {opt}"
            );
            options.push(opt.to_string());
        }
    }
    assert!(seen >= 30, "only {seen} env twins found in --help");
    let table = readme
        .split("\n## Options")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has an Options section");
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("| `--")).collect();
    assert!(!rows.is_empty(), "README's Options section has no table");
    for row in rows {
        let opt = row[3..].split([' ', '`']).next().unwrap_or_default();
        assert!(
            options.iter().any(|o| o == opt),
            "README names {opt}, which --help does not know"
        );
    }
}

/// Counts the fsync-family calls strace saw in `log`.
fn fsyncs(log: &Path) -> usize {
    read(log)
        .lines()
        .filter(|l| {
            ["fsync(", "fdatasync(", "syncfs("]
                .iter()
                .any(|c| l.contains(c))
        })
        .count()
}

/// Runs `r` under `strace -f -qq -e trace=FILTER -o log`.
fn traced(r: &mut Run, filter: &str, log: &Path) {
    let mut args: Vec<std::ffi::OsString> = ["-f", "-qq", "-e", filter, "-o"]
        .iter()
        .map(Into::into)
        .collect();
    args.push(log.into());
    args.push(r.program.clone().into());
    args.append(&mut r.args);
    r.args = args;
    r.program = "strace".into();
}

/// A start does each check once and probes only what it needs: the program is looked up once
/// before the exec (a stat and an open of it, not twice that), and secret-init's own credential
/// files (`~/.aws/credentials`, the age keys file, ...) are not looked up when no secret is read
/// from a file. A start that reads a file secret still looks them up, to refuse them as values.
#[test]
fn a_start_probes_each_path_once_and_credentials_only_when_a_file_is_read() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  a: null\n");
    let named = |log: &Path, what: &str| {
        read(log)
            .lines()
            .filter(|l| l.contains(what) && !l.contains("execve("))
            .count()
    };
    let mut env_only = sb.run();
    env_only.env("TRUSS_SECRET_a", "value-a");
    env_only.args(["--", "/bin/true"]);
    let log = sb.path("env.strace");
    traced(&mut env_only, "trace=%file", &log);
    env_only.output().expect_ok();
    assert_eq!(named(&log, "\"/bin/true\""), 2, "{}", read(&log));
    assert_eq!(named(&log, ".aws/credentials"), 0, "{}", read(&log));
    assert_eq!(named(&log, "age/keys.txt"), 0, "{}", read(&log));

    sb.write("in/a", "value-a");
    let mut from_file = sb.run();
    from_file.args(["--", "/bin/true"]);
    let log = sb.path("file.strace");
    traced(&mut from_file, "trace=%file", &log);
    from_file.output().expect_ok();
    assert_eq!(read(&sb.path("out/a")), "value-a");
    assert_eq!(named(&log, ".aws/credentials"), 1, "{}", read(&log));
    assert_eq!(named(&log, "age/keys.txt"), 1, "{}", read(&log));
}

/// Start-time files are rebuilt on every start, so on a disk-backed dir they are written without
/// an fsync; `materialize`, which edits a developer's home, still fsyncs every file and its dir.
/// Counted with strace in a dir under target/ (asserted not tmpfs, where fsync is skipped anyway).
#[test]
fn fsync_only_for_writes_that_edit_user_data() {
    use nix::sys::statfs::{FsType, TMPFS_MAGIC, statfs};
    const RAMFS_MAGIC: FsType = FsType(0x8584_58f6);
    let disk = tempfile::Builder::new()
        .prefix("si-disk-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("tempdir");
    let fs = statfs(disk.path()).expect("statfs").filesystem_type();
    assert!(
        fs != TMPFS_MAGIC && fs != RAMFS_MAGIC,
        "{} must be disk-backed for this test",
        disk.path().display()
    );
    std::fs::set_permissions(
        disk.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("chmod");
    let sb = Sandbox::new();
    sb.config("secrets:\n  a: null\n  b: null\n  c: null\n");
    let strace = |r: &mut Run, log: &Path| traced(r, "trace=fsync,fdatasync,syncfs", log);
    let mut start = sb.run();
    start.env("SECRET_INIT_OUTPUT_DIR", disk.path().join("out"));
    for n in ["a", "b", "c"] {
        start.env(format!("TRUSS_SECRET_{n}"), format!("value-{n}"));
    }
    start.args(["--", "/bin/true"]);
    let log = sb.path("start.strace");
    strace(&mut start, &log);
    start.output().expect_ok();
    assert_eq!(read(&disk.path().join("out/b")), "value-b");
    assert_eq!(
        fsyncs(&log),
        0,
        "start-time delivery fsynced:\n{}",
        read(&log)
    );

    let mut mat = sb.run();
    mat.env("SECRET_INIT_OUTPUT_DIR", disk.path().join("mat"));
    mat.env("HOME", disk.path().join("home"));
    for n in ["a", "b", "c"] {
        mat.env(format!("TRUSS_SECRET_{n}"), format!("value-{n}"));
    }
    mat.arg("materialize");
    let log = sb.path("materialize.strace");
    strace(&mut mat, &log);
    mat.output().expect_ok();
    assert_eq!(read(&disk.path().join("mat/c")), "value-c");
    // Three secrets and the state file, each fsynced, and at least one directory.
    assert!(
        fsyncs(&log) >= 5,
        "materialize did not fsync:\n{}",
        read(&log)
    );
}

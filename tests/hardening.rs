//! The attacks and faults of docs/threat-model.md ("Attacks and faults", "Edge cases, decided"),
//! each driven through the real binary (and, for the vault rows, a real OpenBao). Each test fails
//! without the behaviour it checks.

use serde_json::json;

use crate::support::bao::Bao;
use crate::support::*;

/// A program that records that it ran, so "never started" can be checked.
fn marker(sb: &Sandbox) -> Vec<String> {
    vec![
        "/bin/sh".into(),
        "-c".into(),
        format!("touch {}", sb.path("program-ran").display()),
    ]
}

/// `--user 4294967295` is `(uid_t)-1`, "no change" to setresuid: taken as given, the program
/// would run as root and pass `--no-root`. Refused with 78 and the program never starts.
#[test]
fn user_id_minus_one_is_refused() {
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    for spec in ["4294967295", "0:4294967295", "4294967295:0"] {
        let out = sb
            .run()
            .args(["--user", spec, "--no-root", "--"])
            .args(marker(&sb))
            .output();
        out.expect_code(78).stderr_has("no change");
        assert!(!sb.path("program-ran").exists(), "{spec}: program ran");
    }
}

/// An environment of 200 KiB (Kubernetes service variables reach that) is over musl's constant
/// sysconf(_SC_ARG_MAX) of 131072 but within the kernel's limit: it is accepted.
#[test]
fn environment_over_musl_arg_max_is_accepted() {
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    let mut r = sb.run();
    for i in 0..4 {
        r.env(format!("SERVICE_{i}"), "x".repeat(50 * 1024));
    }
    let out = r
        .args(["--", "/bin/sh", "-c", "printf %s \"$SERVICE_3\" | wc -c"])
        .output();
    out.expect_ok();
    assert_eq!(out.stdout().trim(), (50 * 1024).to_string());
}

/// A delivery into `VAULT_TOKEN`: a wipe by name would keep the input `VAULT_TOKEN` in the
/// supervisor's own /proc/<pid>/environ. The wipe goes by position.
#[test]
fn supervisor_wipes_an_input_whose_name_a_delivery_reuses() {
    let sb = Sandbox::new();
    sb.config(
        "secrets:\n  tok: null\nsecret_init:\n  secrets:\n    tok: {env: VAULT_TOKEN, file: false}\n",
    );
    let input = canary("input-token");
    let delivered = canary("delivered");
    let out = sb
        .run()
        .env("VAULT_TOKEN", &input)
        .env("TRUSS_SECRET_tok", &delivered)
        .args([
            "--init",
            "--",
            "/bin/sh",
            "-c",
            "cat /proc/$PPID/environ > \"$0\"/parent; printf %s \"$VAULT_TOKEN\" > \"$0\"/mine",
        ])
        .arg(sb.path("."))
        .output();
    out.expect_ok().no_leak(&[&input, &delivered]);
    assert_eq!(
        read(&sb.path("mine")),
        delivered,
        "the program got the delivery"
    );
    let parent = std::fs::read(sb.path("parent")).expect("parent environ");
    let parent = String::from_utf8_lossy(&parent);
    assert!(
        parent.contains("VAULT_TOKEN="),
        "control: read the supervisor's environ"
    );
    assert!(
        !parent.contains(&input),
        "input token left in the supervisor's environ"
    );
    assert!(
        !parent.contains(&delivered),
        "TRUSS_SECRET_tok left in the supervisor's environ"
    );
}

/// `from:` references to secret-init's own inputs and to /proc (also through a link,
/// which the file source catches on procfs after opening) are refused with 65, as any invalid
/// reference; nothing runs.
#[test]
fn references_to_our_own_inputs_and_proc_are_refused() {
    let sb = Sandbox::new();
    let link = sb.path("innocent");
    std::os::unix::fs::symlink("/proc/self/environ", &link).expect("symlink");
    let key = canary("master");
    for from in [
        "env:SECRET_INIT_MASTER_KEY".to_string(),
        "env:VAULT_TOKEN".to_string(),
        "file:/proc/self/environ".to_string(),
        format!("file:{}", link.display()),
    ] {
        sb.config(&format!(
            "secrets:\n  s: null\nsecret_init:\n  secrets:\n    s: {{from: '{from}'}}\n"
        ));
        let out = sb
            .run()
            .env("SECRET_INIT_MASTER_KEY", &key)
            .env("VAULT_TOKEN", &key)
            .arg("--")
            .args(marker(&sb))
            .output();
        out.expect_code(65).stderr_has("refused").no_leak(&[&key]);
        assert!(!sb.path("program-ran").exists(), "{from}: program ran");
        assert!(!sb.path("out/s").exists(), "{from}: written");
    }
}

/// The token from an AppRole login is revoked before exec: the server's accessor list
/// is back to what it was. A user-supplied token (VAULT_TOKEN) is still valid afterwards.
#[test]
fn login_token_is_revoked_and_a_user_token_is_not() {
    let bao = Bao::start();
    let value = canary("db");
    bao.put_v2("app", &[("db_password", &value)]);
    let accessors = || {
        let r = bao.admin(json!([{"op": "api", "method": "LIST", "path": "auth/token/accessors"}]));
        r[0]["body"]["data"]["keys"].as_array().expect("keys").len()
    };
    let (role_id, secret_id) = bao.approle();
    let sb = Sandbox::new();
    let config = |auth: &str| {
        format!(
            "secrets:\n  db_password: null\nsecret_init:\n  vault:\n{}    paths: [secret/data/app]\n{auth}",
            bao.vault_yaml()
        )
    };
    sb.config(&config(&format!(
        "    auth: {{method: approle, role_id: {role_id}}}\n"
    )));
    let before = accessors();
    let out = sb
        .run()
        .env("VAULT_SECRET_ID", &secret_id)
        .args(["--log-level", "debug", "--", "/bin/true"])
        .output();
    out.expect_ok()
        .stderr_has("revoked")
        .no_leak(&[&value, &secret_id]);
    assert_eq!(read(&sb.path("out/db_password")), value);
    assert_eq!(accessors(), before, "the login token outlived the run");

    let user_token = bao.reader_token();
    sb.config(&config(""));
    sb.run()
        .env("VAULT_TOKEN", &user_token)
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    let r = bao.admin(json!([{"op": "api", "method": "POST", "path": "auth/token/lookup", "body": {"token": user_token}}]));
    assert_eq!(r[0]["status"], 200, "the user's token was revoked");
    assert_eq!(
        accessors(),
        before + 1,
        "control: the user's token is listed"
    );
}

/// AppRole `remove_secret_id_file: true` keeps the secret id file when the start fails: it goes
/// only once the files are published.
#[test]
fn secret_id_file_is_kept_when_the_start_fails() {
    let bao = Bao::start();
    bao.put_v2("app", &[("db_password", "v")]);
    let (role_id, secret_id) = bao.approle();
    let sb = Sandbox::new();
    let sid = sb.write("secret-id", format!("{secret_id}\n"));
    sb.config(&format!(
        "secrets:\n  db_password: null\n  missing: null\nsecret_init:\n  vault:\n{}    paths: [secret/data/app]\n    auth: {{method: approle, role_id: {role_id}, secret_id_file: {}, remove_secret_id_file: true}}\n",
        bao.vault_yaml(),
        sid.display()
    ));
    sb.run().args(["--", "/bin/true"]).output().expect_code(69);
    assert!(sid.exists(), "secret id file removed by a failed start");
}

/// A token with CRLF inside (header smuggling) is refused with 65
/// before any request, and a `?` smuggled into a vault path (`?list=true` turned a read into a
/// LIST) is refused with 65/78 before any request.
#[test]
fn crlf_tokens_and_queries_in_vault_paths_are_refused() {
    let bao = Bao::start();
    let sb = Sandbox::new();
    let tok = sb.write("token", format!("{}\r\nX-Evil: 1\n", bao.root));
    sb.config(&format!(
        "secrets:\n  a: null\nsecret_init:\n  vault:\n{}    paths: [secret/data/app]\n    auth: {{method: token, token_file: {}}}\n",
        bao.vault_yaml(),
        tok.display()
    ));
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has("control byte")
        .no_leak(&[&bao.root]);
    sb.config(&format!(
        "secrets:\n  a: null\nsecret_init:\n  secrets:\n    a: {{from: 'vault:secret/metadata/x?list=true#k'}}\n  vault:\n{}",
        bao.vault_yaml()
    ));
    let out = sb
        .run()
        .env("VAULT_TOKEN", &bao.root)
        .args(["--", "/bin/true"])
        .output();
    assert!(matches!(out.code(), 65 | 78), "{}", out.stderr());
    assert!(!bao.audited("secret/metadata/x"), "the request was sent");
}

/// A provider merge meeting a hardlinked root-only file (planted at ~/.aws/credentials) would
/// read it into the file it writes. Refused with 73 and nothing written.
#[test]
fn provider_merge_refuses_a_hardlinked_file() {
    let sb = Sandbox::new();
    let shadow = canary("shadow");
    let root_only = sb.write("root-only", &shadow);
    sb.mkdir("home/.aws");
    std::fs::hard_link(&root_only, sb.path("home/.aws/credentials")).expect("hard link");
    sb.config(
        "secrets:\n  k: null\n  s: null\nsecret_init:\n  providers:\n    aws: {fields: {aws_access_key_id: k, aws_secret_access_key: s}}\n",
    );
    let out = sb
        .run()
        .env("TRUSS_SECRET_k", "AKIA")
        .env("TRUSS_SECRET_s", "sec")
        .args(["--", "/bin/true"])
        .output();
    out.stderr_has("hard links").no_leak(&[&shadow]);
    assert_ne!(out.code(), 0);
    assert_eq!(read(&sb.path("root-only")), shadow);
    assert_eq!(read(&sb.path("home/.aws/credentials")), shadow, "replaced");
}

/// `clean` given a world-writable state file (or another user's) would delete the files it
/// lists. Refused with 78; the listed file stays.
#[test]
fn clean_refuses_a_state_file_others_can_write() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    let victim = sb.write("victim", "keep me");
    let digest = {
        let out = std::process::Command::new("sha256sum")
            .arg(&victim)
            .output()
            .expect("sha256sum");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .expect("digest")
            .to_string()
    };
    let state = sb.write(
        "state.json",
        json!({"version": 1, "files": [{"path": victim, "sha256": digest, "previous": null}], "dirs": []})
            .to_string(),
    );
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    sb.config("secrets: {}\n");
    sb.run()
        .env("SECRET_INIT_STATE_FILE", &state)
        .arg("clean")
        .output()
        .expect_code(78)
        .stderr_has("refusing to trust");
    assert!(
        victim.exists(),
        "clean deleted a file a world-writable state file listed"
    );
    // Control: the same state file, private, is obeyed.
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    sb.run()
        .env("SECRET_INIT_STATE_FILE", &state)
        .arg("clean")
        .output()
        .expect_ok();
    assert!(!victim.exists());
}

/// `--user` with a uid that has no passwd entry has no HOME, not ours (/root): a provider that
/// needs one is refused (78) and nothing is written in ours.
#[test]
fn user_without_a_home_gets_no_provider_files_in_ours() {
    let sb = Sandbox::new();
    sb.mkdir("home");
    sb.config(
        "secrets:\n  hf: null\nsecret_init:\n  providers:\n    huggingface: {fields: {token: hf}}\n",
    );
    let out = sb
        .run()
        .env("TRUSS_SECRET_hf", "hf_x")
        .args(["--user", "4242", "--"])
        .args(marker(&sb))
        .output();
    out.expect_code(78).stderr_has("HOME is not set");
    assert!(!sb.path("program-ran").exists());
    assert_eq!(
        tree(&sb.path("home")),
        Vec::<String>::new(),
        "written under our HOME"
    );
}

/// With the output dir equal to the secrets dir, `mode:` and `trim_newline` cannot be applied
/// (the file is the value's own source): refused with 78, not silently ignored; without them
/// the file is left as it is.
#[test]
fn same_dir_delivery_refuses_settings_it_cannot_apply() {
    let sb = Sandbox::new();
    sb.write("in/a", "v\n");
    for settings in ["{mode: '0640'}", "{trim_newline: true}"] {
        sb.config(&format!(
            "secrets:\n  a: null\nsecret_init:\n  secrets:\n    a: {settings}\n"
        ));
        sb.run()
            .env("SECRET_INIT_OUTPUT_DIR", sb.path("in"))
            .arg("--")
            .args(marker(&sb))
            .output()
            .expect_code(78)
            .stderr_has("cannot be applied");
        assert!(!sb.path("program-ran").exists(), "{settings}");
    }
    sb.config("secrets:\n  a: null\n");
    sb.run()
        .env("SECRET_INIT_OUTPUT_DIR", sb.path("in"))
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    assert_eq!(read(&sb.path("in/a")), "v\n");
}

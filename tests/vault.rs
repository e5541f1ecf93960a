//! The vault source against a real OpenBao dev server (TLS, AppRole, JWT, KV v1 and v2), plus the
//! scripted HTTPS fake for the faults OpenBao cannot produce on demand (see support/fake_https.rs).
//! Every run is at `--log-level trace`, and canary tokens and values must not appear in the output
//! or in the program's environment.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::bao::Bao;
use crate::support::fake_https::Fake;
use crate::support::*;

/// config.yaml declaring `secrets` (all required) with a `secret_init.vault` section.
fn config(secrets: &[&str], vault: &str, extra: &str) -> String {
    let mut s = String::from("secrets:\n");
    for name in secrets {
        s.push_str(&format!("  {name}: null\n"));
    }
    s.push_str("secret_init:\n");
    s.push_str(extra);
    s.push_str("  vault:\n");
    s.push_str(vault);
    s
}

/// A run that dumps the program's environment to `<sandbox>/child-env` and exits 0.
fn run_dumping_env(sb: &Sandbox) -> Run {
    let mut r = sb.run();
    r.args([
        "--log-level",
        "trace",
        "--",
        "/bin/sh",
        "-c",
        "env > \"$0\"",
    ])
    .arg(sb.path("child-env"));
    r
}

fn child_env(sb: &Sandbox) -> String {
    read(&sb.path("child-env"))
}

#[test]
fn token_login_reads_kv2_and_leaks_nothing() {
    let bao = Bao::start();
    let value = canary("hf");
    bao.put_v2("app", &[("hf_access_token", &value), ("other", "x")]);
    let token = bao.reader_token();
    let sb = Sandbox::new();
    sb.config(&config(
        &["hf_access_token"],
        &format!("{}    paths: [secret/data/app]\n", bao.vault_yaml()),
        "",
    ));
    let out = run_dumping_env(&sb).env("VAULT_TOKEN", &token).output();
    out.expect_ok().no_leak(&[&value, &token, &bao.root]);
    out.stderr_has("vault:secret/data/app");
    assert_eq!(read(&sb.path("out/hf_access_token")), value);
    assert_eq!(mode(&sb.path("out/hf_access_token")), 0o600);
    let env = child_env(&sb);
    assert!(
        env.contains("PATH="),
        "negative control: the dump has the environment\n{env}"
    );
    assert!(
        !env.contains("VAULT_TOKEN") && !env.contains(&token),
        "token reached the program\n{env}"
    );
    assert!(!env.contains(&value));
    assert!(
        bao.audited("secret/data/app"),
        "the read is in the audit log"
    );

    // The standard environment alone (no secret_init.vault section): BAO_ADDR, VAULT_CACERT,
    // BAO_TOKEN and the SECRET_INIT_VAULT_PATH twin; `check` and `get` name and print the value.
    let sb = Sandbox::new();
    sb.config("secrets:\n  hf_access_token: null\n");
    let env_run = |args: &[&str]| {
        let mut r = sb.run();
        r.env("BAO_ADDR", &bao.addr)
            .env("VAULT_CACERT", &bao.ca)
            .env("BAO_TOKEN", &token)
            .env("SECRET_INIT_VAULT_PATH", "secret/data/app")
            .args(args);
        r.output()
    };
    let out = env_run(&["check", "--format", "json", "--log-level", "trace"]);
    out.expect_ok()
        .stdout_has("\"source\":\"vault:secret/data/app#hf_access_token\"")
        .no_leak(&[&value, &token]);
    let out = env_run(&["get", "hf_access_token"]);
    out.expect_ok();
    assert_eq!(out.stdout(), value);
}

#[test]
fn approle_login_with_secret_id_file_removed_afterwards() {
    let bao = Bao::start();
    let value = canary("db");
    bao.put_v2("app", &[("db_password", &value)]);
    let (role_id, secret_id) = bao.approle();
    let sb = Sandbox::new();
    let sid = sb.write("secret-id", format!("{secret_id}\n"));
    sb.config(&config(
        &["db_password"],
        &format!(
            "{}    paths: [secret/data/app]\n    auth: {{method: approle, secret_id_file: {}, remove_secret_id_file: true}}\n",
            bao.vault_yaml(),
            sid.display()
        ),
        "",
    ));
    let out = run_dumping_env(&sb)
        .env("VAULT_ROLE_ID", &role_id)
        .env("VAULT_TOKEN", "ignored-by-approle")
        .output();
    out.expect_ok().no_leak(&[&value, &secret_id, &bao.root]);
    assert_eq!(read(&sb.path("out/db_password")), value);
    assert!(!sid.exists(), "secret id file removed after login");
    let env = child_env(&sb);
    assert!(
        !env.contains("VAULT_ROLE_ID") && !env.contains(&role_id),
        "role id reached the program\n{env}"
    );
    assert!(!env.contains("VAULT_TOKEN"));
}

#[test]
fn approle_from_env_with_role_id_file() {
    let bao = Bao::start();
    let value = canary("k");
    bao.put_v2("app", &[("k", &value)]);
    let (role_id, secret_id) = bao.approle();
    let sb = Sandbox::new();
    let rid = sb.write("role-id", &role_id);
    sb.config(&config(
        &["k"],
        &format!(
            "{}    paths: [secret/data/app]\n    auth: {{method: approle, role_id_file: {}}}\n",
            bao.vault_yaml(),
            rid.display()
        ),
        "",
    ));
    let out = run_dumping_env(&sb)
        .env("BAO_SECRET_ID", &secret_id)
        .output();
    out.expect_ok().no_leak(&[&value, &secret_id]);
    assert_eq!(read(&sb.path("out/k")), value);
    assert!(
        !child_env(&sb).contains(&secret_id),
        "secret id reached the program"
    );
}

#[test]
fn jwt_and_kubernetes_logins_with_a_service_account_shaped_token() {
    let bao = Bao::start();
    let value = canary("jwt");
    bao.put_v2("app", &[("k", &value)]);
    let jwt = bao.sa_jwt();
    for method in ["jwt", "kubernetes"] {
        let sb = Sandbox::new();
        let f = sb.write("sa-token", &jwt);
        sb.config(&config(
            &["k"],
            &format!("{}    paths: [secret/data/app]\n    auth: {{method: {method}, role: app, jwt_file: {}}}\n", bao.vault_yaml(), f.display()),
            "",
        ));
        let out = run_dumping_env(&sb).output();
        out.expect_ok().no_leak(&[&value, &jwt]);
        assert_eq!(read(&sb.path("out/k")), value, "{method}");
        assert_eq!(
            bao.audited_ops("update", &format!("auth/{method}/login")),
            1,
            "{method} login in the audit log"
        );
    }
    // Negative control: a token with a broken signature is refused (77).
    let sb = Sandbox::new();
    let mut forged = jwt.clone().into_bytes();
    let i = forged.len() - 20; // inside the signature, where every base64 character counts
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let f = sb.write("sa-token", forged);
    sb.config(&config(
        &["k"],
        &format!(
            "{}    paths: [secret/data/app]\n    auth: {{method: jwt, role: app, jwt_file: {}}}\n",
            bao.vault_yaml(),
            f.display()
        ),
        "",
    ));
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(77)
        .stderr_has("jwt login");
}

#[test]
fn kv1_kv2_pinned_versions_and_override_order() {
    let bao = Bao::start();
    bao.put_v1("shared", &[("a", "v1-a"), ("b", "v1-b")]);
    bao.put_v2("base", &[("b", "base-b"), ("c", "base-c")]);
    bao.put_v2("model", &[("c", "model-c")]);
    let v1 = bao.put_v2("pinned", &[("p", "first")]);
    bao.put_v2("pinned", &[("p", "second")]);
    let token = bao.reader_token();
    let sb = Sandbox::new();
    sb.config(&format!(
        "secrets:\n  a: null\n  b: null\n  c: null\n  p_old: null\n  p_new: null\n  from_v1: null\n\
         secret_init:\n  secrets:\n    p_old: {{from: 'vault:secret/data/pinned#p#{v1}'}}\n    p_new: {{from: 'vault:secret/data/pinned#p'}}\n    from_v1: {{from: 'vault:kv/shared#a'}}\n\
         \x20 vault:\n{}    paths: [kv/shared, secret/data/base, secret/data/model]\n",
        bao.vault_yaml()
    ));
    let out = sb
        .run()
        .env("BAO_TOKEN", &token)
        .args(["check", "--log-level", "trace"])
        .output();
    out.expect_ok().no_leak(&[&token]);
    let table = out.stdout();
    for (name, src) in [
        ("a", "vault:kv/shared#a"),
        ("b", "vault:secret/data/base#b"),
        ("c", "vault:secret/data/model#c"),
        ("p_old", &format!("vault:secret/data/pinned#p#{v1}")),
        ("p_new", "vault:secret/data/pinned#p"),
        ("from_v1", "vault:kv/shared#a"),
    ] {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(name) && l.contains(src)),
            "{name} should come from {src}\n{table}"
        );
    }
    let out = sb
        .run()
        .env("BAO_TOKEN", &token)
        .args(["--", "/bin/true"])
        .output();
    out.expect_ok();
    for (name, v) in [
        ("a", "v1-a"),
        ("b", "base-b"),
        ("c", "model-c"),
        ("p_old", "first"),
        ("p_new", "second"),
    ] {
        assert_eq!(read(&sb.path(&format!("out/{name}"))), v, "{name}");
    }
}

#[test]
fn missing_path_key_deleted_and_destroyed_versions_are_69_with_their_own_messages() {
    let bao = Bao::start();
    bao.put_v2("app", &[("k", "v")]);
    bao.put_v2("gone", &[("k", "v")]);
    bao.put_v2("burnt", &[("k", "v")]);
    bao.admin(json!([
        {"op": "api", "method": "DELETE", "path": "secret/data/gone"},
        {"op": "api", "method": "PUT", "path": "secret/destroy/burnt", "body": {"versions": [1]}},
    ]));
    let token = bao.reader_token();
    for (from, needle) in [
        (
            "vault:secret/data/nope#k",
            "(vault:secret/data/nope): no secret at this path",
        ),
        (
            "vault:secret/data/app#missing",
            "vault:secret/data/app#missing): not found",
        ),
        (
            "vault:secret/data/gone#k",
            "(vault:secret/data/gone): KV v2 version 1 was deleted",
        ),
        (
            "vault:secret/data/burnt#k#1",
            "(vault:secret/data/burnt): KV v2 version 1 is destroyed",
        ),
    ] {
        let sb = Sandbox::new();
        sb.config(&format!(
            "secrets:\n  s: null\nsecret_init:\n  secrets:\n    s: {{from: '{from}'}}\n  vault:\n{}",
            bao.vault_yaml()
        ));
        let out = sb
            .run()
            .env("VAULT_TOKEN", &token)
            .args(["--", "/bin/true"])
            .output();
        out.expect_code(69).stderr_has(needle).no_leak(&[&token]);
        assert!(tree(&sb.path("out")).is_empty(), "nothing published");
    }
    // A missing configured path is an error too, naming the path.
    let sb = Sandbox::new();
    sb.config(&config(
        &["k"],
        &format!(
            "{}    paths: [secret/data/app, secret/data/nope]\n",
            bao.vault_yaml()
        ),
        "",
    ));
    sb.run()
        .env("VAULT_TOKEN", &token)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(69)
        .stderr_has("vault:secret/data/nope");
}

#[test]
fn forbidden_path_and_bad_secret_id_are_77_without_retry() {
    let bao = Bao::start();
    bao.put_v2("app", &[("k", "v")]);
    // A token with only the default policy cannot read secret/data/app.
    let weak = bao.admin(json!([{"op": "api", "method": "POST", "path": "auth/token/create", "body": {"policies": ["default"], "ttl": "10m"}}]))[0]["body"]["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    let sb = Sandbox::new();
    sb.config(&config(
        &["k"],
        &format!("{}    paths: [secret/data/app]\n", bao.vault_yaml()),
        "",
    ));
    let out = sb
        .run()
        .env("VAULT_TOKEN", &weak)
        .args(["--log-level", "trace", "--", "/bin/true"])
        .output();
    out.expect_code(77)
        .stderr_has("vault:secret/data/app")
        .stderr_has("HTTP 403")
        .no_leak(&[&weak]);
    let reads = bao.audited_ops("read", "secret/data/app");
    assert_eq!(reads, 1, "403 is not retried");
    // A KV v2 path written without data/ is refused by the policy; the message says why.
    let reader = bao.reader_token();
    sb.config(&config(
        &["k"],
        &format!("{}    paths: [secret/app]\n", bao.vault_yaml()),
        "",
    ));
    sb.run()
        .env("VAULT_TOKEN", &reader)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(77)
        .stderr_has("the API path includes data/");

    let (role_id, _) = bao.approle();
    let sb = Sandbox::new();
    let bad = canary("sid");
    sb.config(&config(
        &["k"],
        &format!(
            "{}    paths: [secret/data/app]\n    auth: {{method: approle, role_id: {role_id}}}\n",
            bao.vault_yaml()
        ),
        "",
    ));
    let out = sb
        .run()
        .env("VAULT_SECRET_ID", &bad)
        .args(["--log-level", "trace", "--", "/bin/true"])
        .output();
    out.expect_code(77)
        .stderr_has("approle login")
        .no_leak(&[&bad]);
    let logins = bao.audited_ops("update", "auth/approle/login");
    assert_eq!(logins, 1, "a bad secret id is not retried");
}

#[test]
fn wrong_ca_fails_77_before_any_request() {
    let bao = Bao::start();
    bao.put_v2("app", &[("k", "v")]);
    let token = bao.reader_token();
    let fake = Fake::start(json!([{"status": 200}]));
    for ca in [
        fake.ca.clone(),
        PathBuf::from("/etc/ssl/certs/ca-certificates.crt"),
    ] {
        let sb = Sandbox::new();
        sb.config(&config(
            &["k"],
            &format!(
                "    address: {}\n    ca_cert: {}\n    paths: [secret/data/app]\n",
                bao.addr,
                ca.display()
            ),
            "",
        ));
        let out = sb
            .run()
            .env("VAULT_TOKEN", &token)
            .args(["--log-level", "trace", "--", "/bin/true"])
            .output();
        out.expect_code(77)
            .stderr_has("TLS")
            .stderr_has("UnknownIssuer")
            .no_leak(&[&token]);
    }
    assert!(
        !bao.audited("secret/data/app"),
        "no request reached the server"
    );
    // Negative control: with the right CA the same read is audited.
    let sb = Sandbox::new();
    sb.config(&config(
        &["k"],
        &format!("{}    paths: [secret/data/app]\n", bao.vault_yaml()),
        "",
    ));
    sb.run()
        .env("VAULT_TOKEN", &token)
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    assert!(bao.audited("secret/data/app"));
}

#[test]
fn wrong_host_name_fails_77_and_the_server_sees_no_request() {
    // OpenBao's -dev-tls certificate covers 127.0.0.1 and localhost, so a name mismatch needs
    // the fake with a certificate for another name.
    let fake = Fake::start_with_names(
        json!([{"status": 200, "json": {"data": {"k": "v"}}}]),
        &["vault.other.example"],
    );
    let token = canary("tok");
    let sb = Sandbox::new();
    sb.config(&config(
        &["k"],
        &format!(
            "    address: {}\n    ca_cert: {}\n    paths: [kv/app]\n",
            fake.addr,
            fake.ca.display()
        ),
        "",
    ));
    let out = sb
        .run()
        .env("VAULT_TOKEN", &token)
        .args(["--log-level", "trace", "--", "/bin/true"])
        .output();
    out.expect_code(77)
        .stderr_has("TLS")
        .stderr_has("not valid for name")
        .no_leak(&[&token]);
    assert!(fake.requests("main").is_empty(), "{:?}", fake.events());
    // Negative control: a certificate for 127.0.0.1 from the same kind of fake works.
    let ok = Fake::start(json!([{"status": 200, "json": {"data": {"k": "v"}}}]));
    let sb = Sandbox::new();
    sb.config(&config(
        &["k"],
        &format!(
            "    address: {}\n    ca_cert: {}\n    paths: [kv/app]\n",
            ok.addr,
            ok.ca.display()
        ),
        "",
    ));
    sb.run()
        .env("VAULT_TOKEN", &token)
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    assert_eq!(ok.requests("main").len(), 1);
}

fn fake_run(fake: &Fake, extra: &str) -> (Sandbox, Run) {
    let sb = Sandbox::new();
    sb.config(&config(
        &["k"],
        &format!(
            "    address: {}\n    ca_cert: {}\n    paths: [kv/app]\n{extra}",
            fake.addr,
            fake.ca.display()
        ),
        "",
    ));
    let mut r = sb.run();
    r.env("VAULT_TOKEN", canary("tok"))
        .args(["--log-level", "trace", "--", "/bin/true"]);
    (sb, r)
}

#[test]
fn three_503s_then_200_succeeds_on_one_connection() {
    let ok = json!({"status": 200, "json": {"data": {"k": "v"}}});
    let fake =
        Fake::start(json!([{"status": 503, "body": "busy"}, {"status": 503}, {"status": 503}, ok]));
    let (sb, run) = fake_run(&fake, "    retries: 3\n");
    run.output().expect_ok();
    assert_eq!(read(&sb.path("out/k")), "v");
    assert_eq!(fake.requests("main").len(), 4, "{:?}", fake.events());
    assert_eq!(
        fake.connections("main"),
        1,
        "one TLS connection reused: {:?}",
        fake.events()
    );
    // Negative control: with 2 retries the same sequence gives up (69).
    let fake = Fake::start(json!([{"status": 503}, {"status": 503}, {"status": 503}, ok]));
    let (_sb, run) = fake_run(&fake, "    retries: 2\n");
    run.output()
        .expect_code(69)
        .stderr_has("HTTP 503")
        .stderr_has("gave up after 3 attempts");
}

#[test]
fn retry_after_is_honoured_on_429() {
    let fake = Fake::start(json!([
        {"status": 429, "headers": {"Retry-After": "1"}},
        {"status": 200, "json": {"data": {"k": "v"}}},
    ]));
    let (_sb, run) = fake_run(&fake, "");
    let t = Instant::now();
    run.output().expect_ok();
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        t.elapsed()
    );
    // A Retry-After beyond the deadline gives up at once.
    let fake = Fake::start(json!([{"status": 429, "headers": {"Retry-After": "60"}}]));
    let (_sb, run) = fake_run(&fake, "    deadline: 5s\n");
    let t = Instant::now();
    run.output().expect_code(69).stderr_has("retry after 60 s");
    assert!(t.elapsed() < Duration::from_secs(4));
}

#[test]
fn redirects_are_refused_and_the_target_sees_nothing() {
    let fake = Fake::start(
        json!([{"status": 307, "headers": {"Location": "https://127.0.0.1:{second}/v1/kv/app?token=x"}}]),
    );
    let (_sb, run) = fake_run(&fake, "");
    run.output()
        .expect_code(69)
        .stderr_has("redirect")
        .stderr_has("refused");
    // The fake's event lines are read by a thread: under load the line may trail the exit.
    fake.wait_for("REQ main ", Duration::from_secs(5));
    assert_eq!(fake.requests("main").len(), 1, "not retried");
    assert!(
        fake.requests("second").is_empty(),
        "redirect target was contacted: {:?}",
        fake.events()
    );
}

#[test]
fn huge_and_endless_bodies_are_capped() {
    for resp in [
        json!({"status": 200, "huge": 50_000_000}),
        json!({"status": 200, "endless": true}),
    ] {
        let fake = Fake::start(json!([resp]));
        let (sb, run) = fake_run(&fake, "");
        let t = Instant::now();
        run.output().expect_code(65).stderr_has("larger than");
        assert!(t.elapsed() < Duration::from_secs(10));
        assert!(tree(&sb.path("out")).is_empty());
    }
}

#[test]
fn dead_address_gives_69_after_the_configured_attempts_within_the_deadline() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let sb = Sandbox::new();
    sb.config(&config(&["k"], &format!("    address: https://127.0.0.1:{port}\n    paths: [kv/app]\n    retries: 2\n    timeout: 1s\n    deadline: 10s\n"), ""));
    let t = Instant::now();
    let out = sb
        .run()
        .env("VAULT_TOKEN", "t")
        .args(["--", "/bin/true"])
        .output();
    out.expect_code(69)
        .stderr_has("vault:kv/app")
        .stderr_has("gave up after 3 attempts");
    assert!(t.elapsed() < Duration::from_secs(10));
    // A server that never answers: per-request timeouts, then the overall deadline.
    let fake = Fake::start(json!([{"hang": true}]));
    let (_sb, run) = fake_run(
        &fake,
        "    timeout: 500ms\n    retries: 20\n    deadline: 2s\n",
    );
    let t = Instant::now();
    run.output().expect_code(69).stderr_has("timed out");
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "deadline exceeded: {:?}",
        t.elapsed()
    );
}

#[test]
fn a_timed_out_attempt_doubles_the_next_attempts_timeout_but_a_503_does_not() {
    // A slow server is busy, not gone: retrying on the same short timeout re-sends work it is
    // still doing (scripts/fleet showed the storm). Only a timeout grows the timeout.
    let ok = json!({"status": 200, "json": {"data": {"k": "v"}}});
    let fake = Fake::start(json!([{"hang": true}, ok]));
    let (sb, run) = fake_run(
        &fake,
        "    timeout: 300ms
    retries: 2
",
    );
    let out = run.output();
    out.expect_ok()
        .stderr_has("(attempt 1, timeout 300 ms)")
        .stderr_has("(attempt 2, timeout 600 ms)");
    assert_eq!(read(&sb.path("out/k")), "v");
    // Negative control: a 503 is an answer, so the retry keeps the configured timeout.
    let fake = Fake::start(json!([{"status": 503}, ok]));
    let (_sb, run) = fake_run(
        &fake,
        "    timeout: 300ms
    retries: 2
",
    );
    run.output()
        .expect_ok()
        .stderr_has("(attempt 2, timeout 300 ms)");
}

#[test]
fn sigterm_while_waiting_on_the_vault_exits_143_and_publishes_nothing() {
    let fake = Fake::start(json!([{"hang": true}]));
    let (sb, mut run) = fake_run(&fake, "    timeout: 60s\n    deadline: 60s\n");
    run.args = vec![
        "--".into(),
        "/bin/sh".into(),
        "-c".into(),
        "touch \"$0\"".into(),
        sb.path("started").into(),
    ];
    let mut child = run
        .command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    assert!(
        fake.wait_for("REQ main", Duration::from_secs(20)).is_some(),
        "request never arrived"
    );
    let t = Instant::now();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let mut status = None;
    wait_until(Duration::from_secs(5), || {
        status = child.try_wait().expect("wait");
        status.is_some()
    });
    let status = status.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("secret-init did not stop on SIGTERM")
    });
    assert_eq!(status.code(), Some(143), "{status:?}");
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
    assert!(tree(&sb.path("out")).is_empty(), "nothing published");
    assert!(!sb.path("started").exists(), "program not started");
}

#[test]
fn vault_is_not_contacted_when_files_have_every_secret() {
    let fake = Fake::start(json!([{"status": 200, "json": {"data": {"k": "from-vault"}}}]));
    let (sb, run) = fake_run(&fake, "");
    sb.write("in/k", "from-file");
    run.output().expect_ok();
    assert_eq!(read(&sb.path("out/k")), "from-file");
    assert_eq!(fake.connections("main"), 0, "{:?}", fake.events());
    // Negative control: without the file the same run goes to the vault.
    std::fs::remove_file(sb.path("in/k")).expect("rm");
    let mut r = sb.run();
    r.env("VAULT_TOKEN", "t")
        .args(["--", "/bin/true"])
        .output()
        .expect_ok();
    assert_eq!(fake.connections("main"), 1);
}

#[test]
fn env_paths_inject_every_key_and_collisions_are_refused() {
    let bao = Bao::start();
    let v = canary("inj");
    bao.put_v2("envs", &[("OPENAI_API_KEY", &v), ("MODEL_NAME", "m1")]);
    bao.put_v2("app", &[("k", "kv")]);
    let token = bao.reader_token();
    let sb = Sandbox::new();
    sb.config(&config(
        &["k"],
        &format!(
            "{}    paths: [secret/data/app]\n    env_paths: [secret/data/envs]\n",
            bao.vault_yaml()
        ),
        "",
    ));
    run_dumping_env(&sb)
        .env("VAULT_TOKEN", &token)
        .output()
        .expect_ok()
        .no_leak(&[&v, &token]);
    let env = child_env(&sb);
    assert!(
        env.contains(&format!("OPENAI_API_KEY={v}\n")) && env.contains("MODEL_NAME=m1\n"),
        "{env}"
    );
    // A declared secret already delivering OPENAI_API_KEY: refused, nothing published.
    let sb = Sandbox::new();
    sb.config(&format!(
        "secrets:\n  k: null\nsecret_init:\n  secrets:\n    k: {{env: OPENAI_API_KEY}}\n  vault:\n{}    paths: [secret/data/app]\n    env_paths: [secret/data/envs]\n",
        bao.vault_yaml()
    ));
    sb.run()
        .env("VAULT_TOKEN", &token)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(65)
        .stderr_has("OPENAI_API_KEY")
        .no_leak(&[&v]);
    assert!(tree(&sb.path("out")).is_empty());
    // A dangerous name is refused (78).
    bao.put_v2("bad", &[("LD_PRELOAD", "/x.so")]);
    let sb = Sandbox::new();
    sb.config(&config(
        &[],
        &format!("{}    env_paths: [secret/data/bad]\n", bao.vault_yaml()),
        "",
    ));
    sb.run()
        .env("VAULT_TOKEN", &token)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has("LD_PRELOAD");
}

#[test]
fn refused_configurations() {
    let sb = Sandbox::new();
    sb.config(&config(
        &["k"],
        "    address: http://vault.example:8200\n    paths: [kv/app]\n",
        "",
    ));
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has("plain http");
    sb.config(&config(
        &["k"],
        "    address: https://v\n    tls_skip_verify: true\n",
        "",
    ));
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has("unknown setting \"tls_skip_verify\"");
    sb.config(&config(
        &["k"],
        "    address: https://v\n    auth: {method: approle, secret_id: x}\n",
        "",
    ));
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has("secret_init.vault.auth: unknown setting \"secret_id\"");
    // A vault reference without any vault configured.
    sb.config("secrets:\n  k: null\nsecret_init:\n  secrets:\n    k: {from: 'vault:kv/app#k'}\n");
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has("vault source is not configured");
}

#[test]
fn plain_http_is_accepted_on_loopback_only() {
    let bao = Bao::start_plain();
    let value = canary("plain");
    bao.put_v2("app", &[("k", &value)]);
    let token = bao.reader_token();
    let sb = Sandbox::new();
    sb.config(&config(
        &["k"],
        &format!("    address: {}\n    paths: [secret/data/app]\n", bao.addr),
        "",
    ));
    sb.run()
        .env("VAULT_TOKEN", &token)
        .args(["--log-level", "trace", "--", "/bin/true"])
        .output()
        .expect_ok()
        .no_leak(&[&value, &token]);
    assert_eq!(read(&sb.path("out/k")), value);
    // The same server by a non-loopback name is refused before anything is sent (78); with the
    // opt-in the address is accepted (and then fails to resolve: 69).
    sb.config(&config(
        &["k"],
        "    address: http://vault.invalid:8200\n    paths: [secret/data/app]\n    retries: 0\n",
        "",
    ));
    sb.run()
        .env("VAULT_TOKEN", &token)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has("plain http");
    sb.run()
        .env("VAULT_TOKEN", &token)
        .args(["--allow-insecure-http", "--", "/bin/true"])
        .output()
        .expect_code(69)
        .stderr_has("host not found");
}

#[test]
fn rsa_certificates_and_tls12_servers_are_verified_and_work() {
    // secret-init trims rustls' provider (AES-GCM suites only, no key loading); RSA chains and
    // TLS 1.2-only servers (FIPS builds of Vault) must still work.
    for (rsa, tls12_only) in [(true, false), (true, true), (false, true)] {
        let fake = Fake::start_with(json!({
            "sans": ["127.0.0.1"], "rsa": rsa, "tls12_only": tls12_only,
            "scenario": [{"status": 200, "json": {"data": {"k": "v"}}}],
        }));
        let (sb, run) = fake_run(&fake, "");
        run.output().expect_ok();
        assert_eq!(
            read(&sb.path("out/k")),
            "v",
            "rsa={rsa} tls12_only={tls12_only}"
        );
    }
}

/// The relay's process, stopped (by its PID) when the test ends, failed or not.
struct Relay(std::process::Child);

impl Drop for Relay {
    fn drop(&mut self) {
        stop_by_pid(&mut self.0);
    }
}

/// Starts tests/support/tcp_relay.py in front of `bao`, adding `delay_ms` each way; the relay,
/// its event lines and the address to give secret-init.
fn relay(
    bao: &Bao,
    delay_ms: u32,
) -> (Relay, std::sync::Arc<std::sync::Mutex<Vec<String>>>, String) {
    let upstream = bao.addr.trim_start_matches("https://");
    let (child, events) = spawn_script("tcp_relay.py", format!("{upstream},{delay_ms}"));
    let child = Relay(child);
    let mut port = String::new();
    assert!(
        wait_until(Duration::from_secs(10), || {
            let ev = events.lock().expect("lock");
            match ev.iter().find_map(|l| l.strip_prefix("READY ")) {
                Some(p) => {
                    port = p.to_string();
                    true
                }
                None => false,
            }
        }),
        "the relay did not start"
    );
    (child, events, format!("https://127.0.0.1:{port}"))
}

#[test]
fn many_paths_are_read_at_once_on_at_most_eight_connections_and_the_first_failure_is_reported() {
    let bao = Bao::start();
    let values: Vec<String> = (0..20).map(|i| canary(&format!("p{i}"))).collect();
    for (i, v) in values.iter().enumerate() {
        bao.put_v2(&format!("p{i:02}"), &[(&format!("k{i:02}"), v)]);
    }
    let token = bao.reader_token();
    // 25 ms each way: every read overlaps the others' if they are sent together.
    let (_relay, events, addr) = relay(&bao, 25);
    let vault = |paths: &[String]| {
        format!(
            "    address: {addr}\n    ca_cert: {}\n    paths: [{}]\n",
            bao.ca.display(),
            paths.join(", ")
        )
    };
    let names: Vec<String> = (0..20).map(|i| format!("k{i:02}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let paths: Vec<String> = (0..20).map(|i| format!("secret/data/p{i:02}")).collect();
    let sb = Sandbox::new();
    sb.config(&config(&names, &vault(&paths), ""));
    let out = sb
        .run()
        .env("VAULT_TOKEN", &token)
        .args(["--log-level", "trace", "--", "/bin/true"])
        .output();
    let mut canaries: Vec<&str> = values.iter().map(String::as_str).collect();
    canaries.push(&token);
    out.expect_ok().no_leak(&canaries);
    for (i, v) in values.iter().enumerate() {
        assert_eq!(read(&sb.path(&format!("out/k{i:02}"))), *v);
    }
    for p in &paths {
        assert_eq!(bao.audited_ops("read", p), 1, "{p} read once");
    }
    let ev = settled(&events);
    let opened: Vec<usize> = ev
        .iter()
        .filter_map(|l| l.strip_prefix("OPEN "))
        .filter_map(|l| l.split(' ').nth(1)?.parse().ok())
        .collect();
    let most = opened.iter().copied().max().unwrap_or(0);
    assert!(
        (2..=8).contains(&most) && opened.len() <= 8,
        "connections: {} opened, at most {most} at once; {ev:?}",
        opened.len()
    );

    // Two paths missing, the 6th and the 16th: the 6th is reported, as a one-by-one read
    // would, whichever answer came first; nothing is written.
    let mut holes = paths.clone();
    holes[5] = "secret/data/missing-a".into();
    holes[15] = "secret/data/missing-b".into();
    let sb = Sandbox::new();
    sb.config(&config(&names, &vault(&holes), ""));
    let out = sb
        .run()
        .env("VAULT_TOKEN", &token)
        .args(["--", "/bin/true"])
        .output();
    out.expect_code(69)
        .stderr_has("vault:secret/data/missing-a")
        .no_leak(&canaries);
    assert!(!out.stderr().contains("missing-b"), "{}", out.stderr());
    assert!(tree(&sb.path("out")).is_empty(), "nothing written");
}

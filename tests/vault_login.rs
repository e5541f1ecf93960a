//! The vault's `cert` login (mutual TLS with a client certificate from a CA the test makes) and
//! `userpass` login, against a real OpenBao with those auth methods enabled.

use serde_json::json;

use crate::support::bao::Bao;
use crate::support::pki::TestCa;
use crate::support::*;

fn config(bao: &Bao, auth: &str) -> String {
    format!(
        "secrets:\n  db_password: null\nsecret_init:\n  vault:\n{}    paths: [secret/data/app]\n    retries: 1\n    auth: {auth}\n",
        bao.vault_yaml()
    )
}

#[test]
fn cert_login_with_a_client_certificate() {
    let bao = Bao::start();
    let value = canary("db");
    bao.put_v2("app", &[("db_password", &value)]);
    let sb = Sandbox::new();
    let ca = TestCa::new(&sb.mkdir("pki"));
    let (cert, key) = ca.issue("client", "app-client", &[]);
    let other = TestCa::new(&sb.mkdir("other-pki"));
    let (stranger, stranger_key) = other.issue("stranger", "app-client", &[]);
    let ca_pem = read(&ca.cert);
    bao.admin(json!([
        {"op": "api", "method": "POST", "path": "sys/auth/cert", "body": {"type": "cert"}},
        {"op": "api", "method": "POST", "path": "sys/auth/tls-alt", "body": {"type": "cert"}},
        {"op": "api", "method": "POST", "path": "auth/cert/certs/app", "body": {
            "certificate": ca_pem, "allowed_common_names": ["app-client"], "token_policies": ["reader"], "token_ttl": "10m"}},
        {"op": "api", "method": "POST", "path": "auth/tls-alt/certs/other", "body": {
            "certificate": ca_pem, "token_policies": ["reader"], "token_ttl": "10m"}},
    ]));
    let run = |auth: String| {
        sb.config(&config(&bao, &auth));
        let _ = std::fs::remove_dir_all(sb.path("out"));
        sb.run()
            .args(["--log-level", "trace", "--", "/bin/true"])
            .output()
    };
    let key_pem = read(&key);
    let body = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>();

    run(format!(
        "{{method: cert, client_cert: {}, client_key: {}, name: app}}",
        cert.display(),
        key.display()
    ))
    .expect_ok()
    .stderr_has("vault: cert login succeeded")
    .no_leak(&[&value, &body[..40]]);
    assert_eq!(read(&sb.path("out/db_password")), value);
    assert_eq!(bao.audited_ops("update", "auth/cert/login"), 1);

    // Another mount, no role name (any role the certificate matches).
    run(format!(
        "{{method: cert, mount: tls-alt, client_cert: {}, client_key: {}}}",
        cert.display(),
        key.display()
    ))
    .expect_ok();
    assert_eq!(bao.audited_ops("update", "auth/tls-alt/login"), 1);

    // A certificate from a CA the role does not trust: refused by the server (77).
    run(format!(
        "{{method: cert, client_cert: {}, client_key: {}, name: app}}",
        stranger.display(),
        stranger_key.display()
    ))
    .expect_code(77)
    .stderr_has("vault cert login (auth/cert)")
    .stderr_has("login refused");
    assert!(!sb.path("out/db_password").exists());

    // A key that is not the certificate's: refused before any connection (77), no panic.
    run(format!(
        "{{method: cert, client_cert: {}, client_key: {}, name: app}}",
        cert.display(),
        stranger_key.display()
    ))
    .expect_code(77)
    .stderr_has(&format!("client certificate {}", stranger_key.display()));
    // A missing key file, and a key file that holds no key.
    run(format!(
        "{{method: cert, client_cert: {}, client_key: {}, name: app}}",
        cert.display(),
        sb.path("nope.key").display()
    ))
    .expect_code(77)
    .stderr_has("No such file or directory");
    run(format!(
        "{{method: cert, client_cert: {}, client_key: {}, name: app}}",
        cert.display(),
        cert.display()
    ))
    .expect_code(77)
    .stderr_has("no PEM private key");
    // The client key is one of secret-init's own credentials: no reference delivers it.
    sb.config(&format!(
        "secrets:\n  k: null\nsecret_init:\n  secrets:\n    k: {{from: 'file:{key}'}}\n  vault:\n{}    auth: {{method: cert, client_cert: {cert}, client_key: {key}, name: app}}\n",
        bao.vault_yaml(),
        key = key.display(),
        cert = cert.display(),
    ));
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has("one of secret-init's own credentials")
        .no_leak(&[&body[..40]]);
    // Configuration refused before anything is read (78).
    run(format!("{{method: cert, client_cert: {}}}", cert.display()))
        .expect_code(78)
        .stderr_has("method cert needs client_cert and client_key");
    run(format!(
        "{{method: approle, client_cert: {}}}",
        cert.display()
    ))
    .expect_code(78)
    .stderr_has("client_cert does not apply to method approle");
}

#[test]
fn userpass_login() {
    let bao = Bao::start();
    let value = canary("db");
    bao.put_v2("app", &[("db_password", &value)]);
    let password = canary("pw");
    bao.admin(json!([
        {"op": "api", "method": "POST", "path": "sys/auth/userpass", "body": {"type": "userpass"}},
        {"op": "api", "method": "POST", "path": "auth/userpass/users/dev", "body": {
            "password": password, "token_policies": ["reader"], "token_ttl": "10m"}},
    ]));
    let sb = Sandbox::new();
    let pw_file = sb.write("pw", format!("{password}\n"));
    sb.config(&config(
        &bao,
        &format!(
            "{{method: userpass, username: dev, password_file: {}}}",
            pw_file.display()
        ),
    ));
    sb.run()
        .args(["--log-level", "trace", "--", "/bin/true"])
        .output()
        .expect_ok()
        .stderr_has("vault: userpass login succeeded")
        .no_leak(&[&value, &password]);
    assert_eq!(read(&sb.path("out/db_password")), value);
    assert_eq!(bao.audited_ops("update", "auth/userpass/login/dev"), 1);

    // The password from VAULT_PASSWORD; a wrong one is refused (77) without being shown.
    sb.config(&config(&bao, "{method: userpass, username: dev}"));
    std::fs::remove_dir_all(sb.path("out")).expect("clean");
    sb.run()
        .args(["--", "/bin/sh", "-c", "env > \"$0\""])
        .arg(sb.path("child-env"))
        .env("VAULT_PASSWORD", &password)
        .output()
        .expect_ok()
        .no_leak(&[&password]);
    let env = read(&sb.path("child-env"));
    assert!(
        env.contains("PATH="),
        "negative control: the dump has the environment"
    );
    assert!(
        !env.contains("VAULT_PASSWORD") && !env.contains(&password),
        "the password reached the program\n{env}"
    );
    let wrong = canary("wrong");
    std::fs::remove_dir_all(sb.path("out")).expect("clean");
    sb.run()
        .args(["--", "/bin/true"])
        .env("VAULT_PASSWORD", &wrong)
        .output()
        .expect_code(77)
        .stderr_has("vault userpass login (auth/userpass)")
        .no_leak(&[&wrong, &password]);
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(77)
        .stderr_has("no password");
    // The password file is one of secret-init's own credentials: no reference delivers it.
    sb.config(&format!(
        "secrets:\n  k: null\nsecret_init:\n  secrets:\n    k: {{from: 'file:{}'}}\n  vault:\n{}    auth: {{method: userpass, username: dev, password_file: {}}}\n",
        pw_file.display(),
        bao.vault_yaml(),
        pw_file.display()
    ));
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has("one of secret-init's own credentials")
        .no_leak(&[&password]);
    assert!(!sb.path("out/db_password").exists());
}

//! `check --offline`: a CI pre-flight without production credentials. The run's own pass, with
//! every remote source standing in for itself: its references checked, nothing contacted, no
//! credential read, the rest of the pass (templates, the plan, destinations) as the run's.

use std::net::TcpListener;

use crate::support::bao::Bao;
use crate::support::{Sandbox, canary, tree};

/// The `secret-init: error:` lines of a run's stderr.
fn errors(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.starts_with("secret-init: error:"))
        .map(str::to_string)
        .collect()
}

/// What a run would refuse for its configuration, references, templates, plan or destinations,
/// `check --offline` refuses with the same message and code, with no token and no vault at all;
/// the run (against a real OpenBao, with a token) is the reference. Nothing is written by either.
#[test]
fn offline_check_refuses_what_the_run_refuses_without_contacting_the_vault() {
    let bao = Bao::start();
    bao.put_v2("app", &[("db", &canary("off-db"))]);
    let sb = Sandbox::new();
    let out = sb.path("out");
    let blocker = sb.write("blocker", "a file, not a directory");
    let vault = format!(
        "  vault:\n{}    paths: [secret/data/app]\n",
        bao.vault_yaml()
    );
    let head = "secrets:\n  db: null\n  api: null\n";
    // (what, the secret_init: body after the vault section, extra args, the message quoted)
    let cases: Vec<(&str, String, Vec<String>, &str)> = vec![
        (
            "a bad reference",
            "  secrets:\n    api: {from: 'aws-sm:bad name!'}\n".into(),
            vec![],
            "invalid reference: the secret name must be 1 to 2048 of",
        ),
        (
            "a template naming an undeclared secret",
            format!(
                "  templates:\n    conf:\n      template: 'url={{{{ secrets.dbb }}}}'\n      destination: {}/conf\n",
                out.display()
            ),
            vec![],
            "secret \"dbb\" is not declared under secrets: in config.yaml",
        ),
        (
            "two secrets to one file",
            format!(
                "  secrets:\n    db: {{file: {0}/same}}\n    api: {{file: {0}/same}}\n",
                out.display()
            ),
            vec![],
            "same",
        ),
        (
            "an output dir that cannot be made",
            String::new(),
            vec![
                "--output-dir".into(),
                blocker.join("out").display().to_string(),
            ],
            "blocker/out",
        ),
    ];
    for (what, body, args, quoted) in cases {
        sb.config(&format!("{head}secret_init:\n{vault}{body}"));
        let mut run = sb.run();
        run.env("VAULT_TOKEN", &bao.root)
            .env("TRUSS_SECRET_api", "from-env")
            .args(&args)
            .args(["--", "/bin/true"]);
        let run = run.output();
        // Offline: no token, and the vault's address is a port where nothing listens.
        let mut check = sb.run();
        check
            .env("VAULT_ADDR", "https://127.0.0.1:9")
            .env("TRUSS_SECRET_api", "from-env")
            .args(&args)
            .args(["check", "--offline"]);
        let sb_cfg = std::fs::read_to_string(sb.path("config.yaml")).expect("config");
        sb.config(&sb_cfg.replace(&bao.addr, "https://127.0.0.1:9"));
        let check = check.output();
        assert_ne!(run.code(), 0, "{what}: the run passed: {}", run.stderr());
        assert_eq!(
            check.code(),
            run.code(),
            "{what}: check --offline and the run disagree\ncheck: {}\nrun: {}",
            check.stderr(),
            run.stderr()
        );
        assert_eq!(
            errors(&check.stderr()),
            errors(&run.stderr()),
            "{what}: not the run's message"
        );
        assert!(
            check.stderr().contains(quoted),
            "{what}: {}",
            check.stderr()
        );
        assert!(!out.exists(), "{what}: wrote {:?}", tree(&out));
    }
}

/// A config whose secrets all come from AWS and Vault passes `check --offline` with no
/// credentials and no server anywhere: each row says "not contacted" and shows no value, the
/// template that uses them renders against placeholders, and nothing is written. The same check
/// online fails, so the pass is not the thing skipped.
#[test]
fn offline_check_passes_remote_references_with_no_credentials_and_no_servers() {
    let sb = Sandbox::new();
    sb.config(&format!(
        "secrets:\n  db: null\n  api: null\n  tok: null\n  cert: null\n\
         secret_init:\n  vault:\n    address: https://127.0.0.1:9\n    paths: [secret/data/app]\n\
         \x20 secrets:\n    api: {{from: 'aws-sm:prod/app#key', env: API_KEY}}\n    \
         tok: {{from: 'arn:aws:ssm:eu-west-1:123456789012:parameter/app/tok'}}\n    \
         cert: {{from: 'vault:secret/data/tls#cert'}}\n\
         \x20 templates:\n    dsn:\n      template: 'postgres://app:{{{{ secrets.db | urlencode }}}}@db/{{{{ secrets.tok | b64decode }}}}'\n      \
         destination: {}/dsn\n",
        sb.path("out").display()
    ));
    let mut r = sb.run();
    r.env("AWS_REGION", "us-east-1")
        .args(["check", "--offline"]);
    let out = r.output();
    out.expect_ok();
    let stdout = out.stdout();
    for (name, source) in [
        ("db", "vault:secret/data/app#db"),
        ("api", "aws-sm:prod/app#key"),
        (
            "tok",
            "arn:aws:ssm:eu-west-1:123456789012:parameter/app/tok",
        ),
        ("cert", "vault:secret/data/tls#cert"),
    ] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row {name}: {stdout}"));
        assert!(row.contains(source), "{row}");
        let cells: Vec<&str> = row
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(cells[cells.len() - 2..], ["-", "not contacted"], "{row}");
    }
    assert!(
        stdout.lines().any(|l| l.starts_with("template:dsn")
            && l.contains("secrets: db, tok")
            && l.ends_with(" ok")),
        "{stdout}"
    );
    assert!(
        !sb.path("out").exists(),
        "wrote {:?}",
        tree(&sb.path("out"))
    );
    // Online, the same check cannot pass: no token, no server.
    let mut r = sb.run();
    r.env("AWS_REGION", "us-east-1").arg("check");
    assert_ne!(r.output().code(), 0);
    // --offline is check's: a run refuses it (64) before resolving anything.
    let mut r = sb.run();
    r.args(["--offline", "--", "/bin/true"])
        .output()
        .expect_code(64)
        .stderr_has("--offline goes with check only: secret-init check --offline");
}

/// No connection is attempted: every remote source's address and every credential endpoint
/// points at a listening socket this test owns, and after `check --offline` none has arrived.
/// The same check without `--offline` does connect to it (the control that shows this test can
/// fail).
#[test]
fn offline_check_attempts_no_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let at = format!("127.0.0.1:{}", listener.local_addr().expect("addr").port());
    let url = format!("http://{at}");
    let token = canary("off-token");
    let sb = Sandbox::new();
    sb.config(&format!(
        "secrets:\n  db: null\n  api: null\n  g: null\n  z: null\n\
         secret_init:\n  vault:\n    address: {url}\n    paths: [secret/data/app]\n    retries: 0\n    timeout: 1s\n\
         \x20 gcp:\n    endpoint: {url}\n    retries: 0\n    timeout: 1s\n\
         \x20 aws:\n    retries: 0\n    timeout: 1s\n\
         \x20 azure:\n    retries: 0\n    timeout: 1s\n\
         \x20 secrets:\n    api: {{from: 'aws-sm:prod/app#key'}}\n    g: {{from: 'gcp:secretmanager:projects/p1/secrets/s1'}}\n    \
         z: {{from: 'azure-kv:kv1/z'}}\n"
    ));
    let run = |offline: bool| {
        let mut r = sb.run();
        r.env("VAULT_TOKEN", &token)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &url)
            .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", format!("{url}/creds"))
            .env("GCE_METADATA_HOST", &at)
            .env("GCE_METADATA_IP", &at)
            .env("SECRET_INIT_AZURE_ENDPOINT", &url)
            .env("IDENTITY_ENDPOINT", format!("{url}/id"))
            .env("IDENTITY_HEADER", "h")
            .arg("check");
        if offline {
            r.arg("--offline");
        }
        r.output()
    };
    let arrived = || {
        let mut n = 0;
        while listener.accept().is_ok() {
            n += 1;
        }
        n
    };
    let out = run(true);
    out.expect_ok().no_leak(&[&token]);
    assert_eq!(arrived(), 0, "check --offline connected: {}", out.stdout());
    let online = run(false);
    assert_ne!(online.code(), 0, "{}", online.stdout());
    assert!(arrived() > 0, "the control: an online check connects");
}

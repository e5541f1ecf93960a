//! Whole secrets to the environment, and env-only delivery: what chamber exec, ECS `valueFrom`,
//! External Secrets' `dataFrom` and `doppler run` do. Each cloud's `env_secrets` (a JSON secret's
//! keys become variables, as vault's `env_paths` does for a KV path) against moto and the local
//! fakes of GCP and Azure; AWS's `env_parameters_path` against moto; `--env-only` writes no file
//! and makes no output dir.

use serde_json::json;

use crate::support::fake_azure::{CLIENT_ID, FakeAzure, TENANT};
use crate::support::fake_gcp::{FakeGcp, closed_port};
use crate::support::moto::Moto;
use crate::support::{Out, Run, Sandbox, b64, canary};

/// The program: prints the variables it was given, one `NAME=value` a line.
const PRINT_ENV: [&str; 2] = ["--", "/usr/bin/env"];

/// No value in the log: the program prints them, secret-init's stderr never does.
fn quiet(out: &Out, values: &[&String]) {
    for v in values {
        assert!(
            !out.stderr().contains(v.as_str()),
            "leaked: {}",
            out.stderr()
        );
    }
}

/// The value of `var` in a run of [`PRINT_ENV`].
fn var(out: &Out, var: &str) -> Option<String> {
    out.stdout()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{var}=")).map(str::to_string))
}

fn aws_run(sb: &Sandbox, moto: &Moto) -> Run {
    let mut r = sb.run();
    moto.env(&mut r, sb);
    r.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing");
    r
}

/// AWS: every key of each `env_secrets` JSON secret and every parameter under
/// `env_parameters_path` reaches the program as a variable (a later one wins), with `--env-only`
/// nothing is written and no output dir made; a listed secret that is not a JSON object, one
/// that does not exist, and a key that cannot be a variable are refused naming the setting.
#[test]
fn aws_env_secrets_and_parameter_path_reach_the_program() {
    let moto = Moto::start();
    let (user, pass, over, param, db) = (
        canary("aws-user"),
        canary("aws-pass"),
        canary("aws-over"),
        canary("aws-param"),
        canary("aws-db"),
    );
    moto.admin(json!([
        {"service": "secretsmanager", "method": "create_secret", "args": {"Name": "prod/app",
            "SecretString": json!({"DB_USER": user, "DB_PASSWORD": pass, "PORT": 5432, "GONE": null}).to_string()}},
        {"service": "secretsmanager", "method": "create_secret", "args": {"Name": "prod/override",
            "SecretString": json!({"DB_PASSWORD": over}).to_string()}},
        {"service": "secretsmanager", "method": "create_secret", "args": {"Name": "prod/plain", "SecretString": "not json"}},
        {"service": "secretsmanager", "method": "create_secret", "args": {"Name": "prod/badkey",
            "SecretString": json!({"not a name": "x"}).to_string()}},
        {"service": "ssm", "method": "put_parameter", "args": {"Name": "/app/env/API_TOKEN", "Value": param, "Type": "SecureString"}},
        {"service": "secretsmanager", "method": "create_secret", "args": {"Name": "prod/db", "SecretString": db}},
    ]));
    let sb = Sandbox::new();
    let config = |list: &str| {
        sb.config(&format!(
            "secrets:\n  db: null\nsecret_init:\n  secrets:\n    db: {{from: 'aws-sm:prod/db', env: DB}}\n  \
             aws:\n    env_secrets: [{list}]\n    env_parameters_path: /app/env/\n"
        ));
    };
    config("prod/app, prod/override");
    let out = aws_run(&sb, &moto)
        .arg("--env-only")
        .args(PRINT_ENV)
        .output();
    out.expect_ok();
    assert_eq!(var(&out, "DB_USER"), Some(user.clone()));
    assert_eq!(
        var(&out, "DB_PASSWORD"),
        Some(over.clone()),
        "a later secret wins"
    );
    assert_eq!(var(&out, "PORT").as_deref(), Some("5432"));
    assert_eq!(var(&out, "GONE"), None, "null is skipped");
    assert_eq!(var(&out, "API_TOKEN"), Some(param.clone()));
    assert_eq!(var(&out, "DB"), Some(db.clone()));
    assert!(!sb.path("out").exists(), "env only made the output dir");
    quiet(&out, &[&user, &pass, &over, &param, &db]);

    // `check` lists the plan: the declared secret's row goes to env only.
    let out = aws_run(&sb, &moto).args(["--env-only", "check"]).output();
    out.expect_ok();
    assert!(
        out.stdout()
            .lines()
            .any(|l| l.starts_with("db ") && l.contains(" env:DB ")),
        "{}",
        out.stdout()
    );
    assert!(!out.stdout().contains("/out/db"), "{}", out.stdout());

    for (list, code, message) in [
        (
            "prod/plain",
            65,
            "secret-init: error: aws-sm:prod/plain: listed in secret_init.aws.env_secrets, but its value is not a JSON object",
        ),
        (
            "prod/nope",
            69,
            "secret-init: error: aws-sm:prod/nope: listed in secret_init.aws.env_secrets, but it does not exist",
        ),
        (
            "prod/badkey",
            65,
            "\"not a name\" is not a valid env var name",
        ),
    ] {
        config(list);
        aws_run(&sb, &moto)
            .args(PRINT_ENV)
            .output()
            .expect_code(code)
            .stderr_has(message);
        assert!(!sb.path("out").exists());
    }
}

/// GCP: every key of each `env_secrets` JSON secret (latest version, in `project`) reaches the
/// program, through the fake that the real google client reads the same bytes from.
#[test]
fn gcp_env_secrets_reach_the_program() {
    let (user, pass) = (canary("gcp-user"), canary("gcp-pass"));
    let doc = json!({"DB_USER": user, "DB_PASSWORD": pass}).to_string();
    let fake = FakeGcp::start(json!({"secrets": {
        "projects/proj-1/secrets/app-env": [b64(doc.as_bytes())],
        "projects/proj-1/secrets/plain": [b64(b"not json")],
    }}));
    let sb = Sandbox::new();
    let run = |list: &str| {
        sb.config(&format!(
            "secrets: {{}}\nsecret_init:\n  gcp:\n    endpoint: {}\n    project: proj-1\n    env_secrets: [{list}]\n",
            fake.url
        ));
        let mut r = sb.run();
        r.env("GCE_METADATA_HOST", closed_port())
            .env("GCE_METADATA_IP", closed_port())
            .env("GOOGLE_APPLICATION_CREDENTIALS", fake.file("sa.json"))
            .arg("--env-only")
            .args(PRINT_ENV);
        r.output()
    };
    let out = run("app-env");
    out.expect_ok();
    assert_eq!(var(&out, "DB_USER"), Some(user.clone()));
    assert_eq!(var(&out, "DB_PASSWORD"), Some(pass.clone()));
    assert!(!sb.path("out").exists());
    quiet(&out, &[&user, &pass]);
    let path = "projects/proj-1/secrets/app-env/versions/latest";
    let got = fake.real_client(&fake.file("sa.json").display().to_string(), &[path]);
    assert_eq!(got[path]["b64"], json!(b64(doc.as_bytes())), "{got}");
    run("plain").expect_code(65).stderr_has(
        "gcp:secretmanager:projects/proj-1/secrets/plain: listed in secret_init.gcp.env_secrets, but its value is not a JSON object",
    );
    // A setting that cannot work is refused before any request.
    sb.config("secrets: {}\nsecret_init:\n  gcp:\n    env_secrets: [app-env]\n");
    sb.run()
        .args(PRINT_ENV)
        .output()
        .expect_code(78)
        .stderr_has("secret_init.gcp.env_secrets needs secret_init.gcp.project");
}

/// Azure: every key of each `env_secrets` JSON secret of `vault` reaches the program, through
/// the fake that the real Azure SDK reads the same value from.
#[test]
fn azure_env_secrets_reach_the_program() {
    let (user, pass) = (canary("az-user"), canary("az-pass"));
    let doc = json!({"DB_USER": user, "DB_PASSWORD": pass}).to_string();
    const V: &str = "0123456789abcdef0123456789abcdef";
    let fake = FakeAzure::start(json!({"secrets": {
        "app-env": {"current": V, "versions": {V: doc}},
    }}));
    let sb = Sandbox::new();
    sb.config("secrets: {}\nsecret_init:\n  azure:\n    vault: kv1\n    env_secrets: [app-env]\n");
    let out = sb
        .run()
        .env("SECRET_INIT_AZURE_ENDPOINT", &fake.https)
        .env("SSL_CERT_FILE", &fake.ca)
        .env("AZURE_AUTHORITY_HOST", &fake.https)
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")
        .env("AZURE_TENANT_ID", TENANT)
        .env("AZURE_CLIENT_ID", CLIENT_ID)
        .env("AZURE_CLIENT_SECRET", fake.get("client_secret"))
        .env("SECRET_INIT_ENV_ONLY", "true")
        .args(PRINT_ENV)
        .output();
    out.expect_ok();
    assert_eq!(var(&out, "DB_USER"), Some(user.clone()));
    assert_eq!(var(&out, "DB_PASSWORD"), Some(pass.clone()));
    assert!(!sb.path("out").exists());
    quiet(&out, &[&user, &pass]);
    let token = sb.write("sdk-token", fake.get("federated_token"));
    let sdk = fake.sdk_read(&token, &[("app-env", None)]);
    assert_eq!(sdk["client_secret"]["app-env"], json!(doc), "{sdk}");
    sb.config("secrets: {}\nsecret_init:\n  azure:\n    env_secrets: [app-env]\n");
    sb.run().args(PRINT_ENV).output().expect_code(78).stderr_has(
        "secret_init.azure.env_secrets: needs secret_init.azure.vault (the vault they are read from)",
    );
}

/// Env only: a secret without `env:` goes to the variable of its own name, nothing is written
/// and the output dir is not made, even where it could not be (under a file); what would still
/// write a file (a template, an explicit `file:`) is refused naming it, and nothing starts.
#[test]
fn env_only_writes_no_file_and_refuses_what_would() {
    let sb = Sandbox::new();
    let blocker = sb.write("blocker", "a file");
    let token = canary("env-only");
    sb.config("secrets:\n  hf_token: null\n  other: dflt\nsecret_init:\n  secrets:\n    other: {env: OTHER}\n");
    let out = sb
        .run()
        .env("TRUSS_SECRET_hf_token", &token)
        .env("SECRET_INIT_OUTPUT_DIR", blocker.join("secrets"))
        .arg("--env-only")
        .args(PRINT_ENV)
        .output();
    out.expect_ok();
    assert_eq!(var(&out, "hf_token"), Some(token.clone()));
    assert_eq!(var(&out, "OTHER").as_deref(), Some("dflt"));
    assert_eq!(var(&out, "TRUSS_SECRET_hf_token"), None);
    out.stderr_has("(0 files written, 0 unchanged, 2 env vars)");
    // Without it, the same start cannot make its output dir.
    sb.run()
        .env("TRUSS_SECRET_hf_token", &token)
        .env("SECRET_INIT_OUTPUT_DIR", blocker.join("secrets"))
        .args(PRINT_ENV)
        .output()
        .expect_code(73);
    let out_dir = sb.path("out");
    for (yaml, message) in [
        (
            format!(
                "secrets:\n  a: x\nsecret_init:\n  templates:\n    conf:\n      template: 'a={{{{ secrets.a }}}}'\n      destination: {}/conf\n",
                out_dir.display()
            ),
            format!(
                "secret-init: error: template:conf: writes {}/conf, but delivery is env only (env_only, --env-only): no file is written",
                out_dir.display()
            ),
        ),
        (
            format!(
                "secrets:\n  a: x\nsecret_init:\n  env_only: true\n  secrets:\n    a: {{file: {}/a}}\n",
                out_dir.display()
            ),
            format!(
                "secret-init: error: secret \"a\" (config.yaml): file: {}/a is given, but delivery is env only (env_only, --env-only): remove one",
                out_dir.display()
            ),
        ),
    ] {
        sb.config(&yaml);
        sb.run()
            .arg("--env-only")
            .args(PRINT_ENV)
            .output()
            .expect_code(78)
            .stderr_has(&message);
        assert!(!out_dir.exists());
    }
}

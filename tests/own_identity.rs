//! secret-init's own cloud identity never comes from the program's side: not from the
//! `--user`'s HOME, not from a region that reaches into an endpoint's host, not from a file it
//! delivers itself; no credential, key, bundle or CA file can hang a start; a refresh that
//! changes nothing tells the program nothing. Loopback fakes for the token endpoints (no
//! emulator serves them), real moto for STS and Secrets Manager, a PID namespace for `--user`.
//! Each test fails on the code before its fix.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use crate::init::Ns;
use crate::support::fake_aws_metadata::FakeMetadata;
use crate::support::fake_gcp::{FakeGcp, closed_port};
use crate::support::moto::{Counting, Moto};
use crate::support::*;

/// One secret read from Secrets Manager; `secret_init:` open for more settings.
const AWS_DB: &str =
    "secrets:\n  db: null\nsecret_init:\n  secrets:\n    db: {from: 'aws-sm:app/db'}\n";

/// Generous bound on a start that must fail at once (a hang is the defect under test).
const BOUND: Duration = Duration::from_secs(30);

/// A passwd and group file naming `app` (4242:4243) with its home at `home`, for `bwrap`
/// `--ro-bind`; the sandbox made reachable for that user.
fn app_user(sb: &Sandbox, home: &Path) -> Vec<String> {
    std::fs::set_permissions(sb.dir.path(), std::fs::Permissions::from_mode(0o711)).expect("chmod");
    let passwd = sb.write(
        "etc/passwd",
        format!(
            "root:x:0:0::/root:/bin/sh\napp:x:4242:4243::{}:/bin/sh\n",
            home.display()
        ),
    );
    let group = sb.write("etc/group", "root:x:0:\napp:x:4243:\n");
    vec![
        "--ro-bind".into(),
        passwd.display().to_string(),
        "/etc/passwd".into(),
        "--ro-bind".into(),
        group.display().to_string(),
        "/etc/group".into(),
    ]
}

/// A root-only file holding `content` (what the program must never get sent anywhere).
fn root_only(sb: &Sandbox, rel: &str, content: &str) -> PathBuf {
    let p = sb.write(rel, content);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    p
}

fn write_json(p: &Path, v: &serde_json::Value) {
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, v.to_string()).expect("write");
}

/// Runs `run` as PID 1 of a new PID namespace with `extra` bwrap arguments; its exit code.
fn in_ns(run: &Run, extra: &[String]) -> (i32, String) {
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let mut ns = Ns::start(run, &extra);
    let code = ns.finish();
    (code, ns.stderr())
}

/// Under `--user`, the user's gcloud file (workload identity federation whose subject token is a
/// root-only file and whose token URL is the program's server) was read by the root side, which
/// POSTed the root-only file there. Now the sources use secret-init's own HOME (here a legit
/// service-account key), and nothing reaches the program's server.
#[test]
fn user_home_gcloud_file_is_not_our_identity() {
    let secret = canary("gcp-own");
    let legit =
        FakeGcp::start(json!({"secrets": {"projects/proj-1/secrets/x": [b64(secret.as_bytes())]}}));
    let stolen = canary("root-only");
    let attacker = FakeGcp::start(json!({"subject_token": stolen}));
    let sb = Sandbox::new();
    let home = sb.mkdir("apphome");
    let extra = app_user(&sb, &home);
    let target = root_only(&sb, "root-only", &stolen);
    // Ours: the legit key (its token_uri is the legit fake).
    std::fs::create_dir_all(sb.path("home/.config/gcloud")).expect("mkdir");
    std::fs::copy(
        legit.file("sa.json"),
        sb.path("home/.config/gcloud/application_default_credentials.json"),
    )
    .expect("copy");
    // The program's: planted.
    write_json(
        &home.join(".config/gcloud/application_default_credentials.json"),
        &json!({
            "type": "external_account",
            "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/p",
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": format!("{}/v1/token", attacker.url),
            "credential_source": {"file": target},
        }),
    );
    sb.config(&format!(
        "secrets:\n  x: null\nsecret_init:\n  secrets:\n    x: {{from: 'sm://proj-1/x'}}\n  gcp:\n    endpoint: {}\n",
        legit.url
    ));
    let mut r = sb.run();
    r.env("GCE_METADATA_HOST", closed_port())
        .env("GCE_METADATA_IP", closed_port())
        .args(["--user", "app", "--", "/bin/true"]);
    let (code, stderr) = in_ns(&r, &extra);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(read(&sb.path("out/x")), secret);
    assert!(
        attacker.requests("/").is_empty(),
        "the program's server was called: {:?}",
        attacker.events()
    );
    assert!(!legit.requests("/token").is_empty(), "{:?}", legit.events());
    assert!(!stderr.contains(&stolen));
}

/// A token URL in a credentials file of our own is checked too: only Google's hosts or the
/// configured endpoint's origin receive credentials; anything else is 78 before the subject
/// token is even read.
#[test]
fn gcp_token_urls_off_google_are_refused() {
    let fake = FakeGcp::start(json!({"subject_token": "t"}));
    let elsewhere = FakeGcp::start(json!({"subject_token": "t"}));
    let sb = Sandbox::new();
    for (field, url) in [
        ("token_url", format!("{}/v1/token", elsewhere.url)),
        (
            "service_account_impersonation_url",
            format!("{}/v1/x:generateAccessToken", elsewhere.url),
        ),
    ] {
        let mut wif: serde_json::Value =
            serde_json::from_slice(&std::fs::read(fake.file("wif.json")).expect("wif"))
                .expect("json");
        wif[field] = json!(url);
        let f = sb.path(&format!("{field}.json"));
        write_json(&f, &wif);
        sb.config(&format!(
            "secrets:\n  x: null\nsecret_init:\n  secrets:\n    x: {{from: 'sm://proj-1/x'}}\n  gcp:\n    endpoint: {}\n",
            fake.url
        ));
        let out = sb
            .run()
            .env("GOOGLE_APPLICATION_CREDENTIALS", &f)
            .env("GCE_METADATA_HOST", closed_port())
            .args(["--", "/bin/true"])
            .output_within(BOUND);
        out.expect_code(78)
            .stderr_has(&format!(
                "{field} {}",
                url.split('/').take(3).collect::<Vec<_>>().join("/")
            ))
            .stderr_has("is not a Google endpoint");
    }
    assert!(
        elsewhere.requests("/").is_empty(),
        "{:?}",
        elsewhere.events()
    );
    assert!(fake.requests("/v1/token").is_empty(), "{:?}", fake.events());
}

/// Temporary credentials a container endpoint hands out, made real on an IAM-enforcing moto
/// (a role allowed GetSecretValue), and one stored secret `app/db`.
fn moto_role(value: &str) -> (Moto, serde_json::Value) {
    let (moto, c) = Moto::enforcing_with_role(value);
    let creds = json!({
        "AccessKeyId": c["AccessKeyId"],
        "SecretAccessKey": c["SecretAccessKey"],
        "Token": c["SessionToken"],
        "Expiration": "2099-01-01T00:00:00Z",
    });
    (moto, creds)
}

/// Our AWS environment: the container endpoint (the fake), moto behind a counting proxy, a
/// region; no AWS file variables, so the chain looks under HOME.
fn container_env(r: &mut Run, fake: &FakeMetadata, endpoint: &str) {
    r.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/creds", fake.addr),
        );
}

/// Under `--user`, the user's `~/.aws/config` (a web identity whose token file is root-only)
/// beat our container credentials: root sent the file to STS and signed with the role the
/// program chose. Now the chain reads our HOME only: the container endpoint is asked, STS never.
#[test]
fn user_home_aws_profile_is_not_our_identity() {
    let secret = canary("aws-own");
    let (moto, creds) = moto_role(&secret);
    let counting = Counting::new(&moto);
    let fake = FakeMetadata::start(json!({"creds": creds, "auth": null, "role": "app-role"}));
    let sb = Sandbox::new();
    let home = sb.mkdir("apphome");
    let extra = app_user(&sb, &home);
    let target = root_only(&sb, "root-only", &canary("root-only"));
    std::fs::create_dir_all(home.join(".aws")).expect("mkdir");
    std::fs::write(
        home.join(".aws/config"),
        format!(
            "[default]\nrole_arn = arn:aws:iam::123456789012:role/app-role\nweb_identity_token_file = {}\n",
            target.display()
        ),
    )
    .expect("write");
    sb.config(AWS_DB);
    let mut r = sb.run();
    container_env(&mut r, &fake, &counting.url);
    r.args(["--user", "app", "--", "/bin/true"]);
    let (code, stderr) = in_ns(&r, &extra);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(read(&sb.path("out/db")), secret);
    let reqs = fake.requests(1);
    assert!(
        reqs.iter().any(|l| l.starts_with("REQ GET /creds")),
        "{reqs:?}"
    );
    let sts: Vec<_> = counting
        .requests()
        .into_iter()
        .filter(|(a, _)| a == "-")
        .collect();
    assert!(
        sts.is_empty(),
        "STS was called (the planted web identity): {sts:?}"
    );
}

/// A region from `AWS_REGION`, `AWS_DEFAULT_REGION` or the profile went into the endpoint's
/// host unchecked: `x@127.0.0.1:PORT/` made the signed request (session token included) go
/// there. Each is checked like `secret_init.aws.region`: 78 naming where it came from, and
/// nothing connects.
#[test]
fn aws_regions_from_env_and_profile_are_checked() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let bad = format!("x@{}/", listener.local_addr().expect("addr"));
    let sb = Sandbox::new();
    sb.config(&format!("{AWS_DB}  aws: {{timeout: 1, deadline: 2}}\n"));
    let config = sb.write("aws/config", format!("[default]\nregion = {bad}\n"));
    for (var, value, origin) in [
        ("AWS_REGION", bad.as_str(), "AWS_REGION"),
        ("AWS_DEFAULT_REGION", bad.as_str(), "AWS_DEFAULT_REGION"),
        (
            "AWS_CONFIG_FILE",
            config.to_str().expect("utf8"),
            "the region of profile default",
        ),
    ] {
        let out = sb
            .run()
            .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", canary("aws-sk"))
            .env("AWS_SHARED_CREDENTIALS_FILE", sb.path("aws/none"))
            .env(var, value)
            .args(["--", "/bin/true"])
            .output_within(BOUND);
        out.expect_code(78).stderr_has(&format!(
            "{origin}: \"{bad}\" is not a region like us-east-1"
        ));
        assert!(!sb.path("out/db").exists());
    }
    assert!(
        listener.accept().is_err(),
        "something connected to the host a region named"
    );
}

/// A FIFO where a credential, key, token, bundle or CA file should be: each start (and the
/// bundle command) fails at once with a clear error, not a hang past the deadline.
#[test]
fn fifos_in_place_of_input_files_fail_fast() {
    let sb = Sandbox::new();
    let fifo = sb.path("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let f = fifo.display().to_string();
    let aws = AWS_DB;
    let keygen = sb.run().args(["bundle", "keygen"]).output_within(BOUND);
    keygen.expect_ok();
    let key = keygen.stdout().trim().to_string();
    let key = key.as_str();
    let bundle = sb.path("bundle.json");
    sb.run()
        .env("SECRET_INIT_MASTER_KEY", key)
        .args(["bundle", "create", "app", "--bundle"])
        .arg(&bundle)
        .output_within(BOUND)
        .expect_ok();
    sb.run()
        .env("SECRET_INIT_MASTER_KEY", key)
        .args(["bundle", "set", "app", "db", "v", "--bundle"])
        .arg(&bundle)
        .output_within(BOUND)
        .expect_ok();
    let vault = |auth: &str| {
        format!(
            "secrets:\n  db: null\nsecret_init:\n  secrets:\n    db: {{from: 'vault:secret/data/app#db'}}\n  vault:\n    address: http://127.0.0.1:1\n    auth: {auth}\n"
        )
    };
    struct Case<'a> {
        what: &'a str,
        yaml: String,
        env: Vec<(&'static str, String)>,
        args: Vec<&'a str>,
        code: i32,
    }
    let aws_env = |extra: Vec<(&'static str, String)>| {
        let mut v = vec![
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_CONFIG_FILE", sb.path("aws/none").display().to_string()),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                sb.path("aws/none").display().to_string(),
            ),
        ];
        v.extend(extra);
        v
    };
    let start = vec!["--", "/bin/true"];
    let cases = vec![
        Case {
            what: "AWS web identity token file",
            yaml: aws.into(),
            env: aws_env(vec![
                ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/r".into()),
                ("AWS_WEB_IDENTITY_TOKEN_FILE", f.clone()),
            ]),
            args: start.clone(),
            code: 65,
        },
        Case {
            what: "AWS shared credentials file",
            yaml: aws.into(),
            env: aws_env(vec![("AWS_SHARED_CREDENTIALS_FILE", f.clone())]),
            args: start.clone(),
            code: 65,
        },
        Case {
            what: "AWS config file",
            yaml: aws.into(),
            env: aws_env(vec![("AWS_CONFIG_FILE", f.clone())]),
            args: start.clone(),
            code: 65,
        },
        Case {
            what: "AWS container authorization token file",
            yaml: aws.into(),
            env: aws_env(vec![
                ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/c".into()),
                ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", f.clone()),
            ]),
            args: start.clone(),
            code: 65,
        },
        Case {
            what: "GOOGLE_APPLICATION_CREDENTIALS",
            yaml: "secrets:\n  x: null\nsecret_init:\n  secrets:\n    x: {from: 'sm://proj-1/x'}\n  gcp:\n    endpoint: http://127.0.0.1:1\n".into(),
            env: vec![
                ("GOOGLE_APPLICATION_CREDENTIALS", f.clone()),
                ("GCE_METADATA_HOST", closed_port()),
            ],
            args: start.clone(),
            code: 65,
        },
        Case {
            what: "AZURE_FEDERATED_TOKEN_FILE",
            yaml: "secrets:\n  hf_token: null\nsecret_init:\n  azure: {vault: kv1, secrets: [hf_token]}\n".into(),
            env: vec![
                ("AZURE_TENANT_ID", "t".into()),
                ("AZURE_CLIENT_ID", "c".into()),
                ("AZURE_FEDERATED_TOKEN_FILE", f.clone()),
                ("AZURE_AUTHORITY_HOST", "http://127.0.0.1:1".into()),
                ("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:1".into()),
                ("SECRET_INIT_AZURE_ENDPOINT", "http://127.0.0.1:1".into()),
            ],
            args: start.clone(),
            code: 65,
        },
        Case {
            what: "vault jwt_file",
            yaml: vault(&format!("{{method: jwt, role: app, jwt_file: {f}}}")),
            env: vec![],
            args: start.clone(),
            code: 65,
        },
        Case {
            what: "vault token_file",
            yaml: vault(&format!("{{method: token, token_file: {f}}}")),
            env: vec![],
            args: start.clone(),
            code: 65,
        },
        Case {
            what: "vault CA file",
            yaml: format!(
                "secrets:\n  db: null\nsecret_init:\n  secrets:\n    db: {{from: 'vault:secret/data/app#db'}}\n  vault:\n    address: https://127.0.0.1:1\n    ca_cert: {f}\n"
            ),
            env: vec![("VAULT_TOKEN", "t".into())],
            args: start.clone(),
            code: 78,
        },
        Case {
            what: "bundle file",
            yaml: "secrets:\n  db: null\nsecret_init:\n  secrets:\n    db: {from: 'bundle:app#db'}\n".into(),
            env: vec![
                ("SECRET_INIT_BUNDLE", f.clone()),
                ("SECRET_INIT_MASTER_KEY", key.into()),
            ],
            args: start.clone(),
            code: 65,
        },
        Case {
            what: "bundle master key file",
            yaml: format!(
                "secrets:\n  db: null\nsecret_init:\n  secrets:\n    db: {{from: 'bundle:app#db'}}\n  bundles:\n    master_key_file: {f}\n"
            ),
            env: vec![("SECRET_INIT_BUNDLE", bundle.display().to_string())],
            args: start.clone(),
            code: 65,
        },
        Case {
            what: "bundle command: the bundle",
            yaml: "secrets: {}\n".into(),
            env: vec![("SECRET_INIT_MASTER_KEY", key.into())],
            args: vec!["bundle", "list", "--bundle", &f],
            code: 65,
        },
        Case {
            what: "bundle command: the master key file",
            yaml: "secrets: {}\n".into(),
            env: vec![],
            args: vec![
                "bundle",
                "get",
                "app",
                "db",
                "--bundle",
                bundle.to_str().expect("utf8"),
                "--master-key-file",
                &f,
            ],
            code: 65,
        },
    ];
    for c in cases {
        sb.config(&c.yaml);
        let mut r = sb.run();
        for (k, v) in &c.env {
            r.env(*k, v);
        }
        r.args(&c.args);
        let out = r.output_within(BOUND);
        assert_eq!(out.code(), c.code, "{}: {}", c.what, out.stderr());
        out.stderr_has("a FIFO");
        assert!(
            !sb.path("out").exists() || tree(&sb.path("out")).is_empty(),
            "{}",
            c.what
        );
    }
}

/// The container credential endpoint ran 3 attempts of 2 s and backoffs (about 14 s) whatever
/// the aws source's deadline said. Against a server that accepts and never answers, the start
/// now gives up within `secret_init.aws.deadline` and says so.
#[test]
fn container_endpoint_gives_up_within_the_deadline() {
    let fake = FakeMetadata::start(json!({"creds": null, "auth": null, "role": "r"}));
    let sb = Sandbox::new();
    sb.config(&format!("{AWS_DB}  aws: {{deadline: 3}}\n"));
    let out = sb
        .run()
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", sb.path("aws/none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", sb.path("aws/none"))
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/creds", fake.hang),
        )
        .args(["--", "/bin/true"])
        .output_within(BOUND);
    out.expect_code(69)
        .stderr_has("within secret_init.aws.deadline, 3 s");
    // The client's own report of how long it tried: within the deadline.
    let stderr = out.stderr();
    let took: f64 = stderr
        .split(" in ")
        .filter_map(|s| s.split(" s)").next()?.parse().ok())
        .next()
        .unwrap_or_else(|| panic!("no duration reported: {stderr}"));
    assert!(
        took <= 3.5,
        "gave up after {took} s with a 3 s deadline: {stderr}"
    );
}

/// The config of a supervised start with the `aws` provider (keys from the env source) and a
/// refresh every second, no jitter.
fn provider_refresh_yaml(read_db: bool, on_change: &str) -> String {
    let (db, from) = if read_db {
        (
            "  db: null\n",
            "  secrets:\n    db: {from: 'aws-sm:app/db'}\n",
        )
    } else {
        ("", "")
    };
    format!(
        "secrets:\n  ak: null\n  sk: null\n{db}secret_init:\n{from}  refresh: {{interval: 1s, jitter: 0, on_change: {on_change}}}\n  providers:\n    aws:\n      fields: {{aws_access_key_id: ak, aws_secret_access_key: sk}}\n"
    )
}

/// A program that dies of SIGHUP (no handler), says `ready` when it starts, and exits 0 when
/// a line arrives on its stdin.
const WAITER: &[&str] = &["/bin/sh", "-c", "echo ready; read line; echo survived"];

/// Waits until the supervisor logs a refresh pass that found nothing to do.
fn wait_for_quiet_pass(ns: &Ns) {
    assert!(
        wait_until(Duration::from_secs(20), || ns
            .stderr()
            .contains("refresh: nothing changed")),
        "no quiet refresh pass\n--- stderr\n{}",
        ns.stderr()
    );
}

/// A refresh with a file-writing provider signalled (or restarted) the program though nothing
/// changed: the start's record held the provider file, a later pass's plan left it out. Now a
/// pass with no change tells the program nothing: no SIGHUP, no restart.
#[test]
fn provider_files_unchanged_tell_the_program_nothing() {
    for on_change in ["signal", "restart"] {
        let sb = Sandbox::new();
        sb.config(&provider_refresh_yaml(false, on_change));
        let mut r = sb.run();
        r.env("TRUSS_SECRET_ak", "AKIAPROGRAM")
            .env("TRUSS_SECRET_sk", canary("program-sk"))
            .env("AWS_SHARED_CREDENTIALS_FILE", sb.path("aws/credentials"))
            .args(["--sources", "env", "--log-level", "debug", "--"])
            .args(WAITER);
        let mut ns = Ns::start(&r, &[]);
        ns.expect_line("ready");
        wait_for_quiet_pass(&ns);
        ns.send_stdin("go\n");
        assert_eq!(ns.finish(), 0, "{on_change}: {}", ns.stderr());
        let rest = ns.rest();
        assert_eq!(
            rest,
            ["survived"],
            "{on_change}: restarted? {}",
            ns.stderr()
        );
        assert!(
            !ns.stderr().contains("published 0 changed file(s)"),
            "{}",
            ns.stderr()
        );
        assert!(read(&sb.path("aws/credentials")).contains("AKIAPROGRAM"));
    }
}

/// The `aws` provider's own output (the keys it writes to the program's credentials file)
/// became secret-init's identity at the next refresh pass. The start signs with the container
/// credentials; the provider writes other (invalid) keys into the very file the chain would
/// read; every refresh pass still signs with the container credentials.
#[test]
fn aws_provider_output_never_becomes_our_identity() {
    let secret = canary("aws-read");
    let (moto, creds) = moto_role(&secret);
    let counting = Counting::new(&moto);
    let fake = FakeMetadata::start(json!({"creds": creds, "auth": null, "role": "app-role"}));
    let sb = Sandbox::new();
    sb.config(&provider_refresh_yaml(true, "signal"));
    let mut r = sb.run();
    container_env(&mut r, &fake, &counting.url);
    r.env("AWS_SHARED_CREDENTIALS_FILE", sb.path("aws/credentials"))
        .env("AWS_CONFIG_FILE", sb.path("aws/config"))
        .env("TRUSS_SECRET_ak", "AKIAPROVIDEROUTPUT")
        .env("TRUSS_SECRET_sk", canary("provider-sk"))
        .args(["--log-level", "debug", "--"])
        .args(WAITER);
    let mut ns = Ns::start(&r, &[]);
    ns.expect_line("ready");
    assert!(read(&sb.path("aws/credentials")).contains("AKIAPROVIDEROUTPUT"));
    wait_for_quiet_pass(&ns);
    ns.send_stdin("go\n");
    assert_eq!(ns.finish(), 0, "{}", ns.stderr());
    let stderr = ns.stderr();
    assert!(!stderr.contains("refresh failed"), "{stderr}");
    assert!(
        !stderr.contains("credentials from profile default"),
        "the provider's file was read as our credentials: {stderr}"
    );
    // The start and at least one refresh pass each fetched the container credentials.
    let gets: Vec<String> = fake
        .requests(2)
        .into_iter()
        .filter(|l| l.starts_with("REQ GET /creds"))
        .collect();
    assert!(gets.len() >= 2, "{gets:?}\n{stderr}");
    assert_eq!(read(&sb.path("out/db")), secret);
}

/// The same for two files read outside the credential chains: a FIFO at /etc/passwd for
/// `--user NAME` hung the start, now 78. A FIFO with an execute bit given as the program is 126
/// (refused by a stat before its `#!` line is read; that read no longer blocks either, should the
/// file be swapped in between).
#[test]
fn fifo_as_program_or_passwd_fails_fast() {
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    let fifo = sb.path("prog");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o700)).expect("mkfifo");
    let out = sb.run().arg("--").arg(&fifo).output_within(BOUND);
    assert_eq!(out.code(), 126, "{}", out.stderr());
    let passwd = sb.path("passwd");
    nix::unistd::mkfifo(&passwd, nix::sys::stat::Mode::from_bits_truncate(0o644)).expect("mkfifo");
    let mut r = sb.run();
    r.args(["--user", "app", "--", "/bin/true"]);
    let extra = vec![
        "--ro-bind".to_string(),
        passwd.display().to_string(),
        "/etc/passwd".to_string(),
    ];
    let (code, stderr) = in_ns(&r, &extra);
    assert_eq!(code, 78, "{stderr}");
    assert!(
        stderr.contains("/etc/passwd: not a regular file (a FIFO)"),
        "{stderr}"
    );
}

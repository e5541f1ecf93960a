//! The last links of the AWS credential chain: the container credential endpoint
//! (`AWS_CONTAINER_CREDENTIALS_FULL_URI` + authorization token) and IMDSv2
//! (`AWS_EC2_METADATA_SERVICE_ENDPOINT`). These use a **fake** (tests/support/fake_aws_metadata.py,
//! loopback only): no emulator serves these endpoints. The fake is proven honest in the same
//! tests by botocore's own `ContainerProvider` and `InstanceMetadataProvider`, built by
//! botocore's credential resolver from the very same environment, getting the same key id from
//! it. The credentials the fake hands out are a real IAM user's on an IAM-enforcing moto, so a
//! read succeeds only if secret-init signed with exactly them.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::fake_aws_metadata::FakeMetadata;
use crate::support::moto::Moto;
use crate::support::{Run, Sandbox, canary, python, read};

/// An RFC 3339 UTC time `secs` from now.
fn in_secs(secs: u64) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + secs;
    let py = format!(
        "import datetime; print(datetime.datetime.fromtimestamp({t}, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'))"
    );
    let out = std::process::Command::new(python())
        .args(["-c", &py])
        .output()
        .expect("python");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Temporary credentials as the metadata endpoints hand them out, made real: a role on an
/// IAM-enforcing moto allowed only GetSecretValue, assumed through moto's STS (key id, secret,
/// session token; moto checks all three on every signed request). Also one stored secret.
struct Temporary {
    id: String,
    secret: String,
    token: String,
}

fn moto_with_secret(value: &str) -> (Moto, Temporary) {
    let (moto, c) = Moto::enforcing_with_role(value);
    let t = Temporary {
        id: c["AccessKeyId"].as_str().expect("id").into(),
        secret: c["SecretAccessKey"].as_str().expect("secret").into(),
        token: c["SessionToken"].as_str().expect("token").into(),
    };
    (moto, t)
}

fn fake_for(t: &Temporary, auth: Option<&str>, expires_in: u64) -> FakeMetadata {
    FakeMetadata::start(json!({
        "creds": {
            "AccessKeyId": t.id,
            "SecretAccessKey": t.secret,
            "Token": t.token,
            "Expiration": in_secs(expires_in),
        },
        "auth": auth,
        "role": "app-role",
    }))
}

/// A run with no static keys and no profile: the chain reaches the metadata links.
fn chain_run(sb: &Sandbox, moto: &Moto) -> Run {
    let mut r = sb.run();
    moto.env(&mut r, sb);
    r
}

/// botocore's own provider `name` (`container-role`, `iam-role`), built by its credential
/// resolver from `env` alone, loaded: the key id it got.
fn botocore_key_id(env: &[(&str, &str)], name: &str) -> String {
    let py = format!(
        "import botocore.session, botocore.credentials\n\
         s = botocore.session.Session()\n\
         p = botocore.credentials.create_credential_resolver(s).get_provider('{name}')\n\
         c = p.load()\n\
         print(c.get_frozen_credentials().access_key if c else 'NONE')\n"
    );
    let mut cmd = std::process::Command::new(python());
    cmd.args(["-c", &py])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/nonexistent")
        .env("AWS_CONFIG_FILE", "/nonexistent/config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("python");
    assert!(
        out.status.success(),
        "botocore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The container endpoint: the token from `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (EKS Pod
/// Identity) and from `AWS_CONTAINER_AUTHORIZATION_TOKEN` (ECS), one GET each; a wrong token is
/// 77 naming the endpoint's variable; a plain-http full URI to a non-allowed host is refused
/// before any I/O (78). Credentials valid for an hour are fetched once for two reads;
/// credentials within the 10-minute refresh window are fetched anew for each read made on its
/// own, and once for reads made together.
#[test]
fn aws_container_credentials() {
    let value = canary("container-value");
    let (moto, reader) = moto_with_secret(&value);
    let token = canary("pod-identity-token");
    let fake = fake_for(&reader, Some(&token), 3_600);
    let sb = Sandbox::new();
    // No trailing newline: botocore sends the file as it is and refuses a line break.
    std::fs::write(sb.path("token"), &token).expect("token file");
    sb.config(
        "secrets:\n  a: null\n  b: null\nsecret_init:\n  secrets:\n    a: {from: 'aws-sm:app/db'}\n    b: {from: 'aws-sm:app/db##AWSCURRENT'}\n",
    );
    let uri = format!("{}/creds", fake.addr);
    let token_file = sb.path("token").display().to_string();
    let out = chain_run(&sb, &moto)
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &uri)
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file)
        .args(["--log-level", "debug", "materialize"])
        .output();
    out.expect_ok()
        .stderr_has("aws: container credentials from http://127.0.0.1:")
        .stderr_has(&format!("credentials for key id {}", reader.id))
        .no_leak(&[&token, &reader.secret]);
    assert_eq!(read(&sb.path("out/a")), value);
    assert_eq!(read(&sb.path("out/b")), value);
    assert_eq!(
        fake.requests(1),
        ["REQ GET /creds auth=yes token=no"],
        "one fetch for two reads"
    );
    let botocore = botocore_key_id(
        &[
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &uri),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file),
        ],
        "container-role",
    );
    assert_eq!(botocore, reader.id, "botocore reads the fake the same way");
    assert_eq!(fake.requests(2).len(), 2);

    // The token as a value (ECS), and a wrong one.
    let sb = Sandbox::new();
    sb.config("secrets:\n  a: null\nsecret_init:\n  secrets:\n    a: {from: 'aws-sm:app/db'}\n");
    chain_run(&sb, &moto)
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &uri)
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", &token)
        .arg("materialize")
        .output()
        .expect_ok();
    assert_eq!(read(&sb.path("out/a")), value);
    let wrong = canary("wrong-token");
    chain_run(&sb, &moto)
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &uri)
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", &wrong)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(77)
        .stderr_has("secret \"a\" (aws container credentials at AWS_CONTAINER_CREDENTIALS_FULL_URI): HTTP 401")
        // Which token was refused, and every place the chain tried before.
        .stderr_has(
            "HTTP 401: the endpoint refused the token in AWS_CONTAINER_AUTHORIZATION_TOKEN; tried \
             before it, none set: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, \
             AWS_ROLE_ARN/AWS_WEB_IDENTITY_TOKEN_FILE, profile default in ",
        )
        .no_leak(&[&wrong, &token]);
    let seen = fake.requests(4);
    assert_eq!(seen[3], "REQ GET /creds auth=wrong token=no", "{seen:?}");

    // A plain-http endpoint elsewhere than loopback or the container hosts: nothing is sent.
    chain_run(&sb, &moto)
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "http://10.255.255.1/creds",
        )
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI http://10.255.255.1/creds: expected https://",
        );

    // Credentials expiring in 5 minutes are inside the refresh window: each read made on its
    // own fetches anew (`db` by name through a prefix, `b` by reference).
    let soon = fake_for(&reader, None, 300);
    let sb = Sandbox::new();
    sb.config(
        "secrets:\n  db: null\n  b: null\nsecret_init:\n  aws:\n    prefixes: ['aws-sm:app/']\n  secrets:\n    b: {from: 'aws-sm:app/db##AWSCURRENT'}\n",
    );
    chain_run(&sb, &moto)
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/creds", soon.addr),
        )
        .args(["--log-level", "debug", "materialize"])
        .output()
        .expect_ok()
        .stderr_has("expire soon: obtaining new ones");
    assert_eq!(soon.requests(2).len(), 2, "{:?}", soon.events());
    // Reads made together share the credentials fetched just before them.
    let together = fake_for(&reader, None, 300);
    let sb = Sandbox::new();
    sb.config(
        "secrets:\n  a: null\n  b: null\nsecret_init:\n  secrets:\n    a: {from: 'aws-sm:app/db'}\n    b: {from: 'aws-sm:app/db##AWSCURRENT'}\n",
    );
    chain_run(&sb, &moto)
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/creds", together.addr),
        )
        .args(["materialize"])
        .output()
        .expect_ok();
    assert_eq!(together.requests(1).len(), 1, "{:?}", together.events());
}

/// IMDSv2 at `AWS_EC2_METADATA_SERVICE_ENDPOINT`: token PUT, role listing, role credentials,
/// the last two with the token; botocore's `InstanceMetadataProvider` from the same environment
/// makes the same three requests and gets the same key. `AWS_EC2_METADATA_DISABLED=true` sends
/// nothing (77, "no credentials"). An endpoint that never answers fails in about a second (the
/// 1 s default timeout, one attempt), exit 69, with the way out in the message.
#[test]
fn aws_instance_metadata_v2() {
    let value = canary("imds-value");
    let (moto, reader) = moto_with_secret(&value);
    let fake = fake_for(&reader, None, 3_600);
    let sb = Sandbox::new();
    sb.config("secrets:\n  a: null\nsecret_init:\n  secrets:\n    a: {from: 'aws-sm:app/db'}\n");
    chain_run(&sb, &moto)
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &fake.addr)
        .args(["--log-level", "debug", "materialize"])
        .output()
        .expect_ok()
        .stderr_has("aws: instance metadata (IMDSv2) at http://127.0.0.1:")
        .no_leak(&[&reader.secret]);
    assert_eq!(read(&sb.path("out/a")), value);
    let ours = fake.requests(3);
    assert_eq!(
        ours,
        [
            "REQ PUT /latest/api/token auth=no token=no",
            "REQ GET /latest/meta-data/iam/security-credentials/ auth=no token=yes",
            "REQ GET /latest/meta-data/iam/security-credentials/app-role auth=no token=yes",
        ]
    );
    let botocore = botocore_key_id(
        &[(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            &format!("{}/", fake.addr),
        )],
        "iam-role",
    );
    assert_eq!(botocore, reader.id, "botocore reads the fake the same way");
    let all = fake.requests(6);
    assert_eq!(all[3..], ours[..], "botocore's requests are ours");

    // Disabled: not one request.
    chain_run(&sb, &moto)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &fake.addr)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(77)
        .stderr_has("no credentials");
    assert_eq!(
        botocore_key_id(
            &[
                ("AWS_EC2_METADATA_DISABLED", "true"),
                ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &fake.addr)
            ],
            "iam-role"
        ),
        "NONE"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(fake.requests(6).len(), 6, "nothing sent when disabled");

    // No answer at all: fails fast.
    let began = Instant::now();
    chain_run(&sb, &moto)
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &fake.hang)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(69)
        .stderr_has("aws instance metadata at http://127.0.0.1:")
        .stderr_has("set AWS_EC2_METADATA_DISABLED=true");
    let took = began.elapsed();
    assert!(took < Duration::from_secs(4), "took {took:?}");

    // A refusing endpoint (nothing listens): its error, and every place tried before it.
    let closed = format!("http://127.0.0.1:{}", crate::support::free_port());
    chain_run(&sb, &moto)
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &closed)
        .args(["--", "/bin/true"])
        .output()
        .expect_code(69)
        .stderr_has(&format!("aws instance metadata at {closed}"))
        .stderr_has(
            "; tried before it, none set: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, \
             AWS_ROLE_ARN/AWS_WEB_IDENTITY_TOKEN_FILE, profile default in ",
        )
        .stderr_has(", AWS_CONTAINER_CREDENTIALS_FULL_URI/AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
}

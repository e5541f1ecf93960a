//! The aws source against real moto servers (tests/support/moto.rs): Secrets Manager (plain,
//! JSON, binary, versions and stages) and Parameter Store (String, SecureString, versions), each
//! also against an IAM-enforcing moto where signatures and policies are checked; web identity
//! (IRSA) against a second, unenforced server; profiles; and SigV4 known-answer tests against
//! botocore's own signer. Every run sets `AWS_EC2_METADATA_DISABLED=true` and points every
//! endpoint at loopback.

use serde_json::{Value, json};

use crate::support::moto::Moto;
use crate::support::{Run, Sandbox, canary, fed, python, read, root, succeeded};

/// A run with the AWS environment every test uses: metadata off, endpoints on `moto`, a region.
fn aws_run(sb: &Sandbox, moto: &Moto, keys: Option<&(String, String)>) -> Run {
    let mut r = sb.run();
    moto.env(&mut r, sb);
    let (k, s) = keys
        .cloned()
        .unwrap_or_else(|| ("testing".into(), "testing".into()));
    r.env("AWS_ACCESS_KEY_ID", k)
        .env("AWS_SECRET_ACCESS_KEY", s);
    r
}

/// What a scenario stored, to check against.
struct Stored {
    plain: String,
    json_user: String,
    binary: Vec<u8>,
    v1: String,
    v2: String,
    v1_id: String,
    json_arn: String,
    param: String,
    secure: String,
    secure_arn: String,
    param_v1: String,
}

fn store(moto: &Moto, tag: &str) -> Stored {
    let s = Stored {
        plain: canary("sm-plain"),
        json_user: canary("sm-json"),
        binary: [&[0u8, 255, 10, 13][..], canary("sm-bin").as_bytes()].concat(),
        v1: canary("sm-v1"),
        v2: canary("sm-v2"),
        v1_id: String::new(),
        json_arn: String::new(),
        param: canary("ssm-plain"),
        secure: canary("ssm-secure"),
        secure_arn: String::new(),
        param_v1: canary("ssm-v1"),
    };
    let r = moto.admin(json!([
        {"service": "secretsmanager", "method": "create_secret", "args": {"Name": format!("{tag}/plain"), "SecretString": s.plain}},
        {"service": "secretsmanager", "method": "create_secret", "args": {"Name": format!("{tag}/json"),
            "SecretString": json!({"user": s.json_user, "port": 5432}).to_string()}},
        {"service": "secretsmanager", "method": "create_secret", "args": {"Name": format!("{tag}/bin"),
            "SecretBinary": {"b64": crate::support::b64(&s.binary)}}},
        {"service": "secretsmanager", "method": "create_secret", "args": {"Name": format!("{tag}/rot"), "SecretString": s.v1}},
        {"service": "secretsmanager", "method": "put_secret_value", "args": {"SecretId": format!("{tag}/rot"), "SecretString": s.v2}},
        {"service": "ssm", "method": "put_parameter", "args": {"Name": format!("/{tag}/plain"), "Value": s.param_v1, "Type": "String"}},
        {"service": "ssm", "method": "put_parameter", "args": {"Name": format!("/{tag}/plain"), "Value": s.param, "Type": "String", "Overwrite": true}},
        {"service": "ssm", "method": "put_parameter", "args": {"Name": format!("/{tag}/secure"), "Value": s.secure, "Type": "SecureString"}},
        {"service": "ssm", "method": "get_parameter", "args": {"Name": format!("/{tag}/secure")}},
        {"service": "secretsmanager", "method": "list_secret_version_ids", "args": {"SecretId": format!("{tag}/rot")}},
    ]));
    let versions = r[9]["Versions"].as_array().expect("versions");
    let v1_id = versions
        .iter()
        .find(|v| {
            v["VersionStages"]
                .as_array()
                .is_some_and(|s| s.contains(&json!("AWSPREVIOUS")))
        })
        .and_then(|v| v["VersionId"].as_str())
        .expect("previous version id")
        .to_string();
    // moto keeps SecureString encrypted unless asked to decrypt: a read without decryption
    // must not show the value, or the WithDecryption check below proves nothing.
    assert_ne!(r[8]["Parameter"]["Value"], json!(s.secure));
    Stored {
        v1_id,
        json_arn: r[1]["ARN"].as_str().expect("arn").into(),
        secure_arn: r[8]["Parameter"]["ARN"].as_str().expect("arn").into(),
        ..s
    }
}

/// Every Secrets Manager and Parameter Store read in one start, then the missing names.
fn reads_everything(moto: &Moto, keys: Option<&(String, String)>) {
    let s = store(moto, "app");
    let sb = Sandbox::new();
    let refs = [
        ("plain", "aws-sm:app/plain".to_string()),
        ("user", format!("{}#user", s.json_arn)),
        ("port", "aws-sm:app/json#port#AWSCURRENT".into()),
        ("bin", "aws-sm:app/bin".into()),
        ("cur", "aws-sm:app/rot".into()),
        ("prev", "aws-sm:app/rot##AWSPREVIOUS".into()),
        ("byid", format!("aws-sm:app/rot##{}", s.v1_id)),
        ("param", "aws-ssm:/app/plain".into()),
        ("param1", "aws-ssm:/app/plain##1".into()),
        ("secure", "aws-ssm:/app/secure".into()),
        ("securearn", s.secure_arn.clone()),
    ];
    let mut yaml = String::from("secrets:\n  byname: null\n");
    for (n, _) in &refs {
        yaml.push_str(&format!("  {n}: null\n"));
    }
    yaml.push_str(
        "secret_init:\n  aws:\n    prefixes: ['aws-ssm:/app/', 'aws-sm:app/']\n  secrets:\n",
    );
    for (n, r) in &refs {
        yaml.push_str(&format!("    {n}: {{from: '{r}'}}\n"));
    }
    sb.config(&yaml);
    // `byname` is found through the prefixes: /app/byname in SSM does not exist, app/byname in
    // Secrets Manager does.
    let byname = canary("byname");
    moto.admin(json!([{"service": "secretsmanager", "method": "create_secret", "args": {"Name": "app/byname", "SecretString": byname}}]));
    let out = aws_run(&sb, moto, keys).args(["materialize"]).output();
    out.expect_ok();
    let file = |n: &str| std::fs::read(sb.path(&format!("out/{n}"))).expect(n);
    assert_eq!(file("plain"), s.plain.as_bytes());
    assert_eq!(file("user"), s.json_user.as_bytes());
    assert_eq!(file("port"), b"5432");
    assert_eq!(file("bin"), s.binary);
    assert_eq!(file("cur"), s.v2.as_bytes());
    assert_eq!(file("prev"), s.v1.as_bytes());
    assert_eq!(file("byid"), s.v1.as_bytes());
    assert_eq!(file("param"), s.param.as_bytes());
    assert_eq!(file("param1"), s.param_v1.as_bytes());
    assert_eq!(file("secure"), s.secure.as_bytes());
    assert_eq!(file("securearn"), s.secure.as_bytes());
    assert_eq!(file("byname"), byname.as_bytes());
    out.no_leak(&[&s.plain, &s.json_user, &s.v1, &s.v2, &s.param, &s.secure]);

    // Missing names: 69, one line naming the secret and the reference, nothing written.
    for (reference, shown) in [
        ("aws-sm:app/nope", "aws-sm:app/nope"),
        ("aws-ssm:/app/nope", "aws-ssm:/app/nope"),
        ("aws-sm:app/json#nokey", "aws-sm:app/json#nokey"),
        ("aws-ssm:/app/plain##9", "aws-ssm:/app/plain##9"),
        (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:gone",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:gone",
        ),
    ] {
        let sb = Sandbox::new();
        sb.config(&format!(
            "secrets:\n  x: null\nsecret_init:\n  secrets:\n    x: {{from: '{reference}'}}\n"
        ));
        let out = aws_run(&sb, moto, keys).args(["--", "/bin/true"]).output();
        out.expect_code(69)
            .stderr_has(&format!("secret \"x\" ({shown}): not found"));
        assert_eq!(out.stderr().lines().count(), 1, "{}", out.stderr());
        assert!(!sb.path("out").exists());
    }
}

#[test]
fn aws_reads_secrets_and_parameters_from_moto() {
    reads_everything(&Moto::start(), None);
}

/// The same reads against a moto that checks every signature and policy; then a wrong secret
/// key, an unknown key id and a user without the permission are each 77, in one line, with no
/// retry and no value or key in the output.
#[test]
fn aws_reads_against_iam_enforcing_moto() {
    let moto = Moto::enforcing();
    let reader = moto.user(
        "reader",
        &["secretsmanager:GetSecretValue", "ssm:GetParameter"],
    );
    reads_everything(&moto, Some(&reader));
    let other = moto.user("other", &["sts:GetCallerIdentity"]);
    let wrong = (reader.0.clone(), canary("wrong-sk"));
    let unknown = ("AKIAUNKNOWN000000000".to_string(), canary("unknown-sk"));
    for reference in ["aws-sm:app/plain", "aws-ssm:/app/secure"] {
        for (keys, why) in [
            (&wrong, "SignatureDoesNotMatch"),
            (&unknown, "InvalidClientTokenId"),
            (&other, "AccessDenied"),
        ] {
            let sb = Sandbox::new();
            sb.config(&format!(
                "secrets:\n  x: null\nsecret_init:\n  secrets:\n    x: {{from: '{reference}'}}\n"
            ));
            let before = moto.log().matches("POST / ").count();
            let out = aws_run(&sb, &moto, Some(keys))
                .args(["--log-level", "debug", "--", "/bin/true"])
                .output();
            out.expect_code(77)
                .stderr_has(&format!("secret \"x\" ({reference}): HTTP "))
                .stderr_has(why)
                .no_leak(&[&keys.1]);
            assert_eq!(
                moto.log().matches("POST / ").count(),
                before + 1,
                "a refused request is not retried"
            );
        }
    }
}

/// IRSA: a web identity token exchanged at STS (`AWS_ENDPOINT_URL_STS`, an unsigned form POST)
/// for temporary credentials whose session token signs the Secrets Manager read. Runs against an
/// unenforced moto (enforcement would refuse the unsigned STS call); the debug log shows the
/// temporary key id moto's STS issued (ASIA...), and a missing token file is 77.
#[test]
fn aws_web_identity_through_sts() {
    let moto = Moto::start();
    let value = canary("irsa");
    moto.admin(json!([{"service": "secretsmanager", "method": "create_secret", "args": {"Name": "irsa", "SecretString": value}}]));
    let sb = Sandbox::new();
    let jwt = canary("jwt");
    let token = sb.write("token", format!("{jwt}\n"));
    sb.config("secrets:\n  x: null\nsecret_init:\n  secrets:\n    x: {from: 'aws-sm:irsa'}\n");
    let mut run = aws_run(&sb, &moto, None);
    run.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_ENDPOINT_URL")
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &moto.url)
        .env("AWS_ENDPOINT_URL_STS", &moto.url)
        .env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/app")
        .env("AWS_ROLE_SESSION_NAME", "si-test")
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token)
        .args(["--log-level", "debug", "materialize"]);
    let out = run.output();
    out.expect_ok()
        .stderr_has("web identity from environment")
        .stderr_has("credentials for key id ASIA")
        .no_leak(&[&value, &jwt]);
    assert_eq!(read(&sb.path("out/x")), value);
    // The profile form: role_arn + web_identity_token_file in ~/.aws/config.
    let sb2 = Sandbox::new();
    sb2.write(
        "aws/config",
        format!(
            "[profile pod]\nrole_arn = arn:aws:iam::123456789012:role/app\nweb_identity_token_file = {}\nregion = us-east-1\n",
            token.display()
        ),
    );
    sb2.config("secrets:\n  x: null\nsecret_init:\n  secrets:\n    x: {from: 'aws-sm:irsa'}\n");
    let mut run = aws_run(&sb2, &moto, None);
    run.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_REGION")
        .env("AWS_PROFILE", "pod")
        .args(["--log-level", "debug", "materialize"]);
    run.output()
        .expect_ok()
        .stderr_has("web identity from profile pod");
    assert_eq!(read(&sb2.path("out/x")), value);
    // A token file that does not exist: 77, naming the file.
    let mut run = aws_run(&sb, &moto, None);
    run.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/app")
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", sb.path("nope"))
        .args(["--", "/bin/true"]);
    run.output()
        .expect_code(77)
        .stderr_has("AWS web identity token file");
}

/// Profiles against the enforcing moto: the default profile holds a wrong key (77), `AWS_PROFILE`
/// selects one with the right key in the credentials file, another in the config file.
#[test]
fn aws_profiles_against_iam_enforcing_moto() {
    let moto = Moto::enforcing();
    let (id, sk) = moto.user("reader", &["secretsmanager:GetSecretValue"]);
    let value = canary("profile");
    moto.admin(json!([{"service": "secretsmanager", "method": "create_secret", "args": {"Name": "p", "SecretString": value}}]));
    let sb = Sandbox::new();
    sb.write(
        "aws/credentials",
        format!("[default]\naws_access_key_id = {id}\naws_secret_access_key = wrong\n[dev]\naws_access_key_id = {id}\naws_secret_access_key = {sk}\n"),
    );
    sb.write(
        "aws/config",
        format!("[profile cfg]\naws_access_key_id = {id}\naws_secret_access_key = {sk}\nregion = us-east-1\n"),
    );
    sb.config("secrets:\n  x: null\nsecret_init:\n  secrets:\n    x: {from: 'aws-sm:p'}\n");
    let run = |profile: Option<&str>| {
        let mut r = aws_run(&sb, &moto, None);
        r.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .args(["check"]);
        if let Some(p) = profile {
            r.env("AWS_PROFILE", p);
        }
        r.output()
    };
    run(None)
        .expect_code(77)
        .stderr_has("SignatureDoesNotMatch");
    run(Some("dev"))
        .expect_ok()
        .stdout_has("aws-sm:p")
        .no_leak(&[&value, &sk]);
    run(Some("cfg")).expect_ok().no_leak(&[&value, &sk]);
}

/// Refusals before any request: no region, a plain-http endpoint that is not loopback, no
/// credentials (the message does not offer instance metadata when it is disabled), and an
/// oversized value (65).
#[test]
fn aws_refusals() {
    let moto = Moto::start();
    let sb = Sandbox::new();
    sb.config("secrets:\n  x: null\nsecret_init:\n  secrets:\n    x: {from: 'aws-sm:big'}\n");
    let mut r = aws_run(&sb, &moto, None);
    r.env_remove("AWS_REGION").args(["--", "/bin/true"]);
    r.output().expect_code(78).stderr_has("no region");
    let mut r = aws_run(&sb, &moto, None);
    r.env("AWS_ENDPOINT_URL", "http://192.0.2.1:1")
        .args(["--", "/bin/true"]);
    r.output().expect_code(78).stderr_has("plain http");
    let mut r = aws_run(&sb, &moto, None);
    r.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .args(["--", "/bin/true"]);
    let out = r.output();
    out.expect_code(77)
        .stderr_has("no credentials")
        .stderr_has("instance metadata is disabled by AWS_EC2_METADATA_DISABLED");
    moto.admin(json!([{"service": "secretsmanager", "method": "create_secret", "args": {"Name": "big", "SecretString": "x".repeat(5000)}}]));
    let mut r = aws_run(&sb, &moto, None);
    r.args(["--max-secret-bytes", "1000", "--", "/bin/true"]);
    r.output()
        .expect_code(65)
        .stderr_has("secret \"x\" (aws-sm:big)");
}

/// The pod's AWS variables reach the program unchanged (they are the platform's, not inputs).
#[test]
fn aws_variables_are_not_scrubbed() {
    let moto = Moto::start();
    moto.admin(json!([{"service": "secretsmanager", "method": "create_secret", "args": {"Name": "e", "SecretString": "v"}}]));
    let sb = Sandbox::new();
    sb.config("secrets:\n  x: null\nsecret_init:\n  secrets:\n    x: {from: 'aws-sm:e'}\n");
    let out = aws_run(&sb, &moto, None)
        .args([
            "--no-init",
            "--",
            "/bin/sh",
            "-c",
            "echo \"$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY:$AWS_REGION\"",
        ])
        .output();
    out.expect_ok().stdout_has("testing:testing:us-east-1");
}

/// SigV4 known answers: the same requests signed by botocore's `SigV4Auth` (tests/support/
/// sigv4_botocore.py) and by secret-init's signer give byte-equal `Authorization` headers,
/// over query strings, unicode in paths, queries and headers, session tokens, repeated and
/// unsorted parameters, dot segments and whitespace in header values.
#[test]
fn aws_sigv4_matches_botocore() {
    use secret_init::fuzzing::aws::{Credentials, sigv4};
    use secret_init::secret::Secret;
    let cases = json!([
        {"method": "POST", "host": "secretsmanager.us-east-1.amazonaws.com", "path": "/", "params": [],
         "headers": {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "secretsmanager.GetSecretValue"},
         "body": "{\"SecretId\":\"app/db\"}", "region": "us-east-1", "service": "secretsmanager",
         "amz_date": "20261201T204400Z", "key": "AKIDEXAMPLE", "secret": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "token": null},
        {"method": "POST", "host": "127.0.0.1:5000", "path": "/", "params": [],
         "headers": {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonSSM.GetParameter"},
         "body": "{\"Name\":\"/app/db\",\"WithDecryption\":true}", "region": "eu-west-1", "service": "ssm",
         "amz_date": "20260101T000000Z", "key": "ASIAEXAMPLE", "secret": "s/k+=", "token": "IQoJb3JpZ2luX2VjE//session+token=="},
        {"method": "GET", "host": "iam.amazonaws.com", "path": "/caf\u{e9}/./a/../b//c", "params": [["b", "2"], ["a", "z y"], ["a", "1"], ["\u{fc}ml", "\u{2603} ~*"]],
         "headers": {"X-Amz-Meta-Note": "  two   spaces\tand tab  ", "X-Amz-Meta-Name": "gr\u{fc}\u{df}e"},
         "body": "", "region": "us-west-2", "service": "iam",
         "amz_date": "20991231T235959Z", "key": "AKID", "secret": "secret", "token": "t\u{f6}ken"},
        {"method": "PUT", "host": "example.amazonaws.com", "path": "/%41b/", "params": [["k", "a/b=c&d"]],
         "headers": {"Content-Type": "text/plain"}, "body": "caf\u{e9}", "region": "ap-south-1", "service": "execute-api",
         "amz_date": "20150830T123600Z", "key": "AKIDEXAMPLE", "secret": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "token": null},
    ]);
    let py_cases: Vec<Value> = cases
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            let mut c = c.clone();
            let mut headers = c["headers"].as_object().expect("headers").clone();
            headers.insert("Host".into(), c["host"].clone());
            c["headers"] = Value::Object(headers);
            c["url"] = json!(format!(
                "https://{}{}",
                c["host"].as_str().expect("host"),
                c["path"].as_str().expect("path")
            ));
            c
        })
        .collect();
    let out = fed(
        std::process::Command::new(python()).arg(root().join("tests/support/sigv4_botocore.py")),
        Value::Array(py_cases).to_string().as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected: Vec<String> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(expected.len(), 4);
    for (c, want) in cases.as_array().expect("cases").iter().zip(&expected) {
        let s = |k: &str| c[k].as_str().expect(k).to_string();
        let params: Vec<(String, String)> = c["params"]
            .as_array()
            .expect("params")
            .iter()
            .map(|p| {
                (
                    p[0].as_str().expect("k").into(),
                    p[1].as_str().expect("v").into(),
                )
            })
            .collect();
        let query: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let headers: Vec<(String, String)> = c["headers"]
            .as_object()
            .expect("headers")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("v").into()))
            .collect();
        let header_refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let creds = Credentials {
            access_key_id: s("key"),
            secret_access_key: Secret::new(s("secret").into_bytes()),
            session_token: c["token"]
                .as_str()
                .map(|t| Secret::new(t.as_bytes().to_vec())),
            expires_at: None,
        };
        let (method, host, path, body, region, service, date) = (
            s("method"),
            s("host"),
            s("path"),
            s("body"),
            s("region"),
            s("service"),
            s("amz_date"),
        );
        let signed = sigv4::sign(
            &sigv4::Request {
                method: &method,
                host: &host,
                path: &path,
                query: &query,
                headers: &header_refs,
                payload: body.as_bytes(),
                region: &region,
                service: &service,
                amz_date: &date,
            },
            &creds,
        );
        assert_eq!(&signed.authorization, want, "case {c}");
    }
    // A negative control: a changed secret key changes the header.
    assert!(expected.iter().all(|h| h.contains("Signature=")));
}

/// Throttling (a 400 `ThrottlingException`, as the JSON services send it) and a 503 are retried,
/// and the third answer is read. Uses the scripted HTTPS fake (tests/support/fake_https.py),
/// since moto cannot throttle on demand; the fake is proven honest by pointing botocore's own
/// Secrets Manager client at the same script, which also retries twice and reads the value.
#[test]
fn aws_throttling_and_5xx_are_retried() {
    use crate::support::fake_https::Fake;
    let value = canary("throttled");
    let scenario = json!([
        {"status": 400, "json": {"__type": "ThrottlingException", "message": "Rate exceeded"}},
        {"status": 503, "json": {"__type": "ServiceUnavailable"}},
        {"status": 200, "json": {"Name": "t", "SecretString": value, "VersionId": "1"}},
    ]);
    let fake = Fake::start(scenario.clone());
    let sb = Sandbox::new();
    sb.config(&format!(
        "secrets:\n  x: null\nsecret_init:\n  aws:\n    ca_cert: {}\n  secrets:\n    x: {{from: 'aws-sm:t'}}\n",
        fake.ca.display()
    ));
    let mut r = sb.run();
    r.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &fake.addr)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .args(["materialize"]);
    r.output().expect_ok();
    assert_eq!(read(&sb.path("out/x")), value);
    // Event lines are read by a thread; wait (bounded) for the third before counting.
    crate::support::wait_until(std::time::Duration::from_secs(5), || {
        fake.requests("main").len() >= 3
    });
    assert_eq!(fake.requests("main").len(), 3, "{:?}", fake.events());

    let honest = Fake::start(scenario);
    let py = "import sys, boto3\nc = boto3.client('secretsmanager', endpoint_url=sys.argv[1], verify=sys.argv[2], region_name='us-east-1', aws_access_key_id='a', aws_secret_access_key='b')\nprint(c.get_secret_value(SecretId='t')['SecretString'])\n";
    let out = succeeded(
        std::process::Command::new(python())
            .args(["-c", py, &honest.addr, &honest.ca.display().to_string()])
            .env("AWS_EC2_METADATA_DISABLED", "true"),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), value);
    // Event lines are read by a thread; wait (bounded) for the third before counting.
    crate::support::wait_until(std::time::Duration::from_secs(5), || {
        honest.requests("main").len() >= 3
    });
    assert_eq!(honest.requests("main").len(), 3, "{:?}", honest.events());
}

//! Whole-source reads and batching against a real moto server, with a counting proxy
//! (tests/support/counting_proxy.py, loopback) between secret-init and moto so every request is
//! counted by action: 25 listed secrets (`secret_init.aws.secrets`, JSON objects), 15
//! parameters referenced by name, 15 parameters under one path (`parameters_path`, recursive).
//! The request bodies are compared with what botocore's own serializer sends for the same
//! calls through the same proxy.

use serde_json::{Value, json};

use crate::support::moto::{Counting, Moto};
use crate::support::{Run, Sandbox, canary, python, read, succeeded};

/// What was stored, to check against.
struct Bulk {
    /// key k00..k24 → value (one key per listed secret), plus `shared` from the last one.
    keys: Vec<(String, String)>,
    shared: String,
    /// n00..n14 → value (parameters referenced by name).
    names: Vec<(String, String)>,
    /// p00..p09 → value (top-level parameters under the path).
    under: Vec<(String, String)>,
}

fn store(moto: &Moto) -> Bulk {
    let mut calls = Vec::new();
    let mut b = Bulk {
        keys: Vec::new(),
        shared: String::new(),
        names: Vec::new(),
        under: Vec::new(),
    };
    for i in 0..25 {
        let v = canary(&format!("sm{i:02}"));
        let shared = canary(&format!("shared{i:02}"));
        calls.push(json!({"service": "secretsmanager", "method": "create_secret", "args": {
            "Name": format!("bulk/s{i:02}"),
            "SecretString": json!({format!("k{i:02}"): v, "shared": shared, "gone": null}).to_string()}}));
        b.keys.push((format!("k{i:02}"), v));
        b.shared = shared;
    }
    for i in 0..15 {
        let v = canary(&format!("name{i:02}"));
        calls.push(json!({"service": "ssm", "method": "put_parameter", "args": {
            "Name": format!("/names/n{i:02}"), "Value": v, "Type": if i % 2 == 0 { "SecureString" } else { "String" }}}));
        b.names.push((format!("n{i:02}"), v));
    }
    for i in 0..15 {
        let v = canary(&format!("path{i:02}"));
        // Ten at the top, five nested: the read is recursive.
        let name = if i < 10 {
            format!("/app/prod/p{i:02}")
        } else {
            format!("/app/prod/sub/q{i:02}")
        };
        calls.push(
            json!({"service": "ssm", "method": "put_parameter", "args": {
            "Name": name, "Value": v, "Type": "SecureString"}}),
        );
        if i < 10 {
            b.under.push((format!("p{i:02}"), v));
        }
    }
    // Outside the path: never offered.
    calls.push(
        json!({"service": "ssm", "method": "put_parameter", "args": {
        "Name": "/app/production/p00", "Value": canary("outside"), "Type": "String"}}),
    );
    moto.admin(Value::Array(calls));
    b
}

fn config(b: &Bulk) -> String {
    let mut secrets = String::from("secrets:\n  shared: null\n");
    let mut settings = String::from("  secrets:\n");
    for (k, _) in b.keys.iter().chain(&b.under) {
        secrets.push_str(&format!("  {k}: null\n"));
    }
    for (n, _) in &b.names {
        secrets.push_str(&format!("  {n}: null\n"));
        settings.push_str(&format!("    {n}: {{from: 'aws-ssm:/names/{n}'}}\n"));
    }
    let listed: Vec<String> = (0..25).map(|i| format!("bulk/s{i:02}")).collect();
    format!(
        "{secrets}secret_init:\n  aws:\n    secrets: {listed:?}\n    parameters_path: /app/prod/\n{settings}"
    )
}

/// `materialize` of [`config`] at debug level, every request through `proxy`.
fn proxied_run(sb: &Sandbox, moto: &Moto, proxy: &Counting, b: &Bulk, keys: (&str, &str)) -> Run {
    sb.config(&config(b));
    let mut r = sb.run();
    moto.env(&mut r, sb);
    r.env("AWS_ENDPOINT_URL", &proxy.url)
        .env("AWS_ACCESS_KEY_ID", keys.0)
        .env("AWS_SECRET_ACCESS_KEY", keys.1)
        .args(["--log-level", "debug", "materialize"]);
    r
}

fn check_values(sb: &Sandbox, b: &Bulk) {
    for (k, v) in b.keys.iter().chain(&b.names).chain(&b.under) {
        assert_eq!(&read(&sb.path(&format!("out/{k}"))), v, "{k}");
    }
    assert_eq!(
        read(&sb.path("out/shared")),
        b.shared,
        "the last listed secret wins"
    );
}

/// Batched: 2 BatchGetSecretValue (20 + 5), 2 GetParameters (10 + 5), 2 GetParametersByPath
/// pages (10 + 5, NextToken): 6 requests for 55 values. `check` names where each came from.
#[test]
fn aws_whole_source_reads_are_batched() {
    let moto = Moto::start();
    let b = store(&moto);
    let proxy = Counting::new(&moto);
    let sb = Sandbox::new();
    let r = proxied_run(&sb, &moto, &proxy, &b, ("testing", "testing"));
    r.output()
        .expect_ok()
        .stderr_has("aws-ssm:/app/prod/: 15 parameters");
    check_values(&sb, &b);
    let counts = proxy.counts();
    assert_eq!(
        counts,
        [
            ("BatchGetSecretValue".to_string(), 2),
            ("GetParameters".to_string(), 2),
            ("GetParametersByPath".to_string(), 2),
        ]
        .into_iter()
        .collect(),
        "55 values in 6 requests"
    );
    let ours = proxy.requests();
    let batch_sizes: Vec<usize> = ours
        .iter()
        .filter(|(a, _)| a == "BatchGetSecretValue")
        .map(|(_, b)| b["SecretIdList"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(batch_sizes, [20, 5]);

    // check shows each value's origin.
    let mut c = sb.run();
    moto.env(&mut c, &sb);
    c.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args(["check", "--format", "json"]);
    let out = c.output();
    out.expect_ok();
    let text = String::from_utf8_lossy(&out.out.stdout).to_string();
    assert!(text.contains("aws-sm:bulk/s24#shared"), "{text}");
    assert!(text.contains("aws-ssm:/app/prod/p03"), "{text}");
    assert!(text.contains("aws-ssm:/names/n07"), "{text}");

    // botocore's serializer, through the same proxy, sends the same bodies for the same calls.
    let before = proxy.requests().len();
    let py = "import sys, boto3\n\
        kw = dict(endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\n\
        sm = boto3.client('secretsmanager', **kw)\n\
        ssm = boto3.client('ssm', **kw)\n\
        sm.batch_get_secret_value(SecretIdList=['bulk/s%02d' % i for i in range(20)])\n\
        ssm.get_parameters(Names=['/names/n%02d' % i for i in range(10)], WithDecryption=True)\n\
        p = ssm.get_parameters_by_path(Path='/app/prod', Recursive=True, WithDecryption=True, MaxResults=10)\n\
        ssm.get_parameters_by_path(Path='/app/prod', Recursive=True, WithDecryption=True, MaxResults=10, NextToken=p['NextToken'])\n";
    succeeded(
        std::process::Command::new(python())
            .args(["-c", py, &proxy.url])
            .env("AWS_EC2_METADATA_DISABLED", "true"),
    );
    let theirs: Vec<(String, Value)> = proxy.requests()[before..].to_vec();
    let mut ours_sorted = ours.clone();
    ours_sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let first = |list: &[(String, Value)], action: &str| {
        list.iter()
            .find(|(a, _)| a == action)
            .map(|(_, b)| b.clone())
            .expect(action)
    };
    for action in [
        "BatchGetSecretValue",
        "GetParameters",
        "GetParametersByPath",
    ] {
        assert_eq!(first(&ours, action), first(&theirs, action), "{action}");
    }
    let next = |list: &[(String, Value)]| {
        list.iter()
            .filter(|(a, _)| a == "GetParametersByPath")
            .nth(1)
            .map(|(_, b)| b.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()))
    };
    assert_eq!(next(&ours), next(&theirs), "the second page's request");
}

/// Against an IAM-enforcing moto, as a user allowed only the single reads: the first
/// BatchGetSecretValue and the first GetParameters are refused (AccessDenied) and everything is
/// read one by one instead (25 + 15 singles), with the same values; no batch is tried again.
#[test]
fn aws_refused_batches_fall_back_to_single_reads() {
    let moto = Moto::enforcing();
    let b = store(&moto);
    let reader = moto.user(
        "single",
        &[
            "secretsmanager:GetSecretValue",
            "ssm:GetParameter",
            "ssm:GetParametersByPath",
        ],
    );
    let proxy = Counting::new(&moto);
    let sb = Sandbox::new();
    let r = proxied_run(&sb, &moto, &proxy, &b, (&reader.0, &reader.1));
    r.output()
        .expect_ok()
        .stderr_has("reading one by one")
        .no_leak(&[&reader.1]);
    check_values(&sb, &b);
    assert_eq!(
        proxy.counts(),
        [
            ("BatchGetSecretValue".to_string(), 1),
            ("GetSecretValue".to_string(), 25),
            ("GetParameters".to_string(), 1),
            ("GetParameter".to_string(), 15),
            ("GetParametersByPath".to_string(), 2),
        ]
        .into_iter()
        .collect()
    );
}

/// Bad whole-source settings and contents: a listed secret that does not exist (69) or is not a
/// JSON object (65), named in one line with nothing written; a malformed path (78).
#[test]
fn aws_whole_source_refusals() {
    let moto = Moto::start();
    let plain = canary("plain-not-json");
    moto.admin(json!([
        {"service": "secretsmanager", "method": "create_secret", "args": {"Name": "plain", "SecretString": plain}},
    ]));
    for (listed, code, why) in [
        (
            "[nope]",
            69,
            "secret \"a\" (aws-sm:nope): listed in secret_init.aws.secrets, but it does not exist",
        ),
        (
            "[plain]",
            65,
            "secret \"a\" (aws-sm:plain): listed in secret_init.aws.secrets, but its value is not a JSON object",
        ),
        (
            "['a#b']",
            78,
            "secret_init.aws.secrets: \"a#b\": expected a secret name or ARN",
        ),
    ] {
        let sb = Sandbox::new();
        sb.config(&format!(
            "secrets:\n  a: null\nsecret_init:\n  aws:\n    secrets: {listed}\n"
        ));
        let mut r = sb.run();
        moto.env(&mut r, &sb);
        r.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .args(["--", "/bin/true"]);
        r.output()
            .expect_code(code)
            .stderr_has(why)
            .no_leak(&[&plain]);
        assert!(!sb.path("out/a").exists());
    }
    let sb = Sandbox::new();
    sb.config("secrets:\n  a: null\nsecret_init:\n  aws:\n    parameters_path: app/prod\n");
    sb.run()
        .args(["--", "/bin/true"])
        .output()
        .expect_code(78)
        .stderr_has("secret_init.aws.parameters_path: expected a path like /app/prod/");
}

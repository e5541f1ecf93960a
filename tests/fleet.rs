//! The fleet load script (`scripts/fleet`, docs/fleet.md) at N=10, so its machinery cannot rot:
//! a real OpenBao over TLS, AppRole, 20 secrets over 4 KV v2 paths, ten secret-init processes
//! released together through one pipe, requests counted from the server's audit log. The full
//! fleet (50, 200, 500) is a load test and stays out of the normal test command.

use std::process::Command;

use serde_json::Value;

use super::support::{bin, python, root};

/// Runs the script with `args` (and `--timeout 120`); returns its one JSON row.
fn run_script(args: &[&str]) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("fleet.json");
    let out = Command::new(python())
        .arg(root().join("scripts/fleet"))
        .args(["--timeout", "120", "--json"])
        .arg(&json)
        .args(args)
        .env("SI_BIN", bin())
        .output()
        .expect("run scripts/fleet");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "scripts/fleet failed:\n{stderr}");
    let rows: Value =
        serde_json::from_slice(&std::fs::read(&json).expect("fleet.json")).expect("json");
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    rows[0].clone()
}

/// Runs the script with `args` on ten workers starting together; returns its one JSON row.
fn fleet(args: &[&str]) -> Value {
    let mut all = vec!["--n", "10", "--jitter", "on", "--round-timeout", "60"];
    all.extend_from_slice(args);
    let row = run_script(&all);
    assert_eq!(row["n"], 10, "{row}");
    assert_eq!(row["minimum"], 50, "10 logins + 10 x 4 reads: {row}");
    row
}

#[test]
fn ten_simultaneous_starts_all_succeed_with_the_minimum_of_requests() {
    let r = fleet(&[]);
    assert_eq!(r["ok"], 10, "{r}");
    assert_eq!(r["failures"], serde_json::json!({}), "{r}");
    // Counted by the server's audit device, not by the clients: one login and 4 reads each.
    assert_eq!(r["logins"], 10, "{r}");
    assert_eq!(r["reads"], 40, "{r}");
    // Plus one revocation of the login token each, which the audit counts as other.
    assert_eq!(r["other"], 10, "{r}");
    assert_eq!(r["attempts"], 60, "one attempt per request: {r}");
    let p50 = r["p50_ms"].as_f64().expect("p50");
    let p99 = r["p99_ms"].as_f64().expect("p99");
    assert!(p50 > 0.0 && p50 <= p99 && p99 < 30_000.0, "{r}");
}

#[test]
fn negative_control_a_wrong_secret_id_fails_every_start_with_77_and_reads_nothing() {
    let r = fleet(&["--fault", "bad-secret-id"]);
    assert_eq!(r["ok"], 0, "{r}");
    assert_eq!(r["failures"], serde_json::json!({"77": 10}), "{r}");
    // A refused login is not retried, and nothing is read without a token.
    assert_eq!(r["logins"], 10, "{r}");
    assert_eq!(r["reads"], 0, "{r}");
    assert!(
        r["samples"]["77"]
            .as_str()
            .is_some_and(|s| s.contains("login refused")),
        "{r}"
    );
}

#[test]
fn a_fleet_started_against_a_sealed_server_retries_and_recovers_when_it_is_unsealed() {
    let r = fleet(&["--fault", "sealed", "--seal-for", "0.5"]);
    assert_eq!(r["ok"], 10, "{r}");
    // Sealed requests get 503 and are not audited: the clients' own attempt lines show the
    // retries, the audit log shows that each request was served exactly once after the unseal.
    assert!(r["attempts"].as_u64().expect("attempts") > 50, "{r}");
    assert_eq!(r["requests"], 50, "{r}");
}

/// The refresh mode's machinery at N=10 (the figure itself, N=200 over 6 × 10 s, is in
/// docs/fleet.md): ten supervised instances polling every second for 4 s; the audit log's reads
/// are about one per instance, path and interval (a small fleet's phases make it ±25%), none
/// exits, and no instance reads in a burst (the busiest second is not the whole fleet's reads).
#[test]
fn a_small_refreshing_fleet_reads_once_per_path_and_interval() {
    let r = &run_script(&[
        "--mode",
        "refresh",
        "--n",
        "10",
        "--interval",
        "1",
        "--intervals",
        "4",
    ]);
    assert_eq!(r["alive"], 10, "{r}");
    assert_eq!(r["expected"], 160, "10 x 4 paths x 4 intervals: {r}");
    let ratio = r["ratio"].as_f64().expect("ratio");
    assert!((0.75..=1.25).contains(&ratio), "{r}");
    assert!(r["busiest_second"].as_u64().expect("busiest") < 100, "{r}");
}

/// The throttling fakes of `scripts/fleet --cloud` are honest: the real SDKs, pointed at them,
/// read what they serve and see their quota's answer as the services send it. boto3 (retries
/// off) gets `ThrottlingException` past an SSM and a `BatchGetSecretValue` quota (five a minute
/// here: the documented 40 and 100 a second are the same limiter's defaults, tests/support/
/// quota.py); google-cloud-secret-manager sees the 429 as `TooManyRequests`; the Azure SDK's
/// retry policy takes the fake's 429 and its `Retry-After` as retryable (a quota of one read a
/// second) and ends with the values. Then a small fleet of each cloud starts through the script with no failure.
#[test]
fn throttling_fakes_are_honest_against_the_sdks_and_a_small_fleet_starts() {
    use crate::support::fake_azure::FakeAzure;
    use crate::support::fake_gcp::FakeGcp;
    use crate::support::{b64, canary, spawn_script, stop_by_pid, wait_until};
    use serde_json::json;
    use std::time::Duration;

    // AWS, the documented quotas.
    let dir = tempfile::tempdir().expect("tempdir");
    let (sv, pv) = (canary("fake-aws-secret"), canary("fake-aws-param"));
    let cfg = dir.path().join("aws.json");
    std::fs::write(
        &cfg,
        // Five a minute for both: the fake's own limiter, whatever this machine's speed.
        json!({"secrets": {"app/s": sv}, "parameters": {"/app/p": pv},
               "quota": {"aws-ssm": [5, 60], "aws-batch": [5, 60]}})
        .to_string(),
    )
    .expect("config");
    let (mut child, events) = spawn_script("fake_aws.py", &cfg);
    let mut port = String::new();
    wait_until(Duration::from_secs(20), || {
        let e = events.lock().expect("lock");
        if let Some(l) = e.iter().find(|l| l.starts_with("READY ")) {
            port = l[6..].to_string();
        }
        !port.is_empty()
    });
    let py = r#"
import json, sys, boto3, botocore.config, botocore.exceptions
cfg = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b", config=cfg)
sm, ssm = boto3.client("secretsmanager", **kw), boto3.client("ssm", **kw)
out = {"secret": sm.get_secret_value(SecretId="app/s")["SecretString"],
       "batch": [v["SecretString"] for v in sm.batch_get_secret_value(SecretIdList=["app/s"])["SecretValues"]],
       "param": ssm.get_parameter(Name="/app/p", WithDecryption=True)["Parameter"]["Value"]}
def burst(call, n):
    codes = []
    for _ in range(n):
        try:
            call()
        except botocore.exceptions.ClientError as e:
            codes.append(e.response["Error"]["Code"])
    return codes
out["ssm"] = burst(lambda: ssm.get_parameters(Names=["/app/p"], WithDecryption=True), 8)
out["batch_burst"] = burst(lambda: sm.batch_get_secret_value(SecretIdList=["app/s"]), 8)
print(json.dumps(out))
"#;
    let out = crate::support::succeeded(
        Command::new(python())
            .args(["-c", py, &format!("http://127.0.0.1:{port}")])
            .env("AWS_EC2_METADATA_DISABLED", "true"),
    );
    stop_by_pid(&mut child);
    let got: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(got["secret"], sv.as_str());
    assert_eq!(got["batch"][0], sv.as_str());
    assert_eq!(got["param"], pv.as_str());
    for k in ["ssm", "batch_burst"] {
        let codes = got[k].as_array().expect("codes");
        // One call of each went before the burst: 4 of the 8 fit the quota of 5.
        assert_eq!(codes.len(), 4, "{k}: not throttled past the quota: {got}");
        assert!(
            codes.iter().all(|c| c == "ThrottlingException"),
            "{k}: {got}"
        );
    }

    // GCP: the SDK reads the first secret and takes the quota's 429 for what it is,
    // `TooManyRequests` (its REST transport maps HTTP 429 there, and its default retry, for
    // the gRPC `ResourceExhausted`, does not retry it).
    let (a, b) = (canary("fake-gcp-a"), canary("fake-gcp-b"));
    let gcp = FakeGcp::start(json!({
        "secrets": {"projects/proj-1/secrets/a": [b64(a.as_bytes())], "projects/proj-1/secrets/b": [b64(b.as_bytes())]},
        "quota": {"gcp-access": [1, 60]},
    }));
    let names = [
        "projects/proj-1/secrets/a/versions/latest",
        "projects/proj-1/secrets/b/versions/latest",
    ];
    let got = gcp.real_client("metadata", &names);
    assert_eq!(got[names[0]]["b64"], b64(a.as_bytes()), "{got}");
    assert_eq!(got[names[1]]["error"], "TooManyRequests", "{got}");
    let access = gcp.requests("/v1/projects/proj-1/secrets/");
    assert!(
        access.iter().any(|l| l.contains(" status=429 ")),
        "{access:?}"
    );

    // Azure: the SDK's retry honours the fake's Retry-After.
    let azure = FakeAzure::start(json!({
        "secrets": {
            "a": {"current": "0".repeat(32), "versions": {"0".repeat(32): a}},
            "b": {"current": "0".repeat(32), "versions": {"0".repeat(32): b}},
        },
        "quota": {"azure-get": [1, 1.0]},
    }));
    let token = dir.path().join("token");
    std::fs::write(&token, azure.get("federated_token")).expect("token");
    let got = azure.sdk_read(&token, &[("a", None), ("b", None)]);
    for cred in ["client_secret", "workload_identity", "app_service", "imds"] {
        assert_eq!(got[cred]["a"], a.as_str(), "{got}");
        assert_eq!(got[cred]["b"], b.as_str(), "{got}");
    }
    assert!(!azure.requests("throttled").is_empty(), "no 429 seen");

    // A fleet of ten of each cloud through the script: all start, every value right.
    for cloud in ["aws", "aws-one", "ssm", "gcp", "azure"] {
        let row = run_script(&[
            "--cloud",
            cloud,
            "--n",
            "10",
            "--jitter",
            "on",
            "--round-timeout",
            "60",
        ]);
        assert_eq!(row["ok"], 10, "{cloud}: {row}");
        assert_eq!(row["failures"], json!({}), "{cloud}: {row}");
        assert!(
            row["reads_ok"].as_u64() >= row["minimum"].as_u64(),
            "{cloud}: {row}"
        );
    }
}

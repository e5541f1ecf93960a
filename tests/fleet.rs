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

//! Observability (docs/observability.md) against the real binary: the metrics endpoint scraped
//! and parsed by Prometheus' own tools (the official Python client's parser and `promtool check
//! metrics`) while a secret changes in a real OpenBao; `status` and `status --ready` flipping
//! when the store goes away or a lease expires; the audit trail parsed line by line; a canary
//! value in none of them, nor in the logs at trace level; and the metrics server under a bounded
//! flood of connections, slow clients and oversized requests while a refresh still goes through.
//! secret-init is PID 1 of a fresh PID namespace (bubblewrap), as in tests/refresh.rs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::init::{Ns, libc_sig};
use crate::refresh::{expect_prefix, status_until};
use crate::support::bao::Bao;
use crate::support::*;

/// A program printing `ready` once and `hup` on each SIGHUP; ends on SIGTERM (143).
fn waiter() -> Vec<String> {
    vec![
        "/bin/sh".into(),
        "-c".into(),
        "trap 'echo hup' HUP; echo ready; while :; do sleep 0.05; done".into(),
    ]
}

/// One HTTP exchange with the metrics endpoint: the status code and the body.
fn http(port: u16, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the metrics port");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("test setup");
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (code, body)
}

pub(crate) fn scrape(port: u16) -> String {
    let (code, body) = http(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(code, 200, "{body}");
    body
}

/// The samples as the official Prometheus client's parser reads them:
/// `name{label=value,...}` (labels sorted) → value.
pub(crate) fn parsed(text: &str) -> std::collections::BTreeMap<String, f64> {
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        out[f"{s.name}{{{labels}}}"] = s.value
print(json.dumps(out))
"#;
    let out = fed(Command::new(python()).args(["-c", script]), text.as_bytes());
    assert!(
        out.status.success(),
        "prometheus_client refused the metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("parser output")
}

/// `promtool check metrics` (Debian's prometheus package): the text is valid and follows the
/// naming conventions (it reports lint problems and exits non-zero).
fn promtool(text: &str) {
    let out = fed(
        Command::new("promtool").args(["check", "metrics"]),
        text.as_bytes(),
    );
    assert!(
        out.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `secret-init status ARGS --status-file FILE` from outside the namespace, as a probe would.
fn status(file: &Path, args: &[&str]) -> Out {
    let mut run = Run::new();
    run.arg("status").args(args).arg("--status-file").arg(file);
    run.output()
}

/// Each audit record's (event, then), in order ("" where a record lacks one).
fn events(audit: &[Value]) -> Vec<(&str, &str)> {
    audit
        .iter()
        .map(|r| {
            (
                r["event"].as_str().unwrap_or(""),
                r["then"].as_str().unwrap_or(""),
            )
        })
        .collect()
}

fn audit_lines(p: &Path) -> Vec<Value> {
    read(p)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line {l:?}: {e}")))
        .collect()
}

/// config.yaml: `db` from `secret/data/app`, refresh every 1 s without jitter, the status
/// file, metrics on `port`, the audit trail; `extra` goes under `vault:`.
fn yaml(bao: &Bao, sb: &Sandbox, port: u16, extra: &str) -> String {
    format!(
        "secrets:\n  db: null\nsecret_init:\n  output_dir: {}\n  refresh:\n    interval: 1s\n    jitter: 0%\n    \
         status_file: {}\n  metrics:\n    listen: 127.0.0.1:{port}\n  audit:\n    file: {}\n  vault:\n{}    \
         paths: [secret/data/app]\n{extra}",
        sb.path("out").display(),
        sb.path("status.json").display(),
        sb.path("audit.jsonl").display(),
        bao.vault_yaml()
    )
}

fn stop(mut ns: Ns) -> String {
    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::TERM);
    assert_eq!(ns.finish(), 143, "{}", ns.stderr());
    ns.stderr()
}

#[test]
fn metrics_status_and_audit_follow_a_change_in_openbao_and_never_show_a_value() {
    let bao = Bao::start();
    let (v1, v2) = (canary("db-v1"), canary("db-v2"));
    bao.put_v2("app", &[("db", &v1)]);
    let sb = Sandbox::new();
    sb.mkdir("out");
    let port = free_port();
    sb.config(&yaml(&bao, &sb, port, ""));
    let mut run = sb.run();
    run.env("VAULT_TOKEN", bao.reader_token())
        .args(["--sources", "vault", "--log-level", "trace", "--"])
        .args(waiter());
    let ns = Ns::start(&run, &[]);
    expect_prefix(&ns, "ready", Duration::from_secs(10));
    let file = sb.path("status.json");
    // A first pass that found nothing new: the counters have moved once.
    status_until(&file, Duration::from_secs(10), &ns, |s| {
        s["last_attempt"].is_number() && s["ok"] == true
    });
    let first_text = scrape(port);
    promtool(&first_text);
    let first = parsed(&first_text);
    let key_ok = "secret_init_secret_last_success_timestamp_seconds{secret=db,source=vault}";
    let refreshes = "secret_init_refreshes_total{source=vault}";
    let vault_requests = "secret_init_provider_request_duration_seconds_count{service=vault}";
    assert!(first[key_ok] > 1.7e9, "{first_text}");
    assert!(first[refreshes] >= 1.0, "{first_text}");
    assert!(
        first[vault_requests] >= 2.0,
        "the start's read and a poll: {first_text}"
    );
    assert_eq!(first["secret_init_changes_published_total{}"], 0.0);
    // The status command: one row, version 1, ready.
    let st: Value =
        serde_json::from_str(&status(&file, &["--format", "json"]).expect_ok().stdout())
            .expect("status JSON");
    let row = &st["secrets"][0];
    assert_eq!(
        (row["name"].as_str(), row["version"].as_str()),
        (Some("db"), Some("1")),
        "{st}"
    );
    assert_eq!(row["result"], "ok");
    assert_eq!(st["ready"], true, "{st}");
    status(&file, &["--ready"])
        .expect_ok()
        .stdout_has("vault:secret/data/app#db");

    bao.put_v2("app", &[("db", &v2)]);
    expect_prefix(&ns, "hup", Duration::from_secs(10));
    let st = status_until(&file, Duration::from_secs(5), &ns, |s| {
        s["secrets"][0]["version"] == "2"
    });
    assert_eq!(st["changes_published"], 1);
    // The timestamps and counters moved.
    let after_text = scrape(port);
    promtool(&after_text);
    let after = parsed(&after_text);
    assert!(after[key_ok] > first[key_ok], "{after_text}");
    assert!(after[refreshes] > first[refreshes]);
    assert!(after[vault_requests] > first[vault_requests]);
    assert_eq!(after["secret_init_changes_published_total{}"], 1.0);
    assert_eq!(
        after["secret_init_secret_failing{secret=db,source=vault}"],
        0.0
    );
    let table = status(&file, &[]).expect_ok().stdout();
    let log = stop(ns);
    // The audit trail holds exactly the publishes that happened: the start (version 1) and the
    // change (version 2), each with its source, destination, the PID and what followed.
    let audit = audit_lines(&sb.path("audit.jsonl"));
    let events = events(&audit);
    assert_eq!(
        events,
        [("start", "start"), ("refresh", "signal SIGHUP")],
        "{audit:?}"
    );
    for (rec, version) in audit.iter().zip(["1", "2"]) {
        assert_eq!(
            rec["published"],
            json!([{"secret": "db", "source": "vault:secret/data/app#db", "source_kind": "vault",
                    "version": version, "destinations": [sb.path("out/db").display().to_string()]}]),
            "{rec}"
        );
        assert!(
            rec["program_pid"].as_i64().expect("test setup") > 1,
            "{rec}"
        );
        assert!(rec["time"].as_f64().expect("test setup") > 1.7e9);
    }
    assert_eq!(mode(&sb.path("audit.jsonl")), 0o600);
    // No value anywhere: not in the metrics, the status (file, table, JSON), the audit trail, or
    // the trace-level log.
    for (what, text) in [
        ("metrics", first_text.as_str()),
        ("metrics", after_text.as_str()),
        ("status file", read(&file).as_str()),
        ("status table", table.as_str()),
        ("audit", read(&sb.path("audit.jsonl")).as_str()),
        ("log", log.as_str()),
    ] {
        for v in [&v1, &v2, &bao.root] {
            assert!(
                !text.contains(v.as_str()),
                "{what} shows a value or token:\n{text}"
            );
        }
    }
    assert!(
        log.contains("GET https://127.0.0.1"),
        "trace logging was on: {log}"
    );
}

#[test]
fn ready_flips_when_the_store_goes_away_with_the_reason_in_status_and_metrics() {
    let bao = Bao::start();
    let value = canary("db");
    bao.put_v2("app", &[("db", &value)]);
    let sb = Sandbox::new();
    sb.mkdir("out");
    let port = free_port();
    sb.config(&yaml(
        &bao,
        &sb,
        port,
        "    timeout: 300ms\n    deadline: 600ms\n    retries: 0\n",
    ));
    let mut run = sb.run();
    run.env("VAULT_TOKEN", bao.reader_token())
        .args(["--sources", "vault", "--"])
        .args(waiter());
    let ns = Ns::start(&run, &[]);
    expect_prefix(&ns, "ready", Duration::from_secs(10));
    let file = sb.path("status.json");
    status_until(&file, Duration::from_secs(10), &ns, |s| {
        s["last_attempt"].is_number()
    });
    status(&file, &["--ready"]).expect_ok();
    drop(bao);
    // Three failed refreshes in a row (1 s, then backoff 1 s and 2 s): not ready, and why.
    let st = status_until(&file, Duration::from_secs(20), &ns, |s| {
        s["failures_in_a_row"].as_u64() >= Some(3)
    });
    assert_eq!(st["reasons"], json!(["store_unreachable"]), "{st}");
    assert_eq!(st["secrets"][0]["reason"], "store_unreachable", "{st}");
    let probe = status(&file, &["--ready"]);
    probe
        .expect_code(69)
        .stderr_has("not ready: secret \"db\" (vault:secret/data/app#db): failing for")
        .stderr_has("(reason: store_unreachable)");
    let json: Value =
        serde_json::from_str(&status(&file, &["--format", "json"]).expect_ok().stdout())
            .expect("test setup");
    assert_eq!(json["ready"], false);
    assert_eq!(json["unready"][0]["reason"], "store_unreachable");
    let m = parsed(&scrape(port));
    assert!(
        m["secret_init_refresh_failures_total{reason=store_unreachable,source=vault}"] >= 3.0,
        "{m:?}"
    );
    assert_eq!(m["secret_init_secret_failing{secret=db,source=vault}"], 1.0);
    // The audit trail: the start, then one line per failed refresh, each with its reason.
    let audit = audit_lines(&sb.path("audit.jsonl"));
    assert_eq!(audit[0]["event"], "start");
    let failed: Vec<&Value> = audit[1..].iter().collect();
    assert!(failed.len() >= 3, "{audit:?}");
    for f in failed {
        assert_eq!(f["event"], "refresh_failed", "{f}");
        assert_eq!(f["errors"][0]["reason"], "store_unreachable", "{f}");
    }
    let log = stop(ns);
    assert!(!log.contains(&value));
    no_value(&sb, &value);
}

fn no_value(sb: &Sandbox, value: &str) {
    for f in ["status.json", "audit.jsonl"] {
        assert!(!read(&sb.path(f)).contains(value), "{f}");
    }
}

#[test]
fn ready_flips_when_a_lease_expires_with_the_store_gone() {
    let bao = Bao::start();
    bao.put_v2("app", &[("db", &canary("db"))]);
    let token = crate::renewal::pki_web_token(&bao, "3s");
    let sb = Sandbox::new();
    sb.mkdir("out");
    let port = free_port();
    sb.config(&yaml(
        &bao,
        &sb,
        port,
        "    timeout: 300ms\n    deadline: 600ms\n    retries: 0\n    dynamic:\n      web:\n        path: pki/issue/web\n        \
         data: {common_name: app.internal, ttl: 3s}\n        fields: {cert: certificate, key: private_key}\n",
    ));
    let mut run = sb.run();
    run.env("VAULT_TOKEN", &token)
        .args(["--sources", "vault", "--refresh", "1h", "--"])
        .args(waiter());
    let ns = Ns::start(&run, &[]);
    expect_prefix(&ns, "ready", Duration::from_secs(10));
    let file = sb.path("status.json");
    status_until(&file, Duration::from_secs(10), &ns, |s| {
        s["secrets"].as_array().is_some_and(|a| !a.is_empty())
    });
    status(&file, &["--ready"]).expect_ok();
    let m = parsed(&scrape(port));
    let expiry = m["secret_init_secret_lease_expiry_timestamp_seconds{secret=web,source=vault}"];
    assert!(expiry > 1.7e9, "{m:?}");
    drop(bao);
    // The re-issue at 2/3 of 3 s fails; the lease runs out; the probe says so.
    let t0 = Instant::now();
    let probe = loop {
        let p = status(&file, &["--ready"]);
        if p.code() != 0 || t0.elapsed() > Duration::from_secs(15) {
            break p;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    probe
        .expect_code(69)
        .stderr_has("not ready: secret \"web\"")
        .stderr_has("its lease expired")
        .stderr_has("(reason: lease_expired)");
    stop(ns);
}

/// Threads and resident memory of a process, from /proc.
fn threads_and_rss(pid: i32) -> (u64, u64) {
    let s = read(Path::new(&format!("/proc/{pid}/status")));
    let field = |k: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("Threads:"), field("VmRSS:"))
}

#[test]
fn the_metrics_server_survives_floods_slow_clients_and_oversized_requests() {
    let sb = Sandbox::new();
    let secrets = sb.mkdir("secrets");
    let value = canary("api");
    std::fs::write(secrets.join("api"), &value).expect("test setup");
    sb.mkdir("out");
    let port = free_port();
    sb.config(&format!(
        "secrets:\n  api: null\nsecret_init:\n  secrets_dirs: [{}]\n  output_dir: {}\n  refresh:\n    interval: 1h\n    \
         status_file: {}\n  metrics:\n    listen: 127.0.0.1:{port}\n",
        secrets.display(),
        sb.path("out").display(),
        sb.path("status.json").display()
    ));
    let mut run = sb.run();
    run.env_remove("SECRET_INIT_SECRETS_DIR")
        .args(["--sources", "file", "--"])
        .args(waiter());
    let ns = Ns::start(&run, &[]);
    expect_prefix(&ns, "ready", Duration::from_secs(10));
    let pid = ns.host_pid();
    scrape(port);
    let (threads0, rss0) = threads_and_rss(pid);
    // Read-only, GET /metrics only.
    assert_eq!(http(port, b"POST /metrics HTTP/1.1\r\n\r\n").0, 405);
    assert_eq!(http(port, b"GET /debug HTTP/1.1\r\n\r\n").0, 404);
    assert_eq!(http(port, b"BREW /metrics HTCPCP/1.0\r\n\r\n").0, 400);
    let mut big = b"GET /metrics HTTP/1.1\r\nX-Pad: ".to_vec();
    big.extend(vec![b'a'; 64 * 1024]);
    big.extend(b"\r\n\r\n");
    assert!(
        matches!(http(port, &big).0, 431 | 0),
        "an oversized request is refused"
    );
    // Slow clients (slowloris): 50 connections that send half a request line and stay.
    let slow: Vec<TcpStream> = (0..50)
        .filter_map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
            let _ = s.write_all(b"GET /met");
            Some(s)
        })
        .collect();
    // A flood of 500 connections that each ask and hang up.
    for _ in 0..500 {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n");
        }
    }
    let (threads, rss) = threads_and_rss(pid);
    eprintln!("under load: {threads} threads (idle {threads0}), RSS {rss} KiB (idle {rss0} KiB)");
    assert!(
        threads <= threads0 + 4,
        "at most 4 connection threads: {threads}"
    );
    assert!(
        rss < rss0 + 8 * 1024,
        "memory stays bounded: {rss0} → {rss} KiB"
    );
    // The refresh is not held up meanwhile: a changed file reaches the program.
    std::fs::write(secrets.join("api.tmp"), canary("api-2")).expect("test setup");
    std::fs::rename(secrets.join("api.tmp"), secrets.join("api")).expect("test setup");
    expect_prefix(&ns, "hup", Duration::from_secs(5));
    // The slow clients are cut off at the deadline, and scrapes are answered again.
    let t0 = Instant::now();
    let mut answered = false;
    while t0.elapsed() < Duration::from_secs(15) && !answered {
        let (code, _) = http(port, b"GET /metrics HTTP/1.1\r\n\r\n");
        answered = code == 200;
        if !answered {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    assert!(
        answered,
        "scrapes answered after the slow clients' deadline"
    );
    drop(slow);
    let m = parsed(&scrape(port));
    assert_eq!(m["secret_init_changes_published_total{}"], 1.0);
    let log = stop(ns);
    assert!(!log.contains(&value));
}

#[test]
fn status_is_a_command_and_needs_its_file() {
    let sb = Sandbox::new();
    sb.config("secrets: {}\n");
    // No status file configured: a usage error naming the ways to give one.
    sb.run()
        .arg("status")
        .output()
        .expect_code(64)
        .stderr_has("--status-file");
    // Configured but not there: not ready (69), saying why.
    let missing = sb.path("nope.json");
    status(&missing, &["--ready"])
        .expect_code(69)
        .stderr_has("no_status");
    // A program named `status` runs after `--`.
    sb.run()
        .args(["--", "/bin/sh", "-c", "echo ran"])
        .output()
        .expect_ok()
        .stdout_has("ran");
    // Found from config.yaml's setting, as a probe in the same container finds it.
    let file = sb.write(
        "st.json",
        r#"{"secrets": [{"name": "db", "required": true, "source": "file:/secrets/db", "result": "ok", "fetched": 1.8e9}], "failures_in_a_row": 0}"#,
    );
    sb.config(&format!(
        "secrets: {{}}\nsecret_init:\n  refresh:\n    interval: 1m\n    status_file: {}\n",
        file.display()
    ));
    sb.run()
        .args(["status", "--ready"])
        .output()
        .expect_ok()
        .stdout_has("file:/secrets/db");
    sb.run()
        .args(["status", "--help"])
        .output()
        .expect_ok()
        .stdout_has("--ready");
}

#[test]
fn check_json_carries_a_reason_code_for_every_problem() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  db: null\n  big: null\nsecret_init:\n  max_secret_bytes: 4\n");
    let secrets = sb.mkdir("secrets");
    std::fs::write(secrets.join("big"), "too large").expect("test setup");
    let out = sb
        .run()
        .args([
            "check",
            "--format",
            "json",
            "--sources",
            "file",
            "--secrets-dir",
        ])
        .arg(&secrets)
        .output();
    out.expect_code(65);
    let v: Value = serde_json::from_str(&out.stdout()).expect("JSON");
    let reasons: Vec<(&str, &str)> = v["errors"]
        .as_array()
        .expect("test setup")
        .iter()
        .map(|e| {
            (
                e["secret"].as_str().expect("test setup"),
                e["reason"].as_str().expect("test setup"),
            )
        })
        .collect();
    assert!(reasons.contains(&("db", "secret_missing")), "{v}");
    assert!(reasons.iter().any(|(s, _)| *s == "big"), "{v}");
    let row = v["secrets"]
        .as_array()
        .expect("test setup")
        .iter()
        .find(|r| r["name"] == "db")
        .expect("test setup");
    assert_eq!(row["reason"], "secret_missing", "{v}");
}

#[test]
fn bad_metrics_and_audit_settings_stop_the_start_with_nothing_written() {
    for (section, want) in [
        (
            "  metrics:\n    listen: localhost:9464\n",
            "a host name is not resolved",
        ),
        ("  metrics:\n    listen: unix:m.sock\n", "absolute path"),
        ("  metrics: {}\n", "listen is required"),
        (
            "  audit:\n    file: audit.jsonl\n",
            "an absolute path, or stderr",
        ),
        (
            "  audit:\n    file: /nonexistent-dir/a.jsonl\n",
            "its directory does not exist",
        ),
        ("  metrics:\n    listne: 127.0.0.1:1\n", "listne"),
    ] {
        let sb = Sandbox::new();
        sb.mkdir("out");
        sb.config(&format!(
            "secrets:\n  db: x\nsecret_init:\n  output_dir: {}\n{section}",
            sb.path("out").display()
        ));
        let out = sb.run().args(["--init", "--", "/bin/true"]).output();
        assert!(matches!(out.code(), 73 | 78), "{section}: {}", out.stderr());
        out.stderr_has(want);
        assert!(
            tree(&sb.path("out")).is_empty(),
            "{section}: nothing written"
        );
    }
}

/// A sandbox whose root is 0755 and a `log` dir in it, 0755: another user can reach what is
/// inside, so only a file's own mode keeps it out.
fn open_sandbox() -> Sandbox {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    std::fs::set_permissions(sb.dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let log = sb.mkdir("log");
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    sb
}

#[test]
fn under_user_the_audit_file_and_the_socket_are_out_of_the_programs_reach() {
    let sb = open_sandbox();
    sb.mkdir("out");
    let (audit, sock) = (sb.path("log/audit.jsonl"), sb.path("log/m.sock"));
    sb.config(&format!(
        "secrets:\n  db: dflt\nsecret_init:\n  output_dir: {}\n  metrics:\n    listen: unix:{}\n  audit:\n    file: {}\n",
        sb.path("out").display(),
        sock.display(),
        audit.display()
    ));
    let probe = format!(
        "cat {a} >/dev/null 2>&1 && echo audit-readable || echo audit-unreadable; \
         test -w {a} && echo audit-writable || echo audit-unwritable; \
         test -w {s} && echo socket-writable || echo socket-unwritable; id -u",
        a = audit.display(),
        s = sock.display()
    );
    let out = sb
        .run()
        .args(["--init", "--user", "65534:65534", "--", "/bin/sh", "-c"])
        .arg(&probe)
        .output();
    out.expect_ok();
    assert_eq!(
        out.stdout().lines().collect::<Vec<_>>(),
        [
            "audit-unreadable",
            "audit-unwritable",
            "socket-unwritable",
            "65534"
        ],
        "{}",
        out.stderr()
    );
    assert_eq!(mode(&audit), 0o600);
    let rec = &audit_lines(&audit)[0];
    assert_eq!(rec["event"], "start");
    assert_eq!(rec["published"][0]["secret"], "db");
    // A directory the program's user can change: refused before anything is written.
    let shared = sb.mkdir("shared");
    std::fs::set_permissions(&shared, std::os::unix::fs::PermissionsExt::from_mode(0o777))
        .expect("chmod");
    for (section, what) in [
        (
            format!("  audit:\n    file: {}\n", shared.join("a.jsonl").display()),
            "secret_init.audit.file",
        ),
        (
            format!(
                "  metrics:\n    listen: unix:{}\n",
                shared.join("m.sock").display()
            ),
            "secret_init.metrics.listen",
        ),
    ] {
        sb.config(&format!(
            "secrets:\n  db: dflt\nsecret_init:\n  output_dir: {}\n{section}",
            sb.path("out2").display()
        ));
        sb.run()
            .args(["--init", "--user", "65534:65534", "--", "/bin/true"])
            .output()
            .expect_code(78)
            .stderr_has(what)
            .stderr_has("out of the program's reach");
        assert!(!sb.path("out2").exists(), "nothing written");
    }
}

#[test]
fn metrics_on_a_unix_socket_are_for_our_user_only() {
    use std::os::unix::net::UnixStream;
    let sb = Sandbox::new();
    sb.mkdir("out");
    let sock = sb.path("m.sock");
    // A stale socket of an earlier run is replaced.
    drop(std::os::unix::net::UnixListener::bind(&sock).expect("bind"));
    sb.config(&format!(
        "secrets:\n  db: dflt\nsecret_init:\n  output_dir: {}\n  metrics:\n    listen: unix:{}\n",
        sb.path("out").display(),
        sock.display()
    ));
    let mut run = sb.run();
    run.args(["--"]).args(waiter());
    let ns = Ns::start(&run, &[]);
    expect_prefix(&ns, "ready", Duration::from_secs(10));
    assert_eq!(mode(&sock), 0o600);
    let mut s = UnixStream::connect(&sock).expect("connect");
    s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n")
        .expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    let body = text.split_once("\r\n\r\n").expect("a body").1;
    promtool(body);
    let m = parsed(body);
    assert!(m["secret_init_start_time_seconds{}"] > 1.7e9);
    stop(ns);
    // Something else in the way (a regular file) is not replaced.
    std::fs::remove_file(&sock).ok();
    std::fs::write(&sock, "mine").expect("write");
    sb.run()
        .args(["--init", "--", "/bin/true"])
        .output()
        .expect_code(73)
        .stderr_has("something else is in the way");
    assert_eq!(read(&sock), "mine");
}

#[test]
fn the_audit_trail_of_an_exec_start_names_the_programs_pid_and_rotates_past_its_cap() {
    let sb = Sandbox::new();
    sb.mkdir("out");
    let audit = sb.path("audit.jsonl");
    // An earlier trail near its 4096-byte cap: the start's line goes to a new file.
    let old = format!("{}\n", json!({"event": "old", "pad": "x".repeat(4000)}));
    std::fs::write(&audit, &old).expect("write");
    sb.config(&format!(
        "secrets:\n  db: dflt\nsecret_init:\n  output_dir: {}\n  audit:\n    file: {}\n    max_bytes: 4096\n",
        sb.path("out").display(),
        audit.display()
    ));
    let out = sb
        .run()
        .args(["--no-init", "--", "/bin/sh", "-c", "echo $$"])
        .output();
    out.expect_ok();
    let pid: i64 = out.stdout().trim().parse().expect("a PID");
    assert_eq!(
        read(&sb.path("audit.jsonl.1")),
        old,
        "the old trail, rotated"
    );
    let lines = audit_lines(&audit);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["event"], "start");
    assert_eq!(lines[0]["then"], "exec");
    assert_eq!(lines[0]["program_pid"], pid, "exec keeps our PID");
    assert_eq!(
        lines[0]["published"][0]["destinations"],
        json!([sb.path("out/db").display().to_string()])
    );
    assert_eq!(mode(&audit), 0o600);
    // A trail with a second name (a hard link planted for another user) is refused.
    std::fs::hard_link(&audit, sb.path("other")).expect("link");
    sb.run()
        .args(["--no-init", "--", "/bin/true"])
        .output()
        .expect_code(73)
        .stderr_has("second name");
}

#[test]
fn an_idle_supervisor_serving_metrics_never_wakes() {
    // The metrics thread blocks in accept, the supervisor in its one wait: summed over every
    // thread of PID 1 (from /proc/1/task), an idle window costs no wakeup at all.
    let sb = Sandbox::new();
    sb.mkdir("out");
    let port = free_port();
    sb.config(&format!(
        "secrets:\n  db: dflt\nsecret_init:\n  output_dir: {}\n  metrics:\n    listen: 127.0.0.1:{port}\n  audit:\n    file: {}\n",
        sb.path("out").display(),
        sb.path("audit.jsonl").display()
    ));
    let count = "v() { cat /proc/1/task/*/status | grep ^voluntary_ctxt_switches | tr -dc '0-9\\n' \
                 | awk '{s+=$1} END {print s}'; }";
    let program = format!(
        "{count}; a=$(v); n=0; while sleep 0.3; b=$(v); [ \"$a\" != \"$b\" ] && [ $n -lt 20 ]; \
         do a=$b; n=$((n + 1)); done; echo threads $(ls /proc/1/task | wc -l); \
         sleep 2; c=$(v); echo \"wakeups $((c - b))\"; exec sleep 1000"
    );
    let mut run = sb.run();
    run.args(["--", "/bin/sh", "-c"]).arg(&program);
    let ns = Ns::start(&run, &[]);
    ns.expect_line("threads 2");
    ns.expect_line("wakeups 0");
    // Still serving when asked.
    assert!(parsed(&scrape(port))["secret_init_start_time_seconds{}"] > 1.7e9);
    stop(ns);
}

#[test]
fn a_restart_after_a_refresh_is_in_the_audit_trail_and_the_metrics() {
    let sb = Sandbox::new();
    let secrets = sb.mkdir("secrets");
    std::fs::write(secrets.join("api"), canary("api")).expect("write");
    sb.mkdir("out");
    let port = free_port();
    sb.config(&format!(
        "secrets:\n  api: null\nsecret_init:\n  secrets:\n    api:\n      env: API\n  secrets_dirs: [{}]\n  output_dir: {}\n  refresh:\n    interval: 1h\n    \
         on_change: restart\n  metrics:\n    listen: 127.0.0.1:{port}\n  audit:\n    file: {}\n",
        secrets.display(),
        sb.path("out").display(),
        sb.path("audit.jsonl").display()
    ));
    let mut run = sb.run();
    run.env_remove("SECRET_INIT_SECRETS_DIR")
        .args(["--sources", "file", "--grace-period", "1", "--"])
        .args(waiter());
    let ns = Ns::start(&run, &[]);
    expect_prefix(&ns, "ready", Duration::from_secs(10));
    std::fs::write(secrets.join("api.tmp"), canary("api-2")).expect("write");
    std::fs::rename(secrets.join("api.tmp"), secrets.join("api")).expect("rename");
    // The restarted program says ready again.
    expect_prefix(&ns, "ready", Duration::from_secs(10));
    let m = parsed(&scrape(port));
    assert_eq!(m["secret_init_program_restarts_total{}"], 1.0, "{m:?}");
    stop(ns);
    let audit = audit_lines(&sb.path("audit.jsonl"));
    let events = events(&audit);
    assert_eq!(
        events,
        [("start", "start"), ("refresh", "restart")],
        "{audit:?}"
    );
    let published = &audit[1]["published"][0];
    assert_eq!(published["secret"], "api");
    assert_eq!(published["source_kind"], "file");
    assert_eq!(
        published["destinations"],
        json!([sb.path("out/api").display().to_string(), "env:API"])
    );
    // A file source's version: the mtime and inode of the file read.
    assert!(published["file"]["inode"].as_u64().is_some(), "{published}");
    assert!(
        published["file"]["mtime"]
            .as_f64()
            .is_some_and(|t| t > 1.7e9),
        "{published}"
    );
}

/// The `version` of each published secret in a start's audit record, by name.
fn audited_versions(sb: &Sandbox) -> std::collections::BTreeMap<String, Value> {
    let audit = audit_lines(&sb.path("audit.jsonl"));
    assert_eq!(audit.len(), 1, "{audit:?}");
    audit[0]["published"]
        .as_array()
        .expect("published")
        .iter()
        .map(|p| {
            (
                p["secret"].as_str().unwrap_or("").to_string(),
                p["version"].clone(),
            )
        })
        .collect()
}

fn audit_section(sb: &Sandbox) -> String {
    format!(
        "  output_dir: {}\n  audit:\n    file: {}\n",
        sb.path("out").display(),
        sb.path("audit.jsonl").display()
    )
}

#[test]
fn the_audit_trail_names_the_aws_gcp_and_azure_versions_received() {
    use crate::support::fake_azure::{CLIENT_ID, FakeAzure, TENANT};
    use crate::support::fake_gcp::{FakeGcp, closed_port};
    use crate::support::moto::Moto;

    // AWS: Secrets Manager's VersionId (batched and single reads) and Parameter Store's Version.
    let moto = Moto::start();
    let r = moto.admin(json!([
        {"service": "secretsmanager", "method": "create_secret", "args": {"Name": "app/rot", "SecretString": canary("v1")}},
        {"service": "secretsmanager", "method": "put_secret_value", "args": {"SecretId": "app/rot", "SecretString": canary("v2")}},
        {"service": "ssm", "method": "put_parameter", "args": {"Name": "/app/p", "Value": canary("p1"), "Type": "String"}},
        {"service": "ssm", "method": "put_parameter", "args": {"Name": "/app/p", "Value": canary("p2"), "Type": "String", "Overwrite": true}},
        {"service": "secretsmanager", "method": "list_secret_version_ids", "args": {"SecretId": "app/rot"}},
    ]));
    let id_of = |stage: &str| {
        r[4]["Versions"]
            .as_array()
            .expect("versions")
            .iter()
            .find(|v| {
                v["VersionStages"]
                    .as_array()
                    .is_some_and(|s| s.contains(&json!(stage)))
            })
            .and_then(|v| v["VersionId"].as_str())
            .expect("a version id")
            .to_string()
    };
    let (current, previous) = (id_of("AWSCURRENT"), id_of("AWSPREVIOUS"));
    let sb = Sandbox::new();
    sb.config(&format!(
        "secrets:\n  cur: null\n  prev: null\n  param: null\nsecret_init:\n{}  secrets:\n    \
         cur: {{from: 'aws-sm:app/rot'}}\n    prev: {{from: 'aws-sm:app/rot##{previous}'}}\n    \
         param: {{from: 'aws-ssm:/app/p'}}\n",
        audit_section(&sb)
    ));
    let mut run = sb.run();
    moto.env(&mut run, &sb);
    run.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args(["--no-init", "--", "/bin/true"]);
    run.output().expect_ok();
    let v = audited_versions(&sb);
    assert_eq!(v["cur"], json!(current), "{v:?}");
    assert_eq!(v["prev"], json!(previous), "{v:?}");
    assert_eq!(v["param"], json!("2"), "{v:?}");

    // GCP: `latest` resolved to the number the answer names; a pinned version as pinned.
    let fake = FakeGcp::start(json!({"secrets": {
        "projects/proj-1/secrets/rot": [b64(b"one"), b64(b"two"), b64(b"three")],
    }}));
    let sb = Sandbox::new();
    sb.config(&format!(
        "secrets:\n  latest: null\n  pinned: null\nsecret_init:\n{}  gcp:\n    endpoint: {}\n  secrets:\n    \
         latest: {{from: 'gcp:secretmanager:projects/proj-1/secrets/rot'}}\n    \
         pinned: {{from: 'gcp:secretmanager:projects/proj-1/secrets/rot/versions/2'}}\n",
        audit_section(&sb),
        fake.url
    ));
    let mut run = sb.run();
    run.env("GCE_METADATA_HOST", closed_port())
        .env("GCE_METADATA_IP", closed_port())
        .env("GOOGLE_APPLICATION_CREDENTIALS", fake.file("sa.json"))
        .args(["--no-init", "--", "/bin/true"]);
    run.output().expect_ok();
    let v = audited_versions(&sb);
    assert_eq!(
        (v["latest"].clone(), v["pinned"].clone()),
        (json!("3"), json!("2"))
    );

    // Azure: the version id the answer's `id` names.
    let (v1, v2) = (
        "0123456789abcdef0123456789abcdef",
        "fedcba9876543210fedcba9876543210",
    );
    let fake = FakeAzure::start(json!({"secrets": {
        "rot": {"current": v2, "versions": {v1: canary("az-old"), v2: canary("az-new")}},
    }}));
    let sb = Sandbox::new();
    sb.config(&format!(
        "secrets:\n  cur: null\n  old: null\nsecret_init:\n{}  secrets:\n    \
         cur: {{from: 'azure-kv:kv1/rot'}}\n    old: {{from: 'azure-kv:kv1/rot/{v1}'}}\n",
        audit_section(&sb)
    ));
    let mut run = sb.run();
    run.env("SECRET_INIT_AZURE_ENDPOINT", &fake.https)
        .env("SSL_CERT_FILE", &fake.ca)
        .env("AZURE_AUTHORITY_HOST", &fake.https)
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")
        .env("AZURE_TENANT_ID", TENANT)
        .env("AZURE_CLIENT_ID", CLIENT_ID)
        .env("AZURE_CLIENT_SECRET", fake.get("client_secret"))
        .args(["--no-init", "--", "/bin/true"]);
    run.output().expect_ok();
    let v = audited_versions(&sb);
    assert_eq!((v["cur"].clone(), v["old"].clone()), (json!(v2), json!(v1)));
}

/// The refresh records of an audit trail after its start: for each secret published, the
/// versions it was published with, in order.
fn refreshed_versions(audit: &[Value]) -> std::collections::BTreeMap<String, Vec<Value>> {
    let mut out: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for rec in &audit[1..] {
        assert_eq!(rec["event"], "refresh", "{rec}");
        for p in rec["published"].as_array().expect("published") {
            out.entry(p["secret"].as_str().unwrap_or("").to_string())
                .or_default()
                .push(p["version"].clone());
        }
    }
    out
}

#[test]
fn the_audit_trail_names_the_versions_of_secrets_taken_in_bulk_from_aws() {
    use crate::support::moto::{Counting, Moto};

    // Two JSON secrets listed in `aws.secrets` (one BatchGetSecretValue) and two parameters
    // under `aws.parameters_path` (GetParametersByPath); the versions as boto3 reports them.
    let values: std::collections::BTreeMap<&str, String> = ["a1", "a2", "b1", "c1", "c2", "d1"]
        .map(|t| (t, canary(t)))
        .into();
    let moto = Moto::start();
    let r = moto.admin(json!([
        {"service": "secretsmanager", "method": "create_secret", "args": {"Name": "app/one", "SecretString": json!({"A": values["a1"]}).to_string()}},
        {"service": "secretsmanager", "method": "create_secret", "args": {"Name": "app/two", "SecretString": json!({"B": values["b1"]}).to_string()}},
        {"service": "ssm", "method": "put_parameter", "args": {"Name": "/bulk/C", "Value": values["c1"], "Type": "SecureString"}},
        {"service": "ssm", "method": "put_parameter", "args": {"Name": "/bulk/D", "Value": values["d1"], "Type": "String"}},
    ]));
    let (a1, b1) = (r[0]["VersionId"].clone(), r[1]["VersionId"].clone());
    let (c1, d1) = (r[2]["Version"].clone(), r[3]["Version"].clone());
    assert!(a1.is_string() && c1.is_u64(), "{r:?}");
    let proxy = Counting::new(&moto);
    let sb = Sandbox::new();
    sb.mkdir("out");
    sb.config(&format!(
        "secrets:\n  A: null\n  B: null\n  C: null\n  D: null\nsecret_init:\n{}  refresh:\n    \
         interval: 1s\n    jitter: 0%\n  aws:\n    secrets: [app/one, app/two]\n    \
         parameters_path: /bulk/\n",
        audit_section(&sb)
    ));
    let mut run = sb.run();
    moto.env(&mut run, &sb);
    run.env("AWS_ENDPOINT_URL", &proxy.url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args(["--log-level", "trace", "--"])
        .args(waiter());
    let ns = Ns::start(&run, &[]);
    expect_prefix(&ns, "ready", Duration::from_secs(10));
    let path = sb.path("audit.jsonl");
    assert!(wait_until(Duration::from_secs(10), || !read(&path).is_empty()));
    let v = audited_versions(&sb);
    assert_eq!(
        (&v["A"], &v["B"], &v["C"], &v["D"]),
        (&a1, &b1, &json!(c1.to_string()), &json!(d1.to_string())),
        "{v:?}"
    );

    // One new version of a listed secret and of a parameter: the refresh that publishes each
    // names its new version, and only the changed secrets are in it.
    let r = moto.admin(json!([
        {"service": "secretsmanager", "method": "put_secret_value", "args": {"SecretId": "app/one", "SecretString": json!({"A": values["a2"]}).to_string()}},
        {"service": "ssm", "method": "put_parameter", "args": {"Name": "/bulk/C", "Value": values["c2"], "Type": "SecureString", "Overwrite": true}},
    ]));
    let (a2, c2) = (r[0]["VersionId"].clone(), r[1]["Version"].clone());
    assert!(
        a2.is_string() && a2 != a1 && c2.is_u64() && c2 != c1,
        "{r:?}"
    );
    let published = wait_until(Duration::from_secs(15), || {
        let audit = audit_lines(&path);
        audit.len() > 1 && refreshed_versions(&audit).len() == 2
    });
    let log = stop(ns);
    let audit = audit_lines(&path);
    assert!(published, "{audit:?}");
    assert_eq!(
        refreshed_versions(&audit),
        [
            ("A".to_string(), vec![a2]),
            ("C".to_string(), vec![json!(c2.to_string())]),
        ]
        .into_iter()
        .collect(),
        "{audit:?}"
    );
    // Read in bulk: the listed secrets by BatchGetSecretValue, the parameters by path.
    let counts = proxy.counts();
    assert!(
        counts.get("BatchGetSecretValue") >= Some(&2)
            && counts.get("GetParametersByPath") >= Some(&2)
            && !counts.contains_key("GetSecretValue"),
        "{counts:?}"
    );
    for text in [read(&path), log] {
        for v in values.values() {
            assert!(!text.contains(v.as_str()), "a value shows:\n{text}");
        }
    }
}

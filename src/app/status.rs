//! `secret-init status [--format json] [--ready]`: what the running supervisor last wrote to its
//! status file (docs/observability.md), one row per secret; with `--ready`, an exit code for a
//! Kubernetes exec probe. It reads the file only: it never contacts a store or the supervisor,
//! so a probe costs one small read and cannot disturb the program.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::app::observe::{FAILING_AFTER, unix_now};
use crate::error::{Error, Errors, Kind};
use crate::settings::ReportFormat;

/// The largest status file read.
const MAX_STATUS_BYTES: u64 = 4 * 1024 * 1024;

/// One thing that keeps the pod from being ready: its reason code and a line for people.
#[derive(Debug, PartialEq)]
pub(crate) struct Unready {
    /// The reason code (docs/observability.md).
    pub reason: String,
    /// What is wrong, naming the secret and its source.
    pub what: String,
}

/// What keeps `status` (the status file's JSON) from being ready at `now`: a required secret
/// that is missing, past its lease's expiry, or failing for [`FAILING_AFTER`] refreshes in a
/// row; an expired vault token; a refresh failing that long with no secret named. Empty: ready.
pub(crate) fn unready(status: &Value, now: f64) -> Vec<Unready> {
    let mut out = Vec::new();
    let in_a_row = status["failures_in_a_row"].as_u64().unwrap_or(0);
    let failing = in_a_row >= u64::from(FAILING_AFTER);
    let rows = status["secrets"].as_array().cloned().unwrap_or_default();
    for row in rows.iter().filter(|r| r["required"] == true) {
        let name = row["name"].as_str().unwrap_or("?");
        let source = row["source"].as_str().unwrap_or("no source");
        let secret = format!("secret \"{name}\" ({source})");
        if row["result"] == "missing" {
            out.push(Unready {
                reason: "secret_missing".into(),
                what: format!("{secret}: not delivered"),
            });
        } else if let Some(t) = row["expires"].as_f64().filter(|t| *t <= now) {
            out.push(Unready {
                reason: "lease_expired".into(),
                what: format!("{secret}: its lease expired {:.0}s ago", now - t),
            });
        } else if failing && row["result"] == "error" {
            out.push(Unready {
                reason: row["reason"].as_str().unwrap_or("unavailable").into(),
                what: format!(
                    "{secret}: failing for {in_a_row} refreshes in a row: {}",
                    row["error"].as_str().unwrap_or("")
                ),
            });
        }
    }
    if let Some(t) = status["vault"]["token"]["expires"]
        .as_f64()
        .filter(|t| *t <= now)
    {
        out.push(Unready {
            reason: "token_expired".into(),
            what: format!("the vault token expired {:.0}s ago", now - t),
        });
    }
    if failing && out.is_empty() {
        out.push(Unready {
            reason: status["reasons"][0]
                .as_str()
                .unwrap_or("unavailable")
                .into(),
            what: format!(
                "refresh failing for {in_a_row} refreshes in a row: {}",
                status["error"].as_str().unwrap_or("")
            ),
        });
    }
    out
}

fn when(t: &Value, now: f64) -> String {
    match t.as_f64() {
        None => "-".into(),
        Some(t) => {
            let at = crate::bundle::format::rfc3339(t.max(0.0) as u64);
            let d = t - now;
            if d >= 0.0 {
                format!("{at} (in {:.0}s)", d)
            } else {
                format!("{at} ({:.0}s ago)", -d)
            }
        }
    }
}

/// The status table: one row per secret.
fn table(status: &Value, now: f64) -> String {
    let mut rows: Vec<[String; 6]> = vec![[
        "NAME".into(),
        "SOURCE".into(),
        "VERSION / FETCHED".into(),
        "LEASE EXPIRES".into(),
        "LAST REFRESH".into(),
        "NEXT REFRESH".into(),
    ]];
    for r in status["secrets"].as_array().into_iter().flatten() {
        let version = match (r["version"].as_str(), r["fetched"].as_f64()) {
            (Some(v), _) => format!("version {v}"),
            (None, Some(_)) => when(&r["fetched"], now),
            (None, None) => "-".into(),
        };
        let result = match r["reason"].as_str() {
            Some(reason) => format!("error ({reason})"),
            None => r["result"].as_str().unwrap_or("-").to_string(),
        };
        rows.push([
            r["name"].as_str().unwrap_or("?").to_string(),
            r["source"].as_str().unwrap_or("-").to_string(),
            version,
            when(&r["expires"], now),
            result,
            when(&r["next_refresh"], now),
        ]);
    }
    crate::app::columns(&rows)
}

/// Runs `status`: `path` is the status file (`--status-file`, else the setting).
pub(crate) fn run(path: Option<&Path>, format: ReportFormat, ready: bool) -> Result<u8, Errors> {
    let path: PathBuf = path.map(Path::to_path_buf).ok_or_else(|| {
        Error::new(
            Kind::Usage,
            "status: no status file: give --status-file FILE or set secret_init.refresh.status_file",
        )
    })?;
    let shown = path.display().to_string();
    let read = crate::fsx::read_file(&path, MAX_STATUS_BYTES).map_err(|e| {
        Error::new(e.kind(Kind::Data), e.text()).with_source(format!("status file {shown}"))
    })?;
    let Some(bytes) = read else {
        return Err(Error::new(
            Kind::Unavailable,
            "not there: is the supervisor running with live refresh? (reason: no_status)",
        )
        .with_source(format!("status file {shown}"))
        .into());
    };
    let status: Value = serde_json::from_slice(bytes.expose()).map_err(|e| {
        Error::new(Kind::Data, format!("not JSON: {e}")).with_source(format!("status file {shown}"))
    })?;
    let now = unix_now();
    let problems = unready(&status, now);
    let out = match format {
        ReportFormat::Json => {
            let mut s = status.clone();
            s["ready"] = json!(problems.is_empty());
            s["unready"] = json!(
                problems
                    .iter()
                    .map(|p| json!({"reason": p.reason, "message": p.what}))
                    .collect::<Vec<_>>()
            );
            format!("{s}\n")
        }
        ReportFormat::Table => {
            let mut t = table(&status, now);
            t.push_str(&format!(
                "\nlast attempt {}, last success {}, {} failure(s) in a row, {} change(s) published\n",
                when(&status["last_attempt"], now),
                when(&status["last_success"], now),
                status["failures_in_a_row"].as_u64().unwrap_or(0),
                status["changes_published"].as_u64().unwrap_or(0),
            ));
            t
        }
    };
    crate::app::print_stdout(out.as_bytes());
    if ready && !problems.is_empty() {
        return Err(Errors(
            problems
                .into_iter()
                .map(|p| {
                    Error::new(
                        Kind::Unavailable,
                        format!("not ready: {} (reason: {})", p.what, p.reason),
                    )
                })
                .collect(),
        ));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(rows: Value, in_a_row: u64, token_expires: Value) -> Value {
        json!({"secrets": rows, "failures_in_a_row": in_a_row, "reasons": ["store_unreachable"],
               "error": "vault down", "vault": {"token": {"expires": token_expires}}})
    }

    fn row(result: &str, expires: Value) -> Value {
        json!({"name": "db", "required": true, "source": "vault:secret/data/app#db",
               "result": result, "expires": expires, "reason": if result == "error" { json!("store_unreachable") } else { Value::Null }})
    }

    #[test]
    fn readiness_table() {
        let now = 1000.0;
        let reasons =
            |s: &Value| -> Vec<String> { unready(s, now).into_iter().map(|u| u.reason).collect() };
        assert!(reasons(&status(json!([row("ok", json!(2000))]), 0, Value::Null)).is_empty());
        assert_eq!(
            reasons(&status(json!([row("ok", json!(999))]), 0, Value::Null)),
            ["lease_expired"]
        );
        assert_eq!(
            reasons(&status(
                json!([row("missing", Value::Null)]),
                0,
                Value::Null
            )),
            ["secret_missing"]
        );
        // Failing, but under the threshold: still ready.
        assert!(
            reasons(&status(
                json!([row("error", Value::Null)]),
                FAILING_AFTER as u64 - 1,
                Value::Null
            ))
            .is_empty()
        );
        assert_eq!(
            reasons(&status(
                json!([row("error", Value::Null)]),
                FAILING_AFTER as u64,
                Value::Null
            )),
            ["store_unreachable"]
        );
        assert_eq!(
            reasons(&status(json!([row("ok", Value::Null)]), 0, json!(10))),
            ["token_expired"]
        );
        // An optional secret never blocks readiness.
        let mut optional = row("missing", Value::Null);
        optional["required"] = json!(false);
        assert!(reasons(&status(json!([optional]), 0, Value::Null)).is_empty());
        // Failing with no secret named: the pass's reason.
        assert_eq!(
            reasons(&status(json!([]), 5, Value::Null)),
            ["store_unreachable"]
        );
    }
}

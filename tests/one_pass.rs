//! `check` is the run's own pass with a different ending: for every way a start can fail before
//! the program runs, `check` exits with the run's code and writes nothing. Each case runs through
//! both; a case where the run succeeds would make the comparison empty, so each asserts the
//! code it expects.

use std::path::PathBuf;

use serde_json::json;

use crate::support::bao::Bao;
use crate::support::*;

struct Case {
    what: &'static str,
    yaml: &'static str,
    env: &'static [(&'static str, &'static str)],
    prepare: fn(&Sandbox) -> Vec<(String, PathBuf)>,
    code: i32,
}

fn nothing(_: &Sandbox) -> Vec<(String, PathBuf)> {
    Vec::new()
}

const ONE: &str = "secrets:\n  a: null\n";

fn cases() -> Vec<Case> {
    vec![
        Case {
            what: "a required secret is missing",
            yaml: ONE,
            env: &[],
            prepare: nothing,
            code: 69,
        },
        Case {
            what: "file_env names a file that does not exist",
            yaml: "secrets: {}\nsecret_init:\n  file_env: [DB_PASSWORD]\n",
            env: &[],
            prepare: |sb| vec![("DB_PASSWORD_FILE".into(), sb.path("run/missing"))],
            code: 69,
        },
        Case {
            what: "file_env points at a FIFO",
            yaml: "secrets: {}\nsecret_init:\n  file_env: [DB_PASSWORD]\n",
            env: &[],
            prepare: |sb| {
                sb.mkdir("run");
                let fifo = sb.path("run/fifo");
                nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
                    .expect("mkfifo");
                vec![("DB_PASSWORD_FILE".into(), fifo)]
            },
            code: 65,
        },
        Case {
            what: "a template names an undeclared secret",
            yaml: "secrets:\n  a: null\nsecret_init:\n  templates:\n    t:\n      destination: t.conf\n      template: \"{{ secrets.nope }}\"\n",
            env: &[("TRUSS_SECRET_a", "value-of-a-1234")],
            prepare: nothing,
            code: 65,
        },
        Case {
            what: "two secrets write one file",
            yaml: "secrets:\n  a: null\n  b: null\nsecret_init:\n  secrets:\n    b: {file: a}\n",
            env: &[
                ("TRUSS_SECRET_a", "value-of-a-1234"),
                ("TRUSS_SECRET_b", "value-of-b-1234"),
            ],
            prepare: nothing,
            code: 65,
        },
        Case {
            what: "an env destination on the deny list",
            yaml: "secrets:\n  a: null\nsecret_init:\n  secrets:\n    a: {env: LD_PRELOAD}\n",
            env: &[("TRUSS_SECRET_a", "value-of-a-1234")],
            prepare: nothing,
            code: 78,
        },
        Case {
            what: "a NUL byte in a value delivered as env",
            yaml: "secrets:\n  a: null\nsecret_init:\n  secrets:\n    a: {env: A}\n",
            env: &[],
            prepare: |sb| {
                sb.write("in/a", b"x\0y");
                Vec::new()
            },
            code: 65,
        },
        Case {
            what: "a world-writable output dir",
            yaml: ONE,
            env: &[("TRUSS_SECRET_a", "value-of-a-1234")],
            prepare: |sb| {
                use std::os::unix::fs::PermissionsExt;
                let shared = sb.path("shared");
                std::fs::create_dir(&shared).expect("mkdir");
                std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777))
                    .expect("chmod");
                vec![("SECRET_INIT_OUTPUT_DIR".into(), shared)]
            },
            code: 78,
        },
        Case {
            what: "an unknown setting",
            yaml: "secrets:\n  a: null\nsecret_init:\n  no_such_setting: 1\n",
            env: &[("TRUSS_SECRET_a", "value-of-a-1234")],
            prepare: nothing,
            code: 78,
        },
        Case {
            what: "YAML that does not parse",
            yaml: "secrets: [\n",
            env: &[],
            prepare: nothing,
            code: 65,
        },
        Case {
            what: "a provider missing a required field",
            yaml: "secrets:\n  a: null\nsecret_init:\n  providers:\n    aws:\n      kind: aws\n      fields: {access_key_id: a}\n",
            env: &[("TRUSS_SECRET_a", "value-of-a-1234")],
            prepare: nothing,
            code: 78,
        },
    ]
}

/// Runs `args` for `case` in a fresh sandbox; returns its exit code and whether anything was
/// written to the output dir or HOME.
fn run_case(case: &Case, args: &[&str]) -> (i32, Vec<String>, String) {
    let sb = Sandbox::new();
    sb.config(case.yaml);
    let extra = (case.prepare)(&sb);
    let mut r = sb.run();
    for (k, v) in case.env {
        r.env(*k, *v);
    }
    for (k, v) in &extra {
        r.env(k.as_str(), v);
    }
    r.args(args);
    let out = r.output();
    let mut written = Vec::new();
    for dir in ["out", "home"] {
        let d = sb.path(dir);
        if d.exists() {
            written.extend(tree(&d).into_iter().map(|p| format!("{dir}/{p}")));
        }
    }
    (out.code(), written, out.stderr())
}

#[test]
fn check_exits_with_the_runs_code_in_every_failure_and_writes_nothing() {
    for case in cases() {
        let (run, _, run_err) = run_case(&case, &["--", "/bin/true"]);
        assert_eq!(run, case.code, "run, {}: {run_err}", case.what);
        let (check, written, check_err) = run_case(&case, &["check", "--", "/bin/true"]);
        assert_eq!(
            check, run,
            "check and the run disagree on \"{}\"\ncheck: {check_err}\nrun: {run_err}",
            case.what
        );
        assert!(written.is_empty(), "{}: check wrote {written:?}", case.what);
    }
}

/// A dynamic secret whose PKI role does not exist: the run cannot issue it (69), and so neither
/// does `check`, which issues and at once revokes what the run would.
#[test]
fn check_issues_dynamic_secrets_as_the_run_does() {
    let bao = Bao::start();
    bao.admin(json!([
        {"op": "api", "method": "POST", "path": "sys/mounts/pki", "body": {"type": "pki", "config": {"max_lease_ttl": "1h"}}},
        {"op": "api", "method": "POST", "path": "pki/root/generate/internal", "body": {"common_name": "test root", "ttl": "1h", "key_type": "ec", "key_bits": 256}},
        {"op": "api", "method": "POST", "path": "pki/roles/web", "body": {"allowed_domains": ["app.internal"], "allow_bare_domains": true,
            "key_type": "ec", "key_bits": 256, "ttl": "1m", "max_ttl": "1m"}},
    ]));
    for (role, code) in [("web", 0), ("no-such-role", 69)] {
        let sb = Sandbox::new();
        sb.config(&format!(
            "secrets: {{}}\nsecret_init:\n  vault:\n{}    dynamic:\n      web:\n        path: pki/issue/{role}\n        \
             data: {{common_name: app.internal}}\n        fields: {{cert: certificate, key: private_key}}\n",
            bao.vault_yaml()
        ));
        let mut codes = Vec::new();
        for args in [&["check"][..], &["--", "/bin/true"]] {
            let mut r = sb.run();
            r.env("VAULT_TOKEN", &bao.root)
                .args(["--sources", "vault"])
                .args(args);
            let out = r.output();
            codes.push((out.code(), out.stderr()));
            if args[0] == "check" {
                assert!(
                    !sb.path("out").exists(),
                    "check wrote {:?}",
                    tree(&sb.path("out"))
                );
            }
        }
        if code == 0 {
            // Its rows: one per delivered file, never a value.
            let mut r = sb.run();
            let out = r
                .env("VAULT_TOKEN", &bao.root)
                .args(["--sources", "vault", "check"])
                .output();
            out.expect_ok();
            for field in ["web.cert", "web.key"] {
                assert!(
                    out.stdout().lines().any(|l| l.starts_with(field)
                        && l.contains("vault dynamic pki/issue/web")
                        && l.ends_with(" ok")),
                    "{field}: {}",
                    out.stdout()
                );
            }
        }
        assert_eq!(codes[0].0, code, "check, role {role}: {}", codes[0].1);
        assert_eq!(codes[1].0, code, "run, role {role}: {}", codes[1].1);
    }
}

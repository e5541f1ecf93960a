//! `credential_process` as the AWS CLI runs it: the command line split like a shell would
//! (no shell), its JSON output used against an IAM-enforcing moto, its stderr passed through,
//! and every way it can go wrong a clear error that never quotes the output: bad JSON, a
//! missing field, a non-zero exit, expired credentials, a process that outlives the deadline
//! (its whole group killed, checked inside a PID namespace), and a config file the `--user`
//! could have written, or root running it on behalf of a `--user` program (both 78).

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::support::moto::Moto;
use crate::support::{BWRAP_PID1, Run, Sandbox, canary, read};

/// The helper: what it prints depends on its first argument. Its stderr line shows the
/// pass-through; `hang` starts a grandchild and then never answers, writing both PIDs first.
fn helper(sb: &Sandbox, creds: &serde_json::Value, leak: &str) -> std::path::PathBuf {
    let ok = serde_json::json!({
        "Version": 1,
        "AccessKeyId": creds["AccessKeyId"],
        "SecretAccessKey": creds["SecretAccessKey"],
        "SessionToken": creds["SessionToken"],
        "Expiration": "2099-01-01T00:00:00Z",
    });
    let expired = serde_json::json!({
        "Version": 1,
        "AccessKeyId": creds["AccessKeyId"],
        "SecretAccessKey": creds["SecretAccessKey"],
        "SessionToken": creds["SessionToken"],
        "Expiration": "2001-01-01T00:00:00Z",
    });
    let missing =
        serde_json::json!({"Version": 1, "AccessKeyId": "AKIAMISSING", "SessionToken": leak});
    let dir = sb.path("bin dir");
    let script = format!(
        "#!/bin/sh\n\
         echo \"helper: asked for $1 by $CALLER\" >&2\n\
         case \"$1\" in\n\
         ok) printf '%s' '{ok}' ;;\n\
         expired) printf '%s' '{expired}' ;;\n\
         missing) printf '%s' '{missing}' ;;\n\
         badjson) printf 'this is not json {leak}' ;;\n\
         fail) echo 'helper: the store refused us' >&2; exit 3 ;;\n\
         hang) sleep 3600 & echo $! > '{pids}/grandchild'; echo $$ > '{pids}/child'; exec sleep 3601 ;;\n\
         file) cat \"$2\" ;;\n\
         esac\n",
        pids = sb.path("pids").display(),
    );
    let p = sb.write("bin dir/helper.sh", script);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    sb.mkdir("pids");
    dir
}

fn config(sb: &Sandbox, dir: &std::path::Path) {
    let line = |mode: &str| {
        format!(
            "credential_process = \"{}/helper.sh\" {mode}\n",
            dir.display()
        )
    };
    let mut text = String::new();
    for mode in ["ok", "expired", "missing", "badjson", "fail", "hang"] {
        text.push_str(&format!("[profile {mode}]\n{}", line(mode)));
    }
    text.push_str("[profile unsplittable]\ncredential_process = \"/bin/helper\n");
    sb.write("aws/config", text);
    sb.config("secrets:\n  x: null\nsecret_init:\n  secrets:\n    x: {from: 'aws-sm:app/db'}\n  aws:\n    retries: 0\n    timeout: 2s\n    deadline: 2s\n");
}

fn run(sb: &Sandbox, moto: &Moto, profile: &str) -> Run {
    let mut r = sb.run();
    moto.env(&mut r, sb);
    r.env("AWS_PROFILE", profile)
        .env("CALLER", "secret-init")
        .args(["--log-level", "trace", "--", "/bin/true"]);
    r
}

#[test]
fn credential_process_output_used_at_moto() {
    let value = canary("process");
    let (moto, creds) = Moto::enforcing_with_role(&value);
    let leak = canary("process-output");
    let sb = Sandbox::new();
    let dir = helper(&sb, &creds, &leak);
    config(&sb, &dir);
    let sk = creds["SecretAccessKey"].as_str().expect("sk");
    let token = creds["SessionToken"].as_str().expect("token");

    run(&sb, &moto, "ok")
        .output()
        .expect_ok()
        // Its stderr passes through; the environment is secret-init's own.
        .stderr_has("helper: asked for ok by secret-init")
        .stderr_has("profile ok: running credential_process")
        .no_leak(&[&value, sk, token]);
    assert_eq!(read(&sb.path("out/x")), value);

    let refused = |profile: &str, code: i32, what: &str| {
        let _ = std::fs::remove_dir_all(sb.path("out"));
        run(&sb, &moto, profile)
            .output()
            .expect_code(code)
            .stderr_has(&format!("aws credential_process (profile {profile})"))
            .stderr_has(what)
            .no_leak(&[&value, sk, token, &leak]);
        assert!(!sb.path("out/x").exists(), "{profile}: nothing written");
    };
    refused("badjson", 77, "its output is not JSON");
    refused("missing", 77, "its output has no SecretAccessKey");
    refused("expired", 77, "has expired credentials");
    refused("fail", 77, "it failed (exit status: 3)");
    run(&sb, &moto, "fail")
        .output()
        .stderr_has("helper: the store refused us");
    refused("unsplittable", 78, "cannot be split: no closing quotation");
}

/// A role chain whose `source_profile` is a `credential_process` profile: the process's keys
/// (a user allowed only `sts:AssumeRole`) sign STS `AssumeRole` at moto, which checks the
/// role's trust policy; the role reads the secret.
#[test]
fn credential_process_as_a_role_chains_source() {
    let moto = Moto::enforcing();
    let value = canary("process-role");
    let (id, sk) = moto.user("base", &["sts:AssumeRole"]);
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:user/base"}, "Action": "sts:AssumeRole"}]});
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]});
    moto.admin(serde_json::json!([
        {"service": "secretsmanager", "method": "create_secret", "args": {"Name": "app/db", "SecretString": value}},
        {"service": "iam", "method": "create_role", "args": {"RoleName": "reader", "AssumeRolePolicyDocument": trust.to_string()}},
        {"service": "iam", "method": "put_role_policy", "args": {"RoleName": "reader", "PolicyName": "r", "PolicyDocument": policy.to_string()}},
    ]));
    let sb = Sandbox::new();
    let dir = helper(&sb, &serde_json::json!({}), &canary("unused"));
    config(&sb, &dir);
    let keys = sb.write(
        "base.json",
        serde_json::json!({"Version": 1, "AccessKeyId": id, "SecretAccessKey": sk}).to_string(),
    );
    let mut text = read(&sb.path("aws/config"));
    text.push_str(&format!(
        "[profile base]\ncredential_process = '{}/helper.sh' file {}\n\
         [profile app]\nrole_arn = arn:aws:iam::123456789012:role/reader\nsource_profile = base\n",
        dir.display(),
        keys.display()
    ));
    sb.write("aws/config", text);
    // Negative control: the process's own keys may not read the secret.
    run(&sb, &moto, "base")
        .output()
        .expect_code(77)
        .stderr_has("AccessDenied")
        .no_leak(&[&value, &sk]);
    run(&sb, &moto, "app")
        .output()
        .expect_ok()
        .stderr_has("profile base: running credential_process")
        .stderr_has("profile app: AssumeRole arn:aws:iam::123456789012:role/reader")
        .no_leak(&[&value, &sk]);
    assert_eq!(read(&sb.path("out/x")), value);
}

/// A process that never answers is killed at the deadline with its whole process group (the
/// grandchild too). secret-init signals a process group, so it runs in a PID namespace (bwrap,
/// whose own PID 1 reaps the orphans), and a shell there looks for the two processes after.
#[test]
fn credential_process_past_the_deadline_is_killed_with_its_group() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "PID-namespace runs need root (the test command runs as root)"
    );
    let value = canary("process");
    let (moto, creds) = Moto::enforcing_with_role(&value);
    let sb = Sandbox::new();
    let dir = helper(&sb, &creds, &canary("unused"));
    config(&sb, &dir);
    let inner = run(&sb, &moto, "hang");
    let pids = sb.path("pids");
    let check = format!(
        "\"$@\"; echo \"EXIT $?\" >&2; for f in child grandchild; do p=$(cat '{0}'/$f); \
         if [ -e /proc/$p ] && ! grep -q '^State:.*Z' /proc/$p/status; then echo \"ALIVE $f\" >&2; else echo \"GONE $f\" >&2; fi; done",
        pids.display()
    );
    let mut r = Run::new();
    r.program = "bwrap".into();
    r.env = inner.env.clone();
    r.cwd = inner.cwd.clone();
    // BWRAP_PID1 but for `--as-pid-1`: bwrap's own PID 1 reaps the orphans, and the shell
    // outlives secret-init to look.
    r.args(BWRAP_PID1.iter().filter(|a| **a != "--as-pid-1"))
        .args(["--", "/bin/sh", "-c", &check, "sh"])
        .arg(&inner.program)
        .args(inner.args.clone());
    let out = r.output_within(Duration::from_secs(60));
    out.stderr_has("EXIT 69")
        .stderr_has("aws credential_process (profile hang)")
        .stderr_has("did not finish within the deadline (2s): its process group was killed")
        .stderr_has("GONE child")
        .stderr_has("GONE grandchild");
    assert!(!out.stderr().contains("ALIVE"), "{}", out.stderr());
    assert!(!sb.path("out/x").exists());
}

/// Under `--user`, the command comes from a file the program's user could have written: 78,
/// never run. Root never runs one on behalf of a `--user` program at all: 78 too. The helper
/// leaves a mark when it runs; there is none.
#[test]
fn credential_process_under_user_is_refused() {
    assert!(nix::unistd::geteuid().is_root(), "--user needs root");
    let value = canary("process");
    let (moto, creds) = Moto::enforcing_with_role(&value);
    let sb = Sandbox::new();
    let dir = helper(&sb, &creds, &canary("unused"));
    config(&sb, &dir);
    // Refused with 78 saying `why`, the helper never run (it would have written its line).
    let refused_as_user = |why: &str| {
        let mut r = run(&sb, &moto, "ok");
        r.args = ["--user", "4242", "--log-level", "debug", "--", "/bin/true"]
            .into_iter()
            .map(Into::into)
            .collect();
        let out = r.output();
        assert!(
            !out.stderr().contains("helper: asked"),
            "it ran: {}",
            out.stderr()
        );
        out.expect_code(78)
            .stderr_has("aws credential_process (profile ok)")
            .stderr_has(why)
            .no_leak(&[&value]);
    };
    std::os::unix::fs::chown(sb.path("aws/config"), Some(4242), None).expect("chown");
    refused_as_user(
        "the program's user (uid 4242) could have written it (owned by the program's user)",
    );
    std::os::unix::fs::chown(sb.path("aws/config"), Some(0), None).expect("chown");
    refused_as_user("never run as root on behalf of a --user program");
    assert!(!sb.path("out/x").exists());
    // Negative control: the same helper, without --user, runs (and writes its stderr line).
    run(&sb, &moto, "ok")
        .output()
        .expect_ok()
        .stderr_has("helper: asked for ok");
}

//! Live refresh (docs/refresh.md), with real components: secret-init is PID 1 of a fresh PID
//! namespace (bubblewrap, as tests/init.rs), the program is a real shell with a SIGHUP handler,
//! the Kubernetes volume is swapped with AtomicWriter's own steps, vault is a real OpenBao dev
//! server and bundles are written by the real `secret-init bundle set`. inotify is made to fail
//! for real: a user namespace whose `max_inotify_watches` or `max_inotify_instances` is 0.
//!
//! Every wait is bounded; a line that does not come fails the test with secret-init's stderr.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::init::{Ns, libc_sig};
use crate::support::bao::Bao;
use crate::support::*;

/// A Kubernetes secret volume written the way the kubelet's AtomicWriter writes it: the data in
/// a timestamped directory, `..data` linking to it, and one visible link per key.
pub(crate) struct KubeVolume {
    dir: PathBuf,
    generation: u32,
}

impl KubeVolume {
    pub(crate) fn new(dir: PathBuf, data: &[(&str, &str)]) -> KubeVolume {
        std::fs::create_dir_all(&dir).expect("mkdir volume");
        let mut v = KubeVolume { dir, generation: 0 };
        v.swap(data);
        for (k, _) in data {
            symlink(format!("..data/{k}"), v.dir.join(k)).expect("user-visible link");
        }
        v
    }

    /// AtomicWriter's steps: a new timestamped dir with the payload, a temporary link to it,
    /// the link renamed over `..data`, the old dir removed.
    pub(crate) fn swap(&mut self, data: &[(&str, &str)]) {
        self.generation += 1;
        let ts = format!(
            "..2026_12_01_20_00_{:02}.{}",
            self.generation,
            std::process::id()
        );
        let new = self.dir.join(&ts);
        std::fs::create_dir(&new).expect("timestamped dir");
        for (k, v) in data {
            std::fs::write(new.join(k), v).expect("payload");
        }
        let old = std::fs::read_link(self.dir.join("..data")).ok();
        let tmp = self.dir.join("..data_tmp");
        symlink(&ts, &tmp).expect("temp link");
        std::fs::rename(&tmp, self.dir.join("..data")).expect("rename over ..data");
        if let Some(old) = old {
            std::fs::remove_dir_all(self.dir.join(old)).expect("remove old dir");
        }
    }
}

/// A program that prints `ready PID VALUE`, and `hup VALUE` on each SIGHUP, VALUE being the
/// delivered file `file`; it ends on SIGTERM with sh's usual 143.
fn reloader(file: &Path) -> Vec<String> {
    let f = file.display();
    vec![
        "/bin/sh".into(),
        "-c".into(),
        format!(
            "trap 'echo \"hup $(cat {f})\"' HUP; echo \"ready $$ $(cat {f})\"; \
             while :; do sleep 0.05; done"
        ),
    ]
}

/// Waits at most `t` for a line starting with `prefix`; the line and how long it took.
pub(crate) fn expect_prefix(ns: &Ns, prefix: &str, t: Duration) -> (String, Duration) {
    let t0 = Instant::now();
    let end = t0 + t;
    while Instant::now() < end {
        match ns.line(end - Instant::now()) {
            Some(l) if l.starts_with(prefix) => return (l, t0.elapsed()),
            Some(_) => continue,
            None => break,
        }
    }
    panic!(
        "no line starting {prefix:?} within {t:?}\n--- stderr\n{}",
        ns.stderr()
    );
}

/// Waits at most `t` for the status file to satisfy `ok`; its JSON.
pub(crate) fn status_until(
    path: &Path,
    t: Duration,
    ns: &Ns,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    let found = wait_until(t, || {
        let Ok(bytes) = std::fs::read(path) else {
            return false;
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            return false;
        };
        last = v;
        ok(&last)
    });
    assert!(
        found,
        "status file never matched; last {last}\n--- stderr\n{}",
        ns.stderr()
    );
    last
}

fn refresh_yaml(extra: &str, status: &Path) -> String {
    format!(
        "secrets:\n  db: null\nsecret_init:\n  refresh:\n    interval: 1h\n    status_file: {}\n{extra}",
        status.display()
    )
}

#[test]
fn kubernetes_data_swaps_reach_the_program_and_an_invalid_one_keeps_the_old_set() {
    let sb = Sandbox::new();
    let values: Vec<String> = (1..=4).map(|i| canary(&format!("db{i}"))).collect();
    let mut vol = KubeVolume::new(sb.path("in"), &[("db", &values[0])]);
    let status = sb.path("run/status.json");
    sb.config(&refresh_yaml("", &status));
    let out = sb.path("out/db");
    let mut r = sb.run();
    r.args(["--sources", "file", "--max-secret-bytes", "64", "--"])
        .args(reloader(&out));
    let mut ns = Ns::start(&r, &[]);
    let (ready, _) = expect_prefix(&ns, "ready ", Duration::from_secs(10));
    assert!(ready.ends_with(&values[0]), "{ready}");

    // Two swaps: each one reaches the file and then the program's SIGHUP handler within 2 s.
    for v in &values[1..3] {
        vol.swap(&[("db", v)]);
        let (line, took) = expect_prefix(&ns, "hup ", Duration::from_secs(2));
        assert_eq!(line, format!("hup {v}"), "stderr: {}", ns.stderr());
        eprintln!("file change → SIGHUP handler: {took:?}");
        assert_eq!(read(&out), *v);
    }
    let st = status_until(&status, Duration::from_secs(2), &ns, |s| {
        s["changes_published"] == 2
    });
    assert_eq!(st["ok"], true);
    assert_eq!(
        st["sources"][0]["source"],
        format!("file:{}", sb.path("in").display())
    );
    assert!(
        st["sources"][0]["watch"]
            .as_str()
            .expect("test fixture")
            .starts_with("inotify")
    );

    // A swap to an invalid value (over --max-secret-bytes): the old set stays, one line names
    // the secret and the source, the status file says so, and the program is not told.
    let too_big = format!("{}{}", values[3], "x".repeat(80));
    vol.swap(&[("db", &too_big)]);
    let st = status_until(&status, Duration::from_secs(3), &ns, |s| s["ok"] == false);
    let err = st["error"].as_str().expect("error text");
    assert!(err.contains("\"db\"") && err.contains("file:"), "{err}");
    assert_eq!(st["sources"][0]["state"], "error", "{st}");
    assert!(
        st["last_success"].as_f64() < st["last_attempt"].as_f64(),
        "{st}"
    );
    assert_eq!(read(&out), values[2], "the last good value stays");
    assert_eq!(
        ns.line(Duration::from_millis(500)),
        None,
        "the program was told"
    );
    let stderr = ns.stderr();
    assert_eq!(stderr.matches("refresh failed").count(), 1, "{stderr}");

    // Fixed again: published, signalled, status ok.
    vol.swap(&[("db", &values[3])]);
    let (line, _) = expect_prefix(&ns, "hup ", Duration::from_secs(2));
    assert_eq!(line, format!("hup {}", values[3]));
    let st = status_until(&status, Duration::from_secs(2), &ns, |s| s["ok"] == true);
    assert_eq!(st["changes_published"], 3);

    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::TERM);
    assert_eq!(ns.finish(), 143);
    let stderr = ns.stderr();
    assert_eq!(
        stderr
            .matches("refresh: published 1 changed file(s): db (file:")
            .count(),
        3,
        "{stderr}"
    );
    // Leak hunt: neither old nor new values (nor the refused one) in the log or status file.
    let mut canaries: Vec<&str> = values.iter().map(String::as_str).collect();
    canaries.push(&too_big);
    let status_text = read(&status);
    for c in &canaries {
        assert!(!stderr.contains(c), "a value reached the log:\n{stderr}");
        assert!(!status_text.contains(c), "a value reached the status file");
    }
    assert_eq!(mode(&status), 0o644);
}

#[test]
fn an_idle_supervisor_with_a_watched_dir_sleeps_until_a_change() {
    // A watched file source and an hourly poll: between changes the supervisor sleeps in one
    // wait on its signals and the inotify descriptor. The fixed 100 ms tick it replaced woke it
    // about twenty times in this window.
    let sb = Sandbox::new();
    let (v1, v2) = (canary("idle1"), canary("idle2"));
    let mut vol = KubeVolume::new(sb.path("in"), &[("db", &v1)]);
    let status = sb.path("run/status.json");
    sb.config(&refresh_yaml("", &status));
    let out = sb.path("out/db");
    let mut r = sb.run();
    r.args(["--sources", "file", "--"])
        .args(crate::init::idle_wakeups_then_sleep(2));
    let mut ns = Ns::start(&r, &[]);
    ns.expect_line("wakeups 0");
    ns.expect_line("ready");
    assert_eq!(read(&out), v1);
    // The change still wakes it at once: published within the usual coalescing delay.
    vol.swap(&[("db", &v2)]);
    status_until(&status, Duration::from_secs(2), &ns, |s| {
        s["changes_published"] == 1
    });
    assert_eq!(read(&out), v2);
    // The program (no handler) is told with SIGHUP, and its death by it is the exit status.
    assert_eq!(ns.finish(), 128 + libc_sig::HUP, "stderr: {}", ns.stderr());
    let stderr = ns.stderr();
    assert!(!stderr.contains(&v1) && !stderr.contains(&v2), "{stderr}");
}

#[test]
fn inotify_failures_fall_back_to_the_stat_poll() {
    // A user namespace owns its own inotify limits (/proc/sys/user/max_inotify_*): 0 watches
    // makes inotify_add_watch fail with ENOSPC, 0 instances makes inotify_init1 fail with EMFILE.
    for (limit, errno) in [
        ("max_inotify_watches", "No space left on device"),
        ("max_inotify_instances", "Too many open files"),
    ] {
        let sb = Sandbox::new();
        let a = canary("polled-a");
        let b = canary("polled-b");
        let mut vol = KubeVolume::new(sb.path("in"), &[("db", &a)]);
        let status = sb.path("status.json");
        sb.config(&refresh_yaml("", &status));
        let out = sb.path("out/db");
        let mut inner = vec![
            bin().display().to_string(),
            "--sources".into(),
            "file".into(),
            "--".into(),
        ];
        inner.extend(reloader(&out));
        let mut r = sb.run();
        r.program = PathBuf::from("unshare");
        r.args([
            "--user",
            "--map-root-user",
            "/bin/sh",
            "-c",
            &format!("echo 0 > /proc/sys/user/{limit} && exec \"$@\""),
            "sh",
        ])
        .args(inner);
        let mut ns = Ns::start(&r, &[]);
        expect_prefix(&ns, "ready ", Duration::from_secs(10));
        // The watcher starts beside the program: its warning may follow the program's "ready".
        wait_until(Duration::from_secs(5), || {
            ns.stderr().contains("inotify unavailable")
        });
        let stderr = ns.stderr();
        assert!(
            stderr.contains("inotify unavailable") && stderr.contains(errno),
            "{limit}: {stderr}"
        );
        vol.swap(&[("db", &b)]);
        let (line, took) = expect_prefix(&ns, "hup ", Duration::from_secs(3));
        assert_eq!(line, format!("hup {b}"));
        eprintln!("{limit}=0: poll fallback → SIGHUP handler: {took:?}");
        let st = status_until(&status, Duration::from_secs(2), &ns, |s| s["ok"] == true);
        assert!(
            st["sources"][0]["watch"]
                .as_str()
                .expect("test fixture")
                .starts_with("poll 1s"),
            "{st}"
        );
        let pid = ns.host_pid();
        ns.signal(pid, libc_sig::TERM);
        assert_eq!(ns.finish(), 143);
    }
}

/// config.yaml for a vault-backed `db` with a 2 s refresh and no jitter.
fn vault_yaml(bao: &Bao, status: &Path, secret: &str) -> String {
    format!(
        "secrets:\n  db: null\nsecret_init:\n  refresh:\n    interval: 2s\n    jitter: 0%\n    \
         status_file: {}\n{secret}  vault:\n{}    paths: [secret/data/app]\n",
        status.display(),
        bao.vault_yaml()
    )
}

/// A running reloader over vault secret `db` (first value `first`, 2 s refresh, no jitter) with
/// `opts` before the program; the sandbox, the status file and delivered file paths, the run.
struct VaultRun {
    /// Kept alive: the run's files are in it.
    _sb: Sandbox,
    status: PathBuf,
    out: PathBuf,
    ns: Ns,
    token: String,
}

fn vault_reloader(bao: &Bao, first: &str, opts: &[&str]) -> VaultRun {
    // A second secret from the same path: an outage fails both, and is one failed source.
    bao.put_v2("app", &[("db", first), ("db2", "steady")]);
    let token = bao.reader_token();
    let sb = Sandbox::new();
    let status = sb.path("status.json");
    sb.config(&vault_yaml(bao, &status, "").replace(
        "secrets:\n  db: null\n",
        "secrets:\n  db: null\n  db2: null\n",
    ));
    let out = sb.path("out/db");
    let mut r = sb.run();
    r.env("VAULT_TOKEN", &token)
        .args(["--sources", "vault"])
        .args(opts)
        .arg("--")
        .args(reloader(&out));
    let ns = Ns::start(&r, &[]);
    let (ready, _) = expect_prefix(&ns, "ready ", Duration::from_secs(10));
    assert!(ready.ends_with(first), "{ready}");
    VaultRun {
        _sb: sb,
        status,
        out,
        ns,
        token,
    }
}

/// SIGSTOP (`frozen`) or SIGCONT to the vault server this test started.
pub(crate) fn freeze(bao: &Bao, frozen: bool) {
    use nix::sys::signal::Signal;
    let sig = if frozen {
        Signal::SIGSTOP
    } else {
        Signal::SIGCONT
    };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(bao.pid() as i32), sig).expect("signal bao");
}

#[test]
fn vault_kv_put_is_published_and_signalled_and_an_outage_leaves_the_program_alone() {
    let bao = Bao::start();
    let v: Vec<String> = (1..=3).map(|i| canary(&format!("kv{i}"))).collect();
    let run = vault_reloader(
        &bao,
        &v[0],
        &["--vault-timeout", "500ms", "--vault-retries", "0"],
    );
    let VaultRun {
        status,
        out,
        mut ns,
        token,
        ..
    } = run;

    // A new KV version: published and signalled within the interval + 1 s.
    let t0 = Instant::now();
    bao.put_v2("app", &[("db", &v[1]), ("db2", "steady")]);
    let (line, _) = expect_prefix(&ns, "hup ", Duration::from_secs(3));
    eprintln!(
        "vault kv put → SIGHUP handler: {:?} (interval 2s)",
        t0.elapsed()
    );
    assert_eq!(line, format!("hup {}", v[1]));
    assert_eq!(read(&out), v[1]);

    // The vault stops answering (SIGSTOP on the server we started): the refresh fails, the
    // program keeps running with the last good set and hears nothing.
    freeze(&bao, true);
    let st = status_until(&status, Duration::from_secs(8), &ns, |s| s["ok"] == false);
    let vault_state = st["sources"]
        .as_array()
        .expect("test fixture")
        .iter()
        .find(|s| {
            s["source"]
                .as_str()
                .expect("test fixture")
                .starts_with("vault:")
        })
        .expect("vault source")
        .clone();
    assert_eq!(vault_state["state"], "error", "{st}");
    // Two secrets from the one path that failed: one failed source, listed once.
    let failed = st["failed_sources"].as_array().expect("failed_sources");
    assert_eq!(failed.len(), 1, "{st}");
    assert!(
        failed[0].as_str().is_some_and(|f| f.starts_with("vault:")),
        "{st}"
    );
    assert_eq!(ns.wait(Duration::from_millis(200)), None, "the run ended");
    assert_eq!(read(&out), v[1]);
    freeze(&bao, false);
    // Back: the next retry (backoff at most the interval) succeeds and picks up a new version.
    bao.put_v2("app", &[("db", &v[2]), ("db2", "steady")]);
    let (line, _) = expect_prefix(&ns, "hup ", Duration::from_secs(8));
    assert_eq!(line, format!("hup {}", v[2]));
    status_until(&status, Duration::from_secs(2), &ns, |s| s["ok"] == true);

    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::TERM);
    assert_eq!(ns.finish(), 143);
    let stderr = ns.stderr();
    assert!(stderr.contains("refresh failed"), "{stderr}");
    // The change log names the secret, its source and the KV version, never the value.
    assert!(
        stderr.contains("published 1 changed file(s): db (vault:secret/data/app#db, version 2)"),
        "{stderr}"
    );
    let status_text = read(&status);
    for c in v
        .iter()
        .map(String::as_str)
        .chain([token.as_str(), bao.root.as_str()])
    {
        assert!(!stderr.contains(c), "leak in the log:\n{stderr}");
        assert!(!status_text.contains(c), "leak in the status file");
    }
}

#[test]
fn a_changed_env_delivery_restarts_the_program_with_the_new_environment() {
    let bao = Bao::start();
    let a = canary("env-a");
    let b = canary("env-b");
    bao.put_v2("app", &[("db", &a), ("other", "steady")]);
    let token = bao.reader_token();
    let sb = Sandbox::new();
    let status = sb.path("status.json");
    sb.config(
        &vault_yaml(
            &bao,
            &status,
            "  secrets:\n    db:\n      env: DB_PASSWORD\n      file: false\n    \
             other:\n      env: OTHER\n      file: false\n",
        )
        .replace(
            "secrets:\n  db: null\n",
            "secrets:\n  db: null\n  other: null\n",
        ),
    );
    let mut r = sb.run();
    r.env("VAULT_TOKEN", &token).args([
        "--sources",
        "vault",
        "--",
        "/bin/sh",
        "-c",
        "trap 'echo \"term $$\"; exit 0' TERM; echo \"ready $$ $DB_PASSWORD\"; \
         while :; do sleep 0.05; done",
    ]);
    let mut ns = Ns::start(&r, &[]);
    let (ready, _) = expect_prefix(&ns, "ready ", Duration::from_secs(10));
    let old_pid = ready.split(' ').nth(1).expect("test fixture").to_string();
    assert!(ready.ends_with(&a));
    bao.put_v2("app", &[("db", &b), ("other", "steady")]);
    // on_change is signal, but a signal cannot reach an environment: restart.
    let (term, _) = expect_prefix(&ns, "term ", Duration::from_secs(4));
    assert_eq!(
        term,
        format!("term {old_pid}"),
        "the old program was stopped"
    );
    let (ready, _) = expect_prefix(&ns, "ready ", Duration::from_secs(3));
    let new_pid = ready.split(' ').nth(1).expect("test fixture").to_string();
    assert_ne!(new_pid, old_pid);
    assert_eq!(ready, format!("ready {new_pid} {b}"));
    let stderr = ns.stderr();
    assert!(
        stderr.contains("an env-delivered value changed"),
        "{stderr}"
    );
    // Only the variable that rotated is named.
    assert!(
        stderr
            .contains("; environment changed (DB_PASSWORD (vault:secret/data/app#db, version 2));"),
        "{stderr}"
    );
    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::TERM);
    assert_eq!(ns.finish(), 0, "the restarted program's own exit status");
    assert!(!ns.stderr().contains(&a) && !ns.stderr().contains(&b));
}

/// A restart-policy run over a Kubernetes volume: `script` is the program, `extra` more options.
fn restart_run(sb: &Sandbox, script: &str, extra: &[&str]) -> Run {
    let status = sb.path("status.json");
    sb.config(&refresh_yaml("", &status));
    let mut r = sb.run();
    r.args(["--sources", "file", "--on-change", "restart"])
        .args(extra)
        .args(["--", "/bin/sh", "-c", script]);
    r
}

#[test]
fn restart_policy_grace_period_sigkill_exit_codes_and_sigterm_during_a_restart() {
    let out_db = |sb: &Sandbox| sb.path("out/db").display().to_string();

    // A program that ignores SIGTERM gets SIGKILL after the grace period, and is started again.
    let sb = Sandbox::new();
    let mut vol = KubeVolume::new(sb.path("in"), &[("db", "one")]);
    let script = format!(
        "trap '' TERM; echo \"ready $$ $(cat {})\"; while :; do sleep 0.05; done",
        out_db(&sb)
    );
    let r = restart_run(&sb, &script, &["--grace-period", "1"]);
    let mut ns = Ns::start(&r, &[]);
    expect_prefix(&ns, "ready ", Duration::from_secs(10));
    let t0 = Instant::now();
    vol.swap(&[("db", "two")]);
    let (ready, _) = expect_prefix(&ns, "ready ", Duration::from_secs(5));
    assert!(ready.ends_with(" two"), "{ready}");
    assert!(
        t0.elapsed() >= Duration::from_secs(1),
        "the grace period was not given"
    );
    assert!(
        ns.stderr()
            .contains("ignored SIGTERM for the grace period; SIGKILL")
    );
    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::KILL);
    ns.finish();

    // The restarted program's own exit ends secret-init with its code, and 128+N for a signal.
    for (value, want) in [("exit7", 7), ("usr1", 128 + libc_sig::USR1)] {
        let sb = Sandbox::new();
        let mut vol = KubeVolume::new(sb.path("in"), &[("db", "start")]);
        let script = format!(
            "v=$(cat {}); echo \"ready $$ $v\"; \
             [ \"$v\" = exit7 ] && exit 7; [ \"$v\" = usr1 ] && kill -USR1 $$; \
             while :; do sleep 0.05; done",
            out_db(&sb)
        );
        let mut ns = Ns::start(&restart_run(&sb, &script, &[]), &[]);
        expect_prefix(&ns, "ready ", Duration::from_secs(10));
        vol.swap(&[("db", value)]);
        expect_prefix(&ns, "ready ", Duration::from_secs(5));
        assert_eq!(ns.finish(), want, "stderr: {}", ns.stderr());
    }

    // SIGTERM while a restart waits for the old program: forwarded, no new start, the old
    // program's status is ours.
    let sb = Sandbox::new();
    let mut vol = KubeVolume::new(sb.path("in"), &[("db", "one")]);
    let script = format!(
        "trap 'echo stopping; sleep 0.5; exit 3' TERM; echo \"ready $$ $(cat {})\"; \
         while :; do sleep 0.05; done",
        out_db(&sb)
    );
    let mut ns = Ns::start(&restart_run(&sb, &script, &["--grace-period", "5"]), &[]);
    expect_prefix(&ns, "ready ", Duration::from_secs(10));
    vol.swap(&[("db", "two")]);
    expect_prefix(&ns, "stopping", Duration::from_secs(3));
    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::TERM);
    assert_eq!(ns.finish(), 3, "stderr: {}", ns.stderr());
    assert!(
        !ns.rest().iter().any(|l| l.starts_with("ready ")),
        "started again after the stop request"
    );
}

/// A bundle file and its master key, changed with the real `secret-init bundle` commands.
struct BundleFile {
    file: PathBuf,
    key: String,
}

impl BundleFile {
    fn new(file: PathBuf) -> BundleFile {
        let out = Run::new().args(["bundle", "keygen"]).output();
        out.expect_ok();
        BundleFile {
            file,
            key: out.stdout().trim_end().to_string(),
        }
    }

    /// `secret-init bundle VERB --file F ARGS...`, which must succeed.
    fn vault(&self, args: &[&str]) {
        let mut r = Run::new();
        let (verb, rest) = args.split_first().expect("a bundle verb");
        r.args(["bundle", verb])
            .arg("--file")
            .arg(&self.file)
            .args(rest);
        r.env("SECRET_INIT_MASTER_KEY", &self.key);
        r.output().expect_ok();
    }
}

#[test]
fn bundle_set_on_the_watched_file_refreshes_and_a_tampered_rewrite_keeps_the_old_set() {
    let sb = Sandbox::new();
    let file = sb.path("bundle/app.json");
    std::fs::create_dir_all(file.parent().expect("test fixture")).expect("test fixture");
    let bundle = BundleFile::new(file.clone());
    let (key, vault_cmd) = (&bundle.key, |args: &[&str]| bundle.vault(args));
    let a = canary("bundle-a");
    let b = canary("bundle-b");
    vault_cmd(&["create", "app"]);
    vault_cmd(&["set", "app", "db", &a]);
    let status = sb.path("status.json");
    sb.config(&refresh_yaml("  bundles:\n    vaults: [app]\n", &status));
    let out = sb.path("out/db");
    let mut r = sb.run();
    r.env("SECRET_INIT_BUNDLE", &file)
        .env("SECRET_INIT_MASTER_KEY", key)
        .args(["--sources", "bundle", "--"])
        .args(reloader(&out));
    let mut ns = Ns::start(&r, &[]);
    let (ready, _) = expect_prefix(&ns, "ready ", Duration::from_secs(10));
    assert!(ready.ends_with(&a));
    vault_cmd(&["set", "app", "db", &b]);
    let (line, _) = expect_prefix(&ns, "hup ", Duration::from_secs(2));
    assert_eq!(line, format!("hup {b}"));

    // Tampered: one byte of the sealed value changed (a valid JSON file that fails to open).
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("test fixture")).expect("test fixture");
    let text = json.to_string();
    let sealed = find_sealed(&mut json).expect("a sealed value in the bundle");
    let mut chars: Vec<char> = sealed.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    *sealed = chars.into_iter().collect();
    assert_ne!(json.to_string(), text);
    let tmp = sb.path("bundle/.tampered");
    std::fs::write(&tmp, serde_json::to_vec(&json).expect("test fixture")).expect("test fixture");
    std::fs::rename(&tmp, &file).expect("test fixture");
    let st = status_until(&status, Duration::from_secs(3), &ns, |s| s["ok"] == false);
    assert!(
        st["error"]
            .as_str()
            .expect("test fixture")
            .contains("bundle"),
        "{st}"
    );
    assert_eq!(read(&out), b, "the last good value stays");
    assert_eq!(ns.line(Duration::from_millis(300)), None);
    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::TERM);
    assert_eq!(ns.finish(), 143);
    let stderr = ns.stderr();
    assert!(
        !stderr.contains(&a) && !stderr.contains(&b) && !stderr.contains(key.as_str()),
        "{stderr}"
    );
}

/// The first long base64 string in a bundle's JSON (a sealed value), for tampering.
fn find_sealed(v: &mut serde_json::Value) -> Option<&mut String> {
    match v {
        serde_json::Value::String(s) if s.len() > 40 => Some(s),
        serde_json::Value::Object(m) => m.values_mut().find_map(find_sealed),
        serde_json::Value::Array(a) => a.iter_mut().find_map(find_sealed),
        _ => None,
    }
}

#[test]
fn check_shows_the_refresh_settings_and_what_each_source_watches() {
    let sb = Sandbox::new();
    sb.mkdir("in");
    sb.write("in/db", "x");
    sb.config(
        "secrets:\n  db: null\nsecret_init:\n  refresh:\n    interval: 5m\n    on_change: signal\n    signal: USR1\n",
    );
    let out = sb.run().args(["check", "--sources", "file,env"]).output();
    out.expect_ok()
        .stdout_has("refresh: every 5m (jitter 10%), on change: signal SIGUSR1")
        .stdout_has(&format!(
            "  file:{}: inotify (poll 1s if inotify fails), and poll every 5m",
            sb.path("in").display()
        ))
        .stdout_has("  env: fixed at start");
    let out = sb
        .run()
        .args(["check", "--format", "json", "--refresh", "0"])
        .output();
    out.expect_ok();
    assert!(!out.stdout().contains("\"refresh\""), "0 turns refresh off");
    // Bad values: a clear usage error, nothing started.
    let out = sb.run().args(["--refresh", "soon", "--", "true"]).output();
    out.expect_code(64).stderr_has("--refresh");
    let out = sb
        .run()
        .args(["--refresh", "1m", "--no-init", "--", "true"])
        .output();
    out.expect_code(64).stderr_has("excludes --no-init");
    let out = sb
        .run()
        .args(["--refresh", "1m", "--refresh-signal", "KILL", "--", "true"])
        .output();
    out.expect_code(64).stderr_has("--refresh-signal");
}

#[test]
fn sigterm_during_a_refresh_abandons_it_and_exits_with_the_programs_status() {
    // The vault hangs (SIGSTOP on the server we started) while a refresh retries against it with
    // the default 8 retries and 30 s deadline: a SIGTERM must not wait for them.
    let bao = Bao::start();
    let a = canary("term-a");
    let mut run = vault_reloader(
        &bao,
        &a,
        &["--vault-timeout", "300ms", "--log-level", "debug"],
    );
    let (ns, out) = (&mut run.ns, &run.out);
    freeze(&bao, true);
    // The refresh is under way once a request has failed and is being retried.
    let retrying = wait_until(Duration::from_secs(8), || {
        ns.stderr().contains("(attempt 1)")
    });
    assert!(retrying, "no retrying refresh seen\n{}", ns.stderr());
    let pid = ns.host_pid();
    let t0 = Instant::now();
    ns.signal(pid, libc_sig::TERM);
    let code = ns.wait(Duration::from_secs(3));
    freeze(&bao, false);
    assert_eq!(code, Some(143), "took {:?}\n{}", t0.elapsed(), ns.stderr());
    assert_eq!(read(out), a, "nothing published");
    let stderr = ns.stderr();
    assert!(stderr.contains("refresh abandoned"), "{stderr}");
    assert!(!stderr.contains("refresh failed"), "{stderr}");
}

/// busybox's httpd (a real server, installed by scripts/setup) serving `dir` on a free loopback
/// port; stopped by PID on drop. It answers `If-None-Match` with 304 (its ETag is mtime-size).
struct Httpd {
    child: std::process::Child,
    port: u16,
}

impl Httpd {
    fn start(dir: &Path) -> Httpd {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = std::process::Command::new("busybox")
            .args(["httpd", "-f", "-p", &format!("127.0.0.1:{port}"), "-h"])
            .arg(dir)
            .spawn()
            .expect("busybox httpd (scripts/setup installs busybox-static)");
        let up = wait_until(Duration::from_secs(5), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "busybox httpd did not listen");
        Httpd { child, port }
    }
}

impl Drop for Httpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_bundle_url_is_polled_with_conditional_gets() {
    let sb = Sandbox::new();
    let served = sb.mkdir("www");
    let file = served.join("app.json");
    let bundle = BundleFile::new(file.clone());
    let (key, vault_cmd) = (&bundle.key, |args: &[&str]| bundle.vault(args));
    let a = canary("url-a");
    // A longer value: busybox's ETag is mtime-size, so the size change shows even within a second.
    let b = format!("{}-longer", canary("url-b"));
    vault_cmd(&["create", "app"]);
    vault_cmd(&["set", "app", "db", &a]);
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    let httpd = Httpd::start(&served);
    let status = sb.path("status.json");
    sb.config(&format!(
        "secrets:\n  db: null\nsecret_init:\n  refresh:\n    interval: 1s\n    jitter: 0%\n    \
         status_file: {}\n  bundles:\n    vaults: [app]\n",
        status.display()
    ));
    let out = sb.path("out/db");
    let mut r = sb.run();
    r.env(
        "SECRET_INIT_BUNDLE",
        format!("http://127.0.0.1:{}/app.json", httpd.port),
    )
    .env("SECRET_INIT_MASTER_KEY", key)
    .args(["--sources", "bundle", "--log-level", "trace", "--"])
    .args(reloader(&out));
    let mut ns = Ns::start(&r, &[]);
    let (ready, _) = expect_prefix(&ns, "ready ", Duration::from_secs(10));
    assert!(ready.ends_with(&a));
    // Unchanged: the polls are answered 304 and the cached bundle is reused.
    let not_modified = wait_until(Duration::from_secs(4), || {
        ns.stderr().matches("HTTP 304").count() >= 2
    });
    assert!(
        not_modified,
        "no conditional GET answered 304\n{}",
        ns.stderr()
    );
    assert!(ns.stderr().contains("not modified (ETag)"));
    vault_cmd(&["set", "app", "db", &b]);
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    let (line, _) = expect_prefix(&ns, "hup ", Duration::from_secs(3));
    assert_eq!(line, format!("hup {b}"));
    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::TERM);
    assert_eq!(ns.finish(), 143);
    let stderr = ns.stderr();
    assert!(!stderr.contains(&a) && !stderr.contains(&b) && !stderr.contains(key.as_str()));
}

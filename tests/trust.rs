//! What secret-init trusts (docs/threat-model.md, "Which files are inputs"): what it delivered is
//! never read back as an input; under `--user` a file the program could have written is not an
//! input; no reference reaches its own credentials; its own writes (the status file) never
//! trigger a refresh nor follow a link; what it issued for a program that never starts is
//! revoked. Each test drives the real binary (with a real OpenBao where a vault is involved) and
//! fails on the code before the fix it covers.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::init::{Ns, libc_sig};
use crate::refresh::{expect_prefix, status_until};
use crate::support::bao::Bao;
use crate::support::*;

/// The program's user in the `--user` tests (no passwd entry: no HOME, no provider).
const UID: u32 = 4242;

fn chown(p: &Path, uid: u32) {
    std::os::unix::fs::chown(p, Some(uid), Some(uid)).expect("chown");
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A program that prints the file `f` and exits.
fn cat(f: &Path) -> Vec<String> {
    vec!["/bin/cat".into(), f.display().to_string()]
}

/// `/secrets` as both the first secrets dir and the output dir, as in a container: a start
/// delivers the env value into it; the next start with a rotated value delivered the OLD one
/// (read back from its own delivery, "0 files written, 1 unchanged"). The record of deliveries
/// survives like the file does, and a file someone else puts there is still an input.
#[test]
fn a_value_delivered_by_an_earlier_start_never_wins_over_its_source() {
    let sb = Sandbox::new();
    let dir = sb.mkdir("secrets");
    let file = dir.join("hf_access_token");
    sb.config("secrets:\n  hf_access_token: null\n");
    let run = |value: &str| {
        let mut r = sb.run();
        r.env("SECRET_INIT_SECRETS_DIR", &dir)
            .env("SECRET_INIT_OUTPUT_DIR", &dir)
            .env("TRUSS_SECRET_hf_access_token", value);
        r
    };
    let (old, new) = (canary("hf-old"), canary("hf-new"));
    run(&old)
        .arg("--")
        .args(cat(&file))
        .output()
        .expect_ok()
        .stdout_has(&old);
    // The next start (a restart keeping /secrets): the rotated value, from its source.
    let out = run(&new).arg("--").args(cat(&file)).output();
    out.expect_ok().stderr_has("1 file written");
    assert_eq!(out.stdout(), new, "the earlier delivery won");
    run(&new)
        .arg("check")
        .output()
        .expect_ok()
        .stdout_has("env:TRUSS_SECRET_hf_access_token");
    // A file secret-init did not write (mounted, copied in) is an input, first in the order.
    let mounted = canary("mounted");
    std::fs::remove_file(&file).expect("rm");
    std::fs::write(&file, &mounted).expect("write");
    let out = run(&new).arg("--").args(cat(&file)).output();
    out.expect_ok().stderr_has("1 unchanged");
    assert_eq!(out.stdout(), mounted);
    // `from: file:` naming our own delivery is no input either.
    sb.config("secrets:\n  a: null\n");
    let mut r = run(&new);
    r.env("TRUSS_SECRET_a", &new).args(["--", "/bin/true"]);
    r.output().expect_ok();
    sb.config(&format!(
        "secrets:\n  a: null\n  b: null\nsecret_init:\n  secrets:\n    b: {{from: 'file:{}'}}\n",
        dir.join("a").display()
    ));
    r.output()
        .expect_code(69)
        .stderr_has("secret-init delivered, never an input");
}

/// `--user`: the program could write `/secrets/tls` (its own file, or a file in a directory it
/// owns, or one its group may write) and the root side published it to a root-owned 0400
/// destination at the next start. Such a file is not an input now: the value comes from the next
/// source. A root-owned file in a root-owned dir stays an input (control).
#[test]
fn under_user_a_file_the_program_can_write_is_not_an_input_for_a_root_delivery() {
    let sb = Sandbox::new();
    sb.config(
        "secrets:\n  tls: null\nsecret_init:\n  secrets:\n    tls: {owner: '0:0', mode: '0400'}\n",
    );
    let real = canary("real");
    let planted = canary("planted");
    let dest = sb.path("out/tls");
    let start = |secrets: &Path| {
        sb.run()
            .env("SECRET_INIT_SECRETS_DIR", secrets)
            .env("TRUSS_SECRET_tls", &real)
            .args(["--user", &format!("{UID}:{UID}"), "--", "/bin/true"])
            .output()
    };
    // Owned by the program's user.
    let own = sb.mkdir("own");
    let f = sb.write("own/tls", &planted);
    chown(&f, UID);
    // Root's file in a directory the program's user owns (it could have swapped it).
    let dir = sb.mkdir("userdir");
    sb.write("userdir/tls", &planted);
    chown(&dir, UID);
    // Root's file that the program's group may write.
    let grp = sb.mkdir("group");
    let f = sb.write("group/tls", &planted);
    std::os::unix::fs::chown(&f, Some(0), Some(UID)).expect("chown");
    chmod(&f, 0o660);
    for secrets in [&own, &dir, &grp] {
        let out = start(secrets);
        out.expect_ok()
            .stderr_has("not an input: the program's user could have written it")
            .no_leak(&[&real, &planted]);
        assert_eq!(read(&dest), real, "{}", secrets.display());
        let md = std::fs::metadata(&dest).expect("stat");
        assert_eq!((md.uid(), mode(&dest)), (0, 0o400));
    }
    // Control: root's file in root's dir is the input.
    let roots = sb.mkdir("roots");
    sb.write("roots/tls", "from-root");
    start(&roots).expect_ok();
    assert_eq!(read(&dest), "from-root");
    // An explicit `file:` reference to a file the program could write is refused (77).
    sb.config(&format!(
        "secrets:\n  tls: null\nsecret_init:\n  secrets:\n    tls: {{from: 'file:{}', owner: '0:0', mode: '0400'}}\n",
        dir.join("tls").display()
    ));
    start(&roots)
        .expect_code(77)
        .stderr_has("secret \"tls\"")
        .stderr_has("the program's user could have written it");
}

/// No reference hands the program secret-init's own credentials: its live vault token through
/// `vault:auth/token/lookup-self#id` (or a namespace before it, cubbyhole, identity, sys), in
/// `from:` or as an env reference, in `paths:` or a dynamic path; nor a `file:` reference or a
/// secrets-dir file that is one of its credential files (the AppRole secret id file, the bundle
/// master key file, a cloud token file), by whatever name. Refused with 78, naming the secret and
/// the reference, before any request.
#[test]
fn references_to_our_own_credentials_are_refused() {
    let bao = Bao::start();
    bao.put_v2("app", &[("db", "v")]);
    let (role_id, secret_id) = bao.approle();
    let minted = bao.audited_ops("update", "auth/approle/role/app/secret-id");
    let sb = Sandbox::new();
    let sid = sb.write("creds/secret-id", &secret_id);
    let key = sb.write("creds/master.key", canary("master-key"));
    let token_file = sb.write("creds/web-identity", canary("web-identity"));
    let vault = format!(
        "  vault:\n{}    auth: {{method: approle, role_id: {role_id}, secret_id_file: {}}}\n",
        bao.vault_yaml(),
        sid.display()
    );
    let start = |yaml: &str| {
        sb.config(yaml);
        let out = sb
            .run()
            .env("SECRET_INIT_MASTER_KEY_FILE", &key)
            .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file)
            .env("LEAK", "vault:auth/token/lookup-self#id")
            .args(["--", "/bin/sh", "-c", "echo program-ran"])
            .output();
        assert!(!out.stdout().contains("program-ran"), "{yaml}");
        assert!(!sb.path("out").exists(), "written: {yaml}");
        out.no_leak(&[&secret_id, &bao.root]);
        out
    };
    for reference in [
        "vault:auth/token/lookup-self#id",
        "vault:team/auth/token/lookup-self#id",
        "vault:cubbyhole/stash#k",
        "vault:identity/oidc/token/app#token",
        "vault:sys/wrapping/lookup#creation_path",
        "vault:auth/approle/role/app/role-id#role_id",
    ] {
        start(&format!(
            "secrets:\n  tok: null\nsecret_init:\n  secrets:\n    tok: {{from: '{reference}'}}\n{vault}"
        ))
        .expect_code(78)
        .stderr_has(&format!("secret \"tok\" ({reference})"))
        .stderr_has("secret-init's own credentials");
    }
    // The env-reference form of the same path.
    start(&format!(
        "secrets: {{}}\nsecret_init:\n  resolve_env_references: true\n{vault}"
    ))
    .expect_code(78)
    .stderr_has("secret \"LEAK\" (vault:auth/token/lookup-self#id)");
    // As a path read whole, and as a dynamic secret (a new secret id for our own role).
    start(&format!(
        "secrets:\n  id: null\nsecret_init:\n{}    paths: [auth/token/lookup-self]\n",
        vault
    ))
    .expect_code(78)
    .stderr_has("auth/token/lookup-self");
    start(&format!(
        "secrets: {{}}\nsecret_init:\n{vault}    dynamic:\n      sid: {{path: auth/approle/role/app/secret-id, method: POST, fields: {{v: secret_id}}}}\n"
    ))
    .expect_code(78)
    .stderr_has("dynamic.sid.path");
    assert!(
        !bao.audited("auth/token/lookup-self")
            && bao.audited_ops("update", "auth/approle/role/app/secret-id") == minted,
        "a refused path was requested"
    );
    // Our credential files, by their own path, a second name (a hard link) or a secrets dir.
    std::fs::create_dir_all(sb.path("in")).expect("mkdir");
    std::fs::hard_link(&sid, sb.path("in/sid")).expect("hard link");
    std::fs::hard_link(&sid, sb.path("elsewhere")).expect("hard link");
    for (name, reference) in [
        ("s", format!("file:{}", sid.display())),
        ("s", format!("file:{}", sb.path("elsewhere").display())),
        ("s", format!("file:{}", key.display())),
        ("s", format!("file:{}", token_file.display())),
    ] {
        start(&format!(
            "secrets:\n  {name}: null\nsecret_init:\n  secrets:\n    {name}: {{from: '{reference}'}}\n{vault}"
        ))
        .expect_code(78)
        .stderr_has(&format!("secret \"{name}\" ({reference})"))
        .stderr_has("one of secret-init's own credentials");
    }
    start(&format!("secrets:\n  sid: null\nsecret_init:\n{vault}"))
        .expect_code(78)
        .stderr_has(&format!(
            "secret \"sid\" (file:{})",
            sb.path("in/sid").display()
        ));
    // Control: the same vault and an ordinary reference deliver.
    sb.config(&format!(
        "secrets:\n  db: null\nsecret_init:\n  secrets:\n    db: {{from: 'vault:secret/data/app#db'}}\n{vault}"
    ));
    sb.run().args(["--", "/bin/true"]).output().expect_ok();
    assert_eq!(read(&sb.path("out/db")), "v");
}

/// A status file inside a watched secrets dir: every status write was an inotify event that
/// scheduled the next pass 100 ms later, so refresh triggered itself forever (a vault read each
/// time), and a watch event during a failure backoff skipped the backoff. Now our own writes are
/// no change, and a change seen during a backoff waits for it: counted on the real OpenBao's
/// audit log.
#[test]
fn a_status_file_in_a_watched_dir_never_triggers_a_refresh_and_changes_wait_for_the_backoff() {
    let bao = Bao::start();
    bao.put_v2("app", &[("db", &canary("db"))]);
    let sb = Sandbox::new();
    let watched = sb.mkdir("in");
    let status = watched.join("status.json");
    sb.config(&format!(
        "secrets:\n  db: null\nsecret_init:\n  refresh:\n    interval: 1h\n    jitter: 0%\n    status_file: {}\n  vault:\n{}    paths: [secret/data/app]\n",
        status.display(),
        bao.vault_yaml()
    ));
    let mut r = sb.run();
    r.env("VAULT_TOKEN", bao.reader_token())
        .args(["--sources", "file,vault", "--vault-retries", "0", "--"])
        .args(["/bin/sh", "-c", "echo ready; while :; do sleep 0.05; done"]);
    let ns = Ns::start(&r, &[]);
    expect_prefix(&ns, "ready", Duration::from_secs(10));
    let reads = || bao.audited_ops("read", "secret/data/app");
    // One change: one pass, whose status write is no change of its own.
    std::fs::write(watched.join("unrelated-1"), "x").expect("write");
    status_until(&status, Duration::from_secs(5), &ns, |s| {
        s["last_attempt"].is_number()
    });
    // The vault now fails: a change brings one pass, failure 1 (backoff 1 s, no jitter).
    bao.admin(json!([{"op": "api", "method": "DELETE", "path": "secret/metadata/app"}]));
    std::fs::write(watched.join("unrelated-2"), "x").expect("write");
    status_until(&status, Duration::from_secs(5), &ns, |s| {
        s["failures_in_a_row"] == 1
    });
    let t1 = Instant::now();
    // A change during the backoff waits for it.
    std::fs::write(watched.join("unrelated-3"), "x").expect("write");
    status_until(&status, Duration::from_secs(5), &ns, |s| {
        s["failures_in_a_row"] == 2
    });
    let waited = t1.elapsed();
    let n = reads();
    assert!(
        waited >= Duration::from_millis(700),
        "the second failure came {waited:?} after the first: the backoff was skipped\n{}",
        ns.stderr()
    );
    // The start's read, the change's, failures 1 and 2: nothing else.
    assert_eq!(n, 4, "vault reads\n{}", ns.stderr());
    let mut ns = ns;
    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::TERM);
    assert_eq!(ns.finish(), 143);
}

/// A start that issued a dynamic secret (a PKI certificate with a lease) over an AppRole login
/// and then failed to publish (73) left the lease and the login token alive for their TTLs.
/// Both are revoked now (the real OpenBao lists neither afterwards); a start that succeeds leaves
/// the lease to the program (control).
#[test]
fn a_failed_start_revokes_the_dynamic_lease_and_the_login_token() {
    let bao = Bao::start();
    bao.admin(json!([
        {"op": "api", "method": "POST", "path": "sys/mounts/pki", "body": {"type": "pki", "config": {"max_lease_ttl": "1h"}}},
        {"op": "api", "method": "POST", "path": "pki/root/generate/internal", "body": {"common_name": "test root", "ttl": "1h", "key_type": "ec", "key_bits": 256}},
        {"op": "api", "method": "POST", "path": "pki/roles/web", "body": {"allowed_domains": ["app.internal"], "allow_bare_domains": true,
            "key_type": "ec", "key_bits": 256, "ttl": "10m", "generate_lease": true}},
        {"op": "api", "method": "PUT", "path": "sys/policies/acl/web", "body": {"policy": "path \"pki/issue/web\" { capabilities = [\"update\"] }\n"}},
        {"op": "api", "method": "POST", "path": "auth/approle/role/web", "body": {"token_policies": ["web"], "token_ttl": "10m"}},
    ]));
    let ids = bao.admin(json!([
        {"op": "api", "method": "GET", "path": "auth/approle/role/web/role-id"},
        {"op": "api", "method": "POST", "path": "auth/approle/role/web/secret-id", "body": {}},
    ]));
    let role_id = ids[0]["body"]["data"]["role_id"].as_str().expect("role_id");
    let secret_id = ids[1]["body"]["data"]["secret_id"]
        .as_str()
        .expect("secret_id")
        .to_string();
    let leases = || {
        let r = bao.admin(json!([{"op": "api", "method": "LIST", "path": "sys/leases/lookup/pki/issue/web/", "ok_status": [404]}]));
        r[0]["body"]["data"]["keys"]
            .as_array()
            .map_or(0, |k| k.len())
    };
    let accessors = || {
        let r = bao.admin(json!([{"op": "api", "method": "LIST", "path": "auth/token/accessors"}]));
        r[0]["body"]["data"]["keys"].as_array().expect("keys").len()
    };
    let sb = Sandbox::new();
    sb.config(&format!(
        "secrets: {{}}\nsecret_init:\n  vault:\n{}    auth: {{method: approle, role_id: {role_id}}}\n    dynamic:\n      web:\n        path: pki/issue/web\n        data: {{common_name: app.internal}}\n        fields: {{cert: certificate, key: private_key}}\n",
        bao.vault_yaml()
    ));
    let tokens_before = accessors();
    // The publish fails: a directory where the key file goes.
    std::fs::create_dir_all(sb.path("out/web.key")).expect("mkdir");
    let start = || {
        sb.run()
            .env("VAULT_SECRET_ID", &secret_id)
            .args(["--", "/bin/true"])
            .output()
    };
    start()
        .expect_code(73)
        .stderr_has("issued dynamic secret \"web\"")
        .no_leak(&[&secret_id]);
    assert_eq!(leases(), 0, "the lease outlived the failed start");
    assert_eq!(
        accessors(),
        tokens_before,
        "the login token outlived the failed start"
    );
    // `check` never starts a program: what it issued to check the plan is revoked too.
    std::fs::remove_dir(sb.path("out/web.key")).expect("rmdir");
    sb.run()
        .env("VAULT_SECRET_ID", &secret_id)
        .arg("check")
        .output()
        .expect_ok();
    assert_eq!(leases(), 0, "check left a lease");
    assert_eq!(accessors(), tokens_before, "check left its login token");
    // Control: a start that succeeds hands the certificate, its lease and the token under it
    // to the program.
    start().expect_ok();
    assert!(read(&sb.path("out/web.cert")).contains("BEGIN CERTIFICATE"));
    assert_eq!(leases(), 1, "control: the lease is listed");
    assert_eq!(accessors(), tokens_before + 1);
}

/// The status file in a directory the `--user` program owns: the program swaps the directory for
/// a link to a root-only one, and the root supervisor wrote (and would replace) a file there.
/// Now the write opens the directories without following a link: it fails, logged, and nothing
/// is written through the link. A secrets dir the program owns is not watched.
#[test]
fn the_status_file_is_never_written_through_a_link() {
    let base = tempfile::Builder::new()
        .prefix("si-status-")
        .tempdir()
        .expect("tempdir");
    let base = base.path();
    chmod(base, 0o755);
    let shared = base.join("shared");
    std::fs::create_dir_all(shared.join("pub")).expect("mkdir");
    chown(&shared, UID);
    chown(&shared.join("pub"), UID);
    let root_only = base.join("root-only");
    std::fs::create_dir(&root_only).expect("mkdir");
    chmod(&root_only, 0o700);
    let status = shared.join("pub/status.json");
    let sb = Sandbox::new();
    sb.config(&format!(
        "secrets:\n  db: null\nsecret_init:\n  refresh:\n    interval: 1s\n    jitter: 0%\n    status_file: {}\n",
        status.display()
    ));
    let script = format!(
        "until grep -q '\"program_pid\":[0-9]' {s} 2>/dev/null; do sleep 0.05; done; \
         mv {p} {p}.old && ln -s {r} {p} && echo swapped; while :; do sleep 0.05; done",
        s = status.display(),
        p = shared.join("pub").display(),
        r = root_only.display()
    );
    // The secrets dir is the program's too: nothing in it is an input, so it is not watched
    // (a program writing into it cannot drive a pass every 100 ms).
    let mut r = sb.run();
    r.env("TRUSS_SECRET_db", "v")
        .env("SECRET_INIT_SECRETS_DIR", &shared)
        .args(["--user", &format!("{UID}:{UID}"), "--", "/bin/sh", "-c"])
        .arg(script);
    let mut ns = Ns::start(&r, &[]);
    expect_prefix(&ns, "swapped", Duration::from_secs(10));
    assert!(
        ns.stderr().contains(&format!(
            "refresh: {} is not watched: the program's user can change it",
            shared.display()
        )),
        "{}",
        ns.stderr()
    );
    let warned = wait_until(Duration::from_secs(10), || {
        ns.stderr().contains("cannot write the status file")
    });
    assert!(warned, "no failed status write\n{}", ns.stderr());
    assert!(
        ns.stderr().contains("refusing to follow symlink"),
        "{}",
        ns.stderr()
    );
    assert_eq!(
        tree(&root_only),
        Vec::<String>::new(),
        "written through the link"
    );
    assert!(shared.join("pub.old/status.json").exists(), "control");
    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::TERM);
    assert_eq!(ns.finish(), 143);
}

/// Under `--user`, what decides the deliveries must be out of the program's reach: a config.yaml
/// or a template source in a directory the program owns would let it choose, at the next start,
/// what root writes where (a `default:` value to a root-owned path; every secret rendered into a
/// file it reads). Refused with 78 before anything is resolved; the same files in root's
/// directories are used (control).
#[test]
fn under_user_the_files_that_decide_deliveries_must_be_out_of_the_programs_reach() {
    let sb = Sandbox::new();
    let user_dir = sb.mkdir("app");
    chown(&user_dir, UID);
    let secret = canary("db");
    let config = "secrets:\n  db: null\n";
    let start = |config: &Path| {
        let out = sb
            .run()
            .env("SECRET_INIT_CONFIG", config)
            .env("TRUSS_SECRET_db", &secret)
            .args(["--user", &format!("{UID}:{UID}"), "--", "/bin/true"])
            .output();
        out.no_leak(&[&secret]);
        out
    };
    let in_user_dir = sb.write("app/config.yaml", config);
    start(&in_user_dir)
        .expect_code(78)
        .stderr_has("config.yaml")
        .stderr_has("could have written it");
    assert!(!sb.path("out").exists(), "delivered");
    // A template source there, named by root's config.
    sb.write("app/t.tmpl", "{{ secrets.db }}");
    let root_config = sb.write(
        "root/config.yaml",
        format!(
            "secrets:\n  db: null\nsecret_init:\n  templates:\n    t: {{destination: {}, source: {}}}\n",
            sb.path("out/t").display(),
            user_dir.join("t.tmpl").display()
        ),
    );
    start(&root_config)
        .expect_code(78)
        .stderr_has("a template source");
    // Control: both in root's directories.
    sb.write("root/t.tmpl", "{{ secrets.db }}");
    sb.write(
        "root/config.yaml",
        format!(
            "secrets:\n  db: null\nsecret_init:\n  templates:\n    t: {{destination: {}, source: {}}}\n",
            sb.path("out/t").display(),
            sb.path("root/t.tmpl").display()
        ),
    );
    start(&root_config).expect_ok();
    assert_eq!(read(&sb.path("out/t")), secret);
}

/// `remove_secret_id_file`: the consumed AppRole secret id file was removed with a path-following
/// `remove_file`, so a link planted in its directory path made the removal land elsewhere. Now
/// the parent is opened without following links: a link on the way leaves the file alone, with a
/// warning; a plain path is removed (control).
#[test]
fn a_consumed_secret_id_file_is_never_removed_through_a_link() {
    let bao = Bao::start();
    bao.put_v2("app", &[("db", "v")]);
    let sb = Sandbox::new();
    let real = sb.mkdir("real");
    std::os::unix::fs::symlink(&real, sb.path("link")).expect("symlink");
    let start = |sid_path: &Path| {
        let (role_id, secret_id) = bao.approle();
        std::fs::write(real.join("secret-id"), &secret_id).expect("write");
        sb.config(&format!(
            "secrets:\n  db: null\nsecret_init:\n  vault:\n{}    paths: [secret/data/app]\n    auth: {{method: approle, role_id: {role_id}, secret_id_file: {}, remove_secret_id_file: true}}\n",
            bao.vault_yaml(),
            sid_path.display()
        ));
        let out = sb.run().args(["--", "/bin/true"]).output();
        out.expect_ok().no_leak(&[&secret_id]);
        out
    };
    start(&sb.path("link/secret-id")).stderr_has("consumed input: not removing");
    assert!(real.join("secret-id").exists(), "removed through the link");
    start(&real.join("secret-id"));
    assert!(!real.join("secret-id").exists(), "control: not removed");
}

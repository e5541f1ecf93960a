//! Safe defaults for the output dir in a container: a warning when it is not memory-backed, and a
//! read-only secret mount used as the output dir, which works only when every secret comes from
//! it. Real mounts, in a private mount namespace (`unshare --mount`, as root).

use crate::support::{Sandbox, in_mount_namespace as in_namespace};

const WARNING: &str = "is not memory-backed (tmpfs/ramfs): the secrets written there may reach disk; \
                       mount a memory-backed volume there (docker run --tmpfs ";

/// An output dir on a disk-backed filesystem gets a warning naming the fix; the same start into
/// a tmpfs gets none, and neither does an env-only start, which writes nothing.
#[test]
fn a_disk_backed_output_dir_is_warned_about() {
    let sb = Sandbox::new();
    sb.config("secrets:\n  db: null\n");
    let disk = sb
        .run()
        .env("TRUSS_SECRET_db", "x")
        .args(["--", "/bin/true"])
        .output();
    disk.expect_ok().stderr_has(&format!(
        "secret-init: warn: {} {WARNING}{}, emptyDir: {{medium: Memory}}) or deliver by env only \
         (--env-only)",
        sb.path("out").display(),
        sb.path("out").display()
    ));
    let tmpfs = in_namespace(
        &sb,
        "mount -t tmpfs -o mode=0700 tmpfs \"$0\"",
        &["--", "/bin/true"],
        &[("TRUSS_SECRET_db", "x")],
    );
    tmpfs.expect_ok();
    assert!(tmpfs.stdout().contains("db"), "{}", tmpfs.stdout());
    assert!(
        !tmpfs.stderr().contains("memory-backed"),
        "{}",
        tmpfs.stderr()
    );
    let env_only = sb
        .run()
        .env("TRUSS_SECRET_db", "x")
        .args(["--env-only", "--", "/bin/true"])
        .output();
    env_only.expect_ok();
    assert!(
        !env_only.stderr().contains("memory-backed"),
        "{}",
        env_only.stderr()
    );
}

/// A read-only Kubernetes secret mount as both the secrets dir and the output dir: it works when
/// every secret comes from it (each file left as it is); a secret from anywhere else cannot be
/// written there, and the start stops with 73 saying what to do, nothing started; with
/// `--env-only` that secret goes to the environment and the start succeeds.
#[test]
fn a_read_only_secret_mount_is_the_output_dir_only_when_every_secret_comes_from_it() {
    let sb = Sandbox::new();
    let mount = "mount -t tmpfs -o mode=0700 tmpfs \"$0\" && printf from-mount > \"$0/db\" && \
                 mount -o remount,ro \"$0\"";
    let both = |extra: &[&str]| {
        let out = sb.path("out").display().to_string();
        let mut args = vec!["--secrets-dir", &out, "--output-dir", &out];
        args.extend_from_slice(extra);
        in_namespace(&sb, mount, &args, &[("TRUSS_SECRET_api", "from-env")])
    };
    sb.config("secrets:\n  db: null\n");
    both(&[
        "--",
        "/bin/sh",
        "-c",
        "cat \"$0\"",
        &sb.path("out/db").display().to_string(),
    ])
    .expect_ok()
    .stdout_has("from-mount");
    sb.config("secrets:\n  db: null\n  api: null\n");
    let out = both(&["--", "/bin/echo", "started"]);
    out.expect_code(73).stderr_has(&format!(
        "{} is on a read-only filesystem (a mounted secret volume?): it can be the output dir only \
         when every secret comes from it; write elsewhere with --output-dir DIR, or deliver by env \
         only (--env-only)",
        sb.path("out").display()
    ));
    assert!(!out.stdout().contains("started"), "{}", out.stdout());
    let out = both(&["--env-only", "--", "/bin/sh", "-c", "echo \"api=$api\""]);
    out.expect_ok().stdout_has("api=from-env");
}

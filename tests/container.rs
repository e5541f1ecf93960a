//! Containers as users run them: Debian's podman with runc starts the image `Containerfile`
//! builds (FROM scratch: the static binary, busybox-static, `examples/container/config.yaml`),
//! and every case is a `podman run` line a user would type: secret-init as PID 1, `podman stop`
//! and `podman kill`, `--read-only` with `--tmpfs /secrets`, `--user` both ways, `-e
//! TRUSS_SECRET_*`, `podman run --secret`, a Kubernetes-style `..data` volume and `--cleanup`.
//!
//! The image is built once per test process, offline (no pull, `--network none`), and reused. Podman
//! reads only the CONTAINERS_CONF and CONTAINERS_STORAGE_CONF written here: runc, cgroupfs and no
//! default ulimits (this VM is cgroup v1 without CAP_SYS_RESOURCE), storage under Cargo's target
//! tmp dir, runtime state under a short per-worktree dir in /tmp (socket paths are limited to 108
//! bytes). Nothing global is touched. Needs root, podman and runc: scripts/setup installs them;
//! missing either fails, never skips.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::*;

mod example;
mod release;

const IMAGE: &str = "localhost/secret-init-test:latest";

struct Engine {
    conf: PathBuf,
    storage: PathBuf,
}

/// The engine, configured and with the image built (once per test process).
fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the container tests need root (the test command runs as root)"
        );
        for tool in ["podman", "runc"] {
            let ok = Command::new(tool)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(
                ok,
                "{tool} missing: run scripts/setup (the test command does)"
            );
        }
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("podman");
        let run = PathBuf::from(format!("/tmp/si-podman-{:08x}", fnv(base.as_os_str())));
        for d in [&base, &run] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        let conf = base.join("containers.conf");
        std::fs::write(
            &conf,
            format!(
                "[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = \"runc\"\n\
                 cgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\ntmp_dir = \"{}\"\n",
                run.join("libpod").display()
            ),
        )
        .expect("write containers.conf");
        let storage = base.join("storage.conf");
        std::fs::write(
            &storage,
            format!(
                "[storage]\ndriver = \"overlay\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
                base.join("storage").display(),
                run.join("storage").display()
            ),
        )
        .expect("write storage.conf");
        let engine = Engine { conf, storage };
        build_image(&engine, &base.join("context"));
        engine
    })
}

/// A stable short tag for a path (FNV-1a), so each worktree has its own runtime dir.
fn fnv(s: &std::ffi::OsStr) -> u32 {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes().iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// Builds `Containerfile` from a context holding what its header says: the binary under test,
/// busybox-static and the example config.
fn build_image(engine: &Engine, ctx: &Path) {
    let _ = std::fs::remove_dir_all(ctx);
    std::fs::create_dir_all(ctx).expect("mkdir context");
    std::fs::copy(bin(), ctx.join("secret-init")).expect("copy secret-init");
    std::fs::copy("/bin/busybox", ctx.join("busybox")).expect("copy busybox (busybox-static)");
    std::fs::copy(
        root().join("examples/container/config.yaml"),
        ctx.join("config.yaml"),
    )
    .expect("copy config");
    podman(engine)
        .args(["build", "--network", "none", "--pull=never", "-q", "-f"])
        .arg(root().join("Containerfile"))
        .args(["-t", IMAGE])
        .arg(ctx)
        .output()
        .expect_ok();
    // The previous run's image, untagged by this build.
    let _ = podman(engine).args(["image", "prune", "-f"]).output();
}

/// The Python image (`examples/container/Containerfile.python`), built once on first use from
/// this machine's python3 and its libraries: no Python base image can be pulled here.
fn python_image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    const PY_IMAGE: &str = "localhost/secret-init-test-python:latest";
    let engine = engine();
    BUILT.get_or_init(|| {
        let ctx = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("podman/python-context");
        let _ = std::fs::remove_dir_all(&ctx);
        let rootfs = ctx.join("rootfs");
        let python = std::fs::canonicalize("/usr/bin/python3").expect("python3");
        let ldd = Command::new("ldd").arg(&python).output().expect("ldd");
        let mut files: Vec<PathBuf> = vec![python.clone()];
        for line in String::from_utf8_lossy(&ldd.stdout).lines() {
            // "libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x...)" or "/lib64/ld-linux... (0x...)"
            if let Some(p) = line.split_whitespace().find(|w| w.starts_with('/')) {
                files.push(PathBuf::from(p));
            }
        }
        let stdlib = PathBuf::from("/usr/lib").join(python.file_name().expect("name"));
        files.push(stdlib);
        files.push(bin());
        for f in &files {
            let dest = if *f == bin() {
                rootfs.join("usr/local/bin/secret-init")
            } else {
                rootfs.join(f.strip_prefix("/").expect("absolute"))
            };
            std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
            // cp -L: the loader and libraries are links on the host; the image gets the files.
            let ok = Command::new("cp")
                .args(["-rL", "--no-preserve=ownership"])
                .arg(f)
                .arg(&dest)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "copy {}", f.display());
        }
        std::os::unix::fs::symlink("python3.11", rootfs.join("usr/bin/python3")).ok();
        let app = rootfs.join("app");
        let ok = Command::new("cp")
            .arg("-r")
            .arg(root().join("examples/truss-model"))
            .arg(&app)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "copy the example model");
        podman(engine)
            .args(["build", "--network", "none", "--pull=never", "-q", "-f"])
            .arg(root().join("examples/container/Containerfile.python"))
            .args(["-t", PY_IMAGE])
            .arg(&ctx)
            .output()
            .expect_ok();
    });
    PY_IMAGE
}

/// A podman command line against our own configuration and storage.
fn podman(engine: &Engine) -> Run {
    let mut r = Run::new();
    r.program = PathBuf::from("podman");
    r.env("CONTAINERS_CONF", &engine.conf);
    r.env("CONTAINERS_STORAGE_CONF", &engine.storage);
    r.env("HOME", "/root");
    r
}

/// `podman run --rm --network none ARGS` with the test image; `args` holds the options, then
/// `IMAGE` where the image goes, then the program.
fn run(args: &[&str]) -> Out {
    let mut r = podman(engine());
    r.args(["run", "--rm", "--network", "none"]).args(args);
    r.output()
}

/// The usual options (a `--tmpfs /secrets`, the required secret by env), the image, then `sh -c
/// script`.
fn shell(script: &str) -> Vec<&str> {
    vec![
        "--tmpfs",
        "/secrets",
        "-e",
        "TRUSS_SECRET_api_key=x",
        IMAGE,
        "sh",
        "-c",
        script,
    ]
}

/// A detached container, removed (`rm -f`) when dropped.
struct Detached {
    name: String,
}

impl Detached {
    fn start(tag: &str, args: &[&str]) -> Detached {
        let name = canary(tag);
        podman(engine())
            .args(["run", "-d", "--network", "none", "--name", &name])
            .args(args)
            .output()
            .expect_ok();
        Detached { name }
    }

    fn logs(&self) -> String {
        let out = podman(engine()).args(["logs", &self.name]).output();
        out.stdout() + &out.stderr()
    }

    /// Waits (bounded) for `needle` in the container's output.
    fn wait_for(&self, needle: &str) {
        let seen = wait_until(Duration::from_secs(20), || self.logs().contains(needle));
        assert!(
            seen,
            "no {needle:?} from the container; logs:\n{}",
            self.logs()
        );
    }

    fn exit_code(&self) -> i32 {
        let out = podman(engine())
            .args(["wait", &self.name])
            .output()
            .expect_ok()
            .stdout();
        out.trim()
            .parse()
            .expect("podman wait prints the exit code")
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        let _ = podman(engine())
            .args(["rm", "-f", "-t", "0", &self.name])
            .output();
    }
}

/// Every line the README's Containers section shows is one of these cases; each proves itself by
/// what the program prints from inside the container.
#[test]
fn tmpfs_secrets_and_env_var_run_as_pid1() {
    let value = canary("api");
    let token = format!("TRUSS_SECRET_api_key={value}");
    let out = run(&[
        "--tmpfs",
        "/secrets",
        "-e",
        &token,
        IMAGE,
        "sh",
        "-c",
        "echo pid=$$ dir=$(stat -c %a /secrets) file=$(stat -c %a /secrets/api_key); \
         echo pid1=$(tr '\\0' ' ' < /proc/1/cmdline); echo value=$(cat /secrets/api_key); \
         echo greeting=$(cat /secrets/greeting); echo leftover=$(env | grep -c TRUSS_SECRET_)",
    ]);
    out.expect_ok();
    let so = out.stdout();
    // secret-init is PID 1 and supervises: the shell is not PID 1.
    assert!(so.contains("pid1=/usr/local/bin/secret-init --"), "{so}");
    assert!(!so.contains("pid=1 "), "{so}");
    // The 1777 tmpfs was made private before use; the file is 0600.
    assert!(so.contains("dir=700 file=600"), "{so}");
    assert!(so.contains(&format!("value={value}")), "{so}");
    assert!(so.contains("greeting=hello"), "{so}");
    assert!(so.contains("leftover=0"), "{so}");
    assert!(
        !out.stderr().contains(&value),
        "value in the log: {}",
        out.stderr()
    );
}

/// The program's exit code is the container's; a missing secret is 69 with the program never run.
#[test]
fn exit_codes_pass_through_and_missing_secret_is_69() {
    let out = run(&shell("exit 42"));
    out.expect_code(42);
    let out = run(&["--tmpfs", "/secrets", IMAGE, "sh", "-c", "echo started"]);
    out.expect_code(69).stderr_has("api_key");
    assert!(!out.stdout().contains("started"), "{}", out.stdout());
}

/// `podman stop` sends SIGTERM to PID 1 (secret-init), which forwards it: the program ends 143
/// long before the 30 s grace period would end in SIGKILL.
#[test]
fn podman_stop_ends_the_program_with_143_inside_the_grace_period() {
    let c = Detached::start("stop", &shell("echo ready; exec sleep 1000"));
    c.wait_for("ready");
    let t = Instant::now();
    podman(engine())
        .args(["stop", "-t", "30", &c.name])
        .output()
        .expect_ok();
    let took = t.elapsed();
    assert_eq!(c.exit_code(), 143, "logs:\n{}", c.logs());
    assert!(took < Duration::from_secs(10), "stop took {took:?}");
}

/// `podman kill -s HUP` reaches the program through secret-init; the program's trap answers and
/// its exit code (3) is the container's.
#[test]
fn podman_kill_hup_reaches_the_program() {
    let c = Detached::start(
        "hup",
        &shell("trap 'echo got-hup; exit 3' HUP; echo ready; while :; do sleep 0.1; done"),
    );
    c.wait_for("ready");
    podman(engine())
        .args(["kill", "-s", "HUP", &c.name])
        .output()
        .expect_ok();
    assert_eq!(c.exit_code(), 3, "logs:\n{}", c.logs());
    assert!(c.logs().contains("got-hup"), "{}", c.logs());
}

/// A read-only root with a tmpfs for the secrets works; without the tmpfs it is 73 naming the fix.
#[test]
fn read_only_root_with_tmpfs_secrets() {
    let out = run(&[
        "--read-only",
        "--tmpfs",
        "/secrets",
        "-e",
        "TRUSS_SECRET_api_key=ro",
        IMAGE,
        "cat",
        "/secrets/api_key",
    ]);
    out.expect_ok();
    assert_eq!(out.stdout(), "ro");
    let out = run(&[
        "--read-only",
        "-e",
        "TRUSS_SECRET_api_key=ro",
        IMAGE,
        "true",
    ]);
    out.expect_code(73).stderr_has("read-only");
}

/// `podman run --user 1000:1000`: secret-init cannot make root's 1777 tmpfs private, so it
/// refuses (78) naming the mount option; with podman's spelling of it, as the README shows, it
/// works (podman refuses Docker's `uid=`; Docker's own line is not testable here).
#[test]
fn unprivileged_container_needs_a_private_tmpfs() {
    let out = run(&[
        "--user",
        "1000:1000",
        "--tmpfs",
        "/secrets",
        "-e",
        "TRUSS_SECRET_api_key=u",
        IMAGE,
        "true",
    ]);
    out.expect_code(78).stderr_has(
        "--tmpfs /secrets:mode=0700,uid=1000, or with podman --tmpfs /secrets:mode=0700,U",
    );
    let out = run(&[
        "--user",
        "1000:1000",
        "--tmpfs",
        "/secrets:mode=0700,U",
        "-e",
        "TRUSS_SECRET_api_key=u",
        IMAGE,
        "sh",
        "-c",
        "echo $(id -u) $(stat -c '%u %a' /secrets/api_key) $(cat /secrets/api_key)",
    ]);
    out.expect_ok();
    assert_eq!(out.stdout().trim(), "1000 1000 600 u");
}

/// `check` judges a plain `--tmpfs /secrets` as the run will find it: made private first, so 0
/// where the run works (and the mount is left as it was: check changes nothing); 78 with the fix
/// where the run would refuse it (an unprivileged container).
#[test]
fn check_agrees_with_the_run_on_a_fresh_tmpfs() {
    // `check` in a container of the image, as root or as podman's `--user`: its exit code and the
    // mount's mode afterwards.
    let check_as = |user: &[&str]| {
        let script = "secret-init check >/dev/null 2>/tmp/err; echo rc=$? mode=$(stat -c %a /secrets); cat /tmp/err";
        let mut args = user.to_vec();
        args.extend([
            "--tmpfs",
            "/secrets",
            "-e",
            "TRUSS_SECRET_api_key=x",
            "--entrypoint",
            "/bin/sh",
            IMAGE,
            "-c",
            script,
        ]);
        let out = run(&args);
        out.expect_ok();
        out.stdout()
    };
    let so = check_as(&[]);
    assert!(so.contains("rc=0 mode=1777"), "{so}");
    let so = check_as(&["--user", "1000:1000"]);
    assert!(so.contains("rc=78 mode=1777"), "{so}");
    assert!(so.contains("--tmpfs /secrets:mode=0700,uid=1000"), "{so}");
}

/// secret-init's own `--user` from a root start: the tmpfs is given to that user, the files are
/// its, and the program runs as it.
#[test]
fn secret_init_user_from_a_root_start() {
    let out = run(&[
        "--tmpfs",
        "/secrets",
        "-e",
        "SECRET_INIT_USER=app",
        "-e",
        "TRUSS_SECRET_api_key=v",
        IMAGE,
        "sh",
        "-c",
        "echo $(id -u):$(id -g) $(stat -c '%u %a' /secrets) $(stat -c '%u %a' /secrets/api_key)",
    ]);
    out.expect_ok();
    assert_eq!(out.stdout().trim(), "1000:1000 1000 700 1000 600");
}

/// Engine secrets (`podman run --secret`) land in /run/secrets, a default secrets dir; a
/// `DB_PASSWORD_FILE` pointer (listed in `file_env`) reaches the program as `DB_PASSWORD`.
#[test]
fn engine_secrets_in_run_secrets_and_file_env() {
    let api = canary("engine-api");
    let db = canary("engine-db");
    let dir = Sandbox::new();
    let names = [canary("api"), canary("db")];
    for (name, value) in names.iter().zip([&api, &db]) {
        podman(engine())
            .args(["secret", "create", name])
            .arg(dir.write(name, value))
            .output()
            .expect_ok();
    }
    let api_secret = format!("{},target=api_key", names[0]);
    let db_secret = format!("{},target=db", names[1]);
    let out = run(&[
        "--tmpfs",
        "/secrets",
        "--secret",
        &api_secret,
        "--secret",
        &db_secret,
        "-e",
        "DB_PASSWORD_FILE=/run/secrets/db",
        IMAGE,
        "sh",
        "-c",
        "echo api=$(cat /secrets/api_key) db=$DB_PASSWORD pointer=${DB_PASSWORD_FILE:-unset}",
    ]);
    for name in &names {
        let _ = podman(engine()).args(["secret", "rm", name]).output();
    }
    out.expect_ok();
    assert_eq!(
        out.stdout().trim(),
        format!("api={api} db={db} pointer=unset")
    );
    assert!(!out.stderr().contains(&db), "{}", out.stderr());
    // Both the variable and its pointer set is ambiguous: 65, the program not started.
    let out = run(&[
        "--tmpfs",
        "/secrets",
        "-e",
        "TRUSS_SECRET_api_key=x",
        "-e",
        "DB_PASSWORD=a",
        "-e",
        "DB_PASSWORD_FILE=/etc/passwd",
        IMAGE,
        "echo",
        "started",
    ]);
    out.expect_code(65).stderr_has("DB_PASSWORD_FILE");
    assert!(!out.stdout().contains("started"));
}

/// A Kubernetes secret volume (`name -> ..data/name`, `..data -> ..<timestamp>`) bind-mounted
/// read-only is read as one snapshot through its links.
#[test]
fn kubernetes_style_secret_volume_bind_mounted() {
    let value = canary("k8s");
    let vol = Sandbox::new();
    vol.mkdir("..2026_12_01_00_00_00.1");
    vol.write("..2026_12_01_00_00_00.1/api_key", &value);
    std::os::unix::fs::symlink("..2026_12_01_00_00_00.1", vol.path("..data")).expect("link");
    std::os::unix::fs::symlink("..data/api_key", vol.path("api_key")).expect("link");
    let mount = format!("{}:/etc/app-secrets:ro", vol.dir.path().display());
    let out = run(&[
        "--tmpfs",
        "/secrets",
        "-v",
        &mount,
        "-e",
        "SECRET_INIT_SECRETS_DIR=/etc/app-secrets",
        IMAGE,
        "cat",
        "/secrets/api_key",
    ]);
    out.expect_ok();
    assert_eq!(out.stdout(), value);
}

/// `--cleanup`: after `podman stop`, the delivered file is gone from the (host-visible) dir.
#[test]
fn cleanup_on_stop_removes_the_files() {
    let out_dir = Sandbox::new();
    let host = out_dir.mkdir("secrets");
    std::fs::set_permissions(&host, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .expect("chmod");
    let mount = format!("{}:/secrets", host.display());
    let c = Detached::start(
        "cleanup",
        &[
            "-v",
            &mount,
            "-e",
            "SECRET_INIT_CLEANUP=1",
            "-e",
            "TRUSS_SECRET_api_key=c",
            IMAGE,
            "sh",
            "-c",
            "echo ready; exec sleep 1000",
        ],
    );
    c.wait_for("ready");
    assert!(host.join("api_key").exists(), "not delivered: {}", c.logs());
    podman(engine())
        .args(["stop", "-t", "30", &c.name])
        .output()
        .expect_ok();
    assert_eq!(c.exit_code(), 143, "logs:\n{}", c.logs());
    assert_eq!(tree(&host), Vec::<String>::new(), "logs:\n{}", c.logs());
}

/// The rule's edges: a Kubernetes-style emptyDir (root's, 0777, not sticky) is made private too;
/// a shared 1777 dir that already holds someone's entry is still refused (78), nothing written.
#[test]
fn empty_shared_mounts_are_made_private_but_used_ones_refused() {
    let out = run(&[
        "--mount",
        "type=tmpfs,destination=/secrets,tmpfs-mode=0777",
        "-e",
        "SECRET_INIT_USER=app",
        "-e",
        "TRUSS_SECRET_api_key=e",
        IMAGE,
        "sh",
        "-c",
        "echo $(stat -c '%u %a' /secrets) $(cat /secrets/api_key)",
    ]);
    out.expect_ok();
    assert_eq!(out.stdout().trim(), "1000 700 e");
    let sb = Sandbox::new();
    let shared = sb.mkdir("shared");
    std::fs::set_permissions(
        &shared,
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .expect("chmod");
    let planted = sb.write("shared/planted", "someone's");
    std::os::unix::fs::chown(&planted, Some(1234), Some(1234)).expect("chown");
    let mount = format!("{}:/secrets", shared.display());
    let out = run(&[
        "-v",
        &mount,
        "-e",
        "TRUSS_SECRET_api_key=e",
        IMAGE,
        "echo",
        "started",
    ]);
    out.expect_code(78).stderr_has("world-writable");
    assert!(!out.stdout().contains("started"));
    assert_eq!(mode(&shared), 0o1777);
    assert_eq!(tree(&shared), vec!["planted".to_string()]);
    // The control: the same bind-mounted dir without the entry is made private and used.
    std::fs::remove_file(&planted).expect("rm");
    run(&["-v", &mount, "-e", "TRUSS_SECRET_api_key=e", IMAGE, "true"]).expect_ok();
    assert_eq!(mode(&shared), 0o700);
    assert_eq!(read(&shared.join("api_key")), "e");
}

/// The README's container lines work as shown: each `$ ` line of the Containers section runs
/// (with `--network none` and the test image's tag put in), exits 0, and prints exactly the lines
/// shown under it.
#[test]
fn readme_container_lines_work_as_shown() {
    let readme = read(&root().join("README.md"));
    let section = readme
        .split("\n## Containers")
        .nth(1)
        .expect("README has a Containers section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh block");
    let mut steps: Vec<(String, Vec<String>)> = Vec::new();
    for line in block.lines() {
        match line.strip_prefix("$ ") {
            Some(cmd) => steps.push((cmd.to_string(), Vec::new())),
            None => steps
                .last_mut()
                .expect("output after a command")
                .1
                .push(line.to_string()),
        }
    }
    assert!(steps.len() >= 6, "{steps:?}");
    // A stale secret from an interrupted earlier run would make `secret create` fail.
    let _ = podman(engine()).args(["secret", "rm", "api_key"]).output();
    for (cmd, shown) in &steps {
        let real = cmd
            .replace("podman run ", "podman run --network none ")
            .replace("secret-init-demo", IMAGE);
        let mut r = podman(engine());
        r.program = PathBuf::from("/bin/sh");
        r.args(["-c", &real]);
        let out = r.output();
        out.expect_ok();
        if !shown.is_empty() {
            assert_eq!(out.stdout().lines().collect::<Vec<_>>(), *shown, "{cmd}");
        }
    }
}

/// `image` (the example Truss model's) run read-only with its two secrets given as
/// `TRUSS_SECRET_*` and a `--tmpfs /secrets`; it must succeed.
fn truss_model(image: &str) -> Out {
    let out = run(&[
        "--read-only",
        "--tmpfs",
        "/secrets",
        "-e",
        "TRUSS_SECRET_hf_access_token=hf_abcdefgh12",
        "-e",
        "TRUSS_SECRET_openai_api_key=sk-abcdefgh34",
        image,
    ]);
    out.expect_ok();
    out
}

/// The example Truss model (`examples/truss-model`) in a Python image, as Dockerfile.example runs
/// it: secrets by `-e TRUSS_SECRET_*` into a plain `--tmpfs /secrets`, the model reads its files,
/// the OpenAI key reaches it as an env var, and none of secret-init's inputs is left.
#[test]
fn truss_model_runs_in_a_python_image() {
    let out = truss_model(python_image());
    let so = out.stdout();
    for want in [
        "\"hf_token_seen\": \"hf****12\"",
        "\"openai_key_in_env\": \"sk****34\"",
        "\"region\": \"us-east-1\"",
        "\"secret_init_inputs_left_in_env\": []",
        "/secrets/hf_access_token: mode 0600",
    ] {
        assert!(so.contains(want), "{want} missing in:\n{so}");
    }
    // supervised as PID 1: python is not PID 1.
    assert!(!so.contains("pid 1\n"), "{so}");
}

//! Leak hunt: every mode and every source run with a unique canary in every input, at
//! `--log-level trace` (text and JSON), and everything observable searched for every canary that
//! is not supposed to be there: stdout and stderr, the program's `/proc/<pid>/environ` and
//! `cmdline` (and the supervisor's, read by the program as its parent), every file under the
//! sandbox that is new or changed except where a value is delivered on purpose, and core files.
//!
//! The search is one helper, [`Evidence`]: places (a name and bytes) are collected, then every
//! canary is looked for in every place, by its full value and by its 16-character tail (a
//! truncated or partly masked leak), and for master keys also by their decoded bytes. A hit
//! names the canary, the place and the byte offset. Negative controls prove the search finds a
//! planted canary in a stream, a file, the program's environ and a core file.
//!
//! Core files: this machine's `core_pattern` is checked at run time. A relative pattern (`core`)
//! writes into the dumping process's cwd, which each test owns; an absolute one is watched in its
//! directory; a pipe (`|...`) cannot be observed without changing the host's setting, so the test
//! fails saying so rather than passing blind. `RLIMIT_CORE` is raised with `ulimit -c unlimited`
//! in a wrapper shell, never globally.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::symlink;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::bao::Bao;
use crate::support::fake_https::Fake;
use crate::support::*;

// ---------------------------------------------------------------------------------------------
// Canaries and the search
// ---------------------------------------------------------------------------------------------

/// A unique, alphanumeric canary (so no encoding, JSON or shell quoting changes its bytes).
fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    // splitmix64 over time, pid and a counter: distinct per call, unrelated tails.
    let mut z =
        nanos ^ (u64::from(std::process::id()) << 32) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    format!("lk{tag}{z:016x}")
}

/// Every canary of a test: a label and the byte strings that betray it.
#[derive(Default)]
struct Canaries(Vec<(String, String, Vec<Vec<u8>>)>);

impl Canaries {
    /// A new canary value, registered for the search.
    fn make(&mut self, tag: &str) -> String {
        let v = unique(tag);
        self.add(tag, &v);
        v
    }

    /// Registers an existing value (a JWT, a master key) under `tag`.
    fn add(&mut self, tag: &str, value: &str) {
        let mut needles = vec![value.as_bytes().to_vec()];
        if value.len() >= 24 {
            needles.push(value.as_bytes()[value.len() - 16..].to_vec());
        }
        self.0.push((tag.to_string(), value.to_string(), needles));
    }

    /// Adds another byte form under which the last canary would betray itself.
    fn also(&mut self, needle: impl Into<Vec<u8>>) {
        if let Some(last) = self.0.last_mut() {
            last.2.push(needle.into());
        }
    }

    /// Registers a base64 master key: its text and its decoded bytes.
    fn add_key(&mut self, tag: &str, key_b64: &str) {
        self.add(tag, key_b64);
        let raw = unb64(key_b64.trim());
        assert_eq!(raw.len(), 32, "a master key is 32 bytes");
        if let Some(last) = self.0.last_mut() {
            last.2.push(raw);
        }
    }
}

/// Everything observed in a test: named places and their bytes.
#[derive(Default)]
struct Evidence {
    places: Vec<(String, Vec<u8>)>,
    /// (place, canary value) pairs that are deliveries on purpose.
    allowed: BTreeSet<(String, String)>,
}

impl Evidence {
    fn add(&mut self, place: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        self.places.push((place.into(), bytes.into()));
    }

    /// Allows `value` (only) in `place`.
    fn allow(&mut self, place: impl Into<String>, value: &str) {
        self.allowed.insert((place.into(), value.to_string()));
    }

    /// Both streams of a run.
    fn out(&mut self, step: &str, out: &Out) {
        self.add(format!("{step}: stdout"), out.out.stdout.clone());
        self.add(format!("{step}: stderr"), out.out.stderr.clone());
    }

    /// Every file, link and name under `root` that is new or changed since `before`:
    /// "{step}: file REL" (links: their target), plus "{step}: names" (every relative path).
    fn tree(&mut self, step: &str, root: &Path, before: &Snapshot) {
        let now = snapshot(root);
        let names: Vec<String> = now.keys().cloned().collect();
        self.add(format!("{step}: names"), names.join("\n"));
        for (rel, content) in now {
            if before.get(&rel) != Some(&content) {
                self.add(format!("{step}: file {rel}"), content);
            }
        }
    }

    /// The bytes recorded for `place` (controls: a delivery really happened).
    fn place(&self, place: &str) -> &[u8] {
        self.places
            .iter()
            .find(|(p, _)| p == place)
            .map(|(_, b)| b.as_slice())
            .unwrap_or_else(|| panic!("no place {place}"))
    }

    /// Every hit: "canary TAG (VALUE) in PLACE at byte N: ...context...".
    fn hits(&self, canaries: &Canaries) -> Vec<String> {
        let mut hits = Vec::new();
        for (place, bytes) in &self.places {
            for (tag, value, needles) in &canaries.0 {
                if self.allowed.contains(&(place.clone(), value.clone())) {
                    continue;
                }
                for (i, needle) in needles.iter().enumerate() {
                    if let Some(at) = find(bytes, needle) {
                        let lo = at.saturating_sub(40);
                        let hi = (at + needle.len() + 40).min(bytes.len());
                        hits.push(format!(
                            "canary {tag} ({value}{}) in {place} at byte {at}: {:?}",
                            ["", ", tail", ", another form"][i.min(2)],
                            String::from_utf8_lossy(&bytes[lo..hi])
                        ));
                        break;
                    }
                }
            }
        }
        hits
    }

    /// Zero hits, or a panic listing every one.
    fn assert_clean(&self, canaries: &Canaries) {
        let hits = self.hits(canaries);
        assert!(
            hits.is_empty(),
            "{} leak(s) in {} places searched:\n{}",
            hits.len(),
            self.places.len(),
            hits.join("\n")
        );
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Relative path -> content (files), "-> target" (links), "" (dirs).
type Snapshot = BTreeMap<String, Vec<u8>>;

fn snapshot(root: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    for rel in tree(root) {
        let p = root.join(&rel);
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let content = if meta.file_type().is_symlink() {
            let t = std::fs::read_link(&p).expect("readlink");
            format!("-> {}", t.display()).into_bytes()
        } else if meta.is_file() {
            std::fs::read(&p).unwrap_or_else(|e| format!("unreadable: {e}").into_bytes())
        } else {
            Vec::new()
        };
        out.insert(rel, content);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The probing program and the ways to run secret-init
// ---------------------------------------------------------------------------------------------

/// A dir outside the sandbox where the program writes what it read from /proc.
struct Probe(tempfile::TempDir);

impl Probe {
    fn new() -> Probe {
        Probe(
            tempfile::Builder::new()
                .prefix("si-probe-")
                .tempdir()
                .expect("tempdir"),
        )
    }

    /// The program: copies its own and its parent's environ and cmdline into the probe dir.
    fn program(&self) -> Vec<String> {
        vec![
            "--".into(),
            "/bin/sh".into(),
            "-c".into(),
            concat!(
                "d=\"$0\"; cat /proc/$$/environ > \"$d/child.environ\"; ",
                "cat /proc/$$/cmdline > \"$d/child.cmdline\"; ",
                "cat /proc/$PPID/environ > \"$d/parent.environ\"; ",
                "cat /proc/$PPID/cmdline > \"$d/parent.cmdline\"; echo probed"
            )
            .into(),
            self.0.path().display().to_string(),
        ]
    }

    /// Adds the four records to `ev` and empties the dir. With `supervised`, the parent must be
    /// secret-init and its environ readable (controls: the search read the right process).
    fn collect(&self, ev: &mut Evidence, step: &str, supervised: bool) {
        let get = |f: &str| std::fs::read(self.0.path().join(f)).unwrap_or_default();
        let env = get("child.environ");
        assert!(
            find(&env, b"PATH=").is_some(),
            "{step}: the program did not record its environ"
        );
        ev.add(format!("{step}: child environ"), env);
        ev.add(format!("{step}: child cmdline"), get("child.cmdline"));
        if supervised {
            let cmd = get("parent.cmdline");
            let penv = get("parent.environ");
            assert!(
                find(&cmd, b"secret-init").is_some(),
                "{step}: the parent is not secret-init: {:?}",
                String::from_utf8_lossy(&cmd)
            );
            assert!(
                find(&penv, b"PATH=").is_some(),
                "{step}: the supervisor's environ was not read"
            );
            ev.add(format!("{step}: supervisor environ"), penv);
            ev.add(format!("{step}: supervisor cmdline"), cmd);
        }
        for f in [
            "child.environ",
            "child.cmdline",
            "parent.environ",
            "parent.cmdline",
        ] {
            let _ = std::fs::remove_file(self.0.path().join(f));
        }
    }
}

/// `run` as PID 1 of a new PID namespace (bubblewrap, as tests/init.rs does).
fn as_pid1(run: &Run) -> Out {
    assert!(
        nix::unistd::geteuid().is_root(),
        "PID-namespace runs need root (the test command runs as root)"
    );
    let mut r = Run::new();
    r.program = "bwrap".into();
    r.env = run.env.clone();
    r.cwd = run.cwd.clone();
    r.args(BWRAP_PID1)
        .arg("--")
        .arg(&run.program)
        .args(run.args.clone());
    r.output()
}

fn trace(r: &mut Run, json: bool) -> &mut Run {
    r.args(["--log-level", "trace"]);
    if json {
        r.args(["--log-format", "json"]);
    }
    r
}

// ---------------------------------------------------------------------------------------------
// Negative controls: the search can fail
// ---------------------------------------------------------------------------------------------

#[test]
fn the_search_reports_planted_canaries_where_they_are() {
    let sb = Sandbox::new();
    let probe = Probe::new();
    let mut c = Canaries::default();
    let planted = c.make("planted");
    let quiet = c.make("quiet");
    sb.config("secrets:\n  planted: null\n  quiet: null\nsecret_init:\n  secrets:\n    planted: {env: PLANTED, file: false}\n");
    let before = snapshot(sb.dir.path());
    // A program that leaks on purpose: to stderr and into a stray file, then probes.
    let mut prog = probe.program();
    prog[3] = format!(
        "echo \"$PLANTED\" >&2; printf %s \"$PLANTED\" > {}/stray; {}",
        sb.dir.path().display(),
        prog[3]
    );
    let mut r = sb.run();
    r.env("TRUSS_SECRET_planted", &planted)
        .env("TRUSS_SECRET_quiet", &quiet);
    trace(&mut r, false).args(prog);
    let out = r.output();
    out.expect_ok();
    let mut ev = Evidence::default();
    ev.out("exec", &out);
    probe.collect(&mut ev, "exec", false);
    ev.tree("exec", sb.dir.path(), &before);
    ev.allow("exec: file out/quiet", &quiet);
    let hits = ev.hits(&c);
    let places: Vec<&str> = hits
        .iter()
        .map(|h| {
            let s = h.split(" in ").nth(1).unwrap_or_default();
            s.split(" at byte").next().unwrap_or_default()
        })
        .collect();
    assert_eq!(
        places,
        ["exec: stderr", "exec: child environ", "exec: file stray"],
        "{hits:#?}"
    );
    assert!(
        hits[0].starts_with(&format!(
            "canary planted ({planted}) in exec: stderr at byte "
        )),
        "{hits:#?}"
    );
    // Allowing the delivery into the environ removes exactly that hit.
    ev.allow("exec: child environ", &planted);
    assert_eq!(ev.hits(&c).len(), 2);
    // A truncated leak is found by the tail, a key by its decoded bytes.
    let mut k = Canaries::default();
    let key = keygen();
    k.add_key("key", &key);
    let mut ev = Evidence::default();
    ev.add("tail", format!("xx{}", &planted[planted.len() - 16..]));
    ev.add("raw", unb64(&key));
    k.add("planted", &planted);
    let hits = ev.hits(&k);
    assert_eq!(hits.len(), 2, "{hits:#?}");
    assert!(
        hits[0].contains("tail") && hits[1].contains("another form"),
        "{hits:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Local sources in every mode
// ---------------------------------------------------------------------------------------------

fn keygen() -> String {
    let out = Run::new().args(["vault", "keygen"]).output();
    out.expect_ok();
    out.stdout().trim_end().to_string()
}

/// The names and deliveries of the local-sources fixture.
struct Local {
    sb: Sandbox,
    c: Canaries,
    /// secret name -> value.
    values: BTreeMap<&'static str, String>,
    key: String,
    bundle: PathBuf,
    key_file: PathBuf,
    /// A whole bundle vault injected into the environment: INJECTED_TOKEN's value.
    injected: String,
    /// Inputs the program must never see: a scrubbed variable and an undeclared TRUSS_SECRET_*.
    scrubbed: String,
    undeclared: String,
}

/// Provider inputs come from different sources: hf_token from the file dir, gh_token from the
/// local config, wandb_key from the bundle, openai_key from the environment.
const LOCAL_SECRETS: [&str; 14] = [
    "docker_pw",
    "hf_token",
    "gh_token",
    "wandb_key",
    "openai_key",
    "from_file",
    "kube_db",
    "from_env",
    "from_local",
    "from_default",
    "from_bundle",
    "as_env",
    "aws_key_id",
    "aws_secret",
];

/// The local secrets delivered into the program's environment.
const ENV_DELIVERED: [&str; 5] = ["as_env", "openai_key", "hf_token", "gh_token", "wandb_key"];

impl Local {
    fn new() -> Local {
        let sb = Sandbox::new();
        sb.mkdir("home");
        let mut c = Canaries::default();
        let mut values = BTreeMap::new();
        for name in LOCAL_SECRETS {
            values.insert(name, c.make(&name.replace('_', "")));
            if name == "docker_pw" {
                // config.json holds base64("user:password"): search that form too.
                let v = values[name].clone();
                c.also(b64(format!("dockeruser:{v}").as_bytes()));
            }
        }
        let key = keygen();
        c.add_key("masterkey", &key);
        let bundle = sb.path("bundle/bundle.json");
        let key_file = sb.write("keys/master.key", format!("{key}\n"));
        // The bundle is made by the real `vault` commands, the value through stdin.
        let vault = |args: &[&str], stdin: Option<&str>| {
            let mut r = Run::new();
            r.cwd = Some(sb.dir.path().to_path_buf());
            r.arg("vault").arg("--file").arg(&bundle).args(args);
            r.env("SECRET_INIT_MASTER_KEY", &key);
            if let Some(s) = stdin {
                r.stdin(s.as_bytes().to_vec());
            }
            r.output().expect_ok();
        };
        std::fs::create_dir_all(sb.path("bundle")).expect("mkdir");
        vault(&["create", "app"], None);
        vault(
            &["set", "app", "from_bundle", "-"],
            Some(&values["from_bundle"]),
        );
        vault(&["set", "app", "wandb_key"], Some(&values["wandb_key"]));
        let injected = c.make("injected");
        let scrubbed = c.make("scrubbed");
        let undeclared = c.make("undeclared");
        vault(&["create", "inject"], None);
        vault(&["set", "inject", "INJECTED_TOKEN", "-"], Some(&injected));
        sb.write("in/from_file", &values["from_file"]);
        sb.write("in/hf_token", &values["hf_token"]);
        // A Kubernetes secret volume: timestamped dir, ..data link, per-key links.
        sb.write("k8s/..2026_01_01_00_00_00.1/kube_db", &values["kube_db"]);
        symlink("..2026_01_01_00_00_00.1", sb.path("k8s/..data")).expect("link");
        symlink("..data/kube_db", sb.path("k8s/kube_db")).expect("link");
        sb.write(
            "local.yaml",
            format!(
                "secrets:\n  from_local: {}\n  gh_token: {}\n",
                values["from_local"], values["gh_token"]
            ),
        );
        sb.config(&format!(
            "secrets:\n{}secret_init:\n  bundles:\n    vaults: [app]\n    env_vaults: [inject]\n  secrets:\n    as_env: {{env: AS_ENV_VAR, file: false}}\n  providers:\n    aws:\n      fields: {{aws_access_key_id: aws_key_id, aws_secret_access_key: aws_secret}}\n    huggingface: {{fields: {{token: hf_token}}}}\n    github: {{fields: {{token: gh_token}}, values: {{user: octo}}}}\n    wandb: {{fields: {{api_key: wandb_key}}}}\n    openai: {{fields: {{api_key: openai_key}}}}\n    docker: {{fields: {{password: docker_pw}}, values: {{username: dockeruser, registry: ghcr.io}}}}\n",
            LOCAL_SECRETS
                .iter()
                .map(|n| if *n == "from_default" {
                    format!("  {n}: {}\n", values[n])
                } else {
                    format!("  {n}: null\n")
                })
                .collect::<String>()
        ));
        Local {
            sb,
            c,
            values,
            key,
            bundle,
            key_file,
            injected,
            scrubbed,
            undeclared,
        }
    }

    /// A run with every input set; the master key from its file unless `key_in_env`.
    fn run(&self, key_in_env: bool) -> Run {
        let mut r = self.sb.run();
        r.env(
            "SECRET_INIT_SECRETS_DIR",
            format!(
                "{}:{}",
                self.sb.path("in").display(),
                self.sb.path("k8s").display()
            ),
        )
        .env("SECRET_INIT_BUNDLE", &self.bundle)
        .env("TRUSS_SECRET_from_env", &self.values["from_env"])
        .env("TRUSS_SECRET_as_env", &self.values["as_env"])
        .env("TRUSS_SECRET_aws_key_id", &self.values["aws_key_id"])
        .env("TRUSS_SECRET_aws_secret", &self.values["aws_secret"])
        .env("TRUSS_SECRET_openai_key", &self.values["openai_key"])
        .env("TRUSS_SECRET_docker_pw", &self.values["docker_pw"])
        // A temp file anywhere would land in the sandbox and be searched.
        .env("TMPDIR", self.sb.path("tmp"))
        .env("CI_DEPLOY_TOKEN", &self.scrubbed)
        .env("SECRET_INIT_SCRUB_ENV", "CI_DEPLOY_TOKEN")
        .env("TRUSS_SECRET_undeclared", &self.undeclared);
        if key_in_env {
            r.env("SECRET_INIT_MASTER_KEY", &self.key);
        } else {
            r.env("SECRET_INIT_MASTER_KEY_FILE", &self.key_file);
        }
        r
    }

    /// Allows each delivery of `step`: out/<name> files, the aws credentials file, the
    /// env-delivered value in the program's environ.
    fn allow_deliveries(&self, ev: &mut Evidence, step: &str) {
        for (name, v) in &self.values {
            ev.allow(format!("{step}: file out/{name}"), v);
        }
        for n in ["aws_key_id", "aws_secret"] {
            ev.allow(
                format!("{step}: file home/.aws/credentials"),
                &self.values[n],
            );
        }
        for (n, place) in [
            ("hf_token", "home/.cache/huggingface/token"),
            ("gh_token", "home/.config/gh/hosts.yml"),
            ("wandb_key", "home/.netrc"),
            ("docker_pw", "home/.docker/config.json"),
        ] {
            ev.allow(format!("{step}: file {place}"), &self.values[n]);
        }
        // Env deliveries, documented per provider (`secret-init providers`: "env (on)").
        for n in ENV_DELIVERED {
            ev.allow(format!("{step}: child environ"), &self.values[n]);
        }
        ev.allow(format!("{step}: child environ"), &self.injected);
    }
}

#[test]
fn local_sources_in_every_mode_leak_nothing() {
    let t = Instant::now();
    let f = Local::new();
    let before = snapshot(f.sb.dir.path());
    let probe = Probe::new();
    let mut ev = Evidence::default();

    // exec, supervised (--init, --cleanup) and PID 1; text and JSON logs; key from file and env.
    type Mode<'a> = (&'a str, &'a [&'a str], bool, bool, bool);
    let modes: [Mode; 6] = [
        ("exec", &[], false, false, false),
        ("exec-json", &[], true, true, false),
        ("init", &["--init"], false, true, false),
        ("init-json", &["--init"], true, false, false),
        ("cleanup", &["--cleanup"], false, true, false),
        ("pid1", &[], true, true, true),
    ];
    for (step, flags, json, key_in_env, pid1) in modes {
        let mut r = f.run(key_in_env);
        trace(&mut r, json)
            .args(flags.iter().copied())
            .args(probe.program());
        let out = if pid1 { as_pid1(&r) } else { r.output() };
        out.expect_ok().stdout_has("probed");
        ev.out(step, &out);
        probe.collect(&mut ev, step, step != "exec" && step != "exec-json");
        ev.tree(step, f.sb.dir.path(), &before);
        f.allow_deliveries(&mut ev, step);
        if step == "cleanup" {
            assert!(
                !f.sb.path("out/from_file").exists(),
                "cleanup removed nothing"
            );
        } else {
            assert_eq!(read(&f.sb.path("out/from_bundle")), f.values["from_bundle"]);
            assert_eq!(read(&f.sb.path("out/kube_db")), f.values["kube_db"]);
        }
    }

    // Controls: the env deliveries and the injected vault did reach the program.
    let env = ev.place("exec: child environ");
    for var in [
        "INJECTED_TOKEN=",
        "AS_ENV_VAR=",
        "HF_TOKEN=",
        "OPENAI_API_KEY=",
    ] {
        assert!(find(env, var.as_bytes()).is_some(), "{var} not delivered");
    }

    let docker = read(&f.sb.path("home/.docker/config.json"));
    let auth = b64(format!("dockeruser:{}", f.values["docker_pw"]).as_bytes());
    assert!(
        docker.contains(&auth),
        "the encoded form searched for: {docker}"
    );

    // Control: without --scrub-env the variable does reach the program (so its absence above
    // is the scrub's doing, not the probe's blindness).
    let mut r = f.run(false);
    r.env_remove("SECRET_INIT_SCRUB_ENV").args(probe.program());
    r.output().expect_ok();
    let mut ctl = Evidence::default();
    probe.collect(&mut ctl, "control", false);
    let env = ctl.place("control: child environ");
    assert!(find(env, format!("CI_DEPLOY_TOKEN={}", f.scrubbed).as_bytes()).is_some());

    // exec fails after delivery (no such program): 127, and nothing more is shown.
    let mut r = f.run(false);
    trace(&mut r, true).args(["--", "/nonexistent/program"]);
    let out = r.output();
    out.expect_code(127);
    ev.out("exec-127", &out);
    ev.tree("exec-127", f.sb.dir.path(), &before);
    f.allow_deliveries(&mut ev, "exec-127");

    // check (table, JSON, and the pre-flight with a program), providers: no value at all.
    for (step, args) in [
        ("check", &["check"][..]),
        ("check-json", &["check", "--format", "json"]),
        ("check-program", &["check", "--", "/bin/true"]),
        ("providers", &["providers"]),
    ] {
        let mut r = f.run(false);
        trace(&mut r, step == "check-json").args(args.iter().copied());
        let out = r.output();
        out.expect_ok();
        ev.out(step, &out);
        ev.tree(step, f.sb.dir.path(), &before);
        f.allow_deliveries(&mut ev, step);
    }

    // get: the value asked for, byte-exact, on stdout and nowhere else.
    for (name, v) in &f.values {
        let step = format!("get {name}");
        let mut r = f.run(name.contains("env"));
        trace(&mut r, name.len() % 2 == 0).args(["get", name]);
        let out = r.output();
        out.expect_ok();
        assert_eq!(&out.stdout(), v, "{step}");
        ev.out(&step, &out);
        ev.allow(format!("{step}: stdout"), v);
        ev.tree(&step, f.sb.dir.path(), &before);
        f.allow_deliveries(&mut ev, &step);
    }

    // env: export lines for the env deliveries only.
    let mut r = f.run(true);
    trace(&mut r, false).arg("env");
    let out = r.output();
    out.expect_ok().stdout_has("AS_ENV_VAR=");
    ev.out("env", &out);
    for n in ENV_DELIVERED {
        ev.allow("env: stdout", &f.values[n]);
    }
    ev.allow("env: stdout", &f.injected);
    ev.tree("env", f.sb.dir.path(), &before);
    f.allow_deliveries(&mut ev, "env");

    // materialize then clean, with a state file in the sandbox.
    let state = f.sb.path("state/materialized.json");
    for step in ["materialize", "clean"] {
        let mut r = f.run(false);
        trace(&mut r, step == "clean")
            .arg(step)
            .arg("--state-file")
            .arg(&state);
        let out = r.output();
        out.expect_ok();
        ev.out(step, &out);
        ev.tree(step, f.sb.dir.path(), &before);
        f.allow_deliveries(&mut ev, step);
        if step == "materialize" {
            assert!(state.exists(), "no state file to search");
            ev.add(
                "materialize: state file (read directly)",
                std::fs::read(&state).expect("state"),
            );
        }
    }
    ev.assert_clean(&f.c);
    eprintln!(
        "local_sources_in_every_mode: {} places, {:?}",
        ev.places.len(),
        t.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// Failures of local sources, the bundle and deliveries
// ---------------------------------------------------------------------------------------------

#[test]
fn failures_leak_nothing_and_deliver_nothing() {
    let f = Local::new();
    let probe = Probe::new();
    let victim = f.sb.write("victim", "victim content");
    let mut c = Canaries::default();
    let wrong_key = keygen();
    c.add_key("wrongkey", &wrong_key);
    let wrong_key_file = f.sb.write("keys/wrong.key", &wrong_key);
    let scalar = c.make("mscalar");
    let local_scalar = c.make("lscalar");
    let bad_local =
        f.sb.write("bad-local.yaml", format!("secrets: {local_scalar}\n"));
    // Someone else's AWS credentials in the way of the aws provider (a second HOME).
    let (old_id, old_secret) = (c.make("oldid"), c.make("oldsecret"));
    f.sb.write(
        "home2/.aws/credentials",
        format!("[default]\naws_access_key_id = {old_id}\naws_secret_access_key = {old_secret}\n"),
    );
    // A value with a NUL byte, headed for an env var (which cannot hold it): refused.
    let nul = c.make("nulvalue");
    f.sb.write("in-nul/as_env", format!("{nul}\0rest"));
    let nul_dirs = format!(
        "{}:{}:{}",
        f.sb.path("in-nul").display(),
        f.sb.path("in").display(),
        f.sb.path("k8s").display()
    );
    let (bundle_pw, bundle_sig) = (c.make("bundlepw"), c.make("bundlesig"));
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let bundle_url = format!("https://u:{bundle_pw}@127.0.0.1:{dead}/b.json?sig={bundle_sig}");
    let list = c.make("typelist");
    let map = c.make("typemap");
    let badname = c.make("badname");
    // A tampered copy of the bundle: one ciphertext byte flipped.
    let mut j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&f.bundle).expect("bundle")).expect("json");
    let sealed = j["vaults"]["app"]["entries"]["from_bundle"]["sealed"]
        .as_str()
        .expect("sealed")
        .to_string();
    let mut raw = unb64(&sealed);
    raw[0] ^= 1;
    j["vaults"]["app"]["entries"]["from_bundle"]["sealed"] = b64(&raw).into();
    let tampered = f.sb.write(
        "bundle/tampered.json",
        serde_json::to_vec(&j).expect("json"),
    );
    let config = read(&f.sb.path("config.yaml"));
    let before = snapshot(f.sb.dir.path());
    let mut ev = Evidence::default();

    type Setup<'a> = Box<dyn Fn(&mut Run) + 'a>;
    // (case, exit code, config, setup)
    let cases: Vec<(&str, i32, String, Setup)> = vec![
        (
            "missing",
            69,
            config.replace("  from_env: null\n", "  from_env: null\n  absent: null\n"),
            Box::new(|_| {}),
        ),
        (
            "invalid-name",
            65,
            config.replacen(
                "secrets:\n",
                &format!("secrets:\n  \"bad name\": {badname}\n"),
                1,
            ),
            Box::new(|_| {}),
        ),
        (
            "type-error",
            65,
            config.replacen(
                "secrets:\n",
                &format!("secrets:\n  listy: [{list}]\n  mappy: {{inner: {map}}}\n"),
                1,
            ),
            Box::new(|_| {}),
        ),
        (
            "manifest-scalar",
            65,
            format!("secrets: {scalar}\n"),
            Box::new(|_| {}),
        ),
        (
            "local-scalar",
            65,
            config.clone(),
            Box::new(|r: &mut Run| {
                r.env("SECRET_INIT_LOCAL_CONFIG", &bad_local);
            }),
        ),
        (
            "provider-conflict",
            73,
            config.clone(),
            Box::new(|r: &mut Run| {
                r.env("HOME", f.sb.path("home2"));
            }),
        ),
        (
            "bundle-url-unreachable",
            69,
            config.clone(),
            Box::new(|r: &mut Run| {
                r.env("SECRET_INIT_BUNDLE", &bundle_url);
            }),
        ),
        (
            "nul-in-env",
            65,
            config.clone(),
            Box::new(|r: &mut Run| {
                r.env("SECRET_INIT_SECRETS_DIR", &nul_dirs);
            }),
        ),
        (
            "symlink-in-the-way",
            73,
            config.clone(),
            Box::new(|_| {
                std::fs::create_dir_all(f.sb.path("out")).expect("mkdir");
                let _ = std::fs::remove_file(f.sb.path("out/from_env"));
                symlink(&victim, f.sb.path("out/from_env")).expect("link");
            }),
        ),
        (
            "wrong-key",
            65,
            config.clone(),
            Box::new(|r: &mut Run| {
                r.env("SECRET_INIT_MASTER_KEY_FILE", &wrong_key_file);
            }),
        ),
        (
            "tampered",
            65,
            config.clone(),
            Box::new(|r: &mut Run| {
                r.env("SECRET_INIT_BUNDLE", &tampered);
            }),
        ),
    ];
    for (step, code, yaml, setup) in &cases {
        f.sb.config(yaml);
        for (mode, json) in [("exec", false), ("check", true)] {
            // `check` writes nothing, so a link in the way is no error for it.
            let code = if mode == "check" && *step == "symlink-in-the-way" {
                &0
            } else {
                code
            };
            let step = format!("{step} {mode}");
            let mut r = f.run(false);
            setup(&mut r);
            trace(&mut r, json);
            if mode == "exec" {
                r.args(probe.program());
            } else {
                r.args(["check", "--format", "json"]);
            }
            let out = r.output();
            out.expect_code(*code);
            // Each failure for its own reason (else a typo in the fixture would pass quietly).
            let why = match step.split(' ').next().unwrap_or_default() {
                "missing" => "absent",
                "invalid-name" => "invalid name",
                "type-error" => "expected a string or null",
                "manifest-scalar" | "local-scalar" => "invalid type: string, expected a map",
                "symlink-in-the-way" if mode == "exec" => "refusing to replace symlink",
                "wrong-key" => "wrong master key",
                "tampered" => "authentication failed",
                "bundle-url-unreachable" => "Connection refused",
                "nul-in-env" => "contains a NUL byte",
                "provider-conflict" => "already set to a different value",
                _ => "",
            };
            out.stderr_has(why);
            assert!(
                !probe.0.path().join("child.environ").exists(),
                "{step}: the program ran"
            );
            ev.out(&step, &out);
            // The config was rewritten on purpose: compare against it as an input.
            let mut base = before.clone();
            base.insert("config.yaml".into(), yaml.clone().into_bytes());
            ev.tree(&step, f.sb.dir.path(), &base);
        }
        let _ = std::fs::remove_file(f.sb.path("out/from_env"));
        assert_eq!(read(&victim), "victim content");
        assert!(
            tree(&f.sb.path("out")).is_empty(),
            "{step}: something delivered: {:?}",
            tree(&f.sb.path("out"))
        );
    }
    let mut all = Canaries::default();
    for set in [&f.c, &c] {
        for (tag, value, needles) in &set.0 {
            all.0.push((tag.clone(), value.clone(), needles.clone()));
        }
    }
    ev.assert_clean(&all);
}

// ---------------------------------------------------------------------------------------------
// The bundle's `vault` commands
// ---------------------------------------------------------------------------------------------

#[test]
fn vault_commands_leak_nothing() {
    let sb = Sandbox::new();
    let mut c = Canaries::default();
    let file = sb.path("b/bundle.json");
    std::fs::create_dir_all(sb.path("b")).expect("mkdir");
    let mut ev = Evidence::default();
    let before = snapshot(sb.dir.path());
    let vault = |args: &[&str], key: Option<&str>, stdin: Option<&str>| {
        let mut r = Run::new();
        r.cwd = Some(sb.dir.path().to_path_buf());
        r.env("HOME", sb.path("home"));
        r.arg("vault").arg("--file").arg(&file).args(args);
        if let Some(k) = key {
            r.env("SECRET_INIT_MASTER_KEY", k);
        }
        if let Some(s) = stdin {
            r.stdin(s.as_bytes().to_vec());
        }
        r.output()
    };
    // keygen to stdout: the key, and only it, on stdout.
    let out = vault(&["keygen"], None, None);
    out.expect_ok();
    let key = out.stdout().trim_end().to_string();
    c.add_key("key", &key);
    ev.out("keygen", &out);
    ev.allow("keygen: stdout", &key);
    // keygen --output: the key file is the delivery.
    let key2_file = sb.path("keys/new.key");
    std::fs::create_dir_all(sb.path("keys")).expect("mkdir");
    let out = vault(
        &["keygen", "--output", &key2_file.display().to_string()],
        None,
        None,
    );
    out.expect_ok();
    let key2 = read(&key2_file).trim().to_string();
    c.add_key("newkey", &key2);
    ev.out("keygen-output", &out);
    ev.tree("keygen-output", sb.dir.path(), &before);
    ev.allow("keygen-output: file keys/new.key", &key2);

    let a = c.make("entrya");
    let b = c.make("entryb");
    let desc = "plain description";
    // (step, arguments, master key, stdin)
    type Step<'a> = (&'a str, Vec<&'a str>, Option<&'a str>, Option<&'a str>);
    let steps: Vec<Step> = vec![
        (
            "create",
            vec!["create", "app", "-d", desc],
            Some(key.as_str()),
            None,
        ),
        (
            "set-stdin-dash",
            vec!["set", "app", "A", "-"],
            Some(key.as_str()),
            Some(a.as_str()),
        ),
        (
            "set-stdin",
            vec!["set", "app", "B"],
            Some(key.as_str()),
            Some(b.as_str()),
        ),
        (
            "set-plain",
            vec!["set", "app", "LEVEL", "info", "--no-secret"],
            Some(key.as_str()),
            None,
        ),
        ("show", vec!["show", "app"], Some(key.as_str()), None),
        ("list", vec!["list"], Some(key.as_str()), None),
        ("get-a", vec!["get", "app", "A"], Some(key.as_str()), None),
        (
            "wrong-key",
            vec!["get", "app", "A"],
            Some(key2.as_str()),
            None,
        ),
        (
            "no-entry",
            vec!["get", "app", "NOPE"],
            Some(key.as_str()),
            None,
        ),
    ];
    for (step, args, k, stdin) in &steps {
        let out = vault(args, *k, *stdin);
        let want = match *step {
            "wrong-key" => 65,
            "no-entry" => 69,
            _ => 0,
        };
        out.expect_code(want);
        ev.out(step, &out);
        ev.tree(step, sb.dir.path(), &before);
        ev.allow(format!("{step}: file keys/new.key"), &key2);
    }
    ev.allow("get-a: stdout", &a);
    assert_eq!(
        vault(&["get", "app", "B"], Some(key.as_str()), None).stdout(),
        b
    );
    // rekey to the new key; the old one then opens nothing.
    let out = vault(
        &["rekey", "--new-key-file", &key2_file.display().to_string()],
        Some(&key),
        None,
    );
    out.expect_ok();
    ev.out("rekey", &out);
    ev.tree("rekey", sb.dir.path(), &before);
    ev.allow("rekey: file keys/new.key", &key2);
    let out = vault(&["get", "app", "B"], Some(key2.as_str()), None);
    out.expect_ok();
    assert_eq!(out.stdout(), b);
    ev.out("get-b-rekeyed", &out);
    ev.allow("get-b-rekeyed: stdout", &b);
    // rekey --write-key-file: keys/new.key is replaced by a fourth key, which is then the only
    // place that key may be found in the sandbox.
    let away = tempfile::tempdir().expect("tempdir");
    let fourth = keygen();
    c.add_key("fourthkey", &fourth);
    let fourth_file = away.path().join("fourth.key");
    std::fs::write(&fourth_file, &fourth).expect("write");
    let out = vault(
        &[
            "rekey",
            "--new-key-file",
            &fourth_file.display().to_string(),
            "--master-key-file",
            &key2_file.display().to_string(),
            "--write-key-file",
        ],
        None,
        None,
    );
    out.expect_ok();
    assert_eq!(read(&key2_file).trim(), fourth);
    ev.out("rekey-write-key-file", &out);
    ev.tree("rekey-write-key-file", sb.dir.path(), &before);
    ev.allow("rekey-write-key-file: file keys/new.key", &fourth);
    // Tampered: one byte of B's ciphertext flipped.
    let mut j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
    let mut raw = unb64(
        j["vaults"]["app"]["entries"]["B"]["sealed"]
            .as_str()
            .expect("s"),
    );
    let last = raw.len() - 1;
    raw[last] ^= 0x80;
    j["vaults"]["app"]["entries"]["B"]["sealed"] = b64(&raw).into();
    std::fs::write(&file, serde_json::to_vec(&j).expect("json")).expect("write");
    let elsewhere = Probe::new();
    let third = keygen();
    c.add_key("thirdkey", &third);
    let third_file = elsewhere.0.path().join("third.key");
    std::fs::write(&third_file, &third).expect("write");
    let third_arg = third_file.display().to_string();
    for (step, args) in [
        ("tampered-get", vec!["get", "app", "B"]),
        (
            "tampered-rekey",
            vec!["rekey", "--new-key-file", &third_arg],
        ),
    ] {
        let out = vault(&args, Some(key2.as_str()), None);
        assert_ne!(out.code(), 0, "{step}");
        ev.out(step, &out);
    }
    // The bundle itself holds ciphertext only: it is searched with nothing allowed.
    ev.add("bundle file", std::fs::read(&file).expect("bundle"));
    ev.tree("end", sb.dir.path(), &before);
    ev.allow("end: file keys/new.key", &fourth);
    ev.assert_clean(&c);
}

// ---------------------------------------------------------------------------------------------
// A real OpenBao: token, AppRole and JWT logins, KV v1 and v2, and its failures
// ---------------------------------------------------------------------------------------------

#[test]
fn openbao_every_login_and_failure_leaks_nothing() {
    let t = Instant::now();
    let bao = Bao::start();
    let mut c = Canaries::default();
    c.add("root", &bao.root);
    let kv2 = c.make("kvtwo");
    let kv1 = c.make("kvone");
    let token = c.make("token");
    let weak = c.make("weak");
    let role_id = c.make("roleid");
    let secret_id = c.make("secretid");
    let bad_sid = c.make("badsid");
    let plain = c.make("localenv");
    // Credentials some users put in URLs: never shown (logs and errors redact the address).
    let url_pw = c.make("urlpassword");
    let url_q = c.make("urlquery");
    bao.put_v2("app", &[("db", &kv2)]);
    bao.put_v1("app", &[("api", &kv1)]);
    let injected = c.make("kvinjected");
    bao.put_v2("envs", &[("INJECTED_KV", &injected)]);
    bao.admin(json!([
        {"op": "api", "method": "POST", "path": "auth/token/create", "body": {"id": token, "policies": ["reader"], "ttl": "10m"}},
        {"op": "api", "method": "POST", "path": "auth/token/create", "body": {"id": weak, "policies": ["default"], "ttl": "10m"}},
        {"op": "api", "method": "POST", "path": "auth/approle/role/app/role-id", "body": {"role_id": role_id}},
        {"op": "api", "method": "POST", "path": "auth/approle/role/app/custom-secret-id", "body": {"secret_id": secret_id}},
    ]));
    let nested = c.make("kvnested");
    bao.admin(
        json!([{"op": "api", "method": "POST", "path": "secret/data/typed",
        "body": {"data": {"db": {"inner": nested}, "api": [nested]}}}]),
    );
    let jwt = bao.sa_jwt();
    c.add("jwt", &jwt);
    // The signature alone, in case a log printed the token's tail.
    let sig = jwt.rsplit('.').next().expect("sig").to_string();
    c.add("jwtsig", &sig);

    let sb = Sandbox::new();
    sb.mkdir("home");
    let jwt_file = sb.write("auth/sa-token", &jwt);
    let sid_file = sb.write("auth/secret-id", &secret_id);
    let tok_file = sb.write("auth/token", &token);
    // A JWT with one signature character changed: refused by OpenBao.
    let mut forged = jwt.clone().into_bytes();
    let i = forged.len() - 20;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ascii");
    c.add("forgedjwt", &forged);
    let forged_file = sb.write("auth/forged", &forged);
    let yaml = |auth: &str, vault: &str| {
        format!(
            "secrets:\n  db: null\n  api: null\n  plain: null\nsecret_init:\n  secrets:\n    db: {{from: 'vault:secret/data/app#db'}}\n    api: {{from: 'vault:kv/app#api', env: API_KEY, file: false}}\n  vault:\n{vault}    env_paths: [secret/data/envs]\n    auth: {auth}\n",
        )
    };
    let good = bao.vault_yaml();
    let before_cfg = |sb: &Sandbox| snapshot(sb.dir.path());
    let probe = Probe::new();
    let mut ev = Evidence::default();
    let allow = |ev: &mut Evidence, step: &str| {
        ev.allow(format!("{step}: file out/db"), &kv2);
        ev.allow(format!("{step}: file out/plain"), &plain);
        ev.allow(format!("{step}: child environ"), &kv1);
        ev.allow(format!("{step}: child environ"), &injected);
    };

    // Successful starts: every login method, every process mode.
    let auths = [
        (
            "token-env-exec",
            "{method: token}".to_string(),
            vec![("VAULT_TOKEN", token.clone())],
            "exec",
        ),
        (
            "token-file-pid1",
            format!("{{method: token, token_file: {}}}", tok_file.display()),
            vec![],
            "pid1",
        ),
        (
            "approle-env-init",
            "{method: approle}".to_string(),
            vec![
                ("VAULT_ROLE_ID", role_id.clone()),
                ("VAULT_SECRET_ID", secret_id.clone()),
            ],
            "init",
        ),
        (
            "approle-file-exec",
            format!(
                "{{method: approle, role_id: {role_id}, secret_id_file: {}}}",
                sid_file.display()
            ),
            vec![],
            "exec",
        ),
        (
            "jwt-init",
            format!(
                "{{method: jwt, role: app, jwt_file: {}}}",
                jwt_file.display()
            ),
            // Inputs the chosen method does not use must be wiped from the supervisor too.
            vec![
                ("VAULT_TOKEN", token.clone()),
                ("BAO_SECRET_ID", bad_sid.clone()),
            ],
            "init",
        ),
        (
            "kubernetes-exec",
            format!(
                "{{method: kubernetes, role: app, jwt_file: {}}}",
                jwt_file.display()
            ),
            vec![("BAO_TOKEN", token.clone())],
            "exec",
        ),
    ];
    for (i, (step, auth, envs, mode)) in auths.iter().enumerate() {
        sb.config(&yaml(auth, &good));
        let before = before_cfg(&sb);
        let mut r = sb.run();
        r.env("TRUSS_SECRET_plain", &plain);
        for (k, v) in envs {
            r.env(k, v);
        }
        trace(&mut r, i % 2 == 1);
        if *mode == "init" {
            r.arg("--init");
        }
        r.args(probe.program());
        let out = if *mode == "pid1" {
            as_pid1(&r)
        } else {
            r.output()
        };
        out.expect_ok();
        assert_eq!(read(&sb.path("out/db")), kv2, "{step}");
        ev.out(step, &out);
        probe.collect(&mut ev, step, *mode != "exec");
        ev.tree(step, sb.dir.path(), &before);
        allow(&mut ev, step);
    }

    let env = ev.place("token-env-exec: child environ");
    for var in ["INJECTED_KV=", "API_KEY="] {
        assert!(find(env, var.as_bytes()).is_some(), "{var} not delivered");
    }

    // check, get, env with the token.
    sb.config(&yaml("{method: token}", &good));
    let before = before_cfg(&sb);
    let cmds: [(&str, &[&str], Option<&String>); 5] = [
        ("vault-check", &["check"], None),
        ("vault-check-json", &["check", "--format", "json"], None),
        ("vault-get-db", &["get", "db"], Some(&kv2)),
        ("vault-get-api", &["get", "api"], Some(&kv1)),
        ("vault-env", &["env"], Some(&kv1)),
    ];
    for (i, (step, args, asked)) in cmds.iter().enumerate() {
        let mut r = sb.run();
        r.env("TRUSS_SECRET_plain", &plain)
            .env("VAULT_TOKEN", &token);
        trace(&mut r, i % 2 == 0).args(args.iter().copied());
        let out = r.output();
        out.expect_ok();
        if let Some(v) = asked {
            if step.starts_with("vault-get") {
                assert_eq!(&out.stdout(), *v, "{step}");
            }
            ev.allow(format!("{step}: stdout"), v);
        }
        if *step == "vault-env" {
            out.stdout_has("INJECTED_KV=");
            ev.allow("vault-env: stdout", &injected);
        }
        ev.out(step, &out);
        ev.tree(step, sb.dir.path(), &before);
        allow(&mut ev, step);
    }

    // A non-string KV value is delivered as compact JSON (docs/vault.md): into its file only.
    sb.config(
        &yaml("{method: token}", &good)
            .replace("app#db'", "typed#db'")
            .replace("data/app", "data/typed"),
    );
    let before = before_cfg(&sb);
    let mut r = sb.run();
    r.env("TRUSS_SECRET_plain", &plain)
        .env("VAULT_TOKEN", &token);
    trace(&mut r, true).args(probe.program());
    let out = r.output();
    out.expect_ok();
    assert_eq!(
        read(&sb.path("out/db")),
        format!("{{\"inner\":\"{nested}\"}}")
    );
    ev.out("kv-json", &out);
    probe.collect(&mut ev, "kv-json", false);
    ev.tree("kv-json", sb.dir.path(), &before);
    allow(&mut ev, "kv-json");
    ev.allow("kv-json: file out/db", &nested);

    // Failures: 403, bad secret id, missing key, unreachable, TLS failure.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let failures = [
        (
            "403",
            "{method: token}".to_string(),
            good.clone(),
            vec![("VAULT_TOKEN", weak.clone())],
            77,
        ),
        (
            "bad-secret-id",
            format!("{{method: approle, role_id: {role_id}}}"),
            good.clone(),
            vec![("VAULT_SECRET_ID", bad_sid.clone())],
            77,
        ),
        (
            "missing-key",
            "{method: token}".to_string(),
            good.clone(),
            vec![("VAULT_TOKEN", token.clone())],
            69,
        ),
        (
            "bad-jwt",
            format!(
                "{{method: jwt, role: app, jwt_file: {}}}",
                forged_file.display()
            ),
            good.clone(),
            vec![],
            77,
        ),
        (
            "unreachable",
            "{method: token}".to_string(),
            format!(
                "    address: https://leak:{url_pw}@127.0.0.1:{dead}\n    retries: 1\n    timeout: 1s\n    deadline: 5s\n"
            ),
            vec![("VAULT_TOKEN", token.clone())],
            69,
        ),
        (
            "tls-untrusted",
            "{method: token}".to_string(),
            format!("    address: {}/?sig={url_q}\n", bao.addr),
            vec![("VAULT_TOKEN", token.clone())],
            77,
        ),
    ];
    for (step, auth, vault, envs, code) in &failures {
        let mut y = yaml(auth, vault);
        if *step == "missing-key" {
            y = y.replace("app#db'", "app#nope'");
        }
        sb.config(&y);
        let _ = std::fs::remove_dir_all(sb.path("out"));
        let before = before_cfg(&sb);
        for (mode, json) in [("exec", false), ("check", true)] {
            let step = format!("{step} {mode}");
            let mut r = sb.run();
            r.env("TRUSS_SECRET_plain", &plain);
            for (k, v) in envs {
                r.env(k, v);
            }
            trace(&mut r, json);
            if mode == "exec" {
                r.args(probe.program());
            } else {
                r.arg("check");
            }
            let out = r.output();
            out.expect_code(*code);
            let why = match step.split(' ').next().unwrap_or_default() {
                "403" => "HTTP 403",
                "bad-secret-id" => "invalid role or secret ID",
                "missing-key" => "secret/data/app#nope): not found",
                "unreachable" => "Connection refused",
                "bad-jwt" => "jwt login",
                _ => "invalid peer certificate",
            };
            out.stderr_has(why);
            assert!(
                !probe.0.path().join("child.environ").exists(),
                "{step}: program ran"
            );
            ev.out(&step, &out);
            ev.tree(&step, sb.dir.path(), &before);
        }
        assert!(tree(&sb.path("out")).is_empty(), "{step}: delivered");
    }
    ev.assert_clean(&c);
    eprintln!("openbao: {} places, {:?}", ev.places.len(), t.elapsed());
}

// ---------------------------------------------------------------------------------------------
// Core files
// ---------------------------------------------------------------------------------------------

/// Where a core of a process with cwd `cwd` would appear, per this machine's core_pattern.
fn core_dir(cwd: &Path) -> PathBuf {
    let pattern = read(Path::new("/proc/sys/kernel/core_pattern"));
    let pattern = pattern.trim();
    assert!(
        !pattern.starts_with('|'),
        "core_pattern is a pipe ({pattern}): cores go to a helper this test cannot observe \
         without changing the host's global setting; run the suite where core_pattern is a path"
    );
    match Path::new(pattern).parent() {
        Some(p) if pattern.starts_with('/') => p.to_path_buf(),
        _ => cwd.to_path_buf(),
    }
}

/// Files in `dir` new since `before` whose name starts with the core_pattern's literal prefix
/// (`core` for the kernel's default `core` / `core.PID`).
fn new_files(dir: &Path, before: &BTreeSet<String>) -> Vec<String> {
    let pattern = read(Path::new("/proc/sys/kernel/core_pattern"));
    let name = pattern
        .trim()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let prefix = name.split('%').next().unwrap_or_default().to_string();
    tree(dir)
        .into_iter()
        .filter(|f| !before.contains(f))
        .filter(|f| {
            Path::new(f)
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
        })
        .collect()
}

/// `run` under `sh -c 'ulimit -c unlimited; exec ...'`: the core limit raised for this process
/// tree only.
fn with_cores(run: &Run) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg("ulimit -c unlimited && exec \"$0\" \"$@\"")
        .arg(&run.program)
        .args(&run.args)
        .env_clear()
        .envs(&run.env);
    if let Some(d) = &run.cwd {
        cmd.current_dir(d);
    }
    cmd
}

fn wait_child(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    let mut status = None;
    wait_until(Duration::from_secs(10), || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    status.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("{what}: did not end within 10 s")
    })
}

#[test]
fn no_core_file_while_secrets_are_held() {
    // A vault that never answers (a fault OpenBao cannot produce on demand, hence the fake):
    // secret-init then holds its token and the env secret while it waits.
    let fake = Fake::start(json!([{"hang": true}]));
    let mut c = Canaries::default();
    let token = c.make("coretoken");
    let held = c.make("coreheld");
    let sb = Sandbox::new();
    sb.config(&format!(
        "secrets:\n  held: null\n  k: null\nsecret_init:\n  secrets:\n    k: {{from: 'vault:kv/app#k'}}\n  vault:\n    address: {}\n    ca_cert: {}\n    timeout: 60s\n    deadline: 60s\n",
        fake.addr,
        fake.ca.display()
    ));
    let dir = core_dir(sb.dir.path());
    let mut ev = Evidence::default();
    for (i, sig) in [nix::libc::SIGSEGV, nix::libc::SIGABRT, nix::libc::SIGQUIT]
        .into_iter()
        .enumerate()
    {
        let existing: BTreeSet<String> = tree(&dir).into_iter().collect();
        let mut r = sb.run();
        r.env("VAULT_TOKEN", &token)
            .env("TRUSS_SECRET_held", &held)
            .args(["--log-level", "trace", "--", "/bin/true"]);
        // Counted before the start, so its request cannot be taken for an earlier one.
        let seen = fake.requests("main").len();
        let mut child = with_cores(&r)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        assert!(
            wait_until(Duration::from_secs(20), || fake.requests("main").len()
                > seen),
            "request {} never arrived: {:?}",
            i + 1,
            fake.events()
        );
        // Rust's runtime handles SIGSEGV/SIGBUS (stack-overflow detection): a sent one that is
        // no real fault puts the default action back and returns, so a second one is fatal.
        let mut status = None;
        for _ in 0..2 {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::try_from(sig).expect("signal"),
            )
            .expect("kill");
            wait_until(Duration::from_secs(2), || {
                status = child.try_wait().expect("try_wait");
                status.is_some()
            });
            if status.is_some() {
                break;
            }
        }
        let status = match status {
            Some(s) => s,
            None => wait_child(
                &mut child,
                &format!("secret-init waiting on the vault, signal {sig}"),
            ),
        };
        // SIGQUIT is one of secret-init's stop signals: it exits 128+3 on its own.
        assert!(
            status.signal() == Some(sig) || status.code() == Some(128 + sig),
            "ended by signal {sig}: {status:?}"
        );
        assert!(
            !status.core_dumped(),
            "the kernel reports a core dump for signal {sig}"
        );
        let new = new_files(&dir, &existing);
        assert!(
            new.is_empty(),
            "signal {sig}: new files where cores go ({}): {new:?}",
            dir.display()
        );
        let mut err = String::new();
        let _ = std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err);
        ev.add(format!("signal {sig}: stderr"), err);
    }
    ev.tree("after signals", sb.dir.path(), &Snapshot::new());
    ev.assert_clean(&c);

    // Supervised: the supervisor forwards the signal to the program (which is dumpable) and
    // itself leaves no core. The program works in its own dir, so the two cores cannot mix.
    let child_dir = sb.mkdir("program-cwd");
    let sdir = core_dir(sb.dir.path());
    let pdir = core_dir(&child_dir);
    let existing: BTreeSet<String> = tree(&sdir).into_iter().collect();
    sb.config(
        "secrets:\n  held: null\nsecret_init:\n  secrets:\n    held: {env: HELD, file: false}\n",
    );
    let mut r = sb.run();
    r.env("TRUSS_SECRET_held", &held)
        .args([
            "--log-level",
            "trace",
            "--init",
            "--",
            "/bin/sh",
            "-c",
            "cd \"$0\" && echo ready && exec sleep 1000",
        ])
        .arg(&child_dir);
    let mut child = with_cores(&r)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("ready"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGSEGV,
    )
    .expect("kill");
    let status = wait_child(&mut child, "supervisor");
    assert_eq!(
        status.code(),
        Some(139),
        "the program's signal passed through: {status:?}"
    );
    let new: Vec<String> = new_files(&sdir, &existing)
        .into_iter()
        .filter(|f| !f.starts_with("program-cwd"))
        .collect();
    assert!(
        new.is_empty(),
        "supervisor left files where cores go: {new:?}"
    );
    // Negative control: the dumpable program did dump, in its cwd, and the search finds the
    // env-delivered canary in that core.
    let cores: Vec<String> = tree(&pdir)
        .into_iter()
        .filter(|f| f.starts_with("core"))
        .collect();
    assert!(
        !cores.is_empty(),
        "control: the program's core did not appear in {} (core_pattern {:?})",
        pdir.display(),
        read(Path::new("/proc/sys/kernel/core_pattern"))
    );
    let mut ctl = Evidence::default();
    ctl.add(
        "program core",
        std::fs::read(pdir.join(&cores[0])).expect("core"),
    );
    let hits = ctl.hits(&c);
    assert!(
        hits.iter().any(|h| h.contains("coreheld")),
        "control: the search did not find the program's env canary in its core: {hits:?}"
    );
}

#[test]
fn live_refresh_leaks_nothing() {
    // Old and new values of a mounted secret and of a vault secret, the token, and a value a
    // refresh refuses: none in the trace log (the change log and failure lines included), the
    // status file, or any file but the delivered one.
    use crate::init::{Ns, libc_sig};
    use crate::refresh::{KubeVolume, expect_prefix, status_until};
    let bao = Bao::start();
    let mut c = Canaries::default();
    c.add("root", &bao.root);
    let token = c.make("rtoken");
    bao.admin(json!([{"op": "api", "method": "POST", "path": "auth/token/create", "body": {"id": token, "policies": ["reader"], "ttl": "10m"}}]));
    let kv_old = c.make("kvold");
    let kv_new = c.make("kvnew");
    let file_old = c.make("fileold");
    let file_new = c.make("filenew");
    let refused = c.make("refused");
    bao.put_v2("app", &[("db", &kv_old)]);
    let sb = Sandbox::new();
    let mut vol = KubeVolume::new(sb.path("in"), &[("api", &file_old)]);
    let status = sb.path("run/status.json");
    sb.config(&format!(
        "secrets:\n  db: null\n  api: null\nsecret_init:\n  refresh:\n    interval: 1s\n    \
         jitter: 0%\n    status_file: {}\n  vault:\n{}    paths: [secret/data/app]\n",
        status.display(),
        bao.vault_yaml()
    ));
    let before = snapshot(sb.dir.path());
    let mut r = sb.run();
    r.env("VAULT_TOKEN", &token).args([
        "--sources",
        "file,vault",
        "--log-level",
        "trace",
        "--max-secret-bytes",
        "64",
        "--",
        "/bin/sh",
        "-c",
        "trap 'echo hup' HUP; echo ready; while :; do sleep 0.05; done",
    ]);
    let mut ns = Ns::start(&r, &[]);
    expect_prefix(&ns, "ready", Duration::from_secs(10));
    vol.swap(&[("api", &file_new)]);
    expect_prefix(&ns, "hup", Duration::from_secs(3));
    bao.put_v2("app", &[("db", &kv_new)]);
    expect_prefix(&ns, "hup", Duration::from_secs(3));
    vol.swap(&[("api", &format!("{refused}{}", "x".repeat(80)))]);
    status_until(&status, Duration::from_secs(3), &ns, |s| s["ok"] == false);
    let pid = ns.host_pid();
    ns.signal(pid, libc_sig::TERM);
    assert_eq!(ns.finish(), 143);

    let mut ev = Evidence::default();
    ev.add("refresh: stderr", ns.stderr().into_bytes());
    ev.tree("refresh", sb.dir.path(), &before);
    // Deliveries on purpose: the current values in their output files.
    ev.allow("refresh: file out/db", &kv_new);
    ev.allow("refresh: file out/api", &file_new);
    assert_eq!(
        ev.place("refresh: file out/db"),
        kv_new.as_bytes(),
        "control: delivered"
    );
    assert!(
        !ev.place("refresh: file run/status.json").is_empty(),
        "control: status written"
    );
    // The volume's own payload is input, not output.
    let inputs: Vec<String> = ev
        .places
        .iter()
        .map(|(p, _)| p.clone())
        .filter(|p| p.starts_with("refresh: file in/"))
        .collect();
    for p in inputs {
        ev.allow(p.clone(), &file_new);
        ev.allow(p, &refused);
    }
    let stderr = String::from_utf8_lossy(ev.place("refresh: stderr")).into_owned();
    assert!(
        stderr.contains("refresh: published"),
        "control: the change log is in the search"
    );
    assert!(
        stderr.contains("refresh failed"),
        "control: the failure line is in the search"
    );
    ev.assert_clean(&c);
}

// ---------------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------------

/// Template failures at trace level (text and JSON), in a run and in `check`: engine errors that
/// could quote a value (a value used as a name, an include, a number, base64), syntax errors in
/// a template that holds a value in a comment's neighbourhood, and the runaway and oversized
/// cases. Nothing may show a canary, nothing may be written, the program never starts. A
/// successful `check` lists the template without its content.
#[test]
fn template_failures_leak_nothing() {
    let sb = Sandbox::new();
    let probe = Probe::new();
    let mut c = Canaries::default();
    let a = c.make("tmpla");
    let b = c.make("tmplb");
    sb.write("in/a", &a);
    sb.write("in/b", &b);
    let tpl = sb.mkdir("tpl");
    let before = snapshot(sb.dir.path());
    let mut ev = Evidence::default();
    let cases = [
        ("number", "{{ secrets.a + 1 }}"),
        ("int", "{{ (secrets.a | int) + secrets.b }}"),
        ("name-is-value", "{{ secrets[secrets.a] }}"),
        ("include-value", "{% include secrets.a %}"),
        ("include-value-dir", "{% include 'sub/' ~ secrets.a %}"),
        ("b64decode", "{{ secrets.a | b64decode }}"),
        ("method", "{{ secrets.a.nope() }}"),
        ("call", "{{ secrets.a() }}"),
        ("index", "{{ secrets.a[secrets.b] }}"),
        ("attr", "{{ secrets.a[100] }}"),
        ("unpack", "{% set x, y = secrets.a %}"),
        ("round", "{{ secrets.a | round }}"),
        ("indent", "{{ secrets.a | indent(secrets.b) }}"),
        ("env-dollar", "{{ (secrets.a ~ '${X}') | env_quote }}"),
        ("replace", "{{ secrets.a | replace(secrets.b) }}"),
        ("format", "{{ '%d' | format(secrets.a) }}"),
        ("syntax", "{{ secrets.a }}\n{{ secrets.b | }}"),
        ("undeclared", "{{ secrets.a }}{{ secrets.nope }}"),
        (
            "oversized",
            "{% for i in range(300000) %}{{ secrets.a }}{% endfor %}",
        ),
        (
            "runaway",
            "{% for i in range(100000) %}{% for j in range(100000) %}{{ secrets.a[:0] }}{% endfor %}{% endfor %}",
        ),
    ];
    for (step, text) in cases {
        std::fs::write(tpl.join("t.tmpl"), text).expect("write");
        sb.config(&format!(
            "secrets:\n  a: null\n  b: null\nsecret_init:\n  templates:\n    t: {{destination: {}, source: {}}}\n",
            sb.path("out/t").display(),
            tpl.join("t.tmpl").display()
        ));
        for (mode, json) in [("exec", false), ("exec-json", true), ("check", true)] {
            let step = format!("{step} {mode}");
            let mut r = sb.run();
            trace(&mut r, json);
            if mode == "check" {
                r.args(["check", "--format", "json"]);
            } else {
                r.args(probe.program());
            }
            let out = r.output();
            assert_eq!(out.code(), 65, "{step}: {}", out.stderr());
            let err = out.stderr();
            assert!(
                err.contains("template \"t\"") || err.contains("template \\\"t\\\""),
                "{step}: the error does not name the template: {err}"
            );
            assert!(
                !probe.0.path().join("child.environ").exists(),
                "{step}: the program ran"
            );
            ev.out(&step, &out);
            let mut base = before.clone();
            base.insert(
                "config.yaml".into(),
                read(&sb.path("config.yaml")).into_bytes(),
            );
            base.insert("tpl/t.tmpl".into(), text.as_bytes().to_vec());
            ev.tree(&step, sb.dir.path(), &base);
        }
        assert!(
            tree(&sb.path("out")).is_empty(),
            "{step}: something was written"
        );
    }
    // Control: a template that renders delivers its value (and only into its file), while check
    // and the trace log show neither value.
    std::fs::write(
        tpl.join("t.tmpl"),
        "{{ secrets.a }}:{{ secrets.b | tojson }}",
    )
    .expect("write");
    let mut r = sb.run();
    trace(&mut r, false).args(["check"]);
    let out = r.output();
    out.expect_ok().stdout_has("secrets: a, b");
    ev.out("ok check", &out);
    let mut r = sb.run();
    trace(&mut r, true).args(["--", "/bin/true"]);
    let out = r.output();
    out.expect_ok();
    ev.out("ok run", &out);
    assert_eq!(read(&sb.path("out/t")), format!("{a}:\"{b}\""));
    ev.add(
        "ok run: file out/t",
        std::fs::read(sb.path("out/t")).expect("read"),
    );
    ev.allow("ok run: file out/t", &a);
    ev.allow("ok run: file out/t", &b);
    ev.assert_clean(&c);
}

// ---------------------------------------------------------------------------------------------
// Docker conventions: `file_env` pointers
// ---------------------------------------------------------------------------------------------

/// `X_FILE` read into `X` (`secret_init.file_env`): the value reaches the program's environment
/// as `X` and nowhere else, in exec and supervised mode, text and JSON at trace level; its
/// failures (both set, too big) show no value either.
#[test]
fn file_env_leaks_nothing() {
    let mut c = Canaries::default();
    let sb = Sandbox::new();
    sb.config("secrets: {}\nsecret_init:\n  file_env: [DB_PASSWORD]\n  max_secret_bytes: 64\n");
    let value = c.make("fileenv");
    let big = c.make("fileenvbig").repeat(4);
    c.add("fileenvbig4", &big);
    let path = sb.write("run/db", &value);
    let big_path = sb.write("run/big", &big);
    let before = snapshot(sb.dir.path());
    let probe = Probe::new();
    let mut ev = Evidence::default();
    for (step, flags, json) in [("exec", &[][..], false), ("init", &["--init"][..], true)] {
        let mut r = sb.run();
        r.env("DB_PASSWORD_FILE", &path);
        trace(&mut r, json)
            .args(flags.iter().copied())
            .args(probe.program());
        let out = r.output();
        out.expect_ok().stdout_has("probed");
        ev.out(step, &out);
        probe.collect(&mut ev, step, step == "init");
        let env = ev.place(&format!("{step}: child environ")).to_vec();
        assert!(
            find(&env, format!("DB_PASSWORD={value}").as_bytes()).is_some(),
            "{step}: not delivered"
        );
        ev.allow(format!("{step}: child environ"), &value);
        ev.tree(step, sb.dir.path(), &before);
    }
    for (step, set_too, file) in [("both-set", true, &path), ("too-big", false, &big_path)] {
        let mut r = sb.run();
        r.env("DB_PASSWORD_FILE", file);
        if set_too {
            r.env("DB_PASSWORD", "other");
        }
        trace(&mut r, false).args(probe.program());
        let out = r.output();
        out.expect_code(65);
        ev.out(step, &out);
        ev.tree(step, sb.dir.path(), &before);
    }
    ev.assert_clean(&c);
}

/// The aws source's every path at trace level: profile keys against an IAM-enforcing moto, env
/// keys with a session token, a web identity exchanged at STS, and refusals (a wrong secret key,
/// a missing secret, a key of a non-JSON value). Canaries: the secret values, the secret access
/// keys, the session token and the web identity token. The pod's own `AWS_*` variables reach the
/// program on purpose (docs/aws.md), so only there is the env session token allowed.
#[test]
fn aws_every_path_leaks_nothing() {
    use crate::support::moto::Moto;
    let enforcing = Moto::enforcing();
    let open = Moto::start();
    let mut c = Canaries::default();
    let (id, sk) = enforcing.user(
        "reader",
        &["secretsmanager:GetSecretValue", "ssm:GetParameter"],
    );
    c.add("profilesk", &sk);
    let plain = c.make("awsplain");
    let inner = c.make("awsjsonkey");
    let other = c.make("awsjsonother");
    let secure = c.make("awssecure");
    let deep = c.make("awsdeepparam");
    for m in [&enforcing, &open] {
        m.admin(json!([
            {"service": "secretsmanager", "method": "create_secret", "args": {"Name": "plain", "SecretString": plain}},
            {"service": "secretsmanager", "method": "create_secret", "args": {"Name": "json",
                "SecretString": json!({"k": inner, "other": other}).to_string()}},
            {"service": "ssm", "method": "put_parameter", "args": {"Name": "/secure", "Value": secure, "Type": "SecureString"}},
            {"service": "ssm", "method": "put_parameter", "args": {"Name": "/bulk/deep/p", "Value": deep, "Type": "SecureString"}},
        ]));
    }
    let wrong = c.make("awswrongsk");
    let env_sk = c.make("awsenvsk");
    let token = c.make("awssessiontoken");
    let jwt = c.make("awsjwt");
    let sb = Sandbox::new();
    sb.mkdir("home");
    sb.write(
        "aws/credentials",
        format!("[default]\naws_access_key_id = {id}\naws_secret_access_key = {sk}\n[wrong]\naws_access_key_id = {id}\naws_secret_access_key = {wrong}\n"),
    );
    let jwt_file = sb.write("aws/token", &jwt);
    sb.config(
        "secrets:\n  plain: null\n  k: null\n  secure: null\nsecret_init:\n  secrets:\n    plain: {from: 'aws-sm:plain'}\n    k: {from: 'aws-sm:json#k', env: AWS_K, file: false}\n    secure: {from: 'aws-ssm:/secure'}\n",
    );
    let probe = Probe::new();
    let mut ev = Evidence::default();
    let base = |m: &Moto| {
        let mut r = sb.run();
        m.env(&mut r, &sb);
        r
    };
    // The container endpoint and IMDSv2 (a loopback fake handing out canary keys and
    // session tokens, accepted by the unenforced moto), whole-source reads (a JSON secret's
    // every key, a parameter path) and an environment value that is a reference.
    let meta_sk = c.make("awsmetask");
    let meta_token = c.make("awsmetatoken");
    let auth = c.make("awscontainerauth");
    let fake = crate::support::fake_aws_metadata::FakeMetadata::start(json!({
        "creds": {"AccessKeyId": "ASIAFAKE", "SecretAccessKey": meta_sk, "Token": meta_token,
                  "Expiration": "2099-01-01T00:00:00Z"},
        "auth": auth,
        "role": "app-role",
    }));
    let auth_file = sb.write("aws/container-token", &auth);
    // `deep/p` (under the path) is not a valid secret name: read and offered, never declared.
    let whole_cfg = sb.write(
        "whole.yaml",
        "secrets:\n  plain: null\n  other: null\nsecret_init:\n  resolve_env_references: true\n  aws:\n    secrets: [json]\n    parameters_path: /bulk/\n  secrets:\n    plain: {from: 'aws-sm:plain'}\n",
    );
    let more: Vec<(&str, Run)> = vec![
        ("container", {
            let mut r = base(&open);
            r.env(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                format!("{}/creds", fake.addr),
            )
            .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &auth_file);
            r
        }),
        ("imds", {
            let mut r = base(&open);
            r.env_remove("AWS_EC2_METADATA_DISABLED")
                .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &fake.addr);
            r
        }),
        ("whole+envref", {
            let mut r = base(&open);
            r.env(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                format!("{}/creds", fake.addr),
            )
            .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &auth_file)
            .env("SECRET_INIT_CONFIG", &whole_cfg)
            .env("DB_KEY", "aws-sm:json#k");
            r
        }),
    ];
    let steps: Vec<(&str, Run, bool)> = vec![
        ("profile", base(&enforcing), false),
        (
            "envkeys",
            {
                let mut r = base(&open);
                r.env("AWS_ACCESS_KEY_ID", "AKIAENV")
                    .env("AWS_SECRET_ACCESS_KEY", &env_sk)
                    .env("AWS_SESSION_TOKEN", &token);
                r
            },
            true,
        ),
        (
            "irsa",
            {
                let mut r = base(&open);
                r.env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/app")
                    .env("AWS_WEB_IDENTITY_TOKEN_FILE", &jwt_file);
                r
            },
            false,
        ),
    ];
    let mut steps = steps;
    for (step, mut run) in more {
        // A profile without keys: the chain goes past the credentials file to the endpoints.
        run.env("AWS_PROFILE", "none");
        steps.push((step, run, false));
    }
    for (i, (step, mut run, env_keys)) in steps.into_iter().enumerate() {
        let before = snapshot(sb.dir.path());
        let json = i % 2 == 1;
        trace(&mut run, json).args(["--init"]).args(probe.program());
        let out = run.output();
        out.expect_ok().stdout_has("probed");
        ev.out(step, &out);
        probe.collect(&mut ev, step, true);
        ev.tree(step, sb.dir.path(), &before);
        assert_eq!(
            ev.place(&format!("{step}: file out/plain")),
            plain.as_bytes()
        );
        ev.allow(format!("{step}: file out/plain"), &plain);
        ev.allow(format!("{step}: file out/secure"), &secure);
        ev.allow(format!("{step}: child environ"), &inner);
        if step == "whole+envref" {
            assert_eq!(
                ev.place(&format!("{step}: file out/other")),
                other.as_bytes()
            );
            ev.allow(format!("{step}: file out/other"), &other);
        }
        if env_keys {
            // The platform's variables, passed through on purpose.
            for place in ["child environ", "supervisor environ"] {
                ev.allow(format!("{step}: {place}"), &env_sk);
                ev.allow(format!("{step}: {place}"), &token);
            }
        }
        let _ = std::fs::remove_dir_all(sb.path("out"));
    }
    assert!(
        fake.requests(5).len() >= 5,
        "the metadata fake was used: {:?}",
        fake.events()
    );
    // Refusals: each one line, nothing delivered, nothing leaked.
    let refusals: Vec<(&str, Run, i32, &str)> = vec![
        (
            "wrongkey",
            {
                let mut r = base(&enforcing);
                r.env("AWS_PROFILE", "wrong");
                r
            },
            77,
            "SignatureDoesNotMatch",
        ),
        (
            "notjson",
            {
                let mut r = base(&open);
                r.env("AWS_ACCESS_KEY_ID", "AKIAENV")
                    .env("AWS_SECRET_ACCESS_KEY", &env_sk);
                r.env("SECRET_INIT_CONFIG", sb.write("bad.yaml", "secrets:\n  x: null\nsecret_init:\n  secrets:\n    x: {from: 'aws-sm:plain#k'}\n"));
                r
            },
            65,
            "not a JSON object",
        ),
    ];
    for (step, mut run, code, why) in refusals {
        let before = snapshot(sb.dir.path());
        trace(&mut run, false).args(["--", "/bin/true"]);
        let out = run.output();
        out.expect_code(code).stderr_has(why);
        ev.out(step, &out);
        ev.tree(step, sb.dir.path(), &before);
    }
    ev.assert_clean(&c);
}

/// The gcp source's every path at trace level, against the scripted fake of the Google APIs
/// (tests/support/fake_gcp.py; tests/gcp.rs proves it with the real google clients): a
/// service-account key (its JWT signed from the private key), workload identity federation with
/// impersonation (the subject token), the metadata server, and refusals (denied, a key of a
/// non-JSON value). Canaries: the secret values, the subject token and a line of the private key.
#[test]
fn gcp_every_path_leaks_nothing() {
    use crate::support::fake_gcp::{FakeGcp, closed_port};
    let mut c = Canaries::default();
    let plain = c.make("gcpplain");
    let inner = c.make("gcpjsonkey");
    let other = c.make("gcpjsonother");
    let subject = c.make("gcpsubject");
    let fake = FakeGcp::start(json!({
        "secrets": {
            "projects/proj-1/secrets/plain": [b64(plain.as_bytes())],
            "projects/proj-1/secrets/json": [b64(json!({"k": inner, "other": other}).to_string().as_bytes())],
            "projects/proj-1/secrets/denied": [b64(plain.as_bytes())],
        },
        "denied": ["projects/proj-1/secrets/denied"],
        "subject_token": subject,
    }));
    let sa: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fake.file("sa.json")).expect("sa.json"))
            .expect("json");
    let key_line = sa["private_key"]
        .as_str()
        .expect("key")
        .lines()
        .nth(3)
        .expect("a key line")
        .to_string();
    c.add("sakey", &key_line);
    let sb = Sandbox::new();
    sb.mkdir("home");
    let cfg = |refs: &str| {
        format!(
            "secrets:\n  plain: null\n  k: null\nsecret_init:\n  gcp:\n    endpoint: {}\n  secrets:\n{refs}",
            fake.url
        )
    };
    sb.config(&cfg(
        "    plain: {from: 'sm://proj-1/plain'}\n    k: {from: 'gcp:secretmanager:projects/proj-1/secrets/json#k', env: GCP_K, file: false}\n",
    ));
    let probe = Probe::new();
    let mut ev = Evidence::default();
    let base = |creds: Option<PathBuf>, metadata: &str| {
        let mut r = sb.run();
        r.env("GCE_METADATA_HOST", metadata)
            .env("GCE_METADATA_IP", metadata);
        if let Some(p) = creds {
            r.env("GOOGLE_APPLICATION_CREDENTIALS", p);
        }
        r
    };
    let steps: Vec<(&str, Run)> = vec![
        (
            "serviceaccount",
            base(Some(fake.file("sa.json")), &closed_port()),
        ),
        (
            "federation",
            base(Some(fake.file("wif-impersonate.json")), &closed_port()),
        ),
        ("metadata", base(None, &fake.host)),
    ];
    for (i, (step, mut run)) in steps.into_iter().enumerate() {
        let before = snapshot(sb.dir.path());
        trace(&mut run, i % 2 == 1)
            .args(["--init"])
            .args(probe.program());
        let out = run.output();
        out.expect_ok().stdout_has("probed");
        ev.out(step, &out);
        probe.collect(&mut ev, step, true);
        ev.tree(step, sb.dir.path(), &before);
        assert_eq!(
            ev.place(&format!("{step}: file out/plain")),
            plain.as_bytes()
        );
        ev.allow(format!("{step}: file out/plain"), &plain);
        ev.allow(format!("{step}: child environ"), &inner);
        let _ = std::fs::remove_dir_all(sb.path("out"));
    }
    let refusals: Vec<(&str, &str, i32, &str)> = vec![
        (
            "denied",
            "    plain: {from: 'sm://proj-1/denied'}\n",
            77,
            "PERMISSION_DENIED",
        ),
        (
            "notjson",
            "    plain: {from: 'gcp:secretmanager:projects/proj-1/secrets/plain#k'}\n",
            65,
            "not a JSON object",
        ),
    ];
    for (step, refs, code, why) in refusals {
        let before = snapshot(sb.dir.path());
        let mut run = base(Some(fake.file("wif-impersonate.json")), &closed_port());
        run.env(
            "SECRET_INIT_CONFIG",
            sb.write(&format!("{step}.yaml"), cfg(refs)),
        );
        trace(&mut run, false).args(["--", "/bin/true"]);
        let out = run.output();
        out.expect_code(code).stderr_has(why);
        ev.out(step, &out);
        ev.tree(step, sb.dir.path(), &before);
    }
    ev.assert_clean(&c);
}

/// The azure source's every path at trace level, against the Key Vault / Entra ID fake
/// (tests/support/fake_azure.py; no official emulator exists, tests/azure.rs proves the fake
/// against the real Azure SDK): client secret, workload identity, the App Service identity
/// endpoint and IMDS (through its loopback override), then refusals (a wrong client secret,
/// access denied, a key of a non-JSON value). Canaries: the values, the client secret, the
/// federated token, the identity header and the access token. `AZURE_CLIENT_SECRET` is scrubbed
/// (docs/azure.md); `IDENTITY_HEADER` is the platform's and reaches the program on purpose.
#[test]
fn azure_every_path_leaks_nothing() {
    use crate::support::fake_azure::{CLIENT_ID, FakeAzure, TENANT};
    let mut c = Canaries::default();
    let plain = c.make("azplain");
    let inner = c.make("azjsonkey");
    let other = c.make("azjsonother");
    let v = "0123456789abcdef0123456789abcdef";
    let fake = FakeAzure::start(json!({
        "client_secret": c.make("azclientsecret"),
        "federated_token": c.make("azfederated"),
        "identity_header": c.make("azidheader"),
        "access_token": c.make("azaccesstoken"),
        "secrets": {
            "plain": {"current": v, "versions": {v: plain}},
            "json": {"current": v, "versions": {v: json!({"k": inner, "other": other}).to_string()}},
            "locked": {"current": v, "versions": {v: other}},
        },
        "denied": ["locked"],
    }));
    let wrong = c.make("azwrongsecret");
    let sb = Sandbox::new();
    sb.mkdir("home");
    let token_file = sb.write("azure/token", fake.get("federated_token"));
    sb.config(
        "secrets:\n  plain: null\n  k: null\nsecret_init:\n  secrets:\n    plain: {from: 'azure-kv:kv1/plain'}\n    k: {from: 'https://kv1.vault.azure.net/secrets/json#k', env: AZ_K, file: false}\n",
    );
    let probe = Probe::new();
    let mut ev = Evidence::default();
    let base = || {
        let mut r = sb.run();
        r.env("SECRET_INIT_AZURE_ENDPOINT", &fake.https)
            .env("SSL_CERT_FILE", &fake.ca)
            .env("AZURE_AUTHORITY_HOST", &fake.https)
            .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9");
        r
    };
    let secret_env = |secret: &str| {
        let mut r = base();
        r.env("AZURE_TENANT_ID", TENANT)
            .env("AZURE_CLIENT_ID", CLIENT_ID)
            .env("AZURE_CLIENT_SECRET", secret);
        r
    };
    let steps: Vec<(&str, Run, bool)> = vec![
        (
            "clientsecret",
            secret_env(&fake.get("client_secret")),
            false,
        ),
        (
            "workload",
            {
                let mut r = base();
                r.env("AZURE_TENANT_ID", TENANT)
                    .env("AZURE_CLIENT_ID", CLIENT_ID)
                    .env("AZURE_FEDERATED_TOKEN_FILE", &token_file);
                r
            },
            false,
        ),
        (
            "appservice",
            {
                let mut r = base();
                r.env("IDENTITY_ENDPOINT", format!("{}/msi/token", fake.https))
                    .env("IDENTITY_HEADER", fake.get("identity_header"));
                r
            },
            true,
        ),
        (
            "imds",
            {
                let mut r = base();
                r.env("AZURE_POD_IDENTITY_AUTHORITY_HOST", &fake.http);
                r
            },
            false,
        ),
    ];
    for (i, (step, mut run, platform_header)) in steps.into_iter().enumerate() {
        let before = snapshot(sb.dir.path());
        trace(&mut run, i % 2 == 1)
            .args(["--init"])
            .args(probe.program());
        let out = run.output();
        out.expect_ok().stdout_has("probed");
        ev.out(step, &out);
        probe.collect(&mut ev, step, true);
        ev.tree(step, sb.dir.path(), &before);
        assert_eq!(
            ev.place(&format!("{step}: file out/plain")),
            plain.as_bytes()
        );
        ev.allow(format!("{step}: file out/plain"), &plain);
        ev.allow(format!("{step}: child environ"), &inner);
        if platform_header {
            for place in ["child environ", "supervisor environ"] {
                ev.allow(format!("{step}: {place}"), &fake.get("identity_header"));
            }
        }
        let _ = std::fs::remove_dir_all(sb.path("out"));
    }
    let one = |name: &str, r: &str| {
        sb.write(
            name,
            format!("secrets:\n  x: null\nsecret_init:\n  secrets:\n    x: {{from: '{r}'}}\n"),
        )
    };
    let refusals: Vec<(&str, Run, i32, &str)> = vec![
        ("wrongsecret", secret_env(&wrong), 77, "AADSTS7000215"),
        (
            "denied",
            {
                let mut r = secret_env(&fake.get("client_secret"));
                r.env(
                    "SECRET_INIT_CONFIG",
                    one("denied.yaml", "azure-kv:kv1/locked"),
                );
                r
            },
            77,
            "AccessDenied",
        ),
        (
            "notjson",
            {
                let mut r = secret_env(&fake.get("client_secret"));
                r.env(
                    "SECRET_INIT_CONFIG",
                    one("notjson.yaml", "azure-kv:kv1/plain#k"),
                );
                r
            },
            65,
            "not a JSON object",
        ),
    ];
    for (step, mut run, code, why) in refusals {
        let before = snapshot(sb.dir.path());
        trace(&mut run, false).args(["--", "/bin/true"]);
        let out = run.output();
        out.expect_code(code).stderr_has(why);
        ev.out(step, &out);
        ev.tree(step, sb.dir.path(), &before);
    }
    ev.assert_clean(&c);
}

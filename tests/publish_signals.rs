//! Signal timings against the real binary: a stop signal or a SIGKILL at every phase of a wide
//! publish (2,000 files), in exec mode (`--no-init`) and as a supervising PID 1 (`--init` under
//! `bwrap --unshare-pid --as-pid-1`), and two starts sharing one output dir.
//!
//! Each trial publishes a new generation of values over the set a previous successful run left,
//! and sends the signal at a seeded point: a delay stratified over the length of a clean run
//! (calibrated first), or a jitter after what the output dir shows (the staging dir, the first
//! renamed name, the last), so every phase gets trials: resolving, staging, renaming, after the
//! commit point, and after exec. The phase a trial landed in is read from its outcome (exit
//! code, log lines, which files changed, whose ctime a rename moved), not traced.
//! `SI_SIGTEST_SEED=<n>` replays a failing spread.
//!
//! What each phase must give (README "Signals during start-up", docs/threat-model.md):
//! - a SIGTERM before the commit point: exit 143, the program not started, and exactly the old
//!   set byte for byte (the renames rolled back);
//! - a SIGTERM after it: exactly the new set, the "delivered ... starting" line logged, and the
//!   signal waits for the program, which may die of it (143) or finish first (0, marker printed);
//! - a SIGKILL: each file whole, old or new (a mix mid-rename), maybe a stale staging dir; the
//!   next start sweeps every stale staging dir and leaves exactly its set;
//! - a live start's staging dir (its flock held) is never swept by a second start.
//!
//! Needs root and bwrap (scripts/setup); missing either fails, never skips.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::*;

/// Files per publish: wide enough that staging and renaming take tens of milliseconds.
const N: usize = 2000;
const MARKER: &str = "probe-ran";
const STAGING: &str = ".secret-init-";
/// Wall-clock cap of one test's trial loop; the count is the usual bound. On a loaded machine
/// (load 10 on 2 cores: a clean run took 5 s) the cap ends the loop early, and the coverage
/// assertions (trials landed mid-publish, between renames, after the commit) still decide.
const BUDGET: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// `--no-init`: secret-init execs the program.
    Exec,
    /// `--init` as PID 1 of a fresh PID namespace: secret-init spawns and supervises it.
    Pid1,
}

/// A seeded SplitMix64, so a spread can be replayed.
struct Rng(u64);

impl Rng {
    fn seeded(default: u64) -> (Rng, u64) {
        let seed = std::env::var("SI_SIGTEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default);
        (Rng(seed), seed)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How long a clean run took (from secret-init's start).
#[derive(Clone, Copy, Debug)]
struct Timing {
    whole: Duration,
}

/// The name the publisher renames last: it goes in name order.
fn last_name() -> String {
    (0..N).map(|i| format!("s{i}")).max().expect("names")
}

/// When a trial's signal goes in. Fixed delays alone miss the phases on a loaded machine (a run
/// took 0.4 s to 5.6 s here), so most trials are anchored on what the output dir shows, polled
/// without tracing, plus a seeded jitter.
#[derive(Clone, Copy, Debug)]
enum Aim {
    /// After this long from secret-init's start: anywhere from resolving to after the exit.
    At(Duration),
    /// This long after the staging dir appeared: staging.
    Staging(Duration),
    /// This long after `s0` (the first name renamed: the publisher goes in name order) holds
    /// the new value: between renames.
    FirstRename(Duration),
    /// This long after the last name ([`last_name`]) holds the new value: at or after the commit
    /// point.
    LastRename(Duration),
}

/// `count` aims, cycling through the four kinds; the first `At` within a millisecond, the others
/// stratified over 1.25 times a clean run, the jitters drawn from the seeded RNG.
fn aims(rng: &mut Rng, count: usize, t: Timing) -> Vec<Aim> {
    let fixed = count.div_ceil(4);
    let ms = |rng: &mut Rng, max: f64| Duration::from_secs_f64(rng.unit() * max / 1000.0);
    (0..count)
        .map(|k| match k % 4 {
            // The first goes in at once, while the secrets are being resolved.
            0 if k == 0 => Aim::At(ms(rng, 1.0)),
            0 => Aim::At(
                t.whole
                    .mul_f64(1.25 * ((k / 4) as f64 + rng.unit()) / fixed as f64),
            ),
            1 => Aim::Staging(ms(rng, 20.0)),
            2 => Aim::FirstRename(ms(rng, 2.0)),
            _ => Aim::LastRename(ms(rng, 5.0)),
        })
        .collect()
}

/// Waits until `aim` says fire (bounded: 30 s, or the run's end), then sends `sig`.
fn fire(s: &mut Started, aim: Aim, out_dir: &Path, new: &str, sig: Signal) {
    let holds = |name: &str, i: usize| read(&out_dir.join(name)) == value(new, i);
    let (ready, jitter): (Box<dyn Fn() -> bool>, Duration) = match aim {
        Aim::At(d) => (
            Box::new(|| true),
            (s.t0 + d).saturating_duration_since(Instant::now()),
        ),
        Aim::Staging(j) => (
            Box::new(|| {
                std::fs::read_dir(out_dir).is_ok_and(|rd| {
                    rd.flatten()
                        .any(|e| e.file_name().to_string_lossy().starts_with(STAGING))
                })
            }),
            j,
        ),
        Aim::FirstRename(j) => (Box::new(|| holds("s0", 0)), j),
        Aim::LastRename(j) => {
            let last = last_name();
            let i: usize = last[1..].parse().expect("index");
            (Box::new(move || holds(&last, i)), j)
        }
    };
    let end = Instant::now() + Duration::from_secs(30);
    while !ready() && Instant::now() < end {
        if let Ok(Some(_)) = s.child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    std::thread::sleep(jitter);
    let _ = kill(Pid::from_raw(s.pid), sig);
}

fn value(generation: &str, i: usize) -> String {
    format!("{generation}-{i}")
}

fn wide_sandbox() -> Sandbox {
    let sb = Sandbox::new();
    let mut yaml = String::from("secrets:\n");
    for i in 0..N {
        yaml.push_str(&format!("  s{i}: null\n"));
    }
    sb.config(&yaml);
    sb.mkdir("out");
    sb
}

/// The run publishing generation `generation` of every secret, program `/bin/echo MARKER`.
fn publish_run(sb: &Sandbox, generation: &str, mode: Mode) -> Run {
    let mut r = sb.run();
    for i in 0..N {
        r.env(format!("TRUSS_SECRET_s{i}"), value(generation, i));
    }
    r.arg(match mode {
        Mode::Exec => "--no-init",
        Mode::Pid1 => "--init",
    });
    r.args(["--", "/bin/echo", MARKER]);
    r
}

/// A started run and the moment secret-init itself began (for PID 1: when bwrap's child has
/// become secret-init, so the namespace set-up does not count).
struct Started {
    child: Child,
    /// The PID to signal: secret-init's, on the host.
    pid: i32,
    t0: Instant,
}

fn start(run: &Run, mode: Mode) -> Started {
    let mut cmd = match mode {
        Mode::Exec => run.command(),
        Mode::Pid1 => {
            assert!(
                nix::unistd::geteuid().is_root(),
                "the PID-namespace trials need root (the test command runs as root)"
            );
            run.as_pid1(&[])
        }
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .expect("spawn (bwrap is installed by scripts/setup)");
    match mode {
        Mode::Exec => {
            // spawn returns once execve succeeded.
            let pid = child.id() as i32;
            Started {
                child,
                pid,
                t0: Instant::now(),
            }
        }
        Mode::Pid1 => {
            let pid = pid1_of(&child, &run.program);
            Started {
                child,
                pid,
                t0: Instant::now(),
            }
        }
    }
}

/// The host PID of the namespace's PID 1 once it runs `program`: bwrap's child (polled every
/// 200 us from /proc/<bwrap>/task/<bwrap>/children, cheaper than a scan of /proc).
fn pid1_of(bwrap: &Child, program: &Path) -> i32 {
    let children = format!("/proc/{0}/task/{0}/children", bwrap.id());
    let want = std::fs::canonicalize(program).expect("canonical program path");
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        for pid in read(Path::new(&children)).split_whitespace() {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
            if exe.as_deref() == Some(want.as_path()) {
                return pid.parse().expect("pid");
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    panic!("bwrap {} never ran {}", bwrap.id(), program.display());
}

/// Waits (bounded) for the run to end and collects its output.
fn finish(s: Started) -> Output {
    let Started { mut child, pid, .. } = s;
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    let _ = child.kill();
    let out = child.wait_with_output().expect("wait");
    panic!(
        "run did not end within 30 s\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn code(out: &Output) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    out.status
        .code()
        .unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0))
}

/// What the output dir holds: its files (name, content), its staging dirs, and whether the
/// record of deliveries is there.
#[derive(Debug, Default)]
struct Dir {
    files: BTreeMap<String, Vec<u8>>,
    staging: Vec<String>,
    record: bool,
}

fn look(dir: &Path) -> Dir {
    let mut d = Dir::default();
    for e in std::fs::read_dir(dir).expect("read out").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let ty = e.file_type().expect("file type");
        if name.starts_with(STAGING) {
            assert!(ty.is_dir(), "{name} is not a directory");
            d.staging.push(name);
        } else if name == "..secret-init-delivered" {
            assert!(ty.is_file(), "{name} is not a regular file");
            d.record = true;
        } else {
            assert!(ty.is_file(), "{name} is not a regular file");
            d.files
                .insert(name, std::fs::read(e.path()).expect("read file"));
        }
    }
    d.staging.sort();
    d
}

/// Whether `files` is exactly generation `generation` of every secret, byte for byte.
fn is_generation(files: &BTreeMap<String, Vec<u8>>, generation: &str) -> bool {
    files.len() == N
        && (0..N).all(|i| {
            files.get(&format!("s{i}")).map(Vec::as_slice) == Some(value(generation, i).as_bytes())
        })
}

/// Runs generation `generation` to the end with no signal, checks it published the whole set,
/// and returns its timing.
fn clean_run(sb: &Sandbox, generation: &str, mode: Mode) -> Timing {
    let s = start(&publish_run(sb, generation, mode), mode);
    let t0 = s.t0;
    let out = finish(s);
    let whole = t0.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(code(&out), 0, "clean run {generation}: {stderr}");
    let dir = look(&sb.path("out"));
    assert!(
        is_generation(&dir.files, generation) && dir.staging.is_empty() && dir.record,
        "clean run {generation} left {} files, staging {:?}, record {}",
        dir.files.len(),
        dir.staging,
        dir.record
    );
    Timing { whole }
}

/// Calibration: a clean run, whose set is the old set the first trial starts from.
fn calibrate(sb: &Sandbox, mode: Mode) -> Timing {
    clean_run(sb, "g1", mode)
}

/// Each file's ctime in nanoseconds since the epoch.
fn ctimes(dir: &Path) -> BTreeMap<String, i128> {
    std::fs::read_dir(dir)
        .expect("read out")
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with(STAGING))
        .map(|e| {
            let m = e.metadata().expect("stat");
            let ns = i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec());
            (e.file_name().to_string_lossy().into_owned(), ns)
        })
        .collect()
}

/// Where a SIGTERM trial landed, judged from the outcome alone (no tracing).
#[derive(Debug, Default)]
struct Landed {
    /// Exit 143 with no message: the handler's immediate exit while resolving.
    resolving: usize,
    /// "stopped ... while publishing" with no old file renamed: during staging.
    staging: usize,
    /// Rolled back with some old files renamed out and back (their ctime moved): during the
    /// renames.
    renaming: usize,
    /// The whole new set and the start line, but no marker: after the commit point, the held
    /// signal met the program before it printed (exec mode: before execve).
    committed: usize,
    /// The marker printed: the program ran.
    ran: usize,
}

fn sigterm_trials(mode: Mode, trials: usize, seed: u64) {
    let sb = wide_sandbox();
    let out_dir = sb.path("out");
    let timing = calibrate(&sb, mode);
    let (mut rng, seed) = Rng::seeded(seed);
    let delays = aims(&mut rng, trials, timing);
    let mut old = "g1".to_string();
    let mut landed = Landed::default();
    let began = Instant::now();
    let mut done = 0;
    for (k, delay) in delays.iter().enumerate() {
        if began.elapsed() > BUDGET {
            break;
        }
        let new = format!("t{k}");
        let what = format!(
            "{mode:?} trial {k} (seed {seed}, SIGTERM {delay:?}, {timing:?}, {old} -> {new})"
        );
        let before = ctimes(&out_dir);
        let mut s = start(&publish_run(&sb, &new, mode), mode);
        fire(&mut s, *delay, &out_dir, &new, Signal::SIGTERM);
        let out = finish(s);
        let (code, stdout) = (
            code(&out),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        );
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let ctx = format!("{what}: exit {code}\n--- stdout\n{stdout}--- stderr\n{stderr}");
        let dir = look(&out_dir);
        assert!(
            dir.staging.is_empty(),
            "{ctx}\nstaging left: {:?}",
            dir.staging
        );
        let marker = stdout.contains(MARKER);
        let started = stderr.contains("secrets delivered");
        if is_generation(&dir.files, &new) {
            assert!(
                started,
                "{ctx}\nthe new set is in place without the start line"
            );
            assert!(code == 0 || code == 143, "{ctx}");
            assert!(code != 0 || marker, "{ctx}\nexit 0 without the program");
            if marker {
                landed.ran += 1;
            } else {
                landed.committed += 1;
            }
            old = new;
        } else {
            let mixed = (0..N)
                .filter(|i| dir.files.get(&format!("s{i}")) != Some(&value(&old, *i).into_bytes()))
                .count();
            assert!(
                is_generation(&dir.files, &old),
                "{ctx}\nneither the old set nor the new: {} files, {mixed} not the old value",
                dir.files.len()
            );
            assert_eq!(
                code, 143,
                "{ctx}\nthe old set stayed, so the exit must be 143"
            );
            assert!(
                !marker && !started,
                "{ctx}\nthe program started on the old set"
            );
            if stderr.contains("while publishing; the old files are back") {
                let after = ctimes(&out_dir);
                let renamed = before
                    .iter()
                    .filter(|(k, v)| after.get(*k) != Some(v))
                    .count();
                if renamed > 0 {
                    landed.renaming += 1;
                } else {
                    landed.staging += 1;
                }
            } else {
                assert!(
                    !stderr.contains("secret-init: error"),
                    "{ctx}\nan unexpected error"
                );
                landed.resolving += 1;
            }
        }
        done += 1;
    }
    eprintln!("{mode:?}: {done} SIGTERM trials (seed {seed}, {timing:?}): {landed:?}");
    let report = format!("{mode:?}, seed {seed}, {done} trials, {timing:?}: {landed:?}");
    assert!(
        landed.staging + landed.renaming >= 2,
        "too few trials landed mid-publish: {report}"
    );
    assert!(
        landed.renaming >= 1,
        "no trial landed between renames: {report}"
    );
    assert!(
        landed.committed + landed.ran >= 1,
        "no trial landed after the commit point: {report}"
    );
}

/// A SIGTERM at 16 points of a 2,000-file publish over an old set, `--no-init`.
#[test]
fn sigterm_at_every_phase_exec_mode() {
    sigterm_trials(Mode::Exec, 16, 0x5167_7e57);
}

/// The same as PID 1 of a PID namespace, `--init`: supervision changes nothing before the
/// program is spawned, and a stop after the commit point is forwarded to it.
#[test]
fn sigterm_at_every_phase_pid1_init() {
    sigterm_trials(Mode::Pid1, 16, 0x1d1_5167);
}

/// A SIGKILL at 12 points of the publish (exec and PID 1 in turns of four), a repair start after
/// every second kill.
#[test]
fn sigkill_at_every_phase_then_a_start_repairs() {
    let sb = wide_sandbox();
    let out_dir = sb.path("out");
    let timing = calibrate(&sb, Mode::Exec);
    let (mut rng, seed) = Rng::seeded(0x0c1a_55ed);
    let trials = 12;
    let delays = aims(&mut rng, trials, timing);
    // Each name's value before the current trial: a kill mid-rename leaves a mix, and the next
    // trial starts from it.
    let mut before: Vec<String> = (0..N).map(|i| value("g1", i)).collect();
    let (mut mixes, mut left_staging, mut swept, mut repairs, mut done) = (0, 0, 0, 0, 0);
    let began = Instant::now();
    for (k, delay) in delays.iter().enumerate() {
        if began.elapsed() > BUDGET {
            break;
        }
        let mode = if (k / 4) % 2 == 0 {
            Mode::Exec
        } else {
            Mode::Pid1
        };
        let new = format!("k{k}");
        let what = format!("{mode:?} kill {k} (seed {seed}, SIGKILL {delay:?}, {timing:?})");
        let mut s = start(&publish_run(&sb, &new, mode), mode);
        fire(&mut s, *delay, &out_dir, &new, Signal::SIGKILL);
        let out = finish(s);
        let dir = look(&out_dir);
        assert_eq!(dir.files.len(), N, "{what}: {:?}", dir.files.keys().take(5));
        let mut n_new = 0;
        for (i, was) in before.iter_mut().enumerate() {
            let got = &dir.files[&format!("s{i}")];
            let fresh = value(&new, i);
            if got == fresh.as_bytes() {
                n_new += 1;
                *was = fresh;
            } else {
                assert_eq!(
                    got,
                    was.as_bytes(),
                    "{what}: s{i} is neither its old value nor the new one"
                );
            }
        }
        if n_new > 0 && n_new < N {
            mixes += 1;
        }
        if !dir.staging.is_empty() {
            left_staging += 1;
        }
        eprintln!(
            "{what}: exit {}, {n_new}/{N} new, staging {:?}",
            code(&out),
            dir.staging
        );
        done += 1;
        if k % 2 == 1 || k + 1 == delays.len() {
            // A normal start in the same dir: it sweeps every stale staging dir and leaves
            // exactly its own set.
            repairs += 1;
            let generation = format!("r{k}");
            let out = publish_run(&sb, &generation, Mode::Exec).output();
            out.expect_ok().stdout_has(MARKER);
            let removed = out.stderr().matches("removed stale staging dir").count();
            assert_eq!(
                removed,
                dir.staging.len(),
                "repair after {what}: removed {removed} of {:?}\n{}",
                dir.staging,
                out.stderr()
            );
            swept += removed;
            let after = look(&out_dir);
            assert!(
                is_generation(&after.files, &generation) && after.staging.is_empty(),
                "repair after {what}: {} files, staging {:?}",
                after.files.len(),
                after.staging
            );
            before = (0..N).map(|i| value(&generation, i)).collect();
        }
    }
    let report = format!(
        "seed {seed}, {done} kills, {timing:?}: {mixes} mixed sets, {left_staging} left \
         staging dirs, {swept} swept in {repairs} repairs"
    );
    eprintln!("{report}");
    assert!(mixes >= 1, "no kill landed between renames: {report}");
    assert!(
        left_staging >= 2,
        "too few kills left a staging dir: {report}"
    );
}

/// Two starts sharing one output dir (an emptyDir shared by two containers): the first is held
/// mid-publish with SIGSTOP while a second one publishes its own secrets into the same dir. The
/// second's sweep must leave the first's staging dir (locked) alone; once continued, the first
/// completes its whole set.
#[test]
fn a_live_starts_staging_dir_survives_a_second_start() {
    let sb = Sandbox::new();
    let mut yaml = String::from("secrets:\n");
    for i in 0..N {
        yaml.push_str(&format!("  s{i}: null\n"));
    }
    sb.config(&yaml);
    sb.write("b.yaml", "secrets:\n  b0: null\n  b1: null\n  b2: null\n");
    let out_dir = sb.mkdir("out");
    let first = publish_run(&sb, "a", Mode::Exec);
    let mut held = None;
    for _attempt in 0..5 {
        let s = start(&first, Mode::Exec);
        // Hold it as soon as its staging dir has a file in it: mid-staging, lock held.
        let staged = wait_until(Duration::from_secs(10), || {
            look(&out_dir).staging.first().is_some_and(|d| {
                std::fs::read_dir(out_dir.join(d)).is_ok_and(|mut e| e.next().is_some())
            })
        });
        let _ = kill(Pid::from_raw(s.pid), Signal::SIGSTOP);
        // kill() returns before the target stops: wait until the kernel shows it stopped, so
        // no write of its is still under way when the staging dir is counted.
        wait_until(Duration::from_secs(5), || {
            std::fs::read_to_string(format!("/proc/{}/stat", s.pid)).is_ok_and(|st| {
                st.rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with('T'))
            })
        });
        let dir = look(&out_dir);
        if staged && dir.staging.len() == 1 {
            held = Some((s, dir.staging[0].clone()));
            break;
        }
        // It got through before the stop: start again from an empty dir.
        let _ = kill(Pid::from_raw(s.pid), Signal::SIGCONT);
        finish(s);
        let _ = std::fs::remove_dir_all(&out_dir);
        sb.mkdir("out");
    }
    let (s, staging) = held.expect("the first start was never held mid-publish in 5 attempts");
    let staging_path = out_dir.join(&staging);
    let ino = std::fs::metadata(&staging_path)
        .expect("stat staging")
        .ino();
    let entries = std::fs::read_dir(&staging_path).expect("list").count();

    let mut second = sb.run();
    second
        .env("SECRET_INIT_CONFIG", sb.path("b.yaml"))
        .env("TRUSS_SECRET_b0", "b-0")
        .env("TRUSS_SECRET_b1", "b-1")
        .env("TRUSS_SECRET_b2", "b-2")
        .args(["--no-init", "--", "/bin/echo", MARKER]);
    let out = second.output();
    out.expect_ok().stdout_has(MARKER);
    assert!(
        !out.stderr().contains("removed stale staging dir"),
        "the second start swept something\n{}",
        out.stderr()
    );
    assert_eq!(
        std::fs::metadata(&staging_path).map(|m| m.ino()).ok(),
        Some(ino),
        "the live start's staging dir was removed or replaced\n{}",
        out.stderr()
    );
    assert_eq!(
        std::fs::read_dir(&staging_path).expect("list").count(),
        entries,
        "the live start's staged files were touched"
    );
    for b in 0..3 {
        assert_eq!(read(&out_dir.join(format!("b{b}"))), format!("b-{b}"));
    }

    kill(Pid::from_raw(s.pid), Signal::SIGCONT).expect("SIGCONT");
    let out = finish(s);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(code(&out), 0, "the first start after SIGCONT: {stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(MARKER));
    let mut dir = look(&out_dir);
    assert!(dir.staging.is_empty(), "staging left: {:?}", dir.staging);
    for b in 0..3 {
        assert_eq!(
            dir.files.remove(&format!("b{b}")),
            Some(format!("b-{b}").into_bytes())
        );
    }
    assert!(
        is_generation(&dir.files, "a"),
        "the first start's set is not whole"
    );
}

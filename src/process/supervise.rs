//! The supervisor: secret-init as a tiny init for the program (PID 1, or `--init`).
//!
//! PID 1 of a PID namespace receives only the signals it has a handler for (kill(2) NOTES), and
//! orphans are re-parented to it, so a program exec'd as PID 1 ignores `docker stop` and leaves
//! zombies. Following tini and catatonit, secret-init then stays as the program's parent:
//!
//! 1. Every catchable signal is blocked *before* the program is spawned, so none is lost, a
//!    SIGCHLD for a program that exits at once included (dumb-init#102). The program starts with
//!    the original mask and dispositions (sys.rs `prepare`).
//! 2. The loop reaps first and then waits: `waitpid(-1, WNOHANG)` until nothing is left to reap,
//!    at the first iteration and after every wakeup, because SIGCHLDs coalesce (runc#5206). The
//!    wait is one `ppoll` on a signalfd of the blocked set (sys.rs `SignalFd`), the refresh's
//!    inotify descriptor, and the time to the next due thing, or no timeout at all: an idle
//!    program costs no wakeup (catatonit's `signalfd` loop). A SIGCHLD that arrives before the
//!    wait starts stays pending, so the wait returns at once and the exit is reaped.
//! 3. A signal another process sent (kill, sigqueue, tkill) is forwarded to the program, or to
//!    its process group with `--process-group`. SIGCHLD is ours. What the kernel raised (a
//!    terminal's SIGINT or SIGWINCH, which already reached the program in the same foreground
//!    group; our own SIGPIPE or SIGTTOU) and what we sent ourselves is never forwarded.
//! 4. The program's PID is signalled only while it is known unreaped: this loop is the only
//!    reaper, so the PID cannot be reused before we reap it (util-linux#4054).
//! 5. When the program has exited, leftover descendants get SIGTERM, then SIGKILL after the
//!    grace period (tini#180; secrets-init waited forever). The exit code is the program's, or
//!    128+N when signal N killed it (status.rs).
//!
//! 6. With live refresh (src/app/refresh/), the loop wakes when the refresh's descriptor has
//!    events or its next due time comes, and lets it run; the refresh may ask for a signal to the program or a restart: SIGTERM,
//!    the grace period, SIGKILL, then the program again with its new environment. A stop
//!    request during a restart is forwarded and ends the supervisor with the old program's
//!    status instead of starting it again.
//!
//! 7. With `--mask` (output.rs), the program's stdout and stderr are secret-init's pipes or
//!    pseudo-terminal, read by their own threads; the loop only resizes the pseudo-terminal on
//!    SIGWINCH (and then passes the signal on, so the program reads the new size), and flushes
//!    everything once the program and its descendants have ended.
//!
//! Nothing in the loop ends it but the program's exit: as PID 1 our death would take the whole
//! container with it, so an error is logged and the loop goes on (catatonit's rule).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::libc;

use super::output::Output;
use super::status;
use crate::error::{Error, Kind};
use crate::sys::{self, ChildSetup, Reaped, Received, Signals};

/// How to supervise.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    /// Put the program in its own process group and signal the group.
    pub process_group: bool,
    /// Time leftover descendants get between SIGTERM and SIGKILL.
    pub grace_period: Duration,
    /// Mask the program's output with these values (`--mask`).
    pub mask: Option<std::sync::Arc<crate::mask::Masks>>,
}

/// What a live refresh asks of the supervisor after it ran.
pub(crate) enum Tell {
    /// Nothing changed, or nothing is to be done about it.
    Nothing,
    /// Send this signal to the program (its group with `--process-group`).
    Signal(i32),
    /// Stop the program and start this one in its place.
    Restart(Command),
}

/// A live refresh driven by the supervisor loop.
pub(crate) trait Refresh {
    /// When the loop must call [`Refresh::tick`] again at the latest; `None`: only when woken.
    fn due(&self) -> Option<Instant>;
    /// A descriptor that becomes readable when `tick` has something to look at (inotify).
    fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>>;
    /// Does whatever is due (watching, polling, a refresh); `main` is the program's PID.
    fn tick(&mut self, main: i32) -> Tell;
    /// The program was started with this PID (before the loop's first reap: a program that
    /// exits at once has still been seen).
    fn spawned(&mut self, _main: i32) {}
}

/// The longest the final SIGKILL sweep may take before secret-init gives up on leftovers.
const KILL_SWEEP_LIMIT: Duration = Duration::from_secs(10);

/// Whether a signal taken by the loop goes to the program: sent by another process, and not
/// SIGCHLD (`me` is our own PID as the sender sees it; 0 means a sender outside our namespace).
pub(crate) fn should_forward(r: &Received, me: i32) -> bool {
    r.signal != libc::SIGCHLD && matches!(r.sender, Some(pid) if pid != me)
}

/// Spawns `cmd` and supervises it until it and its leftover descendants are gone; returns the
/// exit code to leave with. Fails only if the program cannot be started (126/127).
pub(crate) fn run(
    cmd: Command,
    setup: ChildSetup,
    opts: &Options,
    program: &OsString,
    mut refresh: Option<&mut dyn Refresh>,
) -> Result<u8, Error> {
    let signals = Signals::supervised();
    signals.block().map_err(|e| {
        Error::new(
            Kind::Unavailable,
            format!("cannot block signals for supervision: {}", e.desc()),
        )
    })?;
    let pid1 = sys::is_pid1();
    if !pid1 {
        match sys::set_child_subreaper() {
            Ok(()) => crate::log::debug!("not PID 1: child subreaper set, orphans come to us"),
            Err(e) => crate::log::warn!(
                "cannot become a child subreaper ({}): orphans of the program will not be reaped",
                e.desc()
            ),
        }
    }
    let output = match &opts.mask {
        Some(masks) => Some(Output::start(masks).map_err(|e| {
            Error::new(
                Kind::Unavailable,
                format!(
                    "cannot set up masking of the program's output: {}",
                    crate::error::io_text(&e)
                ),
            )
        })?),
        None => None,
    };
    let spawner = Spawner {
        setup,
        group: opts.process_group,
        program,
        output,
    };
    let main = match spawner.spawn(cmd) {
        Ok(pid) => pid,
        Err(e) => {
            if let Some(o) = spawner.output {
                o.finish();
            }
            return Err(e);
        }
    };
    if let Some(r) = refresh.as_deref_mut() {
        r.spawned(main);
    }
    crate::log::debug!(
        "supervising {} (pid {main}){}",
        program.to_string_lossy(),
        if pid1 { " as PID 1" } else { "" }
    );
    let code = until_exit(main, &signals, opts, refresh, &spawner);
    end_descendants(pid1, &signals, opts.grace_period);
    if let Some(o) = spawner.output {
        o.finish();
    }
    Ok(code)
}

/// Starts the program (again, after a restart) the same way each time.
struct Spawner<'a> {
    setup: ChildSetup,
    group: bool,
    program: &'a OsString,
    output: Option<Output>,
}

impl Spawner<'_> {
    fn spawn(&self, mut cmd: Command) -> Result<i32, Error> {
        let mut setup = self.setup.clone();
        if self.group {
            cmd.process_group(0);
            setup.foreground = true;
        }
        if let Some(o) = &self.output {
            o.attach(&mut cmd)
                .map_err(|e| super::exec_error(self.program, &e))?;
        }
        sys::prepare(&mut cmd, setup);
        let child = cmd
            .spawn()
            .map_err(|e| super::exec_error(self.program, &e))?;
        // The handle is not needed: the loop reaps with waitpid(-1) (dropping it neither waits
        // nor kills).
        Ok(i32::try_from(child.id()).unwrap_or(i32::MAX))
    }
}

/// Reaps everything that has ended; returns the main program's exit code if it was among them.
fn reap_all(main: i32) -> (Option<u8>, Reaped) {
    let mut code = None;
    loop {
        match sys::reap_one() {
            Ok(Reaped::Child(pid, raw)) => {
                if pid == main {
                    // waitpid without WUNTRACED/WCONTINUED reports terminations only, so the
                    // fallback is unreachable; it is a plain failure, never 0 or 255.
                    code = Some(status::exit_code(raw).unwrap_or(1));
                } else {
                    crate::log::trace!("reaped pid {pid}");
                }
            }
            Ok(other) => return (code, other),
            Err(e) => {
                crate::log::warn!("waitpid failed: {}", e.desc());
                return (code, Reaped::Running);
            }
        }
    }
}

fn until_exit(
    mut main: i32,
    signals: &Signals,
    opts: &Options,
    mut refresh: Option<&mut dyn Refresh>,
    spawner: &Spawner,
) -> u8 {
    let group = opts.process_group;
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    // Once a stop request has been forwarded, no new refresh starts: the program is ending.
    let mut stopping = false;
    let sigfd = signals
        .fd()
        .inspect_err(|e| {
            crate::log::warn!(
                "signalfd unavailable ({}): waking every second (every 100 ms with refresh)",
                e.desc()
            );
        })
        .ok();
    loop {
        let (code, _) = reap_all(main);
        if let Some(code) = code {
            crate::log::debug!("program exited: exit code {code}");
            return code;
        }
        if let Some(r) = refresh.as_deref_mut().filter(|_| !stopping) {
            match r.tick(main) {
                Tell::Nothing => {}
                Tell::Signal(sig) => {
                    crate::log::debug!("refresh: sending signal {sig} to pid {main}");
                    if let Err(e) = sys::send(main, sig, group) {
                        crate::log::warn!("refresh: cannot send signal {sig}: {}", e.desc());
                    }
                }
                Tell::Restart(cmd) => match restart(main, cmd, signals, opts, spawner) {
                    Restarted::Running(pid) => main = pid,
                    Restarted::Ended(code) => return code,
                },
            }
        }
        // Once stopping, the refresh is not run again, so its due time is not waited for.
        let live = refresh.as_deref().filter(|_| !stopping);
        let due = live.and_then(|r| r.due());
        let timeout = due.map(|d| d.saturating_duration_since(Instant::now()));
        let woken = match &sigfd {
            Some(fd) => fd.wait(live.and_then(|r| r.fd()), timeout),
            None => {
                // The old fixed cadence: the watcher is only read when the loop comes round.
                let most = if live.is_some_and(|r| r.fd().is_some()) {
                    Duration::from_millis(100)
                } else {
                    Duration::from_secs(1)
                };
                let t = timeout.map_or(most, |t| t.min(most));
                signals
                    .wait(t)
                    .map(|r| r.map_or(sys::Woken::Timeout, sys::Woken::Signal))
            }
        };
        // The main program is unreaped here, so its PID (and process group id) is still ours.
        match woken {
            Ok(sys::Woken::Signal(r))
                if r.signal == libc::SIGWINCH
                    && spawner.output.as_ref().is_some_and(Output::resized) =>
            {
                // After the resize, so that the program reads the new size.
                let _ = sys::send(main, libc::SIGWINCH, group);
            }
            Ok(sys::Woken::Signal(r)) if should_forward(&r, me) => {
                stopping |= matches!(r.signal, libc::SIGTERM | libc::SIGINT | libc::SIGQUIT);
                crate::log::debug!("forwarding signal {} to pid {main}", r.signal);
                if let Err(e) = sys::send(main, r.signal, group) {
                    crate::log::warn!("cannot forward signal {}: {}", r.signal, e.desc());
                }
            }
            Ok(sys::Woken::Signal(r)) => {
                crate::log::trace!("not forwarding signal {} ({:?})", r.signal, r.sender)
            }
            Ok(sys::Woken::Ready | sys::Woken::Timeout) => {}
            Err(e) => {
                // Never a busy loop: an error that repeats (it should not) costs a wakeup a
                // second, like the wait it replaced; pending signals stay pending meanwhile.
                crate::log::warn!("waiting for signals failed: {}", e.desc());
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

enum Restarted {
    /// The new program runs with this PID.
    Running(i32),
    /// Stop requested meanwhile, or the new program could not start: leave with this code.
    Ended(u8),
}

/// Stops `main` (SIGTERM, the grace period, SIGKILL) and starts `cmd`. A stop request from
/// outside meanwhile is forwarded, and the old program's status is then the result.
fn restart(
    main: i32,
    cmd: Command,
    signals: &Signals,
    opts: &Options,
    spawner: &Spawner,
) -> Restarted {
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    crate::log::info!(
        "refresh: restarting the program (SIGTERM to pid {main}, {:.1}s before SIGKILL)",
        opts.grace_period.as_secs_f64()
    );
    let _ = sys::send(main, libc::SIGTERM, opts.process_group);
    let deadline = Instant::now() + opts.grace_period;
    let mut killed = false;
    let mut stopping = false;
    loop {
        if let (Some(code), _) = reap_all(main) {
            if stopping {
                crate::log::debug!("stopped during a restart: exit code {code}");
                return Restarted::Ended(code);
            }
            return match spawner.spawn(cmd) {
                Ok(pid) => {
                    crate::log::info!("refresh: program restarted (pid {pid})");
                    Restarted::Running(pid)
                }
                Err(e) => {
                    crate::log::error!("refresh: cannot start the program again: {e}");
                    Restarted::Ended(e.exit_code())
                }
            };
        }
        if !killed && Instant::now() >= deadline {
            crate::log::warn!("refresh: the program ignored SIGTERM for the grace period; SIGKILL");
            let _ = sys::send(main, libc::SIGKILL, opts.process_group);
            killed = true;
        }
        // The program's exit raises SIGCHLD, which ends the wait: no need to poll for it.
        let wait = if killed {
            Duration::from_secs(1)
        } else {
            deadline.saturating_duration_since(Instant::now())
        };
        match signals.wait(wait) {
            Ok(Some(r)) if should_forward(&r, me) => {
                if matches!(r.signal, libc::SIGTERM | libc::SIGINT | libc::SIGQUIT) {
                    stopping = true;
                }
                let _ = sys::send(main, r.signal, opts.process_group);
            }
            _ => {}
        }
    }
}

/// Our direct children, from /proc (`/proc/self/task/*/children`).
fn children() -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for t in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(s.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
        }
    }
    out
}

/// After the program's exit: SIGTERM to what is left, SIGKILL after `grace`, reaping throughout.
/// Returns at once when nothing is left (the usual case).
fn end_descendants(pid1: bool, signals: &Signals, grace: Duration) {
    if reap_all(0).1 == Reaped::None {
        return;
    }
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    let deadline = Instant::now() + grace;
    let mut termed: BTreeSet<i32> = BTreeSet::new();
    crate::log::info!(
        "the program exited; sending SIGTERM to its leftover processes ({:.1}s before SIGKILL)",
        grace.as_secs_f64()
    );
    if pid1 && let Err(e) = sys::send_all(libc::SIGTERM) {
        crate::log::warn!("cannot send SIGTERM to leftover processes: {}", e.desc());
    }
    loop {
        if reap_all(0).1 == Reaped::None {
            return;
        }
        if !pid1 {
            let kids = children();
            if kids.is_empty() {
                crate::log::warn!(
                    "cannot list leftover processes (is /proc mounted?); leaving them"
                );
                return;
            }
            for pid in kids {
                // A PID listed as our child and not yet reaped by us (the only reaper) is still
                // that process.
                if termed.insert(pid) {
                    let _ = sys::send(pid, libc::SIGTERM, false);
                }
            }
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        match signals.wait((deadline - now).min(Duration::from_millis(100))) {
            // A second stop request from outside cuts the grace period short.
            Ok(Some(r))
                if should_forward(&r, me)
                    && matches!(r.signal, libc::SIGTERM | libc::SIGINT | libc::SIGQUIT) =>
            {
                break;
            }
            _ => {}
        }
    }
    let end = Instant::now() + KILL_SWEEP_LIMIT;
    loop {
        if reap_all(0).1 == Reaped::None {
            return;
        }
        if Instant::now() >= end {
            crate::log::warn!("leftover processes survived SIGKILL for 10s; leaving them");
            return;
        }
        if pid1 {
            let _ = sys::send_all(libc::SIGKILL);
        } else {
            for pid in children() {
                let _ = sys::send(pid, libc::SIGKILL, false);
            }
        }
        let _ = signals.wait(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn got(signal: i32, sender: Option<i32>) -> Received {
        Received { signal, sender }
    }

    #[test]
    fn forwarding_rule() {
        let me = 1;
        // From outside the namespace (si_pid 0) and from another process inside.
        assert!(should_forward(&got(libc::SIGTERM, Some(0)), me));
        assert!(should_forward(&got(libc::SIGUSR1, Some(42)), me));
        assert!(should_forward(&got(libc::SIGSEGV, Some(0)), me));
        // SIGCHLD is ours, even when someone sends it.
        assert!(!should_forward(&got(libc::SIGCHLD, None), me));
        assert!(!should_forward(&got(libc::SIGCHLD, Some(0)), me));
        // Kernel-raised (terminal, SIGPIPE, SIGTTOU) and self-sent signals are noise.
        assert!(!should_forward(&got(libc::SIGINT, None), me));
        assert!(!should_forward(&got(libc::SIGPIPE, Some(me)), me));
    }
}

//! The only module allowed `unsafe`: signal dispositions, the signal mask, and the hook that
//! restores them between fork and exec. Every block states why it is sound.
//!
//! Start-up signal policy. PID 1 in a PID namespace receives only signals it has a handler for
//! (kill(2) NOTES; pid_namespaces(7)), so a `docker stop` during a slow vault start would be
//! dropped without one. [`install`] therefore runs first in `main`: it records the mask and
//! dispositions secret-init was started with, installs a handler for SIGTERM, SIGINT, SIGHUP and
//! SIGQUIT, and unblocks them. While secrets are being resolved nothing has been written, so the
//! handler `_exit`s at once with 128+N (async-signal-safe, and there is nothing to clean up).
//! Once delivery starts the handler only records the signal; the publisher polls it and rolls
//! back. Before `execve` the original dispositions are put back first and the original mask
//! second, so a signal that is still pending is delivered under the program's own rules (not
//! lost to our handler), and the program starts exactly as secret-init was started (tini's
//! `restore_signals`; Rust's `Command` inherits the mask since rust-lang/rust#101077). std resets
//! SIGPIPE to `SIG_DFL` in the child itself; an ELF constructor records whether it was ignored
//! before Rust's runtime touched it, and the child gets that back.
//!
//! For supervision (process/supervise.rs) this module also provides the blocked signal set,
//! `sigtimedwait`, a signalfd polled together with one more descriptor, `waitpid(-1, WNOHANG)`,
//! `kill` with ESRCH tolerated, the child subreaper flag, and the switch to another
//! uid/gid/groups between fork and exec (raw syscalls); for `--mask`, pseudo-terminals and
//! window sizes (tty.rs, a part of this module).

#![allow(unsafe_code)]

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, Ordering};

use nix::libc;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal, sigaction};

pub(crate) mod tty;

/// The signals that stop a start.
pub(crate) const STOP_SIGNALS: [Signal; 4] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

const RESOLVING: u8 = 0;
const DELIVERING: u8 = 1;

static PHASE: AtomicU8 = AtomicU8::new(RESOLVING);
static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_stop(sig: libc::c_int) {
    if PHASE.load(Ordering::SeqCst) == RESOLVING {
        // SAFETY: _exit is async-signal-safe; nothing has been written yet, so there is nothing
        // to undo, and no destructor needs to run.
        unsafe { libc::_exit(128 + sig) }
    }
    PENDING.store(sig, Ordering::SeqCst);
}

/// The signal state secret-init was started with, to hand on to the program unchanged.
#[derive(Clone, Copy)]
pub(crate) struct StartState {
    mask: SigSet,
    actions: [(Signal, SigAction); 4],
}

/// Records the start-up signal state, installs the stop handlers and marks the process
/// non-dumpable (no core file or ptrace read of the secrets it is about to hold; `execve` of the
/// program resets this for the program).
pub(crate) fn install() -> StartState {
    let mask = SigSet::thread_get_mask().unwrap_or_else(|_| SigSet::empty());
    let handler = SigAction::new(
        SigHandler::Handler(on_stop),
        SaFlags::empty(),
        SigSet::all(),
    );
    let mut actions = [(Signal::SIGTERM, handler); 4];
    for (slot, sig) in actions.iter_mut().zip(STOP_SIGNALS) {
        // SAFETY: on_stop only touches atomics and calls _exit, both async-signal-safe; it
        // replaces no handler that Rust's runtime relies on.
        let old = unsafe { sigaction(sig, &handler) }.unwrap_or_else(|_| {
            SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty())
        });
        if matches!(old.handler(), SigHandler::SigIgn) {
            // Started with this signal ignored (nohup, a background job): keep ignoring it.
            // SAFETY: restores the disposition we just replaced; SIG_IGN runs no code.
            let _ = unsafe { sigaction(sig, &old) };
        }
        *slot = (sig, old);
    }
    let mut stops = SigSet::empty();
    for sig in STOP_SIGNALS {
        stops.add(sig);
    }
    // A stop must work even if our parent blocked these; the original mask returns before exec.
    let _ = stops.thread_unblock();
    let _ = nix::sys::prctl::set_dumpable(false);
    StartState { mask, actions }
}

/// From here on a stop signal is recorded rather than acted on (files may be half-staged).
pub(crate) fn enter_delivery() {
    PHASE.store(DELIVERING, Ordering::SeqCst);
}

/// The stop signal received during delivery, if any.
pub(crate) fn pending_stop() -> Option<i32> {
    match PENDING.load(Ordering::SeqCst) {
        0 => None,
        n => Some(n),
    }
}

/// Blocks the stop signals so that one arriving now stays pending for the program.
pub(crate) fn hold_stop_signals() {
    let mut stops = SigSet::empty();
    for sig in STOP_SIGNALS {
        stops.add(sig);
    }
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&stops), None);
}

fn restore(state: &StartState) {
    for (sig, action) in &state.actions {
        // SAFETY: puts back a disposition that was in place when the process started; sigaction
        // is async-signal-safe, as required between fork and exec.
        let _ = unsafe { sigaction(*sig, action) };
    }
    if SIGPIPE_WAS_IGNORED.load(Ordering::Relaxed) {
        // SAFETY: std resets SIGPIPE to SIG_DFL in the child; when secret-init itself was started
        // with it ignored, the program gets exactly that back. signal(2) is async-signal-safe.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    }
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&state.mask), None);
}

/// Whether SIGPIPE was ignored when the process was started, recorded before Rust's runtime
/// sets it to `SIG_IGN` for itself (which would otherwise hide the original disposition).
static SIGPIPE_WAS_IGNORED: AtomicBool = AtomicBool::new(false);

extern "C" fn record_sigpipe() {
    let mut old = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a query only (no new action); `old` is a valid out-pointer of the right type.
    let r = unsafe { libc::sigaction(libc::SIGPIPE, std::ptr::null(), old.as_mut_ptr()) };
    if r == 0 {
        // SAFETY: sigaction succeeded, so it filled `old` (and zeroed memory is valid anyway).
        let old = unsafe { old.assume_init() };
        SIGPIPE_WAS_IGNORED.store(old.sa_sigaction == libc::SIG_IGN, Ordering::Relaxed);
    }
}

// Runs before `main` and before std's runtime init (which calls `signal(SIGPIPE, SIG_IGN)` from
// `lang_start`, after the ELF constructors). Both glibc and musl run `.init_array` entries.
#[used]
// SAFETY: the entry is a plain `extern "C" fn()` that only queries a signal disposition and
// stores an atomic; it does not rely on anything being initialised.
#[unsafe(link_section = ".init_array")]
static RECORD_SIGPIPE: extern "C" fn() = record_sigpipe;

/// The ids the program runs as: supplementary groups first, then gid, then uid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Credentials {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups (the primary group included).
    pub groups: Vec<u32>,
    /// The user's home from /etc/passwd, which becomes the program's `HOME` (as gosu and
    /// su-exec do); not used between fork and exec.
    pub home: Option<std::path::PathBuf>,
}

/// How the program's process is set up between fork and exec.
#[derive(Clone)]
pub(crate) struct ChildSetup {
    /// The signal state to restore.
    pub state: StartState,
    /// Ids to switch to; `None` keeps ours.
    pub creds: Option<Credentials>,
    /// Make the program's process group the terminal's foreground group (with `--process-group`,
    /// so that reading the terminal does not stop it; tini's `isolate_child`).
    pub foreground: bool,
}

fn last_error() -> std::io::Error {
    std::io::Error::last_os_error()
}

fn drop_privileges(creds: &Credentials) -> std::io::Result<()> {
    // Raw syscalls, not the libc wrappers: musl's setuid family synchronises all threads
    // through signals (`__synccall`), which is not something to run between fork and exec; the
    // child is single-threaded, so the syscall applies to the whole process.
    let groups: &[libc::gid_t] = &creds.groups;
    // SAFETY: `groups` points at `len` valid gid_t values for the duration of the call; the
    // syscall neither keeps the pointer nor allocates.
    if unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) } != 0 {
        return Err(last_error());
    }
    let (g, u) = (creds.gid, creds.uid);
    // SAFETY: plain integer arguments; async-signal-safe.
    if unsafe { libc::syscall(libc::SYS_setresgid, g, g, g) } != 0 {
        return Err(last_error());
    }
    // SAFETY: as above; the uid goes last, after the groups, while we still may change them.
    if unsafe { libc::syscall(libc::SYS_setresuid, u, u, u) } != 0 {
        return Err(last_error());
    }
    // Check what the kernel did rather than trust the calls: an id it reads as "leave unchanged"
    // ((uid_t)-1) succeeds without changing anything. getresuid/getresgid write three ids each.
    let (mut r, mut e, mut s) = (0 as libc::uid_t, 0 as libc::uid_t, 0 as libc::uid_t);
    // SAFETY: the three pointers are to live locals of the type the syscall writes.
    let ok = unsafe { libc::syscall(libc::SYS_getresuid, &mut r, &mut e, &mut s) } == 0;
    if !ok || [r, e, s] != [u; 3] {
        return Err(std::io::Error::from_raw_os_error(libc::EPERM));
    }
    // SAFETY: as above.
    let ok = unsafe { libc::syscall(libc::SYS_getresgid, &mut r, &mut e, &mut s) } == 0;
    if !ok || [r, e, s] != [g; 3] {
        return Err(std::io::Error::from_raw_os_error(libc::EPERM));
    }
    Ok(())
}

/// Installs the between-fork-and-exec step on `cmd`: switch ids, take the terminal if asked,
/// then restore the start-up signal state (last, so nothing after it runs with our handlers).
pub(crate) fn prepare(cmd: &mut Command, setup: ChildSetup) {
    // SAFETY: the closure runs after fork (or, for exec, in this process just before execve); it
    // calls only raw syscalls, tcsetpgrp, sigaction and sigprocmask, which are
    // async-signal-safe, and reads data moved into it without allocating.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(creds) = &setup.creds {
                drop_privileges(creds)?;
            }
            if setup.foreground {
                // Fails harmlessly (ENOTTY) without a terminal. SIGTTOU is blocked here, so the
                // call cannot stop us while we are still in the background.
                libc::tcsetpgrp(libc::STDIN_FILENO, libc::getpgrp());
            }
            restore(&setup.state);
            Ok(())
        });
    }
}

/// Whether this process is the init of its PID namespace.
pub(crate) fn is_pid1() -> bool {
    std::process::id() == 1
}

/// Makes orphaned descendants re-parent to this process (prctl(2) `PR_SET_CHILD_SUBREAPER`).
pub(crate) fn set_child_subreaper() -> Result<(), nix::errno::Errno> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// Whether SIGTERM, SIGINT or SIGQUIT is pending (blocked and not yet taken by the supervisor):
/// a live refresh then abandons its work before publishing anything.
pub(crate) fn stop_pending() -> bool {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::zeroed();
    // SAFETY: `set` is a valid sigset_t out-pointer for the call.
    if unsafe { libc::sigpending(set.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: sigpending succeeded and filled the set (zeroed memory is valid anyway).
    let set = unsafe { set.assume_init() };
    [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT]
        .iter()
        // SAFETY: reads an initialised sigset_t with a valid signal number.
        .any(|&s| unsafe { libc::sigismember(&set, s) } == 1)
}

/// A raw signal set; unlike nix's `SigSet` it can hold real-time signals.
#[derive(Clone, Copy)]
pub(crate) struct Signals(libc::sigset_t);

impl Signals {
    /// Every signal the supervisor takes over: 1..=31 except SIGKILL and SIGSTOP (which cannot
    /// be caught), plus SIGRTMIN..=SIGRTMAX. The real-time numbers below SIGRTMIN are the C
    /// library's own (thread cancellation, setxid) and are left alone.
    ///
    /// The synchronous fault signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, and
    /// SIGABRT from abort) are blocked too, unlike tini: on Linux a fault the kernel raises in a
    /// thread that blocks it still kills the process (force_sig_info resets it to SIG_DFL and
    /// unblocks it), so blocking loses nothing and lets a `kill -SEGV` sent by another process
    /// reach the program like any other signal.
    pub(crate) fn supervised() -> Signals {
        let mut set = std::mem::MaybeUninit::<libc::sigset_t>::zeroed();
        // SAFETY: `set` is a valid sigset_t out-pointer.
        unsafe { libc::sigemptyset(set.as_mut_ptr()) };
        let numbers = (1..=31)
            .filter(|&n| n != libc::SIGKILL && n != libc::SIGSTOP)
            .chain(libc::SIGRTMIN()..=libc::SIGRTMAX());
        for n in numbers {
            // SAFETY: `set` was initialised by sigemptyset; `n` is a valid signal number.
            unsafe { libc::sigaddset(set.as_mut_ptr(), n) };
        }
        // SAFETY: initialised by sigemptyset above.
        Signals(unsafe { set.assume_init() })
    }

    /// Blocks every signal of the set in this thread, so that none is delivered (or lost, for
    /// PID 1) before the supervisor waits for it. Must run before the program is spawned
    /// (dumb-init#102: a SIGCHLD before the mask is set is never seen).
    pub(crate) fn block(&self) -> Result<(), nix::errno::Errno> {
        // SAFETY: a valid set and a null old-set pointer.
        let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &self.0, std::ptr::null_mut()) };
        if r == 0 {
            Ok(())
        } else {
            Err(nix::errno::Errno::from_raw(r))
        }
    }

    /// Waits up to `timeout` for one signal of the (blocked) set. `None` on timeout or
    /// interruption.
    pub(crate) fn wait(
        &self,
        timeout: std::time::Duration,
    ) -> Result<Option<Received>, nix::errno::Errno> {
        let ts = libc::timespec {
            // Callers wait at most seconds; a day fits every time_t.
            tv_sec: timeout.as_secs().min(86_400) as _,
            tv_nsec: timeout.subsec_nanos() as _,
        };
        let mut info = std::mem::MaybeUninit::<libc::siginfo_t>::zeroed();
        // SAFETY: valid pointers to a sigset, a siginfo buffer and a timespec, for the call only.
        let sig = unsafe { libc::sigtimedwait(&self.0, info.as_mut_ptr(), &ts) };
        if sig < 0 {
            return match nix::errno::Errno::last() {
                nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR => Ok(None),
                e => Err(e),
            };
        }
        // SAFETY: sigtimedwait filled the buffer (and zeroed memory is a valid siginfo_t).
        let info = unsafe { info.assume_init() };
        let sender = if matches!(
            info.si_code,
            libc::SI_USER | libc::SI_QUEUE | libc::SI_TKILL
        ) {
            // SAFETY: for these codes (kill, sigqueue, tkill) the kernel fills the union's
            // kill/rt member, whose first field is si_pid; for other codes it is not read.
            Some(unsafe { info.si_pid() })
        } else {
            None
        };
        Ok(Some(Received {
            signal: sig,
            sender,
        }))
    }
    /// A descriptor that becomes readable while a signal of the (blocked) set is pending
    /// (signalfd(2)), for [`SignalFd::wait`]. Close-on-exec, so the program never inherits it.
    pub(crate) fn fd(&self) -> Result<SignalFd, nix::errno::Errno> {
        // SAFETY: a valid, initialised sigset; -1 asks for a new descriptor.
        let fd = unsafe { libc::signalfd(-1, &self.0, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) };
        if fd < 0 {
            return Err(nix::errno::Errno::last());
        }
        // SAFETY: signalfd returned a new descriptor that nothing else owns.
        Ok(SignalFd(unsafe {
            <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd)
        }))
    }
}

/// The supervised signals as a descriptor: the supervisor's one wait polls it together with
/// the refresh's inotify descriptor, with the time to the next due thing as the only timeout.
///
/// The signals stay blocked: a signalfd only reads what is pending, so one that arrives between
/// two waits (a SIGCHLD racing the loop) is still pending at the next `ppoll` and ends it at
/// once, exactly as with `sigtimedwait`; PID 1 of a namespace keeps receiving them, because a
/// blocked signal is queued whatever its disposition (kernel/signal.c `sig_ignored`).
pub(crate) struct SignalFd(std::os::fd::OwnedFd);

/// What ended a [`SignalFd::wait`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Woken {
    /// A signal of the set, taken (no longer pending).
    Signal(Received),
    /// The other descriptor has something to read.
    Ready,
    /// The timeout passed, or the wait was interrupted.
    Timeout,
}

impl SignalFd {
    /// Sleeps until a signal of the set is pending, `other` is readable, or `timeout` has
    /// passed; without a timeout, for as long as it takes. One `ppoll`, one `read` when a
    /// signal ended it.
    pub(crate) fn wait(
        &self,
        other: Option<std::os::fd::BorrowedFd<'_>>,
        timeout: Option<std::time::Duration>,
    ) -> Result<Woken, nix::errno::Errno> {
        use std::os::fd::AsRawFd;
        let mut fds = [
            libc::pollfd {
                fd: self.0.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                // A negative descriptor is skipped by poll(2): no second descriptor.
                fd: other.map_or(-1, |fd| fd.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let ts = timeout.map(|t| libc::timespec {
            // A day at most: a later due time then costs one early wakeup a day.
            tv_sec: t.as_secs().min(86_400) as _,
            tv_nsec: t.subsec_nanos() as _,
        });
        let ts_ptr = ts
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `fds` is a live array of two pollfd for the call; `ts_ptr` is null or points
        // at a live timespec; a null sigmask leaves the (blocking) mask as it is.
        let n = unsafe { libc::ppoll(fds.as_mut_ptr(), 2, ts_ptr, std::ptr::null()) };
        if n < 0 {
            return match nix::errno::Errno::last() {
                nix::errno::Errno::EINTR => Ok(Woken::Timeout),
                e => Err(e),
            };
        }
        if fds[0].revents != 0
            && let Some(r) = self.take()?
        {
            return Ok(Woken::Signal(r));
        }
        if fds[1].revents != 0 {
            return Ok(Woken::Ready);
        }
        Ok(Woken::Timeout)
    }

    /// Reads one pending signal, if any (the descriptor never blocks).
    fn take(&self) -> Result<Option<Received>, nix::errno::Errno> {
        use std::os::fd::AsRawFd;
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        let mut info = std::mem::MaybeUninit::<libc::signalfd_siginfo>::zeroed();
        // SAFETY: reads at most `size` bytes into a buffer of exactly that size.
        let n = unsafe { libc::read(self.0.as_raw_fd(), info.as_mut_ptr().cast(), size) };
        if n < 0 {
            return match nix::errno::Errno::last() {
                nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR => Ok(None),
                e => Err(e),
            };
        }
        if usize::try_from(n).ok() != Some(size) {
            // A signalfd returns whole records only (signalfd(2)); nothing was taken.
            return Ok(None);
        }
        // SAFETY: the kernel filled the whole record (and zeroed memory is valid anyway).
        let info = unsafe { info.assume_init() };
        let sender = matches!(
            info.ssi_code,
            libc::SI_USER | libc::SI_QUEUE | libc::SI_TKILL
        )
        .then_some(info.ssi_pid as i32);
        Ok(Some(Received {
            signal: info.ssi_signo as i32,
            sender,
        }))
    }
}

/// One signal taken by [`Signals::wait`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Received {
    /// The signal number.
    pub signal: i32,
    /// The sending process (0 when it is outside our PID namespace), when a process sent it
    /// with kill, sigqueue or tkill; `None` when the kernel raised it (SIGCHLD, a terminal's
    /// SIGINT/SIGWINCH, SIGPIPE, SIGTTOU, timers).
    pub sender: Option<i32>,
}

/// A reaped child and its raw wait status, or why there is none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reaped {
    /// A child ended; its PID and raw wait status.
    Child(i32, i32),
    /// Children exist, none has ended.
    Running,
    /// No children left.
    None,
}

/// Reaps one ended child without blocking (`waitpid(-1, WNOHANG)`). The raw status is kept
/// because nix's `WaitStatus` cannot represent a death by a real-time signal.
pub(crate) fn reap_one() -> Result<Reaped, nix::errno::Errno> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer for the call.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        return match pid {
            0 => Ok(Reaped::Running),
            p if p > 0 => Ok(Reaped::Child(p, status)),
            _ => match nix::errno::Errno::last() {
                nix::errno::Errno::EINTR => continue,
                nix::errno::Errno::ECHILD => Ok(Reaped::None),
                e => Err(e),
            },
        };
    }
}

/// Sends `sig` to `pid` (or, with `group`, to its process group). A target that is already
/// gone (ESRCH) is not an error: the program may exit while we forward.
pub(crate) fn send(pid: i32, sig: i32, group: bool) -> Result<(), nix::errno::Errno> {
    if pid <= 1 {
        // 0, -1 and 1 would mean "our group", "everyone" or "init": never a child of ours.
        return Err(nix::errno::Errno::EINVAL);
    }
    let target = if group { -pid } else { pid };
    // SAFETY: kill(2) with integer arguments; `pid` > 1 was checked, so the target is one
    // process or one process group, never "every process".
    let r = unsafe { libc::kill(target, sig) };
    if r == 0 {
        return Ok(());
    }
    match nix::errno::Errno::last() {
        nix::errno::Errno::ESRCH => Ok(()),
        e => Err(e),
    }
}

/// Sends `sig` to every process this one may signal except itself: as PID 1 of a namespace,
/// every other process in it (kill(2), pid -1). Only for PID 1.
pub(crate) fn send_all(sig: i32) -> Result<(), nix::errno::Errno> {
    debug_assert!(is_pid1());
    // SAFETY: kill(2); callers guarantee we are PID 1, so -1 means our own namespace only.
    let r = unsafe { libc::kill(-1, sig) };
    if r == 0 {
        return Ok(());
    }
    match nix::errno::Errno::last() {
        nix::errno::Errno::ESRCH => Ok(()),
        e => Err(e),
    }
}

/// `renameat2(2)` flag: fail if the destination exists.
pub(crate) const RENAME_NOREPLACE: u32 = 1;
/// `renameat2(2)` flag: atomically swap source and destination.
pub(crate) const RENAME_EXCHANGE: u32 = 2;

/// `renameat2(2)` by raw syscall: nix wraps it only for glibc, and musl (our static target)
/// gained the libc wrapper late, while the syscall itself exists since Linux 3.15.
pub(crate) fn renameat2(
    old_dir: &std::os::fd::OwnedFd,
    old: &std::ffi::OsStr,
    new_dir: &std::os::fd::OwnedFd,
    new: &std::ffi::OsStr,
    flags: u32,
) -> nix::Result<()> {
    use nix::NixPath;
    use std::os::fd::AsRawFd;
    // The names as C strings on the stack (nix copies short ones there): no allocation a file.
    let r = old.with_nix_path(|old| {
        new.with_nix_path(|new| {
            // SAFETY: both paths are valid NUL-terminated strings that outlive the call, both
            // fds are open descriptors borrowed for the call, and the kernel reads nothing else.
            unsafe {
                libc::syscall(
                    libc::SYS_renameat2,
                    old_dir.as_raw_fd(),
                    old.as_ptr(),
                    new_dir.as_raw_fd(),
                    new.as_ptr(),
                    flags,
                )
            }
        })
    })??;
    nix::errno::Errno::result(r).map(drop)
}

/// `getdents64(2)`: the next entries of the directory open as `dir` into `buf`, as `struct
/// linux_dirent64` records (fsx.rs reads them); how many bytes, 0 at the end.
pub(crate) fn getdents(dir: &std::os::fd::OwnedFd, buf: &mut [u8]) -> nix::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, borrowed mutably for the
    // call; `dir` is an open descriptor.
    let n = unsafe {
        libc::syscall(
            libc::SYS_getdents64,
            dir.as_raw_fd(),
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    nix::errno::Errno::result(n).map(|n| usize::try_from(n).unwrap_or(0))
}

unsafe extern "C" {
    /// The C library's pointer to the environment block the kernel set up at exec.
    static mut environ: *mut *mut libc::c_char;
}

/// Overwrites with NUL bytes, in place, the values of secret-init's input variables in this
/// process's initial environment block, which `/proc/<pid>/environ` shows for as long as the
/// process lives (dumb-init#270; borg#6480's technique). For the supervisor: it outlives the
/// start, and its block still holds `TRUSS_SECRET_*`. secret-init never changes its environment
/// (no `setenv`) and read it once into a snapshot, so nothing reads these bytes afterwards.
/// `inherited` says, by position, which entries the program got as they are; every other value
/// is wiped. Returns how many values were wiped.
pub(crate) fn wipe_initial_env(inherited: &[bool]) -> usize {
    use zeroize::Zeroize;
    let mut wiped = 0;
    // Position among the entries std's environment snapshot keeps (glibc's rule, which std
    // copies: a name is at least one byte, so the '=' is searched from the second byte on, and
    // an entry without one is skipped), so that it matches `Environ`'s index.
    let mut index = 0usize;
    // SAFETY: copies the pointer value out of the static; no reference to it is formed.
    let mut entry_ptr = unsafe { environ };
    if entry_ptr.is_null() {
        return 0;
    }
    loop {
        // SAFETY: `environ` is a NULL-terminated array of string pointers; the environment is
        // never modified, so every slot up to the terminator (checked below) is valid.
        let entry = unsafe { *entry_ptr };
        if entry.is_null() {
            break;
        }
        // SAFETY: every entry is a NUL-terminated string.
        let len = unsafe { libc::strlen(entry) };
        // SAFETY: the `len` bytes are readable and writable (the block is in the process's own
        // read-write memory set up by execve), and no Rust reference to them exists: std's env
        // functions copy on read, and the process is single-threaded while supervising.
        let bytes = unsafe { std::slice::from_raw_parts_mut(entry.cast::<u8>(), len) };
        if let Some(eq) = bytes.iter().skip(1).position(|&b| b == b'=').map(|p| p + 1) {
            if !inherited.get(index).copied().unwrap_or(false) {
                // Volatile writes: the stores must not be optimised away.
                bytes[eq + 1..].zeroize();
                wiped += 1;
            }
            index += 1;
        }
        // SAFETY: the slot just read was not the terminator, so the next one is in the array.
        entry_ptr = unsafe { entry_ptr.add(1) };
    }
    wiped
}

mod arena;
pub use arena::StartAlloc;
pub(crate) use arena::{begin_start_arena, end_start_arena};

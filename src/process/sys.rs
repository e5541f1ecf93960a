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
//! SIGPIPE to `SIG_DFL` in the child itself.

#![allow(unsafe_code)]

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};

use nix::libc;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal, sigaction};

/// The signals that stop a start.
pub const STOP_SIGNALS: [Signal; 4] = [
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
pub struct StartState {
    mask: SigSet,
    actions: [(Signal, SigAction); 4],
}

/// Records the start-up signal state, installs the stop handlers and marks the process
/// non-dumpable (no core file or ptrace read of the secrets it is about to hold; `execve` of the
/// program resets this for the program).
pub fn install() -> StartState {
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
pub fn enter_delivery() {
    PHASE.store(DELIVERING, Ordering::SeqCst);
}

/// The stop signal received during delivery, if any.
pub fn pending_stop() -> Option<i32> {
    match PENDING.load(Ordering::SeqCst) {
        0 => None,
        n => Some(n),
    }
}

/// Blocks the stop signals so that one arriving now stays pending for the program.
pub fn hold_stop_signals() {
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
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&state.mask), None);
}

/// Replaces this process with `cmd`, restoring the start-up signal state first. Returns only
/// on failure.
pub fn exec(cmd: &mut Command, state: &StartState) -> std::io::Error {
    let state = *state;
    // SAFETY: the closure runs after fork (or, for exec, in this process just before execve); it
    // calls only sigaction and sigprocmask, which are async-signal-safe and do not allocate.
    unsafe {
        cmd.pre_exec(move || {
            restore(&state);
            Ok(())
        });
    }
    cmd.exec()
}

/// `renameat2(2)` flag: fail if the destination exists.
pub const RENAME_NOREPLACE: u32 = 1;
/// `renameat2(2)` flag: atomically swap source and destination.
pub const RENAME_EXCHANGE: u32 = 2;

/// `renameat2(2)` by raw syscall: nix wraps it only for glibc, and musl (our static target)
/// gained the libc wrapper late, while the syscall itself exists since Linux 3.15.
pub fn renameat2(
    old_dir: &std::os::fd::OwnedFd,
    old: &std::ffi::OsStr,
    new_dir: &std::os::fd::OwnedFd,
    new: &std::ffi::OsStr,
    flags: u32,
) -> nix::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    let old = std::ffi::CString::new(old.as_bytes()).map_err(|_| nix::errno::Errno::EINVAL)?;
    let new = std::ffi::CString::new(new.as_bytes()).map_err(|_| nix::errno::Errno::EINVAL)?;
    // SAFETY: both paths are valid NUL-terminated strings that outlive the call, both fds are
    // open descriptors borrowed for the call, and the kernel reads nothing else.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            old_dir.as_raw_fd(),
            old.as_ptr(),
            new_dir.as_raw_fd(),
            new.as_ptr(),
            flags,
        )
    };
    nix::errno::Errno::result(r).map(drop)
}

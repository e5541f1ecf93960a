//! The program's stdout and stderr through the masker (`--mask`; docs/masking.md).
//!
//! Each of our two streams decides what the program gets in its place: a pseudo-terminal when
//! ours is a terminal (so `isatty()` stays true and programs keep their colours and line
//! buffering), a pipe otherwise. When stdout and stderr are one terminal, the program gets one
//! pseudo-terminal for both, so their interleaving is kept exactly. stdin is never touched: it
//! stays the program's, and so does the terminal's job control (Ctrl-C, Ctrl-Z reach the
//! program's process group from our terminal as without masking). One thread per stream masks
//! what the program wrote (mask/pump.rs).
//!
//! The program's side of each stream is kept open here for as long as the program may be
//! started again (a refresh's restart), so the threads see no end of file between two
//! programs; [`Output::finish`] closes it and has each thread read what is left, write it, and
//! end, before secret-init exits.

use std::io::PipeWriter;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::mask::{Masks, pump};
use crate::sys::tty;

/// The capacity asked for the program's pipes.
const PIPE_SIZE: i32 = 1 << 20;

/// The program's output as it passes through secret-init.
pub(crate) struct Output {
    /// The program's side of its stdout and stderr, handed to every start of the program.
    stdout: OwnedFd,
    stderr: OwnedFd,
    /// The pseudo-terminals' masters, and the stream of ours whose window size each follows.
    ptys: Vec<(OwnedFd, OwnedFd)>,
    /// Our terminal and its mode when the program started, put back when it has ended.
    outer: Option<(OwnedFd, nix::sys::termios::Termios)>,
    /// Closed to tell the threads that the program has ended.
    wake: PipeWriter,
    threads: Vec<JoinHandle<()>>,
}

impl Output {
    /// Sets up both streams and their threads. Runs after the supervisor has blocked its
    /// signals, so the threads start with them blocked too and never take one.
    pub(crate) fn start(masks: &Arc<Masks>) -> std::io::Result<Output> {
        let (wake_read, wake) = std::io::pipe()?;
        // Our stdout and stderr, as copies of their descriptors.
        let our_out = nix::unistd::dup(std::io::stdout())?;
        let our_err = nix::unistd::dup(std::io::stderr())?;
        let ours = |fd: i32| -> BorrowedFd<'_> {
            if fd == 2 {
                our_err.as_fd()
            } else {
                our_out.as_fd()
            }
        };
        let mut threads = Vec::new();
        let mut ptys = Vec::new();
        let mut outer = None;
        let mut spawn = |label, from: OwnedFd, to_fd: i32| -> std::io::Result<()> {
            let to = std::fs::File::from(nix::unistd::dup(ours(to_fd))?);
            let wake = wake_read.try_clone()?;
            threads.push(pump::spawn(label, from, to, Arc::clone(masks), wake)?);
            Ok(())
        };
        let out_tty = tty::is_terminal(ours(1));
        let err_tty = tty::is_terminal(ours(2));
        let one_terminal = out_tty && err_tty && tty::device(ours(1)) == tty::device(ours(2));
        let mut program_side = |fd: i32, label| -> std::io::Result<OwnedFd> {
            if tty::is_terminal(ours(fd)) {
                let mode = tty::mode(ours(fd));
                match tty::open_pty(mode.as_ref(), tty::window_size(ours(fd)).as_ref()) {
                    Ok((master, slave)) => {
                        if outer.is_none()
                            && let Some(m) = mode
                        {
                            outer = Some((nix::unistd::dup(ours(fd))?, m));
                        }
                        ptys.push((nix::unistd::dup(&master)?, nix::unistd::dup(ours(fd))?));
                        spawn(label, master, fd)?;
                        return Ok(slave);
                    }
                    Err(e) => crate::log::warn!(
                        "masking: no pseudo-terminal for the program's {label} ({}): a pipe \
                         instead, so the program sees no terminal there",
                        e.desc()
                    ),
                }
            }
            let (read, write) = std::io::pipe()?;
            // Fewer, larger transfers between the program and the thread (the default is
            // 64 KiB); a system that refuses (pipe-max-size, a user's pipe quota) keeps it.
            let _ = nix::fcntl::fcntl(&read, nix::fcntl::FcntlArg::F_SETPIPE_SZ(PIPE_SIZE));
            spawn(label, read.into(), fd)?;
            Ok(write.into())
        };
        let stdout = program_side(1, "stdout")?;
        let stderr = if one_terminal {
            stdout.try_clone()?
        } else {
            program_side(2, "stderr")?
        };
        crate::log::debug!(
            "masking the program's output: stdout {}, stderr {}",
            if out_tty { "pseudo-terminal" } else { "pipe" },
            match (one_terminal, err_tty) {
                (true, _) => "the same pseudo-terminal",
                (false, true) => "pseudo-terminal",
                (false, false) => "pipe",
            }
        );
        Ok(Output {
            stdout,
            stderr,
            ptys,
            outer,
            wake,
            threads,
        })
    }

    /// Points the program's stdout and stderr at its side of the streams.
    pub(crate) fn attach(&self, cmd: &mut Command) -> std::io::Result<()> {
        cmd.stdout(Stdio::from(self.stdout.try_clone()?))
            .stderr(Stdio::from(self.stderr.try_clone()?));
        Ok(())
    }

    /// Our terminal was resized (SIGWINCH): the program's pseudo-terminals take its size.
    /// Returns whether there is one (the caller then tells the program).
    pub(crate) fn resized(&self) -> bool {
        for (master, ours) in &self.ptys {
            if let Some(ws) = tty::window_size(ours.as_fd())
                && let Err(e) = tty::set_window_size(master.as_fd(), &ws)
            {
                crate::log::warn!("masking: cannot resize the pseudo-terminal: {}", e.desc());
            }
        }
        !self.ptys.is_empty()
    }

    /// The program has ended: every byte it wrote is masked and written before this returns,
    /// and our terminal gets back the mode it had when the program started.
    pub(crate) fn finish(self) {
        let Output {
            stdout,
            stderr,
            ptys,
            outer,
            wake,
            threads,
        } = self;
        drop((stdout, stderr, wake));
        for t in threads {
            if t.join().is_err() {
                crate::log::error!("masking: an output thread failed");
            }
        }
        drop(ptys);
        if let Some((fd, mode)) = outer
            && let Err(e) = tty::restore_mode(&fd, &mode)
        {
            crate::log::debug!("masking: cannot restore the terminal's mode: {}", e.desc());
        }
    }
}

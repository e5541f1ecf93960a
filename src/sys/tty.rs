//! Terminals for `--mask`: a pseudo-terminal for the program's output when ours is a terminal,
//! its window size kept equal to ours, and our terminal's mode put back when the program ends.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::libc;
use nix::sys::termios::{self, SetArg, Termios};

/// A window size (rows, columns, pixels), as `TIOCGWINSZ` reports it.
pub(crate) type WindowSize = libc::winsize;

/// The window size of the terminal `fd` is, if it is one.
pub(crate) fn window_size(fd: BorrowedFd<'_>) -> Option<WindowSize> {
    let mut ws = std::mem::MaybeUninit::<libc::winsize>::zeroed();
    // SAFETY: TIOCGWINSZ writes one `struct winsize` to the pointer, a live local of that type;
    // `fd` is an open descriptor borrowed for the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, ws.as_mut_ptr()) };
    // SAFETY: the ioctl succeeded and filled it (and zeroed memory is a valid winsize anyway).
    (r == 0).then(|| unsafe { ws.assume_init() })
}

/// Sets the window size of the terminal `fd` (a pseudo-terminal's master): the kernel then
/// signals SIGWINCH to the terminal's foreground process group, if it has one.
pub(crate) fn set_window_size(fd: BorrowedFd<'_>, ws: &WindowSize) -> nix::Result<()> {
    // SAFETY: TIOCSWINSZ reads one `struct winsize` from the pointer, which refers to a live
    // value for the call; `fd` is an open descriptor borrowed for the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, ws as *const libc::winsize) };
    nix::errno::Errno::result(r).map(drop)
}

/// Whether `fd` is a terminal.
pub(crate) fn is_terminal(fd: BorrowedFd<'_>) -> bool {
    nix::unistd::isatty(fd).unwrap_or(false)
}

/// The device a terminal descriptor is (to tell whether stdout and stderr are one terminal).
pub(crate) fn device(fd: BorrowedFd<'_>) -> Option<u64> {
    nix::sys::stat::fstat(fd).ok().map(|st| st.st_rdev)
}

/// A new pseudo-terminal (master, slave), both close-on-exec (the program gets the slave
/// through its stdout/stderr only), the slave set up like `like` (our own terminal) but with
/// output processing off, so that the bytes the program writes reach the master unchanged and
/// our terminal does its own processing once, and `size` as its window size.
pub(crate) fn open_pty(
    like: Option<&Termios>,
    size: Option<&WindowSize>,
) -> nix::Result<(OwnedFd, OwnedFd)> {
    let pty = nix::pty::openpty(size, None)?;
    for fd in [&pty.master, &pty.slave] {
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )?;
    }
    let mut mode = match like {
        Some(t) => t.clone(),
        None => termios::tcgetattr(&pty.slave)?,
    };
    mode.output_flags.remove(termios::OutputFlags::OPOST);
    termios::tcsetattr(&pty.slave, SetArg::TCSANOW, &mode)?;
    Ok((pty.master, pty.slave))
}

/// The mode of the terminal `fd`, to put back later ([`restore_mode`]).
pub(crate) fn mode(fd: impl AsFd) -> Option<Termios> {
    termios::tcgetattr(fd).ok()
}

/// Puts back a terminal's mode once what was written has been sent (`TCSADRAIN`). SIGTTOU is
/// blocked while supervising, so a background secret-init is not stopped by it.
pub(crate) fn restore_mode(fd: impl AsFd, mode: &Termios) -> nix::Result<()> {
    termios::tcsetattr(fd, SetArg::TCSADRAIN, mode)
}

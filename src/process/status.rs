//! A child's wait status as an exit code, by the shell's convention (tini, dumb-init): a normal
//! exit passes its code through unchanged (0-255), a death by signal N becomes 128+N.
//!
//! The raw status word is decoded with the libc macros rather than nix's `WaitStatus`, which
//! cannot represent a death by a real-time signal (it fails to convert the number). Getting this
//! wrong is the classic wrapper bug: a signal death reported as 255 (vault-env, secrets-init:
//! `ExitCode()` is -1) or as 0 (dumb-init#59 used `WEXITSTATUS` of a signalled child).

use nix::libc;

/// The exit code for a raw wait status, or `None` if the status is not a termination (stopped,
/// continued).
pub(crate) fn exit_code(raw: i32) -> Option<u8> {
    if libc::WIFEXITED(raw) {
        // WEXITSTATUS is the low byte of the exit argument, 0..=255 by construction.
        Some((libc::WEXITSTATUS(raw) & 0xff) as u8)
    } else if libc::WIFSIGNALED(raw) {
        // Linux signal numbers are 1..=64, so 128+N is at most 192 and never collides with 255.
        Some((128 + (libc::WTERMSIG(raw) & 0x7f)).min(255) as u8)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The raw status of `exit(code)`.
    fn exited(code: i32) -> i32 {
        (code & 0xff) << 8
    }

    /// The raw status of a death by `sig`, with or without a core dump.
    fn signaled(sig: i32, core: bool) -> i32 {
        sig | if core { 0x80 } else { 0 }
    }

    #[test]
    fn every_exit_code_passes_through() {
        for code in 0..=255 {
            assert_eq!(exit_code(exited(code)), Some(code as u8), "exit {code}");
        }
    }

    #[test]
    fn every_signal_is_128_plus_n() {
        for sig in 1..=64 {
            for core in [false, true] {
                let got = exit_code(signaled(sig, core));
                assert_eq!(got, Some((128 + sig) as u8), "signal {sig} core {core}");
                assert_ne!(got, Some(0));
                assert_ne!(got, Some(255));
            }
        }
    }

    #[test]
    fn the_usual_ones() {
        for (raw, code) in [
            (signaled(libc::SIGKILL, false), 137),
            (signaled(libc::SIGTERM, false), 143),
            (signaled(libc::SIGSEGV, true), 139),
            (signaled(libc::SIGINT, false), 130),
            (exited(3), 3),
        ] {
            assert_eq!(exit_code(raw), Some(code));
        }
    }

    #[test]
    fn stopped_and_continued_are_not_terminations() {
        // WIFSTOPPED: low byte 0x7f, the stop signal in the next byte; WIFCONTINUED: 0xffff.
        assert_eq!(exit_code(0x7f | (libc::SIGSTOP << 8)), None);
        assert_eq!(exit_code(0xffff), None);
    }
}

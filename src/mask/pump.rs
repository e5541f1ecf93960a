//! One thread per output stream: read what the program wrote, mask it, write it to ours.
//!
//! A blocking loop, not a part of the supervisor's: the thread sleeps in `poll` on the
//! program's side of the stream and a wake pipe, with a timeout only while a possible
//! beginning of a value is held ([`HOLD`](super::HOLD)). Everything decided is written as soon
//! as it is read, in order. Back-pressure is the pipes' own: while our stdout's reader is slow,
//! the write blocks, this thread stops reading, the program's pipe fills and its writes block;
//! nothing is dropped. When the supervisor closes the wake pipe (the program has exited), the
//! thread reads what is left until nothing more is readable, writes it and the held tail, and
//! ends. If our side cannot be written any more (EPIPE: the reader went away), the thread
//! closes the program's side, so the program sees a broken pipe as it would without masking.

use std::io::{PipeReader, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::Instant;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use zeroize::Zeroizing;

use super::{HOLD, Masks, Stream};

/// Bytes read at once.
const CHUNK: usize = 256 * 1024;

/// Starts the thread that masks `from` (the program's side: a pipe's read end or a
/// pseudo-terminal's master) into `to` until `wake`'s writer is closed and nothing is left.
pub(crate) fn spawn(
    label: &'static str,
    from: OwnedFd,
    to: std::fs::File,
    masks: Arc<Masks>,
    wake: PipeReader,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("mask-{label}"))
        .spawn(move || run(label, &from, to, &masks, &wake))
}

fn run(label: &str, from: &OwnedFd, mut to: std::fs::File, masks: &Masks, wake: &PipeReader) {
    let (mut generation, mut masker) = masks.current();
    let mut stream = Stream::default();
    let mut out = Zeroizing::new(Vec::with_capacity(CHUNK + 1024));
    // When the oldest byte still held was read.
    let mut held_since: Option<Instant> = None;
    let mut closing = false;
    loop {
        let timeout = if closing {
            PollTimeout::ZERO
        } else {
            match held_since {
                None => PollTimeout::NONE,
                Some(t) => {
                    let left = HOLD.saturating_sub(t.elapsed()).as_millis();
                    PollTimeout::try_from(left.max(1)).unwrap_or(PollTimeout::MAX)
                }
            }
        };
        let mut fds = [
            PollFd::new(from.as_fd(), PollFlags::POLLIN),
            PollFd::new(wake.as_fd(), PollFlags::POLLIN),
        ];
        let polled = if closing {
            poll(&mut fds[..1], timeout)
        } else {
            poll(&mut fds, timeout)
        };
        match polled {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                crate::log::error!("masking {label}: poll failed: {}", e.desc());
                break;
            }
        }
        let readable = fds[0].any().unwrap_or(false);
        if readable {
            let n = match nix::unistd::read(from, stream.room(CHUNK)) {
                // A pseudo-terminal's master reads EIO once no slave is open: the end.
                Ok(0) | Err(nix::errno::Errno::EIO) => break,
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => continue,
                Err(e) => {
                    crate::log::error!("masking {label}: read failed: {}", e.desc());
                    break;
                }
            };
            if masks.changed_since(generation) {
                (generation, masker) = masks.current();
            }
            let (decided, still_held) = stream.filled(&masker, n, &mut out);
            if !write(label, &mut to, decided) {
                return;
            }
            held_since = match (stream.holding(), still_held) {
                (false, _) => None,
                (true, true) => held_since.or_else(|| Some(Instant::now())),
                (true, false) => Some(Instant::now()),
            };
            continue;
        }
        if closing {
            break;
        }
        if fds[1].any().unwrap_or(false) {
            closing = true;
            continue;
        }
        if held_since.is_some_and(|t| t.elapsed() >= HOLD) {
            out.clear();
            stream.stall(&masker, &mut out);
            held_since = None;
            if !write(label, &mut to, &out) {
                return;
            }
        }
    }
    out.clear();
    stream.end(&masker, &mut out);
    write(label, &mut to, &out);
}

/// Writes all of `bytes`; false when our side is gone for good.
fn write(label: &str, to: &mut std::fs::File, bytes: &[u8]) -> bool {
    if bytes.is_empty() {
        return true;
    }
    match to.write_all(bytes) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            crate::log::debug!("masking {label}: our {label} is closed; closing the program's");
            false
        }
        Err(e) => {
            crate::log::warn!(
                "masking {label}: cannot write: {}; closing the program's",
                crate::error::io_text(&e)
            );
            false
        }
    }
}

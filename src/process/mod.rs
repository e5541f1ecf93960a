//! Starting the program: `execve` in place (same PID, nothing left behind), with the start-up
//! signal state restored and the exit code conventions of tini and dumb-init for failures.

pub mod sys;

use std::ffi::OsString;
use std::process::Command;

use crate::error::{Error, Kind};

/// Replaces secret-init with `program`, with exactly `env` as its environment. Returns only on
/// failure: 127 when the program is not found, 126 when it cannot be executed.
pub fn exec(program: &[OsString], env: &[(OsString, OsString)], state: &sys::StartState) -> Error {
    let Some((prog, args)) = program.split_first() else {
        return Error::new(Kind::Usage, "no program given");
    };
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)));
    let err = sys::exec(&mut cmd, state);
    exec_error(prog, &err)
}

/// Maps an exec failure to 126/127 with a message naming the program.
pub fn exec_error(prog: &OsString, err: &std::io::Error) -> Error {
    let name = prog.to_string_lossy();
    match err.raw_os_error() {
        Some(nix::libc::ENOENT) => Error::new(Kind::NotFound, format!("{name}: program not found")),
        _ => Error::new(
            Kind::NotExecutable,
            format!("{name}: cannot execute: {}", crate::error::io_text(err)),
        ),
    }
}

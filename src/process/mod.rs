//! Starting the program: `execve` in place (same PID, nothing left behind), or spawned and
//! supervised as a tiny init (supervise.rs), with the start-up signal state restored and the exit
//! code conventions of tini and dumb-init (status.rs).

pub(crate) mod lookup;
pub(crate) mod output;
pub(crate) mod status;
pub(crate) mod supervise;

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::error::{Error, Kind};
use crate::sys;

/// Replaces secret-init with `program`, with exactly `env` as its environment, switching to
/// `setup.creds` first when given. Returns only on failure: 127 when the program is not found,
/// 126 when it cannot be executed.
pub(crate) fn exec_as(
    program: &[OsString],
    env: &[(OsString, OsString)],
    setup: sys::ChildSetup,
) -> Error {
    let Some(mut cmd) = command(program, env) else {
        return Error::new(Kind::Usage, "no program given");
    };
    sys::prepare(&mut cmd, setup);
    let err = cmd.exec();
    exec_error(&program[0], &err)
}

/// The program's `Command`: argv and exactly `env`; `None` for an empty argv.
pub(crate) fn command(program: &[OsString], env: &[(OsString, OsString)]) -> Option<Command> {
    let (prog, args) = program.split_first()?;
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)));
    Some(cmd)
}

/// Maps an exec failure to 126/127 with a message naming the program.
pub(crate) fn exec_error(prog: &OsString, err: &std::io::Error) -> Error {
    let name = prog.to_string_lossy();
    match err.raw_os_error() {
        Some(nix::libc::ENOENT) => Error::new(Kind::NotFound, format!("{name}: program not found")),
        _ => Error::new(
            Kind::NotExecutable,
            format!("{name}: cannot execute: {}", crate::error::io_text(err)),
        ),
    }
}

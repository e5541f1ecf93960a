//! secret-init: resolve the secrets a container declares, deliver them safely, then run the
//! program.
//!
//! Data flows one way: **settings → manifest → resolve (sources) → plan → deliver (files, env) →
//! exec**. Nothing is written until every required secret has resolved and every delivery has
//! been checked; on any failure nothing is published and the program never starts.

#![deny(unsafe_code)]
#![warn(unreachable_pub)]

mod age;
mod app;
mod bundle;
mod cli;
mod deliver;
mod duration;
mod environ;
pub mod error;
mod fallback;
mod fsx;
#[doc(hidden)]
pub mod fuzzing;
mod hex;
#[cfg(feature = "tls")]
mod http;
mod ini;
#[cfg(test)]
mod layers;
mod log;
mod manifest;
mod mask;
pub mod name;
mod order;
mod plan;
mod process;
mod provenance;
mod provider;
pub mod reference;
mod resolve;
pub mod secret;
mod settings;
mod sops;
mod source;
mod sys;
pub use sys::StartAlloc;
mod template;
mod tree;
mod url;
mod user;

use std::ffi::OsString;

use error::Errors;

/// Runs secret-init with `args` (argv including the program name) and returns the exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> u8 {
    // First of all: a stop signal must work even while we wait on a slow source.
    let start = sys::install();
    // Start-up allocations from an arena (the executable's allocator; see StartAlloc).
    sys::begin_start_arena();
    let mut args = args.into_iter();
    let _argv0 = args.next();
    match app::dispatch(args, &start) {
        Ok(code) => code,
        Err(errors) => report(&errors),
    }
}

/// Prints each problem as one line on stderr and returns the exit code for the set.
pub fn report(errors: &Errors) -> u8 {
    for e in &errors.0 {
        log::write(log::Level::Error, format_args!("{e}"));
    }
    errors.exit_code()
}

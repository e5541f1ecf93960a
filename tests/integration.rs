//! The one integration-test binary: every test drives the real `secret-init` executable.

mod support;

mod aws;
mod azure;
mod bundle;
mod core;
mod fleet;
mod init;
mod leaks;
mod providers;
mod vault;

//! The one integration-test binary: every test drives the real `secret-init` executable.

mod support;

mod aws;
mod bundle;
mod core;
mod fleet;
mod gcp;
mod init;
mod leaks;
mod providers;
mod vault;

//! The one integration-test binary: every test drives the real `secret-init` executable.

mod support;

mod arm64;
mod aws;
mod aws_batch;
mod aws_metadata;
mod aws_profiles;
mod azure;
mod bundle;
mod container;
mod core;
mod docs;
mod env_refs;
mod features;
mod file_env;
mod first_use;
mod fleet;
mod gcp;
mod hardening;
mod init;
mod kubernetes;
mod leaks;
mod one_pass;
mod own_identity;
mod preflight;
mod providers;
mod proxy;
mod publish_signals;
mod refresh;
mod release;
mod renewal;
mod setup;
mod templates;
mod trust;
mod vault;
mod vault_login;

//! Delivery: files published atomically and all-or-nothing, and the program's environment.

mod dirs;
pub(crate) mod env;
pub(crate) mod file;
mod staging;

//! Delivery: files published atomically and all-or-nothing, and the program's environment.

mod dirs;
pub mod env;
pub mod file;

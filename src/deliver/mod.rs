//! Delivery: files published atomically and all-or-nothing, and the program's environment.

pub mod env;
pub mod file;

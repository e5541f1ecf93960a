//! The `secret-init` executable: everything lives in the library; this only exits with its code.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(secret_init::run(std::env::args_os()))
}

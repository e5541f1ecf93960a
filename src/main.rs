//! The `secret-init` executable: everything lives in the library; this only exits with its code.

/// An arena for the start-up phase, musl's allocator after it (see `StartAlloc`).
#[global_allocator]
static ALLOC: secret_init::StartAlloc = secret_init::StartAlloc;

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(secret_init::run(std::env::args_os()))
}

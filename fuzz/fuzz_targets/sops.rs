//! The SOPS file readers (YAML events, JSON, dotenv, binary), the metadata, sops' walk with the
//! MAC, and the age format, on arbitrary bytes: `fuzzing::sops::open_with_fixed_key` with a data
//! key of 32 bytes of 7 (the first byte picks the format, the rest up to a NUL is a `#PATH`), and
//! `age_decrypt_with_fixed_identity`. No panic, no hang; a file that opens answers every read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secret_init::fuzzing::sops::{age_decrypt_with_fixed_identity, open_with_fixed_key};

fuzz_target!(|data: &[u8]| {
    let Some((which, rest)) = data.split_first() else {
        return;
    };
    let (path, file) = match rest.iter().position(|b| *b == 0) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (&b"a.b[0]"[..], rest),
    };
    let path = String::from_utf8_lossy(path);
    open_with_fixed_key(*which, file, &path);
    let _ = age_decrypt_with_fixed_identity(file);
});

//! Manifest + settings: `manifest::parse` on arbitrary text, then `Settings::resolve` on the parsed
//! `secret_init:` section (empty command line and environment, so the file section decides).
//!
//! Invariants: accepted manifests list valid, strictly increasing secret names; every `from:`
//! reference round-trips through Display/parse; modes fit in 0o7777; a rejection carries at least
//! one error, each mapping to an exit code of the documented set. Accepted settings have a non-empty
//! source order without duplicates, an absolute output dir and a prefix matching [A-Za-z0-9_]+.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secret_init::manifest;
use secret_init::name::SecretName;
use secret_init::reference::Reference;
use secret_init::settings::{Environ, Settings};

const CODES: &[u8] = &[64, 65, 69, 73, 77, 78];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let m = match manifest::parse(text, "fuzz.yaml") {
        Ok(m) => m,
        Err(errors) => {
            assert!(!errors.0.is_empty(), "rejected with no error");
            assert!(CODES.contains(&errors.exit_code()), "exit code {}", errors.exit_code());
            return;
        }
    };
    let mut prev: Option<&SecretName> = None;
    for d in &m.secrets {
        assert_eq!(SecretName::parse(d.name.as_str()).as_ref(), Ok(&d.name));
        if let Some(p) = prev {
            assert!(p < &d.name, "names out of order or duplicated");
        }
        prev = Some(&d.name);
        assert!(d.settings.mode <= 0o7777, "mode {:o}", d.settings.mode);
        if let Some(r) = &d.settings.from {
            assert_eq!(Reference::parse(&r.to_string()).as_ref(), Ok(r));
        }
    }
    let inv = secret_init::cli::parse(["--".into(), "prog".into()]).expect("fixed argv parses");
    match Settings::resolve(&inv, &Environ::default(), &m.settings) {
        Ok(s) => {
            assert!(!s.sources.is_empty());
            for (i, k) in s.sources.iter().enumerate() {
                assert!(!s.sources[..i].contains(k), "source {k} twice");
            }
            assert!(s.output_dir.is_absolute());
            assert!(!s.env_prefix.is_empty());
            assert!(s.env_prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        }
        Err(e) => assert!(CODES.contains(&e.exit_code()), "exit code {}", e.exit_code()),
    }
});

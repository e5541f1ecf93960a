//! Manifest + settings: `manifest::parse` on arbitrary text, then `Settings::resolve` on the parsed
//! `secret_init:` section (empty command line and environment, so the file section decides).
//!
//! Invariants: accepted manifests list valid, strictly increasing secret names; every `from:`
//! reference round-trips through Display/parse; modes fit in 0o7777; a rejection carries at least
//! one error, each mapping to an exit code of the documented set. Accepted settings have a non-empty
//! source order without duplicates, an absolute output dir and a prefix matching [A-Za-z0-9_]+.
//! No error message shows a secret's default value: every string under `secrets:` that holds the
//! marker `CANARY` (and appears nowhere else in the document, keys included) must be absent from
//! every message. The seeds carry such values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secret_init::fuzzing::manifest::{self, Environ, Settings};
use secret_init::name::SecretName;
use secret_init::reference::Reference;
use serde_json::Value;

const CODES: &[u8] = &[64, 65, 69, 73, 77, 78];

fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => {
            for (k, x) in o {
                out.push(k.clone());
                strings(x, out);
            }
        }
        _ => {}
    }
}

/// Marked secret values of the document, read with an independent parse (None if it has none).
fn canaries(text: &str) -> Vec<String> {
    if !text.contains("CANARY") {
        return Vec::new();
    }
    let Ok(Value::Object(top)) =
        serde_saphyr::from_str_with_options::<Value>(text, manifest::yaml_options())
    else {
        return Vec::new();
    };
    let mut secret = Vec::new();
    let mut public = Vec::new();
    for (k, v) in &top {
        public.push(k.clone());
        match (k.as_str(), v) {
            ("secrets", Value::Object(o)) => {
                for (name, value) in o {
                    public.push(name.clone());
                    strings(value, &mut secret);
                }
            }
            _ => strings(v, &mut public),
        }
    }
    secret
        .into_iter()
        .filter(|s| s.contains("CANARY") && !public.iter().any(|p| p.contains(s.as_str())))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let m = match manifest::parse(text, "fuzz.yaml") {
        Ok(m) => m,
        Err(errors) => {
            assert!(!errors.0.is_empty(), "rejected with no error");
            let marked = canaries(text);
            for e in &errors.0 {
                let line = e.to_string();
                for c in &marked {
                    assert!(
                        !line.contains(c.as_str()),
                        "error shows a secret value: {line}"
                    );
                }
            }
            assert!(
                CODES.contains(&errors.exit_code()),
                "exit code {}",
                errors.exit_code()
            );
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
            assert_eq!(Reference::parse(&r.to_string()).as_ref(), Ok(&**r));
        }
    }
    let inv = manifest::parse_args(["--".into(), "prog".into()]).expect("fixed argv parses");
    match Settings::resolve(&inv, &Environ::default(), &m.settings) {
        Ok(s) => {
            assert!(!s.sources.is_empty());
            for (i, k) in s.sources.iter().enumerate() {
                assert!(!s.sources[..i].contains(k), "source {k} twice");
            }
            assert!(s.output_dir.is_absolute());
            assert!(!s.env_prefix.is_empty());
            assert!(
                s.env_prefix
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            );
        }
        Err(e) => assert!(
            CODES.contains(&e.exit_code()),
            "exit code {}",
            e.exit_code()
        ),
    }
});

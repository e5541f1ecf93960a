//! Secret references (`from:`): `Reference::parse` on arbitrary text.
//!
//! Invariants for accepted input: Display then parse gives back the same reference, and Display is
//! a fixed point (printing the re-parsed reference gives the same text); the parts obey the
//! documented forms (env names without `=`/NUL, absolute file paths, vault paths without empty,
//! `.` or `..` segments and versions > 0, bundle vault names and keys without `#`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use secret_init::reference::Reference;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(r) = Reference::parse(text) else {
        return;
    };
    let shown = r.to_string();
    let again =
        Reference::parse(&shown).unwrap_or_else(|e| panic!("{shown:?} does not re-parse: {e}"));
    assert_eq!(again, r, "round trip changed {shown:?}");
    assert_eq!(again.to_string(), shown);
    match &r {
        Reference::Env(v) => assert!(!v.is_empty() && !v.contains('=') && !v.contains('\0')),
        Reference::File(p) => {
            assert!(p.is_absolute());
            assert!(!p.as_os_str().as_encoded_bytes().contains(&0));
        }
        Reference::Vault { path, key, version } => {
            assert!(!path.is_empty());
            assert!(
                path.split('/')
                    .all(|s| !s.is_empty() && s != "." && s != "..")
            );
            assert!(!path.contains('#'));
            assert!(
                key.as_deref()
                    .is_none_or(|k| !k.is_empty() && !k.contains('#'))
            );
            assert!(version.is_none_or(|v| v > 0));
        }
        Reference::Bundle { vault, key } => {
            assert!(!vault.is_empty() && !vault.contains('#'));
            assert!(
                key.as_deref()
                    .is_none_or(|k| !k.is_empty() && !k.contains('#'))
            );
        }
        // The aws, gcp and azure reference forms have their own targets (aws_response, gcp, azure).
        Reference::Aws(a) => assert!(!a.id.is_empty()),
        Reference::Gcp(g) => {
            assert!(!g.project.is_empty() && !g.secret.is_empty() && !g.version.is_empty());
            assert!(g.key.as_deref().is_none_or(|k| !k.is_empty() && !k.contains('#')));
        }
        Reference::Azure(a) => {
            assert!(!a.vault.is_empty() && !a.name.is_empty());
            assert!(a.key.as_deref().is_none_or(|k| !k.is_empty() && !k.contains('#')));
        }
        Reference::Sops(s) => {
            assert!(!s.file.as_os_str().is_empty());
            assert!(!s.file.components().any(|c| c == std::path::Component::ParentDir));
            assert!(s.path.as_ref().is_none_or(|p| !p.is_empty()));
        }
        Reference::Age(p) => {
            assert!(!p.as_os_str().is_empty());
            assert!(!p.components().any(|c| c == std::path::Component::ParentDir));
        }
    }
});

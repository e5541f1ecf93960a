//! Template rendering (`secret_init.templates`) with arbitrary template text and secret values.
//!
//! Invariants: no panic and no hang (fuel, the output cap and the recursion limit bound every
//! render); every failure is exit 65 naming the template; no error message contains a secret
//! value of 4 bytes or more, raw or with its control characters escaped as the logger does; a
//! successful render stays within the output cap and reports only declared names as used.
#![no_main]

use std::sync::Arc;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use secret_init::fuzzing::template::{self, Body, Secrets, Template};

#[derive(Arbitrary, Debug)]
struct Input {
    text: String,
    a: Vec<u8>,
    b: String,
    absent: bool,
}

fuzz_target!(|input: Input| {
    // Distinctive values, so a match in a message is an echo, not a coincidence.
    let mut a = b"Qa7".to_vec();
    a.extend_from_slice(&input.a);
    let b = format!("Qb9{}", input.b);
    let mut pairs: Vec<(&str, Option<&[u8]>)> = vec![("a", Some(&a)), ("with-dash", Some(b.as_bytes()))];
    if input.absent {
        pairs.push(("opt", None));
    }
    let secrets = Arc::new(Secrets::from_pairs(pairs));
    let t = Template {
        name: "t".into(),
        destination: "/fuzz/out".into(),
        body: Body::Inline(input.text.clone()),
        mode: 0o600,
        owner: None,
    };
    match template::render(&t, &secrets) {
        Ok(r) => {
            assert!(r.content.len() <= template::MAX_OUTPUT_BYTES);
            for name in &r.used {
                assert!(name == "a" || name == "with-dash", "used an undeclared name {name:?}");
            }
        }
        Err(e) => {
            assert_eq!(e.exit_code(), 65, "{e}");
            let shown = e.to_string();
            assert!(shown.starts_with("template \"t\""), "{shown}");
            for v in [a.as_slice(), b.as_bytes()] {
                // A value the template text itself spells out may be quoted from the text (a
                // syntax error names the token it saw); the template is not secret.
                if input.text.as_bytes().windows(v.len()).any(|w| w == v) {
                    continue;
                }
                let escaped = template::escape_controls(&String::from_utf8_lossy(v));
                for needle in [v, escaped.as_bytes()] {
                    assert!(
                        !e.what.as_bytes().windows(needle.len()).any(|w| w == needle),
                        "a value in the message: {shown}"
                    );
                }
            }
        }
    }
});

//! The metrics endpoint's network input: `asked` on an arbitrary request head, `listen` on an
//! arbitrary `secret_init.metrics.listen` text, `label` on an arbitrary label value.
//!
//! Invariants: a head over the cap is always refused as too large; `Metrics` only for a first
//! line `GET /metrics[?...] HTTP/1.x`; another method is never answered with the metrics. An
//! accepted listen address is an IP literal with a port other than 0, or an absolute unix path
//! of at most 107 bytes (a host name is never accepted: nothing is resolved). An escaped label
//! value has no raw newline and no `"` that is not escaped, and unescapes to the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secret_init::fuzzing::observe::{Asked, Listen, MAX_REQUEST, asked, label, listen};

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some(o) => out.push(o),
                None => panic!("a lone backslash at the end of {s:?}"),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let a = asked(data);
    if data.len() > MAX_REQUEST {
        assert_eq!(a, Asked::TooLarge);
    }
    let first = data.split(|b| *b == b'\n').next().unwrap_or_default();
    let first = String::from_utf8_lossy(first);
    let words: Vec<&str> = first.trim_end().split(' ').collect();
    if a == Asked::Metrics {
        assert_eq!(words[0], "GET");
        assert_eq!(words[1].split('?').next(), Some("/metrics"));
        assert!(words[2].starts_with("HTTP/1."));
    }
    if words.first().is_some_and(|m| *m != "GET") {
        assert_ne!(a, Asked::Metrics);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match listen(text) {
        Ok(Listen::Tcp(addr)) => {
            assert_ne!(addr.port(), 0);
            assert_eq!(text.parse::<std::net::SocketAddr>().ok(), Some(addr));
        }
        Ok(Listen::Unix(p)) => {
            assert!(p.is_absolute());
            assert!(p.as_os_str().len() <= 107);
            assert_eq!(text.strip_prefix("unix:").map(std::path::PathBuf::from), Some(p));
        }
        Err(e) => assert!(!e.what.is_empty()),
    }
    let l = label(text);
    assert!(!l.contains('\n'));
    let b = l.as_bytes();
    for (i, c) in b.iter().enumerate() {
        if *c == b'"' {
            let backslashes = b[..i].iter().rev().take_while(|x| **x == b'\\').count();
            assert!(backslashes % 2 == 1, "an unescaped quote in {l:?}");
        }
    }
    assert_eq!(unescape(&l), text);
});

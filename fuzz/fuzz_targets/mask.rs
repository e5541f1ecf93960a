//! `--mask`'s streaming matcher (`mask::Stream` over `mask::Masker`): arbitrary values, minimum
//! length, output bytes and read boundaries, with stalls.
//!
//! Invariants: without a stall, the output read in any pieces is exactly a brute-force
//! leftmost-longest replacement of the masker's forms over the whole input (a model written
//! here); every form is at least `min_length` bytes long, so a value shorter than that is never
//! masked. With stalls: no panic.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use secret_init::fuzzing::mask::fuzz_stream;

#[derive(Arbitrary, Debug)]
struct Input {
    values: Vec<Vec<u8>>,
    min_length: u8,
    input: Vec<u8>,
    cuts: Vec<(u16, bool)>,
}

fn model(forms: &[(Vec<u8>, Vec<u8>)], input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < input.len() {
        match forms
            .iter()
            .filter(|(f, _)| input[i..].starts_with(f))
            .max_by_key(|(f, _)| f.len())
        {
            Some((f, marker)) => {
                out.extend_from_slice(marker);
                i += f.len();
            }
            None => {
                out.push(input[i]);
                i += 1;
            }
        }
    }
    out
}

fuzz_target!(|x: Input| {
    let min_length = usize::from(x.min_length % 16).max(1);
    let values: Vec<(String, Vec<u8>)> = x
        .values
        .iter()
        .take(8)
        .enumerate()
        .map(|(i, v)| (format!("s{i}"), v.iter().copied().take(64).collect()))
        .collect();
    let cuts: Vec<(usize, bool)> = x.cuts.iter().map(|&(c, s)| (usize::from(c), s)).collect();
    let (out, forms) = fuzz_stream(&values, min_length, "<{name}>", &x.input, &cuts);
    // A form is never shorter than the minimum: a short value is never masked.
    for (f, _) in &forms {
        assert!(f.len() >= min_length, "{} < {min_length}", f.len());
    }
    if cuts.iter().all(|&(_, stall)| !stall) {
        assert_eq!(out, model(&forms, &x.input));
    }
});

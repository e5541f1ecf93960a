//! The fallback snapshot file: `fallback::file::parse` on arbitrary bytes under the fixed fuzz
//! key, and the writer.
//!
//! Two modes, by the first byte. Bytes (even): open the rest; it must never panic, and (the fuzz
//! key being secret to the input) nothing is accepted unless it was sealed under that key, which
//! random bytes never are. Build (odd): seal values taken from the input, open them back (every
//! name, source, fetch time and value byte-equal, the generation kept), then flip one bit chosen
//! by the input and cut the file at a length chosen by the input: neither opens.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use secret_init::fuzzing::fallback::{open, seal};

#[derive(Arbitrary, Debug)]
struct Value {
    name: String,
    source: String,
    fetched: u64,
    value: Vec<u8>,
}

fn build_mode(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let (Ok(values), Ok(generation), Ok(bit), Ok(cut)) = (
        Vec::<Value>::arbitrary(&mut u),
        u64::arbitrary(&mut u),
        usize::arbitrary(&mut u),
        usize::arbitrary(&mut u),
    ) else {
        return;
    };
    let values: Vec<(String, String, u64, Vec<u8>)> = values
        .into_iter()
        .take(16)
        .map(|v| (v.name, v.source, v.fetched, v.value))
        .collect();
    let bytes = seal(generation, &values);
    let (g, back) = open(&bytes).expect("a sealed snapshot opens");
    assert_eq!(g, generation);
    assert_eq!(back, values);
    let mut flipped = bytes.clone();
    let bit = bit % (bytes.len() * 8);
    flipped[bit / 8] ^= 1 << (bit % 8);
    assert!(open(&flipped).is_err(), "a flipped bit {bit} opened");
    assert!(open(&bytes[..cut % bytes.len()]).is_err(), "a cut file opened");
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((m, rest)) if m & 1 == 1 => build_mode(rest),
        Some((_, rest)) => assert!(open(rest).is_err(), "random bytes opened"),
        None => {}
    }
});

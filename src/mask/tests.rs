use super::*;
use proptest::prelude::*;

fn values(list: &[(&str, &[u8])]) -> Vec<(String, Secret)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), Secret::new(v.to_vec())))
        .collect()
}

/// Leftmost-longest replacement by brute force over the patterns: the reference the sampled matcher
/// and the streaming are compared with.
fn reference(m: &Masker, input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < input.len() {
        let best = m
            .patterns
            .iter()
            .enumerate()
            .filter(|(_, p)| input[i..].starts_with(p))
            .max_by_key(|(_, p)| p.len());
        match best {
            Some((id, p)) => {
                out.extend_from_slice(&m.markers[m.owner[id]]);
                i += p.len();
            }
            None => {
                out.push(input[i]);
                i += 1;
            }
        }
    }
    out
}

/// `input` fed in pieces cut at `cuts`, then ended.
fn streamed(m: &Masker, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut s = Stream::default();
    let mut out = Vec::new();
    let mut at = 0;
    for &c in cuts {
        let c = c.min(input.len()).max(at);
        s.feed(m, &input[at..c], &mut out);
        at = c;
    }
    s.feed(m, &input[at..], &mut out);
    s.end(m, &mut out);
    out
}

#[test]
fn whole_split_and_byte_by_byte() {
    let m = Masker::new(&values(&[("tok", b"hf_SECRETvalue123")]), &Rules::default());
    let input = b"token=hf_SECRETvalue123 and hf_SECRET but not all\n";
    let want = b"token=<secret:tok> and hf_SECRET but not all\n".to_vec();
    assert_eq!(streamed(&m, input, &[]), want);
    for cut in 0..input.len() {
        assert_eq!(streamed(&m, input, &[cut]), want, "cut at {cut}");
    }
    let every: Vec<usize> = (0..input.len()).collect();
    assert_eq!(streamed(&m, input, &every), want);
}

#[test]
fn overlapping_values_mask_the_longest() {
    let m = Masker::new(
        &values(&[("short", b"abcdefgh"), ("long", b"abcdefghijkl")]),
        &Rules::default(),
    );
    assert_eq!(
        streamed(&m, b"[abcdefghijkl]", &[5, 10]),
        b"[<secret:long>]"
    );
    assert_eq!(streamed(&m, b"[abcdefghijk]", &[9]), b"[<secret:short>ijk]");
    // A value inside another one's undecided beginning is still found.
    let m = Masker::new(
        &values(&[("a", b"xxabcdefgh12"), ("b", b"abcdefgh")]),
        &Rules::default(),
    );
    assert_eq!(streamed(&m, b"xxabcdefgh1Z", &[3]), b"xx<secret:b>1Z");
}

#[test]
fn short_values_are_not_masked() {
    let m = Masker::new(&values(&[("pin", b"1234567")]), &Rules::default());
    assert!(m.patterns.is_empty());
    assert_eq!(streamed(&m, b"pin 1234567", &[]), b"pin 1234567");
    let rules = Rules {
        min_length: 4,
        marker: "****".into(),
    };
    let m = Masker::new(&values(&[("pin", b"1234567")]), &rules);
    assert_eq!(streamed(&m, b"pin 1234567", &[6]), b"pin ****");
}

#[test]
fn encodings_are_masked() {
    use base64::Engine as _;
    let v = b"s3cr3t/with+odd=chars\xc3\xa9\"";
    let m = Masker::new(&values(&[("v", v)]), &Rules::default());
    let b64 = base64::engine::general_purpose::STANDARD.encode([&b"ab"[..], v].concat());
    let url = base64::engine::general_purpose::URL_SAFE.encode([&b"a"[..], v].concat());
    let json = serde_json::to_string(std::str::from_utf8(v).expect("utf-8")).expect("json");
    for printed in [b64.as_bytes(), url.as_bytes(), json.as_bytes()] {
        let out = streamed(&m, printed, &[3, 7]);
        assert!(
            out.windows(10).any(|w| w == b"<secret:v>"),
            "{}",
            String::from_utf8_lossy(printed)
        );
        assert!(out.len() < printed.len() + 10);
    }
}

#[test]
fn a_stall_masks_a_long_beginning_and_swallows_the_rest() {
    let m = Masker::new(&values(&[("tok", b"hf_SECRETvalue123")]), &Rules::default());
    let mut s = Stream::default();
    let mut out = Vec::new();
    s.feed(&m, b"x hf_SECRET", &mut out);
    assert_eq!(out, b"x ");
    assert!(s.holding());
    s.stall(&m, &mut out);
    s.feed(&m, b"value123 y", &mut out);
    s.end(&m, &mut out);
    assert_eq!(out, b"x <secret:tok> y");
    // A short beginning is written as it is.
    let mut s = Stream::default();
    let mut out = Vec::new();
    s.feed(&m, b"x hf_S", &mut out);
    s.stall(&m, &mut out);
    s.feed(&m, b"ky", &mut out);
    s.end(&m, &mut out);
    assert_eq!(out, b"x hf_Sky");
}

#[test]
fn refresh_keeps_old_values_masked() {
    let masks = Masks::new(values(&[("a", b"old-value-1")]), Rules::default());
    let (g0, _) = masks.current();
    masks.publish(values(&[("a", b"new-value-2")]));
    assert!(masks.changed_since(g0));
    let (_, m) = masks.current();
    assert_eq!(
        streamed(&m, b"old-value-1 new-value-2", &[]),
        b"<secret:a> <secret:a>"
    );
    // Publishing the same values changes nothing.
    let (g1, _) = masks.current();
    masks.publish(values(&[("a", b"new-value-2")]));
    assert!(!masks.changed_since(g1));
}

#[test]
fn debug_shows_no_value() {
    let m = Masker::new(&values(&[("a", b"canary-0123456789")]), &Rules::default());
    assert!(!format!("{m:?}").contains("canary"));
}

fn alphabet() -> impl Strategy<Value = u8> {
    prop_oneof![Just(b'a'), Just(b'b'), Just(b'c'), Just(b'\n'), any::<u8>()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Any output cut anywhere masks exactly as the brute-force reference does on the whole.
    #[test]
    fn streaming_matches_the_reference(
        min_length in 2usize..9,
        secrets in prop::collection::vec(prop::collection::vec(alphabet(), 2..14), 1..4),
        noise in prop::collection::vec(alphabet(), 0..60),
        picks in prop::collection::vec((0usize..4, 0usize..60), 0..5),
        cuts in prop::collection::vec(0usize..200, 0..8),
    ) {
        let vals: Vec<(String, Secret)> = secrets
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("s{i}"), Secret::new(v.clone())))
            .collect();
        let m = Masker::new(&vals, &Rules { min_length, marker: "<{name}>".into() });
        let mut input = noise.clone();
        for (which, at) in picks {
            let v = &secrets[which % secrets.len()];
            let at = at.min(input.len());
            input.splice(at..at, v.iter().copied());
        }
        let mut cuts = cuts;
        cuts.sort_unstable();
        let want = reference(&m, &input);
        prop_assert_eq!(streamed(&m, &input, &cuts), want.clone());
        let one_shot = {
            let mut out = Vec::new();
            match m.scan(&input, &mut out, true) {
                (_, true) => out,
                (hold, false) => input[..hold].to_vec(),
            }
        };
        prop_assert_eq!(one_shot, want);
    }
}

#[test]
fn long_values_are_not_masked_and_many_long_ones_are() {
    let long = vec![b'k'; MAX_LENGTH + 1];
    let m = Masker::new(&values(&[("big", &long)]), &Rules::default());
    assert!(m.patterns.is_empty());
    // 5 values of 60 KB: still masked.
    let vals: Vec<(String, Secret)> = (0..5u8)
        .map(|i| {
            let v: Vec<u8> = (0..60_000u32)
                .map(|j| b'a' + ((j * 7 + u32::from(i)) % 26) as u8)
                .collect();
            (format!("v{i}"), Secret::new(v))
        })
        .collect();
    let m = Masker::new(&vals, &Rules::default());
    let input = [&b"<"[..], vals[3].1.expose(), b">"].concat();
    assert_eq!(streamed(&m, &input, &[1000, 30_000]), b"<<secret:v3>>");
}

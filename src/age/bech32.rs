//! Bech32 (BIP 173, not Bech32m) as age spells its keys: `age1…` recipients and
//! `AGE-SECRET-KEY-1…` identities. age has no 90-character limit, and a string is all lower or
//! all upper case.

const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const GENERATORS: [u32; 5] = [
    0x3b6a_57b2,
    0x2650_8e6d,
    0x1ea1_19fa,
    0x3d42_33dd,
    0x2a14_62b3,
];

fn polymod(values: impl Iterator<Item = u8>) -> u32 {
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GENERATORS.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

fn hrp_expand(hrp: &str) -> impl Iterator<Item = u8> + '_ {
    hrp.bytes()
        .map(|b| b >> 5)
        .chain(std::iter::once(0))
        .chain(hrp.bytes().map(|b| b & 31))
}

/// Regroups bits: 8 → 5 with padding, or 5 → 8 refusing non-zero or overlong padding.
fn regroup(data: &[u8], from: u32, to: u32, pad: bool) -> Option<Vec<u8>> {
    let (mut acc, mut bits) = (0u32, 0u32);
    let max = (1u32 << to) - 1;
    let mut out = Vec::with_capacity(data.len() * from as usize / to as usize + 1);
    for &v in data {
        acc = (acc << from) | u32::from(v);
        bits += from;
        while bits >= to {
            bits -= to;
            out.push(((acc >> bits) & max) as u8);
        }
    }
    if pad {
        if bits > 0 {
            out.push(((acc << (to - bits)) & max) as u8);
        }
    } else if bits >= from || (acc << (to - bits)) & max != 0 {
        return None;
    }
    Some(out)
}

/// Decodes `s` (either case, not mixed); returns the human-readable part in lower case and the
/// data bytes. The error never repeats the input (an identity is a secret).
pub(crate) fn decode(s: &str) -> Result<(String, Vec<u8>), &'static str> {
    if s.bytes().any(|b| b.is_ascii_lowercase()) && s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err("mixed case");
    }
    let s = s.to_ascii_lowercase();
    let (hrp, data) = s.rsplit_once('1').ok_or("no separator")?;
    if hrp.is_empty() || data.len() < 6 || hrp.bytes().any(|b| !(33..=126).contains(&b)) {
        return Err("malformed");
    }
    let values: Vec<u8> = data
        .bytes()
        .map(|c| CHARSET.iter().position(|&x| x == c).map(|p| p as u8))
        .collect::<Option<_>>()
        .ok_or("invalid character")?;
    if polymod(hrp_expand(hrp).chain(values.iter().copied())) != 1 {
        return Err("bad checksum");
    }
    let bytes = regroup(&values[..values.len() - 6], 5, 8, false).ok_or("bad padding")?;
    Ok((hrp.to_string(), bytes))
}

/// Encodes `data` under `hrp` (lower case).
pub(crate) fn encode(hrp: &str, data: &[u8]) -> String {
    // Regrouping 8 → 5 with padding cannot fail.
    let values = regroup(data, 8, 5, true).unwrap_or_default();
    let chk = polymod(
        hrp_expand(hrp)
            .chain(values.iter().copied())
            .chain([0u8; 6]),
    ) ^ 1;
    let mut out = String::with_capacity(hrp.len() + 1 + values.len() + 6);
    out.push_str(hrp);
    out.push('1');
    for v in values {
        out.push(CHARSET[usize::from(v)] as char);
    }
    for i in 0..6 {
        out.push(CHARSET[((chk >> (5 * (5 - i))) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bip173_vectors() {
        for ok in [
            "A12UEL5L",
            "a12uel5l",
            "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
            "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
        ] {
            assert!(decode(ok).is_ok(), "{ok}");
        }
        for bad in [
            "A12uEL5L",
            "a12uel5m",
            "pzry9x0s0muk",
            "1pzry9x0s0muk",
            "x1b4n0q5v",
            "li1dgmt3",
        ] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn round_trip() {
        let data: Vec<u8> = (0..32).collect();
        let s = encode("age", &data);
        assert_eq!(decode(&s), Ok(("age".into(), data.clone())));
        let upper = encode("age-secret-key-", &data).to_ascii_uppercase();
        assert_eq!(decode(&upper), Ok(("age-secret-key-".into(), data)));
    }
}

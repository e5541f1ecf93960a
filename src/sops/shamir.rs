//! Shamir's secret sharing over GF(2^8) as sops vendors it from HashiCorp Vault (shamir/ in
//! sops): each share is the secret's bytes evaluated on random polynomials, its last byte the x
//! coordinate. Only combining is needed here: Lagrange interpolation at 0, byte by byte.

use zeroize::Zeroizing;

/// Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1 (AES's field), without branches on
/// the operands.
fn mult(a: u8, b: u8) -> u8 {
    let mut acc: u8 = 0;
    for i in (0..8).rev() {
        let bit = (b >> i) & 1;
        let a_or_zero = 0u8.wrapping_sub(bit) & a;
        let reduce = 0u8.wrapping_sub(acc >> 7) & 0x1b;
        acc = a_or_zero ^ (reduce ^ acc.wrapping_add(acc));
    }
    acc
}

/// a^254, the inverse of a non-zero a.
fn inverse(a: u8) -> u8 {
    let mut r = 1u8;
    for _ in 0..254 {
        r = mult(r, a);
    }
    r
}

/// Rebuilds the secret from `parts` (at least two, equal lengths, distinct x coordinates).
pub(crate) fn combine(parts: &[Zeroizing<Vec<u8>>]) -> Result<Zeroizing<Vec<u8>>, &'static str> {
    let len = parts.first().map_or(0, |p| p.len());
    if parts.len() < 2 || len < 2 || parts.iter().any(|p| p.len() != len) {
        return Err("the key groups' shares do not fit together");
    }
    let xs: Vec<u8> = parts.iter().map(|p| p[len - 1]).collect();
    for (i, x) in xs.iter().enumerate() {
        if xs[..i].contains(x) {
            return Err("two key groups hold the same share");
        }
    }
    let mut secret = Zeroizing::new(vec![0u8; len - 1]);
    for (idx, out) in secret.iter_mut().enumerate() {
        let mut result = 0u8;
        for (i, part) in parts.iter().enumerate() {
            let mut basis = 1u8;
            for (j, xj) in xs.iter().enumerate() {
                if i != j {
                    // At x = 0: (0 + x_j) / (x_i + x_j); addition is XOR.
                    basis = mult(basis, mult(*xj, inverse(xs[i] ^ xj)));
                }
            }
            result ^= mult(part[idx], basis);
        }
        *out = result;
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits with fixed polynomial coefficients (a test's stand-in for sops' random ones).
    fn split(secret: &[u8], xs: &[u8], coeffs: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
        xs.iter()
            .map(|&x| {
                let mut share: Vec<u8> = secret
                    .iter()
                    .map(|&s| {
                        // s + c0*x + c1*x^2 ...
                        let (mut y, mut pow) = (s, 1u8);
                        for &c in coeffs {
                            pow = mult(pow, x);
                            y ^= mult(c, pow);
                        }
                        y
                    })
                    .collect();
                share.push(x);
                Zeroizing::new(share)
            })
            .collect()
    }

    #[test]
    fn any_threshold_of_shares_rebuilds_the_secret() {
        let secret = b"thirty-two bytes of a data key!!";
        let shares = split(secret, &[1, 77, 200], &[0x53, 0xca]);
        for pick in [[0, 1, 2], [2, 0, 1]] {
            let chosen: Vec<_> = pick.iter().map(|&i| shares[i].clone()).collect();
            assert_eq!(combine(&chosen).expect("combine").as_slice(), secret);
        }
        let two: Vec<_> = shares[..2].to_vec();
        assert_ne!(
            combine(&two).expect("combines").as_slice(),
            secret,
            "below threshold"
        );
        assert!(combine(&shares[..1]).is_err());
        assert_eq!(mult(0x53, 0xca), 1, "AES field: 0x53 * 0xCA = 1");
        assert_eq!(mult(0x53, inverse(0x53)), 1);
    }
}

//! Sealing one bundle value: AES-256-GCM under the master key, a fresh random 96-bit nonce per
//! value, and the value's place (format label, vault, entry, secret flag) bound as associated data.
//!
//! Binding the place stops a writer of the file from moving a ciphertext to another name or
//! flipping its "secret" flag so that `show` would print it in clear (berglas' replacement
//! attack): the tag no longer verifies. Nonces are built with ring's
//! `Nonce::try_assume_unique_for_key`, which returns an error for anything but 12 bytes, so a
//! malformed file can never panic us (the `GenericArray::from_slice` trap). Plaintext is only ever
//! produced into a zeroizing buffer that is dropped (wiped) on failure, so a failed tag check
//! leaves no plaintext behind (RUSTSEC-2023-0096).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::secret::Secret;

/// Bytes in a master key.
pub(crate) const KEY_LEN: usize = 32;
/// Bytes in a GCM tag, appended to every ciphertext.
pub(crate) const TAG_LEN: usize = 16;
/// The associated-data label: the format and its version, so a value cannot be replayed into a
/// later format with other semantics.
pub(crate) const AAD_LABEL: &str = "secret-init-bundle/1";
/// The key check's label in a bundle whose data key a KMS wraps (version 2).
pub(crate) const AAD_LABEL_KMS: &str = "secret-init-bundle/2";

/// The associated-data label of a fallback snapshot (`src/fallback/`): its own format, so
/// neither a bundle value nor a snapshot can be passed off as the other.
pub(crate) const SNAPSHOT_LABEL: &str = "secret-init-fallback/1";

/// A 256-bit master key. Debug prints nothing of it; the raw bytes are wiped on drop.
pub struct MasterKey {
    key: LessSafeKey,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// Why a master key was refused; the text never holds key material.
#[derive(Debug, PartialEq, Eq)]
pub struct KeyError(pub String);

impl MasterKey {
    /// Builds a key from exactly 32 raw bytes.
    pub fn from_bytes(raw: &[u8]) -> Result<MasterKey, KeyError> {
        if raw.len() != KEY_LEN {
            return Err(KeyError(format!(
                "master key must be exactly {KEY_LEN} bytes after base64 decoding (got {})",
                raw.len()
            )));
        }
        let unbound = UnboundKey::new(&AES_256_GCM, raw)
            .map_err(|_| KeyError("master key rejected by AES-256-GCM".into()))?;
        Ok(MasterKey {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Parses the base64 text of a key: standard alphabet with padding, no whitespace (one
    /// trailing `\n` or `\r\n`, as a key file written by `keygen` ends, is accepted).
    pub fn from_base64(text: &[u8]) -> Result<MasterKey, KeyError> {
        let text = text
            .strip_suffix(b"\r\n")
            .or_else(|| text.strip_suffix(b"\n"))
            .unwrap_or(text);
        if text.is_empty() {
            return Err(KeyError("master key is empty".into()));
        }
        let raw =
            Zeroizing::new(decode(text).map_err(|why| KeyError(format!("master key: {why}")))?);
        MasterKey::from_bytes(&raw)
    }

    /// A new random key, as base64 text (for `vault keygen`).
    pub fn generate_base64() -> Result<Zeroizing<String>, KeyError> {
        let raw = MasterKey::generate_raw()?;
        Ok(Zeroizing::new(STANDARD.encode(raw.as_ref())))
    }

    /// A new random key's bytes (a data key for a KMS to wrap).
    pub fn generate_raw() -> Result<Zeroizing<[u8; KEY_LEN]>, KeyError> {
        let mut raw = Zeroizing::new([0u8; KEY_LEN]);
        SystemRandom::new()
            .fill(raw.as_mut())
            .map_err(|_| KeyError("the system random source failed".into()))?;
        Ok(raw)
    }

    /// Seals `plain` for `place` with a fresh random nonce; returns (nonce, ciphertext+tag).
    pub fn seal(
        &self,
        place: &Place<'_>,
        plain: &[u8],
    ) -> Result<([u8; NONCE_LEN], Vec<u8>), SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SealError::Random)?;
        let mut buf = Vec::with_capacity(plain.len() + TAG_LEN);
        buf.extend_from_slice(plain);
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(place.aad()),
                &mut buf,
            )
            .map_err(|_| SealError::TooLong)?;
        Ok((nonce, buf))
    }

    /// Opens a sealed value for `place`. Any mismatch (key, nonce, ciphertext, tag, place) is
    /// [`OpenError::Auth`]; a nonce of the wrong length or a ciphertext shorter than a tag is
    /// reported as such, before any decryption.
    pub fn open(
        &self,
        place: &Place<'_>,
        nonce: &[u8],
        sealed: &[u8],
    ) -> Result<Secret, OpenError> {
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| OpenError::NonceLength(nonce.len()))?;
        if sealed.len() < TAG_LEN {
            return Err(OpenError::Truncated(sealed.len()));
        }
        // Decrypt into a buffer that wipes itself on drop: on a failed tag it is dropped here.
        let mut buf = Zeroizing::new(sealed.to_vec());
        let plain_len = self
            .key
            .open_in_place(nonce, Aad::from(place.aad()), buf.as_mut_slice())
            .map_err(|_| OpenError::Auth)?
            .len();
        let mut out = std::mem::take(&mut *buf);
        out.truncate(plain_len);
        Ok(Secret::new(out))
    }
}

/// Where a value lives in a bundle: what its associated data binds.
#[derive(Clone, Copy, Debug)]
pub enum Place<'a> {
    /// An entry of a vault, with its secret flag.
    Entry {
        /// The vault's name.
        vault: &'a str,
        /// The entry's key.
        key: &'a str,
        /// Whether `show` masks it.
        secret: bool,
    },
    /// The file's key-check value, which tells a wrong key apart from corruption up front.
    KeyCheck,
    /// A fallback snapshot's whole payload, bound to the manifest and the snapshot's path.
    Snapshot {
        /// Which manifest and which snapshot path (`fallback::identity`).
        identity: &'a str,
    },
    /// One value in a fallback snapshot: its secret's name and the source it came from.
    Stored {
        /// As in [`Place::Snapshot`].
        identity: &'a str,
        /// The secret's name.
        name: &'a str,
        /// The source it was fetched from (`vault:secret/data/app#db`).
        source: &'a str,
    },
    /// A version 2 file's key-check value, bound to the KMS key its header names.
    KmsKeyCheck {
        /// The KMS key's name (`aws:ARN`, ...).
        kms: &'a str,
    },
}

impl Place<'_> {
    /// The associated data: label, NUL, then the place. Names never contain NUL (they are
    /// validated as secret names), so the encoding is unambiguous.
    pub fn aad(&self) -> Vec<u8> {
        match self {
            Place::Entry { vault, key, secret } => format!(
                "{AAD_LABEL}\0entry\0{vault}\0{key}\0{}",
                if *secret { "secret" } else { "plain" }
            )
            .into_bytes(),
            Place::KeyCheck => format!("{AAD_LABEL}\0key-check").into_bytes(),
            Place::Snapshot { identity } => {
                format!("{SNAPSHOT_LABEL}\0snapshot\0{identity}").into_bytes()
            }
            Place::Stored {
                identity,
                name,
                source,
            } => format!("{SNAPSHOT_LABEL}\0value\0{identity}\0{name}\0{source}").into_bytes(),
            Place::KmsKeyCheck { kms } => format!("{AAD_LABEL_KMS}\0key-check\0{kms}").into_bytes(),
        }
    }
}

/// Why sealing failed.
#[derive(Debug, PartialEq, Eq)]
pub enum SealError {
    /// The system random source failed.
    Random,
    /// The value is longer than GCM allows.
    TooLong,
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealError::Random => f.write_str("the system random source failed"),
            SealError::TooLong => f.write_str("value too long to seal"),
        }
    }
}

/// Why opening failed; none of these carries any byte of the value or the key.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenError {
    /// The nonce is not 12 bytes.
    NonceLength(usize),
    /// The ciphertext is shorter than a tag.
    Truncated(usize),
    /// The tag did not verify.
    Auth,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::NonceLength(n) => write!(f, "nonce must be {NONCE_LEN} bytes (got {n})"),
            OpenError::Truncated(n) => write!(
                f,
                "sealed value is {n} bytes, shorter than the {TAG_LEN}-byte tag (truncated)"
            ),
            OpenError::Auth => f.write_str(
                "authentication failed: wrong master key, corrupted data, or a value moved from another name",
            ),
        }
    }
}

/// Strict standard base64 with padding; the error names the offset, never the byte.
pub(crate) fn decode(text: &[u8]) -> Result<Vec<u8>, String> {
    use base64::DecodeError;
    STANDARD.decode(text).map_err(|e| match e {
        DecodeError::InvalidByte(at, _) => format!("invalid base64 at offset {at}"),
        DecodeError::InvalidLength(n) => format!("invalid base64 length ({n} symbols)"),
        DecodeError::InvalidLastSymbol { offset: at, .. } => {
            format!("invalid base64 at offset {at}")
        }
        DecodeError::InvalidPadding => "invalid base64 padding".to_string(),
    })
}

/// Standard base64 with padding.
pub(crate) fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(b: u8) -> MasterKey {
        MasterKey::from_bytes(&[b; KEY_LEN]).expect("32 bytes")
    }

    const P: Place<'static> = Place::Entry {
        vault: "v",
        key: "k",
        secret: true,
    };

    #[test]
    fn key_sizes() {
        // ring's key_sizes test: right size, ±1, half, double, empty, one byte.
        for n in [0usize, 1, 16, 31, 33, 64] {
            let e = MasterKey::from_bytes(&vec![7; n]).expect_err("wrong size");
            assert!(e.0.contains(&format!("(got {n})")), "{}", e.0);
        }
        assert!(MasterKey::from_bytes(&[7; 32]).is_ok());
    }

    #[test]
    fn base64_key_errors_never_echo_the_key() {
        let good = encode(&[0xab; 32]);
        assert!(MasterKey::from_base64(good.as_bytes()).is_ok());
        assert!(MasterKey::from_base64(format!("{good}\n").as_bytes()).is_ok());
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "empty"),
            ("\n".into(), "empty"),
            (encode(&[1; 31]), "(got 31)"),
            (encode(&[1; 33]), "(got 33)"),
            // URL-safe alphabet is refused: the format is strict.
            (
                good.replace('+', "-")
                    .replace('/', "_")
                    .replacen('q', "-", 1),
                "invalid base64",
            ),
            (format!(" {good}"), "offset 0"),
            (format!("{good}\n\n"), "invalid base64"),
            (good.trim_end_matches('=').to_string(), "invalid base64"),
        ];
        for (text, want) in cases {
            let e = MasterKey::from_base64(text.as_bytes()).expect_err(&text);
            assert!(e.0.contains(want), "{text:?}: {}", e.0);
            if text.len() > 8 {
                assert!(!e.0.contains(text.trim()), "key echoed: {}", e.0);
            }
        }
        assert_eq!(format!("{:?}", key(1)), "MasterKey(<redacted>)");
    }

    #[test]
    fn generated_keys_are_valid_and_differ() {
        let a = MasterKey::generate_base64().expect("rng");
        let b = MasterKey::generate_base64().expect("rng");
        assert_ne!(*a, *b);
        assert!(MasterKey::from_base64(a.as_bytes()).is_ok());
    }

    #[test]
    fn wrong_nonce_lengths_and_truncation_are_errors_not_panics() {
        let k = key(1);
        let (_, sealed) = k.seal(&P, b"v").expect("seal");
        for n in [0usize, 8, 11, 13, 16] {
            assert_eq!(
                k.open(&P, &vec![0; n], &sealed),
                Err(OpenError::NonceLength(n))
            );
        }
        for n in 0..TAG_LEN {
            assert_eq!(
                k.open(&P, &[0; 12], &sealed[..n]),
                Err(OpenError::Truncated(n))
            );
        }
    }

    #[test]
    fn place_is_bound() {
        let k = key(2);
        let (nonce, sealed) = k.seal(&P, b"value").expect("seal");
        let others = [
            Place::Entry {
                vault: "v",
                key: "k2",
                secret: true,
            },
            Place::Entry {
                vault: "v2",
                key: "k",
                secret: true,
            },
            Place::Entry {
                vault: "v",
                key: "k",
                secret: false,
            },
            // The separator keeps ("v", "k") apart from ("v\0k"-like) concatenations.
            Place::Entry {
                vault: "vk",
                key: "",
                secret: true,
            },
            Place::KeyCheck,
        ];
        for p in others {
            assert_eq!(k.open(&p, &nonce, &sealed), Err(OpenError::Auth), "{p:?}");
        }
        assert_eq!(
            k.open(&P, &nonce, &sealed).expect("open").expose(),
            b"value"
        );
        assert_eq!(key(3).open(&P, &nonce, &sealed), Err(OpenError::Auth));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn seal_then_open_returns_the_input(plain in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let k = key(9);
            let (nonce, sealed) = k.seal(&P, &plain).expect("seal");
            prop_assert_eq!(sealed.len(), plain.len() + TAG_LEN);
            let opened = k.open(&P, &nonce, &sealed).expect("open");
            prop_assert_eq!(opened.expose(), &plain[..]);
        }

        #[test]
        fn any_single_bit_change_fails(
            plain in proptest::collection::vec(any::<u8>(), 0..256),
            bit in any::<usize>(),
        ) {
            let k = key(9);
            let (nonce, sealed) = k.seal(&P, &plain).expect("seal");
            // One bit anywhere in nonce ‖ ciphertext ‖ tag.
            let total = (NONCE_LEN + sealed.len()) * 8;
            let bit = bit % total;
            let (mut n2, mut s2) = (nonce, sealed.clone());
            if bit < NONCE_LEN * 8 {
                n2[bit / 8] ^= 1 << (bit % 8);
            } else {
                let b = bit - NONCE_LEN * 8;
                s2[b / 8] ^= 1 << (b % 8);
            }
            prop_assert_eq!(k.open(&P, &n2, &s2), Err(OpenError::Auth));
        }

        #[test]
        fn moved_names_fail(
            vault in "[a-z]{1,8}", key_name in "[A-Z_]{1,8}",
            other in "[a-z]{1,8}", plain in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            prop_assume!(vault != other);
            let k = key(4);
            let from = Place::Entry { vault: &vault, key: &key_name, secret: true };
            let (nonce, sealed) = k.seal(&from, &plain).expect("seal");
            let to_vault = Place::Entry { vault: &other, key: &key_name, secret: true };
            let to_key = Place::Entry { vault: &vault, key: &other, secret: true };
            prop_assert_eq!(k.open(&to_vault, &nonce, &sealed), Err(OpenError::Auth));
            prop_assert_eq!(k.open(&to_key, &nonce, &sealed), Err(OpenError::Auth));
        }

        #[test]
        fn arbitrary_input_never_panics(
            nonce in proptest::collection::vec(any::<u8>(), 0..20),
            sealed in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            prop_assert!(key(5).open(&P, &nonce, &sealed).is_err());
        }
    }
}

//! age v1 files (age-encryption.org/v1, C2SP's age spec) with X25519 and ssh-ed25519 recipients, over ring
//! (HKDF-SHA256, HMAC-SHA256, ChaCha20-Poly1305) and x25519-dalek, instead of the `age` crate and
//! its hundred dependencies.
//!
//! A file is a text header (`age-encryption.org/v1`, one stanza per recipient, `--- MAC`) and a
//! binary payload (a 16-byte nonce, then ChaCha20-Poly1305 STREAM chunks of 64 KiB). Decryption
//! finds the stanza one of the identities opens, which yields the 16-byte file key; the header's
//! HMAC is checked under a key derived from it before any payload byte is opened, and every chunk
//! is authenticated, the last one marked as last, so a truncated or extended file fails. The
//! plaintext only ever lives in a wiped buffer. `armor` is the PEM-like text form sops stores.
//! Interoperability with the real `age`/`age-keygen` is tested both ways (tests/sops.rs).

pub(crate) mod armor;
pub(crate) mod bech32;
mod ssh;

use std::fmt;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::{hkdf, hmac};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

const INTRO: &[u8] = b"age-encryption.org/v1\n";
const X25519_LABEL: &[u8] = b"age-encryption.org/v1/X25519";
const IDENTITY_HRP: &str = "age-secret-key-";
const RECIPIENT_HRP: &str = "age";
/// Plaintext bytes in a full payload chunk.
const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
/// A header longer than this is refused before it is parsed (a real one is a few hundred bytes a
/// recipient).
const MAX_HEADER: usize = 64 * 1024;

/// Why an age file did not open. The text never holds key material or plaintext.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AgeError {
    /// Not an age v1 file, or a malformed header.
    Malformed(&'static str),
    /// No identity opened any recipient stanza.
    NoIdentity,
    /// The header MAC or a payload chunk failed authentication (tampered or truncated).
    Corrupt(&'static str),
}

impl fmt::Display for AgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgeError::Malformed(why) => write!(f, "not a valid age file: {why}"),
            AgeError::NoIdentity => {
                f.write_str("no age identity given matches any recipient of the file")
            }
            AgeError::Corrupt(why) => write!(f, "the age file failed authentication: {why}"),
        }
    }
}

/// An identity: X25519 (`AGE-SECRET-KEY-1…`) or an OpenSSH ed25519 key. Debug prints only its
/// public side.
pub(crate) struct Identity {
    secret: StaticSecret,
    /// Its public key, computed on first need (one X25519, as long as the key agreement): a
    /// stanza opened with the recipient its file names ([`decrypt_for`]) never needs it.
    public: OnceLock<PublicKey>,
    /// For an ssh-ed25519 identity, its key (the stanzas it opens are of that type only).
    ssh: Option<ssh::SshKey>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ssh {
            Some(_) => f.write_str("Identity(ssh-ed25519)"),
            None => write!(f, "Identity({})", self.recipient()),
        }
    }
}

impl Identity {
    /// Parses one `AGE-SECRET-KEY-1…` line; the error never repeats it.
    pub(crate) fn parse(s: &str) -> Result<Identity, String> {
        let (hrp, bytes) = bech32::decode(s.trim())
            .map_err(|why| format!("not an age identity (AGE-SECRET-KEY-1…): {why}"))?;
        let bytes = Zeroizing::new(bytes);
        let raw: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| "an age identity holds 32 bytes".to_string())?;
        if hrp != IDENTITY_HRP {
            return Err("not an age identity (AGE-SECRET-KEY-1…)".into());
        }
        Ok(Identity {
            secret: StaticSecret::from(raw),
            public: OnceLock::new(),
            ssh: None,
        })
    }

    /// Reads an unencrypted OpenSSH ed25519 private key file (`SOPS_AGE_SSH_PRIVATE_KEY_FILE`).
    pub(crate) fn parse_ssh(text: &str) -> Result<Identity, String> {
        let key = ssh::SshKey::parse(text)?;
        Ok(Identity {
            secret: key.secret.clone(),
            public: OnceLock::from(key.public),
            ssh: Some(key),
        })
    }

    /// Every identity of an identity file's text: one a line, blank lines and `#` comments
    /// skipped (as age-keygen writes it); with `words`, several on a line (`SOPS_AGE_KEY`).
    pub(crate) fn parse_all(text: &str, words: bool) -> Result<Vec<Identity>, String> {
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let items: Vec<&str> = if words {
                line.split_whitespace().collect()
            } else {
                vec![line]
            };
            for item in items {
                out.push(Identity::parse(item).map_err(|e| format!("line {}: {e}", n + 1))?);
            }
        }
        Ok(out)
    }

    /// The identity's public recipient, `age1…`.
    pub(crate) fn recipient(&self) -> String {
        bech32::encode(RECIPIENT_HRP, self.public().as_bytes())
    }

    fn public(&self) -> &PublicKey {
        self.public.get_or_init(|| public_of(&self.secret))
    }

    /// The file key in an X25519 stanza, if this identity opens it as `recipient` (its public
    /// key, or the one the file names: a wrong one derives another key, which fails the tag).
    fn unwrap(
        &self,
        share: &[u8; 32],
        body: &[u8],
        recipient: Option<&[u8; 32]>,
    ) -> Option<Zeroizing<[u8; 16]>> {
        if self.ssh.is_some() {
            return None;
        }
        let share_point = PublicKey::from(*share);
        let shared = self.secret.diffie_hellman(&share_point);
        if !shared.was_contributory() {
            return None;
        }
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(share);
        salt[32..].copy_from_slice(recipient.unwrap_or_else(|| self.public().as_bytes()));
        let key = derive(&salt, shared.as_bytes(), X25519_LABEL)?;
        let mut buf = Zeroizing::new(body.to_vec());
        let plain = open(&key, [0u8; 12], &mut buf)?;
        plain.try_into().ok().map(Zeroizing::new)
    }
}

/// The public key of `secret`: X25519 of the base point by the same Montgomery ladder the
/// key agreement runs (x25519-dalek's `PublicKey::from` takes an Edwards-form path instead, as
/// many instructions again and its own code in the binary, for the same bytes).
pub(crate) fn public_of(secret: &StaticSecret) -> PublicKey {
    let u = secret.diffie_hellman(&PublicKey::from(x25519_dalek::X25519_BASEPOINT_BYTES));
    PublicKey::from(*u.as_bytes())
}

/// An X25519 recipient (`age1…`). Only the tests encrypt (against the real `age`), so far.
#[cfg(test)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Recipient([u8; 32]);

#[cfg(test)]
impl Recipient {
    /// Parses `age1…`.
    pub(crate) fn parse(s: &str) -> Result<Recipient, String> {
        let (hrp, bytes) = bech32::decode(s.trim())
            .map_err(|why| format!("not an age recipient (age1…): {why}"))?;
        if hrp != RECIPIENT_HRP {
            return Err("not an age recipient (age1…)".into());
        }
        bytes
            .try_into()
            .map(Recipient)
            .map_err(|_| "an age recipient holds 32 bytes".into())
    }
}

/// HKDF-SHA256 of `ikm` into a 32-byte key.
fn derive(salt: &[u8], ikm: &[u8], info: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    struct Len32;
    impl hkdf::KeyType for Len32 {
        fn len(&self) -> usize {
            32
        }
    }
    let mut out = Zeroizing::new([0u8; 32]);
    hkdf::Salt::new(hkdf::HKDF_SHA256, salt)
        .extract(ikm)
        .expand(&[info], Len32)
        .ok()?
        .fill(out.as_mut())
        .ok()?;
    Some(out)
}

/// Opens `buf` (ciphertext and tag) in place; the plaintext prefix, or `None`.
fn open<'a>(key: &[u8; 32], nonce: [u8; 12], buf: &'a mut [u8]) -> Option<&'a mut [u8]> {
    let key = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, key).ok()?);
    key.open_in_place(Nonce::assume_unique_for_key(nonce), Aad::empty(), buf)
        .ok()
        .map(|p| &mut p[..])
}

#[cfg(test)]
fn seal(key: &[u8; 32], nonce: [u8; 12], data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    // A 32-byte key and a 12-byte nonce are what CHACHA20_POLY1305 takes; sealing cannot fail.
    if let Ok(k) = UnboundKey::new(&CHACHA20_POLY1305, key) {
        let _ = LessSafeKey::new(k).seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut out,
        );
    }
    out
}

fn chunk_nonce(counter: u64, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = u8::from(last);
    n
}

/// A parsed header: the X25519 stanzas' shares and bodies, the MAC and where the payload starts.
struct Header<'a> {
    x25519: Vec<([u8; 32], Vec<u8>)>,
    /// ssh-ed25519 stanzas: the key's tag, the share, the body.
    ssh: Vec<(Vec<u8>, [u8; 32], Vec<u8>)>,
    /// The header bytes the MAC covers (through `---`).
    covered: &'a [u8],
    mac: Vec<u8>,
    payload_at: usize,
}

fn parse_header(file: &[u8]) -> Result<Header<'_>, AgeError> {
    let bad = AgeError::Malformed;
    if !file.starts_with(INTRO) {
        return Err(bad("no age-encryption.org/v1 header"));
    }
    let mut at = INTRO.len();
    let line = |at: &mut usize| -> Result<&[u8], AgeError> {
        let rest = &file[*at..];
        let end = rest
            .iter()
            .take(MAX_HEADER)
            .position(|&b| b == b'\n')
            .ok_or(bad("header line without an end"))?;
        *at += end + 1;
        Ok(&rest[..end])
    };
    let mut x25519 = Vec::new();
    let mut ssh = Vec::new();
    loop {
        if at > MAX_HEADER {
            return Err(bad("header too large"));
        }
        let start = at;
        let l = line(&mut at)?;
        if let Some(mac) = l.strip_prefix(b"--- ") {
            let mac = STANDARD_NO_PAD
                .decode(mac)
                .map_err(|_| bad("header MAC is not base64"))?;
            return Ok(Header {
                x25519,
                ssh,
                covered: &file[..start + 3],
                mac,
                payload_at: at,
            });
        }
        let args = l
            .strip_prefix(b"-> ")
            .ok_or(bad("expected a stanza or ---"))?;
        let args: Vec<&[u8]> = args.split(|&b| b == b' ').collect();
        if args
            .iter()
            .any(|a| a.is_empty() || a.iter().any(|b| !(33..=126).contains(b)))
        {
            return Err(bad("malformed stanza arguments"));
        }
        let mut body = Vec::new();
        loop {
            let l = line(&mut at)?;
            if l.len() > 64 {
                return Err(bad("stanza body line longer than 64 columns"));
            }
            body.extend(
                STANDARD_NO_PAD
                    .decode(l)
                    .map_err(|_| bad("stanza body is not base64"))?,
            );
            if l.len() < 64 {
                break;
            }
        }
        if args[0] == b"X25519" {
            let share = match args.as_slice() {
                [_, share] => STANDARD_NO_PAD.decode(share).ok(),
                _ => None,
            };
            let share: [u8; 32] = share
                .and_then(|s| s.try_into().ok())
                .ok_or(bad("malformed X25519 stanza"))?;
            if body.len() != 32 {
                return Err(bad("malformed X25519 stanza"));
            }
            x25519.push((share, body));
        } else if args[0] == b"ssh-ed25519" {
            let parsed = match args.as_slice() {
                [_, tag, share] => STANDARD_NO_PAD
                    .decode(tag)
                    .ok()
                    .zip(STANDARD_NO_PAD.decode(share).ok()),
                _ => None,
            };
            let (tag, share) = parsed
                .and_then(|(t, s)| Some((t, <[u8; 32]>::try_from(s).ok()?)))
                .filter(|(t, _)| t.len() == 4 && body.len() == 32)
                .ok_or(bad("malformed ssh-ed25519 stanza"))?;
            ssh.push((tag, share, body));
        }
    }
}

/// Decrypts an age file (binary or armored) with the first identity that opens a stanza.
pub(crate) fn decrypt(
    file: &[u8],
    identities: &[Identity],
) -> Result<Zeroizing<Vec<u8>>, AgeError> {
    decrypt_for(file, identities, None)
}

/// [`decrypt`] of a file said to be for `recipient` (`age1…`, as a SOPS file names each age
/// key's): its stanzas are tried first with that public key in the key derivation, which spares
/// computing each identity's own (an X25519 each). The stanza's tag decides, so a recipient that
/// is not the identity's (a wrong or edited name) opens nothing, and the identities' own keys
/// are tried next, as [`decrypt`] does: the outcome is the same, only faster for a true name.
pub(crate) fn decrypt_for(
    file: &[u8],
    identities: &[Identity],
    recipient: Option<&str>,
) -> Result<Zeroizing<Vec<u8>>, AgeError> {
    let dearmored;
    let file = if armor::is_armored(file) {
        dearmored = armor::decode(file)?;
        dearmored.as_slice()
    } else {
        file
    };
    let header = parse_header(file)?;
    let named: Option<[u8; 32]> = recipient.and_then(|r| match bech32::decode(r.trim()) {
        Ok((hrp, bytes)) if hrp == RECIPIENT_HRP => bytes.try_into().ok(),
        _ => None,
    });
    let x25519 = |as_named: bool| {
        header.x25519.iter().find_map(|(share, body)| {
            identities.iter().find_map(|id| match (as_named, &named) {
                (true, Some(pk)) => id.unwrap(share, body, Some(pk)),
                (true, None) => None,
                (false, _) => id.unwrap(share, body, None),
            })
        })
    };
    let file_key = x25519(true)
        .or_else(|| x25519(false))
        .or_else(|| {
            header.ssh.iter().find_map(|(tag, share, body)| {
                identities
                    .iter()
                    .find_map(|id| id.ssh.as_ref()?.unwrap(tag, share, body))
            })
        })
        .ok_or(AgeError::NoIdentity)?;
    let mac_key = derive(&[], file_key.as_ref(), b"header").ok_or(AgeError::Corrupt("key"))?;
    hmac::verify(
        &hmac::Key::new(hmac::HMAC_SHA256, mac_key.as_ref()),
        header.covered,
        &header.mac,
    )
    .map_err(|_| AgeError::Corrupt("header MAC mismatch"))?;
    let payload = &file[header.payload_at..];
    let (nonce, mut chunks) = payload
        .split_at_checked(16)
        .ok_or(AgeError::Corrupt("payload truncated"))?;
    let key = derive(nonce, file_key.as_ref(), b"payload").ok_or(AgeError::Corrupt("key"))?;
    let mut out = Zeroizing::new(Vec::with_capacity(chunks.len()));
    let mut counter = 0u64;
    loop {
        let take = chunks.len().min(CHUNK + TAG);
        let last = take == chunks.len();
        let (chunk, rest) = chunks.split_at(take);
        if chunk.len() < TAG || (last && chunk.len() == TAG && counter > 0) {
            return Err(AgeError::Corrupt("payload truncated"));
        }
        let mut buf = Zeroizing::new(chunk.to_vec());
        let plain = open(&key, chunk_nonce(counter, last), &mut buf)
            .ok_or(AgeError::Corrupt("payload chunk failed authentication"))?;
        out.extend_from_slice(plain);
        if last {
            return Ok(out);
        }
        chunks = rest;
        counter += 1;
    }
}

#[cfg(test)]
/// Encrypts `plain` to `recipients` as a binary age file (ring's system random source for the
/// file key, the ephemeral share and the payload nonce).
pub(crate) fn encrypt(plain: &[u8], recipients: &[Recipient]) -> Result<Vec<u8>, String> {
    use ring::rand::{SecureRandom, SystemRandom};
    let rng = SystemRandom::new();
    let random = |n: usize| -> Result<Zeroizing<Vec<u8>>, String> {
        let mut b = Zeroizing::new(vec![0u8; n]);
        rng.fill(&mut b)
            .map_err(|_| "no system randomness".to_string())?;
        Ok(b)
    };
    let file_key = random(16)?;
    let mut out = INTRO.to_vec();
    for r in recipients {
        let eph: [u8; 32] = random(32)?.as_slice().try_into().unwrap_or([0; 32]);
        let eph = StaticSecret::from(eph);
        let share = public_of(&eph);
        let shared = eph.diffie_hellman(&PublicKey::from(r.0));
        if !shared.was_contributory() {
            return Err("age recipient is a low-order point".into());
        }
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(share.as_bytes());
        salt[32..].copy_from_slice(&r.0);
        let key = derive(&salt, shared.as_bytes(), X25519_LABEL).ok_or("hkdf")?;
        let body = seal(&key, [0u8; 12], &file_key);
        out.extend_from_slice(b"-> X25519 ");
        out.extend_from_slice(STANDARD_NO_PAD.encode(share.as_bytes()).as_bytes());
        out.push(b'\n');
        // A 32-byte body is 43 base64 columns: one short line.
        out.extend_from_slice(STANDARD_NO_PAD.encode(body).as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"---");
    let mac_key = derive(&[], &file_key, b"header").ok_or("hkdf")?;
    let mac = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, mac_key.as_ref()), &out);
    out.push(b' ');
    out.extend_from_slice(STANDARD_NO_PAD.encode(mac.as_ref()).as_bytes());
    out.push(b'\n');
    let nonce = random(16)?;
    out.extend_from_slice(&nonce);
    let key = derive(&nonce, &file_key, b"payload").ok_or("hkdf")?;
    let mut chunks = plain.chunks(CHUNK).peekable();
    let mut counter = 0u64;
    if plain.is_empty() {
        out.extend(seal(&key, chunk_nonce(0, true), &[]));
    }
    while let Some(c) = chunks.next() {
        let last = chunks.peek().is_none();
        out.extend(seal(&key, chunk_nonce(counter, last), c));
        counter += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity::parse(&bech32::encode(IDENTITY_HRP, &[7u8; 32]).to_ascii_uppercase())
            .expect("identity")
    }

    #[test]
    fn the_ladders_public_key_is_x25519_dalek_s() {
        for seed in [
            [0u8; 32],
            [0xff; 32],
            [7; 32],
            *b"0123456789abcdef0123456789abcdef",
        ] {
            let secret = StaticSecret::from(seed);
            assert_eq!(
                public_of(&secret).as_bytes(),
                PublicKey::from(&secret).as_bytes()
            );
        }
    }

    #[test]
    fn a_named_recipient_only_speeds_up_what_opens() {
        let id = identity();
        let mine = id.recipient();
        let file = encrypt(b"v", &[Recipient::parse(&mine).expect("r")]).expect("encrypt");
        let fresh = || vec![identity()];
        // Named truly: opens without computing the identity's public key.
        let ids = fresh();
        assert_eq!(
            decrypt_for(&file, &ids, Some(&mine))
                .expect("open")
                .as_slice(),
            b"v"
        );
        assert!(ids[0].public.get().is_none(), "the public key was computed");
        // Named wrongly (another key, or not a recipient at all): the identity's own key opens it.
        let other = Identity::parse(&bech32::encode(IDENTITY_HRP, &[8u8; 32])).expect("id");
        for named in [other.recipient().as_str(), "age1nope", ""] {
            let plain = decrypt_for(&file, &fresh(), Some(named)).expect("open");
            assert_eq!(plain.as_slice(), b"v");
        }
        // Another identity opens nothing, whatever the file says it is for.
        let err = decrypt_for(&file, &[other], Some(&mine)).expect_err("wrong identity");
        assert_eq!(err, AgeError::NoIdentity);
    }

    #[test]
    fn round_trips_at_chunk_boundaries() {
        let id = identity();
        let r = Recipient::parse(&id.recipient()).expect("recipient");
        for n in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK] {
            let plain: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            let file = encrypt(&plain, std::slice::from_ref(&r)).expect("encrypt");
            assert_eq!(
                decrypt(&file, &[identity()]).expect("decrypt").as_slice(),
                plain,
                "{n}"
            );
            let armored = armor::encode(&file);
            assert_eq!(
                decrypt(armored.as_bytes(), &[identity()])
                    .expect("armored")
                    .as_slice(),
                plain
            );
            if n > 0 {
                let cut = &file[..file.len() - 1];
                assert!(
                    matches!(decrypt(cut, &[identity()]), Err(AgeError::Corrupt(_))),
                    "{n}"
                );
            }
        }
    }

    /// Our encryption, decrypted by the real `age` (Debian's, installed by scripts/setup): the
    /// other way round is tests/sops.rs. The identity comes from `age-keygen`.
    #[test]
    fn the_real_age_decrypts_what_we_encrypt() {
        let dir = tempfile::tempdir().expect("tmp");
        let keys = dir.path().join("keys.txt");
        let ok = std::process::Command::new("age-keygen")
            .arg("-o")
            .arg(&keys)
            .output()
            .expect("age-keygen (Debian package age) is installed by scripts/setup");
        assert!(ok.status.success());
        let text = std::fs::read_to_string(&keys).expect("keys");
        let id = Identity::parse_all(&text, false)
            .expect("identity")
            .remove(0);
        let r = Recipient::parse(&id.recipient()).expect("recipient");
        let public = std::process::Command::new("age-keygen")
            .arg("-y")
            .arg(&keys)
            .output()
            .expect("age-keygen -y");
        assert_eq!(
            String::from_utf8_lossy(&public.stdout).trim(),
            id.recipient()
        );
        for (n, armored) in [(0, false), (CHUNK, true), (3 * CHUNK + 7, false)] {
            let plain: Vec<u8> = (0..n).map(|i| (i % 253) as u8).collect();
            let file = encrypt(&plain, std::slice::from_ref(&r)).expect("encrypt");
            let file = if armored {
                armor::encode(&file).into_bytes()
            } else {
                file
            };
            let path = dir.path().join("f.age");
            std::fs::write(&path, &file).expect("write");
            let out = std::process::Command::new("age")
                .arg("-d")
                .arg("-i")
                .arg(&keys)
                .arg(&path)
                .output()
                .expect("age");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(out.stdout, plain, "{n} bytes");
        }
    }

    #[test]
    fn every_flipped_bit_of_a_small_file_fails() {
        let id = identity();
        let r = Recipient::parse(&id.recipient()).expect("recipient");
        let file = encrypt(b"canary-age-value", &[r]).expect("encrypt");
        for i in 0..file.len() {
            for bit in [0x01u8, 0x80] {
                let mut f = file.clone();
                f[i] ^= bit;
                assert!(decrypt(&f, &[identity()]).is_err(), "byte {i} bit {bit:#x}");
            }
        }
        let other = Identity::parse(&bech32::encode(IDENTITY_HRP, &[8u8; 32])).expect("id");
        assert_eq!(
            decrypt(&file, &[other]).expect_err("wrong"),
            AgeError::NoIdentity
        );
    }

    #[test]
    fn identity_errors_do_not_echo_the_key() {
        let key = bech32::encode(IDENTITY_HRP, &[9u8; 32]).to_ascii_uppercase();
        let mut broken = key.clone();
        broken.pop();
        broken.push('Q');
        let e = Identity::parse(&broken).expect_err("checksum");
        assert!(!e.contains(&key[20..40]), "{e}");
        assert!(format!("{:?}", identity()).starts_with("Identity(age1"));
    }
}

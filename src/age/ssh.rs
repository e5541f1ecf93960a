//! ssh-ed25519 identities (age's `agessh`): an unencrypted OpenSSH Ed25519 private key opens
//! `-> ssh-ed25519 TAG SHARE` stanzas. Its X25519 scalar is the first half of SHA-512 of the
//! Ed25519 seed (X25519 clamps it), and its public key is that scalar times the base point (the
//! Montgomery form of the Ed25519 public key); the shared secret is tweaked by a scalar derived
//! from the SSH public key, so a stanza is bound to that SSH key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::digest;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

const LABEL: &[u8] = b"age-encryption.org/v1/ssh-ed25519";
const BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const END: &str = "-----END OPENSSH PRIVATE KEY-----";

/// The parts of an ssh-ed25519 identity.
pub(crate) struct SshKey {
    pub(crate) secret: StaticSecret,
    pub(crate) public: PublicKey,
    /// The SSH public key blob (`string "ssh-ed25519" || string key`).
    blob: Vec<u8>,
    /// The first 4 bytes of SHA-256 of the blob: a stanza's first argument.
    tag: [u8; 4],
}

/// Reads one SSH wire `string` (a u32 length and the bytes) from the front of `b`.
fn string<'a>(b: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (len, rest) = b.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    let (s, rest) = rest.split_at_checked(len)?;
    *b = rest;
    Some(s)
}

impl SshKey {
    /// Parses an OpenSSH private key file holding one unencrypted Ed25519 key; the error never
    /// holds key material.
    pub(crate) fn parse(text: &str) -> Result<SshKey, String> {
        let bad = |why: &str| format!("not an unencrypted OpenSSH ed25519 private key: {why}");
        let body = text
            .trim()
            .strip_prefix(BEGIN)
            .and_then(|t| t.strip_suffix(END))
            .ok_or_else(|| bad("no OPENSSH PRIVATE KEY armor"))?;
        let b64: String = body.split_whitespace().collect();
        let raw = Zeroizing::new(STANDARD.decode(b64).map_err(|_| bad("not base64"))?);
        let mut b = raw
            .strip_prefix(b"openssh-key-v1\0".as_slice())
            .ok_or_else(|| bad("not openssh-key-v1"))?;
        let cipher = string(&mut b).ok_or_else(|| bad("truncated"))?;
        let kdf = string(&mut b).ok_or_else(|| bad("truncated"))?;
        let _kdf_options = string(&mut b).ok_or_else(|| bad("truncated"))?;
        if cipher != b"none" || kdf != b"none" {
            return Err(bad("it is passphrase-protected"));
        }
        let (n, rest) = b.split_first_chunk::<4>().ok_or_else(|| bad("truncated"))?;
        b = rest;
        if u32::from_be_bytes(*n) != 1 {
            return Err(bad("it holds more than one key"));
        }
        let blob = string(&mut b).ok_or_else(|| bad("truncated"))?.to_vec();
        let mut private = string(&mut b).ok_or_else(|| bad("truncated"))?;
        let (check1, rest) = private
            .split_first_chunk::<4>()
            .ok_or_else(|| bad("truncated"))?;
        let (check2, rest) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| bad("truncated"))?;
        private = rest;
        if check1 != check2 {
            return Err(bad("its check bytes differ"));
        }
        if string(&mut private) != Some(b"ssh-ed25519".as_slice()) {
            return Err(bad("not an ed25519 key"));
        }
        let public = string(&mut private).ok_or_else(|| bad("truncated"))?;
        let keypair = string(&mut private).ok_or_else(|| bad("truncated"))?;
        let mut expect_blob = Vec::with_capacity(51);
        for part in [b"ssh-ed25519".as_slice(), public] {
            expect_blob.extend_from_slice(&u32::try_from(part.len()).unwrap_or(0).to_be_bytes());
            expect_blob.extend_from_slice(part);
        }
        if public.len() != 32
            || keypair.len() != 64
            || keypair[32..] != *public
            || blob != expect_blob
        {
            return Err(bad("malformed key"));
        }
        let hash = digest::digest(&digest::SHA512, &keypair[..32]);
        let mut scalar = Zeroizing::new([0u8; 32]);
        scalar.copy_from_slice(&hash.as_ref()[..32]);
        let secret = StaticSecret::from(*scalar);
        let public = super::public_of(&secret);
        let sum = digest::digest(&digest::SHA256, &blob);
        let mut tag = [0u8; 4];
        tag.copy_from_slice(&sum.as_ref()[..4]);
        Ok(SshKey {
            secret,
            public,
            blob,
            tag,
        })
    }

    /// The file key in an ssh-ed25519 stanza, if this key opens it.
    pub(crate) fn unwrap(
        &self,
        tag: &[u8],
        share: &[u8; 32],
        body: &[u8],
    ) -> Option<Zeroizing<[u8; 16]>> {
        if tag != self.tag {
            return None;
        }
        let shared = self.secret.diffie_hellman(&PublicKey::from(*share));
        if !shared.was_contributory() {
            return None;
        }
        let tweak = super::derive(&self.blob, &[], LABEL)?;
        let tweaked =
            StaticSecret::from(*tweak).diffie_hellman(&PublicKey::from(shared.to_bytes()));
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(share);
        salt[32..].copy_from_slice(self.public.as_bytes());
        let key = super::derive(&salt, tweaked.as_bytes(), LABEL)?;
        let mut buf = Zeroizing::new(body.to_vec());
        let plain = super::open(&key, [0u8; 12], &mut buf)?;
        plain.try_into().ok().map(Zeroizing::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_no_key_material() {
        let body = STANDARD.encode(b"openssh-key-v1\0\0\0\0\x0aaes256-ctr\0\0\0\x06bcrypt\0\0\0\0");
        let locked = format!("{BEGIN}\n{body}\n{END}\n");
        let e = SshKey::parse(&locked).err().expect("encrypted");
        assert!(e.contains("passphrase-protected"), "{e}");
        for bad in [
            "",
            "ssh-ed25519 AAAA",
            &format!("{BEGIN}\n!!\n{END}"),
            &format!("{BEGIN}\n{END}"),
        ] {
            let e = SshKey::parse(bad).err().expect("refused");
            assert!(!e.contains("AAAA") && !e.contains("!!"), "{e}");
        }
    }
}

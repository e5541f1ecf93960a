//! One SOPS value: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` (aes/cipher.go in sops), AES-256-GCM
//! under the file's data key with a 32-byte IV, the value's path (`a:b:c:`) as associated data,
//! and the Go type it had. The plaintext is produced into a buffer that is wiped, and dropped on a
//! failed tag.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::aead::consts::U32;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::{AesGcm, KeyInit, aes::Aes256};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::tree::{Node, Scalar};

type Cipher = AesGcm<Aes256, U32>;

/// A file's data key, its AES key schedule expanded once for all of the file's values.
pub(crate) struct DataKey(Cipher);

impl DataKey {
    /// The cipher of a 32-byte data key.
    pub(crate) fn new(key: &[u8; 32]) -> DataKey {
        DataKey(Cipher::new(GenericArray::from_slice(key)))
    }
}

/// `N` bytes of standard base64, exactly.
fn b64_array<const N: usize>(s: &str) -> Result<[u8; N], &'static str> {
    // Room for what a longer input decodes to, so that a wrong length is an error, not a panic.
    let mut out = [0u8; 48];
    match STANDARD.decode_slice(s, &mut out) {
        Ok(n) if n == N => {
            let mut a = [0u8; N];
            a.copy_from_slice(&out[..N]);
            Ok(a)
        }
        _ => Err("a malformed encrypted value"),
    }
}

/// Decrypts `value` at `path` into the scalar it was (a `comment` into [`Node::Comment`]); an
/// empty string stays empty, as sops leaves it. The error never holds the value.
pub(crate) fn decrypt(value: &str, key: &DataKey, path: &str) -> Result<Node, &'static str> {
    if value.is_empty() {
        return Ok(Node::Scalar(Scalar::str("")));
    }
    let inner = value
        .strip_prefix("ENC[AES256_GCM,")
        .and_then(|v| v.strip_suffix(']'))
        .ok_or("a value that should be encrypted is not")?;
    let mut fields = [None; 4];
    for part in inner.split(',') {
        let (name, v) = part.split_once(':').ok_or("a malformed encrypted value")?;
        let slot = match name {
            "data" => 0,
            "iv" => 1,
            "tag" => 2,
            "type" => 3,
            _ => return Err("a malformed encrypted value"),
        };
        if fields[slot].replace(v).is_some() {
            return Err("a malformed encrypted value");
        }
    }
    let [Some(data), Some(iv), Some(tag), Some(kind)] = fields else {
        return Err("a malformed encrypted value");
    };
    let iv: [u8; 32] = b64_array(iv)?;
    let tag: [u8; 16] = b64_array(tag)?;
    let mut buf = Zeroizing::new(vec![0u8; data.len().div_ceil(4) * 3]);
    let n = STANDARD
        .decode_slice(data, buf.as_mut_slice())
        .map_err(|_| "a malformed encrypted value")?;
    buf.truncate(n);
    key.0
        .decrypt_in_place_detached(
            GenericArray::from_slice(&iv),
            path.as_bytes(),
            buf.as_mut_slice(),
            GenericArray::from_slice(&tag),
        )
        .map_err(|_| "a value failed authentication (tampered, moved, or another data key)")?;
    if matches!(kind, "str" | "bytes" | "time") {
        // The plaintext's own buffer becomes the string: no copy of it is left unwiped.
        return match String::from_utf8(std::mem::take(&mut *buf)) {
            Ok(s) => Ok(Node::Scalar(Scalar::Str(Zeroizing::new(s)))),
            Err(e) if kind != "time" => {
                Ok(Node::Scalar(Scalar::Bytes(Zeroizing::new(e.into_bytes()))))
            }
            Err(e) => {
                drop(Zeroizing::new(e.into_bytes()));
                Err("a decrypted time is not text")
            }
        };
    }
    let text = std::str::from_utf8(&buf);
    let t = |what: &'static str| text.map_err(|_| what);
    Ok(match kind {
        "int" => Node::Scalar(Scalar::Int(
            t("a decrypted int is not an integer")?
                .parse()
                .map_err(|_| "a decrypted int is not an integer")?,
        )),
        "float" => Node::Scalar(Scalar::Float(
            t("a decrypted float is not a number")?
                .parse()
                .map_err(|_| "a decrypted float is not a number")?,
        )),
        "bool" => Node::Scalar(Scalar::Bool(match t("not a boolean")? {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => true,
            "0" | "f" | "F" | "FALSE" | "false" | "False" => false,
            _ => return Err("a decrypted bool is not a boolean"),
        })),
        "comment" => Node::Comment(t("a decrypted comment is not text")?.to_string()),
        _ => return Err("an encrypted value of an unknown type"),
    })
}

/// Encrypts `plain` (tests build tampered files with it).
#[cfg(test)]
pub(crate) fn encrypt(
    plain: &[u8],
    kind: &str,
    key: &[u8; 32],
    path: &str,
    iv: [u8; 32],
) -> String {
    let cipher = Cipher::new(GenericArray::from_slice(key));
    let mut buf = plain.to_vec();
    let tag = cipher
        .encrypt_in_place_detached(GenericArray::from_slice(&iv), path.as_bytes(), &mut buf)
        .expect("encrypt");
    format!(
        "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{kind}]",
        STANDARD.encode(&buf),
        STANDARD.encode(iv),
        STANDARD.encode(tag)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bound_to_its_path() {
        let raw = [3u8; 32];
        let key = DataKey::new(&raw);
        let enc = encrypt(b"493", "int", &raw, "a:b:", [1; 32]);
        assert_eq!(
            decrypt(&enc, &key, "a:b:").expect("open"),
            Node::Scalar(Scalar::Int(493))
        );
        assert!(decrypt(&enc, &key, "a:c:").is_err());
        assert!(decrypt(&enc, &DataKey::new(&[4u8; 32]), "a:b:").is_err());
        assert!(decrypt("ENC[AES256_GCM,data:x]", &key, "a:").is_err());
        assert!(decrypt("plain", &key, "a:").is_err());
        let text = encrypt("é x".as_bytes(), "str", &raw, "a:", [2; 32]);
        assert_eq!(
            decrypt(&text, &key, "a:").expect("open"),
            Node::Scalar(Scalar::str("é x"))
        );
        let bytes = encrypt(&[0xff, 0], "str", &raw, "a:", [2; 32]);
        assert_eq!(
            decrypt(&bytes, &key, "a:").expect("open"),
            Node::Scalar(Scalar::Bytes(Zeroizing::new(vec![0xff, 0])))
        );
        assert!(decrypt(&encrypt(&[0xff], "time", &raw, "a:", [2; 32]), &key, "a:").is_err());
        // An IV or a tag of another length is malformed, never a panic.
        let short_iv = encrypt(b"x", "str", &raw, "a:", [1; 32])
            .replace(&STANDARD.encode([1u8; 32]), &STANDARD.encode([1u8; 12]));
        assert!(decrypt(&short_iv, &key, "a:").is_err());
        let long_iv = encrypt(b"x", "str", &raw, "a:", [1; 32])
            .replace(&STANDARD.encode([1u8; 32]), &STANDARD.encode([1u8; 200]));
        assert!(decrypt(&long_iv, &key, "a:").is_err());
    }
}

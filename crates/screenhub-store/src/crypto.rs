//! Encryption at rest: AES-256-GCM for secrets, ATS keys and candidate PII, and
//! a keyed hash so PII can be searched (by exact email) without being stored.

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::sync::Arc;

use crate::{StoreError, StoreResult};

/// Format version of a sealed value: `[VERSION, nonce (12), ciphertext+tag]`.
const VERSION: u8 = 1;

/// The 32-byte master key every secret in the database is sealed with.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    pub fn generate() -> Self {
        Self(Aes256Gcm::generate_key(OsRng).into())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parse a base64 master key (as written in the key file or config).
    pub fn from_base64(s: &str) -> Result<Self, String> {
        let raw = STANDARD
            .decode(s.trim())
            .map_err(|_| "the master key is not valid base64".to_string())?;
        let bytes: [u8; 32] = raw
            .try_into()
            .map_err(|_| "the master key must be 32 bytes (44 characters of base64)".to_string())?;
        Ok(Self(bytes))
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

#[derive(Clone)]
pub struct Cipher(Arc<CipherInner>);

struct CipherInner {
    aead: Aes256Gcm,
    /// HMAC already keyed with the index key: each hash clones it rather than
    /// hashing the key's two padded blocks again (about half of a short value's cost).
    index_mac: Hmac<Sha256>,
}

impl Cipher {
    pub fn new(key: &MasterKey) -> Self {
        // A separate key for the search index, so index hashes reveal nothing
        // about the encryption key.
        let index_key: [u8; 32] = Sha256::new()
            .chain_update(b"screenhub/search-index/v1")
            .chain_update(key.0)
            .finalize()
            .into();
        Self(Arc::new(CipherInner {
            aead: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key.0)),
            index_mac: <Hmac<Sha256> as Mac>::new_from_slice(&index_key)
                .expect("HMAC takes a key of any length"),
        }))
    }

    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .0
            .aead
            .encrypt(&nonce, plaintext)
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(1 + nonce.len() + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    pub fn open(&self, sealed: &[u8]) -> StoreResult<Vec<u8>> {
        if sealed.len() < 13 || sealed[0] != VERSION {
            return Err(StoreError::Decrypt);
        }
        let (nonce, ciphertext) = sealed[1..].split_at(12);
        self.0
            .aead
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| StoreError::Decrypt)
    }

    pub fn seal_str(&self, s: &str) -> Vec<u8> {
        self.seal(s.as_bytes())
    }

    pub fn open_string(&self, sealed: &[u8]) -> StoreResult<String> {
        String::from_utf8(self.open(sealed)?).map_err(|_| StoreError::Decrypt)
    }

    /// A keyed hash for exact-match search of a value that is stored encrypted.
    pub fn index_hash(&self, value: &str) -> Vec<u8> {
        let mut mac = self.0.index_mac.clone();
        mac.update(value.trim().to_lowercase().as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open() {
        let c = Cipher::new(&MasterKey::generate());
        let sealed = c.seal_str("whsec_secret");
        assert!(!sealed.windows(6).any(|w| w == b"whsec_"));
        assert_eq!(c.open_string(&sealed).unwrap(), "whsec_secret");
        let other = Cipher::new(&MasterKey::generate());
        assert!(matches!(other.open(&sealed), Err(StoreError::Decrypt)));
        assert_eq!(c.index_hash("A@x.com "), c.index_hash("a@x.com"));
    }

    /// The index hashes already stored must still match: HMAC-SHA256 under the
    /// derived index key, whichever way the keyed state is prepared.
    #[test]
    fn index_hash_is_unchanged_hmac_of_the_normalised_value() {
        let key = MasterKey::from_bytes([7; 32]);
        let index_key = Sha256::new()
            .chain_update(b"screenhub/search-index/v1")
            .chain_update(key.0)
            .finalize();
        let mut expected = <Hmac<Sha256> as Mac>::new_from_slice(&index_key).unwrap();
        expected.update(b"ada@example.com");
        let expected = expected.finalize().into_bytes().to_vec();
        let cipher = Cipher::new(&key);
        assert_eq!(cipher.index_hash(" Ada@Example.com"), expected);
        assert_eq!(cipher.index_hash("ada@example.com"), expected);
    }

    #[test]
    fn master_key_base64() {
        let k = MasterKey::generate();
        assert_eq!(MasterKey::from_base64(&k.to_base64()).unwrap().0, k.0);
        assert!(MasterKey::from_base64("short").is_err());
    }
}

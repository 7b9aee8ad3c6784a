//! Payload encryption: every workflow and activity payload (inputs, results, heartbeat details,
//! signals, queries, memos) is sealed with AES-256-GCM before it leaves the process, so member
//! ids and amounts never sit in clear in Temporal's history (ADR 23).
//!
//! Keys come from `ACME_PAYLOAD_KEYS`: a comma-separated list of `key-id:base64(32 bytes)`. The
//! first key encrypts; every listed key decrypts, which is how a key is rotated (put the new key
//! first, keep the old ones until the namespace's retention has passed). Each sealed payload
//! names its key in its metadata (`encryption-key-id`), with the metadata conventions of
//! Temporal's own encryption samples, so a codec endpoint in any language can open it.
//!
//! A payload without our encoding passes through unchanged when decoding: histories recorded
//! before encryption was switched on (the replay net's among them) still decode.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload as Aad};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::FutureExt as _;
use futures::future::BoxFuture;
use prost::Message as _;
use temporalio_common::data_converters::{
    DataConverter, PayloadCodec, PayloadConversionError, PayloadConverter, SerializationContextData,
};
use temporalio_common::protos::temporal::api::common::v1::Payload;

/// The environment variable holding the keys.
pub const KEYS_VAR: &str = "ACME_PAYLOAD_KEYS";

/// The `encoding` of a sealed payload.
pub const ENCRYPTED_ENCODING: &[u8] = b"binary/encrypted";
const ENCODING_KEY: &str = "encoding";
const KEY_ID_KEY: &str = "encryption-key-id";
const CIPHER_KEY: &str = "encryption-cipher";
const CIPHER: &[u8] = b"AES256-GCM";
const NONCE_LEN: usize = 12;
const KEY_LEN: usize = 32;
const MAX_KEY_ID_LEN: usize = 64;

/// Why the keys could not be read or a payload could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("{KEYS_VAR} is set but lists no key; expected `key-id:base64-of-32-bytes[,…]`")]
    NoKeys,
    #[error("{KEYS_VAR}: entry {position} is not `key-id:base64-of-32-bytes`")]
    Malformed { position: usize },
    #[error(
        "{KEYS_VAR}: key id {id:?} must be 1 to {MAX_KEY_ID_LEN} characters of letters, digits, '-', '_' or '.'"
    )]
    BadKeyId { id: String },
    #[error("{KEYS_VAR}: key {id:?} is not base64 of exactly {KEY_LEN} bytes")]
    BadKey { id: String },
    #[error("{KEYS_VAR}: key id {id:?} is listed twice")]
    DuplicateKeyId { id: String },
    #[error("a payload is sealed with key {id:?}, which {KEYS_VAR} does not hold")]
    UnknownKey { id: String },
    #[error(
        "a sealed payload (key {id:?}) does not open: it was altered, or the key is not the one it was sealed with"
    )]
    DoesNotOpen { id: String },
    #[error("a sealed payload is malformed: {0}")]
    MalformedPayload(&'static str),
}

/// The payload keys: the one that seals, and every one that may open.
#[derive(Clone)]
pub struct PayloadKeys {
    active: String,
    ciphers: Arc<HashMap<String, Aes256Gcm>>,
    /// Per key id, the key that makes member pseudonyms (derived, never the sealing key).
    pseudonym_keys: Arc<Vec<(String, [u8; 32])>>,
}

impl fmt::Debug for PayloadKeys {
    // Never print key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&String> = self.ciphers.keys().collect();
        ids.sort();
        f.debug_struct("PayloadKeys")
            .field("active", &self.active)
            .field("ids", &ids)
            .finish()
    }
}

impl PayloadKeys {
    /// Reads `ACME_PAYLOAD_KEYS`; `None` when it is unset or empty (payloads travel in clear,
    /// as on a developer's machine without keys).
    pub fn from_env() -> Result<Option<Self>, CodecError> {
        match std::env::var(KEYS_VAR) {
            Ok(value) if !value.trim().is_empty() => Self::parse(&value).map(Some),
            _ => Ok(None),
        }
    }

    /// Parses `key-id:base64[,key-id:base64…]`; the first key seals.
    pub fn parse(value: &str) -> Result<Self, CodecError> {
        let mut active = None;
        let mut ciphers = HashMap::new();
        let mut pseudonym_keys = Vec::new();
        for (position, entry) in value.split(',').map(str::trim).enumerate() {
            let position = position + 1;
            let (id, key) = entry
                .split_once(':')
                .ok_or(CodecError::Malformed { position })?;
            let id = id.trim();
            let valid_id = !id.is_empty()
                && id.len() <= MAX_KEY_ID_LEN
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid_id {
                return Err(CodecError::BadKeyId { id: id.to_owned() });
            }
            let bytes = BASE64
                .decode(key.trim())
                .ok()
                .filter(|bytes| bytes.len() == KEY_LEN)
                .ok_or_else(|| CodecError::BadKey { id: id.to_owned() })?;
            let cipher = Aes256Gcm::new_from_slice(&bytes)
                .map_err(|_| CodecError::BadKey { id: id.to_owned() })?;
            if ciphers.insert(id.to_owned(), cipher).is_some() {
                return Err(CodecError::DuplicateKeyId { id: id.to_owned() });
            }
            pseudonym_keys.push((id.to_owned(), keyed_hash(&bytes, b"acme-member-pseudonym")));
            active.get_or_insert_with(|| id.to_owned());
        }
        Ok(Self {
            active: active.ok_or(CodecError::NoKeys)?,
            ciphers: Arc::new(ciphers),
            pseudonym_keys: Arc::new(pseudonym_keys),
        })
    }

    /// What a run's member search attribute holds instead of the member id while payloads are
    /// sealed: a keyed hash, so runs stay findable by member (`acme list --member`) without
    /// the id sitting in clear in Temporal. Made with the active key.
    pub fn member_pseudonym(&self, member_id: &str) -> String {
        self.member_pseudonyms(member_id)
            .into_iter()
            .next()
            .unwrap_or_default()
    }

    /// The member's pseudonym under every key held, the active key's first: runs started
    /// before a rotation carry an older key's.
    pub fn member_pseudonyms(&self, member_id: &str) -> Vec<String> {
        self.pseudonym_keys
            .iter()
            .map(|(id, key)| {
                let hash = keyed_hash(key, member_id.as_bytes());
                format!("{id}.{}", hex::encode(&hash[..16]))
            })
            .collect()
    }

    /// A fresh random key in the `ACME_PAYLOAD_KEYS` format, for `id`.
    pub fn generate(id: &str) -> String {
        let key: [u8; KEY_LEN] = rand::random();
        format!("{id}:{}", BASE64.encode(key))
    }

    /// The id of the key that seals.
    pub fn active_id(&self) -> &str {
        &self.active
    }

    /// Seals one payload (its metadata and data) with the active key.
    pub fn seal(&self, payload: &Payload) -> Result<Payload, CodecError> {
        let cipher = self
            .ciphers
            .get(&self.active)
            .ok_or_else(|| CodecError::UnknownKey {
                id: self.active.clone(),
            })?;
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce_bytes),
                Aad {
                    msg: &payload.encode_to_vec(),
                    aad: self.active.as_bytes(),
                },
            )
            .map_err(|_| CodecError::MalformedPayload("cannot be encrypted"))?;
        let mut data = Vec::with_capacity(NONCE_LEN + sealed.len());
        data.extend_from_slice(&nonce_bytes);
        data.extend_from_slice(&sealed);
        Ok(Payload {
            metadata: HashMap::from([
                (ENCODING_KEY.to_owned(), ENCRYPTED_ENCODING.to_vec()),
                (KEY_ID_KEY.to_owned(), self.active.as_bytes().to_vec()),
                (CIPHER_KEY.to_owned(), CIPHER.to_vec()),
            ]),
            data,
            ..Payload::default()
        })
    }

    /// Opens a sealed payload; one that is not sealed is returned as it is.
    pub fn open(&self, payload: Payload) -> Result<Payload, CodecError> {
        if !is_sealed(&payload) {
            return Ok(payload);
        }
        let id = payload
            .metadata
            .get(KEY_ID_KEY)
            .and_then(|id| std::str::from_utf8(id).ok())
            .ok_or(CodecError::MalformedPayload("it names no key"))?
            .to_owned();
        let cipher = self
            .ciphers
            .get(&id)
            .ok_or_else(|| CodecError::UnknownKey { id: id.clone() })?;
        if payload.data.len() < NONCE_LEN {
            return Err(CodecError::MalformedPayload("it is shorter than its nonce"));
        }
        let (nonce, sealed) = payload.data.split_at(NONCE_LEN);
        let plain = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Aad {
                    msg: sealed,
                    aad: id.as_bytes(),
                },
            )
            .map_err(|_| CodecError::DoesNotOpen { id: id.clone() })?;
        Payload::decode(plain.as_slice())
            .map_err(|_| CodecError::MalformedPayload("its plaintext is not a payload"))
    }
}

/// HMAC-SHA256 of `message` under `key`.
fn keyed_hash(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::Mac as _;
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Opens `payload` with `keys` if it is sealed: for code that reads payloads Temporal hands
/// back raw (a run's description, a history), outside the data converter.
pub fn open(keys: Option<&PayloadKeys>, payload: Payload) -> Result<Payload, CodecError> {
    match keys {
        Some(keys) => keys.open(payload),
        None if is_sealed(&payload) => Err(CodecError::UnknownKey {
            id: String::from_utf8_lossy(
                payload
                    .metadata
                    .get(KEY_ID_KEY)
                    .map_or(&[][..], Vec::as_slice),
            )
            .into_owned(),
        }),
        None => Ok(payload),
    }
}

/// Whether a payload is one [`PayloadKeys::seal`] made.
pub fn is_sealed(payload: &Payload) -> bool {
    payload.metadata.get(ENCODING_KEY).map(Vec::as_slice) == Some(ENCRYPTED_ENCODING)
}

/// The Temporal codec over [`PayloadKeys`].
#[derive(Debug, Clone)]
pub struct EncryptionCodec {
    keys: PayloadKeys,
}

impl EncryptionCodec {
    pub fn new(keys: PayloadKeys) -> Self {
        Self { keys }
    }

    fn each(
        payloads: Vec<Payload>,
        step: impl Fn(Payload) -> Result<Payload, CodecError>,
    ) -> Result<Vec<Payload>, PayloadConversionError> {
        payloads
            .into_iter()
            .map(step)
            .collect::<Result<_, _>>()
            .map_err(|error| PayloadConversionError::EncodingError(Box::new(error)))
    }
}

impl PayloadCodec for EncryptionCodec {
    fn encode(
        &self,
        _context: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        let keys = self.keys.clone();
        let result = Self::each(payloads, |payload| keys.seal(&payload));
        async move { result }.boxed()
    }

    fn decode(
        &self,
        _context: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        let keys = self.keys.clone();
        let result = Self::each(payloads, |payload| keys.open(payload));
        async move { result }.boxed()
    }
}

/// The data converter every client and worker uses: the SDK's default one, with payloads
/// sealed when keys are given.
pub fn data_converter(keys: Option<PayloadKeys>) -> DataConverter {
    match keys {
        Some(keys) => DataConverter::new(
            PayloadConverter::default(),
            temporalio_common::data_converters::DefaultFailureConverter::default(),
            EncryptionCodec::new(keys),
        ),
        None => DataConverter::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(value: &str) -> PayloadKeys {
        PayloadKeys::parse(value).expect("valid keys")
    }

    fn json(text: &str) -> Payload {
        Payload {
            metadata: HashMap::from([(ENCODING_KEY.to_owned(), b"json/plain".to_vec())]),
            data: text.as_bytes().to_vec(),
            ..Payload::default()
        }
    }

    #[test]
    fn a_sealed_payload_hides_its_content_and_opens_to_the_original() {
        let keys = keys(&PayloadKeys::generate("k1"));
        let original = json(r#"{"member_id":"M-SECRET-1"}"#);
        let sealed = keys.seal(&original).expect("seal");
        assert!(is_sealed(&sealed));
        assert!(!String::from_utf8_lossy(&sealed.data).contains("M-SECRET-1"));
        assert_eq!(sealed.metadata[KEY_ID_KEY], b"k1");
        assert_eq!(keys.open(sealed).expect("open"), original);
    }

    #[test]
    fn rotation_seals_with_the_first_key_and_still_opens_with_the_old_one() {
        let old = PayloadKeys::generate("2026-01");
        let new = PayloadKeys::generate("2026-12");
        let before = keys(&old).seal(&json("1")).expect("seal");
        let rotated = keys(&format!("{new},{old}"));
        assert_eq!(rotated.active_id(), "2026-12");
        assert_eq!(rotated.open(before).expect("old key opens"), json("1"));
        let after = rotated.seal(&json("2")).expect("seal");
        assert_eq!(after.metadata[KEY_ID_KEY], b"2026-12");
        assert_eq!(
            keys(&old).open(after),
            Err(CodecError::UnknownKey {
                id: "2026-12".into()
            })
        );
    }

    #[test]
    fn an_altered_payload_or_a_key_claiming_another_id_does_not_open() {
        let keys_a = keys(&PayloadKeys::generate("a"));
        let mut sealed = keys_a.seal(&json("42")).expect("seal");
        let last = sealed.data.len() - 1;
        sealed.data[last] ^= 1;
        assert_eq!(
            keys_a.open(sealed),
            Err(CodecError::DoesNotOpen { id: "a".into() })
        );
        // The key id is authenticated: relabelling a payload to another key does not open it.
        let other = keys(&format!(
            "{},{}",
            PayloadKeys::generate("a"),
            PayloadKeys::generate("b")
        ));
        let mut relabelled = other.seal(&json("42")).expect("seal");
        relabelled
            .metadata
            .insert(KEY_ID_KEY.to_owned(), b"b".to_vec());
        assert_eq!(
            other.open(relabelled),
            Err(CodecError::DoesNotOpen { id: "b".into() })
        );
    }

    #[test]
    fn a_member_pseudonym_is_stable_per_key_and_hides_the_id() {
        let old = PayloadKeys::generate("k1");
        let new = PayloadKeys::generate("k2");
        let before = keys(&old).member_pseudonym("M-1");
        assert_eq!(before, keys(&old).member_pseudonym("M-1"));
        assert_ne!(before, keys(&old).member_pseudonym("M-2"));
        assert!(before.starts_with("k1.") && !before.contains("M-1"));
        let rotated = keys(&format!("{new},{old}"));
        let all = rotated.member_pseudonyms("M-1");
        assert_eq!(all.len(), 2);
        assert!(all[0].starts_with("k2."));
        assert_eq!(all[1], before);
    }

    #[test]
    fn a_payload_in_clear_passes_through_decoding() {
        let keys = keys(&PayloadKeys::generate("k"));
        assert_eq!(keys.open(json("7")).expect("clear"), json("7"));
    }

    #[test]
    fn bad_key_settings_are_refused_with_what_is_wrong() {
        let good = PayloadKeys::generate("k");
        assert_eq!(
            PayloadKeys::parse("k").unwrap_err(),
            CodecError::Malformed { position: 1 }
        );
        assert_eq!(
            PayloadKeys::parse("k:AAAA").unwrap_err(),
            CodecError::BadKey { id: "k".into() }
        );
        assert_eq!(
            PayloadKeys::parse(&format!("{good},{good}")).unwrap_err(),
            CodecError::DuplicateKeyId { id: "k".into() }
        );
        assert_eq!(
            PayloadKeys::parse(&good.replacen('k', "k y", 1)).unwrap_err(),
            CodecError::BadKeyId { id: "k y".into() }
        );
        assert!(format!("{:?}", keys(&good)).contains("\"k\""));
        assert!(!format!("{:?}", keys(&good)).contains(good.split_once(':').unwrap().1));
    }
}

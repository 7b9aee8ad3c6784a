//! Who is calling the intake: an API key per client (ADR 25). The configuration holds only each
//! key's SHA-256, never the key; a presented key is hashed and compared with every configured
//! digest in constant time, so neither a leaked configuration nor the response time gives a key
//! away. A request without a known key is refused (401) before its body is read.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::{ApiError, Intake};

/// Longest client id: it is stored with every intent (`api_intent.client_id`).
const MAX_CLIENT_ID_LEN: usize = 40;

/// The clients allowed in, each with its key's SHA-256.
#[derive(Clone)]
pub struct ApiKeys(Vec<(String, [u8; 32])>);

impl std::fmt::Debug for ApiKeys {
    // The digests are not secret, but nothing about keys belongs in a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let clients: Vec<&str> = self.0.iter().map(|(client, _)| client.as_str()).collect();
        f.debug_tuple("ApiKeys").field(&clients).finish()
    }
}

impl ApiKeys {
    /// Parses `client:sha256hex,client:sha256hex` (e.g. `ACME_API_KEYS`); the digest of a key
    /// is `printf %s "$KEY" | sha256sum`.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut keys = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (client, digest) = entry.split_once(':').ok_or_else(|| {
                anyhow::anyhow!("an API key entry must be CLIENT:SHA256HEX (the key's digest)")
            })?;
            let well_formed = (1..=MAX_CLIENT_ID_LEN).contains(&client.len())
                && client
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            anyhow::ensure!(
                well_formed,
                "API client id {client:?} must be 1-{MAX_CLIENT_ID_LEN} letters, digits or '-'"
            );
            let digest: [u8; 32] = hex::decode(digest)
                .ok()
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "API client {client}: the key must be given as its SHA-256 in 64 hex \
                         digits, not as the key itself"
                    )
                })?;
            anyhow::ensure!(
                keys.iter().all(|(known, _)| known != client),
                "API client {client} is configured twice"
            );
            keys.push((client.to_owned(), digest));
        }
        anyhow::ensure!(!keys.is_empty(), "no API keys configured");
        Ok(Self(keys))
    }

    /// The client whose key this is. Every configured digest is compared, whatever matches.
    fn client_of(&self, key: &str) -> Option<&str> {
        let presented: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let mut found = None;
        for (client, digest) in &self.0 {
            if bool::from(digest.ct_eq(&presented)) {
                found = Some(client.as_str());
            }
        }
        found
    }
}

/// The authenticated client of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub String);

impl FromRequestParts<Intake> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, intake: &Intake) -> Result<Self, ApiError> {
        let key = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        match key.and_then(|key| intake.keys.client_of(key)) {
            Some(client) => Ok(Self(client.to_owned())),
            None => Err(ApiError::unauthenticated()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(key: &str) -> String {
        hex::encode(Sha256::digest(key.as_bytes()))
    }

    #[test]
    fn a_key_finds_its_own_client_and_no_other() -> anyhow::Result<()> {
        let keys = ApiKeys::parse(&format!(
            "payroll:{}, portal:{}",
            digest("payroll-secret"),
            digest("portal-secret")
        ))?;
        assert_eq!(keys.client_of("payroll-secret"), Some("payroll"));
        assert_eq!(keys.client_of("portal-secret"), Some("portal"));
        assert_eq!(keys.client_of("payroll-secre"), None);
        assert_eq!(keys.client_of(""), None);
        // A digest is not a key.
        assert_eq!(keys.client_of(&digest("payroll-secret")), None);
        Ok(())
    }

    #[test]
    fn a_configuration_holding_keys_instead_of_digests_is_refused() -> anyhow::Result<()> {
        let refused = |text: &str| match ApiKeys::parse(text) {
            Ok(keys) => format!("accepted: {keys:?}"),
            Err(error) => error.to_string(),
        };
        assert!(refused("payroll:the-key-itself").contains("SHA-256"));
        assert!(refused("payroll").contains("CLIENT:SHA256HEX"));
        assert!(refused("").contains("no API keys"));
        let twice = format!("a:{},a:{}", digest("x"), digest("y"));
        assert!(refused(&twice).contains("twice"));
        assert!(refused(&format!("bad client:{}", digest("x"))).contains("client id"));
        // Nothing about the keys is printed.
        let keys = ApiKeys::parse(&format!("a:{}", digest("x")))?;
        assert_eq!(format!("{keys:?}"), "ApiKeys([\"a\"])");
        Ok(())
    }
}

//! Who is calling the intake: an API key per client (ADR 25). The configuration holds only each
//! key's SHA-256, never the key; a presented key is hashed and compared with every configured
//! digest in constant time, so neither a leaked configuration nor the response time gives a key
//! away. A request without a known key is refused (401) before its body is read.
//!
//! A client may send schedules only for the employers its entry names: a payroll bureau's key
//! proves who is calling, not that every employer is its to speak for. The configuration is the
//! list, set by operations when a client is onboarded; a client with none sends no schedules.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::{ApiError, Intake};

/// Longest client id: it is stored with every intent (`api_intent.client_id`).
const MAX_CLIENT_ID_LEN: usize = 40;

/// The employers a client may send schedules for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Employers {
    /// `*`: any (ACME's own tools, the API check).
    Any,
    /// These only; none when the entry names none.
    Only(Vec<String>),
}

impl Employers {
    fn parse(client: &str, text: Option<&str>) -> anyhow::Result<Self> {
        let Some(text) = text else {
            return Ok(Self::Only(Vec::new()));
        };
        if text == "*" {
            return Ok(Self::Any);
        }
        let mut employers = Vec::new();
        for employer in text.split('|') {
            let parsed = acme_sdk::EmployerId::parse(employer).map_err(|e| {
                anyhow::anyhow!("API client {client}: employer {employer:?}: {}", e.message)
            })?;
            employers.push(parsed.as_str().to_owned());
        }
        Ok(Self::Only(employers))
    }
}

/// One client: its id, its key's SHA-256, and whom it may send schedules for.
#[derive(Clone)]
struct Client {
    id: String,
    digest: [u8; 32],
    employers: Employers,
}

/// The clients allowed in, each with its key's SHA-256.
#[derive(Clone)]
pub struct ApiKeys(Vec<Client>);

impl std::fmt::Debug for ApiKeys {
    // The digests are not secret, but nothing about keys belongs in a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let clients: Vec<&str> = self.0.iter().map(|client| client.id.as_str()).collect();
        f.debug_tuple("ApiKeys").field(&clients).finish()
    }
}

impl ApiKeys {
    /// Parses `CLIENT:SHA256HEX[:EMPLOYERS],…` (e.g. `ACME_API_KEYS`): the digest of a key is
    /// `printf %s "$KEY" | sha256sum`; EMPLOYERS is `E1|E2|…`, or `*` for any, and without it
    /// the client sends no schedules (investments only).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut keys: Vec<Client> = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let mut fields = entry.splitn(3, ':');
            let client = fields.next().unwrap_or_default();
            let digest = fields.next().ok_or_else(|| {
                anyhow::anyhow!(
                    "an API key entry must be CLIENT:SHA256HEX[:EMPLOYERS] (the key's digest)"
                )
            })?;
            let employers = Employers::parse(client, fields.next())?;
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
                keys.iter().all(|known| known.id != client),
                "API client {client} is configured twice"
            );
            keys.push(Client {
                id: client.to_owned(),
                digest,
                employers,
            });
        }
        anyhow::ensure!(!keys.is_empty(), "no API keys configured");
        Ok(Self(keys))
    }

    /// The client whose key this is. Every configured digest is compared, whatever matches.
    fn client_of(&self, key: &str) -> Option<&str> {
        let presented: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let mut found = None;
        for client in &self.0 {
            if bool::from(client.digest.ct_eq(&presented)) {
                found = Some(client.id.as_str());
            }
        }
        found
    }

    /// The clients whose entry lists no employer: they may send investments only.
    pub fn without_employers(&self) -> Vec<&str> {
        self.0
            .iter()
            .filter(|client| client.employers == Employers::Only(Vec::new()))
            .map(|client| client.id.as_str())
            .collect()
    }

    /// Whether `client` may send schedules for `employer`.
    pub fn may_send_for(&self, client: &str, employer: &str) -> bool {
        self.0
            .iter()
            .find(|known| known.id == client)
            .is_some_and(|known| match &known.employers {
                Employers::Any => true,
                Employers::Only(employers) => employers.iter().any(|e| e == employer),
            })
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
        assert!(refused(&format!("a:{}:bad employer", digest("x"))).contains("employer"));
        assert!(refused("").contains("no API keys"));
        let twice = format!("a:{},a:{}", digest("x"), digest("y"));
        assert!(refused(&twice).contains("twice"));
        assert!(refused(&format!("bad client:{}", digest("x"))).contains("client id"));
        // Nothing about the keys is printed.
        let keys = ApiKeys::parse(&format!("a:{}", digest("x")))?;
        assert_eq!(format!("{keys:?}"), "ApiKeys([\"a\"])");
        Ok(())
    }

    #[test]
    fn a_client_sends_schedules_only_for_the_employers_its_entry_names() -> anyhow::Result<()> {
        let keys = ApiKeys::parse(&format!(
            "bureau:{}:EMP-1|EMP-2, tools:{}:*, portal:{}",
            digest("b"),
            digest("t"),
            digest("p")
        ))?;
        assert!(keys.may_send_for("bureau", "EMP-1"));
        assert!(keys.may_send_for("bureau", "EMP-2"));
        assert!(!keys.may_send_for("bureau", "EMP-3"));
        assert!(keys.may_send_for("tools", "EMP-3"));
        assert!(
            !keys.may_send_for("portal", "EMP-1"),
            "no list, no schedules"
        );
        assert!(!keys.may_send_for("nobody", "EMP-1"));
        assert_eq!(keys.without_employers(), ["portal"]);
        Ok(())
    }
}

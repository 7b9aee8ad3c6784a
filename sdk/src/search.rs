//! Our custom search attributes: what makes every run findable in the Temporal UI and by
//! `acme list` (process, business key, member, dealing date, asset). They are declared here once;
//! [`ensure_registered`] adds any that the server lacks (the dev stack and the test kit call it,
//! and it is the production runbook's step too), so the list never drifts between places.

use std::collections::HashMap;

use temporalio_client::tonic::{Code, Request};
use temporalio_client::{Client, NamespacedClient};
use temporalio_common::protos::temporal::api::enums::v1::IndexedValueType;
use temporalio_common::protos::temporal::api::operatorservice::v1::{
    AddSearchAttributesRequest, ListSearchAttributesRequest,
};
pub use temporalio_common::search_attributes::{SearchAttributeKey, SearchAttributeUpdate};

/// The process's catalog name (e.g. `invest-cash`).
pub const PROCESS: SearchAttributeKey<String> = SearchAttributeKey::keyword("AcmeProcess");
/// The business key the workflow id is derived from (e.g. the request id).
pub const BUSINESS_KEY: SearchAttributeKey<String> = SearchAttributeKey::keyword("AcmeBusinessKey");
/// The member a run acts for.
pub const MEMBER: SearchAttributeKey<String> = SearchAttributeKey::keyword("AcmeMemberId");
/// The dealing date a run belongs to, `YYYY-MM-DD`.
pub const DEALING_DATE: SearchAttributeKey<String> = SearchAttributeKey::keyword("AcmeDealingDate");
/// The asset a run trades.
pub const ASSET: SearchAttributeKey<String> = SearchAttributeKey::keyword("AcmeAsset");

/// Every custom attribute (all are keywords).
pub const KEYWORDS: [SearchAttributeKey<String>; 5] =
    [PROCESS, BUSINESS_KEY, MEMBER, DEALING_DATE, ASSET];

/// Every custom attribute, for registration.
pub fn all() -> [(&'static str, IndexedValueType); 5] {
    KEYWORDS.map(|key| (key.name(), key.indexed_value_type()))
}

#[derive(Debug, thiserror::Error)]
#[error("cannot register search attributes {names:?} in namespace {namespace}: {status}")]
pub struct RegistrationError {
    names: Vec<&'static str>,
    namespace: String,
    status: Box<temporalio_client::tonic::Status>,
}

/// Adds whichever of our search attributes the namespace does not have yet; harmless to repeat.
/// Returns the names it added.
pub async fn ensure_registered(client: &Client) -> Result<Vec<&'static str>, RegistrationError> {
    let namespace = client.namespace();
    let error = |names: Vec<&'static str>, status| RegistrationError {
        names,
        namespace: namespace.clone(),
        status: Box::new(status),
    };
    let existing = client
        .connection()
        .operator_service()
        .list_search_attributes(Request::new(ListSearchAttributesRequest {
            namespace: namespace.clone(),
        }))
        .await
        .map_err(|status| error(Vec::new(), status))?
        .into_inner()
        .custom_attributes;
    let missing: HashMap<String, i32> = all()
        .into_iter()
        .filter(|(name, _)| !existing.contains_key(*name))
        .map(|(name, kind)| (name.to_owned(), kind as i32))
        .collect();
    let mut added: Vec<&'static str> = all()
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| missing.contains_key(*name))
        .collect();
    if missing.is_empty() {
        return Ok(added);
    }
    let result = client
        .connection()
        .operator_service()
        .add_search_attributes(Request::new(AddSearchAttributesRequest {
            search_attributes: missing,
            namespace: namespace.clone(),
        }))
        .await;
    match result {
        Ok(_) => Ok(added),
        // Another caller registered them between our list and add.
        Err(status) if status.code() == Code::AlreadyExists => {
            added.clear();
            Ok(added)
        }
        Err(status) => Err(error(added, status)),
    }
}

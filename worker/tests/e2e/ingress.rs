//! The callback ingress refuses malformed, unsigned and unknown custodian callbacks.

use acme_custodian::messages::{CallbackSecret, SIGNATURE_HEADER, sign_callback};

use crate::dealing_support::*;
use crate::support::on_local_set;

#[tokio::test]
async fn the_ingress_refuses_malformed_and_unknown_callbacks() {
    on_local_set(async {
        let dealing = Dealing::start(1, monday()).await;
        let post_signed_with = |secret: CallbackSecret, body: &'static str| {
            dealing
                .http
                .post(&dealing.callback_url)
                .header("content-type", "application/json")
                .header(SIGNATURE_HEADER, sign_callback(&secret, body.as_bytes()))
                .body(body)
                .send()
        };
        let post = |body: &'static str| post_signed_with(callback_secret(), body);
        // Only the custodian can price or settle: unsigned or mis-signed callbacks are refused
        // before anything is read, however well-formed.
        let settled =
            r#"{"event":"settled","order_ref":"ET-19990101-X-B","settlement_date":"1999-01-05"}"#;
        let forged = CallbackSecret::new("not-the-secret-but-thirty-two-bytes").unwrap();
        let forged = post_signed_with(forged, settled).await.unwrap();
        assert_eq!(forged.status(), 401);
        let body: serde_json::Value = forged.json().await.unwrap();
        assert_eq!(body["code"], "callback.unauthenticated");
        let unsigned = dealing
            .http
            .post(&dealing.callback_url)
            .header("content-type", "application/json")
            .body(settled)
            .send()
            .await
            .unwrap();
        assert_eq!(unsigned.status(), 401);
        let malformed = post("{\"event\":\"priced\"").await.unwrap();
        assert_eq!(malformed.status(), 400);
        let unknown = post(
            r#"{"event":"settled","order_ref":"ET-19990101-X-B","settlement_date":"1999-01-05"}"#,
        )
        .await
        .unwrap();
        assert_eq!(unknown.status(), 404);
        let body: serde_json::Value = unknown.json().await.unwrap();
        assert_eq!(body["code"], "order.unknown");
        dealing.finish().await;
    })
    .await;
}

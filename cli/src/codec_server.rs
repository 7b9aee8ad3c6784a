//! `acme temporal codec-server`: Temporal's remote codec protocol over our payload keys, so the
//! Temporal UI shows an operator the decrypted inputs, results and heartbeats of a run
//! (`POST /decode`, and `POST /encode` for what the UI sends, e.g. a signal).
//!
//! Who may decrypt: whoever holds the keys. The server runs on the operator's own machine with
//! the keys that operator is authorised to hold (`ACME_PAYLOAD_KEYS`), listens on a loopback
//! address only, and answers the one UI origin it is given; the browser on that machine is the
//! only client it trusts, because nothing else can reach a loopback port, and a page from
//! another origin can neither pass the CORS preflight of a JSON POST nor send anything but JSON.

use std::net::SocketAddr;

use acme_sdk::codec::PayloadKeys;
use anyhow::Context as _;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::Args;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use temporalio_common::protos::temporal::api::common::v1::Payload;

use crate::Outcome;

/// The largest request the server reads: a page of a history's payloads.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Args)]
pub struct CodecServerArgs {
    /// Address to listen on; loopback only (the keys never answer another machine)
    #[arg(long, default_value = "127.0.0.1:8234")]
    pub listen: SocketAddr,
    /// The Temporal UI's origin, the only page allowed to call the server
    #[arg(
        long,
        env = "ACME_TEMPORAL_UI",
        default_value = "http://127.0.0.1:8233"
    )]
    pub ui_origin: String,
}

pub async fn serve(args: CodecServerArgs) -> anyhow::Result<Outcome> {
    anyhow::ensure!(
        args.listen.ip().is_loopback(),
        "--listen {} is not a loopback address: the codec server decrypts for whoever reaches \
         it, so it only listens on this machine",
        args.listen
    );
    let keys = PayloadKeys::from_env()?.with_context(|| {
        format!(
            "{} is not set: without the payload keys there is nothing to decode",
            acme_sdk::codec::KEYS_VAR
        )
    })?;
    let origin = HeaderValue::from_str(args.ui_origin.trim_end_matches('/'))
        .context("--ui-origin is not a valid header value")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    println!(
        "codec server on http://{} for {} (keys: {}); point the UI at it with \
         `temporal server start-dev --ui-codec-endpoint http://{}`",
        args.listen,
        args.ui_origin,
        keys.active_id(),
        args.listen
    );
    axum::serve(listener, router(keys, origin)).await?;
    Ok(Outcome::Done)
}

/// The server's routes.
fn router(keys: PayloadKeys, ui_origin: HeaderValue) -> Router {
    Router::new()
        .route("/decode", post(decode).options(preflight))
        .route("/encode", post(encode).options(preflight))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response_with_state(
            ui_origin,
            allow_origin,
        ))
        .with_state(keys)
}

/// Payloads as Temporal's codec protocol carries them: protobuf JSON (bytes in base64).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Payloads {
    #[serde(default)]
    payloads: Vec<JsonPayload>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct JsonPayload {
    #[serde(default)]
    metadata: HashMap<String, String>,
    #[serde(default)]
    data: String,
}

impl JsonPayload {
    fn into_payload(self) -> Result<Payload, String> {
        let bytes = |field: &str, text: &str| {
            BASE64
                .decode(text)
                .map_err(|_| format!("{field} is not base64"))
        };
        let metadata = self
            .metadata
            .iter()
            .map(|(key, value)| Ok((key.clone(), bytes(&format!("metadata.{key}"), value)?)))
            .collect::<Result<_, String>>()?;
        Ok(Payload {
            metadata,
            data: bytes("data", &self.data)?,
            ..Payload::default()
        })
    }

    fn of(payload: &Payload) -> Self {
        Self {
            metadata: payload
                .metadata
                .iter()
                .map(|(key, value)| (key.clone(), BASE64.encode(value)))
                .collect(),
            data: BASE64.encode(&payload.data),
        }
    }
}

async fn decode(State(keys): State<PayloadKeys>, Json(body): Json<Payloads>) -> Response {
    each(body, |payload| {
        keys.open(payload).map_err(|e| e.to_string())
    })
}

async fn encode(State(keys): State<PayloadKeys>, Json(body): Json<Payloads>) -> Response {
    each(body, |payload| {
        keys.seal(&payload).map_err(|e| e.to_string())
    })
}

/// Applies `step` to every payload; the first that fails refuses the whole request.
fn each(body: Payloads, step: impl Fn(Payload) -> Result<Payload, String>) -> Response {
    let result: Result<Vec<JsonPayload>, String> = body
        .payloads
        .into_iter()
        .map(|p| step(p.into_payload()?).map(|p| JsonPayload::of(&p)))
        .collect();
    match result {
        Ok(payloads) => Json(Payloads { payloads }).into_response(),
        Err(reason) => (StatusCode::BAD_REQUEST, reason).into_response(),
    }
}

async fn preflight() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// CORS for the one UI origin: the browser calls the server from the UI's page.
async fn allow_origin(State(origin): State<HeaderValue>, mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, x-namespace, authorization"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("origin"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server on a real loopback port, as the UI reaches it.
    async fn started(keys: PayloadKeys) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let origin = HeaderValue::from_static("http://127.0.0.1:8233");
        tokio::spawn(async move { axum::serve(listener, router(keys, origin)).await });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn the_ui_gets_back_what_was_sealed_and_an_altered_payload_is_refused() {
        let keys = PayloadKeys::parse(&PayloadKeys::generate("ops-1")).expect("keys");
        let original = Payload {
            metadata: HashMap::from([("encoding".to_owned(), b"json/plain".to_vec())]),
            data: br#"{"member_id":"M-000042"}"#.to_vec(),
            ..Payload::default()
        };
        let sealed = keys.seal(&original).expect("seal");
        let server = started(keys).await;
        let http = reqwest::Client::new();

        let answer = http
            .post(format!("{server}/decode"))
            .header("origin", "http://127.0.0.1:8233")
            .json(&Payloads {
                payloads: vec![JsonPayload::of(&sealed)],
            })
            .send()
            .await
            .expect("decode");
        assert_eq!(answer.status(), 200);
        assert_eq!(
            answer.headers()["access-control-allow-origin"],
            "http://127.0.0.1:8233"
        );
        let decoded: Payloads = answer.json().await.expect("json");
        let [payload] = decoded.payloads.try_into().expect("one payload");
        assert_eq!(payload.into_payload().expect("payload"), original);

        let mut altered = JsonPayload::of(&sealed);
        altered.data = BASE64.encode(b"not what was sealed, and long enough");
        let refused = http
            .post(format!("{server}/decode"))
            .json(&Payloads {
                payloads: vec![altered],
            })
            .send()
            .await
            .expect("decode");
        assert_eq!(refused.status(), 400);
        assert!(
            refused
                .text()
                .await
                .expect("text")
                .contains("does not open")
        );
    }

    #[tokio::test]
    async fn a_listen_address_off_this_machine_is_refused() {
        let error = serve(CodecServerArgs {
            listen: "0.0.0.0:0".parse().expect("address"),
            ui_origin: "http://127.0.0.1:8233".into(),
        })
        .await
        .expect_err("refused");
        assert!(error.to_string().contains("not a loopback address"));
    }
}

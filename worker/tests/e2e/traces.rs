//! Traces as a collector receives them: a worker given OpenTelemetry's standard settings sends
//! its spans over OTLP/HTTP, and the span of each activity carries the run's workflow id and
//! business key, with the SQL the activity sent recorded on it. The collector here is a small
//! HTTP server that accepts `/v1/traces` and decodes the protobuf with OpenTelemetry's own
//! types.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use acme_sdk::testkit::eventually;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use serde_json::json;
use temporalio_client::WorkflowGetResultOptions;

use crate::support::{Platform, on_local_set};

/// What the collector has received: each span with its service's name.
type Received = Arc<Mutex<Vec<(String, Span)>>>;

/// Starts the collector on a loopback port; returns its base URL and what it receives.
async fn start_collector() -> (String, Received) {
    let received = Received::default();
    let router = Router::new()
        .route("/v1/traces", post(export))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, received)
}

async fn export(
    State(received): State<Received>,
    body: Bytes,
) -> ([(&'static str, &'static str); 1], Vec<u8>) {
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf export");
    let mut received = received.lock().unwrap();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .as_ref()
            .and_then(|resource| text(&resource.attributes, "service.name"))
            .unwrap_or_default()
            .to_owned();
        for scope_spans in resource_spans.scope_spans {
            received.extend(
                scope_spans
                    .spans
                    .into_iter()
                    .map(|span| (service.clone(), span)),
            );
        }
    }
    (
        [(CONTENT_TYPE.as_str(), "application/x-protobuf")],
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
}

/// A string attribute's value.
fn text<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(
            |attribute| match attribute.value.as_ref()?.value.as_ref()? {
                Value::StringValue(value) => Some(value.as_str()),
                _ => None,
            },
        )
}

#[tokio::test]
async fn a_worker_sends_each_activity_span_with_its_workflow_id_and_sql_over_otlp() {
    on_local_set(async {
        let platform = Platform::start(&[("m-1", Some("balanced"))]).await;
        let (collector, received) = start_collector().await;
        let _worker = platform.spawn_worker_process_with(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector),
            ("OTEL_SERVICE_NAME", "acme-worker-under-test"),
            // Export every 100 ms rather than every 5 s.
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ]);
        platform
            .start_invest("r-1", "m-1", json!("25.00"))
            .await
            .get_result(WorkflowGetResultOptions::default())
            .await
            .unwrap();

        // The activity that reserved the cash: its span names the run and the business key,
        // and the SQL it sent is on it.
        let span = eventually(Duration::from_secs(30), || async {
            let received = received.lock().unwrap();
            received
                .iter()
                .find(|(_, span)| {
                    text(&span.attributes, "workflow_id") == Some("invest/r-1")
                        && span
                            .events
                            .iter()
                            .any(|event| text(&event.attributes, "db.statement").is_some())
                })
                .cloned()
                .ok_or_else(|| {
                    format!(
                        "no activity span with SQL yet among {} spans",
                        received.len()
                    )
                })
        })
        .await;
        let (service, span) = span;
        assert_eq!(service, "acme-worker-under-test");
        assert_eq!(text(&span.attributes, "business_key"), Some("r-1"));
        assert_eq!(text(&span.attributes, "process"), Some("invest-cash"));
        assert_eq!(
            text(&span.attributes, "activity"),
            Some(span.name.as_str()),
            "the span is named after its activity"
        );
        platform.finish().await;
    })
    .await;
}

//! The custodian gateway: placing an external trade's order and asking where it stands. These run
//! on the external task queue (a bulkhead), so a slow or failing custodian cannot starve ledger
//! work. Orders are idempotent at the custodian by our order reference, so a retried placement
//! never places twice; 5xx answers and timeouts are retried, a 4xx is a final, coded failure,
//! except that a 400 or 422 to a placement is the custodian's definite "no" to the order, which
//! the external trade compensates like a rejection.
//! Statements (`custodian.statement`) are fetched as received, bytes untouched, for
//! reconciliation to store and parse (`crate::recon::statements`); closing prices
//! (`custodian.closing_prices`) for the `closing-prices` process to record (`crate::prices`).

use std::sync::Arc;
use std::time::Duration;

use acme_custodian::messages::{OrderRequest, OrderState, OrderStatus};
use acme_custodian::prices::ClosingPrices;
use acme_ledger::Ledger;
use acme_sdk::BusinessError;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::dealing::{self, ExternalTrade, Side};
use crate::recon::statements::StatementKind;
use crate::trade_book::ExternalTradeStatus;

/// The simulator's address on the dev stack.
pub const DEFAULT_CUSTODIAN_URL: &str = "http://127.0.0.1:7400";

/// How a placement went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Placement {
    Accepted,
    Rejected { reason: String },
}

#[derive(Debug, Clone)]
pub struct CustodianActivities {
    http: reqwest::Client,
    base_url: String,
    /// To read the sealed trade an order is placed for.
    ledger: Ledger,
}

impl CustodianActivities {
    pub fn new(base_url: &str, ledger: Ledger) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            ledger,
        })
    }
}

#[activities]
impl CustodianActivities {
    /// Sends the order (`setr.010` buy / `setr.004` sell) for an external trade.
    #[activity(name = "custodian.place_order")]
    pub async fn place_order(
        self: Arc<Self>,
        _ctx: ActivityContext,
        trade: ExternalTrade,
    ) -> Result<Placement, ActivityError> {
        // The order is the sealed trade the trade book holds, in a state that may be placed:
        // a run's input that differs (started by hand, or forged) places nothing.
        let (stored, record) = dealing::stored_trade(&self.ledger, trade.external_trade_id).await?;
        if stored != trade {
            return Err(BusinessError::new(
                "external_trade.input_mismatch",
                format!(
                    "order {}: the run's trade {trade:?} is not the sealed trade {stored:?}",
                    trade.order_ref
                ),
            )
            .into());
        }
        if !matches!(
            record.status,
            ExternalTradeStatus::Created | ExternalTradeStatus::Placed
        ) {
            return Err(BusinessError::new(
                "external_trade.not_placeable",
                format!("order {}: the trade is {}", trade.order_ref, record.status),
            )
            .into());
        }
        let order = match stored.side {
            Side::Buy => OrderRequest::Subscription {
                order_ref: trade.order_ref.clone(),
                isin: trade.asset.clone(),
                trade_date: trade.dealing_date,
                cash_amount: trade.ordered_total,
            },
            Side::Sell => OrderRequest::Redemption {
                order_ref: trade.order_ref.clone(),
                isin: trade.asset.clone(),
                trade_date: trade.dealing_date,
                units: trade.ordered_total,
            },
        };
        let request = self
            .http
            .post(format!("{}/orders", self.base_url))
            .json(&order);
        let answer = call("place_order", request, &trade.order_ref).await?;
        placement(answer, &trade.order_ref)
    }

    /// Where an order stands (`setr.016`), with its confirmation once priced: the polling
    /// fallback for a callback that never came.
    #[activity(name = "custodian.order_status")]
    pub async fn order_status(
        self: Arc<Self>,
        _ctx: ActivityContext,
        order_ref: String,
    ) -> Result<OrderStatus, ActivityError> {
        let request = self
            .http
            .get(format!("{}/orders/{order_ref}", self.base_url));
        match call("order_status", request, &order_ref).await? {
            Answer::Status(status) => Ok(*status),
            Answer::Refused { status, body } => Err(refused(&order_ref, status, &body)),
        }
    }

    /// Fetches a statement (`semt.002` holdings, `semt.017` transactions, `camt.053` cash) as of
    /// a date, and returns its body exactly as received: reconciliation digests and stores those
    /// bytes, so nothing here parses or re-serialises them. Reads only; 5xx and timeouts are retried, a 4xx is final.
    #[activity(name = "custodian.statement")]
    pub async fn statement(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: StatementRequest,
    ) -> Result<String, ActivityError> {
        // The bank's and the payment provider's statements come from the simulator's sides
        // beside the custodian's.
        let (route, path) = match request.kind {
            StatementKind::Holdings => ("statements/holdings", "holdings"),
            StatementKind::CustodianCash => ("statements/cash", "cash"),
            StatementKind::Transactions => ("statements/transactions", "transactions"),
            StatementKind::BankCash => ("bank/statement", "bank"),
            StatementKind::ProviderCash => ("provider/statement", "payment provider"),
        };
        let url = format!("{}/{route}?as_of={}", self.base_url, request.as_of);
        let what = format!("{path} statement of {}", request.as_of);
        self.get("statement", url, &what, |_| "custodian.statement_refused")
            .await
    }

    /// Fetches a day's closing prices (`GET /prices/closing`). Reads only; 5xx and timeouts are
    /// retried; a day the custodian has not closed yet is final (`price.not_published`), as is
    /// any other 4xx, so nothing downstream runs on a price that does not exist.
    #[activity(name = "custodian.closing_prices")]
    pub async fn closing_prices(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: PricesRequest,
    ) -> Result<ClosingPrices, ActivityError> {
        let url = format!(
            "{}/prices/closing?date={}&isins={}",
            self.base_url,
            request.date,
            request.isins.join(",")
        );
        let what = format!("closing prices of {}", request.date);
        let body = self
            .get("closing_prices", url, &what, |status| {
                if status == StatusCode::CONFLICT {
                    "price.not_published"
                } else {
                    "custodian.prices_refused"
                }
            })
            .await?;
        serde_json::from_str(&body).map_err(|e| {
            BusinessError::new(
                "custodian.bad_reply",
                format!("{what}: unreadable reply ({e})"),
            )
            .into()
        })
    }
}

impl CustodianActivities {
    /// A read-only `GET` of `url` (`what` names it in errors): the body of a 2xx exactly as
    /// received; transport failures, 5xx and 429 are retried; any other status is final, with
    /// the code `refused_code` gives it. Recorded in the custodian metrics under `operation`.
    async fn get(
        &self,
        operation: &str,
        url: String,
        what: &str,
        refused_code: fn(StatusCode) -> &'static str,
    ) -> Result<String, ActivityError> {
        let started = std::time::Instant::now();
        let (outcome, answer) = match self.http.get(url).send().await {
            Err(error) => ("unreachable", Err(unreachable_custodian(error))),
            Ok(response) => {
                let status = response.status();
                match response.text().await {
                    Err(error) => ("error", Err(unreachable_custodian(error))),
                    Ok(body) if status.is_success() => ("ok", Ok(body)),
                    Ok(body)
                        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS =>
                    {
                        (
                            "error",
                            Err(
                                anyhow::anyhow!("{what}: custodian answered {status}: {body}")
                                    .into(),
                            ),
                        )
                    }
                    Ok(body) => (
                        "refused",
                        Err(BusinessError::new(
                            refused_code(status),
                            format!("{what}: custodian answered {status}: {body}"),
                        )
                        .into()),
                    ),
                }
            }
        };
        acme_sdk::metrics::custodian_request(operation, outcome, started.elapsed());
        answer
    }
}

/// The closing prices of a closed business day for some funds, as the custodian publishes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricesRequest {
    pub date: chrono::NaiveDate,
    pub isins: Vec<String>,
}

/// Which statement to fetch, as of which date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementRequest {
    pub kind: StatementKind,
    pub as_of: chrono::NaiveDate,
}

/// What the custodian answered an order request with.
enum Answer {
    /// 2xx: where the order stands.
    Status(Box<OrderStatus>),
    /// A 4xx other than 429: a final refusal of this request.
    Refused { status: StatusCode, body: String },
}

/// What the custodian's answer to a placement means. A 400 or 422 is a definite "no": the
/// custodian did not take the order, so it is a rejection and the members are released. A 409
/// (another order under our reference) or 404 is not: an order may stand at the custodian, so
/// the placement fails for an operator.
fn placement(answer: Answer, order_ref: &str) -> Result<Placement, ActivityError> {
    match answer {
        Answer::Status(status) => Ok(match status.status {
            OrderState::Rejected => Placement::Rejected {
                reason: status.reason.unwrap_or_else(|| "no reason given".into()),
            },
            OrderState::Received | OrderState::Priced | OrderState::Settled => Placement::Accepted,
        }),
        Answer::Refused { status, body }
            if status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY =>
        {
            Ok(Placement::Rejected {
                reason: format!("the custodian refused the order ({status}): {body}"),
            })
        }
        Answer::Refused { status, body } => Err(refused(order_ref, status, &body)),
    }
}

/// A refusal as a final, coded failure of the activity.
fn refused(order_ref: &str, status: StatusCode, body: &str) -> ActivityError {
    let code = match status {
        StatusCode::CONFLICT => "custodian.order_conflict",
        StatusCode::NOT_FOUND => "custodian.order_unknown",
        _ => "custodian.order_refused",
    };
    BusinessError::new(
        code,
        format!("order {order_ref}: custodian answered {status}: {body}"),
    )
    .into()
}

/// Sends `request` and reads the answer, recording the request in the custodian metrics
/// (`acme_custodian_requests_total`, `acme_custodian_request_duration_seconds`): 2xx is read
/// (an unreadable one is a final `custodian.bad_reply`), a 4xx other than 429 is a refusal, and
/// 5xx, 429 or no answer are errors the activity's preset retries.
async fn call(
    operation: &str,
    request: reqwest::RequestBuilder,
    order_ref: &str,
) -> Result<Answer, ActivityError> {
    let started = std::time::Instant::now();
    let answer = match request.send().await {
        Err(error) => Err(unreachable_custodian(error)),
        Ok(response) => read(response, order_ref).await,
    };
    let outcome = match &answer {
        Ok(Answer::Status(_)) => "ok",
        Ok(Answer::Refused { .. }) => "refused",
        Err(_) => "error",
    };
    acme_sdk::metrics::custodian_request(operation, outcome, started.elapsed());
    answer
}

fn unreachable_custodian(error: reqwest::Error) -> ActivityError {
    anyhow::anyhow!("custodian unreachable: {error}").into()
}

/// A custodian answer: 2xx is read, 5xx and 429 are retried, any other status is a refusal.
async fn read(response: reqwest::Response, order_ref: &str) -> Result<Answer, ActivityError> {
    let status = response.status();
    let body = response.text().await.map_err(unreachable_custodian)?;
    if status.is_success() {
        return serde_json::from_str(&body)
            .map(Answer::Status)
            .map_err(|e| {
                BusinessError::new(
                    "custodian.bad_reply",
                    format!("order {order_ref}: unreadable reply ({e}): {body}"),
                )
                .into()
            });
    }
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        return Err(anyhow::anyhow!("custodian answered {status} for {order_ref}: {body}").into());
    }
    Ok(Answer::Refused { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(status: StatusCode) -> Answer {
        Answer::Refused {
            status,
            body: r#"{"code":"x","message":"y"}"#.to_owned(),
        }
    }

    #[test]
    fn a_definite_refusal_of_a_placement_is_a_rejection_that_releases_the_members() {
        for status in [StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY] {
            let placed = placement(refusal(status), "ET-1").unwrap();
            assert!(matches!(placed, Placement::Rejected { .. }), "{status}");
        }
    }

    #[test]
    fn a_refusal_that_may_leave_an_order_standing_fails_for_an_operator() {
        for status in [StatusCode::CONFLICT, StatusCode::NOT_FOUND] {
            assert!(placement(refusal(status), "ET-1").is_err(), "{status}");
        }
        let rejected = Answer::Status(Box::new(OrderStatus {
            order_ref: "ET-1".to_owned(),
            status: OrderState::Rejected,
            reason: None,
            confirmation: None,
        }));
        assert_eq!(
            placement(rejected, "ET-1").unwrap(),
            Placement::Rejected {
                reason: "no reason given".to_owned()
            }
        );
    }
}

//! Unit tests of `external-trade`'s pure parts: how a custodian confirmation becomes what is
//! recorded and allocated, for each side, where its point of no return is, and what a run that
//! continues as new hands on. The trade itself runs end to end in `e2e.rs`.

use acme_activities::dealing::{Allocation, ExternalTrade, Side, order_ref};
use acme_custodian::messages::{Confirmation, ConfirmationType};
use acme_sdk::{Process, Undo, Waiting};
use chrono::{NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;

use super::{
    DEFAULT_POLLS_PER_RUN, ExternalTradeWorkflow, Input, Patience, Resume, Stage, Status, priced,
    steps,
};

fn trade(side: Side) -> ExternalTrade {
    let dealing_date = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    ExternalTrade {
        external_trade_id: uuid::Uuid::nil(),
        dealing_date,
        asset: "GB00ACMEGLB1".to_owned(),
        side,
        order_ref: order_ref(dealing_date, "GB00ACMEGLB1", side),
        ordered_total: Decimal::new(100_000, 2),
        member_trades: 3,
    }
}

fn confirmation(msg_type: ConfirmationType) -> Confirmation {
    Confirmation {
        msg_type,
        order_ref: "O-1".to_owned(),
        confirmation_ref: "C-1".to_owned(),
        isin: "GB00ACMEGLB1".to_owned(),
        trade_date: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        price: Decimal::new(1_234_567, 6),
        units: Decimal::new(810_000_500, 6),
        gross_amount: Decimal::new(100_000, 2),
        charges: Decimal::new(150, 2),
        net_amount: Decimal::new(99_850, 2),
        settlement_amount: Decimal::new(100_000, 2),
        settlement_date: NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
    }
}

#[test]
fn a_buy_delivers_units_for_cash_and_a_sell_cash_for_units() {
    let buy = priced(
        &trade(Side::Buy),
        &confirmation(ConfirmationType::Subscription),
    )
    .unwrap();
    assert_eq!(
        (buy.delivered, buy.consumed),
        (Decimal::new(810_000_500, 6), Decimal::new(100_000, 2))
    );
    let sell = priced(
        &trade(Side::Sell),
        &confirmation(ConfirmationType::Redemption),
    )
    .unwrap();
    assert_eq!(
        (sell.delivered, sell.consumed),
        (Decimal::new(100_000, 2), Decimal::new(810_000_500, 6))
    );
    assert_eq!(buy.confirmation["order_ref"], "O-1");
}

#[test]
fn placing_the_order_is_the_point_of_no_return() {
    let steps = steps();
    assert_eq!(steps[0].name, "place-order");
    assert!(matches!(steps[0].undo, Undo::Pivot { .. }));
    assert!(acme_sdk::steps::problems(&steps).is_empty());
    let input = ExternalTradeWorkflow::example();
    assert_eq!(
        ExternalTradeWorkflow::workflow_id(&input),
        "external-trade/2025-01-02/GB00ACMEGLB1/buy"
    );
}

#[test]
fn an_input_from_before_continue_as_new_reads_as_a_first_run_with_the_default_bound() {
    let mut old = serde_json::to_value(ExternalTradeWorkflow::example()).unwrap();
    let fields = old.as_object_mut().unwrap();
    assert!(fields.remove("polls_per_run").is_some());
    assert!(fields.remove("resume").is_some());
    let input: Input = serde_json::from_value(old).unwrap();
    assert_eq!(input.resume, None);
    assert_eq!(Patience::of(&input).polls_per_run, DEFAULT_POLLS_PER_RUN);
    let never = Input {
        polls_per_run: Some(0),
        ..input
    };
    assert_eq!(Patience::of(&never).polls_per_run, 1, "every run polls");
}

#[test]
fn a_continued_run_gets_the_wait_its_status_and_the_allocation() {
    let since = Utc.with_ymd_and_hms(2026, 11, 23, 17, 0, 0).unwrap();
    let status = Status {
        stage: Stage::AwaitingSettlement,
        order_ref: "O-1".to_owned(),
        polls: 41,
        confirmation: Some(confirmation(ConfirmationType::Subscription)),
        ignored_callbacks: vec!["priced for O-2".to_owned()],
        last_poll_error: Some("custodian answered 503".to_owned()),
        waiting: Some(Waiting {
            what: "settlement of order O-1".to_owned(),
            since,
            deadline: since + chrono::Duration::days(2),
        }),
        ..Status::default()
    };
    let input = Input {
        resume: Some(Resume::Settlement {
            status,
            allocation: Allocation {
                member_trades: 3,
                residue_delivered: Decimal::new(2, 6),
                residue_refunded: Decimal::ZERO,
            },
        }),
        ..ExternalTradeWorkflow::example()
    };
    let json = serde_json::to_value(&input).unwrap();
    assert_eq!(json["resume"]["settlement"]["status"]["polls"], 41);
    assert_eq!(serde_json::from_value::<Input>(json).unwrap(), input);
}

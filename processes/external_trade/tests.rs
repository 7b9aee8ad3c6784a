//! Unit tests of `external-trade`'s pure parts: how a custodian confirmation becomes what is
//! recorded and allocated, for each side, and where its point of no return is. The trade itself
//! runs end to end in `e2e.rs`.

use acme_activities::dealing::{ExternalTrade, Side, order_ref};
use acme_custodian::messages::{Confirmation, ConfirmationType};
use acme_sdk::{Process, Undo};
use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{ExternalTradeWorkflow, priced, steps};

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

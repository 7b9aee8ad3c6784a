//! Re-balancing's set-based plan (`acme_activities::rebalance`) against the rule
//! (`acme_sdk::rebalance`), pot by pot, on pots with random holdings after a market move; a pot
//! with a trade in flight is skipped and reported; a missing or stale price refuses the plan;
//! valuation as of a date reads the same holdings.

use std::collections::BTreeMap;

use acme_activities::dealing::CUSTODIAN_POT;
use acme_activities::members::{FUNDS, MODEL_PORTFOLIOS};
use acme_activities::prices::{self, Quote};
use acme_activities::trade_book::member_trades;
use acme_activities::{rebalance, valuation};
use acme_ledger::{Ledger, NewEntry, NewPosting, OwnerKind};
use acme_sdk::AssetCode;
use acme_sdk::rebalance::{self as rule, Position};
use rust_decimal::Decimal;

use crate::support::*;

const MEMBERS: usize = 60;
/// Closing prices of Monday: the first fund has just risen by half.
const PRICES: [&str; 3] = ["3.000000", "1.250000", "0.800000"];

fn balanced_weights() -> Vec<Decimal> {
    let (_, weights) = MODEL_PORTFOLIOS
        .iter()
        .find(|(code, _)| *code == "balanced")
        .unwrap();
    weights.iter().map(|w| w.parse().unwrap()).collect()
}

/// Member n's units of each fund, a spread after the move: on the balanced model for a fifth
/// (3), drifted for the rest, with nothing of a fund (0) or far off (1) for some.
fn holdings(n: usize) -> [Decimal; 3] {
    let seed = (n as i64 * 7919) % 1000;
    let base = Decimal::new(10_000_000 + seed * 123_457, 6);
    let scaled = |tenths: i64| base * Decimal::new(tenths, 2);
    match n % 5 {
        0 => [base, Decimal::ZERO, base],
        1 => [scaled(100 + (seed * 3) % 90), scaled(80), base],
        3 => [base, scaled(192), scaled(75)],
        _ => [base, scaled(160), scaled(50)],
    }
    .map(|units| units.round_dp(6))
}

async fn hold(ledger: &Ledger, members: usize) {
    let mut entries = Vec::new();
    for (f, (fund, _)) in FUNDS.iter().enumerate() {
        let asset = AssetCode::parse(fund).unwrap();
        let owners: Vec<String> = (0..members).map(|n| format!("m-{n}")).collect();
        let accounts = ledger
            .open_pots_in_bulk(OwnerKind::Member, &owners, &[(asset.clone(), "available")])
            .await
            .unwrap();
        let custodian_pot = ledger
            .open_pot(OwnerKind::External, CUSTODIAN_POT)
            .await
            .unwrap();
        let custodian = ledger
            .open_account(custodian_pot, &asset, "available", true)
            .await
            .unwrap();
        for (n, member_accounts) in accounts.iter().enumerate() {
            let units = holdings(n)[f];
            if units.is_zero() {
                continue;
            }
            let workflow_id = format!("fixture/holding/m-{n}/{fund}");
            entries.push(NewEntry {
                idempotency_key: format!("{workflow_id}/hold"),
                kind: "fixture.hold".into(),
                process: "fixture".into(),
                workflow_id,
                effective_date: monday(),
                metadata: BTreeMap::new(),
                postings: vec![
                    NewPosting {
                        account_id: custodian,
                        amount: -units,
                    },
                    NewPosting {
                        account_id: member_accounts[0],
                        amount: units,
                    },
                ],
            });
        }
    }
    ledger.post_batch(&entries).await.unwrap();
}

async fn record_prices(ledger: &Ledger) {
    let quotes: Vec<Quote> = FUNDS
        .iter()
        .zip(PRICES)
        .map(|((fund, _), price)| Quote {
            asset_code: (*fund).to_owned(),
            price: price.to_owned(),
        })
        .collect();
    prices::record(ledger.pool(), monday(), "test", "test", &quotes)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_set_based_plan_follows_the_rule_pot_by_pot_and_skips_trades_in_flight() {
    let db = books(MEMBERS).await;
    let (ledger, pool) = (&db.ledger, db.ledger.pool());
    hold(ledger, MEMBERS).await;

    // No prices yet: the plan is refused, with the reason, and computes nothing.
    let refused = rebalance::plan(pool, monday()).await.unwrap_err();
    assert_eq!(refused.code(), Some("price.missing"), "{refused}");
    record_prices(ledger).await;
    let tuesday = monday().succ_opt().unwrap();
    let refused = rebalance::plan(pool, tuesday).await.unwrap_err();
    assert_eq!(refused.code(), Some("price.stale"), "{refused}");

    // m-1 has a buy pending: whatever it holds, it is skipped, not planned.
    member_trades::create_buys(
        pool,
        &actor("invest/r-1"),
        "invest/r-1",
        "m-1",
        &[&fund()],
        &[Decimal::TEN],
    )
    .await
    .unwrap();

    let weights = balanced_weights();
    let prices: Vec<Decimal> = PRICES.iter().map(|p| p.parse().unwrap()).collect();
    let mut drifted: i64 = 0;
    let mut skipped: i64 = 0;
    let mut pots = Vec::new();
    let mut expected = Vec::new();
    for n in 0..MEMBERS {
        let member = format!("m-{n}");
        let pot_id = acme_activities::trade_book::members::find(pool, &member)
            .await
            .unwrap()
            .unwrap()
            .pot_id;
        let positions: Vec<Position> = FUNDS
            .iter()
            .enumerate()
            .map(|(f, (fund, _))| Position {
                asset: (*fund).to_owned(),
                units: holdings(n)[f],
                price: prices[f],
                target_weight: weights[f],
            })
            .collect();
        let Some(plan) = rule::plan(&positions, 500, 6).unwrap() else {
            continue;
        };
        if n == 1 {
            skipped += 1;
            continue;
        }
        drifted += 1;
        pots.push(pot_id);
        let buys = rule::buys(plan.planned_proceeds, &plan.shortfalls).unwrap();
        for (fund, _) in FUNDS {
            let sold = plan.sells.iter().find(|(a, _)| a == fund).map(|(_, u)| *u);
            let bought = buys.iter().find(|(a, _)| a == fund).map(|(_, c)| *c);
            let price = prices[FUNDS.iter().position(|(f, _)| *f == fund).unwrap()];
            let sold = sold.unwrap_or_default();
            expected.push((
                pot_id,
                fund.to_owned(),
                sold.normalize(),
                rule::value_of(sold, price).unwrap().normalize(),
                bought.unwrap_or_default().normalize(),
            ));
        }
    }
    assert!(
        drifted >= MEMBERS as i64 / 3,
        "the move should make many pots drift: {drifted}"
    );
    assert_eq!(skipped, 1, "m-1 drifted and has a trade in flight");

    let plan = rebalance::plan(pool, monday()).await.unwrap();
    assert_eq!((plan.drifted, plan.skipped_in_flight), (drifted, skipped));
    assert_eq!(plan.pots_valued, MEMBERS as i64);
    let mut sql = rebalance::planned_trades(pool, monday(), &pots)
        .await
        .unwrap();
    sql.sort_by(|a, b| (a.0, &a.2).cmp(&(b.0, &b.2)));
    let sql: Vec<_> = sql
        .into_iter()
        .map(|(pot, _, fund, units, proceeds, cash)| {
            (
                pot,
                fund,
                units.normalize(),
                proceeds.normalize(),
                cash.normalize(),
            )
        })
        .collect();
    expected.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    assert_eq!(sql, expected);
    // The plan's lines are the sums of the pots' trades.
    for line in &plan.funds {
        let of_fund = expected.iter().filter(|row| row.1 == line.asset_code);
        let units: Decimal = of_fund.clone().map(|row| row.2).sum();
        let cash: Decimal = of_fund.map(|row| row.4).sum();
        assert_eq!((line.sell_units, line.buy_cash), (units, cash), "{line:?}");
    }
    // Nothing is overdrawn: each pot's buys spend at most its sells' proceeds.
    for pot in &pots {
        let rows = expected.iter().filter(|row| row.0 == *pot);
        let proceeds: Decimal = rows.clone().map(|row| row.3).sum();
        let spent: Decimal = rows.map(|row| row.4).sum();
        assert!(
            spent <= proceeds,
            "pot {pot}: buys {spent} > proceeds {proceeds}"
        );
    }

    // Valuation reads the same holdings: m-2's value is its units at Monday's prices.
    let m2 = acme_activities::trade_book::members::find(pool, "m-2")
        .await
        .unwrap()
        .unwrap();
    let valued = valuation::of_pot(pool, m2.pot_id, Some("balanced"), monday())
        .await
        .unwrap();
    let expected_value: Decimal = (0..3)
        .map(|f| rule::value_of(holdings(2)[f], prices[f]).unwrap())
        .sum();
    assert_eq!(valued.funds_value, expected_value);
    let weights_bp: i64 = valued.holdings.iter().filter_map(|h| h.weight_bp).sum();
    assert!((9_997..=10_000).contains(&weights_bp), "{valued:?}");
    // Before the holdings' effective date the pot held nothing.
    let before = valuation::of_pot(
        pool,
        m2.pot_id,
        Some("balanced"),
        monday().pred_opt().unwrap(),
    )
    .await;
    assert_eq!(before.unwrap_err().code(), Some("price.missing"));
    let totals = valuation::totals(pool, monday()).await.unwrap();
    assert_eq!(totals.pots, MEMBERS as i64);
    db.drop_database().await.unwrap();
}

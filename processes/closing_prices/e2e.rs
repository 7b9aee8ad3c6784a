//! `closing-prices` end to end, against a real Temporal server, a fresh database and the
//! custodian simulator's price feed: a closed day's prices are recorded as published, once; a
//! staged market move is what gets recorded; a day not closed yet is refused and records
//! nothing; a different price for a recorded day is refused whole; what needs a day's prices is
//! stopped with `price.stale` or `price.missing`; the table refuses updates.

use acme_activities::prices::{self, Quote};
use acme_custodian::prices::ClosingPrices as Published;
use acme_workflows::closing_prices::{self, ClosingPrices, Input};
use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;

use crate::cli::Acme;
use crate::dealing_support::*;
use crate::harness::{DealingWorld, Scenario};
use crate::support::{failure_code, on_local_set};

fn tuesday() -> NaiveDate {
    monday().checked_add_days(Days::new(1)).unwrap()
}

async fn record(dealing: &Dealing, date: NaiveDate) -> Result<prices::Recorded, Option<String>> {
    dealing
        .platform
        .run::<ClosingPrices>(Input {
            date: date.to_string(),
        })
        .await
        .map_err(|error| failure_code(&error))
}

async fn published(dealing: &Dealing, date: NaiveDate) -> Vec<(String, Decimal)> {
    let path = format!("/prices/closing?date={date}&isins={}", FUNDS.join(","));
    let answer: Published = dealing.custodian(&path).await;
    assert_eq!(answer.date, date);
    let mut prices: Vec<(String, Decimal)> = answer
        .prices
        .into_iter()
        .map(|p| (p.isin, p.price))
        .collect();
    prices.sort();
    prices
}

async fn recorded(dealing: &Dealing, date: NaiveDate) -> Vec<(String, Decimal)> {
    let pool = dealing.ledger().pool();
    let mut rows = Vec::new();
    for fund in FUNDS {
        for price in prices::range(pool, fund, date, date).await.unwrap() {
            assert_eq!(price.source, closing_prices::SOURCE);
            assert_eq!(
                price.recorded_by,
                closing_prices::workflow_id(&date.to_string())
            );
            rows.push((price.asset_code, price.price));
        }
    }
    rows.sort();
    rows
}

#[tokio::test]
async fn a_closed_days_prices_are_recorded_once_as_published_and_never_changed() {
    on_local_set(async {
        let dealing = Dealing::start(1, monday()).await;
        let worker = dealing.platform.spawn_worker("worker-1");
        let pool = dealing.ledger().pool();

        // Monday has not closed: nothing is published, nothing recorded.
        assert_eq!(
            record(&dealing, monday()).await.unwrap_err().as_deref(),
            Some("price.not_published")
        );
        assert_eq!(dealing.platform.count("closing_price").await, 0);

        // A staged market move on one fund: that is the price published and recorded.
        dealing.price(FUNDS[1], monday(), "7.250000").await;
        dealing.advance_one_day().await;
        let first = record(&dealing, monday()).await.unwrap();
        assert_eq!((first.new, first.unchanged), (3, 0));
        let expected = published(&dealing, monday()).await;
        assert_eq!(recorded(&dealing, monday()).await, expected);
        assert!(expected.contains(&(FUNDS[1].to_owned(), "7.250000".parse().unwrap())));
        dealing
            .platform
            .record_run::<ClosingPrices>(
                &closing_prices::workflow_id(&monday().to_string()),
                "closed-day",
            )
            .await;

        // Again: nothing new. A different price for the day is refused whole.
        let again = record(&dealing, monday()).await.unwrap();
        assert_eq!((again.new, again.unchanged), (0, 3));
        let quotes: Vec<Quote> = expected
            .iter()
            .map(|(fund, price)| Quote {
                asset_code: fund.clone(),
                price: if fund == FUNDS[0] {
                    (*price + Decimal::new(1, 6)).to_string()
                } else {
                    price.to_string()
                },
            })
            .collect();
        let refused = prices::record(pool, monday(), "custodian", "test", &quotes)
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Some("price.conflict"), "{refused}");
        assert_eq!(recorded(&dealing, monday()).await, expected);

        // Bad prices are refused, never rounded: too many decimals, an exponent, zero, a
        // fund the scheme does not hold.
        for (fund, bad, code) in [
            (FUNDS[0], "1.12345678901", "price.invalid"),
            (FUNDS[0], "1e2", "price.invalid"),
            (FUNDS[0], "0", "price.invalid"),
            ("GB00NOTAFUND", "1.0", "price.unknown_fund"),
        ] {
            let quote = Quote {
                asset_code: fund.to_owned(),
                price: bad.to_owned(),
            };
            let refused = prices::record(pool, tuesday(), "custodian", "test", &[quote])
                .await
                .unwrap_err();
            assert_eq!(refused.code(), Some(code), "{bad}: {refused}");
        }
        assert_eq!(dealing.platform.count("closing_price").await, 3);

        // Whatever needs Tuesday's prices stops: they are stale (Monday's are the latest).
        let stale = prices::of_date(pool, tuesday()).await.unwrap_err();
        assert_eq!(stale.code(), Some("price.stale"));
        assert!(
            stale.to_string().contains(&format!("latest {}", monday())),
            "{stale}"
        );
        let before = prices::of_date(pool, monday().pred_opt().unwrap())
            .await
            .unwrap_err();
        assert_eq!(before.code(), Some("price.missing"));
        let monday_prices = prices::of_date(pool, monday()).await.unwrap();
        assert_eq!(monday_prices.into_iter().collect::<Vec<_>>(), expected);

        // The table is append-only: the application may not update it, nor may its owner.
        let refused = sqlx::query("update closing_price set price = price + 1")
            .execute(pool)
            .await
            .unwrap_err();
        assert!(
            refused.to_string().contains("permission denied"),
            "{refused}"
        );
        let mut owner = dealing.platform.db.owner_connection().await.unwrap();
        let refused = sqlx::query("delete from closing_price")
            .execute(&mut owner)
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("append-only"), "{refused}");

        // The feed moves day to day: Tuesday's prices differ from Monday's.
        dealing.advance_one_day().await;
        record(&dealing, tuesday()).await.unwrap();
        let tuesday_prices = prices::of_date(pool, tuesday()).await.unwrap();
        assert_ne!(tuesday_prices.into_iter().collect::<Vec<_>>(), expected);

        // What an operator sees: the prices with their source, a member's holdings valued
        // against the model, and the re-balancing plan the market move makes.
        let acme = Acme::new(&dealing.platform);
        let (mon, tue) = (monday().to_string(), tuesday().to_string());
        let shown = acme
            .json(&[
                "prices", "show", "--asset", FUNDS[1], "--from", &mon, "--to", &tue, "--output",
                "json",
            ])
            .await;
        let shown = shown.as_array().unwrap();
        assert_eq!(shown.len(), 2);
        assert_eq!(
            (shown[0]["price"].as_str(), shown[0]["source"].as_str()),
            (Some("7.250000"), Some("custodian"))
        );
        give_units(dealing.ledger(), "m-0", FUNDS[1], Decimal::new(10, 0)).await;
        let member = acme
            .json(&["member", "show", "m-0", "--date", &mon, "--output", "json"])
            .await;
        let valued = &member["valuation"]["valuation"];
        assert_eq!(valued["funds_value"], "72.50", "{member:#}");
        let bond = valued["holdings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["asset_code"] == FUNDS[1])
            .unwrap();
        assert_eq!(
            (bond["weight_bp"].as_i64(), bond["target_bp"].as_i64()),
            (Some(10_000), Some(4_000))
        );
        let plan = acme
            .json(&["rebalance", "plan", "--date", &mon, "--output", "json"])
            .await;
        assert_eq!(
            (plan["drifted"].as_i64(), plan["skipped_in_flight"].as_i64()),
            (Some(1), Some(0))
        );
        // The bond is 100% of the pot against 40%: sell 60% of £72.50 = £43.50 = 6 units.
        let bond = plan["funds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["asset_code"] == FUNDS[1])
            .unwrap();
        assert_eq!(
            bond["sell_units"]
                .as_str()
                .map(|u| u.parse::<Decimal>().unwrap()),
            Some(Decimal::new(6, 0))
        );
        let refused = acme
            .refused(&[
                "rebalance",
                "plan",
                "--date",
                &monday().checked_add_days(Days::new(2)).unwrap().to_string(),
            ])
            .await;
        assert!(refused.contains("no closing price"), "{refused}");
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}

/// The harness's scenario (`worker/tests/e2e/harness.rs`): recording Monday's prices.
#[derive(Debug, Default)]
pub struct Harness;

impl Scenario for Harness {
    type Process = ClosingPrices;
    type World = DealingWorld;

    /// A simulator whose Monday has closed.
    async fn start(&self, interceptor: acme_worker::ActivityInterceptor) -> DealingWorld {
        let world = DealingWorld::start(1, interceptor).await;
        world.dealing.advance_one_day().await;
        world
    }

    async fn run(&self, world: &DealingWorld) -> Result<(), String> {
        let recorded = record(&world.dealing, monday())
            .await
            .map_err(|code| format!("{code:?}"))?;
        if recorded.new + recorded.unchanged == FUNDS.len() {
            Ok(())
        } else {
            Err(format!("expected {} prices: {recorded:?}", FUNDS.len()))
        }
    }
}

//! `rebalance-day` end to end, against a real Temporal server, a fresh database and the custodian
//! simulator: a staged market move on one fund makes a known set of pots drift; with a price
//! missing the run is refused and trades nothing; once the day's prices are recorded the plan
//! names the drifted pots, the run reserves and sells exactly their excess units, skips (and
//! names) the pot with a trade in flight, and a re-run of the date creates nothing new; the next
//! dealing cycle deals the sells like any other, half filled: the proceeds that arrived fund the
//! switch's buys, split by the shortfalls and shrunk pro rata, never overdrawn; the cycle after
//! buys them, and the ledger's invariants hold throughout.

use acme_activities::prices::{self, Quote};
use acme_activities::rebalance;
use acme_activities::rebalance_day::Rebalanced;
use acme_custodian::messages::Faults;
use acme_workflows::closing_prices::{self, ClosingPrices};
use acme_workflows::rebalance_day::{self, Input, RebalanceDay};
use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;

use crate::cli::Acme;
use crate::dealing_support::*;
use crate::harness::{DealingWorld, Scenario};
use crate::support::{failure_code, on_local_set};

fn tuesday() -> NaiveDate {
    monday().checked_add_days(Days::new(1)).unwrap()
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// Monday's closing prices after the move: the equity fund has gone from £2 to £3.
const MOVED_PRICES: [&str; 3] = ["3.000000", "1.000000", "1.000000"];
/// On the balanced model (50/40/10) at £2 equity, drifted at £3: 25 × 3 = 75 of 125.
const DRIFTING: [&str; 3] = ["25", "40", "10"];
/// On the model at £3 equity: 75 / 60 / 15 of 150.
const ON_TARGET: [&str; 3] = ["25", "60", "15"];
/// What a drifted pot sells: (75 − 62.50) / £3 = 4.166666 units of the equity fund.
const EXCESS_UNITS: &str = "4.166666";

async fn hold(dealing: &Dealing, member: &str, units: [&str; 3]) {
    for (fund, units) in FUNDS.iter().zip(units) {
        give_units(dealing.ledger(), member, fund, dec(units)).await;
    }
}

/// Stages Monday's market move at the simulator, closes Monday there and records its prices.
async fn move_market_and_record(dealing: &Dealing) {
    for (fund, price) in FUNDS.iter().zip(MOVED_PRICES) {
        dealing.price(fund, monday(), price).await;
    }
    dealing.advance_one_day().await;
    dealing
        .platform
        .run::<ClosingPrices>(closing_prices::Input {
            date: monday().to_string(),
        })
        .await
        .unwrap();
}

/// Records Monday's moved prices of the first `funds` funds straight into the ledger.
async fn record_directly(dealing: &Dealing, funds: usize) {
    let quotes: Vec<Quote> = FUNDS
        .iter()
        .zip(MOVED_PRICES)
        .take(funds)
        .map(|(fund, price)| Quote {
            asset_code: (*fund).to_owned(),
            price: price.to_owned(),
        })
        .collect();
    prices::record(
        dealing.ledger().pool(),
        monday(),
        "custodian",
        "fixture",
        &quotes,
    )
    .await
    .unwrap();
}

async fn rebalance(dealing: &Dealing, date: NaiveDate) -> Result<Rebalanced, Option<String>> {
    dealing
        .platform
        .run::<RebalanceDay>(Input {
            date: date.to_string(),
            chunk_size: Some(2),
        })
        .await
        .map_err(|error| failure_code(&error))
}

async fn units(dealing: &Dealing, member: &str, fund: &str, purpose: &str) -> Decimal {
    sqlx::query_scalar(
        "select coalesce(sum(b.amount), 0) from balance b join account a using (account_id)
         join pot p using (pot_id)
         where p.owner_kind = 'member' and p.owner_ref = $1 and a.asset_code = $2
           and a.purpose = $3",
    )
    .bind(member)
    .bind(fund)
    .bind(purpose)
    .fetch_one(dealing.ledger().pool())
    .await
    .unwrap()
}

/// The re-balancing sells: (member, fund, units, status), by member.
async fn rebalancing_sells(dealing: &Dealing) -> Vec<(String, String, Decimal, String)> {
    sqlx::query_as(
        "select member_id, asset_code, units, status from member_trade
         where origin_workflow_id like 'rebalance/%' and side = 'sell' order by member_id",
    )
    .fetch_all(dealing.ledger().pool())
    .await
    .unwrap()
}

/// A member's re-balancing sell: its proceeds and what they reserved for the switch's buys.
async fn switch_funding(dealing: &Dealing, member: &str) -> (Decimal, Decimal) {
    sqlx::query_as(
        "select delivered, switched from member_trade
         where origin_workflow_id like 'rebalance/%' and member_id = $1",
    )
    .bind(member)
    .fetch_one(dealing.ledger().pool())
    .await
    .unwrap()
}

/// The buys a member's switch created from its proceeds: (fund, cash, status), by fund code.
async fn switch_buys(dealing: &Dealing, member: &str) -> Vec<(String, Decimal, String)> {
    sqlx::query_as(
        "select asset_code, cash_amount, status from member_trade
         where origin_workflow_id like 'external-trade/%' and member_id = $1 and side = 'buy'
         order by asset_code",
    )
    .bind(member)
    .fetch_all(dealing.ledger().pool())
    .await
    .unwrap()
}

/// `floor(proceeds × weight / total)` to the penny.
fn share(proceeds: Decimal, weight: &str, total: &str) -> Decimal {
    (proceeds * dec(weight) / dec(total))
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToZero)
}

#[tokio::test]
async fn drifted_pots_sell_their_excess_once_and_the_dealing_cycle_deals_it() {
    on_local_set(async {
        let dealing = Dealing::start(7, monday()).await;
        let worker = dealing.platform.spawn_worker("worker-1");
        let pool = dealing.ledger().pool();
        for member in ["m-0", "m-1", "m-2", "m-5"] {
            hold(&dealing, member, DRIFTING).await;
        }
        for member in ["m-3", "m-4"] {
            hold(&dealing, member, ON_TARGET).await;
        }
        // m-5 drifts too, but sells some bonds of its own first: a trade in flight. m-6 holds
        // nothing.
        dealing
            .sell("m5-own-sale", "m-5", FUNDS[1], "1".into())
            .await
            .unwrap();

        // Monday's price of one fund is missing (the other two are recorded, as the simulator
        // will publish them): refused, nothing traded.
        record_directly(&dealing, 2).await;
        assert_eq!(
            rebalance(&dealing, monday()).await.unwrap_err().as_deref(),
            Some("price.missing")
        );
        assert_eq!(rebalancing_sells(&dealing).await, vec![]);

        move_market_and_record(&dealing).await;
        // A day whose prices are not recorded (Tuesday): stale, nothing traded either.
        assert_eq!(
            rebalance(&dealing, tuesday()).await.unwrap_err().as_deref(),
            Some("price.stale")
        );
        assert_eq!(rebalancing_sells(&dealing).await, vec![]);

        // The plan says what the run will do, pot by pot: m-0 to m-2 sell their excess equity.
        let plan = rebalance::plan(pool, monday()).await.unwrap();
        assert_eq!((plan.drifted, plan.skipped_in_flight), (3, 1), "{plan:?}");
        let pots: Vec<i64> = sqlx::query_scalar("select pot_id from member order by pot_id")
            .fetch_all(pool)
            .await
            .unwrap();
        let planned: Vec<(String, String, Decimal)> =
            rebalance::planned_trades(pool, monday(), &pots)
                .await
                .unwrap()
                .into_iter()
                .filter(|(_, _, _, units, _, _)| *units > Decimal::ZERO)
                .map(|(_, member, fund, units, _, _)| (member, fund, units))
                .collect();
        assert_eq!(
            planned,
            ["m-0", "m-1", "m-2"].map(|m| (m.to_owned(), FUNDS[0].to_owned(), dec(EXCESS_UNITS)))
        );

        // The run (a failed run of the date may run again): three pots sell, m-5 is skipped.
        let done = rebalance(&dealing, monday()).await.unwrap();
        assert_eq!(
            (done.pots_selling, done.sell_trades, done.already_done),
            (3, 3, 0),
            "{done:?}"
        );
        assert_eq!(
            (done.skipped_in_flight, done.skipped_members.clone()),
            (1, vec!["m-5".to_owned()])
        );
        let sells: Vec<_> = ["m-0", "m-1", "m-2"]
            .map(|m| {
                (
                    m.to_owned(),
                    FUNDS[0].to_owned(),
                    dec(EXCESS_UNITS),
                    "pending".to_owned(),
                )
            })
            .into();
        assert_eq!(rebalancing_sells(&dealing).await, sells);
        for member in ["m-0", "m-1", "m-2"] {
            assert_eq!(
                units(&dealing, member, FUNDS[0], "reserved").await,
                dec(EXCESS_UNITS)
            );
            assert_eq!(
                units(&dealing, member, FUNDS[0], "available").await,
                dec("25") - dec(EXCESS_UNITS)
            );
        }
        dealing
            .platform
            .record_run::<RebalanceDay>(
                &rebalance_day::workflow_id(&monday().to_string()),
                "drifted-pots",
            )
            .await;

        // Again, by the operator's command and by a start: the completed run answers, and
        // nothing new is created or posted.
        let entries = dealing.platform.count("journal_entry").await;
        let said = Acme::new(&dealing.platform)
            .ok(&["rebalance", "run", "--date", &monday().to_string()])
            .await;
        assert!(
            said.contains("3 pots selling (3 sell trades created), 1 skipped")
                && said.contains("skipped: m-5"),
            "{said}"
        );
        assert_eq!(rebalance(&dealing, monday()).await.unwrap(), done);
        assert_eq!(rebalancing_sells(&dealing).await, sells);
        assert_eq!(dealing.platform.count("journal_entry").await, entries);

        // Tuesday's dealing cycle sells them with m-5's own sale, and the custodian fills only
        // half of each order: half the units come back, and the proceeds that arrive fund the
        // buys, split by the shortfalls (bond 50 − 40 = 10, property 12.50 − 10 = 2.50).
        dealing
            .faults(&Faults {
                partial_fill: dec("0.5"),
                ..Faults::default()
            })
            .await;
        dealing.deal(tuesday()).await.unwrap();
        assert_eq!(
            assert_allocations_follow_the_rule(dealing.ledger(), tuesday()).await,
            2
        );
        let sold: Vec<_> = rebalancing_sells(&dealing)
            .await
            .into_iter()
            .map(|(_, _, _, status)| status)
            .collect();
        assert_eq!(sold, vec!["settled"; 3]);
        let mut bought = Vec::new();
        for member in ["m-0", "m-1", "m-2"] {
            assert_eq!(
                units(&dealing, member, FUNDS[0], "reserved").await,
                Decimal::ZERO
            );
            assert_eq!(
                units(&dealing, member, FUNDS[0], "available").await,
                dec("25") - dec("2.083333")
            );
            let (proceeds, switched) = switch_funding(&dealing, member).await;
            let bond = share(proceeds, "10", "12.5");
            let property = share(proceeds, "2.5", "12.5");
            assert_eq!(switched, bond + property, "{member}");
            assert_eq!(
                switch_buys(&dealing, member).await,
                vec![
                    (FUNDS[1].to_owned(), bond, "pending".to_owned()),
                    (FUNDS[2].to_owned(), property, "pending".to_owned()),
                ]
            );
            // Never more than arrived: the buys' cash is reserved, the pennies left available.
            assert_eq!(dealing.platform.cash(member, "reserved").await, switched);
            let left = dealing.platform.cash(member, "available").await;
            assert_eq!(left, proceeds - switched);
            assert!(left < dec("0.02"), "{member}: {left}");
            bought.push((member, bond, property));
        }
        // m-5's own sale was no switch: its proceeds are simply its cash.
        assert_eq!(
            dealing.platform.cash("m-5", "reserved").await,
            Decimal::ZERO
        );
        assert!(dealing.ledger().check_invariants().await.unwrap().holds());

        // The next dealing cycle buys them like any other trades.
        dealing.faults(&Faults::default()).await;
        let thursday = tuesday().checked_add_days(Days::new(2)).unwrap();
        dealing.deal(thursday).await.unwrap();
        assert_eq!(
            assert_allocations_follow_the_rule(dealing.ledger(), thursday).await,
            2
        );
        for (member, bond, property) in bought {
            let statuses: Vec<_> = switch_buys(&dealing, member)
                .await
                .into_iter()
                .map(|(_, _, status)| status)
                .collect();
            assert_eq!(statuses, vec!["settled"; 2]);
            assert_eq!(
                dealing.platform.cash(member, "reserved").await,
                Decimal::ZERO
            );
            assert!(units(&dealing, member, FUNDS[1], "available").await > dec("40"));
            assert!(!bond.is_zero() && !property.is_zero());
        }
        assert!(dealing.ledger().check_invariants().await.unwrap().holds());
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}

/// The harness's scenario (`worker/tests/e2e/harness.rs`): re-balancing Monday.
#[derive(Debug, Default)]
pub struct Harness;

impl Scenario for Harness {
    type Process = RebalanceDay;
    type World = DealingWorld;

    /// Two drifted pots at recorded prices.
    async fn start(&self, interceptor: acme_worker::ActivityInterceptor) -> DealingWorld {
        let world = DealingWorld::start(2, interceptor).await;
        let dealing = &world.dealing;
        for member in ["m-0", "m-1"] {
            hold(dealing, member, DRIFTING).await;
        }
        // Recorded directly, so the run under the harness is the only one.
        record_directly(dealing, FUNDS.len()).await;
        world
    }

    async fn run(&self, world: &DealingWorld) -> Result<(), String> {
        let done = rebalance(&world.dealing, monday())
            .await
            .map_err(|code| format!("{code:?}"))?;
        if done.pots_selling == 2 {
            Ok(())
        } else {
            Err(format!("expected two pots to sell: {done:?}"))
        }
    }
}

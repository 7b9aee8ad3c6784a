//! `switch-funds` end to end, against a real Temporal server, a fresh database and the custodian
//! simulator: a member switches half of a fund into another and then sells the rest of it
//! before the switch is dealt (and no more: the reserved units are not theirs to sell twice);
//! another switches all; bad requests change nothing. The dealing cycle sells the units, the
//! proceeds that arrived buy the other fund in the next cycle, and the ledger's invariants hold.

use acme_workflows::switch_funds::{self, Input, Output, SwitchFunds};
use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;

use crate::cli::Acme;
use crate::dealing_support::*;
use crate::harness::{DealingWorld, Scenario};
use crate::support::{failure_code, on_local_set};

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn wednesday() -> NaiveDate {
    monday().checked_add_days(Days::new(2)).unwrap()
}

async fn switch(
    dealing: &Dealing,
    request_id: &str,
    member: &str,
    (from, to): (&str, &str),
    percent: &str,
) -> Result<Output, Option<String>> {
    dealing
        .platform
        .run::<SwitchFunds>(Input {
            request_id: request_id.to_owned(),
            member_id: member.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
            percent: percent.to_owned(),
        })
        .await
        .map_err(|error| failure_code(&error))
}

/// A member's trades of one origin kind: (side, fund, units or cash, status), by side and fund.
async fn trades(dealing: &Dealing, member: &str, origin: &str) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "select side || ' ' || asset_code, coalesce(cash_amount, units)::text, status
         from member_trade where member_id = $1 and origin_workflow_id like $2 || '%'
         order by side, asset_code",
    )
    .bind(member)
    .bind(origin)
    .fetch_all(dealing.ledger().pool())
    .await
    .unwrap()
}

/// What a switch's sell brought in.
async fn proceeds(dealing: &Dealing, request_id: &str) -> Decimal {
    sqlx::query_scalar("select delivered from member_trade where origin_workflow_id = $1")
        .bind(switch_funds::workflow_id(request_id))
        .fetch_one(dealing.ledger().pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_switch_sells_on_one_day_and_buys_with_the_proceeds_on_the_next() {
    on_local_set(async {
        let dealing = Dealing::start(2, monday()).await;
        let worker = dealing.platform.spawn_worker("worker-1");
        let (equity, bond, property) = (FUNDS[0], FUNDS[1], FUNDS[2]);
        for member in ["m-0", "m-1"] {
            give_units(dealing.ledger(), member, equity, dec("10")).await;
        }

        // Bad requests are refused and write nothing.
        let entries = dealing.platform.count("journal_entry").await;
        for (request, funds, percent, code) in [
            ("bad-1", (equity, equity), "50", "switch.same_fund"),
            ("bad-2", (equity, bond), "100.5", "switch.invalid_percent"),
            ("bad-3", (equity, "GB00NOTAFUND"), "50", "asset.unknown"),
            ("bad-4", (bond, equity), "50", "switch.nothing_to_sell"),
        ] {
            let refused = switch(&dealing, request, "m-0", funds, percent).await;
            assert_eq!(refused.unwrap_err().as_deref(), Some(code), "{request}");
        }
        assert_eq!(dealing.platform.count("journal_entry").await, entries);

        // m-0 switches half its equity into bonds; sent twice, done once.
        let half = switch(&dealing, "s-0", "m-0", (equity, bond), "50")
            .await
            .unwrap();
        assert_eq!(half.reserved_units, dec("5"));
        assert_eq!(
            switch(&dealing, "s-0", "m-0", (equity, bond), "50").await,
            Ok(half)
        );
        dealing
            .platform
            .record_run::<SwitchFunds>(&switch_funds::workflow_id("s-0"), "switch-half")
            .await;
        // Before it is dealt m-0 sells the other half, and cannot sell the switched units too.
        dealing
            .sell("own-0", "m-0", equity, "5".into())
            .await
            .unwrap();
        let refused = dealing.sell("own-1", "m-0", equity, "1".into()).await;
        assert_eq!(
            failure_code(&refused.unwrap_err()).as_deref(),
            Some("ledger.overdraft")
        );
        // m-1 switches all its equity into property, by the operator's command.
        let said = Acme::new(&dealing.platform)
            .ok(&[
                "switch",
                "--member",
                "m-1",
                "--from",
                equity,
                "--to",
                property,
                "--all",
                "--request-id",
                "s-1",
                "--wait",
            ])
            .await;
        assert!(said.contains("reserved 10"), "{said}");

        // Monday's cycle sells; allocating the sells creates the switches' buys from what came.
        dealing.deal(monday()).await.unwrap();
        let m0_proceeds = proceeds(&dealing, "s-0").await;
        let m1_proceeds = proceeds(&dealing, "s-1").await;
        assert_eq!(
            trades(&dealing, "m-0", "external-trade/").await,
            vec![(
                format!("buy {bond}"),
                m0_proceeds.to_string(),
                "pending".to_owned()
            )]
        );
        assert_eq!(
            trades(&dealing, "m-1", "external-trade/").await,
            vec![(
                format!("buy {property}"),
                m1_proceeds.to_string(),
                "pending".to_owned()
            )]
        );
        // The switched proceeds are reserved for the buys; m-0's own sale is its cash.
        assert_eq!(dealing.platform.cash("m-0", "reserved").await, m0_proceeds);
        assert_eq!(dealing.platform.cash("m-1", "reserved").await, m1_proceeds);
        assert_eq!(
            dealing.platform.cash("m-1", "available").await,
            Decimal::ZERO
        );
        assert!(dealing.platform.cash("m-0", "available").await > Decimal::ZERO);

        // The next cycle buys them.
        dealing.deal(wednesday()).await.unwrap();
        assert_eq!(
            assert_allocations_follow_the_rule(dealing.ledger(), wednesday()).await,
            2
        );
        for member in ["m-0", "m-1"] {
            let statuses: Vec<_> = trades(&dealing, member, "")
                .await
                .into_iter()
                .map(|(_, _, status)| status)
                .collect();
            assert!(statuses.iter().all(|s| s == "settled"), "{statuses:?}");
            assert_eq!(
                dealing.platform.cash(member, "reserved").await,
                Decimal::ZERO
            );
        }
        assert!(dealing.ledger().check_invariants().await.unwrap().holds());
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}

/// The harness's scenario (`worker/tests/e2e/harness.rs`): a member switches half its equity
/// into bonds.
#[derive(Debug, Default)]
pub struct Harness;

impl Scenario for Harness {
    type Process = SwitchFunds;
    type World = DealingWorld;

    /// A member holding ten units of equity.
    async fn start(&self, interceptor: acme_worker::ActivityInterceptor) -> DealingWorld {
        let world = DealingWorld::start(1, interceptor).await;
        give_units(world.dealing.ledger(), "m-0", FUNDS[0], dec("10")).await;
        world
    }

    async fn run(&self, world: &DealingWorld) -> Result<(), String> {
        let done = switch(&world.dealing, "h-0", "m-0", (FUNDS[0], FUNDS[1]), "50")
            .await
            .map_err(|code| format!("{code:?}"))?;
        if done.reserved_units == dec("5") {
            Ok(())
        } else {
            Err(format!("expected five units reserved: {done:?}"))
        }
    }
}

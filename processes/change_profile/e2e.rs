//! `change-profile` end to end, against a real Temporal server, a fresh database and the custodian
//! simulator: a member holding two funds moves from the balanced to the cautious model; unknown
//! members and portfolios are refused and change nothing. The member's portfolio changes at once,
//! the dealing cycle sells both funds, each sell's proceeds buy the new model's three funds by
//! its weights, and the next cycle buys them; the ledger's invariants hold.

use acme_workflows::change_profile::{self, ChangeProfile, Input, Output};
use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;

use crate::cli::Acme;
use crate::dealing_support::*;
use crate::harness::{DealingWorld, Scenario};
use crate::support::{failure_code, on_local_set};

fn wednesday() -> NaiveDate {
    monday().checked_add_days(Days::new(2)).unwrap()
}

async fn set_profile(
    dealing: &Dealing,
    request_id: &str,
    member: &str,
    portfolio: &str,
) -> Result<Output, Option<String>> {
    dealing
        .platform
        .run::<ChangeProfile>(Input {
            request_id: request_id.to_owned(),
            member_id: member.to_owned(),
            portfolio: portfolio.to_owned(),
        })
        .await
        .map_err(|error| failure_code(&error))
}

/// The member's trades: (side, fund, status), in side and fund order.
async fn trades(dealing: &Dealing, member: &str) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "select side, asset_code, status from member_trade where member_id = $1
         order by side, asset_code, origin_workflow_id",
    )
    .bind(member)
    .fetch_all(dealing.ledger().pool())
    .await
    .unwrap()
}

async fn portfolio(dealing: &Dealing, member: &str) -> Option<String> {
    sqlx::query_scalar("select portfolio_code from member where member_id = $1")
        .bind(member)
        .fetch_one(dealing.ledger().pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_new_risk_profile_sells_the_pot_and_buys_the_new_model_with_the_proceeds() {
    on_local_set(async {
        let dealing = Dealing::start(1, monday()).await;
        let worker = dealing.platform.spawn_worker("worker-1");
        give_units(dealing.ledger(), "m-0", FUNDS[0], Decimal::new(10, 0)).await;
        give_units(dealing.ledger(), "m-0", FUNDS[1], Decimal::new(10, 0)).await;

        let entries = dealing.platform.count("journal_entry").await;
        for (request, member, portfolio, code) in [
            ("bad-1", "m-0", "reckless", "portfolio.unknown"),
            ("bad-2", "m-9", "cautious", "member.unknown"),
        ] {
            let refused = set_profile(&dealing, request, member, portfolio).await;
            assert_eq!(refused.unwrap_err().as_deref(), Some(code), "{request}");
        }
        assert_eq!(dealing.platform.count("journal_entry").await, entries);
        assert_eq!(
            portfolio(&dealing, "m-0").await.as_deref(),
            Some("balanced")
        );

        let said = Acme::new(&dealing.platform)
            .ok(&[
                "member",
                "set-profile",
                "m-0",
                "--portfolio",
                "cautious",
                "--request-id",
                "p-0",
                "--wait",
            ])
            .await;
        assert!(
            said.contains("balanced -> cautious; 2 sell trades"),
            "{said}"
        );
        // The request again attaches to the run that did it.
        let changed = set_profile(&dealing, "p-0", "m-0", "cautious")
            .await
            .unwrap();
        assert_eq!(changed.previous.as_deref(), Some("balanced"));
        assert_eq!(changed.sell_trades.len(), 2);
        assert_eq!(
            portfolio(&dealing, "m-0").await.as_deref(),
            Some("cautious")
        );
        dealing
            .platform
            .record_run::<ChangeProfile>(&change_profile::workflow_id("p-0"), "whole-pot")
            .await;

        // Monday's cycle sells both funds; each sell's proceeds buy the three funds of the
        // cautious model (20/70/10), reserved from the proceeds.
        dealing.deal(monday()).await.unwrap();
        let pending: Vec<_> = trades(&dealing, "m-0")
            .await
            .into_iter()
            .filter(|(side, _, _)| side == "buy")
            .map(|(_, fund, status)| (fund, status))
            .collect();
        let mut expected: Vec<_> = FUNDS
            .iter()
            .flat_map(|fund| vec![((*fund).to_owned(), "pending".to_owned()); 2])
            .collect();
        expected.sort();
        assert_eq!(pending, expected);
        assert!(dealing.platform.cash("m-0", "reserved").await > Decimal::ZERO);
        assert!(dealing.platform.cash("m-0", "available").await < Decimal::new(6, 2));

        // The next cycle buys them.
        dealing.deal(wednesday()).await.unwrap();
        assert!(
            trades(&dealing, "m-0")
                .await
                .iter()
                .all(|(_, _, status)| status == "settled")
        );
        assert_eq!(
            dealing.platform.cash("m-0", "reserved").await,
            Decimal::ZERO
        );
        assert!(dealing.ledger().check_invariants().await.unwrap().holds());
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}

/// The harness's scenario (`worker/tests/e2e/harness.rs`): a member holding one fund moves to
/// the cautious model.
#[derive(Debug, Default)]
pub struct Harness;

impl Scenario for Harness {
    type Process = ChangeProfile;
    type World = DealingWorld;

    /// A balanced member holding ten units of equity.
    async fn start(&self, interceptor: acme_worker::ActivityInterceptor) -> DealingWorld {
        let world = DealingWorld::start(1, interceptor).await;
        give_units(world.dealing.ledger(), "m-0", FUNDS[0], Decimal::new(10, 0)).await;
        world
    }

    async fn run(&self, world: &DealingWorld) -> Result<(), String> {
        let done = set_profile(&world.dealing, "h-0", "m-0", "cautious")
            .await
            .map_err(|code| format!("{code:?}"))?;
        if done.sell_trades.len() == 1 {
            Ok(())
        } else {
            Err(format!("expected one sell: {done:?}"))
        }
    }
}

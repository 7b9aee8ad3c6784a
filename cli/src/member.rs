//! `acme member`: onboarding one member, or seeding many for demos and benchmarks.

use std::time::Instant;

use acme_activities::members::{
    MODEL_PORTFOLIOS, NewMember, ensure_reference_data, onboard_members,
};
use acme_ledger::Ledger;
use clap::{Args, Subcommand};

use crate::Outcome;
use crate::connect::{self, AppDatabase};

/// Members onboarded per statement when seeding.
const SEED_CHUNK: u32 = 20_000;

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Onboard one member: a pot with cash accounts and, optionally, a model portfolio
    #[command(after_help = "Example: acme member onboard --member m-42 --portfolio balanced")]
    Onboard {
        #[arg(long)]
        member: String,
        /// cautious, balanced or adventurous; omit to leave the member unable to invest
        #[arg(long)]
        portfolio: Option<String>,
        #[command(flatten)]
        database: AppDatabase,
    },
    /// Onboard N members named <prefix>-1 .. <prefix>-N (idempotent), for demos and benchmarks
    #[command(after_help = "Example: acme member seed --count 100000 --portfolio balanced")]
    Seed(SeedArgs),
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=5_000_000))]
    count: u32,
    #[arg(long, default_value = "member")]
    prefix: String,
    #[arg(long, default_value = "balanced")]
    portfolio: String,
    #[command(flatten)]
    database: AppDatabase,
}

pub async fn run(command: MemberCommand) -> anyhow::Result<Outcome> {
    match command {
        MemberCommand::Onboard {
            member,
            portfolio,
            database,
        } => {
            if let Some(portfolio) = &portfolio {
                check_portfolio(portfolio)?;
            }
            let ledger = Ledger::new(connect::pool(&database.url, AppDatabase::SETTING, 2).await?);
            ensure_reference_data(&ledger).await?;
            let new = onboard_members(
                &ledger,
                &[NewMember {
                    member_id: member.clone(),
                    portfolio,
                }],
            )
            .await?;
            println!(
                "member {member}: {}",
                if new == 1 {
                    "onboarded"
                } else {
                    "already onboarded, left as it was"
                }
            );
            Ok(Outcome::Done)
        }
        MemberCommand::Seed(args) => seed(args).await,
    }
}

fn check_portfolio(portfolio: &str) -> anyhow::Result<()> {
    let known: Vec<&str> = MODEL_PORTFOLIOS.iter().map(|(code, _)| *code).collect();
    anyhow::ensure!(
        known.contains(&portfolio),
        "unknown model portfolio {portfolio:?}; choose one of {}",
        known.join(", ")
    );
    Ok(())
}

async fn seed(args: SeedArgs) -> anyhow::Result<Outcome> {
    check_portfolio(&args.portfolio)?;
    let ledger = Ledger::new(connect::pool(&args.database.url, AppDatabase::SETTING, 2).await?);
    ensure_reference_data(&ledger).await?;
    let started = Instant::now();
    let mut new = 0;
    let mut from = 1;
    while from <= args.count {
        let to = args.count.min(from + SEED_CHUNK - 1);
        let members: Vec<NewMember> = (from..=to)
            .map(|n| NewMember {
                member_id: format!("{}-{n}", args.prefix),
                portfolio: Some(args.portfolio.clone()),
            })
            .collect();
        new += onboard_members(&ledger, &members).await?;
        eprintln!("seeded {to}/{} members", args.count);
        from = to + 1;
    }
    println!(
        "{new} new members ({} asked) in {:.1}s",
        args.count,
        started.elapsed().as_secs_f64()
    );
    Ok(Outcome::Done)
}

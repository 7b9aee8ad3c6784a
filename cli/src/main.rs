//! `acme`: the one command operators and developers type. Each subcommand lives in its own
//! module; this file only parses the command line and hands over.

mod audit;
mod business_day;
mod codec_server;
mod connect;
mod contributions;
mod db;
mod dealing;
mod inspect;
mod invest;
mod ledger;
mod ledger_tour;
mod member;
mod operator;
mod output;
mod prices;
mod process;
mod progress;
mod rebalance;
mod recon;
mod reversal;
mod run;
mod runs;
mod scaffold;
mod sell;
mod switch;
mod temporal;
mod valuation;

use std::process::ExitCode;

use acme_sdk::telemetry::{LogFormat, LogOutput, Settings};
use clap::{CommandFactory as _, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "acme",
    version,
    about = "Operate ACME's process platform: runs, members, dealing, ledger reports, demos",
    after_help = "Start the local stack first with `ops/stack up`, then `source .acme/env`.\n\
                  Connection settings come from DATABASE_URL, ACME_READONLY_DATABASE_URL,\n\
                  ACME_MIGRATOR_DATABASE_URL and TEMPORAL_ADDRESS; without them the dev stack's\n\
                  defaults are used. Actions on runs are recorded under ACME_OPERATOR (or --as).\n\
                  Exit codes: 0 done, 1 a check found a problem, 2 the command could not run."
)]
struct Cli {
    /// How warnings and errors are written to stderr: text lines, or one JSON object per line
    #[arg(long, global = true, env = "ACME_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a run of any catalogued process from JSON input or --field flags
    Start(runs::StartArgs),
    /// Send a signal to a run
    Signal(runs::SignalArgs),
    /// Ask a run a query (default: status)
    Query(runs::QueryArgs),
    /// A run's status, pending activities (attempts, last failure) and UI link
    Describe(inspect::DescribeArgs),
    /// Runs matching filters (process, status, member, date, asset, age)
    List(inspect::ListArgs),
    /// Running runs that need an operator: activities retrying, waits past their deadline
    Stuck(inspect::StuckArgs),
    /// Record a cancellation request; no process acts on it yet (the run goes on), --reason required
    Cancel(runs::StopArgs),
    /// Stop a run at once (nothing more runs, no compensation); --reason is required
    Terminate(runs::StopArgs),
    /// The operator audit log: who did what to which run, when and why
    Audit(audit::AuditArgs),
    /// Print a shell completion script, e.g. `acme completions bash > ~/.local/share/bash-completion/completions/acme`
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Contribution schedules: import an employer's file, its rejection report, the file as received
    #[command(subcommand)]
    Contributions(contributions::ContributionsCommand),
    /// Database administration (migrations)
    #[command(subcommand)]
    Db(db::DbCommand),
    /// Ledger reports and checks
    #[command(subcommand)]
    Ledger(ledger::LedgerCommand),
    /// A simulated business day on the local stack: invest, sell, deal, settle, reconcile
    Demo(business_day::BusinessDayArgs),
    /// Dealing days: run a cycle, see its external trades
    #[command(subcommand)]
    Dealing(dealing::DealingCommand),
    /// Invest cash for a member (starts the invest-cash process)
    Invest(invest::InvestArgs),
    /// Closing prices: record a closed day's from the custodian, show a fund's
    #[command(subcommand)]
    Prices(prices::PricesCommand),
    /// The process catalog
    #[command(subcommand)]
    Process(process::ProcessCommand),
    /// Re-balancing: what a date's re-balance would trade (plan, a dry run)
    #[command(subcommand)]
    Rebalance(rebalance::RebalanceCommand),
    /// Reconciliation: run a date, see and work its breaks, read its report
    #[command(subcommand)]
    Recon(recon::ReconCommand),
    /// Sell units of a fund for a member (starts the sell-units process)
    Sell(sell::SellArgs),
    /// Switch a percent of a member's fund into another (starts the switch-funds process)
    Switch(switch::SwitchArgs),
    /// Members: onboard one, seed many, show one (pot, balances, trades)
    #[command(subcommand)]
    Member(member::MemberCommand),
    /// Temporal set-up (search attributes)
    #[command(subcommand)]
    Temporal(temporal::TemporalCommand),
}

/// Exit codes: 0 success, 1 a check found a problem, 2 the command could not run.
const EXIT_CHECK_FAILED: u8 = 1;
const EXIT_ERROR: u8 = 2;

/// What the terminal shows when RUST_LOG is not set: our own warnings, and only errors from
/// libraries. A library's warning (sqlx's "slow statement", with its SQL) is for a developer
/// who asks for it (`RUST_LOG=sqlx=warn`), not a line in the middle of a user's output.
/// Targets match by prefix: `acme` covers this binary and every `acme_*` crate.
const DEFAULT_LOG_FILTER: &str = "error,acme=warn";

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The worker's subscriber: the same log formats, and OTLP when OpenTelemetry's settings ask.
    let _telemetry = match acme_sdk::telemetry::init(Settings {
        format: cli.log_format,
        default_filter: DEFAULT_LOG_FILTER,
        output: LogOutput::Stderr,
        service_name: "acme",
    }) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let result = match cli.command {
        Command::Start(args) => runs::start(args).await,
        Command::Signal(args) => runs::signal(args).await,
        Command::Query(args) => runs::query(args).await,
        Command::Describe(args) => inspect::describe(args).await,
        Command::List(args) => inspect::list(args).await,
        Command::Stuck(args) => inspect::stuck(args).await,
        Command::Cancel(args) => runs::cancel(args).await,
        Command::Terminate(args) => runs::terminate(args).await,
        Command::Audit(args) => audit::run(args).await,
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "acme", &mut std::io::stdout());
            Ok(Outcome::Done)
        }
        Command::Contributions(command) => contributions::run(command).await,
        Command::Db(command) => db::run(command).await,
        Command::Ledger(command) => ledger::run(command).await,
        Command::Demo(args) => business_day::run(args).await,
        Command::Dealing(command) => dealing::run(command).await,
        Command::Invest(args) => invest::run(args).await,
        Command::Prices(command) => prices::run(command).await,
        Command::Process(command) => process::run(command),
        Command::Rebalance(command) => rebalance::run(command).await,
        Command::Recon(command) => recon::run(command).await,
        Command::Sell(args) => sell::run(args).await,
        Command::Switch(args) => switch::run(args).await,
        Command::Member(command) => member::run(command).await,
        Command::Temporal(command) => temporal::run(command).await,
    };
    match result {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::CheckFailed) => ExitCode::from(EXIT_CHECK_FAILED),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// How a command that ran to the end turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    /// A check ran and found a problem (reported on stdout).
    CheckFailed,
}

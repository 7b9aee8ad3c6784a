//! `acme ledger reverse|approve|reversals`: corrections by reversal under four eyes (ADR 27).
//! One operator asks, with a reason; a second approves, and only then is the reversing entry
//! posted (`acme_ledger::reversal`). Both steps are operator actions, recorded in the audit log
//! before they are taken and with their outcome after (under `ledger-reversal/<entry id>`).
//!
//! Who is acting comes from `--as` / `ACME_OPERATOR` like every operator action: the database
//! refuses an approval by the requester, but it cannot tell two people from one person typing
//! two names. In production each operator's name must come from their own login (ADR 27).

use acme_ledger::EntryId;
use acme_ledger::audit::OperatorVerb;
use acme_ledger::reversal::{self, ReversalRequest};
use chrono::{NaiveDate, Utc};
use clap::Args;

use crate::Outcome;
use crate::connect::{self, ReadonlyDatabase};
use crate::operator::{Operator, OperatorArgs};
use crate::output::{self, Format};

/// Rows `acme ledger reversals` lists at most.
const MAX_LISTED: i64 = 1_000;

#[derive(Debug, Args)]
pub struct ReverseArgs {
    /// The journal entry to reverse
    entry: i64,
    /// Why (required; kept with the request and in the reversing entry)
    #[arg(long)]
    reason: String,
    /// The reversing entry's effective date, YYYY-MM-DD [default: today, UTC]
    #[arg(long)]
    effective_date: Option<NaiveDate>,
    #[command(flatten)]
    operator: OperatorArgs,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The reversal request to approve (`acme ledger reversals`)
    request: i64,
    #[command(flatten)]
    operator: OperatorArgs,
}

#[derive(Debug, Args)]
pub struct ReversalsArgs {
    /// Approved requests too
    #[arg(long)]
    all: bool,
    #[arg(long, value_enum, default_value_t)]
    output: Format,
    #[command(flatten)]
    database: ReadonlyDatabase,
}

/// Asks for an entry to be reversed; nothing is posted until another operator approves.
pub async fn reverse(args: ReverseArgs) -> anyhow::Result<Outcome> {
    let operator = Operator::connect(&args.operator).await?;
    let effective_date = args
        .effective_date
        .unwrap_or_else(|| Utc::now().date_naive());
    let detail = serde_json::json!({
        "entry_id": args.entry, "effective_date": effective_date,
    });
    let name = operator.name().to_owned();
    let request = operator
        .act(
            OperatorVerb::Reverse,
            &reversal::workflow_id(args.entry),
            Some(&args.reason),
            detail,
            async {
                operator
                    .audit()
                    .request_reversal(EntryId(args.entry), &name, &args.reason, effective_date)
                    .await
                    .map_err(anyhow::Error::from)
            },
        )
        .await?;
    println!(
        "reversal #{} of entry {} asked for by {}; it is posted once another operator runs \
         `acme ledger approve {}`",
        request.request_id, request.entry_id, request.requested_by, request.request_id
    );
    Ok(Outcome::Done)
}

/// Approves another operator's request and posts the reversing entry.
pub async fn approve(args: ApproveArgs) -> anyhow::Result<Outcome> {
    let operator = Operator::connect(&args.operator).await?;
    let pending = operator.audit().reversal(args.request).await?;
    let workflow_id = pending.as_ref().map_or_else(
        || format!("ledger-reversal/request/{}", args.request),
        |request| reversal::workflow_id(request.entry_id),
    );
    let detail = serde_json::json!({ "request_id": args.request });
    let name = operator.name().to_owned();
    let approved = operator
        .act(OperatorVerb::Approve, &workflow_id, None, detail, async {
            operator
                .audit()
                .approve_reversal(args.request, &name)
                .await
                .map_err(anyhow::Error::from)
        })
        .await?;
    println!(
        "reversal #{} approved by {}: entry {} reverses entry {}",
        approved.request_id,
        name,
        approved.reversing_entry_id.unwrap_or_default(),
        approved.entry_id
    );
    Ok(Outcome::Done)
}

/// Lists reversal requests, pending ones unless `--all`.
pub async fn list(args: ReversalsArgs) -> anyhow::Result<Outcome> {
    let ledger = acme_ledger::Ledger::new(
        connect::pool(&args.database.url, ReadonlyDatabase::SETTING, 1).await?,
    );
    let requests: Vec<ReversalRequest> = ledger.reversals(!args.all, MAX_LISTED).await?;
    match args.output {
        Format::Json => output::json(&requests)?,
        Format::Table => {
            let mut table = output::table(&[
                "request",
                "entry",
                "asked by",
                "reason",
                "effective",
                "approved by",
                "reversing entry",
            ]);
            for request in &requests {
                table.add_row(vec![
                    request.request_id.to_string(),
                    request.entry_id.to_string(),
                    request.requested_by.clone(),
                    request.reason.clone(),
                    request.effective_date.to_string(),
                    request
                        .approved_by
                        .clone()
                        .unwrap_or_else(|| "-".to_owned()),
                    request
                        .reversing_entry_id
                        .map_or_else(|| "-".to_owned(), |id| id.to_string()),
                ]);
            }
            println!("{table}");
        }
    }
    Ok(Outcome::Done)
}

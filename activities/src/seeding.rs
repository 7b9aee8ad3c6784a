//! Seeding: numbered members onboarded, and a buy booked for each, by the million, for
//! `acme member seed`, the dealing benchmark and the tests that deal for many members (one
//! implementation, so what a test deals is what an operator seeds).
//!
//! Work goes in chunks of at most [`CHUNK_MAX`] members, each a few set-based statements in
//! transactions of their own, so memory stays flat and a crash loses at most the chunk in
//! flight. A chunk whose work is all there already is skipped after one count, so running a seed
//! again writes nothing and finishes quickly; a chunk done in part is completed, never
//! duplicated (pots, accounts and members are get-or-create, entries idempotent by key, trades
//! by id).
//!
//! A booked buy is what `invest-cash` leaves (DESIGN.md §3, step 1), in two journal entries:
//! `<origin>/receive` moves the cash from the bank mirror to the member's `available` account,
//! `<origin>/reserve` moves it on to `reserved`; then one pending buy trade is created with the
//! id [`trade_book::member_trades::trade_id`] of its origin `<process>/<tag>/<member>/<asset>`.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use acme_ledger::{AccountId, Ledger, LedgerError, NewEntry, NewPosting, OwnerKind};
use acme_sdk::AssetCode;
use chrono::NaiveDate;
use futures::StreamExt as _;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::members::{BANK_POT, CASH, FUNDS};
use crate::trade_book::{self, Side, TradeBookError, member_trades};

/// Most members (or buys) one chunk may hold: a chunk's arrays and entries stay a few tens of
/// megabytes at most.
pub const CHUNK_MAX: usize = 100_000;
/// Members onboarded per chunk unless told otherwise: large enough that per-statement costs
/// vanish, small enough that a chunk commits in well under a second.
pub const MEMBER_CHUNK: usize = 20_000;
/// Buys booked per chunk unless told otherwise (two entries each).
pub const BUY_CHUNK: usize = 20_000;
/// Chunks worked on at once, each on its own connection: the work is PostgreSQL's, and two keep
/// both of this machine's cores busy (the pool must allow as many connections).
pub const CHUNKS_IN_FLIGHT: usize = 2;
/// Who the trade history says created seeded trades.
const SEED_ACTOR: &str = "seed";

/// Errors of seeding: the ledger's or the trade book's, or a buy for a member who is not there.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("seeding: {0}")]
    Ledger(#[from] LedgerError),
    #[error("seeding: {0}")]
    TradeBook(#[from] TradeBookError),
    #[error("seeding: member {member_id} is not onboarded (seed the members first)")]
    NotOnboarded { member_id: String },
    #[error("seeding: a chunk of {count} is more than {max}")]
    ChunkTooLarge { count: usize, max: usize },
    #[error("seeding: model portfolio or asset {0:?} is unknown")]
    Unknown(String),
}

/// Members `<prefix>-<n>` for every `n` in `numbers`, each with `portfolio`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    pub prefix: String,
    pub numbers: RangeInclusive<u64>,
    pub portfolio: Option<String>,
    /// Members per chunk, at most [`CHUNK_MAX`].
    pub chunk: usize,
}

/// What a seed did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seeded {
    /// Members (or buys) written by this run; the others were there already.
    pub new: u64,
    /// Chunks found complete and skipped.
    pub skipped_chunks: u64,
}

impl Seeded {
    fn skipped() -> Self {
        Self {
            new: 0,
            skipped_chunks: 1,
        }
    }

    fn add(&mut self, other: Self) {
        self.new += other.new;
        self.skipped_chunks += other.skipped_chunks;
    }
}

impl Seed {
    /// Members `<prefix>-1` to `<prefix>-<count>`, in chunks of [`MEMBER_CHUNK`].
    pub fn new(prefix: &str, count: u64, portfolio: Option<&str>) -> Self {
        Self {
            prefix: prefix.to_owned(),
            numbers: 1..=count,
            portfolio: portfolio.map(str::to_owned),
            chunk: MEMBER_CHUNK,
        }
    }

    pub fn member_id(&self, n: u64) -> String {
        format!("{}-{n}", self.prefix)
    }

    /// How many members the seed holds.
    pub fn total(&self) -> u64 {
        let (first, last) = (*self.numbers.start(), *self.numbers.end());
        if last < first { 0 } else { last - first + 1 }
    }

    /// The member numbers chunk by chunk, in order (ids in order keep each chunk's index
    /// writes together).
    fn chunks(&self) -> Result<impl Iterator<Item = RangeInclusive<u64>> + use<>, SeedError> {
        if self.chunk == 0 || self.chunk > CHUNK_MAX {
            return Err(SeedError::ChunkTooLarge {
                count: self.chunk,
                max: CHUNK_MAX,
            });
        }
        let (first, last) = (*self.numbers.start(), *self.numbers.end());
        let step = u64::try_from(self.chunk).unwrap_or(1);
        let starts = (first..=last).step_by(self.chunk);
        Ok(starts.map(move |start| start..=last.min(start.saturating_add(step - 1))))
    }

    /// The buy seeded member `n` makes: £100.00 to £999.99, in one fund of [`FUNDS`] after the
    /// other (the dealing benchmark's day).
    pub fn buy(&self, n: u64) -> Result<Buy, SeedError> {
        let pence = 10_000 + i64::try_from(n % 90_000).unwrap_or(0);
        let fund = FUNDS[usize::try_from(n % 3).unwrap_or(0)].0;
        Ok(Buy {
            member_id: self.member_id(n),
            asset: AssetCode::parse(fund).map_err(|e| SeedError::Unknown(e.text))?,
            cash: Decimal::new(pence, 2),
        })
    }
}

/// Onboards the seed's members chunk by chunk (a pot with GBP `available` and `reserved`
/// accounts and the model portfolio), [`CHUNKS_IN_FLIGHT`] chunks at a time, calling
/// `progress(done, total)` as chunks finish, then refreshes the planner statistics. Members that
/// exist are left as they are.
pub async fn seed_members(
    ledger: &Ledger,
    seed: &Seed,
    progress: impl FnMut(u64, u64),
) -> Result<Seeded, SeedError> {
    let cash = cash_code()?;
    let accounts = [(cash.clone(), "available"), (cash, "reserved")];
    let accounts = &accounts;
    in_chunks(
        ledger,
        seed,
        |numbers| seed_member_chunk(ledger, seed, accounts, numbers),
        progress,
    )
    .await
}

/// Runs `work` on each chunk of the seed, [`CHUNKS_IN_FLIGHT`] at a time, adding up what they
/// did and reporting progress as they finish; then refreshes the planner statistics.
async fn in_chunks<F>(
    ledger: &Ledger,
    seed: &Seed,
    work: impl FnMut(RangeInclusive<u64>) -> F,
    mut progress: impl FnMut(u64, u64),
) -> Result<Seeded, SeedError>
where
    F: Future<Output = Result<(u64, Seeded), SeedError>>,
{
    let total = seed.total();
    let mut chunks = futures::stream::iter(seed.chunks()?)
        .map(work)
        .buffer_unordered(CHUNKS_IN_FLIGHT);
    let mut seeded = Seeded::default();
    let mut done = 0;
    while let Some(chunk) = chunks.next().await {
        let (count, chunk) = chunk?;
        seeded.add(chunk);
        done += count;
        progress(done, total);
    }
    ledger.refresh_planner_statistics().await?;
    Ok(seeded)
}

/// One chunk of [`seed_members`]: skipped if every member is there, otherwise pots and accounts
/// (one statement, or get-or-create for a chunk done in part), then the members. Returns the
/// chunk's size and what it did.
async fn seed_member_chunk(
    ledger: &Ledger,
    seed: &Seed,
    accounts: &[(AssetCode, &str)],
    numbers: RangeInclusive<u64>,
) -> Result<(u64, Seeded), SeedError> {
    let ids: Vec<String> = numbers.map(|n| seed.member_id(n)).collect();
    let count = u64::try_from(ids.len()).unwrap_or(u64::MAX);
    if trade_book::members::count_existing(ledger.pool(), &ids).await? == count {
        return Ok((count, Seeded::skipped()));
    }
    ledger
        .open_new_pots(OwnerKind::Member, &ids, accounts)
        .await?;
    let portfolios = vec![seed.portfolio.clone(); ids.len()];
    let new = trade_book::members::insert(ledger.pool(), &ids, &portfolios).await?;
    Ok((
        count,
        Seeded {
            new,
            skipped_chunks: 0,
        },
    ))
}

/// One buy to book: `cash` (at the cash asset's scale) of `asset` for a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buy {
    pub member_id: String,
    pub asset: AssetCode,
    pub cash: Decimal,
}

/// Where booked buys say they come from: entries and trades name the origin
/// `<process>/<tag>/<member>/<asset>` (the workflow a member process would have run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub process: String,
    pub tag: String,
    pub effective_date: NaiveDate,
}

impl Booking {
    fn origin(&self, buy: &Buy) -> String {
        format!(
            "{}/{}/{}/{}",
            self.process, self.tag, buy.member_id, buy.asset
        )
    }

    fn entry(&self, origin: &str, step: &str, legs: [(AccountId, Decimal); 2]) -> NewEntry {
        NewEntry {
            idempotency_key: format!("{origin}/{step}"),
            kind: format!("{}.{step}", self.process),
            process: self.process.clone(),
            workflow_id: origin.to_owned(),
            effective_date: self.effective_date,
            metadata: BTreeMap::new(),
            postings: legs
                .into_iter()
                .map(|(account_id, amount)| NewPosting { account_id, amount })
                .collect(),
        }
    }
}

/// Books one chunk of buys (at most [`CHUNK_MAX`]) as `invest-cash` leaves them: cash received
/// from the bank and reserved (two entries, one `post_batch`), then the pending trades. The
/// members must be onboarded. A chunk whose trades all exist is skipped after one count,
/// without comparing its content (that is what makes a re-run quick); otherwise every entry goes
/// to the ledger, which replays what exists with the same content and refuses the whole chunk if
/// a key exists with other content. Returns how many trades were new.
pub async fn book_buys(
    ledger: &Ledger,
    booking: &Booking,
    buys: &[Buy],
) -> Result<Seeded, SeedError> {
    if buys.len() > CHUNK_MAX {
        return Err(SeedError::ChunkTooLarge {
            count: buys.len(),
            max: CHUNK_MAX,
        });
    }
    let origins: Vec<String> = buys.iter().map(|buy| booking.origin(buy)).collect();
    let ids: Vec<Uuid> = buys
        .iter()
        .zip(&origins)
        .map(|(buy, origin)| member_trades::trade_id(origin, Side::Buy, &buy.asset))
        .collect();
    let count = u64::try_from(buys.len()).unwrap_or(u64::MAX);
    if member_trades::count_existing(ledger.pool(), &ids).await? == count {
        return Ok(Seeded::skipped());
    }
    let cash = cash_code()?;
    let bank_pot = ledger.open_pot(OwnerKind::External, BANK_POT).await?;
    let bank = ledger
        .open_account(bank_pot, &cash, "available", true)
        .await?;
    let members: Vec<String> = buys.iter().map(|buy| buy.member_id.clone()).collect();
    let accounts =
        trade_book::members::cash_accounts_in_bulk(ledger.pool(), &members, CASH).await?;
    let mut entries = Vec::with_capacity(buys.len() * 2);
    for ((buy, origin), accounts) in buys.iter().zip(&origins).zip(accounts) {
        let Some((available, reserved)) = accounts else {
            return Err(SeedError::NotOnboarded {
                member_id: buy.member_id.clone(),
            });
        };
        let (available, reserved) = (AccountId(available), AccountId(reserved));
        entries.push(booking.entry(
            origin,
            "receive",
            [(bank, -buy.cash), (available, buy.cash)],
        ));
        entries.push(booking.entry(
            origin,
            "reserve",
            [(available, -buy.cash), (reserved, buy.cash)],
        ));
    }
    ledger.post_batch(&entries).await?;
    drop(entries);
    let assets: Vec<&str> = buys.iter().map(|buy| buy.asset.as_str()).collect();
    let amounts: Vec<Decimal> = buys.iter().map(|buy| buy.cash).collect();
    let new = member_trades::create_in_bulk(
        ledger.pool(),
        SEED_ACTOR,
        Side::Buy,
        &origins,
        &members,
        &assets,
        &amounts,
    )
    .await?;
    Ok(Seeded {
        new,
        skipped_chunks: 0,
    })
}

/// Books [`Seed::buy`] for every member of the seed, chunk by chunk (`seed.chunk` buys each),
/// [`CHUNKS_IN_FLIGHT`] chunks at a time (their postings still go one batch after the other:
/// the chain head orders them), calling `progress(done, total)` as chunks finish, then
/// refreshes the planner statistics.
pub async fn seed_buys(
    ledger: &Ledger,
    seed: &Seed,
    booking: &Booking,
    progress: impl FnMut(u64, u64),
) -> Result<Seeded, SeedError> {
    let work = |numbers: RangeInclusive<u64>| async move {
        let buys = numbers
            .map(|n| seed.buy(n))
            .collect::<Result<Vec<Buy>, SeedError>>()?;
        let chunk = book_buys(ledger, booking, &buys).await?;
        Ok((u64::try_from(buys.len()).unwrap_or(u64::MAX), chunk))
    };
    in_chunks(ledger, seed, work, progress).await
}

fn cash_code() -> Result<AssetCode, SeedError> {
    AssetCode::parse(CASH).map_err(|e| SeedError::Unknown(e.text))
}

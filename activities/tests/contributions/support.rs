//! Shared fixtures: a database with the platform's reference data and a few members, uploads,
//! readers that never end or break off, and what the books look like.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use acme_activities::contributions::ContributionError;
use acme_activities::contributions::import::{self, Imported, LIMITS, Limits, Upload};
use acme_activities::members::{NewMember, ensure_reference_data, onboard_members};
use acme_ledger::testkit::TestDatabase;
use acme_sdk::EmployerId;
use chrono::NaiveDate;
use tokio::io::{AsyncRead, ReadBuf};

pub const HEADER: &str = "member_id,employer_amount,member_amount,pay_period\n";

/// The day imports run on: pay periods after November 2026 are in the future.
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

/// A fresh database with reference data, members `m-1` to `m-5` (balanced) and `m-new`, who has
/// no risk profile yet.
pub async fn books() -> TestDatabase {
    let db = TestDatabase::create(4)
        .await
        .expect("create a test database: is the stack up? run ops/stack up");
    ensure_reference_data(&db.ledger).await.unwrap();
    let mut members: Vec<NewMember> = (1..=5)
        .map(|n| NewMember {
            member_id: format!("m-{n}"),
            portfolio: Some("balanced".into()),
        })
        .collect();
    members.push(NewMember {
        member_id: "m-new".into(),
        portfolio: None,
    });
    onboard_members(&db.ledger, &members).await.unwrap();
    db
}

pub fn upload(employer: &str, file_name: &str) -> Upload {
    Upload {
        employer_id: EmployerId::parse(employer).unwrap(),
        file_name: file_name.into(),
        today: today(),
    }
}

/// Imports `bytes` as `acme-ltd`'s `file.csv` under the normal limits.
pub async fn import_bytes(
    db: &TestDatabase,
    bytes: impl Into<Vec<u8>>,
) -> Result<Imported, ContributionError> {
    import_as(db, "acme-ltd", "file.csv", bytes).await
}

pub async fn import_as(
    db: &TestDatabase,
    employer: &str,
    file_name: &str,
    bytes: impl Into<Vec<u8>>,
) -> Result<Imported, ContributionError> {
    import::import(
        db.ledger.pool(),
        &upload(employer, file_name),
        io::Cursor::new(bytes.into()),
        LIMITS,
    )
    .await
}

/// Rows in every table a rejected import or row must leave alone: schedules, file parts, rows,
/// rejections, journal entries, postings and member trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Books {
    pub schedules: i64,
    pub file_parts: i64,
    pub rows: i64,
    pub rejections: i64,
    pub journal_entries: i64,
    pub postings: i64,
    pub member_trades: i64,
}

pub async fn books_now(db: &TestDatabase) -> Books {
    let count = |table: &'static str| async move {
        sqlx::query_scalar::<_, i64>(&format!("select count(*) from {table}"))
            .fetch_one(db.ledger.pool())
            .await
            .unwrap()
    };
    Books {
        schedules: count("contribution_schedule").await,
        file_parts: count("contribution_file_part").await,
        rows: count("contribution_row").await,
        rejections: count("contribution_rejection").await,
        journal_entries: count("journal_entry").await,
        postings: count("posting").await,
        member_trades: count("member_trade").await,
    }
}

/// Imports `bytes` expecting a refusal with `code`; asserts that nothing at all was written.
pub async fn assert_refused(db: &TestDatabase, bytes: impl Into<Vec<u8>>, code: &str) -> String {
    let before = books_now(db).await;
    let error = import_bytes(db, bytes).await.unwrap_err();
    assert_eq!(error.code(), Some(code), "{error}");
    assert_eq!(
        books_now(db).await,
        before,
        "a refused file wrote something"
    );
    error.to_string()
}

/// A reader that repeats `pattern` for ever (after `prefix`), counting what it handed out.
pub struct Endless {
    pub prefix: Vec<u8>,
    pub pattern: Vec<u8>,
    pub served: Arc<AtomicU64>,
}

impl Endless {
    pub fn new(prefix: &[u8], pattern: &[u8]) -> Self {
        Self {
            prefix: prefix.to_vec(),
            pattern: pattern.to_vec(),
            served: Arc::default(),
        }
    }
}

impl AsyncRead for Endless {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let mut offset = usize::try_from(this.served.load(Ordering::Relaxed)).unwrap();
        while buf.remaining() > 0 {
            let byte = if offset < this.prefix.len() {
                this.prefix[offset]
            } else {
                this.pattern[(offset - this.prefix.len()) % this.pattern.len()]
            };
            buf.put_slice(&[byte]);
            offset += 1;
        }
        this.served
            .store(u64::try_from(offset).unwrap(), Ordering::Relaxed);
        Poll::Ready(Ok(()))
    }
}

/// A reader that hands out `bytes`, then fails as a dropped connection does.
pub struct BreaksOff {
    pub bytes: io::Cursor<Vec<u8>>,
}

impl AsyncRead for BreaksOff {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.bytes).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() == before => Poll::Ready(Err(
                io::Error::new(io::ErrorKind::ConnectionReset, "connection reset by peer"),
            )),
            other => other,
        }
    }
}

/// Limits small enough for a test to reach.
pub fn small_limits(max_bytes: u64) -> Limits {
    Limits {
        max_bytes,
        max_rows: LIMITS.max_rows,
    }
}

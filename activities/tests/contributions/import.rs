//! Importing schedules: every bad input of issue 15 gets a clear error and changes nothing it
//! must not; good rows go in exactly as sent, whatever the bad rows beside them; a file is stored
//! as received and the same bytes twice are one import.

use std::io;
use std::sync::atomic::Ordering;

use acme_activities::contributions::import::{self, LIMITS, MAX_LINE_BYTES, RejectedRow};
use rust_decimal::Decimal;
use sha2::{Digest as _, Sha256};

use crate::support::{
    BreaksOff, Endless, HEADER, assert_refused, books, books_now, import_as, import_bytes,
    small_limits, upload,
};

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// The report as (line, column, code) triples.
fn report(rows: &[RejectedRow]) -> Vec<(i64, Option<&str>, &str)> {
    rows.iter()
        .map(|r| (r.line, r.column.as_deref(), r.code.as_str()))
        .collect()
}

#[tokio::test]
async fn files_that_are_not_schedules_are_refused_whole_and_store_nothing() {
    let db = books().await;
    let reason = assert_refused(&db, "", "schedule.empty").await;
    assert!(reason.contains("empty"), "{reason}");
    assert_refused(&db, HEADER, "schedule.no_rows").await;
    let reason = assert_refused(
        &db,
        "member,employer_amount,member_amount,pay_period\nm-1,1.00,1.00,2026-11\n",
        "schedule.not_a_schedule",
    )
    .await;
    assert!(
        reason.contains("missing member_id") && reason.contains("unknown member"),
        "{reason}"
    );
    let reason = assert_refused(
        &db,
        "member_id,employer_amount,pay_period\nm-1,1.00,2026-11\n",
        "schedule.not_a_schedule",
    )
    .await;
    assert!(reason.contains("missing member_amount"), "{reason}");
    let reason = assert_refused(
        &db,
        "employer_amount,member_id,member_amount,pay_period\n1.00,m-1,1.00,2026-11\n",
        "schedule.not_a_schedule",
    )
    .await;
    assert!(reason.contains("out of order"), "{reason}");
    // A PDF, and a spreadsheet saved as UTF-16.
    assert_refused(
        &db,
        b"%PDF-1.7\n\x00\x01\x02binary\n".to_vec(),
        "schedule.not_a_schedule",
    )
    .await;
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(HEADER.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let reason = assert_refused(&db, utf16, "schedule.not_a_schedule").await;
    assert!(reason.contains("UTF-16"), "{reason}");
    // Cut short in the middle of its last line.
    let reason = assert_refused(
        &db,
        format!("{HEADER}m-1,100.00,50.00,2026-11\nm-2,100.00,5"),
        "schedule.truncated",
    )
    .await;
    assert!(reason.contains("line end"), "{reason}");
}

#[tokio::test]
async fn an_upload_that_breaks_off_or_never_ends_is_refused_and_stores_nothing() {
    let db = books().await;
    let before = books_now(&db).await;
    let pool = db.ledger.pool();

    let broken = BreaksOff {
        bytes: io::Cursor::new(format!("{HEADER}m-1,100.00,50.00,2026-11\n").into_bytes()),
    };
    let error = import::import(pool, &upload("acme-ltd", "a.csv"), broken, LIMITS)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("schedule.truncated"), "{error}");
    assert!(error.to_string().contains("connection reset"), "{error}");

    // A file of a few GB: well-formed rows without end, refused once past the size limit (a
    // lowered one here), having read no more than one buffer beyond it.
    let endless = Endless::new(HEADER.as_bytes(), b"m-1,100.00,50.00,2026-11\n");
    let error = import::import(
        pool,
        &upload("acme-ltd", "b.csv"),
        endless,
        small_limits(1 << 20),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code(), Some("schedule.too_large"), "{error}");

    // Gigabytes with no line end at all: not a schedule, found out within the first line.
    let one_line = Endless::new(b"", b"x");
    let served = one_line.served.clone();
    let error = import::import(pool, &upload("acme-ltd", "c.csv"), one_line, LIMITS)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("schedule.not_a_schedule"), "{error}");
    assert!(error.to_string().contains("longer than"), "{error}");
    let served = served.load(Ordering::Relaxed);
    assert!(served < 1 << 20, "read {served} bytes of one line");
    assert_eq!(books_now(&db).await, before);
}

#[tokio::test]
async fn bad_rows_go_to_the_report_with_line_column_and_reason_and_good_rows_go_in_as_sent() {
    let db = books().await;
    let before = books_now(&db).await;
    let file = format!(
        "{HEADER}\
         m-1,100.00,50.00,2026-11\n\
         m-2,1e5,0.00,2026-11\n\
         m-3,\"1,000\",0,2026-11\n\
         m-3,1,000,0,2026-11\n\
         m-4,-5,10.00,2026-11\n\
         m-4,0,0,2026-11\n\
         m-4,0.001,1.00,2026-11\n\
         m-4,NaN,1.00,2026-11\n\
         m-5,25.00,0,2026-12\n\
         ghost-1,10.00,10.00,2026-11\n\
         m-new,10.00,10.00,2026-11\n\
         m-2,10.00,0,2026-10\n\
         m-2,20.00,0,2026-11\n\
         m 4,1.00,1.00,2026-11\n\
         m-3,1.00,1.00,11/2026\n\
         m-5,0,12.34,2026-10\n"
    );
    let imported = import_bytes(&db, file).await.unwrap();
    assert!(imported.new);
    let schedule = &imported.schedule;
    assert_eq!((schedule.accepted, schedule.rejected), (2, 14));
    assert_eq!(schedule.employer_total, dec("100.00"));
    assert_eq!(schedule.member_total, dec("62.34"));

    let rejected = import::rejections(db.ledger.pool(), schedule.schedule_id, 0, 100)
        .await
        .unwrap();
    assert_eq!(
        report(&rejected),
        vec![
            (3, Some("employer_amount"), "amount.malformed"),
            (4, Some("employer_amount"), "amount.malformed"),
            (5, None, "row.field_count"),
            (6, Some("employer_amount"), "amount.negative"),
            (7, None, "amount.zero"),
            (8, Some("employer_amount"), "amount.too_many_decimals"),
            (9, Some("employer_amount"), "amount.malformed"),
            (10, Some("pay_period"), "pay_period.future"),
            (11, Some("member_id"), "member.unknown"),
            (12, Some("member_id"), "member.no_risk_profile"),
            (13, Some("member_id"), "member.duplicate"),
            (14, Some("member_id"), "member.duplicate"),
            (15, Some("member_id"), "member.invalid_id"),
            (16, Some("pay_period"), "pay_period.malformed"),
        ]
    );
    // Every reason says what is wrong in words.
    let reason = |line: i64| &rejected.iter().find(|r| r.line == line).unwrap().reason;
    assert!(reason(3).contains("1e5"), "{}", reason(3));
    assert!(
        reason(5).contains("expected 4 fields, found 5"),
        "{}",
        reason(5)
    );
    assert!(reason(8).contains("decimal places"), "{}", reason(8));
    assert!(reason(13).contains("on 2 lines (13, 14)"), "{}", reason(13));
    assert!(reason(12).contains("no risk profile"), "{}", reason(12));

    // The accepted rows are exactly the good lines, as sent.
    let rows: Vec<(i64, String, Decimal, Decimal, chrono::NaiveDate)> = sqlx::query_as(
        "select line_no, member_id, employer_amount, member_amount, pay_period
         from contribution_row order by line_no",
    )
    .fetch_all(db.ledger.pool())
    .await
    .unwrap();
    let month = |m| chrono::NaiveDate::from_ymd_opt(2026, m, 1).unwrap();
    assert_eq!(
        rows,
        vec![
            (2, "m-1".into(), dec("100.00"), dec("50.00"), month(11)),
            (17, "m-5".into(), dec("0"), dec("12.34"), month(10)),
        ]
    );
    // Rejected rows moved no money and made no trade.
    let after = books_now(&db).await;
    assert_eq!(
        (after.journal_entries, after.postings, after.member_trades),
        (
            before.journal_entries,
            before.postings,
            before.member_trades
        )
    );
}

#[tokio::test]
async fn a_bom_crlf_and_quoted_fields_are_read_as_the_format_says() {
    let db = books().await;
    let crlf = format!(
        "\u{feff}{}m-1,100.00,50.00,2026-11\r\n\"m-2\",\"7.50\",\"0\",\"2026-11\"\r\n",
        HEADER.replace('\n', "\r\n")
    );
    let imported = import_bytes(&db, crlf).await.unwrap();
    assert_eq!(
        (imported.schedule.accepted, imported.schedule.rejected),
        (2, 0)
    );
    assert_eq!(imported.schedule.employer_total, dec("107.50"));
    // The same rows with LF line ends and no BOM are another file, read the same way.
    let lf = format!("{HEADER}m-1,100.00,50.00,2026-11\n\"m-2\",\"7.50\",\"0\",\"2026-11\"\n");
    let other = import_as(&db, "acme-ltd", "lf.csv", lf).await.unwrap();
    assert!(other.new);
    assert_ne!(other.schedule.schedule_id, imported.schedule.schedule_id);
    assert_eq!(
        (
            other.schedule.accepted,
            other.schedule.employer_total,
            other.schedule.member_total
        ),
        (2, dec("107.50"), dec("50.00"))
    );
    // A quoted comma inside a member id is one field, and not a valid id.
    let quoted = format!("{HEADER}\"m-1,m-2\",1.00,1.00,2026-11\nm-3,1.00,1.00,2026-11\n");
    let imported = import_bytes(&db, quoted).await.unwrap();
    let rejected = import::rejections(db.ledger.pool(), imported.schedule.schedule_id, 0, 10)
        .await
        .unwrap();
    assert_eq!(
        report(&rejected),
        vec![(2, Some("member_id"), "member.invalid_id")]
    );
    assert_eq!(imported.schedule.accepted, 1);
}

#[tokio::test]
async fn a_file_is_stored_as_received_and_the_same_bytes_twice_are_one_import() {
    let db = books().await;
    let file = format!("\u{feff}{HEADER}m-1,100.00,50.00,2026-11\r\nm-2,1e5,0,2026-11\n");
    let first = import_as(&db, "acme-ltd", "november.csv", file.clone())
        .await
        .unwrap();
    assert!(first.new);
    assert_eq!(
        first.schedule.digest,
        hex::encode(Sha256::digest(file.as_bytes()))
    );
    assert_eq!(
        first.schedule.byte_count,
        i64::try_from(file.len()).unwrap()
    );
    let mut stored = Vec::new();
    import::copy_file(db.ledger.pool(), first.schedule.schedule_id, &mut stored)
        .await
        .unwrap();
    assert_eq!(
        stored,
        file.as_bytes(),
        "the stored file differs from the one received"
    );

    let before = books_now(&db).await;
    let again = import_as(&db, "acme-ltd", "copy of november (1).csv", file.clone())
        .await
        .unwrap();
    assert!(!again.new);
    assert_eq!(again.schedule, first.schedule);
    assert_eq!(again.schedule.file_name, "november.csv");
    assert_eq!(books_now(&db).await, before);

    let error = import_as(&db, "other-plc", "november.csv", file)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("schedule.other_employer"), "{error}");
    assert!(error.to_string().contains("acme-ltd"), "{error}");
    assert_eq!(books_now(&db).await, before);
}

#[tokio::test]
async fn a_large_file_streams_through_in_batches_and_parts() {
    let db = books().await;
    // 50,000 lines (three batches) of the five members, each then on 10,000 lines: all rejected
    // as duplicates, each reason naming the first few lines only.
    let mut file = String::from(HEADER);
    for n in 0..50_000 {
        file.push_str(&format!(
            "m-{},{}.{:02},0,2026-11\n",
            n % 5 + 1,
            n % 1000 + 1,
            n % 100
        ));
    }
    assert!(file.len() > MAX_LINE_BYTES);
    let imported = import_bytes(&db, file.clone()).await.unwrap();
    assert_eq!(
        (imported.schedule.accepted, imported.schedule.rejected),
        (0, 50_000)
    );
    let first = import::rejections(db.ledger.pool(), imported.schedule.schedule_id, 0, 1)
        .await
        .unwrap();
    assert_eq!(
        first[0].reason,
        "member m-1 is on 10000 lines (2, 7, 12, 17, 22, …); a schedule has one line per member"
    );
    let mut stored = Vec::new();
    import::copy_file(db.ledger.pool(), imported.schedule.schedule_id, &mut stored)
        .await
        .unwrap();
    assert_eq!(stored, file.as_bytes());
}

//! Every read and write of the simulator's database. Transitions are conditional updates
//! (`where status = 'received'`) written in one transaction with the callback they announce, so
//! running a step twice, or after a crash, changes nothing that was already done.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgPool;
use sqlx::types::Json;

use crate::calendar;
use crate::error::Error;
use crate::messages::{
    CallbackRecord, Confirmation, ConfirmationType, Faults, Holding, OrderRequest, OrderState,
    OrderStatus, Side,
};
use crate::pricing::Fill;
use crate::statements::{ReconFaults, Transaction};

/// Which orders the custodian's books hold as settled by a date (`$1`): those it settled, and
/// those of the ISIN `$2` whose settlement it has not yet announced (the `late_notice_of` knob).
const SETTLED_BY: &str = "settlement_date <= $1 \
     and (status = 'settled' or (status = 'priced' and isin = $2))";

/// A callback waiting in the outbox: its id, how many copies to send, and its JSON body.
pub type PendingCallback = (i64, i16, serde_json::Value);

/// The outcome of [`Store::insert_order`].
#[derive(Debug)]
pub enum Inserted {
    /// A new order, refused on receipt when there is a reason.
    New { reason: Option<String> },
    /// The reference was already known; nothing was written.
    Exists,
}

#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
}

/// An order as stored, with its confirmation once priced.
#[derive(Debug, sqlx::FromRow)]
pub struct StoredOrder {
    pub request: Json<OrderRequest>,
    pub settlement_date: NaiveDate,
    status: String,
    reason: Option<String>,
    confirmation_ref: Option<String>,
    price: Option<Decimal>,
    units: Option<Decimal>,
    gross_amount: Option<Decimal>,
    charges: Option<Decimal>,
    net_amount: Option<Decimal>,
    settlement_amount: Option<Decimal>,
}

const ORDER_COLUMNS: &str = "request, settlement_date, status, reason, confirmation_ref, price, \
     units, gross_amount, charges, net_amount, settlement_amount";

impl StoredOrder {
    pub fn status(&self) -> Result<OrderStatus, Error> {
        let status = match self.status.as_str() {
            "received" => OrderState::Received,
            "priced" => OrderState::Priced,
            "settled" => OrderState::Settled,
            "rejected" => OrderState::Rejected,
            other => return Err(Error::Corrupt(format!("unknown order status {other:?}"))),
        };
        Ok(OrderStatus {
            order_ref: self.request.order_ref().to_owned(),
            status,
            reason: self.reason.clone(),
            confirmation: self.confirmation(),
        })
    }

    fn confirmation(&self) -> Option<Confirmation> {
        let request = &self.request.0;
        Some(Confirmation {
            msg_type: match request.side() {
                Side::Buy => ConfirmationType::Subscription,
                Side::Sell => ConfirmationType::Redemption,
            },
            order_ref: request.order_ref().to_owned(),
            confirmation_ref: self.confirmation_ref.clone()?,
            isin: request.isin().to_owned(),
            trade_date: request.trade_date(),
            price: self.price?,
            units: self.units?,
            gross_amount: self.gross_amount?,
            charges: self.charges?,
            net_amount: self.net_amount?,
            settlement_amount: self.settlement_amount?,
            settlement_date: self.settlement_date,
        })
    }
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Sets the clock on first start only; after that the stored date wins, so a restart
    /// carries on where it stopped.
    pub async fn init_clock(&self, start: NaiveDate) -> Result<NaiveDate, Error> {
        sqlx::query(
            "insert into business_clock (business_date) values ($1) on conflict do nothing",
        )
        .bind(start)
        .execute(&self.pool)
        .await?;
        self.business_date().await
    }

    pub async fn business_date(&self) -> Result<NaiveDate, Error> {
        Ok(
            sqlx::query_scalar("select business_date from business_clock")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    pub async fn advance_clock(&self, days: u32) -> Result<NaiveDate, Error> {
        let mut tx = self.pool.begin().await?;
        let current: NaiveDate =
            sqlx::query_scalar("select business_date from business_clock for update")
                .fetch_one(&mut *tx)
                .await?;
        let next = calendar::add_business_days(current, days)
            .ok_or_else(|| Error::Config(format!("cannot move {days} days past {current}")))?;
        sqlx::query("update business_clock set business_date = $1, advanced_at = now()")
            .bind(next)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(next)
    }

    pub async fn faults(&self) -> Result<Faults, Error> {
        type Row = (Decimal, i32, bool, bool, Vec<String>, Decimal, i32, i64);
        let row: Row = sqlx::query_as(
            "select error_rate, error_burst, duplicate_callbacks, drop_callbacks, reject_isins, \
             partial_fill, dealing_charge_bps, price_delay_ms from fault_setting",
        )
        .fetch_one(&self.pool)
        .await?;
        let corrupt = |what: &str| Error::Corrupt(format!("fault_setting.{what} is negative"));
        Ok(Faults {
            error_rate: row.0,
            error_burst: u32::try_from(row.1).map_err(|_| corrupt("error_burst"))?,
            duplicate_callbacks: row.2,
            drop_callbacks: row.3,
            reject_isins: row.4,
            partial_fill: row.5,
            dealing_charge_bps: u32::try_from(row.6).map_err(|_| corrupt("dealing_charge_bps"))?,
            price_delay_ms: u64::try_from(row.7).map_err(|_| corrupt("price_delay_ms"))?,
        })
    }

    /// Replaces every knob. `faults` must have been validated, which also bounds the integers.
    pub async fn set_faults(&self, faults: &Faults) -> Result<(), Error> {
        let too_large = |what: &str| Error::Config(format!("{what} is too large"));
        sqlx::query(
            "update fault_setting set error_rate = $1, error_burst = $2, duplicate_callbacks = $3, \
             drop_callbacks = $4, reject_isins = $5, partial_fill = $6, dealing_charge_bps = $7, \
             price_delay_ms = $8",
        )
        .bind(faults.error_rate)
        .bind(i32::try_from(faults.error_burst).map_err(|_| too_large("error_burst"))?)
        .bind(faults.duplicate_callbacks)
        .bind(faults.drop_callbacks)
        .bind(&faults.reject_isins)
        .bind(faults.partial_fill)
        .bind(i32::try_from(faults.dealing_charge_bps).map_err(|_| too_large("charge"))?)
        .bind(i64::try_from(faults.price_delay_ms).map_err(|_| too_large("price_delay_ms"))?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Uses up one request of the error burst, if any is left: true when this one must fail.
    pub async fn take_error_burst(&self) -> Result<bool, Error> {
        let taken = sqlx::query(
            "update fault_setting set error_burst = error_burst - 1 where error_burst > 0",
        )
        .execute(&self.pool)
        .await?;
        Ok(taken.rows_affected() > 0)
    }

    /// Inserts a new order unless its reference is known. `rejection` decides, from the
    /// business date, whether it is refused on receipt; the clock is locked meanwhile, so an
    /// order cannot slip in for a trade date that closes at the same moment.
    pub async fn insert_order(
        &self,
        order: &OrderRequest,
        settlement_date: NaiveDate,
        rejection: impl FnOnce(NaiveDate) -> Option<String>,
    ) -> Result<Inserted, Error> {
        let mut tx = self.pool.begin().await?;
        let business_date: NaiveDate =
            sqlx::query_scalar("select business_date from business_clock for share")
                .fetch_one(&mut *tx)
                .await?;
        let reason = rejection(business_date);
        let status = if reason.is_some() {
            "rejected"
        } else {
            "received"
        };
        let inserted = sqlx::query(
            "insert into custodian_order \
             (order_ref, side, isin, trade_date, settlement_date, request, status, reason) \
             values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (order_ref) do nothing",
        )
        .bind(order.order_ref())
        .bind(order.side().as_str())
        .bind(order.isin())
        .bind(order.trade_date())
        .bind(settlement_date)
        .bind(Json(order))
        .bind(status)
        .bind(&reason)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(if inserted.rows_affected() == 1 {
            Inserted::New { reason }
        } else {
            Inserted::Exists
        })
    }

    pub async fn find_order(&self, order_ref: &str) -> Result<Option<StoredOrder>, Error> {
        Ok(sqlx::query_as(&format!(
            "select {ORDER_COLUMNS} from custodian_order where order_ref = $1"
        ))
        .bind(order_ref)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Received orders whose trade date has closed, once `price_delay_ms` has passed since the
    /// clock last moved; oldest first, at most `limit`.
    pub async fn orders_to_price(
        &self,
        business_date: NaiveDate,
        price_delay_ms: u64,
        limit: i64,
    ) -> Result<Vec<StoredOrder>, Error> {
        let delay_ms = i64::try_from(price_delay_ms).unwrap_or(i64::MAX);
        Ok(sqlx::query_as(&format!(
            "select {ORDER_COLUMNS} from custodian_order \
             where status = 'received' and trade_date < $1 \
               and (select advanced_at from business_clock) \
                   + $2 * interval '1 millisecond' <= now() \
             order by trade_date, received_at, order_ref limit $3"
        ))
        .bind(business_date)
        .bind(delay_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn price(&self, isin: &str, trade_date: NaiveDate) -> Result<Option<Decimal>, Error> {
        Ok(
            sqlx::query_scalar("select price from price where isin = $1 and trade_date = $2")
                .bind(isin)
                .bind(trade_date)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn set_price(
        &self,
        isin: &str,
        trade_date: NaiveDate,
        price: Decimal,
    ) -> Result<(), Error> {
        sqlx::query(
            "insert into price (isin, trade_date, price) values ($1, $2, $3) \
             on conflict (isin, trade_date) do update set price = excluded.price, set_at = now()",
        )
        .bind(isin)
        .bind(trade_date)
        .bind(price)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records the fill and queues the `priced` callback. `None` when the order was no longer
    /// waiting to be priced (another step got there first).
    pub async fn record_priced(
        &self,
        order: &StoredOrder,
        price: Decimal,
        fill: &Fill,
        copies: i16,
    ) -> Result<Option<Confirmation>, Error> {
        let mut tx = self.pool.begin().await?;
        let updated: Option<StoredOrder> = sqlx::query_as(&format!(
            "update custodian_order set status = 'priced', \
               confirmation_ref = 'CNF' || lpad(nextval('confirmation_seq')::text, 10, '0'), \
               price = $2, units = $3, gross_amount = $4, charges = $5, net_amount = $6, \
               settlement_amount = $7, priced_at = now() \
             where order_ref = $1 and status = 'received' returning {ORDER_COLUMNS}"
        ))
        .bind(order.request.order_ref())
        .bind(price)
        .bind(fill.units)
        .bind(fill.gross_amount)
        .bind(fill.charges)
        .bind(fill.net_amount)
        .bind(fill.settlement_amount)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(confirmation) = updated.as_ref().and_then(StoredOrder::confirmation) else {
            return Ok(None);
        };
        let callback = crate::messages::Callback::Priced {
            confirmation: confirmation.clone(),
        };
        queue_callback(&mut tx, &callback, copies).await?;
        tx.commit().await?;
        Ok(Some(confirmation))
    }

    /// Refuses an order that was received but not yet priced; false if it was not in that state.
    pub async fn reject_received(&self, order_ref: &str, reason: &str) -> Result<bool, Error> {
        let rejected = sqlx::query(
            "update custodian_order set status = 'rejected', reason = $2 \
             where order_ref = $1 and status = 'received'",
        )
        .bind(order_ref)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(rejected.rows_affected() == 1)
    }

    /// Settles every priced order whose settlement date has come, queueing a `settled`
    /// callback for each; returns how many. Orders of `late_notice_of` (a fault knob) are
    /// announced one business day after their settlement date.
    pub async fn settle_due(
        &self,
        business_date: NaiveDate,
        copies: i16,
        late_notice_of: Option<&str>,
    ) -> Result<usize, Error> {
        let mut tx = self.pool.begin().await?;
        let mut settled: Vec<(String, NaiveDate)> = sqlx::query_as(
            "update custodian_order set status = 'settled', settled_at = now() \
             where status = 'priced' and settlement_date <= $1 \
               and (isin is distinct from $2 or settlement_date < $1) \
             returning order_ref, settlement_date",
        )
        .bind(business_date)
        .bind(late_notice_of)
        .fetch_all(&mut *tx)
        .await?;
        settled.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        for (order_ref, settlement_date) in &settled {
            let callback = crate::messages::Callback::Settled {
                order_ref: order_ref.clone(),
                settlement_date: *settlement_date,
            };
            queue_callback(&mut tx, &callback, copies).await?;
        }
        tx.commit().await?;
        Ok(settled.len())
    }

    pub async fn pending_callbacks(&self, limit: i64) -> Result<Vec<PendingCallback>, Error> {
        Ok(sqlx::query_as(
            "select callback_id, copies, body from callback where state = 'pending' \
             order by callback_id limit $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn record_attempt(
        &self,
        callback_id: i64,
        copy_no: i16,
        attempt_no: i16,
        outcome: Result<u16, String>,
    ) -> Result<(), Error> {
        let (http_status, error) = match outcome {
            Ok(status) => (Some(i16::try_from(status).unwrap_or(i16::MAX)), None),
            Err(error) => (None, Some(error)),
        };
        sqlx::query(
            "insert into callback_attempt (callback_id, copy_no, attempt_no, http_status, error) \
             values ($1, $2, $3, $4, $5)",
        )
        .bind(callback_id)
        .bind(copy_no)
        .bind(attempt_no)
        .bind(http_status)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn finish_callback(&self, callback_id: i64, delivered: bool) -> Result<(), Error> {
        sqlx::query(
            "update callback set state = $2, finished_at = now() \
             where callback_id = $1 and state = 'pending'",
        )
        .bind(callback_id)
        .bind(if delivered { "delivered" } else { "failed" })
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn callback_records(&self, limit: i64) -> Result<Vec<CallbackRecord>, Error> {
        let rows: Vec<(i64, String, String, String, i16, i64)> = sqlx::query_as(
            "select c.callback_id, c.order_ref, c.event, c.state, c.copies, \
               (select count(*) from callback_attempt a where a.callback_id = c.callback_id) \
             from callback c order by c.callback_id limit $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(callback_id, order_ref, event, state, copies, attempts)| CallbackRecord {
                    callback_id,
                    order_ref,
                    event,
                    state,
                    copies,
                    attempts,
                },
            )
            .collect())
    }

    /// Settled units per ISIN as of a date: buys add, sells subtract. Orders of `late_notice_of`
    /// count as settled on their date, whatever we were told (see [`SETTLED_BY`]).
    pub async fn holdings(
        &self,
        as_of: NaiveDate,
        late_notice_of: Option<&str>,
    ) -> Result<Vec<Holding>, Error> {
        let rows: Vec<(String, Decimal)> = sqlx::query_as(&format!(
            "select isin, sum(case side when 'buy' then units else -units end) \
             from custodian_order where {SETTLED_BY} \
             group by isin having sum(case side when 'buy' then units else -units end) <> 0 \
             order by isin"
        ))
        .bind(as_of)
        .bind(late_notice_of)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(isin, units)| Holding { isin, units })
            .collect())
    }

    /// Settled movements as of a date, one per order, referenced by its confirmation, oldest
    /// first: the lines of the transaction statement (`semt.017`) and, by order reference and
    /// settlement date, of the cash statement (`camt.053`).
    pub async fn transactions(
        &self,
        as_of: NaiveDate,
        late_notice_of: Option<&str>,
    ) -> Result<Vec<Transaction>, Error> {
        type Row = (
            String,
            String,
            String,
            String,
            Decimal,
            Decimal,
            NaiveDate,
            NaiveDate,
        );
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "select 'TX' || confirmation_ref, order_ref, isin, side, units, \
               case side when 'buy' then -settlement_amount else settlement_amount end, \
               trade_date, settlement_date \
             from custodian_order where {SETTLED_BY} \
             order by settlement_date, order_ref"
        ))
        .bind(as_of)
        .bind(late_notice_of)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(
                |(transaction_ref, order_ref, isin, side, units, amount, trade_date, settles)| {
                    Ok(Transaction {
                        transaction_ref,
                        order_ref: Some(order_ref),
                        isin,
                        side: match side.as_str() {
                            "buy" => Side::Buy,
                            "sell" => Side::Sell,
                            other => return Err(Error::Corrupt(format!("order side {other:?}"))),
                        },
                        units,
                        amount,
                        trade_date,
                        settlement_date: settles,
                    })
                },
            )
            .collect()
    }

    /// The reconciliation fault knobs (validated when they were set).
    pub async fn recon_faults(&self) -> Result<ReconFaults, Error> {
        let knobs: Json<ReconFaults> = sqlx::query_scalar("select knobs from recon_fault_setting")
            .fetch_one(&self.pool)
            .await?;
        Ok(knobs.0)
    }

    pub async fn set_recon_faults(&self, faults: &ReconFaults) -> Result<(), Error> {
        sqlx::query("update recon_fault_setting set knobs = $1")
            .bind(Json(faults))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Writes a callback to the outbox; with no copies to send it is recorded as dropped.
async fn queue_callback(
    tx: &mut sqlx::PgConnection,
    callback: &crate::messages::Callback,
    copies: i16,
) -> Result<(), Error> {
    let body = serde_json::to_value(callback)
        .map_err(|e| Error::Corrupt(format!("callback does not serialize: {e}")))?;
    sqlx::query(
        "insert into callback (order_ref, event, body, copies, state) values ($1, $2, $3, $4, $5) \
         on conflict (order_ref, event) do nothing",
    )
    .bind(callback.order_ref())
    .bind(callback.event())
    .bind(body)
    .bind(copies)
    .bind(if copies == 0 { "dropped" } else { "pending" })
    .execute(tx)
    .await?;
    Ok(())
}

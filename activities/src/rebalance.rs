//! Re-balancing's plan, set-based: for a business date D, which member pots have drifted outside
//! their model portfolio's band at D's closing prices, and what re-balancing them would trade,
//! per fund, before anything is created (`acme rebalance plan`). Reads only.
//!
//! The rule is `acme_sdk::rebalance` (ADR 18), computed here in one statement over every pot with
//! PostgreSQL's exact `div` on the same numbers; a test compares the two on random pots. A pot
//! counts its `available` units only; a pot with a member trade not yet settled (pending,
//! aggregated or priced) has trades in flight and is skipped and reported, never planned, so it
//! can never be traded twice. Prices must all be recorded for D (`crate::prices::of_date`),
//! else the plan is refused with `price.stale` / `price.missing` and nothing is computed.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgPool;

use crate::members::CASH;
use crate::prices::{self, PriceError};

/// Every member pot with a model portfolio, one row per fund it holds or its model names:
/// `(pot_id, asset_code, units, price, weight, tolerance_bp, unit_scale, in_flight)`, with the
/// pot's funds' value `total` and each fund's `value` and `gap` (`value − weight × total`), and
/// whether the pot has drifted. Prices are those of `$1`; `$2` limits the pots (all when null).
pub const POSITIONS: &str = "
    with held as (
        select a.pot_id, a.asset_code, b.amount as units
        from account a
        join balance b on b.account_id = a.account_id
        where a.purpose = 'available' and a.asset_code <> $3 and b.amount <> 0
          and ($2::bigint[] is null or a.pot_id = any ($2))
    ),
    open_trades as (
        select distinct member_id from member_trade
        where status in ('pending', 'aggregated', 'priced')
    ),
    pots as (
        select m.member_id, m.pot_id, m.portfolio_code, mp.tolerance_bp,
               o.member_id is not null as in_flight
        from member m
        join model_portfolio mp on mp.portfolio_code = m.portfolio_code
        left join open_trades o on o.member_id = m.member_id
        where ($2::bigint[] is null or m.pot_id = any ($2))
    ),
    positions as (
        select p.member_id, p.pot_id, p.tolerance_bp, p.in_flight, x.asset_code,
               sum(x.units) as units, sum(x.weight) as weight
        from pots p
        join (
            select pot_id, asset_code, units, 0 as weight from held
            union all
            select m.pot_id, w.asset_code, 0, w.weight
            from pots m join model_weight w on w.portfolio_code = m.portfolio_code
        ) x on x.pot_id = p.pot_id
        group by p.member_id, p.pot_id, p.tolerance_bp, p.in_flight, x.asset_code
    ),
    valued as (
        select q.*, c.price, s.scale as unit_scale,
               floor(q.units * c.price * 100) * 0.01 as value
        from positions q
        join closing_price c on c.asset_code = q.asset_code and c.price_date = $1
        join asset s on s.asset_code = q.asset_code
    ),
    totalled as (
        select v.*, sum(v.value) over (partition by v.pot_id) as total from valued v
    ),
    gapped as (
        select t.*, t.value - t.weight * t.total as gap from totalled t
    )
    select g.*,
           g.total > 0 and bool_or(abs(g.gap) * 10000 > g.tolerance_bp * g.total)
               over (partition by g.pot_id) as drifted
    from gapped g";

/// The plan's sells and buys per pot and fund, as CTEs over `p` ([`POSITIONS`]): `proceeds`
/// has `(pot_id, member_id, asset_code, sell_units, sell_proceeds, buy_cash)` of the drifted
/// pots without trades in flight. Buys share the pot's planned proceeds pro rata to the
/// shortfalls, floored to the penny.
pub const TRADES: &str = "
    sells as (
        select p.*,
               case when p.gap <= 0 then 0
                    when p.weight = 0 then p.units
                    else least(p.units, div(p.gap * power(10::numeric, p.unit_scale), p.price)
                                        * power(10::numeric, -p.unit_scale))
               end as sell_units
        from p where p.drifted and not p.in_flight
    ),
    valued_sells as (
        select s.*, floor(s.sell_units * s.price * 100) * 0.01 as sell_proceeds from sells s
    ),
    proceeds as (
        select v.pot_id, v.member_id, v.asset_code, v.sell_units, v.sell_proceeds,
               case when v.gap < 0 and v.pot_shortfall > 0
                    then div(v.pot_proceeds * 100 * (-v.gap), v.pot_shortfall) * 0.01
                    else 0 end as buy_cash
        from (
            select w.*,
                   sum(w.sell_proceeds) over (partition by w.pot_id) as pot_proceeds,
                   sum(greatest(-w.gap, 0)) over (partition by w.pot_id) as pot_shortfall
            from valued_sells w
        ) v
    )";

/// One fund's line of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FundLine {
    pub asset_code: String,
    /// Pots selling it on D, and the units and planned proceeds.
    pub selling_pots: i64,
    pub sell_units: Decimal,
    pub sell_proceeds: Decimal,
    /// Pots buying it on D+1, and the cash planned (shrunk pro rata if the sells bring less).
    pub buying_pots: i64,
    pub buy_cash: Decimal,
}

/// What re-balancing D would do, before anything is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub date: NaiveDate,
    /// Pots with a model portfolio and something to value.
    pub pots_valued: i64,
    /// Drifted pots that would trade.
    pub drifted: i64,
    /// Drifted pots skipped because they have trades in flight.
    pub skipped_in_flight: i64,
    pub funds: Vec<FundLine>,
}

/// The plan of `date` over every member pot: counts, and units and cash per fund, in one
/// statement (the positions are computed once, for both).
pub async fn plan(pool: &PgPool, date: NaiveDate) -> Result<Plan, PriceError> {
    prices::of_date(pool, date).await?;
    type Row = (
        i64,
        i64,
        i64,
        Option<String>,
        i64,
        Decimal,
        Decimal,
        i64,
        Decimal,
    );
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "with p as ({POSITIONS}), {TRADES},
         counts as (
             select count(distinct pot_id) filter (where total > 0) as valued,
                    count(distinct pot_id) filter (where drifted and not in_flight) as drifted,
                    count(distinct pot_id) filter (where drifted and in_flight) as skipped
             from p
         ),
         funds as (
             select asset_code,
                    count(*) filter (where sell_units > 0) as selling_pots,
                    sum(sell_units) as sell_units, sum(sell_proceeds) as sell_proceeds,
                    count(*) filter (where buy_cash > 0) as buying_pots,
                    sum(buy_cash) as buy_cash
             from proceeds group by asset_code
         )
         select c.valued, c.drifted, c.skipped, f.asset_code,
                coalesce(f.selling_pots, 0), coalesce(f.sell_units, 0),
                coalesce(f.sell_proceeds, 0), coalesce(f.buying_pots, 0),
                coalesce(f.buy_cash, 0)
         from counts c left join funds f on true order by f.asset_code"
    ))
    .bind(date)
    .bind(None::<Vec<i64>>)
    .bind(CASH)
    .fetch_all(pool)
    .await?;
    let (pots_valued, drifted, skipped_in_flight) =
        rows.first().map_or((0, 0, 0), |row| (row.0, row.1, row.2));
    let funds = rows
        .into_iter()
        .filter_map(|row| {
            Some(FundLine {
                asset_code: row.3?,
                selling_pots: row.4,
                sell_units: row.5,
                sell_proceeds: row.6,
                buying_pots: row.7,
                buy_cash: row.8,
            })
        })
        .collect();
    Ok(Plan {
        date,
        pots_valued,
        drifted,
        skipped_in_flight,
        funds,
    })
}

/// The planned trades of some pots (`pot_id, member_id, asset, sell units, sell proceeds, buy
/// cash`), in pot and asset order: what a run would create for them, and what the tests compare
/// with `acme_sdk::rebalance`.
pub async fn planned_trades(
    pool: &PgPool,
    date: NaiveDate,
    pots: &[i64],
) -> Result<Vec<(i64, String, String, Decimal, Decimal, Decimal)>, PriceError> {
    prices::of_date(pool, date).await?;
    Ok(sqlx::query_as(&format!(
        "with p as ({POSITIONS}), {TRADES}
         select * from proceeds order by pot_id, asset_code"
    ))
    .bind(date)
    .bind(pots.to_vec())
    .bind(CASH)
    .fetch_all(pool)
    .await?)
}

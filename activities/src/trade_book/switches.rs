//! Switches (ADR 26): sells whose proceeds fund buys. The one owner of `switch_target` and of a
//! sell's `switched` cash (migration 0017). The run that creates such sells records the buys it
//! plans ([`record_targets`]); allocating the sells' external trade splits each sell's actual
//! proceeds by those weights ([`stage_funding`]), and the trade records what was reserved for
//! the buys ([`record_switched`]), which settlement then leaves in place.

use sqlx::PgConnection;
use uuid::Uuid;

use super::TradeBookError;

/// Records the planned buys of the caller's temporary table
/// `staged_target (trade_key text, asset_code text, weight numeric)` under the origins
/// `<workflow id>/<trade_key>`, in the caller's transaction; rows already recorded are left as
/// they are. Returns how many were new.
pub async fn record_targets(
    conn: &mut PgConnection,
    workflow_id: &str,
) -> Result<u64, TradeBookError> {
    Ok(sqlx::query(
        "insert into switch_target (origin_workflow_id, asset_code, weight)
         select $1 || '/' || trade_key, asset_code, weight from staged_target
         on conflict (origin_workflow_id, asset_code) do nothing",
    )
    .bind(workflow_id)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Stages the buys funded by the priced sells of an external trade that belong to a switch and
/// are not funded yet, in the caller's transaction: `staged_buy (trade_key, member_id,
/// asset_code, cash)` (the key is the sell's trade id; the shape
/// [`super::member_trades::create_staged_buys`] reads), and `switch_funding (seq, trade_id,
/// member_id, cash)`, each sell's total. A sell's proceeds (`delivered`, what actually arrived)
/// are shared pro rata to its origin's weights, each share floored to the penny with exact
/// integer division, so the buys never spend more than arrived. Zero shares are left out.
/// Returns how many sells are funded.
pub async fn stage_funding(
    conn: &mut PgConnection,
    external_trade_id: Uuid,
) -> Result<u64, TradeBookError> {
    sqlx::query(
        "create temp table staged_buy on commit drop as
         select t.trade_id::text as trade_key, t.member_id, g.asset_code,
                div(t.delivered * 100 * g.weight,
                    sum(g.weight) over (partition by t.trade_id)) * 0.01 as cash
         from member_trade t
         join switch_target g on g.origin_workflow_id = t.origin_workflow_id
         where t.external_trade_id = $1 and t.side = 'sell' and t.status = 'priced'
           and t.switched is null",
    )
    .bind(external_trade_id)
    .execute(&mut *conn)
    .await?;
    let funded = sqlx::query(
        "create temp table switch_funding on commit drop as
         select row_number() over (order by trade_key) as seq, trade_key::uuid as trade_id,
                member_id, sum(cash) as cash
         from staged_buy group by trade_key, member_id",
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query("delete from staged_buy where cash = 0")
        .execute(&mut *conn)
        .await?;
    Ok(funded)
}

/// Records on each sell of `switch_funding` (see [`stage_funding`]) the cash reserved for its
/// buys, so it is funded once and its settlement makes only the rest available.
pub async fn record_switched(conn: &mut PgConnection) -> Result<u64, TradeBookError> {
    Ok(sqlx::query(
        "update member_trade t set switched = f.cash from switch_funding f
         where t.trade_id = f.trade_id and t.switched is null",
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Records that the proceeds of the sells of `origin` buy `asset` alone (a member's switch from
/// one fund to another); recording it again changes nothing.
pub async fn record_single_target(
    pool: &sqlx::PgPool,
    origin: &str,
    asset: &str,
) -> Result<(), TradeBookError> {
    sqlx::query(
        "insert into switch_target (origin_workflow_id, asset_code, weight) values ($1, $2, 1)
         on conflict (origin_workflow_id, asset_code) do nothing",
    )
    .bind(origin)
    .bind(asset)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records that the proceeds of the sells of `origin` buy the model portfolio `portfolio`, by
/// its weights (a member's change of risk profile); recording it again changes nothing.
pub async fn record_portfolio_targets(
    pool: &sqlx::PgPool,
    origin: &str,
    portfolio: &str,
) -> Result<(), TradeBookError> {
    sqlx::query(
        "insert into switch_target (origin_workflow_id, asset_code, weight)
         select $1, asset_code, weight from model_weight where portfolio_code = $2
         on conflict (origin_workflow_id, asset_code) do nothing",
    )
    .bind(origin)
    .bind(portfolio)
    .execute(pool)
    .await?;
    Ok(())
}

//! The chart of accounts: assets, pots and the internal accounts inside them. Every call is
//! idempotent (get-or-create), so an activity that opens an account can simply be retried.

use acme_sdk::AssetCode;
use serde::Serialize;
use sqlx::PgConnection;

use crate::model::{AccountId, AssetKind, OwnerKind, PotId};
use crate::{Ledger, LedgerError};

/// Largest scale an asset may have: what PostgreSQL and `Decimal` both hold comfortably.
pub const MAX_ASSET_SCALE: u32 = 18;

/// An asset as the ledger knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Asset {
    pub code: AssetCode,
    pub kind: AssetKind,
    /// Decimal places every amount of this asset is held to.
    pub scale: u32,
    pub description: String,
}

/// An internal account and where it sits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub account_id: AccountId,
    pub pot_id: PotId,
    pub asset_code: String,
    pub purpose: String,
    pub may_go_negative: bool,
}

impl Ledger {
    /// Registers an asset, or confirms it is already registered with the same attributes.
    pub async fn register_asset(&self, asset: &Asset) -> Result<(), LedgerError> {
        if asset.scale > MAX_ASSET_SCALE {
            return Err(LedgerError::ChartConflict {
                what: "asset",
                name: asset.code.to_string(),
                detail: format!(
                    "scale {} is above the maximum {MAX_ASSET_SCALE}",
                    asset.scale
                ),
            });
        }
        let scale = i16::try_from(asset.scale).unwrap_or(i16::MAX);
        sqlx::query(
            "insert into asset (asset_code, kind, scale, description) values ($1, $2, $3, $4)
             on conflict (asset_code) do nothing",
        )
        .bind(asset.code.as_str())
        .bind(asset.kind.as_str())
        .bind(scale)
        .bind(&asset.description)
        .execute(&self.pool)
        .await?;
        let (kind, existing_scale): (String, i16) =
            sqlx::query_as("select kind, scale from asset where asset_code = $1")
                .bind(asset.code.as_str())
                .fetch_one(&self.pool)
                .await?;
        if kind != asset.kind.as_str() || existing_scale != scale {
            return Err(LedgerError::ChartConflict {
                what: "asset",
                name: asset.code.to_string(),
                detail: format!("registered as {kind} with scale {existing_scale}"),
            });
        }
        Ok(())
    }

    /// The decimal places of an asset.
    pub async fn asset_scale(&self, code: &AssetCode) -> Result<u32, LedgerError> {
        let scale: Option<i16> =
            sqlx::query_scalar("select scale from asset where asset_code = $1")
                .bind(code.as_str())
                .fetch_optional(&self.pool)
                .await?;
        scale
            .and_then(|s| u32::try_from(s).ok())
            .ok_or_else(|| LedgerError::NotFound {
                what: "asset",
                name: code.to_string(),
            })
    }

    /// Opens the pot of an owner, or returns the one already open.
    pub async fn open_pot(&self, owner: OwnerKind, owner_ref: &str) -> Result<PotId, LedgerError> {
        let pot_id = sqlx::query_scalar(
            "with inserted as (
                 insert into pot (owner_kind, owner_ref) values ($1, $2)
                 on conflict (owner_kind, owner_ref) do nothing
                 returning pot_id)
             select pot_id from inserted
             union all
             select pot_id from pot where owner_kind = $1 and owner_ref = $2",
        )
        .bind(owner.as_str())
        .bind(owner_ref)
        .fetch_one(&self.pool)
        .await?;
        Ok(PotId(pot_id))
    }

    /// Opens the account for (pot, asset, purpose) with a zero balance, or returns the one
    /// already open. Asking again with a different overdraft permission is a conflict.
    pub async fn open_account(
        &self,
        pot_id: PotId,
        asset: &AssetCode,
        purpose: &str,
        may_go_negative: bool,
    ) -> Result<AccountId, LedgerError> {
        let mut tx = self.pool.begin().await?;
        let owner: Option<String> =
            sqlx::query_scalar("select owner_kind from pot where pot_id = $1")
                .bind(pot_id)
                .fetch_optional(&mut *tx)
                .await?;
        match owner.as_deref() {
            None => {
                return Err(LedgerError::NotFound {
                    what: "pot",
                    name: pot_id.to_string(),
                });
            }
            Some(kind) if kind == OwnerKind::Member.as_str() && may_go_negative => {
                return Err(LedgerError::ChartConflict {
                    what: "account",
                    name: format!("{pot_id}/{asset}/{purpose}"),
                    detail: "a member's account may never go negative".into(),
                });
            }
            Some(_) => {}
        }
        let inserted: Option<i64> = sqlx::query_scalar(
            "insert into account (pot_id, asset_code, purpose, may_go_negative)
             values ($1, $2, $3, $4)
             on conflict (pot_id, asset_code, purpose) do nothing
             returning account_id",
        )
        .bind(pot_id)
        .bind(asset.as_str())
        .bind(purpose)
        .bind(may_go_negative)
        .fetch_optional(&mut *tx)
        .await?;
        let account_id = match inserted {
            Some(account_id) => {
                sqlx::query(
                    "insert into balance (account_id, amount, may_go_negative) values ($1, 0, $2)",
                )
                .bind(account_id)
                .bind(may_go_negative)
                .execute(&mut *tx)
                .await?;
                account_id
            }
            None => {
                let (account_id, existing): (i64, bool) = sqlx::query_as(
                    "select account_id, may_go_negative from account
                     where pot_id = $1 and asset_code = $2 and purpose = $3",
                )
                .bind(pot_id)
                .bind(asset.as_str())
                .bind(purpose)
                .fetch_one(&mut *tx)
                .await?;
                if existing != may_go_negative {
                    return Err(LedgerError::ChartConflict {
                        what: "account",
                        name: format!("{pot_id}/{asset}/{purpose}"),
                        detail: format!("may_go_negative is {existing}"),
                    });
                }
                account_id
            }
        };
        tx.commit().await?;
        Ok(AccountId(account_id))
    }

    /// Looks up an account by id.
    pub async fn account(&self, account_id: AccountId) -> Result<Account, LedgerError> {
        sqlx::query_as::<_, (i64, i64, String, String, bool)>(
            "select account_id, pot_id, asset_code, purpose, may_go_negative
             from account where account_id = $1",
        )
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?
        .map(
            |(account_id, pot_id, asset_code, purpose, may_go_negative)| Account {
                account_id: AccountId(account_id),
                pot_id: PotId(pot_id),
                asset_code,
                purpose,
                may_go_negative,
            },
        )
        .ok_or_else(|| LedgerError::NotFound {
            what: "account",
            name: account_id.to_string(),
        })
    }
}

impl Ledger {
    /// Refreshes the planner's statistics of the chart and the trade book after bulk work (a
    /// seed, a day's close): without them the planner plans the next chunk for the table as it
    /// was, and scans millions of rows per chunk (migration 0008).
    pub async fn refresh_planner_statistics(&self) -> Result<(), LedgerError> {
        sqlx::query("select refresh_planner_statistics()")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Opens many pots of one owner kind, each with the same set of accounts, in a few
    /// set-based statements (the path for seeding members in bulk). Idempotent like
    /// [`Ledger::open_pot`] and [`Ledger::open_account`]: pots and accounts that exist are reused.
    /// Returns, per owner reference in order, the account ids in the order of `accounts`.
    pub async fn open_pots_in_bulk(
        &self,
        owner: OwnerKind,
        owner_refs: &[String],
        accounts: &[(AssetCode, &str)],
    ) -> Result<Vec<Vec<AccountId>>, LedgerError> {
        let mut tx = self.pool.begin().await?;
        open_in_transaction(&mut tx, owner, owner_refs, accounts).await?;
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "select p.owner_ref, a.asset_code, a.purpose, a.account_id
             from unnest($2::text[]) as r (owner_ref)
             join pot p on p.owner_kind = $1 and p.owner_ref = r.owner_ref
             join account a on a.pot_id = p.pot_id",
        )
        .bind(owner.as_str())
        .bind(owner_refs)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let by_key: std::collections::HashMap<(String, String, String), i64> = rows
            .into_iter()
            .map(|(owner_ref, asset, purpose, id)| ((owner_ref, asset, purpose), id))
            .collect();
        owner_refs
            .iter()
            .map(|owner_ref| {
                accounts
                    .iter()
                    .map(|(asset, purpose)| {
                        let key = (owner_ref.clone(), asset.to_string(), (*purpose).to_owned());
                        by_key.get(&key).copied().map(AccountId).ok_or_else(|| {
                            LedgerError::NotFound {
                                what: "account",
                                name: format!("{owner_ref}/{asset}/{purpose}"),
                            }
                        })
                    })
                    .collect()
            })
            .collect()
    }

    /// Opens many pots of one owner kind, each with the same set of accounts, and returns how
    /// many pots were new: the seeding path, which reads nothing back. When none of the pots
    /// exists (a seed's first run) one statement inserts pots, accounts and zero balances, with
    /// no conflict handling on accounts (a pot created in this statement cannot have any); when
    /// some exist (a resumed or repeated seed), the get-or-create statements of
    /// [`Ledger::open_pots_in_bulk`] complete them. Idempotent either way.
    pub async fn open_new_pots(
        &self,
        owner: OwnerKind,
        owner_refs: &[String],
        accounts: &[(AssetCode, &str)],
    ) -> Result<u64, LedgerError> {
        let assets: Vec<&str> = accounts.iter().map(|(asset, _)| asset.as_str()).collect();
        let purposes: Vec<&str> = accounts.iter().map(|(_, purpose)| *purpose).collect();
        let mut tx = self.pool.begin().await?;
        // Overdraft permission is never given in bulk: member accounts must not go negative.
        let opened: i64 = sqlx::query_scalar(
            "with new_pot as (
                 insert into pot (owner_kind, owner_ref)
                 select $1, owner_ref from unnest($2::text[]) as r (owner_ref)
                 on conflict (owner_kind, owner_ref) do nothing
                 returning pot_id),
             new_account as (
                 insert into account (pot_id, asset_code, purpose, may_go_negative)
                 select p.pot_id, a.asset_code, a.purpose, false
                 from new_pot p
                 cross join unnest($3::text[], $4::text[]) as a (asset_code, purpose)
                 returning account_id),
             new_balance as (
                 insert into balance (account_id, amount, may_go_negative)
                 select account_id, 0, false from new_account)
             select count(*) from new_pot",
        )
        .bind(owner.as_str())
        .bind(owner_refs)
        .bind(&assets)
        .bind(&purposes)
        .fetch_one(&mut *tx)
        .await?;
        let opened = u64::try_from(opened).unwrap_or(0);
        if opened < u64::try_from(owner_refs.len()).unwrap_or(u64::MAX) {
            open_in_transaction(&mut tx, owner, owner_refs, accounts).await?;
        }
        tx.commit().await?;
        Ok(opened)
    }
}

/// Opens `accounts` (asset, purpose) for each owner of `owner_refs`, with their pots, where
/// missing, inside the caller's transaction (the get-or-create half of the bulk paths above, and
/// of fixtures that open accounts in the transaction that posts to them). Overdraft permission
/// is never given in bulk: member accounts must not go negative.
pub async fn open_in_transaction(
    conn: &mut PgConnection,
    owner: OwnerKind,
    owner_refs: &[String],
    accounts: &[(AssetCode, &str)],
) -> Result<(), LedgerError> {
    let assets: Vec<&str> = accounts.iter().map(|(asset, _)| asset.as_str()).collect();
    let purposes: Vec<&str> = accounts.iter().map(|(_, purpose)| *purpose).collect();
    sqlx::query(
        "insert into pot (owner_kind, owner_ref)
         select $1, owner_ref from unnest($2::text[]) as r (owner_ref)
         on conflict (owner_kind, owner_ref) do nothing",
    )
    .bind(owner.as_str())
    .bind(owner_refs)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "with opened as (
             insert into account (pot_id, asset_code, purpose, may_go_negative)
             select p.pot_id, a.asset_code, a.purpose, false
             from unnest($2::text[]) as r (owner_ref)
             join pot p on p.owner_kind = $1 and p.owner_ref = r.owner_ref
             cross join unnest($3::text[], $4::text[]) as a (asset_code, purpose)
             on conflict (pot_id, asset_code, purpose) do nothing
             returning account_id)
         insert into balance (account_id, amount, may_go_negative)
         select account_id, 0, false from opened",
    )
    .bind(owner.as_str())
    .bind(owner_refs)
    .bind(&assets)
    .bind(&purposes)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Makes sure this connection has the `staged_owner (owner_ref)` table that
/// [`open_for_staged_owners`] reads: temporary, this connection's own, empty at every commit.
pub async fn prepare_owners(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query(
        "create temp table if not exists staged_owner (owner_ref text primary key)
         on commit delete rows",
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// [`open_in_transaction`] for every owner a query put in `staged_owner` (see
/// [`prepare_owners`]): a bulk step opens the accounts of all its rows before its first chunk,
/// with one anti-join per statement rather than a look-up per owner. Returns how many accounts
/// it opened.
pub async fn open_for_staged_owners(
    conn: &mut PgConnection,
    owner: OwnerKind,
    accounts: &[(AssetCode, &str)],
) -> Result<u64, LedgerError> {
    let assets: Vec<&str> = accounts.iter().map(|(asset, _)| asset.as_str()).collect();
    let purposes: Vec<&str> = accounts.iter().map(|(_, purpose)| *purpose).collect();
    sqlx::query("analyze staged_owner")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "insert into pot (owner_kind, owner_ref)
         select $1, s.owner_ref from staged_owner s
         where not exists (select 1 from pot p where p.owner_kind = $1 and p.owner_ref = s.owner_ref)
         on conflict (owner_kind, owner_ref) do nothing",
    )
    .bind(owner.as_str())
    .execute(&mut *conn)
    .await?;
    let opened = sqlx::query(
        "with opened as (
             insert into account (pot_id, asset_code, purpose, may_go_negative)
             select p.pot_id, a.asset_code, a.purpose, false
             from staged_owner s
             join pot p on p.owner_kind = $1 and p.owner_ref = s.owner_ref
             cross join unnest($2::text[], $3::text[]) as a (asset_code, purpose)
             where not exists (
                 select 1 from account x
                 where x.pot_id = p.pot_id and x.asset_code = a.asset_code
                   and x.purpose = a.purpose)
             on conflict (pot_id, asset_code, purpose) do nothing
             returning account_id)
         insert into balance (account_id, amount, may_go_negative)
         select account_id, 0, false from opened",
    )
    .bind(owner.as_str())
    .bind(&assets)
    .bind(&purposes)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(opened)
}

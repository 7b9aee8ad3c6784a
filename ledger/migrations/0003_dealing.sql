-- The daily dealing cycle: external trades (one per dealing date, asset and side, placed with the
-- custodian) and each member trade's link to its external trade and its allocation. Money itself
-- still only moves through journal entries; these rows say which trade an entry belongs to.

create table external_trade (
    external_trade_id uuid primary key,
    dealing_date date not null,
    asset_code text not null references asset,
    side text not null check (side in ('buy', 'sell')),
    status text not null default 'created'
        check (status in ('created', 'placed', 'priced', 'settled', 'rejected', 'failed')),
    -- Our order reference with the custodian (ISO 20022 references are at most 35 characters).
    order_ref text not null unique check (length(order_ref) between 1 and 35),
    -- What the members put in: cash for a buy, units for a sell; fixed when the day is closed.
    ordered_total numeric check (ordered_total > 0 and ordered_total <> 'NaN'),
    member_trade_count integer check (member_trade_count > 0),
    -- The custodian's confirmation: delivered is units for a buy and cash for a sell; consumed is
    -- the part of the ordered total the custodian used (less than ordered on a partial fill).
    confirmation jsonb,
    price numeric check (price > 0 and price <> 'NaN'),
    delivered numeric check (delivered >= 0 and delivered <> 'NaN'),
    consumed numeric check (consumed >= 0 and consumed <> 'NaN'),
    settlement_date date,
    -- What rounding down left for ACME's rounding pot (both ≥ 0 by the allocation rule).
    residue_delivered numeric check (residue_delivered >= 0 and residue_delivered <> 'NaN'),
    residue_refunded numeric check (residue_refunded >= 0 and residue_refunded <> 'NaN'),
    rejection_reason text,
    created_at timestamptz not null default now(),
    unique (dealing_date, asset_code, side),
    constraint external_trade_consumed_within_order check (consumed <= ordered_total)
);

alter table member_trade
    add column dealing_date date,
    add column external_trade_id uuid references external_trade,
    -- The member's allocation: delivered asset received, ordered asset given back (partial fill).
    add column delivered numeric check (delivered >= 0 and delivered <> 'NaN'),
    add column refunded numeric check (refunded >= 0 and refunded <> 'NaN'),
    add constraint member_trade_aggregated_has_external_trade
        check (status in ('pending', 'cancelled') or external_trade_id is not null);

create index member_trade_external_trade on member_trade (external_trade_id, trade_id);

grant select on external_trade to acme_app, acme_readonly;
grant insert on external_trade to acme_app;
grant update (status, ordered_total, member_trade_count, confirmation, price, delivered, consumed,
              settlement_date, residue_delivered, residue_refunded, rejection_reason)
    on external_trade to acme_app;
grant update (dealing_date, external_trade_id, delivered, refunded) on member_trade to acme_app;

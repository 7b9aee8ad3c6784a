-- Closing prices (issue 13): each fund's closing price per business day as the custodian
-- published it, kept append-only with its source, so a pot's value and its drift from the model
-- portfolio are always computed from the prices that were actually published. Written only by
-- `acme_activities::prices`.

create table closing_price (
    asset_code text not null references asset,
    price_date date not null,
    -- Up to 10 decimals as the custodian quotes them (custodian MAX_PRICE_SCALE); never rounded.
    price numeric not null check (price > 0 and price <> 'NaN' and scale(price) <= 10),
    -- Who published it (e.g. 'custodian') and the run that recorded it.
    source text not null check (source ~ '^[a-z][a-z0-9-]{0,39}$'),
    recorded_by text not null check (length(recorded_by) between 1 and 150),
    recorded_at timestamptz not null default now(),
    primary key (asset_code, price_date)
);

-- A recorded price is never changed or removed: a correction would be a new source of truth
-- for every valuation made since, so it needs an operator, not an UPDATE.
create function closing_price_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'closing prices are append-only: % on % is not allowed', tg_op, tg_table_name
        using errcode = 'insufficient_privilege';
end $$;

create trigger closing_price_append_only
    before update or delete on closing_price
    for each row execute function closing_price_append_only();
create trigger closing_price_no_truncate
    before truncate on closing_price
    for each statement execute function closing_price_append_only();

grant select on closing_price to acme_app, acme_readonly;
grant insert on closing_price to acme_app;

-- Valuation as of a date reads current balances less the postings of entries effective after
-- it (acme_activities::valuation); this index finds those few entries without a scan.
create index journal_entry_effective_date on journal_entry (effective_date);

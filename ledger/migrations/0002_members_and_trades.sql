-- Members, model portfolios and member trades: what the invest, sell and dealing processes read
-- and write beside the journal. Money itself only ever moves through journal entries.

create table model_portfolio (
    portfolio_code text primary key check (portfolio_code ~ '^[a-z][a-z0-9-]{0,39}$'),
    description text not null default '',
    -- How far (in basis points) a holding may drift from its target before re-balancing.
    tolerance_bp integer not null default 500 check (tolerance_bp between 0 and 10000)
);

create table model_weight (
    portfolio_code text not null references model_portfolio,
    asset_code text not null references asset,
    -- Fraction of each investment that buys this asset; a portfolio's weights sum to 1.
    weight numeric not null check (weight > 0 and weight <= 1 and weight <> 'NaN'),
    primary key (portfolio_code, asset_code)
);

create table member (
    member_id text primary key check (member_id ~ '^[A-Za-z0-9][A-Za-z0-9-]{0,39}$'),
    pot_id bigint not null unique references pot,
    -- Null until the member chooses a risk profile; such a member cannot invest yet.
    portfolio_code text references model_portfolio,
    created_at timestamptz not null default now()
);

create table member_trade (
    trade_id uuid primary key,
    -- The workflow that created the trade; with the asset and side it makes creation idempotent.
    origin_workflow_id text not null,
    member_id text not null references member,
    asset_code text not null references asset,
    side text not null check (side in ('buy', 'sell')),
    -- A buy is a cash amount, a sell a number of units (DESIGN.md §3).
    cash_amount numeric check (cash_amount > 0 and cash_amount <> 'NaN'),
    units numeric check (units > 0 and units <> 'NaN'),
    status text not null default 'pending'
        check (status in ('pending', 'aggregated', 'priced', 'settled', 'cancelled', 'failed')),
    created_at timestamptz not null default now(),
    constraint member_trade_amount_matches_side
        check ((side = 'buy' and cash_amount is not null and units is null)
            or (side = 'sell' and units is not null and cash_amount is null)),
    unique (origin_workflow_id, asset_code, side)
);

create index member_trade_pending on member_trade (asset_code, side) where status = 'pending';
create index member_trade_member on member_trade (member_id);

grant select on model_portfolio, model_weight, member, member_trade to acme_app, acme_readonly;
grant insert on model_portfolio, model_weight, member, member_trade to acme_app;
grant update (portfolio_code) on member to acme_app;
grant update (status) on member_trade to acme_app;

-- The custodian simulator's own state, in its own database (never the ledger's): orders and
-- their confirmations, closing prices, fault knobs, the business clock and the callback outbox.
-- Everything the simulator does is derived from these rows, so a restart carries on.

create table business_clock (
    -- A single row.
    singleton boolean primary key default true check (singleton),
    business_date date not null,
    advanced_at timestamptz not null default now()
);

create table fault_setting (
    singleton boolean primary key default true check (singleton),
    error_rate numeric not null default 0
        check (error_rate >= 0 and error_rate <= 1 and error_rate <> 'NaN'),
    error_burst integer not null default 0 check (error_burst >= 0),
    duplicate_callbacks boolean not null default false,
    drop_callbacks boolean not null default false,
    reject_isins text[] not null default '{}',
    partial_fill numeric not null default 1
        check (partial_fill > 0 and partial_fill <= 1 and partial_fill <> 'NaN'),
    dealing_charge_bps integer not null default 0 check (dealing_charge_bps between 0 and 10000),
    price_delay_ms bigint not null default 0 check (price_delay_ms >= 0)
);

insert into fault_setting default values;

create table price (
    isin text not null check (isin ~ '^[A-Z0-9]{1,12}$'),
    trade_date date not null,
    price numeric not null check (price > 0 and price <> 'NaN'),
    set_at timestamptz not null default now(),
    primary key (isin, trade_date)
);

create sequence confirmation_seq;

create table custodian_order (
    order_ref text primary key check (length(order_ref) between 1 and 35),
    side text not null check (side in ('buy', 'sell')),
    isin text not null check (isin ~ '^[A-Z0-9]{1,12}$'),
    trade_date date not null,
    settlement_date date not null check (settlement_date >= trade_date),
    -- The order exactly as received, compared when the same reference arrives again.
    request jsonb not null check (jsonb_typeof(request) = 'object'),
    status text not null check (status in ('received', 'priced', 'settled', 'rejected')),
    reason text,
    -- The confirmation, set once when the order is priced.
    confirmation_ref text unique,
    price numeric check (price > 0 and price <> 'NaN'),
    units numeric check (units >= 0 and units <> 'NaN'),
    gross_amount numeric check (gross_amount >= 0 and gross_amount <> 'NaN'),
    charges numeric check (charges >= 0 and charges <> 'NaN'),
    net_amount numeric check (net_amount >= 0 and net_amount <> 'NaN'),
    settlement_amount numeric check (settlement_amount >= 0 and settlement_amount <> 'NaN'),
    received_at timestamptz not null default now(),
    priced_at timestamptz,
    settled_at timestamptz,
    constraint custodian_order_rejected_has_reason check ((status = 'rejected') = (reason is not null)),
    constraint custodian_order_priced_has_confirmation check (
        (status in ('priced', 'settled')) = (confirmation_ref is not null and price is not null
            and units is not null and gross_amount is not null and charges is not null
            and net_amount is not null and settlement_amount is not null and priced_at is not null)
    ),
    constraint custodian_order_settled_has_time check ((status = 'settled') = (settled_at is not null))
);

-- The clock loop looks for orders to price and to settle.
create index custodian_order_open on custodian_order (status, trade_date)
    where status in ('received', 'priced');

-- The outbox: written in the same transaction as the transition it announces, then delivered
-- (at least once while the URL answers) by a separate task.
create table callback (
    callback_id bigint generated always as identity primary key,
    order_ref text not null references custodian_order,
    event text not null check (event in ('priced', 'settled')),
    body jsonb not null check (jsonb_typeof(body) = 'object'),
    -- 0 when dropped on purpose (fault knob) or no callback URL is configured, 2 when duplicated.
    copies smallint not null check (copies between 0 and 2),
    state text not null check (state in ('pending', 'delivered', 'failed', 'dropped')),
    created_at timestamptz not null default now(),
    finished_at timestamptz,
    unique (order_ref, event)
);

create index callback_pending on callback (callback_id) where state = 'pending';

create table callback_attempt (
    callback_attempt_id bigint generated always as identity primary key,
    callback_id bigint not null references callback,
    copy_no smallint not null,
    attempt_no smallint not null,
    -- The HTTP status answered, or the transport error when there was no answer.
    http_status smallint,
    error text,
    sent_at timestamptz not null default now(),
    check ((http_status is null) <> (error is null))
);

create index callback_attempt_callback on callback_attempt (callback_id);

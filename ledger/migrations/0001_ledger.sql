-- The ledger schema: assets, pots, internal accounts, the append-only journal and its balances.
-- Runs as the owning role (acme_owner). The application connects as acme_app, which may insert
-- into the journal but never update or delete it; reporting connects as acme_readonly.

create table asset (
    asset_code text primary key check (asset_code ~ '^[A-Z][A-Z0-9]{2,11}$'),
    kind text not null check (kind in ('cash', 'fund')),
    scale smallint not null check (scale between 0 and 18),
    description text not null default ''
);

create table pot (
    pot_id bigint generated always as identity primary key,
    owner_kind text not null check (owner_kind in ('member', 'house', 'external')),
    owner_ref text not null check (length(owner_ref) between 1 and 100),
    created_at timestamptz not null default now(),
    unique (owner_kind, owner_ref)
);

create table account (
    account_id bigint generated always as identity primary key,
    pot_id bigint not null references pot,
    asset_code text not null references asset,
    purpose text not null check (purpose ~ '^[a-z][a-z_]{0,39}$'),
    may_go_negative boolean not null default false,
    created_at timestamptz not null default now(),
    unique (pot_id, asset_code, purpose)
);

-- A member's account can never be allowed to go negative (invariant 3).
create function account_member_never_negative() returns trigger language plpgsql as $$
begin
    if new.may_go_negative and exists (
        select 1 from pot where pot_id = new.pot_id and owner_kind = 'member'
    ) then
        raise exception 'member account may not be allowed to go negative (pot %)', new.pot_id
            using errcode = 'check_violation', constraint = 'account_member_never_negative';
    end if;
    return new;
end $$;

create trigger account_member_never_negative
    before insert or update on account
    for each row execute function account_member_never_negative();

-- entry_id is the entry's position in the hash chain: gapless, assigned by the writer that holds
-- the chain head lock (see journal_head), so the journal's order is the order it was sealed in.
-- The idempotency key starts with the workflow id and '/', so the unique index on keys (in byte
-- order, collation "C") also finds a workflow's entries without an index of its own.
create table journal_entry (
    entry_id bigint primary key check (entry_id > 0),
    idempotency_key text collate "C" not null unique
        check (length(idempotency_key) between 1 and 200),
    kind text not null check (length(kind) between 1 and 100),
    process text not null check (length(process) between 1 and 100),
    workflow_id text collate "C" not null check (length(workflow_id) between 1 and 150),
    effective_date date not null,
    recorded_at timestamptz not null,
    metadata jsonb not null default '{}' check (jsonb_typeof(metadata) = 'object'),
    -- sha256 of the entry's canonical content; compared when an idempotency key is replayed.
    content_digest bytea not null check (length(content_digest) = 32),
    -- entry_hash = sha256(prev_hash || entry_id || recorded_at || content_digest).
    prev_hash bytea not null check (length(prev_hash) = 32),
    entry_hash bytea not null check (length(entry_hash) = 32),
    constraint journal_entry_key_within_workflow
        check (starts_with(idempotency_key, workflow_id || '/'))
);

-- Postings carry no foreign keys: checking them row by row made the bulk path several times
-- slower. The posting engine, the only writer, validates accounts under lock and writes entry
-- and postings in one transaction; the invariants report checks for orphans (docs/adr/0004).
-- An account appears at most once per entry; the primary key serves statements, and postings
-- arrive in entry order, so a small BRIN index finds an entry's postings.
create table posting (
    entry_id bigint not null,
    leg smallint not null check (leg >= 0),
    account_id bigint not null,
    amount numeric not null check (amount <> 0 and amount <> 'NaN'),
    primary key (account_id, entry_id)
);

create index posting_entry on posting using brin (entry_id);

-- The single row every writer locks last, just before it seals its entries into the chain.
create table journal_head (
    singleton boolean primary key default true check (singleton),
    last_entry_id bigint not null check (last_entry_id >= 0),
    last_hash bytea not null check (length(last_hash) = 32),
    -- Entries are stamped no earlier than this, so recorded_at never goes back along the chain.
    last_recorded_at timestamptz not null
);

insert into journal_head (last_entry_id, last_hash, last_recorded_at)
    values (0, decode(repeat('00', 32), 'hex'), '1970-01-01T00:00:00Z');

-- Current balances: a projection of the postings, written in the same transaction as they are.
create table balance (
    account_id bigint primary key references account,
    amount numeric not null default 0 check (amount <> 'NaN'),
    -- Copied from the account so the database itself refuses an overdraft (invariant 3).
    may_go_negative boolean not null,
    constraint balance_not_negative check (may_go_negative or amount >= 0)
) with (fillfactor = 70); -- room on each page so balance updates stay HOT (no index writes)

-- The journal is append-only (invariant 7): no update, delete or truncate, whoever asks.
create function journal_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'the journal is append-only: % on % is not allowed', tg_op, tg_table_name
        using errcode = 'insufficient_privilege', hint = 'post a reversing entry instead';
end $$;

create trigger journal_entry_append_only
    before update or delete on journal_entry
    for each row execute function journal_append_only();
create trigger journal_entry_no_truncate
    before truncate on journal_entry
    for each statement execute function journal_append_only();
create trigger posting_append_only
    before update or delete on posting
    for each row execute function journal_append_only();
create trigger posting_no_truncate
    before truncate on posting
    for each statement execute function journal_append_only();

-- Grants: the application may append to the journal and maintain balances, nothing more.
revoke all on all tables in schema public from public;
grant select on asset, pot, account, journal_entry, posting, balance, journal_head
    to acme_app, acme_readonly;
grant insert on asset, pot, account, journal_entry, posting, balance to acme_app;
grant update on balance, journal_head to acme_app;

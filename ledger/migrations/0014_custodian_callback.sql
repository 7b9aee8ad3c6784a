-- Custodian callbacks as received (issue 16, ADR 20). The ingress stores every authenticated
-- callback before it signals the trade's run, so one that finds the run closed, or that
-- Temporal never took, is kept for an operator instead of being answered and dropped.
-- Append-only: the application inserts and reads, nobody updates or deletes.
create table custodian_callback (
    callback_id bigint generated always as identity primary key,
    received_at timestamptz not null default now(),
    order_ref text not null check (length(order_ref) between 1 and 35),
    kind text not null check (kind in ('priced', 'settled')),
    -- The body exactly as signed and received, and its SHA-256 (hex).
    body bytea not null,
    body_sha256 text not null check (body_sha256 ~ '^[0-9a-f]{64}$')
);

create index custodian_callback_order on custodian_callback (order_ref);

create function custodian_callback_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'custodian callbacks are append-only: % on % is not allowed',
        tg_op, tg_table_name using errcode = 'insufficient_privilege';
end $$;

create trigger custodian_callback_append_only before update or delete on custodian_callback
    for each row execute function custodian_callback_append_only();
create trigger custodian_callback_no_truncate before truncate on custodian_callback
    for each statement execute function custodian_callback_append_only();

grant select on custodian_callback to acme_app, acme_readonly;
-- The id and the time of receipt are the database's to set, not the application's.
grant insert (order_ref, kind, body, body_sha256) on custodian_callback to acme_app;

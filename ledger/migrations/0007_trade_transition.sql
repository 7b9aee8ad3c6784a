-- Every status a member or external trade has had: a status column only says where a trade is
-- now, this says how it got there (from which status, by which named transition, when, in which
-- workflow, done by whom). Written by the trade book (acme-activities, trade_book) in the same
-- statement as the status change, and never changed afterwards, like the journal.
-- No surrogate key: rows are only ever appended and read per trade, and at millions of moves a
-- day an identity sequence and a second index were a fifth of the dealing cycle's time.
create table trade_transition (
    trade_kind text not null check (trade_kind in ('member', 'external')),
    trade_id uuid not null,
    -- Null when the row records the trade's creation.
    from_status text,
    to_status text not null,
    -- The transition's name in the trade book (`aggregate`, `price`, ...).
    transition text not null check (transition ~ '^[a-z][a-z_]{0,39}$'),
    -- The wall clock of the row, not of its transaction, so a trade's moves sort in order.
    at timestamptz not null default clock_timestamp(),
    workflow_id text not null check (workflow_id <> ''),
    -- Who made the change: the activity (`activity:dealing.allocate`) or the command.
    actor text not null check (actor <> ''),
    constraint trade_transition_statuses check (
        case trade_kind
            when 'member' then
                coalesce(from_status, 'pending')
                    in ('pending', 'aggregated', 'priced', 'settled', 'cancelled', 'failed')
                and to_status
                    in ('pending', 'aggregated', 'priced', 'settled', 'cancelled', 'failed')
            else
                coalesce(from_status, 'created')
                    in ('created', 'placed', 'priced', 'settled', 'rejected', 'failed')
                and to_status in ('created', 'placed', 'priced', 'settled', 'rejected', 'failed')
        end)
);
create index trade_transition_trade on trade_transition (trade_id, at);

create function trade_transition_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'the trade transition history is append-only: % on % is not allowed',
        tg_op, tg_table_name
        using errcode = 'insufficient_privilege';
end $$;
create trigger trade_transition_append_only
    before update or delete on trade_transition
    for each row execute function trade_transition_append_only();
create trigger trade_transition_no_truncate
    before truncate on trade_transition
    for each statement execute function trade_transition_append_only();

grant select on trade_transition to acme_app, acme_readonly;
-- The id and the time are the database's to set, not the application's.
grant insert (trade_kind, trade_id, from_status, to_status, transition, workflow_id, actor)
    on trade_transition to acme_app;

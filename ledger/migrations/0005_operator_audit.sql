-- Who did what to which run, when and why: one row per operator action taken through `acme`
-- (start, signal, cancel, terminate), kept for regulators and never changed afterwards.
create table operator_action (
    action_id bigint generated always as identity primary key,
    recorded_at timestamptz not null default now(),
    operator text not null check (operator <> ''),
    action text not null check (action in ('start', 'signal', 'cancel', 'terminate')),
    workflow_id text not null check (workflow_id <> ''),
    -- The reason the operator gave (required for cancel and terminate).
    reason text,
    -- What was sent: the process and input of a start, the name and input of a signal.
    detail jsonb not null default '{}',
    -- Whether Temporal accepted the action, and its error if not.
    accepted boolean not null,
    error text,
    constraint reason_given check (action not in ('cancel', 'terminate') or coalesce(reason, '') <> '')
);
create index operator_action_workflow on operator_action (workflow_id, action_id);

create function operator_action_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'the operator audit log is append-only: % on % is not allowed', tg_op, tg_table_name
        using errcode = 'insufficient_privilege';
end $$;
create trigger operator_action_append_only
    before update or delete on operator_action
    for each row execute function operator_action_append_only();
create trigger operator_action_no_truncate
    before truncate on operator_action
    for each statement execute function operator_action_append_only();

grant select on operator_action to acme_app, acme_readonly;
grant insert on operator_action to acme_app;

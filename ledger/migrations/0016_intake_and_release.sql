-- The HTTP intake's intents, and the operator's release of a held schedule (issue 15, ADR 25).

-- Requests received by the HTTP intake (issue 15 point 4, ADR 25), stored before they are
-- answered: which client sent what under which Idempotency-Key, the run that handles it and the
-- answer given, so the same key with the same body gets the same answer and with another body is
-- refused. Append-only: the application inserts and reads, nobody updates or deletes.
create table api_intent (
    intent_id bigint generated always as identity primary key,
    received_at timestamptz not null default now(),
    client_id text not null check (length(client_id) between 1 and 40),
    -- The caller's Idempotency-Key; null when none was sent (the business key still dedupes).
    idempotency_key text check (length(idempotency_key) between 1 and 255),
    kind text not null check (kind in ('contribution-schedule', 'investment')),
    -- SHA-256 of what was asked (kind, parameters and body), to tell the same request from another.
    request_sha256 text not null check (request_sha256 ~ '^[0-9a-f]{64}$'),
    workflow_id text not null check (length(workflow_id) between 1 and 200),
    -- The 202 answer as given, returned again to a replay.
    response jsonb not null,
    unique (client_id, idempotency_key)
);

create index api_intent_workflow on api_intent (workflow_id);

create function api_intent_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'api intents are append-only: % on % is not allowed',
        tg_op, tg_table_name using errcode = 'insufficient_privilege';
end $$;

create trigger api_intent_append_only before update or delete on api_intent
    for each row execute function api_intent_append_only();
create trigger api_intent_no_truncate before truncate on api_intent
    for each statement execute function api_intent_append_only();

grant select on api_intent to acme_app, acme_readonly;
-- The id and the time of receipt are the database's to set, not the application's.
grant insert (client_id, idempotency_key, kind, request_sha256, workflow_id, response)
    on api_intent to acme_app;

-- Operators release a held contribution schedule through `acme contributions release` (the run
-- re-checks the bank statement; ADR 25), recorded like any other action, always with a reason.
alter table operator_action drop constraint operator_action_action_check;
alter table operator_action add constraint operator_action_action_check
    check (action in ('start', 'signal', 'cancel', 'terminate', 'schedule', 'acknowledge',
                      'resolve', 'release'));
alter table operator_action drop constraint reason_given;
alter table operator_action add constraint reason_given
    check (action not in ('cancel', 'terminate', 'release') or coalesce(reason, '') <> '');

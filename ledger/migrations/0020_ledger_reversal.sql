-- Corrections by reversal under four eyes (issue 16, ADR 27): an operator asks for a journal
-- entry to be reversed, with a reason; a second operator approves, and only then is the
-- reversing entry (every posting negated) posted through the ledger. One request per entry,
-- ever: an entry is reversed at most once, and the journal itself is never edited.
-- (0016–0019 belong to other work.)

create table ledger_reversal (
    request_id bigint generated always as identity primary key,
    entry_id bigint not null unique references journal_entry (entry_id),
    requested_by text not null check (requested_by <> ''),
    reason text not null check (btrim(reason) <> '' and length(reason) <= 1000),
    -- The reversing entry's effective date, fixed when asked, so an approval retried on a later
    -- day posts the very same entry.
    effective_date date not null,
    requested_at timestamptz not null default now(),
    -- Four eyes: the approver is never the requester.
    approved_by text check (approved_by <> '' and approved_by <> requested_by),
    approved_at timestamptz,
    reversing_entry_id bigint unique references journal_entry (entry_id),
    constraint ledger_reversal_approved_whole
        check ((approved_by is null) = (approved_at is null)
               and (approved_by is null) = (reversing_entry_id is null))
);

-- A request is written once and approved once; nothing else about it ever changes.
create function ledger_reversal_approve_once() returns trigger language plpgsql
    set search_path = pg_catalog, public as $$
begin
    if tg_op <> 'UPDATE'
       or old.approved_by is not null
       or row(new.request_id, new.entry_id, new.requested_by, new.reason, new.effective_date,
              new.requested_at)
          is distinct from
          row(old.request_id, old.entry_id, old.requested_by, old.reason, old.effective_date,
              old.requested_at) then
        raise exception 'a reversal request is approved once and never otherwise changed'
            using errcode = 'insufficient_privilege';
    end if;
    return new;
end $$;
create trigger ledger_reversal_approve_once
    before update or delete on ledger_reversal
    for each row execute function ledger_reversal_approve_once();
create trigger ledger_reversal_no_truncate
    before truncate on ledger_reversal
    for each statement execute function ledger_reversal_approve_once();

grant select on ledger_reversal to acme_app, acme_readonly;
grant insert (entry_id, requested_by, reason, effective_date) on ledger_reversal to acme_app;
grant update (approved_by, approved_at, reversing_entry_id) on ledger_reversal to acme_app;

-- Asking for and approving a reversal are operator actions, audited like the others.
alter table operator_action drop constraint operator_action_action_check;
alter table operator_action add constraint operator_action_action_check
    check (action in ('start', 'signal', 'cancel', 'terminate', 'schedule', 'acknowledge',
                      'resolve', 'release', 'reverse', 'approve'));

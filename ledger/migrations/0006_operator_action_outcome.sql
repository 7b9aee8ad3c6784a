-- An operator action is recorded before it is taken, and its outcome appended once Temporal has
-- answered. So no action is taken that the log does not hold, and a crash between the two
-- leaves the action with no outcome ("unknown"), to be checked against the run's history.
--
-- Rows written under 0005 carry their outcome in operator_action itself; new rows leave
-- accepted and error null there and put the outcome in operator_action_outcome. The view
-- operator_action_log reads both shapes.
alter table operator_action alter column accepted drop not null;
alter table operator_action
    add constraint outcome_is_one_of_accepted_or_error
    check ((accepted is null and error is null)
           or (accepted is not null and accepted = (error is null)));
-- Schedules (which start runs on their own) are operator actions too; for one, workflow_id
-- holds the schedule id.
alter table operator_action drop constraint operator_action_action_check;
alter table operator_action add constraint operator_action_action_check
    check (action in ('start', 'signal', 'cancel', 'terminate', 'schedule'));
-- The application writes what the operator asked for; when it was recorded and how it ended
-- are not its to set.
revoke insert on operator_action from acme_app;
grant insert (operator, action, workflow_id, reason, detail) on operator_action to acme_app;

create table operator_action_outcome (
    action_id bigint primary key references operator_action (action_id),
    answered_at timestamptz not null default now(),
    -- Whether Temporal accepted the action, and its error if not: one or the other.
    accepted boolean not null,
    error text,
    constraint outcome_is_one_of_accepted_or_error check (accepted = (error is null))
);

-- One outcome per action: the primary key stops a second row, this stops an outcome for an
-- action whose row already holds one (written under 0005).
create function operator_action_outcome_once() returns trigger language plpgsql as $$
begin
    if exists (select 1 from operator_action
               where action_id = new.action_id and accepted is not null) then
        raise exception 'operator action % already has its outcome', new.action_id
            using errcode = 'unique_violation';
    end if;
    return new;
end $$;
create trigger operator_action_outcome_once
    before insert on operator_action_outcome
    for each row execute function operator_action_outcome_once();
create trigger operator_action_outcome_append_only
    before update or delete on operator_action_outcome
    for each row execute function operator_action_append_only();
create trigger operator_action_outcome_no_truncate
    before truncate on operator_action_outcome
    for each statement execute function operator_action_append_only();

grant select on operator_action_outcome to acme_app, acme_readonly;
grant insert (action_id, accepted, error) on operator_action_outcome to acme_app;

-- Each action with its outcome, whichever shape it was written in: what `acme audit` reads,
-- and what to query by hand.
create view operator_action_log as
select a.action_id, a.recorded_at, a.operator, a.action, a.workflow_id, a.reason, a.detail,
       coalesce(a.accepted, o.accepted) as accepted,
       coalesce(a.error, o.error) as error,
       o.answered_at
from operator_action a
left join operator_action_outcome o using (action_id);
grant select on operator_action_log to acme_app, acme_readonly;

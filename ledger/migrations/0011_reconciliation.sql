-- Reconciliation (issue 14, ADR 17): statements as received from outside parties, their lines,
-- the breaks a comparison finds and how operators worked them, and the daily report. Owned by
-- one module, `activities/src/reconciliation/`; nothing else writes these tables.
-- (0009 and 0010 belong to other work.)

-- A statement exactly as it was received: never changed, found again by its sha256 digest, so
-- importing the same statement twice stores nothing.
create table recon_statement (
    statement_id bigint generated always as identity primary key,
    -- Who sent it and which message it is (ISO 20022 names).
    source text not null check (source in ('custodian', 'bank')),
    msg_type text not null check (msg_type in ('semt.002', 'camt.053')),
    as_of date not null,
    -- sha256 of `body`; one statement per digest.
    digest bytea not null unique check (length(digest) = 32),
    -- The bytes received, as UTF-8 text (a statement that is not UTF-8 is refused).
    body text not null,
    line_count integer not null check (line_count >= 0),
    received_at timestamptz not null default now()
);

-- A statement's lines, parsed once at import: a holding (subject = ISIN, quantity = units) or a
-- cash movement (subject = order reference, quantity = signed amount, booking date).
create table recon_statement_line (
    statement_id bigint not null references recon_statement,
    line_no integer not null check (line_no >= 0),
    subject text not null check (length(subject) between 1 and 35),
    booking_date date,
    quantity numeric not null check (quantity <> 'NaN'),
    primary key (statement_id, line_no)
);

-- One break: a difference found on a reconciliation date, per scope (position or cash) and
-- subject (an ISIN or an order reference) and class. Its id is uuid5 of those four, so a
-- second run of the same date finds the same break and stores nothing.
create table recon_break (
    break_id uuid primary key,
    recon_date date not null,
    scope text not null check (scope in ('position', 'cash')),
    -- The fund (position) or order reference (cash) the break is about.
    subject text not null check (length(subject) between 1 and 35),
    -- The cash account compared (cash breaks): 'custodian-cash'; the fund for positions.
    account text not null check (length(account) between 1 and 40),
    class text not null check (class in ('missing_ours', 'missing_theirs', 'quantity_mismatch',
                                         'amount_mismatch', 'timing', 'duplicate')),
    ours numeric check (ours <> 'NaN'),
    theirs numeric check (theirs <> 'NaN'),
    -- What was compared: statement ids and digests, the ledger's figures, in-flight trades.
    evidence jsonb not null check (jsonb_typeof(evidence) = 'object'),
    -- Timing breaks: the date by which they are expected to clear.
    expected_clear_date date,
    status text not null default 'open' check (status in ('open', 'acknowledged', 'resolved')),
    opened_at timestamptz not null default now(),
    unique (recon_date, scope, subject, class)
);

create index recon_break_open on recon_break (status, opened_at) where status <> 'resolved';

-- Every change of a break's status, who made it and why: append-only.
create table recon_break_event (
    event_id bigint generated always as identity primary key,
    break_id uuid not null references recon_break,
    from_status text not null check (from_status in ('open', 'acknowledged')),
    to_status text not null check (to_status in ('acknowledged', 'resolved')),
    -- An operator's name, or the reconciliation run that closed a timing break.
    actor text not null check (actor <> ''),
    reason text not null check (reason <> ''),
    recorded_at timestamptz not null default now()
);

create index recon_break_event_break on recon_break_event (break_id, event_id);

-- The daily report, kept append-only: one row per distinct content of a date's report (a second
-- run that finds the same gives the same digest and stores nothing).
create table recon_report (
    report_id bigint generated always as identity primary key,
    recon_date date not null,
    digest bytea not null check (length(digest) = 32),
    -- The journal's head when the run compared: the published chain head (ADR 1).
    head_entry_id bigint not null check (head_entry_id >= 0),
    head_hash bytea not null check (length(head_hash) = 32),
    report jsonb not null check (jsonb_typeof(report) = 'object'),
    report_text text not null,
    recorded_at timestamptz not null default now(),
    unique (recon_date, digest)
);

create function recon_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'reconciliation records are append-only: % on % is not allowed',
        tg_op, tg_table_name using errcode = 'insufficient_privilege';
end $$;

create trigger recon_statement_append_only before update or delete on recon_statement
    for each row execute function recon_append_only();
create trigger recon_statement_line_append_only before update or delete on recon_statement_line
    for each row execute function recon_append_only();
create trigger recon_break_event_append_only before update or delete on recon_break_event
    for each row execute function recon_append_only();
create trigger recon_report_append_only before update or delete on recon_report
    for each row execute function recon_append_only();
create trigger recon_statement_no_truncate before truncate on recon_statement
    for each statement execute function recon_append_only();
create trigger recon_statement_line_no_truncate before truncate on recon_statement_line
    for each statement execute function recon_append_only();
create trigger recon_break_event_no_truncate before truncate on recon_break_event
    for each statement execute function recon_append_only();
create trigger recon_report_no_truncate before truncate on recon_report
    for each statement execute function recon_append_only();

-- A break's status moves only forward, and only with an event saying who and why.
create function recon_break_status_forward() returns trigger language plpgsql as $$
begin
    if old.status = 'resolved' or (old.status = 'acknowledged' and new.status = 'open')
       or (row(new.break_id, new.recon_date, new.scope, new.subject, new.account, new.class,
               new.ours, new.theirs, new.evidence, new.expected_clear_date, new.opened_at)
           is distinct from
           row(old.break_id, old.recon_date, old.scope, old.subject, old.account, old.class,
               old.ours, old.theirs, old.evidence, old.expected_clear_date, old.opened_at)) then
        raise exception 'break %: only its status may change, and only forward (% to %)',
            old.break_id, old.status, new.status using errcode = 'check_violation';
    end if;
    return new;
end $$;

create trigger recon_break_status_forward before update on recon_break
    for each row execute function recon_break_status_forward();
create trigger recon_break_no_delete before delete on recon_break
    for each row execute function recon_append_only();

grant select on recon_statement, recon_statement_line, recon_break, recon_break_event,
    recon_report to acme_app, acme_readonly;
grant insert on recon_statement, recon_statement_line, recon_break, recon_break_event,
    recon_report to acme_app;
grant update (status) on recon_break to acme_app;

-- Operators acknowledge and resolve breaks through `acme recon`, recorded like any other action.
alter table operator_action drop constraint operator_action_action_check;
alter table operator_action add constraint operator_action_action_check
    check (action in ('start', 'signal', 'cancel', 'terminate', 'schedule', 'acknowledge',
                      'resolve'));

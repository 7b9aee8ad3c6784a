-- Contributions (issue 15, ADR 19): employers' contribution schedules as received, their
-- accepted rows and their rejection report. Owned by one module, `activities/src/contributions/`;
-- nothing else writes these tables. (0012 belongs to other work.)

-- One schedule file, stored as received. Its identity is its content: the sha256 digest is
-- unique, so the same bytes sent twice (under any name) are the same import. An import writes the
-- header, the file and the rows in one transaction, so a schedule is either all there or absent;
-- the digest is set last, when the whole file has been read.
create table contribution_schedule (
    schedule_no bigint generated always as identity primary key,
    -- The public id: uuid5 of the digest.
    schedule_id uuid unique,
    employer_id text not null check (employer_id ~ '^[A-Za-z0-9][A-Za-z0-9-]{0,39}$'),
    -- The name the file arrived under the first time, for people; never its identity.
    file_name text not null check (length(file_name) between 1 and 255),
    digest bytea unique check (length(digest) = 32),
    byte_count bigint not null default 0 check (byte_count >= 0),
    -- Data lines after the header, accepted and rejected.
    accepted_count bigint not null default 0 check (accepted_count >= 0),
    rejected_count bigint not null default 0 check (rejected_count >= 0),
    employer_total numeric not null default 0
        check (employer_total >= 0 and employer_total <> 'NaN' and scale(employer_total) <= 2),
    member_total numeric not null default 0
        check (member_total >= 0 and member_total <> 'NaN' and scale(member_total) <= 2),
    -- The reference the employer pays under (at most 35 characters, ISO 20022's limit):
    -- 'CS' and the first 16 hex digits of the schedule id.
    payment_reference text unique check (payment_reference ~ '^CS[0-9A-F]{16}$'),
    -- 'receiving' exists only inside the import's transaction; a committed schedule has its
    -- digest and id. Then: 'received'; 'held' while the money received differs from what is
    -- due; 'funded' once it equals it; 'invested' once every row is.
    status text not null default 'receiving'
        check (status in ('receiving', 'received', 'held', 'funded', 'invested')),
    received_at timestamptz not null default now(),
    constraint contribution_schedule_complete
        check (status = 'receiving'
               or (digest is not null and schedule_id is not null and payment_reference is not null))
);

-- The file's bytes, in parts of at most a few megabytes, in order: concatenated they are the file
-- exactly as received (its digest is the schedule's).
create table contribution_file_part (
    schedule_no bigint not null references contribution_schedule,
    part_no integer not null check (part_no >= 0),
    bytes bytea not null check (length(bytes) > 0),
    primary key (schedule_no, part_no)
);

-- An accepted row: a member's contribution for a pay period, in pounds.
create table contribution_row (
    schedule_no bigint not null references contribution_schedule,
    -- The row's line in the file (the header is line 1).
    line_no bigint not null check (line_no >= 2),
    member_id text not null references member,
    employer_amount numeric not null
        check (employer_amount >= 0 and employer_amount <> 'NaN' and scale(employer_amount) <= 2),
    member_amount numeric not null
        check (member_amount >= 0 and member_amount <> 'NaN' and scale(member_amount) <= 2),
    -- The first day of the pay period's month.
    pay_period date not null check (extract(day from pay_period) = 1),
    -- 'invested' once its money is in the member's pot and its buy trades exist.
    status text not null default 'accepted' check (status in ('accepted', 'invested')),
    primary key (schedule_no, line_no),
    unique (schedule_no, member_id),
    constraint contribution_row_not_empty check (employer_amount + member_amount > 0)
);

-- The rejection report: one line per rejected row, with the first problem found on it.
create table contribution_rejection (
    schedule_no bigint not null references contribution_schedule,
    line_no bigint not null check (line_no >= 2),
    -- The column at fault; null when the line as a whole is (wrong number of fields, not UTF-8).
    column_name text check (column_name in ('member_id', 'employer_amount', 'member_amount',
                                            'pay_period')),
    code text not null check (code ~ '^[a-z_]+\.[a-z_]+$'),
    reason text not null check (reason <> ''),
    primary key (schedule_no, line_no)
);

-- Every distinct finding of the payment check: what the latest bank statement showed under the
-- schedule's reference against what is due (the accepted rows' total). Short and over payments
-- are breaks: the schedule is held, nothing is invested, until a later statement makes them
-- equal. Append-only; the same finding again stores nothing.
create table contribution_payment_check (
    check_id bigint generated always as identity primary key,
    schedule_no bigint not null references contribution_schedule,
    due numeric not null check (due >= 0 and due <> 'NaN'),
    paid numeric not null check (paid <> 'NaN'),
    outcome text not null check (outcome in ('unpaid', 'short', 'over', 'matched')),
    -- The bank statement (reconciliation's store) the figure came from; null before any.
    statement_id bigint,
    checked_at timestamptz not null default now(),
    unique (schedule_no, paid)
);

grant select on contribution_payment_check to acme_app, acme_readonly;
grant insert on contribution_payment_check to acme_app;
grant select on contribution_schedule, contribution_file_part, contribution_row,
    contribution_rejection to acme_app, acme_readonly;
grant insert on contribution_schedule, contribution_file_part, contribution_row,
    contribution_rejection to acme_app;
grant update (schedule_id, payment_reference, digest, byte_count, accepted_count, rejected_count, employer_total,
    member_total, status) on contribution_schedule to acme_app;
grant update (status) on contribution_row to acme_app;

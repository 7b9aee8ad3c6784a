-- Reconciliation, the transaction statement (issue 14, ADR 17): the custodian's `semt.017` is
-- stored as received like the other statements, its lines keep the custodian's movement
-- reference (subject), our order reference when it quotes one, the ISIN and the cash beside the
-- signed units (quantity) and the settlement date (booking_date); breaks of the transaction
-- matching have their own scope. (0012–0014 belong to other work.)

alter table recon_statement drop constraint recon_statement_msg_type_check;
alter table recon_statement add constraint recon_statement_msg_type_check
    check (msg_type in ('semt.002', 'semt.017', 'camt.053'));

alter table recon_statement_line
    add column order_ref text check (length(order_ref) between 1 and 35),
    add column isin text check (length(isin) between 1 and 12),
    add column amount numeric check (amount <> 'NaN');

alter table recon_break drop constraint recon_break_scope_check;
alter table recon_break add constraint recon_break_scope_check
    check (scope in ('position', 'transaction', 'cash'));

-- A break resolved by a correction names the correcting journal entry, posted through the ledger
-- like any other (a correction is a new entry, never an edit).
alter table recon_break_event
    add column correction_entry_id bigint references journal_entry (entry_id),
    add constraint recon_break_event_correction_resolves
        check (correction_entry_id is null or to_status = 'resolved');

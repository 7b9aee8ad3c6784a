-- Reconciliation, the payment provider's statement (issue 14, ADR 29): members' own payments
-- (`invest-cash`) are compared, one by one, with the statement of the provider that collected
-- them. Its lines quote the member's request id, which may be 40 characters (ISO 20022's
-- references stop at 35), and its breaks have their own scope.

alter table recon_statement drop constraint recon_statement_source_check;
alter table recon_statement add constraint recon_statement_source_check
    check (source in ('custodian', 'bank', 'payment-provider'));

alter table recon_statement_line drop constraint recon_statement_line_subject_check;
alter table recon_statement_line add constraint recon_statement_line_subject_check
    check (length(subject) between 1 and 40);

alter table recon_break drop constraint recon_break_subject_check;
alter table recon_break add constraint recon_break_subject_check
    check (length(subject) between 1 and 40);

alter table recon_break drop constraint recon_break_scope_check;
alter table recon_break add constraint recon_break_scope_check
    check (scope in ('position', 'transaction', 'cash', 'bank_cash', 'provider_cash'));

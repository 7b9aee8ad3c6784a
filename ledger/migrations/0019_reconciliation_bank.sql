-- Reconciliation, the bank's statement (issue 14, ADR 22): breaks found comparing ACME's bank
-- account (settlements per order reference, employers' contributions per payment reference)
-- with the bank's `camt.053` have their own scope, so an order missing from both the
-- custodian's and the bank's statements is two breaks. (0016–0018 belong to other work.)

alter table recon_break drop constraint recon_break_scope_check;
alter table recon_break add constraint recon_break_scope_check
    check (scope in ('position', 'transaction', 'cash', 'bank_cash'));

-- The bank and the custodian may send the very same bytes (two cash statements listing the same
-- settlements and nothing else): a statement is one per source and digest.
alter table recon_statement drop constraint recon_statement_digest_key;
alter table recon_statement add constraint recon_statement_source_digest_key
    unique (source, digest);

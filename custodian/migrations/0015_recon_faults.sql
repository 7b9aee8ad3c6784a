-- The reconciliation fault knobs (`statements::ReconFaults`): what the simulator's statements and
-- settlement notices are to get wrong, so reconciliation can be shown to find each kind of break.
-- Kept as the JSON the admin API took (validated there); one row. Numbered after the ledger
-- migration of the same work (0015) so that it cannot collide with other additions here.
create table recon_fault_setting (
    singleton boolean primary key default true check (singleton),
    knobs jsonb not null default '{}' check (jsonb_typeof(knobs) = 'object')
);

insert into recon_fault_setting default values;

-- Switches (issue 13, ADR 26): a sell whose proceeds fund buys of other funds. The run that
-- creates such a sell records the buys it plans as weights per fund under the sell's origin
-- (`switch_target`); when the sell's external trade is allocated, its proceeds are split by
-- these weights into pending buys, reserved for them from the member's unsettled cash, and the
-- sell records how much (`member_trade.switched`), which its settlement then leaves out of what
-- it makes available. Written only by the trade book (acme-activities, trade_book).

create table switch_target (
    -- The origin of the sells whose proceeds buy (`rebalance/<date>/<member>`, ...).
    origin_workflow_id text not null,
    asset_code text not null references asset,
    -- The fund's share of the proceeds, relative to the origin's other targets.
    weight numeric not null check (weight > 0 and weight <> 'NaN'),
    primary key (origin_workflow_id, asset_code)
);

alter table member_trade
    -- Of a sell's proceeds, the cash reserved for its switch's buys before settlement.
    add column switched numeric check (switched >= 0 and switched <> 'NaN');

grant select on switch_target to acme_app, acme_readonly;
grant insert on switch_target to acme_app;
grant update (switched) on member_trade to acme_app;

-- Seeding members by the million (issue 12). The trigger that refuses a member account allowed
-- to go negative (invariant 3) ran its function for every account inserted, although only a row
-- asking for may_go_negative can break the rule: at 5 million members that was 10 million
-- function calls, about a third of the time spent inserting accounts. It now fires only for
-- such rows; what it refuses is unchanged.
create or replace trigger account_member_never_negative
    before insert or update on account
    for each row when (new.may_go_negative)
    execute function account_member_never_negative();

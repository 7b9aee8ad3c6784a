-- Closing a dealing day and checking it read member trades by dealing date: without an index
-- that is a scan of every trade ever made.
create index member_trade_dealing_date on member_trade (dealing_date);

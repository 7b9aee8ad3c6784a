-- Bulk work (seeding members, onboarding, closing a dealing day) changes these tables by
-- millions of rows at once, and autovacuum analyzes them late or (as on the dev machine) never:
-- the planner then estimates a handful of rows and scans millions for every chunk. Bulk steps
-- refresh the statistics when they finish. The application role does not own the tables and
-- ANALYZE needs the owner, so it goes through this function, with the owner's rights and a fixed
-- search_path (nothing it names can be shadowed).
create function refresh_planner_statistics() returns void
    language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
begin
    analyze public.pot, public.account, public.balance, public.member, public.member_trade,
        public.external_trade;
end $$;

revoke all on function refresh_planner_statistics() from public;
grant execute on function refresh_planner_statistics() to acme_app;

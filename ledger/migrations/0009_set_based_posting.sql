-- The set-based posting path (ledger/src/staged.rs, ADR 15): entries staged by a query are
-- digested and chained inside the database, in the same encoding as ledger/src/digest.rs, so
-- that `acme ledger verify` checks them like any other entry.

-- One length-prefixed field of the content digest: its byte length (8 bytes, big-endian), then
-- its UTF-8 bytes. Immutable and a single expression, so the planner inlines it.
create function ledger_digest_field(value text) returns bytea
    language sql immutable strict parallel safe
    return int8send(octet_length(value)::bigint) || convert_to(value, 'UTF8');

-- One link of the hash chain: sha256(prev_hash || entry_id || recorded_at µs || content_digest).
-- As the step of an aggregate run as a window over entries in chain order, it yields each
-- entry's hash; `first_prev` (the head's hash) starts the chain.
create function ledger_chain_step(
    state bytea, first_prev bytea, entry_id bigint, recorded_at_micros bigint, content_digest bytea
) returns bytea
    language sql immutable parallel safe
    return sha256(coalesce(state, first_prev) || int8send(entry_id) || int8send(recorded_at_micros)
        || content_digest);

create aggregate ledger_chain(bytea, bigint, bigint, bytea) (
    sfunc = ledger_chain_step,
    stype = bytea
);

grant execute on function ledger_digest_field(text) to acme_app, acme_readonly;
grant execute on function ledger_chain_step(bytea, bytea, bigint, bigint, bytea)
    to acme_app, acme_readonly;
grant execute on function ledger_chain(bytea, bigint, bigint, bytea) to acme_app, acme_readonly;

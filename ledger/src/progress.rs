//! How far a long read over the whole ledger has got (the chain walk, the invariants), so a
//! caller can draw a progress bar without the ledger knowing about terminals.

/// `done` of `total` units of `what` (e.g. "entries verified"). A check that works in stages
/// reports each stage under its own `what`, starting again from zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub what: &'static str,
    pub done: u64,
    pub total: u64,
}

impl Progress {
    /// Counts from the database (ids, row counts) as progress units; a negative count is none.
    pub(crate) fn new(what: &'static str, done: i64, total: i64) -> Self {
        let units = |count: i64| u64::try_from(count).unwrap_or(0);
        Self {
            what,
            done: units(done),
            total: units(total),
        }
    }
}

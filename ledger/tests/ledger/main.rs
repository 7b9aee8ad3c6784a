//! The ledger's integration tests, one binary, each test in its own fresh database on the real
//! PostgreSQL of the dev stack (`ops/stack up`), connected as the application role.

// A failed unwrap in a test is a failed test, with the error printed: exactly what is wanted.
#![allow(clippy::unwrap_used)]

mod support;

mod audit;
mod batch;
mod checkpoint;
mod chunk;
mod concurrency;
mod journal_protection;
mod posting;
mod properties;
mod queries;
mod reversal;
mod staged;

//! The worker crate's end-to-end tests: real local Temporal servers, real PostgreSQL databases,
//! and the worker assembly production runs (in process, or as `acme-worker` processes), each test
//! on task queues of its own.

// A failed unwrap in a test is a failed test, with the error printed.
#![allow(clippy::unwrap_used)]

mod dealing_support;
mod support;

mod cli;
mod dealing;
mod invest_cash;
mod workers;

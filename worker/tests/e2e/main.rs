//! The end-to-end tests: real local Temporal servers, real PostgreSQL databases, and the worker
//! assembly production runs (in process, or as `acme-worker` processes), each test on task
//! queues of its own. The platform's own tests are here; each process's live in its folder
//! (`processes/<name>/e2e.rs`) and are compiled into this binary as module `<name>`.

// A failed unwrap in a test is a failed test, with the error printed.
#![allow(clippy::unwrap_used)]

mod dealing_support;
mod harness;
mod support;

mod cli;
mod ingress;
mod intake;
mod stuck;
mod tls;
mod traces;
mod workers;

// Each process's own end-to-end tests: `processes/<name>/e2e.rs`, found by the build script.
include!(concat!(env!("OUT_DIR"), "/processes.rs"));

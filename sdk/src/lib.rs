//! The ACME process SDK: what every process is written with, so that each looks the same and
//! gets retries, idempotency and clear failures for free.
//!
//! - [`money`], [`asset`]: amounts parsed strictly at every boundary, asset codes;
//! - [`ids`]: request, member and batch ids, a run's workflow id, cash and units, parsed at
//!   the edge;
//! - [`allocation`]: the pro-rata allocation rule, exact and never rounding up;
//! - [`cutoff`]: the dealing cut-off, 16:00 London time on the dealing date;
//! - [`rebalance`]: the re-balancing rule: when a pot has drifted, what it sells on D and how
//!   the proceeds are shared among its buys on D+1;
//! - [`process`]: the `Process` description, starting a run, task queues (bulkheads) and step
//!   idempotency keys;
//! - [`schedule`]: the weekday schedule of scheduled processes;
//! - [`search`]: our search attributes, so every run is findable in the Temporal UI;
//! - [`steps`]: the steps a process declares at the top of its file;
//! - [`saga`]: compensations run in reverse when a process fails part-way;
//! - [`activity_options`]: the `ledger`, `external` and `bulk` presets (and local ledger steps);
//! - [`bulk`]: the bulk step, chunked, resumable, heartbeating its progress;
//! - [`codec`]: payloads sealed with AES-256-GCM before they reach Temporal, keys rotated;
//! - [`heartbeat`]: heartbeats around a long statement that cannot report progress;
//! - [`failure`]: business rejections with stable codes, never retried;
//! - [`metrics`]: the platform's business metrics, one list, one registry (ADR 16);
//! - [`telemetry`]: the log (text or JSON) and OTLP traces, one subscriber per program; the
//!   span every activity runs in;
//! - [`temporal`]: connecting to Temporal with a bounded wait and a helpful error (TLS failures
//!   told apart);
//! - `testkit` (feature): a local Temporal server per test binary, workers on fresh queues, and
//!   the `harness`'s fault injector.

pub mod activity_options;
pub mod allocation;
pub mod asset;
pub mod bulk;
pub mod codec;
pub mod cutoff;
pub mod failure;
#[cfg(feature = "testkit")]
pub mod harness;
pub mod heartbeat;
pub mod ids;
pub mod metrics;
pub mod money;
pub mod process;
pub mod rebalance;
pub mod saga;
pub mod schedule;
pub mod search;
pub mod steps;
pub mod telemetry;
pub mod temporal;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use asset::{AssetCode, AssetCodeError};
pub use failure::BusinessError;
pub use ids::{
    BatchId, Cash, EmployerId, MAX_ID_LEN, MemberId, MemberRequestIds, RequestId, Units,
    WorkflowId, business_date,
};
pub use money::{AmountError, Sign, checked_sum, parse_amount};
pub use process::{IdReuse, Process, ProcessInfo, Signal, TaskQueues, Waiting, start, step_key};
pub use saga::Saga;
pub use steps::{Runs, Step, Undo};

//! ACME's processes, one folder each (`<process>/mod.rs`), all deterministic: no I/O, clocks,
//! randomness or configuration outside activities. [`register_workflows`] is the catalog: adding
//! a process is one module line and one line in the list below, never an edit to the worker.

// The workflow macros generate definition types without a Debug impl.
#![allow(missing_debug_implementations)]

pub mod invest_cash;

use temporalio_sdk::workflow_replayer::WorkflowReplayerOptions;
use temporalio_sdk::{WorkerOptions, WorkflowRegistrationError};

/// One line per process, in alphabetical order.
macro_rules! catalog {
    ($($workflow:path),* $(,)?) => {
        /// Registers every catalogued process with a workflow worker.
        pub fn register_workflows(
            options: &mut WorkerOptions,
        ) -> Result<(), WorkflowRegistrationError> {
            $( options.register_workflow::<$workflow>()?; )*
            Ok(())
        }

        /// Replay options with every catalogued process, for the replay safety net.
        pub fn replayer_options() -> Result<WorkflowReplayerOptions, WorkflowRegistrationError> {
            let mut options = WorkflowReplayerOptions::new().build();
            $( options.register_workflow::<$workflow>()?; )*
            Ok(options)
        }
    };
}

catalog![invest_cash::InvestCash];

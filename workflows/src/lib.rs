//! ACME's processes, all deterministic: no I/O, clocks, randomness or configuration outside
//! activities. Each process is a folder `processes/<name>/` at the repository root, whose
//! `workflow.rs` is compiled in here as module `<name>` (found by the build script,
//! `sdk/build/discover_processes.rs`). The [`catalog!`] below is the one line a process adds:
//! it registers the workflow with the worker and the replayer, and lists it for `acme`.

// The workflow macros generate definition types without a Debug impl.
#![allow(missing_debug_implementations)]

// One module per folder under `processes/`.
include!(concat!(env!("OUT_DIR"), "/processes.rs"));

use acme_sdk::ProcessInfo;
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

        /// What the catalog holds, for `acme process list` and conformance checks.
        pub fn processes() -> Vec<ProcessInfo> {
            vec![$( ProcessInfo::of::<$workflow>() ),*]
        }

        #[cfg(test)]
        #[test]
        fn catalog_names_are_the_workflow_type_names() {
            use temporalio_common::WorkflowDefinition as _;
            $( assert_eq!(
                <$workflow as acme_sdk::Process>::NAME,
                <$workflow>::default().name(),
                "the Process name of {} must equal its #[run(name)]",
                stringify!($workflow),
            ); )*
        }
    };
}

catalog![
    change_profile::ChangeProfile,
    closing_prices::ClosingPrices,
    dealing_cutoff::DealingCutoff,
    dealing_cycle::DealingCycle,
    external_trade::ExternalTradeWorkflow,
    invest_cash::InvestCash,
    invest_contributions::InvestContributions,
    rebalance_day::RebalanceDay,
    reconciliation::Reconciliation,
    reconciliation_daily::ReconciliationDaily,
    sell_units::SellUnits,
    switch_funds::SwitchFunds,
];

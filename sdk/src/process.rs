//! What every process shares: its task queues (bulkheads), its business-key workflow id and
//! the idempotency keys of its steps.

use serde::{Deserialize, Serialize};

/// The production base name of the task queues.
pub const DEFAULT_TASK_QUEUE: &str = "acme";

/// The three bulkheads: workflows, ledger activities (sized to the database pool) and calls
/// to outside parties. Derived from one base name so a test can run on its own set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskQueues {
    pub workflows: String,
    pub ledger: String,
    pub external: String,
}

impl TaskQueues {
    pub fn new(base: &str) -> Self {
        Self {
            workflows: base.to_owned(),
            ledger: format!("{base}.ledger"),
            external: format!("{base}.external"),
        }
    }

    /// The queues of the worker that is running a workflow on `workflow_queue`: activities go to
    /// the same set, which keeps workflow code free of configuration reads.
    pub fn of_workflow_queue(workflow_queue: &str) -> Self {
        Self::new(workflow_queue)
    }
}

impl Default for TaskQueues {
    fn default() -> Self {
        Self::new(DEFAULT_TASK_QUEUE)
    }
}

/// The idempotency key of one step of a workflow: `<workflow id>/<step>`. The ledger insists on
/// this shape, so retries of a step always reuse the key and a workflow's entries are findable.
pub fn step_key(workflow_id: &str, step: &str) -> String {
    format!("{workflow_id}/{step}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_derive_from_one_base() {
        let queues = TaskQueues::new("acme");
        assert_eq!(queues.ledger, "acme.ledger");
        assert_eq!(queues.external, "acme.external");
        assert_eq!(TaskQueues::of_workflow_queue("acme"), queues);
    }

    #[test]
    fn step_keys_extend_the_workflow_id() {
        assert_eq!(step_key("invest/r-1", "reserve"), "invest/r-1/reserve");
    }
}

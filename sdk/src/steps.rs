//! The steps a process declares at the top of its file, in the spirit of omicron's
//! `declare_saga_actions!`: each step's name, the activity it runs, how its writes are keyed (so
//! a retry changes nothing) and what undoes it. A reader sees the process before reading any code;
//! `acme process list` shows it; the conformance test and the idempotency-and-unwind harness
//! (`workflows/tests/catalog.rs`, `worker/tests/e2e/harness.rs`) check the runs against it.

use serde::Serialize;
use temporalio_common::{ActivityDefinition, WorkflowDefinition};

/// One step of a process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// kebab-case, unique within the process, e.g. `reserve-cash`.
    pub name: &'static str,
    pub runs: Runs,
    /// How the step's writes are keyed, e.g. `<workflow id>/reserve-cash`; empty for a step
    /// that only reads.
    pub key: &'static str,
    pub undo: Undo,
}

/// What a step runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runs {
    /// An activity, by its stable name (from its definition), e.g. `ledger.post_entries`.
    Activity(String),
    /// Another process, started as a child under its own business key, e.g. `external-trade`.
    Child(String),
}

/// What happens to a step's effect when a later step fails for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Undo {
    /// It only reads: there is nothing to undo.
    Nothing,
    /// Undone by this compensating step, run by the process's saga in reverse order.
    By {
        name: &'static str,
        activity: String,
    },
    /// The point of no return, and why (e.g. the custodian holds the order): from here the
    /// process only goes forward; a failure is retried or escalated to an operator, never
    /// unwound. Later steps are forward-only too.
    Pivot { why: &'static str },
}

impl Step {
    /// A step that only reads.
    pub fn reads(name: &'static str, activity: impl ActivityDefinition) -> Self {
        Self {
            name,
            runs: Runs::Activity(activity.name().to_owned()),
            key: "",
            undo: Undo::Nothing,
        }
    }

    /// A step that writes under `key`. Say what undoes it with [`Step::undone_by`], or that it
    /// is the point of no return with [`Step::pivot`]; a write with neither is refused by the
    /// conformance test.
    pub fn writes(
        name: &'static str,
        activity: impl ActivityDefinition,
        key: &'static str,
    ) -> Self {
        Self {
            name,
            runs: Runs::Activity(activity.name().to_owned()),
            key,
            undo: Undo::Nothing,
        }
    }

    /// A step that starts another process as a child; `key` is the child's workflow id.
    pub fn starts(
        name: &'static str,
        workflow: impl WorkflowDefinition,
        key: &'static str,
    ) -> Self {
        Self {
            name,
            runs: Runs::Child(workflow.name().to_owned()),
            key,
            undo: Undo::Nothing,
        }
    }

    /// The activity the step runs, if it runs one.
    pub fn activity(&self) -> Option<&str> {
        match &self.runs {
            Runs::Activity(name) => Some(name),
            Runs::Child(_) => None,
        }
    }

    /// The compensating step that undoes this one.
    #[must_use]
    pub fn undone_by(mut self, name: &'static str, activity: impl ActivityDefinition) -> Self {
        self.undo = Undo::By {
            name,
            activity: activity.name().to_owned(),
        };
        self
    }

    /// Marks the point of no return, saying why.
    #[must_use]
    pub fn pivot(mut self, why: &'static str) -> Self {
        self.undo = Undo::Pivot { why };
        self
    }

    /// Whether the step writes.
    pub fn writes_anything(&self) -> bool {
        !self.key.is_empty()
    }
}

/// What is wrong with a declaration, one line each: names that are not kebab-case or not unique,
/// a write that says nothing of its undo, an undo after the point of no return.
pub fn problems(steps: &[Step]) -> Vec<String> {
    let mut problems = Vec::new();
    if steps.is_empty() {
        problems.push("declares no steps".to_owned());
    }
    let mut names = std::collections::BTreeSet::new();
    let mut past_pivot = false;
    for step in steps {
        let undo_name = match &step.undo {
            Undo::By { name, .. } => Some(*name),
            _ => None,
        };
        for name in std::iter::once(step.name).chain(undo_name) {
            if !is_kebab(name) {
                problems.push(format!("step name {name:?} is not kebab-case"));
            }
            if !names.insert(name) {
                problems.push(format!("step name {name:?} is declared twice"));
            }
        }
        if step.writes_anything() && step.undo == Undo::Nothing && !past_pivot {
            problems.push(format!(
                "step {:?} writes but declares neither its undo nor that it is the pivot",
                step.name
            ));
        }
        if past_pivot && undo_name.is_some() {
            problems.push(format!(
                "step {:?} comes after the pivot, so it is never undone",
                step.name
            ));
        }
        past_pivot |= matches!(step.undo, Undo::Pivot { .. });
    }
    problems
}

fn is_kebab(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use temporalio_common::UntypedActivity;

    use super::*;

    fn activity() -> UntypedActivity {
        UntypedActivity::new("area.act")
    }

    #[test]
    fn a_sound_declaration_has_no_problems() {
        let steps = [
            Step::reads("plan", activity()),
            Step::writes("reserve", activity(), "<workflow id>/reserve")
                .undone_by("release", activity()),
            Step::writes("place", activity(), "order ref").pivot("the custodian holds it"),
            Step::writes("settle", activity(), "<workflow id>/settle"),
        ];
        assert_eq!(problems(&steps), Vec::<String>::new());
        assert_eq!(steps[1].activity(), Some("area.act"));
    }

    #[test]
    fn each_mistake_is_named() {
        let steps = [
            Step::reads("Plan", activity()),
            Step::writes("reserve", activity(), "k"),
            Step::writes("place", activity(), "k").pivot("why"),
            Step::writes("reserve", activity(), "k").undone_by("undo", activity()),
        ];
        let found = problems(&steps).join("\n");
        for expected in [
            "\"Plan\" is not kebab-case",
            "\"reserve\" writes but declares neither",
            "\"reserve\" is declared twice",
            "comes after the pivot",
        ] {
            assert!(found.contains(expected), "{expected} not in:\n{found}");
        }
        assert_eq!(problems(&[]), ["declares no steps"]);
    }
}

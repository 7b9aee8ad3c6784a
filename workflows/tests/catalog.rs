//! Conformance: every process in the catalog has the shape the platform promises its users —
//! a kebab-case name, a description, a typed input whose fields are documented, a workflow id
//! made from the business key, the search attributes operators find runs by, and a folder
//! `processes/<name>/` holding its workflow, a test that names it and at least one recorded history
//! from its tests (so the replay net covers it), a `Harness` scenario in its `e2e.rs` (the build
//! script runs the idempotency-and-unwind harness over it, `worker/tests/e2e/harness.rs`), and a
//! sound declaration of its steps, which the harness checks each run against.

// A failed unwrap in a test is a failed test, with the error printed.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use acme_sdk::ProcessInfo;
use acme_sdk::search::{BUSINESS_KEY, PROCESS};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A process's folder: its name in snake_case under `processes/`.
fn folder_of(name: &str) -> PathBuf {
    repository().join("processes").join(name.replace('-', "_"))
}

/// The tests a process folder holds: its unit tests and its end-to-end tests.
fn test_sources(name: &str) -> Vec<String> {
    ["tests.rs", "e2e.rs"]
        .iter()
        .filter_map(|file| std::fs::read_to_string(folder_of(name).join(file)).ok())
        .collect()
}

/// What is wrong with one process, one line each.
fn problems_of(process: &ProcessInfo) -> Vec<String> {
    let name = process.name;
    let mut problems = Vec::new();
    let kebab = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !kebab {
        problems.push("the name is not kebab-case".to_owned());
    }
    if process.description.trim().is_empty() {
        problems.push("no description".to_owned());
    }
    let fields = process
        .input_schema
        .get("properties")
        .and_then(|p| p.as_object())
        .cloned()
        .unwrap_or_default();
    if fields.is_empty() {
        problems.push("the input has no fields in its schema".to_owned());
    }
    for (field, schema) in &fields {
        if schema.get("description").is_none() {
            problems.push(format!("input field {field} has no doc comment"));
        }
    }
    let example = &process.example;
    if example.business_key.is_empty() || !example.workflow_id.contains(&example.business_key) {
        problems.push(format!(
            "workflow id {:?} is not made from the business key {:?}",
            example.workflow_id, example.business_key
        ));
    }
    let attribute = |key: &str| example.search_attributes.get(key).map(String::as_str);
    if attribute(PROCESS.name()) != Some(name)
        || attribute(BUSINESS_KEY.name()) != Some(example.business_key.as_str())
    {
        problems.push(format!(
            "a run lacks the search attributes {} and {}: {:?}",
            PROCESS.name(),
            BUSINESS_KEY.name(),
            example.search_attributes
        ));
    }
    let workflow = process.type_name.rsplit("::").next().unwrap_or_default();
    let folder = format!("processes/{}/", name.replace('-', "_"));
    let tested = test_sources(name).iter().any(|source| {
        source
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|word| word == workflow)
    });
    if !tested {
        problems.push(format!(
            "no test names {workflow} ({folder}tests.rs or e2e.rs)"
        ));
    }
    let scenario = std::fs::read_to_string(folder_of(name).join("e2e.rs")).unwrap_or_default();
    if !scenario.contains("Harness") {
        problems.push(format!(
            "{folder}e2e.rs gives no Harness scenario, so the idempotency-and-unwind harness \
             cannot run it"
        ));
    }
    let recorded = std::fs::read_dir(folder_of(name).join("histories"))
        .map(|files| files.filter_map(Result::ok).count())
        .unwrap_or(0);
    if recorded == 0 {
        problems.push(format!(
            "no recorded history under {folder}histories/ (record one from its tests)"
        ));
    }
    let module = process.type_name.split("::").nth(1).unwrap_or_default();
    if module != name.replace('-', "_") {
        problems.push(format!(
            "its workflow is in module {module}, not in {folder}workflow.rs"
        ));
    }
    problems.extend(acme_sdk::steps::problems(&process.steps));
    problems
        .into_iter()
        .map(|problem| format!("{name}: {problem}"))
        .collect()
}

#[test]
fn every_catalogued_process_conforms() {
    let processes = acme_workflows::processes();
    assert!(!processes.is_empty());
    let problems: Vec<String> = processes.iter().flat_map(problems_of).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checks_catch_a_process_that_does_not_conform() {
    let mut process = acme_workflows::processes().remove(0);
    process.name = "Not_Kebab";
    process.type_name = "acme_workflows::nowhere::Untested";
    process.example.workflow_id = "somewhere-else".to_owned();
    process.example.search_attributes.clear();
    process.steps.clear();
    let problems = problems_of(&process).join("\n");
    for expected in [
        "not kebab-case",
        "not made from the business key",
        "lacks the search attributes",
        "no test names Untested",
        "no recorded history",
        "no Harness scenario",
        "its workflow is in module nowhere",
        "declares no steps",
    ] {
        assert!(
            problems.contains(expected),
            "missing {expected:?} in:\n{problems}"
        );
    }
}

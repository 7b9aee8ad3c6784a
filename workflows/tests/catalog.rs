//! Conformance: every process in the catalog has the shape the platform promises its users —
//! a kebab-case name, a description, a typed input with documented fields, and at least one
//! recorded history from its tests (so the replay net covers it).

// A failed unwrap in a test is a failed test, with the error printed.
#![allow(clippy::unwrap_used)]

use std::path::Path;

#[test]
fn every_catalogued_process_conforms() {
    let processes = acme_workflows::processes();
    assert!(!processes.is_empty());
    let histories = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/histories");
    let mut problems = Vec::new();
    for process in &processes {
        let name = process.name;
        let kebab = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        if !kebab {
            problems.push(format!("{name}: the name is not kebab-case"));
        }
        if process.description.trim().is_empty() {
            problems.push(format!("{name}: no description"));
        }
        let fields = process
            .input_schema
            .get("properties")
            .and_then(|p| p.as_object())
            .map_or(0, serde_json::Map::len);
        if fields == 0 {
            problems.push(format!("{name}: the input has no fields in its schema"));
        }
        let recorded = std::fs::read_dir(histories.join(name))
            .map(|files| files.filter_map(Result::ok).count())
            .unwrap_or(0);
        if recorded == 0 {
            problems.push(format!(
                "{name}: no recorded history under tests/histories/{name}/ (record one from its tests)"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

//! Tidy: the house rules no compiler checks, checked over every Rust file of the repository
//! (rust-analyzer's `tidy.rs` is the model). Each rule says what it protects:
//!
//! - every file starts with a `//!` comment saying why it exists;
//! - no `allow(clippy::unwrap_used)` outside test code (clippy refuses `unwrap()` elsewhere);
//! - `sqlx` only in the crates that own tables or open connections (and tests), never in the
//!   SDK or a process's workflow, which must not reach the database;
//! - a process's `workflow.rs` and `tests.rs` name no I/O, clock, randomness, configuration or
//!   task spawning (`workflows/clippy.toml` refuses the method calls; this refuses the crates).

// A failed unwrap in a test is a failed test, with the error printed.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file of the repository (not build output, not the dev stack's state), as a path
/// relative to the repository and its text.
fn rust_files() -> Vec<(String, String)> {
    let root = repository();
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" {
                    dirs.push(path);
                }
            } else if name.ends_with(".rs") {
                let relative = path.strip_prefix(&root).unwrap().display().to_string();
                files.push((relative, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// Test code: integration tests, benchmarks, test support, a process's tests.
fn is_test_code(path: &str) -> bool {
    path.contains("/tests/")
        || path.contains("/examples/")
        || path.ends_with("/tests.rs")
        || path.ends_with("/e2e.rs")
        || path.ends_with("/testkit.rs")
}

/// Crates that own tables or connect to the database, and may name sqlx.
const SQLX_ALLOWED: &[&str] = &["ledger/", "activities/", "custodian/", "worker/", "cli/"];

/// Names a workflow must not use, with what to do instead.
const NOT_IN_WORKFLOWS: &[(&str, &str)] = &[
    ("sqlx", "call an activity"),
    ("reqwest", "call an activity"),
    (
        "tokio::",
        "use the workflow context's timers and join futures",
    ),
    ("std::fs", "call an activity"),
    ("std::net", "call an activity"),
    ("std::env", "pass configuration in the input"),
    ("rand::", "use ctx.random_seed()"),
    ("SystemTime", "use ctx.workflow_time()"),
    ("Utc::now", "use ctx.workflow_time()"),
    ("new_v4", "derive ids from the workflow id"),
];

/// What is wrong with one file, one line each.
fn problems_of(path: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if !text.starts_with("//!") {
        problems.push(format!(
            "{path}: does not start with a //! comment saying why it exists"
        ));
    }
    if !is_test_code(path) && text.contains("allow(clippy::unwrap_used)") {
        problems.push(format!(
            "{path}: allows unwrap() outside tests; return the error instead"
        ));
    }
    let names_sqlx = text.contains("sqlx::") || text.contains("use sqlx");
    let sqlx_allowed = SQLX_ALLOWED.iter().any(|dir| path.starts_with(dir))
        || path.ends_with("/activities.rs")
        || is_test_code(path);
    if names_sqlx && !sqlx_allowed {
        problems.push(format!(
            "{path}: names sqlx; only {SQLX_ALLOWED:?} and a process's activities.rs may"
        ));
    }
    if path.starts_with("processes/")
        && (path.ends_with("/workflow.rs") || path.ends_with("/tests.rs"))
    {
        for (name, instead) in NOT_IN_WORKFLOWS {
            if text.contains(name) {
                problems.push(format!(
                    "{path}: workflow code names {name}; {instead} (it must replay the same)"
                ));
            }
        }
    }
    problems
}

#[test]
fn every_rust_file_keeps_the_house_rules() {
    let files = rust_files();
    assert!(
        files.iter().any(|(path, _)| path == "sdk/tests/tidy.rs"),
        "the walk found no files"
    );
    let problems: Vec<String> = files
        .iter()
        .flat_map(|(path, text)| problems_of(path, text))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_rules_catch_what_they_are_for() {
    let found = |path: &str, text: &str| problems_of(path, text).join("\n");
    assert!(found("cli/src/x.rs", "fn main() {}").contains("does not start with a //!"));
    assert!(found("cli/src/x.rs", "//! x\n#![allow(clippy::unwrap_used)]").contains("unwrap()"));
    assert!(found("cli/tests/x.rs", "//! x\n#![allow(clippy::unwrap_used)]").is_empty());
    assert!(found("sdk/src/x.rs", "//! x\nuse sqlx::PgPool;").contains("names sqlx"));
    assert!(found("processes/p/activities.rs", "//! x\nuse sqlx::PgPool;").is_empty());
    let workflow = found(
        "processes/p/workflow.rs",
        "//! x\nlet t = tokio::time::sleep(d);",
    );
    assert!(workflow.contains("names tokio::"), "{workflow}");
    assert!(found("processes/p/workflow.rs", "//! x\nuse sqlx::Row;").contains("names sqlx"));
}

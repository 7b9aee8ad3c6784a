//! The build script of `acme-workflows`, `acme-activities` and `acme-worker` (each names it in
//! its `Cargo.toml`): it finds the process folders under `processes/` so that adding a process
//! never means editing these crates. A folder `processes/<name>/` is one process:
//!
//! - `workflow.rs` (required): the process, compiled into `acme-workflows` as `<name>`;
//! - `activities.rs` (optional): its own activities, compiled into `acme-activities` as `<name>`
//!   and registered on the ledger queue by its `pub fn register`;
//! - `e2e.rs` (optional): its end-to-end tests, compiled into `acme-worker`'s `e2e` test binary,
//!   with its `Harness` scenario, which the idempotency-and-unwind harness runs as test
//!   `harness_of::<name>`.
//!
//! It writes `$OUT_DIR/processes.rs` with one `#[path]` module per folder (and, for the
//! activities, the function registering them); the crate `include!`s it. See ADR 12.

// Build scripts read cargo's environment; workflows/clippy.toml bans that in workflow code only.
#![allow(clippy::disallowed_methods)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest
        .join("../processes")
        .canonicalize()
        .expect("the repository has a processes/ folder");
    println!("cargo::rerun-if-changed={}", root.display());
    let package = std::env::var("CARGO_PKG_NAME").expect("cargo sets it");
    let folders = process_folders(&root);
    let generated = match package.as_str() {
        "acme-workflows" => modules(&folders, "workflow.rs", "pub "),
        "acme-activities" => {
            let with_activities: Vec<_> = folders
                .iter()
                .filter(|(_, dir)| dir.join("activities.rs").exists())
                .cloned()
                .collect();
            let mut code = modules(&with_activities, "activities.rs", "pub ");
            if with_activities.is_empty() {
                code.push_str(
                    "#[allow(unused_variables)] // no process folder has activities yet\n",
                );
            }
            code.push_str(
                "/// Registers the activities every process folder brings (`activities.rs`).\n\
                 pub(crate) fn register_process_activities(\n\
                 \x20   options: &mut temporalio_sdk::WorkerOptions,\n\
                 \x20   ledger: &acme_ledger::Ledger,\n) {\n",
            );
            for (name, _) in &with_activities {
                writeln!(code, "    {name}::register(options, ledger);").expect("a string");
            }
            code.push_str("}\n");
            code
        }
        "acme-worker" => {
            let with_e2e: Vec<_> = folders
                .iter()
                .filter(|(_, dir)| dir.join("e2e.rs").exists())
                .cloned()
                .collect();
            let mut code = modules(&with_e2e, "e2e.rs", "");
            code.push_str(
                "/// The idempotency-and-unwind harness (`harness.rs`) over each folder's `Harness`\n\
                 /// (a unit struct, or an alias of a generic scenario: hence `default()`).\n\
                 #[allow(clippy::default_constructed_unit_structs)]\n\
                 mod harness_of {\n",
            );
            for (name, _) in &with_e2e {
                writeln!(
                    code,
                    "    #[tokio::test]\n    async fn {name}() {{\n        \
                     crate::support::on_local_set(crate::harness::check(crate::{name}::Harness::default())).await;\n    }}"
                )
                .expect("a string");
            }
            code.push_str("}\n");
            code
        }
        other => panic!("discover_processes.rs is not the build script of {other}"),
    };
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("processes.rs");
    // Rewritten only when it changes, so an edit inside a process does not rebuild the others.
    if std::fs::read_to_string(&out).ok().as_deref() != Some(generated.as_str()) {
        std::fs::write(&out, generated).expect("OUT_DIR is writable");
    }
}

/// Every `processes/<name>/` folder, sorted by name. A folder that is not a process is an error
/// here rather than a confusing one later.
fn process_folders(root: &Path) -> Vec<(String, PathBuf)> {
    let entries = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("cannot read the process folders in {}: {e}", root.display()));
    let mut folders = Vec::new();
    for entry in entries {
        let path = entry.expect("a readable directory entry").path();
        if !path.is_dir() {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let module_name = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        assert!(
            module_name,
            "processes/{name}/: a process folder is named in snake_case (its module name)"
        );
        assert!(
            path.join("workflow.rs").exists(),
            "processes/{name}/ has no workflow.rs: every process folder holds its workflow"
        );
        folders.push((name, path));
    }
    folders.sort();
    folders
}

/// `#[path = ".../<file>"] <visibility>mod <name>;` for each folder.
fn modules(folders: &[(String, PathBuf)], file: &str, visibility: &str) -> String {
    let mut code = String::new();
    for (name, dir) in folders {
        let path = dir.join(file);
        writeln!(
            code,
            "#[path = {:?}]\n{visibility}mod {name};",
            path.display()
        )
        .expect("a string");
    }
    code
}

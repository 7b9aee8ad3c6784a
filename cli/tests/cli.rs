//! `acme` without a platform behind it: refusals that must come before anything is done, and
//! unreachable servers reported clearly and quickly. The commands against a real stack are
//! tested in `worker/tests/e2e/cli.rs`.

// A failed unwrap in a test is a failed test, with the error printed.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Runs `acme` with `args` and `env`, with no operator or dev-stack settings inherited.
fn acme(args: &[&str], env: &[(&str, &str)]) -> (Output, Duration) {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_acme"))
        .args(args)
        .env_remove("ACME_OPERATOR")
        .env_remove("TEMPORAL_ADDRESS")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (output, started.elapsed())
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn terminate_and_cancel_are_refused_without_a_reason() {
    for verb in ["terminate", "cancel"] {
        let (output, _) = acme(&[verb, "invest/r-1", "--as", "alice"], &[]);
        assert_eq!(output.status.code(), Some(2), "{verb}");
        assert!(stderr(&output).contains("--reason"), "{}", stderr(&output));

        let (output, _) = acme(&[verb, "invest/r-1", "--as", "alice", "--reason", " "], &[]);
        assert_eq!(output.status.code(), Some(2), "{verb}");
        assert!(
            stderr(&output).contains("--reason must say why"),
            "{}",
            stderr(&output)
        );
    }
}

#[test]
fn bad_start_requests_are_refused_before_connecting() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["start", "no-such-process"],
            "no process named \"no-such-process\"",
        ),
        (
            &["start", "invest-cash", "--input", "[1]"],
            "--input must be a JSON object",
        ),
        (
            &["start", "invest-cash", "--input", "{"],
            "--input is not valid JSON",
        ),
        (
            &["start", "invest-cash", "--input", r#"{"request_id": 5}"#],
            "does not fit invest-cash's input schema",
        ),
    ];
    // Temporal's address is unreachable: a refusal must not even try it.
    for (args, expected) in cases {
        let (output, _) = acme(args, &[("TEMPORAL_ADDRESS", "127.0.0.1:1")]);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn unreachable_temporal_is_named_with_what_to_do_within_seconds() {
    // A refused port, and an address that never answers (or is refused by a closed network).
    for address in ["127.0.0.1:1", "10.255.255.1:7233"] {
        let (output, took) = acme(&["list"], &[("TEMPORAL_ADDRESS", address)]);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{message}");
        assert!(
            message.contains(&format!("cannot connect to Temporal at http://{address}")),
            "{message}"
        );
        assert!(message.contains("ops/stack up"), "{message}");
        assert!(took < Duration::from_secs(8), "took {took:?}");
    }
}

#[test]
fn unreachable_postgresql_is_named_with_what_to_do_within_seconds() {
    let url = "postgres://acme_readonly:x@127.0.0.1:1/acme";
    let (output, took) = acme(&["ledger", "verify", "--readonly-database-url", url], &[]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(
        message.contains("cannot connect to PostgreSQL at 127.0.0.1:1"),
        "{message}"
    );
    assert!(message.contains("ops/stack up"), "{message}");
    assert!(took < Duration::from_secs(8), "took {took:?}");
}

#[test]
fn shell_completions_cover_the_commands() {
    let (output, _) = acme(&["completions", "bash"], &[]);
    assert!(output.status.success());
    let script = String::from_utf8(output.stdout).unwrap();
    for command in [
        "start",
        "signal",
        "query",
        "describe",
        "list",
        "stuck",
        "terminate",
        "audit",
    ] {
        assert!(script.contains(command), "no completion for {command}");
    }
}

//! `acme-worker` processes for the programs in `worker/examples/`: how to start one pointed at
//! the harness's platform, and how much memory one used.

use std::path::PathBuf;

use crate::support::Platform;

/// Starts `acme-worker` processes (the one built beside the running example) pointed at a
/// platform's server, database, queues and custodian; owned, so a task may start them without
/// borrowing the platform (the soak's killer).
pub struct Launcher {
    binary: PathBuf,
    environment: Vec<(&'static str, String)>,
    log_filter: &'static str,
}

impl Launcher {
    /// For `platform`, logging at `log_filter` (`RUST_LOG`).
    pub fn beside_this_program(
        platform: &Platform,
        log_filter: &'static str,
    ) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let binary = exe
            .parent()
            .and_then(|examples| examples.parent())
            .map(|profile| profile.join("acme-worker"))
            .filter(|worker| worker.exists())
            .ok_or_else(|| {
                anyhow::anyhow!("no acme-worker beside {exe:?}: build it with --bin acme-worker")
            })?;
        Ok(Self {
            binary,
            environment: platform.worker_environment().into(),
            log_filter,
        })
    }

    pub fn start(&self) -> anyhow::Result<tokio::process::Child> {
        Ok(tokio::process::Command::new(&self.binary)
            .envs(self.environment.iter().map(|(k, v)| (*k, v.as_str())))
            .env("RUST_LOG", self.log_filter)
            .kill_on_drop(true)
            .spawn()?)
    }
}

/// The peak resident set of process `pid` (`VmHWM`), in KiB; 0 if it cannot be read.
pub fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

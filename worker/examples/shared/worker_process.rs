//! `acme-worker` processes for the programs in `worker/examples/`: where the binary is, and how
//! much memory one used.

use std::path::PathBuf;

/// The `acme-worker` built beside the running example (`target/<profile>/acme-worker`).
pub fn binary_beside_this_program() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.parent()
        .and_then(|examples| examples.parent())
        .map(|profile| profile.join("acme-worker"))
        .filter(|worker| worker.exists())
        .ok_or_else(|| {
            anyhow::anyhow!("no acme-worker beside {exe:?}: build it with --bin acme-worker")
        })
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

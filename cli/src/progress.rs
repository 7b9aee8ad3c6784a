//! Progress of long commands on stderr: a bar on a terminal; otherwise a line at each tenth of
//! the way (so logs of scripted runs still show how far a command got without flooding them).

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug)]
pub struct Progress {
    what: &'static str,
    /// `None` when stderr is not a terminal.
    bar: Option<ProgressBar>,
    /// The last tenth of the way printed (plain mode).
    last_tenth: AtomicU64,
}

impl Progress {
    /// Progress towards `total` units of `what` (e.g. "members seeded").
    pub fn new(what: &'static str, total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg} [{bar:40}] {pos}/{len} ({elapsed}, about {eta} left)",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_message(what);
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        });
        Self {
            what,
            bar,
            last_tenth: AtomicU64::new(u64::MAX),
        }
    }

    /// `done` of `total` so far (the total may change, e.g. once a cycle knows its trades).
    pub fn update(&self, done: u64, total: u64) {
        match &self.bar {
            Some(bar) => {
                bar.set_length(total);
                bar.set_position(done);
            }
            None => {
                let tenth = done * 10 / total.max(1);
                if self.last_tenth.swap(tenth, Ordering::Relaxed) != tenth {
                    eprintln!("{}: {done}/{total}", self.what);
                }
            }
        }
    }

    /// Removes the bar; what the command prints next stands on its own.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Progress that the ledger reports in stages (a check over entries, then over accounts): one
/// bar per stage, the previous one cleared when the next starts.
#[derive(Debug, Default)]
pub struct Stages {
    current: Option<(&'static str, Progress)>,
}

impl Stages {
    pub fn update(&mut self, progress: acme_ledger::Progress) {
        if self.current.as_ref().map(|(what, _)| *what) != Some(progress.what) {
            self.finish();
            self.current = Some((progress.what, Progress::new(progress.what, progress.total)));
        }
        if let Some((_, bar)) = &self.current {
            bar.update(progress.done, progress.total);
        }
    }

    /// Removes the last stage's bar.
    pub fn finish(&mut self) {
        if let Some((_, bar)) = self.current.take() {
            bar.finish();
        }
    }
}

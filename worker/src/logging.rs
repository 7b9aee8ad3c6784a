//! How `acme-worker` writes its log: human-readable lines (the default) or one JSON object per
//! line for a log collector (`--log-format json` / `ACME_LOG_FORMAT=json`), filtered by
//! `RUST_LOG` (default `info`) either way. JSON lines carry the event's fields at the top level
//! beside `timestamp`, `level`, `target` and the current span.

use tracing_subscriber::EnvFilter;

/// The log's format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event
    #[default]
    Text,
    /// One JSON object per line
    Json,
}

/// Installs the process's log subscriber; call once, first thing.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
    }
}

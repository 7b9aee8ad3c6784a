//! Output for read commands: a human table or JSON for scripts (`--output table|json`).

use clap::ValueEnum;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Table,
    Json,
}

/// A table with the house style.
pub fn table(header: &[&str]) -> Table {
    let mut table = styled();
    table.set_header(header.iter().copied());
    table
}

fn styled() -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    table
}

pub fn json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A JSON object as a two-column table of its fields (nested values as compact JSON); any
/// other value as pretty JSON.
pub fn fields(value: &serde_json::Value) -> String {
    let serde_json::Value::Object(object) = value else {
        return serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    };
    pairs(object.iter().map(|(name, value)| {
        let shown = match value {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        (name.as_str(), shown)
    }))
    .to_string()
}

/// A two-column table of names and values, without a header.
pub fn pairs<'a>(rows: impl IntoIterator<Item = (&'a str, String)>) -> Table {
    let mut table = styled();
    for (name, value) in rows {
        table.add_row(vec![name.to_owned(), value]);
    }
    table
}

/// A moment as tables show it: to the second, in UTC.
pub fn when(moment: chrono::DateTime<chrono::Utc>) -> String {
    moment.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

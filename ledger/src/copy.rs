//! Streams rows into PostgreSQL with `COPY ... FROM STDIN` (text format), the bulk path's way of
//! writing hundreds of thousands of rows without one statement per row.

use std::fmt::Write as _;

use sqlx::PgConnection;

/// Rows are sent in pieces of about this size, so memory stays flat however large the batch.
const CHUNK_BYTES: usize = 4 << 20;

/// One COPY stream's pending bytes, with helpers that write correctly escaped fields.
#[derive(Debug)]
pub struct CopyRows {
    buffer: String,
    at_row_start: bool,
}

impl CopyRows {
    fn new() -> Self {
        Self {
            buffer: String::with_capacity(CHUNK_BYTES + 4096),
            at_row_start: true,
        }
    }

    fn separate(&mut self) {
        if !self.at_row_start {
            self.buffer.push('\t');
        }
        self.at_row_start = false;
    }

    /// A value whose text cannot contain tabs, newlines or backslashes (numbers, dates).
    pub fn plain(&mut self, value: impl std::fmt::Display) -> &mut Self {
        self.separate();
        // Writing to a String cannot fail.
        let _ = write!(self.buffer, "{value}");
        self
    }

    /// Free text, escaped as COPY's text format requires.
    pub fn text(&mut self, value: &str) -> &mut Self {
        self.separate();
        for c in value.chars() {
            match c {
                '\\' => self.buffer.push_str("\\\\"),
                '\n' => self.buffer.push_str("\\n"),
                '\r' => self.buffer.push_str("\\r"),
                '\t' => self.buffer.push_str("\\t"),
                c => self.buffer.push(c),
            }
        }
        self
    }

    /// A `bytea` value in hex form (the backslash itself escaped for COPY).
    pub fn bytea(&mut self, value: &[u8]) -> &mut Self {
        self.separate();
        self.buffer.push_str("\\\\x");
        self.buffer.push_str(&hex::encode(value));
        self
    }

    fn end_row(&mut self) {
        self.buffer.push('\n');
        self.at_row_start = true;
    }
}

/// Runs `statement` (a `COPY ... FROM STDIN`) and feeds it one row per item.
pub async fn copy_rows<T>(
    conn: &mut PgConnection,
    statement: &str,
    items: impl IntoIterator<Item = T>,
    mut write_row: impl FnMut(&mut CopyRows, T),
) -> Result<u64, sqlx::Error> {
    let mut copy = conn.copy_in_raw(statement).await?;
    let mut rows = CopyRows::new();
    for item in items {
        write_row(&mut rows, item);
        rows.end_row();
        if rows.buffer.len() >= CHUNK_BYTES {
            copy.send(rows.buffer.as_bytes()).await?;
            rows.buffer.clear();
        }
    }
    if !rows.buffer.is_empty() {
        copy.send(rows.buffer.as_bytes()).await?;
    }
    copy.finish().await
}

//! The transaction a bulk step commits one chunk in (see `acme_sdk::bulk`). Two rules it keeps
//! whatever happens to the attempt running it:
//! - at most one transaction of a step works at a time: each takes the step's advisory lock
//!   first, so a retry started while an abandoned attempt's statement still runs waits for it
//!   instead of competing with it;
//! - an attempt that is dropped mid-chunk (cancelled, or its heartbeat lost) stops its own SQL:
//!   the connection is its own, never returned to the pool, and dropping the transaction
//!   cancels whatever statement that connection is running before closing it.

use sqlx::{Connection, PgConnection, PgPool};

/// One chunk's transaction on a connection of its own.
#[derive(Debug)]
pub struct ChunkTransaction {
    /// `None` once committed (or after the drop handed it to the canceller).
    conn: Option<PgConnection>,
    backend_pid: i32,
    pool: PgPool,
}

impl ChunkTransaction {
    /// Begins a chunk of the step `step_key` (e.g. `<workflow id>/allocate`), waiting while
    /// another transaction of the same step holds its lock.
    pub async fn begin(pool: &PgPool, step_key: &str) -> Result<Self, sqlx::Error> {
        let mut conn = pool.acquire().await?.detach();
        let backend_pid: i32 = sqlx::query_scalar("select pg_backend_pid()")
            .fetch_one(&mut conn)
            .await?;
        let mut chunk = Self {
            conn: None,
            backend_pid,
            pool: pool.clone(),
        };
        sqlx::query("begin").execute(&mut conn).await?;
        chunk.conn = Some(conn);
        sqlx::query("select pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(step_key)
            .execute(chunk.conn()?)
            .await?;
        Ok(chunk)
    }

    /// The transaction's connection, for the chunk's statements.
    pub fn conn(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        self.conn
            .as_mut()
            .ok_or_else(|| sqlx::Error::Protocol("the chunk transaction is over".into()))
    }

    /// Commits the chunk and closes its connection.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let mut conn = self
            .conn
            .take()
            .ok_or_else(|| sqlx::Error::Protocol("the chunk transaction is over".into()))?;
        sqlx::query("commit").execute(&mut conn).await?;
        conn.close().await
    }
}

impl Drop for ChunkTransaction {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let pool = self.pool.clone();
        let pid = self.backend_pid;
        // The connection stays open until the cancel is sent, so its backend id cannot have
        // passed to another connection; closing it then rolls the transaction back.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = sqlx::query("select pg_cancel_backend($1)")
                    .bind(pid)
                    .execute(&pool)
                    .await;
                let _ = conn.close().await;
            });
        }
    }
}

//! The asset-custodian simulator: a stand-in for the external custodian, so a whole business
//! day (orders, forward pricing, confirmations, settlement, statements) runs on one machine.
//!
//! Rooms: [`messages`] and [`prices`] (the ISO 20022-shaped JSON both sides speak) and
//! [`statements`] (the transaction statement and the reconciliation fault knobs), the only modules
//! without the `server` feature; [`pricing`] and [`calendar`] (pure rules), and behind `server`:
//! the database (`store`), the HTTP API (`api`; what the statements report, knobs applied, in
//! `reporting`), the background loops (`engine`), the seeded price feed (`price_feed`), its
//! `/metrics` (`metrics`) and [`Simulator`], which starts them all. The simulator keeps its own
//! state in its own database, never the
//! ledger's, and derives everything it does from that state, so it can be stopped at any point
//! and started again.

pub mod messages;
pub mod prices;
pub mod statements;

#[cfg(feature = "server")]
mod api;
#[cfg(feature = "server")]
pub mod calendar;
#[cfg(feature = "server")]
mod engine;
#[cfg(feature = "server")]
pub mod error;
#[cfg(feature = "server")]
mod metrics;
#[cfg(feature = "server")]
mod price_feed;
#[cfg(feature = "server")]
pub mod pricing;
#[cfg(feature = "server")]
mod reporting;
#[cfg(feature = "server")]
mod store;
#[cfg(feature = "testkit")]
pub mod testkit;

#[cfg(feature = "server")]
pub use server::{
    Config, DEV_DATABASE_URL, MIGRATOR, Simulator, create_database_if_missing, migrate, serve,
};

#[cfg(feature = "server")]
mod server {
    use std::future::Future;
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use chrono::NaiveDate;
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    use sqlx::{Connection, PgConnection, PgPool};
    use tokio::sync::watch;
    use tokio::task::JoinHandle;

    use crate::engine::{self, Shared};
    use crate::error::Error;
    use crate::messages::CallbackSecret;
    use crate::store::Store;
    use crate::{api, calendar};

    /// The simulator's migrations, embedded in the binary; run by the role that owns its database.
    pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

    /// The dev stack's database for the simulator, owned by `acme_owner`.
    pub const DEV_DATABASE_URL: &str =
        "postgres://acme_owner:acme_owner@127.0.0.1:5432/acme_custodian";

    /// How long background tasks get to finish after a stop before they are aborted.
    const STOP_GRACE: Duration = Duration::from_secs(5);

    #[derive(Debug, Clone)]
    pub struct Config {
        /// Where to listen; port 0 picks a free port (see [`Simulator::addr`]).
        pub listen: SocketAddr,
        pub database_url: String,
        /// Where callbacks are POSTed; without it none are sent and the platform must poll.
        pub callback_url: Option<String>,
        /// The secret callbacks are signed with (see `messages::SIGNATURE_HEADER`); required
        /// with a callback URL.
        pub callback_secret: Option<CallbackSecret>,
        /// Automatic clock: one business day per this much wall-clock time. `None`: manual.
        pub day_length: Option<Duration>,
        /// The business date on first start (rolled to a weekday); default today. Ignored once
        /// the database has a clock, so a restart continues.
        pub start_date: Option<NaiveDate>,
        /// Settlement date = trade date + this many business days.
        pub settlement_lag_days: u32,
        pub pool_size: u32,
        /// Bound on connecting to the database (and on each pool acquire).
        pub connect_timeout: Duration,
        /// Seed of the random draws behind `error_rate`, so runs repeat.
        pub seed: u64,
    }

    impl Config {
        /// Defaults: a free port on 127.0.0.1, manual clock starting today, T+2, no callbacks.
        pub fn new(database_url: impl Into<String>) -> Self {
            Self {
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                database_url: database_url.into(),
                callback_url: None,
                callback_secret: None,
                day_length: None,
                start_date: None,
                settlement_lag_days: 2,
                pool_size: 5,
                connect_timeout: Duration::from_secs(5),
                seed: 1,
            }
        }
    }

    /// A running simulator: HTTP server, clock loop, callback delivery and (in automatic mode)
    /// the day clock. Stop it with [`Simulator::stop`].
    #[derive(Debug)]
    pub struct Simulator {
        addr: SocketAddr,
        shutdown: watch::Sender<bool>,
        server: JoinHandle<Result<(), std::io::Error>>,
        workers: Vec<JoinHandle<()>>,
        pool: PgPool,
    }

    impl Simulator {
        /// Connects, migrates, binds and starts every task; returns once it accepts requests.
        pub async fn start(config: Config) -> Result<Self, Error> {
            let callbacks = match (config.callback_url.as_deref(), &config.callback_secret) {
                (None, _) => None,
                (Some(_), None) => {
                    return Err(Error::Config(
                        "callbacks must be signed: give a callback secret with the callback url"
                            .to_owned(),
                    ));
                }
                (Some(url), Some(secret)) => Some(engine::Callbacks {
                    url: reqwest::Url::parse(url)
                        .map_err(|e| Error::Config(format!("callback url {url:?}: {e}")))?,
                    secret: secret.clone(),
                }),
            };
            if config.day_length.is_some_and(|length| length.is_zero()) {
                return Err(Error::Config("day length must be above zero".to_owned()));
            }
            let pool = connect(&config).await?;
            MIGRATOR.run(&pool).await?;
            let store = Store::new(pool.clone());
            let today = chrono::Utc::now().date_naive();
            let start = calendar::roll_forward(config.start_date.unwrap_or(today))
                .ok_or_else(|| Error::Config("start date is out of range".to_owned()))?;
            let business_date = store.init_clock(start).await?;
            let listener =
                tokio::net::TcpListener::bind(config.listen)
                    .await
                    .map_err(|source| Error::Bind {
                        addr: config.listen,
                        source,
                    })?;
            let addr = listener.local_addr().map_err(|source| Error::Bind {
                addr: config.listen,
                source,
            })?;
            let shared = Arc::new(Shared::new(
                store,
                config.settlement_lag_days,
                config.day_length,
                callbacks,
                config.seed,
            ));
            let (shutdown, stopped) = watch::channel(false);
            let mut workers = vec![
                tokio::spawn(engine::run_clock_loop(shared.clone(), stopped.clone())),
                tokio::spawn(engine::run_delivery_loop(shared.clone(), stopped.clone())),
            ];
            if let Some(day_length) = config.day_length {
                workers.push(tokio::spawn(engine::run_day_clock(
                    shared.clone(),
                    day_length,
                    stopped.clone(),
                )));
            }
            let mut stopped_server = stopped;
            let server = tokio::spawn(
                axum::serve(listener, api::router(shared))
                    .with_graceful_shutdown(async move {
                        let _ = stopped_server.changed().await;
                    })
                    .into_future(),
            );
            tracing::info!(%addr, %business_date, mode = if config.day_length.is_some() {
                "automatic" } else { "manual" }, "custodian simulator started");
            Ok(Self {
                addr,
                shutdown,
                server,
                workers,
                pool,
            })
        }

        pub fn addr(&self) -> SocketAddr {
            self.addr
        }

        /// `http://host:port`, without a trailing slash.
        pub fn base_url(&self) -> String {
            format!("http://{}", self.addr)
        }

        /// Stops accepting requests, lets the tasks finish their step (aborting them after a
        /// grace period: their work is in the database and resumes on the next start) and
        /// closes the pool.
        pub async fn stop(self) -> Result<(), Error> {
            let _ = self.shutdown.send(true);
            let mut served = Ok(());
            match tokio::time::timeout(STOP_GRACE, self.server).await {
                Ok(Ok(result)) => served = result.map_err(Error::Serve),
                Ok(Err(join_error)) => tracing::warn!(%join_error, "server task failed"),
                Err(_) => tracing::warn!("server did not stop in time"),
            }
            for worker in self.workers {
                let abort = worker.abort_handle();
                if tokio::time::timeout(STOP_GRACE, worker).await.is_err() {
                    abort.abort();
                }
            }
            self.pool.close().await;
            tracing::info!("custodian simulator stopped");
            served
        }
    }

    /// Runs the simulator until `shutdown` completes (the binary passes Ctrl-C/SIGTERM).
    pub async fn serve(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let simulator = Simulator::start(config).await?;
        shutdown.await;
        simulator.stop().await
    }

    /// Runs the migrations and exits.
    pub async fn migrate(database_url: &str, connect_timeout: Duration) -> Result<(), Error> {
        let mut config = Config::new(database_url);
        config.connect_timeout = connect_timeout;
        config.pool_size = 1;
        let pool = connect(&config).await?;
        MIGRATOR.run(&pool).await?;
        pool.close().await;
        Ok(())
    }

    /// Creates the database named in `database_url` if it does not exist, connecting to the
    /// server's `postgres` database as the same role (which needs CREATEDB). True if created.
    pub async fn create_database_if_missing(
        database_url: &str,
        connect_timeout: Duration,
    ) -> Result<bool, Error> {
        let options = parse_url(database_url)?;
        let name = options.get_database().unwrap_or("postgres").to_owned();
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(Error::Config(format!(
                "database name {name:?} must be lowercase letters, digits and _"
            )));
        }
        let admin = options.database("postgres");
        let mut connection = connect_once(&admin, connect_timeout).await?;
        let exists: bool =
            sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
                .bind(&name)
                .fetch_one(&mut connection)
                .await?;
        if !exists {
            sqlx::query(&format!("create database {name}"))
                .execute(&mut connection)
                .await?;
        }
        connection.close().await?;
        Ok(!exists)
    }

    fn parse_url(database_url: &str) -> Result<PgConnectOptions, Error> {
        database_url
            .parse()
            .map_err(|e| Error::Config(format!("database url is invalid: {e}")))
    }

    /// `user@host:port/database`, never the password.
    fn describe(options: &PgConnectOptions) -> String {
        format!(
            "postgres://{}@{}:{}/{}",
            options.get_username(),
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or("(default)")
        )
    }

    /// One connection with a deadline, so a wrong URL fails fast with the server's own reason
    /// (refused, bad password, no such database) instead of a pool timeout.
    async fn connect_once(
        options: &PgConnectOptions,
        timeout: Duration,
    ) -> Result<PgConnection, Error> {
        let failed = |reason: String| Error::Connect {
            target: describe(options),
            reason,
        };
        match tokio::time::timeout(timeout, PgConnection::connect_with(options)).await {
            Ok(Ok(connection)) => Ok(connection),
            // sqlx's message already includes its cause.
            Ok(Err(error)) => Err(failed(error.to_string())),
            Err(_) => Err(failed(format!("no answer within {timeout:?}"))),
        }
    }

    async fn connect(config: &Config) -> Result<PgPool, Error> {
        let options = parse_url(&config.database_url)?;
        connect_once(&options, config.connect_timeout)
            .await?
            .close()
            .await?;
        Ok(PgPoolOptions::new()
            .max_connections(config.pool_size)
            .acquire_timeout(config.connect_timeout)
            .connect_with(options)
            .await?)
    }
}

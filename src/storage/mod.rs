//! Persistence through sqlx on PostgreSQL or SQLite, with the same SQL for both.

mod blocks;
mod changes;
mod heads;
mod meetings;
mod members;
mod message_insert;
mod messages;
mod outbox;
mod reactions;
mod receipts;
mod rooms;
mod search;
mod search_setup;
mod threads;
mod uploads;
mod users;

use std::str::FromStr;
use std::time::Duration;

use crate::domain::error::AppError;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

pub use changes::Change;
pub use meetings::MeetingRow;
pub use messages::{HistoryPage, InsertOutcome, NewMessage};
pub use outbox::{ClaimedRow, NewOutboxRow, OutboxEntry};
pub use reactions::Reactor;
pub use rooms::{NewRoom, RoomListPage};
pub use search::{is_statement_timeout, RawHit, SearchRequest, SearchScope};
pub use uploads::UploadRow;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The connection pool, for whichever database was configured.
#[derive(Clone, Debug)]
pub enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// The store: every query classchat makes.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: Pool,
}

/// Runs the same code against whichever pool is in use: `$p` is bound to the
/// concrete pool, so the body is compiled once per database.
macro_rules! with_pool {
    ($store:expr, $p:ident => $body:expr) => {
        match &$store.pool {
            $crate::storage::Pool::Postgres($p) => $body,
            $crate::storage::Pool::Sqlite($p) => $body,
        }
    };
}
pub(crate) use with_pool;

impl Store {
    /// Connects to `url` (`postgres://…` or `sqlite:…`), creating a SQLite file if needed.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, sqlx::Error> {
        let pool = if url.starts_with("sqlite:") {
            if let Some(parent) = sqlite_parent_dir(url) {
                std::fs::create_dir_all(parent).map_err(sqlx::Error::Io)?;
            }
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            Pool::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(max_connections.min(8))
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_with(opts)
                    .await?,
            )
        } else {
            Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect(url)
                    .await?,
            )
        };
        Ok(Store { pool })
    }

    /// Applies pending migrations from `migrations/`.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        with_pool!(self, p => MIGRATOR.run(p).await)
    }

    /// A cheap round trip, for readiness.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        with_pool!(self, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()))
    }

    pub fn kind(&self) -> &'static str {
        match self.pool {
            Pool::Postgres(_) => "postgres",
            Pool::Sqlite(_) => "sqlite",
        }
    }

    pub async fn close(&self) {
        with_pool!(self, p => p.close().await)
    }
}

fn sqlite_parent_dir(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    std::path::Path::new(path).parent().map(|p| p.to_path_buf())
}

/// True when a database error is a unique-constraint violation.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Database errors as clients see them: the server being away is a 503 they may retry,
/// anything else a 500 (logged).
impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        // PostgreSQL SQLSTATE classes that mean "the server is not there right now":
        // 08 connection exception, 53 insufficient resources, 57 operator intervention
        // (shutdown, restart). SQLite's busy/locked are the same for a client.
        let transient_db = match &e {
            sqlx::Error::Database(d) => d.code().is_some_and(|c| {
                c.starts_with("08")
                    || c.starts_with("53")
                    || c.starts_with("57")
                    || c == "5"
                    || c == "6"
            }),
            _ => false,
        };
        match &e {
            _ if transient_db => {
                tracing::warn!(error = %e, "database unavailable");
                AppError::unavailable(
                    "database_unavailable",
                    "the database is unavailable, retry later",
                )
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_) => {
                tracing::warn!(error = %e, "database unavailable");
                AppError::unavailable(
                    "database_unavailable",
                    "the database is unavailable, retry later",
                )
            }
            _ => {
                tracing::error!(error = %e, "database error");
                AppError::internal("internal error")
            }
        }
    }
}

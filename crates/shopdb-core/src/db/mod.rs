//! Database access shared by the three supported backends.
//!
//! Everything goes through `sqlx::Any`, so one code path serves SQLite, MySQL/MariaDB and
//! PostgreSQL. The few things that differ by dialect (placeholders, DDL, how an inserted id
//! comes back) are decided here or in `schema`, never in handlers. This file holds the pool,
//! the dialects and write transactions; `value` the values bound and read, `errors` what a
//! driver error means, `url` database URLs, `stats` cached totals and planner statistics.

mod errors;
mod stats;
mod url;
mod value;

use stats::Counts;

pub use errors::{
    is_deadlock, is_disk_full, is_foreign_key_violation, is_unavailable, is_unique_violation,
    one_line,
};
use url::sqlite_path;
pub use url::{dialect_of, redact_url, redact_urls};
pub use value::{SqlValue, ValueKind, decode_column};

use std::borrow::Cow;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use sqlx::any::{AnyArguments, AnyPoolOptions, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AnyPool, AssertSqlSafe, Connection, Executor};

/// The SQL dialect behind a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    MySql,
    Postgres,
}

impl Dialect {
    /// Short lowercase name used in messages and test names.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::MySql => "mysql",
            Dialect::Postgres => "postgres",
        }
    }

    /// Rewrites `?` placeholders into `$1, $2 …` for PostgreSQL; other dialects take `?`.
    /// Our SQL never has a `?` inside a string literal, so a plain scan is enough.
    pub fn placeholders<'a>(self, sql: &'a str) -> Cow<'a, str> {
        if self != Dialect::Postgres || !sql.contains('?') {
            return Cow::Borrowed(sql);
        }
        let mut out = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for ch in sql.chars() {
            if ch == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(ch);
            }
        }
        Cow::Owned(out)
    }
}

/// Why a database could not be opened. The URL in the message never shows a password.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unsupported DATABASE_URL scheme in {url}: use sqlite://, mysql:// or postgres://")]
    UnknownScheme { url: String },
    #[error("cannot open database {url}: {reason}")]
    Unreachable { url: String, reason: String },
}

/// Batches of records worked on at once on SQLite (see `Db::batch_place`).
const BATCHES_AT_ONCE_SQLITE: usize = 2;

/// A connection pool plus the dialect it speaks.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    /// SQLite: the one connection writes use (see `begin`), with a page cache of its own;
    /// elsewhere the same pool as `pool`.
    writer: AnyPool,
    dialect: Dialect,
    display_url: String,
    /// Row counts of unfiltered lists, by query (see `cached_count`).
    counts: Arc<Counts>,
    /// SQLite: writers of this process queue here for the database's one write lock (see
    /// `begin`), in arrival order, without holding a pooled connection while they wait.
    write_gate: Arc<tokio::sync::Mutex<()>>,
    /// Requests that bring a batch of records to write take a place here before they parse
    /// it (see `batch_place`).
    batch_places: Arc<tokio::sync::Semaphore>,
    /// When the last check of the planner statistics began, and whether one is waiting or
    /// running (see `refresh_statistics_soon`).
    statistics: Arc<Mutex<(Option<Instant>, bool)>>,
    /// SQLite: when `refresh_statistics` last changed the planner statistics. A connection
    /// reads them when it opens, so pooled connections older than this are closed when next
    /// taken from the pool and a fresh one opened in their place.
    statistics_changed: Arc<Mutex<Option<Instant>>>,
}

/// A write transaction: a `sqlx` transaction plus, on SQLite, this process's turn at the
/// write lock, held until it ends. Reads and writes go through it as a connection.
pub struct WriteTx {
    tx: sqlx::Transaction<'static, Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

/// Above this many bound values a statement is prepared for one use (see `query_with`).
const MANY_VALUES: usize = 32;

/// Connections in a SQLite pool for reading; writes have one more of their own.
pub const SQLITE_CONNECTIONS: u32 = 3;

/// SQLite page cache, in KiB, of each reading connection and of the writing one. A writer
/// goes through the upper pages of every index it changes (assets, computers, the search
/// entries and their trigram index, the audit log) on every batch: kept in one warm cache
/// they are not read again, while readers do with a small cache (the kernel caches the
/// file's pages anyway; each connection's cache is memory of the server's own).
const SQLITE_READER_CACHE_KIB: u32 = 1024;
const SQLITE_WRITER_CACHE_KIB: u32 = 2048;

/// How long an unfiltered list total is taken as current. Writes through this process clear
/// it at once; writes by another process show within about this time.
pub const COUNT_TTL: Duration = Duration::from_secs(2);

/// How often `keep_statistics` checks whether the planner statistics (SQLite, PostgreSQL)
/// are out of date.
pub const STATISTICS_EVERY: Duration = Duration::from_secs(60);

/// The least time between two checks of the planner statistics set off by writes (see
/// `refresh_statistics_soon`).
pub const STATISTICS_SOON: Duration = Duration::from_secs(2);

/// How often a running server copies SQLite's write-ahead log into the database file (see
/// `keep_checkpointing`).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// SQLite: the size of the write-ahead log, in pages, past which the write that grows it
/// copies it into the database file itself (SQLite's default is 1,000, 4 MB). A server
/// copies it in the background long before (`keep_checkpointing`); commands that run
/// alone (an import) copy it every 32 MB instead of every 4.
const WAL_CHECKPOINT_PAGES: u32 = 8000;

/// ` LIMIT n OFFSET ?`: the page size written into the SQL, the offset left as a parameter.
/// SQLite plans a query with a bound LIMIT around the value bound, so it prepares such a
/// statement again on every execution; a literal LIMIT (a checked integer, one of a few page
/// sizes) keeps the cached statement. Bind the offset where the `?` stands.
pub fn limit_offset(limit: i64) -> String {
    format!(" LIMIT {limit} OFFSET ?")
}

impl Db {
    /// Opens a pool for `url`. For SQLite the file and its folder are created on first use,
    /// and WAL, foreign keys and a busy timeout are set on every connection.
    pub async fn connect(url: &str) -> Result<Db, ConnectError> {
        sqlx::any::install_default_drivers();
        let display_url = redact_url(url);
        let dialect = dialect_of(url).ok_or_else(|| ConnectError::UnknownScheme {
            url: display_url.clone(),
        })?;
        let unreachable = |reason: String| ConnectError::Unreachable {
            url: display_url.clone(),
            reason,
        };
        let (connect_url, max) = match dialect {
            Dialect::Sqlite => {
                let path = sqlite_path(url);
                if path.is_empty() {
                    return Err(unreachable("the URL names no file".into()));
                }
                if path != ":memory:"
                    && let Some(parent) = Path::new(path).parent()
                    && !parent.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        unreachable(format!("cannot create {}: {e}", parent.display()))
                    })?;
                }
                // Writers take turns anyway (one write lock, one writing connection); three
                // reading connections keep both CPUs busy, and each costs a thread and a page
                // cache of memory.
                (format!("sqlite://{path}?mode=rwc"), SQLITE_CONNECTIONS)
            }
            Dialect::MySql => (url.replacen("mariadb://", "mysql://", 1), 10),
            Dialect::Postgres => (url.to_string(), 10),
        };
        if dialect != Dialect::Sqlite {
            // One direct attempt first: a pool only reports "timed out", this gives the reason.
            let attempt = tokio::time::timeout(
                Duration::from_secs(10),
                AnyConnection::connect(&connect_url),
            )
            .await;
            match attempt {
                Err(_) => return Err(unreachable("no answer within 10 seconds".into())),
                Ok(Err(e)) => return Err(unreachable(one_line(&e.to_string()))),
                Ok(Ok(conn)) => {
                    let _ = conn.close().await;
                }
            }
        }
        let statistics_changed: Arc<Mutex<Option<Instant>>> = Default::default();
        let options = |max: u32, cache_kib: u32| {
            let changed = statistics_changed.clone();
            AnyPoolOptions::new()
                .max_connections(max)
                .min_connections(0)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(move |conn, _| -> BoxFuture<'_, Result<(), sqlx::Error>> {
                    Box::pin(async move { prepare_connection(conn, dialect, cache_kib).await })
                })
                .before_acquire(move |_, meta| -> BoxFuture<'_, Result<bool, sqlx::Error>> {
                    // Keep the connection unless it opened before the statistics last changed.
                    let opened_before = changed
                        .lock()
                        .ok()
                        .and_then(|at| *at)
                        .is_some_and(|at| meta.age > at.elapsed());
                    Box::pin(async move { Ok(!opened_before) })
                })
        };
        let pool = options(max, SQLITE_READER_CACHE_KIB)
            .connect(&connect_url)
            .await
            .map_err(|e| unreachable(one_line(&e.to_string())))?;
        // An in-memory SQLite database is one per connection: it cannot have a writer apart.
        let writer = if dialect == Dialect::Sqlite && sqlite_path(url) != ":memory:" {
            options(1, SQLITE_WRITER_CACHE_KIB)
                .connect(&connect_url)
                .await
                .map_err(|e| unreachable(one_line(&e.to_string())))?
        } else {
            pool.clone()
        };
        if dialect == Dialect::Sqlite {
            // WAL is a property of the file: set once, it sticks for every later connection.
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await
                .map_err(|e| unreachable(one_line(&e.to_string())))?;
        }
        Ok(Db {
            pool,
            writer,
            dialect,
            display_url,
            counts: Default::default(),
            write_gate: Default::default(),
            batch_places: Arc::new(tokio::sync::Semaphore::new(match dialect {
                Dialect::Sqlite => BATCHES_AT_ONCE_SQLITE,
                Dialect::MySql | Dialect::Postgres => max as usize,
            })),
            statistics: Default::default(),
            statistics_changed,
        })
    }

    /// Waits for a place to work on a batch of records (a collector push) and holds it until
    /// dropped. Batches beyond the places wait as the bytes they arrived as: parsed, a batch
    /// takes several times its size, and sixteen parsed batches queued for SQLite's one
    /// writer were a fifth of the server's memory. SQLite has two places, one batch writing
    /// while the next is parsed and checked; the other databases write batches side by
    /// side, one per pooled connection.
    pub async fn batch_place(&self) -> tokio::sync::OwnedSemaphorePermit {
        self.batch_places
            .clone()
            .acquire_owned()
            .await
            .expect("the batch semaphore is never closed")
    }

    /// SQLite: copies the write-ahead log into the database file every `CHECKPOINT_EVERY`,
    /// for as long as the server runs, so that writers rarely do it themselves. Left to
    /// SQLite, the write that pushes the log past its threshold copies it and waits for the
    /// disk before it answers, which on a busy site is every few collector batches; here a
    /// passive checkpoint does the same work beside them (it waits for no one and stops at
    /// pages a reader still needs, taking them next time). Writers still checkpoint
    /// themselves once the log passes `WAL_CHECKPOINT_PAGES`, should this fall behind.
    pub async fn keep_checkpointing(self) {
        if self.dialect != Dialect::Sqlite {
            return;
        }
        let mut every = tokio::time::interval(CHECKPOINT_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&self.pool)
                .await
            {
                tracing::warn!(error = %e, "copying SQLite's write-ahead log failed");
            }
        }
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The URL this pool was opened with, password hidden.
    pub fn display_url(&self) -> &str {
        &self.display_url
    }

    /// Builds a query in this dialect from SQL written with `?` placeholders.
    pub fn query(&self, sql: &str) -> Query<'static, Any, AnyArguments> {
        sqlx::query(AssertSqlSafe(self.dialect.placeholders(sql).into_owned()))
    }

    /// Builds a query and binds `values` in order. A statement with many values (an `IN`
    /// list or a many-row insert, whose text changes with the number of rows) is not kept
    /// prepared: each connection keeps up to 100 statements, and hundreds of such variants,
    /// each a large program, would hold tens of megabytes.
    pub fn query_with(&self, sql: &str, values: &[SqlValue]) -> Query<'static, Any, AnyArguments> {
        self.query_batch(sql, values, false)
    }

    /// `query_with` for a statement of many rows; `full`: one of a batch's full size, whose
    /// text comes back for every full batch of the work, so it is kept prepared whatever its
    /// number of values (only the shorter last batch is prepared for one use).
    pub fn query_batch(
        &self,
        sql: &str,
        values: &[SqlValue],
        full: bool,
    ) -> Query<'static, Any, AnyArguments> {
        let query = values.iter().fold(self.query(sql), |q, v| v.bind(q));
        if values.len() > MANY_VALUES && !full {
            query.persistent(false)
        } else {
            query
        }
    }

    /// Begins a write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`): a transaction that read first and wrote later would instead fail with
    /// "database is locked" whenever another connection had committed in between. Writers of
    /// this process first wait their turn in a queue, holding no connection: SQLite itself
    /// would let them poll for the lock with growing sleeps (up to 100 ms each), and each
    /// waiter would keep a pooled connection from the readers. Another process's writer is
    /// still waited for through the busy timeout.
    pub async fn begin(&self) -> Result<WriteTx, sqlx::Error> {
        match self.dialect {
            Dialect::Sqlite => {
                let turn = self.write_gate.clone().lock_owned().await;
                let tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
                Ok(WriteTx {
                    tx,
                    _turn: Some(turn),
                })
            }
            Dialect::MySql | Dialect::Postgres => Ok(WriteTx {
                tx: self.pool.begin().await?,
                _turn: None,
            }),
        }
    }

    /// Runs one writing statement on its own (no transaction around it) and returns the rows
    /// it changed. On SQLite it waits for this process's turn at the write lock like `begin`:
    /// a write that went straight to the pool instead waited for the lock in SQLite's busy
    /// handler, polling while the queued writers took it in turn, and a collector's request
    /// that recorded its token's use that way once took over a second.
    pub async fn execute_write(&self, sql: &str, values: &[SqlValue]) -> Result<u64, sqlx::Error> {
        let _turn = match self.dialect {
            Dialect::Sqlite => Some(self.write_gate.lock().await),
            Dialect::MySql | Dialect::Postgres => None,
        };
        Ok(self
            .query_with(sql, values)
            .execute(&self.writer)
            .await?
            .rows_affected())
    }

    /// Runs an INSERT and returns the new row's generated id (`id_column`): through
    /// RETURNING where the dialect has it, else through MySQL's LAST_INSERT_ID.
    pub async fn insert_returning_id(
        &self,
        conn: &mut AnyConnection,
        sql: &str,
        values: &[SqlValue],
        id_column: &str,
    ) -> Result<i64, sqlx::Error> {
        use sqlx::Row;
        match self.dialect {
            Dialect::Postgres | Dialect::Sqlite => {
                let row: AnyRow = self
                    .query_with(&format!("{sql} RETURNING {id_column}"), values)
                    .fetch_one(&mut *conn)
                    .await?;
                row.try_get::<i64, _>(0)
            }
            Dialect::MySql => {
                let done = self.query_with(sql, values).execute(&mut *conn).await?;
                done.last_insert_id()
                    .ok_or_else(|| sqlx::Error::Protocol("database returned no inserted id".into()))
            }
        }
    }

    /// Closes every connection in the pool.
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// Settings of every new connection; `cache_kib`: SQLite's page cache for it.
async fn prepare_connection(
    conn: &mut AnyConnection,
    dialect: Dialect,
    cache_kib: u32,
) -> Result<(), sqlx::Error> {
    match dialect {
        Dialect::Sqlite => {
            for pragma in [
                "PRAGMA foreign_keys = ON",
                "PRAGMA busy_timeout = 10000",
                "PRAGMA synchronous = NORMAL",
            ] {
                conn.execute(pragma).await?;
            }
            conn.execute(AssertSqlSafe(format!("PRAGMA cache_size = -{cache_kib}")))
                .await?;
            conn.execute(AssertSqlSafe(format!(
                "PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}"
            )))
            .await?;
        }
        Dialect::MySql => {
            // Strict mode turns silent truncation into an error; ANSI quotes stay off.
            conn.execute(
                "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ENGINE_SUBSTITUTION'",
            )
            .await?;
            // InnoDB's default (REPEATABLE READ) locks the gaps between index entries, so two
            // writers that each look for a row that is not there yet (a new record's search
            // entry) and then insert it deadlock. Every check ShopDB relies on (unique
            // indexes, versions compared in the UPDATE itself) holds under READ COMMITTED.
            conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                .await?;
        }
        Dialect::Postgres => {
            // Keep "already exists, skipping" notices of idempotent DDL out of the logs.
            conn.execute("SET client_min_messages = warning").await?;
        }
    }
    Ok(())
}

/// A LIKE pattern (with `!` as the escape character) that finds `q` anywhere in lowercased
/// text: `%` and `_` in `q` match themselves.
pub fn like_pattern(q: &str) -> String {
    let escaped = q
        .to_lowercase()
        .replace('!', "!!")
        .replace('%', "!%")
        .replace('_', "!_");
    format!("%{escaped}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_placeholders_are_numbered() {
        assert_eq!(
            Dialect::Postgres.placeholders("a = ? AND b = ?"),
            "a = $1 AND b = $2"
        );
        assert_eq!(Dialect::MySql.placeholders("a = ?"), "a = ?");
    }
}

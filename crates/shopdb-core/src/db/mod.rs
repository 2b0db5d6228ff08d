//! Database access shared by the three supported backends.
//!
//! Everything goes through `sqlx::Any`, so one code path serves SQLite, MySQL/MariaDB and
//! PostgreSQL. The few things that differ by dialect (placeholders, DDL, how an inserted id
//! comes back) are decided here or in `schema`, never in handlers.

mod value;

pub use value::{SqlValue, ValueKind, decode_column};

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// A connection pool plus the dialect it speaks.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    dialect: Dialect,
    display_url: String,
    /// Row counts of unfiltered lists, by query (see `cached_count`).
    counts: Arc<Counts>,
    /// SQLite: writers of this process queue here for the database's one write lock (see
    /// `begin`), in arrival order, without holding a pooled connection while they wait.
    write_gate: Arc<tokio::sync::Mutex<()>>,
    /// When the planner statistics were last checked, and whether a check is running (see
    /// `refresh_statistics_soon`).
    statistics: Arc<Mutex<(Option<Instant>, bool)>>,
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

/// Cached list totals and a generation bumped by every write, so that a count begun before
/// a write is not stored after it.
#[derive(Default)]
struct Counts {
    by_query: Mutex<HashMap<String, (Instant, i64)>>,
    generation: AtomicU64,
}

/// Above this many bound values a statement is prepared for one use (see `query_with`).
const MANY_VALUES: usize = 32;

/// Connections in a SQLite pool.
pub const SQLITE_CONNECTIONS: u32 = 4;

/// How long an unfiltered list total is taken as current. Writes through this process clear
/// it at once; writes by another process show within about this time.
pub const COUNT_TTL: Duration = Duration::from_secs(2);

/// How often `keep_statistics` lets SQLite check whether its planner statistics are out of date.
pub const STATISTICS_EVERY: Duration = Duration::from_secs(60);

/// ` LIMIT n OFFSET ?`: the page size written into the SQL, the offset left as a parameter.
/// SQLite plans a query with a bound LIMIT around the value bound, so it prepares such a
/// statement again on every execution; a literal LIMIT (a checked integer, one of a few page
/// sizes) keeps the cached statement. Bind the offset where the `?` stands.
pub fn limit_offset(limit: i64) -> String {
    format!(" LIMIT {limit} OFFSET ?")
}

/// The dialect named by a URL's scheme, if it is one we support.
pub fn dialect_of(url: &str) -> Option<Dialect> {
    let scheme = url.split(':').next().unwrap_or_default();
    match scheme {
        "sqlite" => Some(Dialect::Sqlite),
        "mysql" | "mariadb" => Some(Dialect::MySql),
        "postgres" | "postgresql" => Some(Dialect::Postgres),
        _ => None,
    }
}

/// The URL with any password replaced by `***`, safe for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_string(),
        // Not a URL at all: show only what precedes an '@', which is where credentials sit.
        Err(_) => match url.rsplit_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => url.to_string(),
        },
    }
}

/// `text` with the password of every URL in it replaced by `***` (an error message that
/// quotes a connection string, say).
pub fn redact_urls(text: &str) -> String {
    if !text.contains("://") {
        return text.to_string();
    }
    text.split(' ')
        .map(|word| {
            let url = word.trim_matches(|c: char| "\"'`()[]<>,;".contains(c));
            if url.contains("://") && url.contains('@') {
                word.replace(url, &redact_url(url))
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn sqlite_path(url: &str) -> &str {
    let rest = url.trim_start_matches("sqlite:");
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    rest.split('?').next().unwrap_or(rest)
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
                // Writers take turns anyway (one write lock); four connections keep both CPUs
                // busy with readers, and each costs a thread and a page cache of memory.
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
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| -> BoxFuture<'_, Result<(), sqlx::Error>> {
                Box::pin(async move { prepare_connection(conn, dialect).await })
            })
            .connect(&connect_url)
            .await
            .map_err(|e| unreachable(one_line(&e.to_string())))?;
        if dialect == Dialect::Sqlite {
            // WAL is a property of the file: set once, it sticks for every later connection.
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await
                .map_err(|e| unreachable(one_line(&e.to_string())))?;
        }
        Ok(Db {
            pool,
            dialect,
            display_url,
            counts: Default::default(),
            write_gate: Default::default(),
            statistics: Default::default(),
        })
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
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
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

    /// A COUNT query's answer, reused (counting 100,000 rows on every page of a list costs
    /// more than the page itself). Within `COUNT_TTL` the cached answer is used as is; after
    /// it, the cached answer is still given while one background task counts again, so no
    /// request waits for the recount. Only the first request (or the first after a write by
    /// this process) counts while it waits.
    pub async fn cached_count(
        &self,
        conn: &mut AnyConnection,
        sql: &str,
    ) -> Result<i64, sqlx::Error> {
        let generation = self.counts.generation.load(Ordering::Acquire);
        let mut recount = false;
        let cached = self.counts.by_query.lock().ok().and_then(|mut counts| {
            let entry = counts.get_mut(sql)?;
            if entry.0.elapsed() >= COUNT_TTL {
                // Claim the recount: the entry looks fresh to everyone else until it is done.
                entry.0 = Instant::now();
                recount = true;
            }
            Some(entry.1)
        });
        if let Some(n) = cached {
            if recount {
                let db = self.clone();
                let sql = sql.to_string();
                tokio::spawn(async move {
                    let counted = match db.pool.acquire().await {
                        Ok(mut conn) => db.count_now(&mut conn, &sql).await,
                        Err(e) => Err(e),
                    };
                    match counted {
                        Ok(n) => db.store_count(&sql, n, generation),
                        Err(e) => {
                            tracing::warn!(error = %e, "recounting a list total failed");
                            // The next request counts itself, and reports the error if any.
                            if let Ok(mut counts) = db.counts.by_query.lock() {
                                counts.remove(&sql);
                            }
                        }
                    }
                });
            }
            return Ok(n);
        }
        let n = self.count_now(conn, sql).await?;
        self.store_count(sql, n, generation);
        Ok(n)
    }

    async fn count_now(&self, conn: &mut AnyConnection, sql: &str) -> Result<i64, sqlx::Error> {
        use sqlx::Row;
        self.query(sql).fetch_one(&mut *conn).await?.try_get(0)
    }

    /// Stores a count unless a write happened since it was begun (`generation`).
    fn store_count(&self, sql: &str, n: i64, generation: u64) {
        if let Ok(mut counts) = self.counts.by_query.lock()
            && self.counts.generation.load(Ordering::Acquire) == generation
        {
            counts.insert(sql.to_string(), (Instant::now(), n));
        }
    }

    /// Forgets cached counts after a write.
    pub fn forget_counts(&self) {
        if let Ok(mut counts) = self.counts.by_query.lock() {
            self.counts.generation.fetch_add(1, Ordering::AcqRel);
            counts.clear();
        }
    }

    /// Lets SQLite refresh the statistics its query planner uses: tables never analyzed, or
    /// grown or shrunk tenfold since, are analyzed again (what `PRAGMA optimize` picks),
    /// sampling at most 1,000 rows per index so it takes milliseconds. Without them SQLite
    /// guesses table sizes, and a list a plugin extends (500 computers among 100,000 assets)
    /// walks every asset. Returns the ANALYZE statements run when they changed the
    /// statistics (empty when nothing changed). MySQL/MariaDB and PostgreSQL keep
    /// their own statistics: nothing to do there.
    pub async fn refresh_statistics(&self) -> Result<Vec<String>, sqlx::Error> {
        use sqlx::Row;
        if self.dialect != Dialect::Sqlite {
            return Ok(Vec::new());
        }
        let mut conn = self.pool.acquire().await?;
        // In its checking mode (0x1) `optimize` only lists the ANALYZE statements it would run.
        let todo: Vec<String> = sqlx::query("PRAGMA optimize = 0x10003")
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        if todo.is_empty() {
            return Ok(todo);
        }
        let before = sqlite_statistics(&mut conn).await?;
        // ANALYZE writes its statistics: wait for this process's writers like a writer.
        let _turn = self.write_gate.lock().await;
        // The limit (for this connection) also keeps ANALYZE from taking per-value samples
        // (sqlite_stat4), which would make SQLite re-plan list queries on every execution.
        conn.execute("PRAGMA analysis_limit = 1000").await?;
        for analyze in &todo {
            if !analyze.starts_with("ANALYZE ") {
                continue;
            }
            conn.execute(AssertSqlSafe(analyze.clone())).await?;
        }
        // Empty tables without indexes are proposed every time and give no statistics.
        if sqlite_statistics(&mut conn).await? == before {
            return Ok(Vec::new());
        }
        // Other connections read statistics only when they load the schema. A change to
        // the schema (a table made and dropped) makes each reload it, and re-plan its
        // cached statements, on its next query.
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        tx.execute("CREATE TABLE shopdb_replan (x INTEGER)").await?;
        tx.execute("DROP TABLE shopdb_replan").await?;
        tx.commit().await?;
        Ok(todo)
    }

    /// Runs `refresh_statistics` in the background unless a check is running or one ran in
    /// the last ten seconds (after a write that may have grown a table a lot, such as a
    /// collector's first push: many such writes in a row need one check, not one each).
    pub fn refresh_statistics_soon(&self) {
        if self.dialect != Dialect::Sqlite {
            return;
        }
        {
            let Ok(mut state) = self.statistics.lock() else {
                return;
            };
            let recent = state
                .0
                .is_some_and(|at| at.elapsed() < Duration::from_secs(10));
            if state.1 || recent {
                return;
            }
            *state = (Some(Instant::now()), true);
        }
        let db = self.clone();
        tokio::spawn(async move {
            if let Err(e) = db.refresh_statistics().await {
                tracing::warn!(error = %e, "refreshing SQLite planner statistics failed");
            }
            if let Ok(mut state) = db.statistics.lock() {
                *state = (Some(Instant::now()), false);
            }
        });
    }

    /// Runs `refresh_statistics` now and then every `STATISTICS_EVERY`, for as long as the
    /// server runs; failures are logged, not fatal.
    pub async fn keep_statistics(self) {
        let mut every = tokio::time::interval(STATISTICS_EVERY);
        loop {
            every.tick().await;
            if let Err(e) = self.refresh_statistics().await {
                tracing::warn!(error = %e, "refreshing SQLite planner statistics failed");
            }
        }
    }

    /// Closes every connection in the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The content of SQLite's `sqlite_stat1`, as one text (empty before the first ANALYZE).
async fn sqlite_statistics(conn: &mut AnyConnection) -> Result<String, sqlx::Error> {
    use sqlx::Row;
    let exists: i64 = sqlx::query("SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    if exists == 0 {
        return Ok(String::new());
    }
    sqlx::query(
        "SELECT COALESCE(group_concat(tbl || ' ' || COALESCE(idx, '') || ' ' || stat, char(10)), '') \
         FROM (SELECT * FROM sqlite_stat1 ORDER BY tbl, idx)",
    )
    .fetch_one(&mut *conn)
    .await?
    .try_get(0)
}

async fn prepare_connection(conn: &mut AnyConnection, dialect: Dialect) -> Result<(), sqlx::Error> {
    match dialect {
        Dialect::Sqlite => {
            for pragma in [
                "PRAGMA foreign_keys = ON",
                "PRAGMA busy_timeout = 10000",
                "PRAGMA synchronous = NORMAL",
            ] {
                conn.execute(pragma).await?;
            }
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

/// Collapses a multi-line driver message into one line.
pub fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// True when a database error is a unique-constraint violation.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                || db
                    .code()
                    .is_some_and(|c| c == "23505" || c == "1062" || c == "2067" || c == "1555")
        }
        _ => false,
    }
}

/// True when the database undid a transaction to break a deadlock (or a serialization
/// conflict), or MariaDB gave up waiting for a row lock (1205, which undoes only the
/// statement): running the whole transaction again is the remedy.
pub fn is_deadlock(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c == "40001" || c == "40P01" || c == "1213" || c == "1205"),
        _ => false,
    }
}

/// True when the database could not write for want of disk space: SQLite's `SQLITE_FULL`
/// (13), MariaDB's "table is full" / "disk full" (1114, 1021), PostgreSQL's `disk_full` (53100).
pub fn is_disk_full(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c == "13" || c == "1114" || c == "1021" || c == "53100"),
        _ => false,
    }
}

/// True when the database server is not there to answer: no connection could be made or
/// kept (it is down or restarting), or it is shutting down or starting up (PostgreSQL's
/// 57P01–57P03). Nothing was written; the same request may work seconds later.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c == "57P01" || c == "57P02" || c == "57P03" || c == "1053"),
        _ => false,
    }
}

/// True when a database error is a foreign-key violation.
pub fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_foreign_key_violation()
                || db
                    .code()
                    .is_some_and(|c| c == "23503" || c == "1451" || c == "1452" || c == "787")
        }
        _ => false,
    }
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
    fn passwords_in_messages_are_hidden() {
        assert_eq!(
            redact_urls("cannot reach 'postgres://shop:hunter2@db:5432/shopdb': refused"),
            "cannot reach 'postgres://shop:***@db:5432/shopdb': refused"
        );
        assert_eq!(redact_urls("no URL here"), "no URL here");
    }

    #[test]
    fn postgres_placeholders_are_numbered() {
        assert_eq!(
            Dialect::Postgres.placeholders("a = ? AND b = ?"),
            "a = $1 AND b = $2"
        );
        assert_eq!(Dialect::MySql.placeholders("a = ?"), "a = ?");
    }

    #[test]
    fn passwords_never_show_in_urls() {
        assert_eq!(
            redact_url("mysql://root:hunter2@db:3306/shopdb"),
            "mysql://root:***@db:3306/shopdb"
        );
        assert_eq!(
            redact_url("sqlite://data/x.sqlite"),
            "sqlite://data/x.sqlite"
        );
    }

    #[test]
    fn sqlite_paths_are_read_from_urls() {
        assert_eq!(
            sqlite_path("sqlite://data/shopdb.sqlite"),
            "data/shopdb.sqlite"
        );
        assert_eq!(
            sqlite_path("sqlite:///var/lib/x.db?mode=rwc"),
            "/var/lib/x.db"
        );
        assert_eq!(sqlite_path("sqlite:x.db"), "x.db");
    }
}

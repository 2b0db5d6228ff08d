//! Work the database does not need done twice: list totals cached for a moment (with a
//! generation so a count begun before a write is not kept after it), and the planner
//! statistics of SQLite and PostgreSQL kept current.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::{AnyConnection, AssertSqlSafe, Executor};

use super::{COUNT_TTL, Db, Dialect, STATISTICS_EVERY, STATISTICS_SOON};

/// Cached list totals and a generation bumped by every write, so that a count begun before
/// a write is not stored after it.
#[derive(Default)]
pub(super) struct Counts {
    by_query: Mutex<HashMap<String, (Instant, i64)>>,
    generation: AtomicU64,
}

impl Db {
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
    /// statistics (empty when nothing changed).
    ///
    /// PostgreSQL: tables never analyzed, or changed by more than a fifth since, are
    /// analyzed now rather than when autovacuum comes round. Besides better estimates this
    /// makes every connection plan its cached statements on those tables again: a plan
    /// PostgreSQL settled on while the computers table was nearly empty (a sequential scan
    /// for "is this host name taken") was otherwise kept while collectors filled it, and
    /// creating PCs fell from 2,900 to 280 records/s before autovacuum had analyzed
    /// anything. MySQL/MariaDB plan every execution afresh and update their statistics as
    /// tables change: nothing to do there.
    pub async fn refresh_statistics(&self) -> Result<Vec<String>, sqlx::Error> {
        use sqlx::Row;
        match self.dialect {
            Dialect::Sqlite => {}
            Dialect::Postgres => return self.refresh_postgres_statistics().await,
            Dialect::MySql => return Ok(Vec::new()),
        }
        // Even in its checking mode `optimize` takes the write lock when it looks at two
        // tables or more: it waits for this process's writers like a writer. Outside the
        // turn it polled for the lock in SQLite's busy handler for seconds while collectors
        // wrote, and held up the writer that found the lock taken.
        let _turn = self.write_gate.lock().await;
        let mut conn = self.writer.acquire().await?;
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
        // Other connections read statistics only when they open (or load the schema again):
        // those opened before now are replaced when next taken from the pool (`connect`).
        // Changing the schema to make them reload it (a table made and dropped) did the same
        // without reopening, but a statement running on another connection at that moment
        // could fail to find a table while its connection reloaded.
        if let Ok(mut changed) = self.statistics_changed.lock() {
            *changed = Some(Instant::now());
        }
        Ok(todo)
    }

    /// PostgreSQL's part of `refresh_statistics`: the ANALYZE statements run.
    async fn refresh_postgres_statistics(&self) -> Result<Vec<String>, sqlx::Error> {
        use sqlx::Row;
        let tables: Vec<String> = sqlx::query(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(relname) FROM pg_stat_user_tables \
             WHERE n_live_tup + n_mod_since_analyze > 0 \
             AND ((last_analyze IS NULL AND last_autoanalyze IS NULL) \
                  OR n_mod_since_analyze > GREATEST(n_live_tup, 1000) / 5)",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
        let mut done = Vec::with_capacity(tables.len());
        for table in tables {
            let analyze = format!("ANALYZE {table}");
            sqlx::query(AssertSqlSafe(analyze.clone()))
                .execute(&self.pool)
                .await?;
            done.push(analyze);
        }
        Ok(done)
    }

    /// Runs `refresh_statistics` in the background: at once when the last check began
    /// `STATISTICS_SOON` ago or more, else when that much time has passed since it (after a
    /// write that may have grown a table a lot, such as a collector push that created
    /// records: many such writes in a row need one check, not one each, but the last of them
    /// must be followed by one). A check already waiting or running covers the call.
    ///
    /// Without the check at the end, a table filled by a burst of pushes kept the statistics
    /// of the burst's first push until the periodic check: the 50,000 PCs of the benchmark
    /// took 7 s to create, and for up to a minute after, SQLite planned with a computers
    /// table of 500 rows (a batch of 100 changed PCs: 18.5 ms instead of 14.0). A check
    /// takes the write turn for a few milliseconds; every two seconds during a burst keeps
    /// the statistics within a few thousand rows of the table.
    pub fn refresh_statistics_soon(&self) {
        if self.dialect == Dialect::MySql {
            return;
        }
        let wait = {
            let Ok(mut state) = self.statistics.lock() else {
                return;
            };
            if state.1 {
                return;
            }
            state.1 = true;
            state.0.map_or(Duration::ZERO, |at| {
                STATISTICS_SOON.saturating_sub(at.elapsed())
            })
        };
        let db = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            if let Ok(mut state) = db.statistics.lock() {
                state.0 = Some(Instant::now());
            }
            if let Err(e) = db.refresh_statistics().await {
                tracing::warn!(error = %e, "refreshing planner statistics failed");
            }
            if let Ok(mut state) = db.statistics.lock() {
                state.1 = false;
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

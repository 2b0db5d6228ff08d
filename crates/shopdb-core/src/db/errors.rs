//! What a database error means for the caller: a unique or foreign-key violation, a
//! deadlock worth a retry, a full disk, a server that is not there; and the driver's message
//! on one line.

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

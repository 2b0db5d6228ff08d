//! Database URLs: the dialect a URL names, the SQLite file it points at, and the same URL
//! (or any text quoting one) with its password hidden.

use super::Dialect;

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

pub(super) fn sqlite_path(url: &str) -> &str {
    let rest = url.trim_start_matches("sqlite:");
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    rest.split('?').next().unwrap_or(rest)
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

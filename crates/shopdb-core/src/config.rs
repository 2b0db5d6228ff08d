//! Configuration from the environment (and a `.env` file, loaded by the binary).

use std::fmt;

use crate::db::{dialect_of, redact_url};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/shopdb.sqlite";

/// Variables ShopDB reads; anything else starting with `SHOPDB_` is reported as unknown.
pub const KNOWN_VARIABLES: &[&str] = &[
    "DATABASE_URL",
    "SECRET_KEY",
    "SHOPDB_ENV",
    "CORS_ORIGINS",
    "COOKIE_SECURE",
    "SHOPDB_BIND",
    "SHOPDB_LOG",
    "SHOPDB_SESSION_HOURS",
    "SHOPDB_PLUGIN_DIR",
];

/// Where folder plugins live unless `SHOPDB_PLUGIN_DIR` says otherwise.
pub const DEFAULT_PLUGIN_DIR: &str = "plugins.d";

/// A secret whose `Debug` and `Display` never show the value.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Clone, Debug)]
pub struct Config {
    /// Where the data lives; see `DATABASE_URL`.
    pub database_url: String,
    /// Signs login tokens. Empty in development means "use a key kept in the database".
    pub secret_key: Secret,
    pub environment: Environment,
    /// Origins allowed to call the API from a browser; empty = same origin only.
    pub cors_origins: Vec<String>,
    /// Whether the login cookie carries `Secure`.
    pub cookie_secure: bool,
    /// How long a login lasts.
    pub session_hours: i64,
    /// Folder plugins, one folder each (`SHOPDB_PLUGIN_DIR`, default `./plugins.d`).
    pub plugin_dir: std::path::PathBuf,
}

impl Config {
    /// A development configuration for `database_url`, used by tests and tools.
    pub fn for_database(database_url: &str) -> Config {
        Config {
            database_url: database_url.to_string(),
            secret_key: Secret::new("test-secret-key-test-secret-key-0123456789"),
            environment: Environment::Development,
            cors_origins: Vec::new(),
            cookie_secure: false,
            session_hours: 12,
            plugin_dir: DEFAULT_PLUGIN_DIR.into(),
        }
    }

    /// Reads the configuration through `var` (the process environment in production) and
    /// returns it with every problem found. In production any problem is fatal.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> (Config, Vec<String>) {
        let mut problems = Vec::new();
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };

        let environment = match get("SHOPDB_ENV").as_deref() {
            None | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some(other) => {
                problems.push(format!(
                    "SHOPDB_ENV is '{other}': use development or production"
                ));
                Environment::Development
            }
        };
        let production = environment == Environment::Production;

        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
        if dialect_of(&database_url).is_none() {
            problems.push(format!(
                "DATABASE_URL {} has an unsupported scheme: use sqlite://, mysql:// or postgres://",
                redact_url(&database_url)
            ));
        }

        let secret_key = Secret::new(get("SECRET_KEY").unwrap_or_default());
        if production && secret_key.is_empty() {
            problems.push(
                "SECRET_KEY is missing: set at least 32 random bytes (e.g. `openssl rand -hex 32`)"
                    .into(),
            );
        } else if production && secret_key.expose().len() < 32 {
            problems.push(format!(
                "SECRET_KEY is {} bytes long: production needs at least 32",
                secret_key.expose().len()
            ));
        }

        let cors_origins: Vec<String> = get("CORS_ORIGINS")
            .unwrap_or_default()
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_string())
            .filter(|o| !o.is_empty())
            .collect();
        if cors_origins.iter().any(|o| o == "*") {
            if production {
                problems
                    .push("CORS_ORIGINS contains '*': list the allowed origins explicitly".into());
            } else {
                problems.push(
                    "CORS_ORIGINS contains '*', which is never honoured: list origins explicitly"
                        .into(),
                );
            }
        }
        for origin in cors_origins.iter().filter(|o| *o != "*") {
            if !(origin.starts_with("http://") || origin.starts_with("https://")) {
                problems.push(format!(
                    "CORS_ORIGINS entry '{origin}' is not an origin like https://host:port"
                ));
            }
        }

        let cookie_secure = match get("COOKIE_SECURE").as_deref() {
            None => production,
            Some("true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(other) => {
                problems.push(format!("COOKIE_SECURE is '{other}': use true or false"));
                production
            }
        };
        if production && !cookie_secure {
            problems.push(
                "COOKIE_SECURE is false: production cookies must be Secure (serve over TLS)".into(),
            );
        }

        let session_hours = match get("SHOPDB_SESSION_HOURS") {
            None => 12,
            Some(v) => match v.parse::<i64>() {
                Ok(h) if (1..=24 * 30).contains(&h) => h,
                _ => {
                    problems.push(format!(
                        "SHOPDB_SESSION_HOURS is '{v}': use a whole number of hours from 1 to 720"
                    ));
                    12
                }
            },
        };

        let plugin_dir = get("SHOPDB_PLUGIN_DIR")
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_PLUGIN_DIR.into())
            .into();

        (
            Config {
                database_url,
                secret_key,
                environment,
                cors_origins,
                cookie_secure,
                session_hours,
                plugin_dir,
            },
            problems,
        )
    }

    /// Reads the process environment.
    pub fn from_env() -> (Config, Vec<String>) {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }
}

/// Names of `SHOPDB_*` variables set in the environment that ShopDB does not know (typos).
pub fn unknown_variables() -> Vec<String> {
    std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("SHOPDB_") && !KNOWN_VARIABLES.contains(&k.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> (Config, Vec<String>) {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn development_defaults_need_nothing() {
        let (config, problems) = read(&[]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert!(!config.cookie_secure);
    }

    #[test]
    fn production_lists_every_problem_at_once() {
        let (_, problems) = read(&[
            ("SHOPDB_ENV", "production"),
            ("SECRET_KEY", "short"),
            ("CORS_ORIGINS", "*"),
            ("COOKIE_SECURE", "false"),
        ]);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("SECRET_KEY is 5 bytes"));
        assert!(problems[1].contains("CORS_ORIGINS"));
        assert!(problems[2].contains("COOKIE_SECURE"));
    }

    #[test]
    fn production_with_a_good_setup_passes() {
        let (config, problems) = read(&[
            ("SHOPDB_ENV", "production"),
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("CORS_ORIGINS", "https://shopdb.plant.local"),
        ]);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(
            config.cookie_secure,
            "production defaults to Secure cookies"
        );
    }

    #[test]
    fn secrets_do_not_leak_through_debug() {
        let (config, _) = read(&[("SECRET_KEY", "supersecretvalue-supersecretvalue")]);
        assert!(!format!("{config:?}").contains("supersecret"));
    }
}

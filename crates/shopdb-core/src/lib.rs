//! ShopDB framework: configuration, the database layer for SQLite, MySQL/MariaDB and
//! PostgreSQL, migrations, auth, audit, search, positions and the core REST API.

pub mod addresses;
pub mod answer;
pub mod api;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod collector;
pub mod config;
pub mod core_schema;
pub mod db;
pub mod envelope;
pub mod error;
pub mod evolve;
pub mod floorplan;
pub mod http;
pub mod migrate;
pub mod planner;
pub mod plugin;
pub mod portable;
pub mod position;
pub mod resource;
pub mod schema;
pub mod search;
pub mod security;
pub mod services;
pub mod settings;
pub mod state;
pub mod transfer;
pub mod users;
pub mod util;

/// Version of the plugin contract this framework offers (semver).
pub const CONTRACT_VERSION: &str = "1.3.0";

/// Plugin names: lowercase ASCII letters and digits, starting with a letter.
pub fn is_valid_plugin_name(name: &str) -> bool {
    name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

// Plugins build against the same versions of these as the framework.
pub use {anyhow, axum, clap, futures_util, serde_json, sqlx, time};

//! Generic CRUD over a table description: list with filters, sort, `q` and pages; fetch;
//! create, update and delete with validation, audit and search indexing in one transaction.
//! Core reference tables, assets and plugin tables are all served by this one engine.
//!
//! Its parts, each an `impl Resource` block of its own over the types in `model`:
//! - `model`: what a resource is (table, lookups, defaults, kind, hooks, child lists, search)
//!   and the small accessors every part uses; it uses no other part;
//! - `query`: the SQL of lists and single reads; `validate` and `lookups`: checking a body
//!   before any write, and answering its database questions for many records at once;
//! - `create`, `update`, `delete`: the writes, one or many, in the caller's transaction;
//! - `children`: child lists written with their parent; `hooks`: plugin code run on writes;
//!   `effects`: audit fields and search entries; `openapi`: the JSON Schemas of records.
//!
//! A part uses `model` and the free functions of others (`to_sql_value`, `finish`, …), never
//! this file; methods of other parts need no import.

mod children;
mod create;
mod delete;
mod effects;
mod hooks;
mod lookups;
mod model;
mod openapi;
mod query;
mod update;
mod validate;

/// Where contract 1.0 and 1.1 had it; it lives in `db` now.
pub use crate::db::like_pattern;
pub use create::*;
pub use lookups::*;
pub use model::*;
pub use openapi::*;
pub use validate::*;

#[cfg(test)]
mod tests {
    use super::singular;

    #[test]
    fn messages_name_one_row_of_a_table() {
        for (table, one) in [
            ("statuses", "status"),
            ("locations", "location"),
            ("assettypes", "assettype"),
            ("categories", "category"),
            ("addresses", "address"),
            ("boxes", "box"),
            ("equipment", "equipment"),
        ] {
            assert_eq!(singular(table), one);
        }
    }
}

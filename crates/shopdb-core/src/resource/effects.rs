//! What a write leaves besides its row: the audit entry's fields and the search entries.

use serde_json::{Map, Value};
use sqlx::AnyConnection;

use crate::db::Db;
use crate::error::DomainError;
use crate::http::ListParams;
use crate::search::{self, Link, SearchSpec};

use super::model::*;

/// What a record's search entries were before a write (see `Resource::index`).
pub(crate) enum Indexed<'a> {
    /// Just created: it has none.
    Fresh,
    /// The record as it was.
    Was(&'a Map<String, Value>),
    /// Not known (a rebuild): replace whatever is there.
    Unknown,
}

impl Resource {
    /// Index entries this record keeps: its own, and for extension records also the asset's
    /// (see `search::Link`).
    pub(crate) fn search_specs(&self) -> Vec<(SearchSpec, Link)> {
        let mut specs = Vec::new();
        let extension = self.extension.is_some();
        if extension {
            let link = match &self.search {
                Some(own) => Link::AsideFor(own.plugin.clone().unwrap_or_default()),
                None => Link::Alone,
            };
            specs.push((search::asset_spec(), link));
        }
        if let Some(own) = &self.search {
            let link = if extension {
                Link::Holding
            } else {
                Link::Alone
            };
            specs.push((own.clone(), link));
        }
        specs
    }

    /// Writes the record's search entries; `before` (on update) lets unchanged ones be, and
    /// `Fresh` (just created) skips looking for entries to replace.
    pub(crate) async fn index(
        &self,
        db: &Db,
        conn: &mut AnyConnection,
        id: i64,
        record: &Map<String, Value>,
        before: Indexed<'_>,
    ) -> Result<(), sqlx::Error> {
        let is_asset = self.is_asset();
        let (old, fresh) = match before {
            Indexed::Fresh => (None, true),
            Indexed::Was(b) => (Some(b), false),
            Indexed::Unknown => (None, false),
        };
        for (spec, link) in self.search_specs() {
            let assetid = is_asset.then_some(id);
            search::index_record(db, conn, &spec, &link, id, assetid, record, old, fresh).await?;
        }
        Ok(())
    }

    /// The record without joined display names (those are not the record's own data).
    pub(crate) fn auditable(&self, record: &Map<String, Value>) -> Map<String, Value> {
        record
            .iter()
            .filter(|(k, _)| {
                !self.lookups.iter().any(|l| &l.alias == *k)
                    && !MANAGED_COLUMNS.contains(&k.as_str())
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Rewrites the search entries of every record; returns how many records were indexed.
    pub async fn reindex_all(&self, db: &Db) -> Result<usize, DomainError> {
        if self.search.is_none() {
            return Ok(0);
        }
        let mut done = 0;
        let mut page = 1;
        loop {
            let params = ListParams {
                page,
                per_page: crate::http::MAX_PER_PAGE,
                sort: Some(self.key().to_string()),
                q: None,
                filters: Vec::new(),
            };
            let (rows, _) = self.list(db, &params).await?;
            if rows.is_empty() {
                return Ok(done);
            }
            let mut tx = db.begin().await?;
            for row in &rows {
                if let (Some(id), Value::Object(record)) =
                    (row.get(self.key()).and_then(Value::as_i64), row)
                {
                    self.index(db, &mut tx, id, record, Indexed::Unknown)
                        .await?;
                    done += 1;
                }
            }
            tx.commit().await?;
            page += 1;
        }
    }
}

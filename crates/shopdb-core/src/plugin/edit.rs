//! An installed folder plugin whose folder was edited: the new model planned against the
//! tables, and applied together with its stored copy (`folderplugins`), so every server
//! serves the new model once its tables have it.

use super::folder::{FolderPlugin, Owners, as_error, store};
use super::lifecycle::{LifecycleError, Migrated, installed};
use super::{Plugin, Registry};
use crate::db::{Db, SqlValue};
use crate::evolve::{self, Mode};
use crate::util::now;

/// `edited` checked as a replacement of the installed folder plugin of the same name:
/// installed, a folder plugin, and owning no table or prefix another plugin owns.
async fn check(db: &Db, registry: &Registry, edited: &FolderPlugin) -> Result<(), LifecycleError> {
    let name = &edited.manifest().name;
    let Some(current) = registry.get(name) else {
        return Err(LifecycleError::Unknown(name.clone()));
    };
    if current.plugin.folder().is_none() {
        return Err(LifecycleError::Failed {
            plugin: name.clone(),
            step: "migrate".into(),
            reason: "it is not a folder plugin".into(),
        });
    }
    if !installed(db).await?.contains_key(name) {
        return Err(LifecycleError::NotInstalled(name.clone()));
    }
    let mut owners = Owners::default();
    for p in registry.loaded.iter().filter(|p| &p.manifest.name != name) {
        let owner = format!("plugin {}", p.manifest.name);
        owners
            .tables
            .extend(p.tables.iter().map(|t| (t.name.clone(), owner.clone())));
        owners.prefixes.push((p.manifest.prefix(), owner));
    }
    let clashes = edited.conflicts(&owners);
    if clashes.is_empty() {
        Ok(())
    } else {
        Err(LifecycleError::Failed {
            plugin: name.clone(),
            step: "check".into(),
            reason: as_error(name, &clashes).to_string(),
        })
    }
}

/// The steps from the installed tables of `edited`'s plugin to its edited model. Changes
/// nothing.
pub async fn plan(
    db: &Db,
    registry: &Registry,
    edited: &FolderPlugin,
) -> Result<evolve::Plan, LifecycleError> {
    check(db, registry, edited).await?;
    Ok(evolve::plan(db, &edited.manifest().name, &edited.models()).await?)
}

/// Applies every planned step of the edited model and, with the last step, stores the edited
/// sources and version: running servers load the new model within seconds. A refused plan
/// changes nothing, neither the tables nor the stored model.
pub async fn migrate(
    db: &Db,
    registry: &Registry,
    edited: &FolderPlugin,
    mode: &Mode,
) -> Result<Migrated, LifecycleError> {
    check(db, registry, edited).await?;
    let name = &edited.manifest().name;
    let mut finish: Vec<(&str, Vec<SqlValue>)> =
        store::replace_statements(name, edited.sources()).into();
    finish.push((
        "UPDATE plugins SET version = ?, modifieddate = ? WHERE pluginname = ?",
        vec![
            SqlValue::text(&edited.manifest().version),
            SqlValue::text(now()),
            SqlValue::text(name),
        ],
    ));
    let chain = evolve::model_chain(name);
    let outcome = evolve::apply_then(db, name, (&edited.models(), &[]), mode, &finish).await?;
    Ok(Migrated {
        ran: outcome
            .ran
            .into_iter()
            .map(|(v, n)| (chain.clone(), v, n))
            .collect(),
        waiting: outcome.waiting,
        backups: outcome.backups,
    })
}

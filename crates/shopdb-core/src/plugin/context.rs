//! What a plugin's code gets when it runs: the database, its settings and the services
//! other plugins offer.

use std::any::Any;
use std::sync::Arc;

use serde_json::Value;

use super::services::{ServiceError, ServiceKey, Services};
use super::types::{SettingDef, check_setting};
use crate::db::Db;

/// What a plugin's hooks get: the database and helpers scoped to the plugin.
#[derive(Clone)]
pub struct PluginContext {
    pub db: Db,
    /// The plugin's name (its settings scope and chain name).
    pub plugin: String,
    /// Services offered by loaded plugins, by name.
    pub services: Arc<Services>,
    pub settings: Arc<Vec<SettingDef>>,
}

impl PluginContext {
    /// A setting of this plugin, or its declared default.
    pub async fn setting(&self, key: &str) -> anyhow::Result<Value> {
        let def = self.settings.iter().find(|d| d.key == key);
        match crate::settings::get_setting(&self.db, &self.plugin, key).await? {
            Some(raw) => Ok(serde_json::from_str(&raw).unwrap_or(Value::String(raw))),
            None => Ok(def.map(|d| d.default.clone()).unwrap_or(Value::Null)),
        }
    }

    /// Stores a setting of this plugin after checking it against its declaration.
    pub async fn set_setting(&self, key: &str, value: Value, by: &str) -> anyhow::Result<()> {
        let def =
            self.settings.iter().find(|d| d.key == key).ok_or_else(|| {
                anyhow::anyhow!("plugin {} declares no setting '{key}'", self.plugin)
            })?;
        check_setting(def, &value).map_err(|m| anyhow::anyhow!("setting {key} {m}"))?;
        crate::settings::set_setting(&self.db, &self.plugin, key, &value.to_string(), by).await?;
        Ok(())
    }

    /// A service another plugin offers, typed.
    pub fn service<T: Any + Send + Sync>(&self, name: &str) -> Result<Arc<T>, ServiceError> {
        self.services.get::<T>(name)
    }

    /// A service another plugin offers, by its typed key.
    pub fn service_by<T: Any + Send + Sync>(
        &self,
        key: &ServiceKey<T>,
    ) -> Result<Arc<T>, ServiceError> {
        self.services.lookup(key)
    }

    /// Where an asset sits on the floor map.
    pub async fn resolve_position(
        &self,
        assetid: i64,
    ) -> anyhow::Result<Option<crate::position::Position>> {
        let mut conn = self.db.pool().acquire().await?;
        Ok(crate::position::resolve_position(&self.db, &mut conn, assetid).await?)
    }
}

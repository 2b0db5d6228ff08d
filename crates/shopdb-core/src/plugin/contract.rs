//! The contract test every plugin runs on itself (`shopdb_core::plugin::contract::check`):
//! what the loader would refuse, and the mistakes that only show up later (routes outside the
//! prefix, extension tables not tied to assets, search or collector fields that do not exist).

use std::collections::HashSet;

use super::Plugin;
use crate::schema::{ColumnType, OnDelete};

/// Every contract problem of `plugin`; empty when it is sound.
pub fn problems(plugin: &dyn Plugin) -> Vec<String> {
    let mut out = Vec::new();
    let m = plugin.manifest();
    if let Err(e) = m.check_core_version() {
        out.push(e.to_string());
    }
    let prefix = m.prefix();
    let tables = plugin.models();
    if tables.is_empty() {
        out.push("models() returns no tables".into());
    }
    let mut names = HashSet::new();
    for t in &tables {
        if !names.insert(t.name.clone()) {
            out.push(format!("table {} is declared twice", t.name));
        }
        if crate::core_schema::core_tables()
            .iter()
            .any(|c| c.name == t.name)
        {
            out.push(format!(
                "table {} is a core table; plugins never alter core tables",
                t.name
            ));
        }
        for c in &t.columns {
            if !c
                .name
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            {
                out.push(format!(
                    "column {}.{} must be lowercase letters and digits",
                    t.name, c.name
                ));
            }
        }
        if let Some(c) = t.get("assetid")
            && t.primary_key == ["assetid"]
            && !c
                .references
                .as_ref()
                .is_some_and(|fk| fk.table == "assets" && fk.on_delete == OnDelete::Cascade)
        {
            out.push(format!(
                "{}.assetid must reference assets(assetid) ON DELETE CASCADE",
                t.name
            ));
        }
        if t.key_column().is_empty()
            || (t.primary_key.is_empty() && !t.columns.iter().any(|c| c.ty == ColumnType::Id))
        {
            out.push(format!("table {} has no primary key", t.name));
        }
        out.extend(declaration_problems(t));
    }
    let mut routes = plugin.routes();
    plugin.init(&mut routes);
    for r in &routes {
        if r.info.path != prefix && !r.info.path.starts_with(&format!("{prefix}/")) {
            out.push(format!(
                "route {} {} is outside the api_prefix {prefix}",
                r.info.method, r.info.path
            ));
        }
    }
    let resources = plugin.resources();
    for r in &resources {
        let path = format!("/api/{}", r.path);
        if path != prefix && !path.starts_with(&format!("{prefix}/")) {
            out.push(format!(
                "resource {path} is outside the api_prefix {prefix}"
            ));
        }
        let own = r.extension.as_ref().unwrap_or(&r.table);
        if !tables.iter().any(|t| t.name == own.name) {
            out.push(format!(
                "resource {path} serves table {} which models() does not declare",
                own.name
            ));
        }
    }
    let field_exists = |field: &str| {
        resources.iter().any(|r| r.column_sql(field).is_some())
            || tables.iter().any(|t| t.get(field).is_some())
    };
    for spec in plugin
        .searchable()
        .iter()
        .chain(resources.iter().filter_map(|r| r.search.as_ref()))
    {
        for f in spec
            .fields
            .iter()
            .chain(std::iter::once(&spec.title))
            .chain(spec.subtitle.iter())
        {
            if !field_exists(f) {
                out.push(format!(
                    "search field {f} of {} does not exist",
                    spec.entitytype
                ));
            }
        }
        if spec.plugin.as_deref() != Some(&m.name) {
            out.push(format!(
                "search entries of {} must name the plugin {} (so they hide when it is disabled)",
                spec.entitytype, m.name
            ));
        }
    }
    if let Some(schema) = plugin.collector_schema() {
        if !resources
            .iter()
            .any(|r| r.extension.is_some() || schema.resource.as_deref() == Some(r.path.as_str()))
        {
            out.push("collector_schema() needs a resource to write to".into());
        }
        if !schema
            .fields
            .iter()
            .any(|f| f.name == schema.identityfield && f.required)
        {
            out.push(format!(
                "collector identity field {} must be a required field",
                schema.identityfield
            ));
        }
        for f in schema
            .fields
            .iter()
            .map(|f| &f.name)
            .chain(schema.matchfields.iter())
        {
            let is_list = resources
                .iter()
                .any(|r| r.children.iter().any(|c| &c.field == f));
            if !field_exists(f) && !is_list {
                out.push(format!(
                    "collector field {f} does not exist in the plugin's records"
                ));
            }
        }
    }
    let mut commands = HashSet::new();
    for c in plugin.cli_commands() {
        let name = c.name().to_string();
        if !commands.insert(name.clone()) {
            out.push(format!("command {name} is declared twice"));
        }
        if c.command.get_about().is_none() {
            out.push(format!(
                "command {name} has no help line: give it .about(\"…\")"
            ));
        }
    }
    for s in plugin.settings() {
        if let Err(e) = super::registry::check_setting(&s, &s.default) {
            out.push(format!("setting {}: default {e}", s.key));
        }
    }
    out
}

/// Panics with every problem: call it from a plugin's own tests.
/// Rename and drop declarations (`Column::renamed_from`, `Table::dropped`) that contradict
/// the table they are in.
fn declaration_problems(t: &crate::schema::Table) -> Vec<String> {
    let mut out = Vec::new();
    for name in &t.dropped {
        if t.get(name).is_some() {
            out.push(format!(
                "{}.{name} is declared dropped but is still a field of the table",
                t.name
            ));
        }
    }
    for c in &t.columns {
        if let Some(old) = &c.renamed_from
            && t.get(old).is_some()
        {
            out.push(format!(
                "{}.{} is renamed_from {old}, which is still a field of the table",
                t.name, c.name
            ));
        }
    }
    out
}

pub fn check(plugin: &dyn Plugin) {
    let problems = problems(plugin);
    assert!(
        problems.is_empty(),
        "plugin {} breaks the contract:\n  {}",
        plugin.manifest().name,
        problems.join("\n  ")
    );
}

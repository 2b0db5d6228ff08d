//! Reading and checking `model.toml`: every problem with the file, line and key it is at.

use toml::Spanned;

use super::fields::check_field;
pub use super::fields::{CORE_REFERENCES, MAX_LENGTH};
use super::model::{self, Model};
use super::names::bad_name;
pub use super::names::is_plain_name;
use super::problem::Checker;
pub use super::problem::{Problem, describe, line_of};
use super::sections::{asset_fields, check_collector, check_setting, check_widget, pick_table};
use super::spec::{Field, FieldType, NavSpec, Spec, TableSpec};
use crate::plugin::types::SettingDef;

/// Parses and checks `text` (a plugin's model.toml).
pub fn check_model(text: &str) -> Result<Spec, Vec<Problem>> {
    let model: Model = match toml::from_str(text) {
        Ok(m) => m,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let key = text
                .get(span.clone())
                .filter(|k| !k.is_empty() && !k.contains('\n') && k.len() < 60)
                .unwrap_or("(file)")
                .to_string();
            return Err(vec![Problem {
                file: "model.toml".into(),
                line: line_of(text, span.start),
                key,
                message: e.message().trim().to_string(),
            }]);
        }
    };
    let mut c = Checker {
        text,
        problems: Vec::new(),
    };
    let spec = check(&mut c, &model);
    if c.problems.is_empty() {
        Ok(spec)
    } else {
        Err(c.problems)
    }
}

fn check(c: &mut Checker, model: &Model) -> Spec {
    if model.tables.is_empty() {
        c.at(
            0..0,
            "table",
            "no [[table]]: a plugin needs at least one table",
        );
    }
    let mut tables: Vec<TableSpec> = Vec::new();
    for t in &model.tables {
        let table = check_table(c, t, &tables);
        if tables.iter().any(|o| o.name == table.name) {
            c.at(
                t.name.span(),
                "table.name",
                format!("table {} is declared twice", table.name),
            );
        }
        tables.push(table);
    }
    let first = tables.first().map(|t| t.name.clone()).unwrap_or_default();
    let nav = model.nav.as_ref().map(|n| {
        let span = n.span();
        let n = n.get_ref();
        let table = pick_table(c, &tables, n.table.as_ref(), &first, "nav.table");
        if n.label.trim().is_empty() {
            c.at(span, "nav.label", "the label is empty");
        }
        NavSpec {
            label: n.label.clone(),
            position: n.position.unwrap_or(50),
            icon: n.icon.clone().unwrap_or_else(|| "box".into()),
            table,
        }
    });
    let mut widgets = Vec::new();
    for w in &model.widgets {
        widgets.push(check_widget(c, w, &tables, &first));
    }
    let collector = model
        .collector
        .as_ref()
        .map(|col| check_collector(c, col, &tables, &first));
    let mut settings = Vec::new();
    for s in &model.settings {
        if let Some(def) = check_setting(c, s) {
            if settings.iter().any(|o: &SettingDef| o.key == def.key) {
                c.at(
                    s.key.span(),
                    "setting.key",
                    format!("setting {} is declared twice", def.key),
                );
            }
            settings.push(def);
        }
    }
    Spec {
        tables,
        nav,
        widgets,
        collector,
        settings,
    }
}

fn check_table(c: &mut Checker, t: &model::TableDef, earlier: &[TableSpec]) -> TableSpec {
    let name = t.name.get_ref().clone();
    let here = format!("table.{name}");
    if let Some(why) = bad_name(&name) {
        c.at(
            t.name.span(),
            &format!("{here}.name"),
            format!("table name {why}"),
        );
    }
    let extends_assets = match &t.extends {
        None => false,
        Some(e) if e.get_ref() == "assets" => true,
        Some(e) => {
            c.at(
                e.span(),
                &format!("{here}.extends"),
                format!("a table can extend only \"assets\", not '{}'", e.get_ref()),
            );
            false
        }
    };
    let key = if extends_assets {
        if let Some(k) = &t.key {
            c.at(
                k.span(),
                &format!("{here}.key"),
                "an asset extension is keyed by assetid: remove key",
            );
        }
        "assetid".to_string()
    } else {
        match &t.key {
            Some(k) if bad_name(k.get_ref()).is_some() => {
                let why = bad_name(k.get_ref()).unwrap_or_default();
                c.at(k.span(), &format!("{here}.key"), format!("the key {why}"));
                k.get_ref().clone()
            }
            Some(k) => k.get_ref().clone(),
            None => format!("{name}id"),
        }
    };
    let mut fields: Vec<Field> = Vec::new();
    let mut taken: Vec<String> = if extends_assets {
        asset_fields()
    } else {
        vec![key.clone()]
    };
    taken.extend(
        crate::resource::MANAGED_COLUMNS
            .iter()
            .map(|c| c.to_string()),
    );
    for f in &t.fields {
        let field = check_field(c, f, &here, earlier, &name);
        if fields.iter().any(|o| o.name == field.name) {
            c.at(
                f.name.span(),
                &format!("{here}.field.{}.name", field.name),
                "this field is declared twice",
            );
        } else if taken.contains(&field.name) {
            let managed = crate::resource::MANAGED_COLUMNS.contains(&field.name.as_str());
            let whose = if managed {
                "a field the server keeps"
            } else if extends_assets {
                "an asset field"
            } else {
                "the table's key"
            };
            c.at(
                f.name.span(),
                &format!("{here}.field.{}.name", field.name),
                format!("'{}' is {whose}: choose another name", field.name),
            );
        }
        fields.push(field);
    }
    check_history(c, t, &here, &fields, &taken);
    let usable = |f: &str| fields.iter().any(|x| x.name == f) || taken.iter().any(|x| x == f);
    let mut name_of = |c: &mut Checker, v: &Spanned<String>, key: &str| {
        if !usable(v.get_ref()) {
            c.at(
                v.span(),
                &format!("{here}.{key}"),
                format!("'{}' is not a field of table {name}", v.get_ref()),
            );
        }
        v.get_ref().clone()
    };
    let default_title = fields
        .first()
        .map(|f| f.name.clone())
        .unwrap_or_else(|| key.clone());
    let title = match &t.title {
        Some(v) => name_of(c, v, "title"),
        None => default_title,
    };
    let subtitle = t.subtitle.as_ref().map(|v| name_of(c, v, "subtitle"));
    let list_of =
        |c: &mut Checker,
         vs: &Option<Vec<Spanned<String>>>,
         key: &str,
         f: &mut dyn FnMut(&mut Checker, &Spanned<String>, &str) -> String| {
            vs.as_ref()
                .map(|vs| vs.iter().map(|v| f(c, v, key)).collect::<Vec<_>>())
        };
    let search =
        list_of(c, &t.search, "search", &mut name_of).unwrap_or_else(|| vec![title.clone()]);
    let list = list_of(c, &t.list, "list", &mut name_of)
        .unwrap_or_else(|| fields.iter().take(5).map(|f| f.name.clone()).collect());
    let label = t.label.clone().unwrap_or_else(|| name.clone());
    TableSpec {
        assettype: t.assettype.clone().unwrap_or_else(|| label.clone()),
        label,
        name,
        extends_assets,
        key,
        title,
        subtitle,
        search,
        list,
        fields,
        dropped: t.dropped.iter().map(|d| d.get_ref().clone()).collect(),
    }
}

/// `renamed_from` and `dropped` name fields of the installed model: never a field the model
/// still has, a field the server or the asset keeps, or the same old field twice.
fn check_history(
    c: &mut Checker,
    t: &model::TableDef,
    here: &str,
    fields: &[Field],
    taken: &[String],
) {
    let mut old_names: Vec<String> = Vec::new();
    let mut gone = |c: &mut Checker, v: &Spanned<String>, key: &str, what: &str| {
        let old = v.get_ref().as_str();
        let why = if let Some(why) = bad_name(old) {
            Some(format!("the old name {why}"))
        } else if fields.iter().any(|f| f.name == old) {
            Some(format!(
                "'{old}' is still a field of this table: {what} only a field that is no longer in the model"
            ))
        } else if taken.iter().any(|x| x == old) {
            Some(format!(
                "'{old}' is a field the table always has: {what} only a field of the model"
            ))
        } else if old_names.iter().any(|o| o == old) {
            Some(format!(
                "'{old}' is named twice by renamed_from and dropped: a field is either renamed or dropped, once"
            ))
        } else {
            None
        };
        old_names.push(old.to_string());
        if let Some(why) = why {
            c.at(v.span(), key, why);
        }
    };
    for f in &t.fields {
        if let Some(v) = &f.renamed_from {
            let key = format!("{here}.field.{}.renamed_from", f.name.get_ref());
            gone(c, v, &key, "renamed_from names");
            let is_reference = FieldType::parse(f.kind.get_ref()) == Some(FieldType::Reference);
            if is_reference {
                c.at(v.span(), &key, "a reference field cannot be renamed");
            }
        }
    }
    for d in &t.dropped {
        gone(c, d, &format!("{here}.dropped"), "dropped lists");
    }
}

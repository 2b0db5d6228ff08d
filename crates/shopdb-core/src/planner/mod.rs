//! Planning a plugin's schema change: the model recorded when its tables were last migrated
//! is compared with the model it declares now (`Plugin::models()`), and the difference
//! becomes an ordered list of [`Change`]s. Changes that keep every value are planned as they
//! are; changes that could lose data are refused, naming the table and field, unless the
//! model declares them (`Column::renamed_from`, `Table::dropped`).
//!
//! Pure: nothing here reads the database. `evolve` runs the plan.

use serde::{Deserialize, Serialize};

use crate::migrate::Step;
use crate::schema::{Column, ColumnType, Index, Table};

/// One planned change of a plugin's tables, recorded as one migration of its model chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "change")]
pub enum Change {
    CreateTable {
        table: Table,
    },
    AddColumn {
        table: String,
        column: Column,
    },
    CreateIndex {
        table: String,
        index: Index,
    },
    DropIndex {
        table: String,
        index: Index,
    },
    /// A lossless change of a column: a longer string, string to text, a required field made
    /// optional, another default, a unique constraint added.
    AlterColumn {
        table: String,
        from: Column,
        to: Column,
    },
    AddChoice {
        table: String,
        column: String,
        choice: String,
    },
    /// Refused at run time while a row still holds the value.
    RemoveChoice {
        table: String,
        column: String,
        choice: String,
    },
    /// Rename, step 1 of 3: the new column added (optional, not unique) and every value
    /// copied into it.
    CopyColumn {
        table: String,
        from: String,
        to: Column,
    },
    /// Rename, step 2 of 3: values written since the copy copied again; the new column takes
    /// its full definition and the old one becomes optional, so writes that no longer name it
    /// succeed.
    SwitchColumn {
        table: String,
        from: String,
        to: Column,
    },
    /// A declared drop (after its values were written to a backup file) or rename step 3 of 3
    /// (`renamed`: the values live on under the new name).
    DropColumn {
        table: String,
        column: Column,
        renamed: bool,
    },
}

impl Change {
    /// The migration name the step is recorded under (`add column cameras.poeport`).
    pub fn describe(&self) -> String {
        match self {
            Change::CreateTable { table } => format!("create table {}", table.name),
            Change::AddColumn { table, column } => format!("add column {table}.{}", column.name),
            Change::CreateIndex { table, index } => {
                format!("add index {} on {table}", index.name)
            }
            Change::DropIndex { table, index } => {
                format!("drop index {} on {table}", index.name)
            }
            Change::AlterColumn { table, from, to } => {
                format!(
                    "alter column {table}.{} ({})",
                    to.name,
                    alteration(from, to)
                )
            }
            Change::AddChoice {
                table,
                column,
                choice,
            } => format!("add choice '{choice}' to {table}.{column}"),
            Change::RemoveChoice {
                table,
                column,
                choice,
            } => format!("remove unused choice '{choice}' from {table}.{column}"),
            Change::CopyColumn { table, from, to } => {
                format!("rename {table}.{from} to {} (1/3 copy)", to.name)
            }
            Change::SwitchColumn { table, from, to } => {
                format!("rename {table}.{from} to {} (2/3 switch)", to.name)
            }
            Change::DropColumn {
                table,
                column,
                renamed: true,
            } => format!(
                "rename: drop the old column {table}.{} (3/3 drop)",
                column.name
            ),
            Change::DropColumn { table, column, .. } => {
                format!("drop column {table}.{} (backed up)", column.name)
            }
        }
    }

    /// Whether the step only adds or widens: such steps run on every upgrade (`db upgrade`,
    /// `plugin upgrade-all`, `serve`); declared renames and drops wait for
    /// `shopdb plugin migrate NAME`.
    pub fn is_lossless(&self) -> bool {
        !matches!(
            self,
            Change::CopyColumn { .. } | Change::SwitchColumn { .. } | Change::DropColumn { .. }
        )
    }

    /// The model after this step.
    pub fn apply(&self, model: &mut Vec<Table>) {
        let find = |model: &mut Vec<Table>, name: &str| -> Option<usize> {
            model.iter().position(|t| t.name == name)
        };
        match self {
            Change::CreateTable { table } => {
                model.retain(|t| t.name != table.name);
                model.push(normalized(table));
            }
            Change::AddColumn { table, column } => {
                if let Some(i) = find(model, table) {
                    model[i].columns.push(plain(column));
                }
            }
            Change::CreateIndex { table, index } => {
                if let Some(i) = find(model, table) {
                    model[i].indexes.retain(|x| x.name != index.name);
                    model[i].indexes.push(index.clone());
                }
            }
            Change::DropIndex { table, index } => {
                if let Some(i) = find(model, table) {
                    model[i].indexes.retain(|x| x.name != index.name);
                }
            }
            Change::AlterColumn { table, to, .. } => {
                if let Some(i) = find(model, table) {
                    replace_column(&mut model[i], plain(to));
                }
            }
            Change::AddChoice {
                table,
                column,
                choice,
            } => {
                if let Some(c) = find(model, table).and_then(|i| column_mut(&mut model[i], column))
                    && !c.choices.contains(choice)
                {
                    c.choices.push(choice.clone());
                }
            }
            Change::RemoveChoice {
                table,
                column,
                choice,
            } => {
                if let Some(c) = find(model, table).and_then(|i| column_mut(&mut model[i], column))
                {
                    c.choices.retain(|x| x != choice);
                }
            }
            Change::CopyColumn { table, to, .. } => {
                if let Some(i) = find(model, table) {
                    model[i].columns.push(transitional(to));
                }
            }
            Change::SwitchColumn { table, from, to } => {
                if let Some(i) = find(model, table) {
                    replace_column(&mut model[i], plain(to));
                    if let Some(old) = column_mut(&mut model[i], from) {
                        old.nullable = true;
                    }
                }
            }
            Change::DropColumn { table, column, .. } => {
                if let Some(i) = find(model, table) {
                    model[i].columns.retain(|c| c.name != column.name);
                }
            }
        }
    }
}

/// What an `AlterColumn` changes, for people: `string(100) -> string(200), optional`.
fn alteration(from: &Column, to: &Column) -> String {
    let mut parts = Vec::new();
    if from.ty != to.ty {
        parts.push(format!("{} -> {}", type_name(from.ty), type_name(to.ty)));
    }
    if !from.nullable && to.nullable {
        parts.push("optional".to_string());
    }
    if from.nullable && !to.nullable {
        parts.push("required".to_string());
    }
    if from.default != to.default {
        parts.push(format!(
            "default {}",
            to.default.as_deref().unwrap_or("none")
        ));
    }
    if !from.unique && to.unique {
        parts.push("unique".to_string());
    }
    if !from.choices.is_empty() && to.choices.is_empty() {
        parts.push("any value".to_string());
    }
    parts.join(", ")
}

/// A column type as the plan and refusals name it: `string(100)`, `integer`.
pub fn type_name(ty: ColumnType) -> String {
    match ty {
        ColumnType::String(n) => format!("string({n})"),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("{other:?}").to_lowercase()),
    }
}

fn column_mut<'a>(table: &'a mut Table, name: &str) -> Option<&'a mut Column> {
    table.columns.iter_mut().find(|c| c.name == name)
}

fn replace_column(table: &mut Table, column: Column) {
    if let Some(c) = column_mut(table, &column.name) {
        *c = column;
    }
}

/// A column as the recorded model keeps it: schema only, no wording or declarations.
fn plain(c: &Column) -> Column {
    Column {
        label: None,
        help: None,
        renamed_from: None,
        ..c.clone()
    }
}

/// The new column of a rename between copy and switch: optional and not unique, so the copy
/// and the writes in between cannot fail on it.
fn transitional(c: &Column) -> Column {
    Column {
        nullable: true,
        unique: false,
        default: None,
        ..plain(c)
    }
}

/// A table as the recorded model keeps it: no wording, no declarations.
pub fn normalized(t: &Table) -> Table {
    Table {
        columns: t.columns.iter().map(plain).collect(),
        dropped: Vec::new(),
        ..t.clone()
    }
}

/// The model after a hand-written migration step ran: its tables, columns and indexes are
/// followed; `Sql` and `Seed` steps are taken as changing data only.
pub fn replay(model: &mut Vec<Table>, step: &Step) {
    let change = match step {
        Step::CreateTable(t) => Change::CreateTable { table: t.clone() },
        Step::AddColumn { table, column } => Change::AddColumn {
            table: table.clone(),
            column: column.clone(),
        },
        Step::CreateIndex { table, index } => Change::CreateIndex {
            table: table.clone(),
            index: index.clone(),
        },
        Step::DropTable(name) => {
            model.retain(|t| &t.name != name);
            return;
        }
        Step::Sql { .. } | Step::Seed { .. } => return,
    };
    change.apply(model);
}

/// Why a plan was refused: every change that could lose data, one line each.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}", .problems.join("; "))]
pub struct Refused {
    pub problems: Vec<String>,
}

/// The steps from `recorded` (the tables as last migrated) to `wanted` (`models()`), in the
/// order they must run, or every reason the change is refused.
pub fn plan(recorded: &[Table], wanted: &[Table]) -> Result<Vec<Change>, Refused> {
    let mut steps = Vec::new();
    let mut problems = Vec::new();
    for old in recorded {
        if !wanted.iter().any(|t| t.name == old.name) {
            problems.push(format!(
                "table {} is no longer in the model: dropping a table loses its rows and is not planned; put it back (uninstalling the plugin removes its tables with a backup)",
                old.name
            ));
        }
    }
    for table in wanted {
        match recorded.iter().find(|t| t.name == table.name) {
            None => steps.push(Change::CreateTable {
                table: normalized(table),
            }),
            Some(old) => plan_table(old, table, &mut steps, &mut problems),
        }
    }
    if problems.is_empty() {
        Ok(steps)
    } else {
        Err(Refused { problems })
    }
}

/// The steps of one table that exists in both models, in a safe order: indexes that go away
/// first, then columns, then the new indexes.
fn plan_table(old: &Table, new: &Table, steps: &mut Vec<Change>, problems: &mut Vec<String>) {
    let t = &new.name;
    if old.primary_key != new.primary_key {
        problems.push(format!(
            "{t}: changing the primary key ({} -> {}) is not planned",
            old.primary_key.join(", "),
            new.primary_key.join(", ")
        ));
    }
    for index in &old.indexes {
        if !new.indexes.contains(index) {
            steps.push(Change::DropIndex {
                table: t.clone(),
                index: index.clone(),
            });
        }
    }
    let mut renames = Vec::new();
    for column in &new.columns {
        let source = column.renamed_from.as_deref().and_then(|o| old.get(o));
        match old.get(&column.name) {
            // A rename stopped halfway by a failure: finish it.
            Some(current) if source.is_some() => {
                resume_rename(t, source.unwrap_or(current), current, column, steps)
            }
            Some(before) => plan_column(t, before, column, steps, problems),
            None => match column.renamed_from.as_deref().and_then(|o| old.get(o)) {
                Some(before) => renames.push((before, column)),
                None => plan_new_column(t, column, steps, problems),
            },
        }
    }
    for (before, column) in renames {
        if old.primary_key.contains(&before.name) || before.ty == ColumnType::Id {
            problems.push(format!(
                "{t}.{}: renaming a key field is not planned",
                before.name
            ));
            continue;
        }
        plan_rename(t, before, column, steps, problems);
    }
    for column in &old.columns {
        let kept = new.get(&column.name).is_some();
        let renamed = new
            .columns
            .iter()
            .any(|c| c.renamed_from.as_deref() == Some(column.name.as_str()));
        if kept || renamed {
            continue;
        }
        if !new.dropped.contains(&column.name) {
            problems.push(format!(
                "{t}.{} was removed from the model: that would lose its data; declare it dropped (Rust: Table::dropped(\"{0}\"), model.toml: dropped = [\"{0}\"]) to back it up and drop it, or declare the field that replaces it with renamed_from = \"{0}\"",
                column.name
            ));
        } else if column.references.is_some() || old.primary_key.contains(&column.name) {
            problems.push(format!(
                "{t}.{}: dropping a key or reference column is not planned",
                column.name
            ));
        } else {
            steps.push(Change::DropColumn {
                table: t.clone(),
                column: column.clone(),
                renamed: false,
            });
        }
    }
    for index in &new.indexes {
        if !old.indexes.contains(index) {
            steps.push(Change::CreateIndex {
                table: t.clone(),
                index: index.clone(),
            });
        }
    }
}

fn resume_rename(
    t: &str,
    source: &Column,
    current: &Column,
    column: &Column,
    steps: &mut Vec<Change>,
) {
    if *current == transitional(column) {
        steps.push(Change::SwitchColumn {
            table: t.to_string(),
            from: source.name.clone(),
            to: plain(column),
        });
    }
    steps.push(Change::DropColumn {
        table: t.to_string(),
        column: Column {
            nullable: true,
            ..plain(source)
        },
        renamed: true,
    });
}

fn plan_new_column(t: &str, column: &Column, steps: &mut Vec<Change>, problems: &mut Vec<String>) {
    if column.ty == ColumnType::Id {
        problems.push(format!(
            "{t}.{}: a generated id cannot be added to an existing table",
            column.name
        ));
    } else if !column.nullable && column.default.is_none() {
        problems.push(format!(
            "{t}.{}: a new required field needs a default for the rows already there; make it optional or give it a default",
            column.name
        ));
    } else {
        steps.push(Change::AddColumn {
            table: t.to_string(),
            column: plain(column),
        });
    }
}

fn plan_rename(
    t: &str,
    before: &Column,
    column: &Column,
    steps: &mut Vec<Change>,
    problems: &mut Vec<String>,
) {
    let from = before.name.clone();
    if let Some(why) = narrowing(before, column) {
        problems.push(format!(
            "{t}.{}: renamed from {from}, but {why}",
            column.name
        ));
        return;
    }
    if before.references.is_some() || column.references.is_some() {
        problems.push(format!(
            "{t}.{from}: renaming a reference column is not planned"
        ));
        return;
    }
    steps.push(Change::CopyColumn {
        table: t.to_string(),
        from: from.clone(),
        to: plain(column),
    });
    steps.push(Change::SwitchColumn {
        table: t.to_string(),
        from,
        to: plain(column),
    });
    steps.push(Change::DropColumn {
        table: t.to_string(),
        column: Column {
            nullable: true,
            ..plain(before)
        },
        renamed: true,
    });
}

/// Why turning `from` into `to` could lose data or fail on rows already there.
fn narrowing(from: &Column, to: &Column) -> Option<String> {
    let (a, b) = (type_name(from.ty), type_name(to.ty));
    match (from.ty, to.ty) {
        (x, y) if x == y => {}
        (ColumnType::String(n), ColumnType::String(m)) if m < n => {
            return Some(format!("narrowing {a} to {b} would cut longer values"));
        }
        (ColumnType::String(_), ColumnType::String(_) | ColumnType::Text) => {}
        _ => return Some(format!("changing {a} to {b} could lose data")),
    }
    if from.nullable && !to.nullable {
        return Some("making an optional field required fails on rows without a value".to_string());
    }
    None
}

fn plan_column(
    t: &str,
    before: &Column,
    column: &Column,
    steps: &mut Vec<Change>,
    problems: &mut Vec<String>,
) {
    let name = &column.name;
    if let Some(why) = narrowing(before, column) {
        problems.push(format!("{t}.{name}: {why}"));
        return;
    }
    if before.unique && !column.unique {
        problems.push(format!(
            "{t}.{name}: removing a unique constraint is not planned"
        ));
        return;
    }
    if before.references != column.references {
        problems.push(format!(
            "{t}.{name}: changing what the field refers to is not planned"
        ));
        return;
    }
    let cleared = !before.choices.is_empty() && column.choices.is_empty();
    let changed = before.ty != column.ty
        || before.nullable != column.nullable
        || before.default != column.default
        || before.unique != column.unique
        || cleared;
    if changed {
        // Choices move by their own steps; clearing them (any value accepted) is this one.
        let choices = if cleared {
            Vec::new()
        } else {
            before.choices.clone()
        };
        steps.push(Change::AlterColumn {
            table: t.to_string(),
            from: plain(before),
            to: Column {
                choices,
                ..plain(column)
            },
        });
    }
    for choice in &column.choices {
        if !before.choices.is_empty() && !before.choices.contains(choice) {
            steps.push(Change::AddChoice {
                table: t.to_string(),
                column: name.clone(),
                choice: choice.clone(),
            });
        }
    }
    if before.choices.is_empty() && !column.choices.is_empty() {
        problems.push(format!(
            "{t}.{name}: limiting a free field to choices is not planned; existing values may be outside them"
        ));
    }
    for choice in &before.choices {
        if !column.choices.is_empty() && !column.choices.contains(choice) {
            steps.push(Change::RemoveChoice {
                table: t.to_string(),
                column: name.clone(),
                choice: choice.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1() -> Table {
        Table::new("cameras")
            .column(Column::integer("assetid"))
            .column(Column::string("hostname", 100).unique())
            .column(Column::string("resolution", 10).choices(&["720p", "1080p"]))
            .primary_key(&["assetid"])
    }

    fn names(steps: &[Change]) -> Vec<String> {
        steps.iter().map(Change::describe).collect()
    }

    #[test]
    fn an_unchanged_model_plans_nothing_and_wording_is_not_a_change() {
        let worded = Table {
            columns: v1()
                .columns
                .into_iter()
                .map(|c| c.label("A label").help("Some help"))
                .collect(),
            ..v1()
        };
        assert_eq!(plan(&[v1()], &[worded]), Ok(Vec::new()));
        assert_eq!(
            names(&plan(&[], &[v1()]).unwrap()),
            ["create table cameras"]
        );
    }

    #[test]
    fn applying_the_plan_gives_the_wanted_model() {
        let wanted = v1()
            .column(Column::string("poeport", 20).nullable())
            .index(&["poeport"]);
        let mut wanted = wanted;
        wanted.columns[1] = Column::string("hostname", 200).unique();
        wanted.columns[2] = Column::string("resolution", 10).choices(&["720p", "1080p", "4K"]);
        let steps = plan(&[v1()], std::slice::from_ref(&wanted)).unwrap();
        assert_eq!(
            names(&steps),
            [
                "alter column cameras.hostname (string(100) -> string(200))",
                "add choice '4K' to cameras.resolution",
                "add column cameras.poeport",
                "add index ix_cameras_poeport on cameras",
            ]
        );
        let mut model = vec![v1()];
        for step in &steps {
            step.apply(&mut model);
        }
        assert_eq!(model, vec![normalized(&wanted)]);
        assert_eq!(plan(&model, &[wanted]), Ok(Vec::new()));
    }

    #[test]
    fn a_declared_rename_is_three_steps_and_resumes_where_it_stopped() {
        let mut wanted = v1();
        wanted.columns[1] = Column::string("hostname2", 100)
            .unique()
            .renamed_from("hostname");
        let steps = plan(&[v1()], std::slice::from_ref(&wanted)).unwrap();
        assert_eq!(steps.len(), 3);
        assert!(steps.iter().all(|s| !s.is_lossless()));
        let mut model = vec![v1()];
        steps[0].apply(&mut model);
        let rest = plan(&model, std::slice::from_ref(&wanted)).unwrap();
        assert_eq!(rest, steps[1..].to_vec(), "after the copy: switch and drop");
        for step in &rest {
            step.apply(&mut model);
        }
        assert_eq!(plan(&model, &[wanted]), Ok(Vec::new()));
    }

    #[test]
    fn lossy_changes_are_refused_each_naming_its_field() {
        let narrowed = Table {
            columns: vec![
                Column::integer("assetid"),
                Column::string("hostname", 50).unique(),
            ],
            ..v1()
        };
        let refused = plan(&[v1()], &[narrowed]).unwrap_err();
        assert_eq!(refused.problems.len(), 2, "{refused}");
        assert!(refused.problems[0].contains("cameras.hostname: narrowing string(100)"));
        assert!(refused.problems[1].contains("cameras.resolution was removed"));
        let declared = Table {
            columns: vec![Column::integer("assetid"), v1().columns[1].clone()],
            ..v1()
        }
        .dropped("resolution");
        assert_eq!(
            names(&plan(&[v1()], &[declared]).unwrap()),
            ["drop column cameras.resolution (backed up)"]
        );
        let mut key_renamed = v1().primary_key(&["id"]);
        key_renamed.columns[0] = Column::integer("id").renamed_from("assetid");
        let mut keyed = v1();
        keyed.primary_key = vec!["assetid".into()];
        let refused = plan(&[keyed], &[key_renamed]).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("cameras.assetid: renaming a key field"),
            "{refused}"
        );
    }
}

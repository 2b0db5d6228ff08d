//! The changes a plan is made of: what each does to the model (`Change::apply`), how it is
//! shown to people, and the model as recorded between migrations (`normalized`, `replay`).

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
pub(super) fn plain(c: &Column) -> Column {
    Column {
        label: None,
        help: None,
        renamed_from: None,
        ..c.clone()
    }
}

/// The new column of a rename between copy and switch: optional and not unique, so the copy
/// and the writes in between cannot fail on it.
pub(super) fn transitional(c: &Column) -> Column {
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

//! Planning a plugin's schema change: the model recorded when its tables were last migrated
//! is compared with the model it declares now (`Plugin::models()`), and the difference
//! becomes an ordered list of [`Change`]s. Changes that keep every value are planned as they
//! are; changes that could lose data are refused, naming the table and field, unless the
//! model declares them (`Column::renamed_from`, `Table::dropped`).
//!
//! Pure: nothing here reads the database. `evolve` runs the plan.

mod change;

pub use change::{Change, normalized, replay, type_name};

use crate::schema::{Column, ColumnType, Table};
use change::{plain, transitional};

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

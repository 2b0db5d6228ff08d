//! The names people read for fields. A column's label and help text come from its table
//! description (`Column::label`, `Column::help`), stated once by whoever defines the column;
//! names no table labels fall back to the words below, then to the name itself.

use std::collections::HashMap;

use shopdb_core::schema::{Column, Table};

/// Labels and help texts of every column the server knows, by column name (the first table
/// that labels a name wins; the bundled plugins agree on the shared ones).
#[derive(Debug, Default)]
pub struct Labels {
    labels: HashMap<String, String>,
    help: HashMap<String, String>,
}

impl Labels {
    pub fn new(tables: &[Table]) -> Labels {
        let mut out = Labels::default();
        for c in tables.iter().flat_map(|t| &t.columns) {
            if let Some(l) = &c.label {
                out.labels
                    .entry(c.name.clone())
                    .or_insert_with(|| l.clone());
            }
            if let Some(h) = &c.help {
                out.help.entry(c.name.clone()).or_insert_with(|| h.clone());
            }
        }
        out
    }

    /// `assetnumber` → `Asset number`: a field name as people read it.
    pub fn label(&self, name: &str) -> String {
        match self.labels.get(name) {
            Some(l) => l.clone(),
            None => fallback(name),
        }
    }

    /// The label of `column`, its own first.
    pub fn of(&self, column: &Column) -> String {
        match &column.label {
            Some(l) => l.clone(),
            None => self.label(&column.name),
        }
    }

    /// The help text of `column`, if any table gives one.
    pub fn help_of(&self, column: &Column) -> Option<String> {
        column
            .help
            .clone()
            .or_else(|| self.help.get(&column.name).cloned())
    }
}

/// Names no table labels: the core's columns (its tables are described in
/// `shopdb_core::core_schema`, which states no labels yet), names of joined lookups, and
/// the keys of widget data.
fn fallback(name: &str) -> String {
    const WORDS: &[(&str, &str)] = &[
        // The core's tables and the names of their joined lookups.
        ("assetnumber", "Asset number"),
        ("assettypeid", "Type"),
        ("assettypename", "Type"),
        ("statusid", "Status"),
        ("statusname", "Status"),
        ("locationid", "Location"),
        ("locationname", "Location"),
        ("vendorid", "Vendor"),
        ("vendorname", "Vendor"),
        ("modelid", "Model"),
        ("modelname", "Model"),
        ("serialnumber", "Serial number"),
        ("mapx", "Map x"),
        ("mapy", "Map y"),
        ("createddate", "Created"),
        ("modifieddate", "Modified"),
        ("parentid", "Parent location"),
        ("parentname", "Parent location"),
        ("isactive", "Active"),
        // Columns the core's helpers give plugin tables (`core_schema::lastseen`).
        ("lastseen", "Last seen"),
        ("lastseenby", "Last seen by"),
        // The computers plugin's columns, until its table description states them.
        ("hostname", "Host name"),
        ("ipaddress", "IP address"),
        ("macaddress", "MAC address"),
        ("osname", "OS"),
        ("osversion", "OS version"),
        ("currentuser", "Current user"),
        ("computertype", "Computer type"),
        ("lastcheckin", "Check-in (PC clock)"),
        // Keys of widget data, which no table describes.
        ("lowcount", "Low on supplies"),
        ("lowsupplypercent", "Low below %"),
        ("overduedevices", "Overdue drives"),
        ("subnets", "Subnets"),
    ];
    if let Some((_, l)) = WORDS.iter().find(|(k, _)| *k == name) {
        return (*l).to_string();
    }
    let mut chars = name.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_states_its_labels_and_the_rest_fall_back() {
        let t = Table::new("cameras")
            .column(Column::integer("vlanid").label("VLAN").help("802.1Q tag"))
            .column(Column::string("streamurl", 200));
        let labels = Labels::new(std::slice::from_ref(&t));
        assert_eq!(labels.label("vlanid"), "VLAN");
        assert_eq!(labels.help_of(&t.columns[0]).as_deref(), Some("802.1Q tag"));
        assert_eq!(labels.label("streamurl"), "Streamurl");
        assert_eq!(labels.label("assetnumber"), "Asset number");
        assert_eq!(Labels::default().label("vlanid"), "Vlanid");
    }
}

//! What may name a table or field in model.toml: lowercase concatenated, and not a word
//! SQLite, MariaDB or PostgreSQL reserve.

/// Whether `name` is lowercase concatenated: a lowercase letter, then letters and digits.
pub fn is_plain_name(name: &str) -> bool {
    crate::is_valid_plugin_name(name)
}

/// Words SQLite, MariaDB or PostgreSQL reserve: not usable as table or field names.
const SQL_WORDS: &[&str] = &[
    "all",
    "alter",
    "analyze",
    "and",
    "any",
    "as",
    "asc",
    "between",
    "both",
    "by",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "cross",
    "current",
    "default",
    "delete",
    "desc",
    "distinct",
    "div",
    "drop",
    "else",
    "end",
    "except",
    "exists",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "in",
    "index",
    "inner",
    "insert",
    "intersect",
    "interval",
    "into",
    "is",
    "join",
    "key",
    "keys",
    "leading",
    "left",
    "like",
    "limit",
    "match",
    "mod",
    "natural",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "primary",
    "range",
    "references",
    "rename",
    "replace",
    "right",
    "row",
    "rows",
    "select",
    "set",
    "some",
    "table",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "update",
    "usage",
    "user",
    "using",
    "values",
    "when",
    "where",
    "window",
    "with",
];

/// Why `name` cannot name a table or field, if it cannot.
pub(super) fn bad_name(name: &str) -> Option<String> {
    if !is_plain_name(name) {
        Some(format!(
            "'{name}' must be lowercase concatenated: lowercase letters and digits, starting with a letter (no _, - or capitals)"
        ))
    } else if SQL_WORDS.contains(&name) {
        Some(format!(
            "'{name}' is a word the databases reserve: choose another name"
        ))
    } else {
        None
    }
}

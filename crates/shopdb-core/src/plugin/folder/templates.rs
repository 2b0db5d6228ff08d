//! The optional `templates/` folder of a folder plugin: MiniJinja page templates that replace
//! the generated detail page of the plugin's records, draw its dashboard widgets, or are
//! included by those. Templates are rendered in MiniJinja's sandbox (no file or network
//! access, output HTML-escaped); the pages' Content-Security-Policy keeps inline script from
//! running, so nothing in the folder runs as code.
//!
//! What a template may be called is limited to the plugin's own pages, so a plugin cannot
//! replace the core's pages or another plugin's:
//! - `records/<resource path>/detail.html` for one of its tables,
//! - `widgets/<widget>.html` for one of its widgets,
//! - `<plugin name>/<anything>.html` for parts the two above include or import.

use std::path::Path;

use super::problem::Problem;

/// The folder inside a plugin's folder that holds its templates.
pub const TEMPLATES_DIR: &str = "templates";
/// Largest template accepted.
pub const MAX_TEMPLATE: usize = 256 * 1024;
/// Most templates one plugin ships.
pub const MAX_TEMPLATES: usize = 64;
/// Deepest folder nesting below `templates/`.
const MAX_DEPTH: usize = 4;

/// A template's file name inside the plugin folder, for problems (`templates/<name>`).
pub fn file_of(name: &str) -> String {
    format!("{TEMPLATES_DIR}/{name}")
}

/// Whether `name` is a well-formed template name: lowercase segments of letters, digits,
/// `_` and `-` joined by `/`, the last ending in `.html`, at most four folders deep.
pub fn well_formed(name: &str) -> bool {
    let segments: Vec<&str> = name.split('/').collect();
    let Some(stem) = segments.last().and_then(|s| s.strip_suffix(".html")) else {
        return false;
    };
    let part = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    segments.len() <= MAX_DEPTH + 1
        && part(stem)
        && segments[..segments.len() - 1].iter().all(|s| part(s))
}

/// Reads every file below `dir/templates/` (none when the folder is absent), sorted by name.
/// Files that are not `.html`, badly named, too large or too many are problems.
pub fn read(dir: &Path) -> Result<Vec<(String, String)>, Vec<Problem>> {
    let root = dir.join(TEMPLATES_DIR);
    if !root.is_dir() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    let mut problems = Vec::new();
    walk(&root, "", 0, &mut found, &mut problems);
    if found.len() > MAX_TEMPLATES {
        problems.push(problem(
            TEMPLATES_DIR,
            0,
            format!(
                "{} templates; a plugin ships at most {MAX_TEMPLATES}",
                found.len()
            ),
        ));
    }
    if problems.is_empty() {
        found.sort();
        Ok(found)
    } else {
        Err(problems)
    }
}

fn walk(
    dir: &Path,
    prefix: &str,
    depth: usize,
    found: &mut Vec<(String, String)>,
    problems: &mut Vec<Problem>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(problem(
                &file_of(prefix.trim_end_matches('/')),
                0,
                format!("cannot read {}: {e}", dir.display()),
            ));
            return;
        }
    };
    for entry in entries.flatten() {
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        let path = entry.path();
        if path.is_dir() {
            if depth >= MAX_DEPTH {
                problems.push(problem(
                    &file_of(&name),
                    0,
                    format!("folders nest at most {MAX_DEPTH} deep below templates/"),
                ));
            } else {
                walk(&path, &format!("{name}/"), depth + 1, found, problems);
            }
            continue;
        }
        if !well_formed(&name) {
            problems.push(problem(
                &file_of(&name),
                0,
                "a template is a .html file named in lowercase letters, digits, '_' and '-'"
                    .to_string(),
            ));
            continue;
        }
        match std::fs::metadata(&path) {
            Ok(m) if m.len() as usize > MAX_TEMPLATE => {
                problems.push(problem(
                    &file_of(&name),
                    0,
                    format!(
                        "{} bytes; a template is at most {MAX_TEMPLATE} bytes",
                        m.len()
                    ),
                ));
                continue;
            }
            _ => {}
        }
        match std::fs::read_to_string(&path) {
            Ok(source) => found.push((name, source)),
            Err(e) => problems.push(problem(
                &file_of(&name),
                0,
                format!("cannot read {}: {e}", path.display()),
            )),
        }
    }
}

/// What plugin `plugin`'s templates may be called, given its resource paths and widgets.
pub struct Allowed<'a> {
    pub plugin: &'a str,
    pub resource_paths: Vec<String>,
    pub widgets: Vec<String>,
}

impl Allowed<'_> {
    fn permits(&self, name: &str) -> bool {
        if let Some(rest) = name.strip_prefix("records/")
            && let Some(path) = rest.strip_suffix("/detail.html")
        {
            return self.resource_paths.iter().any(|p| p == path);
        }
        if let Some(widget) = name
            .strip_prefix("widgets/")
            .and_then(|w| w.strip_suffix(".html"))
        {
            return self.widgets.iter().any(|w| w == widget);
        }
        name.strip_prefix(self.plugin)
            .is_some_and(|rest| rest.starts_with('/'))
    }

    fn names(&self) -> String {
        let mut names: Vec<String> = self
            .resource_paths
            .iter()
            .map(|p| format!("records/{p}/detail.html"))
            .collect();
        names.extend(self.widgets.iter().map(|w| format!("widgets/{w}.html")));
        names.push(format!("{}/….html", self.plugin));
        names.join(", ")
    }
}

/// Every problem of the templates: a name the plugin may not use, or a template that does
/// not parse (with its line).
pub fn check(templates: &[(String, String)], allowed: &Allowed) -> Vec<Problem> {
    let mut problems = Vec::new();
    if templates.len() > MAX_TEMPLATES {
        problems.push(problem(
            TEMPLATES_DIR,
            0,
            format!(
                "{} templates; a plugin ships at most {MAX_TEMPLATES}",
                templates.len()
            ),
        ));
    }
    let mut env = minijinja::Environment::new();
    for (name, source) in templates {
        let file = file_of(name);
        if !well_formed(name) {
            problems.push(problem(
                &file,
                0,
                "a template is a .html file named in lowercase letters, digits, '_' and '-'"
                    .to_string(),
            ));
            continue;
        }
        if source.len() > MAX_TEMPLATE {
            problems.push(problem(
                &file,
                0,
                format!(
                    "{} bytes; a template is at most {MAX_TEMPLATE} bytes",
                    source.len()
                ),
            ));
            continue;
        }
        if !allowed.permits(name) {
            problems.push(problem(
                &file,
                0,
                format!(
                    "this plugin's templates are called {}; '{name}' would replace a page it does not own",
                    allowed.names()
                ),
            ));
            continue;
        }
        if let Err(e) = env.add_template_owned(name.clone(), source.clone()) {
            let line = e.line().unwrap_or(0);
            problems.push(problem(
                &file,
                line,
                format!("does not parse: {}", e.detail().unwrap_or(&e.to_string())),
            ));
        }
    }
    problems
}

fn problem(file: &str, line: usize, message: String) -> Problem {
    Problem {
        file: file.to_string(),
        line,
        key: "(template)".into(),
        message,
    }
}

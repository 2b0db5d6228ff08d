//! `shopdb import`, `shopdb import undo` and `shopdb export`: the engine in
//! `shopdb_core::transfer`, with answers printed one line per row and a summary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use shopdb_core::auth::Actor;
use shopdb_core::state::AppState;
use shopdb_core::transfer::{
    self, ExportFormat, ImportJob, ImportOptions, Mapping, Observer, RowAction, RowAnswer,
    SheetReader,
};

use crate::progress::Progress;

/// What `shopdb import` takes from the command line.
pub struct ImportArgs {
    pub resource: String,
    pub file: PathBuf,
    pub options: ImportOptions,
    pub mapping: Option<PathBuf>,
}

/// The engine's progress reports on the command line's progress display (stderr).
struct Shown {
    progress: Progress,
    total: Option<u64>,
}

impl Shown {
    fn new(task: &str) -> Shown {
        Shown {
            progress: Progress::new(task, None),
            total: None,
        }
    }
}

impl Observer for Shown {
    fn progress(&mut self, done: u64, total: Option<u64>) {
        if total.is_some() && total != self.total {
            self.total = total;
            self.progress.set_total(total.unwrap_or_default());
        }
        let before = self.progress.done();
        if done > before {
            self.progress.add(done - before);
        }
    }
}

/// Prints each row that is not unchanged as it is decided (the totals count those), and the
/// rows read so far on the progress display.
struct Lines<W: Write> {
    out: W,
    shown: Shown,
}

impl<W: Write + Send> Observer for Lines<W> {
    fn row(&mut self, a: &RowAnswer) {
        if a.action != RowAction::Unchanged {
            let _ = writeln!(self.out, "{}", row_line(a));
        }
    }

    fn progress(&mut self, done: u64, total: Option<u64>) {
        self.shown.progress(done, total);
    }
}

/// One row's answer in one line: `line 4: update PC-0042: name 'A' -> 'B'`.
pub fn row_line(a: &RowAnswer) -> String {
    let key = a.key.as_deref().unwrap_or("(no key)");
    let action = match a.action {
        RowAction::Create => "create",
        RowAction::Update => "update",
        RowAction::Unchanged => "unchanged",
        RowAction::Error => "error",
    };
    let mut line = format!("line {}: {action} {key}", a.line);
    let shown = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "(empty)".to_string(),
        serde_json::Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    };
    let changes: Vec<String> = a
        .changes
        .iter()
        .map(|(f, c)| format!("{f} {} -> {}", shown(&c["before"]), shown(&c["after"])))
        .collect();
    if !changes.is_empty() {
        line.push_str(&format!(": {}", changes.join(", ")));
    }
    if a.action == RowAction::Error {
        let reasons: Vec<String> = a
            .errors
            .iter()
            .map(|(f, why)| format!("{f} {}", why.as_str().unwrap_or_default()))
            .collect();
        let text = if reasons.is_empty() {
            a.message.clone().unwrap_or_default()
        } else {
            reasons.join("; ")
        };
        line.push_str(&format!(": {text}"));
    }
    line
}

fn read_mapping(path: &Path) -> anyhow::Result<Mapping> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the mapping {}", path.display()))?;
    Ok(Mapping::parse(&text)?)
}

/// `shopdb import RESOURCE FILE --key FIELD ...`: exit 1 when any row is in error.
pub async fn import(state: &AppState, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let mut options = args.options;
    if let Some(path) = &args.mapping {
        options.mapping = Some(read_mapping(path)?);
    }
    let res = state.enabled_resource(&args.resource).await?;
    let resources = state.all_resources();
    let reader = SheetReader::open(&args.file)?;
    let actor = Actor::system("command line import");
    let job = ImportJob {
        db: &state.db,
        actor: &actor,
        res: &res,
        resources: &resources,
    };
    let mut lines = Lines {
        out: std::io::stdout(),
        shown: Shown::new("import"),
    };
    let report = transfer::import(job, reader, &options, &mut lines).await?;
    lines.shown.progress.finish();
    let t = &report.totals;
    println!(
        "{} rows: {} created, {} updated, {} unchanged, {} in error",
        t.rows, t.created, t.updated, t.unchanged, t.errors
    );
    match (&report.batchid, report.dryrun) {
        (_, true) => println!("dry run: nothing was changed"),
        (Some(batch), _) => {
            println!("applied as import batch {batch} (undo: shopdb import undo {batch})")
        }
        (None, _) if options.all_or_nothing && t.errors > 0 => {
            println!(
                "nothing was changed: --all-or-nothing and {} rows in error",
                t.errors
            )
        }
        (None, _) => println!("nothing to change"),
    }
    Ok(if t.errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `shopdb import undo BATCH`.
pub async fn undo(state: &AppState, batch: &str) -> anyhow::Result<ExitCode> {
    let resources = state.all_resources();
    let actor = Actor::system("command line import");
    let done = transfer::undo(&state.db, &actor, batch, &resources, &state.tables).await?;
    println!(
        "import batch {} undone: {} records deleted, {} records restored",
        done.batchid, done.deleted, done.restored
    );
    Ok(ExitCode::SUCCESS)
}

/// `shopdb export RESOURCE [--format csv|xlsx] [FIELD=VALUE ...] [--output FILE]`.
pub async fn export(
    state: &AppState,
    resource: &str,
    format: &str,
    filters: &[String],
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let format = ExportFormat::parse(format)?;
    let mut pairs = Vec::new();
    for f in filters {
        let (k, v) = f
            .split_once('=')
            .with_context(|| format!("'{f}' is not a filter: write FIELD=VALUE"))?;
        pairs.push((k.trim().to_string(), v.to_string()));
    }
    let res = state.enabled_resource(resource).await?;
    let resources = state.all_resources();
    let mut out: Box<dyn Write + Send> = match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        )),
        None if format == ExportFormat::Xlsx => {
            anyhow::bail!("an .xlsx export needs --output FILE")
        }
        None => Box::new(std::io::stdout()),
    };
    let mut shown = Shown::new("export");
    let count = transfer::export(
        &state.db, &res, &resources, &pairs, format, &mut out, &mut shown,
    )
    .await;
    shown.progress.finish();
    let count = match count {
        Ok(n) => n,
        Err(e) => {
            if let Some(path) = output {
                let _ = std::fs::remove_file(path);
            }
            return Err(e.into());
        }
    };
    out.flush()?;
    if let Some(path) = output {
        eprintln!("{count} records written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

//! Data in and out: importing CSV and .xlsx files into any resource (assets and every
//! plugin's records), undoing an import batch, and exporting any list as CSV or .xlsx.
//!
//! - `read`: the file as rows of text (encodings, separators, spreadsheet cells);
//! - `mapping`: which field each column fills, and cell text as field values;
//! - `import`: matching, checking and writing rows (or a dry run of it);
//! - `undo`: taking an applied batch back;
//! - `export`: a filtered list as a file that imports back unchanged.

mod compare;
pub mod export;
mod fast;
pub mod import;
pub mod mapping;
pub mod read;
pub mod undo;

pub use export::{ExportFormat, export};
pub use import::{ImportJob, ImportOptions, ImportReport, RowAction, RowAnswer, import};
pub use mapping::Mapping;
pub use read::SheetReader;
pub use undo::{UndoReport, undo};

/// Who follows a long import or export: each row's answer as it is decided, and how far the
/// work is (`done` rows of `total`, when the total is known). Both default to nothing.
pub trait Observer {
    fn row(&mut self, _answer: &RowAnswer) {}
    fn progress(&mut self, _done: u64, _total: Option<u64>) {}
}

/// An observer that follows nothing.
pub struct Quiet;
impl Observer for Quiet {}

/// A new import batch id: the time and a random part (`20261204-134501-k3x9q2`).
pub fn batch_id() -> String {
    let stamp: String = crate::util::now()
        .chars()
        .filter(char::is_ascii_digit)
        .take(14)
        .collect();
    let random: String = crate::util::random_token(6)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(6)
        .collect::<String>()
        .to_lowercase();
    format!(
        "{}-{}-{random}",
        &stamp[..8.min(stamp.len())],
        &stamp[8.min(stamp.len())..]
    )
}

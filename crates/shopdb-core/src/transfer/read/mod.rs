//! Reading an import file as rows of text, a chunk at a time: CSV (UTF-8 with or without a
//! byte-order mark, or Windows-1252; comma, semicolon or tab separated, told from the header
//! line) or the first sheet of an .xlsx workbook (`workbook`). Neither is held whole: only the
//! chunk being read is in memory (and, for a workbook, its shared-strings table).

mod workbook;

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::DomainError;

use workbook::{Workbook, WorkbookRows};

/// One data row of the file: where it is (1 is the header line) and its cells as text.
#[derive(Clone, Debug)]
pub struct Row {
    pub line: u64,
    pub cells: Vec<String>,
}

/// Any byte source a file can be read from again (a file on disk, an upload in memory).
pub trait Source: Read + Seek + Send {}
impl<T: Read + Seek + Send> Source for T {}

type CsvReader = csv::Reader<Box<dyn Read + Send>>;

enum Body {
    Csv {
        reader: CsvReader,
        utf8: bool,
        lines: Arc<Mutex<LineEnds>>,
    },
    Workbook(Workbook),
}

/// Where the line ends of a CSV file are, as far as it has been read, so a row's line can be
/// told from the byte its reading began at: the csv crate skips empty lines without counting
/// them.
/// Only the line ends not yet passed by a row are kept (those in the reader's buffer).
#[derive(Default)]
struct LineEnds {
    /// Line ends before the last row asked about.
    passed: u64,
    /// Offsets of the line ends read since.
    ahead: VecDeque<u64>,
}

impl LineEnds {
    /// The first line (1 is the first of the file) of a row whose reading began at byte
    /// `start`: the csv crate starts a row where the previous one ended, before the empty
    /// lines it then skips, so those are passed over here. Asked in the order of the file.
    fn first_line(&mut self, start: u64) -> u64 {
        while self.ahead.front().is_some_and(|end| *end < start) {
            self.ahead.pop_front();
            self.passed += 1;
        }
        // Each empty line is a line end right where the one before it ended.
        let mut next = start;
        while self.ahead.front() == Some(&next) {
            self.ahead.pop_front();
            self.passed += 1;
            next += 1;
        }
        self.passed + 1
    }
}

/// A byte source that notes the offset of every line end read through it in `LineEnds`.
struct CountLines<R> {
    inner: R,
    offset: u64,
    ends: Arc<Mutex<LineEnds>>,
}

impl<R: Read> Read for CountLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut ends = self.ends.lock().unwrap_or_else(PoisonError::into_inner);
        for (i, _) in buf[..n].iter().enumerate().filter(|(_, b)| **b == b'\n') {
            ends.ahead.push_back(self.offset + i as u64);
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// A file opened for reading: its header, read already, and what reads its rows.
pub struct SheetReader {
    pub headers: Vec<String>,
    /// How many data rows there are at most, when the file says so without reading them (the
    /// extent an .xlsx sheet records; blank rows are counted, then left out).
    pub total: Option<u64>,
    body: Body,
}

/// The data rows of a file, read a chunk at a time (from [`SheetReader::rows`]).
pub struct Rows<'a> {
    pub headers: &'a [String],
    pub total: Option<u64>,
    inner: RowsInner<'a>,
}

enum RowsInner<'a> {
    Csv {
        reader: &'a mut CsvReader,
        utf8: bool,
        lines: &'a Arc<Mutex<LineEnds>>,
    },
    Workbook(WorkbookRows<'a>),
}

fn unreadable(what: impl std::fmt::Display) -> DomainError {
    DomainError::field("file", format!("cannot be read: {what}"))
}

impl SheetReader {
    /// Opens `path`: an .xlsx workbook by its name, anything else as CSV.
    pub fn open(path: &Path) -> Result<SheetReader, DomainError> {
        let file = File::open(path).map_err(|e| unreadable(format!("{}: {e}", path.display())))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        SheetReader::from_source(name, Box::new(BufReader::new(file)))
    }

    /// Reads `bytes` (an upload) named `name`.
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<SheetReader, DomainError> {
        SheetReader::from_source(name, Box::new(Cursor::new(bytes)))
    }

    fn from_source(name: &str, mut source: Box<dyn Source>) -> Result<SheetReader, DomainError> {
        let mut magic = [0u8; 4];
        let n = read_up_to(&mut source, &mut magic)?;
        source.seek(SeekFrom::Start(0)).map_err(unreadable)?;
        let zipped = n == 4 && magic == *b"PK\x03\x04";
        if zipped || name.to_lowercase().ends_with(".xlsx") {
            let (book, headers, total) = Workbook::open(source)?;
            return Ok(SheetReader {
                headers,
                total,
                body: Body::Workbook(book),
            });
        }
        SheetReader::csv(source)
    }

    fn csv(mut source: Box<dyn Source>) -> Result<SheetReader, DomainError> {
        let utf8 = is_utf8(&mut source).map_err(unreadable)?;
        source.seek(SeekFrom::Start(0)).map_err(unreadable)?;
        let mut head = vec![0u8; 64 * 1024];
        let n = read_up_to(&mut source, &mut head)?;
        head.truncate(n);
        let skip = if head.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        let separator = separator(&head[skip..]);
        let lines = Arc::new(Mutex::new(LineEnds::default()));
        let rest: Box<dyn Read + Send> = Box::new(CountLines {
            inner: Cursor::new(head.split_off(skip)).chain(source),
            offset: 0,
            ends: lines.clone(),
        });
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(separator)
            // Lines end at LF (a CR before it is taken off the last cell), so rows know
            // their line in files with Windows line ends too.
            .terminator(csv::Terminator::Any(b'\n'))
            .has_headers(false)
            .flexible(true)
            .from_reader(rest);
        let mut header = csv::ByteRecord::new();
        if !reader.read_byte_record(&mut header).map_err(unreadable)? {
            return Err(unreadable("the file is empty: it needs a header line"));
        }
        let headers = cells(&header, utf8);
        Ok(SheetReader {
            headers,
            total: None,
            body: Body::Csv {
                reader,
                utf8,
                lines,
            },
        })
    }

    /// The rows after the header, to be read once: a workbook's sheet is read from its start
    /// again (the header was read on opening), a CSV file goes on where it is.
    pub fn rows(&mut self) -> Result<Rows<'_>, DomainError> {
        let inner = match &mut self.body {
            Body::Csv {
                reader,
                utf8,
                lines,
            } => RowsInner::Csv {
                reader,
                utf8: *utf8,
                lines,
            },
            Body::Workbook(book) => RowsInner::Workbook(book.rows()?),
        };
        Ok(Rows {
            headers: &self.headers,
            total: self.total,
            inner,
        })
    }
}

impl Rows<'_> {
    /// Up to `max` more rows (fewer at the end of the file; none when it is read). Rows whose
    /// cells are all empty are left out.
    pub fn next_chunk(&mut self, max: usize) -> Result<Vec<Row>, DomainError> {
        let mut out = Vec::with_capacity(max.min(4096));
        match &mut self.inner {
            RowsInner::Csv {
                reader,
                utf8,
                lines,
            } => {
                let mut record = csv::ByteRecord::new();
                while out.len() < max {
                    if !reader.read_byte_record(&mut record).map_err(unreadable)? {
                        break;
                    }
                    if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
                        continue;
                    }
                    let line = record.position().map_or(0, |p| {
                        lines
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .first_line(p.byte())
                    });
                    out.push(Row {
                        line,
                        cells: cells(&record, *utf8),
                    });
                }
            }
            RowsInner::Workbook(rows) => {
                while out.len() < max {
                    let Some(row) = rows.next_row()? else {
                        break;
                    };
                    out.push(row);
                }
            }
        }
        Ok(out)
    }
}

fn read_up_to(source: &mut dyn Read, buf: &mut [u8]) -> Result<usize, DomainError> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]).map_err(unreadable)? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Whether everything `source` holds is UTF-8, read in blocks (the file is not kept).
fn is_utf8(source: &mut dyn Read) -> std::io::Result<bool> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut carry = 0;
    loop {
        let n = source.read(&mut buf[carry..])?;
        if n == 0 {
            return Ok(carry == 0);
        }
        let end = carry + n;
        match std::str::from_utf8(&buf[..end]) {
            Ok(_) => carry = 0,
            Err(e) if e.error_len().is_some() => return Ok(false),
            // A character cut by the block's end: keep its first bytes for the next block.
            Err(e) => {
                let valid = e.valid_up_to();
                buf.copy_within(valid..end, 0);
                carry = end - valid;
            }
        }
    }
}

/// The field separator the header line uses most: comma, semicolon or tab (comma on a tie).
fn separator(head: &[u8]) -> u8 {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let mut quoted = false;
    let mut counts = [0usize; 3];
    for b in line {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let candidates = [b',', b';', b'\t'];
    let best = (0..3)
        .max_by_key(|i| (counts[*i], std::cmp::Reverse(*i)))
        .unwrap_or(0);
    candidates[best]
}

/// A record's cells as text, without the CR of a CRLF line end.
fn cells(record: &csv::ByteRecord, utf8: bool) -> Vec<String> {
    let last = record.len().saturating_sub(1);
    record
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let f = if i == last {
                f.strip_suffix(b"\r").unwrap_or(f)
            } else {
                f
            };
            decode(f, utf8)
        })
        .collect()
}

fn decode(field: &[u8], utf8: bool) -> String {
    if utf8 {
        String::from_utf8_lossy(field).into_owned()
    } else {
        encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(field)
            .0
            .into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
        let mut r = SheetReader::from_bytes("x.csv", bytes.to_vec()).unwrap();
        let rows = r
            .rows()
            .unwrap()
            .next_chunk(100)
            .unwrap()
            .into_iter()
            .map(|r| r.cells)
            .collect();
        (r.headers, rows)
    }

    #[test]
    fn separators_are_told_from_the_header_line() {
        for (text, sep) in [
            ("a,b;c\n1,2;3\n", ","),
            ("a;b;c\n1;2;3\n", ";"),
            ("a\tb\tc\n1\t2\t3\n", "\t"),
            ("\"x,y\";b\n1;2\n", ";"),
        ] {
            assert_eq!(separator(text.as_bytes()), sep.as_bytes()[0], "{text:?}");
        }
    }

    #[test]
    fn bom_and_windows_1252_are_read() {
        let (h, rows) = read_all(b"\xEF\xBB\xBFname;notes\nM\xC3\xBCller;x\n");
        assert_eq!(h, ["name", "notes"]);
        assert_eq!(rows, [["Müller", "x"]]);
        let (h, rows) = read_all(b"name,notes\nM\xFCller,\x80 5\n");
        assert_eq!(h, ["name", "notes"]);
        assert_eq!(rows, [["Müller", "€ 5"]]);
    }

    #[test]
    fn quoted_fields_keep_line_breaks_and_rows_know_their_line() {
        let mut r = SheetReader::from_bytes(
            "x.csv",
            b"a,b\r\n\"one\r\ntwo\",2\r\n\r\n3,\"4\"\r\n".to_vec(),
        )
        .unwrap();
        assert_eq!(r.headers, ["a", "b"]);
        let rows = r.rows().unwrap().next_chunk(10).unwrap();
        assert_eq!(rows[0].cells, ["one\r\ntwo", "2"]);
        assert_eq!(rows[1].cells, ["3", "4"]);
        assert_eq!((rows[0].line, rows[1].line), (2, 5));
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn rows_after_empty_lines_know_their_line() {
        // Empty lines (no cells at all) are skipped, but they are lines of the file: the row
        // after them is named by its own line in a report.
        let mut r = SheetReader::from_bytes(
            "x.csv",
            b"\xEF\xBB\xBFa,b\n1,x\n\n\n2,y\n\r\n\n3,z".to_vec(),
        )
        .unwrap();
        let rows = r.rows().unwrap().next_chunk(10).unwrap();
        let lines: Vec<(u64, &str)> = rows.iter().map(|r| (r.line, r.cells[0].as_str())).collect();
        assert_eq!(lines, [(2, "1"), (5, "2"), (8, "3")]);
        // A quote left open runs to the end of the file, line ends and all: still one row,
        // on the line it starts.
        let mut r =
            SheetReader::from_bytes("x.csv", b"a;b\nx;1\r\nM-1;\"Lathe\nmore\n2\r\n".to_vec())
                .unwrap();
        let rows = r.rows().unwrap().next_chunk(10).unwrap();
        let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 3]);
    }
}

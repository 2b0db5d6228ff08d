//! The first sheet of an .xlsx workbook, read cell by cell (calamine's cell reader) in the
//! order the sheet stores its cells, so that only the row being read is held. What calamine
//! loads whole when it opens the workbook stays in memory until the import ends: the
//! shared-strings table (each distinct text of the workbook once) and the cell styles.
//!
//! The header is the first row with a value (where calamine's whole-sheet range starts). Cells
//! are placed by their column from A: a missing cell is empty, and a cell right of the last
//! header is not read (its column names no field). Rows are numbered as the spreadsheet shows
//! them.

use calamine::{Cell, DataRef, Reader, Xlsx, XlsxError};

use super::{Row, Source, unreadable};
use crate::error::DomainError;

/// Column XFD, the last one a sheet has: a header right of it is a broken file.
const COLUMNS: u32 = 16_384;

/// An opened workbook: what it needs to read its first sheet's rows.
pub(super) struct Workbook {
    book: Xlsx<Box<dyn Source>>,
    sheet: String,
    /// The header's row in the sheet (from 0).
    header_row: u32,
    /// How many columns, from A, the header spans.
    width: usize,
}

/// The next cell with a value, or `None` at the sheet's end (calamine's cell reader, whose
/// type it does not name, behind a closure).
type NextCell<'a> = Box<dyn FnMut() -> Result<Option<Cell<DataRef<'a>>>, XlsxError> + Send + 'a>;

/// The first sheet's rows below the header, read a row at a time.
pub(super) struct WorkbookRows<'a> {
    next_cell: NextCell<'a>,
    /// The first cell of the next row, read while the row before it was collected.
    ahead: Option<Cell<DataRef<'a>>>,
    /// The cell reader has reached the sheet's end (it must not be asked again).
    done: bool,
    /// The row read last (from 0): rows must come in order.
    last_row: u32,
    width: usize,
}

fn empty_sheet() -> DomainError {
    unreadable("the first sheet is empty: it needs a header row")
}

/// The first sheet's cells with a value, read from its start; `None` when the first sheet is
/// not a worksheet (a chart sheet), which has no cells.
fn cells_with_values<'a>(
    book: &'a mut Xlsx<Box<dyn Source>>,
    sheet: &str,
) -> Result<Option<(NextCell<'a>, calamine::Dimensions)>, DomainError> {
    let mut reader = match book.worksheet_cells_reader(sheet) {
        Ok(reader) => reader,
        Err(XlsxError::NotAWorksheet(_)) => return Ok(None),
        Err(e) => return Err(unreadable(e)),
    };
    let extent = reader.dimensions();
    let next: NextCell<'a> = Box::new(move || {
        loop {
            match reader.next_cell()? {
                Some(cell) if matches!(cell.get_value(), DataRef::Empty) => {}
                other => return Ok(other),
            }
        }
    });
    Ok(Some((next, extent)))
}

fn out_of_order(row: u32, after: u32) -> DomainError {
    unreadable(format!(
        "the sheet stores row {} after row {}; rows must come in order",
        u64::from(row) + 1,
        u64::from(after) + 1
    ))
}

/// The first sheet's header: its row (from 0), its cells as text from column A to its last
/// cell with a value, and the extent the sheet records.
fn read_header(
    book: &mut Xlsx<Box<dyn Source>>,
    sheet: &str,
) -> Result<(u32, Vec<String>, calamine::Dimensions), DomainError> {
    let Some((mut next, extent)) = cells_with_values(book, sheet)? else {
        return Err(empty_sheet());
    };
    let Some(first) = next().map_err(unreadable)? else {
        return Err(empty_sheet());
    };
    let header_row = first.get_position().0;
    let mut header = vec![first];
    while let Some(cell) = next().map_err(unreadable)? {
        let row = cell.get_position().0;
        if row < header_row {
            return Err(out_of_order(row, header_row));
        }
        if row > header_row {
            break;
        }
        header.push(cell);
    }
    let width = header
        .iter()
        .map(|c| c.get_position().1)
        .max()
        .unwrap_or_default();
    if width >= COLUMNS {
        return Err(unreadable("the header has a cell right of column XFD"));
    }
    let mut headers = vec![String::new(); width as usize + 1];
    for cell in &header {
        headers[cell.get_position().1 as usize] = cell_text(cell.get_value());
    }
    Ok((header_row, headers, extent))
}

impl Workbook {
    /// Opens a workbook and reads its first sheet's header row: the workbook, the headers
    /// and, when the sheet records its extent, how many rows at most follow the header.
    pub(super) fn open(
        source: Box<dyn Source>,
    ) -> Result<(Workbook, Vec<String>, Option<u64>), DomainError> {
        let mut book =
            Xlsx::new(source).map_err(|e| unreadable(format!("not an .xlsx workbook ({e})")))?;
        let sheet = book
            .sheet_names()
            .into_iter()
            .next()
            .ok_or_else(|| unreadable("the workbook has no sheet"))?;
        let (header_row, headers, extent) = read_header(&mut book, &sheet)?;
        let end = extent.end.0;
        let total = (end > header_row).then(|| u64::from(end - header_row));
        let width = headers.len();
        Ok((
            Workbook {
                book,
                sheet,
                header_row,
                width,
            },
            headers,
            total,
        ))
    }

    /// The rows below the header, read from the sheet's start again.
    pub(super) fn rows(&mut self) -> Result<WorkbookRows<'_>, DomainError> {
        let header_row = self.header_row;
        let (mut next, _) =
            cells_with_values(&mut self.book, &self.sheet)?.ok_or_else(empty_sheet)?;
        let mut ahead = None;
        while let Some(cell) = next().map_err(unreadable)? {
            if cell.get_position().0 > header_row {
                ahead = Some(cell);
                break;
            }
        }
        Ok(WorkbookRows {
            next_cell: next,
            done: ahead.is_none(),
            ahead,
            last_row: header_row,
            width: self.width,
        })
    }
}

impl<'a> WorkbookRows<'a> {
    fn next_cell(&mut self) -> Result<Option<Cell<DataRef<'a>>>, DomainError> {
        if self.done {
            return Ok(None);
        }
        let cell = (self.next_cell)().map_err(unreadable)?;
        self.done = cell.is_none();
        Ok(cell)
    }

    /// The next row with a cell that is not blank, its cells as many as the header has; rows
    /// of blank text only are passed over.
    pub(super) fn next_row(&mut self) -> Result<Option<Row>, DomainError> {
        loop {
            let first = match self.ahead.take() {
                Some(cell) => cell,
                None => match self.next_cell()? {
                    Some(cell) => cell,
                    None => return Ok(None),
                },
            };
            let row = first.get_position().0;
            if row <= self.last_row {
                return Err(out_of_order(row, self.last_row));
            }
            self.last_row = row;
            let mut cells = vec![String::new(); self.width];
            let mut blank = true;
            let mut cell = first;
            loop {
                let text = cell_text(cell.get_value());
                blank &= text.trim().is_empty();
                if let Some(slot) = cells.get_mut(cell.get_position().1 as usize) {
                    *slot = text;
                }
                match self.next_cell()? {
                    Some(next) if next.get_position().0 == row => cell = next,
                    next => {
                        self.ahead = next;
                        break;
                    }
                }
            }
            if !blank {
                return Ok(Some(Row {
                    line: u64::from(row) + 1,
                    cells,
                }));
            }
        }
    }
}

/// A spreadsheet cell as the text an import reads: whole numbers without a decimal point
/// (an asset number typed as a number), dates as `2026-11-21` and date-times in RFC 3339.
fn cell_text(cell: &DataRef<'_>) -> String {
    match cell {
        DataRef::Empty => String::new(),
        DataRef::SharedString(s) => (*s).to_string(),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        DataRef::Float(f) => f.to_string(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) => excel_date(d.to_ymd_hms_milli()),
        DataRef::Error(e) => format!("#{e:?}"),
    }
}

/// An Excel date as `2026-11-21`, or with a time as `2026-11-21T14:05:00Z`, to the nearest
/// second (a serial number often lands a millisecond short of the second typed).
fn excel_date((y, mo, d, h, mi, s, ms): (u16, u8, u8, u8, u8, u8, u16)) -> String {
    use time::{Date, Duration, Month, PrimitiveDateTime, Time};
    let parts = Month::try_from(mo).ok().and_then(|m| {
        let date = Date::from_calendar_date(i32::from(y), m, d).ok()?;
        Some(PrimitiveDateTime::new(date, Time::from_hms(h, mi, s).ok()?))
    });
    let Some(mut at) = parts else {
        return format!("{y:04}-{mo:02}-{d:02}");
    };
    if ms >= 500 {
        at += Duration::seconds(1);
    }
    if at.time() == Time::MIDNIGHT {
        return at.date().to_string();
    }
    crate::util::format_timestamp(at.assume_utc())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::super::SheetReader;
    use super::*;

    /// A workbook of one sheet whose `<sheetData>` is `rows`, with `strings` as its shared
    /// strings and `extent` as its recorded dimension, zipped as Excel does.
    fn workbook(rows: &str, strings: &[&str], extent: Option<&str>) -> Vec<u8> {
        let ns = r#"xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main""#;
        let rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
        let shared: String = strings
            .iter()
            .map(|s| format!("<si><t>{s}</t></si>"))
            .collect();
        let dimension = extent
            .map(|e| format!(r#"<dimension ref="{e}"/>"#))
            .unwrap_or_default();
        let files = [
            (
                "xl/workbook.xml",
                format!(
                    r#"<workbook {ns} xmlns:r="{rel}"><sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>"#
                ),
            ),
            (
                "xl/_rels/workbook.xml.rels",
                format!(
                    r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#
                ),
            ),
            ("xl/sharedStrings.xml", format!("<sst {ns}>{shared}</sst>")),
            (
                "xl/worksheets/sheet1.xml",
                format!("<worksheet {ns}>{dimension}<sheetData>{rows}</sheetData></worksheet>"),
            ),
        ];
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, text) in files {
            zip.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    type Read = (Vec<String>, Vec<(u64, Vec<String>)>);

    /// The header and every row of a file, read two rows at a time.
    fn read(name: &str, bytes: Vec<u8>) -> Result<Read, DomainError> {
        let mut reader = SheetReader::from_bytes(name, bytes)?;
        let mut rows = reader.rows()?;
        let mut out = Vec::new();
        loop {
            let chunk = rows.next_chunk(2)?;
            if chunk.is_empty() {
                break;
            }
            out.extend(chunk.into_iter().map(|r| (r.line, r.cells)));
        }
        Ok((rows.headers.to_vec(), out))
    }

    #[test]
    fn a_sheet_with_gaps_reads_as_its_csv() {
        let strings = [
            "assetnumber",
            "name",
            "serialnumber",
            "notes",
            "M-1",
            "first",
            "M-2",
            "Mill",
            "M-4",
        ];
        // Row 3 lacks B and D, row 4 holds a formatted empty cell only, row 5 is not stored,
        // row 6 starts at C, row 7 is blank text, row 8's cells give no position. The CSV is
        // as Excel saves the sheet: empty rows as separators only.
        let rows = r#"
            <row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>3</v></c></row>
            <row r="2"><c r="A2" t="s"><v>4</v></c><c r="B2"><v>1001</v></c><c r="C2" t="inlineStr"><is><t>00123</t></is></c><c r="D2" t="s"><v>5</v></c></row>
            <row r="3"><c r="A3" t="s"><v>6</v></c><c r="C3"><v>2.5</v></c></row>
            <row r="4"><c r="B4" s="0"/></row>
            <row r="6"><c r="C6" t="s"><v>7</v></c><c r="D6" t="b"><v>1</v></c></row>
            <row r="7"><c r="A7" t="inlineStr"><is><t> </t></is></c></row>
            <row r="8"><c t="s"><v>8</v></c><c><v>7</v></c></row>"#;
        let csv = "assetnumber,name,serialnumber,notes\n\
                   M-1,1001,00123,first\n\
                   M-2,,2.5,\n\
                   ,,,\n\
                   ,,,\n\
                   ,,Mill,true\n \
                   ,,,\n\
                   M-4,7,,\n";
        let sheet = read("t.xlsx", workbook(rows, &strings, Some("A1:D8"))).unwrap();
        let text = read("t.csv", csv.as_bytes().to_vec()).unwrap();
        assert_eq!(sheet, text);
        assert_eq!(
            sheet.1.iter().map(|r| r.0).collect::<Vec<_>>(),
            [2, 3, 6, 8]
        );
    }

    #[test]
    fn the_header_is_the_first_row_with_a_value_and_lines_are_the_sheets_rows() {
        let rows = r#"
            <row r="1"><c r="A1" s="1"/></row>
            <row r="3"><c r="B3" t="inlineStr"><is><t>a</t></is></c><c r="C3" t="inlineStr"><is><t>b</t></is></c></row>
            <row r="4"><c r="B4"><v>1</v></c><c r="E4"><v>9</v></c></row>
            <row r="5"><c r="E5"><v>9</v></c></row>"#;
        let book = workbook(rows, &[], Some("A1:E5"));
        let (headers, read) = read("t.xlsx", book.clone()).unwrap();
        assert_eq!(headers, ["", "a", "b"]);
        // A value right of the header is not read, but its row is there (with no key).
        assert_eq!(
            read,
            [
                (4, vec![String::new(), "1".into(), String::new()]),
                (5, vec![String::new(); 3]),
            ]
        );
        let reader = SheetReader::from_bytes("t.xlsx", book).unwrap();
        assert_eq!(reader.total, Some(2), "rows 4 and 5 after the header");
        let reader = SheetReader::from_bytes("t.xlsx", workbook(rows, &[], None)).unwrap();
        assert_eq!(reader.total, None);
    }

    #[test]
    fn broken_sheets_are_refused_by_what_is_wrong() {
        let problem = |rows: &str| {
            let e = read("t.xlsx", workbook(rows, &[], None)).unwrap_err();
            e.details["file"].as_str().unwrap_or_default().to_string()
        };
        assert!(problem("").contains("the first sheet is empty"));
        assert!(
            problem(r#"<row r="2"><c r="A2" s="1"/></row>"#).contains("the first sheet is empty")
        );
        let cell = |r: &str| format!(r#"<c r="{r}" t="inlineStr"><is><t>x</t></is></c>"#);
        let rows = format!(
            "<row r=\"1\">{}</row><row r=\"3\">{}</row><row r=\"2\">{}</row>",
            cell("A1"),
            cell("A3"),
            cell("A2")
        );
        assert!(
            problem(&rows).contains("row 2 after row 3"),
            "{}",
            problem(&rows)
        );
        let rows = format!("<row r=\"1\">{}</row>", cell("XFE1"));
        assert!(
            problem(&rows).contains("right of column XFD"),
            "{}",
            problem(&rows)
        );
        let e = read("t.xlsx", b"PK\x03\x04 not a zip".to_vec()).unwrap_err();
        assert!(
            e.details["file"]
                .as_str()
                .unwrap()
                .contains("not an .xlsx workbook")
        );
    }

    #[test]
    fn excel_dates_are_rounded_to_the_second() {
        assert_eq!(excel_date((2026, 11, 21, 0, 0, 0, 0)), "2026-11-21");
        assert_eq!(excel_date((2026, 11, 21, 23, 59, 59, 999)), "2026-11-22");
        assert_eq!(
            excel_date((2026, 11, 21, 14, 4, 59, 999)),
            "2026-11-21T14:05:00Z"
        );
    }
}

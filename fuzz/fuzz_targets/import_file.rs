//! An uploaded import file: any bytes, as CSV (any encoding, separator, quoting) and as an
//! .xlsx workbook. No panic; rows come in order, numbered after the header line; a workbook's
//! rows have as many cells as its header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shopdb_core::transfer::SheetReader;

fuzz_target!(|data: &[u8]| {
    for name in ["upload.csv", "upload.xlsx"] {
        let Ok(mut reader) = SheetReader::from_bytes(name, data.to_vec()) else {
            continue;
        };
        let workbook = name.ends_with(".xlsx") || data.starts_with(b"PK\x03\x04");
        let Ok(mut rows) = reader.rows() else {
            continue;
        };
        let mut last = 0;
        loop {
            let Ok(chunk) = rows.next_chunk(64) else {
                break;
            };
            if chunk.is_empty() {
                break;
            }
            for row in chunk {
                assert!(row.line > last, "rows in order: {} after {last}", row.line);
                if workbook {
                    assert_eq!(row.cells.len(), rows.headers.len(), "line {}", row.line);
                }
                last = row.line;
            }
        }
    }
});

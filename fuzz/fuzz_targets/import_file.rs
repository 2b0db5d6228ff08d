//! An uploaded import file: any bytes, as CSV (any encoding, separator, quoting) and as an
//! .xlsx workbook. No panic; rows come in order, numbered after the header line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shopdb_core::transfer::SheetReader;

fuzz_target!(|data: &[u8]| {
    for name in ["upload.csv", "upload.xlsx"] {
        let Ok(mut reader) = SheetReader::from_bytes(name, data.to_vec()) else {
            continue;
        };
        let mut last = 0;
        loop {
            let Ok(rows) = reader.next_chunk(64) else {
                break;
            };
            if rows.is_empty() {
                break;
            }
            for row in rows {
                assert!(row.line > last, "rows in order: {} after {last}", row.line);
                last = row.line;
            }
        }
    }
});

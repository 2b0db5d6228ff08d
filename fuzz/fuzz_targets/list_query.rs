//! The query string of a list (`page`, `per_page`, `sort`, `q`, field filters), parsed and
//! turned into SQL for assets and for PCs on each of the three databases. No panic, and every
//! value the request gives is bound: the SQL holds exactly one placeholder per bound value.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shopdb_core::db::Dialect;
use shopdb_core::http::ListParams;
use shopdb_core::resource::Resource;

fn resources() -> &'static [Resource] {
    static ALL: OnceLock<Vec<Resource>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut all = vec![shopdb_core::catalog::assets()];
        all.extend(computers::plugin().expect("computers loads").resources());
        all
    })
}

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let Ok(params) = ListParams::parse(Some(&raw)) else {
        return;
    };
    assert!(params.page >= 1 && params.per_page >= 1);
    for resource in resources() {
        for dialect in [Dialect::Sqlite, Dialect::MySql, Dialect::Postgres] {
            let Ok((filter, order, values)) = resource.list_clauses(dialect, &params) else {
                continue;
            };
            let sql = format!("{filter}{order}");
            assert_eq!(
                sql.matches('?').count(),
                values.len(),
                "a request value reached the SQL text: {raw:?} -> {sql}"
            );
        }
    }
});

//! Import and export: files as people have them, dry runs, bad rows, references by name,
//! import batches and their undo, a plugin's own checks, the API's rules, and a round trip of
//! every resource, on every database.

use axum::http::StatusCode;
use serde_json::{Value, json};
use shopdb_core::auth::{Actor, Role};
use shopdb_core::error::ErrorKind;

use crate::backend_tests;
use crate::support::{Reply, TestApp};

async fn import(
    app: &TestApp,
    resource: &str,
    name: &str,
    file: &[u8],
    fields: &[(&str, &str)],
) -> Reply {
    let r = app
        .upload(
            &format!("/api/import/{resource}"),
            &app.admin,
            name,
            file,
            fields,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "import into {resource}: {}",
        r.body
    );
    r
}

fn actions(r: &Reply) -> Vec<String> {
    r.data()["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| row["action"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The asset with asset number `number` (exactly), if there is one.
async fn asset(app: &TestApp, number: &str) -> Option<Value> {
    let r = app.get(&format!("/api/assets?assetnumber={number}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.data().as_array().and_then(|a| a.first().cloned())
}

async fn audit_entries(app: &TestApp) -> i64 {
    app.count("auditlog").await
}

async fn undo(
    app: &TestApp,
    batch: &str,
) -> Result<shopdb_core::transfer::UndoReport, shopdb_core::error::DomainError> {
    let resources = app.state.all_resources();
    shopdb_core::transfer::undo(
        app.db(),
        &Actor::system("tests"),
        batch,
        &resources,
        &app.state.tables,
    )
    .await
}

backend_tests! {
    async fn files_as_people_have_them_are_read(app) {
        // Windows-1252, semicolons, a quoted field with a line break, CRLF line ends.
        let ansi = b"Asset Number;Name;Asset Type;Notes\r\nM-1;Drehbank Gro\xDF;Other;\"line one\r\nline two\"\r\n";
        let r = import(&app, "assets", "plant.csv", ansi, &[("key", "assetnumber")]).await;
        assert_eq!(r.data()["totals"]["created"], 1, "{}", r.body);
        let m1 = asset(&app, "M-1").await.expect("M-1 imported");
        assert_eq!(m1["name"], "Drehbank Groß");
        assert_eq!(m1["notes"], "line one\r\nline two");

        // UTF-8 with a byte-order mark, tab separated.
        let tabbed = "\u{feff}assetnumber\tname\tassettype\nM-2\tFräse №2\tOther\n";
        let r = import(&app, "assets", "plant.txt", tabbed.as_bytes(), &[("key", "assetnumber")]).await;
        assert_eq!(r.data()["totals"]["created"], 1, "{}", r.body);
        assert_eq!(asset(&app, "M-2").await.expect("M-2")["name"], "Fräse №2");

        // Commas, with a separator inside quotes.
        let plain = "assetnumber,name,assettypename\nM-3,\"Mill, large\",Other\n";
        let r = import(&app, "assets", "plant.csv", plain.as_bytes(), &[("key", "assetnumber")]).await;
        assert_eq!(r.data()["totals"]["created"], 1, "{}", r.body);
        assert_eq!(asset(&app, "M-3").await.expect("M-3")["name"], "Mill, large");
        assert_eq!(r.data()["rows"][0]["line"], 2);
    }

    async fn a_dry_run_answers_per_row_and_changes_nothing(app) {
        app.asset(json!({"assetnumber": "M-1", "name": "Lathe"})).await;
        app.asset(json!({"assetnumber": "M-2", "name": "Mill"})).await;
        let file = "assetnumber,name,statusname,assettypename\n\
                    M-1,Lathe,In Service,Other\n\
                    m-2,Mill XL,Spare,Other\n\
                    M-3,Drill,In Service,Other\n\
                    M-4,Saw,Broken,Other\n";
        let audited = audit_entries(&app).await;
        let r = import(&app, "assets", "a.csv", file.as_bytes(), &[("key", "assetnumber"), ("dryrun", "true")]).await;
        let d = r.data();
        assert_eq!(actions(&r), ["unchanged", "update", "create", "error"], "{}", r.body);
        assert_eq!(d["rows"][1]["changes"], json!({
            "name": {"before": "Mill", "after": "Mill XL"},
            "statusname": {"before": "In Service", "after": "Spare"}}), "{}", r.body);
        assert!(d["rows"][3]["errors"]["statusname"].as_str().unwrap().contains("Broken"), "{}", r.body);
        assert_eq!(d["totals"], json!({"rows": 4, "created": 1, "updated": 1, "unchanged": 1, "errors": 1}));
        assert_eq!((d["dryrun"].clone(), d["applied"].clone(), d["batchid"].clone()), (json!(true), json!(false), Value::Null));
        assert_eq!(app.count("assets").await, 2);
        assert_eq!(asset(&app, "M-2").await.unwrap()["name"], "Mill");
        assert_eq!(audit_entries(&app).await, audited);

        // Applied: the same answers, the good rows written, the stored key's spelling kept.
        let r = import(&app, "assets", "a.csv", file.as_bytes(), &[("key", "assetnumber")]).await;
        assert_eq!(actions(&r), ["unchanged", "update", "create", "error"], "{}", r.body);
        assert_eq!(r.data()["applied"], true);
        let batch = r.data()["batchid"].as_str().expect("batch id").to_string();
        assert_eq!(app.count("assets").await, 3);
        let m2 = asset(&app, "M-2").await.expect("M-2 keeps its spelling");
        assert_eq!((m2["name"].as_str(), m2["statusname"].as_str()), (Some("Mill XL"), Some("Spare")));
        let created = r.data()["rows"][2]["id"].as_i64().expect("id of the created asset");
        let trail = app.get(&format!("/api/audit?entitytype=asset&entityid={created}")).await;
        assert_eq!(trail.data()[0]["batchid"], batch, "{}", trail.body);
    }

    async fn bad_rows_stop_good_rows_only_when_asked(app) {
        let file = "assetnumber,assettypename,mapx,mapy\nM-1,Other,1.5,2\nM-2,Other,1.5,\nM-3,Other,,\n";
        let r = import(&app, "assets", "a.csv", file.as_bytes(), &[("key", "assetnumber"), ("allornothing", "true")]).await;
        assert_eq!(actions(&r), ["create", "error", "create"], "{}", r.body);
        assert_eq!(r.data()["rows"][1]["errors"]["mapy"], "mapx and mapy are set together");
        assert_eq!((r.data()["applied"].clone(), r.data()["batchid"].clone()), (json!(false), Value::Null));
        assert_eq!(app.count("assets").await, 0);
        assert_eq!(app.count("importbatches").await, 0);

        let r = import(&app, "assets", "a.csv", file.as_bytes(), &[("key", "assetnumber")]).await;
        assert_eq!(actions(&r), ["create", "error", "create"], "{}", r.body);
        assert_eq!(app.count("assets").await, 2);
        assert!(asset(&app, "M-2").await.is_none());

        // Matched by id, two new rows with the same asset number: the second is refused
        // alone (the rows are created together, and one by one when that fails).
        let file = "assetid,assetnumber,assettype\n,M-7,Other\n,M-8,Other\n,M-7,Other\n";
        let r = import(&app, "assets", "a.csv", file.as_bytes(), &[("key", "assetid")]).await;
        assert_eq!(actions(&r), ["create", "create", "error"], "{}", r.body);
        assert_eq!(app.count("assets").await, 4);
        let found = app.get("/api/search?q=M-8").await;
        assert_eq!(found.data()[0]["title"], "M-8", "imported assets are found by search: {}", found.body);
    }

    async fn rows_are_applied_in_file_order_whatever_their_path(app) {
        app.asset(json!({"assetnumber": "M-1", "name": "Lathe"})).await;
        app.asset(json!({"assetnumber": "M-2", "name": "Mill", "mapx": 1.0, "mapy": 2.0})).await;
        // Plain changes of one record twice, a refused plain change, a create that a later
        // row of the same file changes again.
        let file = "assetnumber,name,mapx,assettype\n\
                    M-1,Lathe A,,Other\n\
                    M-2,Mill,,Other\n\
                    M-1,Lathe B,,Other\n\
                    M-3,Drill,,Other\n\
                    m-3,Drill 2,,Other\n";
        let r = import(&app, "assets", "a.csv", file.as_bytes(), &[("key", "assetnumber")]).await;
        assert_eq!(actions(&r), ["update", "error", "update", "create", "update"], "{}", r.body);
        assert_eq!(r.data()["rows"][2]["changes"]["name"], json!({"before": "Lathe A", "after": "Lathe B"}));
        assert_eq!(r.data()["rows"][1]["errors"]["mapx"], "mapx and mapy are set together", "{}", r.body);
        assert_eq!(asset(&app, "M-1").await.unwrap()["name"], "Lathe B");
        assert_eq!(asset(&app, "M-2").await.unwrap()["mapx"], 1.0);
        assert_eq!(asset(&app, "M-3").await.unwrap()["name"], "Drill 2");
        let m1 = asset(&app, "M-1").await.unwrap();
        let trail = app.get(&format!("/api/audit?entitytype=asset&entityid={}", m1["assetid"])).await;
        assert_eq!(trail.data().as_array().unwrap().len(), 3, "created, then one entry per row: {}", trail.body);
        assert_eq!(m1["version"], 3);
    }

    async fn new_rows_get_the_same_checks_as_one_by_one(app) {
        // New rows are checked against what the database held when their chunk was read
        // (references, unique values, defaults), until a row writes something that changes
        // it: here M-1 is renamed by an earlier row, so a later new row may take its number.
        let m1 = app.asset(json!({"assetnumber": "M-1"})).await;
        let m5 = app.asset(json!({"assetnumber": "M-5"})).await;
        let status = &m1["statusid"];
        let file = format!(
            "assetid,assetnumber,assettype,statusid\n\
             ,M-5,Other,{status}\n\
             ,M-6,Other,999999\n\
             ,M-7,Other,{status}\n\
             {},M-1 old,Other,{status}\n\
             ,M-1,Other,{status}\n",
            m1["assetid"]
        );
        for dry in ["true", "false"] {
            let r = import(&app, "assets", "a.csv", file.as_bytes(), &[("key", "assetid"), ("dryrun", dry)]).await;
            assert_eq!(actions(&r), ["error", "error", "create", "update", "create"], "dry run {dry}: {}", r.body);
            let rows = &r.data()["rows"];
            assert_eq!(rows[0]["errors"]["assetnumber"], format!("'M-5' is already used by asset {}", m5["assetid"]), "{}", r.body);
            assert_eq!(rows[1]["errors"]["statusid"], "no status with id 999999", "{}", r.body);
        }
        assert_eq!(asset(&app, "M-1%20old").await.unwrap()["assetid"], m1["assetid"]);
        assert_ne!(asset(&app, "M-1").await.unwrap()["assetid"], m1["assetid"]);
        assert!(asset(&app, "M-6").await.is_none());
        // The same with nothing waiting to be created when M-2 is renamed.
        let m2 = app.asset(json!({"assetnumber": "M-2"})).await;
        let file = format!("assetid,assetnumber,assettype\n{},M-2 old,Other\n,M-2,Other\n", m2["assetid"]);
        let r = import(&app, "assets", "a.csv", file.as_bytes(), &[("key", "assetid")]).await;
        assert_eq!(actions(&r), ["update", "create"], "{}", r.body);

        // Without a status the default one is taken, and a number already taken is refused
        // whichever row holds it.
        let r = import(&app, "assets", "b.csv", b"assetnumber,assettype\nM-8,Other\n", &[("key", "assetnumber")]).await;
        assert_eq!(actions(&r), ["create"], "{}", r.body);
        assert_eq!(asset(&app, "M-8").await.unwrap()["statusname"], "In Service");
        let r = import(&app, "assets", "c.csv", b"assetid,assetnumber,assettype\n,M-8,Other\n,M-9,Other\n", &[("key", "assetid")]).await;
        assert_eq!(actions(&r), ["error", "create"], "{}", r.body);
    }

    async fn missing_references_are_reported_or_created(app) {
        let file = "assetnumber,assettype,location,vendor\nM-1,Other,Bay 9,Okuma\n";
        let r = import(&app, "assets", "a.csv", file.as_bytes(), &[("key", "assetnumber")]).await;
        let errors = &r.data()["rows"][0]["errors"];
        assert!(errors["locationname"].as_str().unwrap().contains("no location named 'Bay 9'"), "{}", r.body);
        assert!(errors["vendorname"].as_str().unwrap().contains("no vendor named 'Okuma'"), "{}", r.body);
        assert_eq!(app.count("locations").await, 0);

        let r = import(&app, "assets", "a.csv", file.as_bytes(), &[("key", "assetnumber"), ("createmissing", "true")]).await;
        assert_eq!(actions(&r), ["create"], "{}", r.body);
        let m1 = asset(&app, "M-1").await.expect("M-1");
        assert_eq!((m1["locationname"].as_str(), m1["vendorname"].as_str()), (Some("Bay 9"), Some("Okuma")));
        // Names are matched ignoring case: the next file reuses the location.
        let again = "assetnumber,assettype,location\nM-2,Other,BAY 9\n";
        import(&app, "assets", "b.csv", again.as_bytes(), &[("key", "assetnumber"), ("createmissing", "true")]).await;
        assert_eq!(app.count("locations").await, 1);

        // Undoing the first batch takes the created location and vendor with it... unless
        // M-2 of the later batch still uses the location: then nothing is undone.
        let batch = r.data()["batchid"].as_str().unwrap().to_string();
        let refused = undo(&app, &batch).await.expect_err("the location is still used by M-2");
        assert_eq!(refused.kind, ErrorKind::Conflict, "{}", refused.message);
        assert!(asset(&app, "M-1").await.is_some());
        assert_eq!(app.count("vendors").await, 1);
    }

    async fn an_import_batch_is_undone_as_a_whole_unless_changed_since(app) {
        app.asset(json!({"assetnumber": "M-1", "name": "Lathe"})).await;
        app.asset(json!({"assetnumber": "M-2", "name": "Mill"})).await;
        let first = import(&app, "assets", "a.csv", b"assetnumber,name,assettype\nM-1,Lathe 2,Other\nM-3,Drill,Other\n", &[("key", "assetnumber")]).await;
        let first = first.data()["batchid"].as_str().unwrap().to_string();
        let m1 = asset(&app, "M-1").await.unwrap();
        let r = app.put(&format!("/api/assets/{}", m1["assetid"]), json!({"name": "Lathe 3", "version": m1["version"]})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);

        let refused = undo(&app, &first).await.expect_err("M-1 changed since");
        assert_eq!(refused.kind, ErrorKind::Conflict);
        assert!(refused.message.contains("M-1") && !refused.message.contains("M-3"), "{}", refused.message);
        assert_eq!(asset(&app, "M-1").await.unwrap()["name"], "Lathe 3");
        assert!(asset(&app, "M-3").await.is_some(), "a refused undo changes nothing");

        let second = import(&app, "assets", "b.csv", b"assetnumber,name,assettype\nM-2,Mill 2,Other\nM-4,Saw,Other\n", &[("key", "assetnumber")]).await;
        let second = second.data()["batchid"].as_str().unwrap().to_string();
        let done = undo(&app, &second).await.expect("undo");
        assert_eq!((done.deleted, done.restored), (1, 1));
        assert!(asset(&app, "M-4").await.is_none());
        let m2 = asset(&app, "M-2").await.unwrap();
        assert_eq!(m2["name"], "Mill");
        let again = undo(&app, &second).await.expect_err("undone already");
        assert!(again.message.contains("was undone"), "{}", again.message);
        let unknown = undo(&app, "20260101-000000-nosuch").await.expect_err("no such batch");
        assert_eq!(unknown.kind, ErrorKind::NotFound);
    }

    async fn plugin_records_get_the_plugins_checks_and_spreadsheet_values(app) {
        let r = app.post("/api/plugins/computers/install", json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = app.post("/api/computers", json!({"assetnumber": "PC-1", "hostname": "PC-0001"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let file = "hostname,macaddress,osname,assetnumber\n\
                    pc-0001,00-1A-2B-3C-4D-5E,Windows 11,PC-1\n\
                    PC-0002,not a mac,Linux,PC-2\n\
                    PC-0003,,Linux,\n";
        let r = import(&app, "computers", "pcs.csv", file.as_bytes(), &[("key", "hostname")]).await;
        assert_eq!(actions(&r), ["update", "error", "error"], "{}", r.body);
        assert!(r.data()["rows"][1]["errors"]["macaddress"].is_string(), "{}", r.body);
        assert!(r.data()["rows"][2]["errors"]["assetnumber"].is_string(), "{}", r.body);
        let pcs = app.get("/api/computers?hostname=PC-0001").await;
        assert_eq!(pcs.data()[0]["macaddress"], "00:1a:2b:3c:4d:5e", "{}", pcs.body);
        assert_eq!(pcs.data()[0]["hostname"], "PC-0001");

        // An .xlsx sheet: an asset number typed as a number, digits kept as text, dates.
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
        let stamp = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm");
        for (i, h) in ["assetnumber", "hostname", "osversion", "lastcheckin"].iter().enumerate() {
            sheet.write_string(0, i as u16, *h).unwrap();
        }
        sheet.write_number(1, 0, 1001.0).unwrap();
        sheet.write_string(1, 1, "PC-1001").unwrap();
        sheet.write_string(1, 2, "00123").unwrap();
        sheet.write_datetime_with_format(1, 3, rust_xlsxwriter::ExcelDateTime::from_ymd(2026, 11, 21).unwrap(), &date).unwrap();
        sheet.write_number(2, 0, 1002.0).unwrap();
        sheet.write_string(2, 1, "PC-1002").unwrap();
        sheet.write_datetime_with_format(2, 3, rust_xlsxwriter::ExcelDateTime::parse_from_str("2026-11-21T14:05:00").unwrap(), &stamp).unwrap();
        let bytes = book.save_to_buffer().unwrap();
        let r = import(&app, "computers", "pcs.xlsx", &bytes, &[("key", "hostname")]).await;
        assert_eq!(actions(&r), ["create", "create"], "{}", r.body);
        let pc = app.get("/api/computers?hostname=PC-1001").await;
        let pc = &pc.data()[0];
        assert_eq!((pc["assetnumber"].as_str(), pc["osversion"].as_str()), (Some("1001"), Some("00123")), "{pc}");
        assert_eq!(pc["lastcheckin"], "2026-11-21T00:00:00Z");
        let pc = app.get("/api/computers?hostname=PC-1002").await;
        assert_eq!(pc.data()[0]["lastcheckin"], "2026-11-21T14:05:00Z");
    }

    async fn a_workbook_with_gaps_imports_as_its_csv_does(app) {
        let other = app.get("/api/assettypes?name=Other").await.data()[0]["assettypeid"].clone();
        app.asset(json!({"assetnumber": "G-2", "name": "Mill", "serialnumber": "S-2", "notes": "oiled", "assettypeid": other})).await;
        app.asset(json!({"assetnumber": "G-4", "name": "Press", "serialnumber": "S-4", "assettypeid": other})).await;
        // The table starts in column B, away from the first column; cells are missing (a
        // missing cell is an empty field), row 4 is empty, row 5 has no key, row 7 is not
        // stored at all and row 8 holds only a formatted empty cell. The CSV is as Excel saves
        // the sheet.
        let csv = ",assetnumber,name,assettype,serialnumber,notes\n\
                   ,G-1,Lathe,Other,S-1,new\n\
                   ,G-2,,Other,S-2b,\n\
                   ,,,,,\n\
                   ,,Orphan,Other,,\n\
                   ,G-3,,Other,,only notes\n\
                   ,,,,,\n\
                   ,,,,,\n\
                   ,G-4,Press,Other,S-4,\n";
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        let bold = rust_xlsxwriter::Format::new().set_bold();
        for (row, line) in csv.lines().enumerate() {
            for (col, cell) in line.split(',').enumerate().filter(|(_, c)| !c.is_empty()) {
                sheet.write_string(row as u32, col as u16, cell).unwrap();
            }
        }
        sheet.write_blank(7, 2, &bold).unwrap();
        let xlsx = book.save_to_buffer().unwrap();
        let fields = [("key", "assetnumber"), ("dryrun", "true"), ("createmissing", "true")];
        let from_csv = import(&app, "assets", "plant.csv", csv.as_bytes(), &fields).await;
        let from_xlsx = import(&app, "assets", "plant.xlsx", &xlsx, &fields).await;
        assert_eq!(from_xlsx.data()["rows"], from_csv.data()["rows"], "{}", from_xlsx.body);
        assert_eq!(from_xlsx.data()["totals"], from_csv.data()["totals"]);
        assert_eq!(actions(&from_xlsx), ["create", "update", "error", "create", "unchanged"], "{}", from_xlsx.body);
        let lines: Vec<i64> = from_xlsx.data()["rows"].as_array().unwrap().iter().map(|r| r["line"].as_i64().unwrap()).collect();
        assert_eq!(lines, [2, 3, 5, 6, 9]);

        // Applied, the workbook leaves what its CSV finds unchanged.
        let fields = [("key", "assetnumber"), ("createmissing", "true")];
        let applied = import(&app, "assets", "plant.xlsx", &xlsx, &fields).await;
        assert_eq!(applied.data()["totals"]["created"], 2, "{}", applied.body);
        let g2 = asset(&app, "G-2").await.expect("G-2 kept");
        assert_eq!((g2["name"].clone(), g2["serialnumber"].clone(), g2["notes"].clone()), (Value::Null, json!("S-2b"), Value::Null), "{g2}");
        let again = import(&app, "assets", "plant.csv", csv.as_bytes(), &[("key", "assetnumber"), ("dryrun", "true")]).await;
        assert_eq!(actions(&again), ["unchanged", "unchanged", "error", "unchanged", "unchanged"], "{}", again.body);
    }

    async fn the_api_checks_who_and_what_before_anything_is_written(app) {
        let viewer = app.login_as("watcher", Role::Viewer).await;
        let file = b"assetnumber,assettype\nM-1,Other\n";
        let r = app.upload("/api/import/assets", &viewer, "a.csv", file, &[("key", "assetnumber")]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        let r = app.upload("/api/import/assets", &app.admin, "a.csv", b"assetnumber,colour\nM-1,red\n", &[("key", "assetnumber")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(r.body["error"]["details"]["colour"], "matches no field");
        let r = app.upload("/api/import/assets", &app.admin, "a.csv", file, &[]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body["error"]["details"]["key"].is_string());
        let r = app.upload("/api/import/assets", &app.admin, "a.csv", file, &[("key", "name")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "the file has no name column: {}", r.body);
        let r = app.post("/api/import/assets", json!({"key": "assetnumber"})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        let r = app.upload("/api/import/nosuch", &app.admin, "a.csv", file, &[("key", "assetnumber")]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(app.count("assets").await, 0);

        // Export: the list's filters, CSV or .xlsx, and nothing else.
        app.asset(json!({"assetnumber": "M-1", "name": "Lathe"})).await;
        let spare = app.get("/api/statuses?name=Spare").await.data()[0]["statusid"].clone();
        app.asset(json!({"assetnumber": "M-2", "name": "Mill", "statusid": spare})).await;
        let r = app.call(axum::http::Method::GET, &format!("/api/export/assets?statusid={spare}"), Some(&viewer), None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers["content-type"], "text/csv; charset=utf-8");
        let text = String::from_utf8(r.bytes.clone()).unwrap();
        assert!(text.starts_with("assetid,assetnumber,name,assettypename,statusname,"), "{text}");
        assert!(text.contains("M-2,Mill,Other,Spare") && !text.contains("M-1"), "{text}");
        let r = app.get("/api/export/assets?format=pdf").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = app.get("/api/export/assets?colour=red").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }

    async fn every_resource_exports_what_imports_back_unchanged(app) {
        for p in ["computers", "equipment", "network", "printers", "usb", "notifications"] {
            let r = app.post(&format!("/api/plugins/{p}/install"), json!({})).await;
            assert_eq!(r.status, StatusCode::OK, "{p}: {}", r.body);
        }
        shopdb::demo::seed(&app.state, 30).await.expect("demo data");
        let mut paths: Vec<(String, String)> = app.state.all_resources().iter().map(|r| (r.path.clone(), r.key().to_string())).collect();
        paths.sort();
        let mut nonempty = 0;
        for (path, key) in paths {
            for format in ["csv", "xlsx"] {
                let r = app.get(&format!("/api/export/{path}?format={format}")).await;
                assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
                let name = format!("export.{format}");
                let back = import(&app, &path, &name, &r.bytes, &[("key", &key), ("dryrun", "true")]).await;
                let t = &back.data()["totals"];
                assert_eq!((t["created"].as_i64(), t["updated"].as_i64(), t["errors"].as_i64()), (Some(0), Some(0), Some(0)),
                    "{path} as {format} does not import back unchanged: {}", back.body);
                let listed = app.get(&format!("/api/{path}?per_page=1")).await.body["meta"]["total"].as_i64().unwrap();
                assert_eq!(t["unchanged"].as_i64(), Some(listed), "{path} as {format}: every record exported");
                if listed > 0 {
                    nonempty += 1;
                }
            }
        }
        assert!(nonempty >= 20, "the demo plant fills most resources ({nonempty} exports had records)");
        // The natural key works as well as the id.
        let r = app.get("/api/export/computers").await;
        let back = import(&app, "computers", "pcs.csv", &r.bytes, &[("key", "hostname"), ("dryrun", "true")]).await;
        assert_eq!(back.data()["totals"]["unchanged"], back.data()["totals"]["rows"], "{}", back.body);
    }
}

/// A page request with a login cookie; `parts` as multipart/form-data when given.
async fn page(
    app: &TestApp,
    cookie: &str,
    path: &str,
    parts: Option<&[(&str, &str)]>,
    file: Option<&[u8]>,
) -> Reply {
    use axum::body::Body;
    use axum::http::{Method, Request, header};
    let req = Request::builder().uri(path).header(header::COOKIE, cookie);
    let Some(parts) = parts else {
        return app
            .send(req.method(Method::GET).body(Body::empty()).unwrap())
            .await;
    };
    let boundary = "pageboundary1234";
    let mut body = Vec::new();
    for (name, value) in parts {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some(file) = file {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"plant.csv\"\r\n\r\n").as_bytes());
        body.extend_from_slice(file);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    let req = req
        .method(Method::POST)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap();
    app.send(req).await
}

/// The value of the hidden field `name` in a page, as a browser would send it back.
fn hidden(html: &str, name: &str) -> String {
    let start = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no {name} in {html}"));
    let rest = &html[start + name.len() + 15..];
    rest[..rest.find('"').unwrap()]
        .replace("&#x2f;", "/")
        .replace("&#x3d;", "=")
        .replace("&#x2b;", "+")
        .replace("&amp;", "&")
}

backend_tests! {
    async fn the_import_page_previews_then_imports_and_lists_export(app) {
        app.login_as("clerk", Role::Editor).await;
        let login = app.call(axum::http::Method::POST, "/api/auth/login", None, Some(json!({"username": "clerk", "password": "a long test password"}))).await;
        let cookies: Vec<String> = login.headers.get_all("set-cookie").iter()
            .filter_map(|v| v.to_str().ok()).map(|v| v.split(';').next().unwrap().to_string()).collect();
        let csrf = cookies.iter().find_map(|c| c.strip_prefix("shopdb_csrf=")).expect("csrf cookie").to_string();
        let cookie = cookies.join("; ");

        let list = page(&app, &cookie, "/assets?q=lathe", None, None).await;
        let text = list.body.as_str().unwrap_or_default();
        assert!(text.contains("href=\"&#x2f;export&#x2f;assets?q=lathe&amp;format=csv\" id=\"csv-export\""), "{text}");
        assert!(text.contains("id=\"xlsx-export\"") && text.contains("id=\"import-link\""), "{text}");
        let form = page(&app, &cookie, "/import/assets", None, None).await;
        assert!(form.body.as_str().unwrap_or_default().contains("id=\"import-form\""), "{}", form.body);

        let file = b"assetnumber,name,assettype\nM-1,Lathe,Other\nM-2,Mill,Unknown type\n";
        let refused = page(&app, &cookie, "/import/assets", Some(&[("key", "assetnumber")]), Some(file)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "no CSRF token");
        let preview = page(&app, &cookie, "/import/assets", Some(&[("csrftoken", &csrf), ("key", "assetnumber")]), Some(file)).await;
        let text = preview.body.as_str().unwrap_or_default().to_string();
        assert_eq!(preview.status, StatusCode::OK, "{text}");
        assert!(text.contains("<tr data-action=\"create\"><td>2</td>") && text.contains("<tr data-action=\"error\"><td>3</td>"), "{text}");
        assert!(text.contains("no assettype named") && text.contains("id=\"confirm-import\""), "{text}");
        assert_eq!(app.count("assets").await, 0, "a preview changes nothing");

        let data = hidden(&text, "filedata");
        let done = page(&app, &cookie, "/import/assets", Some(&[("csrftoken", &csrf), ("confirm", "1"), ("key", "assetnumber"), ("filename", "plant.csv"), ("filedata", &data)]), None).await;
        let text = done.body.as_str().unwrap_or_default().to_string();
        assert!(text.contains("id=\"batch-id\""), "{text}");
        assert_eq!(app.count("assets").await, 1);
        let batch = app.get("/api/audit?entitytype=asset").await.data()[0]["batchid"].as_str().unwrap().to_string();
        assert!(text.contains(&batch), "the page names the batch {batch}: {text}");

        let xlsx = page(&app, &cookie, "/export/assets?format=xlsx", None, None).await;
        assert_eq!(xlsx.headers["content-type"], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
        assert!(xlsx.bytes.starts_with(b"PK"));
        let csv = page(&app, &cookie, "/assets.csv?q=lathe", None, None).await;
        assert!(String::from_utf8_lossy(&csv.bytes).contains(",M-1,Lathe,Other,In Service,"), "{}", csv.body);
    }
}

/// Generated assets: names, serial numbers and notes with separators, quotes, line breaks,
/// formula-like and number-like text and non-ASCII letters; numbers as text with leading zeros.
fn generated_assets(count: usize) -> Vec<Value> {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;
    let text = "[A-Za-z0-9 ÄÖÜäöüßéç,;\"'=+\\-\\n\\t.:/()]{1,40}";
    let strategy = (
        "[0-9]{3,6}",
        text,
        proptest::option::of(text),
        proptest::option::of("[ -~ÄÖÜß\\n]{0,200}"),
        proptest::option::of((0.0f64..5000.0, 0.0f64..5000.0)),
    );
    let mut runner = TestRunner::deterministic();
    (0..count)
        .map(|i| {
            let (digits, name, serial, notes, position) =
                strategy.new_tree(&mut runner).unwrap().current();
            let mut asset = json!({"assetnumber": format!("0{digits}-{i}"), "name": name});
            if let Some(s) = serial.filter(|s| !s.trim().is_empty()) {
                asset["serialnumber"] = json!(s);
            }
            if let Some(n) = notes {
                asset["notes"] = json!(n);
            }
            if let Some((x, y)) = position {
                asset["mapx"] = json!(x);
                asset["mapy"] = json!(y);
            }
            asset
        })
        .collect()
}

backend_tests! {
    async fn generated_assets_export_and_import_back_unchanged(app) {
        let types = app.get("/api/assettypes").await;
        let typeid = types.data()[0]["assettypeid"].clone();
        let mut stored = 0;
        for mut asset in generated_assets(60) {
            asset["assettypeid"] = typeid.clone();
            let r = app.post("/api/assets", asset.clone()).await;
            if r.status == StatusCode::CREATED {
                stored += 1;
            } else {
                eprintln!("refused {asset}: {}", r.body);
            }
        }
        assert!(stored >= 50, "most generated assets are valid ({stored} of 60 stored)");
        for format in ["csv", "xlsx"] {
            let r = app.get(&format!("/api/export/assets?format={format}")).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            let back = import(&app, "assets", &format!("assets.{format}"), &r.bytes, &[("key", "assetnumber"), ("dryrun", "true")]).await;
            let t = &back.data()["totals"];
            assert_eq!((t["created"].as_i64(), t["updated"].as_i64(), t["errors"].as_i64(), t["unchanged"].as_i64()),
                (Some(0), Some(0), Some(0), Some(stored)), "as {format}: {}", back.body);
        }
    }
}

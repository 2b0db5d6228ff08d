//! Import and export pages for every resource:
//!
//! ```text
//! GET  /import/<path>   the upload form
//! POST /import/<path>   without `confirm`: a dry run, shown as a preview table with the row
//!                       answers and a form to confirm; with it: the import, and its batch id
//! GET  /export/<path>   the list (with the list page's filters) as CSV or .xlsx (`format`)
//! GET  /assets.csv      the asset list as CSV (the older address of /export/assets)
//! ```
//!
//! The confirmation carries the file back in a hidden field, so no server keeps an upload
//! between the two steps (any of several servers may answer the second).

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value, json};
use shopdb_core::error::DomainError;
use shopdb_core::resource::Resource;
use shopdb_core::transfer::{
    self, ExportFormat, ImportJob, ImportOptions, ImportReport, Quiet, SheetReader, mapping,
};

use crate::Web;
use crate::form::FormData;
use crate::render::{error_page, failure_page, page_context};
use crate::session::PageUser;

/// Row answers a preview shows (the totals count every row).
const PREVIEW_ROWS: usize = 500;

async fn resource(
    web: &Web,
    user: &PageUser,
    path: &str,
) -> Result<std::sync::Arc<Resource>, Response> {
    match web.app.enabled_resource(path).await {
        Ok(res) => Ok(res),
        Err(e) => Err(failure_page(web, Some(user), &e).await),
    }
}

/// Fields rows can be matched by: the record's id and its own (not reference) fields.
fn key_choices(res: &Resource) -> Vec<String> {
    let mut out = vec![res.key().to_string()];
    for c in mapping::columns(res) {
        let usable = c.references.is_none() && c.name != res.key() && res.writable(c);
        if usable && (c.unique || c.name == res.label) {
            out.push(c.name.clone());
        }
    }
    out.dedup();
    out
}

/// What the import page shows, before and after an upload.
#[derive(Default)]
struct Shown {
    key: String,
    create_missing: bool,
    all_or_nothing: bool,
    error: Option<String>,
    report: Option<ImportReport>,
    file: Option<(String, Vec<u8>)>,
}

async fn import_page(web: &Web, user: &PageUser, res: &Resource, shown: Shown) -> Response {
    let title = format!("Import {}", res.path);
    let mut ctx = page_context(web, Some(user), &title).await;
    let key = if shown.key.is_empty() {
        res.label.clone()
    } else {
        shown.key.clone()
    };
    ctx.insert("action".into(), json!(format!("/import/{}", res.path)));
    ctx.insert("list".into(), json!(format!("/{}", res.path)));
    ctx.insert("keys".into(), json!(key_choices(res)));
    ctx.insert("key".into(), json!(key));
    ctx.insert(
        "fields".into(),
        json!(mapping::field_names(res, &web.app.all_resources()).join(", ")),
    );
    ctx.insert("createmissing".into(), json!(shown.create_missing));
    ctx.insert("allornothing".into(), json!(shown.all_or_nothing));
    ctx.insert("error".into(), json!(shown.error));
    if let Some(report) = &shown.report {
        let rows: Vec<Value> = report
            .rows
            .iter()
            .take(PREVIEW_ROWS)
            .map(preview_row)
            .collect();
        ctx.insert("report".into(), json!({
            "dryrun": report.dryrun, "applied": report.applied, "batchid": report.batchid,
            "totals": report.totals, "rows": rows, "more": report.totals.rows as usize > rows.len(),
        }));
    }
    if let Some((name, bytes)) = &shown.file {
        ctx.insert("filename".into(), json!(name));
        ctx.insert(
            "filedata".into(),
            json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
        );
    }
    web.templates.render("import.html", &Value::Object(ctx))
}

/// One row of the preview table: what happens and why, in words.
fn preview_row(a: &transfer::RowAnswer) -> Value {
    let text = |v: &Value| match v {
        Value::Null => "(empty)".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let details: Vec<String> = if a.errors.is_empty() {
        a.changes
            .iter()
            .map(|(f, c)| format!("{f}: {} → {}", text(&c["before"]), text(&c["after"])))
            .collect()
    } else {
        a.errors
            .iter()
            .map(|(f, why)| format!("{f}: {}", text(why)))
            .collect()
    };
    json!({"line": a.line, "action": a.action, "key": a.key, "details": details})
}

/// GET /import/<path>.
pub async fn import_form(
    State(web): State<Web>,
    user: PageUser,
    Path(path): Path<String>,
) -> Response {
    let res = match resource(&web, &user, &path).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    if let Err(page) = user.require(&web, res.write_role).await {
        return page;
    }
    import_page(&web, &user, &res, Shown::default()).await
}

/// The parts of an import form post.
#[derive(Default)]
struct Posted {
    fields: Vec<(String, String)>,
    file: Option<(String, Vec<u8>)>,
}

impl Posted {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

async fn read_form(form: Result<Multipart, MultipartRejection>) -> Result<Posted, DomainError> {
    let bad = |e: String| DomainError::bad_request(format!("the upload could not be read: {e}"));
    let mut form = form.map_err(|e| bad(e.body_text()))?;
    let mut posted = Posted::default();
    while let Some(part) = form.next_field().await.map_err(|e| bad(e.body_text()))? {
        let name = part.name().unwrap_or_default().to_string();
        if name == "file" {
            let filename = part.file_name().unwrap_or_default().to_string();
            let bytes = part.bytes().await.map_err(|e| bad(e.body_text()))?;
            if !filename.is_empty() || !bytes.is_empty() {
                posted.file = Some((filename, bytes.to_vec()));
            }
        } else {
            let text = part.text().await.map_err(|e| bad(e.body_text()))?;
            posted.fields.push((name, text));
        }
    }
    if posted.file.is_none()
        && let Some(data) = posted.get("filedata")
    {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|_| bad("the confirmed file is damaged; upload it again".into()))?;
        posted.file = Some((
            posted.get("filename").unwrap_or("upload.csv").to_string(),
            bytes,
        ));
    }
    Ok(posted)
}

/// POST /import/<path>: a dry run shown for confirmation, or (confirmed) the import.
pub async fn import_post(
    State(web): State<Web>,
    user: PageUser,
    Path(path): Path<String>,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let res = match resource(&web, &user, &path).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    if let Err(page) = user.require(&web, res.write_role).await {
        return page;
    }
    let posted = match read_form(form).await {
        Ok(p) => p,
        Err(e) => return failure_page(&web, Some(&user), &e).await,
    };
    let csrf: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("csrftoken", posted.get("csrftoken").unwrap_or_default())
        .finish();
    if let Err(page) = user
        .check_form(&web, &FormData::parse(csrf.as_bytes()))
        .await
    {
        return page;
    }
    let checked = |name: &str| posted.get(name).is_some_and(|v| v == "on" || v == "true");
    let mut shown = Shown {
        key: posted.get("key").unwrap_or_default().to_string(),
        create_missing: checked("createmissing"),
        all_or_nothing: checked("allornothing"),
        ..Shown::default()
    };
    let Some((filename, bytes)) = posted.file.clone() else {
        shown.error = Some("Choose a CSV or .xlsx file to import.".into());
        return import_page(&web, &user, &res, shown).await;
    };
    let confirm = posted.get("confirm").is_some();
    let options = ImportOptions {
        key: shown.key.clone(),
        dry_run: !confirm,
        create_missing: shown.create_missing,
        all_or_nothing: shown.all_or_nothing,
        mapping: None,
    };
    let result = match SheetReader::from_bytes(&filename, bytes.clone()) {
        Ok(reader) => {
            let resources = web.app.all_resources();
            let job = ImportJob {
                db: &web.app.db,
                actor: &user.actor,
                res: &res,
                resources: &resources,
            };
            transfer::import(job, reader, &options, &mut Quiet).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(report) => {
            if report.dryrun {
                shown.file = Some((filename, bytes));
            }
            shown.report = Some(report);
        }
        Err(e) if e.kind.is_client() => shown.error = Some(problem(&e)),
        Err(e) => return failure_page(&web, Some(&user), &e).await,
    }
    import_page(&web, &user, &res, shown).await
}

/// An error of the whole file in one sentence, naming the fields.
fn problem(e: &DomainError) -> String {
    match &e.details {
        Value::Object(fields) if !fields.is_empty() => {
            let each: Vec<String> = fields
                .iter()
                .map(|(f, why)| format!("{f}: {}", why.as_str().unwrap_or_default()))
                .collect();
            format!("{} ({})", e.message, each.join("; "))
        }
        _ => e.message.clone(),
    }
}

/// GET /export/<path>?format=…&filters.
pub async fn export_file(
    State(web): State<Web>,
    user: PageUser,
    Path(path): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let res = match resource(&web, &user, &path).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    export(&web, &user, &res, uri.query().unwrap_or_default()).await
}

/// GET /assets.csv: the asset list as CSV, as /export/assets gives it.
pub async fn assets_csv(
    State(web): State<Web>,
    user: PageUser,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let res = web.app.resource("assets");
    let query = FormData::parse(uri.query().unwrap_or_default().as_bytes());
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query.pairs().filter(|(k, _)| *k != "format"))
        .finish();
    export(&web, &user, &res, &query).await
}

async fn export(web: &Web, user: &PageUser, res: &Resource, query: &str) -> Response {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .filter(|(k, v)| !(v.is_empty() && k != "format"))
        .collect();
    let format = match pairs
        .iter()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| ExportFormat::parse(v))
    {
        None => ExportFormat::Csv,
        Some(Ok(f)) => f,
        Some(Err(e)) => {
            return error_page(web, Some(user), StatusCode::BAD_REQUEST, &problem(&e)).await;
        }
    };
    let mut out: Vec<u8> = Vec::new();
    let resources = web.app.all_resources();
    if let Err(e) = transfer::export(
        &web.app.db,
        res,
        &resources,
        &pairs,
        format,
        &mut out,
        &mut Quiet,
    )
    .await
    {
        return failure_page(web, Some(user), &e).await;
    }
    let filename = format!("{}.{}", res.path.replace('/', "-"), format.extension());
    (
        [
            (CONTENT_TYPE, format.content_type().to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        out,
    )
        .into_response()
}

/// The list page's links to export what it shows and to import.
pub fn list_links(res: &Resource, filters: &str, can_write: bool) -> Map<String, Value> {
    let sep = if filters.is_empty() { "" } else { "&" };
    let mut links = Map::new();
    links.insert(
        "csv".into(),
        json!(format!("/export/{}?{filters}{sep}format=csv", res.path)),
    );
    links.insert(
        "xlsx".into(),
        json!(format!("/export/{}?{filters}{sep}format=xlsx", res.path)),
    );
    if can_write {
        links.insert("import".into(), json!(format!("/import/{}", res.path)));
    }
    links
}

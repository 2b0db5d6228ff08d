//! The dashboard: every enabled plugin's widgets. A widget whose data fails shows an error
//! box naming its plugin; the rest of the page is unaffected.

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use crate::Web;
use crate::labels::Labels;
use crate::render::page_context;
use crate::session::PageUser;

pub async fn dashboard(State(web): State<Web>, user: PageUser) -> Response {
    let mut widgets = shopdb_core::services::plugins::widgets(&web.app).await;
    for w in &mut widgets {
        let template = format!("widgets/{}.html", w["name"].as_str().unwrap_or_default());
        w["template"] = json!(web.templates.has(&template).then_some(template));
        if w["error"].is_null() {
            w["view"] = view(&web.templates.labels, &w["data"]);
        }
    }
    let assets = match shopdb_core::services::records::asset_count(&web.app.db).await {
        Ok(n) => n,
        Err(e) => return crate::render::failure_page(&web, Some(&user), &e).await,
    };
    let mut ctx = page_context(&web, Some(&user), "Dashboard").await;
    ctx.insert("widgets".into(), Value::Array(widgets));
    ctx.insert("assets".into(), json!(assets));
    web.templates.render("dashboard.html", &Value::Object(ctx))
}

/// How a widget's data is drawn when its plugin ships no template: numbers as figures,
/// `bars` as a bar chart (SVG drawn here), lists of records as small tables.
fn view(labels: &Labels, data: &Value) -> Value {
    let Some(obj) = data.as_object() else {
        return json!({"figures": [], "bars": null, "tables": []});
    };
    let figures: Vec<Value> = obj
        .iter()
        .filter(|(_, v)| v.is_number())
        .map(|(k, v)| json!({"label": labels.label(k), "value": v}))
        .collect();
    let bars = obj.get("bars").and_then(Value::as_array).map(|bars| {
        let max = bars.iter().filter_map(|b| b["count"].as_f64()).fold(1.0, f64::max);
        let rows: Vec<Value> = bars
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let count = b["count"].as_f64().unwrap_or_default();
                json!({"y": i * 26, "width": (count / max * 200.0).round(), "label": b["label"], "count": b["count"]})
            })
            .collect();
        json!({"rows": rows, "height": bars.len() * 26})
    });
    let tables: Vec<Value> = obj
        .iter()
        .filter(|(k, _)| k.as_str() != "bars")
        .filter_map(|(k, v)| {
            let items = v.as_array()?;
            let first = items.first()?.as_object()?;
            let columns: Vec<String> = first
                .iter()
                .filter(|(c, v)| !v.is_object() && !v.is_array() && !c.ends_with("id"))
                .map(|(c, _)| c.clone())
                .take(4)
                .collect();
            let rows: Vec<Vec<Value>> = items
                .iter()
                .take(10)
                .map(|item| columns.iter().map(|c| item.get(c).cloned().unwrap_or(Value::Null)).collect())
                .collect();
            Some(json!({"label": labels.label(k), "columns": columns.iter().map(|c| labels.label(c)).collect::<Vec<_>>(), "rows": rows}))
        })
        .collect();
    json!({"figures": figures, "bars": bars, "tables": tables})
}

//! One test per user story, each with its own server, database and browser.

use anyhow::{Context, ensure};
use base64::Engine;
use serde_json::{Value, json};

use crate::webdriver::Session;
use crate::{
    Harness, PASSWORD, USER, WAIT, assert_page_clean, log_in, log_in_with_form, screenshot,
    wait_for_path, wait_for_text,
};

/// Starts the harness, or returns from the test when it is skipped.
macro_rules! harness {
    ($name:expr) => {
        match Harness::start($name).await? {
            Some(h) => h,
            None => return Ok(()),
        }
    };
}

/// Types `value` into the form field named `name` (after clearing it).
async fn fill(b: &Session, name: &str, value: &str) -> anyhow::Result<()> {
    let field = b.find(&format!("#record-form [name=\"{name}\"]")).await?;
    field.clear().await?;
    field.send_keys(value).await?;
    Ok(())
}

/// The text of the detail page's field `name`.
async fn detail_field(b: &Session, name: &str) -> anyhow::Result<String> {
    Ok(b.find(&format!("#fields dd[data-field=\"{name}\"]"))
        .await?
        .text()
        .await?)
}

/// True when the element `css` sits in the same form row (`.field`) as the input `name`.
async fn next_to_field(b: &Session, css: &str, name: &str) -> anyhow::Result<bool> {
    let v = b
        .execute(
            "const m = document.querySelector(arguments[0]);
             const row = m && m.closest('.field');
             return !!(row && row.querySelector('[name=\"' + arguments[1] + '\"]:not([type=hidden])'));",
            vec![json!(css), json!(name)],
        )
        .await?;
    Ok(v == json!(true))
}

#[tokio::test]
async fn logging_in_leads_to_the_page_asked_for() -> anyhow::Result<()> {
    let h = harness!("login");
    let b = h.browser().await?;

    b.goto(&h.url("/computers")).await?;
    wait_for_path(&h, &b, "/login?next=%2Fcomputers").await?;
    ensure!(
        b.find_maybe("nav#nav").await?.is_none(),
        "no navigation before logging in"
    );

    log_in_with_form(&b, USER, "not the password").await?;
    let said = wait_for_text(&b, "#login-error", "").await?;
    ensure!(!said.is_empty(), "a refused login says why");
    ensure!(
        b.current_url().await?.starts_with(&h.url("/login")),
        "still on the login page"
    );
    // The console check sees what it should: Chromium logs the refused login (401).
    if let Some(log) = b.browser_log().await? {
        ensure!(
            log.iter().any(|(_, m)| m.contains("status of 401")),
            "the browser log has the 401: {log:?}"
        );
    }
    assert_page_clean(&h, &b, &[]).await?;

    log_in_with_form(&b, USER, PASSWORD).await?;
    wait_for_path(&h, &b, "/computers").await?;
    b.wait_find("table#records", WAIT).await?;
    let who = b.find("header .who").await?.text().await?;
    ensure!(
        who.contains(USER),
        "the header names who is logged in: {who}"
    );
    assert_page_clean(&h, &b, &[]).await?;

    b.goto(&h.url("/")).await?;
    b.wait_find("nav#nav a[data-plugin=\"computers\"]", WAIT)
        .await?;
    screenshot(&b, "dashboard").await?;
    assert_page_clean(&h, &b, &[]).await?;

    // A script error on the page is caught by the same check.
    b.execute(
        "setTimeout(() => { throw new Error('probe from the test'); }, 0);",
        vec![],
    )
    .await?;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let caught = assert_page_clean(&h, &b, &[]).await;
    ensure!(
        caught
            .as_ref()
            .is_err_and(|e| e.to_string().contains("probe from the test")),
        "a thrown error fails the page check: {caught:?}"
    );

    b.find("#logout-link").await?.click().await?;
    b.wait_find("form#login-form", WAIT).await?;
    b.goto(&h.url("/assets")).await?;
    wait_for_path(&h, &b, "/login?next=%2Fassets").await?;
    b.quit().await?;
    h.finish()
}

#[tokio::test]
async fn logging_in_never_leads_to_another_site() -> anyhow::Result<()> {
    let h = harness!("next");
    let b = h.browser().await?;
    // Somewhere else that answers at once (refused), so a wrong redirect shows in the URL.
    let elsewhere = "127.0.0.1:1";
    let mut wrong = Vec::new();
    for (i, next) in [
        format!("http://{elsewhere}/"),
        format!("//{elsewhere}/"),
        format!("/\\{elsewhere}/"),
        // Browsers drop tabs and line breaks from URLs: "/\t/host" becomes "//host".
        format!("/\t/{elsewhere}/"),
        format!("/\n/{elsewhere}/"),
    ]
    .into_iter()
    .enumerate()
    {
        let query: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
        b.goto(&h.url(&format!("/login?next={query}"))).await?;
        if i == 0 {
            log_in_with_form(&b, USER, PASSWORD).await?;
            b.wait_for("the page after logging in", WAIT, async |s| {
                Ok((!s.current_url().await?.contains("/login")).then_some(()))
            })
            .await?;
        }
        // Logged in, /login sends straight on to `next`.
        let landed = b.current_url().await?;
        if !landed.starts_with(&h.url("/")) {
            wrong.push(format!("next={next:?} led to {landed}"));
        } else if b.find_maybe("nav#nav").await?.is_none() {
            let shown = b.find("body").await?.text().await?;
            wrong.push(format!(
                "next={next:?}: no page at {landed}, shows “{shown}”"
            ));
        }
    }
    ensure!(wrong.is_empty(), "{}", wrong.join("\n"));
    b.quit().await?;
    h.finish()
}

#[tokio::test]
async fn every_main_page_loads_without_errors_or_outside_requests() -> anyhow::Result<()> {
    let h = harness!("pages");
    let pc = h
        .api(
            "POST",
            "/api/computers",
            Some(json!({"assetnumber": "PC-0100", "name": "Saw PC", "hostname": "WJ-SAW-0100"})),
        )
        .await?;
    let id = pc["assetid"].as_i64().context("assetid")?;
    let b = h.browser().await?;
    log_in(&h, &b).await?;
    for path in [
        "/".to_string(),
        "/assets".into(),
        "/computers".into(),
        format!("/computers/{id}"),
        format!("/computers/{id}/edit"),
        "/computers/new".into(),
        "/usb".into(),
        "/usb/desk".into(),
        "/network/subnets".into(),
        "/printers".into(),
        "/equipment".into(),
        "/locations".into(),
        "/map".into(),
        "/search?q=saw".into(),
        "/admin/plugins".into(),
        "/admin/users".into(),
        "/admin/settings".into(),
        "/admin/audit".into(),
    ] {
        b.goto(&h.url(&path)).await?;
        b.wait_find("main#main", WAIT)
            .await
            .with_context(|| path.clone())?;
        let title = b.title().await?;
        ensure!(
            !title.to_lowercase().contains("not found") && !title.to_lowercase().contains("error"),
            "{path}: the page is titled “{title}”"
        );
        assert_page_clean(&h, &b, &[]).await?;
    }
    b.goto(&h.url("/assets")).await?;
    b.wait_find(&format!("#records tr[data-id=\"{id}\"]"), WAIT)
        .await?;
    screenshot(&b, "asset-list").await?;

    // Every browser asks for /favicon.ico unless the page names an icon; a 404 there is a
    // console error on every page.
    let icon = b
        .execute(
            "return !!document.querySelector('link[rel~=\"icon\"]');",
            vec![],
        )
        .await?;
    let (status, _) = h.get_raw("/favicon.ico").await?;
    ensure!(
        icon == json!(true) || status == 200,
        "no icon: pages name none and /favicon.ico answers {status}"
    );
    b.quit().await?;
    h.finish()
}

#[tokio::test]
async fn a_pc_is_created_found_by_search_and_edited() -> anyhow::Result<()> {
    let h = harness!("pc");
    let b = h.browser().await?;
    log_in(&h, &b).await?;

    b.goto(&h.url("/computers")).await?;
    b.wait_find("a#new-record", WAIT).await?.click().await?;
    wait_for_path(&h, &b, "/computers/new").await?;
    b.wait_find("form#record-form", WAIT).await?;
    fill(&b, "assetnumber", "PC-4711").await?;
    fill(&b, "name", "Lathe PC").await?;
    fill(&b, "hostname", "WJ-LATHE-4711").await?;
    fill(&b, "serialnumber", "SN-4711-X").await?;
    fill(&b, "ipaddress", "10.4.7.11").await?;
    b.find("button#save").await?.click().await?;
    wait_for_text(&b, "h1#record-title", "WJ-LATHE-4711").await?;
    ensure!(detail_field(&b, "assetnumber").await? == "PC-4711");
    ensure!(detail_field(&b, "name").await? == "Lathe PC");
    ensure!(detail_field(&b, "ipaddress").await? == "10.4.7.11");
    let detail_url = b.current_url().await?;
    screenshot(&b, "pc-detail").await?;
    assert_page_clean(&h, &b, &[]).await?;

    // Results as you type in the header, from a part of the host name.
    b.goto(&h.url("/")).await?;
    let search = b.wait_find("input#search-box", WAIT).await?;
    search.send_keys("lathe-47").await?;
    let hit = b
        .wait_for("a search hit for WJ-LATHE-4711", WAIT, async |s| {
            for a in s.find_all("#search-results a.search-hit").await? {
                if a.text().await?.contains("WJ-LATHE-4711") && a.displayed().await? {
                    return a.attr("href").await;
                }
            }
            Ok(None)
        })
        .await?;
    b.find(&format!("#search-results a.search-hit[href=\"{hit}\"]"))
        .await?
        .click()
        .await?;
    wait_for_text(&b, "h1#record-title", "WJ-LATHE-4711").await?;
    ensure!(
        b.current_url().await? == detail_url || detail_field(&b, "assetnumber").await? == "PC-4711",
        "the hit opens the PC"
    );

    // Enter in the header box opens the full results page, grouped by kind.
    let search = b.find("input#search-box").await?;
    search.clear().await?;
    search.send_keys("lathe-47\u{E007}").await?;
    wait_for_path(&h, &b, "/search?q=lathe-47").await?;
    wait_for_text(&b, "section.search-group a.search-hit", "WJ-LATHE-4711").await?;
    b.find("section.search-group a.search-hit")
        .await?
        .click()
        .await?;
    wait_for_text(&b, "h1#record-title", "WJ-LATHE-4711").await?;

    b.find("a#edit-record").await?.click().await?;
    b.wait_find("form#record-form", WAIT).await?;
    let kept = b
        .find("#record-form [name=\"name\"]")
        .await?
        .prop("value")
        .await?;
    ensure!(
        kept == json!("Lathe PC"),
        "the form shows the current value: {kept}"
    );
    fill(&b, "name", "Lathe 2 PC").await?;
    b.find("button#save").await?.click().await?;
    wait_for_text(&b, "#fields dd[data-field=\"name\"]", "Lathe 2 PC").await?;
    wait_for_text(&b, "section#history", "Lathe 2 PC").await?;
    assert_page_clean(&h, &b, &[]).await?;

    let found = h.api("GET", "/api/computers?q=WJ-LATHE-4711", None).await?;
    ensure!(found[0]["name"] == json!("Lathe 2 PC"), "saved: {found}");
    b.quit().await?;
    h.finish()
}

#[tokio::test]
async fn a_bad_form_says_what_is_wrong_next_to_the_field() -> anyhow::Result<()> {
    let h = harness!("badform");
    let pc = h
        .api(
            "POST",
            "/api/computers",
            Some(json!({"assetnumber": "PC-1000", "name": "Mill PC", "hostname": "WJ-MILL-1000"})),
        )
        .await?;
    let id = pc["assetid"].as_i64().context("assetid")?;
    let b = h.browser().await?;
    log_in(&h, &b).await?;
    // The form answers 422 on purpose; Chromium logs that as a failed load.
    let refused = ["status of 422"];

    // A new PC with a used asset number and no host name.
    b.goto(&h.url("/computers/new")).await?;
    b.wait_find("form#record-form", WAIT).await?;
    fill(&b, "assetnumber", "PC-1000").await?;
    fill(&b, "name", "Second mill PC").await?;
    b.find("button#save").await?.click().await?;
    let host = "span.field-error[data-field=\"hostname\"]";
    let number = "span.field-error[data-field=\"assetnumber\"]";
    wait_for_text(&b, host, "required").await?;
    wait_for_text(&b, number, "already used").await?;
    ensure!(
        next_to_field(&b, host, "hostname").await?,
        "{host} is not next to its field"
    );
    ensure!(
        next_to_field(&b, number, "assetnumber").await?,
        "{number} is not next to its field"
    );
    let kept = b
        .find("#record-form [name=\"name\"]")
        .await?
        .prop("value")
        .await?;
    ensure!(
        kept == json!("Second mill PC"),
        "what was typed is kept: {kept}"
    );
    assert_page_clean(&h, &b, &refused).await?;

    // Editing: the host name emptied.
    b.goto(&h.url(&format!("/computers/{id}/edit"))).await?;
    b.wait_find("form#record-form", WAIT).await?;
    b.find("#record-form [name=\"hostname\"]")
        .await?
        .clear()
        .await?;
    b.find("button#save").await?.click().await?;
    wait_for_text(&b, host, "required").await?;
    ensure!(next_to_field(&b, host, "hostname").await?);
    ensure!(
        b.find_maybe(number).await?.is_none(),
        "its own asset number is no error"
    );
    screenshot(&b, "edit-form-validation-error").await?;
    assert_page_clean(&h, &b, &refused).await?;

    fill(&b, "hostname", "WJ-MILL-1000B").await?;
    b.find("button#save").await?.click().await?;
    wait_for_text(&b, "h1#record-title", "WJ-MILL-1000B").await?;
    let count = h.api("GET", "/api/computers", None).await?;
    ensure!(
        count.as_array().map(Vec::len) == Some(1),
        "nothing else was saved: {count}"
    );
    b.quit().await?;
    h.finish()
}

/// Draws a 1200 × 800 floor plan in the page; the PNG as a data: URL.
const DRAW_FLOORPLAN: &str = r##"
const c = document.createElement("canvas");
c.width = 1200; c.height = 800;
const g = c.getContext("2d");
g.fillStyle = "#f4f1ea"; g.fillRect(0, 0, 1200, 800);
g.strokeStyle = "#555"; g.lineWidth = 6; g.strokeRect(20, 20, 1160, 760);
g.fillStyle = "#cfd8dc"; g.fillRect(80, 80, 300, 200); g.fillRect(700, 420, 400, 280);
return c.toDataURL("image/png");
"##;

/// PUTs the data: URL `arguments[1]` as the floor plan of location `arguments[0]` with the
/// login cookie and, when `arguments[2]`, the CSRF header from the shopdb_csrf cookie.
const PUT_FLOORPLAN: &str = r#"
const [location, dataUrl, withCsrf, done] = arguments;
(async () => {
  // Decoded here: the page's CSP (connect-src 'self') does not let fetch() read data: URLs.
  const bytes = Uint8Array.from(atob(dataUrl.split(",")[1]), (ch) => ch.charCodeAt(0));
  const png = new Blob([bytes], {type: "image/png"});
  const headers = {"Content-Type": "image/png"};
  const csrf = (document.cookie.match(/(?:^|;\s*)shopdb_csrf=([^;]+)/) || [])[1];
  if (withCsrf && csrf) headers["X-CSRF-Token"] = decodeURIComponent(csrf);
  const res = await fetch("/api/locations/" + location + "/floorplan", {method: "PUT", credentials: "same-origin", body: png, headers});
  return {status: res.status, body: await res.text()};
})().then(done, (e) => done({status: 0, body: String(e)}));
"#;

/// The `translate(x,y)` of a marker.
async fn marker_xy(b: &Session, id: i64) -> anyhow::Result<(f64, f64)> {
    let v = b
        .execute(
            "const m = document.querySelector('g.marker[data-id=\"' + arguments[0] + '\"]').transform.baseVal.consolidate().matrix;
             return [m.e, m.f];",
            vec![json!(id)],
        )
        .await?;
    Ok((v[0].as_f64().context("x")?, v[1].as_f64().context("y")?))
}

#[tokio::test]
async fn a_marker_dragged_on_the_floor_map_stays_where_it_was_put() -> anyhow::Result<()> {
    let h = harness!("map");
    let hall = h
        .api("POST", "/api/locations", Some(json!({"name": "Hall 7"})))
        .await?["locationid"]
        .as_i64()
        .context("locationid")?;
    let pc = h
        .api(
            "POST",
            "/api/computers",
            Some(
                json!({"assetnumber": "PC-7001", "hostname": "WJ-PRESS-7001", "locationid": hall}),
            ),
        )
        .await?;
    let id = pc["assetid"].as_i64().context("assetid")?;
    let asset = h.api("GET", &format!("/api/assets/{id}"), None).await?;
    h.api(
        "PUT",
        &format!("/api/assets/{id}"),
        Some(json!({"mapx": 300, "mapy": 200, "version": asset["version"]})),
    )
    .await?;

    let b = h.browser().await?;
    log_in(&h, &b).await?;
    b.goto(&h.url(&format!("/map/{hall}"))).await?;
    b.wait_find("svg#floor-map", WAIT).await?;
    wait_for_text(&b, "main", "No floor plan").await?;

    // An upload with the login cookie alone is refused: cookie writes need the CSRF header.
    let png = b.execute(DRAW_FLOORPLAN, vec![]).await?;
    let png = png.as_str().context("data: URL")?.to_string();
    let forged = b
        .execute_async(PUT_FLOORPLAN, vec![json!(hall), json!(png), json!(false)])
        .await?;
    ensure!(
        forged["status"] == json!(403),
        "without X-CSRF-Token: {forged}"
    );
    assert_page_clean(&h, &b, &["status of 403"]).await?;

    // The upload form on the map page.
    let file = h.dir.join("hall-7.png");
    let bytes = base64::engine::general_purpose::STANDARD.decode(
        png.strip_prefix("data:image/png;base64,")
            .context("a PNG data: URL")?,
    )?;
    std::fs::write(&file, bytes)?;
    b.find("#floorplan-form input[type=file]")
        .await?
        .send_keys(&file.display().to_string())
        .await?;
    b.find("#floorplan-form button[type=submit]")
        .await?
        .click()
        .await?;
    b.wait_find("svg#floor-map #floor-image", WAIT).await?;
    b.wait_for("the floor plan drawn", WAIT, async |s| {
        let v = s
            .execute(
                "return document.getElementById('floor-map').getAttribute('viewBox');",
                vec![],
            )
            .await?;
        Ok((v == json!("0 0 1200 800")).then_some(()))
    })
    .await?;
    let marker = format!("g.marker[data-id=\"{id}\"]");
    let m = b.wait_find(&marker, WAIT).await?;
    ensure!(m.attr("data-source").await?.as_deref() == Some("self"));
    ensure!(marker_xy(&b, id).await? == (300.0, 200.0));
    screenshot(&b, "floor-map").await?;

    // Screen pixels per map unit, to know where the drag should end.
    let scale = b
        .execute(
            "return document.getElementById('floor-map').getScreenCTM().a;",
            vec![],
        )
        .await?
        .as_f64()
        .context("scale")?;
    let (dx, dy) = (150, 90);
    let dot = b.find(&format!("{marker} circle")).await?;
    b.drag_by(&dot, dx, dy, 10).await?;
    wait_for_text(&b, "#map-status", "saved").await?;
    let (want_x, want_y) = (300.0 + dx as f64 / scale, 200.0 + dy as f64 / scale);

    let saved = h.api("GET", &format!("/api/assets/{id}"), None).await?;
    let (x, y) = (
        saved["mapx"].as_f64().context("mapx")?,
        saved["mapy"].as_f64().context("mapy")?,
    );
    ensure!(
        (x - want_x).abs() < 3.0 && (y - want_y).abs() < 3.0,
        "saved at ({x}, {y}), dragged to about ({want_x:.1}, {want_y:.1})"
    );
    assert_page_clean(&h, &b, &[]).await?;

    b.refresh().await?;
    b.wait_find(&marker, WAIT).await?;
    let (rx, ry) = marker_xy(&b, id).await?;
    ensure!(
        (rx - x).abs() < 0.01 && (ry - y).abs() < 0.01,
        "after reloading the marker is at ({rx}, {ry}), saved ({x}, {y})"
    );
    let history = h
        .api("GET", &format!("/api/assets/{id}/history"), None)
        .await?;
    ensure!(
        history.to_string().contains("mapx"),
        "the move is in the asset's history: {history}"
    );
    assert_page_clean(&h, &b, &[]).await?;
    b.quit().await?;
    h.finish()
}

#[tokio::test]
async fn a_usb_drive_is_checked_out_and_in_at_the_desk() -> anyhow::Result<()> {
    let h = harness!("usb");
    let drive = h
        .api(
            "POST",
            "/api/usb",
            Some(json!({"assetnumber": "USB-0042", "name": "Drive 42", "serialnumber": "AA11BB22CC", "capacitygb": 64})),
        )
        .await?;
    let id = drive["assetid"].as_i64().context("assetid")?;
    let b = h.browser().await?;
    log_in(&h, &b).await?;

    b.goto(&h.url("/usb/desk")).await?;
    b.wait_find("input#serial", WAIT)
        .await?
        .send_keys("aa11bb22cc")
        .await?;
    b.find("button#lookup").await?.click().await?;
    wait_for_text(&b, "#device-state", "available").await?;

    b.find("#checkout-form #checkedoutto")
        .await?
        .send_keys("Jo Miller")
        .await?;
    b.find("#checkout-form #badge")
        .await?
        .send_keys("B-1234")
        .await?;
    b.find("#checkout-form #purpose")
        .await?
        .send_keys("CNC program transfer")
        .await?;
    // Due in three days at noon local time, which the desk shows in the browser's local form.
    let due_date = b
        .execute(
            "const due = new Date(); due.setDate(due.getDate() + 3); due.setHours(12, 0, 0, 0);
             const local = new Date(due.getTime() - due.getTimezoneOffset() * 60000);
             const input = document.getElementById('dueat');
             input.value = local.toISOString().slice(0, 16);
             input.dispatchEvent(new Event('input', {bubbles: true}));
             input.dispatchEvent(new Event('change', {bubbles: true}));
             return due.toLocaleString();",
            vec![],
        )
        .await?;
    let due_date = due_date.as_str().context("due date")?.to_string();
    b.find("button#checkout").await?.click().await?;
    let state = wait_for_text(&b, "#device-state", "checked out").await?;
    ensure!(
        state.contains("Jo Miller") && state.contains("B-1234") && state.contains(&due_date),
        "the desk shows who has it and when it is due ({due_date}): {state}"
    );
    ensure!(
        b.find("button#checkin").await?.displayed().await?,
        "it can be checked in"
    );
    screenshot(&b, "usb-desk").await?;
    let out = h.api("GET", &format!("/api/usb/{id}"), None).await?;
    ensure!(
        !out["currentcheckoutid"].is_null(),
        "checked out in the database: {out}"
    );

    b.find("button#checkin").await?.click().await?;
    wait_for_text(&b, "#device-state", "available").await?;
    ensure!(
        b.find("button#checkout").await?.displayed().await?,
        "it can go out again"
    );
    let back = h.api("GET", &format!("/api/usb/{id}"), None).await?;
    ensure!(
        back["currentcheckoutid"].is_null(),
        "checked in in the database: {back}"
    );
    let loans: Value = h
        .api("GET", &format!("/api/usb/{id}/checkouts"), None)
        .await?;
    ensure!(
        loans[0]["checkedoutto"] == json!("Jo Miller") && !loans[0]["checkedinat"].is_null(),
        "{loans}"
    );
    assert_page_clean(&h, &b, &[]).await?;

    // A message line with nothing to say is not drawn as an empty box.
    let empty_box = b
        .execute(
            "const m = document.getElementById('desk-message');
             return !!m && m.textContent.trim() === '' && m.getBoundingClientRect().height > 0
               && getComputedStyle(m).borderTopStyle !== 'none';",
            vec![],
        )
        .await?;
    ensure!(
        empty_box == json!(false),
        "#desk-message shows as an empty bordered box after a lookup"
    );
    b.quit().await?;
    h.finish()
}

#[tokio::test]
async fn a_viewer_sees_records_but_no_way_to_change_them() -> anyhow::Result<()> {
    let h = harness!("viewer");
    let pc = h
        .api(
            "POST",
            "/api/computers",
            Some(json!({"assetnumber": "PC-2000", "hostname": "WJ-DRILL-2000"})),
        )
        .await?;
    let id = pc["assetid"].as_i64().context("assetid")?;
    let password = "a long viewer password";
    h.api(
        "POST",
        "/api/users",
        Some(json!({"username": "vera", "password": password, "role": "viewer"})),
    )
    .await?;
    let b = h.browser().await?;
    b.goto(&h.url("/login")).await?;
    log_in_with_form(&b, "vera", password).await?;
    b.wait_find("nav#nav", WAIT).await?;
    ensure!(
        b.find_maybe("nav#nav a[href=\"/admin/plugins\"]")
            .await?
            .is_none(),
        "no Admin link for a viewer"
    );

    b.goto(&h.url("/computers")).await?;
    b.wait_find(
        &format!("#records tr[data-id=\"{id}\"] a.record-link"),
        WAIT,
    )
    .await?
    .click()
    .await?;
    wait_for_text(&b, "h1#record-title", "WJ-DRILL-2000").await?;
    ensure!(
        b.find_maybe("a#edit-record").await?.is_none(),
        "no Edit button"
    );
    b.goto(&h.url("/computers")).await?;
    b.wait_find("table#records", WAIT).await?;
    ensure!(
        b.find_maybe("a#new-record").await?.is_none(),
        "no New button"
    );
    assert_page_clean(&h, &b, &[]).await?;

    // Typed addresses do not get round the missing buttons.
    for path in [
        format!("/computers/{id}/edit"),
        "/computers/new".to_string(),
        "/admin/plugins".to_string(),
    ] {
        b.goto(&h.url(&path)).await?;
        b.wait_find("main#main", WAIT).await?;
        ensure!(
            b.find_maybe("form#record-form, table#plugins")
                .await?
                .is_none(),
            "{path}: a viewer gets the page"
        );
        let said = b.find("main#main").await?.text().await?;
        ensure!(
            !said.is_empty(),
            "{path}: an empty page instead of a reason"
        );
        assert_page_clean(&h, &b, &["status of 403", "status of 404"]).await?;
    }
    b.quit().await?;
    h.finish()
}

#[tokio::test]
async fn an_admin_deactivates_a_user_who_then_cannot_log_in() -> anyhow::Result<()> {
    let h = harness!("users");
    let made = h
        .api(
            "POST",
            "/api/users",
            Some(json!({"username": "nightshift", "password": "night shift password", "role": "editor"})),
        )
        .await?;
    let id = made["userid"].as_i64().context("new user id")?;
    let b = h.browser().await?;
    log_in(&h, &b).await?;

    b.goto(&h.url("/admin/users")).await?;
    let row = "tr[data-user=\"nightshift\"]";
    b.wait_find(row, WAIT).await?;
    // The row's controls sit in table cells and belong to the row's form by its id.
    b.execute(
        &format!("document.querySelector('{row} select[name=role]').value = 'viewer';"),
        vec![],
    )
    .await?;
    b.find(&format!("{row} input[type=checkbox][name=isactive]"))
        .await?
        .click()
        .await?;
    screenshot(&b, "admin-users").await?;
    b.find(&format!("form#user-{id} button[type=submit]"))
        .await?
        .click()
        .await?;
    wait_for_text(
        &b,
        "main#main .notice",
        "Saved nightshift: viewer, deactivated",
    )
    .await?;
    ensure!(
        b.find_maybe(&format!("{row}.inactive")).await?.is_some(),
        "the row shows the user as inactive"
    );
    let users = h.api("GET", "/api/users", None).await?;
    let saved = users
        .as_array()
        .and_then(|u| u.iter().find(|u| u["username"] == "nightshift"))
        .context("user listed")?;
    ensure!(
        saved["role"] == "viewer" && saved["isactive"] == false,
        "saved as shown: {saved}"
    );
    assert_page_clean(&h, &b, &[]).await?;
    b.quit().await?;

    // The deactivated user's login is refused with a message on the login page.
    let other = h.browser().await?;
    other.goto(&h.url("/login")).await?;
    log_in_with_form(&other, "nightshift", "night shift password").await?;
    let said = wait_for_text(&other, "#login-error", "").await?;
    ensure!(
        other.current_url().await?.contains("/login"),
        "still on the login page, told: {said}"
    );
    other.quit().await?;
    h.finish()
}

#[tokio::test]
async fn an_admin_disables_a_plugin_and_its_navigation_goes() -> anyhow::Result<()> {
    let h = harness!("plugins");
    let b = h.browser().await?;
    log_in(&h, &b).await?;

    b.goto(&h.url("/admin/plugins")).await?;
    let row = "tr[data-plugin=\"printers\"]";
    b.wait_find(row, WAIT).await?;
    ensure!(
        b.find_maybe("nav#nav a[data-plugin=\"printers\"]")
            .await?
            .is_some(),
        "printers is in the navigation while enabled"
    );
    wait_for_text(&b, &format!("{row} .state"), "enabled").await?;
    screenshot(&b, "admin-plugins").await?;

    b.find(&format!("{row} .plugin-action[data-action=\"disable\"]"))
        .await?
        .click()
        .await?;
    b.wait_find("form#confirm-form", WAIT).await?;
    ensure!(
        b.find_maybe("nav#nav a[data-plugin=\"printers\"]")
            .await?
            .is_some(),
        "nothing changes before confirming"
    );
    b.find("button#confirm").await?.click().await?;
    wait_for_text(&b, &format!("{row} .state"), "disabled").await?;
    ensure!(
        b.current_url().await?.starts_with(&h.url("/admin/plugins")),
        "back on the plugin list"
    );
    ensure!(
        b.find_maybe("nav#nav a[data-plugin=\"printers\"]")
            .await?
            .is_none(),
        "printers left the navigation"
    );
    ensure!(
        b.find_maybe("nav#nav a[data-plugin=\"computers\"]")
            .await?
            .is_some(),
        "the other plugins stay"
    );
    assert_page_clean(&h, &b, &[]).await?;

    b.goto(&h.url("/")).await?;
    b.wait_find("nav#nav", WAIT).await?;
    ensure!(
        b.find_maybe("nav#nav a[data-plugin=\"printers\"]")
            .await?
            .is_none(),
        "not on other pages either"
    );
    let plugins = h.api("GET", "/api/plugins", None).await?;
    let printers = plugins
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == json!("printers"))
        .cloned()
        .unwrap_or_default();
    ensure!(printers.to_string().contains("disabled"), "{printers}");
    b.quit().await?;
    h.finish()
}

/// A folder plugin packed at another site (what `shopdb plugin pack cameras` writes).
fn packed_cameras() -> anyhow::Result<Vec<u8>> {
    use shopdb_core::plugin::folder::{Sources, pack};
    let manifest = r#"{"name": "cameras", "version": "1.0.0", "description": "Network cameras",
  "core_version": ">=1.0.0,<2.0.0"}"#;
    let model = r#"[[table]]
name = "cameras"
extends = "assets"
label = "Camera"
title = "hostname"

[[table.field]]
name = "hostname"
type = "string"
required = true
unique = true
label = "Host name"
help = "As the camera announces itself on the network"

[[table.field]]
name = "fps"
type = "integer"
min = 1
max = 240
label = "Frames per second"

[nav]
label = "Cameras"
position = 40
"#;
    pack::pack(
        "cameras",
        &Sources {
            manifest: manifest.into(),
            model: model.into(),
            ..Default::default()
        },
    )
}

#[tokio::test]
async fn an_admin_uploads_a_packed_plugin_and_creates_a_record_through_its_form()
-> anyhow::Result<()> {
    let h = harness!("folderplugin");
    let file = h.dir.join("cameras-1.0.0.zip");
    std::fs::write(&file, packed_cameras()?)?;
    let b = h.browser().await?;
    log_in(&h, &b).await?;

    b.goto(&h.url("/admin/plugins")).await?;
    b.wait_find("form#plugin-upload", WAIT).await?;
    let nav = "nav#nav a[data-plugin=\"cameras\"]";
    ensure!(
        b.find_maybe(nav).await?.is_none(),
        "no cameras before the upload"
    );
    b.find("input#plugin-file")
        .await?
        .send_keys(file.to_str().context("a UTF-8 path")?)
        .await?;
    b.find("form#plugin-upload button[type=submit]")
        .await?
        .click()
        .await?;
    wait_for_text(&b, "#plugin-done", "Installed cameras").await?;
    wait_for_text(&b, "tr[data-plugin=\"cameras\"] .state", "enabled").await?;
    assert_page_clean(&h, &b, &[]).await?;

    // Its navigation item leads to its list, and its form creates a camera.
    b.wait_find(nav, WAIT).await?.click().await?;
    wait_for_path(&h, &b, "/cameras").await?;
    b.wait_find("a#new-record", WAIT).await?.click().await?;
    wait_for_path(&h, &b, "/cameras/new").await?;
    b.wait_find("form#record-form", WAIT).await?;
    let form = b.find("form#record-form").await?.text().await?;
    ensure!(
        form.contains("Host name") && form.contains("As the camera announces itself"),
        "the model's label and help text: {form}"
    );
    fill(&b, "assetnumber", "CAM-0001").await?;
    fill(&b, "hostname", "cam-gate-01").await?;
    fill(&b, "fps", "500").await?;
    b.find("button#save").await?.click().await?;
    wait_for_text(&b, "form#record-form", "must be at most 240").await?;
    fill(&b, "fps", "25").await?;
    b.find("button#save").await?.click().await?;
    wait_for_text(&b, "h1#record-title", "cam-gate-01").await?;
    ensure!(detail_field(&b, "fps").await? == "25");
    screenshot(&b, "folder-plugin-detail").await?;
    // The refused save answered 422, as a form with a mistake does.
    assert_page_clean(&h, &b, &["status of 422"]).await?;

    let found = h.api("GET", "/api/cameras", None).await?;
    ensure!(
        found[0]["assetnumber"] == json!("CAM-0001"),
        "saved: {found}"
    );
    b.quit().await?;
    h.finish()
}

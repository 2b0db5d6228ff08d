//! Folder plugins: a manifest.json and a model.toml in the plugin folder, installed and
//! served without a restart, checked with file and line, shared as one packed file.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::json;
use shopdb_core::plugin::folder::{Sources, pack};

use crate::backend_tests;
use crate::support::TestApp;

fn manifest(name: &str) -> String {
    format!(
        r#"{{
  "name": "{name}",
  "version": "1.0.0",
  "description": "Network cameras",
  "core_version": ">=1.0.0,<2.0.0",
  "dependencies": []
}}"#
    )
}

const CAMERAS: &str = r#"
[[table]]
name = "cameras"
extends = "assets"
label = "Camera"
title = "hostname"
subtitle = "streamurl"
search = ["hostname", "streamurl"]
list = ["hostname", "resolution", "fps"]

[[table.field]]
name = "hostname"
type = "string"
length = 100
required = true
unique = true
label = "Host name"

[[table.field]]
name = "streamurl"
type = "url"

[[table.field]]
name = "resolution"
type = "choice"
choices = ["720p", "1080p", "4K"]

[[table.field]]
name = "fps"
type = "integer"
min = 1
max = 240

[[table.field]]
name = "poeport"
type = "string"
length = 20
pattern = "[A-Za-z]*[0-9]+(/[0-9]+)*"

[[table.field]]
name = "macaddress"
type = "mac"

[[table]]
name = "lenses"
title = "lensname"

[[table.field]]
name = "lensname"
type = "string"
required = true

[[table.field]]
name = "camera"
type = "reference"
references = "cameras"

[nav]
label = "Cameras"
position = 40

[[widget]]
name = "camerasbyresolution"
title = "Cameras by resolution"
kind = "bars"
field = "resolution"

[[widget]]
name = "fourk"
title = "4K cameras"
kind = "list"
filter = { resolution = "4K" }

[collector]
identity = "hostname"
match = ["serialnumber", "macaddress"]

[[setting]]
key = "stalehours"
type = "integer"
default = 24
"#;

/// A plugin folder holding `plugins` (name, model.toml), removed with the guard.
struct PluginDir(PathBuf);

impl PluginDir {
    fn new(plugins: &[(&str, &str)]) -> PluginDir {
        let dir = std::env::temp_dir().join(format!(
            "shopdb-folder-{}",
            shopdb_core::util::random_token(8)
                .to_lowercase()
                .replace(['-', '_'], "x")
        ));
        for (name, model) in plugins {
            let p = dir.join(name);
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("manifest.json"), manifest(name)).unwrap();
            std::fs::write(p.join("model.toml"), model).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        PluginDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for PluginDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn plugin<'a>(list: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    list.as_array()
        .and_then(|l| l.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("{name} not listed in {list}"))
}

/// Waits until `app` answers `path` with `status`, for at most ten seconds.
async fn eventually(app: &TestApp, path: &str, status: StatusCode) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = app.get(path).await.status;
        if got == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path}: still {got}, wanted {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

backend_tests! {
    async fn a_folder_plugin_gets_api_validation_search_widgets_and_collector(app) {
        let dir = PluginDir::new(&[("cameras", CAMERAS)]);
        let app = app.with_plugin_dir(dir.path()).await;
        assert_eq!(plugin(app.get("/api/plugins").await.data(), "cameras")["state"], "available");
        assert_eq!(app.get("/api/cameras").await.status, StatusCode::NOT_FOUND);
        let installed = app.post("/api/plugins/cameras/install", json!({})).await;
        assert_eq!(installed.status, StatusCode::OK, "{}", installed.body);

        let created = app.post("/api/cameras", json!({
            "assetnumber": "CAM-001", "name": "Gate camera", "hostname": "cam-gate-01",
            "streamurl": "rtsp://10.1.2.3/stream1", "resolution": "4K", "fps": 30,
            "poeport": "Gi1/0/12", "macaddress": "00-1A-2B-3C-4D-5E"
        })).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let camera = created.data().clone();
        assert_eq!(camera["assettypename"], "Camera");
        assert_eq!(camera["macaddress"], "00:1a:2b:3c:4d:5e");
        let id = camera["assetid"].as_i64().unwrap();

        // Every rule of the model, each named in the answer; nothing is written.
        let assets = app.count("assets").await;
        let bad = app.post("/api/cameras", json!({
            "assetnumber": "CAM-002", "hostname": "CAM-GATE-01", "streamurl": "not a url",
            "resolution": "8K", "fps": 0, "poeport": "port twelve"
        })).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
        let details = &bad.body["error"]["details"];
        for field in ["streamurl", "resolution", "fps", "poeport"] {
            assert!(details.get(field).is_some(), "{field} not named: {details}");
        }
        let taken = app.post("/api/cameras", json!({"assetnumber": "CAM-002", "hostname": "CAM-GATE-01"})).await;
        assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", taken.body);
        assert!(taken.body["error"]["details"]["hostname"].as_str().unwrap().contains("ignoring case"));
        assert_eq!(app.count("assets").await, assets);

        // A standalone table referring to the camera.
        let lens = app.post("/api/cameras/lenses", json!({"lensname": "Wide 2.8mm", "camera": id})).await;
        assert_eq!(lens.status, StatusCode::CREATED, "{}", lens.body);
        let no_camera = app.post("/api/cameras/lenses", json!({"lensname": "Tele", "camera": 999_999})).await;
        assert!(no_camera.status.is_client_error(), "{}", no_camera.body);

        let list = app.get("/api/cameras?resolution=4K").await;
        assert_eq!(list.body["meta"]["total"], 1, "{}", list.body);
        let found = app.get("/api/search?q=gate-01").await;
        let hit = found.data().as_array().unwrap().iter().find(|h| h["type"] == "cameras").cloned();
        assert_eq!(hit.expect("a camera in the results")["url"], format!("/cameras/{id}"));

        let dashboard = app.get("/api/dashboard").await;
        let bars = dashboard.data().as_array().unwrap().iter().find(|w| w["name"] == "camerasbyresolution").unwrap();
        assert_eq!(bars["data"]["bars"][0]["label"], "4K", "{bars}");
        let fourk = dashboard.data().as_array().unwrap().iter().find(|w| w["name"] == "fourk").unwrap();
        assert_eq!(fourk["data"]["cameras"][0]["hostname"], "cam-gate-01", "{fourk}");
        let nav = app.get("/api/navigation").await;
        assert!(nav.data().as_array().unwrap().iter().any(|n| n["name"] == "Cameras" && n["route"] == "/cameras"), "{}", nav.body);
        let doc = app.get("/api/openapi.json").await;
        assert!(doc.body["paths"].get("/api/cameras/{id}").is_some());
        assert!(doc.body["paths"].get("/api/cameras/lenses").is_some());
        let form = app.get("/cameras/new").await;
        assert_eq!(form.status, StatusCode::OK);
        let html = form.body.as_str().unwrap_or_default();
        assert!(html.contains(r#"<select id="f-resolution""#) && html.contains(r#"<option value="4K""#), "a drop-down of the choices");
        assert!(html.contains("Host name"), "the model's label");
        let settings = app.get("/api/settings").await;
        assert!(settings.body.to_string().contains("stalehours"), "{}", settings.body);

        // The collector recognises a renamed camera by its MAC address.
        let token = app.post("/api/tokens", json!({"name": "camera scan", "plugin": "cameras"})).await.data()["token"].as_str().unwrap().to_string();
        let push = app.call(Method::POST, "/api/collector/cameras", Some(&token), Some(json!({
            "hostname": "cam-gate-01-new", "macaddress": "00:1a:2b:3c:4d:5e", "fps": 25
        }))).await;
        assert_eq!(push.status, StatusCode::OK, "{}", push.body);
        let renamed = app.get(&format!("/api/cameras/{id}")).await;
        assert_eq!(renamed.data()["hostname"], "cam-gate-01-new", "{}", push.body);
        assert_eq!(renamed.data()["fps"], 25);

        // Disabled: hidden; uninstalled: gone, with a backup; the folder still offers it.
        assert_eq!(app.post("/api/plugins/cameras/disable", json!({})).await.status, StatusCode::OK);
        assert_eq!(app.get("/api/cameras").await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.post("/api/plugins/cameras/enable", json!({})).await.status, StatusCode::OK);
        let gone = app.post("/api/plugins/cameras/uninstall", json!({})).await;
        assert_eq!(gone.status, StatusCode::OK, "{}", gone.body);
        let backup = gone.data()["backup"].as_str().unwrap().to_string();
        assert!(std::fs::read_to_string(&backup).unwrap().contains("cam-gate-01-new"));
        let _ = std::fs::remove_file(backup);
        assert_eq!(app.get("/api/cameras").await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.count("folderplugins").await, 0);
        assert_eq!(plugin(app.get("/api/plugins").await.data(), "cameras")["state"], "available");
        // Installed again: new, empty tables; the asset itself stayed with the core.
        assert_eq!(app.post("/api/plugins/cameras/install", json!({})).await.status, StatusCode::OK);
        assert_eq!(app.get("/api/cameras").await.body["meta"]["total"], 0);
        assert_eq!(app.get(&format!("/api/assets/{id}")).await.status, StatusCode::OK);
    }

    async fn an_install_on_one_server_is_live_on_another_within_seconds(app) {
        let with_folder = PluginDir::new(&[("cameras", CAMERAS)]);
        let empty = PluginDir::new(&[]);
        let one = app.with_plugin_dir(with_folder.path()).await;
        // The other server has no plugin folder at all: it loads the model from the database.
        let two = app.with_plugin_dir(empty.path()).await;
        assert_eq!(two.get("/api/cameras").await.status, StatusCode::NOT_FOUND);
        assert_eq!(one.post("/api/plugins/cameras/install", json!({})).await.status, StatusCode::OK);
        eventually(&two, "/api/cameras", StatusCode::OK).await;
        let created = two.post("/api/cameras", json!({"assetnumber": "CAM-9", "hostname": "cam-dock-09"})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let bad = two.post("/api/cameras", json!({"assetnumber": "CAM-10", "hostname": "cam-dock-10", "fps": 1000})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
        assert_eq!(one.post("/api/plugins/cameras/uninstall", json!({})).await.status, StatusCode::OK);
        eventually(&two, "/api/cameras", StatusCode::NOT_FOUND).await;
        assert!(two.get("/api/plugins").await.data().as_array().unwrap().iter().all(|p| p["name"] != "cameras"));
    }

    async fn a_broken_or_conflicting_folder_plugin_is_quarantined_with_file_and_line(app) {
        let broken = "[[table]]\nname = \"widgets\"\n\n[[table.field]]\nname = \"size\"\ntype = \"strng\"\n";
        let clash = "[[table]]\nname = \"locations\"\n\n[[table.field]]\nname = \"x\"\ntype = \"string\"\n";
        let dir = PluginDir::new(&[("broken", broken), ("clash", clash), ("cameras", CAMERAS)]);
        let app = app.with_plugin_dir(dir.path()).await;
        let list = app.get("/api/plugins").await;
        let b = plugin(list.data(), "broken");
        assert_eq!(b["state"], "quarantined");
        let reason = b["reason"].as_str().unwrap();
        assert!(reason.contains("model.toml:6") && reason.contains("strng"), "{reason}");
        let c = plugin(list.data(), "clash");
        assert_eq!(c["state"], "quarantined");
        assert!(c["reason"].as_str().unwrap().contains("model.toml:2: table.locations.name: table locations belongs to the core"), "{}", c["reason"]);
        // The rest of the site works, the good plugin included.
        assert_eq!(plugin(list.data(), "cameras")["state"], "available");
        assert_eq!(app.post("/api/plugins/broken/install", json!({})).await.status, StatusCode::CONFLICT);
        assert_eq!(app.post("/api/plugins/cameras/install", json!({})).await.status, StatusCode::OK);
        assert_eq!(app.get("/api/cameras").await.status, StatusCode::OK);
        assert_eq!(app.get("/api/locations").await.status, StatusCode::OK);
    }

    async fn a_packed_plugin_installs_by_upload_and_bad_files_change_nothing(app) {
        let dir = PluginDir::new(&[]);
        let app = app.with_plugin_dir(dir.path()).await;
        let sources = Sources { manifest: manifest("cameras"), model: CAMERAS.to_string(), ..Default::default() };
        let packed = pack::pack("cameras", &sources).unwrap();

        let viewer = app.login_as("looker", shopdb_core::auth::Role::Viewer).await;
        assert_eq!(app.post_bytes("/api/plugins/upload", &viewer, packed.clone()).await.status, StatusCode::FORBIDDEN);
        let junk = app.post_bytes("/api/plugins/upload", &app.admin, b"not a zip".to_vec()).await;
        assert_eq!(junk.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", junk.body);
        assert!(junk.body["error"]["details"]["file"].as_str().unwrap().starts_with("not a packed plugin"), "{}", junk.body);
        let evil = zip_of(&[("../evil/manifest.json", "{}"), ("../evil/model.toml", "")]);
        let refused = app.post_bytes("/api/plugins/upload", &app.admin, evil).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        assert!(refused.body["error"]["details"]["file"].as_str().unwrap().contains("unexpected entry"));
        let extra = zip_of(&[("cameras/manifest.json", &manifest("cameras")), ("cameras/model.toml", CAMERAS), ("cameras/run.sh", "echo")]);
        assert_eq!(app.post_bytes("/api/plugins/upload", &app.admin, extra).await.status, StatusCode::UNPROCESSABLE_ENTITY);
        let broken = pack::pack("cameras", &Sources { manifest: manifest("cameras"), model: "[[table]]\nname = \"Cameras\"\n".into(), ..Default::default() }).unwrap();
        let invalid = app.post_bytes("/api/plugins/upload", &app.admin, broken).await;
        assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", invalid.body);
        let huge = vec![0u8; pack::MAX_PACKED + 1];
        assert_eq!(app.post_bytes("/api/plugins/upload", &app.admin, huge).await.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing unpacked");
        assert_eq!(app.count("folderplugins").await, 0);

        let uploaded = app.post_bytes("/api/plugins/upload", &app.admin, packed.clone()).await;
        assert_eq!(uploaded.status, StatusCode::OK, "{}", uploaded.body);
        assert_eq!(uploaded.data()["plugin"], "cameras");
        assert_eq!(app.get("/api/cameras").await.status, StatusCode::OK);
        assert!(dir.path().join("cameras/model.toml").is_file());
        let again = app.post_bytes("/api/plugins/upload", &app.admin, packed).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    }

    async fn a_plugin_brings_its_own_detail_page_and_widget_and_may_replace_only_its_own_pages(app) {
        let dir = PluginDir::new(&[]);
        let app = app.with_plugin_dir(dir.path()).await;
        let with = |templates: &[(&str, &str)]| {
            let sources = Sources {
                manifest: manifest("cameras"),
                model: CAMERAS.to_string(),
                templates: templates.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect(),
            };
            pack::pack("cameras", &sources).unwrap()
        };
        // A template for another page than its own, or one that does not parse: refused,
        // naming the file (and the line); nothing is installed.
        let hijack = app.post_bytes("/api/plugins/upload", &app.admin, with(&[("base.html", "<p>mine</p>")])).await;
        assert_eq!(hijack.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", hijack.body);
        assert!(hijack.body.to_string().contains("templates/base.html"), "{}", hijack.body);
        let broken = app.post_bytes("/api/plugins/upload", &app.admin, with(&[("cameras/part.html", "<p>\n{% if %}</p>")])).await;
        assert_eq!(broken.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", broken.body);
        assert!(broken.body.to_string().contains("templates/cameras/part.html:2"), "{}", broken.body);
        let outside = zip_of(&[("cameras/manifest.json", &manifest("cameras")), ("cameras/model.toml", CAMERAS), ("cameras/templates/../../x.html", "x")]);
        assert_eq!(app.post_bytes("/api/plugins/upload", &app.admin, outside).await.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.count("folderplugins").await, 0);

        let detail = r#"{% extends "detail.html" %}{% block extra %}{% include "cameras/stream.html" %}{% endblock %}"#;
        let stream = r#"<section id="stream"><h2>Live picture</h2><a id="stream-link" href="{{ record.streamurl }}">Open the stream of {{ record.hostname }}</a></section>"#;
        let widget = r#"<p id="fourk-wall">{{ w.title }}: a wall of 4K pictures</p>"#;
        let packed = with(&[
            ("records/cameras/detail.html", detail),
            ("cameras/stream.html", stream),
            ("widgets/fourk.html", widget),
        ]);
        let uploaded = app.post_bytes("/api/plugins/upload", &app.admin, packed).await;
        assert_eq!(uploaded.status, StatusCode::OK, "{}", uploaded.body);
        assert!(dir.path().join("cameras/templates/records/cameras/detail.html").is_file(), "written into the plugin folder");
        let created = app.post("/api/cameras", json!({
            "assetnumber": "CAM-010", "hostname": "cam-dock-02", "streamurl": "http://10.1.2.9/live", "resolution": "4K"
        })).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let id = created.data()["assetid"].as_i64().unwrap();

        // The page comes from the stored copy (what every server process loads), with the
        // generated fields above the plugin's own section.
        let browser = crate::web::log_in(&app).await;
        let shown = crate::web::page(&app, Some(&browser.cookie), Method::GET, &format!("/cameras/{id}"), None).await;
        assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
        let html = crate::web::html(&shown);
        // (MiniJinja escapes '/' in attribute values as &#x2f;, which browsers read back as '/'.)
        assert!(html.contains(r#"<a id="stream-link" href="http:&#x2f;&#x2f;10.1.2.9&#x2f;live">Open the stream of cam-dock-02</a>"#), "{html}");
        assert!(html.contains(r#"id="fields""#) && html.contains("cam-dock-02"), "{html}");
        let dashboard = crate::web::page(&app, Some(&browser.cookie), Method::GET, "/", None).await;
        assert!(crate::web::html(&dashboard).contains(r#"<p id="fourk-wall">4K cameras: a wall of 4K pictures</p>"#), "{}", dashboard.body);
        // The plugin's other records keep the generated page.
        let lens = app.post("/api/cameras/lenses", json!({"lensname": "Tele 12mm", "camera": id})).await;
        assert_eq!(lens.status, StatusCode::CREATED, "{}", lens.body);
        let lens_page = crate::web::page(&app, Some(&browser.cookie), Method::GET, &format!("/cameras/lenses/{}", lens.data()["lensesid"]), None).await;
        assert_eq!(lens_page.status, StatusCode::OK, "{}", lens_page.body);
        assert!(!crate::web::html(&lens_page).contains("stream-link"));
    }

    async fn an_edited_folder_plugin_migrates_keeping_its_data_and_a_lossy_edit_changes_nothing(app) {
        let dir = PluginDir::new(&[("cameras", CAMERAS)]);
        let app = app.with_plugin_dir(dir.path()).await;
        assert_eq!(app.post("/api/plugins/cameras/install", json!({})).await.status, StatusCode::OK);
        let chain = "SELECT COUNT(*) FROM schemamigrations WHERE chain = 'cameras.model'";
        assert_eq!(scalar(&app, chain).await, 2, "install: one create table step per table");
        let created = app.post("/api/cameras", json!({
            "assetnumber": "CAM-001", "hostname": "cam-gate-01", "resolution": "4K", "fps": 30,
            "poeport": "Gi1/0/12"
        })).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let path = format!("/api/cameras/{}", created.data()["assetid"]);

        // Lossy: a shorter host name, fps turned into text. Refused, naming both; nothing changes.
        let lossy = CAMERAS
            .replacen("length = 100", "length = 50", 1)
            .replace("name = \"fps\"\ntype = \"integer\"\nmin = 1\nmax = 240", "name = \"fps\"\ntype = \"string\"");
        let stored = stored_model(&app).await;
        let refused = edit_to(&app, &dir, &lossy).await.unwrap_err().to_string();
        assert!(refused.contains("cameras.hostname: narrowing string(100) to string(50)"), "{refused}");
        assert!(refused.contains("cameras.fps: changing integer to string(255)"), "{refused}");
        assert_eq!(stored_model(&app).await, stored, "the stored model is kept");
        assert_eq!(scalar(&app, chain).await, 2, "no step recorded");
        assert_eq!(app.get(&path).await.data()["fps"], 30);

        // Kept: a field added, a string widened, a choice added, a declared rename.
        let edited = CAMERAS
            .replacen("length = 100", "length = 200", 1)
            .replace(r#"choices = ["720p", "1080p", "4K"]"#, r#"choices = ["720p", "1080p", "4K", "8K"]"#)
            .replace("name = \"poeport\"", "name = \"switchport\"\nrenamed_from = \"poeport\"")
            .replace("[[table]]\nname = \"lenses\"", "[[table.field]]\nname = \"firmware\"\ntype = \"string\"\nlength = 40\n\n[[table]]\nname = \"lenses\"");
        let ran = edit_to(&app, &dir, &edited).await.unwrap();
        let names: Vec<&str> = ran.ran.iter().map(|(_, _, n)| n.as_str()).collect();
        assert_eq!(names, [
            "alter column cameras.hostname (string(100) -> string(200))",
            "add choice '8K' to cameras.resolution",
            "add column cameras.firmware",
            "rename cameras.poeport to switchport (1/3 copy)",
            "rename cameras.poeport to switchport (2/3 switch)",
            "rename: drop the old column cameras.poeport (3/3 drop)",
        ]);
        assert_eq!(stored_model(&app).await, edited, "stored with the last step");
        assert_eq!(scalar(&app, chain).await, 8);

        // The running server serves the new model within seconds, with the data kept.
        let deadline = Instant::now() + Duration::from_secs(10);
        let camera = loop {
            let camera = app.get(&path).await.data().clone();
            if camera.get("switchport").is_some() || Instant::now() > deadline {
                break camera;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(camera["switchport"], "Gi1/0/12", "{camera}");
        assert_eq!(camera["hostname"], "cam-gate-01");
        assert_eq!(camera["fps"], 30);
        assert_eq!(camera["resolution"], "4K");
        assert!(camera["firmware"].is_null() && camera.get("poeport").is_none(), "{camera}");
        let long = "cam-".repeat(40);
        let newer = app.post("/api/cameras", json!({
            "assetnumber": "CAM-002", "hostname": long, "resolution": "8K", "firmware": "5.7.3",
            "switchport": "Gi1/0/13"
        })).await;
        assert_eq!(newer.status, StatusCode::CREATED, "{}", newer.body);
        assert_eq!(newer.data()["firmware"], "5.7.3");
        assert!(edit_to(&app, &dir, &edited).await.unwrap().ran.is_empty(), "nothing left to do");

        // A declared drop: the values are backed up first, then the column goes.
        let fps = "[[table.field]]\nname = \"fps\"\ntype = \"integer\"\nmin = 1\nmax = 240\n\n";
        assert!(edited.contains(fps));
        let dropped = edited
            .replace(fps, "")
            .replace(r#"list = ["hostname", "resolution", "fps"]"#, "list = [\"hostname\", \"resolution\"]\ndropped = [\"fps\"]");
        let ran = edit_to(&app, &dir, &dropped).await.unwrap();
        let names: Vec<&str> = ran.ran.iter().map(|(_, _, n)| n.as_str()).collect();
        assert_eq!(names, ["drop column cameras.fps (backed up)"]);
        let backup = std::fs::read_to_string(&ran.backups[0]).unwrap();
        assert!(backup.contains(r#""fps": 30"#), "{backup}");
        let deadline = Instant::now() + Duration::from_secs(10);
        // Until the server has loaded the new model, reads naming the dropped column fail.
        let camera = loop {
            let got = app.get(&path).await;
            if got.status == StatusCode::OK && got.data().get("fps").is_none() {
                break got.data().clone();
            }
            assert!(Instant::now() < deadline, "fps still served: {}", got.body);
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(camera["switchport"], "Gi1/0/12", "{camera}");
        assert_eq!(camera["hostname"], "cam-gate-01");
    }
}

/// Writes `model` into the cameras folder and runs `shopdb plugin migrate cameras` on it.
async fn edit_to(
    app: &TestApp,
    dir: &PluginDir,
    model: &str,
) -> Result<shopdb_core::plugin::lifecycle::Migrated, shopdb_core::plugin::lifecycle::LifecycleError>
{
    let folder = dir.path().join("cameras");
    std::fs::write(folder.join("model.toml"), model).unwrap();
    let edited =
        shopdb_core::plugin::folder::FolderPlugin::load(&folder).expect("passes the check");
    let mode = shopdb_core::evolve::Mode::Explicit {
        backup_dir: dir.path().join("backups"),
    };
    let registry = &app.state.registry;
    let plan = shopdb_core::plugin::edit::plan(app.db(), registry, &edited).await?;
    let migrated = shopdb_core::plugin::edit::migrate(app.db(), registry, &edited, &mode).await?;
    assert_eq!(
        plan.steps.len(),
        migrated.ran.len(),
        "--plan lists what runs"
    );
    Ok(migrated)
}

async fn stored_model(app: &TestApp) -> String {
    let store = shopdb_core::plugin::folder::store::stored(app.db())
        .await
        .unwrap();
    store
        .into_iter()
        .find(|(n, _)| n == "cameras")
        .unwrap()
        .1
        .model
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    use sqlx::Row;
    app.db()
        .query(sql)
        .fetch_one(app.db().pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

/// A zip holding `entries` (path, text), as a hand-made (or hostile) packed file.
fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
    use std::io::Write;
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, text) in entries {
        out.start_file(*path, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(text.as_bytes()).unwrap();
    }
    out.finish().unwrap().into_inner()
}

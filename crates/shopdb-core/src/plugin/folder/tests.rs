//! The folder format without a database: problems with their lines, the published schema
//! against the parser, and what a model turns into.

use serde_json::{Value, json};

use super::build::{check_value, resource_path, table};
use super::check::check_model;
use super::model::KEYS;
use super::spec::FieldType;
use super::{FolderPlugin, MODEL_SCHEMA, Owners, Sources};
use crate::plugin::Plugin;

const MANIFEST: &str = r#"{"name": "cameras", "version": "1.0.0", "description": "d",
  "core_version": ">=1.0.0,<2.0.0"}"#;

fn problems(model: &str) -> Vec<String> {
    check_model(model)
        .err()
        .unwrap_or_default()
        .iter()
        .map(|p| format!("{}:{}: {}", p.line, p.key, p.message))
        .collect()
}

#[test]
fn every_problem_names_its_line_and_key() {
    let model = r#"[[table]]
name = "cameras"
title = "nosuch"

[[table.field]]
name = "streamURL"
type = "text"

[[table.field]]
name = "fps"
type = "integr"

[[table.field]]
name = "port"
type = "string"
pattern = "(unclosed"

[[table.field]]
name = "owner"
type = "reference"
references = "people"

[[widget]]
name = "byfps"
title = "By fps"
kind = "bars"
field = "speed"
"#;
    let found = problems(model);
    let expect = [
        "6:table.cameras.field.streamURL.name: field name 'streamURL' must be lowercase",
        "11:table.cameras.field.fps.type: unknown type 'integr'",
        "16:table.cameras.field.port.pattern: invalid pattern",
        "21:table.cameras.field.owner.references: unknown table 'people'",
        "3:table.cameras.title: 'nosuch' is not a field of table cameras",
        "27:widget.byfps.field: 'speed' is not a field of table cameras",
    ];
    for e in expect {
        assert!(
            found.iter().any(|f| f.starts_with(e)),
            "{e} missing from {found:#?}"
        );
    }
    assert_eq!(found.len(), expect.len(), "{found:#?}");
}

#[test]
fn unknown_keys_and_bad_toml_are_refused_by_the_parser_with_their_line() {
    let found = problems("[[table]]\nname = \"cameras\"\ncolour = \"red\"\n");
    assert!(
        found[0].starts_with("3:colour: unknown field `colour`"),
        "{found:?}"
    );
    let found = problems("[[table]]\nname = \"cameras\n");
    assert!(found[0].starts_with("2:"), "{found:?}");
    let found = problems(
        "[[table]]\nname = \"cameras\"\n[[table.field]]\nname = \"a\"\ntype = \"integer\"\nmin = \"one\"\n",
    );
    assert!(found[0].starts_with("6:"), "{found:?}");
}

#[test]
fn rules_that_do_not_fit_a_type_are_named() {
    let model = r#"[[table]]
name = "things"
[[table.field]]
name = "size"
type = "choice"
[[table.field]]
name = "notes"
type = "text"
unique = true
min = 3
[[table.field]]
name = "code"
type = "string"
length = 400
unique = true
"#;
    let found = problems(model).join("\n");
    assert!(
        found.contains("size.choices: a choice field needs choices"),
        "{found}"
    );
    assert!(
        found.contains("notes.unique: text and boolean fields cannot be unique"),
        "{found}"
    );
    assert!(
        found.contains("notes.min: min applies only to integer and number fields"),
        "{found}"
    );
    assert!(
        found.contains("code.unique: a unique field can be at most 255"),
        "{found}"
    );
}

#[test]
fn the_published_schema_knows_every_key_the_parser_takes() {
    let schema: Value = serde_json::from_str(MODEL_SCHEMA).expect("the schema is JSON");
    let section = |path: &str| -> Value {
        match path {
            "" => schema["properties"].clone(),
            "table" => schema["definitions"]["table"]["properties"].clone(),
            "table.field" => schema["definitions"]["field"]["properties"].clone(),
            "widget" => schema["properties"]["widget"]["items"]["properties"].clone(),
            "setting" => schema["properties"]["setting"]["items"]["properties"].clone(),
            other => schema["properties"][other]["properties"].clone(),
        }
    };
    for (path, keys) in KEYS {
        let props = section(path);
        let documented: Vec<&String> = props.as_object().expect(path).keys().collect();
        for key in *keys {
            assert!(props.get(*key).is_some(), "schema lacks [{path}] {key}");
        }
        assert_eq!(
            documented.len(),
            keys.len(),
            "[{path}] schema has keys the parser refuses: {documented:?}"
        );
    }
    let types = schema["definitions"]["field"]["properties"]["type"]["enum"].clone();
    let parsed: Vec<&str> = FieldType::ALL.iter().map(|(n, _)| *n).collect();
    assert_eq!(types, json!(parsed));
    // Each key is refused when misspelt, so the schema and the parser cannot drift apart
    // silently: a model using every documented key parses.
    let every_key = r#"[[table]]
name = "cameras"
extends = "assets"
label = "Camera"
assettype = "Camera"
title = "hostname"
subtitle = "url"
search = ["hostname"]
list = ["hostname"]
[[table.field]]
name = "hostname"
type = "string"
length = 100
required = true
unique = true
label = "Host"
help = "h"
pattern = "[a-z0-9-]+"
[[table.field]]
name = "url"
type = "url"
[[table.field]]
name = "fps"
type = "integer"
min = 1
max = 60
[[table.field]]
name = "res"
type = "choice"
choices = ["a", "b"]
[[table]]
name = "lenses"
key = "lensid"
[[table.field]]
name = "camera"
type = "reference"
references = "cameras"
[nav]
label = "Cameras"
position = 1
icon = "camera"
table = "cameras"
[[widget]]
name = "w"
title = "W"
kind = "list"
table = "cameras"
filter = { res = "a" }
size = "large"
position = 3
limit = 5
[collector]
table = "cameras"
identity = "hostname"
match = ["serialnumber"]
[[setting]]
key = "s"
type = "boolean"
default = true
label = "S"
help = "h"
"#;
    assert!(check_model(every_key).is_ok(), "{:?}", problems(every_key));
}

#[test]
fn a_model_becomes_tables_keys_and_routes() {
    let spec = check_model(
        "[[table]]\nname = \"cameras\"\nextends = \"assets\"\n[[table.field]]\nname = \"fps\"\ntype = \"integer\"\n\
         [[table]]\nname = \"lenses\"\n[[table.field]]\nname = \"camera\"\ntype = \"reference\"\nreferences = \"cameras\"\nrequired = true\n",
    )
    .unwrap();
    let cameras = table(&spec.tables[0]);
    assert_eq!(cameras.key_column(), "assetid");
    assert_eq!(
        cameras
            .get("assetid")
            .unwrap()
            .references
            .as_ref()
            .unwrap()
            .table,
        "assets"
    );
    let lenses = table(&spec.tables[1]);
    assert_eq!(lenses.key_column(), "lensesid");
    assert_eq!(
        lenses
            .get("camera")
            .unwrap()
            .references
            .as_ref()
            .unwrap()
            .column,
        "assetid"
    );
    assert_eq!(resource_path("/api/cameras", "cameras"), "cameras");
    assert_eq!(resource_path("/api/cameras", "lenses"), "cameras/lenses");
}

#[test]
fn values_are_checked_against_the_field_rules() {
    let spec = check_model(
        "[[table]]\nname = \"t\"\n[[table.field]]\nname = \"fps\"\ntype = \"integer\"\nmin = 1\nmax = 60\n\
         [[table.field]]\nname = \"res\"\ntype = \"choice\"\nchoices = [\"720p\", \"4K\"]\n\
         [[table.field]]\nname = \"port\"\ntype = \"string\"\npattern = \"Gi[0-9]+\"\n\
         [[table.field]]\nname = \"stream\"\ntype = \"url\"\n[[table.field]]\nname = \"ip\"\ntype = \"ip\"\n",
    )
    .unwrap();
    let t = &spec.tables[0];
    let check = |f: &str, v: Value| check_value(t.field(f).unwrap(), &v);
    assert!(check("fps", json!(30)).is_ok());
    assert_eq!(check("fps", json!(0)).unwrap_err(), "must be at least 1");
    assert_eq!(check("fps", json!(61)).unwrap_err(), "must be at most 60");
    assert!(check("res", json!("4K")).is_ok());
    assert!(check("res", json!("4k")).is_err());
    assert!(check("port", json!("Gi12")).is_ok());
    assert!(
        check("port", json!("xGi12")).is_err(),
        "the whole value must match"
    );
    assert!(check("stream", json!("rtsp://10.0.0.1/s")).is_ok());
    assert!(check("stream", json!("nope")).is_err());
    assert!(check("ip", json!("10.0.0.300")).is_err());
    assert!(check("ip", json!("fe80::1")).is_ok());
}

#[test]
fn the_manifest_must_name_the_folder_and_conflicts_name_their_line() {
    let sources = |manifest: &str| Sources {
        manifest: manifest.into(),
        model: "[[table]]\nname = \"cameras\"\n".into(),
        ..Default::default()
    };
    let wrong = FolderPlugin::from_sources("cams", sources(MANIFEST))
        .err()
        .unwrap();
    assert!(
        wrong[0]
            .message
            .contains("differs from the folder's name 'cams'"),
        "{wrong:?}"
    );
    let plugin = FolderPlugin::from_sources("cameras", sources(MANIFEST))
        .ok()
        .unwrap();
    assert_eq!(plugin.manifest().prefix(), "/api/cameras");
    let owners = Owners {
        tables: vec![("cameras".into(), "plugin other".into())],
        prefixes: vec![("/api/cameras".into(), "plugin other".into())],
    };
    let found: Vec<String> = plugin
        .conflicts(&owners)
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(
        found[0],
        "model.toml:2: table.cameras.name: table cameras belongs to plugin other: choose another name"
    );
    assert!(
        found[1].starts_with("manifest.json:1: api_prefix: api_prefix /api/cameras overlaps"),
        "{found:?}"
    );
}

#[test]
fn a_packed_plugin_round_trips_and_hostile_files_are_refused() {
    use super::pack::{PackError, pack, unpack};
    let sources = Sources {
        manifest: MANIFEST.into(),
        model: "[[table]]\nname = \"cameras\"\n".into(),
        ..Default::default()
    };
    let bytes = pack("cameras", &sources).unwrap();
    let (name, plugin) = unpack(&bytes).unwrap();
    assert_eq!(name, "cameras");
    assert_eq!(plugin.sources(), &sources);
    assert!(matches!(unpack(b"junk"), Err(PackError::NotZip(_))));
}

#[test]
fn names_the_databases_or_the_server_use_are_refused() {
    let model = "[[table]]\nname = \"order\"\n[[table.field]]\nname = \"group\"\ntype = \"string\"\n\
                 [[table.field]]\nname = \"version\"\ntype = \"integer\"\n\
                 [[table]]\nname = \"cams\"\nextends = \"assets\"\n[[table.field]]\nname = \"serialnumber\"\ntype = \"string\"\n";
    let found = problems(model).join("\n");
    assert!(
        found.contains("2:table.order.name: table name 'order' is a word the databases reserve"),
        "{found}"
    );
    assert!(
        found.contains("4:table.order.field.group.name: field name 'group' is a word"),
        "{found}"
    );
    assert!(
        found.contains("'version' is a field the server keeps"),
        "{found}"
    );
    assert!(
        found.contains("'serialnumber' is an asset field"),
        "{found}"
    );
}

#[test]
fn the_quickstart_model_keeps_the_plugin_contract() {
    let doc = include_str!("../../../../../docs/PLUGIN-QUICKSTART.md");
    let start = doc.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let model = &doc[start..start + doc[start..].find("```").expect("its end")];
    let plugin = FolderPlugin::from_sources(
        "cameras",
        Sources {
            manifest: MANIFEST.into(),
            model: model.into(),
            ..Default::default()
        },
    )
    .unwrap_or_else(|p| panic!("{}", super::describe(&p)));
    crate::plugin::contract::check(&plugin);
    assert_eq!(plugin.searchable()[0].url, "/cameras/{id}");
    let too_new = MANIFEST.replace(">=1.0.0,<2.0.0", ">=9.0.0");
    let refused = FolderPlugin::from_sources(
        "cameras",
        Sources {
            manifest: too_new,
            model: model.into(),
            ..Default::default()
        },
    );
    assert!(describe_err(refused).contains("PluginVersion"));
}

fn describe_err(r: Result<FolderPlugin, Vec<super::Problem>>) -> String {
    match r {
        Ok(_) => String::new(),
        Err(p) => super::describe(&p),
    }
}

#[test]
fn renames_drops_and_choices_reach_the_planner() {
    let spec = check_model(
        "[[table]]\nname = \"cameras\"\nextends = \"assets\"\ndropped = [\"fps\"]\n\
         [[table.field]]\nname = \"stream\"\ntype = \"url\"\nrenamed_from = \"streamurl\"\n\
         [[table.field]]\nname = \"resolution\"\ntype = \"choice\"\nlength = 10\nchoices = [\"720p\", \"4K\"]\n",
    )
    .unwrap();
    let cameras = table(&spec.tables[0]);
    assert_eq!(cameras.dropped, ["fps"]);
    let stream = cameras.get("stream").unwrap();
    assert_eq!(stream.renamed_from.as_deref(), Some("streamurl"));
    let resolution = cameras.get("resolution").unwrap();
    assert_eq!(resolution.choices, ["720p", "4K"]);
    assert_eq!(resolution.ty, crate::schema::ColumnType::String(10));
}

#[test]
fn renames_and_drops_that_make_no_sense_name_their_line_and_key() {
    let model = r#"[[table]]
name = "cameras"
extends = "assets"
dropped = ["fps", "hostname", "assetid", "old"]

[[table.field]]
name = "hostname"
type = "string"
renamed_from = "fps"

[[table.field]]
name = "fps"
type = "integer"
renamed_from = "Old_Name"

[[table.field]]
name = "lens"
type = "reference"
references = "assets"
renamed_from = "old"

[[table.field]]
name = "resolution"
type = "choice"
length = 2
choices = ["720p"]
"#;
    let found = problems(model);
    let expect = [
        "9:table.cameras.field.hostname.renamed_from: 'fps' is still a field of this table",
        "14:table.cameras.field.fps.renamed_from: the old name 'Old_Name' must be lowercase",
        "20:table.cameras.field.lens.renamed_from: a reference field cannot be renamed",
        "4:table.cameras.dropped: 'fps' is still a field of this table",
        "4:table.cameras.dropped: 'hostname' is still a field of this table",
        "4:table.cameras.dropped: 'assetid' is a field the table always has",
        "4:table.cameras.dropped: 'old' is named twice",
        "25:table.cameras.field.resolution.length: length is shorter than the longest choice (4)",
    ];
    for e in expect {
        assert!(found.iter().any(|f| f.starts_with(e)), "{e}\n{found:#?}");
    }
    assert_eq!(found.len(), expect.len(), "{found:#?}");
}

#[test]
fn templates_are_read_from_the_folder_checked_and_packed_with_the_plugin() {
    let dir = std::env::temp_dir().join(format!(
        "shopdb-templates-{}",
        crate::util::random_token(8).to_lowercase()
    ));
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("manifest.json", MANIFEST);
    write(
        "model.toml",
        "[[table]]\nname = \"cameras\"\nextends = \"assets\"\n",
    );
    write(
        "templates/records/cameras/detail.html",
        "{% extends \"detail.html\" %}{% block extra %}{% include \"cameras/x.html\" %}{% endblock %}",
    );
    write(
        "templates/cameras/x.html",
        "<p>{{ record.assetnumber }}</p>",
    );
    let sources = Sources::read(&dir).unwrap();
    let names: Vec<&str> = sources.templates.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["cameras/x.html", "records/cameras/detail.html"]);
    let plugin = FolderPlugin::from_sources("cameras", sources.clone()).unwrap();
    assert_eq!(plugin.templates(), sources.templates);
    let (_, unpacked) =
        super::pack::unpack(&super::pack::pack("cameras", &sources).unwrap()).unwrap();
    assert_eq!(
        unpacked.sources(),
        &sources,
        "templates travel in the packed file"
    );

    // Files that are no template are named; so is a name the plugin may not use, and a
    // template that does not parse, with its line.
    write("templates/cameras/Notes.TXT", "hello");
    let read = Sources::read(&dir).err().unwrap();
    assert_eq!(read.len(), 1, "{read:?}");
    assert_eq!(read[0].file, "templates/cameras/Notes.TXT");
    std::fs::remove_file(dir.join("templates/cameras/Notes.TXT")).unwrap();
    for (name, text, file, line, says) in [
        (
            "dashboard.html",
            "x",
            "templates/dashboard.html",
            0,
            "does not own",
        ),
        (
            "records/assets/detail.html",
            "x",
            "templates/records/assets/detail.html",
            0,
            "does not own",
        ),
        (
            "widgets/other.html",
            "x",
            "templates/widgets/other.html",
            0,
            "does not own",
        ),
        (
            "cameras/y.html",
            "<p>\n\n{% for %}",
            "templates/cameras/y.html",
            3,
            "does not parse",
        ),
    ] {
        let mut bad = sources.clone();
        bad.templates.push((name.to_string(), text.to_string()));
        let found = FolderPlugin::from_sources("cameras", bad).err().unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].file.as_str(), found[0].line),
            (file, line),
            "{found:?}"
        );
        assert!(found[0].message.contains(says), "{found:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

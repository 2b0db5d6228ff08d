//! What a plugin declares, as data: sidebar entries, dashboard widgets, settings, the
//! collector schema and web pages.

use serde::Serialize;
use serde_json::Value;

/// A sidebar entry.
#[derive(Clone, Debug, Serialize)]
pub struct NavItem {
    pub name: String,
    pub icon: String,
    pub route: String,
    pub position: i64,
}

/// A dashboard widget; its data comes from [`Plugin::widget_data`].
#[derive(Clone, Debug, Serialize)]
pub struct Widget {
    pub name: String,
    pub title: String,
    pub size: WidgetSize,
    pub position: i64,
    /// API route the widget's data can also be read from, if any.
    pub endpoint: Option<String>,
}

/// How much of the dashboard a widget takes; serialized `small`, `medium` or `large`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WidgetSize {
    Small,
    Medium,
    Large,
}

/// The type of a plugin setting's value; serialized `text`, `integer` or `boolean`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SettingKind {
    /// A JSON string.
    Text,
    /// A JSON whole number.
    Integer,
    /// `true` or `false`.
    Boolean,
}

impl SettingKind {
    /// The name settings lists and error messages show.
    pub fn as_str(self) -> &'static str {
        match self {
            SettingKind::Text => "text",
            SettingKind::Integer => "integer",
            SettingKind::Boolean => "boolean",
        }
    }

    /// Whether `value` is of this kind.
    pub fn accepts(self, value: &Value) -> bool {
        match self {
            SettingKind::Text => value.is_string(),
            SettingKind::Integer => value.as_i64().is_some(),
            SettingKind::Boolean => value.is_boolean(),
        }
    }
}

impl std::fmt::Display for SettingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field a collector may send.
#[derive(Clone, Debug, Serialize)]
pub struct CollectorField {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: CollectorFieldKind,
    pub required: bool,
}

/// The JSON type of a collector field; serialized `string`, `integer`, `number`, `boolean`
/// or `array`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CollectorFieldKind {
    String,
    /// A JSON whole number.
    Integer,
    /// Any JSON number.
    Number,
    Boolean,
    Array,
    /// A type name none of the above: contract 1.x takes it as written, so the schema shows
    /// it and any value passes.
    #[serde(untagged)]
    Other(std::string::String),
}

impl CollectorFieldKind {
    /// The documented kinds, in the order the documentation lists them.
    pub const ALL: [CollectorFieldKind; 5] = [
        CollectorFieldKind::String,
        CollectorFieldKind::Integer,
        CollectorFieldKind::Number,
        CollectorFieldKind::Boolean,
        CollectorFieldKind::Array,
    ];

    /// The name the collector schema and error messages show.
    pub fn as_str(&self) -> &str {
        match self {
            CollectorFieldKind::String => "string",
            CollectorFieldKind::Integer => "integer",
            CollectorFieldKind::Number => "number",
            CollectorFieldKind::Boolean => "boolean",
            CollectorFieldKind::Array => "array",
            CollectorFieldKind::Other(name) => name,
        }
    }

    /// Whether `value` is of this kind (null is of every kind: the field is left out).
    pub fn accepts(&self, value: &Value) -> bool {
        value.is_null()
            || match self {
                CollectorFieldKind::String => value.is_string(),
                CollectorFieldKind::Integer => value.as_i64().is_some(),
                CollectorFieldKind::Number => value.is_number(),
                CollectorFieldKind::Boolean => value.is_boolean(),
                CollectorFieldKind::Array => value.is_array(),
                CollectorFieldKind::Other(_) => true,
            }
    }
}

/// Compared with the name it is written as (`field.kind == "string"`).
impl PartialEq<str> for CollectorFieldKind {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for CollectorFieldKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The kind a plugin names as text (`"string"`); a name outside the five is kept as
/// [`CollectorFieldKind::Other`].
impl From<&str> for CollectorFieldKind {
    fn from(name: &str) -> CollectorFieldKind {
        CollectorFieldKind::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .unwrap_or_else(|| CollectorFieldKind::Other(name.to_string()))
    }
}

impl std::fmt::Display for CollectorFieldKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CollectorField {
    /// A field of `kind` (`string`, `integer`, `number`, `boolean` or `array`), as plugins
    /// write their schemas.
    pub fn new(name: &str, kind: &str, required: bool) -> CollectorField {
        CollectorField::of(name, kind.into(), required)
    }

    /// A field of a kind given as the enum.
    pub fn of(name: &str, kind: CollectorFieldKind, required: bool) -> CollectorField {
        CollectorField {
            name: name.into(),
            kind,
            required,
        }
    }
}

/// What a collector posts to `/api/collector/<plugin>` (the seed's format).
#[derive(Clone, Debug, Serialize)]
pub struct CollectorSchema {
    pub identityfield: String,
    /// Secondary identifiers (serial number, MAC address) that recognise a record whose
    /// identity changed, e.g. a renamed PC. Junk values never match.
    pub matchfields: Vec<String>,
    pub fields: Vec<CollectorField>,
    /// A field that describes the push rather than the thing (the PC's own clock at check-in,
    /// `lastcheckin`): stored as sent, but never a change of the record, so a push that
    /// differs only there answers `unchanged`, writes no audit entry and keeps `version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<String>,
    /// URL segment of the resource records are written to; default: the plugin's first
    /// resource that extends assets.
    pub resource: Option<String>,
}

/// A typed plugin setting with its default, shown to admins.
#[derive(Clone, Debug, Serialize)]
pub struct SettingDef {
    pub key: String,
    #[serde(rename = "type")]
    pub kind: SettingKind,
    pub default: Value,
    pub help: String,
}

/// Checks a setting value against its declaration.
pub fn check_setting(def: &SettingDef, value: &Value) -> Result<(), String> {
    if def.kind.accepts(value) {
        Ok(())
    } else {
        Err(format!("must be of type {}", def.kind))
    }
}

/// A web page a plugin adds: the template is rendered with the usual page context (user,
/// navigation, CSRF token) plus `page`; its data comes from the plugin's API (fetch in the
/// template's script) so the page stays a view of the JSON API.
#[derive(Clone, Debug, Serialize)]
pub struct Page {
    /// Absolute path, e.g. `/usb/desk`.
    pub path: String,
    pub title: String,
    /// Name of a template the plugin ships in `templates()`.
    pub template: String,
    /// Least role that may open it; None: anyone, logged in or not (the page itself must
    /// then only show what its API allows, such as a public kiosk).
    pub role: Option<crate::auth::Role>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collector_fields_read_as_the_kind_names_plugins_write() {
        for kind in CollectorFieldKind::ALL {
            assert_eq!(serde_json::to_value(&kind).unwrap(), kind.as_str());
            assert_eq!(CollectorFieldKind::from(kind.as_str()), kind);
        }
        assert_eq!(
            serde_json::to_value(CollectorField::new("hostname", "string", true)).unwrap(),
            serde_json::json!({"name": "hostname", "type": "string", "required": true})
        );
        // A name outside the five reads as written, and takes any value, as before.
        let other = CollectorFieldKind::from("date");
        assert_eq!(serde_json::to_value(&other).unwrap(), "date");
        assert!(other.accepts(&serde_json::json!(12)));
        assert!(CollectorFieldKind::Integer == "integer");
    }
}

//! A collector push as it arrives: bytes that should be JSON, one record or a batch, each
//! record checked against the computers plugin's collector schema and normalised. No panic;
//! an accepted record holds only schema fields, with its MAC address in the stored form.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shopdb_core::addresses::normalize_mac;
use shopdb_core::collector::{MAX_BATCH, prepare, records_of};
use shopdb_core::plugin::CollectorSchema;
use shopdb_core::resource::Resource;
use shopdb_core::serde_json::Value;

fn computers() -> &'static (CollectorSchema, Resource) {
    static PLUGIN: OnceLock<(CollectorSchema, Resource)> = OnceLock::new();
    PLUGIN.get_or_init(|| {
        let plugin = computers::plugin().expect("the computers plugin loads");
        let schema = plugin
            .collector_schema()
            .expect("computers has a collector");
        let resource = plugin
            .resources()
            .into_iter()
            .find(|r| r.extension.is_some())
            .expect("computers extends assets");
        (schema, resource)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = shopdb_core::serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(records) = records_of(body) else {
        return;
    };
    assert!(!records.is_empty() && records.len() <= MAX_BATCH);
    let (schema, resource) = computers();
    for raw in &records {
        match prepare(schema, resource, raw) {
            Ok(record) => {
                for key in record.keys() {
                    assert!(
                        schema.fields.iter().any(|f| &f.name == key),
                        "accepted a field outside the schema: {key}"
                    );
                }
                if let Some(Value::String(mac)) = record.get("macaddress")
                    && !mac.trim().is_empty()
                {
                    assert_eq!(normalize_mac(mac).as_deref(), Ok(mac.as_str()), "{raw}");
                }
            }
            Err(reasons) => assert!(!reasons.is_empty(), "a refusal names its fields"),
        }
    }
});

//! Defaulting and preparation of core kinds, mirroring the real API server's defaulters.

use base64::Engine;
use serde_json::{Map, Value, json};

use super::CoreKind;

fn set_if_absent(obj: &mut Map<String, Value>, key: &str, value: Value) {
    if obj.get(key).is_none_or(Value::is_null) {
        obj.insert(key.to_string(), value);
    }
}

fn object_at<'a>(obj: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    let root = obj.as_object_mut().expect("objects are JSON objects");
    let entry = root.entry(key.to_string()).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    entry.as_object_mut().expect("just made an object")
}

pub(super) fn apply(kind: CoreKind, obj: &mut Value) {
    match kind {
        CoreKind::Secret => {
            set_if_absent(
                obj.as_object_mut().expect("object"),
                "type",
                json!("Opaque"),
            );
        }
        CoreKind::Namespace => {
            let name = obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let labels = object_at(obj.get_mut("metadata").expect("metadata"), "labels");
            labels.insert("kubernetes.io/metadata.name".into(), json!(name));
            set_if_absent(object_at(obj, "spec"), "finalizers", json!(["kubernetes"]));
            set_if_absent(object_at(obj, "status"), "phase", json!("Active"));
        }
        CoreKind::Service => {
            let spec = object_at(obj, "spec");
            set_if_absent(spec, "type", json!("ClusterIP"));
            set_if_absent(spec, "sessionAffinity", json!("None"));
            let headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
            if !headless {
                set_if_absent(spec, "internalTrafficPolicy", json!("Cluster"));
            }
            set_if_absent(spec, "ipFamilies", json!(["IPv4"]));
            set_if_absent(spec, "ipFamilyPolicy", json!("SingleStack"));
            if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                    set_if_absent(port, "protocol", json!("TCP"));
                    if let Some(p) = port.get("port").cloned() {
                        set_if_absent(port, "targetPort", p);
                    }
                }
            }
        }
        CoreKind::PersistentVolumeClaim => {
            set_if_absent(object_at(obj, "spec"), "volumeMode", json!("Filesystem"));
            set_if_absent(object_at(obj, "status"), "phase", json!("Pending"));
        }
        CoreKind::PersistentVolume => {
            let spec = object_at(obj, "spec");
            set_if_absent(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
            set_if_absent(spec, "volumeMode", json!("Filesystem"));
            set_if_absent(object_at(obj, "status"), "phase", json!("Pending"));
        }
        CoreKind::StorageClass => {
            let root = obj.as_object_mut().expect("object");
            set_if_absent(root, "reclaimPolicy", json!("Delete"));
            set_if_absent(root, "volumeBindingMode", json!("Immediate"));
        }
        CoreKind::Pod => {
            set_if_absent(object_at(obj, "status"), "phase", json!("Pending"));
        }
        CoreKind::Event => {
            let root = obj.as_object_mut().expect("object");
            set_if_absent(root, "type", json!("Normal"));
            set_if_absent(root, "count", json!(1));
        }
        CoreKind::ConfigMap
        | CoreKind::Node
        | CoreKind::ResourceQuota
        | CoreKind::LimitRange
        | CoreKind::Lease => {}
    }
}

pub(super) fn prepare(kind: CoreKind, obj: &mut Value) -> Result<(), String> {
    if kind == CoreKind::Secret {
        fold_string_data(obj)?;
    }
    Ok(())
}

/// `stringData` is write-only: its entries overwrite `data` (base64-encoded) and it is dropped.
fn fold_string_data(obj: &mut Value) -> Result<(), String> {
    let root = obj.as_object_mut().expect("object");
    let Some(string_data) = root.remove("stringData") else {
        return Ok(());
    };
    let Value::Object(entries) = string_data else {
        return Ok(());
    };
    let data = root.entry("data").or_insert_with(|| json!({}));
    if !data.is_object() {
        *data = json!({});
    }
    let data = data.as_object_mut().expect("object");
    for (k, v) in entries {
        let text = v
            .as_str()
            .ok_or_else(|| format!("stringData.{k}: must be a string"))?;
        data.insert(
            k,
            json!(base64::engine::general_purpose::STANDARD.encode(text)),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_data_is_folded_into_base64_data() {
        let mut s = json!({"metadata":{"name":"s"},"data":{"a":"YQ=="},"stringData":{"userData":"#cloud-config\n"}});
        prepare(CoreKind::Secret, &mut s).unwrap();
        assert!(s.get("stringData").is_none());
        assert_eq!(s["data"]["userData"], "I2Nsb3VkLWNvbmZpZwo=");
        assert_eq!(s["data"]["a"], "YQ==");
    }

    #[test]
    fn service_ports_default_protocol_and_target_port() {
        let mut s = json!({"metadata":{"name":"s"},"spec":{"ports":[{"port":80}]}});
        apply(CoreKind::Service, &mut s);
        assert_eq!(s["spec"]["type"], "ClusterIP");
        assert_eq!(s["spec"]["ports"][0]["protocol"], "TCP");
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 80);
    }

    #[test]
    fn namespace_gets_name_label_and_active_phase() {
        let mut ns = json!({"metadata":{"name":"vms"}});
        apply(CoreKind::Namespace, &mut ns);
        assert_eq!(
            ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
            "vms"
        );
        assert_eq!(ns["status"]["phase"], "Active");
    }
}

//! Built-in Table printers of the core kinds, with the columns `kubectl get` shows on a real
//! cluster. Like the real printers they always return every cell and leave hiding to `priority`.

use dvp_apimachinery::duration::{human_duration_secs, parse_rfc3339};
use serde_json::{Value, json};

use super::CoreKind;

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, \
although some resources may allow a client to request the generation of an appropriate name automatically. \
Name is primarily intended for creation idempotence and configuration definition. Cannot be updated.";

fn col(name: &str, type_: &str, priority: i32) -> Value {
    json!({"name": name, "type": type_, "format": "", "description": "", "priority": priority})
}

fn name_col() -> Value {
    json!({"name": "Name", "type": "string", "format": "name", "description": NAME_DESCRIPTION, "priority": 0})
}

/// The column definitions of a core kind's Table.
pub fn column_definitions(kind: CoreKind) -> Vec<Value> {
    let mut cols = match kind {
        CoreKind::Event => vec![],
        _ => vec![name_col()],
    };
    let rest: Vec<Value> = match kind {
        CoreKind::Namespace => vec![col("Status", "string", 0), col("Age", "string", 0)],
        CoreKind::Secret => vec![
            col("Type", "string", 0),
            col("Data", "string", 0),
            col("Age", "string", 0),
        ],
        CoreKind::ConfigMap => vec![col("Data", "string", 0), col("Age", "string", 0)],
        CoreKind::Node => vec![
            col("Status", "string", 0),
            col("Roles", "string", 0),
            col("Age", "string", 0),
            col("Version", "string", 0),
            col("Internal-IP", "string", 1),
            col("External-IP", "string", 1),
            col("OS-Image", "string", 1),
            col("Kernel-Version", "string", 1),
            col("Container-Runtime", "string", 1),
        ],
        CoreKind::Service => vec![
            col("Type", "string", 0),
            col("Cluster-IP", "string", 0),
            col("External-IP", "string", 0),
            col("Port(s)", "string", 0),
            col("Age", "string", 0),
            col("Selector", "string", 1),
        ],
        CoreKind::Event => vec![
            col("Last Seen", "string", 0),
            col("Type", "string", 0),
            col("Reason", "string", 0),
            col("Object", "string", 0),
            col("Subobject", "string", 1),
            col("Source", "string", 1),
            col("Message", "string", 0),
            col("First Seen", "string", 1),
            col("Count", "string", 1),
            col("Name", "string", 1),
        ],
        CoreKind::PersistentVolumeClaim => vec![
            col("Status", "string", 0),
            col("Volume", "string", 0),
            col("Capacity", "string", 0),
            col("Access Modes", "string", 0),
            col("StorageClass", "string", 0),
            col("VolumeAttributesClass", "string", 0),
            col("Age", "string", 0),
            col("VolumeMode", "string", 1),
        ],
        CoreKind::PersistentVolume => vec![
            col("Capacity", "string", 0),
            col("Access Modes", "string", 0),
            col("Reclaim Policy", "string", 0),
            col("Status", "string", 0),
            col("Claim", "string", 0),
            col("StorageClass", "string", 0),
            col("VolumeAttributesClass", "string", 0),
            col("Reason", "string", 0),
            col("Age", "string", 0),
            col("VolumeMode", "string", 1),
        ],
        CoreKind::Pod => vec![
            col("Ready", "string", 0),
            col("Status", "string", 0),
            col("Restarts", "string", 0),
            col("Age", "string", 0),
            col("IP", "string", 1),
            col("Node", "string", 1),
            col("Nominated Node", "string", 1),
            col("Readiness Gates", "string", 1),
        ],
        CoreKind::StorageClass => vec![
            col("Provisioner", "string", 0),
            col("ReclaimPolicy", "string", 0),
            col("VolumeBindingMode", "string", 0),
            col("AllowVolumeExpansion", "string", 0),
            col("Age", "string", 0),
        ],
        CoreKind::ResourceQuota | CoreKind::LimitRange => vec![col("Age", "string", 0)],
        CoreKind::Lease => vec![col("Holder", "string", 0), col("Age", "string", 0)],
    };
    cols.extend(rest);
    cols
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str().unwrap_or("")
}

fn or_none(text: &str) -> String {
    if text.is_empty() {
        "<none>".into()
    } else {
        text.into()
    }
}

fn age(ts: &str, now: i64) -> String {
    match parse_rfc3339(ts) {
        Some(t) => human_duration_secs(now - t),
        None => "<unknown>".into(),
    }
}

fn access_modes(v: &Value) -> String {
    let modes: Vec<&str> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|m| match m {
                    "ReadWriteOnce" => "RWO",
                    "ReadOnlyMany" => "ROX",
                    "ReadWriteMany" => "RWX",
                    "ReadWriteOncePod" => "RWOP",
                    other => other,
                })
                .collect()
        })
        .unwrap_or_default();
    modes.join(",")
}

fn node_status(node: &Value) -> String {
    let ready = node["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .map(|c| match c["status"].as_str() {
            Some("True") => "Ready",
            Some("False") => "NotReady",
            _ => "Unknown",
        })
        .unwrap_or("Unknown");
    if node["spec"]["unschedulable"].as_bool() == Some(true) {
        format!("{ready},SchedulingDisabled")
    } else {
        ready.to_string()
    }
}

fn node_roles(node: &Value) -> String {
    let mut roles: Vec<&str> = node["metadata"]["labels"]
        .as_object()
        .map(|labels| {
            labels
                .keys()
                .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                .filter(|r| !r.is_empty())
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    if roles.is_empty() {
        "<none>".into()
    } else {
        roles.join(",")
    }
}

fn node_address(node: &Value, kind: &str) -> String {
    let addr = node["status"]["addresses"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["type"] == kind))
        .and_then(|x| x["address"].as_str())
        .unwrap_or("");
    or_none(addr)
}

fn service_ports(svc: &Value) -> String {
    let ports: Vec<String> = svc["spec"]["ports"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    let proto = p["protocol"].as_str().unwrap_or("TCP");
                    match p["nodePort"].as_i64() {
                        Some(np) => format!("{}:{np}/{proto}", p["port"]),
                        None => format!("{}/{proto}", p["port"]),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    or_none(&ports.join(","))
}

fn service_external_ip(svc: &Value) -> String {
    let mut ips: Vec<String> = svc["spec"]["externalIPs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    if s(svc, &["spec", "type"]) == "LoadBalancer" {
        let ingress: Vec<String> = svc["status"]["loadBalancer"]["ingress"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i["ip"].as_str().or(i["hostname"].as_str()))
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        if ingress.is_empty() && ips.is_empty() {
            return "<pending>".into();
        }
        ips.extend(ingress);
    }
    or_none(&ips.join(","))
}

fn selector_text(map: &Value) -> String {
    let pairs: Vec<String> = map
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    or_none(&pairs.join(","))
}

fn event_cells(ev: &Value, now: i64) -> Vec<Value> {
    let first = s(ev, &["firstTimestamp"]);
    let last = match s(ev, &["lastTimestamp"]) {
        "" => s(ev, &["eventTime"]),
        t => t,
    };
    let first = if first.is_empty() { last } else { first };
    let obj = &ev["involvedObject"];
    let object = format!("{}/{}", s(obj, &["kind"]).to_lowercase(), s(obj, &["name"]));
    let mut source = s(ev, &["source", "component"]).to_string();
    if source.is_empty() {
        source = s(ev, &["reportingComponent"]).to_string();
    }
    if let Some(host) = ev["source"]["host"].as_str().filter(|h| !h.is_empty()) {
        source = format!("{source}, {host}");
    }
    vec![
        json!(age(last, now)),
        json!(s(ev, &["type"])),
        json!(s(ev, &["reason"])),
        json!(object),
        json!(s(obj, &["fieldPath"])),
        json!(source),
        json!(s(ev, &["message"]).trim()),
        json!(age(first, now)),
        json!(ev["count"].as_i64().unwrap_or(1).to_string()),
        json!(s(ev, &["metadata", "name"])),
    ]
}

/// The cells of one row: the name first (except for events), then one per column definition.
pub fn cells(kind: CoreKind, obj: &Value, now: i64) -> Vec<Value> {
    let name = s(obj, &["metadata", "name"]);
    let created = age(s(obj, &["metadata", "creationTimestamp"]), now);
    let rest: Vec<Value> = match kind {
        CoreKind::Event => return event_cells(obj, now),
        CoreKind::Namespace => vec![json!(s(obj, &["status", "phase"])), json!(created)],
        CoreKind::Secret => {
            let count = obj["data"].as_object().map_or(0, |m| m.len());
            vec![
                json!(s(obj, &["type"])),
                json!(count.to_string()),
                json!(created),
            ]
        }
        CoreKind::ConfigMap => {
            let count = obj["data"].as_object().map_or(0, |m| m.len())
                + obj["binaryData"].as_object().map_or(0, |m| m.len());
            vec![json!(count.to_string()), json!(created)]
        }
        CoreKind::Node => vec![
            json!(node_status(obj)),
            json!(node_roles(obj)),
            json!(created),
            json!(s(obj, &["status", "nodeInfo", "kubeletVersion"])),
            json!(node_address(obj, "InternalIP")),
            json!(node_address(obj, "ExternalIP")),
            json!(or_none(s(obj, &["status", "nodeInfo", "osImage"]))),
            json!(or_none(s(obj, &["status", "nodeInfo", "kernelVersion"]))),
            json!(or_none(s(
                obj,
                &["status", "nodeInfo", "containerRuntimeVersion"]
            ))),
        ],
        CoreKind::Service => vec![
            json!(s(obj, &["spec", "type"])),
            json!(or_none(s(obj, &["spec", "clusterIP"]))),
            json!(service_external_ip(obj)),
            json!(service_ports(obj)),
            json!(created),
            json!(selector_text(&obj["spec"]["selector"])),
        ],
        CoreKind::PersistentVolumeClaim => vec![
            json!(s(obj, &["status", "phase"])),
            json!(s(obj, &["spec", "volumeName"])),
            json!(s(obj, &["status", "capacity", "storage"])),
            json!(access_modes(&obj["status"]["accessModes"])),
            json!(s(obj, &["spec", "storageClassName"])),
            json!(match s(obj, &["spec", "volumeAttributesClassName"]) {
                "" => "<unset>",
                v => v,
            }),
            json!(created),
            json!(s(obj, &["spec", "volumeMode"])),
        ],
        CoreKind::PersistentVolume => {
            let claim = match (
                s(obj, &["spec", "claimRef", "namespace"]),
                s(obj, &["spec", "claimRef", "name"]),
            ) {
                (_, "") => String::new(),
                (ns, n) => format!("{ns}/{n}"),
            };
            vec![
                json!(s(obj, &["spec", "capacity", "storage"])),
                json!(access_modes(&obj["spec"]["accessModes"])),
                json!(s(obj, &["spec", "persistentVolumeReclaimPolicy"])),
                json!(s(obj, &["status", "phase"])),
                json!(claim),
                json!(s(obj, &["spec", "storageClassName"])),
                json!(match s(obj, &["spec", "volumeAttributesClassName"]) {
                    "" => "<unset>",
                    v => v,
                }),
                json!(s(obj, &["status", "reason"])),
                json!(created),
                json!(s(obj, &["spec", "volumeMode"])),
            ]
        }
        CoreKind::Pod => {
            let containers = obj["spec"]["containers"].as_array().map_or(0, |a| a.len());
            let statuses = obj["status"]["containerStatuses"].as_array();
            let ready = statuses.map_or(0, |a| a.iter().filter(|c| c["ready"] == true).count());
            let restarts: i64 = statuses.map_or(0, |a| {
                a.iter().filter_map(|c| c["restartCount"].as_i64()).sum()
            });
            vec![
                json!(format!("{ready}/{containers}")),
                json!(s(obj, &["status", "phase"])),
                json!(restarts.to_string()),
                json!(created),
                json!(or_none(s(obj, &["status", "podIP"]))),
                json!(or_none(s(obj, &["spec", "nodeName"]))),
                json!(or_none(s(obj, &["status", "nominatedNodeName"]))),
                json!("<none>"),
            ]
        }
        CoreKind::StorageClass => {
            let default = obj["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"]
                == "true";
            let shown = if default {
                format!("{name} (default)")
            } else {
                name.to_string()
            };
            return vec![
                json!(shown),
                json!(s(obj, &["provisioner"])),
                json!(s(obj, &["reclaimPolicy"])),
                json!(s(obj, &["volumeBindingMode"])),
                json!(
                    obj["allowVolumeExpansion"]
                        .as_bool()
                        .unwrap_or(false)
                        .to_string()
                ),
                json!(created),
            ];
        }
        CoreKind::ResourceQuota | CoreKind::LimitRange => vec![json!(created)],
        CoreKind::Lease => vec![json!(s(obj, &["spec", "holderIdentity"])), json!(created)],
    };
    let mut row = vec![json!(name)];
    row.extend(rest);
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_has_one_cell_per_column() {
        let obj = json!({"metadata":{"name":"x","creationTimestamp":"2026-01-01T00:00:00Z"}});
        for kind in CoreKind::ALL {
            assert_eq!(
                cells(kind, &obj, 0).len(),
                column_definitions(kind).len(),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn default_storage_class_is_marked_in_the_name_cell() {
        let sc = json!({"metadata":{"name":"local","annotations":{"storageclass.kubernetes.io/is-default-class":"true"}},
                        "provisioner":"p","reclaimPolicy":"Delete","volumeBindingMode":"Immediate","allowVolumeExpansion":true});
        let row = cells(CoreKind::StorageClass, &sc, 0);
        assert_eq!(row[0], "local (default)");
        assert_eq!(row[4], "true");
    }

    #[test]
    fn event_object_is_lowercase_kind_slash_name() {
        let ev = json!({"metadata":{"name":"e"},"involvedObject":{"kind":"VirtualMachine","name":"linux-vm"},
                        "type":"Normal","reason":"Started","message":"ok"});
        assert_eq!(cells(CoreKind::Event, &ev, 0)[3], "virtualmachine/linux-vm");
    }

    #[test]
    fn node_port_is_shown_in_ports() {
        let svc = json!({"metadata":{"name":"s"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":31880,"protocol":"TCP"}]}});
        assert_eq!(cells(CoreKind::Service, &svc, 0)[4], "80:31880/TCP");
    }
}

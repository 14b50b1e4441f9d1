//! Service address allocation: a cluster IP from the service range and node ports from
//! 30000–32767, unique across Services, as the real API server's allocators do.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use dvp_apimachinery::FieldError;
use serde_json::{Value, json};

/// The service cluster-IP range (10.96.0.0/12's first /16 is plenty here).
const SERVICE_NET: [u8; 2] = [10, 96];
pub const NODE_PORT_MIN: u16 = 30000;
pub const NODE_PORT_MAX: u16 = 32767;

/// What other Services already hold.
#[derive(Debug, Default)]
pub struct Allocated {
    pub cluster_ips: HashSet<String>,
    pub node_ports: HashSet<u16>,
}

impl Allocated {
    /// Collect from existing Services, skipping `except` (the Service being updated).
    pub fn from_services<'a>(
        services: impl Iterator<Item = &'a Value>,
        except_uid: Option<&str>,
    ) -> Allocated {
        let mut a = Allocated::default();
        for svc in services {
            if except_uid.is_some_and(|u| crate::objects::uid(svc) == u) {
                continue;
            }
            if let Some(ip) = svc["spec"]["clusterIP"]
                .as_str()
                .filter(|ip| !ip.is_empty() && *ip != "None")
            {
                a.cluster_ips.insert(ip.to_string());
            }
            for p in svc["spec"]["ports"].as_array().into_iter().flatten() {
                if let Some(np) = p["nodePort"].as_u64() {
                    a.node_ports.insert(np as u16);
                }
            }
        }
        a
    }
}

/// Fill in `spec.clusterIP`(s) and node ports of a new Service; reject taken ones.
pub fn allocate(svc: &mut Value, taken: &Allocated) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) else {
        return errors;
    };
    let kind = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    if kind != "ExternalName" {
        match spec.get("clusterIP").and_then(Value::as_str).unwrap_or("") {
            "" => {
                if let Some(ip) = first_free_ip(taken) {
                    spec.insert("clusterIP".into(), json!(ip));
                    spec.insert("clusterIPs".into(), json!([ip]));
                } else {
                    errors.push(FieldError::invalid(
                        "spec.clusterIP",
                        "",
                        "the service IP range is exhausted",
                    ));
                }
            }
            "None" => {
                spec.insert("clusterIPs".into(), json!(["None"]));
            }
            ip if taken.cluster_ips.contains(ip) => {
                errors.push(FieldError::invalid(
                    "spec.clusterIP",
                    ip,
                    "provided IP is already allocated",
                ));
            }
            ip => {
                spec.insert("clusterIPs".into(), json!([ip]));
            }
        }
    }
    if matches!(kind.as_str(), "NodePort" | "LoadBalancer") {
        let mut used = taken.node_ports.clone();
        let ports = spec.get_mut("ports").and_then(Value::as_array_mut);
        for (i, port) in ports.into_iter().flatten().enumerate() {
            match port.get("nodePort").and_then(Value::as_u64) {
                Some(np) if !(NODE_PORT_MIN as u64..=NODE_PORT_MAX as u64).contains(&np) => errors.push(FieldError::invalid(
                    format!("spec.ports[{i}].nodePort"),
                    np,
                    format!("provided port is not in the valid range. The range of valid ports is {NODE_PORT_MIN}-{NODE_PORT_MAX}"),
                )),
                Some(np) if !used.insert(np as u16) => errors.push(FieldError::invalid(
                    format!("spec.ports[{i}].nodePort"),
                    np,
                    "provided port is already allocated",
                )),
                Some(_) => {}
                None => match (NODE_PORT_MIN..=NODE_PORT_MAX).find(|p| !used.contains(p)) {
                    Some(p) => {
                        used.insert(p);
                        port["nodePort"] = json!(p);
                    }
                    None => errors.push(FieldError::invalid(format!("spec.ports[{i}].nodePort"), 0, "no free node port")),
                },
            }
        }
    }
    errors
}

fn first_free_ip(taken: &Allocated) -> Option<String> {
    (1u32..65534)
        .map(|n| {
            Ipv4Addr::new(
                SERVICE_NET[0],
                SERVICE_NET[1],
                (n >> 8) as u8,
                (n & 0xff) as u8,
            )
            .to_string()
        })
        .find(|ip| !taken.cluster_ips.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ip_service_gets_the_first_free_address() {
        let mut svc = json!({"spec": {"type": "ClusterIP", "ports": [{"port": 80}]}});
        let mut taken = Allocated::default();
        taken.cluster_ips.insert("10.96.0.1".into());
        assert!(allocate(&mut svc, &taken).is_empty());
        assert_eq!(svc["spec"]["clusterIP"], "10.96.0.2");
    }

    #[test]
    fn headless_service_keeps_none() {
        let mut svc = json!({"spec": {"clusterIP": "None"}});
        assert!(allocate(&mut svc, &Allocated::default()).is_empty());
        assert_eq!(svc["spec"]["clusterIP"], "None");
    }

    #[test]
    fn node_port_is_kept_when_free_and_refused_when_taken() {
        let mut svc =
            json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 31880}]}});
        assert!(allocate(&mut svc, &Allocated::default()).is_empty());
        let mut taken = Allocated::default();
        taken.node_ports.insert(31880);
        let mut again =
            json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 31880}]}});
        let errs = allocate(&mut again, &taken);
        assert_eq!(errs[0].field, "spec.ports[0].nodePort");
    }

    #[test]
    fn missing_node_port_is_assigned_from_the_range() {
        let mut svc = json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}});
        assert!(allocate(&mut svc, &Allocated::default()).is_empty());
        assert_eq!(svc["spec"]["ports"][0]["nodePort"], 30000);
    }
}

//! The Node object of this machine: what it is built from ([`NodeFacts`], read once at start)
//! and the status the agent posts on every heartbeat.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeAddress, NodeCondition, NodeStatus, NodeSystemInfo};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use crate::net::Health;

/// Label with the accelerator guests get here (`kvm` or `tcg`).
pub const ACCEL_LABEL: &str = "node.dvp.io/accel";

/// What the Node says about the machine.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeFacts {
    pub name: String,
    pub cpus: u32,
    pub memory_kib: u64,
    pub internal_ip: String,
    pub accel: String,
    pub kernel_version: String,
    pub os_image: String,
    pub boot_id: String,
    pub machine_id: String,
    pub qemu_version: String,
}

/// The labels of the Node.
pub fn labels(facts: &NodeFacts) -> BTreeMap<String, String> {
    [
        ("kubernetes.io/hostname", facts.name.as_str()),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", "amd64"),
        (ACCEL_LABEL, facts.accel.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Condition type telling whether guests get bridged networking on this node.
pub const NETWORK_CONDITION: &str = "VMNetworkReady";

/// The `VMNetworkReady` condition from the network's health; `since` is when its status last
/// changed.
pub fn network_condition(health: &Health, now: &Time, since: &Time) -> NodeCondition {
    NodeCondition {
        type_: NETWORK_CONDITION.into(),
        status: if health.ready { "True" } else { "False" }.into(),
        reason: Some(health.reason.into()),
        message: Some(health.message.clone()),
        last_heartbeat_time: Some(now.clone()),
        last_transition_time: Some(since.clone()),
    }
}

/// The Node's status at heartbeat time `now`; `ready_since` is when it last became Ready;
/// `extra` are further conditions (the guest network's).
pub fn status(
    facts: &NodeFacts,
    now: &Time,
    ready_since: &Time,
    extra: Vec<NodeCondition>,
) -> NodeStatus {
    let resources: BTreeMap<String, Quantity> = [
        ("cpu", facts.cpus.to_string()),
        ("memory", format!("{}Ki", facts.memory_kib)),
        ("pods", "110".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Quantity(v)))
    .collect();
    NodeStatus {
        capacity: Some(resources.clone()),
        allocatable: Some(resources),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: facts.internal_ip.clone(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: facts.name.clone(),
            },
        ]),
        conditions: Some(
            std::iter::once(NodeCondition {
                type_: "Ready".into(),
                status: "True".into(),
                reason: Some("NodeAgentReady".into()),
                message: Some("the dvp node agent is posting ready status".into()),
                last_heartbeat_time: Some(now.clone()),
                last_transition_time: Some(ready_since.clone()),
            })
            .chain(extra)
            .collect(),
        ),
        node_info: Some(NodeSystemInfo {
            architecture: "amd64".into(),
            boot_id: facts.boot_id.clone(),
            container_runtime_version: format!("qemu://{}", facts.qemu_version),
            kernel_version: facts.kernel_version.clone(),
            kube_proxy_version: String::new(),
            kubelet_version: format!("dvp-node/{}", env!("CARGO_PKG_VERSION")),
            machine_id: facts.machine_id.clone(),
            operating_system: "linux".into(),
            os_image: facts.os_image.clone(),
            system_uuid: facts.machine_id.clone(),
            ..NodeSystemInfo::default()
        }),
        ..NodeStatus::default()
    }
}

/// The Node to create when none exists.
pub fn node(facts: &NodeFacts) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(facts.name.clone()),
            labels: Some(labels(facts)),
            ..ObjectMeta::default()
        },
        ..Node::default()
    }
}

/// `PRETTY_NAME` of an os-release text.
pub fn pretty_name(os_release: &str) -> Option<String> {
    os_release.lines().find_map(|line| {
        let value = line.strip_prefix("PRETTY_NAME=")?;
        Some(value.trim().trim_matches('"').to_string())
    })
}

/// `MemTotal` of a /proc/meminfo text, in KiB.
pub fn mem_total_kib(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|line| {
        let rest = line.strip_prefix("MemTotal:")?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> NodeFacts {
        NodeFacts {
            name: "n1".into(),
            cpus: 2,
            memory_kib: 4_000_000,
            internal_ip: "10.0.0.5".into(),
            accel: "tcg".into(),
            ..NodeFacts::default()
        }
    }

    #[test]
    fn labels_name_host_os_arch_and_accel() {
        let labels = labels(&facts());
        assert_eq!(labels["kubernetes.io/hostname"], "n1");
        assert_eq!(labels["kubernetes.io/os"], "linux");
        assert_eq!(labels["kubernetes.io/arch"], "amd64");
        assert_eq!(labels[ACCEL_LABEL], "tcg");
    }

    #[test]
    fn status_reports_capacity_address_and_readiness() {
        let t = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        let status = status(&facts(), &t, &t, vec![]);
        assert_eq!(status.capacity.unwrap()["memory"].0, "4000000Ki");
        assert_eq!(status.allocatable.unwrap()["cpu"].0, "2");
        let addresses = status.addresses.unwrap();
        assert_eq!(addresses[0].type_, "InternalIP");
        assert_eq!(addresses[0].address, "10.0.0.5");
        let ready = &status.conditions.unwrap()[0];
        assert_eq!(
            (ready.type_.as_str(), ready.status.as_str()),
            ("Ready", "True")
        );
    }

    #[test]
    fn os_release_and_meminfo_are_parsed() {
        assert_eq!(
            pretty_name("ID=debian\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n").as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(
            mem_total_kib("MemTotal:        8049208 kB\nMemFree: 1 kB\n"),
            Some(8_049_208)
        );
    }

    #[test]
    fn the_network_condition_follows_the_health() {
        let t = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        let health = Health {
            ready: false,
            reason: "BridgesUnavailable",
            message: "no taps here".into(),
        };
        let condition = network_condition(&health, &t, &t);
        let status = status(&facts(), &t, &t, vec![condition]);
        let conditions = status.conditions.unwrap();
        assert_eq!(conditions.len(), 2);
        assert_eq!(conditions[1].type_, "VMNetworkReady");
        assert_eq!(conditions[1].status, "False");
        assert_eq!(conditions[1].message.as_deref(), Some("no taps here"));
    }
}

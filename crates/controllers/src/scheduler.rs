//! Choosing a node for a VM run (pure). A node fits when it is Ready and schedulable, carries
//! the labels the VM and its class ask for, is the node of every node-local volume the VM uses,
//! and has the CPU and memory left that the run needs once the other runs on it are counted.
//! Among the nodes that fit, the one with the most memory left wins (ties by name), so a VM
//! lands the same way every time. Affinity rules slot in as another filter ([`Filter`]).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::NodeSelectorRequirement;

/// What the scheduler knows about a node.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeView {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// `Ready=True`.
    pub ready: bool,
    /// Allocatable CPU in millicores.
    pub cpu_millis: u64,
    /// Allocatable memory in bytes.
    pub memory_bytes: u64,
}

/// What a run asks for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Request {
    /// CPU reserved on the node: cores × coreFraction, in millicores.
    pub cpu_millis: u64,
    /// Guest memory plus the hypervisor's overhead.
    pub memory_bytes: u64,
    /// The VM's `nodeSelector`.
    pub node_selector: BTreeMap<String, String>,
    /// The class's `nodeSelector.matchLabels`.
    pub class_labels: BTreeMap<String, String>,
    /// The class's `nodeSelector.matchExpressions`.
    pub class_expressions: Vec<NodeSelectorRequirement>,
    /// Nodes the VM's node-local volumes live on (all must be the same node).
    pub volume_nodes: Vec<String>,
}

/// CPU and memory already reserved on a node by other runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Used {
    pub cpu_millis: u64,
    pub memory_bytes: u64,
}

/// Why no node fits, one line per node, for the VM's `Running` condition.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no node can run the VM: {0}")]
pub struct Unschedulable(pub String);

/// One reason a node is rejected, or None when it passes.
pub type Filter = fn(&Request, &NodeView, Used) -> Option<String>;

/// The filters in the order their reasons are reported.
pub const FILTERS: &[Filter] = &[
    not_ready,
    cordoned,
    vm_selector,
    class_selector,
    volume_node,
    capacity,
];

fn not_ready(_: &Request, node: &NodeView, _: Used) -> Option<String> {
    (!node.ready).then(|| "not Ready".to_string())
}

fn cordoned(_: &Request, node: &NodeView, _: Used) -> Option<String> {
    node.unschedulable
        .then(|| "cordoned (unschedulable)".to_string())
}

fn vm_selector(req: &Request, node: &NodeView, _: Used) -> Option<String> {
    let missing: Vec<String> = req
        .node_selector
        .iter()
        .filter(|(k, v)| node.labels.get(*k) != Some(*v))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    (!missing.is_empty()).then(|| format!("lacks the VM's nodeSelector {}", missing.join(",")))
}

/// Whether `labels` satisfy a node selector requirement (In, NotIn, Exists, DoesNotExist, Gt, Lt).
pub fn requirement_matches(
    req: &NodeSelectorRequirement,
    labels: &BTreeMap<String, String>,
) -> bool {
    let value = labels.get(&req.key);
    let values = req.values.as_deref().unwrap_or_default();
    let number = |s: &str| s.parse::<i64>().ok();
    match req.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), Some(bound)) = (
                value.and_then(|v| number(v)),
                values.first().and_then(|v| number(v)),
            ) else {
                return false;
            };
            if req.operator == "Gt" {
                have > bound
            } else {
                have < bound
            }
        }
        _ => false,
    }
}

fn class_selector(req: &Request, node: &NodeView, _: Used) -> Option<String> {
    let labels_ok = req
        .class_labels
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v));
    let expressions_ok = req
        .class_expressions
        .iter()
        .all(|e| requirement_matches(e, &node.labels));
    (!(labels_ok && expressions_ok)).then(|| "does not match the class's nodeSelector".to_string())
}

fn volume_node(req: &Request, node: &NodeView, _: Used) -> Option<String> {
    let other = req.volume_nodes.iter().find(|n| **n != node.name)?;
    Some(format!("a node-local disk of the VM is on node {other}"))
}

fn capacity(req: &Request, node: &NodeView, used: Used) -> Option<String> {
    let cpu_left = node.cpu_millis.saturating_sub(used.cpu_millis);
    let mem_left = node.memory_bytes.saturating_sub(used.memory_bytes);
    if req.cpu_millis > cpu_left {
        return Some(format!(
            "not enough CPU ({}m needed, {cpu_left}m left)",
            req.cpu_millis
        ));
    }
    if req.memory_bytes > mem_left {
        return Some(format!(
            "not enough memory ({} MiB needed, {} MiB left)",
            req.memory_bytes >> 20,
            mem_left >> 20
        ));
    }
    None
}

/// The node a run should go to.
pub fn schedule(
    req: &Request,
    nodes: &[NodeView],
    used: &BTreeMap<String, Used>,
) -> Result<String, Unschedulable> {
    if nodes.is_empty() {
        return Err(Unschedulable("no nodes are registered".into()));
    }
    let mut fitting: Vec<(&NodeView, u64)> = Vec::new();
    let mut reasons = Vec::new();
    for node in nodes {
        let u = used.get(&node.name).copied().unwrap_or_default();
        match FILTERS.iter().find_map(|f| f(req, node, u)) {
            Some(why) => reasons.push(format!("{}: {why}", node.name)),
            None => fitting.push((node, node.memory_bytes.saturating_sub(u.memory_bytes))),
        }
    }
    fitting.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.name.cmp(&b.0.name)));
    match fitting.first() {
        Some((node, _)) => Ok(node.name.clone()),
        None => Err(Unschedulable(reasons.join("; "))),
    }
}

/// CPU a run reserves: `cores` × `fraction_percent` / 100 cores, in millicores.
pub fn cpu_request_millis(cores: u32, fraction_percent: u32) -> u64 {
    u64::from(cores) * u64::from(fraction_percent.clamp(1, 100)) * 10
}

/// Memory a run reserves: the guest's plus 8 MiB per vCPU for the hypervisor (spec §5.4).
pub fn memory_request_bytes(guest_bytes: u64, cores: u32) -> u64 {
    guest_bytes + u64::from(cores) * (8 << 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str) -> NodeView {
        NodeView {
            name: name.into(),
            labels: BTreeMap::from([("kubernetes.io/hostname".into(), name.into())]),
            unschedulable: false,
            ready: true,
            cpu_millis: 4000,
            memory_bytes: 8 << 30,
        }
    }

    fn small() -> Request {
        Request {
            cpu_millis: 1000,
            memory_bytes: 1 << 30,
            ..Request::default()
        }
    }

    #[test]
    fn a_vm_goes_to_the_node_with_most_memory_left() {
        let used = BTreeMap::from([(
            "a".to_string(),
            Used {
                cpu_millis: 0,
                memory_bytes: 4 << 30,
            },
        )]);
        assert_eq!(
            schedule(&small(), &[node("a"), node("b")], &used),
            Ok("b".into())
        );
    }

    #[test]
    fn cordoned_and_not_ready_nodes_are_skipped_and_said_so() {
        let mut a = node("a");
        a.unschedulable = true;
        let mut b = node("b");
        b.ready = false;
        let err = schedule(&small(), &[a, b], &BTreeMap::new()).unwrap_err();
        assert!(err.0.contains("a: cordoned"), "{err}");
        assert!(err.0.contains("b: not Ready"), "{err}");
    }

    #[test]
    fn core_fraction_counts_only_its_share_of_cpu() {
        let mut req = small();
        req.cpu_millis = cpu_request_millis(4, 10);
        let used = BTreeMap::from([(
            "a".to_string(),
            Used {
                cpu_millis: 3500,
                memory_bytes: 0,
            },
        )]);
        assert_eq!(schedule(&req, &[node("a")], &used), Ok("a".into()));
        req.cpu_millis = cpu_request_millis(4, 100);
        assert!(
            schedule(&req, &[node("a")], &used)
                .unwrap_err()
                .0
                .contains("not enough CPU")
        );
    }

    #[test]
    fn memory_of_other_runs_is_subtracted() {
        let used = BTreeMap::from([(
            "a".to_string(),
            Used {
                cpu_millis: 0,
                memory_bytes: (8 << 30) - (512 << 20),
            },
        )]);
        let err = schedule(&small(), &[node("a")], &used).unwrap_err();
        assert!(err.0.contains("not enough memory"), "{err}");
    }

    #[test]
    fn the_vm_node_selector_must_match_node_labels() {
        let mut req = small();
        req.node_selector = BTreeMap::from([("kubernetes.io/hostname".into(), "b".into())]);
        assert_eq!(
            schedule(&req, &[node("a"), node("b")], &BTreeMap::new()),
            Ok("b".into())
        );
    }

    #[test]
    fn the_class_node_selector_expressions_must_match() {
        let mut req = small();
        req.class_expressions = vec![NodeSelectorRequirement {
            key: "kubernetes.io/hostname".into(),
            operator: "NotIn".into(),
            values: Some(vec!["a".into()]),
        }];
        assert_eq!(
            schedule(&req, &[node("a"), node("b")], &BTreeMap::new()),
            Ok("b".into())
        );
    }

    #[test]
    fn a_node_local_volume_pins_the_vm_to_its_node() {
        let mut req = small();
        req.volume_nodes = vec!["a".into()];
        assert_eq!(
            schedule(&req, &[node("a"), node("b")], &BTreeMap::new()),
            Ok("a".into())
        );
    }

    #[test]
    fn without_nodes_the_reason_says_none_are_registered() {
        let err = schedule(&small(), &[], &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("no nodes are registered"));
    }
}

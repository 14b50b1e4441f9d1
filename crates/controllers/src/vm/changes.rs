//! Change detection (spec §5.3, pure): what differs between the VM spec a run was built from
//! ("current", the instance's applied-spec annotation) and the VM spec now ("desired"), with the
//! exact paths DVP reports, and which of those changes need a restart. Hot-plug of CPU, memory
//! and disks is not available, so every change that DVP applies live only with a hot-plug
//! feature needs a restart here.

use dvp_api::kinds::virtual_machine::{ChangeOperation, RestartAwaitingChange, VirtualMachineSpec};
use serde_json::Value;

/// What a change takes to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// Nothing (informational fields such as `disruptions`).
    None,
    /// Applied to the running VM at once.
    ApplyImmediate,
    /// Applied at the next start.
    Restart,
}

/// One difference between the applied and the desired spec.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub operation: ChangeOperation,
    pub path: String,
    pub current: Option<Value>,
    pub desired: Option<Value>,
    pub action: Action,
}

impl Change {
    fn to_status(&self) -> RestartAwaitingChange {
        RestartAwaitingChange {
            operation: self.operation,
            path: self.path.clone(),
            current_value: self.current.clone(),
            desired_value: self.desired.clone(),
        }
    }
}

fn present(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Array(a) if a.is_empty() => None,
        Value::Object(o) if o.is_empty() => None,
        other => Some(other.clone()),
    }
}

/// Compare one field: add/remove/replace, or nothing when equal. An add or remove whose present
/// side equals `default` changes nothing (adding `bootloader: BIOS` is no change).
fn compare(
    path: &str,
    current: &Value,
    desired: &Value,
    default: Option<&Value>,
    action: Action,
) -> Option<Change> {
    let (c, d) = (present(current), present(desired));
    let (operation, action) = match (&c, &d) {
        (None, None) => return None,
        (Some(a), Some(b)) if a == b => return None,
        (Some(_), Some(_)) => (ChangeOperation::Replace, action),
        (None, Some(v)) | (Some(v), None) => {
            let op = if c.is_none() {
                ChangeOperation::Add
            } else {
                ChangeOperation::Remove
            };
            (
                op,
                if default == Some(v) {
                    Action::None
                } else {
                    action
                },
            )
        }
    };
    Some(Change {
        operation,
        path: path.to_string(),
        current: c,
        desired: d,
        action,
    })
}

fn field<'a>(spec: &'a Value, pointer: &str) -> &'a Value {
    spec.pointer(pointer).unwrap_or(&Value::Null)
}

/// Every difference between `current` (applied) and `desired`.
pub fn diff(current: &VirtualMachineSpec, desired: &VirtualMachineSpec) -> Vec<Change> {
    let cur = serde_json::to_value(current).unwrap_or_default();
    let des = serde_json::to_value(desired).unwrap_or_default();
    let mut out = Vec::new();
    let simple: &[(&str, &str, Option<Value>, Action)] = &[
        (
            "virtualMachineClassName",
            "/virtualMachineClassName",
            None,
            Action::Restart,
        ),
        ("runPolicy", "/runPolicy", None, Action::ApplyImmediate),
        (
            "virtualMachineIPAddress",
            "/virtualMachineIPAddressName",
            None,
            Action::Restart,
        ),
        (
            "topologySpreadConstraints",
            "/topologySpreadConstraints",
            None,
            Action::Restart,
        ),
        ("affinity", "/affinity", None, Action::Restart),
        ("nodeSelector", "/nodeSelector", None, Action::Restart),
        (
            "priorityClassName",
            "/priorityClassName",
            None,
            Action::Restart,
        ),
        ("tolerations", "/tolerations", None, Action::Restart),
        (
            "disruptions.restartApprovalMode",
            "/disruptions/restartApprovalMode",
            Some(Value::from("Manual")),
            Action::None,
        ),
        (
            "terminationGracePeriodSeconds",
            "/terminationGracePeriodSeconds",
            Some(Value::from(60)),
            Action::Restart,
        ),
        (
            "enableParavirtualization",
            "/enableParavirtualization",
            Some(Value::from(true)),
            Action::Restart,
        ),
        (
            "osType",
            "/osType",
            Some(Value::from("Generic")),
            Action::Restart,
        ),
        (
            "bootloader",
            "/bootloader",
            Some(Value::from("BIOS")),
            Action::Restart,
        ),
    ];
    for (path, pointer, default, action) in simple {
        out.extend(compare(
            path,
            field(&cur, pointer),
            field(&des, pointer),
            default.as_ref(),
            *action,
        ));
    }
    out.extend(cpu(&cur, &des));
    out.extend(compare(
        "memory.size",
        field(&cur, "/memory/size"),
        field(&des, "/memory/size"),
        None,
        Action::Restart,
    ));
    out.extend(block_devices(&cur, &des));
    out.extend(provisioning(&cur, &des));
    out.extend(networks(&cur, &des));
    out.extend(compare(
        "usbDevices",
        field(&cur, "/usbDevices"),
        field(&des, "/usbDevices"),
        None,
        Action::ApplyImmediate,
    ));
    out.extend(compare(
        "gpus",
        field(&cur, "/gpus"),
        field(&des, "/gpus"),
        None,
        Action::Restart,
    ));
    out
}

/// Cores and core fraction: one `cpu` replace when both changed, else the one that did.
fn cpu(cur: &Value, des: &Value) -> Vec<Change> {
    let cores = compare(
        "cpu.cores",
        field(cur, "/cpu/cores"),
        field(des, "/cpu/cores"),
        None,
        Action::Restart,
    );
    let fraction = compare(
        "cpu.coreFraction",
        field(cur, "/cpu/coreFraction"),
        field(des, "/cpu/coreFraction"),
        Some(&Value::from("100%")),
        Action::Restart,
    );
    match (cores, fraction) {
        (Some(_), Some(_)) => compare(
            "cpu",
            field(cur, "/cpu"),
            field(des, "/cpu"),
            None,
            Action::Restart,
        )
        .into_iter()
        .collect(),
        (a, b) => a.into_iter().chain(b).collect(),
    }
}

/// Block devices: empty ⇄ non-empty is one change on `blockDeviceRefs`; otherwise one change per
/// index whose entry differs. Disks cannot be hot-plugged into a run yet, so all need a restart.
fn block_devices(cur: &Value, des: &Value) -> Vec<Change> {
    let empty = Vec::new();
    let c = field(cur, "/blockDeviceRefs").as_array().unwrap_or(&empty);
    let d = field(des, "/blockDeviceRefs").as_array().unwrap_or(&empty);
    if c.is_empty() || d.is_empty() {
        return compare(
            "blockDeviceRefs",
            field(cur, "/blockDeviceRefs"),
            field(des, "/blockDeviceRefs"),
            None,
            Action::Restart,
        )
        .into_iter()
        .collect();
    }
    (0..c.len().max(d.len()))
        .filter_map(|i| {
            compare(
                &format!("blockDeviceRefs.{i}"),
                c.get(i).unwrap_or(&Value::Null),
                d.get(i).unwrap_or(&Value::Null),
                None,
                Action::Restart,
            )
        })
        .collect()
}

/// Provisioning: removing it needs nothing (the seed is simply not offered again); other changes
/// are reported on the most precise path.
fn provisioning(cur: &Value, des: &Value) -> Vec<Change> {
    let (c, d) = (field(cur, "/provisioning"), field(des, "/provisioning"));
    if d.is_null() {
        return compare("provisioning", c, d, None, Action::None)
            .into_iter()
            .collect();
    }
    if c.is_null() || field(c, "/type") != field(d, "/type") {
        return compare("provisioning", c, d, None, Action::Restart)
            .into_iter()
            .collect();
    }
    let mut out = Vec::new();
    out.extend(compare(
        "provisioning.userData",
        field(c, "/userData"),
        field(d, "/userData"),
        None,
        Action::Restart,
    ));
    for r in ["userDataRef", "sysprepRef"] {
        let (cr, dr) = (field(c, &format!("/{r}")), field(d, &format!("/{r}")));
        if cr.is_null() || dr.is_null() {
            out.extend(compare(
                &format!("provisioning.{r}"),
                cr,
                dr,
                None,
                Action::Restart,
            ));
            continue;
        }
        for k in ["kind", "name"] {
            out.extend(compare(
                &format!("provisioning.{r}.{k}"),
                field(cr, &format!("/{k}")),
                field(dr, &format!("/{k}")),
                None,
                Action::Restart,
            ));
        }
    }
    out
}

/// Networks: interfaces are fixed for a run (each is a tap made before QEMU starts), so any
/// change but ids filled in by admission waits for a restart.
fn networks(cur: &Value, des: &Value) -> Option<Change> {
    let strip_ids = |v: &Value| {
        let mut v = v.clone();
        if let Some(items) = v.as_array_mut() {
            for item in items {
                if let Some(o) = item.as_object_mut() {
                    o.remove("id");
                }
            }
        }
        v
    };
    let (c, d) = (field(cur, "/networks"), field(des, "/networks"));
    if strip_ids(c) == strip_ids(d) {
        return None;
    }
    compare("networks", c, d, None, Action::Restart)
}

/// The changes that wait for a restart, as `status.restartAwaitingChanges` lists them.
pub fn restart_awaiting(changes: &[Change]) -> Vec<RestartAwaitingChange> {
    changes
        .iter()
        .filter(|c| c.action == Action::Restart)
        .map(Change::to_status)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(extra: Value) -> VirtualMachineSpec {
        let mut base = json!({
            "virtualMachineClassName": "generic",
            "cpu": {"cores": 1, "coreFraction": "10%"},
            "memory": {"size": "256Mi"},
            "blockDeviceRefs": [{"kind": "VirtualDisk", "name": "root"}]
        });
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(base).unwrap()
    }

    fn paths(changes: &[RestartAwaitingChange]) -> Vec<&str> {
        changes.iter().map(|c| c.path.as_str()).collect()
    }

    #[test]
    fn a_core_change_waits_for_a_restart_with_both_values() {
        let now = spec(json!({"cpu": {"cores": 2, "coreFraction": "10%"}}));
        let r = restart_awaiting(&diff(&spec(json!({})), &now));
        assert_eq!(paths(&r), vec!["cpu.cores"]);
        assert_eq!(r[0].operation, ChangeOperation::Replace);
        assert_eq!(r[0].current_value, Some(json!(1)));
        assert_eq!(r[0].desired_value, Some(json!(2)));
    }

    #[test]
    fn cores_and_fraction_together_are_one_cpu_change() {
        let now = spec(json!({"cpu": {"cores": 2, "coreFraction": "50%"}}));
        assert_eq!(
            paths(&restart_awaiting(&diff(&spec(json!({})), &now))),
            vec!["cpu"]
        );
    }

    #[test]
    fn identical_specs_have_no_changes() {
        assert!(diff(&spec(json!({})), &spec(json!({}))).is_empty());
    }

    #[test]
    fn run_policy_and_disruptions_apply_without_restart() {
        let now = spec(
            json!({"runPolicy": "Manual", "disruptions": {"restartApprovalMode": "Automatic"}}),
        );
        let changes = diff(&spec(json!({})), &now);
        assert_eq!(changes.len(), 2);
        assert!(restart_awaiting(&changes).is_empty());
    }

    #[test]
    fn writing_a_default_explicitly_is_no_change() {
        let now = spec(json!({"bootloader": "BIOS", "osType": "Generic"}));
        assert!(restart_awaiting(&diff(&spec(json!({})), &now)).is_empty());
    }

    #[test]
    fn an_added_disk_is_reported_at_its_index() {
        let now = spec(json!({"blockDeviceRefs": [
            {"kind": "VirtualDisk", "name": "root"}, {"kind": "VirtualImage", "name": "iso"}]}));
        let r = restart_awaiting(&diff(&spec(json!({})), &now));
        assert_eq!(paths(&r), vec!["blockDeviceRefs.1"]);
        assert_eq!(r[0].operation, ChangeOperation::Add);
    }

    #[test]
    fn the_ip_address_name_is_reported_on_the_dvp_path() {
        let now = spec(json!({"virtualMachineIPAddressName": "ip1"}));
        assert_eq!(
            paths(&restart_awaiting(&diff(&spec(json!({})), &now))),
            vec!["virtualMachineIPAddress"]
        );
    }

    #[test]
    fn removing_cloud_init_needs_no_restart_changing_it_does() {
        let with = spec(json!({"provisioning": {"type": "UserData", "userData": "a"}}));
        assert!(restart_awaiting(&diff(&with, &spec(json!({})))).is_empty());
        let other = spec(json!({"provisioning": {"type": "UserData", "userData": "b"}}));
        assert_eq!(
            paths(&restart_awaiting(&diff(&with, &other))),
            vec!["provisioning.userData"]
        );
    }

    #[test]
    fn memory_growth_needs_a_restart() {
        let now = spec(json!({"memory": {"size": "512Mi"}}));
        assert_eq!(
            paths(&restart_awaiting(&diff(&spec(json!({})), &now))),
            vec!["memory.size"]
        );
    }
}

#[cfg(test)]
mod network_tests {
    use super::*;
    use serde_json::json;

    fn spec(networks: Value) -> VirtualMachineSpec {
        serde_json::from_value(json!({
            "virtualMachineClassName": "generic",
            "cpu": {"cores": 1},
            "memory": {"size": "1Gi"},
            "blockDeviceRefs": [{"kind": "VirtualDisk", "name": "d"}],
            "networks": networks,
        }))
        .unwrap()
    }

    #[test]
    fn an_added_interface_waits_for_a_restart() {
        let a = spec(json!([{"type": "Main"}]));
        let b = spec(json!([{"type": "Main"}, {"type": "Network", "name": "lan"}]));
        let changes = diff(&a, &b);
        assert_eq!(changes.len(), 1);
        assert!(!restart_awaiting(&changes).is_empty());
    }

    #[test]
    fn ids_filled_in_are_no_change() {
        let a = spec(json!([{"type": "Main"}]));
        let b = spec(json!([{"type": "Main", "id": 1}]));
        assert!(diff(&a, &b).is_empty());
    }
}

//! Network interfaces and the main-network IP address reference.

use dvp_apimachinery::FieldError;
use serde_json::Value;

use super::super::fields::{array_at, int_at, non_empty, phase, str_at};
use super::super::module_config::{NO_CIDRS, vm_cidrs};
use super::super::{Ctx, kind};
use crate::kinds::module_config::VirtualizationSettings;

/// Largest interface id.
pub const MAX_NETWORK_ID: i64 = 16383;

pub(super) fn validate(
    ctx: &Ctx,
    obj: &Value,
    settings: Option<&VirtualizationSettings>,
    errs: &mut Vec<FieldError>,
) {
    let networks = array_at(obj, "/spec/networks");
    let has_cidrs = !vm_cidrs(settings).is_empty();
    let has_main =
        networks.is_empty() || networks.iter().any(|n| str_at(n, "/type") == Some("Main"));
    validate_list(networks, errs);
    if ctx.changed(obj, "/spec/networks") {
        validate_id_changes(ctx, networks, errs);
    }
    if !has_cidrs && has_main && ctx.changed(obj, "/spec/networks") {
        errs.push(FieldError::forbidden(
            "spec.networks",
            format!("the Main network needs an IP address pool: {NO_CIDRS}; or list only Network/ClusterNetwork entries"),
        ));
    }
    let ip_name = non_empty(obj, "/spec/virtualMachineIPAddressName");
    if let Some(ip) = ip_name
        && ctx.changed(obj, "/spec/virtualMachineIPAddressName")
    {
        if !has_cidrs {
            errs.push(FieldError::forbidden(
                "spec.virtualMachineIPAddressName",
                format!("cannot use VirtualMachineIPAddress {ip:?}: {NO_CIDRS}"),
            ));
        } else if !has_main {
            errs.push(FieldError::forbidden(
                "spec.virtualMachineIPAddressName",
                "a VirtualMachineIPAddress is used on the Main network; add {type: Main} as the first entry of \
                 spec.networks or remove virtualMachineIPAddressName",
            ));
        }
    }
    if ip_name.is_none()
        && ctx.is_create()
        && has_main
        && ctx
            .lookup
            .get(kind::VMIP, ctx.namespace, ctx.name)
            .is_some()
    {
        errs.push(FieldError::required(
            "spec.virtualMachineIPAddressName",
            format!(
                "a VirtualMachineIPAddress named {:?} already exists in this namespace; reference it with \
                 spec.virtualMachineIPAddressName: {} or delete it",
                ctx.name, ctx.name
            ),
        ));
    }
}

fn validate_list(networks: &[Value], errs: &mut Vec<FieldError>) {
    let mut ids: Vec<i64> = Vec::new();
    for (i, n) in networks.iter().enumerate() {
        let base = format!("spec.networks[{i}]");
        let type_ = str_at(n, "/type").unwrap_or_default();
        let name = non_empty(n, "/name");
        if type_ == "Main" {
            if i != 0 {
                errs.push(FieldError::invalid(
                    format!("{base}.type"),
                    "Main",
                    "the Main network must be the first entry",
                ));
            }
            if name.is_some() {
                errs.push(FieldError::forbidden(
                    format!("{base}.name"),
                    "the Main network has no name; remove it",
                ));
            }
        } else if name.is_none() {
            errs.push(FieldError::required(
                format!("{base}.name"),
                format!("a {type_} interface needs the name of the network to connect to"),
            ));
        }
        if let Some(id) = int_at(n, "/id") {
            if !(1..=MAX_NETWORK_ID).contains(&id) {
                errs.push(FieldError::invalid(
                    format!("{base}.id"),
                    id,
                    format!("must be between 1 and {MAX_NETWORK_ID}"),
                ));
            } else if type_ == "Main" && id != 1 {
                errs.push(FieldError::invalid(
                    format!("{base}.id"),
                    id,
                    "the Main network always has id 1",
                ));
            } else if ids.contains(&id) {
                errs.push(FieldError::duplicate(format!("{base}.id"), id));
            }
            ids.push(id);
        }
    }
}

/// An interface id may change only while the VM is stopped.
fn validate_id_changes(ctx: &Ctx, networks: &[Value], errs: &mut Vec<FieldError>) {
    let Some(old) = ctx.old else { return };
    if matches!(phase(old), Some("Stopped") | None) {
        return;
    }
    for (i, (new, prev)) in networks
        .iter()
        .zip(array_at(old, "/spec/networks"))
        .enumerate()
    {
        let same = str_at(new, "/type") == str_at(prev, "/type")
            && non_empty(new, "/name") == non_empty(prev, "/name");
        if let (true, Some(a), Some(b)) = (same, int_at(new, "/id"), int_at(prev, "/id"))
            && a != b
        {
            errs.push(FieldError::forbidden(
                format!("spec.networks[{i}].id"),
                format!("the interface id can change only while the VM is Stopped (it is {b}); stop the VM first"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::*;
    use super::super::fixtures::*;
    use crate::admission::{default_module_config, default_vmclass_generic, kind};
    use serde_json::{Value, json};

    fn with_networks(n: Value) -> Value {
        let mut v = basic();
        v["spec"]["networks"] = n;
        v
    }

    fn no_cidrs() -> Fake {
        let mut mc = default_module_config();
        mc["spec"]["settings"]
            .as_object_mut()
            .unwrap()
            .remove("virtualMachineCIDRs");
        Fake::with(vec![mc, default_vmclass_generic()])
    }

    #[test]
    fn same_network_twice_is_accepted() {
        let v = with_networks(
            json!([{"type": "Main"}, {"type": "Network", "name": "user-net"}, {"type": "Network", "name": "user-net"}]),
        );
        assert_ok(&create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            v,
            &cluster(),
        ));
    }

    #[test]
    fn main_must_come_first() {
        let v = with_networks(json!([{"type": "Network", "name": "user-net"}, {"type": "Main"}]));
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster()),
            "spec.networks[1].type",
            "must be the first",
        );
    }

    #[test]
    fn main_has_no_name() {
        let v = with_networks(json!([{"type": "Main", "name": "x"}]));
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster()),
            "spec.networks[0].name",
            "has no name",
        );
    }

    #[test]
    fn additional_network_needs_a_name() {
        let v = with_networks(json!([{"type": "Main"}, {"type": "ClusterNetwork"}]));
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster()),
            "spec.networks[1].name",
            "needs the name",
        );
    }

    #[test]
    fn duplicate_ids_are_rejected() {
        let v = with_networks(
            json!([{"type": "Main"}, {"type": "Network", "name": "a", "id": 5}, {"type": "Network", "name": "b", "id": 5}]),
        );
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster()),
            "spec.networks[2].id",
            "Duplicate",
        );
    }

    #[test]
    fn main_id_must_be_1() {
        let v = with_networks(json!([{"type": "Main", "id": 2}]));
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster()),
            "spec.networks[0].id",
            "always has id 1",
        );
    }

    #[test]
    fn id_change_on_a_running_vm_is_rejected() {
        let mut old = with_networks(
            json!([{"type": "Main", "id": 1}, {"type": "Network", "name": "a", "id": 2}]),
        );
        old["status"] = json!({"phase": "Running"});
        let mut v = with_networks(
            json!([{"type": "Main", "id": 1}, {"type": "Network", "name": "a", "id": 3}]),
        );
        v["status"] = json!({"phase": "Running"});
        assert_error(
            &update(kind::VIRTUAL_MACHINE, Some("default"), v, &old, &cluster()),
            "spec.networks[1].id",
            "only while the VM is Stopped",
        );
    }

    #[test]
    fn id_change_on_a_stopped_vm_is_accepted() {
        let mut old = with_networks(
            json!([{"type": "Main", "id": 1}, {"type": "Network", "name": "a", "id": 2}]),
        );
        old["status"] = json!({"phase": "Stopped"});
        let v = with_networks(
            json!([{"type": "Main", "id": 1}, {"type": "Network", "name": "a", "id": 3}]),
        );
        assert_ok(&update(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            v,
            &old,
            &cluster(),
        ));
    }

    #[test]
    fn ip_address_name_without_cidrs_is_rejected() {
        let mut v = with_networks(json!([{"type": "Network", "name": "a"}]));
        v["spec"]["virtualMachineIPAddressName"] = json!("ip");
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &no_cidrs()),
            "spec.virtualMachineIPAddressName",
            "no virtualMachineCIDRs",
        );
    }

    #[test]
    fn ip_address_name_without_main_network_is_rejected() {
        let mut v = with_networks(json!([{"type": "Network", "name": "a"}]));
        v["spec"]["virtualMachineIPAddressName"] = json!("ip");
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster()),
            "spec.virtualMachineIPAddressName",
            "Main network",
        );
    }

    #[test]
    fn ip_address_name_with_cidrs_is_accepted() {
        let mut v = basic();
        v["spec"]["virtualMachineIPAddressName"] = json!("linux-vm-custom-ip");
        assert_ok(&create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            v,
            &cluster(),
        ));
    }

    #[test]
    fn main_network_without_cidrs_is_rejected() {
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), basic(), &no_cidrs()),
            "spec.networks",
            "no virtualMachineCIDRs",
        );
    }

    #[test]
    fn additional_networks_only_without_cidrs_are_accepted() {
        let v = with_networks(json!([{"type": "Network", "name": "a"}]));
        assert_ok(&create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            v,
            &no_cidrs(),
        ));
    }

    #[test]
    fn unreferenced_vmip_named_like_the_vm_is_rejected() {
        let vmip = json!({"kind": "VirtualMachineIPAddress", "metadata": {"name": "linux-vm", "namespace": "default"}, "spec": {"type": "Auto"}});
        let mut fake = cluster();
        fake.objects.push(vmip);
        let r = create(kind::VIRTUAL_MACHINE, Some("default"), basic(), &fake);
        assert_error(
            &r,
            "spec.virtualMachineIPAddressName",
            "reference it with spec.virtualMachineIPAddressName: linux-vm",
        );
    }

    #[test]
    fn referenced_vmip_named_like_the_vm_is_accepted() {
        let vmip = json!({"kind": "VirtualMachineIPAddress", "metadata": {"name": "linux-vm", "namespace": "default"}, "spec": {"type": "Auto"}});
        let mut fake = cluster();
        fake.objects.push(vmip);
        let mut v = basic();
        v["spec"]["virtualMachineIPAddressName"] = json!("linux-vm");
        assert_ok(&create(kind::VIRTUAL_MACHINE, Some("default"), v, &fake));
    }
}

//! VirtualMachineIPAddress: type/staticIP consistency, the address pool, lease conflicts, and
//! immutability once bound.

use dvp_apimachinery::FieldError;
use serde_json::Value;

use super::cidr::parse_ipv4;
use super::fields::{non_empty, phase, str_at};
use super::module_config::{NO_CIDRS, vm_cidrs};
use super::{Ctx, Need, Response, kind, module_settings};

/// The lease name of an IPv4 address: `ip-a-b-c-d`.
pub fn lease_name(ip: &str) -> String {
    format!("ip-{}", ip.replace('.', "-"))
}

pub(crate) fn needs(obj: &Value) -> Vec<Need> {
    let mut out = vec![Need::Get {
        kind: kind::MODULE_CONFIG,
        namespace: None,
        name: "virtualization".into(),
    }];
    if let Some(ip) = non_empty(obj, "/spec/staticIP") {
        out.push(Need::Get {
            kind: kind::VMIP_LEASE,
            namespace: None,
            name: lease_name(ip),
        });
    }
    out
}

pub(crate) fn admit(ctx: &Ctx, obj: &mut Value, resp: &mut Response) {
    let obj = &*obj;
    if !ctx.changed(obj, "/spec") {
        return;
    }
    let errs = &mut resp.errors;
    let type_ = str_at(obj, "/spec/type").unwrap_or_default();
    let static_ip = non_empty(obj, "/spec/staticIP");
    match (type_, static_ip) {
        ("Static", None) => errs.push(FieldError::required(
            "spec.staticIP",
            "type Static needs the address to reserve",
        )),
        ("Auto", Some(_)) => errs.push(FieldError::forbidden(
            "spec.staticIP",
            "type Auto picks the address itself; remove staticIP or use type Static",
        )),
        _ => {}
    }
    if let Some(old) = ctx.old
        && matches!(phase(old), Some("Bound" | "Attached"))
    {
        validate_bound_change(old, type_, static_ip, errs);
    }
    let cidrs = vm_cidrs(module_settings(ctx.lookup).as_ref());
    if cidrs.is_empty() {
        errs.push(FieldError::forbidden(
            "spec",
            format!("VirtualMachineIPAddresses cannot be used: {NO_CIDRS}"),
        ));
        return;
    }
    let Some(ip_text) = static_ip else { return };
    let Some(ip) = parse_ipv4(ip_text) else {
        errs.push(FieldError::invalid(
            "spec.staticIP",
            ip_text,
            "must be an IPv4 address such as 10.66.10.20",
        ));
        return;
    };
    match cidrs.iter().find(|c| c.contains(ip)) {
        None => {
            let list: Vec<String> = cidrs.iter().map(|c| c.aligned_string()).collect();
            errs.push(FieldError::invalid(
                "spec.staticIP",
                ip_text,
                format!(
                    "the address is outside virtualMachineCIDRs ({}); pick one inside them",
                    list.join(", ")
                ),
            ));
        }
        Some(c)
            if crate::network::gateway(&c.aligned_string()).map(u32::from) == Some(ip) =>
        {
            errs.push(FieldError::invalid(
                "spec.staticIP",
                ip_text,
                format!(
                    "the address is the gateway of {} (the nodes' VM bridge carries it); pick another",
                    c.aligned_string()
                ),
            ))
        }
        Some(c) if !c.is_usable(ip) => errs.push(FieldError::invalid(
            "spec.staticIP",
            ip_text,
            format!(
                "the network and broadcast addresses of {} cannot be given to a VM",
                c.aligned_string()
            ),
        )),
        Some(_) => validate_lease(ctx, ip_text, errs),
    }
}

/// Once bound, the address stays; the only change allowed is Auto → Static keeping it.
fn validate_bound_change(
    old: &Value,
    type_: &str,
    static_ip: Option<&str>,
    errs: &mut Vec<FieldError>,
) {
    let old_type = str_at(old, "/spec/type").unwrap_or_default();
    let old_ip = non_empty(old, "/spec/staticIP");
    if old_type == type_ && old_ip == static_ip {
        return;
    }
    let address = non_empty(old, "/status/address");
    let keeps_address =
        old_type == "Auto" && type_ == "Static" && static_ip.is_some() && static_ip == address;
    if !keeps_address {
        errs.push(FieldError::forbidden(
            "spec",
            format!(
                "the address is bound: type and staticIP cannot change, except from Auto to Static with staticIP set to \
                 the current address {}",
                address.unwrap_or("(none)")
            ),
        ));
    }
}

fn validate_lease(ctx: &Ctx, ip: &str, errs: &mut Vec<FieldError>) {
    let Some(lease) = ctx.lookup.get(kind::VMIP_LEASE, None, &lease_name(ip)) else {
        return;
    };
    let holder_ns =
        str_at(&lease, "/spec/virtualMachineIPAddressRef/namespace").unwrap_or_default();
    let holder = non_empty(&lease, "/spec/virtualMachineIPAddressRef/name");
    let ns = ctx.namespace.unwrap_or_default();
    match holder {
        Some(name) if (holder_ns, name) != (ns, ctx.name) => errs.push(FieldError::invalid(
            "spec.staticIP",
            ip,
            format!("the address is already leased by VirtualMachineIPAddress {holder_ns}/{name}; pick another address"),
        )),
        None if !holder_ns.is_empty() && holder_ns != ns => errs.push(FieldError::invalid(
            "spec.staticIP",
            ip,
            format!("the address was recently released and belongs to a different namespace ({holder_ns}) for a while"),
        )),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::admission::default_module_config;
    use serde_json::json;

    fn vmip(spec: Value) -> Value {
        json!({"kind": "VirtualMachineIPAddress", "metadata": {"name": "linux-vm-custom-ip", "namespace": "default"}, "spec": spec})
    }

    fn cluster() -> Fake {
        let mut mc = default_module_config();
        mc["spec"]["settings"]["virtualMachineCIDRs"] = json!(["10.66.10.0/24", "10.66.20.0/24"]);
        Fake::with(vec![mc])
    }

    fn lease(ip: &str, ns: &str, name: &str) -> Value {
        json!({"kind": "VirtualMachineIPAddressLease", "metadata": {"name": lease_name(ip)},
               "spec": {"virtualMachineIPAddressRef": {"name": name, "namespace": ns}}})
    }

    #[test]
    fn guide_static_address_is_accepted() {
        let v = vmip(json!({"type": "Static", "staticIP": "10.66.20.77"}));
        assert_ok(&create(kind::VMIP, Some("default"), v, &cluster()));
    }

    #[test]
    fn the_gateway_address_is_refused() {
        let v = vmip(json!({"type": "Static", "staticIP": "10.66.20.254"}));
        let r = create(kind::VMIP, Some("default"), v, &cluster());
        assert_error(&r, "spec.staticIP", "gateway");
    }

    #[test]
    fn auto_address_is_accepted() {
        assert_ok(&create(
            kind::VMIP,
            Some("default"),
            vmip(json!({"type": "Auto"})),
            &cluster(),
        ));
    }

    #[test]
    fn static_needs_an_address() {
        assert_error(
            &create(
                kind::VMIP,
                Some("default"),
                vmip(json!({"type": "Static"})),
                &cluster(),
            ),
            "spec.staticIP",
            "Required",
        );
    }

    #[test]
    fn auto_forbids_an_address() {
        let r = create(
            kind::VMIP,
            Some("default"),
            vmip(json!({"type": "Auto", "staticIP": "10.66.10.5"})),
            &cluster(),
        );
        assert_error(&r, "spec.staticIP", "Forbidden");
    }

    #[test]
    fn address_outside_the_pool_is_rejected() {
        let r = create(
            kind::VMIP,
            Some("default"),
            vmip(json!({"type": "Static", "staticIP": "192.168.1.5"})),
            &cluster(),
        );
        assert_error(&r, "spec.staticIP", "outside virtualMachineCIDRs");
    }

    #[test]
    fn network_and_broadcast_addresses_are_rejected() {
        for ip in ["10.66.10.0", "10.66.10.255"] {
            let r = create(
                kind::VMIP,
                Some("default"),
                vmip(json!({"type": "Static", "staticIP": ip})),
                &cluster(),
            );
            assert_error(&r, "spec.staticIP", "network and broadcast");
        }
    }

    #[test]
    fn malformed_address_is_rejected() {
        let r = create(
            kind::VMIP,
            Some("default"),
            vmip(json!({"type": "Static", "staticIP": "10.66.10"})),
            &cluster(),
        );
        assert_error(&r, "spec.staticIP", "IPv4");
    }

    #[test]
    fn creation_without_cidrs_is_rejected() {
        let mut mc = default_module_config();
        mc["spec"]["settings"]
            .as_object_mut()
            .unwrap()
            .remove("virtualMachineCIDRs");
        let r = create(
            kind::VMIP,
            Some("default"),
            vmip(json!({"type": "Auto"})),
            &Fake::with(vec![mc]),
        );
        assert_error(&r, "spec", "no virtualMachineCIDRs");
    }

    #[test]
    fn address_leased_by_another_vmip_is_rejected() {
        let mut fake = cluster();
        fake.objects
            .push(lease("10.66.10.14", "default", "linux-vm-7prpx"));
        let r = create(
            kind::VMIP,
            Some("default"),
            vmip(json!({"type": "Static", "staticIP": "10.66.10.14"})),
            &fake,
        );
        assert_error(
            &r,
            "spec.staticIP",
            "already leased by VirtualMachineIPAddress default/linux-vm-7prpx",
        );
    }

    #[test]
    fn released_address_of_the_same_namespace_can_be_taken_back() {
        let mut fake = cluster();
        fake.objects.push(lease("10.66.20.77", "default", ""));
        assert_ok(&create(
            kind::VMIP,
            Some("default"),
            vmip(json!({"type": "Static", "staticIP": "10.66.20.77"})),
            &fake,
        ));
    }

    #[test]
    fn released_address_of_another_namespace_is_rejected() {
        let mut fake = cluster();
        fake.objects.push(lease("10.66.20.77", "other", ""));
        let r = create(
            kind::VMIP,
            Some("default"),
            vmip(json!({"type": "Static", "staticIP": "10.66.20.77"})),
            &fake,
        );
        assert_error(&r, "spec.staticIP", "different namespace");
    }

    fn bound_auto() -> Value {
        let mut old = vmip(json!({"type": "Auto"}));
        old["status"] = json!({"phase": "Bound", "address": "10.66.10.14"});
        old
    }

    #[test]
    fn bound_auto_may_become_static_with_its_address() {
        let mut fake = cluster();
        fake.objects
            .push(lease("10.66.10.14", "default", "linux-vm-custom-ip"));
        let new = vmip(json!({"type": "Static", "staticIP": "10.66.10.14"}));
        assert_ok(&update(
            kind::VMIP,
            Some("default"),
            new,
            &bound_auto(),
            &fake,
        ));
    }

    #[test]
    fn bound_address_cannot_move() {
        let new = vmip(json!({"type": "Static", "staticIP": "10.66.10.15"}));
        assert_error(
            &update(kind::VMIP, Some("default"), new, &bound_auto(), &cluster()),
            "spec",
            "address is bound",
        );
    }

    #[test]
    fn lease_names_replace_dots() {
        assert_eq!(lease_name("10.66.10.14"), "ip-10-66-10-14");
    }
}

//! Address leases and MAC addresses: lease names encode the address; a MAC is fixed once bound.

use dvp_apimachinery::FieldError;
use serde_json::Value;

use super::fields::{non_empty, phase, str_at};
use super::module_config::lease_ip;
use super::{Ctx, Need, Response, kind};

/// `aa:bb:cc:dd:ee:ff` or with dashes.
pub fn is_mac_address(s: &str) -> bool {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The lease name of a MAC address: `mac-` + lower-case octets joined by dashes.
pub fn mac_lease_name(mac: &str) -> String {
    format!("mac-{}", mac.to_ascii_lowercase().replace(':', "-"))
}

pub(crate) fn admit_vmipl(ctx: &Ctx, _obj: &mut Value, resp: &mut Response) {
    if ctx.is_create() && lease_ip(ctx.name).is_none() {
        resp.errors.push(FieldError::invalid(
            "metadata.name",
            ctx.name,
            "a lease name encodes its IPv4 address as ip-a-b-c-d, e.g. ip-10-66-10-14",
        ));
    }
}

pub(crate) fn admit_vmmacl(ctx: &Ctx, _obj: &mut Value, resp: &mut Response) {
    let ok = ctx
        .name
        .strip_prefix("mac-")
        .is_some_and(|m| is_mac_address(m) && !m.contains(':') && m == m.to_ascii_lowercase());
    if ctx.is_create() && !ok {
        resp.errors.push(FieldError::invalid(
            "metadata.name",
            ctx.name,
            "a lease name encodes its MAC address as mac-aa-bb-cc-dd-ee-ff (lower case)",
        ));
    }
}

pub(crate) fn vmmac_needs(obj: &Value) -> Vec<Need> {
    match non_empty(obj, "/spec/address") {
        Some(mac) if is_mac_address(mac) => {
            vec![Need::Get {
                kind: kind::VMMAC_LEASE,
                namespace: None,
                name: mac_lease_name(mac),
            }]
        }
        _ => Vec::new(),
    }
}

pub(crate) fn admit_vmmac(ctx: &Ctx, obj: &mut Value, resp: &mut Response) {
    let obj = &*obj;
    if !ctx.changed(obj, "/spec") {
        return;
    }
    let errs = &mut resp.errors;
    let address = non_empty(obj, "/spec/address");
    if let Some(old) = ctx.old
        && matches!(phase(old), Some("Bound" | "Attached"))
        && non_empty(old, "/spec/address") != address
    {
        errs.push(FieldError::forbidden(
            "spec.address",
            format!(
                "the MAC address is bound ({}) and cannot change; create another VirtualMachineMACAddress",
                str_at(old, "/status/address").unwrap_or_default()
            ),
        ));
        return;
    }
    let Some(mac) = address else { return };
    if !is_mac_address(mac) {
        errs.push(FieldError::invalid(
            "spec.address",
            mac,
            "must look like aa:bb:cc:dd:ee:ff",
        ));
        return;
    }
    if let Some(lease) = ctx
        .lookup
        .get(kind::VMMAC_LEASE, None, &mac_lease_name(mac))
    {
        let ns = str_at(&lease, "/spec/virtualMachineMACAddressRef/namespace").unwrap_or_default();
        let name = str_at(&lease, "/spec/virtualMachineMACAddressRef/name").unwrap_or_default();
        if (ns, name) != (ctx.namespace.unwrap_or_default(), ctx.name) {
            errs.push(FieldError::invalid(
                "spec.address",
                mac,
                format!("the MAC address is already leased by VirtualMachineMACAddress {ns}/{name}; pick another"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use serde_json::json;

    fn named(kind: &str, name: &str) -> Value {
        json!({"kind": kind, "metadata": {"name": name}, "spec": {}})
    }

    #[test]
    fn ip_lease_with_encoded_address_is_accepted() {
        assert_ok(&create(
            kind::VMIP_LEASE,
            None,
            named(kind::VMIP_LEASE, "ip-10-66-10-14"),
            &Fake::default(),
        ));
    }

    #[test]
    fn ip_lease_with_bad_name_is_rejected() {
        let r = create(
            kind::VMIP_LEASE,
            None,
            named(kind::VMIP_LEASE, "ip-10-66-10-300"),
            &Fake::default(),
        );
        assert_error(&r, "metadata.name", "ip-a-b-c-d");
    }

    #[test]
    fn mac_lease_with_encoded_address_is_accepted() {
        assert_ok(&create(
            kind::VMMAC_LEASE,
            None,
            named(kind::VMMAC_LEASE, "mac-5e-e6-19-22-0f-d8"),
            &Fake::default(),
        ));
    }

    #[test]
    fn mac_lease_with_upper_case_name_is_rejected() {
        let r = create(
            kind::VMMAC_LEASE,
            None,
            named(kind::VMMAC_LEASE, "mac-5E-E6-19-22-0F-D8"),
            &Fake::default(),
        );
        assert_error(&r, "metadata.name", "mac-aa-bb-cc-dd-ee-ff");
    }

    fn vmmac(address: Option<&str>) -> Value {
        let mut v = json!({"kind": "VirtualMachineMACAddress", "metadata": {"name": "vm-01-5jqxg", "namespace": "pr-sdn"}, "spec": {}});
        if let Some(a) = address {
            v["spec"]["address"] = json!(a);
        }
        v
    }

    #[test]
    fn mac_without_address_is_accepted() {
        assert_ok(&create(
            kind::VMMAC,
            Some("pr-sdn"),
            vmmac(None),
            &Fake::default(),
        ));
    }

    #[test]
    fn malformed_mac_is_rejected() {
        assert_error(
            &create(
                kind::VMMAC,
                Some("pr-sdn"),
                vmmac(Some("5e:e6:19")),
                &Fake::default(),
            ),
            "spec.address",
            "aa:bb:cc:dd:ee:ff",
        );
    }

    #[test]
    fn leased_mac_of_another_object_is_rejected() {
        let lease = json!({"kind": "VirtualMachineMACAddressLease", "metadata": {"name": "mac-5e-e6-19-54-f9-be"},
                           "spec": {"virtualMachineMACAddressRef": {"name": "other", "namespace": "pr-sdn"}}});
        let r = create(
            kind::VMMAC,
            Some("pr-sdn"),
            vmmac(Some("5e:e6:19:54:f9:be")),
            &Fake::with(vec![lease]),
        );
        assert_error(&r, "spec.address", "already leased");
    }

    #[test]
    fn bound_mac_cannot_change() {
        let mut old = vmmac(Some("5e:e6:19:54:f9:be"));
        old["status"] = json!({"phase": "Bound", "address": "5e:e6:19:54:f9:be"});
        let r = update(
            kind::VMMAC,
            Some("pr-sdn"),
            vmmac(Some("5e:e6:19:54:f9:bf")),
            &old,
            &Fake::default(),
        );
        assert_error(&r, "spec.address", "cannot change");
    }

    #[test]
    fn pending_mac_may_change() {
        let old = vmmac(Some("5e:e6:19:54:f9:be"));
        assert_ok(&update(
            kind::VMMAC,
            Some("pr-sdn"),
            vmmac(Some("5e:e6:19:54:f9:bf")),
            &old,
            &Fake::default(),
        ));
    }

    #[test]
    fn mac_lease_names_are_lower_case_with_dashes() {
        assert_eq!(mac_lease_name("5E:E6:19:22:0F:D8"), "mac-5e-e6-19-22-0f-d8");
    }
}

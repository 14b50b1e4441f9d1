//! The status of a VirtualMachineIPAddress, free of I/O: from what binding its lease gave and
//! which VM uses it.

use dvp_api::conditions::vmip::{AttachedReason, BoundReason, Type};
use dvp_api::conditions::{ConditionStatus, new_condition, set_condition};
use dvp_api::kinds::VirtualMachineIPAddress;
use dvp_api::kinds::virtual_machine_ip_address::{
    VirtualMachineIPAddressPhase as Phase, VirtualMachineIPAddressStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// What claiming an address gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// The lease of this address names the object.
    Bound(String),
    /// A static address outside the pool (or the pool is not configured).
    OutOfRange(String),
    /// The lease is held by someone else.
    Taken(String),
    /// No lease could be had yet (pool exhausted, lease not created).
    NotFound(String),
    /// The object had an address whose lease is gone or went to someone else.
    Lost(String),
}

/// The status `vmip` should have after `binding`, used by the VM `attached_to` (if any).
pub fn desired_status(
    vmip: &VirtualMachineIPAddress,
    binding: &Binding,
    attached_to: Option<&str>,
    now: Time,
) -> VirtualMachineIPAddressStatus {
    let mut status = vmip.status.clone().unwrap_or_default();
    let generation = vmip.metadata.generation;
    let (reason, message, address) = match binding {
        Binding::Bound(a) => (BoundReason::Bound, String::new(), Some(a.clone())),
        Binding::OutOfRange(m) => (
            BoundReason::VirtualMachineIpAddressIsOutOfTheValidRange,
            m.clone(),
            None,
        ),
        Binding::Taken(m) => (
            BoundReason::VirtualMachineIpAddressLeaseAlreadyExists,
            m.clone(),
            None,
        ),
        Binding::NotFound(m) => (
            BoundReason::VirtualMachineIpAddressLeaseNotFound,
            m.clone(),
            None,
        ),
        Binding::Lost(m) => (
            BoundReason::VirtualMachineIpAddressLeaseLost,
            m.clone(),
            None,
        ),
    };
    let bound = address.is_some();
    let cond = if bound {
        ConditionStatus::True
    } else {
        ConditionStatus::False
    };
    set_condition(
        &mut status.conditions,
        new_condition(
            &Type::Bound,
            cond,
            &reason,
            message,
            generation,
            now.clone(),
        ),
    );
    status.address = address;
    let vm = attached_to.filter(|_| bound);
    let (cond, reason, message) = match vm {
        Some(name) => (
            ConditionStatus::True,
            AttachedReason::Attached,
            format!("used by VirtualMachine {name}"),
        ),
        None => (
            ConditionStatus::False,
            AttachedReason::VirtualMachineNotFound,
            "no VirtualMachine of the namespace uses this address".to_string(),
        ),
    };
    set_condition(
        &mut status.conditions,
        new_condition(&Type::Attached, cond, &reason, message, generation, now),
    );
    status.virtual_machine_name = vm.map(str::to_string);
    status.phase = Some(match (bound, vm.is_some()) {
        (false, _) => Phase::Pending,
        (true, false) => Phase::Bound,
        (true, true) => Phase::Attached,
    });
    status.observed_generation = generation;
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn vmip() -> VirtualMachineIPAddress {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "linux-vm-7prpx", "namespace": "default", "generation": 1},
            "spec": {"type": "Auto"},
        }))
        .unwrap()
    }

    fn t() -> Time {
        Time(Timestamp::UNIX_EPOCH)
    }

    fn cond<'a>(s: &'a VirtualMachineIPAddressStatus, type_: &str) -> &'a str {
        &s.conditions
            .iter()
            .find(|c| c.type_ == type_)
            .unwrap()
            .reason
    }

    #[test]
    fn a_bound_address_without_vm_is_phase_bound() {
        let s = desired_status(&vmip(), &Binding::Bound("10.66.10.1".into()), None, t());
        assert_eq!(s.phase, Some(Phase::Bound));
        assert_eq!(s.address.as_deref(), Some("10.66.10.1"));
        assert_eq!(cond(&s, "Attached"), "VirtualMachineNotFound");
    }

    #[test]
    fn a_bound_address_used_by_a_vm_is_attached_and_names_it() {
        let s = desired_status(
            &vmip(),
            &Binding::Bound("10.66.10.1".into()),
            Some("linux-vm"),
            t(),
        );
        assert_eq!(s.phase, Some(Phase::Attached));
        assert_eq!(s.virtual_machine_name.as_deref(), Some("linux-vm"));
    }

    #[test]
    fn a_taken_static_address_stays_pending_with_the_reason() {
        let s = desired_status(&vmip(), &Binding::Taken("held".into()), None, t());
        assert_eq!(s.phase, Some(Phase::Pending));
        assert_eq!(s.address, None);
        assert_eq!(
            cond(&s, "Bound"),
            "VirtualMachineIPAddressLeaseAlreadyExists"
        );
    }

    #[test]
    fn an_unbound_address_is_never_attached() {
        let s = desired_status(
            &vmip(),
            &Binding::OutOfRange("outside".into()),
            Some("linux-vm"),
            t(),
        );
        assert_eq!(s.phase, Some(Phase::Pending));
        assert_eq!(s.virtual_machine_name, None);
        assert_eq!(
            cond(&s, "Bound"),
            "VirtualMachineIPAddressIsOutOfTheValidRange"
        );
    }

    #[test]
    fn a_lost_lease_clears_the_address() {
        let mut v = vmip();
        v.status = Some(desired_status(
            &v,
            &Binding::Bound("10.66.10.1".into()),
            None,
            t(),
        ));
        let s = desired_status(&v, &Binding::Lost("gone".into()), None, t());
        assert_eq!(s.address, None);
        assert_eq!(cond(&s, "Bound"), "VirtualMachineIPAddressLeaseLost");
    }
}

//! Lease rules, free of I/O: who may claim an existing lease, and what a lease should become
//! given its holder (bound, released with retention, or deleted).

use std::time::Duration;

use dvp_api::conditions::vmipl::{BoundReason, Type};
use dvp_api::conditions::{ConditionStatus, find_condition, new_condition, set_condition};
use dvp_api::kinds::VirtualMachineIPAddressLease;
use dvp_api::kinds::common::NamespacedRef;
use dvp_api::kinds::virtual_machine_ip_address_lease::{
    VirtualMachineIPAddressLeasePhase as Phase, VirtualMachineIPAddressLeaseStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// How long a released address stays reserved for its namespace before the lease is deleted.
pub const RETENTION: Duration = Duration::from_secs(600);

/// Label on a bound lease: the uid of the VirtualMachineIPAddress holding it.
pub const VMIP_UID_LABEL: &str = "virtualization.deckhouse.io/virtual-machine-ip-address-uid";

/// What an address object (`namespace/name`) may do with an existing lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The lease already names this object.
    Ours,
    /// Released by this namespace and still retained: this object may take it back.
    TakeBack,
    /// Held by another address object.
    HeldBy { namespace: String, name: String },
    /// Released by another namespace and retained for it.
    RetainedFor { namespace: String },
}

/// Who holds `lease`, seen from the object `namespace/name`.
pub fn claim(lease: &VirtualMachineIPAddressLease, namespace: &str, name: &str) -> Claim {
    let r = lease
        .spec
        .virtual_machine_ip_address_ref
        .clone()
        .unwrap_or_default();
    match (r.name.is_empty(), r.namespace == namespace) {
        (false, true) if r.name == name => Claim::Ours,
        (false, _) => Claim::HeldBy {
            namespace: r.namespace,
            name: r.name,
        },
        // A lease without any holder namespace belongs to nobody: treat it as ours to take.
        (true, true) => Claim::TakeBack,
        (true, false) if r.namespace.is_empty() => Claim::TakeBack,
        (true, false) => Claim::RetainedFor {
            namespace: r.namespace,
        },
    }
}

impl Claim {
    /// The refusal message, if this claim is a refusal.
    pub fn refusal(&self, ip: &str) -> Option<String> {
        match self {
            Claim::Ours | Claim::TakeBack => None,
            Claim::HeldBy { namespace, name } => Some(format!(
                "{ip} is already leased by VirtualMachineIPAddress {namespace}/{name}; request another address"
            )),
            Claim::RetainedFor { namespace } => Some(format!(
                "{ip} was recently released and belongs to a different namespace ({namespace}) for up to {} minutes; request another address",
                RETENTION.as_secs() / 60
            )),
        }
    }
}

/// The holder a lease's ref points to, as the lease controller found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub uid: String,
    /// The holder's `status.address`, once written.
    pub address: Option<String>,
}

/// What should happen to a lease.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Its holder exists and uses it: status Bound.
    Bound,
    /// Its holder is gone or moved to another address: clear the ref name (keep the namespace).
    Release,
    /// Released, still within retention: look again after this long.
    Retain(Duration),
    /// Released and retention is over: delete it.
    Delete,
}

/// The verdict for `lease` whose address is `ip`, given its holder (None: no such object).
pub fn verdict(
    lease: &VirtualMachineIPAddressLease,
    ip: &str,
    holder: Option<&Holder>,
    now: Time,
) -> Verdict {
    let named = lease
        .spec
        .virtual_machine_ip_address_ref
        .as_ref()
        .is_some_and(|r| !r.name.is_empty());
    if named {
        let uid = lease
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(VMIP_UID_LABEL));
        let holds = holder.is_some_and(|h| match &h.address {
            Some(a) => a == ip,
            // Status not written yet: the lease is fresh if it carries the holder's uid.
            None => uid == Some(&h.uid),
        });
        return if holds {
            Verdict::Bound
        } else {
            Verdict::Release
        };
    }
    let since = lease
        .status
        .as_ref()
        .and_then(|s| find_condition(&s.conditions, Type::Bound.as_str()))
        .filter(|c| c.reason == BoundReason::Released.as_str())
        .map(|c| c.last_transition_time.0);
    let Some(since) = since else {
        // Released before a status said when: start the clock now.
        return Verdict::Retain(RETENTION);
    };
    let elapsed = now.0.duration_since(since);
    let elapsed = Duration::try_from(elapsed).unwrap_or(Duration::ZERO);
    match RETENTION.checked_sub(elapsed) {
        Some(left) if !left.is_zero() => Verdict::Retain(left),
        _ => Verdict::Delete,
    }
}

/// The ref a released lease keeps: the namespace only.
pub fn released_ref(lease: &VirtualMachineIPAddressLease) -> NamespacedRef {
    NamespacedRef {
        name: String::new(),
        namespace: lease
            .spec
            .virtual_machine_ip_address_ref
            .as_ref()
            .map(|r| r.namespace.clone())
            .unwrap_or_default(),
    }
}

/// The status a lease should have: Bound or Released, with the `Bound` condition.
pub fn desired_status(
    lease: &VirtualMachineIPAddressLease,
    bound: bool,
    now: Time,
) -> VirtualMachineIPAddressLeaseStatus {
    let mut status = lease.status.clone().unwrap_or_default();
    let generation = lease.metadata.generation;
    let (phase, cond_status, reason, message) = if bound {
        (Phase::Bound, ConditionStatus::True, BoundReason::Bound, "")
    } else {
        (
            Phase::Released,
            ConditionStatus::False,
            BoundReason::Released,
            "the VirtualMachineIPAddress is gone; the address stays reserved for its namespace until the lease is deleted",
        )
    };
    status.phase = Some(phase);
    set_condition(
        &mut status.conditions,
        new_condition(&Type::Bound, cond_status, &reason, message, generation, now),
    );
    status.observed_generation = generation;
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::{SignedDuration, Timestamp};

    fn lease(ns: &str, name: &str, uid: Option<&str>) -> VirtualMachineIPAddressLease {
        let mut labels = std::collections::BTreeMap::new();
        if let Some(u) = uid {
            labels.insert(VMIP_UID_LABEL.to_string(), u.to_string());
        }
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "ip-10-66-10-14", "labels": labels},
            "spec": {"virtualMachineIPAddressRef": {"name": name, "namespace": ns}},
        }))
        .unwrap()
    }

    fn t(secs: i64) -> Time {
        Time(Timestamp::UNIX_EPOCH + SignedDuration::from_secs(secs))
    }

    fn holder(address: Option<&str>) -> Holder {
        Holder {
            uid: "u1".into(),
            address: address.map(str::to_string),
        }
    }

    const IP: &str = "10.66.10.14";

    #[test]
    fn the_named_object_owns_its_lease() {
        assert_eq!(
            claim(&lease("default", "a", None), "default", "a"),
            Claim::Ours
        );
    }

    #[test]
    fn a_lease_held_by_another_object_is_refused_naming_it() {
        let c = claim(&lease("default", "b", None), "default", "a");
        assert!(c.refusal(IP).unwrap().contains("default/b"));
    }

    #[test]
    fn a_released_lease_can_be_taken_back_by_its_namespace() {
        assert_eq!(
            claim(&lease("default", "", None), "default", "a"),
            Claim::TakeBack
        );
    }

    #[test]
    fn a_released_lease_is_refused_to_other_namespaces() {
        let c = claim(&lease("default", "", None), "other", "a");
        assert!(
            c.refusal(IP)
                .unwrap()
                .contains("different namespace (default)")
        );
    }

    #[test]
    fn a_lease_whose_holder_has_the_address_is_bound() {
        let l = lease("default", "a", Some("u1"));
        assert_eq!(
            verdict(&l, IP, Some(&holder(Some(IP))), t(0)),
            Verdict::Bound
        );
    }

    #[test]
    fn a_fresh_lease_of_a_holder_without_status_is_bound() {
        let l = lease("default", "a", Some("u1"));
        assert_eq!(verdict(&l, IP, Some(&holder(None)), t(0)), Verdict::Bound);
    }

    #[test]
    fn a_lease_of_a_recreated_holder_without_status_is_released() {
        let l = lease("default", "a", Some("old-uid"));
        assert_eq!(verdict(&l, IP, Some(&holder(None)), t(0)), Verdict::Release);
    }

    #[test]
    fn a_lease_whose_holder_is_gone_is_released() {
        let l = lease("default", "a", Some("u1"));
        assert_eq!(verdict(&l, IP, None, t(0)), Verdict::Release);
    }

    #[test]
    fn a_lease_whose_holder_has_another_address_is_released() {
        let l = lease("default", "a", Some("u1"));
        let h = holder(Some("10.66.10.15"));
        assert_eq!(verdict(&l, IP, Some(&h), t(0)), Verdict::Release);
    }

    fn released_at(secs: i64) -> VirtualMachineIPAddressLease {
        let mut l = lease("default", "", None);
        l.status = Some(desired_status(&l, false, t(secs)));
        l
    }

    #[test]
    fn a_released_lease_is_retained_for_the_rest_of_ten_minutes() {
        let v = verdict(&released_at(0), IP, None, t(60));
        assert_eq!(v, Verdict::Retain(Duration::from_secs(540)));
    }

    #[test]
    fn a_released_lease_is_deleted_after_ten_minutes() {
        assert_eq!(verdict(&released_at(0), IP, None, t(600)), Verdict::Delete);
    }

    #[test]
    fn release_keeps_the_namespace_only() {
        let r = released_ref(&lease("default", "a", Some("u1")));
        assert_eq!((r.name.as_str(), r.namespace.as_str()), ("", "default"));
    }

    #[test]
    fn release_time_is_kept_while_the_lease_stays_released() {
        let l = released_at(0);
        let again = desired_status(&l, false, t(300));
        assert_eq!(again, l.status.unwrap());
    }

    #[test]
    fn a_bound_lease_has_phase_and_condition_bound() {
        let s = desired_status(&lease("default", "a", None), true, t(0));
        assert_eq!(s.phase, Some(Phase::Bound));
        assert_eq!(s.conditions[0].status, "True");
    }
}

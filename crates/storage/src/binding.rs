//! What the provisioner controller should do with a claim, decided from the claim, its class and
//! its PV alone (no I/O).

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;

use crate::classes::{BindingMode, binding_mode};
use crate::names::{SELECTED_NODE_ANNOTATION, VOLUME_FINALIZER};
use crate::objects::{SizeError, pv_capacity, pv_claim_uid, requested_bytes};
use crate::provisioner::AccessMode;
use crate::source::{SourceError, VolumeSource};

/// The facts of the class's provisioner a decision needs.
#[derive(Clone, Copy, Debug)]
pub struct ProvisionerFacts<'a> {
    pub access_modes: &'a [AccessMode],
    pub node_local: bool,
    /// The node this process serves (node-local volumes of Immediate classes go there).
    pub this_node: &'a str,
}

/// Why a claim cannot be provisioned as it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClaimProblem {
    #[error(transparent)]
    Size(#[from] SizeError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("access mode {mode} is not supported by {provisioner}; it offers {offered}")]
    AccessMode {
        mode: String,
        provisioner: String,
        offered: String,
    },
}

/// The next step for a claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimAction {
    /// Not a claim of our provisioners, or nothing of ours to clean up.
    Ignore,
    /// The claim is being deleted and still holds our finalizer: remove the volume.
    Release,
    /// WaitForFirstConsumer and no node selected yet: stay Pending.
    WaitForConsumer,
    /// Make the volume, then the PV, then bind both; `node` pins a node-local volume.
    Provision {
        source: VolumeSource,
        node: Option<String>,
    },
    /// The PV exists and is this claim's, but the binding is not complete on both sides.
    FinishBinding,
    /// The claim asks for more than the volume has: grow it to `size` bytes.
    Expand { size: u64 },
    /// The claim asks for more, but its class does not allow expansion.
    ExpansionNotAllowed { requested: u64, capacity: u64 },
    /// The claim names a PV that is gone or belongs to another claim.
    Lost { pv: String },
    /// The claim cannot be provisioned as written.
    Refuse(ClaimProblem),
    /// Bound and up to date.
    InSync,
}

fn has_our_finalizer(claim: &PersistentVolumeClaim) -> bool {
    claim
        .metadata
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|n| n == VOLUME_FINALIZER))
}

fn selected_node(claim: &PersistentVolumeClaim) -> Option<&str> {
    claim
        .metadata
        .annotations
        .as_ref()?
        .get(SELECTED_NODE_ANNOTATION)
        .map(String::as_str)
        .filter(|n| !n.is_empty())
}

fn fully_bound(claim: &PersistentVolumeClaim, pv: &PersistentVolume) -> bool {
    let claim_bound = claim.status.as_ref().is_some_and(|s| {
        s.phase.as_deref() == Some("Bound") && s.capacity.as_ref().is_some_and(|c| !c.is_empty())
    });
    let pv_bound = pv
        .status
        .as_ref()
        .is_some_and(|s| s.phase.as_deref() == Some("Bound"));
    let named =
        claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()) == pv.metadata.name.as_deref();
    claim_bound && pv_bound && named
}

fn check_access_modes(
    claim: &PersistentVolumeClaim,
    class: &StorageClass,
    facts: &ProvisionerFacts,
) -> Result<(), ClaimProblem> {
    let asked = claim
        .spec
        .as_ref()
        .and_then(|s| s.access_modes.as_ref())
        .cloned()
        .unwrap_or_default();
    for mode in asked {
        let supported = AccessMode::parse(&mode).is_some_and(|m| facts.access_modes.contains(&m));
        if !supported {
            let offered = facts
                .access_modes
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ClaimProblem::AccessMode {
                mode,
                provisioner: class.provisioner.clone(),
                offered,
            });
        }
    }
    Ok(())
}

/// Decides the next step for `claim` of `class`. `facts` is `None` when the class's provisioner
/// is not ours; `pv` is the claim's PV (by `spec.volumeName`, else by the name it would get).
pub fn decide(
    claim: &PersistentVolumeClaim,
    class: &StorageClass,
    facts: Option<ProvisionerFacts>,
    pv: Option<&PersistentVolume>,
) -> ClaimAction {
    if claim.metadata.deletion_timestamp.is_some() {
        return if has_our_finalizer(claim) {
            ClaimAction::Release
        } else {
            ClaimAction::Ignore
        };
    }
    let Some(facts) = facts else {
        return ClaimAction::Ignore;
    };
    let claim_uid = claim.metadata.uid.as_deref();
    let pv_is_ours =
        pv.is_some_and(|pv| pv_claim_uid(pv).is_some() && pv_claim_uid(pv) == claim_uid);
    let volume_name = claim.spec.as_ref().and_then(|s| s.volume_name.as_deref());

    if let Some(name) = volume_name.filter(|n| !n.is_empty()) {
        let Some(pv) = pv.filter(|_| pv_is_ours) else {
            return ClaimAction::Lost {
                pv: name.to_string(),
            };
        };
        if !fully_bound(claim, pv) {
            return ClaimAction::FinishBinding;
        }
        let (Ok(requested), Some(capacity)) = (requested_bytes(claim), pv_capacity(pv)) else {
            return ClaimAction::InSync;
        };
        if requested <= capacity {
            return ClaimAction::InSync;
        }
        return if class.allow_volume_expansion == Some(true) {
            ClaimAction::Expand { size: requested }
        } else {
            ClaimAction::ExpansionNotAllowed {
                requested,
                capacity,
            }
        };
    }

    if pv_is_ours {
        return ClaimAction::FinishBinding;
    }
    if let Err(e) = requested_bytes(claim) {
        return ClaimAction::Refuse(e.into());
    }
    if let Err(problem) = check_access_modes(claim, class, &facts) {
        return ClaimAction::Refuse(problem);
    }
    let source = match VolumeSource::from_annotations(claim.metadata.annotations.as_ref()) {
        Ok(source) => source,
        Err(e) => return ClaimAction::Refuse(e.into()),
    };
    let node = match (binding_mode(class), selected_node(claim)) {
        (BindingMode::WaitForFirstConsumer, None) => return ClaimAction::WaitForConsumer,
        (BindingMode::WaitForFirstConsumer, Some(node)) => node.to_string(),
        (BindingMode::Immediate, _) => facts.this_node.to_string(),
    };
    ClaimAction::Provision {
        source,
        node: facts.node_local.then_some(node),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use k8s_openapi::api::core::v1::PersistentVolumeStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use crate::classes::default_storage_classes;
    use crate::names::{SOURCE_ANNOTATION, SOURCE_FORMAT_ANNOTATION, SOURCE_PATH_ANNOTATION};
    use crate::objects::{
        ClaimParams, PvParams, bound_claim_status, build_claim, build_pv, with_capacity,
    };
    use crate::source::SourceFormat;

    const LOCAL: ProvisionerFacts = ProvisionerFacts {
        access_modes: &[AccessMode::ReadWriteOnce],
        node_local: true,
        this_node: "this-node",
    };
    const SHARED: ProvisionerFacts = ProvisionerFacts {
        access_modes: &[AccessMode::ReadWriteMany, AccessMode::ReadWriteOnce],
        node_local: false,
        this_node: "this-node",
    };

    fn class(name: &str) -> StorageClass {
        default_storage_classes()
            .into_iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
            .unwrap()
    }

    fn claim(class: &str, mode: AccessMode) -> PersistentVolumeClaim {
        let mut c = build_claim(&ClaimParams {
            name: "c".into(),
            namespace: "ns".into(),
            storage_class: class.into(),
            size: "1Gi".into(),
            access_mode: mode,
            source: VolumeSource::Blank,
            owner: None,
        });
        c.metadata.uid = Some("u1".into());
        c
    }

    fn pv_for(c: &PersistentVolumeClaim, sc: &StorageClass) -> PersistentVolume {
        build_pv(&PvParams {
            claim: c,
            class: sc,
            path: Path::new("/d/storage/x/pvc-u1/disk.qcow2"),
            capacity: 1 << 30,
            access_modes: vec!["ReadWriteMany".into()],
            node: None,
        })
    }

    /// A claim and PV bound on both sides.
    fn bound(class_name: &str) -> (PersistentVolumeClaim, PersistentVolume) {
        let sc = class(class_name);
        let mut c = claim(class_name, AccessMode::ReadWriteMany);
        let mut pv = pv_for(&c, &sc);
        pv.status = Some(PersistentVolumeStatus {
            phase: Some("Bound".into()),
            ..Default::default()
        });
        c.spec.as_mut().unwrap().volume_name = Some("pvc-u1".into());
        c.status = Some(bound_claim_status(None, &pv));
        (c, pv)
    }

    fn annotate(c: &mut PersistentVolumeClaim, key: &str, value: &str) {
        c.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(key.into(), value.into());
    }

    #[test]
    fn claims_of_foreign_classes_are_ignored() {
        let c = claim("nfs", AccessMode::ReadWriteMany);
        let mut sc = class("shared");
        sc.provisioner = "nfs.csi.k8s.io".into();
        assert_eq!(decide(&c, &sc, None, None), ClaimAction::Ignore);
    }

    #[test]
    fn an_immediate_shared_claim_is_provisioned_at_once_without_a_node() {
        let c = claim("shared", AccessMode::ReadWriteMany);
        assert_eq!(
            decide(&c, &class("shared"), Some(SHARED), None),
            ClaimAction::Provision {
                source: VolumeSource::Blank,
                node: None
            }
        );
    }

    #[test]
    fn an_immediate_local_claim_is_pinned_to_this_node() {
        let c = claim("local", AccessMode::ReadWriteOnce);
        assert_eq!(
            decide(&c, &class("local"), Some(LOCAL), None),
            ClaimAction::Provision {
                source: VolumeSource::Blank,
                node: Some("this-node".into())
            }
        );
    }

    #[test]
    fn a_wffc_claim_waits_for_a_consumer() {
        let c = claim("local-wffc", AccessMode::ReadWriteOnce);
        assert_eq!(
            decide(&c, &class("local-wffc"), Some(LOCAL), None),
            ClaimAction::WaitForConsumer
        );
    }

    #[test]
    fn a_wffc_claim_with_a_selected_node_is_provisioned_there() {
        let mut c = claim("local-wffc", AccessMode::ReadWriteOnce);
        annotate(&mut c, SELECTED_NODE_ANNOTATION, "node-7");
        assert_eq!(
            decide(&c, &class("local-wffc"), Some(LOCAL), None),
            ClaimAction::Provision {
                source: VolumeSource::Blank,
                node: Some("node-7".into())
            }
        );
    }

    #[test]
    fn the_source_annotations_are_passed_on() {
        let mut c = claim("shared", AccessMode::ReadWriteMany);
        annotate(&mut c, SOURCE_ANNOTATION, "backing");
        annotate(&mut c, SOURCE_PATH_ANNOTATION, "/d/dvcr/b");
        annotate(&mut c, SOURCE_FORMAT_ANNOTATION, "qcow2");
        assert_eq!(
            decide(&c, &class("shared"), Some(SHARED), None),
            ClaimAction::Provision {
                source: VolumeSource::Backing {
                    path: "/d/dvcr/b".into(),
                    format: SourceFormat::Qcow2
                },
                node: None
            }
        );
    }

    #[test]
    fn bad_source_annotations_are_refused() {
        let mut c = claim("shared", AccessMode::ReadWriteMany);
        annotate(&mut c, SOURCE_ANNOTATION, "copy");
        assert!(matches!(
            decide(&c, &class("shared"), Some(SHARED), None),
            ClaimAction::Refuse(ClaimProblem::Source(SourceError::MissingPath { .. }))
        ));
    }

    #[test]
    fn rwx_on_a_local_class_is_refused() {
        let c = claim("local", AccessMode::ReadWriteMany);
        let action = decide(&c, &class("local"), Some(LOCAL), None);
        let ClaimAction::Refuse(problem) = action else {
            panic!("{action:?}")
        };
        assert_eq!(
            problem.to_string(),
            "access mode ReadWriteMany is not supported by local.storage.dvp.io; it offers ReadWriteOnce"
        );
    }

    #[test]
    fn a_claim_without_a_size_is_refused() {
        let mut c = claim("shared", AccessMode::ReadWriteMany);
        c.spec.as_mut().unwrap().resources = None;
        assert_eq!(
            decide(&c, &class("shared"), Some(SHARED), None),
            ClaimAction::Refuse(ClaimProblem::Size(SizeError::Missing))
        );
    }

    #[test]
    fn an_existing_pv_of_an_unbound_claim_finishes_the_binding() {
        let c = claim("shared", AccessMode::ReadWriteMany);
        let pv = pv_for(&c, &class("shared"));
        assert_eq!(
            decide(&c, &class("shared"), Some(SHARED), Some(&pv)),
            ClaimAction::FinishBinding
        );
    }

    #[test]
    fn a_pv_bound_on_one_side_only_finishes_the_binding() {
        let (c, mut pv) = bound("shared");
        pv.status = None;
        assert_eq!(
            decide(&c, &class("shared"), Some(SHARED), Some(&pv)),
            ClaimAction::FinishBinding
        );
    }

    #[test]
    fn a_fully_bound_claim_is_in_sync() {
        let (c, pv) = bound("shared");
        assert_eq!(
            decide(&c, &class("shared"), Some(SHARED), Some(&pv)),
            ClaimAction::InSync
        );
    }

    #[test]
    fn a_grown_request_expands_the_volume() {
        let (mut c, pv) = bound("shared");
        c.spec
            .as_mut()
            .unwrap()
            .resources
            .as_mut()
            .unwrap()
            .requests
            .as_mut()
            .unwrap()
            .insert(
                "storage".into(),
                k8s_openapi::apimachinery::pkg::api::resource::Quantity("3Gi".into()),
            );
        assert_eq!(
            decide(&c, &class("shared"), Some(SHARED), Some(&pv)),
            ClaimAction::Expand { size: 3 << 30 }
        );
    }

    #[test]
    fn a_grown_request_on_a_fixed_class_is_not_expanded() {
        let (mut c, pv) = bound("shared");
        c.spec
            .as_mut()
            .unwrap()
            .resources
            .as_mut()
            .unwrap()
            .requests
            .as_mut()
            .unwrap()
            .insert(
                "storage".into(),
                k8s_openapi::apimachinery::pkg::api::resource::Quantity("2Gi".into()),
            );
        let mut sc = class("shared");
        sc.allow_volume_expansion = Some(false);
        assert_eq!(
            decide(&c, &sc, Some(SHARED), Some(&pv)),
            ClaimAction::ExpansionNotAllowed {
                requested: 2 << 30,
                capacity: 1 << 30
            }
        );
    }

    #[test]
    fn a_request_below_the_capacity_changes_nothing() {
        let (c, pv) = bound("shared");
        let pv = with_capacity(&pv, 4 << 30, None);
        assert_eq!(
            decide(&c, &class("shared"), Some(SHARED), Some(&pv)),
            ClaimAction::InSync
        );
    }

    #[test]
    fn a_missing_pv_of_a_bound_claim_is_lost() {
        let (c, _) = bound("shared");
        assert_eq!(
            decide(&c, &class("shared"), Some(SHARED), None),
            ClaimAction::Lost {
                pv: "pvc-u1".into()
            }
        );
    }

    #[test]
    fn a_pv_of_another_claim_is_not_this_claims_volume() {
        let (c, _) = bound("shared");
        let mut other = claim("shared", AccessMode::ReadWriteMany);
        other.metadata.uid = Some("someone-else".into());
        let pv = pv_for(&other, &class("shared"));
        assert_eq!(
            decide(&c, &class("shared"), Some(SHARED), Some(&pv)),
            ClaimAction::Lost {
                pv: "pvc-u1".into()
            }
        );
    }

    #[test]
    fn a_deleted_claim_with_our_finalizer_is_released() {
        let (mut c, pv) = bound("shared");
        c.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        c.metadata.finalizers = Some(vec![VOLUME_FINALIZER.into()]);
        assert_eq!(
            decide(&c, &class("shared"), Some(SHARED), Some(&pv)),
            ClaimAction::Release
        );
    }

    #[test]
    fn a_deleted_claim_without_our_finalizer_is_left_alone() {
        let mut c = claim("shared", AccessMode::ReadWriteMany);
        c.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        assert_eq!(
            decide(&c, &class("shared"), Some(SHARED), None),
            ClaimAction::Ignore
        );
    }
}

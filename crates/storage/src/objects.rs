//! Building and reading the Kubernetes objects of a volume: the claim a disk or image controller
//! creates, the PV the provisioner creates for it, and the statuses of both once bound.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dvp_apimachinery::quantity::Quantity as ParsedQuantity;
use k8s_openapi::api::core::v1::{
    CSIPersistentVolumeSource, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimStatus, PersistentVolumeSpec, PersistentVolumeStatus, VolumeNodeAffinity,
    VolumeResourceRequirements,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::names::{
    HOSTNAME_LABEL, LOCAL_PROVISIONER, PATH_ATTRIBUTE, PROVISIONED_BY_ANNOTATION, VOLUME_FINALIZER,
    pv_name,
};
use crate::provisioner::AccessMode;
use crate::source::VolumeSource;

const STORAGE: &str = "storage";

/// A claim whose size cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("the claim requests no storage: set spec.resources.requests.storage")]
    Missing,
    #[error("spec.resources.requests.storage {text:?} is not a quantity: {reason}")]
    Unreadable { text: String, reason: String },
    #[error("spec.resources.requests.storage must be more than zero, not {0:?}")]
    NotPositive(String),
}

fn requested_text(claim: &PersistentVolumeClaim) -> Option<&str> {
    claim
        .spec
        .as_ref()?
        .resources
        .as_ref()?
        .requests
        .as_ref()?
        .get(STORAGE)
        .map(|q| q.0.as_str())
}

/// Bytes a claim requests (`spec.resources.requests.storage`, rounded up to whole bytes).
pub fn requested_bytes(claim: &PersistentVolumeClaim) -> Result<u64, SizeError> {
    let text = requested_text(claim).ok_or(SizeError::Missing)?;
    quantity_bytes(text)
}

/// Bytes of a size quantity such as `10Gi`.
pub fn quantity_bytes(text: &str) -> Result<u64, SizeError> {
    let q = ParsedQuantity::parse(text).map_err(|reason| SizeError::Unreadable {
        text: text.to_string(),
        reason,
    })?;
    let bytes = q.to_bytes_ceil();
    if bytes <= 0 {
        return Err(SizeError::NotPositive(text.to_string()));
    }
    Ok(u64::try_from(bytes).unwrap_or(u64::MAX))
}

/// The quantity to show for `bytes`: the text the user wrote when it means exactly that many
/// bytes (`10Gi` stays `10Gi`, `1G` stays `1G`), else the canonical binary form.
pub fn capacity_quantity(bytes: u64, requested: Option<&str>) -> Quantity {
    if let Some(text) = requested
        && quantity_bytes(text) == Ok(bytes)
    {
        return Quantity(text.to_string());
    }
    Quantity(ParsedQuantity::from_bytes(i128::from(bytes)).to_string())
}

/// The access mode a disk on `provisioner` should ask for: ReadWriteMany where the storage can
/// share (what live migration needs), else ReadWriteOnce.
pub fn preferred_access_mode(provisioner: &str) -> AccessMode {
    if provisioner == LOCAL_PROVISIONER {
        AccessMode::ReadWriteOnce
    } else if crate::classes::is_our_provisioner(provisioner) {
        AccessMode::ReadWriteMany
    } else {
        AccessMode::ReadWriteOnce
    }
}

/// What a disk or image controller needs to say to get a volume.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimParams {
    pub name: String,
    pub namespace: String,
    pub storage_class: String,
    /// The requested size as a quantity (`10Gi`).
    pub size: String,
    pub access_mode: AccessMode,
    pub source: VolumeSource,
    /// Usually the VirtualDisk/VirtualImage, so the claim goes with it.
    pub owner: Option<OwnerReference>,
}

/// The claim for a volume, carrying its source as annotations.
pub fn build_claim(params: &ClaimParams) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(params.name.clone()),
            namespace: Some(params.namespace.clone()),
            annotations: Some(params.source.to_annotations()),
            owner_references: params.owner.clone().map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec![params.access_mode.as_str().to_string()]),
            storage_class_name: Some(params.storage_class.clone()),
            volume_mode: Some("Filesystem".to_string()),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    STORAGE.to_string(),
                    Quantity(params.size.clone()),
                )])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    }
}

/// Node affinity pinning a volume to `node` by its `kubernetes.io/hostname` label.
pub fn node_affinity(node: &str) -> VolumeNodeAffinity {
    VolumeNodeAffinity {
        required: Some(NodeSelector {
            node_selector_terms: vec![NodeSelectorTerm {
                match_expressions: Some(vec![NodeSelectorRequirement {
                    key: HOSTNAME_LABEL.to_string(),
                    operator: "In".to_string(),
                    values: Some(vec![node.to_string()]),
                }]),
                match_fields: None,
            }],
        }),
    }
}

/// Access modes a claim asks for (none given: the provisioner's native mode).
pub fn claim_access_modes(claim: &PersistentVolumeClaim, native: AccessMode) -> Vec<String> {
    let modes = claim
        .spec
        .as_ref()
        .and_then(|s| s.access_modes.clone())
        .unwrap_or_default();
    if modes.is_empty() {
        vec![native.as_str().to_string()]
    } else {
        modes
    }
}

/// What the PV of a provisioned claim is made of.
#[derive(Clone, Debug)]
pub struct PvParams<'a> {
    pub claim: &'a PersistentVolumeClaim,
    pub class: &'a StorageClass,
    /// Absolute path of the volume's `disk.qcow2`.
    pub path: &'a Path,
    pub capacity: u64,
    pub access_modes: Vec<String>,
    /// For node-local volumes: the node they live on.
    pub node: Option<&'a str>,
}

/// The PV of a provisioned claim: named `pvc-<claim uid>`, pre-bound to the claim, its disk file
/// in `spec.csi.volumeAttributes.path`, protected by the volume finalizer.
pub fn build_pv(params: &PvParams) -> PersistentVolume {
    let claim = params.claim;
    let uid = claim.metadata.uid.clone().unwrap_or_default();
    let name = pv_name(&uid);
    let requested = requested_text(claim);
    PersistentVolume {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            annotations: Some(BTreeMap::from([(
                PROVISIONED_BY_ANNOTATION.to_string(),
                params.class.provisioner.clone(),
            )])),
            finalizers: Some(vec![VOLUME_FINALIZER.to_string()]),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeSpec {
            access_modes: Some(params.access_modes.clone()),
            capacity: Some(BTreeMap::from([(
                STORAGE.to_string(),
                capacity_quantity(params.capacity, requested),
            )])),
            claim_ref: Some(ObjectReference {
                api_version: Some("v1".to_string()),
                kind: Some("PersistentVolumeClaim".to_string()),
                namespace: claim.metadata.namespace.clone(),
                name: claim.metadata.name.clone(),
                uid: Some(uid),
                ..ObjectReference::default()
            }),
            csi: Some(CSIPersistentVolumeSource {
                driver: params.class.provisioner.clone(),
                volume_handle: name,
                volume_attributes: Some(BTreeMap::from([(
                    PATH_ATTRIBUTE.to_string(),
                    params.path.display().to_string(),
                )])),
                ..CSIPersistentVolumeSource::default()
            }),
            node_affinity: params.node.map(node_affinity),
            persistent_volume_reclaim_policy: Some(
                params
                    .class
                    .reclaim_policy
                    .clone()
                    .unwrap_or_else(|| "Delete".to_string()),
            ),
            storage_class_name: params.class.metadata.name.clone(),
            mount_options: params.class.mount_options.clone(),
            volume_mode: claim
                .spec
                .as_ref()
                .and_then(|s| s.volume_mode.clone())
                .or_else(|| Some("Filesystem".to_string())),
            ..PersistentVolumeSpec::default()
        }),
        status: None,
    }
}

/// The disk file of a PV made by one of our provisioners.
pub fn pv_path(pv: &PersistentVolume) -> Option<PathBuf> {
    pv.spec
        .as_ref()?
        .csi
        .as_ref()?
        .volume_attributes
        .as_ref()?
        .get(PATH_ATTRIBUTE)
        .map(PathBuf::from)
}

/// The provisioner (CSI driver) of a PV.
pub fn pv_driver(pv: &PersistentVolume) -> Option<&str> {
    Some(pv.spec.as_ref()?.csi.as_ref()?.driver.as_str())
}

/// Bytes of a PV's `spec.capacity.storage`.
pub fn pv_capacity(pv: &PersistentVolume) -> Option<u64> {
    let text = &pv.spec.as_ref()?.capacity.as_ref()?.get(STORAGE)?.0;
    quantity_bytes(text).ok()
}

/// The uid of the claim a PV is bound to.
pub fn pv_claim_uid(pv: &PersistentVolume) -> Option<&str> {
    pv.spec.as_ref()?.claim_ref.as_ref()?.uid.as_deref()
}

/// The claim status of a claim bound to `pv`: phase Bound, the PV's access modes and capacity.
/// Other fields of `current` are kept.
pub fn bound_claim_status(
    current: Option<&PersistentVolumeClaimStatus>,
    pv: &PersistentVolume,
) -> PersistentVolumeClaimStatus {
    let spec = pv.spec.clone().unwrap_or_default();
    PersistentVolumeClaimStatus {
        phase: Some("Bound".to_string()),
        access_modes: spec.access_modes,
        capacity: spec.capacity,
        ..current.cloned().unwrap_or_default()
    }
}

/// The status of a PV in `phase` (`Bound`, `Released`, …), other fields of `current` kept.
pub fn pv_status(current: Option<&PersistentVolumeStatus>, phase: &str) -> PersistentVolumeStatus {
    PersistentVolumeStatus {
        phase: Some(phase.to_string()),
        ..current.cloned().unwrap_or_default()
    }
}

/// A PV with `capacity` bytes (keeping the claim's wording when it matches).
pub fn with_capacity(
    pv: &PersistentVolume,
    capacity: u64,
    requested: Option<&str>,
) -> PersistentVolume {
    let mut pv = pv.clone();
    let spec = pv.spec.get_or_insert_with(Default::default);
    spec.capacity
        .get_or_insert_with(BTreeMap::new)
        .insert(STORAGE.to_string(), capacity_quantity(capacity, requested));
    pv
}

/// The text of a claim's `spec.resources.requests.storage`.
pub fn claim_request_text(claim: &PersistentVolumeClaim) -> Option<&str> {
    requested_text(claim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classes::default_storage_classes;
    use crate::names::{SHARED_PROVISIONER, SOURCE_ANNOTATION};
    use crate::source::SourceFormat;

    fn claim(size: &str) -> PersistentVolumeClaim {
        let mut c = build_claim(&ClaimParams {
            name: "d8v-vd-disk-u1".into(),
            namespace: "vms".into(),
            storage_class: "shared".into(),
            size: size.into(),
            access_mode: AccessMode::ReadWriteMany,
            source: VolumeSource::Blank,
            owner: None,
        });
        c.metadata.uid = Some("u-1".into());
        c
    }

    fn class(name: &str) -> StorageClass {
        default_storage_classes()
            .into_iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
            .unwrap()
    }

    #[test]
    fn requested_bytes_read_the_storage_request() {
        assert_eq!(requested_bytes(&claim("10Gi")), Ok(10 << 30));
        assert_eq!(requested_bytes(&claim("1G")), Ok(1_000_000_000));
    }

    #[test]
    fn a_claim_without_a_request_says_what_to_set() {
        let mut c = claim("1Gi");
        c.spec.as_mut().unwrap().resources = None;
        assert_eq!(requested_bytes(&c), Err(SizeError::Missing));
    }

    #[test]
    fn a_zero_or_unreadable_request_is_refused() {
        assert_eq!(
            requested_bytes(&claim("0")),
            Err(SizeError::NotPositive("0".into()))
        );
        assert!(matches!(
            requested_bytes(&claim("ten")),
            Err(SizeError::Unreadable { .. })
        ));
    }

    #[test]
    fn capacity_keeps_the_users_wording_when_exact() {
        assert_eq!(capacity_quantity(10 << 30, Some("10Gi")).0, "10Gi");
        assert_eq!(
            capacity_quantity(1 << 30, Some("1073741824")).0,
            "1073741824"
        );
        assert_eq!(capacity_quantity(1024, Some("1000")).0, "1Ki");
        assert_eq!(capacity_quantity(3 << 20, None).0, "3Mi");
    }

    #[test]
    fn a_built_claim_carries_class_size_mode_and_source() {
        let mut p = ClaimParams {
            name: "c".into(),
            namespace: "ns".into(),
            storage_class: "local".into(),
            size: "5Gi".into(),
            access_mode: AccessMode::ReadWriteOnce,
            source: VolumeSource::Backing {
                path: "/d/dvcr/blob".into(),
                format: SourceFormat::Qcow2,
            },
            owner: None,
        };
        let c = build_claim(&p);
        let spec = c.spec.as_ref().unwrap();
        assert_eq!(spec.storage_class_name.as_deref(), Some("local"));
        assert_eq!(spec.access_modes, Some(vec!["ReadWriteOnce".to_string()]));
        assert_eq!(requested_bytes(&c), Ok(5 << 30));
        assert_eq!(
            c.metadata.annotations.as_ref().unwrap()[SOURCE_ANNOTATION],
            "backing"
        );
        assert_eq!(
            VolumeSource::from_annotations(c.metadata.annotations.as_ref()),
            Ok(p.source.clone())
        );
        p.owner = Some(OwnerReference {
            api_version: "virtualization.deckhouse.io/v1alpha2".into(),
            kind: "VirtualDisk".into(),
            name: "d".into(),
            uid: "x".into(),
            controller: Some(true),
            ..OwnerReference::default()
        });
        assert_eq!(build_claim(&p).metadata.owner_references.unwrap().len(), 1);
    }

    #[test]
    fn disks_prefer_rwx_on_shared_and_rwo_elsewhere() {
        assert_eq!(
            preferred_access_mode(SHARED_PROVISIONER),
            AccessMode::ReadWriteMany
        );
        assert_eq!(
            preferred_access_mode(LOCAL_PROVISIONER),
            AccessMode::ReadWriteOnce
        );
        assert_eq!(
            preferred_access_mode("rbd.csi.ceph.com"),
            AccessMode::ReadWriteOnce
        );
    }

    #[test]
    fn the_pv_is_named_after_the_claim_and_points_at_the_disk_file() {
        let c = claim("10Gi");
        let sc = class("shared");
        let path = Path::new("/d/storage/shared/pvc-u-1/disk.qcow2");
        let pv = build_pv(&PvParams {
            claim: &c,
            class: &sc,
            path,
            capacity: 10 << 30,
            access_modes: vec!["ReadWriteMany".into()],
            node: None,
        });
        assert_eq!(pv.metadata.name.as_deref(), Some("pvc-u-1"));
        let spec = pv.spec.as_ref().unwrap();
        let csi = spec.csi.as_ref().unwrap();
        assert_eq!(csi.driver, SHARED_PROVISIONER);
        assert_eq!(csi.volume_handle, "pvc-u-1");
        assert_eq!(pv_path(&pv).as_deref(), Some(path));
        assert_eq!(spec.capacity.as_ref().unwrap()["storage"].0, "10Gi");
        assert_eq!(pv_capacity(&pv), Some(10 << 30));
        let claim_ref = spec.claim_ref.as_ref().unwrap();
        assert_eq!(claim_ref.namespace.as_deref(), Some("vms"));
        assert_eq!(claim_ref.name.as_deref(), Some("d8v-vd-disk-u1"));
        assert_eq!(pv_claim_uid(&pv), Some("u-1"));
        assert_eq!(
            spec.persistent_volume_reclaim_policy.as_deref(),
            Some("Delete")
        );
        assert_eq!(spec.storage_class_name.as_deref(), Some("shared"));
        assert!(spec.node_affinity.is_none());
        assert_eq!(
            pv.metadata.finalizers,
            Some(vec![VOLUME_FINALIZER.to_string()])
        );
        assert_eq!(
            pv.metadata.annotations.as_ref().unwrap()[PROVISIONED_BY_ANNOTATION],
            SHARED_PROVISIONER
        );
    }

    #[test]
    fn a_local_pv_is_pinned_to_its_node() {
        let c = claim("1Gi");
        let sc = class("local");
        let pv = build_pv(&PvParams {
            claim: &c,
            class: &sc,
            path: Path::new("/d/storage/local/pvc-u-1/disk.qcow2"),
            capacity: 1 << 30,
            access_modes: vec!["ReadWriteOnce".into()],
            node: Some("node-1"),
        });
        let affinity = pv.spec.unwrap().node_affinity.unwrap();
        let term = &affinity.required.unwrap().node_selector_terms[0];
        let req = &term.match_expressions.as_ref().unwrap()[0];
        assert_eq!(req.key, "kubernetes.io/hostname");
        assert_eq!(req.operator, "In");
        assert_eq!(req.values, Some(vec!["node-1".to_string()]));
    }

    #[test]
    fn a_claim_without_access_modes_gets_the_native_one() {
        let mut c = claim("1Gi");
        c.spec.as_mut().unwrap().access_modes = None;
        assert_eq!(
            claim_access_modes(&c, AccessMode::ReadWriteOnce),
            vec!["ReadWriteOnce".to_string()]
        );
    }

    #[test]
    fn a_bound_claim_status_mirrors_the_pv() {
        let c = claim("2Gi");
        let sc = class("shared");
        let pv = build_pv(&PvParams {
            claim: &c,
            class: &sc,
            path: Path::new("/p"),
            capacity: 2 << 30,
            access_modes: vec!["ReadWriteMany".into()],
            node: None,
        });
        let s = bound_claim_status(None, &pv);
        assert_eq!(s.phase.as_deref(), Some("Bound"));
        assert_eq!(s.capacity.unwrap()["storage"].0, "2Gi");
        assert_eq!(s.access_modes, Some(vec!["ReadWriteMany".to_string()]));
    }

    #[test]
    fn growing_a_pv_rewrites_its_capacity() {
        let c = claim("1Gi");
        let sc = class("shared");
        let pv = build_pv(&PvParams {
            claim: &c,
            class: &sc,
            path: Path::new("/p"),
            capacity: 1 << 30,
            access_modes: vec![],
            node: None,
        });
        let grown = with_capacity(&pv, 3 << 30, Some("3Gi"));
        assert_eq!(pv_capacity(&grown), Some(3 << 30));
        assert_eq!(grown.spec.unwrap().capacity.unwrap()["storage"].0, "3Gi");
    }
}

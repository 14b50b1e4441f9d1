//! The volumes of disks and PVC-backed images as the controllers see them: a claim, its PV and
//! the disk file; and which DVCR blobs volumes use as backing files (they must outlive their
//! images).

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use dvp_dvcr::Digest;
use dvp_storage::names::{SELECTED_NODE_ANNOTATION, SOURCE_PATH_ANNOTATION};
use dvp_storage::objects::{pv_path, quantity_bytes, requested_bytes};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::api::Api;

/// What a claim tells about its volume.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClaimState {
    pub bound: bool,
    pub requested: Option<u64>,
    pub capacity: Option<u64>,
    /// The text of `status.capacity.storage` (what CAPACITY shows).
    pub capacity_text: Option<String>,
    pub storage_class: Option<String>,
    /// A WaitForFirstConsumer claim got its node.
    pub node_selected: bool,
    /// The disk file, once bound.
    pub path: Option<PathBuf>,
    pub deleting: bool,
}

/// Reads the state of `claim` (pure, given its PV).
pub fn claim_state(claim: &PersistentVolumeClaim, pv: Option<&PersistentVolume>) -> ClaimState {
    let status = claim.status.as_ref();
    let bound = status.and_then(|s| s.phase.as_deref()) == Some("Bound");
    let capacity_text = status
        .and_then(|s| s.capacity.as_ref())
        .and_then(|c| c.get("storage"))
        .map(|q| q.0.clone());
    ClaimState {
        bound,
        requested: requested_bytes(claim).ok(),
        capacity: capacity_text
            .as_deref()
            .and_then(|t| quantity_bytes(t).ok()),
        capacity_text,
        storage_class: claim
            .spec
            .as_ref()
            .and_then(|s| s.storage_class_name.clone()),
        node_selected: claim
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(SELECTED_NODE_ANNOTATION)),
        path: if bound { pv.and_then(pv_path) } else { None },
        deleting: claim.metadata.deletion_timestamp.is_some(),
    }
}

/// The claim `namespace/name` with its state.
pub async fn observe(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Option<(PersistentVolumeClaim, ClaimState)>, kube::Error> {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    let Some(claim) = claims.get_opt(name).await? else {
        return Ok(None);
    };
    let volume = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
        .filter(|v| !v.is_empty());
    let pv = match volume {
        Some(v) => {
            Api::<PersistentVolume>::all(client.clone())
                .get_opt(&v)
                .await?
        }
        None => None,
    };
    let state = claim_state(&claim, pv.as_ref());
    Ok(Some((claim, state)))
}

/// Why the provisioner could not make the claim's volume: the message of its latest
/// `ProvisioningFailed` Warning Event, if any.
pub async fn claim_problem(
    client: &kube::Client,
    claim: &PersistentVolumeClaim,
) -> Result<Option<String>, kube::Error> {
    let (Some(ns), Some(uid)) = (
        claim.metadata.namespace.as_deref(),
        claim.metadata.uid.as_deref(),
    ) else {
        return Ok(None);
    };
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), ns);
    let params = kube::api::ListParams::default().fields(&format!("involvedObject.uid={uid}"));
    let mut failures: Vec<_> = events
        .list(&params)
        .await?
        .items
        .into_iter()
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .filter(|e| e.reason.as_deref() == Some("ProvisioningFailed"))
        .collect();
    failures.sort_by_key(|e| e.last_timestamp.as_ref().map(|t| t.0));
    Ok(failures.pop().and_then(|e| e.message))
}

/// The digest of a DVCR blob path (`…/dvcr/blobs/sha256/<hex>`), if it is one.
pub fn blob_digest(path: &Path, dvcr_root: &Path) -> Option<Digest> {
    let blobs = dvcr_root.join("blobs").join("sha256");
    let parent = path.parent()?;
    if parent != blobs {
        return None;
    }
    Digest::from_hex(path.file_name()?.to_str()?)
}

/// The backing file a qcow2 names in its header, if any.
pub fn qcow2_backing_file(path: &Path) -> Option<PathBuf> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut header = [0u8; 20];
    file.read_exact(&mut header).ok()?;
    if &header[..4] != b"QFI\xfb" {
        return None;
    }
    let offset = u64::from_be_bytes(header[8..16].try_into().ok()?);
    let size = u32::from_be_bytes(header[16..20].try_into().ok()?) as usize;
    if offset == 0 || size == 0 || size > 4096 {
        return None;
    }
    file.seek(SeekFrom::Start(offset)).ok()?;
    let mut name = vec![0u8; size];
    file.read_exact(&mut name).ok()?;
    let text = String::from_utf8(name).ok()?;
    let backing = PathBuf::from(&text);
    Some(if backing.is_absolute() {
        backing
    } else {
        path.parent()?.join(backing)
    })
}

/// DVCR blobs that volumes under `storage_root` use as backing files, plus the blobs that
/// claims not yet provisioned will use (their source annotations).
pub fn blobs_in_use(
    storage_root: &Path,
    dvcr_root: &Path,
    claims: &[PersistentVolumeClaim],
) -> HashSet<Digest> {
    let mut out = HashSet::new();
    let mut stack = vec![(storage_root.to_path_buf(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() && depth < 4 {
                stack.push((path, depth + 1));
            } else if kind.is_file()
                && path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("disk.qcow2"))
            {
                // Follow the chain a little: an overlay on an overlay on a blob.
                let mut current = path.clone();
                for _ in 0..8 {
                    let Some(backing) = qcow2_backing_file(&current) else {
                        break;
                    };
                    if let Some(d) = blob_digest(&backing, dvcr_root) {
                        out.insert(d);
                        break;
                    }
                    current = backing;
                }
            }
        }
    }
    for claim in claims {
        if let Some(path) = claim
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(SOURCE_PATH_ANNOTATION))
            && let Some(d) = blob_digest(Path::new(path), dvcr_root)
        {
            out.insert(d);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claim(v: serde_json::Value) -> PersistentVolumeClaim {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_bound_claim_reports_capacity_and_path() {
        let c = claim(json!({
            "metadata": {"name": "c", "namespace": "ns"},
            "spec": {"storageClassName": "shared", "volumeName": "pvc-1",
                     "resources": {"requests": {"storage": "200Mi"}}},
            "status": {"phase": "Bound", "capacity": {"storage": "100Mi"}}
        }));
        let pv: PersistentVolume = serde_json::from_value(json!({
            "metadata": {"name": "pvc-1"},
            "spec": {"csi": {"driver": "shared.storage.dvp.io", "volumeHandle": "pvc-1",
                     "volumeAttributes": {"path": "/d/storage/shared/pvc-1/disk.qcow2"}}}
        }))
        .unwrap();
        let s = claim_state(&c, Some(&pv));
        assert!(s.bound);
        assert_eq!(s.requested, Some(200 << 20));
        assert_eq!(s.capacity, Some(100 << 20));
        assert_eq!(s.capacity_text.as_deref(), Some("100Mi"));
        assert_eq!(
            s.path.as_deref(),
            Some(Path::new("/d/storage/shared/pvc-1/disk.qcow2"))
        );
    }

    #[test]
    fn a_pending_claim_has_no_path_and_says_whether_a_node_was_picked() {
        let c = claim(json!({
            "metadata": {"name": "c", "namespace": "ns",
                         "annotations": {"volume.kubernetes.io/selected-node": "n1"}},
            "spec": {"resources": {"requests": {"storage": "1Gi"}}},
            "status": {"phase": "Pending"}
        }));
        let s = claim_state(&c, None);
        assert!(!s.bound && s.node_selected && s.path.is_none());
    }

    #[test]
    fn blob_paths_name_their_digest() {
        let hex = "a".repeat(64);
        let root = Path::new("/d/dvcr");
        let p = root.join("blobs/sha256").join(&hex);
        assert_eq!(blob_digest(&p, root).unwrap().hex(), hex);
        assert!(blob_digest(Path::new("/elsewhere/x"), root).is_none());
    }

    #[test]
    fn a_qcow2_overlay_names_its_backing_file() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base.qcow2");
        let top = dir.path().join("top.qcow2");
        let status = std::process::Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2"])
            .arg(&base)
            .arg("1M")
            .status();
        if status.map(|s| !s.success()).unwrap_or(true) {
            eprintln!("qemu-img missing: skipped");
            return;
        }
        std::process::Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
            .arg(&base)
            .arg(&top)
            .status()
            .unwrap();
        assert_eq!(qcow2_backing_file(&top), Some(base.clone()));
        assert_eq!(qcow2_backing_file(&base), None);
    }
}

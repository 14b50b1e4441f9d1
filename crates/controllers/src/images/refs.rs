//! Resolving `dataSource.objectRef`: the image, cluster image or disk a new image or disk is
//! made from, and where its data is.

use std::path::PathBuf;
use std::sync::Arc;

use dvp_api::kinds::common::ImageStatusSize;
use dvp_api::kinds::virtual_disk::VirtualDiskPhase;
use dvp_api::kinds::virtual_image::{VirtualImagePhase, VirtualImageStorage};
use dvp_api::kinds::{ClusterVirtualImage, VirtualDisk, VirtualImage, VirtualMachine};
use dvp_dvcr::DiskFormat;
use kube::ResourceExt;
use kube::api::Api;

use super::Services;
use super::facts::ImageFacts;
use super::source::{ObjectRefSpec, RefKind};
use super::users::vms_holding_disk;
use super::volumes;

/// Where the data of a ready source is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A DVCR blob: a self-contained qcow2 or an ISO.
    Blob(PathBuf),
    /// A volume's disk file (a qcow2, maybe an overlay) in the given StorageClass.
    Volume {
        path: PathBuf,
        class: Option<String>,
    },
}

/// What an object reference leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// The object does not exist.
    NotFound { message: String },
    /// It exists but cannot be read now (`reason` is a DatasourceReady reason).
    NotReady {
        reason: &'static str,
        message: String,
    },
    /// This kind of source is not available yet.
    Unsupported { message: String },
    /// A ready image (`facts` known) or disk (`facts` None: read the volume).
    Ready {
        uid: String,
        facts: Option<ImageFacts>,
        location: Location,
    },
}

/// The facts of a Ready image as its status shows them.
pub fn facts_from_status(
    format: Option<&str>,
    size: Option<&ImageStatusSize>,
) -> Option<ImageFacts> {
    let format = match format? {
        "iso" => DiskFormat::Iso,
        _ => DiskFormat::Qcow2,
    };
    let size = size?;
    Some(ImageFacts {
        format,
        stored_bytes: size.stored_bytes.as_deref()?.parse().ok()?,
        unpacked_bytes: size.unpacked_bytes.as_deref()?.parse().ok()?,
        source_format: format.as_str().to_string(),
    })
}

fn not_ready(reason: &'static str, message: String) -> Resolved {
    Resolved::NotReady { reason, message }
}

/// Resolves `r`. `vms` are the platform's VMs (a disk held by a running VM cannot be read).
pub async fn resolve(
    client: &kube::Client,
    services: &Arc<Services>,
    r: &ObjectRefSpec,
    vms: &[Arc<VirtualMachine>],
) -> Result<Resolved, kube::Error> {
    let who = r.describe();
    match r.kind {
        RefKind::VirtualDiskSnapshot => Ok(Resolved::Unsupported {
            message: format!(
                "{who}: making images and disks from VirtualDiskSnapshots is not supported yet (it comes with disk snapshots)"
            ),
        }),
        RefKind::VirtualImage => {
            let ns = r.namespace.clone().unwrap_or_default();
            let api: Api<VirtualImage> = Api::namespaced(client.clone(), &ns);
            let Some(vi) = api.get_opt(&r.name).await? else {
                return Ok(Resolved::NotFound {
                    message: format!("{who} not found"),
                });
            };
            let status = vi.status.clone().unwrap_or_default();
            if status.phase != Some(VirtualImagePhase::Ready) {
                return Ok(not_ready(
                    "ImageNotReady",
                    format!(
                        "{who} is not ready (phase {})",
                        status.phase.map(|p| p.as_str()).unwrap_or("Pending")
                    ),
                ));
            }
            let uid = vi.uid().unwrap_or_default();
            let facts = facts_from_status(status.format.as_deref(), status.size.as_ref());
            if matches!(
                vi.spec.storage,
                VirtualImageStorage::PersistentVolumeClaim | VirtualImageStorage::Kubernetes
            ) {
                let claim = status
                    .target
                    .as_ref()
                    .and_then(|t| t.persistent_volume_claim_name.clone())
                    .unwrap_or_default();
                let observed = volumes::observe(client, &ns, &claim).await?;
                return Ok(match observed {
                    Some((_, st)) if st.path.is_some() => Resolved::Ready {
                        uid,
                        facts,
                        location: Location::Volume {
                            path: st.path.unwrap_or_default(),
                            class: st.storage_class,
                        },
                    },
                    _ => not_ready(
                        "ImageNotReady",
                        format!("{who}: its volume {claim} is not available"),
                    ),
                });
            }
            let repo = dvp_dvcr::vi_repository(&ns, &r.name);
            from_dvcr(services, &repo, uid, &who, "ImageNotReady")
        }
        RefKind::ClusterVirtualImage => {
            let api: Api<ClusterVirtualImage> = Api::all(client.clone());
            let Some(cvi) = api.get_opt(&r.name).await? else {
                return Ok(Resolved::NotFound {
                    message: format!("{who} not found"),
                });
            };
            let phase = cvi.status.as_ref().and_then(|s| s.phase);
            if phase != Some(VirtualImagePhase::Ready) {
                return Ok(not_ready(
                    "ClusterImageNotReady",
                    format!(
                        "{who} is not ready (phase {})",
                        phase.map(|p| p.as_str()).unwrap_or("Pending")
                    ),
                ));
            }
            let uid = cvi.uid().unwrap_or_default();
            let repo = dvp_dvcr::cvi_repository(&r.name);
            from_dvcr(services, &repo, uid, &who, "ClusterImageNotReady")
        }
        RefKind::VirtualDisk => {
            let ns = r.namespace.clone().unwrap_or_default();
            let api: Api<VirtualDisk> = Api::namespaced(client.clone(), &ns);
            let Some(vd) = api.get_opt(&r.name).await? else {
                return Ok(Resolved::NotFound {
                    message: format!("{who} not found"),
                });
            };
            let status = vd.status.clone().unwrap_or_default();
            if status.phase != Some(VirtualDiskPhase::Ready) {
                let reason = if status.phase == Some(VirtualDiskPhase::Exporting) {
                    "VirtualDiskNotReadyForUse"
                } else {
                    "VirtualDiskNotReady"
                };
                return Ok(not_ready(
                    reason,
                    format!(
                        "{who} is not ready (phase {})",
                        status.phase.map(|p| p.as_str()).unwrap_or("Pending")
                    ),
                ));
            }
            if services.exports.is_active(&vd.uid().unwrap_or_default()) {
                return Ok(not_ready(
                    "VirtualDiskNotReadyForUse",
                    format!("{who} is being exported"),
                ));
            }
            let holders = vms_holding_disk(vms, &ns, &r.name);
            if !holders.is_empty() {
                return Ok(not_ready(
                    "VirtualDiskAttachedToVirtualMachine",
                    format!(
                        "{who} is attached to the virtual machine {} which is not stopped; stop it (runPolicy: AlwaysOff) or detach the disk",
                        holders.join(", ")
                    ),
                ));
            }
            let claim = status
                .target
                .as_ref()
                .and_then(|t| t.persistent_volume_claim_name.clone())
                .unwrap_or_default();
            let observed = volumes::observe(client, &ns, &claim).await?;
            Ok(match observed {
                Some((_, st)) if st.path.is_some() => Resolved::Ready {
                    uid: vd.uid().unwrap_or_default(),
                    facts: None,
                    location: Location::Volume {
                        path: st.path.unwrap_or_default(),
                        class: st.storage_class,
                    },
                },
                _ => not_ready(
                    "VirtualDiskNotReady",
                    format!("{who}: its volume {claim} is not available"),
                ),
            })
        }
    }
}

fn from_dvcr(
    services: &Arc<Services>,
    repo: &str,
    uid: String,
    who: &str,
    reason: &'static str,
) -> Result<Resolved, kube::Error> {
    match services.registry.read_disk_image(repo, &uid) {
        Ok(Some(image)) => Ok(Resolved::Ready {
            uid,
            facts: Some(ImageFacts::from_dvcr(&image.facts, image.disk_size)),
            location: Location::Blob(image.disk_path),
        }),
        Ok(None) => Ok(not_ready(
            reason,
            format!("{who}: its data is missing from DVCR"),
        )),
        Err(e) => Ok(not_ready(reason, format!("{who}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_are_read_back_from_a_status() {
        let size = ImageStatusSize {
            stored: Some("1Mi".into()),
            stored_bytes: Some("1048576".into()),
            unpacked: Some("2Mi".into()),
            unpacked_bytes: Some("2097152".into()),
        };
        let f = facts_from_status(Some("qcow2"), Some(&size)).unwrap();
        assert_eq!(f.unpacked_bytes, 2 << 20);
        assert_eq!(f.format, DiskFormat::Qcow2);
        let iso = facts_from_status(Some("iso"), Some(&size)).unwrap();
        assert!(iso.cdrom());
        assert!(facts_from_status(None, Some(&size)).is_none());
    }
}

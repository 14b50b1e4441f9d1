//! What a VirtualDisk should look like and what to do next, decided from what the reconciler
//! observed (pure): phase, conditions, capacity, and whether to create or grow its claim.

use std::time::Duration;

use dvp_api::conditions::vd::{
    DatasourceReadyReason, InUseReason, ReadyReason, ResizingReason, StorageClassReadyReason,
    TerminatingReason, Type,
};
use dvp_api::conditions::{AsApiStr, ConditionStatus, remove_condition, set_condition};
use dvp_api::kinds::common::{DownloadSpeed, ImageUploadUrls};
use dvp_api::kinds::virtual_disk::{
    AttachedVirtualMachine, VirtualDiskCreationDuration, VirtualDiskPhase, VirtualDiskStats,
    VirtualDiskStatus, VirtualDiskStatusTarget,
};
use dvp_apimachinery::quantity::{Quantity, format_bytes_human};
use dvp_storage::classes::BindingMode;
use dvp_storage::{SourceFormat, VolumeSource};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::images::facts::{ImageFacts, go_duration};
use crate::images::refs::Location;
use crate::images::storage_class::ChosenClass;
use crate::images::volumes::ClaimState;

/// A disk made from an image without a size gets the image's size rounded up to this.
pub const SIZE_ALIGNMENT: u64 = 1 << 20;

/// The StorageClass of the disk.
#[derive(Clone, Debug, PartialEq)]
pub enum ClassState {
    Chosen(ChosenClass),
    Problem(String),
}

/// The data the volume is made from.
#[derive(Clone, Debug, PartialEq)]
pub enum DataState {
    /// A blank disk.
    Blank,
    /// The volume exists: whatever filled it is no longer looked at.
    Provisioned,
    /// The data is ready where `location` says (`facts` of an image; a disk's volume has none).
    Ready {
        facts: Option<ImageFacts>,
        location: Location,
        /// How long importing into DVCR took, when this process did it.
        dvcr_duration: Option<Duration>,
    },
    /// The data source is missing or not ready.
    Waiting {
        reason: DatasourceReadyReason,
        not_found: bool,
        message: String,
    },
    Importing {
        progress: Option<String>,
        speed: Option<DownloadSpeed>,
        message: String,
    },
    WaitingForUpload {
        urls: ImageUploadUrls,
    },
    UploadTimedOut {
        message: String,
    },
    Failed {
        pull_failed: bool,
        message: String,
    },
}

/// Everything the decision depends on.
#[derive(Clone, Debug, PartialEq)]
pub struct DiskInput {
    pub generation: Option<i64>,
    /// How long ago the disk was created.
    pub age: Duration,
    pub deleting: bool,
    /// `spec.persistentVolumeClaim.size` in bytes (an error if unreadable).
    pub spec_size: Result<Option<u64>, String>,
    pub class: ClassState,
    pub claim_name: String,
    pub claim: Option<ClaimState>,
    /// Why the provisioner cannot make the volume, if it said so.
    pub claim_problem: Option<String>,
    pub data: DataState,
    pub source_uid: Option<String>,
    pub exporting: bool,
    /// VMs referencing the disk, and whether each holds it (the VirtualMachine column).
    pub vms: Vec<(String, bool)>,
    /// Images being created from the disk.
    pub image_users: Vec<String>,
    /// What keeps a deleted disk from going.
    pub blockers: Vec<String>,
}

/// What to do with the claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimAction {
    Create { size: u64, source: VolumeSource },
    Grow { size: u64 },
}

/// The decision: the status to write and the claim action to take first.
#[derive(Clone, Debug, PartialEq)]
pub struct DiskPlan {
    pub status: VirtualDiskStatus,
    pub action: Option<ClaimAction>,
}

/// The size of the volume of a disk: the spec's size, else the image's unpacked size rounded up
/// to [`SIZE_ALIGNMENT`]. A disk cannot be smaller than its image, nor made from an ISO.
pub fn volume_size(spec: Option<u64>, facts: Option<&ImageFacts>) -> Result<u64, String> {
    if let Some(f) = facts {
        if f.cdrom() {
            return Err("cannot create a disk from an ISO image".to_string());
        }
        if let Some(size) = spec
            && size < f.unpacked_bytes
        {
            return Err(format!(
                "the requested size {} is smaller than the unpacked size of the image, {} ({} bytes): set spec.persistentVolumeClaim.size to at least {}",
                format_bytes_human(size),
                format_bytes_human(f.unpacked_bytes),
                f.unpacked_bytes,
                format_bytes_human(f.unpacked_bytes.div_ceil(SIZE_ALIGNMENT) * SIZE_ALIGNMENT),
            ));
        }
    }
    match (spec, facts) {
        (Some(size), _) => Ok(size),
        (None, Some(f)) => Ok(f.unpacked_bytes.div_ceil(SIZE_ALIGNMENT) * SIZE_ALIGNMENT),
        (None, None) => {
            Err("a blank disk needs a size: set spec.persistentVolumeClaim.size".to_string())
        }
    }
}

/// How a volume gets its data from `location`: an overlay on an image blob, or on an image's
/// volume of the same class; a full copy otherwise.
pub fn volume_source(location: &Location, class: &str) -> VolumeSource {
    match location {
        Location::Blob(path) => VolumeSource::Backing {
            path: path.clone(),
            format: SourceFormat::Qcow2,
        },
        Location::Volume {
            path,
            class: Some(c),
        } if c == class => VolumeSource::Backing {
            path: path.clone(),
            format: SourceFormat::Qcow2,
        },
        Location::Volume { path, .. } => VolumeSource::Copy {
            path: path.clone(),
            format: SourceFormat::Qcow2,
        },
    }
}

/// Phases in which the disk's volume exists (so a missing claim means it was lost).
fn had_volume(phase: Option<&VirtualDiskPhase>) -> bool {
    matches!(
        phase,
        Some(
            VirtualDiskPhase::Ready
                | VirtualDiskPhase::Resizing
                | VirtualDiskPhase::Exporting
                | VirtualDiskPhase::PvcLost
                | VirtualDiskPhase::Migrating
        )
    )
}

/// The canonical quantity of `bytes` (`100Mi`).
pub fn quantity(bytes: u64) -> String {
    Quantity::from_bytes(i128::from(bytes)).to_string()
}

/// Decides the disk's status and next claim action.
pub fn decide(previous: &VirtualDiskStatus, input: &DiskInput, now: Time) -> DiskPlan {
    let mut status = previous.clone();
    let generation = input.generation;
    let cond = |t: Type, s: ConditionStatus, r: &dyn AsApiStr, m: String| Condition {
        type_: t.as_str().to_string(),
        status: s.as_str().to_string(),
        reason: r.api_str().to_string(),
        message: m,
        observed_generation: generation,
        last_transition_time: now.clone(),
    };
    let mut action = None;
    status.image_upload_urls = None;
    status.download_speed = None;
    if input.source_uid.is_some() {
        status.source_uid = input.source_uid.clone();
    }
    status.target = Some(VirtualDiskStatusTarget {
        persistent_volume_claim_name: Some(input.claim_name.clone()),
    });
    status.attached_to_virtual_machines = input
        .vms
        .iter()
        .map(|(name, mounted)| AttachedVirtualMachine {
            name: Some(name.clone()),
            mounted: Some(*mounted),
        })
        .collect();

    // StorageClassReady
    let class_name = match (&input.claim, &input.class) {
        (Some(claim), _) if claim.storage_class.is_some() => claim.storage_class.clone(),
        (_, ClassState::Chosen(c)) => Some(c.name.clone()),
        _ => None,
    };
    match (&input.class, &input.claim) {
        (ClassState::Problem(message), None) => set_condition(
            &mut status.conditions,
            cond(
                Type::StorageClassReady,
                ConditionStatus::False,
                &StorageClassReadyReason::StorageClassNotReady,
                message.clone(),
            ),
        ),
        _ => set_condition(
            &mut status.conditions,
            cond(
                Type::StorageClassReady,
                ConditionStatus::True,
                &StorageClassReadyReason::StorageClassReady,
                String::new(),
            ),
        ),
    };
    if class_name.is_some() {
        status.storage_class_name = class_name;
    }

    // DatasourceReady (disks with a source only)
    match &input.data {
        DataState::Blank => {
            remove_condition(&mut status.conditions, Type::DatasourceReady.as_str());
        }
        DataState::Waiting {
            reason, message, ..
        } => {
            set_condition(
                &mut status.conditions,
                cond(
                    Type::DatasourceReady,
                    ConditionStatus::False,
                    reason,
                    message.clone(),
                ),
            );
        }
        _ => {
            set_condition(
                &mut status.conditions,
                cond(
                    Type::DatasourceReady,
                    ConditionStatus::True,
                    &DatasourceReadyReason::DatasourceReady,
                    String::new(),
                ),
            );
        }
    }

    let mut resizing = false;
    let (phase, ready) = if let Some(claim) = &input.claim {
        // The volume exists (or is being made): the claim decides.
        if claim.bound {
            status.capacity = claim.capacity_text.clone().or(status.capacity.take());
            let wanted = input.spec_size.clone().ok().flatten();
            let requested = claim.requested.unwrap_or(0);
            if let Some(w) = wanted.filter(|w| *w > requested) {
                action = Some(ClaimAction::Grow { size: w });
                resizing = true;
            } else if claim.capacity.is_some_and(|c| c < requested) {
                resizing = true;
            }
            if resizing {
                (
                    VirtualDiskPhase::Resizing,
                    cond(
                        Type::Ready,
                        ConditionStatus::True,
                        &ReadyReason::Ready,
                        String::new(),
                    ),
                )
            } else if input.exporting {
                (
                    VirtualDiskPhase::Exporting,
                    cond(
                        Type::Ready,
                        ConditionStatus::True,
                        &ReadyReason::Exporting,
                        "the disk is being exported".to_string(),
                    ),
                )
            } else {
                status.progress = Some("100%".to_string());
                (
                    VirtualDiskPhase::Ready,
                    cond(
                        Type::Ready,
                        ConditionStatus::True,
                        &ReadyReason::Ready,
                        String::new(),
                    ),
                )
            }
        } else if let Some(problem) = &input.claim_problem {
            (
                VirtualDiskPhase::Failed,
                cond(
                    Type::Ready,
                    ConditionStatus::False,
                    &ReadyReason::ProvisioningFailed,
                    problem.clone(),
                ),
            )
        } else if matches!(&input.class, ClassState::Chosen(c) if c.binding == BindingMode::WaitForFirstConsumer)
            && !claim.node_selected
        {
            (
                VirtualDiskPhase::WaitForFirstConsumer,
                cond(
                    Type::Ready,
                    ConditionStatus::False,
                    &ReadyReason::WaitingForFirstConsumer,
                    "the StorageClass binds volumes when a virtual machine using the disk is scheduled"
                        .to_string(),
                ),
            )
        } else {
            (
                VirtualDiskPhase::Provisioning,
                cond(
                    Type::Ready,
                    ConditionStatus::False,
                    &ReadyReason::Provisioning,
                    format!("creating the volume {}", input.claim_name),
                ),
            )
        }
    } else if had_volume(previous.phase.as_ref()) {
        (
            VirtualDiskPhase::PvcLost,
            cond(
                Type::Ready,
                ConditionStatus::False,
                &ReadyReason::PvcLost,
                format!("the volume {} of the disk is gone", input.claim_name),
            ),
        )
    } else {
        not_yet_provisioned(input, &mut status, &mut action, &cond)
    };
    set_condition(&mut status.conditions, ready);

    if resizing {
        set_condition(
            &mut status.conditions,
            cond(
                Type::Resizing,
                ConditionStatus::True,
                &ResizingReason::InProgress,
                "the volume is growing".to_string(),
            ),
        );
    } else {
        remove_condition(&mut status.conditions, Type::Resizing.as_str());
    }

    // InUse
    let holders: Vec<&str> = input
        .vms
        .iter()
        .filter(|(_, held)| *held)
        .map(|(n, _)| n.as_str())
        .collect();
    let in_use = if input.exporting {
        cond(
            Type::InUse,
            ConditionStatus::True,
            &InUseReason::UsedForDataExport,
            "the disk is being exported".to_string(),
        )
    } else if !holders.is_empty() {
        cond(
            Type::InUse,
            ConditionStatus::True,
            &InUseReason::AttachedToVirtualMachine,
            format!("attached to the virtual machine {}", holders.join(", ")),
        )
    } else if !input.image_users.is_empty() {
        cond(
            Type::InUse,
            ConditionStatus::True,
            &InUseReason::UsedForImageCreation,
            format!("read by {}", input.image_users.join(", ")),
        )
    } else {
        cond(
            Type::InUse,
            ConditionStatus::False,
            &InUseReason::NotInUse,
            String::new(),
        )
    };
    set_condition(&mut status.conditions, in_use);

    // Creation statistics: the DVCR import when the volume is made from it, the total once the
    // disk first becomes Ready.
    if let (
        Some(ClaimAction::Create { .. }),
        DataState::Ready {
            dvcr_duration: Some(d),
            ..
        },
    ) = (&action, &input.data)
    {
        let stats = status.stats.get_or_insert_with(Default::default);
        stats
            .creation_duration
            .get_or_insert_with(Default::default)
            .dvcr_provisioning = Some(go_duration(*d));
    }
    if phase == VirtualDiskPhase::Ready {
        let durations = status
            .stats
            .get_or_insert_with(VirtualDiskStats::default)
            .creation_duration
            .get_or_insert_with(VirtualDiskCreationDuration::default);
        if durations.total_provisioning.is_none() {
            durations.total_provisioning = Some(go_duration(input.age));
        }
    }

    status.phase = Some(phase);
    if input.deleting {
        status.phase = Some(VirtualDiskPhase::Terminating);
        if input.blockers.is_empty() {
            remove_condition(&mut status.conditions, Type::Terminating.as_str());
        } else {
            set_condition(
                &mut status.conditions,
                cond(
                    Type::Terminating,
                    ConditionStatus::True,
                    &TerminatingReason::CleanupPending,
                    format!("deletion waits: {}", input.blockers.join("; ")),
                ),
            );
        }
        action = None;
    }
    status.observed_generation = generation;
    DiskPlan { status, action }
}

type CondFn<'a> = dyn Fn(Type, ConditionStatus, &dyn AsApiStr, String) -> Condition + 'a;

/// No claim yet: the data and the class decide whether to create it.
fn not_yet_provisioned(
    input: &DiskInput,
    status: &mut VirtualDiskStatus,
    action: &mut Option<ClaimAction>,
    cond: &CondFn<'_>,
) -> (VirtualDiskPhase, Condition) {
    let failed = |reason: ReadyReason, message: String| {
        (
            VirtualDiskPhase::Failed,
            cond(Type::Ready, ConditionStatus::False, &reason, message),
        )
    };
    let spec_size = match &input.spec_size {
        Ok(s) => *s,
        Err(message) => return failed(ReadyReason::ProvisioningFailed, message.clone()),
    };
    match &input.data {
        DataState::Waiting {
            not_found, message, ..
        } => {
            let reason = if *not_found {
                ReadyReason::DatasourceIsNotFound
            } else {
                ReadyReason::DatasourceIsNotReady
            };
            return (
                VirtualDiskPhase::Pending,
                cond(
                    Type::Ready,
                    ConditionStatus::False,
                    &reason,
                    format!("waiting for the data source: {message}"),
                ),
            );
        }
        DataState::Importing {
            progress,
            speed,
            message,
        } => {
            if progress.is_some() {
                status.progress = progress.clone();
            }
            status.download_speed = speed.clone();
            return (
                VirtualDiskPhase::Provisioning,
                cond(
                    Type::Ready,
                    ConditionStatus::False,
                    &ReadyReason::Provisioning,
                    message.clone(),
                ),
            );
        }
        DataState::WaitingForUpload { urls } => {
            status.image_upload_urls = Some(urls.clone());
            return (
                VirtualDiskPhase::WaitForUserUpload,
                cond(
                    Type::Ready,
                    ConditionStatus::False,
                    &ReadyReason::WaitForUserUpload,
                    "waiting for the disk image to be uploaded to status.imageUploadURLs"
                        .to_string(),
                ),
            );
        }
        DataState::UploadTimedOut { message } => {
            return failed(ReadyReason::WaitForUserUploadTimeout, message.clone());
        }
        DataState::Failed {
            pull_failed,
            message,
        } => {
            let reason = if *pull_failed {
                ReadyReason::ImagePullFailed
            } else {
                ReadyReason::ProvisioningFailed
            };
            return failed(reason, message.clone());
        }
        DataState::Blank | DataState::Provisioned | DataState::Ready { .. } => {}
    }
    let class = match &input.class {
        ClassState::Chosen(c) => c,
        ClassState::Problem(message) => {
            return (
                VirtualDiskPhase::Pending,
                cond(
                    Type::Ready,
                    ConditionStatus::False,
                    &ReadyReason::StorageClassIsNotReady,
                    message.clone(),
                ),
            );
        }
    };
    let (facts, source) = match &input.data {
        DataState::Ready {
            facts, location, ..
        } => (facts.as_ref(), volume_source(location, &class.name)),
        _ => (None, VolumeSource::Blank),
    };
    let size = match volume_size(spec_size, facts) {
        Ok(size) => size,
        Err(message) => return failed(ReadyReason::ProvisioningFailed, message),
    };
    *action = Some(ClaimAction::Create { size, source });
    (
        VirtualDiskPhase::Provisioning,
        cond(
            Type::Ready,
            ConditionStatus::False,
            &ReadyReason::Provisioning,
            format!("creating the volume {}", input.claim_name),
        ),
    )
}

/// Phase changes worth an Event: `(warning, reason, message)`.
pub fn transition_event(
    before: Option<&VirtualDiskPhase>,
    after: &VirtualDiskStatus,
) -> Option<(bool, &'static str, String)> {
    let phase = after.phase.as_ref()?;
    if before == Some(phase) {
        return None;
    }
    let ready_message = after
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    Some(match phase {
        VirtualDiskPhase::Provisioning => (false, "Provisioning", ready_message),
        VirtualDiskPhase::WaitForUserUpload => (
            false,
            "WaitForUserUpload",
            "waiting for the disk image to be uploaded to status.imageUploadURLs".to_string(),
        ),
        VirtualDiskPhase::WaitForFirstConsumer => (false, "WaitForFirstConsumer", ready_message),
        VirtualDiskPhase::Resizing => (
            false,
            "VirtualDiskResizingStarted",
            "the volume is growing".to_string(),
        ),
        VirtualDiskPhase::Ready if before == Some(&VirtualDiskPhase::Resizing) => (
            false,
            "VirtualDiskResizingCompleted",
            format!(
                "the volume grew to {}",
                after.capacity.clone().unwrap_or_default()
            ),
        ),
        VirtualDiskPhase::Ready if before == Some(&VirtualDiskPhase::Exporting) => return None,
        VirtualDiskPhase::Ready => (
            false,
            "VirtualDiskReady",
            format!(
                "the disk is ready, capacity {}",
                after.capacity.clone().unwrap_or_default()
            ),
        ),
        VirtualDiskPhase::Exporting => (false, "Exporting", "the disk is being exported".into()),
        VirtualDiskPhase::Failed => (true, "ProvisioningFailed", ready_message),
        VirtualDiskPhase::PvcLost => (true, "PVCLost", ready_message),
        VirtualDiskPhase::Pending | VirtualDiskPhase::Terminating | VirtualDiskPhase::Migrating => {
            return None;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dvp_dvcr::DiskFormat;
    use dvp_storage::AccessMode;

    fn t(s: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(s).unwrap())
    }

    fn class(binding: BindingMode) -> ClassState {
        ClassState::Chosen(ChosenClass {
            name: "shared".into(),
            provisioner: "shared.storage.dvp.io".into(),
            binding,
            access_mode: AccessMode::ReadWriteMany,
        })
    }

    fn facts(format: DiskFormat, unpacked: u64) -> ImageFacts {
        ImageFacts {
            format,
            stored_bytes: 1 << 20,
            unpacked_bytes: unpacked,
            source_format: "qcow2".into(),
        }
    }

    fn input(data: DataState, size: Option<u64>) -> DiskInput {
        DiskInput {
            generation: Some(1),
            age: Duration::from_secs(3),
            deleting: false,
            spec_size: Ok(size),
            class: class(BindingMode::Immediate),
            claim_name: "d8v-vd-d-u".into(),
            claim: None,
            claim_problem: None,
            data,
            source_uid: None,
            exporting: false,
            vms: vec![],
            image_users: vec![],
            blockers: vec![],
        }
    }

    fn from_image(format: DiskFormat, unpacked: u64) -> DataState {
        DataState::Ready {
            facts: Some(facts(format, unpacked)),
            location: Location::Blob("/d/dvcr/blobs/sha256/ab".into()),
            dvcr_duration: None,
        }
    }

    fn bound(requested: u64, capacity: u64) -> ClaimState {
        ClaimState {
            bound: true,
            requested: Some(requested),
            capacity: Some(capacity),
            capacity_text: Some(quantity(capacity)),
            storage_class: Some("shared".into()),
            node_selected: false,
            path: Some("/d/storage/shared/pvc-1/disk.qcow2".into()),
            deleting: false,
        }
    }

    fn ready_reason(s: &VirtualDiskStatus) -> String {
        s.conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .map(|c| c.reason.clone())
            .unwrap()
    }

    fn ready_message(s: &VirtualDiskStatus) -> String {
        s.conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .map(|c| c.message.clone())
            .unwrap()
    }

    #[test]
    fn a_disk_without_a_size_gets_the_unpacked_size_aligned_up() {
        let f = facts(DiskFormat::Qcow2, (2 << 30) + 1);
        assert_eq!(volume_size(None, Some(&f)), Ok((2 << 30) + SIZE_ALIGNMENT));
        assert_eq!(volume_size(Some(10 << 30), Some(&f)), Ok(10 << 30));
    }

    #[test]
    fn a_size_below_the_unpacked_size_is_refused_with_the_minimum() {
        let f = facts(DiskFormat::Qcow2, 2 << 30);
        let e = volume_size(Some(1 << 30), Some(&f)).unwrap_err();
        assert!(e.contains("smaller than the unpacked size"), "{e}");
        assert!(e.contains("at least 2Gi"), "{e}");
    }

    #[test]
    fn an_iso_cannot_become_a_disk() {
        let f = facts(DiskFormat::Iso, 1 << 20);
        assert_eq!(
            volume_size(Some(1 << 30), Some(&f)),
            Err("cannot create a disk from an ISO image".to_string())
        );
    }

    #[test]
    fn a_blank_disk_needs_a_size() {
        assert!(
            volume_size(None, None)
                .unwrap_err()
                .contains("needs a size")
        );
        assert_eq!(volume_size(Some(100 << 20), None), Ok(100 << 20));
    }

    #[test]
    fn a_disk_from_a_blob_is_an_overlay() {
        let s = volume_source(&Location::Blob("/b".into()), "shared");
        assert!(matches!(s, VolumeSource::Backing { .. }));
    }

    #[test]
    fn a_disk_from_an_image_volume_is_an_overlay_only_in_the_same_class() {
        let loc = Location::Volume {
            path: "/v".into(),
            class: Some("local".into()),
        };
        assert!(matches!(
            volume_source(&loc, "local"),
            VolumeSource::Backing { .. }
        ));
        assert!(matches!(
            volume_source(&loc, "shared"),
            VolumeSource::Copy { .. }
        ));
    }

    #[test]
    fn a_blank_disk_creates_its_claim_and_provisions() {
        let p = decide(
            &VirtualDiskStatus::default(),
            &input(DataState::Blank, Some(100 << 20)),
            t(1),
        );
        assert_eq!(p.status.phase, Some(VirtualDiskPhase::Provisioning));
        assert_eq!(
            p.action,
            Some(ClaimAction::Create {
                size: 100 << 20,
                source: VolumeSource::Blank
            })
        );
        assert_eq!(
            p.status
                .target
                .as_ref()
                .unwrap()
                .persistent_volume_claim_name
                .as_deref(),
            Some("d8v-vd-d-u")
        );
        assert_eq!(p.status.storage_class_name.as_deref(), Some("shared"));
    }

    #[test]
    fn a_disk_from_an_iso_fails_with_the_guide_message() {
        let p = decide(
            &VirtualDiskStatus::default(),
            &input(from_image(DiskFormat::Iso, 1 << 20), None),
            t(1),
        );
        assert_eq!(p.status.phase, Some(VirtualDiskPhase::Failed));
        assert_eq!(
            ready_message(&p.status),
            "cannot create a disk from an ISO image"
        );
        assert_eq!(p.action, None);
    }

    #[test]
    fn a_bound_claim_makes_the_disk_ready_with_its_capacity() {
        let mut i = input(from_image(DiskFormat::Qcow2, 1 << 20), None);
        i.claim = Some(bound(100 << 20, 100 << 20));
        let p = decide(&VirtualDiskStatus::default(), &i, t(1));
        assert_eq!(p.status.phase, Some(VirtualDiskPhase::Ready));
        assert_eq!(p.status.capacity.as_deref(), Some("100Mi"));
        assert_eq!(p.action, None);
        let stats = p.status.stats.unwrap().creation_duration.unwrap();
        assert_eq!(stats.total_provisioning.as_deref(), Some("3s"));
    }

    #[test]
    fn the_dvcr_import_time_is_kept_from_when_the_volume_is_made() {
        let data = DataState::Ready {
            facts: Some(facts(DiskFormat::Qcow2, 1 << 20)),
            location: Location::Blob("/b".into()),
            dvcr_duration: Some(Duration::from_millis(1500)),
        };
        let p = decide(&VirtualDiskStatus::default(), &input(data, None), t(1));
        assert!(matches!(p.action, Some(ClaimAction::Create { .. })));
        let mut i = input(DataState::Provisioned, None);
        i.claim = Some(bound(1 << 20, 1 << 20));
        let ready = decide(&p.status, &i, t(2));
        let d = ready.status.stats.unwrap().creation_duration.unwrap();
        assert_eq!(d.dvcr_provisioning.as_deref(), Some("1.5s"));
        assert_eq!(d.total_provisioning.as_deref(), Some("3s"));
    }

    #[test]
    fn a_bigger_size_in_the_spec_grows_the_claim_and_resizes() {
        let mut i = input(DataState::Blank, Some(200 << 20));
        i.claim = Some(bound(100 << 20, 100 << 20));
        let p = decide(&VirtualDiskStatus::default(), &i, t(1));
        assert_eq!(p.status.phase, Some(VirtualDiskPhase::Resizing));
        assert_eq!(p.action, Some(ClaimAction::Grow { size: 200 << 20 }));
        assert!(p.status.conditions.iter().any(|c| c.type_ == "Resizing"));
    }

    #[test]
    fn a_claim_growing_keeps_the_disk_resizing_until_the_capacity_follows() {
        let mut i = input(DataState::Blank, Some(200 << 20));
        i.claim = Some(bound(200 << 20, 100 << 20));
        let p = decide(&VirtualDiskStatus::default(), &i, t(1));
        assert_eq!(p.status.phase, Some(VirtualDiskPhase::Resizing));
        assert_eq!(p.action, None);
        i.claim = Some(bound(200 << 20, 200 << 20));
        let done = decide(&p.status, &i, t(2));
        assert_eq!(done.status.phase, Some(VirtualDiskPhase::Ready));
        assert_eq!(done.status.capacity.as_deref(), Some("200Mi"));
        assert!(!done.status.conditions.iter().any(|c| c.type_ == "Resizing"));
        assert_eq!(
            transition_event(p.status.phase.as_ref(), &done.status)
                .unwrap()
                .1,
            "VirtualDiskResizingCompleted"
        );
    }

    #[test]
    fn an_unbound_claim_of_a_wffc_class_waits_for_its_consumer() {
        let mut i = input(DataState::Blank, Some(1 << 30));
        i.class = class(BindingMode::WaitForFirstConsumer);
        i.claim = Some(ClaimState {
            bound: false,
            ..bound(1 << 30, 0)
        });
        let p = decide(&VirtualDiskStatus::default(), &i, t(1));
        assert_eq!(p.status.phase, Some(VirtualDiskPhase::WaitForFirstConsumer));
        assert_eq!(ready_reason(&p.status), "WaitingForFirstConsumer");
    }

    #[test]
    fn a_claim_gone_after_ready_is_pvc_lost() {
        let prev = VirtualDiskStatus {
            phase: Some(VirtualDiskPhase::Ready),
            ..Default::default()
        };
        let p = decide(&prev, &input(DataState::Blank, Some(1 << 30)), t(1));
        assert_eq!(p.status.phase, Some(VirtualDiskPhase::PvcLost));
        assert_eq!(p.action, None);
    }

    #[test]
    fn a_missing_image_keeps_the_disk_pending_with_not_found() {
        let p = decide(
            &VirtualDiskStatus::default(),
            &input(
                DataState::Waiting {
                    reason: DatasourceReadyReason::ImageNotFound,
                    not_found: true,
                    message: "VirtualImage ns/x not found".into(),
                },
                None,
            ),
            t(1),
        );
        assert_eq!(p.status.phase, Some(VirtualDiskPhase::Pending));
        assert_eq!(ready_reason(&p.status), "DatasourceIsNotFound");
        let ds = p
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == "DatasourceReady")
            .unwrap();
        assert_eq!(ds.reason, "ImageNotFound");
    }

    #[test]
    fn a_storage_class_problem_keeps_the_disk_pending() {
        let mut i = input(DataState::Blank, Some(1 << 30));
        i.class = ClassState::Problem("storage class \"x\" not found".into());
        let p = decide(&VirtualDiskStatus::default(), &i, t(1));
        assert_eq!(p.status.phase, Some(VirtualDiskPhase::Pending));
        assert_eq!(ready_reason(&p.status), "StorageClassIsNotReady");
        assert_eq!(p.action, None);
    }

    #[test]
    fn an_export_shows_exporting_and_in_use() {
        let mut i = input(DataState::Blank, Some(1 << 30));
        i.claim = Some(bound(1 << 30, 1 << 30));
        i.exporting = true;
        let p = decide(&VirtualDiskStatus::default(), &i, t(1));
        assert_eq!(p.status.phase, Some(VirtualDiskPhase::Exporting));
        let in_use = p
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == "InUse")
            .unwrap();
        assert_eq!(
            (in_use.status.as_str(), in_use.reason.as_str()),
            ("True", "UsedForDataExport")
        );
    }

    #[test]
    fn an_import_in_progress_shows_progress_and_upload_urls_only_while_waiting() {
        let p = decide(
            &VirtualDiskStatus::default(),
            &input(
                DataState::Importing {
                    progress: Some("42.0%".into()),
                    speed: None,
                    message: "receiving".into(),
                },
                None,
            ),
            t(1),
        );
        assert_eq!(p.status.phase, Some(VirtualDiskPhase::Provisioning));
        assert_eq!(p.status.progress.as_deref(), Some("42.0%"));
        let w = decide(
            &p.status,
            &input(
                DataState::WaitingForUpload {
                    urls: ImageUploadUrls::default(),
                },
                None,
            ),
            t(2),
        );
        assert_eq!(w.status.phase, Some(VirtualDiskPhase::WaitForUserUpload));
        assert!(w.status.image_upload_urls.is_some());
    }

    #[test]
    fn deleting_a_disk_in_use_is_terminating_and_does_nothing_else() {
        let mut i = input(DataState::Blank, Some(1 << 30));
        i.deleting = true;
        i.blockers = vec!["the virtual machine vm1 uses it".into()];
        let p = decide(&VirtualDiskStatus::default(), &i, t(1));
        assert_eq!(p.status.phase, Some(VirtualDiskPhase::Terminating));
        assert_eq!(p.action, None);
    }

    #[test]
    fn reconciling_twice_changes_nothing() {
        let mut i = input(DataState::Blank, Some(1 << 30));
        i.claim = Some(bound(1 << 30, 1 << 30));
        let first = decide(&VirtualDiskStatus::default(), &i, t(1));
        let mut later = i.clone();
        later.age = Duration::from_secs(100);
        assert_eq!(decide(&first.status, &later, t(100)).status, first.status);
    }
}

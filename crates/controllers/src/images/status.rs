//! The status of a VirtualImage or ClusterVirtualImage, computed from what the reconciler
//! observed (pure). Both kinds share [`ImageView`]; their adapters map it to the typed status.

use dvp_api::conditions::vi::{
    DatasourceReadyReason, InUseReason, ReadyReason, StorageClassReadyReason, TerminatingReason,
    Type,
};
use dvp_api::conditions::{ConditionStatus, remove_condition, set_condition};
use dvp_api::kinds::common::{DownloadSpeed, ImageStatusSize, ImageUploadUrls};
use dvp_api::kinds::virtual_image::VirtualImagePhase;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::facts::ImageFacts;

/// The status fields VirtualImage and ClusterVirtualImage have in common.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageView {
    pub phase: Option<VirtualImagePhase>,
    pub cdrom: bool,
    pub format: Option<String>,
    pub progress: Option<String>,
    pub download_speed: Option<DownloadSpeed>,
    pub size: Option<ImageStatusSize>,
    pub registry_url: Option<String>,
    pub pvc_name: Option<String>,
    pub storage_class_name: Option<String>,
    pub upload_urls: Option<ImageUploadUrls>,
    pub source_uid: Option<String>,
    pub used_in_namespaces: Vec<String>,
    pub conditions: Vec<Condition>,
    pub observed_generation: Option<i64>,
}

/// Whether the data source can be read now.
#[derive(Clone, Debug, PartialEq)]
pub enum Datasource {
    Ready,
    NotReady {
        reason: DatasourceReadyReason,
        message: String,
    },
}

/// How far provisioning got.
#[derive(Clone, Debug, PartialEq)]
pub enum Provisioning {
    /// Nothing started (waiting for dependencies).
    NotStarted { message: String },
    /// Waiting for the user's upload at these URLs.
    WaitingForUpload { urls: ImageUploadUrls },
    /// No upload started in time.
    UploadTimedOut { message: String },
    /// Copying the data: `progress` as the PROGRESS column shows it.
    InProgress {
        progress: Option<String>,
        speed: Option<DownloadSpeed>,
        message: String,
    },
    /// It failed for this spec generation.
    Failed { pull_failed: bool, message: String },
    /// The image is stored: in DVCR (`registry_url`) or on a volume (`pvc_name`).
    Ready {
        facts: ImageFacts,
        registry_url: Option<String>,
        pvc_name: Option<String>,
    },
    /// A Ready image whose data is gone (`pvc`: the volume, else the DVCR image).
    Lost { pvc: bool, message: String },
}

/// Which StorageClass a PVC-backed image uses.
#[derive(Clone, Debug, PartialEq)]
pub enum StorageClass {
    /// Stored in DVCR: no class applies.
    Dvcr,
    Chosen(String),
    Problem(String),
}

/// Everything the status depends on.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageInput {
    pub generation: Option<i64>,
    pub deleting: bool,
    /// Cluster images have no StorageClass condition, and fewer `Ready` reasons.
    pub cluster_wide: bool,
    pub storage_class: StorageClass,
    pub datasource: Datasource,
    pub provisioning: Provisioning,
    pub source_uid: Option<String>,
    /// What keeps the image from being deleted (`VirtualDisk ns/x is being created from it`).
    pub blockers: Vec<String>,
    /// VMs using the image (`ns/name`).
    pub vm_users: Vec<String>,
}

/// The status an image should have, starting from its current one (conditions keep their
/// transition times when their status does not change).
pub fn compute(previous: &ImageView, input: &ImageInput, now: Time) -> ImageView {
    let mut view = previous.clone();
    let generation = input.generation;
    let cond =
        |t: Type, s: ConditionStatus, r: &dyn dvp_api::conditions::AsApiStr, m: String| Condition {
            type_: t.as_str().to_string(),
            status: s.as_str().to_string(),
            reason: r.api_str().to_string(),
            message: m,
            observed_generation: generation,
            last_transition_time: now.clone(),
        };

    // DatasourceReady
    let ds = match &input.datasource {
        Datasource::Ready => cond(
            Type::DatasourceReady,
            ConditionStatus::True,
            &DatasourceReadyReason::DatasourceReady,
            String::new(),
        ),
        Datasource::NotReady { reason, message } => cond(
            Type::DatasourceReady,
            ConditionStatus::False,
            reason,
            message.clone(),
        ),
    };
    set_condition(&mut view.conditions, ds);

    // StorageClassReady (namespaced images only)
    if !input.cluster_wide {
        let (status, reason, message, name) = match &input.storage_class {
            StorageClass::Dvcr => (
                ConditionStatus::True,
                StorageClassReadyReason::DvcrTypeUsed,
                "the image is kept in DVCR; no StorageClass is used".to_string(),
                None,
            ),
            StorageClass::Chosen(name) => (
                ConditionStatus::True,
                StorageClassReadyReason::StorageClassReady,
                String::new(),
                Some(name.clone()),
            ),
            StorageClass::Problem(message) => (
                ConditionStatus::False,
                StorageClassReadyReason::StorageClassNotFound,
                message.clone(),
                None,
            ),
        };
        set_condition(
            &mut view.conditions,
            cond(Type::StorageClassReady, status, &reason, message),
        );
        if name.is_some() || matches!(input.storage_class, StorageClass::Dvcr) {
            view.storage_class_name = name;
        }
    }

    view.source_uid = input.source_uid.clone().or(view.source_uid.take());
    view.upload_urls = None;
    view.download_speed = None;

    let (phase, ready) = match &input.provisioning {
        _ if !input.cluster_wide && matches!(input.storage_class, StorageClass::Problem(_)) => {
            let StorageClass::Problem(message) = &input.storage_class else {
                unreachable!()
            };
            (
                VirtualImagePhase::Pending,
                cond(
                    Type::Ready,
                    ConditionStatus::False,
                    &ReadyReason::StorageClassNotReady,
                    message.clone(),
                ),
            )
        }
        Provisioning::NotStarted { message } => (
            VirtualImagePhase::Pending,
            cond(
                Type::Ready,
                ConditionStatus::False,
                &ReadyReason::ProvisioningNotStarted,
                message.clone(),
            ),
        ),
        Provisioning::WaitingForUpload { urls } => {
            view.upload_urls = Some(urls.clone());
            (
                VirtualImagePhase::WaitForUserUpload,
                cond(
                    Type::Ready,
                    ConditionStatus::False,
                    &ReadyReason::WaitForUserUpload,
                    "waiting for the image to be uploaded to status.imageUploadURLs".to_string(),
                ),
            )
        }
        Provisioning::UploadTimedOut { message } => (
            VirtualImagePhase::Failed,
            cond(
                Type::Ready,
                ConditionStatus::False,
                &ReadyReason::WaitForUserUploadTimeout,
                message.clone(),
            ),
        ),
        Provisioning::InProgress {
            progress,
            speed,
            message,
        } => {
            if progress.is_some() {
                view.progress = progress.clone();
            }
            view.download_speed = speed.clone();
            (
                VirtualImagePhase::Provisioning,
                cond(
                    Type::Ready,
                    ConditionStatus::False,
                    &ReadyReason::Provisioning,
                    message.clone(),
                ),
            )
        }
        Provisioning::Failed {
            pull_failed,
            message,
        } => {
            let reason = if *pull_failed && !input.cluster_wide {
                ReadyReason::ImagePullFailed
            } else {
                ReadyReason::ProvisioningFailed
            };
            (
                VirtualImagePhase::Failed,
                cond(
                    Type::Ready,
                    ConditionStatus::False,
                    &reason,
                    message.clone(),
                ),
            )
        }
        Provisioning::Ready {
            facts,
            registry_url,
            pvc_name,
        } => {
            view.progress = Some("100%".to_string());
            view.cdrom = facts.cdrom();
            view.format = Some(facts.format_name().to_string());
            view.size = Some(facts.status_size());
            view.registry_url = registry_url.clone();
            view.pvc_name = pvc_name.clone();
            (
                VirtualImagePhase::Ready,
                cond(
                    Type::Ready,
                    ConditionStatus::True,
                    &ReadyReason::Ready,
                    String::new(),
                ),
            )
        }
        Provisioning::Lost { pvc, message } => {
            let (phase, reason) = if *pvc && !input.cluster_wide {
                (VirtualImagePhase::PvcLost, ReadyReason::PvcLost)
            } else {
                (VirtualImagePhase::ImageLost, ReadyReason::ImageLost)
            };
            (
                phase,
                cond(
                    Type::Ready,
                    ConditionStatus::False,
                    &reason,
                    message.clone(),
                ),
            )
        }
    };
    set_condition(&mut view.conditions, ready);

    // InUse: VMs that use the image.
    if input.vm_users.is_empty() {
        if view.conditions.iter().any(|c| c.type_ == "InUse") {
            set_condition(
                &mut view.conditions,
                cond(
                    Type::InUse,
                    ConditionStatus::False,
                    &InUseReason::NotInUse,
                    String::new(),
                ),
            );
        }
    } else {
        set_condition(
            &mut view.conditions,
            cond(
                Type::InUse,
                ConditionStatus::True,
                &InUseReason::AttachedToVirtualMachine,
                format!("used by {}", input.vm_users.join(", ")),
            ),
        );
    }

    view.phase = Some(phase);
    if input.deleting {
        view.phase = Some(VirtualImagePhase::Terminating);
        if input.blockers.is_empty() {
            remove_condition(&mut view.conditions, Type::Terminating.as_str());
        } else {
            set_condition(
                &mut view.conditions,
                cond(
                    Type::Terminating,
                    ConditionStatus::True,
                    &TerminatingReason::CleanupPending,
                    format!("deletion waits: {}", input.blockers.join("; ")),
                ),
            );
        }
    }
    view.observed_generation = generation;
    view
}

/// Phase changes worth an Event: `(type is warning, reason, message)`.
pub fn transition_event(
    before: Option<&VirtualImagePhase>,
    after: &ImageView,
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
        VirtualImagePhase::Provisioning => (
            false,
            "DataSourceImportStarted",
            "the import of the image data has started".to_string(),
        ),
        VirtualImagePhase::WaitForUserUpload => (
            false,
            "WaitForUserUpload",
            "waiting for the image to be uploaded to status.imageUploadURLs".to_string(),
        ),
        VirtualImagePhase::Ready => {
            let sizes = after
                .size
                .as_ref()
                .map(|s| {
                    format!(
                        ": {} stored, {} unpacked",
                        s.stored.clone().unwrap_or_default(),
                        s.unpacked.clone().unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            (
                false,
                "DataSourceImportCompleted",
                format!("the image is ready{sizes}"),
            )
        }
        VirtualImagePhase::Failed => (true, "DataSourceImportFailed", ready_message),
        VirtualImagePhase::ImageLost => (true, "ImageLost", ready_message),
        VirtualImagePhase::PvcLost => (true, "PVCLost", ready_message),
        VirtualImagePhase::Terminating | VirtualImagePhase::Pending => return None,
    })
}

/// `(done / total)` as the PROGRESS column shows it while the upload or import runs.
pub fn percent(fraction: f64) -> String {
    dvp_importer::progress::format_percent(fraction)
}

/// The condition `Ready` is `True`.
pub fn is_ready(view: &ImageView) -> bool {
    view.phase == Some(VirtualImagePhase::Ready)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dvp_dvcr::DiskFormat;

    fn t(s: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(s).unwrap())
    }

    fn input(p: Provisioning) -> ImageInput {
        ImageInput {
            generation: Some(1),
            deleting: false,
            cluster_wide: false,
            storage_class: StorageClass::Dvcr,
            datasource: Datasource::Ready,
            provisioning: p,
            source_uid: None,
            blockers: vec![],
            vm_users: vec![],
        }
    }

    fn ready_facts(format: DiskFormat) -> Provisioning {
        Provisioning::Ready {
            facts: ImageFacts {
                format,
                stored_bytes: 300 << 20,
                unpacked_bytes: 2 << 30,
                source_format: "qcow2".into(),
            },
            registry_url: Some("127.0.0.1:6443/vi/ns/x:u".into()),
            pvc_name: None,
        }
    }

    fn cond<'a>(v: &'a ImageView, t: &str) -> &'a Condition {
        v.conditions.iter().find(|c| c.type_ == t).unwrap()
    }

    #[test]
    fn nothing_started_is_pending() {
        let v = compute(
            &ImageView::default(),
            &input(Provisioning::NotStarted {
                message: "waiting".into(),
            }),
            t(1),
        );
        assert_eq!(v.phase, Some(VirtualImagePhase::Pending));
        assert_eq!(cond(&v, "Ready").reason, "ProvisioningNotStarted");
        assert_eq!(v.observed_generation, Some(1));
    }

    #[test]
    fn an_import_in_progress_shows_its_progress() {
        let v = compute(
            &ImageView::default(),
            &input(Provisioning::InProgress {
                progress: Some("28.2%".into()),
                speed: None,
                message: "importing".into(),
            }),
            t(1),
        );
        assert_eq!(v.phase, Some(VirtualImagePhase::Provisioning));
        assert_eq!(v.progress.as_deref(), Some("28.2%"));
        assert_eq!(cond(&v, "Ready").reason, "Provisioning");
    }

    #[test]
    fn a_ready_image_has_sizes_format_url_and_full_progress() {
        let v = compute(
            &ImageView::default(),
            &input(ready_facts(DiskFormat::Qcow2)),
            t(1),
        );
        assert_eq!(v.phase, Some(VirtualImagePhase::Ready));
        assert_eq!(v.progress.as_deref(), Some("100%"));
        assert!(!v.cdrom);
        assert_eq!(v.format.as_deref(), Some("qcow2"));
        assert_eq!(v.size.as_ref().unwrap().unpacked.as_deref(), Some("2Gi"));
        assert_eq!(v.registry_url.as_deref(), Some("127.0.0.1:6443/vi/ns/x:u"));
        assert_eq!(cond(&v, "Ready").status, "True");
    }

    #[test]
    fn an_iso_is_a_cdrom() {
        let v = compute(
            &ImageView::default(),
            &input(ready_facts(DiskFormat::Iso)),
            t(1),
        );
        assert!(v.cdrom);
        assert_eq!(v.format.as_deref(), Some("iso"));
    }

    #[test]
    fn a_failed_pull_of_a_namespaced_image_says_image_pull_failed() {
        let v = compute(
            &ImageView::default(),
            &input(Provisioning::Failed {
                pull_failed: true,
                message: "no /disk/".into(),
            }),
            t(1),
        );
        assert_eq!(v.phase, Some(VirtualImagePhase::Failed));
        assert_eq!(cond(&v, "Ready").reason, "ImagePullFailed");
        assert_eq!(cond(&v, "Ready").message, "no /disk/");
        let mut i = input(Provisioning::Failed {
            pull_failed: true,
            message: "x".into(),
        });
        i.cluster_wide = true;
        let v = compute(&ImageView::default(), &i, t(1));
        assert_eq!(cond(&v, "Ready").reason, "ProvisioningFailed");
    }

    #[test]
    fn waiting_for_an_upload_publishes_the_urls() {
        let urls = ImageUploadUrls {
            external: Some("https://h:1/upload/t".into()),
            in_cluster: Some("https://h:1/upload/t".into()),
        };
        let v = compute(
            &ImageView::default(),
            &input(Provisioning::WaitingForUpload { urls: urls.clone() }),
            t(1),
        );
        assert_eq!(v.phase, Some(VirtualImagePhase::WaitForUserUpload));
        assert_eq!(v.upload_urls, Some(urls));
        let later = compute(&v, &input(ready_facts(DiskFormat::Qcow2)), t(2));
        assert_eq!(later.upload_urls, None);
    }

    #[test]
    fn an_upload_timeout_fails_with_its_reason() {
        let v = compute(
            &ImageView::default(),
            &input(Provisioning::UploadTimedOut {
                message: "no upload within 10m0s".into(),
            }),
            t(1),
        );
        assert_eq!(v.phase, Some(VirtualImagePhase::Failed));
        assert_eq!(cond(&v, "Ready").reason, "WaitForUserUploadTimeout");
    }

    #[test]
    fn a_missing_source_keeps_the_image_pending_with_the_reason() {
        let mut i = input(Provisioning::NotStarted {
            message: "waiting for the source".into(),
        });
        i.datasource = Datasource::NotReady {
            reason: DatasourceReadyReason::ImageNotReady,
            message: "VirtualImage ns/a is not ready".into(),
        };
        let v = compute(&ImageView::default(), &i, t(1));
        assert_eq!(v.phase, Some(VirtualImagePhase::Pending));
        assert_eq!(cond(&v, "DatasourceReady").reason, "ImageNotReady");
    }

    #[test]
    fn a_storage_class_problem_keeps_a_pvc_image_pending() {
        let mut i = input(Provisioning::NotStarted {
            message: String::new(),
        });
        i.storage_class = StorageClass::Problem("storage class not found".into());
        let v = compute(&ImageView::default(), &i, t(1));
        assert_eq!(v.phase, Some(VirtualImagePhase::Pending));
        assert_eq!(cond(&v, "StorageClassReady").status, "False");
        assert_eq!(cond(&v, "Ready").reason, "StorageClassNotReady");
    }

    #[test]
    fn a_lost_image_says_so() {
        let v = compute(
            &ImageView::default(),
            &input(Provisioning::Lost {
                pvc: false,
                message: "gone from DVCR".into(),
            }),
            t(1),
        );
        assert_eq!(v.phase, Some(VirtualImagePhase::ImageLost));
        let v = compute(
            &ImageView::default(),
            &input(Provisioning::Lost {
                pvc: true,
                message: "pvc gone".into(),
            }),
            t(1),
        );
        assert_eq!(v.phase, Some(VirtualImagePhase::PvcLost));
    }

    #[test]
    fn deletion_waiting_for_users_is_terminating_with_cleanup_pending() {
        let mut i = input(ready_facts(DiskFormat::Qcow2));
        i.deleting = true;
        i.blockers = vec!["VirtualDisk ns/d is being created from it".into()];
        let v = compute(&ImageView::default(), &i, t(1));
        assert_eq!(v.phase, Some(VirtualImagePhase::Terminating));
        assert!(cond(&v, "Terminating").message.contains("ns/d"));
    }

    #[test]
    fn reconciling_twice_changes_nothing() {
        let i = input(ready_facts(DiskFormat::Qcow2));
        let first = compute(&ImageView::default(), &i, t(1));
        assert_eq!(compute(&first, &i, t(50)), first);
    }

    #[test]
    fn phase_changes_make_events_and_repeats_do_not() {
        let v = compute(
            &ImageView::default(),
            &input(ready_facts(DiskFormat::Qcow2)),
            t(1),
        );
        let (warning, reason, message) = transition_event(None, &v).unwrap();
        assert!(!warning);
        assert_eq!(reason, "DataSourceImportCompleted");
        assert!(message.contains("300Mi stored"), "{message}");
        assert!(transition_event(Some(&VirtualImagePhase::Ready), &v).is_none());
    }
}

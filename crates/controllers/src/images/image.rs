//! The reconciler VirtualImage and ClusterVirtualImage share. Each reconcile reads the object
//! and what it depends on into [`Observed`], then computes the status
//! ([`super::status::compute`]) and writes it once; Events mark phase changes.
//!
//! Steps, in order: deletion (wait for users, then remove the DVCR image, the volume and the
//! finalizer), the finalizer, the data (already in DVCR / on its volume, the running import,
//! or a new import from the data source), the volume of a PVC-backed image, the status.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dvp_api::conditions::vi::DatasourceReadyReason;
use dvp_api::kinds::virtual_image::VirtualImagePhase;
use dvp_api::kinds::{VirtualDisk, VirtualMachine};
use dvp_dvcr::DiskFormat;
use dvp_storage::SourceFormat;
use dvp_storage::VolumeSource;
use dvp_storage::names::SELECTED_NODE_ANNOTATION;
use dvp_storage::objects::{ClaimParams, build_claim};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::facts::ImageFacts;
use super::finalizer;
use super::import::{self, Feed, Outcome, Target};
use super::refs::{self, Location, Resolved};
use super::source::{SourceError, SourceSpec};
use super::status::{self, Datasource, ImageInput, ImageView, Provisioning, StorageClass};
use super::storage_class::{self, Consumer};
use super::tasks::Notify;
use super::users;
use super::{Services, volumes};
use crate::Context;
use crate::events::EventType;

/// Annotation on the volume of a PVC-backed image: the image's facts.
pub const FACTS_ANNOTATION: &str = "virtualization.deckhouse.io/image-facts";

/// What differs between VirtualImage and ClusterVirtualImage.
pub trait ImageKind:
    Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + Debug + Send + Sync + 'static
{
    type Status: Serialize + PartialEq + Send + Sync;
    /// `VirtualImage`.
    const KIND: &'static str;
    /// `virtualization.deckhouse.io/vi-protection`.
    const FINALIZER: &'static str;
    fn source(&self) -> Result<SourceSpec, SourceError>;
    /// The DVCR repository of the image.
    fn repo(&self) -> String;
    /// `Some(spec class)` when the image is kept on a volume.
    fn pvc_storage(&self) -> Option<Option<String>>;
    fn view(&self) -> ImageView;
    fn current_status(&self) -> Option<&Self::Status>;
    fn status_from(view: ImageView) -> Self::Status;
    fn notifier(services: &Services, obj: &Self) -> Notify;
    /// The API handle of the object's scope.
    fn api(client: &kube::Client, obj: &Self) -> Api<Self>;
    /// Namespaces using the image (cluster images only).
    fn used_in_namespaces(
        &self,
        _disks: &[Arc<VirtualDisk>],
        _vms: &[Arc<VirtualMachine>],
    ) -> Vec<String> {
        Vec::new()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error(transparent)]
    Status(#[from] crate::status::StatusError),
}

/// An image controller's context: the shared one, the image services and caches of disks and
/// VMs (the image's users).
pub struct ImageCtx {
    pub ctx: Arc<Context>,
    pub services: Arc<Services>,
    pub disks: Store<VirtualDisk>,
    pub vms: Store<VirtualMachine>,
}

/// What one reconcile found out.
struct Observed {
    storage_class: StorageClass,
    datasource: Datasource,
    provisioning: Provisioning,
    source_uid: Option<String>,
    requeue: Duration,
}

impl Observed {
    fn new(provisioning: Provisioning, requeue: Duration) -> Observed {
        Observed {
            storage_class: StorageClass::Dvcr,
            datasource: Datasource::Ready,
            provisioning,
            source_uid: None,
            requeue,
        }
    }
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

fn owner_of<K: ImageKind>(obj: &K) -> String {
    match obj.namespace() {
        Some(ns) => format!("{} {ns}/{}", K::KIND, obj.name_any()),
        None => format!("{} {}", K::KIND, obj.name_any()),
    }
}

pub async fn reconcile<K: ImageKind>(obj: Arc<K>, cx: Arc<ImageCtx>) -> Result<Action, Error> {
    let client = cx.ctx.client.clone();
    let api = K::api(&client, obj.as_ref());
    let uid = obj.uid().unwrap_or_default();
    let name = obj.name_any();
    let namespace = obj.namespace();
    let generation = obj.meta().generation.unwrap_or(0);
    let previous = obj.view();
    let deleting = obj.meta().deletion_timestamp.is_some();
    let disks = cx.disks.state();
    let vms = cx.vms.state();
    let vm_users = users::vms_holding_image(&vms, namespace.as_deref(), &name);

    if deleting {
        cx.services.imports.cancel(&uid);
        cx.services.uploads.discard(&uid);
        if !obj.finalizers().iter().any(|f| f == K::FINALIZER) {
            return Ok(Action::await_change());
        }
        let mut blockers = users::image_deletion_blockers(
            &disks,
            namespace.as_deref(),
            &name,
            &uid,
            obj.pvc_storage()
                .and(previous.storage_class_name.as_deref()),
        );
        blockers.extend(
            vm_users
                .iter()
                .map(|vm| format!("the virtual machine {vm} uses it")),
        );
        if blockers.is_empty() {
            cleanup(&cx, obj.as_ref(), &uid).await?;
            finalizer::set(&api, obj.as_ref(), K::FINALIZER, false).await?;
            return Ok(Action::await_change());
        }
        let input = ImageInput {
            generation: previous.observed_generation,
            deleting: true,
            cluster_wide: namespace.is_none(),
            storage_class: match &previous.storage_class_name {
                Some(class) => StorageClass::Chosen(class.clone()),
                None => StorageClass::Dvcr,
            },
            datasource: Datasource::Ready,
            provisioning: Provisioning::NotStarted {
                message: String::new(),
            },
            source_uid: None,
            blockers,
            vm_users,
        };
        let mut view = status::compute(&previous, &input, now());
        // Keep what the image was; only the phase and the Terminating condition change.
        view.conditions
            .retain(|c| c.type_ != "Ready" && c.type_ != "DatasourceReady");
        view.conditions.extend(
            previous
                .conditions
                .iter()
                .filter(|c| c.type_ == "Ready" || c.type_ == "DatasourceReady")
                .cloned(),
        );
        write(&cx, &api, obj.as_ref(), &previous, view).await?;
        return Ok(Action::requeue(Duration::from_secs(10)));
    }

    if finalizer::set(&api, obj.as_ref(), K::FINALIZER, true).await? {
        return Ok(Action::await_change());
    }

    let observed = observe(&cx, obj.as_ref(), &uid, generation, &previous).await?;
    let input = ImageInput {
        generation: Some(generation),
        deleting: false,
        cluster_wide: namespace.is_none(),
        storage_class: observed.storage_class,
        datasource: observed.datasource,
        provisioning: observed.provisioning,
        source_uid: observed.source_uid,
        blockers: vec![],
        vm_users,
    };
    let mut view = status::compute(&previous, &input, now());
    view.used_in_namespaces = obj.used_in_namespaces(&disks, &vms);
    write(&cx, &api, obj.as_ref(), &previous, view).await?;
    Ok(Action::requeue(observed.requeue))
}

/// Writes the status and records an Event when the phase changed.
async fn write<K: ImageKind>(
    cx: &ImageCtx,
    api: &Api<K>,
    obj: &K,
    previous: &ImageView,
    view: ImageView,
) -> Result<(), Error> {
    let event = status::transition_event(previous.phase.as_ref(), &view);
    let desired = K::status_from(view);
    match crate::status::write(api, obj, obj.current_status(), &desired).await {
        Ok(_) => {}
        Err(crate::status::StatusError::Conflict) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    if let Some((warning, reason, message)) = event {
        let kind = if warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        cx.ctx.recorder.publish(obj, kind, reason, &message).await;
    }
    Ok(())
}

/// Removes what the image owns: its DVCR tag (blobs go with the next garbage collection, unless
/// a volume still uses them) and its volume.
async fn cleanup<K: ImageKind>(cx: &ImageCtx, obj: &K, uid: &str) -> Result<(), Error> {
    let registry = cx.services.registry.clone();
    let (repo, tag) = (obj.repo(), uid.to_string());
    let _ = tokio::task::spawn_blocking(move || registry.delete_tag(&repo, &tag)).await;
    if obj.pvc_storage().is_some()
        && let Some(ns) = obj.namespace()
    {
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(cx.ctx.client.clone(), &ns);
        let claim = dvp_storage::names::virtual_image_claim_name(&obj.name_any(), uid);
        match claims.delete(&claim, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The image had its data once (so missing data now means it was lost).
fn had_data(previous: &ImageView) -> bool {
    matches!(
        previous.phase,
        Some(VirtualImagePhase::Ready | VirtualImagePhase::ImageLost | VirtualImagePhase::PvcLost)
    )
}

/// A failure recorded in the status for this generation: it stays until the spec changes.
fn kept_failure(previous: &ImageView, generation: i64) -> Option<Provisioning> {
    if previous.phase != Some(VirtualImagePhase::Failed)
        || previous.observed_generation != Some(generation)
    {
        return None;
    }
    let ready = previous.conditions.iter().find(|c| c.type_ == "Ready")?;
    Some(match ready.reason.as_str() {
        "WaitForUserUploadTimeout" => Provisioning::UploadTimedOut {
            message: ready.message.clone(),
        },
        reason => Provisioning::Failed {
            pull_failed: reason == "ImagePullFailed",
            message: ready.message.clone(),
        },
    })
}

/// How long the object has waited for an upload (from its status, so restarts keep the clock).
fn upload_waited(previous: &ImageView, generation: i64) -> Duration {
    if previous.phase != Some(VirtualImagePhase::WaitForUserUpload)
        || previous.observed_generation != Some(generation)
    {
        return Duration::ZERO;
    }
    previous
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .and_then(|c| u64::try_from(c.last_transition_time.0.as_second()).ok())
        .and_then(|secs| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH + Duration::from_secs(secs))
                .ok()
        })
        .unwrap_or_default()
}

/// Observes (and advances) the data of the image.
async fn observe<K: ImageKind>(
    cx: &ImageCtx,
    obj: &K,
    uid: &str,
    generation: i64,
    previous: &ImageView,
) -> Result<Observed, Error> {
    let client = &cx.ctx.client;
    let source = obj.source();
    if !matches!(source, Ok(SourceSpec::Upload { .. })) {
        cx.services.uploads.discard(uid);
    }
    let target = Target {
        repo: obj.repo(),
        uid: uid.to_string(),
        generation,
        owner: owner_of(obj),
        notify: K::notifier(&cx.services, obj),
    };
    let Some(spec_class) = obj.pvc_storage() else {
        return into_dvcr(cx, &target, source, previous).await;
    };

    // Kept on a volume: the volume decides once it exists.
    let ns = obj.namespace().unwrap_or_default();
    let claim_name = dvp_storage::names::virtual_image_claim_name(&obj.name_any(), uid);
    let claim = volumes::observe(client, &ns, &claim_name).await?;
    if let Some((claim, state)) = &claim {
        let class = StorageClass::Chosen(state.storage_class.clone().unwrap_or_default());
        if state.bound {
            let facts = claim
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(FACTS_ANNOTATION))
                .and_then(|t| ImageFacts::from_annotation(t));
            let registry = cx.services.registry.clone();
            let (repo, tag) = (target.repo.clone(), uid.to_string());
            let _ = tokio::task::spawn_blocking(move || registry.delete_tag(&repo, &tag)).await;
            let mut observed = match facts {
                Some(facts) => Observed::new(
                    Provisioning::Ready {
                        facts,
                        registry_url: None,
                        pvc_name: Some(claim_name.clone()),
                    },
                    Duration::from_secs(60),
                ),
                None => Observed::new(
                    Provisioning::Failed {
                        pull_failed: false,
                        message: format!(
                            "the volume {claim_name} lost the annotation {FACTS_ANNOTATION}; recreate the image"
                        ),
                    },
                    Duration::from_secs(300),
                ),
            };
            observed.storage_class = class;
            observed.source_uid = previous.source_uid.clone();
            return Ok(observed);
        }
        let mut observed = Observed::new(
            Provisioning::InProgress {
                progress: None,
                speed: None,
                message: format!("copying the image to its volume {claim_name}"),
            },
            Duration::from_secs(10),
        );
        observed.storage_class = class;
        observed.source_uid = previous.source_uid.clone();
        return Ok(observed);
    }
    if had_data(previous) {
        let mut observed = Observed::new(
            Provisioning::Lost {
                pvc: true,
                message: format!("the volume {claim_name} holding the image is gone"),
            },
            Duration::from_secs(60),
        );
        observed.storage_class =
            StorageClass::Chosen(previous.storage_class_name.clone().unwrap_or_default());
        return Ok(observed);
    }
    let chosen =
        match storage_class::resolve(client, Consumer::Image, spec_class.as_deref()).await? {
            Ok(c) => c,
            Err(message) => {
                let mut observed = Observed::new(
                    Provisioning::NotStarted {
                        message: message.clone(),
                    },
                    Duration::from_secs(10),
                );
                observed.storage_class = StorageClass::Problem(message);
                return Ok(observed);
            }
        };
    let mut observed = into_dvcr(cx, &target, source, previous).await?;
    observed.storage_class = StorageClass::Chosen(chosen.name.clone());
    if let Provisioning::Ready { facts, .. } = &observed.provisioning {
        // The data is in DVCR: copy it onto the image's own volume.
        let Ok(Some(image)) = cx.services.registry.read_disk_image(&target.repo, uid) else {
            return Ok(observed);
        };
        let mut claim = build_claim(&ClaimParams {
            name: claim_name.clone(),
            namespace: ns.clone(),
            storage_class: chosen.name.clone(),
            size: facts
                .unpacked_bytes
                .div_ceil(512)
                .saturating_mul(512)
                .to_string(),
            access_mode: chosen.access_mode,
            source: VolumeSource::Copy {
                path: image.disk_path.clone(),
                format: match facts.format {
                    DiskFormat::Qcow2 => SourceFormat::Qcow2,
                    DiskFormat::Iso => SourceFormat::Raw,
                },
            },
            owner: Some(owner_reference(obj)),
        });
        let annotations = claim
            .metadata
            .annotations
            .get_or_insert_with(Default::default);
        annotations.insert(FACTS_ANNOTATION.to_string(), facts.to_annotation());
        if chosen.binding == dvp_storage::classes::BindingMode::WaitForFirstConsumer {
            // An image has no consumer of its own: its volume lives where the platform runs.
            annotations.insert(
                SELECTED_NODE_ANNOTATION.to_string(),
                dvp_storage::provisioners::this_node_name(),
            );
        }
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
        match claims.create(&PostParams::default(), &claim).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
        observed.provisioning = Provisioning::InProgress {
            progress: Some("100%".to_string()),
            speed: None,
            message: format!("copying the image to its volume {claim_name}"),
        };
        observed.requeue = Duration::from_secs(5);
    }
    Ok(observed)
}

/// The owner reference a claim of `obj` carries (so the claim goes with it).
fn owner_reference<K: ImageKind>(obj: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: obj.name_any(),
        uid: obj.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Observes (and advances) the image's data in DVCR.
async fn into_dvcr(
    cx: &ImageCtx,
    target: &Target,
    source: Result<SourceSpec, SourceError>,
    previous: &ImageView,
) -> Result<Observed, Error> {
    let services = &cx.services;
    let uploaded = matches!(source, Ok(SourceSpec::Upload { .. }));
    if let Some(outcome) = import::observe(services, target, uploaded) {
        return Ok(from_outcome(services, target, outcome, previous));
    }
    if had_data(previous) {
        return Ok(Observed::new(
            Provisioning::Lost {
                pvc: false,
                message: format!(
                    "the image is missing from DVCR ({}); it becomes Ready again if it reappears",
                    services.registry_url(&target.repo, &target.uid)
                ),
            },
            Duration::from_secs(30),
        ));
    }
    if let Some(failed) = kept_failure(previous, target.generation) {
        return Ok(Observed::new(failed, Duration::from_secs(300)));
    }
    let source = match source {
        Ok(s) => s,
        Err(e) => {
            return Ok(Observed::new(
                Provisioning::Failed {
                    pull_failed: false,
                    message: e.to_string(),
                },
                Duration::from_secs(300),
            ));
        }
    };
    let mut source_uid = None;
    let feed = match source {
        SourceSpec::Blank => {
            return Ok(Observed::new(
                Provisioning::Failed {
                    pull_failed: false,
                    message: "an image needs a dataSource".to_string(),
                },
                Duration::from_secs(300),
            ));
        }
        SourceSpec::Http {
            url,
            checksum,
            ca_bundle,
        } => Feed::Http {
            url,
            checksum,
            ca_bundle,
        },
        SourceSpec::ContainerImage {
            image,
            pull_secret,
            ca_bundle,
        } => Feed::ContainerImage {
            image,
            pull_secret,
            ca_bundle,
        },
        SourceSpec::Upload { checksum } => Feed::Upload {
            checksum,
            waited: upload_waited(previous, target.generation),
        },
        SourceSpec::ObjectRef(r) => {
            let vms = cx.vms.state();
            match refs::resolve(&cx.ctx.client, services, &r, &vms).await? {
                Resolved::NotFound { message } => {
                    let reason = match r.kind {
                        super::source::RefKind::ClusterVirtualImage => {
                            DatasourceReadyReason::ClusterImageNotReady
                        }
                        super::source::RefKind::VirtualDisk => {
                            DatasourceReadyReason::VirtualDiskNotReady
                        }
                        _ => DatasourceReadyReason::ImageNotReady,
                    };
                    return Ok(waiting_for_source(reason, message));
                }
                Resolved::NotReady { reason, message } => {
                    let reason = DatasourceReadyReason::parse(reason)
                        .unwrap_or(DatasourceReadyReason::ImageNotReady);
                    return Ok(waiting_for_source(reason, message));
                }
                Resolved::Unsupported { message } => {
                    return Ok(Observed::new(
                        Provisioning::Failed {
                            pull_failed: false,
                            message,
                        },
                        Duration::from_secs(300),
                    ));
                }
                Resolved::Ready {
                    uid,
                    facts,
                    location,
                } => {
                    source_uid = Some(uid);
                    match (location, facts) {
                        (Location::Blob(path), Some(facts)) => Feed::Blob { path, facts },
                        (Location::Blob(path), None) | (Location::Volume { path, .. }, _) => {
                            Feed::Volume { path }
                        }
                    }
                }
            }
        }
    };
    let outcome = import::start(services, &cx.ctx.client, target, feed).await?;
    let mut observed = from_outcome(services, target, outcome, previous);
    observed.source_uid = source_uid;
    Ok(observed)
}

fn waiting_for_source(reason: DatasourceReadyReason, message: String) -> Observed {
    let mut observed = Observed::new(
        Provisioning::NotStarted {
            message: format!("waiting for the data source: {message}"),
        },
        Duration::from_secs(10),
    );
    observed.datasource = Datasource::NotReady { reason, message };
    observed
}

fn from_outcome(
    services: &Services,
    target: &Target,
    outcome: Outcome,
    previous: &ImageView,
) -> Observed {
    let mut observed = match outcome {
        Outcome::Present { facts, .. } => Observed::new(
            Provisioning::Ready {
                facts,
                registry_url: Some(services.registry_url(&target.repo, &target.uid)),
                pvc_name: None,
            },
            Duration::from_secs(60),
        ),
        Outcome::Running {
            progress,
            speed,
            message,
        } => Observed::new(
            Provisioning::InProgress {
                progress,
                speed,
                message,
            },
            Duration::from_secs(30),
        ),
        Outcome::Blocked { reason, message } => waiting_for_source(
            DatasourceReadyReason::parse(reason)
                .unwrap_or(DatasourceReadyReason::ContainerRegistrySecretNotFound),
            message,
        ),
        Outcome::WaitingForUpload { urls, deadline } => {
            let requeue = deadline
                .map(|d| {
                    d.saturating_duration_since(std::time::Instant::now())
                        + Duration::from_millis(200)
                })
                .unwrap_or(Duration::from_secs(30));
            Observed::new(Provisioning::WaitingForUpload { urls }, requeue)
        }
        Outcome::UploadTimedOut { message } => Observed::new(
            Provisioning::UploadTimedOut { message },
            Duration::from_secs(300),
        ),
        Outcome::Failed {
            pull_failed,
            message,
        } => Observed::new(
            Provisioning::Failed {
                pull_failed,
                message,
            },
            Duration::from_secs(300),
        ),
    };
    observed.source_uid = previous.source_uid.clone();
    observed
}

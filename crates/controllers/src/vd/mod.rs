//! VirtualDisk: a VM disk on a volume of a StorageClass. Blank, made from an image (a
//! copy-on-write overlay on the image's DVCR blob or volume), or from HTTP, a container image or
//! an upload (imported into DVCR as `vd/<ns>/<name>:<uid>` first, then the same overlay).
//!
//! Each reconcile reads the disk and what it depends on into a [`decide::DiskInput`], lets
//! [`decide::decide`] choose the status and the next claim action, takes the action, and
//! writes the status once. Steps, in order: deletion (wait for users, then remove the claim,
//! the DVCR image and the finalizer), the finalizer, the claim (existing: it decides; missing:
//! the data source and the StorageClass decide whether to create it), the status.

pub mod decide;

use std::sync::Arc;
use std::time::Duration;

use dvp_api::conditions::vd::DatasourceReadyReason;
use dvp_api::kinds::virtual_disk::{VirtualDiskPhase, VirtualDiskStatus};
use dvp_api::kinds::{ClusterVirtualImage, VirtualDisk, VirtualImage, VirtualMachine};
use dvp_storage::objects::{ClaimParams, build_claim, quantity_bytes};
use futures::StreamExt;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::Context;
use crate::events::EventType;
use crate::images::import::{self, Feed, Outcome, Target};
use crate::images::refs::{self, Resolved};
use crate::images::source::{RefKind, SourceSpec};
use crate::images::storage_class::{self, Consumer};
use crate::images::{Services, finalizer, users, volumes};
use decide::{ClaimAction, ClassState, DataState, DiskInput};

/// Held while the disk is in use (a VM, an export, an image being made from it).
pub const FINALIZER: &str = "virtualization.deckhouse.io/vd-protection";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error(transparent)]
    Status(#[from] crate::status::StatusError),
}

struct DiskCtx {
    ctx: Arc<Context>,
    services: Arc<Services>,
    images: Store<VirtualImage>,
    cluster_images: Store<ClusterVirtualImage>,
    vms: Store<VirtualMachine>,
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

fn age(vd: &VirtualDisk) -> Duration {
    vd.meta()
        .creation_timestamp
        .as_ref()
        .and_then(|t| {
            let secs = k8s_openapi::jiff::Timestamp::now().as_second() - t.0.as_second();
            u64::try_from(secs).ok()
        })
        .map(Duration::from_secs)
        .unwrap_or_default()
}

fn owner_reference(vd: &VirtualDisk) -> OwnerReference {
    OwnerReference {
        api_version: VirtualDisk::api_version(&()).into_owned(),
        kind: VirtualDisk::kind(&()).into_owned(),
        name: vd.name_any(),
        uid: vd.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// `spec.persistentVolumeClaim.size` in bytes.
fn spec_size(vd: &VirtualDisk) -> Result<Option<u64>, String> {
    match vd
        .spec
        .persistent_volume_claim
        .as_ref()
        .and_then(|p| p.size.as_deref())
    {
        None => Ok(None),
        Some(text) => quantity_bytes(text)
            .map(Some)
            .map_err(|e| format!("spec.persistentVolumeClaim.size: {e}")),
    }
}

/// A failed import recorded for this generation stays until the spec changes (the spec is
/// all the import depends on).
fn kept_failure(previous: &VirtualDiskStatus, generation: i64) -> Option<DataState> {
    if previous.phase != Some(VirtualDiskPhase::Failed)
        || previous.observed_generation != Some(generation)
    {
        return None;
    }
    let ready = previous.conditions.iter().find(|c| c.type_ == "Ready")?;
    match ready.reason.as_str() {
        "WaitForUserUploadTimeout" => Some(DataState::UploadTimedOut {
            message: ready.message.clone(),
        }),
        reason => Some(DataState::Failed {
            pull_failed: reason == "ImagePullFailed",
            message: ready.message.clone(),
        }),
    }
}

fn upload_waited(previous: &VirtualDiskStatus, generation: i64) -> Duration {
    if previous.phase != Some(VirtualDiskPhase::WaitForUserUpload)
        || previous.observed_generation != Some(generation)
    {
        return Duration::ZERO;
    }
    previous
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| {
            k8s_openapi::jiff::Timestamp::now().as_second() - c.last_transition_time.0.as_second()
        })
        .and_then(|s| u64::try_from(s).ok())
        .map(Duration::from_secs)
        .unwrap_or_default()
}

fn from_outcome(outcome: Outcome) -> DataState {
    match outcome {
        Outcome::Present {
            facts,
            blob,
            duration,
        } => DataState::Ready {
            facts: Some(facts),
            location: refs::Location::Blob(blob),
            dvcr_duration: duration,
        },
        Outcome::Running {
            progress,
            speed,
            message,
        } => DataState::Importing {
            progress,
            speed,
            message,
        },
        Outcome::Blocked { reason, message } => DataState::Waiting {
            reason: DatasourceReadyReason::parse(reason)
                .unwrap_or(DatasourceReadyReason::ContainerRegistrySecretNotFound),
            not_found: false,
            message,
        },
        Outcome::WaitingForUpload { urls, .. } => DataState::WaitingForUpload { urls },
        Outcome::UploadTimedOut { message } => DataState::UploadTimedOut { message },
        Outcome::Failed {
            pull_failed,
            message,
        } => DataState::Failed {
            pull_failed,
            message,
        },
    }
}

/// Where the disk's data comes from, advancing its import when it has one.
async fn observe_data(
    cx: &DiskCtx,
    vd: &VirtualDisk,
    uid: &str,
    generation: i64,
    previous: &VirtualDiskStatus,
) -> Result<(DataState, Option<String>), Error> {
    let ns = vd.namespace().unwrap_or_default();
    let name = vd.name_any();
    let services = &cx.services;
    let source = match SourceSpec::of_disk(vd, &ns) {
        Ok(s) => s,
        Err(e) => {
            return Ok((
                DataState::Failed {
                    pull_failed: false,
                    message: e.to_string(),
                },
                None,
            ));
        }
    };
    if !matches!(source, SourceSpec::Upload { .. }) {
        services.uploads.discard(uid);
    }
    let target = Target {
        repo: dvp_dvcr::vd_repository(&ns, &name),
        uid: uid.to_string(),
        generation,
        owner: format!("VirtualDisk {ns}/{name}"),
        notify: services.vd_notifier(&ns, &name),
    };
    let feed = match source {
        SourceSpec::Blank => return Ok((DataState::Blank, None)),
        SourceSpec::ObjectRef(r) => {
            let vms = cx.vms.state();
            let resolved = refs::resolve(&cx.ctx.client, services, &r, &vms).await?;
            let cluster = r.kind == RefKind::ClusterVirtualImage;
            return Ok(match resolved {
                Resolved::NotFound { message } => (
                    DataState::Waiting {
                        reason: if cluster {
                            DatasourceReadyReason::ClusterImageNotFound
                        } else {
                            DatasourceReadyReason::ImageNotFound
                        },
                        not_found: true,
                        message,
                    },
                    None,
                ),
                Resolved::NotReady { message, .. } => (
                    DataState::Waiting {
                        reason: if cluster {
                            DatasourceReadyReason::ClusterImageNotReady
                        } else {
                            DatasourceReadyReason::ImageNotReady
                        },
                        not_found: false,
                        message,
                    },
                    None,
                ),
                Resolved::Unsupported { message } => (
                    DataState::Failed {
                        pull_failed: false,
                        message,
                    },
                    None,
                ),
                Resolved::Ready {
                    uid,
                    facts,
                    location,
                } => (
                    DataState::Ready {
                        facts,
                        location,
                        dvcr_duration: None,
                    },
                    Some(uid),
                ),
            });
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
            waited: upload_waited(previous, generation),
        },
    };
    let uploaded = matches!(feed, Feed::Upload { .. });
    if let Some(outcome) = import::observe(services, &target, uploaded) {
        return Ok((from_outcome(outcome), None));
    }
    if let Some(failed) = kept_failure(previous, generation) {
        return Ok((failed, None));
    }
    let outcome = import::start(services, &cx.ctx.client, &target, feed).await?;
    Ok((from_outcome(outcome), None))
}

async fn reconcile(vd: Arc<VirtualDisk>, cx: Arc<DiskCtx>) -> Result<Action, Error> {
    let client = cx.ctx.client.clone();
    let ns = vd.namespace().unwrap_or_default();
    let name = vd.name_any();
    let uid = vd.uid().unwrap_or_default();
    let generation = vd.meta().generation.unwrap_or(0);
    let api: Api<VirtualDisk> = Api::namespaced(client.clone(), &ns);
    let previous = vd.status.clone().unwrap_or_default();
    let claim_name = dvp_storage::names::virtual_disk_claim_name(&name, &uid);
    let services = &cx.services;

    let vms = cx.vms.state();
    let vm_refs: Vec<(String, bool)> = vms
        .iter()
        .filter(|vm| vm.namespace().as_deref() == Some(ns.as_str()))
        .filter(|vm| {
            vm.spec
                .block_device_refs
                .iter()
                .any(|r| r.kind.as_str() == "VirtualDisk" && r.name == name)
        })
        .map(|vm| (vm.name_any(), users::vm_holds_its_disks(vm)))
        .collect();
    let image_users =
        users::images_reading_disk(&cx.images.state(), &cx.cluster_images.state(), &ns, &name);
    let exporting = services.exports.is_active(&uid);
    let deleting = vd.meta().deletion_timestamp.is_some();

    let mut blockers = Vec::new();
    if deleting {
        services.imports.cancel(&uid);
        services.uploads.discard(&uid);
        if !vd.finalizers().iter().any(|f| f == FINALIZER) {
            return Ok(Action::await_change());
        }
        blockers.extend(
            vm_refs
                .iter()
                .filter(|(_, held)| *held)
                .map(|(vm, _)| format!("the virtual machine {vm} uses it")),
        );
        blockers.extend(
            image_users
                .iter()
                .map(|i| format!("{i} is being created from it")),
        );
        if exporting {
            blockers.push("it is being exported".to_string());
        }
        if blockers.is_empty() {
            let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
            match claims.delete(&claim_name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
            let registry = services.registry.clone();
            let (repo, tag) = (dvp_dvcr::vd_repository(&ns, &name), uid.clone());
            let _ = tokio::task::spawn_blocking(move || registry.delete_tag(&repo, &tag)).await;
            finalizer::set(&api, vd.as_ref(), FINALIZER, false).await?;
            return Ok(Action::await_change());
        }
    } else if finalizer::set(&api, vd.as_ref(), FINALIZER, true).await? {
        return Ok(Action::await_change());
    }

    let observed_claim = volumes::observe(&client, &ns, &claim_name).await?;
    let claim_state = observed_claim.as_ref().map(|(_, s)| s.clone());
    let claim_problem = match &observed_claim {
        Some((claim, state)) if !state.bound && !deleting => {
            volumes::claim_problem(&client, claim).await?
        }
        _ => None,
    };
    let spec_class = claim_state
        .as_ref()
        .and_then(|c| c.storage_class.clone())
        .or_else(|| {
            vd.spec
                .persistent_volume_claim
                .as_ref()
                .and_then(|p| p.storage_class_name.clone())
                .filter(|s| !s.is_empty())
        });
    let class = match storage_class::resolve(&client, Consumer::Disk, spec_class.as_deref()).await?
    {
        Ok(c) => ClassState::Chosen(c),
        Err(message) => ClassState::Problem(message),
    };
    let (data, source_uid) = if deleting {
        (DataState::Provisioned, None)
    } else if claim_state.is_some() {
        let blank = vd.spec.data_source.is_none();
        (
            if blank {
                DataState::Blank
            } else {
                DataState::Provisioned
            },
            None,
        )
    } else {
        observe_data(&cx, vd.as_ref(), &uid, generation, &previous).await?
    };
    let input = DiskInput {
        generation: Some(generation),
        age: age(vd.as_ref()),
        deleting,
        spec_size: spec_size(vd.as_ref()),
        class: class.clone(),
        claim_name: claim_name.clone(),
        claim: claim_state,
        claim_problem,
        data,
        source_uid,
        exporting,
        vms: vm_refs,
        image_users,
        blockers,
    };
    let plan = decide::decide(&previous, &input, now());

    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    match (&plan.action, &class) {
        (Some(ClaimAction::Create { size, source }), ClassState::Chosen(chosen)) => {
            let claim = build_claim(&ClaimParams {
                name: claim_name.clone(),
                namespace: ns.clone(),
                storage_class: chosen.name.clone(),
                size: decide::quantity(*size),
                access_mode: chosen.access_mode,
                source: source.clone(),
                owner: Some(owner_reference(vd.as_ref())),
            });
            match claims.create(&PostParams::default(), &claim).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
        }
        (Some(ClaimAction::Grow { size }), _) => {
            let patch = serde_json::json!({
                "spec": {"resources": {"requests": {"storage": decide::quantity(*size)}}}
            });
            claims
                .patch(&claim_name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
        _ => {}
    }

    let event = decide::transition_event(previous.phase.as_ref(), &plan.status);
    match crate::status::write(&api, vd.as_ref(), vd.status.as_ref(), &plan.status).await {
        Ok(_) => {
            if let Some((warning, reason, message)) = event {
                let kind = if warning {
                    EventType::Warning
                } else {
                    EventType::Normal
                };
                cx.ctx
                    .recorder
                    .publish(vd.as_ref(), kind, reason, &message)
                    .await;
            }
        }
        Err(crate::status::StatusError::Conflict) => {}
        Err(e) => return Err(e.into()),
    }
    let requeue = match plan.status.phase {
        Some(VirtualDiskPhase::Ready | VirtualDiskPhase::Failed) => Duration::from_secs(120),
        Some(VirtualDiskPhase::Terminating) => Duration::from_secs(10),
        Some(VirtualDiskPhase::WaitForUserUpload) => services
            .uploads
            .deadline(&uid)
            .map(|d| {
                d.saturating_duration_since(std::time::Instant::now()) + Duration::from_millis(200)
            })
            .unwrap_or(Duration::from_secs(30)),
        _ => Duration::from_secs(15),
    };
    Ok(Action::requeue(requeue))
}

fn error_policy(_: Arc<VirtualDisk>, error: &Error, _: Arc<DiskCtx>) -> Action {
    tracing::warn!(%error, "VirtualDisk reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

/// Runs the VirtualDisk controller until the process stops.
pub async fn run(ctx: Arc<Context>, services: Arc<Services>) {
    let client = ctx.client.clone();
    let disks: Api<VirtualDisk> = Api::all(client.clone());
    let images: Api<VirtualImage> = Api::all(client.clone());
    let cluster_images: Api<ClusterVirtualImage> = Api::all(client.clone());
    let vms: Api<VirtualMachine> = Api::all(client.clone());
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let _ = services.triggers.vd.set(sender);
    let cx = Arc::new(DiskCtx {
        ctx,
        services,
        images: crate::images::cache(images.clone()),
        cluster_images: crate::images::cache(cluster_images.clone()),
        vms: crate::images::cache(vms.clone()),
    });
    let controller = Controller::new(disks, watcher::Config::default());
    let store = controller.store();
    let (by_image, by_cluster_image) = (store.clone(), store.clone());
    let refers = |vd: &VirtualDisk, kind: &str, name: &str| {
        vd.spec
            .data_source
            .as_ref()
            .and_then(|d| d.object_ref.as_ref())
            .is_some_and(|r| r.kind.as_str() == kind && r.name == name)
    };
    controller
        .owns(
            Api::<PersistentVolumeClaim>::all(client.clone()),
            watcher::Config::default(),
        )
        .watches(
            images,
            watcher::Config::default(),
            move |vi: VirtualImage| {
                let ns = vi.namespace().unwrap_or_default();
                let name = vi.name_any();
                let mut out: Vec<ObjectRef<VirtualDisk>> = by_image
                    .state()
                    .into_iter()
                    .filter(|vd| vd.namespace().as_deref() == Some(ns.as_str()))
                    .filter(|vd| refers(vd, "VirtualImage", &name))
                    .map(|vd| ObjectRef::from_obj(vd.as_ref()))
                    .collect();
                // The disk an image is made from shows it in InUse.
                if let Some(r) = vi
                    .spec
                    .data_source
                    .object_ref
                    .as_ref()
                    .filter(|r| r.kind.as_str() == "VirtualDisk")
                {
                    out.push(ObjectRef::new(&r.name).within(&ns));
                }
                out
            },
        )
        .watches(
            cluster_images,
            watcher::Config::default(),
            move |cvi: ClusterVirtualImage| {
                let name = cvi.name_any();
                let mut out: Vec<ObjectRef<VirtualDisk>> = by_cluster_image
                    .state()
                    .into_iter()
                    .filter(|vd| refers(vd, "ClusterVirtualImage", &name))
                    .map(|vd| ObjectRef::from_obj(vd.as_ref()))
                    .collect();
                if let Some(r) = cvi
                    .spec
                    .data_source
                    .object_ref
                    .as_ref()
                    .filter(|r| r.kind.as_str() == "VirtualDisk")
                    && let Some(ns) = &r.namespace
                {
                    out.push(ObjectRef::new(&r.name).within(ns));
                }
                out
            },
        )
        .watches(vms, watcher::Config::default(), |vm: VirtualMachine| {
            let ns = vm.namespace().unwrap_or_default();
            vm.spec
                .block_device_refs
                .iter()
                .filter(|r| r.kind.as_str() == "VirtualDisk")
                .map(|r| ObjectRef::new(&r.name).within(&ns))
                .collect::<Vec<_>>()
        })
        .reconcile_on(UnboundedReceiverStream::new(receiver))
        .run(reconcile, error_policy, cx)
        .for_each(|_| futures::future::ready(()))
        .await;
}

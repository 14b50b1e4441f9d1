//! One reconcile per PersistentVolumeClaim of our StorageClasses: what to do is decided by
//! [`dvp_storage::decide`]; this module does it (files through the provisioner, objects through
//! the API) and tells the user with Events.
//!
//! Provisioning order keeps every step safe to repeat and nothing leaks: the claim gets the
//! volume finalizer first, then the file is made (under a temporary name, renamed when whole),
//! then the PV (pre-bound, with its own finalizer), then the PV's and the claim's status.

use std::sync::Arc;
use std::time::Duration;

use dvp_storage::binding::{ClaimAction, ProvisionerFacts, decide};
use dvp_storage::classes::cluster_default_class;
use dvp_storage::names::{
    BIND_COMPLETED_ANNOTATION, BOUND_BY_CONTROLLER_ANNOTATION, STORAGE_PROVISIONER_ANNOTATION,
    pv_name,
};
use dvp_storage::objects::{
    PvParams, bound_claim_status, build_pv, claim_access_modes, claim_request_text, pv_claim_uid,
    pv_path, pv_status, requested_bytes, with_capacity,
};
use dvp_storage::{Fill, Provisioner, VolumeRequest, VolumeSource};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use super::backoff::Backoff;
use super::release::{add_finalizer, release_volume, remove_finalizer};
use super::{Error, is_conflict};
use crate::Context;
use crate::events::EventType;
use crate::status;

/// The controller's own context: the shared one plus retry delays of failing claims.
struct ClaimCtx {
    ctx: Arc<Context>,
    backoff: Backoff,
}

/// Where a claim's steps act.
struct Claim<'a> {
    ctx: &'a Context,
    api: Api<PersistentVolumeClaim>,
    pvs: Api<PersistentVolume>,
    claim: &'a PersistentVolumeClaim,
}

fn uid(claim: &PersistentVolumeClaim) -> String {
    claim.metadata.uid.clone().unwrap_or_default()
}

fn human(bytes: u64) -> String {
    dvp_apimachinery::quantity::format_bytes_human(bytes)
}

fn describe_source(source: &VolumeSource) -> String {
    match source {
        VolumeSource::Blank => "blank".to_string(),
        VolumeSource::Backing { path, .. } => {
            format!("copy-on-write overlay on {}", path.display())
        }
        VolumeSource::Copy { path, .. } => format!("full copy of {}", path.display()),
    }
}

fn describe_fill(fill: Fill) -> &'static str {
    match fill {
        Fill::Blank => "blank",
        Fill::Overlay => "copy-on-write overlay",
        Fill::Copy => "full copy",
        Fill::Existing => "kept from an earlier attempt",
    }
}

/// A step that failed for a reason the user should see: a Warning Event, the claim stays as it
/// is, and the reconcile is retried after a growing delay.
struct Failure {
    reason: &'static str,
    message: String,
}

impl Claim<'_> {
    async fn event(&self, kind: EventType, reason: &str, message: &str) {
        self.ctx
            .recorder
            .publish(self.claim, kind, reason, message)
            .await;
    }

    /// The claim's PV: the one it names, else the one it would get.
    async fn find_pv(&self) -> Result<Option<PersistentVolume>, kube::Error> {
        let name = self
            .claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| pv_name(&uid(self.claim)));
        self.pvs.get_opt(&name).await
    }

    /// Claims without a class get the cluster's default class, as Kubernetes assigns it
    /// retroactively; returns whether the claim was changed.
    async fn assign_default_class(&self) -> Result<bool, kube::Error> {
        let classes = Api::<StorageClass>::all(self.ctx.client.clone())
            .list(&Default::default())
            .await?
            .items;
        let Some(default) = cluster_default_class(&classes) else {
            return Ok(false);
        };
        let mut updated = self.claim.clone();
        updated
            .spec
            .get_or_insert_with(Default::default)
            .storage_class_name = Some(default.to_string());
        match self
            .api
            .replace(&self.claim.name_any(), &PostParams::default(), &updated)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Marks the claim as ours before any file exists: the finalizer (so its deletion waits for
    /// the cleanup) and the provisioner's name (so the cleanup knows where the files are).
    async fn mark(&self, provisioner: &str) -> Result<PersistentVolumeClaim, kube::Error> {
        let claim = add_finalizer(&self.api, self.claim).await?;
        if claim
            .annotations()
            .get(STORAGE_PROVISIONER_ANNOTATION)
            .map(String::as_str)
            == Some(provisioner)
        {
            return Ok(claim);
        }
        let mut updated = claim.clone();
        updated
            .annotations_mut()
            .insert(STORAGE_PROVISIONER_ANNOTATION.into(), provisioner.into());
        self.api
            .replace(&claim.name_any(), &PostParams::default(), &updated)
            .await
    }

    async fn provision(
        &self,
        class: &StorageClass,
        provisioner: &dyn Provisioner,
        source: VolumeSource,
        node: Option<String>,
    ) -> Result<Result<(), Failure>, Error> {
        let claim = self.mark(provisioner.name()).await?;
        let name = pv_name(&uid(&claim));
        let size = match requested_bytes(&claim) {
            Ok(size) => size,
            Err(e) => {
                return Ok(Err(Failure {
                    reason: "ProvisioningFailed",
                    message: e.to_string(),
                }));
            }
        };
        self.event(
            EventType::Normal,
            "Provisioning",
            &format!(
                "making volume {name}: {}, {}",
                describe_source(&source),
                human(size)
            ),
        )
        .await;
        let request = VolumeRequest {
            class: class.metadata.name.clone().unwrap_or_default(),
            pv_name: name.clone(),
            size,
            source,
        };
        let volume = match provisioner.create(&request).await {
            Ok(volume) => volume,
            Err(e) => {
                return Ok(Err(Failure {
                    reason: "ProvisioningFailed",
                    message: format!("cannot make volume {name}: {e}"),
                }));
            }
        };
        let native = provisioner.access_modes()[0];
        let pv = build_pv(&PvParams {
            claim: &claim,
            class,
            path: &volume.path,
            capacity: volume.capacity,
            access_modes: claim_access_modes(&claim, native),
            node: node.as_deref(),
        });
        let pv = match self.pvs.create(&PostParams::default(), &pv).await {
            Ok(pv) => pv,
            Err(e) if is_conflict(&e) => self.pvs.get(&name).await?,
            Err(e) => return Err(e.into()),
        };
        if pv_claim_uid(&pv) != claim.metadata.uid.as_deref() {
            return Ok(Err(Failure {
                reason: "ProvisioningFailed",
                message: format!("PV {name} exists and belongs to another claim"),
            }));
        }
        self.finish_binding(&claim, &pv).await?;
        self.event(
            EventType::Normal,
            "ProvisioningSucceeded",
            &format!(
                "volume {name} is ready: {}, {} at {}",
                describe_fill(volume.fill),
                human(volume.capacity),
                volume.path.display()
            ),
        )
        .await;
        Ok(Ok(()))
    }

    /// Completes the binding on both sides: PV `Bound`, claim `spec.volumeName` and annotations,
    /// claim status `Bound` with the PV's capacity and access modes.
    async fn finish_binding(
        &self,
        claim: &PersistentVolumeClaim,
        pv: &PersistentVolume,
    ) -> Result<(), Error> {
        let pv_name = pv.name_any();
        if pv.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Bound") {
            let bound = pv_status(pv.status.as_ref(), "Bound");
            status::write(&self.pvs, pv, pv.status.as_ref(), &bound).await?;
        }
        let mut claim = add_finalizer(&self.api, claim).await?;
        let named = claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()) == Some(&pv_name);
        if !named {
            let mut updated = claim.clone();
            updated
                .spec
                .get_or_insert_with(Default::default)
                .volume_name = Some(pv_name);
            let annotations = updated.annotations_mut();
            annotations.insert(BIND_COMPLETED_ANNOTATION.into(), "yes".into());
            annotations.insert(BOUND_BY_CONTROLLER_ANNOTATION.into(), "yes".into());
            claim = self
                .api
                .replace(&claim.name_any(), &PostParams::default(), &updated)
                .await?;
        }
        let desired = bound_claim_status(claim.status.as_ref(), pv);
        status::write(&self.api, &claim, claim.status.as_ref(), &desired).await?;
        Ok(())
    }

    async fn expand(
        &self,
        provisioner: &dyn Provisioner,
        pv: &PersistentVolume,
        size: u64,
    ) -> Result<Result<(), Failure>, Error> {
        let name = pv.name_any();
        let Some(path) = pv_path(pv) else {
            return Ok(Err(Failure {
                reason: "VolumeResizeFailed",
                message: format!("PV {name} does not say where its file is"),
            }));
        };
        self.event(
            EventType::Normal,
            "Resizing",
            &format!("growing volume {name} to {}", human(size)),
        )
        .await;
        let capacity = match provisioner.expand(&path, size).await {
            Ok(capacity) => capacity,
            Err(e) => {
                return Ok(Err(Failure {
                    reason: "VolumeResizeFailed",
                    message: format!("cannot grow volume {name}: {e}"),
                }));
            }
        };
        let grown = with_capacity(pv, capacity, claim_request_text(self.claim));
        let grown = self
            .pvs
            .replace(&name, &PostParams::default(), &grown)
            .await?;
        let desired = bound_claim_status(self.claim.status.as_ref(), &grown);
        status::write(&self.api, self.claim, self.claim.status.as_ref(), &desired).await?;
        self.event(
            EventType::Normal,
            "VolumeResizeSuccessful",
            &format!("volume {name} grew to {}", human(capacity)),
        )
        .await;
        Ok(Ok(()))
    }

    /// The claim is going: remove its volume (or what an interrupted provisioning left), then
    /// let the claim go.
    async fn release(&self, class: Option<&StorageClass>) -> Result<(), Error> {
        let claim_uid = uid(self.claim);
        match self.find_pv().await? {
            Some(pv) if pv_claim_uid(&pv) == Some(claim_uid.as_str()) => {
                release_volume(self.ctx, &pv).await?;
            }
            _ => {
                let provisioner_name = self
                    .claim
                    .annotations()
                    .get(STORAGE_PROVISIONER_ANNOTATION)
                    .cloned()
                    .or_else(|| class.map(|c| c.provisioner.clone()));
                let provisioner = provisioner_name.and_then(|p| self.ctx.storage.get(&p));
                let class_name = self
                    .claim
                    .spec
                    .as_ref()
                    .and_then(|s| s.storage_class_name.clone());
                if let (Some(provisioner), Some(class_name)) = (provisioner, class_name) {
                    let path = provisioner.volume_path(&class_name, &pv_name(&claim_uid))?;
                    provisioner.delete(&path).await?;
                }
            }
        }
        remove_finalizer(&self.api, &self.claim.name_any()).await?;
        Ok(())
    }

    /// The claim's PV is gone: the claim is `Lost`.
    async fn lost(&self, pv: &str) -> Result<(), Error> {
        let mut desired = self.claim.status.clone().unwrap_or_default();
        if desired.phase.as_deref() == Some("Lost") {
            return Ok(());
        }
        desired.phase = Some("Lost".to_string());
        status::write(&self.api, self.claim, self.claim.status.as_ref(), &desired).await?;
        self.event(
            EventType::Warning,
            "ClaimLost",
            &format!("the claim's volume {pv} is gone; its data cannot be recovered"),
        )
        .await;
        Ok(())
    }
}

/// What a reconcile ended with, before it is turned into an [`Action`].
enum Outcome {
    Done,
    Failed(Failure),
}

async fn reconcile(claim: Arc<PersistentVolumeClaim>, cc: Arc<ClaimCtx>) -> Result<Action, Error> {
    let ctx = &cc.ctx;
    let namespace = claim.namespace().unwrap_or_default();
    let c = Claim {
        ctx,
        api: Api::namespaced(ctx.client.clone(), &namespace),
        pvs: Api::all(ctx.client.clone()),
        claim: &claim,
    };
    let class_name = claim
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.clone());
    let class = match class_name.as_deref() {
        Some("") => None,
        Some(name) => {
            Api::<StorageClass>::all(ctx.client.clone())
                .get_opt(name)
                .await?
        }
        None => {
            if claim.metadata.deletion_timestamp.is_none() && c.assign_default_class().await? {
                return Ok(Action::await_change());
            }
            None
        }
    };
    let Some(class) = class else {
        if claim.metadata.deletion_timestamp.is_some() {
            // Its class is gone, but a claim we marked still has files to clean up.
            let ours = claim
                .finalizers()
                .iter()
                .any(|f| f == dvp_storage::names::VOLUME_FINALIZER);
            if ours {
                c.release(None).await?;
            }
            return Ok(Action::await_change());
        }
        if let Some(name) = class_name.filter(|n| !n.is_empty()) {
            let message = format!(
                "storageclass.storage.k8s.io {name:?} not found; create it or use one of kubectl get storageclass"
            );
            c.event(EventType::Warning, "ProvisioningFailed", &message)
                .await;
            return Ok(Action::requeue(cc.backoff.failed(&uid(&claim))));
        }
        return Ok(Action::await_change());
    };
    let provisioner = ctx.storage.get(&class.provisioner);
    let facts = provisioner.map(|p| ProvisionerFacts {
        access_modes: p.access_modes(),
        node_local: p.node_local(),
        this_node: ctx.storage.node_name(),
    });
    let pv = c.find_pv().await?;
    let action = decide(&claim, &class, facts, pv.as_ref());
    let outcome = match (action, provisioner) {
        (ClaimAction::Release, _) => {
            c.release(Some(&class)).await?;
            Outcome::Done
        }
        (ClaimAction::Ignore | ClaimAction::InSync, _) => Outcome::Done,
        (ClaimAction::WaitForConsumer, _) => {
            c.event(
                EventType::Normal,
                "WaitForFirstConsumer",
                "waiting for the first consumer to be placed on a node (annotation volume.kubernetes.io/selected-node) before making the volume",
            )
            .await;
            Outcome::Done
        }
        (ClaimAction::Refuse(problem), _) => Outcome::Failed(Failure {
            reason: "ProvisioningFailed",
            message: problem.to_string(),
        }),
        (ClaimAction::Provision { source, node }, Some(p)) => {
            match c.provision(&class, p, source, node).await? {
                Ok(()) => Outcome::Done,
                Err(failure) => Outcome::Failed(failure),
            }
        }
        (ClaimAction::FinishBinding, _) => {
            let pv = pv.expect("decided from an existing PV");
            c.finish_binding(&claim, &pv).await?;
            Outcome::Done
        }
        (ClaimAction::Expand { size }, Some(p)) => {
            let pv = pv.expect("decided from an existing PV");
            match c.expand(p, &pv, size).await? {
                Ok(()) => Outcome::Done,
                Err(failure) => Outcome::Failed(failure),
            }
        }
        (
            ClaimAction::ExpansionNotAllowed {
                requested,
                capacity,
            },
            _,
        ) => Outcome::Failed(Failure {
            reason: "VolumeResizeFailed",
            message: format!(
                "cannot grow the volume from {} to {}: storage class {:?} does not allow volume expansion",
                human(capacity),
                human(requested),
                class.metadata.name.clone().unwrap_or_default()
            ),
        }),
        (ClaimAction::Lost { pv }, _) => {
            c.lost(&pv).await?;
            Outcome::Done
        }
        // Provision/Expand are only decided for classes of our provisioners.
        (ClaimAction::Provision { .. } | ClaimAction::Expand { .. }, None) => Outcome::Done,
    };
    match outcome {
        Outcome::Done => {
            cc.backoff.succeeded(&uid(&claim));
            Ok(Action::await_change())
        }
        Outcome::Failed(failure) => {
            tracing::info!(claim = %format!("{namespace}/{}", claim.name_any()), reason = failure.reason, message = %failure.message, "volume step failed");
            c.event(EventType::Warning, failure.reason, &failure.message)
                .await;
            Ok(Action::requeue(cc.backoff.failed(&uid(&claim))))
        }
    }
}

fn error_policy(claim: Arc<PersistentVolumeClaim>, error: &Error, cc: Arc<ClaimCtx>) -> Action {
    let conflict = matches!(error, Error::Api(e) if is_conflict(e))
        || matches!(error, Error::Status(status::StatusError::Conflict));
    if conflict {
        // A newer version of the object is on its way; look again shortly.
        return Action::requeue(Duration::from_millis(200));
    }
    tracing::warn!(%error, claim = %claim.name_any(), "claim reconcile failed");
    Action::requeue(cc.backoff.failed(&uid(&claim)))
}

pub async fn run(ctx: Arc<Context>) {
    let claims: Api<PersistentVolumeClaim> = Api::all(ctx.client.clone());
    let cc = Arc::new(ClaimCtx {
        ctx,
        backoff: Backoff::default(),
    });
    let pvs: Api<PersistentVolume> = Api::all(cc.ctx.client.clone());
    Controller::new(claims, watcher::Config::default())
        // A PV that changes or goes (an admin's doing) is news for its claim.
        .watches(pvs, watcher::Config::default(), |pv: PersistentVolume| {
            let claim_ref = pv.spec?.claim_ref?;
            Some(ObjectRef::new(&claim_ref.name?).within(&claim_ref.namespace?))
        })
        .run(reconcile, error_policy, cc)
        .for_each(|_| futures::future::ready(()))
        .await;
}

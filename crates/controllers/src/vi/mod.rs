//! VirtualImage: a namespaced image imported into DVCR (or onto a volume) from HTTP, a container
//! image, an upload, another image or a disk. The reconcile logic is shared with
//! ClusterVirtualImage ([`crate::images::image`]); this module says what is particular to
//! VirtualImage and wires the controller's watches.

use std::sync::Arc;
use std::time::Duration;

use dvp_api::kinds::virtual_image::{
    VirtualImageStatus, VirtualImageStatusTarget, VirtualImageStorage,
};
use dvp_api::kinds::{ClusterVirtualImage, VirtualDisk, VirtualImage, VirtualMachine};
use futures::StreamExt;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::Context;
use crate::images::Services;
use crate::images::image::{self, Error, ImageCtx, ImageKind};
use crate::images::source::{SourceError, SourceSpec};
use crate::images::status::ImageView;
use crate::images::tasks::Notify;

/// Held while disks are being made from the image or VMs use it.
pub const FINALIZER: &str = "virtualization.deckhouse.io/vi-protection";

impl ImageKind for VirtualImage {
    type Status = VirtualImageStatus;
    const KIND: &'static str = "VirtualImage";
    const FINALIZER: &'static str = FINALIZER;

    fn source(&self) -> Result<SourceSpec, SourceError> {
        SourceSpec::of_image(self, &self.namespace().unwrap_or_default())
    }

    fn repo(&self) -> String {
        dvp_dvcr::vi_repository(&self.namespace().unwrap_or_default(), &self.name_any())
    }

    fn pvc_storage(&self) -> Option<Option<String>> {
        match self.spec.storage {
            VirtualImageStorage::ContainerRegistry => None,
            VirtualImageStorage::PersistentVolumeClaim | VirtualImageStorage::Kubernetes => Some(
                self.spec
                    .persistent_volume_claim
                    .as_ref()
                    .and_then(|p| p.storage_class_name.clone())
                    .filter(|s| !s.is_empty()),
            ),
        }
    }

    fn view(&self) -> ImageView {
        let s = self.status.clone().unwrap_or_default();
        let target = s.target.unwrap_or_default();
        ImageView {
            phase: s.phase,
            cdrom: s.cdrom,
            format: s.format,
            progress: s.progress,
            download_speed: s.download_speed,
            size: s.size,
            registry_url: target.registry_url,
            pvc_name: target.persistent_volume_claim_name,
            storage_class_name: s.storage_class_name,
            upload_urls: s.image_upload_urls,
            source_uid: s.source_uid,
            used_in_namespaces: vec![],
            conditions: s.conditions,
            observed_generation: s.observed_generation,
        }
    }

    fn current_status(&self) -> Option<&VirtualImageStatus> {
        self.status.as_ref()
    }

    fn status_from(view: ImageView) -> VirtualImageStatus {
        let target = (view.registry_url.is_some() || view.pvc_name.is_some()).then_some(
            VirtualImageStatusTarget {
                registry_url: view.registry_url,
                persistent_volume_claim_name: view.pvc_name,
            },
        );
        VirtualImageStatus {
            phase: view.phase,
            cdrom: view.cdrom,
            format: view.format,
            progress: view.progress,
            download_speed: view.download_speed,
            size: view.size,
            target,
            storage_class_name: view.storage_class_name,
            image_upload_urls: view.upload_urls,
            upload_command: None,
            source_uid: view.source_uid,
            conditions: view.conditions,
            observed_generation: view.observed_generation,
        }
    }

    fn api(client: &kube::Client, obj: &Self) -> Api<Self> {
        Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default())
    }

    fn notifier(services: &Services, obj: &Self) -> Notify {
        services.vi_notifier(&obj.namespace().unwrap_or_default(), &obj.name_any())
    }
}

fn error_policy(_: Arc<VirtualImage>, error: &Error, _: Arc<ImageCtx>) -> Action {
    tracing::warn!(%error, "VirtualImage reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

/// Runs the VirtualImage controller until the process stops.
pub async fn run(ctx: Arc<Context>, services: Arc<Services>) {
    let client = ctx.client.clone();
    let images: Api<VirtualImage> = Api::all(client.clone());
    let disks: Api<VirtualDisk> = Api::all(client.clone());
    let vms: Api<VirtualMachine> = Api::all(client.clone());
    let disk_store = crate::images::cache(disks.clone());
    let vm_store = crate::images::cache(vms.clone());
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let _ = services.triggers.vi.set(sender);
    let cx = Arc::new(ImageCtx {
        ctx,
        services,
        disks: disk_store,
        vms: vm_store,
    });
    let controller = Controller::new(images, watcher::Config::default());
    let store = controller.store();
    let by_disk = store.clone();
    let by_image = store.clone();
    let by_cluster_image = store.clone();
    controller
        .owns(
            Api::<PersistentVolumeClaim>::all(client.clone()),
            watcher::Config::default(),
        )
        .watches(disks, watcher::Config::default(), move |vd: VirtualDisk| {
            // Images a disk is made from (deletion waits for it) or made from the disk.
            let ns = vd.namespace().unwrap_or_default();
            let from = vd
                .spec
                .data_source
                .as_ref()
                .and_then(|d| d.object_ref.as_ref())
                .filter(|r| r.kind.as_str() == "VirtualImage")
                .map(|r| r.name.clone());
            let name = vd.name_any();
            by_disk
                .state()
                .into_iter()
                .filter(|vi| vi.namespace().as_deref() == Some(ns.as_str()))
                .filter(|vi| {
                    Some(vi.name_any()) == from
                        || vi
                            .spec
                            .data_source
                            .object_ref
                            .as_ref()
                            .is_some_and(|r| r.kind.as_str() == "VirtualDisk" && r.name == name)
                })
                .map(|vi| ObjectRef::from_obj(vi.as_ref()))
                .collect::<Vec<_>>()
        })
        .watches(
            Api::<VirtualImage>::all(client.clone()),
            watcher::Config::default(),
            move |src: VirtualImage| {
                let ns = src.namespace().unwrap_or_default();
                let name = src.name_any();
                by_image
                    .state()
                    .into_iter()
                    .filter(|vi| vi.namespace().as_deref() == Some(ns.as_str()))
                    .filter(|vi| {
                        vi.spec
                            .data_source
                            .object_ref
                            .as_ref()
                            .is_some_and(|r| r.kind.as_str() == "VirtualImage" && r.name == name)
                    })
                    .map(|vi| ObjectRef::from_obj(vi.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .watches(
            Api::<ClusterVirtualImage>::all(client.clone()),
            watcher::Config::default(),
            move |src: ClusterVirtualImage| {
                let name = src.name_any();
                by_cluster_image
                    .state()
                    .into_iter()
                    .filter(|vi| {
                        vi.spec.data_source.object_ref.as_ref().is_some_and(|r| {
                            r.kind.as_str() == "ClusterVirtualImage" && r.name == name
                        })
                    })
                    .map(|vi| ObjectRef::from_obj(vi.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .watches(vms, watcher::Config::default(), |vm: VirtualMachine| {
            let ns = vm.namespace().unwrap_or_default();
            vm.spec
                .block_device_refs
                .iter()
                .filter(|r| r.kind.as_str() == "VirtualImage")
                .map(|r| ObjectRef::new(&r.name).within(&ns))
                .collect::<Vec<_>>()
        })
        .reconcile_on(UnboundedReceiverStream::new(receiver))
        .run(image::reconcile::<VirtualImage>, error_policy, cx)
        .for_each(|_| futures::future::ready(()))
        .await;
}

//! ClusterVirtualImage: a cluster-wide image, always in DVCR, made from HTTP, a container image,
//! an upload, or an image or disk of any namespace. The reconcile logic is shared with
//! VirtualImage ([`crate::images::image`]).

use std::sync::Arc;
use std::time::Duration;

use dvp_api::kinds::cluster_virtual_image::{
    ClusterVirtualImageStatus, ClusterVirtualImageStatusTarget,
};
use dvp_api::kinds::virtual_machine::BlockDeviceKind;
use dvp_api::kinds::{ClusterVirtualImage, VirtualDisk, VirtualImage, VirtualMachine};
use futures::StreamExt;
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
pub const FINALIZER: &str = "virtualization.deckhouse.io/cvi-protection";

impl ImageKind for ClusterVirtualImage {
    type Status = ClusterVirtualImageStatus;
    const KIND: &'static str = "ClusterVirtualImage";
    const FINALIZER: &'static str = FINALIZER;

    fn source(&self) -> Result<SourceSpec, SourceError> {
        SourceSpec::of_cluster_image(self)
    }

    fn repo(&self) -> String {
        dvp_dvcr::cvi_repository(&self.name_any())
    }

    fn pvc_storage(&self) -> Option<Option<String>> {
        None
    }

    fn view(&self) -> ImageView {
        let s = self.status.clone().unwrap_or_default();
        ImageView {
            phase: s.phase,
            cdrom: s.cdrom,
            format: s.format,
            progress: s.progress,
            download_speed: s.download_speed,
            size: s.size,
            registry_url: s.target.and_then(|t| t.registry_url),
            pvc_name: None,
            storage_class_name: None,
            upload_urls: s.image_upload_urls,
            source_uid: s.source_uid,
            used_in_namespaces: s.used_in_namespaces,
            conditions: s.conditions,
            observed_generation: s.observed_generation,
        }
    }

    fn current_status(&self) -> Option<&ClusterVirtualImageStatus> {
        self.status.as_ref()
    }

    fn status_from(view: ImageView) -> ClusterVirtualImageStatus {
        ClusterVirtualImageStatus {
            phase: view.phase,
            cdrom: view.cdrom,
            format: view.format,
            progress: view.progress,
            download_speed: view.download_speed,
            size: view.size,
            target: view
                .registry_url
                .map(|url| ClusterVirtualImageStatusTarget {
                    registry_url: Some(url),
                }),
            image_upload_urls: view.upload_urls,
            upload_command: None,
            source_uid: view.source_uid,
            used_in_namespaces: view.used_in_namespaces,
            conditions: view.conditions,
            observed_generation: view.observed_generation,
        }
    }

    fn api(client: &kube::Client, _obj: &Self) -> Api<Self> {
        Api::all(client.clone())
    }

    fn notifier(services: &Services, obj: &Self) -> Notify {
        services.cvi_notifier(&obj.name_any())
    }

    fn used_in_namespaces(
        &self,
        disks: &[Arc<VirtualDisk>],
        vms: &[Arc<VirtualMachine>],
    ) -> Vec<String> {
        let name = self.name_any();
        let uid = self.uid().unwrap_or_default();
        let mut out: Vec<String> = disks
            .iter()
            .filter(|vd| {
                vd.status
                    .as_ref()
                    .and_then(|s| s.source_uid.as_deref())
                    .is_some_and(|u| u == uid)
                    || vd
                        .spec
                        .data_source
                        .as_ref()
                        .and_then(|d| d.object_ref.as_ref())
                        .is_some_and(|r| r.kind.as_str() == "ClusterVirtualImage" && r.name == name)
            })
            .filter_map(|vd| vd.namespace())
            .chain(
                vms.iter()
                    .filter(|vm| {
                        vm.spec.block_device_refs.iter().any(|r| {
                            r.kind == BlockDeviceKind::ClusterVirtualImage && r.name == name
                        })
                    })
                    .filter_map(|vm| vm.namespace()),
            )
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

fn error_policy(_: Arc<ClusterVirtualImage>, error: &Error, _: Arc<ImageCtx>) -> Action {
    tracing::warn!(%error, "ClusterVirtualImage reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

fn refers(cvi: &ClusterVirtualImage, kind: &str, namespace: Option<&str>, name: &str) -> bool {
    cvi.spec.data_source.object_ref.as_ref().is_some_and(|r| {
        r.kind.as_str() == kind && r.name == name && r.namespace.as_deref() == namespace
    })
}

/// Runs the ClusterVirtualImage controller until the process stops.
pub async fn run(ctx: Arc<Context>, services: Arc<Services>) {
    let client = ctx.client.clone();
    let images: Api<ClusterVirtualImage> = Api::all(client.clone());
    let disks: Api<VirtualDisk> = Api::all(client.clone());
    let vms: Api<VirtualMachine> = Api::all(client.clone());
    let disk_store = crate::images::cache(disks.clone());
    let vm_store = crate::images::cache(vms.clone());
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let _ = services.triggers.cvi.set(sender);
    let cx = Arc::new(ImageCtx {
        ctx,
        services,
        disks: disk_store,
        vms: vm_store,
    });
    let controller = Controller::new(images.clone(), watcher::Config::default());
    let store = controller.store();
    let (by_disk, by_image, by_cluster_image) = (store.clone(), store.clone(), store.clone());
    controller
        .watches(disks, watcher::Config::default(), move |vd: VirtualDisk| {
            let ns = vd.namespace();
            let name = vd.name_any();
            let from = vd
                .spec
                .data_source
                .as_ref()
                .and_then(|d| d.object_ref.as_ref())
                .filter(|r| r.kind.as_str() == "ClusterVirtualImage")
                .map(|r| r.name.clone());
            by_disk
                .state()
                .into_iter()
                .filter(|cvi| {
                    Some(cvi.name_any()) == from || refers(cvi, "VirtualDisk", ns.as_deref(), &name)
                })
                .map(|cvi| ObjectRef::from_obj(cvi.as_ref()))
                .collect::<Vec<_>>()
        })
        .watches(
            Api::<VirtualImage>::all(client.clone()),
            watcher::Config::default(),
            move |vi: VirtualImage| {
                let ns = vi.namespace();
                let name = vi.name_any();
                by_image
                    .state()
                    .into_iter()
                    .filter(|cvi| refers(cvi, "VirtualImage", ns.as_deref(), &name))
                    .map(|cvi| ObjectRef::from_obj(cvi.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .watches(
            images,
            watcher::Config::default(),
            move |src: ClusterVirtualImage| {
                let name = src.name_any();
                by_cluster_image
                    .state()
                    .into_iter()
                    .filter(|cvi| refers(cvi, "ClusterVirtualImage", None, &name))
                    .map(|cvi| ObjectRef::from_obj(cvi.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .watches(vms, watcher::Config::default(), |vm: VirtualMachine| {
            vm.spec
                .block_device_refs
                .iter()
                .filter(|r| r.kind == BlockDeviceKind::ClusterVirtualImage)
                .map(|r| ObjectRef::new(&r.name))
                .collect::<Vec<_>>()
        })
        .reconcile_on(UnboundedReceiverStream::new(receiver))
        .run(image::reconcile::<ClusterVirtualImage>, error_policy, cx)
        .for_each(|_| futures::future::ready(()))
        .await;
}

//! DVCR garbage collection: images of deleted VirtualImages, ClusterVirtualImages and
//! VirtualDisks go, with the blobs nothing else references, except blobs volumes still use as
//! backing files.
//!
//! It runs on `dvcr.gc.schedule` of `ModuleConfig/virtualization` (cron, UTC; default daily at
//! 02:00), and on demand: set the annotation `virtualization.deckhouse.io/dvcr-gc-request` of
//! that ModuleConfig to any new value, e.g.
//! `kubectl annotate mc virtualization virtualization.deckhouse.io/dvcr-gc-request="$(date +%s)" --overwrite`.
//! When done, the controller copies the value to `…/dvcr-gc-done`, writes what it did to
//! `…/dvcr-gc-result` and records an Event on the ModuleConfig.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dvp_api::kinds::module_config::{ModuleConfig, VIRTUALIZATION_MODULE, VirtualizationSettings};
use dvp_api::kinds::{ClusterVirtualImage, VirtualDisk, VirtualImage};
use dvp_dvcr::{DEFAULT_GC_SCHEDULE, Schedule};
use futures::StreamExt;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::Deserialize;

use super::{Services, cache, volumes};
use crate::Context;
use crate::events::EventType;

/// Set to a new value to ask for a collection now.
pub const REQUEST_ANNOTATION: &str = "virtualization.deckhouse.io/dvcr-gc-request";
/// The request value of the last collection done.
pub const DONE_ANNOTATION: &str = "virtualization.deckhouse.io/dvcr-gc-done";
/// What the last collection did.
pub const RESULT_ANNOTATION: &str = "virtualization.deckhouse.io/dvcr-gc-result";

/// The object a DVCR repository belongs to, by the names of spec §5.1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    ClusterImage { name: String },
    Image { namespace: String, name: String },
    Disk { namespace: String, name: String },
}

/// Reads `cvi/<name>`, `vi/<ns>/<name>`, `vd/<ns>/<name>`; other repositories are not the
/// platform's (None: they are never collected).
pub fn owner_of(repo: &str) -> Option<Owner> {
    let parts: Vec<&str> = repo.split('/').collect();
    match parts.as_slice() {
        ["cvi", name] => Some(Owner::ClusterImage {
            name: name.to_string(),
        }),
        ["vi", ns, name] => Some(Owner::Image {
            namespace: ns.to_string(),
            name: name.to_string(),
        }),
        ["vd", ns, name] => Some(Owner::Disk {
            namespace: ns.to_string(),
            name: name.to_string(),
        }),
        _ => None,
    }
}

/// Whether the image `repo:tag` must stay: its object exists with that uid (`uid_of` answers
/// from the current caches), an import for that uid is in this process, or the repository is
/// not one of the platform's.
pub fn keep(
    repo: &str,
    tag: &str,
    uid_of: &dyn Fn(&Owner) -> Option<String>,
    importing: &dyn Fn(&str) -> bool,
) -> bool {
    let Some(owner) = owner_of(repo) else {
        return true;
    };
    importing(tag) || uid_of(&owner).as_deref() == Some(tag)
}

/// The schedule in the module settings (the default when unset or unreadable).
pub fn schedule_of(settings: Option<&VirtualizationSettings>) -> Schedule {
    let text = settings
        .and_then(|s| s.dvcr.as_ref())
        .map(|d| d.gc_schedule().to_string())
        .unwrap_or_else(|| DEFAULT_GC_SCHEDULE.to_string());
    Schedule::parse(&text).unwrap_or_else(|e| {
        tracing::warn!(schedule = %text, error = %e, "unreadable dvcr.gc.schedule; using the default");
        Schedule::parse(DEFAULT_GC_SCHEDULE).expect("the default schedule parses")
    })
}

struct Caches {
    images: Store<VirtualImage>,
    cluster_images: Store<ClusterVirtualImage>,
    disks: Store<VirtualDisk>,
}

impl Caches {
    fn uid_of(&self, owner: &Owner) -> Option<String> {
        match owner {
            Owner::ClusterImage { name } => self
                .cluster_images
                .get(&ObjectRef::new(name))
                .and_then(|o| o.uid()),
            Owner::Image { namespace, name } => self
                .images
                .get(&ObjectRef::new(name).within(namespace))
                .and_then(|o| o.uid()),
            Owner::Disk { namespace, name } => self
                .disks
                .get(&ObjectRef::new(name).within(namespace))
                .and_then(|o| o.uid()),
        }
    }
}

/// Runs one collection now; returns what it did, in words.
async fn collect(ctx: &Context, services: &Arc<Services>, caches: &Arc<Caches>) -> String {
    let claims = match Api::<PersistentVolumeClaim>::all(ctx.client.clone())
        .list(&Default::default())
        .await
    {
        Ok(list) => list.items,
        Err(e) => return format!("not run: listing volume claims failed: {e}"),
    };
    let roots = volumes::blobs_in_use(
        &services.data_dir.join("storage"),
        services.registry.root(),
        &claims,
    );
    let (services, caches) = (services.clone(), caches.clone());
    let result = tokio::task::spawn_blocking(move || {
        let uid_of = |o: &Owner| caches.uid_of(o);
        let importing = |uid: &str| services.imports.knows(uid);
        services
            .registry
            .gc(&|repo, tag| keep(repo, tag, &uid_of, &importing), &roots)
    })
    .await;
    match result {
        Ok(Ok(report)) => report.to_string(),
        Ok(Err(e)) => format!("failed: {e}"),
        Err(e) => format!("failed: {e}"),
    }
}

/// Runs scheduled and requested collections until the process stops.
pub async fn run(ctx: Arc<Context>, services: Arc<Services>) {
    let client = ctx.client.clone();
    let caches = Arc::new(Caches {
        images: cache(Api::<VirtualImage>::all(client.clone())),
        cluster_images: cache(Api::<ClusterVirtualImage>::all(client.clone())),
        disks: cache(Api::<VirtualDisk>::all(client.clone())),
    });
    // Never collect from empty caches: everything would look deleted.
    for ready in [
        caches.images.wait_until_ready().await,
        caches.cluster_images.wait_until_ready().await,
        caches.disks.wait_until_ready().await,
    ] {
        if ready.is_err() {
            tracing::warn!("DVCR garbage collection stopped: a cache closed");
            return;
        }
    }
    let configs: Api<ModuleConfig> = Api::all(client.clone());
    let mut changes = watcher(configs.clone(), watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .boxed();
    let mut schedule = Schedule::parse(DEFAULT_GC_SCHEDULE).expect("the default schedule parses");
    loop {
        let now = k8s_openapi::jiff::Timestamp::now().as_second();
        let wait = schedule
            .next_after(now)
            .map(|next| Duration::from_secs(u64::try_from(next - now).unwrap_or(60)))
            .unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            change = changes.next() => {
                let Some(change) = change else { return };
                let Ok(mc) = change else { continue };
                if mc.name_any() != VIRTUALIZATION_MODULE {
                    continue;
                }
                let settings = mc
                    .spec
                    .settings
                    .as_ref()
                    .and_then(|s| VirtualizationSettings::deserialize(s).ok());
                schedule = schedule_of(settings.as_ref());
                let annotations = mc.annotations();
                let Some(request) = annotations.get(REQUEST_ANNOTATION).cloned() else { continue };
                if annotations.get(DONE_ANNOTATION) == Some(&request) {
                    continue;
                }
                let report = collect(&ctx, &services, &caches).await;
                tracing::info!(%report, "requested DVCR garbage collection");
                let patch = serde_json::json!({"metadata": {"annotations": BTreeMap::from([
                    (DONE_ANNOTATION, request.as_str()),
                    (RESULT_ANNOTATION, report.as_str()),
                ])}});
                if let Err(e) = configs
                    .patch(VIRTUALIZATION_MODULE, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    tracing::warn!(error = %e, "could not record the DVCR garbage collection");
                }
                ctx.recorder
                    .publish(&mc, EventType::Normal, "DVCRGarbageCollected", &report)
                    .await;
            }
            _ = tokio::time::sleep(wait) => {
                let report = collect(&ctx, &services, &caches).await;
                tracing::info!(%report, "scheduled DVCR garbage collection");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_name_their_owners() {
        assert_eq!(
            owner_of("cvi/ubuntu"),
            Some(Owner::ClusterImage {
                name: "ubuntu".into()
            })
        );
        assert_eq!(
            owner_of("vi/ns/ubuntu"),
            Some(Owner::Image {
                namespace: "ns".into(),
                name: "ubuntu".into()
            })
        );
        assert_eq!(
            owner_of("vd/ns/root"),
            Some(Owner::Disk {
                namespace: "ns".into(),
                name: "root".into()
            })
        );
        assert_eq!(owner_of("library/alpine"), None);
    }

    #[test]
    fn an_image_stays_while_its_object_has_that_uid() {
        let uid_of = |_: &Owner| Some("u1".to_string());
        let none = |_: &str| false;
        assert!(keep("vi/ns/x", "u1", &uid_of, &none));
        // Same name, new object: the old image goes.
        assert!(!keep("vi/ns/x", "u0", &uid_of, &none));
    }

    #[test]
    fn an_image_of_a_deleted_object_goes_unless_an_import_is_running() {
        let gone = |_: &Owner| None;
        assert!(!keep("cvi/x", "u1", &gone, &|_| false));
        assert!(keep("cvi/x", "u1", &gone, &|uid| uid == "u1"));
    }

    #[test]
    fn foreign_repositories_are_kept() {
        assert!(keep("mirror/alpine", "latest", &|_| None, &|_| false));
    }

    #[test]
    fn the_schedule_comes_from_the_module_settings() {
        let settings: VirtualizationSettings = serde_json::from_value(serde_json::json!({
            "dvcr": {"storage": {"type": "PersistentVolumeClaim", "persistentVolumeClaim": {"size": "1G"}},
                     "gc": {"schedule": "*/5 * * * *"}}
        }))
        .unwrap();
        let s = schedule_of(Some(&settings));
        assert_eq!(s.next_after(0), Some(300));
        assert_eq!(schedule_of(None).next_after(0), Some(2 * 3600));
    }
}

//! The supervisor: one worker per instance scheduled to this node. It watches the instances
//! labelled with the node's name and hands each object's latest version to its worker, which
//! owns that run's QEMU (see [`worker`]). Only the supervisor writes instance status.

pub mod decide;
pub mod launch;
pub mod worker;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dvp_api::kinds::instance::{
    CLEANUP_FINALIZER, InternalVirtualizationVirtualMachineInstance as Instance, NODE_LABEL,
};
use dvp_qemu::host::HostFacts;
use futures::StreamExt;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::host::Host;
use crate::net::Network;
use crate::vmm::Vmm;

/// Annotation that makes deletion kill QEMU at once instead of pressing the power button.
pub const FORCE_STOP_ANNOTATION: &str = "virtualization.deckhouse.io/force-stop";

/// How often the supervisor looks and how long it waits.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Liveness check of each process (and retry of failed status writes).
    pub process_poll: Duration,
    /// Guest agent poll.
    pub agent_poll: Duration,
    /// Disk size check.
    pub disk_poll: Duration,
    /// How long a new QEMU may take to open its monitor.
    pub qmp_connect: Duration,
    /// How long `quit` and SIGKILL each get to end the process.
    pub kill_wait: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            process_poll: Duration::from_secs(1),
            agent_poll: Duration::from_secs(3),
            disk_poll: Duration::from_secs(15),
            qmp_connect: Duration::from_secs(20),
            kill_wait: Duration::from_secs(10),
        }
    }
}

/// What every worker needs to know about the node.
#[derive(Clone, Debug)]
pub struct Config {
    /// Run dirs live in `DATA/run/vms/<instance uid>/`.
    pub data_dir: PathBuf,
    /// The QEMU binary.
    pub qemu: PathBuf,
    /// The host's facts, or why QEMU cannot run here (every start then fails with it).
    pub facts: Result<HostFacts, String>,
    pub timing: Timing,
}

/// A failed API call of the supervisor.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ApiError(pub String);

/// The two writes the supervisor makes to instances.
#[async_trait::async_trait]
pub trait Instances: Send + Sync + 'static {
    /// Applies a JSON merge patch to the status subresource.
    async fn patch_status(&self, namespace: &str, name: &str, patch: Value)
    -> Result<(), ApiError>;
    /// Removes [`CLEANUP_FINALIZER`] from the instance with this uid (no-op when absent).
    async fn remove_finalizer(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
    ) -> Result<(), ApiError>;
}

/// Shared by the supervisor's workers.
pub struct Shared<H: Host, V: Vmm, I: Instances> {
    pub host: Arc<H>,
    pub vmm: Arc<V>,
    pub api: Arc<I>,
    /// Bridges, taps and leases of the guests' interfaces.
    pub net: Arc<Network>,
    pub config: Config,
}

/// [`Instances`] through the Kubernetes API.
#[derive(Clone)]
pub struct KubeInstances {
    client: kube::Client,
}

impl KubeInstances {
    pub fn new(client: kube::Client) -> KubeInstances {
        KubeInstances { client }
    }
}

fn api_error(e: kube::Error) -> ApiError {
    ApiError(e.to_string())
}

#[async_trait::async_trait]
impl Instances for KubeInstances {
    async fn patch_status(
        &self,
        namespace: &str,
        name: &str,
        patch: Value,
    ) -> Result<(), ApiError> {
        let api: Api<Instance> = Api::namespaced(self.client.clone(), namespace);
        api.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": patch })),
        )
        .await
        .map(drop)
        .map_err(api_error)
    }

    async fn remove_finalizer(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
    ) -> Result<(), ApiError> {
        let api: Api<Instance> = Api::namespaced(self.client.clone(), namespace);
        let Some(obj) = api.get_opt(name).await.map_err(api_error)? else {
            return Ok(());
        };
        if obj.uid().as_deref() != Some(uid)
            || !obj.finalizers().iter().any(|f| f == CLEANUP_FINALIZER)
        {
            return Ok(());
        }
        let rest: Vec<&String> = obj
            .finalizers()
            .iter()
            .filter(|f| *f != CLEANUP_FINALIZER)
            .collect();
        let patch = json!({
            "metadata": {"finalizers": rest, "resourceVersion": obj.resource_version()}
        });
        api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map(drop)
            .map_err(api_error)
    }
}

struct Running {
    latest: watch::Sender<Option<Arc<Instance>>>,
    task: JoinHandle<()>,
}

/// Hands objects to workers, starting one per instance uid.
pub struct Dispatcher<H: Host, V: Vmm, I: Instances> {
    shared: Arc<Shared<H, V, I>>,
    workers: HashMap<String, Running>,
}

impl<H: Host, V: Vmm, I: Instances> Dispatcher<H, V, I> {
    pub fn new(shared: Arc<Shared<H, V, I>>) -> Self {
        Dispatcher {
            shared,
            workers: HashMap::new(),
        }
    }

    /// The latest version of an instance.
    pub fn apply(&mut self, obj: Instance) {
        let Some(uid) = obj.uid() else { return };
        self.workers.retain(|_, w| !w.task.is_finished());
        let obj = Arc::new(obj);
        if let Some(running) = self.workers.get(&uid) {
            running.latest.send_replace(Some(obj));
            return;
        }
        let (tx, rx) = watch::channel(Some(obj.clone()));
        let worker = worker::Worker::new(self.shared.clone(), &obj, rx);
        let task = tokio::spawn(worker.run());
        self.workers.insert(uid, Running { latest: tx, task });
    }

    /// The instance is gone from the API.
    pub fn delete(&mut self, uid: &str) {
        if let Some(running) = self.workers.get(uid) {
            running.latest.send_replace(None);
        }
    }

    /// After a relist: instances not seen are gone.
    pub fn retain_only(&mut self, seen: &HashSet<String>) {
        let gone: Vec<String> = self
            .workers
            .keys()
            .filter(|uid| !seen.contains(*uid))
            .cloned()
            .collect();
        for uid in gone {
            self.delete(&uid);
        }
    }
}

/// Watches this node's instances forever.
pub async fn run<H: Host, V: Vmm, I: Instances>(
    shared: Arc<Shared<H, V, I>>,
    client: kube::Client,
    node_name: &str,
) {
    let api: Api<Instance> = Api::all(client);
    let config = watcher::Config::default().labels(&format!("{NODE_LABEL}={node_name}"));
    let mut events = watcher(api, config).default_backoff().boxed();
    let mut dispatcher = Dispatcher::new(shared);
    let mut seen = HashSet::new();
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Init) => seen.clear(),
            Ok(watcher::Event::InitApply(obj)) => {
                seen.extend(obj.uid());
                dispatcher.apply(obj);
            }
            Ok(watcher::Event::InitDone) => dispatcher.retain_only(&seen),
            Ok(watcher::Event::Apply(obj)) => dispatcher.apply(obj),
            Ok(watcher::Event::Delete(obj)) => {
                if let Some(uid) = obj.uid() {
                    dispatcher.delete(&uid);
                }
            }
            Err(e) => tracing::warn!(error = %e, "instance watch failed; retrying"),
        }
    }
}

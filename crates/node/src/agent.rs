//! The agent as a whole: look at the host once, register the Node, post a heartbeat every 10 s
//! (Node status and a Lease in `kube-node-lease`), and supervise this node's instances.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::host::LinuxHost;
use crate::net::{self, IpCommand, NetConfig, Network};
use crate::registration::{self, NodeFacts};
use crate::supervisor::{self, Config, KubeInstances, Shared, Timing};
use crate::vmm::QemuVmm;

/// How often the Node's Ready condition and Lease are renewed.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// What the agent is told at start.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// The Node's name (default: the host name).
    pub node_name: String,
    /// Run dirs go to `DATA/run/vms/`.
    pub data_dir: PathBuf,
    /// QEMU binary, forced accelerator, firmware overrides.
    pub probe: dvp_qemu::host::ProbeOptions,
    /// Guest networking: bridges (default on) and outbound NAT (default off).
    pub network: NetConfig,
}

impl AgentConfig {
    /// Defaults for this host: its name, and QEMU from PATH.
    pub fn for_host(data_dir: PathBuf) -> AgentConfig {
        AgentConfig {
            node_name: host_name(),
            data_dir,
            probe: Default::default(),
            network: NetConfig::default(),
        }
    }
}

/// The kernel's host name (`localhost` when unreadable).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The address other machines reach this one at: the source address of the default route
/// (a UDP "connect" sends nothing), loopback when there is no route.
fn internal_ip() -> String {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("192.0.2.1:9")?;
            s.local_addr()
        })
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".to_string())
}

fn gather_facts(name: &str, facts: &Result<dvp_qemu::host::HostFacts, String>) -> NodeFacts {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1);
    let memory_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| registration::mem_total_kib(&m))
        .unwrap_or(0);
    NodeFacts {
        name: name.to_string(),
        cpus,
        memory_kib,
        internal_ip: internal_ip(),
        accel: facts
            .as_ref()
            .map(|f| f.accel.as_str())
            .unwrap_or("tcg")
            .to_string(),
        kernel_version: read_trimmed("/proc/sys/kernel/osrelease"),
        os_image: std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|t| registration::pretty_name(&t))
            .unwrap_or_else(|| "Linux".into()),
        boot_id: read_trimmed("/proc/sys/kernel/random/boot_id"),
        machine_id: read_trimmed("/etc/machine-id"),
        qemu_version: facts
            .as_ref()
            .map(|f| f.qemu_version.to_string())
            .unwrap_or_default(),
    }
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

/// Creates the Node or brings its labels up to date.
async fn register(client: &kube::Client, facts: &NodeFacts) -> Result<(), kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    match nodes.get_opt(&facts.name).await? {
        None => {
            nodes
                .create(&PostParams::default(), &registration::node(facts))
                .await?;
        }
        Some(_) => {
            let patch = json!({"metadata": {"labels": registration::labels(facts)}});
            nodes
                .patch(&facts.name, &PatchParams::default(), &Patch::Merge(patch))
                .await?;
        }
    }
    Ok(())
}

/// The network condition's status and when it last changed.
#[derive(Default)]
struct NetworkSeen {
    ready: Option<bool>,
    since: Option<Time>,
}

impl NetworkSeen {
    fn condition(
        &mut self,
        network: &Network,
        now: &Time,
    ) -> Vec<k8s_openapi::api::core::v1::NodeCondition> {
        let Some(health) = network.health() else {
            return Vec::new();
        };
        if self.ready != Some(health.ready) {
            self.ready = Some(health.ready);
            self.since = Some(now.clone());
        }
        let since = self.since.clone().unwrap_or_else(|| now.clone());
        vec![registration::network_condition(&health, now, &since)]
    }
}

async fn heartbeat(
    client: &kube::Client,
    facts: &NodeFacts,
    ready_since: &Time,
    extra: Vec<k8s_openapi::api::core::v1::NodeCondition>,
) -> Result<(), kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let status = registration::status(facts, &now(), ready_since, extra);
    nodes
        .patch_status(
            &facts.name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await?;
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let renew = k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let spec =
        json!({"holderIdentity": facts.name, "leaseDurationSeconds": 40, "renewTime": renew});
    if leases.get_opt(&facts.name).await?.is_none() {
        let lease: Lease = serde_json::from_value(json!({
            "metadata": {"name": facts.name, "namespace": "kube-node-lease"},
            "spec": spec,
        }))
        .map_err(kube::Error::SerdeError)?;
        leases.create(&PostParams::default(), &lease).await?;
    } else {
        leases
            .patch(
                &facts.name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": spec})),
            )
            .await?;
    }
    Ok(())
}

/// Keeps the Node registered and fresh, forever.
async fn keep_registered(client: kube::Client, facts: NodeFacts, network: Arc<Network>) {
    let ready_since = now();
    let mut seen = NetworkSeen::default();
    let mut registered = false;
    loop {
        if !registered {
            match register(&client, &facts).await {
                Ok(()) => registered = true,
                Err(e) => {
                    tracing::warn!(node = %facts.name, error = %e, "node registration failed")
                }
            }
        }
        let extra = seen.condition(&network, &now());
        if registered && let Err(e) = heartbeat(&client, &facts, &ready_since, extra).await {
            tracing::warn!(node = %facts.name, error = %e, "node heartbeat failed");
            if matches!(&e, kube::Error::Api(s) if s.code == 404) {
                registered = false;
            }
        }
        tokio::time::sleep(if registered {
            HEARTBEAT
        } else {
            Duration::from_secs(2)
        })
        .await;
    }
}

/// Makes the main bridge and starts its DHCP server; where that fails, runs fall back to
/// user-mode networking and the Node's `VMNetworkReady` condition says why.
fn start_network(network: &Arc<Network>) {
    let ready = network.prepare_node();
    if network.config().bridges {
        network.sweep_stale_taps(net::host::unix_now());
    }
    if !ready {
        if let Some(health) = network.health() {
            tracing::warn!(message = %health.message, "guests get user-mode networking");
        }
        return;
    }
    match net::dhcp::bind(net::MAIN_BRIDGE) {
        Ok(socket) => {
            tracing::info!(
                bridge = net::MAIN_BRIDGE,
                nat = network.config().nat,
                "guest network ready; DHCP server listening"
            );
            tokio::spawn(net::dhcp::serve(socket, network.leases()));
        }
        Err(e) => {
            tracing::warn!(error = %e, "DHCP server cannot listen on the main bridge");
            network.dhcp_failed(&e.to_string());
        }
    }
}

/// Runs the node agent until the process ends.
pub async fn run(client: kube::Client, config: AgentConfig) {
    let facts = dvp_qemu::host::probe(&config.probe)
        .await
        .map_err(|e| e.to_string());
    match &facts {
        Ok(f) => {
            tracing::info!(node = %config.node_name, accel = f.accel.as_str(), qemu = %f.qemu_version, "node agent starting")
        }
        Err(e) => {
            tracing::warn!(node = %config.node_name, error = %e, "QEMU is not usable; guests will fail to start")
        }
    }
    let node_facts = gather_facts(&config.node_name, &facts);
    let network = Arc::new(Network::new(Arc::new(IpCommand), config.network.clone()));
    start_network(&network);
    tokio::spawn(keep_registered(client.clone(), node_facts, network.clone()));
    let shared = Arc::new(Shared {
        host: Arc::new(LinuxHost::new()),
        vmm: Arc::new(QemuVmm::default()),
        api: Arc::new(KubeInstances::new(client.clone())),
        net: network,
        config: Config {
            data_dir: config.data_dir.clone(),
            qemu: dvp_qemu::host::qemu_program(&config.probe),
            facts,
            timing: Timing::default(),
        },
    });
    supervisor::run(shared, client, &config.node_name).await;
}

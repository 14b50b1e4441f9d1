//! [`super::Vmm`] over QEMU's real protocols (`dvp_qemu::qmp`, `dvp_qemu::qga`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use dvp_api::kinds::instance::GuestInterface;
use dvp_qemu::qga::GuestAgent;
use dvp_qemu::qmp::Qmp;
use tokio::sync::mpsc;

use super::{AgentReport, Monitor, VmEvent, Vmm, VmmError};

/// The real thing. `timeout` bounds each monitor command and each guest-agent exchange.
#[derive(Clone, Debug)]
pub struct QemuVmm {
    pub qmp_timeout: Duration,
    pub agent_timeout: Duration,
}

impl Default for QemuVmm {
    fn default() -> Self {
        QemuVmm {
            qmp_timeout: Duration::from_secs(10),
            agent_timeout: Duration::from_secs(3),
        }
    }
}

struct QmpMonitor(Qmp);

fn error(e: impl std::fmt::Display) -> VmmError {
    VmmError(e.to_string())
}

#[async_trait::async_trait]
impl Monitor for QmpMonitor {
    async fn run_state(&self) -> Result<String, VmmError> {
        self.0.query_status().await.map(|s| s.status).map_err(error)
    }

    async fn powerdown(&self) -> Result<(), VmmError> {
        self.0.system_powerdown().await.map_err(error)
    }

    async fn quit(&self) -> Result<(), VmmError> {
        self.0.quit().await.map_err(error)
    }

    async fn disk_sizes(&self) -> Result<BTreeMap<String, u64>, VmmError> {
        let devices = self.0.query_block().await.map_err(error)?;
        Ok(devices
            .into_iter()
            .filter_map(|d| Some((d.device, d.virtual_size?)))
            .collect())
    }

    async fn resize(&self, drive: &str, size: u64) -> Result<(), VmmError> {
        self.0.block_resize(drive, size).await.map_err(error)
    }

    fn version(&self) -> String {
        self.0.greeting().version.to_string()
    }
}

fn translate(event: dvp_qemu::qmp::Event) -> VmEvent {
    if let Some(shutdown) = event.shutdown() {
        return VmEvent::Shutdown {
            guest: shutdown.guest,
            reason: shutdown.reason,
        };
    }
    match event.name.as_str() {
        "RESET" => VmEvent::Reset {
            guest: event.data["guest"].as_bool().unwrap_or(false),
        },
        "STOP" => VmEvent::Stop,
        _ => VmEvent::Other(event.name),
    }
}

async fn agent_report(agent: &mut GuestAgent) -> Result<AgentReport, dvp_qemu::qga::QgaError> {
    let info = agent.info().await?;
    let os_info = agent.os_info().await.ok().map(|os| os.to_status_map());
    let interfaces = agent
        .network_interfaces()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|nic| GuestInterface {
            name: nic.name,
            mac_address: nic.mac,
            ip_addresses: nic.ips,
        })
        .collect();
    let frozen = agent.fsfreeze_status().await.unwrap_or(false);
    Ok(AgentReport {
        connected: true,
        version: info.version,
        os_info,
        interfaces,
        frozen,
    })
}

#[async_trait::async_trait]
impl Vmm for QemuVmm {
    async fn connect(
        &self,
        qmp: &Path,
    ) -> Result<(Box<dyn Monitor>, mpsc::UnboundedReceiver<VmEvent>), VmmError> {
        let (client, mut raw) = Qmp::connect(qmp, self.qmp_timeout).await.map_err(error)?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(event) = raw.recv().await {
                if tx.send(translate(event)).is_err() {
                    break;
                }
            }
        });
        Ok((Box::new(QmpMonitor(client)), rx))
    }

    async fn probe_agent(&self, qga: &Path) -> AgentReport {
        let session = async {
            let mut agent = GuestAgent::connect(qga, self.agent_timeout).await?;
            agent_report(&mut agent).await
        };
        match tokio::time::timeout(self.agent_timeout * 4, session).await {
            Ok(Ok(report)) => report,
            _ => AgentReport::default(),
        }
    }
}

//! Talking to a running QEMU: its monitor (QMP) and the guest agent inside it. [`QemuVmm`] uses
//! the real protocols; a scripted fake stands in for it in the supervisor's unit tests.

mod qemu;

#[cfg(test)]
pub(crate) mod fake;

use std::collections::BTreeMap;
use std::path::Path;

use dvp_api::kinds::instance::GuestInterface;
use tokio::sync::mpsc;

pub use qemu::QemuVmm;

/// What QEMU tells about the guest, as the supervisor cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmEvent {
    /// The machine shut down; `guest` when the guest asked for it.
    Shutdown {
        guest: bool,
        reason: String,
    },
    /// The machine reset (a reboot).
    Reset {
        guest: bool,
    },
    /// The vCPUs stopped (a pause, or an error state: ask the run state).
    Stop,
    Other(String),
}

/// A monitor command that failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct VmmError(pub String);

/// QEMU's monitor of one run.
#[async_trait::async_trait]
pub trait Monitor: Send + Sync {
    /// The run state (`running`, `paused`, `shutdown`, `internal-error`, `guest-panicked`, …).
    async fn run_state(&self) -> Result<String, VmmError>;
    /// Presses the ACPI power button.
    async fn powerdown(&self) -> Result<(), VmmError>;
    /// Ends QEMU.
    async fn quit(&self) -> Result<(), VmmError>;
    /// Sizes the guest sees, by drive id.
    async fn disk_sizes(&self) -> Result<BTreeMap<String, u64>, VmmError>;
    /// Grows drive `drive` to `size` bytes.
    async fn resize(&self, drive: &str, size: u64) -> Result<(), VmmError>;
    /// QEMU's version, from its greeting.
    fn version(&self) -> String;
}

/// The guest agent as seen by one poll.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentReport {
    pub connected: bool,
    pub version: String,
    pub os_info: Option<serde_json::Value>,
    pub interfaces: Vec<GuestInterface>,
    pub frozen: bool,
}

/// Connects to the channels of a run.
#[async_trait::async_trait]
pub trait Vmm: Send + Sync + 'static {
    /// Connects to QMP; events arrive on the receiver, which ends when the connection does.
    async fn connect(
        &self,
        qmp: &Path,
    ) -> Result<(Box<dyn Monitor>, mpsc::UnboundedReceiver<VmEvent>), VmmError>;
    /// Asks the guest agent what it knows; a report with `connected: false` when it does not
    /// answer.
    async fn probe_agent(&self, qga: &Path) -> AgentReport;
}

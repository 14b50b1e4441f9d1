//! A scripted QEMU for the supervisor's tests: the monitor acts on the fake host's processes
//! (found by their QMP socket path) and records every command.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::{AgentReport, Monitor, VmEvent, Vmm, VmmError};
use crate::host::fake::FakeHost;

#[derive(Default)]
struct State {
    calls: Vec<String>,
    events: Vec<mpsc::UnboundedSender<VmEvent>>,
    /// The guest powers off when the power button is pressed.
    obeys_acpi: bool,
    run_state: String,
    sizes: BTreeMap<String, u64>,
    agent: AgentReport,
}

struct Inner {
    host: Arc<FakeHost>,
    state: Mutex<State>,
}

#[derive(Clone)]
pub(crate) struct FakeVmm(Arc<Inner>);

impl FakeVmm {
    pub fn new(host: Arc<FakeHost>) -> FakeVmm {
        FakeVmm(Arc::new(Inner {
            host,
            state: Mutex::new(State {
                obeys_acpi: true,
                run_state: "running".into(),
                ..State::default()
            }),
        }))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.state.lock().unwrap()
    }

    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }

    pub fn ignore_acpi(&self) {
        self.state().obeys_acpi = false;
    }

    pub fn set_run_state(&self, state: &str) {
        self.state().run_state = state.into();
    }

    pub fn set_size(&self, drive: &str, size: u64) {
        self.state().sizes.insert(drive.into(), size);
    }

    pub fn set_agent(&self, report: AgentReport) {
        self.state().agent = report;
    }

    /// QEMU sends `event` to every monitor connection.
    pub fn emit(&self, event: VmEvent) {
        for tx in &self.state().events {
            let _ = tx.send(event.clone());
        }
    }
}

struct FakeMonitor {
    vmm: FakeVmm,
    qmp: PathBuf,
}

impl FakeMonitor {
    fn record(&self, call: String) {
        self.vmm.state().calls.push(call);
    }
}

#[async_trait::async_trait]
impl Monitor for FakeMonitor {
    async fn run_state(&self) -> Result<String, VmmError> {
        Ok(self.vmm.state().run_state.clone())
    }

    async fn powerdown(&self) -> Result<(), VmmError> {
        self.record("powerdown".into());
        if self.vmm.state().obeys_acpi {
            self.vmm.emit(VmEvent::Shutdown {
                guest: true,
                reason: "guest-shutdown".into(),
            });
        }
        Ok(())
    }

    async fn quit(&self) -> Result<(), VmmError> {
        self.record("quit".into());
        let host = &self.vmm.0.host;
        for pid in host.pids_matching(&self.qmp.to_string_lossy()) {
            host.end_process(pid);
        }
        Ok(())
    }

    async fn disk_sizes(&self) -> Result<BTreeMap<String, u64>, VmmError> {
        Ok(self.vmm.state().sizes.clone())
    }

    async fn resize(&self, drive: &str, size: u64) -> Result<(), VmmError> {
        self.record(format!("resize {drive} {size}"));
        self.vmm.set_size(drive, size);
        Ok(())
    }

    fn version(&self) -> String {
        "10.0.2".into()
    }
}

#[async_trait::async_trait]
impl Vmm for FakeVmm {
    async fn connect(
        &self,
        qmp: &Path,
    ) -> Result<(Box<dyn Monitor>, mpsc::UnboundedReceiver<VmEvent>), VmmError> {
        if self.0.host.pids_matching(&qmp.to_string_lossy()).is_empty() {
            return Err(VmmError(format!("{} does not exist", qmp.display())));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        self.state().events.push(tx);
        let monitor = FakeMonitor {
            vmm: self.clone(),
            qmp: qmp.to_path_buf(),
        };
        Ok((Box::new(monitor), rx))
    }

    async fn probe_agent(&self, _qga: &Path) -> AgentReport {
        self.state().agent.clone()
    }
}

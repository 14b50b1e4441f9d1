//! One instance, from the agent's first sight of it to the removal of its finalizer: start or
//! adopt its QEMU, follow the process over QMP and the guest agent, stop it on deletion, report.

use std::sync::Arc;
use std::time::Duration;

use dvp_api::kinds::instance::{
    ExitReason, InstanceAgent, InstanceExit, InstancePhase, InstanceStatus,
    InternalVirtualizationVirtualMachineInstance as Instance,
};
use dvp_qemu::argv::RunPaths;
use kube::ResourceExt;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior, interval, sleep};

use super::decide::{self, Ending, Initial};
use super::launch::{self, LaunchError};
use super::{FORCE_STOP_ANNOTATION, Instances, Shared};
use crate::host::{CpuShare, Host, Signal};
use crate::net::MODE_BRIDGE;
use crate::vmm::{Monitor, VmEvent, Vmm};

/// How often the ACPI power button is pressed again during a graceful stop.
const POWER_BUTTON_REPEAT: Duration = Duration::from_secs(5);

/// The latest object (None once it is gone from the API).
pub type Latest = watch::Receiver<Option<Arc<Instance>>>;

/// A QEMU process of the run.
struct Process {
    pid: u32,
    monitor: Option<Box<dyn Monitor>>,
    events: Option<mpsc::UnboundedReceiver<VmEvent>>,
    ending: Ending,
}

/// What woke the main loop.
enum Wake {
    Object(bool),
    Event(Option<VmEvent>),
    ProcessTick,
    AgentTick,
    DiskTick,
}

pub struct Worker<H: Host, V: Vmm, I: Instances> {
    shared: Arc<Shared<H, V, I>>,
    latest: Latest,
    namespace: String,
    name: String,
    uid: String,
    vm_uid: String,
    paths: RunPaths,
    /// Interfaces of the run (its taps are numbered by position).
    interfaces: usize,
    status: InstanceStatus,
    written: Value,
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn force_stop(obj: &Instance) -> bool {
    obj.annotations()
        .get(FORCE_STOP_ANNOTATION)
        .is_some_and(|v| v == "true")
}

impl<H: Host, V: Vmm, I: Instances> Worker<H, V, I> {
    pub fn new(shared: Arc<Shared<H, V, I>>, first: &Instance, latest: Latest) -> Self {
        let uid = first.uid().unwrap_or_default();
        let dir = shared.config.data_dir.join("run").join("vms").join(&uid);
        let status = first.status.clone().unwrap_or_default();
        let written = serde_json::to_value(&status).unwrap_or(Value::Null);
        Worker {
            latest,
            namespace: first.namespace().unwrap_or_default(),
            name: first.name_any(),
            uid,
            vm_uid: first.spec.vm_uid.clone(),
            paths: RunPaths::in_dir(&dir),
            interfaces: first.spec.networks.len(),
            status,
            written,
            shared,
        }
    }

    fn host(&self) -> &H {
        &self.shared.host
    }

    fn current(&self) -> Option<Arc<Instance>> {
        self.latest.borrow().clone()
    }

    fn alive(&self, pid: u32) -> bool {
        self.host()
            .cmdline(pid)
            .is_some_and(|line| line.contains(&self.vm_uid))
    }

    /// Sends the status when it differs from what the API last accepted; a failure is retried
    /// on the next process tick.
    async fn flush(&mut self) {
        let new = serde_json::to_value(&self.status).unwrap_or(Value::Null);
        if new == self.written {
            return;
        }
        let patch = decide::merge_patch(&self.written, &new);
        match self
            .shared
            .api
            .patch_status(&self.namespace, &self.name, patch)
            .await
        {
            Ok(()) => self.written = new,
            Err(e) => tracing::warn!(instance = %self.name, error = %e, "status write failed"),
        }
    }

    fn excerpt(&self) -> String {
        let log = self
            .host()
            .read(&launch::log_file(&self.paths.dir))
            .unwrap_or_default();
        decide::log_excerpt(&log, 1000)
    }

    fn set_exit(&mut self, reason: ExitReason, message: String) {
        self.status.exit = Some(InstanceExit {
            reason: Some(reason),
            message,
            time: now(),
        });
    }

    /// Runs until the instance is gone or its finalizer is removed.
    pub async fn run(mut self) {
        let Some(first) = self.current() else {
            return;
        };
        let pid_file = self.host().read(&launch::pid_file(&self.paths.dir));
        let adopt = decide::adoptable(
            pid_file.as_deref(),
            |pid| self.host().cmdline(pid),
            &self.vm_uid,
        );
        let deleting = first.metadata.deletion_timestamp.is_some();
        let mut process = match decide::initial(adopt, self.status.phase, deleting) {
            Initial::Adopt(pid) => Some(self.adopt(pid).await),
            Initial::Start => self.start(&first).await,
            Initial::Idle => None,
            Initial::LostWhileAway => {
                self.release_network();
                self.status.phase = Some(InstancePhase::Failed);
                let message = format!(
                    "QEMU ended while the node agent was away; {}",
                    self.excerpt()
                );
                self.set_exit(ExitReason::Crashed, message);
                self.disconnect_agent();
                self.flush().await;
                None
            }
        };
        self.follow(&mut process).await;
    }

    async fn follow(&mut self, process: &mut Option<Process>) {
        let timing = self.shared.config.timing;
        let mut process_tick = interval(timing.process_poll);
        let mut agent_tick = interval(timing.agent_poll);
        let mut disk_tick = interval(timing.disk_poll);
        for tick in [&mut process_tick, &mut agent_tick, &mut disk_tick] {
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        }
        loop {
            let Some(obj) = self.current() else {
                // gone without our finalizer: nobody waits for a graceful stop
                if let Some(p) = process.take() {
                    self.kill(p).await;
                }
                self.remove_run_dir();
                return;
            };
            if obj.metadata.deletion_timestamp.is_some() {
                if let Some(p) = process.take() {
                    self.stop(p).await;
                }
                self.finalize().await;
                return;
            }
            let Some(p) = process.as_mut() else {
                tokio::select! {
                    changed = self.latest.changed() => if changed.is_err() { return },
                    _ = process_tick.tick() => self.flush().await,
                }
                continue;
            };
            let wake = tokio::select! {
                changed = self.latest.changed() => Wake::Object(changed.is_ok()),
                event = next_event(p) => Wake::Event(event),
                _ = process_tick.tick() => Wake::ProcessTick,
                _ = agent_tick.tick() => Wake::AgentTick,
                _ = disk_tick.tick() => Wake::DiskTick,
            };
            match wake {
                Wake::Object(false) => return,
                Wake::Object(true) => {
                    self.serve_network();
                    self.sync_disks(p).await
                }
                Wake::Event(Some(event)) => self.on_event(p, event).await,
                Wake::Event(None) => {
                    // the monitor connection ended: the process is probably gone
                    p.events = None;
                    p.monitor = None;
                }
                Wake::ProcessTick => {
                    if !self.alive(p.pid) {
                        let p = process.take().expect("a process");
                        self.ended(p).await;
                    } else if p.monitor.is_none() {
                        self.connect(p).await;
                    }
                    self.flush().await;
                }
                Wake::AgentTick => self.poll_agent().await,
                Wake::DiskTick => self.sync_disks(p).await,
            }
        }
    }

    /// Prepares and spawns QEMU, then waits for its monitor. None when the start failed (the
    /// status says why).
    async fn start(&mut self, obj: &Instance) -> Option<Process> {
        let config = &self.shared.config;
        let prepared = match &config.facts {
            Ok(facts) => {
                let attached = self.shared.net.attach(&self.uid, &obj.spec.networks);
                self.status.network_mode = attached.mode.map(String::from);
                launch::prepare(
                    self.host(),
                    facts,
                    &self.namespace,
                    &self.name,
                    &obj.spec,
                    &self.paths,
                    &attached.nics,
                )
            }
            Err(reason) => Err(LaunchError::NoQemu(reason.clone())),
        };
        let args = match prepared {
            Ok(args) => args,
            Err(e) => {
                self.start_failed(e.to_string()).await;
                return None;
            }
        };
        let log = launch::log_file(&self.paths.dir);
        let pid = match self.host().spawn_detached(&config.qemu, &args, &log).await {
            Ok(pid) => pid,
            Err(e) => {
                self.start_failed(e.to_string()).await;
                return None;
            }
        };
        let pid_file = launch::pid_file(&self.paths.dir);
        if let Err(e) = self.host().write(&pid_file, pid.to_string().as_bytes()) {
            tracing::warn!(instance = %self.name, error = %e, "cannot write the pid file");
        }
        tracing::info!(instance = %self.name, pid, "QEMU started");
        self.status.phase = Some(InstancePhase::Starting);
        self.status.pid = Some(pid);
        if let Ok(facts) = &config.facts {
            self.status.accel = Some(facts.accel.as_str().to_string());
            self.status.qemu_version = Some(facts.qemu_version.to_string());
        }
        self.status.exit = None;
        self.flush().await;
        self.place_in_cgroup(pid, obj);

        let mut process = Process {
            pid,
            monitor: None,
            events: None,
            ending: Ending::default(),
        };
        let deadline = Instant::now() + self.shared.config.timing.qmp_connect;
        loop {
            if !self.alive(pid) {
                // give the log a moment to be complete
                sleep(Duration::from_millis(100)).await;
                let message = format!("QEMU exited at start: {}", self.excerpt());
                self.start_failed(message).await;
                return None;
            }
            if self.connect(&mut process).await {
                break;
            }
            if Instant::now() >= deadline {
                let _ = self.host().signal(pid, Signal::Kill);
                let message = format!(
                    "QEMU did not open its monitor within {:?}: {}",
                    self.shared.config.timing.qmp_connect,
                    self.excerpt()
                );
                self.start_failed(message).await;
                return None;
            }
            sleep(Duration::from_millis(200)).await;
        }
        self.after_connect(&mut process).await;
        Some(process)
    }

    async fn start_failed(&mut self, message: String) {
        tracing::warn!(instance = %self.name, %message, "QEMU did not start");
        self.release_network();
        self.status.phase = Some(InstancePhase::Failed);
        self.set_exit(ExitReason::StartFailed, message);
        self.flush().await;
    }

    fn place_in_cgroup(&self, pid: u32, obj: &Instance) {
        let cpu = &obj.spec.cpu;
        let share = CpuShare {
            cores: cpu.sockets.max(1) * cpu.cores_per_socket.max(1),
            core_fraction: if cpu.core_fraction == 0 {
                100
            } else {
                cpu.core_fraction
            },
        };
        if let Err(e) = self.host().set_cpu_share(&self.uid, pid, share) {
            tracing::debug!(instance = %self.name, error = %e, "coreFraction not applied");
        }
    }

    /// Reconnects to a QEMU an earlier agent started.
    async fn adopt(&mut self, pid: u32) -> Process {
        tracing::info!(instance = %self.name, pid, "adopting running QEMU");
        let mut process = Process {
            pid,
            monitor: None,
            events: None,
            ending: Ending::default(),
        };
        self.status.pid = Some(pid);
        // its taps stay as the earlier agent made them; only the leases are rebuilt
        self.serve_network();
        for _ in 0..10 {
            if self.connect(&mut process).await {
                break;
            }
            sleep(Duration::from_millis(300)).await;
        }
        self.after_connect(&mut process).await;
        process
    }

    /// Connects the monitor; true when connected.
    async fn connect(&self, process: &mut Process) -> bool {
        match self.shared.vmm.connect(&self.paths.qmp).await {
            Ok((monitor, events)) => {
                process.monitor = Some(monitor);
                process.events = Some(events);
                true
            }
            Err(_) => false,
        }
    }

    /// Reads the run state once the monitor answers: running guests are `Running`; a guest that
    /// shut down while nobody listened (QEMU waits paused, `-no-shutdown`) ends the run now.
    async fn after_connect(&mut self, process: &mut Process) {
        let Some(monitor) = process.monitor.as_ref() else {
            return;
        };
        let state = monitor.run_state().await.unwrap_or_default();
        if self.status.qemu_version.is_none() {
            self.status.qemu_version = Some(monitor.version());
        }
        if self.status.accel.is_none()
            && let Ok(facts) = &self.shared.config.facts
        {
            self.status.accel = Some(facts.accel.as_str().to_string());
        }
        if state == "shutdown" {
            process.ending.guest_shutdown = true;
            let _ = monitor.quit().await;
        } else if !matches!(
            self.status.phase,
            Some(InstancePhase::Running | InstancePhase::Stopping)
        ) {
            self.status.phase = Some(InstancePhase::Running);
            self.status.start_time = Some(now());
        }
        self.flush().await;
        self.sync_disks(process).await;
    }

    async fn on_event(&mut self, process: &mut Process, event: VmEvent) {
        match event {
            VmEvent::Shutdown { guest, reason } => {
                tracing::info!(instance = %self.name, guest, %reason, "guest shut down");
                if guest {
                    process.ending.guest_shutdown = true;
                } else {
                    process.ending.host_shutdown = true;
                }
                // QEMU waits paused after a shutdown; the run is over
                if let Some(monitor) = &process.monitor {
                    let _ = monitor.quit().await;
                }
            }
            VmEvent::Reset { guest: true } => {
                self.set_exit(ExitReason::GuestReset, "the guest rebooted".to_string());
                self.flush().await;
            }
            _ => {}
        }
    }

    fn disconnect_agent(&mut self) {
        if let Some(agent) = &mut self.status.agent {
            agent.connected = false;
        }
    }

    /// Waits (up to 5 s) until the process is reaped, not only dead: an adopted QEMU is the
    /// init process's child, and a zombie still answers `kill -0`, so nobody should hear the
    /// run is over while its pid still exists.
    async fn wait_reaped(&self, pid: u32) {
        let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
        for _ in 0..50 {
            if !self.host().exists(&proc_dir) {
                return;
            }
            sleep(Duration::from_millis(100)).await;
        }
    }

    /// Records how the process ended.
    async fn ended(&mut self, process: Process) {
        self.wait_reaped(process.pid).await;
        let (phase, reason) = decide::outcome(process.ending);
        let message = if reason == ExitReason::Crashed {
            format!("QEMU ended without a shutdown: {}", self.excerpt())
        } else {
            String::new()
        };
        tracing::info!(instance = %self.name, pid = process.pid, reason = reason.as_str(), "QEMU ended");
        self.status.phase = Some(phase);
        self.set_exit(reason, message);
        self.disconnect_agent();
        self.host().remove_cgroup(&self.uid);
        self.release_network();
        self.flush().await;
    }

    async fn poll_agent(&mut self) {
        if self.status.phase != Some(InstancePhase::Running) {
            return;
        }
        let report = self.shared.vmm.probe_agent(&self.paths.qga).await;
        let previous = self.status.agent.clone().unwrap_or_default();
        let agent = if report.connected {
            InstanceAgent {
                connected: true,
                os_info: report.os_info,
                version: report.version,
                interfaces: report.interfaces,
                frozen: report.frozen,
            }
        } else {
            // keep what the guest said last; only the connection changed
            InstanceAgent {
                connected: false,
                ..previous
            }
        };
        if report.connected || self.status.agent.is_some() {
            self.status.agent = Some(agent);
        }
        self.flush().await;
    }

    /// Grows disks whose wanted size went up and reports the sizes the guest sees.
    async fn sync_disks(&mut self, process: &mut Process) {
        let Some(obj) = self.current() else {
            return;
        };
        let Some(monitor) = process.monitor.as_ref() else {
            return;
        };
        let Ok(mut sizes) = monitor.disk_sizes().await else {
            return;
        };
        let grow = decide::resizes(&obj.spec.disks, &sizes);
        for (drive, size) in &grow {
            match monitor.resize(drive, *size).await {
                Ok(()) => tracing::info!(instance = %self.name, %drive, size, "disk grown online"),
                Err(e) => {
                    tracing::warn!(instance = %self.name, %drive, error = %e, "block_resize failed")
                }
            }
        }
        if !grow.is_empty()
            && let Ok(now) = monitor.disk_sizes().await
        {
            sizes = now;
        }
        self.status.disk_sizes = decide::sizes_by_name(&obj.spec.disks, &sizes);
        self.flush().await;
    }

    /// Waits up to `limit` for the process to end, quitting QEMU if the guest shuts down
    /// meanwhile. True when it ended.
    async fn wait_gone(&self, process: &mut Process, limit: Duration, watch_force: bool) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if !self.alive(process.pid) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            if watch_force && self.current().is_some_and(|o| force_stop(&o)) {
                return false;
            }
            if let Some(events) = process.events.as_mut() {
                while let Ok(event) = events.try_recv() {
                    if let VmEvent::Shutdown { guest, .. } = event {
                        if guest {
                            process.ending.guest_shutdown = true;
                        }
                        if let Some(monitor) = &process.monitor {
                            let _ = monitor.quit().await;
                        }
                    }
                }
            }
            sleep(Duration::from_millis(250)).await;
        }
    }

    /// Graceful stop: ACPI power button, the grace period, then `quit`, then SIGKILL.
    async fn stop(&mut self, mut process: Process) {
        let obj = self.current();
        let force = obj.as_deref().is_some_and(force_stop);
        let grace = obj
            .as_ref()
            .map(|o| o.spec.termination_grace_period_seconds.max(0) as u64)
            .unwrap_or(0);
        process.ending.stopping = true;
        self.status.phase = Some(InstancePhase::Stopping);
        self.flush().await;
        tracing::info!(instance = %self.name, force, grace, "stopping QEMU");
        let mut gone = false;
        if !force {
            // a guest still booting misses the button; press it again until the grace ends
            let deadline = Instant::now() + Duration::from_secs(grace);
            while !gone
                && Instant::now() < deadline
                && !self.current().is_some_and(|o| force_stop(&o))
            {
                if let Some(monitor) = &process.monitor {
                    let _ = monitor.powerdown().await;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                gone = self
                    .wait_gone(&mut process, left.min(POWER_BUTTON_REPEAT), true)
                    .await;
            }
        }
        if !gone && !force {
            if let Some(monitor) = &process.monitor {
                let _ = monitor.quit().await;
            }
            gone = self
                .wait_gone(&mut process, self.shared.config.timing.kill_wait, false)
                .await;
        }
        if !gone {
            let _ = self.host().signal(process.pid, Signal::Kill);
            self.wait_gone(&mut process, self.shared.config.timing.kill_wait, false)
                .await;
        }
        self.ended(process).await;
    }

    async fn kill(&mut self, process: Process) {
        let _ = self.host().signal(process.pid, Signal::Kill);
        let _ = process;
        self.host().remove_cgroup(&self.uid);
        self.release_network();
    }

    /// Serves the run's leases when it is bridged (again after a spec change or an adoption).
    fn serve_network(&self) {
        if self.status.network_mode.as_deref() != Some(MODE_BRIDGE) {
            return;
        }
        if let Some(obj) = self.current() {
            self.shared.net.serve(&self.uid, &obj.spec.networks);
        }
    }

    /// The run is over: its leases and taps go (deleting absent taps is a no-op).
    fn release_network(&self) {
        self.shared.net.release(&self.uid, self.interfaces);
    }

    fn remove_run_dir(&self) {
        if let Err(e) = self.host().remove(&self.paths.dir) {
            tracing::warn!(instance = %self.name, error = %e, "cannot remove the run dir");
        }
    }

    /// The process is gone: remove what the run left and let the object go.
    async fn finalize(&mut self) {
        self.remove_run_dir();
        self.host().remove_cgroup(&self.uid);
        self.release_network();
        loop {
            match self
                .shared
                .api
                .remove_finalizer(&self.namespace, &self.name, &self.uid)
                .await
            {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(instance = %self.name, error = %e, "cannot remove the finalizer")
                }
            }
            sleep(Duration::from_secs(1)).await;
            if self.current().is_none() {
                return;
            }
        }
    }
}

async fn next_event(process: &mut Process) -> Option<VmEvent> {
    match process.events.as_mut() {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

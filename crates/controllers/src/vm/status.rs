//! The VM's status (pure): phase, conditions, node, resources, guest info and pending changes,
//! from what one reconcile learned.

use dvp_api::conditions::vm::{
    AgentReadyReason, AwaitingRestartReason, BlockDevicesReadyReason, ClassReadyReason,
    ConfigurationAppliedReason, IpAddressReadyReason, MacAddressReadyReason,
    ProvisioningReadyReason, RunningReason, SizingPolicyMatchedReason, Type,
};
use dvp_api::conditions::{
    AsApiStr, ConditionStatus, new_condition, remove_condition, set_condition,
};
use dvp_api::kinds::instance::{
    ExitReason, InstancePhase, InternalVirtualizationVirtualMachineInstance as Instance,
};
use dvp_api::kinds::virtual_machine::{
    CpuStatus, CpuTopology, GuestOsInfo, MemoryStatus, PhaseTransition, RestartAwaitingChange,
    VirtualMachine, VirtualMachinePhase, VirtualMachineResources, VirtualMachineStats,
    VirtualMachineStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::Resource;

use super::network::{NetworkState, guest_carries};
use super::power::{Action, Cause, Decision};

/// How the VM's class looks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClassState {
    Ready,
    NotFound,
    Terminating,
}

/// What a reconcile learned, for the status.
pub struct StatusInput<'a> {
    pub vm: &'a VirtualMachine,
    pub now: Time,
    pub class: ClassState,
    /// `Err(message)` when the VM does not fit its class's sizing policy.
    pub sizing: Result<(), String>,
    /// `Err((reason, message))` when a block device is not ready.
    pub devices: Result<(), (BlockDevicesReadyReason, String)>,
    pub provisioning: Result<(), String>,
    /// The VM's interfaces and addresses.
    pub network: &'a NetworkState,
    pub instance: Option<&'a Instance>,
    pub decision: Decision,
    /// Why no node can take the VM, when scheduling failed.
    pub unschedulable: Option<String>,
    pub restart_awaiting: Vec<RestartAwaitingChange>,
}

/// The phase of the VM.
pub fn phase(input: &StatusInput) -> VirtualMachinePhase {
    if input.vm.meta().deletion_timestamp.is_some() {
        return VirtualMachinePhase::Terminating;
    }
    let d = input.decision;
    let Some(inst) = input.instance else {
        return if d.wants_on || d.action == Action::Create {
            VirtualMachinePhase::Pending
        } else {
            VirtualMachinePhase::Stopped
        };
    };
    if inst.meta().deletion_timestamp.is_some() {
        return VirtualMachinePhase::Stopping;
    }
    let status = inst.status.as_ref();
    match status.and_then(|s| s.phase) {
        None | Some(InstancePhase::Pending | InstancePhase::Starting) => {
            VirtualMachinePhase::Starting
        }
        Some(InstancePhase::Running) => VirtualMachinePhase::Running,
        Some(InstancePhase::Stopping) => VirtualMachinePhase::Stopping,
        Some(InstancePhase::Succeeded | InstancePhase::Failed) => match d.action {
            Action::Backoff(_) => VirtualMachinePhase::Pending,
            _ if d.wants_on => VirtualMachinePhase::Starting,
            _ => VirtualMachinePhase::Stopping,
        },
    }
}

fn set(
    conds: &mut Vec<Condition>,
    t: Type,
    ok: bool,
    reason: &impl AsApiStr,
    message: impl Into<String>,
    generation: Option<i64>,
    now: &Time,
) {
    let status = if ok {
        ConditionStatus::True
    } else {
        ConditionStatus::False
    };
    set_condition(
        conds,
        new_condition(&t, status, reason, message, generation, now.clone()),
    );
}

fn exit_message(inst: &Instance) -> Option<(ExitReason, String)> {
    let exit = inst.status.as_ref()?.exit.as_ref()?;
    Some((exit.reason?, exit.message.clone()))
}

/// The whole status.
pub fn build(input: &StatusInput) -> VirtualMachineStatus {
    let vm = input.vm;
    let generation = vm.meta().generation;
    let now = &input.now;
    let mut status = vm.status.clone().unwrap_or_default();
    let conds = &mut status.conditions;
    let phase = phase(input);

    match input.class {
        ClassState::Ready => set(
            conds,
            Type::VirtualMachineClassReady,
            true,
            &ClassReadyReason::VirtualMachineClassReady,
            "",
            generation,
            now,
        ),
        ClassState::NotFound | ClassState::Terminating => set(
            conds,
            Type::VirtualMachineClassReady,
            false,
            &ClassReadyReason::VirtualMachineClassNotReady,
            format!(
                "VirtualMachineClass {:?} {}",
                vm.spec.virtual_machine_class_name,
                if input.class == ClassState::NotFound {
                    "not found"
                } else {
                    "is being deleted"
                }
            ),
            generation,
            now,
        ),
    }
    match (&input.class, &input.sizing) {
        (ClassState::NotFound, _) => set(
            conds,
            Type::SizingPolicyMatched,
            false,
            &SizingPolicyMatchedReason::VirtualMachineClassNotFound,
            "the VirtualMachineClass does not exist",
            generation,
            now,
        ),
        (ClassState::Terminating, _) => set(
            conds,
            Type::SizingPolicyMatched,
            false,
            &SizingPolicyMatchedReason::VirtualMachineClassTerminating,
            "the VirtualMachineClass is being deleted",
            generation,
            now,
        ),
        (_, Err(m)) => set(
            conds,
            Type::SizingPolicyMatched,
            false,
            &SizingPolicyMatchedReason::SizingPolicyNotMatched,
            m.clone(),
            generation,
            now,
        ),
        (_, Ok(())) => {
            remove_condition(conds, Type::SizingPolicyMatched.as_str());
        }
    }
    match &input.devices {
        Ok(()) => set(
            conds,
            Type::BlockDevicesReady,
            true,
            &BlockDevicesReadyReason::BlockDevicesReady,
            "",
            generation,
            now,
        ),
        Err((reason, m)) => set(
            conds,
            Type::BlockDevicesReady,
            false,
            reason,
            m.clone(),
            generation,
            now,
        ),
    }
    match &input.provisioning {
        Ok(()) => set(
            conds,
            Type::ProvisioningReady,
            true,
            &ProvisioningReadyReason::ProvisioningReady,
            "",
            generation,
            now,
        ),
        Err(m) => set(
            conds,
            Type::ProvisioningReady,
            false,
            &ProvisioningReadyReason::ProvisioningNotReady,
            m.clone(),
            generation,
            now,
        ),
    }

    // Running.
    let (running, reason, message) = match (phase, input.instance) {
        (VirtualMachinePhase::Running, _) => (true, RunningReason::Running, String::new()),
        (_, Some(inst))
            if matches!(
                exit_message(inst),
                Some((ExitReason::StartFailed | ExitReason::Crashed, _))
            ) =>
        {
            let (why, m) = exit_message(inst).unwrap_or((ExitReason::Crashed, String::new()));
            let what = if why == ExitReason::StartFailed {
                "QEMU could not start"
            } else {
                "QEMU ended unexpectedly"
            };
            let retry = match input.decision.action {
                Action::Backoff(d) => format!("; retrying in {}s", d.as_secs().max(1)),
                _ => String::new(),
            };
            (
                false,
                RunningReason::InternalVirtualMachineError,
                format!("{what}: {m}{retry}"),
            )
        }
        (_, None) if input.unschedulable.is_some() => (
            false,
            RunningReason::NotRunning,
            input.unschedulable.clone().unwrap_or_default(),
        ),
        (_, None) if input.decision.wants_on => {
            (false, RunningReason::NotRunning, waiting_message(input))
        }
        _ => (false, RunningReason::NotRunning, String::new()),
    };
    set(
        conds,
        Type::Running,
        running,
        &reason,
        message,
        generation,
        now,
    );

    // Guest agent.
    let agent = input
        .instance
        .filter(|_| phase == VirtualMachinePhase::Running)
        .and_then(|i| i.status.as_ref())
        .and_then(|s| s.agent.as_ref());
    if phase == VirtualMachinePhase::Running {
        let connected = agent.is_some_and(|a| a.connected);
        let (reason, message) = if connected {
            (AgentReadyReason::AgentReady, "")
        } else {
            (
                AgentReadyReason::AgentNotReady,
                "the guest agent does not answer (yet)",
            )
        };
        set(
            conds,
            Type::AgentReady,
            connected,
            &reason,
            message,
            generation,
            now,
        );
    } else {
        remove_condition(conds, Type::AgentReady.as_str());
    }
    status.guest_os_info = agent
        .and_then(|a| a.os_info.clone())
        .and_then(|v| serde_json::from_value::<GuestOsInfo>(v).ok())
        .or_else(|| {
            status
                .guest_os_info
                .clone()
                .filter(|_| phase == VirtualMachinePhase::Running)
        });

    // Pending changes.
    let show_changes = !matches!(
        phase,
        VirtualMachinePhase::Pending | VirtualMachinePhase::Starting | VirtualMachinePhase::Stopped
    ) && !input.restart_awaiting.is_empty();
    if show_changes {
        let m =
            "changes to the VM configuration wait for a restart: see status.restartAwaitingChanges";
        set(
            conds,
            Type::ConfigurationApplied,
            false,
            &ConfigurationAppliedReason::ConfigurationNotApplied,
            m,
            generation,
            now,
        );
        set(
            conds,
            Type::AwaitingRestartToApplyConfiguration,
            true,
            &AwaitingRestartReason::ChangesPendingRestart,
            m,
            generation,
            now,
        );
        status.restart_awaiting_changes = input.restart_awaiting.clone();
    } else {
        remove_condition(conds, Type::ConfigurationApplied.as_str());
        remove_condition(conds, Type::AwaitingRestartToApplyConfiguration.as_str());
        status.restart_awaiting_changes = vec![];
    }

    network_status(&mut status, input, phase);
    status.node_name = input
        .instance
        .map(|i| i.spec.node_name.clone())
        .filter(|n| !n.is_empty());
    status.resources = Some(resources(vm, input.instance));
    status.versions = input
        .instance
        .and_then(|i| i.status.as_ref())
        .and_then(|s| s.qemu_version.clone())
        .map(|q| dvp_api::kinds::virtual_machine::HypervisorVersions {
            qemu: Some(q),
            libvirt: None,
        })
        .or(status.versions.take());

    let mut stats = status.stats.take().unwrap_or_default();
    if status.phase != Some(phase) {
        stats.phases_transitions.push(PhaseTransition {
            phase,
            timestamp: now.clone(),
        });
        let keep = stats.phases_transitions.len().saturating_sub(5);
        stats.phases_transitions.drain(..keep);
    }
    if let Some(start) = input
        .instance
        .and_then(|i| i.status.as_ref())
        .and_then(|s| s.start_time.as_deref())
        .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
    {
        stats.last_start_time = Some(Time(start));
    }
    status.stats = (stats != VirtualMachineStats::default()).then_some(stats);
    status.phase = Some(phase);
    status.observed_generation = generation;
    status
}

/// Addresses, interfaces and their two conditions.
fn network_status(
    status: &mut VirtualMachineStatus,
    input: &StatusInput,
    phase: VirtualMachinePhase,
) {
    let generation = input.vm.meta().generation;
    let now = &input.now;
    let net = input.network;
    let conds = &mut status.conditions;
    match &net.main {
        Some(main) => {
            let running = phase == VirtualMachinePhase::Running;
            let carried = main
                .address
                .as_deref()
                .and_then(|a| guest_carries(input.instance.filter(|_| running), a));
            let (ok, reason, message) = match (&main.ready, carried) {
                (Err((r, m)), _) => (false, *r, m.clone()),
                // Does not hold anything back: the guest just does not show the address yet.
                (Ok(()), Some(false)) => (
                    false,
                    IpAddressReadyReason::VirtualMachineIpAddressNotAssigned,
                    format!(
                        "the guest does not carry its address {} on any interface (is DHCP on?)",
                        main.address.as_deref().unwrap_or_default()
                    ),
                ),
                (Ok(()), _) => (
                    true,
                    IpAddressReadyReason::VirtualMachineIpAddressReady,
                    String::new(),
                ),
            };
            set(
                conds,
                Type::VirtualMachineIpAddressReady,
                ok,
                &reason,
                message,
                generation,
                now,
            );
            status.virtual_machine_ip_address_name = main.vmip_name.clone();
            status.ip_address = main.address.clone();
        }
        None => {
            remove_condition(conds, Type::VirtualMachineIpAddressReady.as_str());
            status.virtual_machine_ip_address_name = None;
            status.ip_address = None;
        }
    }
    let has_extras = net.interfaces.iter().any(|i| i.vmmac_name.is_some()) || net.macs.is_err();
    match &net.macs {
        _ if !has_extras => {
            remove_condition(conds, Type::VirtualMachineMacAddressReady.as_str());
        }
        Ok(()) => set(
            conds,
            Type::VirtualMachineMacAddressReady,
            true,
            &MacAddressReadyReason::VirtualMachineMacAddressReady,
            "",
            generation,
            now,
        ),
        Err((r, m)) => set(
            conds,
            Type::VirtualMachineMacAddressReady,
            false,
            r,
            m.clone(),
            generation,
            now,
        ),
    }
    status.networks = net.status_networks();
}

fn waiting_message(input: &StatusInput) -> String {
    let mut why = Vec::new();
    if input.class != ClassState::Ready {
        why.push("its VirtualMachineClass is not ready".to_string());
    }
    if let Err(m) = &input.sizing {
        why.push(m.clone());
    }
    if let Err((_, m)) = &input.devices {
        why.push(m.clone());
    }
    if let Err(m) = &input.provisioning {
        why.push(m.clone());
    }
    if let Err(m) = input.network.ready() {
        why.push(m);
    }
    if why.is_empty() {
        "the VM is being scheduled".into()
    } else {
        format!("waiting: {}", why.join("; "))
    }
}

/// Applied resources: the run's while there is one, else the spec's.
fn resources(vm: &VirtualMachine, instance: Option<&Instance>) -> VirtualMachineResources {
    let (cores, fraction, sockets, per_socket, memory) = match instance {
        Some(i) => {
            let c = &i.spec.cpu;
            (
                (c.sockets * c.cores_per_socket) as i32,
                format!("{}%", c.core_fraction),
                c.sockets as i32,
                c.cores_per_socket as i32,
                dvp_storage::objects::capacity_quantity(
                    i.spec.memory_bytes,
                    Some(&vm.spec.memory.size),
                )
                .0,
            )
        }
        None => {
            let cores = vm.spec.cpu.cores;
            let (s, p) = dvp_api::topology::topology(cores);
            let fraction = vm
                .spec
                .cpu
                .core_fraction
                .clone()
                .unwrap_or_else(|| "100%".into());
            (cores, fraction, s, p, vm.spec.memory.size.clone())
        }
    };
    let percent = super::resolve::core_fraction_percent(Some(&fraction), 100);
    let millis = u64::try_from(cores).unwrap_or(0) * u64::from(percent) * 10;
    VirtualMachineResources {
        cpu: Some(CpuStatus {
            cores,
            core_fraction: Some(fraction),
            requested_cores: Some(format!("{millis}m")),
            runtime_overhead: None,
            topology: Some(CpuTopology {
                cores_per_socket: per_socket,
                sockets,
            }),
        }),
        memory: Some(MemoryStatus {
            size: memory,
            runtime_overhead: Some(format!("{}Mi", cores.max(1) * 8)),
        }),
    }
}

/// Whether the cause of ending a run is worth a Warning.
pub fn is_failure(cause: Cause) -> bool {
    matches!(cause, Cause::Crashed | Cause::StartFailed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::network::{Interface, MainAddress};
    use dvp_api::kinds::virtual_machine::NetworkType;
    use serde_json::json;

    fn vm() -> VirtualMachine {
        serde_json::from_value(json!({
            "metadata": {"name": "vm", "namespace": "default", "uid": "u", "generation": 1},
            "spec": {
                "virtualMachineClassName": "generic",
                "cpu": {"cores": 1},
                "memory": {"size": "1Gi"},
                "blockDeviceRefs": [{"kind": "VirtualDisk", "name": "d"}],
            },
        }))
        .unwrap()
    }

    fn running(guest_addresses: &[&str]) -> Instance {
        serde_json::from_value(json!({
            "metadata": {"name": "vm", "namespace": "default"},
            "spec": {"vmUid": "u", "vmName": "vm", "nodeName": "n",
                     "cpu": {"model": "host", "sockets": 1, "coresPerSocket": 1, "coreFraction": 100},
                     "memoryBytes": 1},
            "status": {"phase": "Running", "agent": {"connected": true,
                "interfaces": [{"name": "eth0", "ipAddresses": guest_addresses}]}},
        }))
        .unwrap()
    }

    fn network(ready: Result<(), (IpAddressReadyReason, String)>) -> NetworkState {
        NetworkState {
            main: Some(MainAddress {
                vmip_name: Some("vm-x1".into()),
                address: Some("10.66.10.1".into()),
                cidr: Some("10.66.10.0/24".into()),
                ready,
            }),
            interfaces: vec![Interface {
                id: 1,
                type_: NetworkType::Main,
                name: None,
                mac: Some("12:00:00:00:00:01".into()),
                vmmac_name: None,
            }],
            macs: Ok(()),
        }
    }

    fn build_with(net: &NetworkState, instance: Option<&Instance>) -> VirtualMachineStatus {
        let vm = vm();
        build(&StatusInput {
            vm: &vm,
            now: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
            class: ClassState::Ready,
            sizing: Ok(()),
            devices: Ok(()),
            provisioning: Ok(()),
            network: net,
            instance,
            decision: Decision {
                action: Action::Wait,
                intent: None,
                consume_request: false,
                wants_on: true,
                cause: Cause::None,
            },
            unschedulable: None,
            restart_awaiting: vec![],
        })
    }

    fn ip_condition(st: &VirtualMachineStatus) -> (String, String) {
        let c = st
            .conditions
            .iter()
            .find(|c| c.type_ == "VirtualMachineIPAddressReady")
            .expect("the condition");
        (c.status.clone(), c.reason.clone())
    }

    #[test]
    fn a_bound_address_shows_in_the_status() {
        let st = build_with(&network(Ok(())), None);
        assert_eq!(st.ip_address.as_deref(), Some("10.66.10.1"));
        assert_eq!(st.virtual_machine_ip_address_name.as_deref(), Some("vm-x1"));
        assert_eq!(
            st.networks[0].mac_address.as_deref(),
            Some("12:00:00:00:00:01")
        );
        assert_eq!(
            ip_condition(&st),
            ("True".into(), "VirtualMachineIPAddressReady".into())
        );
    }

    #[test]
    fn a_guest_without_its_address_is_not_assigned() {
        let run = running(&["10.0.2.15"]);
        let st = build_with(&network(Ok(())), Some(&run));
        assert_eq!(
            ip_condition(&st),
            ("False".into(), "VirtualMachineIPAddressNotAssigned".into())
        );
    }

    #[test]
    fn a_guest_carrying_its_address_is_ready() {
        let run = running(&["10.66.10.1"]);
        let st = build_with(&network(Ok(())), Some(&run));
        assert_eq!(ip_condition(&st).0, "True");
    }

    #[test]
    fn an_unbound_address_says_why_and_the_vm_waits_for_it() {
        let net = network(Err((
            IpAddressReadyReason::VirtualMachineIpAddressNotReady,
            "waiting for the VirtualMachineIPAddress vm-x1 to be bound".into(),
        )));
        let st = build_with(&net, None);
        assert_eq!(
            ip_condition(&st),
            ("False".into(), "VirtualMachineIPAddressNotReady".into())
        );
        let running = st.conditions.iter().find(|c| c.type_ == "Running").unwrap();
        assert!(running.message.contains("vm-x1"), "{}", running.message);
    }
}

//! VirtualMachine: turns a VM into runs (instances) on nodes. Each reconcile loads what the VM
//! depends on ([`load`]), resolves the runtime configuration ([`resolve`]), compares it with the
//! current run ([`changes`]), decides the power state ([`power`]), schedules
//! ([`crate::scheduler`]), creates or ends the run, writes the status once ([`status`]) and only
//! then acknowledges operation requests ([`signals`]), so an operation never sees its request
//! handled together with a stale phase.

pub mod changes;
pub mod load;
pub mod network;
pub mod power;
pub mod resolve;
pub mod signals;
pub mod status;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dvp_api::admission::sizing;
use dvp_api::conditions::vm::BlockDevicesReadyReason;
use dvp_api::kinds::instance::{
    APPLIED_SPEC_ANNOTATION, CLEANUP_FINALIZER, ExitReason, InstancePhase,
    InternalVirtualizationVirtualMachineInstance as Instance, NODE_LABEL, VM_UID_LABEL,
};
use dvp_api::kinds::virtual_machine::{
    RestartApprovalMode, VirtualMachinePhase, VirtualMachineSpec,
};
use dvp_api::kinds::virtual_machine_class::VirtualMachineClassPhase;
use dvp_api::kinds::virtual_machine_class::v1alpha2::VirtualMachineClass;
use dvp_api::kinds::{VirtualMachine, VirtualMachineIPAddress, VirtualMachineMACAddress};
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action as Requeue, Controller};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use crate::Context;
use crate::events::EventType;
use crate::images::{Services, finalizer};
use crate::scheduler;
use power::{Action, Cause, Decision, Intent};
use status::{ClassState, StatusInput};

/// Held until the VM's run is gone.
pub const FINALIZER: &str = "virtualization.deckhouse.io/vm-cleanup";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error(transparent)]
    Status(#[from] crate::status::StatusError),
}

/// Failed starts per VM uid: how many in a row and when the last was seen.
type Failures = HashMap<String, (u32, Instant, String)>;

struct VmCtx {
    ctx: Arc<Context>,
    /// The cluster's MAC prefix (spec §5.6), for the main interfaces' MACs.
    oui: [u8; 3],
    services: Arc<Services>,
    failures: Mutex<Failures>,
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

fn owner_reference(vm: &VirtualMachine) -> OwnerReference {
    OwnerReference {
        api_version: VirtualMachine::api_version(&()).into_owned(),
        kind: VirtualMachine::kind(&()).into_owned(),
        name: vm.name_any(),
        uid: vm.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The VM spec a run was built from.
pub fn applied_spec(instance: &Instance) -> Option<VirtualMachineSpec> {
    let text = instance.annotations().get(APPLIED_SPEC_ANNOTATION)?;
    serde_json::from_str(text).ok()
}

fn class_state(class: Option<&VirtualMachineClass>) -> ClassState {
    match class {
        None => ClassState::NotFound,
        Some(c) if c.meta().deletion_timestamp.is_some() => ClassState::Terminating,
        Some(c)
            if c.status
                .as_ref()
                .is_some_and(|s| s.phase == VirtualMachineClassPhase::Terminating) =>
        {
            ClassState::Terminating
        }
        Some(_) => ClassState::Ready,
    }
}

fn sizing_check(vm: &VirtualMachine, class: Option<&VirtualMachineClass>) -> Result<(), String> {
    let Some(class) = class else { return Ok(()) };
    let json = serde_json::to_value(class).unwrap_or_default();
    let policies = sizing::policies_of(&json);
    let memory = resolve::memory_bytes(&vm.spec.memory.size).map(i128::from);
    sizing::check(
        &class.name_any(),
        &policies,
        vm.spec.cpu.cores,
        memory,
        vm.spec.cpu.core_fraction.as_deref(),
    )
}

fn run_of(instance: &Instance) -> power::Run {
    let status = instance.status.as_ref();
    power::Run {
        deleting: instance.meta().deletion_timestamp.is_some(),
        phase: status.and_then(|s| s.phase),
        exit: status.and_then(|s| s.exit.as_ref()).and_then(|e| e.reason),
    }
}

fn scheduling_request(
    vm: &VirtualMachine,
    class: &VirtualMachineClass,
    disks: &[resolve::ResolvedDisk],
) -> scheduler::Request {
    let cores = u32::try_from(vm.spec.cpu.cores.max(1)).unwrap_or(1);
    let fraction = resolve::core_fraction_percent(vm.spec.cpu.core_fraction.as_deref(), 100);
    let memory = resolve::memory_bytes(&vm.spec.memory.size).unwrap_or(0);
    let selector = class.spec.node_selector.clone().unwrap_or_default();
    let mut volume_nodes: Vec<String> = disks.iter().filter_map(|d| d.node.clone()).collect();
    volume_nodes.dedup();
    scheduler::Request {
        cpu_millis: scheduler::cpu_request_millis(cores, fraction),
        memory_bytes: scheduler::memory_request_bytes(memory, cores),
        node_selector: vm.spec.node_selector.clone(),
        class_labels: selector.match_labels,
        class_expressions: selector.match_expressions,
        volume_nodes,
    }
}

async fn ensure_gone(
    instances: &Api<Instance>,
    instance: &Instance,
    force: bool,
) -> Result<(), kube::Error> {
    if force
        && instance
            .annotations()
            .get(signals::FORCE_STOP)
            .map(String::as_str)
            != Some("true")
    {
        let patch = serde_json::json!({"metadata": {"annotations": {signals::FORCE_STOP: "true"}}});
        instances
            .patch(
                &instance.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
    }
    if instance.meta().deletion_timestamp.is_none() {
        match instances
            .delete(&instance.name_any(), &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Metadata changes to the VM after its status is written: acknowledge a request, remember the
/// power intent.
async fn acknowledge(
    vms: &Api<VirtualMachine>,
    vm: &VirtualMachine,
    decision: &Decision,
    request: Option<power::Request>,
) -> Result<(), kube::Error> {
    let mut annotations = serde_json::Map::new();
    if decision.consume_request
        && let Some(r) = request
    {
        annotations.insert(
            signals::annotation_of(r.kind).into(),
            serde_json::Value::Null,
        );
        annotations.insert(signals::FORCE.into(), serde_json::Value::Null);
    }
    if let Some(intent) = decision.intent
        && signals::intent(vm.annotations()) != Some(intent)
    {
        annotations.insert(signals::POWER_STATE.into(), intent.as_str().into());
    }
    if annotations.is_empty() {
        return Ok(());
    }
    let patch = serde_json::json!({"metadata": {"annotations": annotations}});
    vms.patch(
        &vm.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

async fn reconcile(cached: Arc<VirtualMachine>, cx: Arc<VmCtx>) -> Result<Requeue, Error> {
    let client = &cx.ctx.client;
    let ns = cached.namespace().unwrap_or_default();
    let name = cached.name_any();
    let vms: Api<VirtualMachine> = Api::namespaced(client.clone(), &ns);
    // Read the VM afresh: the watch cache can lag behind the annotations the previous
    // reconcile removed, and acting twice on a restart request would restart twice.
    let Some(vm) = vms.get_opt(&name).await? else {
        return Ok(Requeue::await_change());
    };
    let vm = Arc::new(vm);
    let uid = vm.uid().unwrap_or_default();
    let instances: Api<Instance> = Api::namespaced(client.clone(), &ns);
    let instance = instances
        .get_opt(&name)
        .await?
        .filter(|i| i.spec.vm_uid == uid || i.spec.vm_uid.is_empty());

    if vm.meta().deletion_timestamp.is_some() {
        if let Some(i) = &instance {
            ensure_gone(&instances, i, false).await?;
            let mut st = vm.status.clone().unwrap_or_default();
            if st.phase != Some(VirtualMachinePhase::Terminating) {
                st.phase = Some(VirtualMachinePhase::Terminating);
                let _ = crate::status::write(&vms, vm.as_ref(), vm.status.as_ref(), &st).await;
            }
            return Ok(Requeue::requeue(Duration::from_secs(2)));
        }
        cx.failures.lock().expect("not poisoned").remove(&uid);
        finalizer::set(&vms, vm.as_ref(), FINALIZER, false).await?;
        return Ok(Requeue::await_change());
    }
    if finalizer::set(&vms, vm.as_ref(), FINALIZER, true).await? {
        return Ok(Requeue::await_change());
    }

    // Load.
    let classes: Api<VirtualMachineClass> = Api::all(client.clone());
    let class = classes.get_opt(&vm.spec.virtual_machine_class_name).await?;
    let class_state = class_state(class.as_ref());
    let sizing = sizing_check(&vm, class.as_ref());
    let devices = load::block_devices(client, &cx.services, &vm).await?;
    let provisioning = load::provisioning(client, &vm).await?;
    let network = network::load(client, &vm, cx.oui, instance.as_ref()).await?;

    // Changes against the current run.
    let changes = match instance.as_ref().and_then(applied_spec) {
        Some(applied) => changes::diff(&applied, &vm.spec),
        None => vec![],
    };
    let restart_awaiting = changes::restart_awaiting(&changes);

    // Power.
    let request = signals::pending(vm.annotations());
    let deps_ready = class_state == ClassState::Ready
        && sizing.is_ok()
        && devices.is_ok()
        && provisioning.is_ok()
        && network.ready().is_ok();
    // Remember failed starts for the backoff; forget them once a run reaches Running.
    if let Some(i) = &instance {
        let st = i.status.as_ref();
        let mut failures = cx.failures.lock().expect("not poisoned");
        if st.and_then(|s| s.phase) == Some(InstancePhase::Running) {
            failures.remove(&uid);
        } else if st.and_then(|s| s.exit.as_ref()).and_then(|e| e.reason)
            == Some(ExitReason::StartFailed)
        {
            let run_uid = i.uid().unwrap_or_default();
            let entry = failures
                .entry(uid.clone())
                .or_insert((0, Instant::now(), String::new()));
            if entry.2 != run_uid {
                *entry = (entry.0 + 1, Instant::now(), run_uid);
            }
        }
    }

    let backoff_left = {
        let failures = cx.failures.lock().expect("not poisoned");
        failures
            .get(&uid)
            .map(|(n, at, _)| power::backoff_delay(*n).saturating_sub(at.elapsed()))
    };
    let automatic = vm.spec.disruptions.restart_approval_mode
        == Some(RestartApprovalMode::Automatic)
        && !restart_awaiting.is_empty();
    let decision = power::decide(&power::Input {
        policy: vm.spec.run_policy,
        intent: signals::intent(vm.annotations()),
        request,
        run: instance.as_ref().map(run_of),
        dependencies_ready: deps_ready,
        automatic_restart: automatic,
        changes_pending: !restart_awaiting.is_empty(),
        backoff_left,
    });

    // Act.
    let mut unschedulable = None;
    let mut created = None;
    match decision.action {
        Action::Delete { force } => {
            if let Some(i) = &instance {
                ensure_gone(&instances, i, force).await?;
                let (kind, reason, message) = match decision.cause {
                    Cause::Stop => (EventType::Normal, "Stopping", "stopping the VM".to_string()),
                    Cause::Restart => (
                        EventType::Normal,
                        "Restarting",
                        "restarting the VM".to_string(),
                    ),
                    Cause::ApplyChanges => (
                        EventType::Normal,
                        "Restarted",
                        "restarting the VM to apply changes (restartApprovalMode: Automatic)"
                            .to_string(),
                    ),
                    Cause::GuestShutdown => (
                        EventType::Normal,
                        "GuestShutdown",
                        "the guest powered itself off".to_string(),
                    ),
                    Cause::Crashed | Cause::StartFailed => (
                        EventType::Warning,
                        if decision.cause == Cause::Crashed {
                            "Crashed"
                        } else {
                            "StartFailed"
                        },
                        i.status
                            .as_ref()
                            .and_then(|s| s.exit.as_ref())
                            .map(|e| e.message.clone())
                            .unwrap_or_default(),
                    ),
                    Cause::None => (EventType::Normal, "Stopping", String::new()),
                };
                cx.ctx
                    .recorder
                    .publish(vm.as_ref(), kind, reason, &message)
                    .await;
            }
        }
        Action::Create => {
            if let (Some(class), Ok(disks), Ok(prov)) = (&class, &devices, &provisioning) {
                let (nodes, all) = load::cluster(client).await?;
                let req = scheduling_request(&vm, class, disks);
                match scheduler::schedule(&req, &nodes, &load::usage(&all, &uid)) {
                    Ok(node) => {
                        let mut spec = resolve::instance_spec(
                            &uid, &name, &vm.spec, class, disks, prov, &node,
                        );
                        spec.networks = network.instance_networks();
                        let applied = serde_json::to_string(&vm.spec).unwrap_or_default();
                        let mut obj = Instance::new(&name, spec);
                        obj.metadata = ObjectMeta {
                            name: Some(name.clone()),
                            namespace: Some(ns.clone()),
                            labels: Some(BTreeMap::from([
                                (NODE_LABEL.to_string(), node.clone()),
                                (VM_UID_LABEL.to_string(), uid.clone()),
                            ])),
                            annotations: Some(BTreeMap::from([(
                                APPLIED_SPEC_ANNOTATION.to_string(),
                                applied,
                            )])),
                            finalizers: Some(vec![CLEANUP_FINALIZER.to_string()]),
                            owner_references: Some(vec![owner_reference(&vm)]),
                            ..ObjectMeta::default()
                        };
                        match instances.create(&PostParams::default(), &obj).await {
                            Ok(i) => {
                                cx.ctx
                                    .recorder
                                    .publish(
                                        vm.as_ref(),
                                        EventType::Normal,
                                        "Starting",
                                        &format!("starting the VM on node {node}"),
                                    )
                                    .await;
                                created = Some(i);
                            }
                            Err(kube::Error::Api(s)) if s.code == 409 => {
                                return Ok(Requeue::requeue(Duration::from_secs(1)));
                            }
                            Err(e) => return Err(e.into()),
                        }
                    }
                    Err(e) => {
                        if vm.status.as_ref().and_then(|s| s.phase)
                            != Some(VirtualMachinePhase::Pending)
                            || !vm.status.as_ref().is_some_and(|s| {
                                s.conditions.iter().any(|c| c.message == e.to_string())
                            })
                        {
                            cx.ctx
                                .recorder
                                .publish(
                                    vm.as_ref(),
                                    EventType::Warning,
                                    "FailedScheduling",
                                    &e.to_string(),
                                )
                                .await;
                        }
                        unschedulable = Some(e.to_string());
                    }
                }
            }
        }
        Action::Wait
            if instance.is_none()
                && decision.wants_on
                && class_state == ClassState::Ready
                && sizing.is_ok()
                && provisioning.is_ok()
                && matches!(&devices, Err((r, _)) if *r == BlockDevicesReadyReason::WaitingForWaitForFirstConsumerBlockDevicesToBeReady) =>
        {
            // Disks wait for their first consumer: place the VM, then their volumes follow it.
            if let Some(class) = &class {
                let claims = load::waiting_claims(client, &vm).await?;
                let (nodes, all) = load::cluster(client).await?;
                let req = scheduling_request(&vm, class, &[]);
                match scheduler::schedule(&req, &nodes, &load::usage(&all, &uid)) {
                    Ok(node) => load::select_node_for_claims(client, &ns, &claims, &node).await?,
                    Err(e) => unschedulable = Some(e.to_string()),
                }
            }
        }
        Action::Wait | Action::Backoff(_) => {
            if let Some(i) = &instance
                && !run_of(i).deleting
                && !run_of(i).ended()
            {
                apply_live(
                    &instances,
                    i,
                    &vm.spec,
                    &devices,
                    restart_awaiting.is_empty(),
                )
                .await?;
            }
        }
    }

    // Status, then acknowledge.
    let current_instance = created.as_ref().or(instance.as_ref());
    let decision_for_status = if created.is_some() {
        Decision {
            wants_on: true,
            ..decision
        }
    } else {
        decision
    };
    let input = StatusInput {
        vm: vm.as_ref(),
        now: now(),
        class: class_state,
        sizing,
        devices: devices.as_ref().map(|_| ()).map_err(Clone::clone),
        provisioning: provisioning.as_ref().map(|_| ()).map_err(Clone::clone),
        network: &network,
        instance: current_instance,
        decision: decision_for_status,
        unschedulable: unschedulable.clone(),
        restart_awaiting: if created.is_some() {
            vec![]
        } else {
            restart_awaiting
        },
    };
    let new_status = status::build(&input);
    let old_phase = vm.status.as_ref().and_then(|s| s.phase);
    match crate::status::write(&vms, vm.as_ref(), vm.status.as_ref(), &new_status).await {
        Ok(_) => {}
        Err(crate::status::StatusError::Conflict) => {
            return Ok(Requeue::requeue(Duration::from_millis(200)));
        }
        Err(e) => return Err(e.into()),
    }
    if old_phase != new_status.phase
        && let Some(p) = new_status.phase
        && matches!(
            p,
            VirtualMachinePhase::Running | VirtualMachinePhase::Stopped
        )
    {
        let reason = if p == VirtualMachinePhase::Running {
            "Started"
        } else {
            "Stopped"
        };
        cx.ctx
            .recorder
            .publish(
                vm.as_ref(),
                EventType::Normal,
                reason,
                &format!("the VM is {}", p.as_str()),
            )
            .await;
    }
    acknowledge(&vms, &vm, &decision, request).await?;

    let next = match (new_status.phase, decision.action) {
        (_, Action::Backoff(d)) => d.max(Duration::from_secs(1)),
        (Some(VirtualMachinePhase::Running | VirtualMachinePhase::Stopped), _)
            if unschedulable.is_none() =>
        {
            Duration::from_secs(30)
        }
        (Some(VirtualMachinePhase::Pending), _) => Duration::from_secs(3),
        _ => Duration::from_secs(2),
    };
    Ok(Requeue::requeue(next))
}

/// Changes a running instance takes without a restart: the size of grown disks (the node agent
/// resizes the device online) and, when nothing waits for a restart, the applied spec.
async fn apply_live(
    instances: &Api<Instance>,
    instance: &Instance,
    spec: &VirtualMachineSpec,
    devices: &Result<Vec<resolve::ResolvedDisk>, load::DeviceProblem>,
    nothing_awaits_restart: bool,
) -> Result<(), kube::Error> {
    let mut disks = instance.spec.disks.clone();
    let mut grown = false;
    if let Ok(resolved) = devices {
        for d in disks.iter_mut().filter(|d| !d.read_only) {
            if let Some(r) = resolved
                .iter()
                .find(|r| r.name == d.name && r.kind == d.source)
                && let (Some(want), have) = (r.size_bytes, d.size_bytes)
                && have.is_none_or(|h| want > h)
            {
                d.size_bytes = Some(want);
                grown = true;
            }
        }
    }
    let applied = serde_json::to_string(spec).unwrap_or_default();
    let stale = nothing_awaits_restart
        && instance.annotations().get(APPLIED_SPEC_ANNOTATION) != Some(&applied);
    if !grown && !stale {
        return Ok(());
    }
    let mut patch = serde_json::json!({});
    if grown {
        patch["spec"] = serde_json::json!({"disks": disks});
    }
    if stale {
        patch["metadata"] = serde_json::json!({"annotations": {APPLIED_SPEC_ANNOTATION: applied}});
    }
    instances
        .patch(
            &instance.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    Ok(())
}

fn error_policy(vm: Arc<VirtualMachine>, error: &Error, _: Arc<VmCtx>) -> Requeue {
    tracing::warn!(vm = %vm.name_any(), %error, "vm reconcile failed");
    Requeue::requeue(Duration::from_secs(3))
}

/// Run the VM controller (needs the image services to find the data of images).
pub async fn run(ctx: Arc<Context>) {
    let Some(services) = ctx.images.clone() else {
        tracing::info!("no image services: the VM controller is not started");
        return;
    };
    let vms: Api<VirtualMachine> = Api::all(ctx.client.clone());
    let instances: Api<Instance> = Api::all(ctx.client.clone());
    let vmips: Api<VirtualMachineIPAddress> = Api::all(ctx.client.clone());
    let vmmacs: Api<VirtualMachineMACAddress> = Api::all(ctx.client.clone());
    let oui = crate::macs::generate::oui(&crate::macs::cluster_uuid(&ctx.client).await);
    let cx = Arc::new(VmCtx {
        ctx,
        oui,
        services,
        failures: Mutex::new(HashMap::new()),
    });
    // The VM's own address and MAC objects wake it when they are bound.
    Controller::new(vms, watcher::Config::default())
        .owns(instances, watcher::Config::default())
        .owns(vmips, watcher::Config::default())
        .owns(vmmacs, watcher::Config::default())
        .run(reconcile, error_policy, cx)
        .for_each(|_| futures::future::ready(()))
        .await;
}

/// The power intent a VM remembers, for other controllers (vmop).
pub fn remembered_intent(vm: &VirtualMachine) -> Option<Intent> {
    signals::intent(vm.annotations())
}

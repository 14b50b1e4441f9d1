//! VirtualMachineOperation (Start, Stop, Restart): checks that the operation applies to the VM
//! ([`rules`]), waits for or supersedes an active operation of the same VM, signals the VM
//! through its request annotations ([`crate::vm::signals`]) and completes once the VM
//! controller has handled the request and the VM reached the target phase. Finished operations
//! are collected: older than a day, or beyond the ten most recent of a VM.
//! Migrate, Evict, Restore and Clone are left to their own controllers.

pub mod rules;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dvp_api::conditions::vmop::{CompletedReason, SignalSentReason, Type};
use dvp_api::conditions::{ConditionStatus, new_condition, set_condition};
use dvp_api::kinds::VirtualMachine;
use dvp_api::kinds::instance::VM_UID_LABEL;
use dvp_api::kinds::virtual_machine_operation::{
    VirtualMachineOperation as Vmop, VirtualMachineOperationPhase as Phase,
    VirtualMachineOperationStatus, VirtualMachineOperationType as OpType,
};
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action as Requeue, Controller};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use crate::Context;
use crate::events::EventType;
use crate::vm::power::RequestKind;
use crate::vm::signals;
use rules::{Op, Progress};

/// Finished operations kept per VM.
pub const KEEP_PER_VM: usize = 10;
/// Finished operations older than this are deleted.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error(transparent)]
    Status(#[from] crate::status::StatusError),
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

fn request_kind(t: OpType) -> Option<RequestKind> {
    match t {
        OpType::Start => Some(RequestKind::Start),
        OpType::Stop => Some(RequestKind::Stop),
        OpType::Restart => Some(RequestKind::Restart),
        _ => None,
    }
}

fn op_of(v: &Vmop) -> Op {
    Op {
        type_: v.spec.type_,
        force: v.spec.force.unwrap_or(false),
    }
}

fn phase_of(v: &Vmop) -> Phase {
    v.status.as_ref().map(|s| s.phase).unwrap_or(Phase::Pending)
}

/// Whether an operation has finished.
pub fn finished(phase: Phase) -> bool {
    matches!(phase, Phase::Completed | Phase::Failed | Phase::Superseded)
}

fn in_progress_reason(t: OpType) -> CompletedReason {
    match t {
        OpType::Start => CompletedReason::StartInProgress,
        OpType::Stop => CompletedReason::StopInProgress,
        _ => CompletedReason::RestartInProgress,
    }
}

/// The status with `phase` and a `Completed` condition.
fn with_phase(
    v: &Vmop,
    phase: Phase,
    completed: bool,
    reason: CompletedReason,
    message: &str,
) -> VirtualMachineOperationStatus {
    let mut st = v.status.clone().unwrap_or(VirtualMachineOperationStatus {
        phase,
        progress: None,
        resources: vec![],
        conditions: vec![],
        observed_generation: None,
    });
    st.phase = phase;
    let status = if completed {
        ConditionStatus::True
    } else {
        ConditionStatus::False
    };
    set_condition(
        &mut st.conditions,
        new_condition(
            &Type::Completed,
            status,
            &reason,
            message,
            v.meta().generation,
            now(),
        ),
    );
    st.observed_generation = v.meta().generation;
    st
}

async fn write(api: &Api<Vmop>, v: &Vmop, st: VirtualMachineOperationStatus) -> Result<(), Error> {
    match crate::status::write(api, v, v.status.as_ref(), &st).await {
        Ok(_) | Err(crate::status::StatusError::Conflict) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn patch_vm_annotations(
    vms: &Api<VirtualMachine>,
    vm: &str,
    annotations: serde_json::Value,
) -> Result<(), kube::Error> {
    let patch = serde_json::json!({"metadata": {"annotations": annotations}});
    vms.patch(vm, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
}

fn start_error(vm: &VirtualMachine) -> Option<String> {
    vm.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| {
            c.type_ == "Running" && c.status == "False" && c.reason == "InternalVirtualMachineError"
        })
        .map(|c| c.message.clone())
}

async fn reconcile(cached: Arc<Vmop>, ctx: Arc<Context>) -> Result<Requeue, Error> {
    let Some(kind) = request_kind(cached.spec.type_) else {
        return Ok(Requeue::await_change());
    };
    if finished(phase_of(&cached)) {
        return Ok(Requeue::await_change());
    }
    let ns = cached.namespace().unwrap_or_default();
    let api: Api<Vmop> = Api::namespaced(ctx.client.clone(), &ns);
    // Read afresh: signalling twice from a stale Pending copy would act twice on the VM.
    let Some(v) = api.get_opt(&cached.name_any()).await? else {
        return Ok(Requeue::await_change());
    };
    let v = Arc::new(v);
    let phase = phase_of(&v);
    if v.meta().deletion_timestamp.is_some() || finished(phase) {
        return Ok(Requeue::await_change());
    }
    let vms: Api<VirtualMachine> = Api::namespaced(ctx.client.clone(), &ns);
    let uid = v.uid().unwrap_or_default();
    let Some(vm) = vms.get_opt(&v.spec.virtual_machine_name).await? else {
        let m = format!("VirtualMachine {} not found", v.spec.virtual_machine_name);
        write(
            &api,
            &v,
            with_phase(
                &v,
                Phase::Failed,
                false,
                CompletedReason::VirtualMachineNotFound,
                &m,
            ),
        )
        .await?;
        return Ok(Requeue::await_change());
    };
    let vm_uid = vm.uid().unwrap_or_default();
    if v.labels().get(VM_UID_LABEL) != Some(&vm_uid) {
        let patch = serde_json::json!({"metadata": {"labels": {VM_UID_LABEL: vm_uid}}});
        api.patch(
            &v.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
        return Ok(Requeue::await_change());
    }
    let annotation = signals::annotation_of(kind);
    let vm_phase = vm.status.as_ref().and_then(|s| s.phase);

    if phase == Phase::Pending {
        // One active operation per VM: supersede it or wait for it.
        let others = api
            .list(&ListParams::default().labels(&format!("{VM_UID_LABEL}={vm_uid}")))
            .await?;
        for other in others.items.iter().filter(|o| o.uid() != v.uid()) {
            if request_kind(other.spec.type_).is_none() {
                continue;
            }
            let other_phase = phase_of(other);
            let older = other.meta().creation_timestamp < v.meta().creation_timestamp
                || (other.meta().creation_timestamp == v.meta().creation_timestamp
                    && other.name_any() < v.name_any());
            let active =
                other_phase == Phase::InProgress || (other_phase == Phase::Pending && older);
            if !active {
                continue;
            }
            if other_phase == Phase::InProgress && rules::supersedes(op_of(&v), op_of(other)) {
                let m = format!(
                    "Superseded by {} with type {}",
                    v.name_any(),
                    v.spec.type_.as_str()
                );
                write(
                    &api,
                    other,
                    with_phase(
                        other,
                        Phase::Superseded,
                        true,
                        CompletedReason::Superseded,
                        &m,
                    ),
                )
                .await?;
                if let Some(k) = request_kind(other.spec.type_) {
                    let a = signals::annotation_of(k);
                    if vm.annotations().get(a) == other.uid().as_ref() {
                        patch_vm_annotations(
                            &vms,
                            &vm.name_any(),
                            serde_json::json!({a: null, signals::FORCE: null}),
                        )
                        .await?;
                    }
                }
                continue;
            }
            let m = format!(
                "operation {} of the VM should finish first",
                other.name_any()
            );
            write(
                &api,
                &v,
                with_phase(
                    &v,
                    Phase::Pending,
                    false,
                    CompletedReason::NotReadyToBeExecuted,
                    &m,
                ),
            )
            .await?;
            return Ok(Requeue::requeue(Duration::from_secs(2)));
        }
        if let Err((reason, m)) = rules::applicable(op_of(&v), vm.spec.run_policy, vm_phase) {
            write(&api, &v, with_phase(&v, Phase::Failed, false, reason, &m)).await?;
            ctx.recorder
                .publish(v.as_ref(), EventType::Warning, reason.as_str(), &m)
                .await;
            return Ok(Requeue::await_change());
        }
        let force = if op_of(&v).force {
            serde_json::json!("true")
        } else {
            serde_json::Value::Null
        };
        patch_vm_annotations(
            &vms,
            &vm.name_any(),
            serde_json::json!({annotation: uid, signals::FORCE: force}),
        )
        .await?;
        let mut st = with_phase(
            &v,
            Phase::InProgress,
            false,
            in_progress_reason(v.spec.type_),
            &format!(
                "{} of VirtualMachine {} requested",
                v.spec.type_.as_str(),
                vm.name_any()
            ),
        );
        set_condition(
            &mut st.conditions,
            new_condition(
                &Type::SignalSent,
                ConditionStatus::True,
                &SignalSentReason::SignalSentSuccess,
                "",
                v.meta().generation,
                now(),
            ),
        );
        write(&api, &v, st).await?;
        return Ok(Requeue::requeue(Duration::from_secs(1)));
    }

    // In progress.
    let pending = vm.annotations().get(annotation) == Some(&uid);
    match rules::progress(v.spec.type_, pending, vm_phase, start_error(&vm).as_deref()) {
        Progress::InProgress => Ok(Requeue::requeue(Duration::from_secs(1))),
        Progress::Completed => {
            let m = format!(
                "VirtualMachine {} is {}",
                vm.name_any(),
                vm_phase.map(|p| p.as_str()).unwrap_or("")
            );
            write(
                &api,
                &v,
                with_phase(
                    &v,
                    Phase::Completed,
                    true,
                    CompletedReason::OperationCompleted,
                    &m,
                ),
            )
            .await?;
            Ok(Requeue::await_change())
        }
        Progress::Failed(m) => {
            write(
                &api,
                &v,
                with_phase(
                    &v,
                    Phase::Failed,
                    false,
                    CompletedReason::OperationFailed,
                    &m,
                ),
            )
            .await?;
            ctx.recorder
                .publish(v.as_ref(), EventType::Warning, "OperationFailed", &m)
                .await;
            Ok(Requeue::await_change())
        }
    }
}

fn error_policy(v: Arc<Vmop>, error: &Error, _: Arc<Context>) -> Requeue {
    tracing::warn!(vmop = %v.name_any(), %error, "vmop reconcile failed");
    Requeue::requeue(Duration::from_secs(3))
}

/// Names of finished operations to delete: beyond the `KEEP_PER_VM` most recent of each VM, or
/// older than `MAX_AGE` (`age_of` gives an operation's age).
pub fn to_collect(ops: &[Vmop], age_of: impl Fn(&Vmop) -> Duration) -> Vec<(String, String)> {
    let mut per_vm: BTreeMap<(String, String), Vec<&Vmop>> = BTreeMap::new();
    for o in ops.iter().filter(|o| finished(phase_of(o))) {
        per_vm
            .entry((
                o.namespace().unwrap_or_default(),
                o.spec.virtual_machine_name.clone(),
            ))
            .or_default()
            .push(o);
    }
    let mut out = Vec::new();
    for ((ns, _), mut list) in per_vm {
        list.sort_by_key(|o| std::cmp::Reverse(o.meta().creation_timestamp.clone()));
        for (i, o) in list.into_iter().enumerate() {
            if i >= KEEP_PER_VM || age_of(o) > MAX_AGE {
                out.push((ns.clone(), o.name_any()));
            }
        }
    }
    out
}

async fn collect(ctx: &Context) -> Result<(), kube::Error> {
    let all: Api<Vmop> = Api::all(ctx.client.clone());
    let ops = all.list(&ListParams::default()).await?.items;
    let now = k8s_openapi::jiff::Timestamp::now();
    let age = |o: &Vmop| {
        o.meta()
            .creation_timestamp
            .as_ref()
            .map(|t| {
                Duration::from_secs(u64::try_from(now.as_second() - t.0.as_second()).unwrap_or(0))
            })
            .unwrap_or_default()
    };
    for (ns, name) in to_collect(&ops, age) {
        let api: Api<Vmop> = Api::namespaced(ctx.client.clone(), &ns);
        let _ = api.delete(&name, &DeleteParams::default()).await;
    }
    Ok(())
}

/// Run the vmop controller and its collector.
pub async fn run(ctx: Arc<Context>) {
    let gc_ctx = ctx.clone();
    tokio::spawn(async move {
        loop {
            if let Err(e) = collect(&gc_ctx).await {
                tracing::debug!(error = %e, "vmop collection failed");
            }
            tokio::time::sleep(Duration::from_secs(600)).await;
        }
    });
    let api: Api<Vmop> = Api::all(ctx.client.clone());
    Controller::new(api, watcher::Config::default())
        .run(reconcile, error_policy, ctx)
        .for_each(|_| futures::future::ready(()))
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vmop(name: &str, vm: &str, phase: &str, created: &str) -> Vmop {
        serde_json::from_value(json!({
            "apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualMachineOperation",
            "metadata": {"name": name, "namespace": "ns", "creationTimestamp": created},
            "spec": {"type": "Start", "virtualMachineName": vm},
            "status": {"phase": phase}
        }))
        .unwrap()
    }

    #[test]
    fn only_the_ten_latest_finished_operations_of_a_vm_are_kept() {
        let mut ops: Vec<Vmop> = (0..12)
            .map(|i| {
                vmop(
                    &format!("op{i:02}"),
                    "a",
                    "Completed",
                    &format!("2026-01-01T00:00:{i:02}Z"),
                )
            })
            .collect();
        ops.push(vmop("running", "a", "InProgress", "2025-01-01T00:00:00Z"));
        ops.push(vmop("other", "b", "Failed", "2025-01-01T00:00:00Z"));
        let gone = to_collect(&ops, |_| Duration::ZERO);
        let names: Vec<&str> = gone.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(names, vec!["op01", "op00"]);
    }

    #[test]
    fn finished_operations_older_than_a_day_are_deleted() {
        let ops = vec![vmop("old", "a", "Superseded", "2025-01-01T00:00:00Z")];
        assert_eq!(to_collect(&ops, |_| MAX_AGE * 2).len(), 1);
        assert!(to_collect(&ops, |_| Duration::from_secs(60)).is_empty());
    }
}

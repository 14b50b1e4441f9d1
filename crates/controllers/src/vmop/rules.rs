//! Which operations apply to a VM and which may replace an active one (spec §5.8), and when a
//! signalled operation is done (pure).

use dvp_api::conditions::vmop::CompletedReason;
use dvp_api::kinds::virtual_machine::{RunPolicy, VirtualMachinePhase};
use dvp_api::kinds::virtual_machine_operation::VirtualMachineOperationType as OpType;

/// An operation as the rules see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op {
    pub type_: OpType,
    pub force: bool,
}

/// Whether `op` may run on a VM with `policy` in `phase`; the refusal reason and message if not.
pub fn applicable(
    op: Op,
    policy: RunPolicy,
    phase: Option<VirtualMachinePhase>,
) -> Result<(), (CompletedReason, String)> {
    use RunPolicy::*;
    use VirtualMachinePhase as P;
    let policies: &[RunPolicy] = match op.type_ {
        OpType::Start | OpType::Stop => &[Manual, AlwaysOnUnlessStoppedManually],
        OpType::Restart | OpType::Migrate | OpType::Evict => {
            &[Manual, AlwaysOnUnlessStoppedManually, AlwaysOn]
        }
        OpType::Restore | OpType::Clone => {
            &[Manual, AlwaysOnUnlessStoppedManually, AlwaysOn, AlwaysOff]
        }
    };
    if !policies.contains(&policy) {
        return Err((
            CompletedReason::NotApplicableForVirtualMachineRunPolicy,
            format!(
                "operation {} is not applicable for a VM with runPolicy {}",
                op.type_.as_str(),
                policy.as_str()
            ),
        ));
    }
    let phases: &[VirtualMachinePhase] = match op.type_ {
        OpType::Start => &[P::Stopped, P::Stopping],
        OpType::Stop => &[P::Running, P::Degraded, P::Starting, P::Pause, P::Pending],
        OpType::Restart => &[P::Running, P::Degraded, P::Starting, P::Pause],
        OpType::Migrate | OpType::Evict => &[P::Running],
        OpType::Restore => &[P::Stopped, P::Running, P::Pending],
        OpType::Clone => &[P::Stopped, P::Running],
    };
    let stopping_forced = phase == Some(P::Stopping)
        && op.force
        && matches!(op.type_, OpType::Stop | OpType::Restart);
    if phase.is_some_and(|p| phases.contains(&p)) || stopping_forced {
        return Ok(());
    }
    Err((
        CompletedReason::NotApplicableForVirtualMachinePhase,
        format!(
            "operation {} is not applicable for a VM in phase {}",
            op.type_.as_str(),
            phase.map(|p| p.as_str()).unwrap_or("unknown")
        ),
    ))
}

/// Whether `new` may replace the `active` operation of the same VM.
pub fn supersedes(new: Op, active: Op) -> bool {
    match (active.type_, active.force) {
        (OpType::Start, _) => new.type_ == OpType::Stop,
        (OpType::Stop | OpType::Restart, false) => {
            new.force && matches!(new.type_, OpType::Stop | OpType::Restart)
        }
        (OpType::Migrate | OpType::Evict, _) => matches!(new.type_, OpType::Stop | OpType::Restart),
        _ => false,
    }
}

/// How a signalled operation stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    InProgress,
    Completed,
    Failed(String),
}

/// The progress of a signalled operation, given whether the VM still carries its request and
/// the VM's phase (and the message of a failed start, if the VM reports one).
pub fn progress(
    type_: OpType,
    request_pending: bool,
    phase: Option<VirtualMachinePhase>,
    start_error: Option<&str>,
) -> Progress {
    if request_pending {
        return Progress::InProgress;
    }
    let target = match type_ {
        OpType::Stop => VirtualMachinePhase::Stopped,
        _ => VirtualMachinePhase::Running,
    };
    if phase == Some(target) {
        return Progress::Completed;
    }
    if type_ != OpType::Stop
        && let Some(e) = start_error
    {
        return Progress::Failed(e.to_string());
    }
    Progress::InProgress
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(type_: OpType, force: bool) -> Op {
        Op { type_, force }
    }

    #[test]
    fn start_is_not_applicable_to_always_on_vms() {
        let e = applicable(
            op(OpType::Start, false),
            RunPolicy::AlwaysOn,
            Some(VirtualMachinePhase::Stopped),
        )
        .unwrap_err();
        assert_eq!(
            e.0,
            CompletedReason::NotApplicableForVirtualMachineRunPolicy
        );
    }

    #[test]
    fn start_applies_to_a_stopped_manual_vm_only() {
        assert!(
            applicable(
                op(OpType::Start, false),
                RunPolicy::Manual,
                Some(VirtualMachinePhase::Stopped)
            )
            .is_ok()
        );
        let e = applicable(
            op(OpType::Start, false),
            RunPolicy::Manual,
            Some(VirtualMachinePhase::Running),
        )
        .unwrap_err();
        assert_eq!(e.0, CompletedReason::NotApplicableForVirtualMachinePhase);
    }

    #[test]
    fn restart_applies_to_always_on_vms() {
        assert!(
            applicable(
                op(OpType::Restart, false),
                RunPolicy::AlwaysOn,
                Some(VirtualMachinePhase::Running)
            )
            .is_ok()
        );
    }

    #[test]
    fn a_stopping_vm_takes_only_forced_stops() {
        let p = Some(VirtualMachinePhase::Stopping);
        assert!(applicable(op(OpType::Stop, false), RunPolicy::Manual, p).is_err());
        assert!(applicable(op(OpType::Stop, true), RunPolicy::Manual, p).is_ok());
    }

    #[test]
    fn always_off_vms_take_no_power_operations() {
        for t in [OpType::Start, OpType::Stop, OpType::Restart] {
            assert!(
                applicable(
                    op(t, false),
                    RunPolicy::AlwaysOff,
                    Some(VirtualMachinePhase::Stopped)
                )
                .is_err()
            );
        }
    }

    #[test]
    fn supersede_rules_follow_the_table() {
        assert!(supersedes(
            op(OpType::Stop, false),
            op(OpType::Start, false)
        ));
        assert!(!supersedes(
            op(OpType::Restart, false),
            op(OpType::Start, false)
        ));
        assert!(supersedes(
            op(OpType::Stop, true),
            op(OpType::Restart, false)
        ));
        assert!(!supersedes(
            op(OpType::Stop, false),
            op(OpType::Restart, false)
        ));
        assert!(!supersedes(op(OpType::Stop, true), op(OpType::Stop, true)));
        assert!(supersedes(
            op(OpType::Restart, false),
            op(OpType::Evict, false)
        ));
    }

    #[test]
    fn an_operation_completes_when_its_request_is_handled_and_the_vm_arrives() {
        let running = Some(VirtualMachinePhase::Running);
        assert_eq!(
            progress(OpType::Restart, true, running, None),
            Progress::InProgress
        );
        assert_eq!(
            progress(OpType::Restart, false, running, None),
            Progress::Completed
        );
        assert_eq!(
            progress(OpType::Stop, false, running, None),
            Progress::InProgress
        );
        assert_eq!(
            progress(
                OpType::Stop,
                false,
                Some(VirtualMachinePhase::Stopped),
                None
            ),
            Progress::Completed
        );
    }

    #[test]
    fn a_start_that_qemu_refuses_fails_with_the_message() {
        let p = progress(
            OpType::Start,
            false,
            Some(VirtualMachinePhase::Pending),
            Some("no kvm"),
        );
        assert_eq!(p, Progress::Failed("no kvm".into()));
    }
}

//! Power state (spec §5.10, pure): given the run policy, the remembered power intent, a pending
//! operation request and how the current run is doing, decide whether to create a run, end it,
//! or wait.

use std::time::Duration;

use dvp_api::kinds::instance::{ExitReason, InstancePhase};
use dvp_api::kinds::virtual_machine::RunPolicy;

/// What the user last asked for, remembered on the VM (start/stop operations, guest shutdown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    On,
    Off,
}

impl Intent {
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::On => "On",
            Intent::Off => "Off",
        }
    }

    pub fn parse(s: &str) -> Option<Intent> {
        match s {
            "On" => Some(Intent::On),
            "Off" => Some(Intent::Off),
            _ => None,
        }
    }
}

/// An operation signalled to the VM (spec §5.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    Start,
    Stop,
    Restart,
}

/// A pending request with its `force` flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub kind: RequestKind,
    pub force: bool,
}

/// The current run as the decision needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// Being deleted (stopping).
    pub deleting: bool,
    pub phase: Option<InstancePhase>,
    pub exit: Option<ExitReason>,
}

impl Run {
    /// The process ended (the agent says Succeeded or Failed).
    pub fn ended(&self) -> bool {
        matches!(
            self.phase,
            Some(InstancePhase::Succeeded | InstancePhase::Failed)
        )
    }
}

/// Everything [`decide`] looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Input {
    pub policy: RunPolicy,
    pub intent: Option<Intent>,
    pub request: Option<Request>,
    pub run: Option<Run>,
    /// Class, disks, provisioning and sizing allow a start.
    pub dependencies_ready: bool,
    /// Changes wait for a restart and `restartApprovalMode` is Automatic.
    pub automatic_restart: bool,
    /// Changes wait for a restart (a reboot of the guest applies them).
    pub changes_pending: bool,
    /// Time left before a failed start may be retried.
    pub backoff_left: Option<Duration>,
}

/// What to do with the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing now.
    Wait,
    /// Create a new run.
    Create,
    /// End the current run (graceful unless forced).
    Delete { force: bool },
    /// A failed start is retried after this long.
    Backoff(Duration),
}

/// Why the run ends, for events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    None,
    Stop,
    Restart,
    ApplyChanges,
    GuestShutdown,
    Crashed,
    StartFailed,
}

/// The decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    /// The intent to remember afterwards (None: leave it).
    pub intent: Option<Intent>,
    /// The request is handled: remove its signal from the VM.
    pub consume_request: bool,
    /// The VM should be running (Pending rather than Stopped when it is not).
    pub wants_on: bool,
    pub cause: Cause,
}

/// Whether a VM with `policy` and remembered `intent` should run.
pub fn wants_on(policy: RunPolicy, intent: Option<Intent>) -> bool {
    match policy {
        RunPolicy::AlwaysOn => true,
        RunPolicy::AlwaysOff => false,
        RunPolicy::Manual => intent == Some(Intent::On),
        RunPolicy::AlwaysOnUnlessStoppedManually => intent != Some(Intent::Off),
    }
}

/// Decide what to do with the VM's run.
pub fn decide(input: &Input) -> Decision {
    let mut intent = input.intent;
    let mut new_intent = None;
    let mut consume = false;
    let policy = input.policy;
    let may_toggle = matches!(
        policy,
        RunPolicy::Manual | RunPolicy::AlwaysOnUnlessStoppedManually
    );
    match input.request {
        Some(Request {
            kind: RequestKind::Start,
            ..
        }) if may_toggle => {
            intent = Some(Intent::On);
            new_intent = intent;
            consume = true;
        }
        Some(Request {
            kind: RequestKind::Stop,
            ..
        }) if may_toggle => {
            intent = Some(Intent::Off);
            new_intent = intent;
            consume = true;
        }
        Some(Request {
            kind: RequestKind::Start | RequestKind::Stop,
            ..
        }) => consume = true,
        _ => {}
    }
    let on = wants_on(policy, intent);
    let force = input.request.is_some_and(|r| r.force);
    let restart_requested = input
        .request
        .is_some_and(|r| r.kind == RequestKind::Restart);
    let mk = |action, cause, intent, consume_request, wants_on| Decision {
        action,
        intent,
        consume_request,
        wants_on,
        cause,
    };
    let Some(run) = input.run else {
        if restart_requested {
            // Nothing runs: the restart is done by the start below, or moot when off.
            consume = !on || input.dependencies_ready;
        }
        let action = if on && input.dependencies_ready {
            Action::Create
        } else {
            Action::Wait
        };
        return mk(action, Cause::None, new_intent, consume, on);
    };
    if run.deleting {
        return mk(Action::Wait, Cause::None, new_intent, consume, on);
    }
    if run.ended() {
        let (restart, cause) = match run.exit {
            Some(ExitReason::GuestShutdown) => {
                (policy == RunPolicy::AlwaysOn, Cause::GuestShutdown)
            }
            Some(ExitReason::StartFailed) => (on, Cause::StartFailed),
            Some(ExitReason::Stopped) => (on, Cause::Stop),
            Some(ExitReason::Crashed | ExitReason::GuestReset) | None => (
                matches!(
                    policy,
                    RunPolicy::AlwaysOn | RunPolicy::AlwaysOnUnlessStoppedManually
                ) || (on && restart_requested),
                Cause::Crashed,
            ),
        };
        let intent = if !restart && may_toggle {
            Some(Intent::Off)
        } else {
            new_intent
        };
        if restart
            && cause == Cause::StartFailed
            && let Some(left) = input.backoff_left.filter(|d| !d.is_zero())
        {
            return mk(Action::Backoff(left), cause, intent, consume, restart);
        }
        return mk(
            Action::Delete { force: false },
            cause,
            intent,
            consume,
            restart,
        );
    }
    let (action, cause) = if !on {
        (Action::Delete { force }, Cause::Stop)
    } else if restart_requested {
        (Action::Delete { force }, Cause::Restart)
    } else if (input.changes_pending && run.exit == Some(ExitReason::GuestReset))
        || input.automatic_restart
    {
        (Action::Delete { force: false }, Cause::ApplyChanges)
    } else {
        (Action::Wait, Cause::None)
    };
    mk(action, cause, new_intent, consume, on)
}

/// Delay before retry `n` (1-based) of a failed start: 5 s doubling up to 5 min.
pub fn backoff_delay(failures: u32) -> Duration {
    let secs = 5u64.saturating_mul(1 << failures.saturating_sub(1).min(6));
    Duration::from_secs(secs.min(300))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(policy: RunPolicy) -> Input {
        Input {
            policy,
            intent: None,
            request: None,
            run: None,
            dependencies_ready: true,
            automatic_restart: false,
            changes_pending: false,
            backoff_left: None,
        }
    }

    fn running() -> Option<Run> {
        Some(Run {
            deleting: false,
            phase: Some(InstancePhase::Running),
            exit: None,
        })
    }

    fn ended(reason: ExitReason) -> Option<Run> {
        Some(Run {
            deleting: false,
            phase: Some(InstancePhase::Succeeded),
            exit: Some(reason),
        })
    }

    #[test]
    fn the_default_policy_starts_a_new_vm() {
        let d = decide(&input(RunPolicy::AlwaysOnUnlessStoppedManually));
        assert_eq!(d.action, Action::Create);
    }

    #[test]
    fn a_manual_vm_stays_off_until_started() {
        let d = decide(&input(RunPolicy::Manual));
        assert_eq!(d.action, Action::Wait);
        assert!(!d.wants_on);
        let mut i = input(RunPolicy::Manual);
        i.request = Some(Request {
            kind: RequestKind::Start,
            force: false,
        });
        let d = decide(&i);
        assert_eq!(d.action, Action::Create);
        assert_eq!(d.intent, Some(Intent::On));
        assert!(d.consume_request);
    }

    #[test]
    fn an_always_off_vm_has_its_run_ended() {
        let mut i = input(RunPolicy::AlwaysOff);
        i.run = running();
        assert_eq!(decide(&i).action, Action::Delete { force: false });
    }

    #[test]
    fn a_stop_request_ends_the_run_and_is_remembered() {
        let mut i = input(RunPolicy::AlwaysOnUnlessStoppedManually);
        i.run = running();
        i.request = Some(Request {
            kind: RequestKind::Stop,
            force: true,
        });
        let d = decide(&i);
        assert_eq!(d.action, Action::Delete { force: true });
        assert_eq!(d.intent, Some(Intent::Off));
        assert!(d.consume_request);
    }

    #[test]
    fn a_stopped_vm_is_not_started_again_by_the_default_policy() {
        let mut i = input(RunPolicy::AlwaysOnUnlessStoppedManually);
        i.intent = Some(Intent::Off);
        assert_eq!(decide(&i).action, Action::Wait);
    }

    #[test]
    fn a_guest_shutdown_restarts_only_always_on_vms() {
        let mut i = input(RunPolicy::AlwaysOnUnlessStoppedManually);
        i.run = ended(ExitReason::GuestShutdown);
        let d = decide(&i);
        assert_eq!(d.action, Action::Delete { force: false });
        assert_eq!(d.intent, Some(Intent::Off));
        let mut i = input(RunPolicy::AlwaysOn);
        i.run = ended(ExitReason::GuestShutdown);
        let d = decide(&i);
        assert_eq!(d.intent, None);
        assert!(d.wants_on);
    }

    #[test]
    fn a_crash_restarts_the_default_policy_but_stops_a_manual_vm() {
        let mut i = input(RunPolicy::AlwaysOnUnlessStoppedManually);
        i.run = ended(ExitReason::Crashed);
        assert_eq!(decide(&i).intent, None);
        let mut i = input(RunPolicy::Manual);
        i.intent = Some(Intent::On);
        i.run = ended(ExitReason::Crashed);
        assert_eq!(decide(&i).intent, Some(Intent::Off));
    }

    #[test]
    fn a_failed_start_waits_for_its_backoff() {
        let mut i = input(RunPolicy::AlwaysOn);
        i.run = ended(ExitReason::StartFailed);
        i.backoff_left = Some(Duration::from_secs(7));
        assert_eq!(decide(&i).action, Action::Backoff(Duration::from_secs(7)));
        i.backoff_left = None;
        assert_eq!(decide(&i).action, Action::Delete { force: false });
    }

    #[test]
    fn a_restart_request_ends_the_run_then_creates_one_and_only_then_is_consumed() {
        let mut i = input(RunPolicy::AlwaysOnUnlessStoppedManually);
        i.run = running();
        i.request = Some(Request {
            kind: RequestKind::Restart,
            force: false,
        });
        let d = decide(&i);
        assert_eq!(d.action, Action::Delete { force: false });
        assert!(!d.consume_request);
        i.run = None;
        let d = decide(&i);
        assert_eq!(d.action, Action::Create);
        assert!(d.consume_request);
    }

    #[test]
    fn automatic_approval_restarts_for_pending_changes() {
        let mut i = input(RunPolicy::AlwaysOn);
        i.run = running();
        i.automatic_restart = true;
        assert_eq!(decide(&i).cause, Cause::ApplyChanges);
    }

    #[test]
    fn a_guest_reboot_applies_pending_changes() {
        let mut i = input(RunPolicy::AlwaysOnUnlessStoppedManually);
        i.run = Some(Run {
            deleting: false,
            phase: Some(InstancePhase::Running),
            exit: Some(ExitReason::GuestReset),
        });
        assert_eq!(decide(&i).action, Action::Wait);
        i.changes_pending = true;
        assert_eq!(decide(&i).cause, Cause::ApplyChanges);
    }

    #[test]
    fn a_vm_with_unready_dependencies_waits() {
        let mut i = input(RunPolicy::AlwaysOn);
        i.dependencies_ready = false;
        let d = decide(&i);
        assert_eq!(d.action, Action::Wait);
        assert!(d.wants_on);
    }

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(backoff_delay(1), Duration::from_secs(5));
        assert_eq!(backoff_delay(2), Duration::from_secs(10));
        assert_eq!(backoff_delay(20), Duration::from_secs(300));
    }
}

//! The supervisor's pure decisions: which process to adopt, how a run ended, what to resize, what
//! to tell the API. No I/O here, so each rule has a plain unit test.

use std::collections::BTreeMap;

use dvp_api::kinds::instance::{ExitReason, InstanceDisk, InstancePhase};
use serde_json::{Map, Value};

/// The pid a run dir's pid file names, when that process is alive and carries the VM's uid on
/// its command line (so a recycled pid never counts as our QEMU).
pub fn adoptable(
    pid_file: Option<&[u8]>,
    cmdline: impl Fn(u32) -> Option<String>,
    vm_uid: &str,
) -> Option<u32> {
    let text = String::from_utf8_lossy(pid_file?);
    let pid: u32 = text.trim().parse().ok()?;
    if pid == 0 || vm_uid.is_empty() {
        return None;
    }
    let line = cmdline(pid)?;
    (line.contains("qemu") && line.contains(vm_uid)).then_some(pid)
}

/// What ended a process, as the supervisor saw it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ending {
    /// QMP reported a guest-initiated shutdown.
    pub guest_shutdown: bool,
    /// QMP reported a shutdown not asked by the guest (a signal, `quit`).
    pub host_shutdown: bool,
    /// The agent was stopping the run (deletion).
    pub stopping: bool,
}

/// Phase and exit reason once the process is gone.
pub fn outcome(ending: Ending) -> (InstancePhase, ExitReason) {
    // a guest answering the platform's power-button press is still the platform's stop
    if ending.stopping {
        (InstancePhase::Succeeded, ExitReason::Stopped)
    } else if ending.guest_shutdown {
        (InstancePhase::Succeeded, ExitReason::GuestShutdown)
    } else if ending.host_shutdown {
        (InstancePhase::Succeeded, ExitReason::Stopped)
    } else {
        (InstancePhase::Failed, ExitReason::Crashed)
    }
}

/// What to do when the agent first sees an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Initial {
    /// A live QEMU of this instance exists: reconnect to it.
    Adopt(u32),
    /// Start QEMU.
    Start,
    /// The run already ended (or is being deleted with no process): nothing runs.
    Idle,
    /// The status says a process ran, but it is gone and nobody saw it end.
    LostWhileAway,
}

/// Decides how to take over an instance: adopt a live process, else start one only if the run
/// never started, since a run is never started twice.
pub fn initial(adopt: Option<u32>, phase: Option<InstancePhase>, deleting: bool) -> Initial {
    if let Some(pid) = adopt {
        return Initial::Adopt(pid);
    }
    match phase {
        Some(InstancePhase::Succeeded | InstancePhase::Failed) => Initial::Idle,
        Some(InstancePhase::Starting | InstancePhase::Running | InstancePhase::Stopping) => {
            if deleting {
                Initial::Idle
            } else {
                Initial::LostWhileAway
            }
        }
        None | Some(InstancePhase::Pending) => {
            if deleting {
                Initial::Idle
            } else {
                Initial::Start
            }
        }
    }
}

/// The end of QEMU's log: its last few lines, at most `max` characters, for exit messages.
pub fn log_excerpt(log: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(log);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    let tail = lines[lines.len().saturating_sub(5)..].join("\n");
    if tail.chars().count() <= max {
        return tail;
    }
    let skip = tail.chars().count() - max;
    tail.chars().skip(skip).collect()
}

/// A JSON merge patch turning `old` into `new`: changed values, and `null` for keys `new` lost.
pub fn merge_patch(old: &Value, new: &Value) -> Value {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let mut patch = Map::new();
            for (key, value) in new {
                match old.get(key) {
                    Some(previous) if previous == value => {}
                    Some(previous) => {
                        patch.insert(key.clone(), merge_patch(previous, value));
                    }
                    None => {
                        patch.insert(key.clone(), value.clone());
                    }
                }
            }
            for key in old.keys() {
                if !new.contains_key(key) {
                    patch.insert(key.clone(), Value::Null);
                }
            }
            Value::Object(patch)
        }
        _ => new.clone(),
    }
}

/// Sizes by disk name from sizes by QEMU drive id (`drive-<index in spec.disks>`).
pub fn sizes_by_name(
    disks: &[InstanceDisk],
    by_drive: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    disks
        .iter()
        .enumerate()
        .filter_map(|(i, disk)| {
            let size = by_drive.get(&dvp_qemu::argv::drive_id(i))?;
            Some((disk.name.clone(), *size))
        })
        .collect()
}

/// Drives to grow online: writable disks whose wanted size exceeds what the guest sees.
pub fn resizes(disks: &[InstanceDisk], by_drive: &BTreeMap<String, u64>) -> Vec<(String, u64)> {
    disks
        .iter()
        .enumerate()
        .filter(|(_, disk)| !disk.read_only && !disk.cdrom)
        .filter_map(|(i, disk)| {
            let drive = dvp_qemu::argv::drive_id(i);
            let current = *by_drive.get(&drive)?;
            let wanted = disk.size_bytes?;
            (wanted > current).then_some((drive, wanted))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const UID: &str = "7b0e1c9e-3d2a-4b55-9a77-0f6b1c2d3e4f";

    #[test]
    fn a_live_qemu_with_the_uid_is_adopted() {
        let cmd = |_| Some(format!("qemu-system-x86_64 -uuid {UID}"));
        assert_eq!(adoptable(Some(b"42\n"), cmd, UID), Some(42));
    }

    #[test]
    fn a_recycled_pid_is_not_adopted() {
        let cmd = |_| Some("bash -l".to_string());
        assert_eq!(adoptable(Some(b"42"), cmd, UID), None);
    }

    #[test]
    fn a_dead_pid_or_garbage_is_not_adopted() {
        assert_eq!(adoptable(Some(b"42"), |_| None, UID), None);
        assert_eq!(adoptable(Some(b"x"), |_| Some(UID.into()), UID), None);
        assert_eq!(adoptable(None, |_| Some(UID.into()), UID), None);
    }

    #[test]
    fn a_guest_shutdown_on_its_own_is_reported_as_such() {
        let ending = Ending {
            guest_shutdown: true,
            ..Ending::default()
        };
        assert_eq!(
            outcome(ending),
            (InstancePhase::Succeeded, ExitReason::GuestShutdown)
        );
    }

    #[test]
    fn a_guest_answering_our_power_button_was_stopped() {
        let ending = Ending {
            guest_shutdown: true,
            stopping: true,
            ..Ending::default()
        };
        assert_eq!(
            outcome(ending),
            (InstancePhase::Succeeded, ExitReason::Stopped)
        );
    }

    #[test]
    fn an_unannounced_end_is_a_crash() {
        assert_eq!(
            outcome(Ending::default()),
            (InstancePhase::Failed, ExitReason::Crashed)
        );
    }

    #[test]
    fn a_requested_stop_succeeds() {
        let ending = Ending {
            stopping: true,
            ..Ending::default()
        };
        assert_eq!(
            outcome(ending),
            (InstancePhase::Succeeded, ExitReason::Stopped)
        );
    }

    #[test]
    fn a_run_is_never_started_twice() {
        assert_eq!(
            initial(None, Some(InstancePhase::Running), false),
            Initial::LostWhileAway
        );
        assert_eq!(
            initial(None, Some(InstancePhase::Failed), false),
            Initial::Idle
        );
        assert_eq!(initial(None, None, false), Initial::Start);
        assert_eq!(initial(None, None, true), Initial::Idle);
        assert_eq!(
            initial(Some(7), Some(InstancePhase::Running), true),
            Initial::Adopt(7)
        );
    }

    #[test]
    fn excerpt_keeps_the_last_lines() {
        let log = b"a\nb\n\nc\nd\ne\nf\ng\n";
        assert_eq!(log_excerpt(log, 100), "c\nd\ne\nf\ng");
        assert_eq!(log_excerpt(log, 3), "f\ng");
    }

    #[test]
    fn merge_patch_nulls_lost_keys_and_keeps_equal_ones_out() {
        let old =
            json!({"phase": "Running", "pid": 1, "agent": {"connected": true, "version": "1"}});
        let new = json!({"phase": "Running", "agent": {"connected": false}});
        assert_eq!(
            merge_patch(&old, &new),
            json!({"pid": null, "agent": {"connected": false, "version": null}})
        );
    }

    fn disk(name: &str, size: Option<u64>, read_only: bool) -> InstanceDisk {
        InstanceDisk {
            name: name.into(),
            size_bytes: size,
            read_only,
            ..InstanceDisk::default()
        }
    }

    #[test]
    fn only_grown_writable_disks_are_resized() {
        let disks = [
            disk("root", Some(2048), false),
            disk("img", Some(4096), true),
            disk("data", Some(100), false),
        ];
        let by_drive: BTreeMap<String, u64> =
            [("drive-0", 1024), ("drive-1", 1024), ("drive-2", 100)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
        assert_eq!(
            resizes(&disks, &by_drive),
            vec![("drive-0".to_string(), 2048)]
        );
        assert_eq!(sizes_by_name(&disks, &by_drive)["data"], 100);
    }
}

//! The supervisor's decisions against a recording host and a scripted QEMU (no root, no QEMU).
//! Time is paused: waits and polls advance instantly.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use dvp_api::kinds::instance::{
    CLEANUP_FINALIZER, ExitReason, InstanceCloudInit, InstanceCpu, InstanceDisk, InstanceNetwork,
    InstancePhase, InstanceSpec, InstanceStatus,
    InternalVirtualizationVirtualMachineInstance as Instance,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::worker::Worker;
use super::{ApiError, Config, FORCE_STOP_ANNOTATION, Instances, Shared, Timing};
use crate::host::fake::FakeHost;
use crate::host::{CpuShare, Host, Signal};
use crate::net::fake::FakeNet;
use crate::net::names::tap_for;
use crate::net::{NetConfig, Network};
use crate::vmm::fake::FakeVmm;
use crate::vmm::{AgentReport, VmEvent};

const VM_UID: &str = "7b0e1c9e-3d2a-4b55-9a77-0f6b1c2d3e4f";
const UID: &str = "inst-1";

fn run_dir() -> PathBuf {
    Path::new("/data/run/vms").join(UID)
}

/// Records status patches (applied as merge patches) and finalizer removals.
#[derive(Default)]
struct FakeInstances {
    status: Mutex<Value>,
    finalizer_removed: Mutex<bool>,
}

fn apply_merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    apply_merge(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

#[async_trait::async_trait]
impl Instances for FakeInstances {
    async fn patch_status(&self, _: &str, _: &str, patch: Value) -> Result<(), ApiError> {
        let mut status = self.status.lock().unwrap();
        if status.is_null() {
            *status = json!({});
        }
        apply_merge(&mut status, &patch);
        Ok(())
    }

    async fn remove_finalizer(&self, _: &str, _: &str, uid: &str) -> Result<(), ApiError> {
        assert_eq!(uid, UID);
        *self.finalizer_removed.lock().unwrap() = true;
        Ok(())
    }
}

impl FakeInstances {
    fn status(&self) -> InstanceStatus {
        serde_json::from_value(self.status.lock().unwrap().clone()).unwrap_or_default()
    }
}

fn instance() -> Instance {
    Instance {
        api_version: String::new(),
        kind: String::new(),
        metadata: ObjectMeta {
            name: Some("vm1".into()),
            namespace: Some("ns".into()),
            uid: Some(UID.into()),
            finalizers: Some(vec![CLEANUP_FINALIZER.into()]),
            ..ObjectMeta::default()
        },
        spec: InstanceSpec {
            vm_uid: VM_UID.into(),
            vm_name: "vm1".into(),
            node_name: "n1".into(),
            paravirtualization: true,
            cpu: InstanceCpu {
                model: "qemu64".into(),
                sockets: 1,
                cores_per_socket: 2,
                core_fraction: 10,
                ..InstanceCpu::default()
            },
            memory_bytes: 256 << 20,
            disks: vec![InstanceDisk {
                name: "root".into(),
                path: "/vols/root.qcow2".into(),
                format: "qcow2".into(),
                size_bytes: Some(1000),
                ..InstanceDisk::default()
            }],
            cloud_init: Some(InstanceCloudInit {
                user_data: "#cloud-config\n".into(),
                network_config: None,
            }),
            termination_grace_period_seconds: 5,
            ..InstanceSpec::default()
        },
        status: None,
    }
}

struct Rig {
    host: Arc<FakeHost>,
    vmm: FakeVmm,
    api: Arc<FakeInstances>,
    net: Arc<Network>,
    fake_net: Arc<FakeNet>,
    objects: watch::Sender<Option<Arc<Instance>>>,
    task: JoinHandle<()>,
}

impl Rig {
    fn start(obj: Instance) -> Rig {
        Rig::start_on(Arc::new(FakeHost::new()), obj)
    }

    fn start_on(host: Arc<FakeHost>, obj: Instance) -> Rig {
        Rig::start_with(host, Arc::new(FakeNet::default()), obj)
    }

    fn start_with(host: Arc<FakeHost>, fake_net: Arc<FakeNet>, obj: Instance) -> Rig {
        let net = Arc::new(Network::new(fake_net.clone(), NetConfig::default()));
        let vmm = FakeVmm::new(host.clone());
        let api = Arc::new(FakeInstances::default());
        *api.status.lock().unwrap() = serde_json::to_value(&obj.status).unwrap();
        let shared = Arc::new(Shared {
            host: host.clone(),
            vmm: Arc::new(vmm.clone()),
            api: api.clone(),
            net: net.clone(),
            config: Config {
                data_dir: PathBuf::from("/data"),
                qemu: PathBuf::from("/usr/bin/qemu-system-x86_64"),
                facts: Ok(dvp_qemu::host::HostFacts::example()),
                timing: Timing::default(),
            },
        });
        let (objects, rx) = watch::channel(Some(Arc::new(obj.clone())));
        let task = tokio::spawn(Worker::new(shared, &obj, rx).run());
        Rig {
            host,
            vmm,
            api,
            net,
            fake_net,
            objects,
            task,
        }
    }

    fn status(&self) -> InstanceStatus {
        self.api.status()
    }

    async fn until(&self, what: &str, cond: impl Fn(&Rig) -> bool) {
        for _ in 0..1200 {
            if cond(self) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("timed out waiting for {what}; status {:?}", self.status());
    }

    async fn running(&self) -> u32 {
        self.until("Running", |r| {
            r.status().phase == Some(InstancePhase::Running)
        })
        .await;
        self.status().pid.unwrap()
    }

    fn update(&self, change: impl FnOnce(&mut Instance)) {
        let mut obj = (**self.objects.borrow().as_ref().unwrap()).clone();
        change(&mut obj);
        self.objects.send_replace(Some(Arc::new(obj)));
    }

    fn delete(&self) {
        self.update(|o| {
            o.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
        });
    }

    fn exit_reason(&self) -> Option<ExitReason> {
        self.status().exit.and_then(|e| e.reason)
    }
}

fn value_after<'a>(args: &'a [String], option: &str) -> Option<&'a str> {
    args.windows(2)
        .find(|w| w[0] == option)
        .map(|w| w[1].as_str())
}

#[tokio::test(start_paused = true)]
async fn a_new_instance_starts_a_recognisable_qemu_and_runs() {
    let rig = Rig::start(instance());
    let pid = rig.running().await;
    let spawned = rig.host.spawned();
    assert_eq!(spawned.len(), 1);
    let (spawned_pid, argv) = &spawned[0];
    assert_eq!(*spawned_pid, pid);
    assert_eq!(value_after(argv, "-uuid"), Some(VM_UID));
    assert_eq!(value_after(argv, "-name"), Some("ns_vm1"));
    assert!(value_after(argv, "-sandbox").unwrap().starts_with("on"));
    let status = rig.status();
    assert_eq!(status.accel.as_deref(), Some("tcg"));
    assert!(status.start_time.is_some());
    assert_eq!(
        rig.host.file(&run_dir().join("qemu.pid")),
        Some(pid.to_string().into_bytes())
    );
    assert!(rig.host.file(&run_dir().join("cidata.iso")).is_some());
}

#[tokio::test(start_paused = true)]
async fn qemu_failing_at_start_is_start_failed_with_its_stderr() {
    let host = Arc::new(FakeHost::new());
    host.fail_starts_with("qemu-system-x86_64: Could not open '/vols/root.qcow2'\n");
    let rig = Rig::start_on(host, instance());
    rig.until("Failed", |r| {
        r.status().phase == Some(InstancePhase::Failed)
    })
    .await;
    let exit = rig.status().exit.unwrap();
    assert_eq!(exit.reason, Some(ExitReason::StartFailed));
    assert!(exit.message.contains("Could not open"), "{}", exit.message);
}

#[tokio::test(start_paused = true)]
async fn a_live_qemu_of_the_instance_is_adopted_not_started_again() {
    let host = Arc::new(FakeHost::new());
    let qmp = run_dir().join("qmp.sock");
    host.add_process(
        77,
        &format!(
            "qemu-system-x86_64 -uuid {VM_UID} -chardev socket,id=qmp,path={}",
            qmp.display()
        ),
    );
    host.put_file(&run_dir().join("qemu.pid"), b"77");
    let mut obj = instance();
    obj.status = Some(InstanceStatus {
        phase: Some(InstancePhase::Running),
        pid: Some(77),
        ..InstanceStatus::default()
    });
    let rig = Rig::start_on(host, obj);
    rig.until("monitor reconnected", |r| r.status().qemu_version.is_some())
        .await;
    assert!(rig.host.spawned().is_empty());
    assert_eq!(rig.status().pid, Some(77));
}

#[tokio::test(start_paused = true)]
async fn a_run_whose_process_vanished_while_away_is_not_restarted() {
    let mut obj = instance();
    obj.status = Some(InstanceStatus {
        phase: Some(InstancePhase::Running),
        pid: Some(4242),
        ..InstanceStatus::default()
    });
    let rig = Rig::start(obj);
    rig.until("Failed", |r| {
        r.status().phase == Some(InstancePhase::Failed)
    })
    .await;
    assert_eq!(rig.exit_reason(), Some(ExitReason::Crashed));
    assert!(rig.host.spawned().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_guest_shutdown_ends_the_run_as_succeeded() {
    let rig = Rig::start(instance());
    let pid = rig.running().await;
    rig.vmm.emit(VmEvent::Shutdown {
        guest: true,
        reason: "guest-shutdown".into(),
    });
    rig.until("Succeeded", |r| {
        r.status().phase == Some(InstancePhase::Succeeded)
    })
    .await;
    assert_eq!(rig.exit_reason(), Some(ExitReason::GuestShutdown));
    assert!(rig.vmm.calls().contains(&"quit".to_string()));
    assert!(!rig.host.alive(pid));
}

#[tokio::test(start_paused = true)]
async fn a_guest_reboot_is_reported_while_the_run_goes_on() {
    let rig = Rig::start(instance());
    rig.running().await;
    rig.vmm.emit(VmEvent::Reset { guest: true });
    rig.until("GuestReset", |r| {
        r.exit_reason() == Some(ExitReason::GuestReset)
    })
    .await;
    assert_eq!(rig.status().phase, Some(InstancePhase::Running));
}

#[tokio::test(start_paused = true)]
async fn a_process_ending_unannounced_is_a_crash_with_the_log_tail() {
    let rig = Rig::start(instance());
    let pid = rig.running().await;
    rig.host
        .put_file(&run_dir().join("qemu.log"), b"boot\nqemu: fatal: trouble\n");
    rig.host.end_process(pid);
    rig.until("Failed", |r| {
        r.status().phase == Some(InstancePhase::Failed)
    })
    .await;
    let exit = rig.status().exit.unwrap();
    assert_eq!(exit.reason, Some(ExitReason::Crashed));
    assert!(exit.message.contains("fatal: trouble"), "{}", exit.message);
}

#[tokio::test(start_paused = true)]
async fn deletion_presses_the_power_button_then_releases_the_object() {
    let rig = Rig::start(instance());
    let pid = rig.running().await;
    rig.delete();
    rig.until("finalizer removed", |r| {
        *r.api.finalizer_removed.lock().unwrap()
    })
    .await;
    assert_eq!(rig.vmm.calls()[..2], ["powerdown", "quit"]);
    assert!(rig.host.signals().is_empty(), "no signal needed");
    assert!(!rig.host.alive(pid));
    assert!(!rig.host.exists(&run_dir()));
    assert_eq!(rig.exit_reason(), Some(ExitReason::Stopped));
    rig.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_guest_ignoring_the_power_button_is_quit_after_the_grace_period() {
    let rig = Rig::start(instance());
    rig.running().await;
    rig.vmm.ignore_acpi();
    let asked = tokio::time::Instant::now();
    rig.delete();
    rig.until("finalizer removed", |r| {
        *r.api.finalizer_removed.lock().unwrap()
    })
    .await;
    assert!(asked.elapsed() >= std::time::Duration::from_secs(5));
    assert_eq!(rig.vmm.calls().last().map(String::as_str), Some("quit"));
}

#[tokio::test(start_paused = true)]
async fn the_power_button_is_pressed_again_during_a_long_grace_period() {
    let mut obj = instance();
    obj.spec.termination_grace_period_seconds = 30;
    let rig = Rig::start(obj);
    rig.running().await;
    rig.vmm.ignore_acpi();
    rig.delete();
    rig.until("finalizer removed", |r| {
        *r.api.finalizer_removed.lock().unwrap()
    })
    .await;
    let presses = rig.vmm.calls().iter().filter(|c| *c == "powerdown").count();
    assert!(presses >= 5, "{:?}", rig.vmm.calls());
}

#[tokio::test(start_paused = true)]
async fn force_stop_kills_without_the_power_button() {
    let rig = Rig::start(instance());
    let pid = rig.running().await;
    rig.update(|o| {
        o.metadata.annotations =
            Some([(FORCE_STOP_ANNOTATION.to_string(), "true".to_string())].into());
        o.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
    });
    rig.until("finalizer removed", |r| {
        *r.api.finalizer_removed.lock().unwrap()
    })
    .await;
    assert_eq!(rig.host.signals(), vec![(pid, Signal::Kill)]);
    assert!(!rig.vmm.calls().contains(&"powerdown".to_string()));
}

#[tokio::test(start_paused = true)]
async fn a_grown_disk_is_resized_online_and_reported() {
    let host = Arc::new(FakeHost::new());
    let rig = Rig::start_on(host, instance());
    rig.vmm.set_size("drive-0", 1000);
    rig.running().await;
    rig.update(|o| o.spec.disks[0].size_bytes = Some(2000));
    rig.until("size reported", |r| {
        r.status().disk_sizes.get("root") == Some(&2000)
    })
    .await;
    assert!(rig.vmm.calls().contains(&"resize drive-0 2000".to_string()));
}

#[tokio::test(start_paused = true)]
async fn the_guest_agent_report_lands_in_status() {
    let rig = Rig::start(instance());
    rig.running().await;
    rig.vmm.set_agent(AgentReport {
        connected: true,
        version: "7.2".into(),
        os_info: Some(json!({"id": "tiny"})),
        ..AgentReport::default()
    });
    rig.until("agent connected", |r| {
        r.status().agent.is_some_and(|a| a.connected)
    })
    .await;
    let agent = rig.status().agent.unwrap();
    assert_eq!(agent.os_info.unwrap()["id"], "tiny");
    assert_eq!(agent.version, "7.2");
}

#[tokio::test(start_paused = true)]
async fn core_fraction_becomes_the_process_cpu_share() {
    let rig = Rig::start(instance());
    let pid = rig.running().await;
    assert_eq!(
        rig.host.cgroups(),
        vec![(
            UID.to_string(),
            pid,
            CpuShare {
                cores: 2,
                core_fraction: 10
            }
        )]
    );
}

#[tokio::test(start_paused = true)]
async fn an_unwritable_cgroup_does_not_stop_the_guest() {
    let host = Arc::new(FakeHost::new());
    host.deny_cgroups();
    let rig = Rig::start_on(host, instance());
    rig.running().await;
    assert!(rig.host.cgroups().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_guest_found_shut_down_at_adoption_ends_the_run() {
    let host = Arc::new(FakeHost::new());
    let qmp = run_dir().join("qmp.sock");
    host.add_process(
        78,
        &format!("qemu-system-x86_64 -uuid {VM_UID} path={}", qmp.display()),
    );
    host.put_file(&run_dir().join("qemu.pid"), b"78");
    let mut obj = instance();
    obj.status = Some(InstanceStatus {
        phase: Some(InstancePhase::Running),
        ..InstanceStatus::default()
    });
    // the worker first runs at the test's next await, after the state is set
    let rig = Rig::start_on(host, obj);
    rig.vmm.set_run_state("shutdown");
    rig.until("Succeeded", |r| {
        r.status().phase == Some(InstancePhase::Succeeded)
    })
    .await;
    assert_eq!(rig.exit_reason(), Some(ExitReason::GuestShutdown));
}

#[tokio::test(start_paused = true)]
async fn the_end_is_reported_only_once_the_pid_is_reaped() {
    let rig = Rig::start(instance());
    let pid = rig.running().await;
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    rig.host.put_file(&proc_dir, b"zombie");
    rig.vmm.emit(VmEvent::Shutdown {
        guest: true,
        reason: "guest-shutdown".into(),
    });
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(rig.status().phase, Some(InstancePhase::Running));
    rig.host.remove(&proc_dir).unwrap();
    rig.until("Succeeded", |r| {
        r.status().phase == Some(InstancePhase::Succeeded)
    })
    .await;
}

fn with_networks(mut obj: Instance) -> Instance {
    obj.spec.networks = vec![
        InstanceNetwork {
            type_: "Main".into(),
            mac_address: "52:54:00:00:00:01".into(),
            ip_address: Some("10.201.7.5".into()),
            cidr: Some("10.201.7.0/24".into()),
            ..InstanceNetwork::default()
        },
        InstanceNetwork {
            type_: "Network".into(),
            name: "red".into(),
            mac_address: "52:54:00:00:00:02".into(),
            ..InstanceNetwork::default()
        },
    ];
    obj
}

const MAIN_MAC: [u8; 6] = [0x52, 0x54, 0, 0, 0, 1];

fn netdevs(argv: &[String]) -> Vec<&str> {
    argv.windows(2)
        .filter(|w| w[0] == "-netdev")
        .map(|w| w[1].as_str())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_bridged_run_gets_taps_a_lease_and_says_bridge() {
    let rig = Rig::start(with_networks(instance()));
    rig.running().await;
    let (_, argv) = &rig.host.spawned()[0];
    let taps = rig.fake_net.taps();
    assert_eq!(taps.len(), 2);
    assert_eq!(
        netdevs(argv),
        [
            format!(
                "tap,id=net0,ifname={},script=no,downscript=no",
                tap_for(UID, 0)
            ),
            format!(
                "tap,id=net1,ifname={},script=no,downscript=no",
                tap_for(UID, 1)
            ),
        ]
    );
    assert_eq!(rig.status().network_mode.as_deref(), Some("Bridge"));
    assert_eq!(
        rig.net.leases().get(&MAIN_MAC).map(|l| l.ip.to_string()),
        Some("10.201.7.5".to_string())
    );
}

#[tokio::test(start_paused = true)]
async fn the_end_of_a_bridged_run_deletes_its_taps_and_lease() {
    let rig = Rig::start(with_networks(instance()));
    rig.running().await;
    rig.delete();
    rig.until("finalized", |r| *r.api.finalizer_removed.lock().unwrap())
        .await;
    assert!(rig.fake_net.taps().is_empty());
    assert_eq!(rig.net.leases().get(&MAIN_MAC), None);
}

#[tokio::test(start_paused = true)]
async fn denied_taps_start_the_run_in_user_mode_with_its_mac() {
    let fake_net = Arc::new(FakeNet::default());
    fake_net.deny_taps();
    let rig = Rig::start_with(
        Arc::new(FakeHost::new()),
        fake_net,
        with_networks(instance()),
    );
    rig.running().await;
    let (_, argv) = &rig.host.spawned()[0];
    assert_eq!(netdevs(argv), ["user,id=net0", "hubport,id=net1,hubid=101"]);
    assert!(
        argv.iter()
            .any(|a| a.contains("netdev=net0") && a.contains("mac=52:54:00:00:00:01"))
    );
    assert_eq!(rig.status().network_mode.as_deref(), Some("User"));
    assert!(!rig.net.health().unwrap().ready);
}

#[tokio::test(start_paused = true)]
async fn an_adopted_bridged_run_keeps_its_taps_and_is_leased_again() {
    let host = Arc::new(FakeHost::new());
    let qmp = run_dir().join("qmp.sock");
    host.add_process(
        77,
        &format!(
            "qemu-system-x86_64 -uuid {VM_UID} -chardev socket,id=qmp,path={}",
            qmp.display()
        ),
    );
    host.put_file(&run_dir().join("qemu.pid"), b"77");
    let fake_net = Arc::new(FakeNet::default());
    fake_net.add_link("dvp-main", None);
    fake_net.add_link(&tap_for(UID, 0), Some("dvp-main"));
    let mut obj = with_networks(instance());
    obj.spec.networks.truncate(1);
    obj.status = Some(InstanceStatus {
        phase: Some(InstancePhase::Running),
        pid: Some(77),
        network_mode: Some("Bridge".into()),
        ..InstanceStatus::default()
    });
    let rig = Rig::start_with(host, fake_net, obj);
    rig.until("leased", |r| r.net.leases().get(&MAIN_MAC).is_some())
        .await;
    assert!(rig.host.spawned().is_empty());
    assert!(
        !rig.fake_net
            .calls()
            .iter()
            .any(|c| c.starts_with("tap") || c.starts_with("delete")),
        "{:?}",
        rig.fake_net.calls()
    );
    assert_eq!(rig.fake_net.taps(), vec![tap_for(UID, 0)]);
}

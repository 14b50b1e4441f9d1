//! Every command line shape of `cases/` is accepted by the QEMU on this machine: QEMU starts
//! paused (`-S`) with real files in place of the disks, answers QMP, and quits. Cases that need
//! what the host lacks (KVM, OVMF, the `dvp-qemu` user) are reported and left out.

mod cases;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use dvp_qemu::argv::{Launch, RunPaths, argv};
use dvp_qemu::host::{Accel, ProbeOptions, probe};
use dvp_qemu::qmp::Qmp;
use dvp_qemu::{qemu_img, seed};

async fn prepare_files(case: &cases::Case, paths: &RunPaths) {
    for disk in &case.spec.disks {
        let path = Path::new(&disk.path);
        if path.exists() {
            continue;
        }
        if disk.format == "qcow2" {
            qemu_img::create(path, &qemu_img::ImageFormat::Qcow2, 64 << 20, None)
                .await
                .unwrap();
        } else {
            std::fs::write(path, vec![0u8; 1 << 20]).unwrap();
        }
    }
    if let Some(ci) = &case.spec.cloud_init {
        let iso = seed::nocloud_iso(&seed::NoCloud {
            instance_id: &case.spec.vm_uid,
            hostname: "vm",
            user_data: &ci.user_data,
            network_config: None,
        })
        .unwrap();
        std::fs::write(&paths.cloud_init_seed, iso).unwrap();
    }
    if let Some(files) = &case.spec.sysprep {
        std::fs::write(&paths.sysprep_seed, seed::sysprep_iso(files).unwrap()).unwrap();
    }
}

#[tokio::test]
async fn every_case_starts_under_this_qemu() {
    let Ok(facts) = probe(&ProbeOptions::default()).await else {
        eprintln!("skipped: qemu-system-x86_64 is not installed");
        return;
    };
    let mut failures = Vec::new();
    for mut case in cases::all("") {
        if case.host.accel == Accel::Kvm && facts.accel != Accel::Kvm {
            eprintln!("{}: left out (no KVM that runs firmware here)", case.name);
            continue;
        }
        if case.host.run_as.is_some() {
            eprintln!("{}: left out (needs the dvp-qemu user)", case.name);
            continue;
        }
        let efi = case.spec.firmware != Some(dvp_api::kinds::instance::Firmware::Bios);
        if efi && facts.ovmf.standard.is_none() {
            eprintln!("{}: left out (no OVMF)", case.name);
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_string_lossy().into_owned();
        for disk in &mut case.spec.disks {
            disk.path = format!("{root}{}", disk.path);
        }
        case.host.ovmf = facts.ovmf.clone();
        case.host.sandbox = facts.sandbox;
        let paths = RunPaths::in_dir(dir.path());
        prepare_files(&case, &paths).await;
        if efi {
            let pair = if case.spec.firmware == Some(dvp_api::kinds::instance::Firmware::Efi) {
                facts.ovmf.standard.as_ref()
            } else {
                facts.ovmf.secure.as_ref()
            };
            std::fs::copy(&pair.unwrap().vars_template, &paths.nvram).unwrap();
        }
        let args = argv(&Launch {
            namespace: "default",
            name: "vm",
            spec: &case.spec,
            host: &case.host,
            paths: &paths,
            // taps need root and a bridge: the real-QEMU check runs every case unbridged
            nics: &[],
        })
        .unwrap();
        let mut child = tokio::process::Command::new("qemu-system-x86_64")
            .args(&args)
            .arg("-S")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut connected = None;
        for _ in 0..100 {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if let Ok(c) = Qmp::connect(&paths.qmp, Duration::from_secs(5)).await {
                connected = Some(c);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        match connected {
            Some((qmp, _events)) => {
                let status = qmp.query_status().await.unwrap();
                assert_eq!(status.status, "prelaunch", "{}", case.name);
                qmp.quit().await.unwrap();
                let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
                    .await
                    .unwrap()
                    .unwrap();
                assert!(exit.success(), "{}: {exit}", case.name);
            }
            None => {
                let _ = child.start_kill();
                let out = child.wait_with_output().await.unwrap();
                failures.push(format!(
                    "{}: {}\n  {}",
                    case.name,
                    String::from_utf8_lossy(&out.stderr).trim(),
                    args.join(" ")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "QEMU refused:\n{}",
        failures.join("\n")
    );
}

//! The QEMU command line of one run: a pure translation of an [`InstanceSpec`] and the host's
//! facts into arguments for `qemu-system-x86_64`. Golden files in `tests/golden/` pin the result.
//!
//! Everything the platform talks to (QMP, the guest agent, the serial console, VNC) is a unix
//! socket in the run dir. The process is recognisable from outside: `-uuid` is the VM's uid and
//! `-name` is `<namespace>_<name>`. QEMU pauses instead of exiting when the guest powers off
//! (`-no-shutdown`), so the agent learns of every guest shutdown, even one that happened while
//! the agent was away, and ends the process itself.

mod cpu;
mod disks;
mod model;

use std::path::{Path, PathBuf};

use dvp_api::kinds::instance::{Firmware, InstanceSpec, Machine};

pub use cpu::{cpu_value, smp_value};
pub use disks::{Attachment, boot_indexes, drive_id};
pub use model::{Bus, DeviceModel, OsType, device_model, machine_type};

use crate::host::HostFacts;

/// Files of one run in its run dir.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunPaths {
    pub dir: PathBuf,
    pub qmp: PathBuf,
    /// A second QMP monitor for short-lived clients (port forwards): QEMU serves one client per
    /// monitor, and the supervisor holds the first for the whole run.
    pub qmp_streams: PathBuf,
    pub qga: PathBuf,
    pub serial: PathBuf,
    /// Everything the guest printed on its serial console.
    pub serial_log: PathBuf,
    pub vnc: PathBuf,
    /// The run's copy of the UEFI variable store.
    pub nvram: PathBuf,
    /// NoCloud seed (ISO 9660, label `cidata`).
    pub cloud_init_seed: PathBuf,
    /// Windows unattend medium.
    pub sysprep_seed: PathBuf,
}

impl RunPaths {
    /// The standard file names inside `dir`.
    pub fn in_dir(dir: &Path) -> RunPaths {
        RunPaths {
            dir: dir.to_path_buf(),
            qmp: dir.join("qmp.sock"),
            qmp_streams: dir.join("qmp-streams.sock"),
            qga: dir.join("qga.sock"),
            serial: dir.join("serial.sock"),
            serial_log: dir.join("serial.log"),
            vnc: dir.join("vnc.sock"),
            nvram: dir.join("OVMF_VARS.fd"),
            cloud_init_seed: dir.join("cidata.iso"),
            sysprep_seed: dir.join("sysprep.iso"),
        }
    }
}

/// How one network interface of the guest is connected on the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NicBackend {
    /// QEMU's user-mode networking (NAT inside QEMU; the fallback where taps are forbidden).
    User,
    /// A tap device the node agent made and attached to a bridge.
    Tap(String),
    /// A link to nowhere (an additional network while the run is in user mode).
    Isolated,
}

/// What one command line is built from.
#[derive(Clone, Copy, Debug)]
pub struct Launch<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub spec: &'a InstanceSpec,
    pub host: &'a HostFacts,
    pub paths: &'a RunPaths,
    /// The backend of each entry of `spec.networks`, by position. Entries without one get
    /// [`NicBackend::User`] for `Main` and [`NicBackend::Isolated`] for the others.
    pub nics: &'a [NicBackend],
}

/// A spec the command line cannot express; the message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgvError {
    #[error("vmUID {0:?} is not a UUID (QEMU's -uuid needs one)")]
    Uuid(String),
    #[error("unknown osType {0:?} (expected Generic, Windows or Legacy)")]
    UnknownOsType(String),
    #[error(
        "bootloader {0} needs UEFI firmware (OVMF), which was not found on this node: install the ovmf package"
    )]
    NoFirmware(&'static str),
    #[error(
        "bootloader {0} is not available with the i440fx chipset (osType Legacy boots with BIOS)"
    )]
    FirmwareOnLegacy(&'static str),
    #[error("CPU model {0:?} is not a QEMU model name")]
    CpuModel(String),
    #[error("CPU feature {0:?} is not a feature name (+name, -name or name)")]
    CpuFeature(String),
    #[error("CPU topology {sockets} sockets × {cores_per_socket} cores is empty")]
    Topology { sockets: u32, cores_per_socket: u32 },
    #[error("memory size 0 is not a machine")]
    Memory,
    #[error("disk {path} has format {format:?}; only qcow2 and raw are attached")]
    DiskFormat { path: String, format: String },
    #[error("disk path {0:?} is not absolute")]
    RelativePath(String),
    #[error("the IDE controller takes at most {limit} devices; enable paravirtualization for more")]
    TooManyAtaDevices { limit: usize },
    #[error(
        "socket path {path} is {len} bytes, longer than a unix socket allows ({MAX_SOCKET_PATH}); use a shorter data dir"
    )]
    SocketPath { path: String, len: usize },
    #[error("{what} {value:?} contains characters QEMU cannot take in an option")]
    Unsafe { what: &'static str, value: String },
}

/// Longest path a unix socket address holds (`sun_path` minus its terminating NUL).
pub const MAX_SOCKET_PATH: usize = 107;

/// QEMU splits option values at commas; a literal comma is written twice.
pub(crate) fn escape(value: &str) -> String {
    value.replace(',', ",,")
}

fn path_str(path: &Path) -> String {
    escape(&path.to_string_lossy())
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.chars().all(|c| c.is_ascii_hexdigit()))
}

fn push(args: &mut Vec<String>, option: &str, value: impl Into<String>) {
    args.push(option.to_string());
    args.push(value.into());
}

fn mebibytes(bytes: u64) -> u64 {
    bytes.div_ceil(1024 * 1024)
}

/// `<namespace>_<name>`, the process name QEMU shows.
pub fn process_name(namespace: &str, name: &str) -> String {
    format!("{namespace}_{name}")
}

/// The arguments after the program name.
pub fn argv(launch: &Launch) -> Result<Vec<String>, ArgvError> {
    let Launch {
        namespace,
        name,
        spec,
        host,
        paths,
        nics,
    } = *launch;
    if !is_uuid(&spec.vm_uid) {
        return Err(ArgvError::Uuid(spec.vm_uid.clone()));
    }
    let process = process_name(namespace, name);
    if process.contains([',', '=']) {
        return Err(ArgvError::Unsafe {
            what: "VM name",
            value: process,
        });
    }
    if spec.memory_bytes == 0 {
        return Err(ArgvError::Memory);
    }
    for socket in [
        &paths.qmp,
        &paths.qmp_streams,
        &paths.qga,
        &paths.serial,
        &paths.vnc,
    ] {
        let len = socket.as_os_str().len();
        if len > MAX_SOCKET_PATH {
            return Err(ArgvError::SocketPath {
                path: socket.display().to_string(),
                len,
            });
        }
    }
    let os = OsType::parse(spec.os_type.as_deref())?;
    let model = device_model(os, spec.paravirtualization, spec.machine);
    let firmware = spec.firmware.unwrap_or(Firmware::Bios);
    let secure_boot = firmware == Firmware::EfiSecureBoot;
    if firmware != Firmware::Bios && model.machine == Machine::I440fx {
        return Err(ArgvError::FirmwareOnLegacy(firmware.as_str()));
    }

    let mut args = Vec::new();
    push(&mut args, "-name", process);
    push(&mut args, "-uuid", spec.vm_uid.clone());
    let mut machine = machine_type(model.machine).to_string();
    if secure_boot {
        machine.push_str(",smm=on");
    }
    push(&mut args, "-machine", machine);
    push(&mut args, "-accel", host.accel.as_str());
    push(
        &mut args,
        "-cpu",
        cpu_value(&spec.cpu, host.accel, model.hyperv)?,
    );
    push(&mut args, "-smp", smp_value(&spec.cpu)?);
    push(
        &mut args,
        "-m",
        format!("{}M", mebibytes(spec.memory_bytes)),
    );
    args.extend(
        [
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-no-shutdown",
        ]
        .map(String::from),
    );
    push(&mut args, "-msg", "timestamp=on");
    push(
        &mut args,
        "-rtc",
        if os == OsType::Windows {
            "base=utc,driftfix=slew"
        } else {
            "base=utc"
        },
    );
    if host.sandbox {
        // set*id stays allowed when QEMU must switch to its unprivileged user itself
        let privileges = if host.run_as.is_some() {
            "children"
        } else {
            "deny"
        };
        push(
            &mut args,
            "-sandbox",
            format!(
                "on,obsolete=deny,elevateprivileges={privileges},spawn=deny,resourcecontrol=deny"
            ),
        );
    }
    if let Some(user) = &host.run_as {
        if user.contains([',', '=']) || user.is_empty() {
            return Err(ArgvError::Unsafe {
                what: "user",
                value: user.clone(),
            });
        }
        push(&mut args, "-run-with", format!("user={user}"));
    }

    if firmware != Firmware::Bios {
        let pair = if secure_boot {
            host.ovmf.secure.as_ref()
        } else {
            host.ovmf.standard.as_ref()
        }
        .ok_or(ArgvError::NoFirmware(firmware.as_str()))?;
        push(
            &mut args,
            "-drive",
            format!(
                "if=pflash,format=raw,unit=0,readonly=on,file={}",
                path_str(&pair.code)
            ),
        );
        push(
            &mut args,
            "-drive",
            format!(
                "if=pflash,format=raw,unit=1,file={}",
                path_str(&paths.nvram)
            ),
        );
        if secure_boot {
            push(
                &mut args,
                "-global",
                "driver=cfi.pflash01,property=secure,value=on",
            );
        }
    }
    push(&mut args, "-boot", "menu=off,strict=on");

    // control and console channels
    push(
        &mut args,
        "-chardev",
        format!(
            "socket,id=qmp,path={},server=on,wait=off",
            path_str(&paths.qmp)
        ),
    );
    push(&mut args, "-mon", "chardev=qmp,mode=control");
    push(
        &mut args,
        "-chardev",
        format!(
            "socket,id=qmp-streams,path={},server=on,wait=off",
            path_str(&paths.qmp_streams)
        ),
    );
    push(&mut args, "-mon", "chardev=qmp-streams,mode=control");
    push(
        &mut args,
        "-chardev",
        format!(
            "socket,id=serial0,path={},server=on,wait=off,logfile={},logappend=on",
            path_str(&paths.serial),
            path_str(&paths.serial_log)
        ),
    );
    push(&mut args, "-serial", "chardev:serial0");
    push(&mut args, "-vnc", format!("unix:{}", path_str(&paths.vnc)));
    push(&mut args, "-device", "VGA");
    push(&mut args, "-device", format!("{},id=usb", model.usb));
    push(&mut args, "-device", "usb-tablet,bus=usb.0");

    // block devices, then the generated media as CD-ROMs
    let boot = boot_indexes(&spec.disks);
    let mut attachments: Vec<Attachment> = spec
        .disks
        .iter()
        .enumerate()
        .map(|(i, disk)| Attachment::from_disk(i, disk, boot[i]))
        .collect();
    let cloud_init_seed = paths.cloud_init_seed.to_string_lossy();
    if spec.cloud_init.is_some() {
        attachments.push(seed_attachment("drive-cidata", &cloud_init_seed));
    }
    let sysprep_seed = paths.sysprep_seed.to_string_lossy();
    if spec.sysprep.is_some() {
        attachments.push(seed_attachment("drive-sysprep", &sysprep_seed));
    }
    args.extend(disks::block_args(&model, &attachments)?);

    // network interfaces in spec order (Main first, by the controller's contract)
    for (i, net) in spec.networks.iter().enumerate() {
        let mac = net.mac_address.trim();
        if !mac.is_empty() && !mac.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return Err(ArgvError::Unsafe {
                what: "MAC address",
                value: mac.to_string(),
            });
        }
        let backend = nics.get(i).cloned().unwrap_or(if net.type_ == "Main" {
            NicBackend::User
        } else {
            NicBackend::Isolated
        });
        let netdev = match backend {
            NicBackend::User => format!("user,id=net{i}"),
            NicBackend::Tap(ifname) => {
                if ifname.is_empty()
                    || !ifname
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-')
                {
                    return Err(ArgvError::Unsafe {
                        what: "tap name",
                        value: ifname,
                    });
                }
                format!("tap,id=net{i},ifname={ifname},script=no,downscript=no")
            }
            NicBackend::Isolated => format!("hubport,id=net{i},hubid={}", 100 + i),
        };
        push(&mut args, "-netdev", netdev);
        let mut device = format!("{},netdev=net{i},id=nic{i}", model.nic);
        if !mac.is_empty() {
            device.push_str(&format!(",mac={mac}"));
        }
        push(&mut args, "-device", device);
    }

    if model.rng {
        push(&mut args, "-device", "virtio-rng-pci");
    }
    // guest agent on a virtio-serial port
    push(
        &mut args,
        "-chardev",
        format!(
            "socket,id=qga0,path={},server=on,wait=off",
            path_str(&paths.qga)
        ),
    );
    push(&mut args, "-device", "virtio-serial-pci,id=virtio-serial0");
    push(
        &mut args,
        "-device",
        "virtserialport,bus=virtio-serial0.0,chardev=qga0,name=org.qemu.guest_agent.0",
    );
    Ok(args)
}

fn seed_attachment<'a>(id: &str, path: &'a str) -> Attachment<'a> {
    Attachment {
        id: id.to_string(),
        path,
        format: "raw",
        read_only: true,
        cdrom: true,
        boot_index: None,
        serial: "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dvp_api::kinds::instance::{InstanceCpu, InstanceDisk};

    fn spec() -> InstanceSpec {
        InstanceSpec {
            vm_uid: "7b0e1c9e-3d2a-4b55-9a77-0f6b1c2d3e4f".into(),
            vm_name: "vm".into(),
            paravirtualization: true,
            cpu: InstanceCpu {
                model: "host".into(),
                sockets: 1,
                cores_per_socket: 1,
                core_fraction: 100,
                ..Default::default()
            },
            memory_bytes: 512 << 20,
            disks: vec![InstanceDisk {
                name: "root".into(),
                path: "/d/root.qcow2".into(),
                format: "qcow2".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn build(spec: &InstanceSpec, host: &HostFacts) -> Result<Vec<String>, ArgvError> {
        let paths = RunPaths::in_dir(Path::new("/run/x"));
        argv(&Launch {
            namespace: "ns",
            name: "vm",
            spec,
            host,
            paths: &paths,
            nics: &[],
        })
    }

    fn value_of<'a>(args: &'a [String], option: &str) -> Vec<&'a str> {
        args.windows(2)
            .filter(|w| w[0] == option)
            .map(|w| w[1].as_str())
            .collect()
    }

    #[test]
    fn process_carries_vm_uid_and_name() {
        let args = build(&spec(), &HostFacts::example()).unwrap();
        assert_eq!(
            value_of(&args, "-uuid"),
            ["7b0e1c9e-3d2a-4b55-9a77-0f6b1c2d3e4f"]
        );
        assert_eq!(value_of(&args, "-name"), ["ns_vm"]);
    }

    #[test]
    fn memory_is_rounded_up_to_mebibytes() {
        let mut s = spec();
        s.memory_bytes = (512 << 20) + 1;
        let args = build(&s, &HostFacts::example()).unwrap();
        assert_eq!(value_of(&args, "-m"), ["513M"]);
    }

    #[test]
    fn a_non_uuid_vm_uid_is_refused() {
        let mut s = spec();
        s.vm_uid = "abc".into();
        assert_eq!(
            build(&s, &HostFacts::example()),
            Err(ArgvError::Uuid("abc".into()))
        );
    }

    #[test]
    fn efi_without_ovmf_says_what_to_install() {
        let mut s = spec();
        s.firmware = Some(Firmware::Efi);
        let mut host = HostFacts::example();
        host.ovmf = Default::default();
        let err = build(&s, &host).unwrap_err();
        assert!(err.to_string().contains("ovmf"), "{err}");
    }

    #[test]
    fn efi_on_i440fx_is_refused() {
        let mut s = spec();
        s.firmware = Some(Firmware::Efi);
        s.os_type = Some("Legacy".into());
        assert!(matches!(
            build(&s, &HostFacts::example()),
            Err(ArgvError::FirmwareOnLegacy(_))
        ));
    }

    #[test]
    fn no_sandbox_option_when_the_build_lacks_seccomp() {
        let mut host = HostFacts::example();
        host.sandbox = false;
        let args = build(&spec(), &host).unwrap();
        assert!(!args.iter().any(|a| a == "-sandbox"));
    }

    #[test]
    fn run_as_keeps_setuid_allowed_for_qemu_itself() {
        let mut host = HostFacts::example();
        host.run_as = Some("dvp-qemu".into());
        let args = build(&spec(), &host).unwrap();
        assert_eq!(value_of(&args, "-run-with"), ["user=dvp-qemu"]);
        assert!(value_of(&args, "-sandbox")[0].contains("elevateprivileges=children"));
    }

    #[test]
    fn overlong_socket_paths_are_refused_with_a_hint() {
        let paths = RunPaths::in_dir(&Path::new("/").join("d".repeat(120)));
        let err = argv(&Launch {
            namespace: "ns",
            name: "vm",
            spec: &spec(),
            host: &HostFacts::example(),
            paths: &paths,
            nics: &[],
        })
        .unwrap_err();
        assert!(matches!(err, ArgvError::SocketPath { .. }), "{err}");
    }

    #[test]
    fn uuid_check_accepts_kubernetes_uids() {
        assert!(is_uuid("0b8c2f4e-95f1-4b0a-8d1f-3a2b1c0d9e8f"));
        assert!(!is_uuid("0b8c2f4e95f14b0a8d1f3a2b1c0d9e8f"));
    }
}

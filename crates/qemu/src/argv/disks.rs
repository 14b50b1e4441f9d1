//! Block devices: boot order (spec §5.11), bus slots, and the `-drive`/`-device` pairs.

use dvp_api::kinds::instance::{InstanceDisk, Machine};

use super::model::{Bus, DeviceModel, builtin_ata_ports};
use super::{ArgvError, escape};

/// The QEMU drive id of the disk at `index` in `spec.disks` (what `block_resize` names).
pub fn drive_id(index: usize) -> String {
    format!("drive-{index}")
}

/// Boot priority per disk (1 = first). By list position, unless any disk sets `bootOrder`: then
/// only those boot, ordered by their value. Hot-plugged disks never boot.
pub fn boot_indexes(disks: &[InstanceDisk]) -> Vec<Option<u32>> {
    let explicit = disks
        .iter()
        .any(|d| d.boot_order.is_some() && !d.hotplugged);
    let mut result = vec![None; disks.len()];
    if explicit {
        let mut ordered: Vec<(u32, usize)> = disks
            .iter()
            .enumerate()
            .filter(|(_, d)| !d.hotplugged)
            .filter_map(|(i, d)| d.boot_order.map(|order| (order, i)))
            .collect();
        ordered.sort();
        for (rank, (_, i)) in ordered.into_iter().enumerate() {
            result[i] = Some(rank as u32 + 1);
        }
    } else {
        let mut next = 1;
        for (i, disk) in disks.iter().enumerate() {
            if !disk.hotplugged {
                result[i] = Some(next);
                next += 1;
            }
        }
    }
    result
}

/// A device to attach: a disk of the spec or a generated medium (seed, sysprep).
pub struct Attachment<'a> {
    pub id: String,
    pub path: &'a str,
    pub format: &'a str,
    pub read_only: bool,
    pub cdrom: bool,
    pub boot_index: Option<u32>,
    pub serial: &'a str,
}

impl<'a> Attachment<'a> {
    pub fn from_disk(index: usize, disk: &'a InstanceDisk, boot_index: Option<u32>) -> Self {
        Attachment {
            id: drive_id(index),
            path: &disk.path,
            format: &disk.format,
            read_only: disk.read_only || disk.cdrom,
            cdrom: disk.cdrom,
            boot_index,
            serial: &disk.serial,
        }
    }
}

/// Serial numbers guests accept: at most 20 plain characters.
fn serial_value(serial: &str) -> String {
    serial
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(20)
        .collect()
}

/// The `-drive` value. ATA hard disks cannot be read-only in QEMU, so a read-only image on that
/// bus gets a throw-away overlay (`snapshot=on`): the guest may write, the image never changes.
fn drive_value(a: &Attachment, bus: Bus) -> Result<String, ArgvError> {
    if !matches!(a.format, "qcow2" | "raw") {
        return Err(ArgvError::DiskFormat {
            path: a.path.to_string(),
            format: a.format.to_string(),
        });
    }
    if !a.path.starts_with('/') {
        return Err(ArgvError::RelativePath(a.path.to_string()));
    }
    let mut v = format!(
        "file={},format={},if=none,id={}",
        escape(a.path),
        a.format,
        a.id
    );
    if a.cdrom {
        v.push_str(",media=cdrom,readonly=on");
    } else if a.read_only && bus == Bus::Ata {
        v.push_str(",snapshot=on");
    } else if a.read_only {
        v.push_str(",readonly=on");
    } else {
        v.push_str(",discard=unmap");
    }
    Ok(v)
}

/// Hands out bus positions in attachment order.
pub struct Slots {
    machine: Machine,
    scsi: u32,
    ata: usize,
    /// Extra AHCI controllers the q35 chipset needs beyond its six ports.
    pub extra_ahci: usize,
    pub uses_scsi: bool,
}

impl Slots {
    pub fn new(machine: Machine) -> Slots {
        Slots {
            machine,
            scsi: 0,
            ata: 0,
            extra_ahci: 0,
            uses_scsi: false,
        }
    }

    fn ata_bus(&mut self) -> Result<String, ArgvError> {
        let slot = self.ata;
        self.ata += 1;
        let builtin = builtin_ata_ports(self.machine);
        match self.machine {
            Machine::I440fx if slot >= builtin => {
                Err(ArgvError::TooManyAtaDevices { limit: builtin })
            }
            Machine::I440fx => Ok(format!("bus=ide.{},unit={}", slot / 2, slot % 2)),
            Machine::Q35 if slot < builtin => Ok(format!("bus=ide.{slot}")),
            Machine::Q35 => {
                let extra = (slot - builtin) / 6 + 1;
                self.extra_ahci = self.extra_ahci.max(extra);
                Ok(format!("bus=sata{extra}.{}", (slot - builtin) % 6))
            }
        }
    }

    /// The `-device` value for one attachment on `bus`.
    pub fn device_value(&mut self, bus: Bus, a: &Attachment) -> Result<String, ArgvError> {
        let kind = match (bus, a.cdrom) {
            (Bus::VirtioScsi, false) => "scsi-hd",
            (Bus::VirtioScsi, true) => "scsi-cd",
            (Bus::VirtioBlk, _) => "virtio-blk-pci",
            (Bus::Ata, false) => "ide-hd",
            (Bus::Ata, true) => "ide-cd",
        };
        let position = match bus {
            Bus::VirtioScsi => {
                self.uses_scsi = true;
                let target = self.scsi;
                self.scsi += 1;
                Some(format!("bus=scsi0.0,channel=0,scsi-id={target},lun=0"))
            }
            Bus::VirtioBlk => None,
            Bus::Ata => Some(self.ata_bus()?),
        };
        let mut v = kind.to_string();
        if let Some(position) = position {
            v.push(',');
            v.push_str(&position);
        }
        v.push_str(&format!(
            ",drive={},id={}",
            a.id,
            a.id.replacen("drive", "disk", 1)
        ));
        if let Some(index) = a.boot_index {
            v.push_str(&format!(",bootindex={index}"));
        }
        let serial = serial_value(a.serial);
        if !serial.is_empty() {
            v.push_str(&format!(",serial={serial}"));
        }
        Ok(v)
    }
}

/// `-drive`/`-device` pairs for every attachment, and the controllers they need (first).
pub fn block_args(model: &DeviceModel, disks: &[Attachment]) -> Result<Vec<String>, ArgvError> {
    let mut slots = Slots::new(model.machine);
    let mut devices = Vec::new();
    for a in disks {
        let bus = if a.cdrom {
            model.cdrom_bus
        } else {
            model.disk_bus
        };
        devices.push("-drive".to_string());
        devices.push(drive_value(a, bus)?);
        devices.push("-device".to_string());
        devices.push(slots.device_value(bus, a)?);
    }
    let mut args = Vec::new();
    if slots.uses_scsi {
        args.extend([
            "-device".to_string(),
            "virtio-scsi-pci,id=scsi0".to_string(),
        ]);
    }
    for n in 1..=slots.extra_ahci {
        args.extend(["-device".to_string(), format!("ich9-ahci,id=sata{n}")]);
    }
    args.extend(devices);
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(boot_order: Option<u32>) -> InstanceDisk {
        InstanceDisk {
            name: "d".into(),
            path: "/d".into(),
            format: "qcow2".into(),
            boot_order,
            ..Default::default()
        }
    }

    #[test]
    fn boot_order_follows_list_position_by_default() {
        let disks = vec![disk(None), disk(None), disk(None)];
        assert_eq!(boot_indexes(&disks), vec![Some(1), Some(2), Some(3)]);
    }

    #[test]
    fn explicit_boot_order_boots_only_the_listed_disks_by_value() {
        let disks = vec![disk(Some(5)), disk(None), disk(Some(2))];
        assert_eq!(boot_indexes(&disks), vec![Some(2), None, Some(1)]);
    }

    #[test]
    fn hotplugged_disks_never_boot() {
        let mut hot = disk(None);
        hot.hotplugged = true;
        assert_eq!(boot_indexes(&[hot, disk(None)]), vec![None, Some(1)]);
    }

    #[test]
    fn q35_sata_spills_into_extra_ahci_controllers() {
        let mut slots = Slots::new(Machine::Q35);
        let buses: Vec<String> = (0..8).map(|_| slots.ata_bus().unwrap()).collect();
        assert_eq!(buses[5], "bus=ide.5");
        assert_eq!(buses[6], "bus=sata1.0");
        assert_eq!(slots.extra_ahci, 1);
    }

    #[test]
    fn i440fx_ide_has_four_slots() {
        let mut slots = Slots::new(Machine::I440fx);
        let buses: Vec<String> = (0..4).map(|_| slots.ata_bus().unwrap()).collect();
        assert_eq!(buses[3], "bus=ide.1,unit=1");
        assert!(slots.ata_bus().is_err());
    }

    #[test]
    fn serials_are_sanitized_and_cut() {
        assert_eq!(
            serial_value("a,b=c0123456789abcdefghijk"),
            "abc0123456789abcdefg"
        );
    }

    #[test]
    fn unknown_formats_and_relative_paths_are_refused() {
        let d = disk(None);
        let mut a = Attachment::from_disk(0, &d, None);
        a.format = "vmdk";
        assert!(drive_value(&a, Bus::VirtioScsi).is_err());
        let mut b = Attachment::from_disk(0, &d, None);
        b.path = "relative.qcow2";
        assert!(drive_value(&b, Bus::VirtioScsi).is_err());
    }

    #[test]
    fn read_only_ata_disks_get_a_throw_away_overlay() {
        let d = InstanceDisk {
            read_only: true,
            ..disk(None)
        };
        let a = Attachment::from_disk(0, &d, None);
        assert!(drive_value(&a, Bus::Ata).unwrap().ends_with(",snapshot=on"));
        assert!(
            drive_value(&a, Bus::VirtioBlk)
                .unwrap()
                .ends_with(",readonly=on")
        );
    }

    #[test]
    fn commas_in_paths_are_doubled() {
        let d = disk(None);
        let mut a = Attachment::from_disk(0, &d, None);
        a.path = "/a,b.qcow2";
        assert!(
            drive_value(&a, Bus::VirtioScsi)
                .unwrap()
                .starts_with("file=/a,,b.qcow2,")
        );
    }
}

//! The device model of an `osType` (spec §5.15): chipset, buses of disks and CD-ROMs, NIC, USB
//! controller and extras, with paravirtualization on or off.

use dvp_api::kinds::instance::Machine;

use super::ArgvError;

/// The guest OS family the device model is chosen for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OsType {
    Generic,
    Windows,
    Legacy,
}

impl OsType {
    /// The spec's `osType` (absent means `Generic`).
    pub fn parse(text: Option<&str>) -> Result<OsType, ArgvError> {
        match text.unwrap_or("Generic") {
            "Generic" | "" => Ok(OsType::Generic),
            "Windows" => Ok(OsType::Windows),
            "Legacy" => Ok(OsType::Legacy),
            other => Err(ArgvError::UnknownOsType(other.to_string())),
        }
    }
}

/// How a block device reaches the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bus {
    /// virtio-scsi (`scsi-hd`/`scsi-cd` on one virtio-scsi controller).
    VirtioScsi,
    /// virtio-blk, one PCI device per disk.
    VirtioBlk,
    /// The chipset's ATA ports: SATA (AHCI) on q35, PATA (PIIX) on i440fx.
    Ata,
}

/// Devices of one run, as §5.15 assigns them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceModel {
    pub machine: Machine,
    pub disk_bus: Bus,
    pub cdrom_bus: Bus,
    /// QEMU device name of the NIC.
    pub nic: &'static str,
    /// QEMU device name of the USB controller.
    pub usb: &'static str,
    /// virtio-rng for the guest's entropy.
    pub rng: bool,
    /// Hyper-V enlightenments (Windows, where the accelerator supports them).
    pub hyperv: bool,
}

/// The device model for an OS type, paravirtualization and (optionally) an explicit chipset.
pub fn device_model(os: OsType, paravirtualization: bool, machine: Option<Machine>) -> DeviceModel {
    let default_machine = match os {
        OsType::Legacy => Machine::I440fx,
        _ => Machine::Q35,
    };
    let (disk_bus, cdrom_bus, nic) = match (os, paravirtualization) {
        (OsType::Legacy, true) => (Bus::VirtioBlk, Bus::Ata, "virtio-net-pci"),
        (OsType::Legacy, false) => (Bus::Ata, Bus::Ata, "rtl8139"),
        (_, true) => (Bus::VirtioScsi, Bus::VirtioScsi, "virtio-net-pci"),
        (_, false) => (Bus::Ata, Bus::Ata, "e1000"),
    };
    DeviceModel {
        machine: machine.unwrap_or(default_machine),
        disk_bus,
        cdrom_bus,
        nic,
        usb: match os {
            OsType::Legacy => "piix3-usb-uhci",
            _ => "qemu-xhci",
        },
        rng: os == OsType::Generic,
        hyperv: os == OsType::Windows,
    }
}

/// QEMU's `-machine` type name of a chipset.
pub fn machine_type(machine: Machine) -> &'static str {
    match machine {
        Machine::Q35 => "q35",
        Machine::I440fx => "pc",
    }
}

/// How many ATA devices the chipset's own controller takes before another is needed.
pub fn builtin_ata_ports(machine: Machine) -> usize {
    match machine {
        Machine::Q35 => 6,
        Machine::I440fx => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_with_paravirtualization_uses_virtio_scsi() {
        let m = device_model(OsType::Generic, true, None);
        assert_eq!(m.machine, Machine::Q35);
        assert_eq!(
            (m.disk_bus, m.cdrom_bus),
            (Bus::VirtioScsi, Bus::VirtioScsi)
        );
        assert_eq!(m.nic, "virtio-net-pci");
        assert!(m.rng && !m.hyperv);
    }

    #[test]
    fn windows_without_paravirtualization_uses_sata_and_e1000() {
        let m = device_model(OsType::Windows, false, None);
        assert_eq!((m.disk_bus, m.cdrom_bus), (Bus::Ata, Bus::Ata));
        assert_eq!(m.nic, "e1000");
        assert!(m.hyperv && !m.rng);
    }

    #[test]
    fn legacy_is_i440fx_with_ide_cdrom_and_uhci() {
        let m = device_model(OsType::Legacy, true, None);
        assert_eq!(m.machine, Machine::I440fx);
        assert_eq!((m.disk_bus, m.cdrom_bus), (Bus::VirtioBlk, Bus::Ata));
        assert_eq!(m.usb, "piix3-usb-uhci");
        assert_eq!(device_model(OsType::Legacy, false, None).nic, "rtl8139");
    }

    #[test]
    fn unknown_os_type_is_an_error() {
        assert!(OsType::parse(Some("Plan9")).is_err());
        assert_eq!(OsType::parse(None).unwrap(), OsType::Generic);
    }
}

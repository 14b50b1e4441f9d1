//! `-cpu` and `-smp`: the class's CPU model with its features, adapted to the accelerator, and the
//! topology of spec §5.4.

use dvp_api::kinds::instance::InstanceCpu;

use super::ArgvError;
use crate::host::Accel;

/// Hyper-V enlightenments for Windows guests (KVM only: TCG does not implement them all).
const HYPERV: &[&str] = &[
    "hv-relaxed=on",
    "hv-vapic=on",
    "hv-spinlocks=0x1fff",
    "hv-vpindex=on",
    "hv-runtime=on",
    "hv-time=on",
    "hv-synic=on",
    "hv-stimer=on",
    "hv-frequencies=on",
];

fn is_host_model(model: &str) -> bool {
    matches!(model, "" | "host" | "host-passthrough" | "host-model")
}

/// A name QEMU can take inside an option value (no commas, no `=`).
fn is_plain_word(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `feat`/`+feat` turn a feature on, `-feat` turns it off.
fn feature_property(feature: &str) -> Result<String, ArgvError> {
    let (name, value) = match feature.strip_prefix('-') {
        Some(name) => (name, "off"),
        None => (feature.strip_prefix('+').unwrap_or(feature), "on"),
    };
    if !is_plain_word(name) {
        return Err(ArgvError::CpuFeature(feature.to_string()));
    }
    Ok(format!("{name}={value}"))
}

/// The `-cpu` value. The host's CPU under KVM is `host` with `arch-capabilities=off` (some KVM
/// hosts refuse that MSR); TCG cannot pass the host CPU through and uses `max` instead.
pub fn cpu_value(cpu: &InstanceCpu, accel: Accel, hyperv: bool) -> Result<String, ArgvError> {
    let model = cpu.model.trim();
    let mut parts: Vec<String> = Vec::new();
    if is_host_model(model) {
        match accel {
            Accel::Kvm => {
                parts.push("host".into());
                parts.push("arch-capabilities=off".into());
            }
            Accel::Tcg => parts.push("max".into()),
        }
    } else if is_plain_word(model) {
        parts.push(model.to_string());
    } else {
        return Err(ArgvError::CpuModel(model.to_string()));
    }
    for feature in &cpu.features {
        parts.push(feature_property(feature.trim())?);
    }
    if hyperv && accel == Accel::Kvm {
        parts.extend(HYPERV.iter().map(|s| s.to_string()));
    }
    Ok(parts.join(","))
}

/// The `-smp` value: sockets × cores per socket, one thread per core.
pub fn smp_value(cpu: &InstanceCpu) -> Result<String, ArgvError> {
    if cpu.sockets == 0 || cpu.cores_per_socket == 0 {
        return Err(ArgvError::Topology {
            sockets: cpu.sockets,
            cores_per_socket: cpu.cores_per_socket,
        });
    }
    let total = cpu.sockets * cpu.cores_per_socket;
    Ok(format!(
        "cpus={total},sockets={},cores={},threads=1",
        cpu.sockets, cpu.cores_per_socket
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(model: &str, features: &[&str]) -> InstanceCpu {
        InstanceCpu {
            model: model.into(),
            features: features.iter().map(|f| f.to_string()).collect(),
            sockets: 1,
            cores_per_socket: 1,
            core_fraction: 100,
        }
    }

    #[test]
    fn host_under_kvm_turns_arch_capabilities_off() {
        assert_eq!(
            cpu_value(&cpu("host", &[]), Accel::Kvm, false).unwrap(),
            "host,arch-capabilities=off"
        );
    }

    #[test]
    fn host_passthrough_under_tcg_becomes_max() {
        assert_eq!(
            cpu_value(&cpu("host-passthrough", &[]), Accel::Tcg, false).unwrap(),
            "max"
        );
    }

    #[test]
    fn features_become_properties() {
        assert_eq!(
            cpu_value(
                &cpu("EPYC", &["+avx2", "-svm", "pdpe1gb"]),
                Accel::Tcg,
                false
            )
            .unwrap(),
            "EPYC,avx2=on,svm=off,pdpe1gb=on"
        );
    }

    #[test]
    fn hyperv_flags_only_under_kvm() {
        assert!(
            cpu_value(&cpu("host", &[]), Accel::Kvm, true)
                .unwrap()
                .contains("hv-relaxed=on")
        );
        assert_eq!(
            cpu_value(&cpu("host", &[]), Accel::Tcg, true).unwrap(),
            "max"
        );
    }

    #[test]
    fn a_feature_cannot_smuggle_options() {
        assert!(cpu_value(&cpu("EPYC", &["avx,kvm=off"]), Accel::Tcg, false).is_err());
        assert!(cpu_value(&cpu("EPYC,x=y", &[]), Accel::Tcg, false).is_err());
    }

    #[test]
    fn smp_multiplies_sockets_and_cores() {
        let mut c = cpu("host", &[]);
        c.sockets = 2;
        c.cores_per_socket = 9;
        assert_eq!(
            smp_value(&c).unwrap(),
            "cpus=18,sockets=2,cores=9,threads=1"
        );
    }

    #[test]
    fn zero_sockets_is_refused() {
        let mut c = cpu("host", &[]);
        c.sockets = 0;
        assert!(smp_value(&c).is_err());
    }
}

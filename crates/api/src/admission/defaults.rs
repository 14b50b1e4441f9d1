//! Objects the server creates at first start.

use serde_json::{Value, json};

/// The `generic` VirtualMachineClass (storage version `v1alpha2`): CPU model Nehalem and four
/// sizing policies. It is deliberately not annotated as the default class.
pub fn default_vmclass_generic() -> Value {
    json!({
        "apiVersion": "virtualization.deckhouse.io/v1alpha2",
        "kind": "VirtualMachineClass",
        "metadata": {
            "name": "generic",
            "labels": {"app": "virtualization-controller", "module": "virtualization"}
        },
        "spec": {
            "cpu": {"type": "Model", "model": "Nehalem"},
            "sizingPolicies": [
                {"cores": {"min": 1, "max": 4}, "coreFractions": [5, 10, 20, 50, 100], "dedicatedCores": [false]},
                {"cores": {"min": 5, "max": 8}, "coreFractions": [20, 50, 100], "dedicatedCores": [false]},
                {"cores": {"min": 9, "max": 16}, "coreFractions": [50, 100], "dedicatedCores": [true, false]},
                {"cores": {"min": 17, "max": 1024}, "coreFractions": [100], "dedicatedCores": [true, false]}
            ]
        }
    })
}

/// A `host` VirtualMachineClass: the node's CPU model, no sizing policies.
pub fn default_vmclass_host() -> Value {
    json!({
        "apiVersion": "virtualization.deckhouse.io/v1alpha2",
        "kind": "VirtualMachineClass",
        "metadata": {
            "name": "host",
            "labels": {"app": "virtualization-controller", "module": "virtualization"}
        },
        "spec": {"cpu": {"type": "Host"}}
    })
}

/// `ModuleConfig/virtualization` with one VM subnet and a 50G DVCR volume collected daily at 02:00.
/// The `virtualization` ModuleConfig of a first start. Its CIDRs cover the guide's examples: VMs
/// get addresses from `10.66.10.0/24` (as in the quick start) and the static-IP recipe asks for
/// `10.66.20.77`.
pub fn default_module_config() -> Value {
    json!({
        "apiVersion": "deckhouse.io/v1alpha1",
        "kind": "ModuleConfig",
        "metadata": {"name": "virtualization"},
        "spec": {
            "enabled": true,
            "version": 1,
            "settings": {
                "virtualMachineCIDRs": ["10.66.10.0/24", "10.66.20.0/24"],
                "dvcr": {
                    "storage": {"type": "PersistentVolumeClaim", "persistentVolumeClaim": {"size": "50G"}},
                    "gc": {"schedule": "0 2 * * *"}
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::virtual_machine_class::v1alpha2::VirtualMachineClass;
    use crate::kinds::{ModuleConfig, VirtualizationSettings};

    #[test]
    fn generic_class_decodes_with_four_policies() {
        let c: VirtualMachineClass = serde_json::from_value(default_vmclass_generic()).unwrap();
        assert_eq!(c.spec.sizing_policies.len(), 4);
        assert_eq!(c.spec.cpu.model.as_deref(), Some("Nehalem"));
        assert!(c.metadata.annotations.is_none());
    }

    #[test]
    fn host_class_has_no_policies() {
        let c: VirtualMachineClass = serde_json::from_value(default_vmclass_host()).unwrap();
        assert!(c.spec.sizing_policies.is_empty());
    }

    #[test]
    fn module_config_settings_decode() {
        let mc: ModuleConfig = serde_json::from_value(default_module_config()).unwrap();
        let s: VirtualizationSettings = serde_json::from_value(mc.spec.settings.unwrap()).unwrap();
        assert_eq!(
            s.virtual_machine_cidrs,
            vec!["10.66.10.0/24", "10.66.20.0/24"]
        );
        assert_eq!(
            s.dvcr
                .unwrap()
                .storage
                .persistent_volume_claim
                .unwrap()
                .size,
            "50G"
        );
    }
}

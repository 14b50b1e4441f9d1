//! CPU topology, core fraction format, and the sizing policy of the VM's class.

use dvp_apimachinery::FieldError;
use serde_json::Value;

use super::super::Response;
use super::super::fields::{int_at, non_empty, str_at};
use super::super::quantity::parse_units;
use super::super::sizing::{check, matching_policy, policies_of};
use crate::kinds::module_config::{FeatureGate, VirtualizationSettings};
use crate::topology::validate_cores;

/// `Auto` or a whole percentage from 1% to 100%.
pub(crate) fn is_core_fraction(s: &str) -> bool {
    if s == "Auto" {
        return true;
    }
    let Some(digits) = s.strip_suffix('%') else {
        return false;
    };
    !digits.starts_with('0')
        && digits.len() <= 3
        && digits.parse::<u32>().is_ok_and(|n| (1..=100).contains(&n))
}

pub(super) fn validate(
    obj: &Value,
    class: Option<&Value>,
    settings: Option<&VirtualizationSettings>,
    resp: &mut Response,
) {
    let errs = &mut resp.errors;
    let Some(cores) = int_at(obj, "/spec/cpu/cores") else {
        errs.push(FieldError::required("spec.cpu.cores", ""));
        return;
    };
    let cores = i32::try_from(cores).unwrap_or(i32::MAX);
    if cores < 1 {
        errs.push(FieldError::invalid(
            "spec.cpu.cores",
            cores,
            "must be at least 1",
        ));
        return;
    }
    if let Some(msg) = validate_cores(cores) {
        errs.push(FieldError::invalid("spec.cpu.cores", cores, msg));
    }
    let fraction = str_at(obj, "/spec/cpu/coreFraction");
    if let Some(f) = fraction
        && !is_core_fraction(f)
    {
        errs.push(FieldError::invalid(
            "spec.cpu.coreFraction",
            f,
            "must be Auto or a percentage from 1% to 100%, e.g. 10%",
        ));
    }
    let memory = match str_at(obj, "/spec/memory/size").map(|s| (s, parse_units(s))) {
        Some((_, Some(b))) if b > 0 => Some(b),
        Some((s, _)) => {
            errs.push(FieldError::invalid(
                "spec.memory.size",
                s,
                "must be a positive quantity such as 4Gi",
            ));
            None
        }
        None => None,
    };
    let class_name = non_empty(obj, "/spec/virtualMachineClassName").unwrap_or_default();
    let Some(class) = class else {
        if !class_name.is_empty() {
            resp.warnings.push(format!(
                "VirtualMachineClass {class_name:?} does not exist yet; the VM stays Pending until it is created"
            ));
        }
        return;
    };
    let policies = policies_of(class);
    if fraction == Some("Auto") {
        let gate = FeatureGate::HotplugCpuAndMemoryWithInPlaceResize;
        if !settings.is_some_and(|s| s.has_feature_gate(gate)) {
            errs.push(FieldError::forbidden(
                "spec.cpu.coreFraction",
                format!(
                    "coreFraction Auto needs the {} feature gate of the virtualization module",
                    gate.as_str()
                ),
            ));
        }
        if let Some(p) = matching_policy(&policies, cores)
            && p.auto_steps().len() < 2
        {
            errs.push(FieldError::forbidden(
                "spec.cpu.coreFraction",
                "coreFraction Auto needs at least two core fractions below 100% in the class's sizing policy; set a percentage",
            ));
        }
    }
    if let Err(msg) = check(class_name, &policies, cores, memory, fraction) {
        errs.push(FieldError::forbidden("spec", msg));
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::*;
    use super::super::fixtures::*;
    use super::*;
    use crate::admission::kind;
    use serde_json::json;

    fn with_cpu(cores: i64, fraction: Option<&str>) -> Value {
        let mut v = basic();
        v["spec"]["cpu"] = json!({"cores": cores});
        if let Some(f) = fraction {
            v["spec"]["cpu"]["coreFraction"] = json!(f);
        }
        v["spec"]["virtualMachineClassName"] = json!("host");
        v
    }

    fn host_cluster() -> Fake {
        Fake::with(vec![
            crate::admission::default_module_config(),
            crate::admission::default_vmclass_host(),
        ])
    }

    #[test]
    fn seventeen_cores_are_rejected() {
        let r = create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            with_cpu(17, None),
            &host_cluster(),
        );
        assert_error(
            &r,
            "spec.cpu.cores",
            "the requested number of cores must be a multiple of 2",
        );
    }

    #[test]
    fn eighteen_cores_are_accepted() {
        assert_ok(&create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            with_cpu(18, None),
            &host_cluster(),
        ));
    }

    #[test]
    fn more_than_248_cores_are_rejected() {
        let r = create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            with_cpu(256, None),
            &host_cluster(),
        );
        assert_error(
            &r,
            "spec.cpu.cores",
            "number of cores should not exceed 248",
        );
    }

    #[test]
    fn malformed_core_fraction_is_rejected() {
        let r = create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            with_cpu(1, Some("150%")),
            &host_cluster(),
        );
        assert_error(&r, "spec.cpu.coreFraction", "from 1% to 100%");
    }

    #[test]
    fn core_fraction_grammar() {
        for ok in ["1%", "10%", "99%", "100%", "Auto"] {
            assert!(is_core_fraction(ok), "{ok}");
        }
        for bad in ["0%", "05%", "101%", "10", "auto", "%"] {
            assert!(!is_core_fraction(bad), "{bad}");
        }
    }

    #[test]
    fn auto_core_fraction_needs_the_feature_gate() {
        let r = create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            with_cpu(1, Some("Auto")),
            &host_cluster(),
        );
        assert_error(&r, "spec.cpu.coreFraction", "feature gate");
    }

    #[test]
    fn auto_core_fraction_with_the_gate_is_accepted() {
        let mut mc = crate::admission::default_module_config();
        mc["spec"]["settings"]["featureGates"] = json!(["HotplugCPUAndMemoryWithInPlaceResize"]);
        let fake = Fake::with(vec![mc, crate::admission::default_vmclass_host()]);
        assert_ok(&create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            with_cpu(1, Some("Auto")),
            &fake,
        ));
    }

    #[test]
    fn sizing_violation_is_one_message_with_the_suffix() {
        let mut v = basic();
        v["spec"]["cpu"]["coreFraction"] = json!("30%");
        let r = create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster());
        assert_error(
            &r,
            "spec",
            "check the sizing policy of the VirtualMachineClass or contact the administrator",
        );
        assert_eq!(r.resp.errors.len(), 1);
    }

    #[test]
    fn allowed_core_fraction_passes_the_sizing_policy() {
        let mut v = basic();
        v["spec"]["cpu"]["coreFraction"] = json!("10%");
        assert_ok(&create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            v,
            &cluster(),
        ));
    }

    #[test]
    fn missing_class_is_a_warning_not_an_error() {
        let mut v = basic();
        v["spec"]["virtualMachineClassName"] = json!("later");
        let r = create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster());
        assert_ok(&r);
        assert_warning(&r, "\"later\" does not exist yet");
    }

    #[test]
    fn malformed_memory_is_rejected() {
        let mut v = basic();
        v["spec"]["memory"]["size"] = json!("lots");
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster()),
            "spec.memory.size",
            "positive quantity",
        );
    }
}

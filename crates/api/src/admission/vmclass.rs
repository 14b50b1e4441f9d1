//! VirtualMachineClass: immutable CPU, CPU type combinations, sizing policy shape, a single
//! default class, and no deletion while VMs use the class.

use dvp_apimachinery::FieldError;
use serde_json::Value;

use super::fields::{array_at, int_at, present, str_at};
use super::sizing::{DefaultCoreFraction, SizingPolicy};
use super::{Ctx, Need, Response, kind, module_settings};
use crate::kinds::module_config::FeatureGate;
use crate::kinds::virtual_machine_class::DEFAULT_CLASS_ANNOTATION;

/// Whether a class object carries the default-class annotation set to "true".
pub(crate) fn is_default_class(class: &Value) -> bool {
    class
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
        .and_then(Value::as_str)
        == Some("true")
}

pub(crate) fn needs(obj: &Value) -> Vec<Need> {
    let mut out = Vec::new();
    if is_default_class(obj) {
        out.push(Need::List {
            kind: kind::VIRTUAL_MACHINE_CLASS,
            namespace: None,
        });
    }
    if array_at(obj, "/spec/sizingPolicies")
        .iter()
        .any(|p| p.get("defaultCoreFraction").and_then(Value::as_str) == Some("Auto"))
    {
        out.push(Need::Get {
            kind: kind::MODULE_CONFIG,
            namespace: None,
            name: "virtualization".into(),
        });
    }
    out
}

pub(crate) fn delete_needs() -> Vec<Need> {
    vec![Need::List {
        kind: kind::VIRTUAL_MACHINE,
        namespace: None,
    }]
}

pub(crate) fn admit(ctx: &Ctx, obj: &mut Value, resp: &mut Response) {
    let obj = &*obj;
    if let Some(old) = ctx.old
        && old.pointer("/spec/cpu") != obj.pointer("/spec/cpu")
    {
        resp.errors.push(FieldError::forbidden(
            "spec.cpu",
            ".spec.cpu is immutable; create a new VirtualMachineClass for a different CPU model",
        ));
    }
    if ctx.changed(obj, "/spec/cpu") {
        validate_cpu(obj, &mut resp.errors);
    }
    if ctx.changed(obj, "/spec/sizingPolicies") {
        validate_policies(ctx, obj, &mut resp.errors);
    }
    if is_default_class(obj) {
        validate_single_default(ctx, &mut resp.errors);
    }
}

fn validate_cpu(obj: &Value, errs: &mut Vec<FieldError>) {
    let Some(type_) = str_at(obj, "/spec/cpu/type") else {
        errs.push(FieldError::required(
            "spec.cpu.type",
            "one of Host, HostPassthrough, Discovery, Model, Features",
        ));
        return;
    };
    let has_model = str_at(obj, "/spec/cpu/model").is_some_and(|m| !m.is_empty());
    let has_features = !array_at(obj, "/spec/cpu/features").is_empty();
    let has_discovery = present(obj, "/spec/cpu/discovery");
    let forbid = |field: &str, errs: &mut Vec<FieldError>| {
        errs.push(FieldError::forbidden(
            format!("spec.cpu.{field}"),
            format!("not allowed with cpu type {type_}"),
        ));
    };
    match type_ {
        "Host" | "HostPassthrough" => {
            for (set, f) in [
                (has_model, "model"),
                (has_features, "features"),
                (has_discovery, "discovery"),
            ] {
                if set {
                    forbid(f, errs);
                }
            }
        }
        "Discovery" => {
            for (set, f) in [(has_model, "model"), (has_features, "features")] {
                if set {
                    forbid(f, errs);
                }
            }
        }
        "Model" => {
            if !has_model {
                errs.push(FieldError::required(
                    "spec.cpu.model",
                    "cpu type Model needs a model name, e.g. Nehalem",
                ));
            }
            for (set, f) in [(has_features, "features"), (has_discovery, "discovery")] {
                if set {
                    forbid(f, errs);
                }
            }
        }
        "Features" => {
            if !has_features {
                errs.push(FieldError::required(
                    "spec.cpu.features",
                    "cpu type Features needs at least one CPU feature",
                ));
            }
            for (set, f) in [(has_model, "model"), (has_discovery, "discovery")] {
                if set {
                    forbid(f, errs);
                }
            }
        }
        other => errs.push(FieldError::not_supported(
            "spec.cpu.type",
            other,
            &["Host", "HostPassthrough", "Discovery", "Model", "Features"],
        )),
    }
}

fn validate_policies(ctx: &Ctx, obj: &Value, errs: &mut Vec<FieldError>) {
    let mut ranges: Vec<(usize, i64, i64)> = Vec::new();
    for (i, p) in array_at(obj, "/spec/sizingPolicies").iter().enumerate() {
        let base = format!("spec.sizingPolicies[{i}]");
        let (Some(min), Some(max)) = (int_at(p, "/cores/min"), int_at(p, "/cores/max")) else {
            errs.push(FieldError::required(
                format!("{base}.cores"),
                "every sizing policy needs cores with min and max",
            ));
            continue;
        };
        if min < 1 {
            errs.push(FieldError::invalid(
                format!("{base}.cores.min"),
                min,
                "must be at least 1",
            ));
        }
        if max > 1024 {
            errs.push(FieldError::invalid(
                format!("{base}.cores.max"),
                max,
                "must be at most 1024",
            ));
        }
        if max <= min {
            errs.push(FieldError::invalid(
                format!("{base}.cores.max"),
                max,
                format!("max must be greater than min ({min})"),
            ));
        }
        if let Some(step) = int_at(p, "/cores/step")
            && max <= step
        {
            errs.push(FieldError::invalid(
                format!("{base}.cores.max"),
                max,
                format!("max must be greater than step ({step})"),
            ));
        }
        if let Some((j, jmin, jmax)) = ranges.iter().find(|(_, a, b)| min <= *b && *a <= max) {
            errs.push(FieldError::invalid(
                format!("{base}.cores"),
                format!("{min}-{max}"),
                format!(
                    "has size policy cpu crosses: cores {min}-{max} overlap spec.sizingPolicies[{j}] ({jmin}-{jmax}); \
                     core ranges must not overlap"
                ),
            ));
        }
        ranges.push((i, min, max));
        validate_default_fraction(ctx, p, &base, errs);
    }
}

fn validate_default_fraction(ctx: &Ctx, p: &Value, base: &str, errs: &mut Vec<FieldError>) {
    let Some(raw) = p.get("defaultCoreFraction") else {
        return;
    };
    let Some(policy) = SizingPolicy::from_json(p) else {
        return;
    };
    let path = format!("{base}.defaultCoreFraction");
    match policy.default_core_fraction {
        None => errs.push(FieldError::invalid(
            path,
            raw.clone(),
            "must be a percentage from 1 to 100 or Auto",
        )),
        Some(DefaultCoreFraction::Percent(n)) => {
            if !(1..=100).contains(&n) {
                errs.push(FieldError::invalid(
                    path,
                    raw.clone(),
                    "must be a percentage from 1 to 100 or Auto",
                ));
            } else if !policy.core_fractions.is_empty() && !policy.core_fractions.contains(&n) {
                let allowed: Vec<String> = policy
                    .core_fractions
                    .iter()
                    .map(|f| format!("{f}%"))
                    .collect();
                errs.push(FieldError::invalid(
                    path,
                    raw.clone(),
                    format!(
                        "must be one of the policy's coreFractions ({})",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Some(DefaultCoreFraction::Auto) => {
            if policy.auto_steps().len() < 2 {
                errs.push(FieldError::invalid(
                    &path,
                    raw.clone(),
                    "Auto needs at least two coreFractions below 100% to move between",
                ));
            }
            let gate = FeatureGate::HotplugCpuAndMemoryWithInPlaceResize;
            if !module_settings(ctx.lookup).is_some_and(|s| s.has_feature_gate(gate)) {
                errs.push(FieldError::forbidden(
                    path,
                    format!(
                        "Auto needs the {} feature gate of the virtualization module",
                        gate.as_str()
                    ),
                ));
            }
        }
    }
}

fn validate_single_default(ctx: &Ctx, errs: &mut Vec<FieldError>) {
    let others: Vec<String> = ctx
        .lookup
        .list(kind::VIRTUAL_MACHINE_CLASS, None)
        .iter()
        .filter(|c| is_default_class(c) && str_at(c, "/metadata/name") != Some(ctx.name))
        .filter_map(|c| str_at(c, "/metadata/name").map(str::to_string))
        .collect();
    if let Some(other) = others.first() {
        errs.push(FieldError::forbidden(
            format!("metadata.annotations[{DEFAULT_CLASS_ANNOTATION}]"),
            format!(
                "multiple default virtual machine classes are prohibited: {other:?} is already the default; \
                 remove its annotation first"
            ),
        ));
    }
}

pub(crate) fn admit_delete(ctx: &Ctx, resp: &mut Response) {
    let user = ctx
        .lookup
        .list(kind::VIRTUAL_MACHINE, None)
        .into_iter()
        .find(|vm| str_at(vm, "/spec/virtualMachineClassName") == Some(ctx.name));
    if let Some(vm) = user {
        resp.errors.push(FieldError::forbidden(
            "",
            format!(
                "VirtualMachineClass cannot be deleted, there is VM that use it: {}/{}",
                str_at(&vm, "/metadata/namespace").unwrap_or_default(),
                str_at(&vm, "/metadata/name").unwrap_or_default()
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{default_module_config, default_vmclass_generic, default_vmclass_host};
    use super::*;
    use serde_json::json;

    fn class(spec: Value) -> Value {
        json!({"apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualMachineClass",
               "metadata": {"name": "c"}, "spec": spec})
    }

    fn with_policies(policies: Value) -> Value {
        class(json!({"cpu": {"type": "Host"}, "sizingPolicies": policies}))
    }

    fn k() -> &'static str {
        kind::VIRTUAL_MACHINE_CLASS
    }

    #[test]
    fn generic_and_host_classes_are_accepted() {
        assert_ok(&create(
            k(),
            None,
            default_vmclass_generic(),
            &Fake::default(),
        ));
        assert_ok(&create(k(), None, default_vmclass_host(), &Fake::default()));
    }

    #[test]
    fn cpu_cannot_change() {
        let old = class(json!({"cpu": {"type": "Host"}}));
        let new = class(json!({"cpu": {"type": "Model", "model": "Nehalem"}}));
        assert_error(
            &update(k(), None, new, &old, &Fake::default()),
            "spec.cpu",
            ".spec.cpu is immutable",
        );
    }

    #[test]
    fn other_fields_may_change() {
        let old = class(json!({"cpu": {"type": "Host"}}));
        let new =
            class(json!({"cpu": {"type": "Host"}, "nodeSelector": {"matchLabels": {"a": "b"}}}));
        assert_ok(&update(k(), None, new, &old, &Fake::default()));
    }

    #[test]
    fn host_cpu_forbids_a_model() {
        let r = create(
            k(),
            None,
            class(json!({"cpu": {"type": "Host", "model": "Nehalem"}})),
            &Fake::default(),
        );
        assert_error(&r, "spec.cpu.model", "not allowed with cpu type Host");
    }

    #[test]
    fn model_cpu_needs_a_model() {
        let r = create(
            k(),
            None,
            class(json!({"cpu": {"type": "Model"}})),
            &Fake::default(),
        );
        assert_error(&r, "spec.cpu.model", "needs a model name");
    }

    #[test]
    fn features_cpu_needs_features_and_forbids_discovery() {
        let r = create(
            k(),
            None,
            class(json!({"cpu": {"type": "Features", "discovery": {}}})),
            &Fake::default(),
        );
        assert_error(&r, "spec.cpu.features", "at least one");
        assert_error(&r, "spec.cpu.discovery", "not allowed");
    }

    #[test]
    fn discovery_cpu_forbids_features() {
        let r = create(
            k(),
            None,
            class(json!({"cpu": {"type": "Discovery", "features": ["sse"]}})),
            &Fake::default(),
        );
        assert_error(
            &r,
            "spec.cpu.features",
            "not allowed with cpu type Discovery",
        );
    }

    #[test]
    fn discovery_cpu_with_selector_is_accepted() {
        let c = class(
            json!({"cpu": {"type": "Discovery", "discovery": {"nodeSelector": {"matchLabels": {"a": "b"}}}}}),
        );
        assert_ok(&create(k(), None, c, &Fake::default()));
    }

    #[test]
    fn policy_without_cores_is_rejected() {
        let r = create(
            k(),
            None,
            with_policies(json!([{"coreFractions": [100]}])),
            &Fake::default(),
        );
        assert_error(&r, "spec.sizingPolicies[0].cores", "needs cores");
    }

    #[test]
    fn overlapping_core_ranges_are_rejected() {
        let r = create(
            k(),
            None,
            with_policies(
                json!([{"cores": {"min": 1, "max": 4}}, {"cores": {"min": 4, "max": 8}}]),
            ),
            &Fake::default(),
        );
        assert_error(
            &r,
            "spec.sizingPolicies[1].cores",
            "has size policy cpu crosses",
        );
    }

    #[test]
    fn adjacent_core_ranges_are_accepted() {
        let c = with_policies(
            json!([{"cores": {"min": 1, "max": 4}}, {"cores": {"min": 5, "max": 8}}]),
        );
        assert_ok(&create(k(), None, c, &Fake::default()));
    }

    #[test]
    fn max_must_exceed_min() {
        let r = create(
            k(),
            None,
            with_policies(json!([{"cores": {"min": 4, "max": 4}}])),
            &Fake::default(),
        );
        assert_error(&r, "spec.sizingPolicies[0].cores.max", "greater than min");
    }

    #[test]
    fn max_must_exceed_step() {
        let r = create(
            k(),
            None,
            with_policies(json!([{"cores": {"min": 1, "max": 4, "step": 4}}])),
            &Fake::default(),
        );
        assert_error(&r, "spec.sizingPolicies[0].cores.max", "greater than step");
    }

    #[test]
    fn default_core_fraction_must_be_listed() {
        let c = with_policies(
            json!([{"cores": {"min": 1, "max": 4}, "coreFractions": [10, 50], "defaultCoreFraction": 20}]),
        );
        assert_error(
            &create(k(), None, c, &Fake::default()),
            "spec.sizingPolicies[0].defaultCoreFraction",
            "10%, 50%",
        );
    }

    #[test]
    fn listed_default_core_fraction_is_accepted() {
        let c = with_policies(
            json!([{"cores": {"min": 1, "max": 4}, "coreFractions": [10, 50], "defaultCoreFraction": 10}]),
        );
        assert_ok(&create(k(), None, c, &Fake::default()));
    }

    #[test]
    fn auto_default_needs_the_in_place_resize_gate() {
        let c = with_policies(
            json!([{"cores": {"min": 1, "max": 4}, "coreFractions": [10, 50, 100], "defaultCoreFraction": "Auto"}]),
        );
        assert_error(
            &create(k(), None, c.clone(), &Fake::default()),
            "spec.sizingPolicies[0].defaultCoreFraction",
            "feature gate",
        );
        let mut mc = default_module_config();
        mc["spec"]["settings"]["featureGates"] = json!(["HotplugCPUAndMemoryWithInPlaceResize"]);
        assert_ok(&create(k(), None, c, &Fake::with(vec![mc])));
    }

    #[test]
    fn auto_default_needs_two_steps() {
        let mut mc = default_module_config();
        mc["spec"]["settings"]["featureGates"] = json!(["HotplugCPUAndMemoryWithInPlaceResize"]);
        let c = with_policies(
            json!([{"cores": {"min": 1, "max": 4}, "coreFractions": [50, 100], "defaultCoreFraction": "Auto"}]),
        );
        assert_error(
            &create(k(), None, c, &Fake::with(vec![mc])),
            "spec.sizingPolicies[0].defaultCoreFraction",
            "at least two",
        );
    }

    fn default_class(name: &str) -> Value {
        json!({"kind": "VirtualMachineClass", "metadata": {"name": name, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
               "spec": {"cpu": {"type": "Host"}}})
    }

    #[test]
    fn second_default_class_is_rejected() {
        let fake = Fake::with(vec![default_class("first")]);
        let r = create(k(), None, default_class("second"), &fake);
        assert_error(
            &r,
            &format!("metadata.annotations[{DEFAULT_CLASS_ANNOTATION}]"),
            "multiple default virtual machine classes are prohibited",
        );
    }

    #[test]
    fn re_saving_the_default_class_is_accepted() {
        let fake = Fake::with(vec![default_class("first")]);
        let obj = default_class("first");
        assert_ok(&update(k(), None, obj.clone(), &obj, &fake));
    }

    #[test]
    fn delete_is_blocked_while_a_vm_uses_the_class() {
        let vm = json!({"kind": "VirtualMachine", "metadata": {"name": "linux-vm", "namespace": "default"},
                        "spec": {"virtualMachineClassName": "generic"}});
        let r = delete(
            k(),
            None,
            "generic",
            &default_vmclass_generic(),
            &Fake::with(vec![vm]),
        );
        assert_response_error(
            &r,
            "",
            "VirtualMachineClass cannot be deleted, there is VM that use it: default/linux-vm",
        );
    }

    #[test]
    fn unused_class_can_be_deleted() {
        let vm = json!({"kind": "VirtualMachine", "metadata": {"name": "a", "namespace": "default"},
                        "spec": {"virtualMachineClassName": "host"}});
        let r = delete(
            k(),
            None,
            "generic",
            &default_vmclass_generic(),
            &Fake::with(vec![vm]),
        );
        assert!(r.errors.is_empty());
    }
}

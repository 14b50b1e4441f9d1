//! VM defaulting, in the order the platform applies it: class name, core fraction, network ids.

use dvp_apimachinery::FieldError;
use serde_json::{Map, Value, json};

use super::super::fields::{array_at, int_at, non_empty, str_at};
use super::super::sizing::{default_core_fraction, policies_of};
use super::super::vmclass::is_default_class;
use super::super::{Ctx, Response, kind};
use crate::kinds::virtual_machine_class::DEFAULT_CLASS_ANNOTATION;

/// Apply the defaults; returns the VM's class object when it exists.
pub(super) fn apply(ctx: &Ctx, obj: &mut Value, resp: &mut Response) -> Option<Value> {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        resp.errors.push(FieldError::required("spec", ""));
        return None;
    };
    let class_name = match default_class_name(ctx, spec) {
        Ok(name) => name,
        Err(e) => {
            resp.errors.push(e);
            None
        }
    };
    let class = class_name.and_then(|n| ctx.lookup.get(kind::VIRTUAL_MACHINE_CLASS, None, &n));
    if let Err(e) = default_core_fraction_of(spec, class.as_ref()) {
        resp.errors.push(e);
    }
    default_network_ids(ctx, spec);
    class
}

/// The class name, filled in from the single default class when empty.
fn default_class_name(
    ctx: &Ctx,
    spec: &mut Map<String, Value>,
) -> Result<Option<String>, FieldError> {
    if let Some(name) = spec
        .get("virtualMachineClassName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        return Ok(Some(name.to_string()));
    }
    let defaults: Vec<String> = ctx
        .lookup
        .list(kind::VIRTUAL_MACHINE_CLASS, None)
        .iter()
        .filter(|c| is_default_class(c))
        .filter_map(|c| str_at(c, "/metadata/name").map(str::to_string))
        .collect();
    match defaults.as_slice() {
        [only] => {
            spec.insert("virtualMachineClassName".into(), json!(only));
            Ok(Some(only.clone()))
        }
        [] => Err(FieldError::required(
            "spec.virtualMachineClassName",
            format!(
                "no default VirtualMachineClass is configured (none is annotated {DEFAULT_CLASS_ANNOTATION}: \"true\"); \
                 set spec.virtualMachineClassName, e.g. generic"
            ),
        )),
        many => Err(FieldError::required(
            "spec.virtualMachineClassName",
            format!(
                "several VirtualMachineClasses are annotated as default ({}); set spec.virtualMachineClassName",
                many.join(", ")
            ),
        )),
    }
}

fn default_core_fraction_of(
    spec: &mut Map<String, Value>,
    class: Option<&Value>,
) -> Result<(), FieldError> {
    let Some(cpu) = spec.get_mut("cpu").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    if cpu.get("coreFraction").is_some_and(|f| !f.is_null()) {
        return Ok(());
    }
    let cores = cpu.get("cores").and_then(Value::as_i64).unwrap_or(1) as i32;
    let (name, policies) = match class {
        Some(c) => (
            str_at(c, "/metadata/name").unwrap_or_default(),
            policies_of(c),
        ),
        None => ("", Vec::new()),
    };
    let fraction = default_core_fraction(name, &policies, cores)
        .map_err(|e| FieldError::required("spec.cpu.coreFraction", e))?;
    cpu.insert("coreFraction".into(), json!(fraction));
    Ok(())
}

/// Main gets id 1; other interfaces keep the id they had in the stored object (matched by
/// position, type and name), else get the next free id from 2.
fn default_network_ids(ctx: &Ctx, spec: &mut Map<String, Value>) {
    let Some(Value::Array(networks)) = spec.get_mut("networks") else {
        return;
    };
    let old: &[Value] = ctx
        .old
        .map(|o| array_at(o, "/spec/networks"))
        .unwrap_or_default();
    let same_iface = |a: &Value, b: &Value| {
        str_at(a, "/type") == str_at(b, "/type") && non_empty(a, "/name") == non_empty(b, "/name")
    };
    let mut used: Vec<i64> = networks.iter().filter_map(|n| int_at(n, "/id")).collect();
    for (i, net) in networks.iter_mut().enumerate() {
        if int_at(net, "/id").is_some() {
            continue;
        }
        let id = if str_at(net, "/type") == Some("Main") {
            1
        } else if let Some(prev) = old
            .get(i)
            .filter(|o| same_iface(o, net))
            .and_then(|o| int_at(o, "/id"))
            .filter(|id| !used.contains(id))
        {
            prev
        } else {
            (2..).find(|id| !used.contains(id)).unwrap_or(2)
        };
        used.push(id);
        if let Some(o) = net.as_object_mut() {
            o.insert("id".into(), json!(id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::*;
    use super::super::super::{default_module_config, default_vmclass_generic};
    use super::super::fixtures::*;
    use crate::admission::kind;
    use crate::kinds::virtual_machine_class::DEFAULT_CLASS_ANNOTATION;
    use serde_json::{Value, json};

    fn default_annotated(mut class: Value) -> Value {
        class["metadata"]["annotations"] = json!({DEFAULT_CLASS_ANNOTATION: "true"});
        class
    }

    fn without_class() -> Value {
        let mut v = basic();
        v["spec"]
            .as_object_mut()
            .unwrap()
            .remove("virtualMachineClassName");
        v
    }

    #[test]
    fn class_name_defaults_to_the_annotated_class() {
        let fake = Fake::with(vec![
            default_module_config(),
            default_annotated(default_vmclass_generic()),
        ]);
        let r = create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            without_class(),
            &fake,
        );
        assert_ok(&r);
        assert_eq!(r.obj["spec"]["virtualMachineClassName"], "generic");
    }

    #[test]
    fn missing_class_name_without_a_default_is_an_error() {
        let r = create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            without_class(),
            &cluster(),
        );
        assert_error(
            &r,
            "spec.virtualMachineClassName",
            "no default VirtualMachineClass",
        );
    }

    #[test]
    fn core_fraction_defaults_to_100_percent() {
        let r = create(kind::VIRTUAL_MACHINE, Some("default"), basic(), &cluster());
        assert_eq!(r.obj["spec"]["cpu"]["coreFraction"], "100%");
    }

    #[test]
    fn core_fraction_defaults_to_the_policy_default() {
        let mut class = default_vmclass_generic();
        class["spec"]["sizingPolicies"][0]["defaultCoreFraction"] = json!(20);
        let r = create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            basic(),
            &Fake::with(vec![default_module_config(), class]),
        );
        assert_ok(&r);
        assert_eq!(r.obj["spec"]["cpu"]["coreFraction"], "20%");
    }

    #[test]
    fn policy_without_100_and_without_default_rejects_a_missing_core_fraction() {
        let mut class = default_vmclass_generic();
        class["spec"]["sizingPolicies"][0]["coreFractions"] = json!([5, 10]);
        let r = create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            basic(),
            &Fake::with(vec![default_module_config(), class]),
        );
        assert_error(&r, "spec.cpu.coreFraction", "set spec.cpu.coreFraction");
    }

    #[test]
    fn given_core_fraction_is_kept() {
        let mut v = basic();
        v["spec"]["cpu"]["coreFraction"] = json!("10%");
        let r = create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster());
        assert_eq!(r.obj["spec"]["cpu"]["coreFraction"], "10%");
    }

    #[test]
    fn network_ids_are_assigned_main_first_then_from_2() {
        let mut v = basic();
        v["spec"]["networks"] = json!([{"type": "Main"}, {"type": "Network", "name": "user-net"},
                                       {"type": "Network", "name": "user-net"}, {"type": "ClusterNetwork", "name": "corp-net"}]);
        let r = create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster());
        assert_ok(&r);
        let ids: Vec<i64> = r.obj["spec"]["networks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, vec![1, 2, 3, 4]);
    }

    #[test]
    fn explicit_network_ids_are_skipped_when_assigning() {
        let mut v = basic();
        v["spec"]["networks"] = json!([{"type": "Main"}, {"type": "Network", "name": "a", "id": 2}, {"type": "Network", "name": "b"}]);
        let r = create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster());
        assert_eq!(r.obj["spec"]["networks"][2]["id"], 3);
    }

    #[test]
    fn network_ids_are_carried_over_from_the_stored_vm() {
        let mut old = basic();
        old["spec"]["networks"] =
            json!([{"type": "Main", "id": 1}, {"type": "Network", "name": "a", "id": 7}]);
        let mut v = basic();
        v["spec"]["networks"] = json!([{"type": "Main"}, {"type": "Network", "name": "a"}]);
        v["spec"]["runPolicy"] = json!("Manual");
        let r = update(kind::VIRTUAL_MACHINE, Some("default"), v, &old, &cluster());
        assert_ok(&r);
        assert_eq!(r.obj["spec"]["networks"][1]["id"], 7);
    }
}

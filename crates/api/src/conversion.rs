//! Version conversion. Only VirtualMachineClass has two versions: `v1alpha2` (storage) writes core
//! fractions as integers, `v1alpha3` as percentage strings; `Auto` is the same in both.

use serde_json::{Map, Value};

/// Convert a VirtualMachineClass object between `v1alpha2` and `v1alpha3` (either direction;
/// same-version input is returned unchanged apart from `apiVersion`).
pub fn convert_vmclass(mut obj: Value, to_version: &str) -> Result<Value, String> {
    let to_percent = match to_version {
        crate::V1ALPHA3 => true,
        crate::V1ALPHA2 => false,
        other => {
            return Err(format!(
                "VirtualMachineClass has no version {other:?}; use v1alpha2 or v1alpha3"
            ));
        }
    };
    if let Some(Value::Array(policies)) = obj.pointer_mut("/spec/sizingPolicies") {
        for (i, policy) in policies.iter_mut().enumerate() {
            let Value::Object(policy) = policy else {
                continue;
            };
            convert_policy(policy, to_percent)
                .map_err(|e| format!("spec.sizingPolicies[{i}].{e}"))?;
        }
    }
    if let Value::Object(o) = &mut obj {
        o.insert(
            "apiVersion".into(),
            Value::String(format!("{}/{to_version}", crate::GROUP)),
        );
    }
    Ok(obj)
}

fn convert_policy(policy: &mut Map<String, Value>, to_percent: bool) -> Result<(), String> {
    if let Some(Value::Array(fractions)) = policy.get_mut("coreFractions") {
        for (j, f) in fractions.iter_mut().enumerate() {
            *f = convert_fraction(f, to_percent).map_err(|e| format!("coreFractions[{j}]: {e}"))?;
        }
    }
    if let Some(d) = policy.get_mut("defaultCoreFraction") {
        *d = convert_fraction(d, to_percent).map_err(|e| format!("defaultCoreFraction: {e}"))?;
    }
    Ok(())
}

/// The integer percentage of `N`, `"N"` or `"N%"`.
fn percent_value(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.strip_suffix('%').unwrap_or(s).parse().ok(),
        _ => None,
    }
}

fn convert_fraction(v: &Value, to_percent: bool) -> Result<Value, String> {
    if v.as_str() == Some("Auto") {
        return Ok(v.clone());
    }
    let n = percent_value(v)
        .ok_or_else(|| format!("{v} is not a core fraction (expected N, \"N%\" or \"Auto\")"))?;
    Ok(if to_percent {
        Value::String(format!("{n}%"))
    } else {
        Value::from(n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v2() -> Value {
        json!({
            "apiVersion": "virtualization.deckhouse.io/v1alpha2",
            "kind": "VirtualMachineClass",
            "metadata": {"name": "generic"},
            "spec": {
                "cpu": {"type": "Model", "model": "Nehalem"},
                "sizingPolicies": [
                    {"cores": {"min": 1, "max": 4}, "coreFractions": [5, 10, 100], "defaultCoreFraction": 10},
                    {"cores": {"min": 5, "max": 8}, "coreFractions": [50, 100], "defaultCoreFraction": "Auto"}
                ]
            }
        })
    }

    #[test]
    fn v1alpha2_to_v1alpha3_writes_percent_strings() {
        let out = convert_vmclass(v2(), "v1alpha3").unwrap();
        assert_eq!(out["apiVersion"], "virtualization.deckhouse.io/v1alpha3");
        assert_eq!(
            out["spec"]["sizingPolicies"][0]["coreFractions"],
            json!(["5%", "10%", "100%"])
        );
        assert_eq!(
            out["spec"]["sizingPolicies"][0]["defaultCoreFraction"],
            "10%"
        );
    }

    #[test]
    fn auto_stays_auto_in_both_directions() {
        let v3 = convert_vmclass(v2(), "v1alpha3").unwrap();
        assert_eq!(
            v3["spec"]["sizingPolicies"][1]["defaultCoreFraction"],
            "Auto"
        );
        let back = convert_vmclass(v3, "v1alpha2").unwrap();
        assert_eq!(
            back["spec"]["sizingPolicies"][1]["defaultCoreFraction"],
            "Auto"
        );
    }

    #[test]
    fn round_trip_v2_v3_v2_is_identity() {
        let there = convert_vmclass(v2(), "v1alpha3").unwrap();
        let back = convert_vmclass(there, "v1alpha2").unwrap();
        assert_eq!(back, v2());
    }

    #[test]
    fn round_trip_v3_v2_v3_is_identity() {
        let v3 = convert_vmclass(v2(), "v1alpha3").unwrap();
        let there = convert_vmclass(v3.clone(), "v1alpha2").unwrap();
        assert_eq!(convert_vmclass(there, "v1alpha3").unwrap(), v3);
    }

    #[test]
    fn class_without_policies_only_changes_api_version() {
        let obj = json!({"apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualMachineClass", "spec": {"cpu": {"type": "Host"}}});
        let out = convert_vmclass(obj.clone(), "v1alpha3").unwrap();
        assert_eq!(out["spec"], obj["spec"]);
    }

    #[test]
    fn garbage_fraction_is_an_error_naming_the_field() {
        let obj = json!({"spec": {"sizingPolicies": [{"coreFractions": ["lots"]}]}});
        let err = convert_vmclass(obj, "v1alpha2").unwrap_err();
        assert!(
            err.contains("spec.sizingPolicies[0].coreFractions[0]"),
            "{err}"
        );
    }

    #[test]
    fn unknown_target_version_is_rejected() {
        assert!(convert_vmclass(v2(), "v1").is_err());
    }
}

//! Sizing policies of a VirtualMachineClass: which policy applies to a core count, whether a VM's
//! cores, memory and core fraction fit it (one aggregated, actionable message), and the default
//! core fraction. Shared by admission and the VM controller (`SizingPolicyMatched`).

use serde_json::Value;

use super::fields::{array_at, int_at};
use super::quantity::{format_bytes, parse_units};

/// Suffix of every sizing-policy rejection.
pub const SIZING_POLICY_SUFFIX: &str = "check the sizing policy of the VirtualMachineClass or contact the administrator for more information";

/// The core fraction a VM gets when its policy names none.
pub const DEFAULT_CORE_FRACTION: &str = "100%";

/// Core fractions used by `coreFraction: Auto` when the policy lists none below 100%.
pub const AUTO_STEPS: &[i32] = &[5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 99];

/// A policy's default core fraction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultCoreFraction {
    /// A percentage.
    Percent(i32),
    /// `Auto`.
    Auto,
}

/// One sizing policy, with quantities in bytes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SizingPolicy {
    pub cores_min: i32,
    pub cores_max: i32,
    pub cores_step: Option<i32>,
    pub memory_min: Option<i128>,
    pub memory_max: Option<i128>,
    pub memory_step: Option<i128>,
    pub per_core_min: Option<i128>,
    pub per_core_max: Option<i128>,
    /// Allowed core fractions in percent (empty: any).
    pub core_fractions: Vec<i32>,
    pub default_core_fraction: Option<DefaultCoreFraction>,
}

/// `N`, `"N"` or `"N%"` as a percentage.
pub fn percent(v: &Value) -> Option<i32> {
    match v {
        Value::Number(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
        Value::String(s) => s.strip_suffix('%').unwrap_or(s).parse().ok(),
        _ => None,
    }
}

fn bytes_at(v: &Value, pointer: &str) -> Option<i128> {
    match v.pointer(pointer)? {
        Value::String(s) => parse_units(s),
        Value::Number(n) => n.as_i64().map(i128::from),
        _ => None,
    }
}

impl SizingPolicy {
    /// Read one `sizingPolicies[]` entry of either API version.
    pub fn from_json(p: &Value) -> Option<Self> {
        let default_core_fraction = match p.get("defaultCoreFraction") {
            Some(Value::String(s)) if s == "Auto" => Some(DefaultCoreFraction::Auto),
            Some(v) => percent(v).map(DefaultCoreFraction::Percent),
            None => None,
        };
        Some(Self {
            cores_min: i32::try_from(int_at(p, "/cores/min")?).ok()?,
            cores_max: i32::try_from(int_at(p, "/cores/max")?).ok()?,
            cores_step: int_at(p, "/cores/step").and_then(|s| i32::try_from(s).ok()),
            memory_min: bytes_at(p, "/memory/min"),
            memory_max: bytes_at(p, "/memory/max"),
            memory_step: bytes_at(p, "/memory/step"),
            per_core_min: bytes_at(p, "/memory/perCore/min"),
            per_core_max: bytes_at(p, "/memory/perCore/max"),
            core_fractions: array_at(p, "/coreFractions")
                .iter()
                .filter_map(percent)
                .collect(),
            default_core_fraction,
        })
    }

    fn range(&self) -> String {
        format!("{}-{}", self.cores_min, self.cores_max)
    }

    fn fractions_list(&self) -> String {
        self.core_fractions
            .iter()
            .map(|f| format!("{f}%"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Core fractions `coreFraction: Auto` may move between.
    pub fn auto_steps(&self) -> Vec<i32> {
        if self.core_fractions.is_empty() {
            AUTO_STEPS.to_vec()
        } else {
            self.core_fractions
                .iter()
                .copied()
                .filter(|f| *f < 100)
                .collect()
        }
    }
}

/// Every sizing policy of a VirtualMachineClass object (entries without cores are skipped).
pub fn policies_of(class: &Value) -> Vec<SizingPolicy> {
    array_at(class, "/spec/sizingPolicies")
        .iter()
        .filter_map(SizingPolicy::from_json)
        .collect()
}

/// The policy whose core range holds `cores`.
pub fn matching_policy(policies: &[SizingPolicy], cores: i32) -> Option<&SizingPolicy> {
    policies
        .iter()
        .find(|p| p.cores_min <= cores && cores <= p.cores_max)
}

/// The core fraction a VM with `cores` gets when it sets none.
pub fn default_core_fraction(
    class_name: &str,
    policies: &[SizingPolicy],
    cores: i32,
) -> Result<String, String> {
    let Some(p) = matching_policy(policies, cores) else {
        return Ok(DEFAULT_CORE_FRACTION.to_string());
    };
    match p.default_core_fraction {
        Some(DefaultCoreFraction::Percent(n)) => Ok(format!("{n}%")),
        Some(DefaultCoreFraction::Auto) => Ok("Auto".to_string()),
        None if !p.core_fractions.is_empty() && !p.core_fractions.contains(&100) => Err(format!(
            "the sizing policy for {} cores of VirtualMachineClass {class_name:?} allows core fractions {} and sets no \
             defaultCoreFraction; set spec.cpu.coreFraction to one of them",
            p.range(),
            p.fractions_list()
        )),
        None => Ok(DEFAULT_CORE_FRACTION.to_string()),
    }
}

/// Check a VM's resources against the class's policies. `Err` carries the one message to show.
pub fn check(
    class_name: &str,
    policies: &[SizingPolicy],
    cores: i32,
    memory: Option<i128>,
    core_fraction: Option<&str>,
) -> Result<(), String> {
    if policies.is_empty() {
        return Ok(());
    }
    let Some(p) = matching_policy(policies, cores) else {
        let ranges: Vec<String> = policies.iter().map(SizingPolicy::range).collect();
        return Err(format!(
            "the VM does not match any sizing policy of VirtualMachineClass {class_name:?}: {cores} cores fall outside \
             the allowed ranges ({}); {SIZING_POLICY_SUFFIX}",
            ranges.join(", ")
        ));
    };
    let mut problems = Vec::new();
    if let Some(step) = p.cores_step.filter(|s| *s > 0) {
        let offset = cores - p.cores_min;
        if offset % step != 0 {
            let lower = p.cores_min + offset / step * step;
            let upper = lower + step;
            let nearest = if upper <= p.cores_max {
                format!("{lower} or {upper}")
            } else {
                lower.to_string()
            };
            problems.push(format!(
                "{cores} cores are not on the grid {}..{} in steps of {step} (nearest valid: {nearest})",
                p.cores_min, p.cores_max
            ));
        }
    }
    if let Some(fraction) = core_fraction.filter(|f| *f != "Auto")
        && !p.core_fractions.is_empty()
        && !percent(&Value::String(fraction.to_string()))
            .is_some_and(|f| p.core_fractions.contains(&f))
    {
        problems.push(format!(
            "coreFraction {fraction} is not allowed (allowed: {})",
            p.fractions_list()
        ));
    }
    if let Some(mem) = memory {
        check_memory(p, cores, mem, &mut problems);
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the VM does not match the sizing policy for {} cores of VirtualMachineClass {class_name:?}: {}; {SIZING_POLICY_SUFFIX}",
        p.range(),
        problems.join("; ")
    ))
}

fn check_memory(p: &SizingPolicy, cores: i32, mem: i128, problems: &mut Vec<String>) {
    let shown = format_bytes(mem);
    if let Some(min) = p.memory_min.filter(|min| mem < *min) {
        problems.push(format!(
            "memory {shown} is below the minimum {}",
            format_bytes(min)
        ));
    } else if let Some(max) = p.memory_max.filter(|max| mem > *max) {
        problems.push(format!(
            "memory {shown} is above the maximum {}",
            format_bytes(max)
        ));
    } else if let (Some(step), Some(max)) = (p.memory_step.filter(|s| *s > 0), p.memory_max) {
        let origin = p.memory_min.unwrap_or(0);
        let offset = mem - origin;
        if offset % step != 0 {
            let lower = origin + offset / step * step;
            let upper = lower + step;
            let nearest = if upper <= max {
                format!("{} or {}", format_bytes(lower), format_bytes(upper))
            } else {
                format_bytes(lower)
            };
            problems.push(format!(
                "memory {shown} is not on the grid {}..{} in steps of {} (nearest valid: {nearest})",
                format_bytes(origin),
                format_bytes(max),
                format_bytes(step)
            ));
        }
    }
    let cores = i128::from(cores.max(1));
    let per_core = mem / cores;
    if let Some(min) = p.per_core_min.filter(|min| mem < *min * cores) {
        problems.push(format!(
            "memory per core {} is below the minimum {} per core (use at least {} for {cores} cores)",
            format_bytes(per_core),
            format_bytes(min),
            format_bytes(min * cores)
        ));
    } else if let Some(max) = p.per_core_max.filter(|max| mem > *max * cores) {
        problems.push(format!(
            "memory per core {} is above the maximum {} per core (use at most {} for {cores} cores)",
            format_bytes(per_core),
            format_bytes(max),
            format_bytes(max * cores)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const GI: i128 = 1 << 30;

    fn guide_policies() -> Vec<SizingPolicy> {
        policies_of(&json!({"spec": {"sizingPolicies": [
            {"cores": {"min": 1, "max": 4}, "memory": {"min": "1Gi", "max": "8Gi"}, "coreFractions": [5, 10, 20, 50, 100]},
            {"cores": {"min": 5, "max": 8}, "memory": {"min": "5Gi", "max": "16Gi"}, "coreFractions": ["20%", "50%", "100%"]}
        ]}}))
    }

    #[test]
    fn policies_read_both_core_fraction_spellings() {
        let p = guide_policies();
        assert_eq!(p[0].core_fractions, vec![5, 10, 20, 50, 100]);
        assert_eq!(p[1].core_fractions, vec![20, 50, 100]);
        assert_eq!(p[1].memory_max, Some(16 * GI));
    }

    #[test]
    fn fitting_vm_passes() {
        assert_eq!(
            check("c", &guide_policies(), 2, Some(2 * GI), Some("10%")),
            Ok(())
        );
    }

    #[test]
    fn no_policies_means_anything_goes() {
        assert_eq!(check("c", &[], 200, Some(1), Some("3%")), Ok(()));
    }

    #[test]
    fn cores_outside_every_range_list_the_ranges() {
        let err = check("c", &guide_policies(), 10, Some(8 * GI), None).unwrap_err();
        assert!(
            err.contains("10 cores fall outside the allowed ranges (1-4, 5-8)"),
            "{err}"
        );
        assert!(err.ends_with(SIZING_POLICY_SUFFIX));
    }

    #[test]
    fn disallowed_core_fraction_names_the_allowed_ones() {
        let err = check("c", &guide_policies(), 6, Some(6 * GI), Some("10%")).unwrap_err();
        assert!(
            err.contains("coreFraction 10% is not allowed (allowed: 20%, 50%, 100%)"),
            "{err}"
        );
    }

    #[test]
    fn auto_core_fraction_is_not_checked_against_the_list() {
        assert_eq!(
            check("c", &guide_policies(), 6, Some(6 * GI), Some("Auto")),
            Ok(())
        );
    }

    #[test]
    fn problems_are_aggregated_into_one_message() {
        let err = check("c", &guide_policies(), 2, Some(GI / 2), Some("30%")).unwrap_err();
        assert!(err.contains("coreFraction 30%"), "{err}");
        assert!(
            err.contains("memory 512Mi is below the minimum 1Gi"),
            "{err}"
        );
        assert_eq!(err.matches(SIZING_POLICY_SUFFIX).count(), 1);
    }

    #[test]
    fn memory_above_maximum_is_reported() {
        let err = check("c", &guide_policies(), 2, Some(9 * GI), None).unwrap_err();
        assert!(err.contains("memory 9Gi is above the maximum 8Gi"), "{err}");
    }

    #[test]
    fn cores_off_the_step_grid_name_the_neighbours() {
        let p = policies_of(
            &json!({"spec": {"sizingPolicies": [{"cores": {"min": 2, "max": 8, "step": 2}}]}}),
        );
        let err = check("c", &p, 5, None, None).unwrap_err();
        assert!(err.contains("nearest valid: 4 or 6"), "{err}");
    }

    #[test]
    fn memory_off_the_step_grid_names_the_neighbours() {
        let p = policies_of(&json!({"spec": {"sizingPolicies": [
            {"cores": {"min": 1, "max": 4}, "memory": {"min": "1Gi", "max": "8Gi", "step": "1Gi"}}
        ]}}));
        let err = check("c", &p, 1, Some(3 * GI / 2), None).unwrap_err();
        assert!(err.contains("nearest valid: 1Gi or 2Gi"), "{err}");
    }

    #[test]
    fn memory_step_is_ignored_without_a_maximum() {
        let p = policies_of(&json!({"spec": {"sizingPolicies": [
            {"cores": {"min": 1, "max": 4}, "memory": {"min": "1Gi", "step": "1Gi"}}
        ]}}));
        assert_eq!(check("c", &p, 1, Some(3 * GI / 2), None), Ok(()));
    }

    #[test]
    fn per_core_memory_bounds_suggest_a_total() {
        let p = policies_of(&json!({"spec": {"sizingPolicies": [
            {"cores": {"min": 1, "max": 4}, "memory": {"perCore": {"min": "1Gi", "max": "2Gi"}}}
        ]}}));
        let err = check("c", &p, 4, Some(2 * GI), None).unwrap_err();
        assert!(err.contains("use at least 4Gi for 4 cores"), "{err}");
        let err = check("c", &p, 2, Some(5 * GI), None).unwrap_err();
        assert!(err.contains("use at most 4Gi for 2 cores"), "{err}");
    }

    #[test]
    fn default_core_fraction_comes_from_the_policy() {
        let p = policies_of(&json!({"spec": {"sizingPolicies": [
            {"cores": {"min": 1, "max": 4}, "coreFractions": [10, 50], "defaultCoreFraction": 10}
        ]}}));
        assert_eq!(default_core_fraction("c", &p, 2).unwrap(), "10%");
    }

    #[test]
    fn default_core_fraction_is_100_without_a_policy_default() {
        assert_eq!(
            default_core_fraction("c", &guide_policies(), 2).unwrap(),
            "100%"
        );
        assert_eq!(default_core_fraction("c", &[], 2).unwrap(), "100%");
    }

    #[test]
    fn default_core_fraction_fails_when_100_is_not_allowed() {
        let p = policies_of(
            &json!({"spec": {"sizingPolicies": [{"cores": {"min": 1, "max": 4}, "coreFractions": [10, 50]}]}}),
        );
        let err = default_core_fraction("c", &p, 2).unwrap_err();
        assert!(err.contains("set spec.cpu.coreFraction"), "{err}");
    }

    #[test]
    fn auto_steps_drop_100_or_fall_back_to_the_builtin_list() {
        assert_eq!(guide_policies()[1].auto_steps(), vec![20, 50]);
        assert_eq!(SizingPolicy::default().auto_steps(), AUTO_STEPS.to_vec());
    }

    #[test]
    fn class_name_is_part_of_the_message() {
        let err = check("generic", &guide_policies(), 20, None, None).unwrap_err();
        assert!(err.contains("VirtualMachineClass \"generic\""), "{err}");
    }
}

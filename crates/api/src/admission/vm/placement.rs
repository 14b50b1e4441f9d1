//! Basic shape of placement settings: node selector labels, node affinity terms, VM/Pod
//! (anti-)affinity terms and topology spread constraints, checked like a Pod's.

use dvp_apimachinery::FieldError;
use serde_json::Value;

use super::super::fields::{array_at, int_at, str_at};
use super::super::names::{is_qualified_name, is_valid_label_value};

pub(super) fn validate(obj: &Value, errs: &mut Vec<FieldError>) {
    if let Some(sel) = obj.pointer("/spec/nodeSelector").and_then(Value::as_object) {
        for (k, v) in sel {
            check_label("spec.nodeSelector", k, v, errs);
        }
    }
    for (i, c) in array_at(obj, "/spec/topologySpreadConstraints")
        .iter()
        .enumerate()
    {
        validate_spread(&format!("spec.topologySpreadConstraints[{i}]"), c, errs);
    }
    if let Some(na) = obj.pointer("/spec/affinity/nodeAffinity") {
        validate_node_affinity(na, errs);
    }
    for which in [
        "virtualMachineAndPodAffinity",
        "virtualMachineAndPodAntiAffinity",
    ] {
        if let Some(a) = obj.pointer(&format!("/spec/affinity/{which}")) {
            validate_pod_affinity(&format!("spec.affinity.{which}"), a, errs);
        }
    }
}

fn check_label(path: &str, key: &str, value: &Value, errs: &mut Vec<FieldError>) {
    if !is_qualified_name(key) {
        errs.push(FieldError::invalid(
            path,
            key,
            "label keys are [prefix/]name with alphanumerics, '-', '_', '.'",
        ));
    }
    if !value.as_str().is_some_and(is_valid_label_value) {
        errs.push(FieldError::invalid(
            format!("{path}[{key}]"),
            value.clone(),
            "not a valid label value",
        ));
    }
}

fn validate_label_selector(path: &str, sel: &Value, errs: &mut Vec<FieldError>) {
    if let Some(labels) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in labels {
            check_label(&format!("{path}.matchLabels"), k, v, errs);
        }
    }
    for (i, e) in array_at(sel, "/matchExpressions").iter().enumerate() {
        validate_expression(
            &format!("{path}.matchExpressions[{i}]"),
            e,
            &["In", "NotIn", "Exists", "DoesNotExist"],
            errs,
        );
    }
}

fn validate_expression(path: &str, e: &Value, operators: &[&str], errs: &mut Vec<FieldError>) {
    let key = str_at(e, "/key").unwrap_or_default();
    if !is_qualified_name(key) {
        errs.push(FieldError::invalid(
            format!("{path}.key"),
            key,
            "must be a valid label key",
        ));
    }
    let op = str_at(e, "/operator").unwrap_or_default();
    let values = array_at(e, "/values");
    match op {
        "In" | "NotIn" if values.is_empty() => {
            errs.push(FieldError::required(
                format!("{path}.values"),
                format!("operator {op} needs at least one value"),
            ));
        }
        "Exists" | "DoesNotExist" if !values.is_empty() => {
            errs.push(FieldError::forbidden(
                format!("{path}.values"),
                format!("operator {op} takes no values"),
            ));
        }
        "Gt" | "Lt"
            if values.len() != 1
                || values[0].as_str().is_none_or(|v| v.parse::<i64>().is_err()) =>
        {
            errs.push(FieldError::invalid(
                format!("{path}.values"),
                Value::Array(values.to_vec()),
                format!("operator {op} takes exactly one integer value"),
            ));
        }
        op if !operators.contains(&op) => errs.push(FieldError::not_supported(
            format!("{path}.operator"),
            op,
            operators,
        )),
        _ => {}
    }
}

fn validate_node_term(path: &str, term: &Value, errs: &mut Vec<FieldError>) {
    const OPS: &[&str] = &["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"];
    for (i, e) in array_at(term, "/matchExpressions").iter().enumerate() {
        validate_expression(&format!("{path}.matchExpressions[{i}]"), e, OPS, errs);
    }
    for (i, e) in array_at(term, "/matchFields").iter().enumerate() {
        validate_expression(&format!("{path}.matchFields[{i}]"), e, OPS, errs);
    }
}

fn check_weight(path: &str, w: &Value, errs: &mut Vec<FieldError>) {
    match int_at(w, "/weight") {
        Some(1..=100) => {}
        other => errs.push(FieldError::invalid(
            format!("{path}.weight"),
            other.map_or(Value::Null, Value::from),
            "must be between 1 and 100",
        )),
    }
}

fn validate_node_affinity(na: &Value, errs: &mut Vec<FieldError>) {
    let base = "spec.affinity.nodeAffinity";
    if let Some(req) = na.get("requiredDuringSchedulingIgnoredDuringExecution") {
        let terms = array_at(req, "/nodeSelectorTerms");
        if terms.is_empty() {
            errs.push(FieldError::required(
                format!("{base}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"),
                "list at least one node selector term",
            ));
        }
        for (i, t) in terms.iter().enumerate() {
            validate_node_term(
                &format!(
                    "{base}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[{i}]"
                ),
                t,
                errs,
            );
        }
    }
    for (i, p) in array_at(na, "/preferredDuringSchedulingIgnoredDuringExecution")
        .iter()
        .enumerate()
    {
        let path = format!("{base}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
        check_weight(&path, p, errs);
        if let Some(pref) = p.get("preference") {
            validate_node_term(&format!("{path}.preference"), pref, errs);
        }
    }
}

fn validate_affinity_term(path: &str, term: &Value, errs: &mut Vec<FieldError>) {
    if str_at(term, "/topologyKey").is_none_or(str::is_empty) {
        errs.push(FieldError::required(
            format!("{path}.topologyKey"),
            "e.g. kubernetes.io/hostname",
        ));
    }
    for sel in ["labelSelector", "namespaceSelector"] {
        if let Some(s) = term.get(sel) {
            validate_label_selector(&format!("{path}.{sel}"), s, errs);
        }
    }
}

fn validate_pod_affinity(base: &str, a: &Value, errs: &mut Vec<FieldError>) {
    for (i, t) in array_at(a, "/requiredDuringSchedulingIgnoredDuringExecution")
        .iter()
        .enumerate()
    {
        validate_affinity_term(
            &format!("{base}.requiredDuringSchedulingIgnoredDuringExecution[{i}]"),
            t,
            errs,
        );
    }
    for (i, w) in array_at(a, "/preferredDuringSchedulingIgnoredDuringExecution")
        .iter()
        .enumerate()
    {
        let path = format!("{base}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
        check_weight(&path, w, errs);
        match w.get("virtualMachineAndPodAffinityTerm") {
            Some(t) => {
                validate_affinity_term(&format!("{path}.virtualMachineAndPodAffinityTerm"), t, errs)
            }
            None => errs.push(FieldError::required(
                format!("{path}.virtualMachineAndPodAffinityTerm"),
                "",
            )),
        }
    }
}

fn validate_spread(path: &str, c: &Value, errs: &mut Vec<FieldError>) {
    match int_at(c, "/maxSkew") {
        Some(n) if n > 0 => {}
        other => errs.push(FieldError::invalid(
            format!("{path}.maxSkew"),
            other.map_or(Value::Null, Value::from),
            "must be greater than zero",
        )),
    }
    if str_at(c, "/topologyKey").is_none_or(str::is_empty) {
        errs.push(FieldError::required(
            format!("{path}.topologyKey"),
            "e.g. topology.kubernetes.io/zone",
        ));
    }
    let when = str_at(c, "/whenUnsatisfiable").unwrap_or_default();
    if !["DoNotSchedule", "ScheduleAnyway"].contains(&when) {
        errs.push(FieldError::not_supported(
            format!("{path}.whenUnsatisfiable"),
            when,
            &["DoNotSchedule", "ScheduleAnyway"],
        ));
    }
    if let Some(min) = int_at(c, "/minDomains") {
        if min < 1 {
            errs.push(FieldError::invalid(
                format!("{path}.minDomains"),
                min,
                "must be greater than zero",
            ));
        } else if when != "DoNotSchedule" {
            errs.push(FieldError::invalid(
                format!("{path}.minDomains"),
                min,
                "can only be used with whenUnsatisfiable: DoNotSchedule",
            ));
        }
    }
    if let Some(s) = c.get("labelSelector") {
        validate_label_selector(&format!("{path}.labelSelector"), s, errs);
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::*;
    use super::super::fixtures::*;
    use crate::admission::kind;
    use serde_json::{Value, json};

    fn with(key: &str, value: Value) -> Value {
        let mut v = basic();
        v["spec"][key] = value;
        v
    }

    #[test]
    fn guide_node_affinity_is_accepted() {
        let v = with(
            "affinity",
            json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "disktype", "operator": "In", "values": ["ssd"]}]}]}}}),
        );
        assert_ok(&create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            v,
            &cluster(),
        ));
    }

    #[test]
    fn guide_anti_affinity_is_accepted() {
        let v = with(
            "affinity",
            json!({"virtualMachineAndPodAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"server": "database"}}, "topologyKey": "kubernetes.io/hostname"}]}}),
        );
        assert_ok(&create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            v,
            &cluster(),
        ));
    }

    #[test]
    fn in_operator_without_values_is_rejected() {
        let v = with(
            "affinity",
            json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "disktype", "operator": "In"}]}]}}}),
        );
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster()),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
            "at least one value",
        );
    }

    #[test]
    fn affinity_term_needs_a_topology_key() {
        let v = with(
            "affinity",
            json!({"virtualMachineAndPodAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"server": "database"}}, "topologyKey": ""}]}}),
        );
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster()),
            "spec.affinity.virtualMachineAndPodAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
            "Required",
        );
    }

    #[test]
    fn preferred_affinity_weight_out_of_range_is_rejected() {
        let v = with(
            "affinity",
            json!({"virtualMachineAndPodAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 0, "virtualMachineAndPodAffinityTerm": {"topologyKey": "kubernetes.io/hostname"}}]}}),
        );
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster()),
            "spec.affinity.virtualMachineAndPodAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
            "between 1 and 100",
        );
    }

    #[test]
    fn topology_spread_needs_positive_skew_and_known_policy() {
        let v = with(
            "topologySpreadConstraints",
            json!([{"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "Never"}]),
        );
        let r = create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster());
        assert_error(
            &r,
            "spec.topologySpreadConstraints[0].maxSkew",
            "greater than zero",
        );
        assert_error(
            &r,
            "spec.topologySpreadConstraints[0].whenUnsatisfiable",
            "supported values",
        );
    }

    #[test]
    fn valid_topology_spread_is_accepted() {
        let v = with(
            "topologySpreadConstraints",
            json!([{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}]),
        );
        assert_ok(&create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            v,
            &cluster(),
        ));
    }

    #[test]
    fn node_selector_with_bad_key_is_rejected() {
        let v = with("nodeSelector", json!({"bad key": "ssd"}));
        assert_error(
            &create(kind::VIRTUAL_MACHINE, Some("default"), v, &cluster()),
            "spec.nodeSelector",
            "label keys",
        );
    }

    #[test]
    fn guide_node_selector_is_accepted() {
        let v = with(
            "nodeSelector",
            json!({"disktype": "ssd", "node.deckhouse.io/group": "green"}),
        );
        assert_ok(&create(
            kind::VIRTUAL_MACHINE,
            Some("default"),
            v,
            &cluster(),
        ));
    }
}

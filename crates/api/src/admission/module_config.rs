//! `ModuleConfig/virtualization`: validation of the module settings, and the typed settings other
//! validators (and the server) read.

use dvp_apimachinery::FieldError;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::cidr::{Cidr, parse_ipv4};
use super::fields::{array_at, str_at};
use super::names::is_dns1123_subdomain;
use super::quantity::parse_units;
use super::{Ctx, Lookup, Need, Response, kind};
use crate::kinds::module_config::{
    FeatureGate, HttpsMode, LogFormat, LogLevel, VIRTUALIZATION_MODULE, VirtualizationSettings,
};

/// The settings of `ModuleConfig/virtualization`, if it exists and its settings decode.
pub fn module_settings(lookup: &dyn Lookup) -> Option<VirtualizationSettings> {
    let mc = lookup.get(kind::MODULE_CONFIG, None, VIRTUALIZATION_MODULE)?;
    VirtualizationSettings::deserialize(mc.pointer("/spec/settings")?).ok()
}

/// The configured `virtualMachineCIDRs` (empty when none or when the module config is missing).
pub(crate) fn vm_cidrs(settings: Option<&VirtualizationSettings>) -> Vec<Cidr> {
    settings
        .map(|s| {
            s.virtual_machine_cidrs
                .iter()
                .filter_map(|c| Cidr::parse(c).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// What to say when a feature needs `virtualMachineCIDRs`.
pub(crate) const NO_CIDRS: &str = "the virtualization module has no virtualMachineCIDRs configured; add them to \
spec.settings.virtualMachineCIDRs of ModuleConfig virtualization";

pub(crate) fn needs(name: &str, old: Option<&Value>) -> Vec<Need> {
    if name == VIRTUALIZATION_MODULE && old.is_some() {
        // Removing a CIDR that still holds leases is refused.
        vec![Need::List {
            kind: kind::VMIP_LEASE,
            namespace: None,
        }]
    } else {
        Vec::new()
    }
}

const KNOWN_SETTINGS: &[&str] = &[
    "virtualMachineCIDRs",
    "dvcr",
    "virtualImages",
    "virtualDisks",
    "ingressClass",
    "gatewayAPIGateway",
    "https",
    "highAvailability",
    "liveMigration",
    "audit",
    "logLevel",
    "logFormat",
    "featureGates",
];

pub(crate) fn admit(ctx: &Ctx, obj: &mut Value, resp: &mut Response) {
    if ctx.name != VIRTUALIZATION_MODULE {
        return;
    }
    if let Some(v) = obj.pointer("/spec/version")
        && v.as_i64() != Some(1)
    {
        resp.errors.push(FieldError::invalid(
            "spec.version",
            v.clone(),
            "the virtualization module settings schema has only version 1",
        ));
    }
    let Some(settings) = obj.pointer("/spec/settings").and_then(Value::as_object) else {
        resp.errors.push(FieldError::required(
            "spec.settings",
            "the virtualization module needs settings with at least dvcr",
        ));
        return;
    };
    let errs = &mut resp.errors;
    for key in settings.keys() {
        if !KNOWN_SETTINGS.contains(&key.as_str()) {
            errs.push(FieldError::forbidden(
                format!("spec.settings.{key}"),
                format!(
                    "unknown setting; known settings: {}",
                    KNOWN_SETTINGS.join(", ")
                ),
            ));
        }
    }
    let old_settings = ctx.old.and_then(|o| o.pointer("/spec/settings"));
    validate_cidrs(settings, old_settings, ctx.lookup, errs);
    validate_dvcr(settings, old_settings, errs);
    validate_storage_classes(settings, "virtualImages", errs);
    validate_storage_classes(settings, "virtualDisks", errs);
    validate_enum(settings, "logLevel", &LogLevel::strings(), errs);
    validate_enum(settings, "logFormat", &LogFormat::strings(), errs);
    if let Some(mode) = settings.get("https").and_then(|h| h.get("mode")) {
        check_enum(
            mode,
            "spec.settings.https.mode",
            &HttpsMode::strings(),
            errs,
        );
    }
    for (i, gate) in settings
        .get("featureGates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        check_enum(
            gate,
            &format!("spec.settings.featureGates[{i}]"),
            &FeatureGate::strings(),
            errs,
        );
    }
    if let Some(ic) = settings.get("ingressClass").and_then(Value::as_str)
        && !is_dns1123_subdomain(ic)
    {
        errs.push(FieldError::invalid(
            "spec.settings.ingressClass",
            ic,
            "must be a DNS subdomain (lowercase, digits, '-', '.')",
        ));
    }
    if let Some(gw) = settings.get("gatewayAPIGateway") {
        for key in ["name", "namespace"] {
            match gw.get(key).and_then(Value::as_str) {
                Some(v) if is_dns1123_subdomain(v) => {}
                Some(v) => errs.push(FieldError::invalid(
                    format!("spec.settings.gatewayAPIGateway.{key}"),
                    v,
                    "must be a DNS subdomain",
                )),
                None => errs.push(FieldError::required(
                    format!("spec.settings.gatewayAPIGateway.{key}"),
                    "",
                )),
            }
        }
    }
    validate_live_migration(settings, errs);
    if errs.is_empty()
        && let Err(e) = VirtualizationSettings::deserialize(&Value::Object(settings.clone()))
    {
        errs.push(FieldError::new(
            dvp_apimachinery::FieldErrorType::TypeInvalid,
            "spec.settings",
            None,
            format!("settings do not decode: {e}"),
        ));
    }
}

fn check_enum(v: &Value, path: &str, allowed: &[&str], errs: &mut Vec<FieldError>) {
    if !v.as_str().is_some_and(|s| allowed.contains(&s)) {
        errs.push(FieldError::not_supported(path, v.clone(), allowed));
    }
}

fn validate_enum(
    settings: &Map<String, Value>,
    key: &str,
    allowed: &[&str],
    errs: &mut Vec<FieldError>,
) {
    if let Some(v) = settings.get(key) {
        check_enum(v, &format!("spec.settings.{key}"), allowed, errs);
    }
}

fn validate_cidrs(
    settings: &Map<String, Value>,
    old: Option<&Value>,
    lookup: &dyn Lookup,
    errs: &mut Vec<FieldError>,
) {
    let path = "spec.settings.virtualMachineCIDRs";
    let old_list: Vec<&str> = old
        .map(|o| {
            array_at(o, "/virtualMachineCIDRs")
                .iter()
                .filter_map(Value::as_str)
                .collect()
        })
        .unwrap_or_default();
    let Some(list) = settings.get("virtualMachineCIDRs") else {
        if !old_list.is_empty() {
            errs.push(FieldError::forbidden(
                path,
                "virtualMachineCIDRs cannot be removed once set; VM addresses are leased from them",
            ));
        }
        return;
    };
    let Some(list) = list.as_array() else {
        errs.push(FieldError::invalid(
            path,
            list.clone(),
            "must be a list of CIDRs such as 10.66.10.0/24",
        ));
        return;
    };
    if list.is_empty() {
        errs.push(FieldError::invalid(
            path,
            Value::Array(Vec::new()),
            "must have at least 1 item (e.g. 10.66.10.0/24)",
        ));
        return;
    }
    let mut parsed: Vec<(usize, Cidr)> = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let Some(s) = item.as_str() else {
            errs.push(FieldError::invalid(
                p,
                item.clone(),
                "must be a CIDR string",
            ));
            continue;
        };
        match Cidr::parse(s) {
            Err(e) => errs.push(FieldError::invalid(p, s, e)),
            Ok(c) if !c.is_aligned() => errs.push(FieldError::invalid(
                p,
                s,
                format!("the address has host bits set; use {}", c.aligned_string()),
            )),
            Ok(c) => {
                if let Some((j, other)) = parsed.iter().find(|(_, o)| o.overlaps(&c)) {
                    errs.push(FieldError::invalid(
                        p,
                        s,
                        format!(
                            "overlaps {path}[{j}] ({}); CIDRs must not overlap",
                            other.aligned_string()
                        ),
                    ));
                }
                parsed.push((i, c));
            }
        }
    }
    // A removed CIDR must not hold leases.
    let removed: Vec<Cidr> = old_list
        .iter()
        .filter(|o| !list.iter().any(|n| n.as_str() == Some(**o)))
        .filter_map(|o| Cidr::parse(o).ok())
        .collect();
    if removed.is_empty() {
        return;
    }
    for lease in lookup.list(kind::VMIP_LEASE, None) {
        let Some(ip) = str_at(&lease, "/metadata/name").and_then(lease_ip) else {
            continue;
        };
        if let Some(c) = removed.iter().find(|c| c.contains(ip)) {
            errs.push(FieldError::forbidden(
                path,
                format!(
                    "{} cannot be removed: lease {} still holds an address in it; release the address first",
                    c.aligned_string(),
                    str_at(&lease, "/metadata/name").unwrap_or_default()
                ),
            ));
            return;
        }
    }
}

/// The address encoded in a lease name `ip-a-b-c-d`.
pub(crate) fn lease_ip(name: &str) -> Option<u32> {
    parse_ipv4(&name.strip_prefix("ip-")?.replace('-', "."))
}

fn validate_dvcr(settings: &Map<String, Value>, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let base = "spec.settings.dvcr";
    let Some(dvcr) = settings.get("dvcr") else {
        errs.push(FieldError::required(base, "DVCR storage is required, e.g. storage.type: PersistentVolumeClaim with persistentVolumeClaim.size: 50G"));
        return;
    };
    match str_at(dvcr, "/storage/type") {
        Some("PersistentVolumeClaim") => {}
        Some(other) => errs.push(FieldError::not_supported(
            format!("{base}.storage.type"),
            other,
            &["PersistentVolumeClaim"],
        )),
        None => errs.push(FieldError::required(
            format!("{base}.storage.type"),
            "use PersistentVolumeClaim",
        )),
    }
    let size_path = format!("{base}.storage.persistentVolumeClaim.size");
    let size = dvcr.pointer("/storage/persistentVolumeClaim/size");
    let size_bytes = match size.and_then(Value::as_str) {
        None => {
            errs.push(FieldError::required(
                &size_path,
                "the DVCR volume needs a size, e.g. 50G",
            ));
            None
        }
        Some(s) => match parse_units(s) {
            Some(b) if b > 0 => Some(b),
            _ => {
                errs.push(FieldError::invalid(
                    &size_path,
                    s,
                    "must be a positive quantity such as 50G",
                ));
                None
            }
        },
    };
    if let Some(old) = old.and_then(|o| o.get("dvcr")) {
        let old_size = str_at(old, "/storage/persistentVolumeClaim/size").and_then(parse_units);
        if let (Some(old_size), Some(new_size)) = (old_size, size_bytes)
            && new_size < old_size
        {
            errs.push(FieldError::invalid(
                &size_path,
                size.cloned().unwrap_or_default(),
                format!(
                    "the DVCR volume cannot shrink (currently {}); keep or increase the size",
                    str_at(old, "/storage/persistentVolumeClaim/size").unwrap_or_default()
                ),
            ));
        }
        let old_sc = str_at(old, "/storage/persistentVolumeClaim/storageClassName");
        let new_sc = str_at(dvcr, "/storage/persistentVolumeClaim/storageClassName");
        if old_sc.is_some() && old_sc != new_sc {
            errs.push(FieldError::forbidden(
                format!("{base}.storage.persistentVolumeClaim.storageClassName"),
                format!(
                    "the DVCR StorageClass cannot change once set (currently {:?})",
                    old_sc.unwrap_or_default()
                ),
            ));
        }
    }
    if let Some(schedule) = dvcr.pointer("/gc/schedule") {
        let ok = schedule
            .as_str()
            .is_some_and(|s| s.split_whitespace().count() == 5);
        if !ok {
            errs.push(FieldError::invalid(
                format!("{base}.gc.schedule"),
                schedule.clone(),
                "must be a cron schedule with 5 fields, e.g. \"0 2 * * *\"",
            ));
        }
    }
}

fn validate_storage_classes(settings: &Map<String, Value>, key: &str, errs: &mut Vec<FieldError>) {
    let Some(block) = settings.get(key) else {
        return;
    };
    let Some(selector) = block.get("allowedStorageClassSelector") else {
        return;
    };
    let path = format!("spec.settings.{key}.allowedStorageClassSelector");
    let names = selector.get("matchNames").and_then(Value::as_array);
    match names {
        None => errs.push(FieldError::required(
            format!("{path}.matchNames"),
            "list the allowed StorageClass names",
        )),
        Some(list) if list.is_empty() => errs.push(FieldError::invalid(
            format!("{path}.matchNames"),
            Value::Array(Vec::new()),
            "must have at least 1 item",
        )),
        Some(list) => {
            for (i, n) in list.iter().enumerate() {
                if n.as_str().is_none_or(str::is_empty) {
                    errs.push(FieldError::invalid(
                        format!("{path}.matchNames[{i}]"),
                        n.clone(),
                        "must be a non-empty StorageClass name",
                    ));
                }
            }
        }
    }
}

fn validate_live_migration(settings: &Map<String, Value>, errs: &mut Vec<FieldError>) {
    let Some(network) = settings.get("liveMigration").and_then(|l| l.get("network")) else {
        return;
    };
    let path = "spec.settings.liveMigration.network";
    let empty = network.as_object().is_some_and(Map::is_empty);
    if empty {
        return;
    }
    let type_ = network.get("type").and_then(Value::as_str);
    let name = str_at(network, "/systemNetwork/name");
    match (type_, name) {
        (Some("SystemNetwork"), Some(n)) if !n.is_empty() => {}
        (Some("SystemNetwork"), _) => errs.push(FieldError::required(
            format!("{path}.systemNetwork.name"),
            "name the SystemNetwork to migrate over",
        )),
        (Some(other), _) => errs.push(FieldError::not_supported(format!("{path}.type"), other, &["SystemNetwork"])),
        (None, _) => errs.push(FieldError::required(
            format!("{path}.type"),
            "set type: SystemNetwork together with systemNetwork, or leave network empty to use the pod network",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use serde_json::json;

    fn mc(settings: Value) -> Value {
        json!({"apiVersion": "deckhouse.io/v1alpha1", "kind": "ModuleConfig", "metadata": {"name": "virtualization"},
               "spec": {"enabled": true, "version": 1, "settings": settings}})
    }

    fn good() -> Value {
        json!({"virtualMachineCIDRs": ["10.66.10.0/24"],
               "dvcr": {"storage": {"type": "PersistentVolumeClaim", "persistentVolumeClaim": {"size": "50G"}}, "gc": {"schedule": "0 2 * * *"}}})
    }

    #[test]
    fn default_module_config_is_accepted() {
        let r = create(
            kind::MODULE_CONFIG,
            None,
            super::super::default_module_config(),
            &Fake::default(),
        );
        assert_ok(&r);
    }

    #[test]
    fn other_module_configs_are_not_validated() {
        let mut obj = mc(json!({"anything": 1}));
        obj["metadata"]["name"] = json!("sdn");
        let r = create_named(kind::MODULE_CONFIG, None, "sdn", obj, &Fake::default());
        assert_ok(&r);
    }

    #[test]
    fn unaligned_cidr_is_rejected_with_the_aligned_form() {
        let mut s = good();
        s["virtualMachineCIDRs"] = json!(["10.66.10.1/24"]);
        let r = create(kind::MODULE_CONFIG, None, mc(s), &Fake::default());
        assert_error(
            &r,
            "spec.settings.virtualMachineCIDRs[0]",
            "use 10.66.10.0/24",
        );
    }

    #[test]
    fn overlapping_cidrs_are_rejected() {
        let mut s = good();
        s["virtualMachineCIDRs"] = json!(["10.66.0.0/16", "10.66.10.0/24"]);
        let r = create(kind::MODULE_CONFIG, None, mc(s), &Fake::default());
        assert_error(
            &r,
            "spec.settings.virtualMachineCIDRs[1]",
            "must not overlap",
        );
    }

    #[test]
    fn disjoint_cidrs_are_accepted() {
        let mut s = good();
        s["virtualMachineCIDRs"] = json!(["10.66.10.0/24", "10.66.20.0/24"]);
        assert_ok(&create(kind::MODULE_CONFIG, None, mc(s), &Fake::default()));
    }

    #[test]
    fn dvcr_is_required() {
        let r = create(
            kind::MODULE_CONFIG,
            None,
            mc(json!({"virtualMachineCIDRs": ["10.0.0.0/8"]})),
            &Fake::default(),
        );
        assert_error(&r, "spec.settings.dvcr", "DVCR storage is required");
    }

    #[test]
    fn dvcr_needs_a_pvc_size() {
        let mut s = good();
        s["dvcr"]["storage"]["persistentVolumeClaim"] = json!({});
        let r = create(kind::MODULE_CONFIG, None, mc(s), &Fake::default());
        assert_error(
            &r,
            "spec.settings.dvcr.storage.persistentVolumeClaim.size",
            "needs a size",
        );
    }

    #[test]
    fn dvcr_storage_type_must_be_pvc() {
        let mut s = good();
        s["dvcr"]["storage"]["type"] = json!("S3");
        let r = create(kind::MODULE_CONFIG, None, mc(s), &Fake::default());
        assert_error(
            &r,
            "spec.settings.dvcr.storage.type",
            "PersistentVolumeClaim",
        );
    }

    #[test]
    fn dvcr_cannot_shrink() {
        let old = mc(good());
        let mut s = good();
        s["dvcr"]["storage"]["persistentVolumeClaim"]["size"] = json!("10G");
        let r = update(kind::MODULE_CONFIG, None, mc(s), &old, &Fake::default());
        assert_error(
            &r,
            "spec.settings.dvcr.storage.persistentVolumeClaim.size",
            "cannot shrink",
        );
    }

    #[test]
    fn dvcr_can_grow() {
        let old = mc(good());
        let mut s = good();
        s["dvcr"]["storage"]["persistentVolumeClaim"]["size"] = json!("100G");
        assert_ok(&update(
            kind::MODULE_CONFIG,
            None,
            mc(s),
            &old,
            &Fake::default(),
        ));
    }

    #[test]
    fn unknown_log_level_is_rejected() {
        let mut s = good();
        s["logLevel"] = json!("verbose");
        let r = create(kind::MODULE_CONFIG, None, mc(s), &Fake::default());
        assert_error(&r, "spec.settings.logLevel", "supported values");
    }

    #[test]
    fn known_log_level_and_format_are_accepted() {
        let mut s = good();
        s["logLevel"] = json!("debug");
        s["logFormat"] = json!("json");
        assert_ok(&create(kind::MODULE_CONFIG, None, mc(s), &Fake::default()));
    }

    #[test]
    fn storage_class_selector_needs_match_names() {
        let mut s = good();
        s["virtualDisks"] = json!({"allowedStorageClassSelector": {}});
        let r = create(kind::MODULE_CONFIG, None, mc(s), &Fake::default());
        assert_error(
            &r,
            "spec.settings.virtualDisks.allowedStorageClassSelector.matchNames",
            "",
        );
    }

    #[test]
    fn storage_class_selector_with_names_is_accepted() {
        let mut s = good();
        s["virtualImages"] = json!({"defaultStorageClassName": "fast", "allowedStorageClassSelector": {"matchNames": ["fast"]}});
        assert_ok(&create(kind::MODULE_CONFIG, None, mc(s), &Fake::default()));
    }

    #[test]
    fn unknown_setting_is_rejected() {
        let mut s = good();
        s["virtualMachineCIDR"] = json!(["10.0.0.0/8"]);
        let r = create(kind::MODULE_CONFIG, None, mc(s), &Fake::default());
        assert_error(&r, "spec.settings.virtualMachineCIDR", "unknown setting");
    }

    #[test]
    fn cidrs_cannot_be_cleared_once_set() {
        let old = mc(good());
        let mut s = good();
        s.as_object_mut().unwrap().remove("virtualMachineCIDRs");
        let r = update(kind::MODULE_CONFIG, None, mc(s), &old, &Fake::default());
        assert_error(&r, "spec.settings.virtualMachineCIDRs", "cannot be removed");
    }

    #[test]
    fn cidr_holding_a_lease_cannot_be_removed() {
        let mut old_s = good();
        old_s["virtualMachineCIDRs"] = json!(["10.66.10.0/24", "10.66.20.0/24"]);
        let old = mc(old_s);
        let lease =
            json!({"kind": "VirtualMachineIPAddressLease", "metadata": {"name": "ip-10-66-20-5"}});
        let r = update(
            kind::MODULE_CONFIG,
            None,
            mc(good()),
            &old,
            &Fake::with(vec![lease]),
        );
        assert_error(
            &r,
            "spec.settings.virtualMachineCIDRs",
            "10.66.20.0/24 cannot be removed",
        );
    }

    #[test]
    fn unused_cidr_can_be_removed() {
        let mut old_s = good();
        old_s["virtualMachineCIDRs"] = json!(["10.66.10.0/24", "10.66.20.0/24"]);
        let lease =
            json!({"kind": "VirtualMachineIPAddressLease", "metadata": {"name": "ip-10-66-10-5"}});
        assert_ok(&update(
            kind::MODULE_CONFIG,
            None,
            mc(good()),
            &mc(old_s),
            &Fake::with(vec![lease]),
        ));
    }

    #[test]
    fn unknown_feature_gate_is_rejected() {
        let mut s = good();
        s["featureGates"] = json!(["GPU", "Teleport"]);
        let r = create(kind::MODULE_CONFIG, None, mc(s), &Fake::default());
        assert_error(&r, "spec.settings.featureGates[1]", "supported values");
    }

    #[test]
    fn gc_schedule_must_be_cron() {
        let mut s = good();
        s["dvcr"]["gc"]["schedule"] = json!("daily");
        let r = create(kind::MODULE_CONFIG, None, mc(s), &Fake::default());
        assert_error(&r, "spec.settings.dvcr.gc.schedule", "cron");
    }

    #[test]
    fn live_migration_network_needs_type_and_name_together() {
        let mut s = good();
        s["liveMigration"] = json!({"network": {"type": "SystemNetwork"}});
        let r = create(kind::MODULE_CONFIG, None, mc(s), &Fake::default());
        assert_error(
            &r,
            "spec.settings.liveMigration.network.systemNetwork.name",
            "",
        );
    }

    #[test]
    fn module_settings_decodes_the_stored_config() {
        let fake = Fake::with(vec![mc(good())]);
        let s = module_settings(&fake).unwrap();
        assert_eq!(s.virtual_machine_cidrs, vec!["10.66.10.0/24"]);
        assert_eq!(s.dvcr.unwrap().gc_schedule(), "0 2 * * *");
    }

    #[test]
    fn module_settings_is_none_without_a_config() {
        assert!(module_settings(&Fake::default()).is_none());
    }

    #[test]
    fn lease_names_decode_to_addresses() {
        assert_eq!(lease_ip("ip-10-66-10-14"), parse_ipv4("10.66.10.14"));
        assert_eq!(lease_ip("mac-aa"), None);
    }
}

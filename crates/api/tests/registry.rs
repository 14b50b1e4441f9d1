//! The kind registry: every schema is structural, every printer column resolves, the CRDs render.

use dvp_api::registry::{self, KindDef, kinds};
use dvp_api::schema::structural_violations;
use serde_json::{Value, json};

fn kind(name: &str) -> &'static KindDef {
    kinds()
        .iter()
        .find(|k| k.kind == name)
        .unwrap_or_else(|| panic!("kind {name} registered"))
}

#[test]
fn every_version_schema_is_structural() {
    for def in kinds() {
        for v in &def.versions {
            let problems = structural_violations(&v.schema);
            assert!(
                problems.is_empty(),
                "{} {}: {problems:#?}",
                def.kind,
                v.name
            );
        }
    }
}

#[test]
fn every_version_schema_describes_the_whole_object() {
    for def in kinds() {
        for v in &def.versions {
            let props = &v.schema["properties"];
            for key in ["apiVersion", "kind", "metadata"] {
                assert!(
                    props.get(key).is_some(),
                    "{} {} lacks {key}",
                    def.kind,
                    v.name
                );
            }
            assert_eq!(
                props["metadata"],
                json!({"type": "object", "description": props["metadata"]["description"]})
            );
        }
    }
}

/// Split a printer-column JSONPath into steps: a field name, optionally followed by a filter.
fn steps(path: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut name = String::new();
    let mut chars = path.trim_start_matches('.').chars().peekable();
    let mut filter = None;
    while let Some(c) = chars.next() {
        match c {
            '\\' => name.push(chars.next().expect("escaped char")),
            '.' => {
                out.push((std::mem::take(&mut name), filter.take()));
            }
            '[' => {
                let mut f = String::new();
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    f.push(c);
                }
                filter = Some(f);
            }
            c => name.push(c),
        }
    }
    out.push((name, filter));
    out
}

/// Whether a printer column path names something the schema can hold.
fn resolves(schema: &Value, path: &str) -> Result<(), String> {
    let mut node = schema;
    for (name, filter) in steps(path) {
        // Opaque objects (metadata, preserve-unknown) accept any sub-path.
        let props = node.get("properties");
        if props.is_none() && node.get("additionalProperties").is_none() {
            if node.get("type") == Some(&json!("object"))
                || node.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true))
            {
                return Ok(());
            }
            return Err(format!("cannot descend into {name:?}: not an object"));
        }
        node = match props.and_then(|p| p.get(&name)) {
            Some(n) => n,
            None => node
                .get("additionalProperties")
                .ok_or_else(|| format!("no field {name:?}"))?,
        };
        if let Some(f) = filter {
            let items = node
                .get("items")
                .ok_or_else(|| format!("{name:?} is filtered but not an array"))?;
            // `?(@.field==value)`: the filtered field must exist in the items.
            let field = f
                .trim_start_matches("?(@.")
                .split(['=', '!'])
                .next()
                .unwrap_or_default()
                .to_string();
            if items["properties"].get(&field).is_none() {
                return Err(format!("filter field {field:?} not in items of {name:?}"));
            }
            node = items;
        }
    }
    Ok(())
}

#[test]
fn every_printer_column_path_exists_in_the_schema() {
    for def in kinds() {
        for v in &def.versions {
            for c in &v.printer_columns {
                resolves(&v.schema, &c.json_path).unwrap_or_else(|e| {
                    panic!(
                        "{} {} column {:?} ({}): {e}",
                        def.kind, v.name, c.name, c.json_path
                    )
                });
            }
        }
    }
}

#[test]
fn path_walker_rejects_unknown_paths() {
    let schema = &kind("VirtualMachine").versions[0].schema;
    assert!(resolves(schema, ".status.nosuch").is_err());
    assert!(resolves(schema, ".status.conditions[?(@.nosuch=='x')].status").is_err());
    assert!(resolves(schema, ".metadata.annotations.a\\.b").is_ok());
}

#[test]
fn every_version_has_an_explicit_age_column_last() {
    for def in kinds() {
        for v in &def.versions {
            let last = v.printer_columns.last().expect("columns");
            assert_eq!(
                (last.name.as_str(), last.type_.as_str()),
                ("Age", "date"),
                "{}",
                def.kind
            );
            assert_eq!(last.json_path, ".metadata.creationTimestamp");
        }
    }
}

fn headers(def: &KindDef, wide: bool) -> Vec<String> {
    let mut h = vec!["NAME".to_string()];
    h.extend(
        def.preferred_version()
            .printer_columns
            .iter()
            .filter(|c| wide || c.priority == 0)
            .map(|c| c.name.to_uppercase()),
    );
    h
}

#[test]
fn vm_headers_match_the_guide() {
    let vm = kind("VirtualMachine");
    assert_eq!(
        headers(vm, false).join(" "),
        "NAME PHASE NODE IPADDRESS AGE"
    );
    assert_eq!(
        headers(vm, true).join(" "),
        "NAME PHASE CORES COREFRACTION MEMORY NEED RESTART AGENT MIGRATABLE NODE IPADDRESS AGE"
    );
}

#[test]
fn image_headers_match_the_guide() {
    for k in ["VirtualImage", "ClusterVirtualImage"] {
        let def = kind(k);
        assert_eq!(
            headers(def, false).join(" "),
            "NAME PHASE CDROM PROGRESS AGE"
        );
        assert_eq!(
            headers(def, true).join(" "),
            "NAME PHASE CDROM PROGRESS STOREDSIZE UNPACKEDSIZE REGISTRY URL AGE"
        );
    }
}

#[test]
fn other_default_headers_match_the_guide() {
    let cases = [
        ("VirtualDisk", "NAME PHASE CAPACITY AGE"),
        (
            "VirtualMachineOperation",
            "NAME PHASE TYPE VIRTUALMACHINE AGE",
        ),
        (
            "VirtualMachineBlockDeviceAttachment",
            "NAME PHASE VIRTUAL MACHINE NAME AGE",
        ),
        ("VirtualMachineIPAddress", "NAME ADDRESS STATUS VM AGE"),
        (
            "VirtualMachineIPAddressLease",
            "NAME VIRTUALMACHINEIPADDRESS STATUS AGE",
        ),
        ("VirtualMachineMACAddress", "NAME ADDRESS STATUS VM AGE"),
        (
            "VirtualMachineMACAddressLease",
            "NAME VIRTUALMACHINEMACADDRESS STATUS AGE",
        ),
        ("VirtualDiskSnapshot", "NAME PHASE CONSISTENT AGE"),
        ("VirtualMachineSnapshot", "NAME PHASE CONSISTENT AGE"),
        ("VirtualMachineClass", "NAME PHASE ISDEFAULT AGE"),
        (
            "VirtualMachineSnapshotOperation",
            "NAME PHASE TYPE VIRTUALMACHINESNAPSHOT AGE",
        ),
        ("ModuleConfig", "NAME ENABLED VERSION AGE"),
        ("VolumeSnapshotClass", "NAME DRIVER DELETIONPOLICY AGE"),
        (
            "VolumeSnapshot",
            "NAME READYTOUSE SOURCEPVC SOURCESNAPSHOTCONTENT RESTORESIZE SNAPSHOTCLASS SNAPSHOTCONTENT CREATIONTIME AGE",
        ),
    ];
    for (k, want) in cases {
        assert_eq!(headers(kind(k), false).join(" "), want, "{k}");
    }
}

#[test]
fn names_scope_and_categories_follow_the_reference() {
    let vm = kind("VirtualMachine");
    assert_eq!(
        (vm.plural, vm.singular, vm.short_names),
        ("virtualmachines", "virtualmachine", &["vm"][..])
    );
    assert_eq!(vm.categories, &["all", "virtualization"]);
    for k in [
        "ClusterVirtualImage",
        "VirtualMachineClass",
        "VirtualMachineIPAddressLease",
        "VirtualMachineMACAddressLease",
    ] {
        assert!(!kind(k).namespaced, "{k} is cluster-scoped");
        assert_eq!(kind(k).categories, &["virtualization-cluster"], "{k}");
    }
    assert_eq!(
        kind("VirtualDiskSnapshot").short_names,
        &["vdsnapshot", "vds"]
    );
    assert_eq!(kind("VirtualMachineClass").short_names, &["vmc", "vmclass"]);
    assert_eq!(kind("ModuleConfig").group, "deckhouse.io");
    assert_eq!(kind("ModuleConfig").short_names, &["mc"]);
    assert_eq!(kind("VolumeSnapshot").group, "snapshot.storage.k8s.io");
}

#[test]
fn vmclass_serves_v1alpha3_first_and_stores_v1alpha2() {
    let def = kind("VirtualMachineClass");
    let names: Vec<_> = def.versions.iter().map(|v| v.name).collect();
    assert_eq!(names, ["v1alpha3", "v1alpha2"]);
    assert_eq!(def.storage_version().name, "v1alpha2");
    assert!(
        def.versions[1]
            .deprecation_warning
            .unwrap()
            .contains("use v1alpha3")
    );
}

#[test]
fn list_kind_appends_list() {
    assert_eq!(kind("VirtualDisk").list_kind(), "VirtualDiskList");
}

#[test]
fn vmclass_crd_has_labels_deprecation_and_webhook_conversion() {
    let crd = registry::crd(kind("VirtualMachineClass"));
    assert_eq!(
        crd["metadata"]["name"],
        "virtualmachineclasses.virtualization.deckhouse.io"
    );
    assert_eq!(crd["metadata"]["labels"]["heritage"], "deckhouse");
    assert_eq!(crd["metadata"]["labels"]["module"], "virtualization");
    assert_eq!(
        crd["metadata"]["labels"]["backup.deckhouse.io/cluster-config"],
        "true"
    );
    assert_eq!(crd["spec"]["scope"], "Cluster");
    assert_eq!(crd["spec"]["conversion"]["strategy"], "Webhook");
    assert_eq!(
        crd["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["path"],
        "/convert"
    );
    let v2 = &crd["spec"]["versions"][1];
    assert_eq!(v2["name"], "v1alpha2");
    assert_eq!(v2["deprecated"], true);
    assert_eq!(v2["storage"], true);
    assert_eq!(v2["subresources"], json!({"status": {}}));
}

#[test]
fn vm_crd_has_no_backup_label_and_no_conversion() {
    let crd = registry::crd(kind("VirtualMachine"));
    assert!(
        crd["metadata"]["labels"]
            .get("backup.deckhouse.io/cluster-config")
            .is_none()
    );
    assert!(crd["spec"].get("conversion").is_none());
    assert_eq!(crd["spec"]["names"]["listKind"], "VirtualMachineList");
}

#[test]
fn crds_yaml_parses_back_into_one_crd_per_kind() {
    let yaml = registry::crds_yaml();
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&yaml)
        .map(|d| serde::Deserialize::deserialize(d).expect("a YAML document"))
        .collect();
    assert_eq!(docs.len(), kinds().len());
    for d in &docs {
        assert_eq!(d["kind"], "CustomResourceDefinition");
        assert_eq!(d["apiVersion"], "apiextensions.k8s.io/v1");
    }
}

#[test]
fn registry_convert_is_identity_except_vmclass() {
    let vd = kind("VirtualDisk");
    let obj = json!({"apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualDisk", "spec": {}});
    assert_eq!(registry::convert(vd, obj.clone(), "v1alpha2").unwrap(), obj);
    assert!(registry::convert(vd, obj, "v1alpha3").is_err());

    let class = json!({"apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualMachineClass",
        "spec": {"cpu": {"type": "Host"}, "sizingPolicies": [{"cores": {"min": 1, "max": 4}, "coreFractions": [10, 100]}]}});
    let v3 = registry::convert(kind("VirtualMachineClass"), class, "v1alpha3").unwrap();
    assert_eq!(v3["apiVersion"], "virtualization.deckhouse.io/v1alpha3");
    assert_eq!(
        v3["spec"]["sizingPolicies"][0]["coreFractions"],
        json!(["10%", "100%"])
    );
}

#[test]
fn schema_defaults_of_the_reference_are_present() {
    let spec =
        |k: &str| kind(k).storage_version().schema["properties"]["spec"]["properties"].clone();
    let vm = spec("VirtualMachine");
    assert_eq!(vm["runPolicy"]["default"], "AlwaysOnUnlessStoppedManually");
    assert_eq!(
        vm["disruptions"]["default"],
        json!({"restartApprovalMode": "Manual"})
    );
    assert_eq!(vm["terminationGracePeriodSeconds"]["default"], 60);
    assert_eq!(vm["enableParavirtualization"]["default"], true);
    assert_eq!(vm["osType"]["default"], "Generic");
    assert_eq!(vm["bootloader"]["default"], "BIOS");
    assert_eq!(vm["liveMigrationPolicy"]["default"], "PreferSafe");
    assert_eq!(vm["blockDeviceRefs"]["minItems"], 1);
    assert_eq!(vm["blockDeviceRefs"]["maxItems"], 16);
    assert_eq!(
        vm["cpu"]["properties"]["coreFraction"]["pattern"],
        "^(Auto|(100|[1-9][0-9]?)%)$"
    );
    assert_eq!(
        spec("VirtualImage")["storage"]["default"],
        "ContainerRegistry"
    );
    assert_eq!(
        spec("VirtualDiskSnapshot")["requiredConsistency"]["default"],
        true
    );
    let vms = spec("VirtualMachineSnapshot");
    assert_eq!(vms["requiredConsistency"]["default"], true);
    assert_eq!(vms["keepIPAddress"]["default"], "Always");
    let sha256 = &spec("VirtualDisk")["dataSource"]["properties"]["http"]["properties"]["checksum"]
        ["properties"]["sha256"];
    assert_eq!(
        (sha256["minLength"].as_i64(), sha256["maxLength"].as_i64()),
        (Some(64), Some(64))
    );
}

#[test]
fn preserve_unknown_and_int_or_string_markers_are_set() {
    let vm = &kind("VirtualMachine").storage_version().schema;
    assert_eq!(
        vm["properties"]["status"]["properties"]["guestOSInfo"]["x-kubernetes-preserve-unknown-fields"],
        true
    );
    let mc = &kind("ModuleConfig").storage_version().schema;
    assert_eq!(
        mc["properties"]["spec"]["properties"]["settings"]["x-kubernetes-preserve-unknown-fields"],
        true
    );
    let class = &kind("VirtualMachineClass").storage_version().schema;
    let dcf = &class["properties"]["spec"]["properties"]["sizingPolicies"]["items"]["properties"]["defaultCoreFraction"];
    assert_eq!(dcf["x-kubernetes-int-or-string"], true);
}

#[test]
fn enum_descriptions_list_the_values() {
    let vm = &kind("VirtualMachine").storage_version().schema;
    let run_policy = vm["properties"]["spec"]["properties"]["runPolicy"]["description"]
        .as_str()
        .unwrap();
    assert!(
        run_policy.contains("* `AlwaysOnUnlessStoppedManually`:"),
        "{run_policy}"
    );
}

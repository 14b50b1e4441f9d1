//! The guide's manifests applied verbatim with the real kubectl, and the read-side commands of the
//! guide (get in every format, describe, events, api-resources, explain), asserted on kubectl's output.

mod common;

use common::*;
use serde_json::Value;

const VM: &str = "virtualmachine.virtualization.deckhouse.io";
const VI: &str = "virtualimage.virtualization.deckhouse.io";
const VD: &str = "virtualdisk.virtualization.deckhouse.io";
const VMOP: &str = "virtualmachineoperation.virtualization.deckhouse.io";

/// The sorted `-o name` output of a get.
fn names(p: &Platform, args: &[&str]) -> Vec<String> {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "name"]);
    let mut v: Vec<String> = p
        .kubectl(&all)
        .expect_ok()
        .stdout
        .lines()
        .map(String::from)
        .collect();
    v.sort();
    v
}

fn vm_names(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|n| format!("{VM}/{n}")).collect();
    v.sort();
    v
}

fn namespace(p: &Platform, name: &str) {
    p.apply(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n"
    ))
    .expect_ok();
}

/// A quick-start VM with another name and the given labels.
fn labelled_vm(p: &Platform, name: &str, labels: &[(&str, &str)]) {
    let mut m = quick_start_vm_named(name);
    if !labels.is_empty() {
        let mut block = String::from("  labels:\n");
        for (k, v) in labels {
            block.push_str(&format!("    {k}: \"{v}\"\n"));
        }
        m = m.replacen("metadata:\n", &format!("metadata:\n{block}"), 1);
    }
    p.apply(&m).expect_ok();
}

#[test]
fn quick_start_manifests_apply_verbatim_and_report_created() {
    let p = Platform::start();
    let vi = p
        .apply(&guide_manifest(guide_lines::QUICKSTART_VI))
        .expect_ok();
    assert_eq!(vi.stdout, format!("{VI}/ubuntu created\n"));
    let vd = p
        .apply(&guide_manifest(guide_lines::QUICKSTART_VD))
        .expect_ok();
    assert_eq!(vd.stdout, format!("{VD}/linux-disk created\n"));
    let vm = p
        .apply(&guide_manifest(guide_lines::QUICKSTART_VM))
        .expect_ok();
    assert_eq!(vm.stdout, format!("{VM}/linux-vm created\n"));
}

#[test]
fn get_vi_vd_vm_prints_one_table_per_kind_with_group_prefixed_names() {
    let p = Platform::start();
    p.apply_quick_start();
    let out = p.kubectl(&["get", "vi,vd,vm"]).expect_ok().stdout;
    let blocks: Vec<&str> = out.split("\n\n").filter(|b| !b.trim().is_empty()).collect();
    assert_eq!(
        blocks.len(),
        3,
        "three blocks separated by blank lines expected:\n{out}"
    );
    assert_eq!(
        header_line(blocks[0]),
        "NAME PHASE CDROM PROGRESS AGE",
        "{out}"
    );
    assert_eq!(header_line(blocks[1]), "NAME PHASE CAPACITY AGE", "{out}");
    assert_eq!(
        header_line(blocks[2]),
        "NAME PHASE NODE IPADDRESS AGE",
        "{out}"
    );
    assert!(
        blocks[0]
            .lines()
            .nth(1)
            .unwrap()
            .starts_with(&format!("{VI}/ubuntu ")),
        "{out}"
    );
    assert!(
        blocks[1]
            .lines()
            .nth(1)
            .unwrap()
            .starts_with(&format!("{VD}/linux-disk ")),
        "{out}"
    );
    assert!(
        blocks[2]
            .lines()
            .nth(1)
            .unwrap()
            .starts_with(&format!("{VM}/linux-vm ")),
        "{out}"
    );
}

#[test]
fn get_vm_shows_a_server_rendered_age() {
    let p = Platform::start();
    p.apply_quick_start();
    let out = p.kubectl(&["get", "vm", "linux-vm"]).expect_ok().stdout;
    let age = cell(&out, "linux-vm", "AGE").expect("AGE cell");
    assert!(
        age.ends_with('s') && age.trim_end_matches('s').parse::<u32>().is_ok(),
        "AGE must be a human duration such as `3s`, got {age:?}:\n{out}"
    );
}

#[test]
fn get_vm_wide_header_is_exactly_the_guides() {
    let p = Platform::start();
    p.apply_quick_start();
    let out = p.kubectl(&["get", "vm", "-o", "wide"]).expect_ok().stdout;
    assert_eq!(
        header_line(&out),
        "NAME PHASE CORES COREFRACTION MEMORY NEED RESTART AGENT MIGRATABLE NODE IPADDRESS AGE",
        "{out}"
    );
    assert!(
        out.lines().nth(1).unwrap().starts_with("linux-vm "),
        "{out}"
    );
}

#[test]
fn get_vi_wide_header_is_exactly_the_guides() {
    let p = Platform::start();
    p.apply(&guide_manifest(guide_lines::QUICKSTART_VI))
        .expect_ok();
    let out = p.kubectl(&["get", "vi", "-o", "wide"]).expect_ok().stdout;
    assert_eq!(
        header_line(&out),
        "NAME PHASE CDROM PROGRESS STOREDSIZE UNPACKEDSIZE REGISTRY URL AGE",
        "{out}"
    );
}

#[test]
fn wide_columns_show_status_values_written_through_the_status_subresource() {
    let p = Platform::start_without_vm_controllers();
    p.apply_quick_start();
    let status = r#"{"status":{"phase":"Running","nodeName":"node-1","ipAddress":"10.66.10.2",
        "resources":{"cpu":{"cores":1,"coreFraction":"100%"},"memory":{"size":"1Gi"}},
        "conditions":[{"type":"AgentReady","status":"True","reason":"AgentReady","message":"","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}"#;
    p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        status,
    ])
    .expect_ok();
    let out = p.kubectl(&["get", "vm", "-o", "wide"]).expect_ok().stdout;
    for (col, want) in [
        ("PHASE", "Running"),
        ("CORES", "1"),
        ("COREFRACTION", "100%"),
        ("MEMORY", "1Gi"),
        ("AGENT", "True"),
        ("NODE", "node-1"),
        ("IPADDRESS", "10.66.10.2"),
    ] {
        assert_eq!(
            cell(&out, "linux-vm", col).as_deref(),
            Some(want),
            "column {col}:\n{out}"
        );
    }
}

#[test]
fn get_vm_all_namespaces_adds_a_namespace_column() {
    let p = Platform::start();
    namespace(&p, "proj");
    p.apply(&quick_start_vm_named("vm-a")).expect_ok();
    p.kubectl_stdin(
        &["apply", "-n", "proj", "-f", "-"],
        &quick_start_vm_named("vm-b"),
    )
    .expect_ok();
    let out = p.kubectl(&["get", "vm", "-A"]).expect_ok().stdout;
    assert_eq!(
        header_line(&out),
        "NAMESPACE NAME PHASE NODE IPADDRESS AGE",
        "{out}"
    );
    assert_eq!(
        cell(&out, "default", "NAME").as_deref(),
        Some("vm-a"),
        "{out}"
    );
    assert_eq!(cell(&out, "proj", "NAME").as_deref(), Some("vm-b"), "{out}");
    let only_default = p.kubectl(&["get", "vm"]).expect_ok().stdout;
    assert!(
        only_default.contains("vm-a") && !only_default.contains("vm-b"),
        "{only_default}"
    );
}

#[test]
fn show_labels_and_label_columns_come_from_the_objects() {
    let p = Platform::start();
    labelled_vm(&p, "web", &[("app", "nginx"), ("tier", "front")]);
    labelled_vm(&p, "bare", &[]);
    let out = p
        .kubectl(&["get", "vm", "--show-labels"])
        .expect_ok()
        .stdout;
    assert_eq!(
        header_line(&out),
        "NAME PHASE NODE IPADDRESS AGE LABELS",
        "{out}"
    );
    assert_eq!(
        cell(&out, "web", "LABELS").as_deref(),
        Some("app=nginx,tier=front"),
        "{out}"
    );
    assert_eq!(
        cell(&out, "bare", "LABELS").as_deref(),
        Some("<none>"),
        "{out}"
    );
    let out = p
        .kubectl(&["get", "vm", "-L", "app", "-L", "tier"])
        .expect_ok()
        .stdout;
    assert_eq!(
        header_line(&out),
        "NAME PHASE NODE IPADDRESS AGE APP TIER",
        "{out}"
    );
    assert_eq!(cell(&out, "web", "APP").as_deref(), Some("nginx"), "{out}");
    assert_eq!(cell(&out, "web", "TIER").as_deref(), Some("front"), "{out}");
}

#[test]
fn sort_by_orders_rows_by_a_spec_field() {
    let p = Platform::start();
    for (name, cores) in [("vm-four", 4), ("vm-one", 1), ("vm-two", 2)] {
        p.apply(&quick_start_vm_named(name).replace("cores: 1", &format!("cores: {cores}")))
            .expect_ok();
    }
    let out = p
        .kubectl(&["get", "vm", "--sort-by=.spec.cpu.cores"])
        .expect_ok()
        .stdout;
    let order: Vec<&str> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        order,
        ["vm-one", "vm-two", "vm-four"],
        "--sort-by needs full objects in the Table:\n{out}"
    );
    let out = p
        .kubectl(&["get", "vm", "--sort-by=.metadata.name", "-o", "name"])
        .expect_ok()
        .stdout;
    assert_eq!(out, format!("{VM}/vm-four\n{VM}/vm-one\n{VM}/vm-two\n"));
}

#[test]
fn label_selectors_support_the_full_grammar() {
    let p = Platform::start();
    labelled_vm(&p, "web", &[("app", "nginx"), ("tier", "front")]);
    labelled_vm(&p, "canary", &[("app", "nginx"), ("canary", "true")]);
    labelled_vm(&p, "db", &[("app", "postgres")]);
    labelled_vm(&p, "bare", &[]);
    let cases: [(&str, &[&str]); 9] = [
        ("app=nginx", &["web", "canary"]),
        ("app==nginx,tier=front", &["web"]),
        ("app!=nginx", &["db", "bare"]),
        ("app in (nginx,postgres)", &["web", "canary", "db"]),
        ("app notin (nginx)", &["db", "bare"]),
        ("canary", &["canary"]),
        ("!canary", &["web", "db", "bare"]),
        ("app,!canary", &["web", "db"]),
        ("app in (nginx),!tier", &["canary"]),
    ];
    for (sel, want) in cases {
        assert_eq!(
            names(&p, &["vm", "-l", sel]),
            vm_names(want),
            "selector {sel:?}"
        );
    }
}

#[test]
fn an_empty_selection_says_no_resources_found_on_stderr() {
    let p = Platform::start();
    labelled_vm(&p, "web", &[("app", "nginx")]);
    let r = p.kubectl(&["get", "vm", "-l", "app=none"]).expect_ok();
    assert_eq!(r.stdout, "");
    assert_eq!(r.stderr.trim(), "No resources found in default namespace.");
}

#[test]
fn field_selectors_filter_by_name_and_namespace() {
    let p = Platform::start();
    namespace(&p, "proj");
    labelled_vm(&p, "web", &[]);
    labelled_vm(&p, "db", &[]);
    p.kubectl_stdin(
        &["apply", "-n", "proj", "-f", "-"],
        &quick_start_vm_named("other"),
    )
    .expect_ok();
    assert_eq!(
        names(&p, &["vm", "--field-selector", "metadata.name=web"]),
        vm_names(&["web"])
    );
    assert_eq!(
        names(&p, &["vm", "--field-selector", "metadata.name!=web"]),
        vm_names(&["db"])
    );
    assert_eq!(
        names(
            &p,
            &["vm", "-A", "--field-selector", "metadata.namespace=proj"]
        ),
        vm_names(&["other"])
    );
    let bad = p
        .kubectl(&["get", "vm", "--field-selector", "spec.cpu.cores=1"])
        .expect_err();
    assert!(
        bad.stderr.contains("BadRequest")
            && bad
                .stderr
                .contains("field label not supported: spec.cpu.cores"),
        "an unsupported field label is a 400 naming it: {}",
        bad.stderr
    );
}

#[test]
fn output_json_carries_kind_api_version_and_metadata() {
    let p = Platform::start();
    p.apply_quick_start();
    let vm = p.get_json(&["vm", "linux-vm"]);
    assert_eq!(vm["apiVersion"], "virtualization.deckhouse.io/v1alpha2");
    assert_eq!(vm["kind"], "VirtualMachine");
    assert_eq!(vm["metadata"]["name"], "linux-vm");
    assert_eq!(vm["metadata"]["namespace"], "default");
    assert_eq!(vm["metadata"]["generation"], 1);
    for f in ["uid", "resourceVersion", "creationTimestamp"] {
        assert!(vm["metadata"][f].is_string(), "metadata.{f} missing: {vm}");
    }
    assert_eq!(vm["spec"]["cpu"]["cores"], 1);
    assert_eq!(vm["spec"]["virtualMachineClassName"], "generic");
    let list = p.get_json(&["vm"]);
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["items"][0]["kind"], "VirtualMachine");
}

#[test]
fn output_yaml_round_trips_the_manifest() {
    let p = Platform::start();
    p.apply_quick_start();
    let out = p
        .kubectl(&["get", "vm", "linux-vm", "-o", "yaml"])
        .expect_ok()
        .stdout;
    for line in [
        "apiVersion: virtualization.deckhouse.io/v1alpha2",
        "kind: VirtualMachine",
        "  name: linux-vm",
        "  virtualMachineClassName: generic",
        "    cores: 1",
        "      #cloud-config",
        "  - kind: VirtualDisk",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "missing line {line:?} in:\n{out}"
        );
    }
}

#[test]
fn output_jsonpath_prints_single_fields_and_defaults() {
    let p = Platform::start();
    p.apply_quick_start();
    assert_eq!(p.jsonpath("vm", "linux-vm", "{.spec.cpu.cores}"), "1");
    assert_eq!(
        p.jsonpath("vm", "linux-vm", "{.spec.cpu.coreFraction}"),
        "100%",
        "coreFraction defaults to 100%"
    );
    assert_eq!(
        p.jsonpath("vm", "linux-vm", "{.spec.runPolicy}"),
        "AlwaysOnUnlessStoppedManually"
    );
    assert_eq!(
        p.jsonpath("vd", "linux-disk", "{.spec.dataSource.objectRef.name}"),
        "ubuntu"
    );
    let out = p
        .kubectl(&[
            "get",
            "vi,vd,vm",
            "-o",
            "jsonpath={range .items[*]}{.kind}/{.metadata.name}{\"\\n\"}{end}",
        ])
        .expect_ok()
        .stdout;
    assert_eq!(
        out,
        "VirtualImage/ubuntu\nVirtualDisk/linux-disk\nVirtualMachine/linux-vm\n"
    );
}

#[test]
fn output_name_and_custom_columns() {
    let p = Platform::start();
    p.apply_quick_start();
    assert_eq!(
        p.kubectl(&["get", "vm", "-o", "name"]).expect_ok().stdout,
        format!("{VM}/linux-vm\n")
    );
    let out = p
        .kubectl(&["get", "vm", "-o", "custom-columns=NAME:.metadata.name,CORES:.spec.cpu.cores,CLASS:.spec.virtualMachineClassName"])
        .expect_ok()
        .stdout;
    assert_eq!(header_line(&out), "NAME CORES CLASS");
    assert_eq!(cell(&out, "linux-vm", "CLASS").as_deref(), Some("generic"));
}

#[test]
fn vm_from_the_guide_keeps_cloud_init_and_core_fraction() {
    let p = Platform::start();
    let out = p
        .apply(&guide_manifest(guide_lines::VM_WITH_COREFRACTION))
        .expect_ok()
        .stdout;
    assert_eq!(out, format!("{VM}/linux-vm created\n"));
    assert_eq!(
        p.jsonpath("vm", "linux-vm", "{.spec.cpu.coreFraction}"),
        "10%"
    );
    let user_data = p.jsonpath("vm", "linux-vm", "{.spec.provisioning.userData}");
    assert!(
        user_data.starts_with("#cloud-config\npackage_update: true\n"),
        "{user_data}"
    );
    assert!(
        user_data.contains("final_message: \"The system is finally up, after $UPTIME seconds\""),
        "{user_data}"
    );
}

#[test]
fn disks_from_the_guide_apply_with_their_sizes() {
    let p = Platform::start();
    p.apply(&guide_manifest(guide_lines::BLANK_DISK))
        .expect_ok();
    p.apply(&guide_manifest(guide_lines::DISK_FROM_IMAGE))
        .expect_ok();
    assert_eq!(
        p.jsonpath("vd", "blank-disk", "{.spec.persistentVolumeClaim.size}"),
        "100Mi"
    );
    assert_eq!(
        p.jsonpath("vd", "linux-vm-root", "{.spec.persistentVolumeClaim.size}"),
        "10Gi"
    );
    let out = p.kubectl(&["get", "vd"]).expect_ok().stdout;
    assert_eq!(header_line(&out), "NAME PHASE CAPACITY AGE", "{out}");
    assert!(
        cell(&out, "blank-disk", "NAME").is_some() && cell(&out, "linux-vm-root", "NAME").is_some(),
        "{out}"
    );
}

#[test]
fn static_vmip_from_the_guide_is_created() {
    let p = Platform::start();
    let out = p
        .apply(&guide_manifest(guide_lines::VMIP_STATIC))
        .expect_ok()
        .stdout;
    assert_eq!(
        out,
        "virtualmachineipaddress.virtualization.deckhouse.io/linux-vm-custom-ip created\n"
    );
    assert_eq!(
        p.jsonpath(
            "vmip",
            "linux-vm-custom-ip",
            "{.spec.type} {.spec.staticIP}"
        ),
        "Static 10.66.20.77"
    );
    let table = p.kubectl(&["get", "vmip"]).expect_ok().stdout;
    assert_eq!(header_line(&table), "NAME ADDRESS STATUS VM AGE", "{table}");
}

#[test]
fn vmop_with_generate_name_gets_a_generated_name() {
    let p = Platform::start();
    p.apply_quick_start();
    let out = p
        .kubectl_stdin(
            &["create", "-f", "-"],
            &guide_manifest(guide_lines::VMOP_RESTART),
        )
        .expect_ok()
        .stdout;
    let line = out.trim();
    let prefix = format!("{VMOP}/restart-linux-vm-");
    assert!(
        line.starts_with(&prefix) && line.ends_with(" created"),
        "{out}"
    );
    let suffix = &line[prefix.len()..line.len() - " created".len()];
    assert_eq!(suffix.len(), 5, "5 generated characters expected: {out}");
    assert!(
        suffix
            .chars()
            .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
        "{out}"
    );
    let evict = p
        .kubectl_stdin(
            &["create", "-f", "-"],
            &guide_manifest(guide_lines::VMOP_EVICT),
        )
        .expect_ok()
        .stdout;
    assert!(
        evict.starts_with(&format!("{VMOP}/evict-linux-vm-")),
        "{evict}"
    );
    assert_eq!(
        p.kubectl(&["get", "vmop", "-o", "name"])
            .expect_ok()
            .stdout
            .lines()
            .count(),
        2
    );
}

#[test]
fn apply_refuses_generate_name() {
    let p = Platform::start();
    let r = p
        .apply(&guide_manifest(guide_lines::VMOP_RESTART))
        .expect_err();
    assert!(
        r.stderr.contains("cannot use generate name with apply"),
        "{}",
        r.stderr
    );
}

#[test]
fn get_vmop_prints_phase_type_and_vm_columns() {
    let p = Platform::start();
    p.apply_quick_start();
    p.kubectl_stdin(
        &["create", "-f", "-"],
        &guide_manifest(guide_lines::VMOP_RESTART),
    )
    .expect_ok();
    for kind in ["vmop", "virtualmachineoperation"] {
        let out = p.kubectl(&["get", kind]).expect_ok().stdout;
        assert_eq!(
            header_line(&out),
            "NAME PHASE TYPE VIRTUALMACHINE AGE",
            "{out}"
        );
        let row = &table_rows(&out)[0];
        assert!(row[0].1.starts_with("restart-linux-vm-"), "{out}");
        assert_eq!(row[2], ("TYPE".to_string(), "Restart".to_string()), "{out}");
        assert_eq!(
            row[3],
            ("VIRTUALMACHINE".to_string(), "linux-vm".to_string()),
            "{out}"
        );
    }
}

#[test]
fn cloud_init_secret_from_the_guide_is_stored_and_usable_by_a_vm() {
    let p = Platform::start();
    let manifest = guide_yaml_block(guide_lines::CLOUD_INIT_SECRET);
    assert!(
        manifest.contains("<base64 data>"),
        "the guide's placeholder moved:\n{manifest}"
    );
    // The guide leaves the value as a placeholder: fill in a real base64 cloud-config.
    let user_data = "#cloud-config\nssh_pwauth: True\n";
    let manifest = manifest.replace("<base64 data>", &base64_encode(user_data.as_bytes()));
    assert_eq!(
        p.apply(&manifest).expect_ok().stdout,
        "secret/cloud-init-example created\n"
    );
    let out = p
        .kubectl(&["get", "secret", "cloud-init-example"])
        .expect_ok()
        .stdout;
    assert_eq!(header_line(&out), "NAME TYPE DATA AGE", "{out}");
    assert_eq!(
        cell(&out, "cloud-init-example", "TYPE").as_deref(),
        Some("provisioning.virtualization.deckhouse.io/cloud-init")
    );
    assert_eq!(
        cell(&out, "cloud-init-example", "DATA").as_deref(),
        Some("1")
    );
    // The guide's VM fragment that references the Secret.
    let fragment = guide_yaml_block(guide_lines::CLOUD_INIT_SECRET + 10);
    assert!(fragment.contains("type: UserDataRef"), "{fragment}");
    let vm = quick_start_vm_named("vm-ref");
    let head = &vm[..vm.find("  provisioning:").unwrap()];
    let tail = &vm[vm.find("  blockDeviceRefs:").unwrap()..];
    let body = fragment.trim_start_matches("spec:\n");
    p.apply(&format!("{head}{body}{tail}")).expect_ok();
    assert_eq!(
        p.jsonpath("vm", "vm-ref", "{.spec.provisioning.userDataRef.name}"),
        "cloud-init-example"
    );
}

fn base64_encode(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn sizing_policy_example_from_the_guide_makes_a_class() {
    let p = Platform::start();
    let fragment = guide_yaml_block(guide_lines::SIZING_POLICY);
    assert!(
        fragment.starts_with("spec:\n  sizingPolicies:"),
        "{fragment}"
    );
    // The guide shows only the sizing policies; the class needs a CPU model as well. The integer
    // coreFractions are the v1alpha2 form.
    let manifest = format!(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachineClass\nmetadata:\n  name: sized\n{}  cpu:\n    type: Host\n",
        fragment
    );
    let r = p.apply(&manifest).expect_ok();
    assert_eq!(
        r.stdout,
        "virtualmachineclass.virtualization.deckhouse.io/sized created\n"
    );
    assert_eq!(
        p.jsonpath(
            "vmclass",
            "sized",
            "{.spec.sizingPolicies[1].coreFractions}"
        ),
        r#"["20%","50%","100%"]"#,
        "served as v1alpha3 with percent strings"
    );
    assert_eq!(
        p.jsonpath("vmclass", "sized", "{.spec.sizingPolicies[0].memory.max}"),
        "8Gi"
    );
}

#[test]
fn get_vmclass_lists_the_generic_class() {
    let p = Platform::start();
    let out = p.kubectl(&["get", "vmclass"]).expect_ok().stdout;
    assert_eq!(header_line(&out), "NAME PHASE ISDEFAULT AGE", "{out}");
    assert!(cell(&out, "generic", "NAME").is_some(), "{out}");
    let same = p
        .kubectl(&["get", "virtualmachineclass", "generic", "-o", "name"])
        .expect_ok()
        .stdout;
    assert_eq!(
        same,
        "virtualmachineclass.virtualization.deckhouse.io/generic\n"
    );
}

#[test]
fn vmclass_is_served_as_v1alpha3_with_percent_strings() {
    let p = Platform::start();
    let out = p
        .kubectl(&["get", "vmclass", "generic", "-o", "yaml"])
        .expect_ok()
        .stdout;
    assert!(
        out.starts_with("apiVersion: virtualization.deckhouse.io/v1alpha3\n"),
        "{out}"
    );
    let v = p.get_json(&["vmclass", "generic"]);
    assert_eq!(v["apiVersion"], "virtualization.deckhouse.io/v1alpha3");
    assert_eq!(
        v["spec"]["sizingPolicies"][0]["coreFractions"],
        serde_json::json!(["5%", "10%", "20%", "50%", "100%"]),
        "{v}"
    );
}

#[test]
fn vmclass_v1alpha2_shows_integer_core_fractions_and_a_deprecation_warning() {
    let p = Platform::start();
    let r = p
        .kubectl(&[
            "get",
            "virtualmachineclasses.v1alpha2.virtualization.deckhouse.io",
            "generic",
            "-o",
            "yaml",
        ])
        .expect_ok();
    assert!(
        r.stdout
            .starts_with("apiVersion: virtualization.deckhouse.io/v1alpha2\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("  - coreFractions:\n    - 5\n    - 10\n    - 20\n    - 50\n    - 100\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("Warning:") && r.stderr.contains("deprecated"),
        "{}",
        r.stderr
    );
    let j = p.kubectl(&[
        "get",
        "virtualmachineclasses.v1alpha2.virtualization.deckhouse.io",
        "generic",
        "-o",
        "json",
    ]);
    let v: Value = serde_json::from_str(&j.expect_ok().stdout).unwrap();
    assert_eq!(
        v["spec"]["sizingPolicies"][0]["coreFractions"],
        serde_json::json!([5, 10, 20, 50, 100])
    );
}

#[test]
fn get_storageclass_prints_the_guide_columns_and_default_marker() {
    let p = Platform::start();
    let sc = "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: i-sds-replicated-thin-r1\n  annotations:\n    storageclass.kubernetes.io/is-default-class: \"true\"\nprovisioner: replicated.csi.storage.deckhouse.io\nreclaimPolicy: Delete\nvolumeBindingMode: Immediate\nallowVolumeExpansion: true\n";
    p.apply(sc).expect_ok();
    let out = p.kubectl(&["get", "storageclass"]).expect_ok().stdout;
    assert_eq!(
        header_line(&out),
        "NAME PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE",
        "{out}"
    );
    let row = out.lines().nth(1).unwrap_or_default();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cells[..6],
        [
            "i-sds-replicated-thin-r1",
            "(default)",
            "replicated.csi.storage.deckhouse.io",
            "Delete",
            "Immediate",
            "true"
        ],
        "{out}"
    );
}

#[test]
fn get_ns_lists_the_standard_namespaces_as_active() {
    let p = Platform::start();
    let out = p.kubectl(&["get", "ns"]).expect_ok().stdout;
    assert_eq!(header_line(&out), "NAME STATUS AGE", "{out}");
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert_eq!(
            cell(&out, ns, "STATUS").as_deref(),
            Some("Active"),
            "{ns}:\n{out}"
        );
    }
}

/// A core/v1 Event about the VM `linux-vm`, as a controller would write it.
fn vm_event(p: &Platform, name: &str, vm: &str, reason: &str, message: &str) {
    let uid = p.jsonpath("vm", vm, "{.metadata.uid}");
    let now = now_rfc3339();
    let manifest = format!(
        "apiVersion: v1\nkind: Event\nmetadata:\n  name: {name}\ntype: Normal\nreason: {reason}\nmessage: {message}\ncount: 1\nfirstTimestamp: \"{now}\"\nlastTimestamp: \"{now}\"\nsource:\n  component: e2e-suite\ninvolvedObject:\n  apiVersion: virtualization.deckhouse.io/v1alpha2\n  kind: VirtualMachine\n  name: {vm}\n  namespace: default\n  uid: {uid}\n"
    );
    p.apply(&manifest).expect_ok();
}

#[test]
fn get_events_prints_the_event_table() {
    let p = Platform::start();
    p.apply_quick_start();
    vm_event(
        &p,
        "linux-vm.e2e1",
        "linux-vm",
        "E2ETested",
        "the suite touched this VM",
    );
    let out = p.kubectl(&["get", "events"]).expect_ok().stdout;
    assert_eq!(
        header_line(&out),
        "LAST SEEN TYPE REASON OBJECT MESSAGE",
        "{out}"
    );
    let row = &table_rows(&out)[0];
    let get = |c: &str| row.iter().find(|(n, _)| n == c).map(|(_, v)| v.as_str());
    assert_eq!(get("TYPE"), Some("Normal"), "{out}");
    assert_eq!(get("REASON"), Some("E2ETested"), "{out}");
    assert_eq!(get("OBJECT"), Some("virtualmachine/linux-vm"), "{out}");
    assert_eq!(get("MESSAGE"), Some("the suite touched this VM"), "{out}");
}

#[test]
fn describe_vm_shows_spec_and_only_its_own_events() {
    let p = Platform::start();
    p.apply_quick_start();
    p.apply(&quick_start_vm_named("other-vm")).expect_ok();
    vm_event(
        &p,
        "linux-vm.e2e1",
        "linux-vm",
        "E2ETested",
        "about linux-vm",
    );
    vm_event(
        &p,
        "other-vm.e2e1",
        "other-vm",
        "Unrelated",
        "about other-vm",
    );
    let out = p
        .kubectl(&["describe", "vm", "linux-vm"])
        .expect_ok()
        .stdout;
    for want in [
        "Name:         linux-vm",
        "Namespace:    default",
        "API Version:  virtualization.deckhouse.io/v1alpha2",
        "Kind:         VirtualMachine",
        "Virtual Machine Class Name:",
        "Block Device Refs:",
        "Events:",
        "E2ETested",
        "about linux-vm",
        "e2e-suite",
    ] {
        assert!(out.contains(want), "describe lacks {want:?}:\n{out}");
    }
    assert!(
        !out.contains("about other-vm"),
        "describe shows another object's event:\n{out}"
    );
}

#[test]
fn describe_vm_without_events_says_none() {
    let p = Platform::start();
    p.apply_quick_start();
    let out = p
        .kubectl(&["describe", "vm", "linux-vm"])
        .expect_ok()
        .stdout;
    let last = out.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("Events:") && last.ends_with("<none>"),
        "{out}"
    );
}

#[test]
fn api_resources_lists_every_virtualization_kind() {
    let p = Platform::start();
    let out = p.kubectl(&["api-resources"]).expect_ok().stdout;
    assert_eq!(
        header_line(&out),
        "NAME SHORTNAMES APIVERSION NAMESPACED KIND",
        "{out}"
    );
    let rows = [
        (
            "virtualmachines",
            "vm",
            "virtualization.deckhouse.io/v1alpha2",
            "true",
            "VirtualMachine",
        ),
        (
            "virtualdisks",
            "vd",
            "virtualization.deckhouse.io/v1alpha2",
            "true",
            "VirtualDisk",
        ),
        (
            "virtualimages",
            "vi",
            "virtualization.deckhouse.io/v1alpha2",
            "true",
            "VirtualImage",
        ),
        (
            "clustervirtualimages",
            "cvi",
            "virtualization.deckhouse.io/v1alpha2",
            "false",
            "ClusterVirtualImage",
        ),
        (
            "virtualmachineoperations",
            "vmop",
            "virtualization.deckhouse.io/v1alpha2",
            "true",
            "VirtualMachineOperation",
        ),
        (
            "virtualmachineipaddresses",
            "vmip",
            "virtualization.deckhouse.io/v1alpha2",
            "true",
            "VirtualMachineIPAddress",
        ),
        (
            "virtualmachineclasses",
            "vmc,vmclass",
            "virtualization.deckhouse.io/v1alpha3",
            "false",
            "VirtualMachineClass",
        ),
        ("namespaces", "ns", "v1", "false", "Namespace"),
        ("events", "ev", "v1", "true", "Event"),
    ];
    for (name, short, version, namespaced, kind) in rows {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing from api-resources:\n{out}"));
        assert_eq!(
            line.split_whitespace().collect::<Vec<_>>(),
            [name, short, version, namespaced, kind],
            "{line}"
        );
    }
    let wide = p
        .kubectl(&["api-resources", "-o", "wide"])
        .expect_ok()
        .stdout;
    let vm = wide
        .lines()
        .find(|l| l.starts_with("virtualmachines "))
        .unwrap();
    assert!(
        vm.contains("create,delete,deletecollection,get,list,patch,update,watch"),
        "{vm}"
    );
    assert!(vm.contains("all,virtualization"), "{vm}");
}

#[test]
fn get_by_category_lists_vms_and_disks() {
    let p = Platform::start();
    p.apply_quick_start();
    let out = p
        .kubectl(&["get", "virtualization", "-o", "name"])
        .expect_ok()
        .stdout;
    for n in [
        format!("{VI}/ubuntu"),
        format!("{VD}/linux-disk"),
        format!("{VM}/linux-vm"),
    ] {
        assert!(
            out.lines().any(|l| l == n),
            "{n} missing from `get virtualization`:\n{out}"
        );
    }
}

#[test]
fn explain_describes_vm_spec_cpu() {
    let p = Platform::start();
    let out = p.kubectl(&["explain", "vm.spec.cpu"]).expect_ok().stdout;
    for want in [
        "KIND:       VirtualMachine",
        "VERSION:    v1alpha2",
        "FIELD: cpu <Object>",
        "coreFraction\t<string>",
        "cores\t<integer> -required-",
    ] {
        assert!(out.contains(want), "explain lacks {want:?}:\n{out}");
    }
    let run_policy = p
        .kubectl(&["explain", "vm.spec.runPolicy"])
        .expect_ok()
        .stdout;
    for v in [
        "AlwaysOn",
        "AlwaysOff",
        "Manual",
        "AlwaysOnUnlessStoppedManually",
    ] {
        assert!(
            run_policy.contains(v),
            "explain runPolicy lacks enum value {v}:\n{run_policy}"
        );
    }
}

#[test]
fn a_chunked_list_returns_every_object() {
    let p = Platform::start();
    for n in ["a", "b", "c"] {
        p.apply(&quick_start_vm_named(n)).expect_ok();
    }
    assert_eq!(
        names(&p, &["vm", "--chunk-size=1"]),
        vm_names(&["a", "b", "c"])
    );
    let out = p
        .kubectl(&["get", "vm", "--chunk-size=2"])
        .expect_ok()
        .stdout;
    assert_eq!(out.lines().count(), 4, "one header and three rows:\n{out}");
}

#[test]
fn get_all_includes_virtual_machines() {
    let p = Platform::start();
    p.apply_quick_start();
    let out = p.kubectl(&["get", "all", "-o", "name"]).expect_ok().stdout;
    assert!(out.lines().any(|l| l == format!("{VM}/linux-vm")), "{out}");
}

#[test]
fn api_versions_list_both_vmclass_versions() {
    let p = Platform::start();
    let out = p.kubectl(&["api-versions"]).expect_ok().stdout;
    for v in [
        "v1",
        "virtualization.deckhouse.io/v1alpha2",
        "virtualization.deckhouse.io/v1alpha3",
    ] {
        assert!(out.lines().any(|l| l == v), "{v} missing:\n{out}");
    }
}

#[test]
fn events_can_be_selected_by_type_reason_and_involved_object() {
    let p = Platform::start();
    p.apply_quick_start();
    p.apply(&quick_start_vm_named("other-vm")).expect_ok();
    vm_event(&p, "linux-vm.e1", "linux-vm", "Started", "about linux-vm");
    vm_event(&p, "other-vm.e1", "other-vm", "Started", "about other-vm");
    let by_object = p
        .kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=linux-vm,involvedObject.kind=VirtualMachine",
            "-o",
            "name",
        ])
        .expect_ok()
        .stdout;
    assert_eq!(by_object, "event/linux-vm.e1\n");
    let by_reason = p
        .kubectl(&[
            "get",
            "events",
            "--field-selector",
            "reason=Started",
            "-o",
            "name",
        ])
        .expect_ok()
        .stdout;
    assert_eq!(by_reason.lines().count(), 2, "{by_reason}");
    let none = p
        .kubectl(&["get", "events", "--field-selector", "type=Warning"])
        .expect_ok();
    assert_eq!(none.stdout, "");
}

#[test]
fn kubectl_events_for_a_vm_lists_its_events() {
    let p = Platform::start();
    p.apply_quick_start();
    p.apply(&quick_start_vm_named("other-vm")).expect_ok();
    vm_event(&p, "linux-vm.e1", "linux-vm", "Started", "about linux-vm");
    vm_event(&p, "other-vm.e1", "other-vm", "Started", "about other-vm");
    let out = p
        .kubectl(&["events", "--for", "vm/linux-vm"])
        .expect_ok()
        .stdout;
    assert_eq!(
        header_line(&out),
        "LAST SEEN TYPE REASON OBJECT MESSAGE",
        "{out}"
    );
    assert!(
        out.contains("VirtualMachine/linux-vm") && out.contains("about linux-vm"),
        "{out}"
    );
    assert!(!out.contains("about other-vm"), "{out}");
}

#[test]
fn a_vmclass_written_as_v1alpha3_reads_back_as_v1alpha2_integers() {
    let p = Platform::start();
    let m = "apiVersion: virtualization.deckhouse.io/v1alpha3\nkind: VirtualMachineClass\nmetadata:\n  name: percent\nspec:\n  cpu:\n    type: Host\n  sizingPolicies:\n    - cores:\n        min: 1\n        max: 4\n      coreFractions: [\"10%\", \"50%\", \"100%\"]\n      defaultCoreFraction: \"50%\"\n";
    p.apply(m).expect_ok();
    let r = p
        .kubectl(&[
            "get",
            "virtualmachineclasses.v1alpha2.virtualization.deckhouse.io",
            "percent",
            "-o",
            "json",
        ])
        .expect_ok();
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["apiVersion"], "virtualization.deckhouse.io/v1alpha2");
    assert_eq!(
        v["spec"]["sizingPolicies"][0]["coreFractions"],
        serde_json::json!([10, 50, 100]),
        "{v}"
    );
    assert_eq!(
        v["spec"]["sizingPolicies"][0]["defaultCoreFraction"], 50,
        "{v}"
    );
    // And a VM of that class gets the default fraction.
    let vm = quick_start_vm_named("frac").replace(
        "virtualMachineClassName: generic",
        "virtualMachineClassName: percent",
    );
    p.apply(&vm).expect_ok();
    assert_eq!(p.jsonpath("vm", "frac", "{.spec.cpu.coreFraction}"), "50%");
}

#[test]
fn explain_vmclass_uses_the_preferred_version() {
    let p = Platform::start();
    let out = p.kubectl(&["explain", "vmclass"]).expect_ok().stdout;
    assert!(
        out.contains("KIND:       VirtualMachineClass") && out.contains("VERSION:    v1alpha3"),
        "{out}"
    );
}

#[test]
fn get_vmipl_renders_the_address_reference_as_json_like_the_guide() {
    // A lease written by hand: without IPAM, which would release a lease with no vmip.
    let p = Platform::start_with(&["--controllers=*,-ipam"]);
    let lease = "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachineIPAddressLease\nmetadata:\n  name: ip-10-66-10-14\nspec:\n  virtualMachineIPAddressRef:\n    name: linux-vm-7prpx\n    namespace: default\n";
    p.apply(lease).expect_ok();
    let out = p.kubectl(&["get", "vmipl"]).expect_ok().stdout;
    assert_eq!(
        header_line(&out),
        "NAME VIRTUALMACHINEIPADDRESS STATUS AGE",
        "{out}"
    );
    assert_eq!(
        cell(&out, "ip-10-66-10-14", "VIRTUALMACHINEIPADDRESS").as_deref(),
        Some(r#"{"name":"linux-vm-7prpx","namespace":"default"}"#),
        "{out}"
    );
}

#[test]
fn a_long_generate_name_is_cut_so_the_name_stays_within_63_characters() {
    let p = Platform::start();
    let base = "g".repeat(70);
    let m =
        quick_start_vm_named("x").replacen("  name: x\n", &format!("  generateName: {base}\n"), 1);
    let r = p.kubectl_stdin(&["create", "-f", "-"], &m);
    assert!(
        r.ok(),
        "the API server cuts a generateName base to 58 characters before adding 5 random ones (a 63-character name, \
         within the VM limit); got: {}",
        r.stderr
    );
    let name = r
        .stdout
        .split_whitespace()
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(name.len(), 63, "{name}");
    assert!(name.starts_with(&"g".repeat(58)), "{name}");
}

#[test]
fn image_and_disk_columns_show_the_status_the_controllers_write() {
    // The controllers own `status` now: the table must render what they wrote. The quick start's
    // image URL points at a closed local port in tests, so its phase moves on its own; compare
    // each row with the object read just before and after it.
    let p = Platform::start();
    p.apply_quick_start();
    for (kind, name, columns) in [
        ("vi", "ubuntu", ["PHASE", "CDROM", "PROGRESS"]),
        ("vd", "linux-disk", ["PHASE", "CAPACITY", "AGE"]),
    ] {
        let matched = eventually(60, || {
            let before = p.jsonpath(kind, name, "{.status.phase}");
            let table = p.kubectl(&["get", kind, name]).expect_ok().stdout;
            let after = p.jsonpath(kind, name, "{.status.phase}");
            let header: Vec<&str> = table
                .lines()
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            assert!(
                columns.iter().all(|c| header.contains(c)),
                "{kind} columns {columns:?} missing: {table}"
            );
            !before.is_empty()
                && before == after
                && cell(&table, name, "PHASE").as_deref() == Some(before.as_str())
        });
        assert!(
            matched,
            "the PHASE column of {kind}/{name} never showed its status.phase"
        );
    }
}

#[test]
fn need_restart_and_migratable_come_from_conditions() {
    let p = Platform::start_without_vm_controllers();
    p.apply_quick_start();
    let status = r#"{"status":{"phase":"Running","conditions":[
        {"type":"AwaitingRestartToApplyConfiguration","status":"True","reason":"ChangesPendingRestart","message":"","lastTransitionTime":"2026-01-01T00:00:00Z"},
        {"type":"Migratable","status":"True","reason":"VirtualMachineMigratable","message":"","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}"#;
    p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        status,
    ])
    .expect_ok();
    let out = p.kubectl(&["get", "vm", "-o", "wide"]).expect_ok().stdout;
    assert_eq!(
        cell(&out, "linux-vm", "NEED RESTART").as_deref(),
        Some("True"),
        "{out}"
    );
    assert_eq!(
        cell(&out, "linux-vm", "MIGRATABLE").as_deref(),
        Some("True"),
        "{out}"
    );
    assert_eq!(
        cell(&out, "linux-vm", "AGENT").as_deref(),
        Some(""),
        "{out}"
    );
}

#[test]
fn describe_ignores_events_of_an_earlier_object_with_the_same_name() {
    let p = Platform::start();
    p.apply_quick_start();
    vm_event(
        &p,
        "linux-vm.old",
        "linux-vm",
        "OldLife",
        "about the first linux-vm",
    );
    p.kubectl(&["delete", "vm", "linux-vm"]).expect_ok();
    p.apply(&guide_manifest(guide_lines::QUICKSTART_VM))
        .expect_ok();
    vm_event(
        &p,
        "linux-vm.new",
        "linux-vm",
        "NewLife",
        "about the second linux-vm",
    );
    let out = p
        .kubectl(&["describe", "vm", "linux-vm"])
        .expect_ok()
        .stdout;
    assert!(out.contains("about the second linux-vm"), "{out}");
    assert!(
        !out.contains("about the first linux-vm"),
        "describe selects events by the object's uid:\n{out}"
    );
}

//! Write-side kubectl commands of the guide (apply, patch, label, edit, server-side apply, dry
//! runs) and the API semantics they rely on: no-op writes, the status subresource, generation.

mod common;

use common::*;

const VM: &str = "virtualmachine.virtualization.deckhouse.io";

#[test]
fn apply_again_unchanged_reports_unchanged_and_writes_nothing() {
    let p = Platform::start();
    let m = guide_manifest(guide_lines::QUICKSTART_VM);
    assert_eq!(
        p.apply(&m).expect_ok().stdout,
        format!("{VM}/linux-vm created\n")
    );
    let rv = p.jsonpath("vm", "linux-vm", "{.metadata.resourceVersion}");
    assert_eq!(
        p.apply(&m).expect_ok().stdout,
        format!("{VM}/linux-vm unchanged\n")
    );
    assert_eq!(
        p.jsonpath("vm", "linux-vm", "{.metadata.resourceVersion}"),
        rv
    );
}

#[test]
fn apply_changed_manifest_reports_configured() {
    let p = Platform::start();
    let m = guide_manifest(guide_lines::QUICKSTART_VM);
    p.apply(&m).expect_ok();
    let changed = m.replace("cores: 1", "cores: 2");
    assert_eq!(
        p.apply(&changed).expect_ok().stdout,
        format!("{VM}/linux-vm configured\n")
    );
    assert_eq!(p.jsonpath("vm", "linux-vm", "{.spec.cpu.cores}"), "2");
    assert_eq!(
        p.apply(&changed).expect_ok().stdout,
        format!("{VM}/linux-vm unchanged\n")
    );
}

#[test]
fn apply_removes_a_label_dropped_from_the_manifest() {
    let p = Platform::start();
    let m = guide_manifest(guide_lines::QUICKSTART_VM);
    let labelled = m.replacen(
        "metadata:\n",
        "metadata:\n  labels:\n    app: web\n    remove-me: \"yes\"\n",
        1,
    );
    p.apply(&labelled).expect_ok();
    let fewer = m.replacen("metadata:\n", "metadata:\n  labels:\n    app: web\n", 1);
    p.apply(&fewer).expect_ok();
    assert_eq!(
        p.jsonpath("vm", "linux-vm", "{.metadata.labels}"),
        r#"{"app":"web"}"#
    );
}

#[test]
fn apply_stores_the_last_applied_configuration() {
    let p = Platform::start();
    p.apply(&guide_manifest(guide_lines::QUICKSTART_VM))
        .expect_ok();
    let v = p.get_json(&["vm", "linux-vm"]);
    let last = v["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .expect("last-applied annotation");
    let last: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(
        last["spec"]["cpu"],
        serde_json::json!({"cores": 1}),
        "the annotation is the manifest, not the defaulted object"
    );
}

#[test]
fn server_side_apply_creates_then_updates() {
    let p = Platform::start();
    let m = quick_start_vm_named("ssa-vm");
    let r = p
        .kubectl_stdin(&["apply", "--server-side", "-f", "-"], &m)
        .expect_ok();
    assert_eq!(r.stdout, format!("{VM}/ssa-vm serverside-applied\n"));
    assert_eq!(p.jsonpath("vm", "ssa-vm", "{.spec.cpu.cores}"), "1");
    let r = p
        .kubectl_stdin(
            &["apply", "--server-side", "-f", "-"],
            &m.replace("cores: 1", "cores: 2"),
        )
        .expect_ok();
    assert_eq!(r.stdout, format!("{VM}/ssa-vm serverside-applied\n"));
    assert_eq!(p.jsonpath("vm", "ssa-vm", "{.spec.cpu.cores}"), "2");
    let out = p
        .kubectl(&["get", "vm", "ssa-vm", "-o", "json", "--show-managed-fields"])
        .expect_ok()
        .stdout;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let apply_by_kubectl = v["metadata"]["managedFields"]
        .as_array()
        .map(|m| {
            m.iter()
                .any(|e| e["manager"] == "kubectl" && e["operation"] == "Apply")
        })
        .unwrap_or(false);
    assert!(
        apply_by_kubectl,
        "server-side apply must record an Apply entry for manager `kubectl` in managedFields; got {}",
        v["metadata"]["managedFields"]
    );
}

#[test]
fn server_side_apply_removes_fields_the_manager_stopped_setting() {
    let p = Platform::start();
    let m = quick_start_vm_named("ssa-vm");
    let two = m.replacen(
        "metadata:\n",
        "metadata:\n  labels:\n    keep: \"1\"\n    drop: \"1\"\n",
        1,
    );
    p.kubectl_stdin(&["apply", "--server-side", "-f", "-"], &two)
        .expect_ok();
    let one = m.replacen("metadata:\n", "metadata:\n  labels:\n    keep: \"1\"\n", 1);
    p.kubectl_stdin(&["apply", "--server-side", "-f", "-"], &one)
        .expect_ok();
    assert_eq!(
        p.jsonpath("vm", "ssa-vm", "{.metadata.labels}"),
        r#"{"keep":"1"}"#,
        "a field owned only by the applier and left out of its next apply must be removed"
    );
}

#[test]
fn server_side_apply_conflicts_with_another_manager_unless_forced() {
    let p = Platform::start();
    let m = quick_start_vm_named("ssa-vm");
    p.kubectl_stdin(&["apply", "--server-side", "-f", "-"], &m)
        .expect_ok();
    let other = m.replace("cores: 1", "cores: 4");
    let r = p.kubectl_stdin(
        &["apply", "--server-side", "--field-manager=other", "-f", "-"],
        &other,
    );
    assert!(
        !r.ok()
            && r.stderr.contains("conflict with \"kubectl\"")
            && r.stderr.contains(".spec.cpu.cores"),
        "expected a 409 `Apply failed with 1 conflict: conflict with \"kubectl\": .spec.cpu.cores`; got: {}",
        r.stderr
    );
    assert_eq!(p.jsonpath("vm", "ssa-vm", "{.spec.cpu.cores}"), "1");
    p.kubectl_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=other",
            "--force-conflicts",
            "-f",
            "-",
        ],
        &other,
    )
    .expect_ok();
    assert_eq!(p.jsonpath("vm", "ssa-vm", "{.spec.cpu.cores}"), "4");
}

#[test]
fn server_dry_run_create_stores_nothing() {
    let p = Platform::start();
    let before = p.user_state();
    let r = p.kubectl_stdin(
        &["apply", "--dry-run=server", "-f", "-"],
        &guide_manifest(guide_lines::QUICKSTART_VM),
    );
    assert_eq!(
        r.expect_ok().stdout,
        format!("{VM}/linux-vm created (server dry run)\n")
    );
    assert!(!p.exists("vm", "linux-vm", None));
    assert_eq!(p.user_state(), before, "a dry run must not write");
}

#[test]
fn server_dry_run_patch_and_delete_change_nothing() {
    let p = Platform::start();
    p.apply_quick_start();
    let before = p.user_state();
    let r = p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--dry-run=server",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"cpu":{"cores":2}}}"#,
    ]);
    // kubectl itself drops the dry-run suffix for patch; the object must stay unchanged.
    assert!(
        r.expect_ok()
            .stdout
            .starts_with(&format!("{VM}/linux-vm patched"))
    );
    assert_eq!(p.jsonpath("vm", "linux-vm", "{.spec.cpu.cores}"), "1");
    let r = p
        .kubectl(&["delete", "vm", "linux-vm", "--dry-run=server"])
        .expect_ok();
    assert_eq!(
        r.stdout,
        format!("{VM} \"linux-vm\" deleted (server dry run)\n")
    );
    assert!(p.exists("vm", "linux-vm", None));
    assert_eq!(p.user_state(), before);
}

#[test]
fn server_dry_run_still_runs_admission() {
    let p = Platform::start();
    let bad = quick_start_vm_named("bad").replace("cores: 1", "cores: 17");
    let r = p
        .kubectl_stdin(&["apply", "--dry-run=server", "-f", "-"], &bad)
        .expect_err();
    assert!(r.stderr.contains("spec.cpu.cores"), "{}", r.stderr);
}

#[test]
fn patch_merge_from_the_guide_changes_cores() {
    let p = Platform::start();
    p.apply_quick_start();
    let r = p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"cpu":{"cores":2}}}"#,
    ]);
    assert_eq!(r.expect_ok().stdout, format!("{VM}/linux-vm patched\n"));
    assert_eq!(p.jsonpath("vm", "linux-vm", "{.spec.cpu.cores}"), "2");
}

#[test]
fn patch_merge_grows_a_disk_like_the_guide() {
    let p = Platform::start();
    p.apply(&guide_manifest(guide_lines::DISK_FROM_IMAGE))
        .expect_ok();
    p.kubectl(&[
        "patch",
        "vd",
        "linux-vm-root",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"persistentVolumeClaim":{"size":"11Gi"}}}"#,
    ])
    .expect_ok();
    assert_eq!(
        p.jsonpath("vd", "linux-vm-root", "{.spec.persistentVolumeClaim.size}"),
        "11Gi"
    );
}

#[test]
fn patch_merge_null_removes_a_field() {
    let p = Platform::start();
    p.apply_quick_start();
    p.kubectl(&["label", "vm", "linux-vm", "app=web"])
        .expect_ok();
    p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--type=merge",
        "--patch",
        r#"{"metadata":{"labels":null}}"#,
    ])
    .expect_ok();
    assert_eq!(p.jsonpath("vm", "linux-vm", "{.metadata.labels}"), "");
}

#[test]
fn patch_json_adds_replaces_and_removes() {
    let p = Platform::start();
    p.apply_quick_start();
    let add = r#"[{"op":"add","path":"/metadata/labels","value":{"tier":"root"}}]"#;
    assert_eq!(
        p.kubectl(&["patch", "vd", "linux-disk", "--type=json", "-p", add])
            .expect_ok()
            .stdout,
        "virtualdisk.virtualization.deckhouse.io/linux-disk patched\n"
    );
    assert_eq!(
        p.jsonpath("vd", "linux-disk", "{.metadata.labels.tier}"),
        "root"
    );
    let ops = r#"[{"op":"test","path":"/spec/cpu/cores","value":1},{"op":"replace","path":"/spec/cpu/cores","value":4},{"op":"remove","path":"/spec/provisioning"}]"#;
    p.kubectl(&["patch", "vm", "linux-vm", "--type=json", "-p", ops])
        .expect_ok();
    assert_eq!(p.jsonpath("vm", "linux-vm", "{.spec.cpu.cores}"), "4");
    assert_eq!(p.jsonpath("vm", "linux-vm", "{.spec.provisioning}"), "");
}

#[test]
fn patch_json_with_a_failing_test_op_changes_nothing() {
    let p = Platform::start();
    p.apply_quick_start();
    let before = p.user_state();
    let ops = r#"[{"op":"test","path":"/spec/cpu/cores","value":8},{"op":"replace","path":"/spec/cpu/cores","value":4}]"#;
    let r = p
        .kubectl(&["patch", "vm", "linux-vm", "--type=json", "-p", ops])
        .expect_err();
    // A failing op is a 422, which kubectl prints as `The request is invalid: <message>`.
    assert!(
        r.stderr.contains("The request is invalid") && r.stderr.contains("/spec/cpu/cores"),
        "{}",
        r.stderr
    );
    assert_eq!(p.jsonpath("vm", "linux-vm", "{.spec.cpu.cores}"), "1");
    assert_eq!(p.user_state(), before);
}

#[test]
fn patch_that_changes_nothing_reports_no_change_and_keeps_the_resource_version() {
    let p = Platform::start();
    p.apply_quick_start();
    let rv = p.jsonpath("vm", "linux-vm", "{.metadata.resourceVersion}");
    let r = p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"cpu":{"cores":1}}}"#,
    ]);
    assert_eq!(
        r.expect_ok().stdout,
        format!("{VM}/linux-vm patched (no change)\n")
    );
    assert_eq!(
        p.jsonpath("vm", "linux-vm", "{.metadata.resourceVersion}"),
        rv
    );
}

#[test]
fn strategic_merge_patch_on_a_custom_resource_is_unsupported_media_type() {
    let p = Platform::start();
    p.apply_quick_start();
    let r = p
        .kubectl(&[
            "patch",
            "vm",
            "linux-vm",
            "-p",
            r#"{"spec":{"cpu":{"cores":2}}}"#,
        ])
        .expect_err();
    assert!(
        r.stderr.contains("application/strategic-merge-patch+json is not supported by virtualization.deckhouse.io/v1alpha2, Kind=VirtualMachine"),
        "{}",
        r.stderr
    );
    assert_eq!(p.jsonpath("vm", "linux-vm", "{.spec.cpu.cores}"), "1");
}

#[test]
fn strategic_merge_patch_works_on_core_kinds() {
    let p = Platform::start();
    p.apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: \"1\"\n")
        .expect_ok();
    p.kubectl(&["patch", "configmap", "cm", "-p", r#"{"data":{"b":"2"}}"#])
        .expect_ok();
    assert_eq!(
        p.jsonpath("configmap", "cm", "{.data}"),
        r#"{"a":"1","b":"2"}"#
    );
}

#[test]
fn label_adds_refuses_overwrite_and_removes() {
    let p = Platform::start();
    p.apply_quick_start();
    assert_eq!(
        p.kubectl(&["label", "vm", "linux-vm", "app=nginx"])
            .expect_ok()
            .stdout,
        format!("{VM}/linux-vm labeled\n")
    );
    let again = p
        .kubectl(&["label", "vm", "linux-vm", "app=web"])
        .expect_err();
    assert!(
        again
            .stderr
            .contains("'app' already has a value (nginx), and --overwrite is false"),
        "{}",
        again.stderr
    );
    p.kubectl(&["label", "vm", "linux-vm", "app=web", "--overwrite"])
        .expect_ok();
    assert_eq!(
        p.jsonpath("vm", "linux-vm", "{.metadata.labels.app}"),
        "web"
    );
    assert_eq!(
        p.kubectl(&["label", "vm", "linux-vm", "app-"])
            .expect_ok()
            .stdout,
        format!("{VM}/linux-vm unlabeled\n")
    );
    assert_eq!(
        p.jsonpath("vm", "linux-vm", "{.metadata.labels}"),
        "",
        "removing the last label must leave no `labels` map (the API server drops empty metadata maps, as ObjectMeta omits them)"
    );
}

#[test]
fn label_then_select_like_the_acceptance_check() {
    let p = Platform::start();
    p.apply_quick_start();
    p.kubectl(&["label", "vm", "linux-vm", "app=nginx"])
        .expect_ok();
    assert_eq!(
        p.kubectl(&["get", "vm", "-l", "app=nginx", "-o", "name"])
            .expect_ok()
            .stdout,
        format!("{VM}/linux-vm\n")
    );
}

#[test]
fn annotate_sets_and_removes_annotations() {
    let p = Platform::start();
    p.apply_quick_start();
    assert_eq!(
        p.kubectl(&["annotate", "vm", "linux-vm", "note=hello"])
            .expect_ok()
            .stdout,
        format!("{VM}/linux-vm annotated\n")
    );
    assert_eq!(
        p.jsonpath("vm", "linux-vm", "{.metadata.annotations.note}"),
        "hello"
    );
    p.kubectl(&["annotate", "vm", "linux-vm", "note-"])
        .expect_ok();
    assert_eq!(
        p.jsonpath("vm", "linux-vm", "{.metadata.annotations.note}"),
        ""
    );
}

#[test]
fn edit_with_an_editor_script_changes_the_vm() {
    let p = Platform::start();
    p.apply_quick_start();
    let editor = p.script("edit.sh", r#"sed -i -e 's/^  runPolicy: .*/  runPolicy: Manual/' -e 's/^    cores: 1$/    cores: 2/' "$1""#);
    let r = p.kubectl_env(
        &["edit", "vm", "linux-vm"],
        &[("EDITOR", editor.to_str().unwrap())],
        None,
    );
    assert_eq!(r.expect_ok().stdout, format!("{VM}/linux-vm edited\n"));
    assert_eq!(
        p.jsonpath("vm", "linux-vm", "{.spec.runPolicy} {.spec.cpu.cores}"),
        "Manual 2"
    );
}

#[test]
fn edit_without_changes_is_cancelled() {
    let p = Platform::start();
    p.apply_quick_start();
    let rv = p.jsonpath("vm", "linux-vm", "{.metadata.resourceVersion}");
    let r = p
        .kubectl_env(&["edit", "vm", "linux-vm"], &[("EDITOR", "true")], None)
        .expect_ok();
    assert!(
        r.stderr.contains("Edit cancelled, no changes made."),
        "{}",
        r.stderr
    );
    assert_eq!(
        p.jsonpath("vm", "linux-vm", "{.metadata.resourceVersion}"),
        rv
    );
}

#[test]
fn edit_rejected_by_admission_leaves_the_vm_unchanged() {
    let p = Platform::start();
    p.apply_quick_start();
    let editor = p.script(
        "edit.sh",
        r#"sed -i 's/^    cores: 1$/    cores: 17/' "$1""#,
    );
    let r = p
        .kubectl_env(
            &["edit", "vm", "linux-vm"],
            &[("EDITOR", editor.to_str().unwrap())],
            None,
        )
        .expect_err();
    assert!(r.stderr.contains("\"linux-vm\" is invalid"), "{}", r.stderr);
    assert_eq!(p.jsonpath("vm", "linux-vm", "{.spec.cpu.cores}"), "1");
}

const RUNNING: &str = r#"{"status":{"phase":"Running","nodeName":"node-1"}}"#;

#[test]
fn status_subresource_patch_changes_status_only() {
    let p = Platform::start_without_vm_controllers();
    p.apply_quick_start();
    let r = p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"cpu":{"cores":2}},"status":{"phase":"Running"}}"#,
    ]);
    assert_eq!(r.expect_ok().stdout, format!("{VM}/linux-vm patched\n"));
    assert_eq!(
        p.jsonpath("vm", "linux-vm", "{.status.phase} {.spec.cpu.cores}"),
        "Running 1"
    );
}

#[test]
fn status_in_a_main_resource_patch_is_ignored() {
    let p = Platform::start_without_vm_controllers();
    p.apply_quick_start();
    p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        RUNNING,
    ])
    .expect_ok();
    let r = p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--type",
        "merge",
        "-p",
        r#"{"status":{"phase":"Stopped"}}"#,
    ]);
    assert_eq!(
        r.expect_ok().stdout,
        format!("{VM}/linux-vm patched (no change)\n")
    );
    assert_eq!(p.jsonpath("vm", "linux-vm", "{.status.phase}"), "Running");
}

#[test]
fn replace_of_the_main_resource_keeps_status() {
    let p = Platform::start_without_vm_controllers();
    p.apply_quick_start();
    p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        RUNNING,
    ])
    .expect_ok();
    let mut v = p.get_json(&["vm", "linux-vm"]);
    v["spec"]["cpu"]["cores"] = 2.into();
    v["status"]["phase"] = "Stopped".into();
    v["status"]["nodeName"] = "elsewhere".into();
    let r = p.kubectl_stdin(&["replace", "-f", "-"], &v.to_string());
    assert_eq!(r.expect_ok().stdout, format!("{VM}/linux-vm replaced\n"));
    assert_eq!(
        p.jsonpath(
            "vm",
            "linux-vm",
            "{.spec.cpu.cores} {.status.phase} {.status.nodeName}"
        ),
        "2 Running node-1"
    );
}

#[test]
fn generation_bumps_only_on_spec_changes() {
    let p = Platform::start_without_vm_controllers();
    p.apply_quick_start();
    let generation = || p.jsonpath("vm", "linux-vm", "{.metadata.generation}");
    assert_eq!(generation(), "1");
    p.kubectl(&["label", "vm", "linux-vm", "app=web"])
        .expect_ok();
    p.kubectl(&["annotate", "vm", "linux-vm", "note=x"])
        .expect_ok();
    assert_eq!(generation(), "1", "metadata changes keep the generation");
    p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        RUNNING,
    ])
    .expect_ok();
    assert_eq!(generation(), "1", "status changes keep the generation");
    p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"cpu":{"cores":2}}}"#,
    ])
    .expect_ok();
    assert_eq!(generation(), "2", "a spec change bumps the generation");
    p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"cpu":{"cores":2}}}"#,
    ])
    .expect_ok();
    assert_eq!(generation(), "2", "a no-op patch keeps the generation");
}

#[test]
fn create_of_an_existing_object_is_already_exists() {
    let p = Platform::start();
    p.apply_quick_start();
    let r = p
        .kubectl_stdin(
            &["create", "-f", "-"],
            &guide_manifest(guide_lines::QUICKSTART_VM),
        )
        .expect_err();
    assert!(
        r.stderr.contains("Error from server (AlreadyExists): error when creating \"STDIN\": virtualmachines.virtualization.deckhouse.io \"linux-vm\" already exists"),
        "{}",
        r.stderr
    );
}

#[test]
fn resource_versions_grow_with_every_write() {
    let p = Platform::start();
    p.apply_quick_start();
    let rv = |p: &Platform| {
        p.jsonpath("vm", "linux-vm", "{.metadata.resourceVersion}")
            .parse::<u64>()
            .unwrap()
    };
    let first = rv(&p);
    p.kubectl(&["label", "vm", "linux-vm", "a=b"]).expect_ok();
    let second = rv(&p);
    p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"cpu":{"cores":2}}}"#,
    ])
    .expect_ok();
    let third = rv(&p);
    assert!(first < second && second < third, "{first} {second} {third}");
}

#[test]
fn diff_shows_the_pending_change_without_writing() {
    let p = Platform::start();
    p.apply_quick_start();
    let before = p.user_state();
    let changed = guide_manifest(guide_lines::QUICKSTART_VM).replace("cores: 1", "cores: 2");
    let file = p.write_file("vm.yaml", &changed);
    let r = p.kubectl(&["diff", "-f", file.to_str().unwrap()]);
    assert_eq!(
        r.status, 1,
        "kubectl diff exits 1 when there are differences: {} {}",
        r.stdout, r.stderr
    );
    assert!(
        r.stdout.contains("-    cores: 1\n+    cores: 2\n"),
        "{}",
        r.stdout
    );
    let changed_lines: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| {
            (l.starts_with('-') || l.starts_with('+'))
                && !l.starts_with("---")
                && !l.starts_with("+++")
        })
        .collect();
    assert!(
        !changed_lines.iter().any(|l| l.contains("resourceVersion")),
        "a server dry-run update must answer with the object's resourceVersion, so diff shows no resourceVersion change: {changed_lines:?}"
    );
    assert_eq!(p.jsonpath("vm", "linux-vm", "{.spec.cpu.cores}"), "1");
    assert_eq!(p.user_state(), before);
}

#[test]
fn diff_of_an_unchanged_manifest_is_empty() {
    let p = Platform::start();
    p.apply_quick_start();
    let file = p.write_file("vm.yaml", &guide_manifest(guide_lines::QUICKSTART_VM));
    let r = p.kubectl(&["diff", "-f", file.to_str().unwrap()]);
    assert_eq!((r.status, r.stdout.as_str()), (0, ""), "{}", r.stderr);
}

#[test]
fn applying_several_documents_rejects_only_the_invalid_one() {
    let p = Platform::start();
    let docs = format!(
        "{}---\n{}",
        quick_start_vm_named("good-vm"),
        quick_start_vm_named("bad-vm").replace("cores: 1", "cores: 17")
    );
    let r = p.apply(&docs);
    assert_eq!(r.status, 1);
    assert_eq!(r.stdout, format!("{VM}/good-vm created\n"));
    assert!(
        r.stderr
            .contains("The VirtualMachine \"bad-vm\" is invalid: spec.cpu.cores"),
        "{}",
        r.stderr
    );
    assert!(p.exists("vm", "good-vm", None) && !p.exists("vm", "bad-vm", None));
}

#[test]
fn reapplying_the_manifest_undoes_an_imperative_change() {
    let p = Platform::start();
    p.apply_quick_start();
    p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"cpu":{"cores":4}}}"#,
    ])
    .expect_ok();
    let r = p
        .apply(&guide_manifest(guide_lines::QUICKSTART_VM))
        .expect_ok();
    assert_eq!(r.stdout, format!("{VM}/linux-vm configured\n"));
    assert_eq!(p.jsonpath("vm", "linux-vm", "{.spec.cpu.cores}"), "1");
}

#[test]
fn secret_string_data_is_folded_into_data() {
    let p = Platform::start();
    let m = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: cloud-init-example\ntype: provisioning.virtualization.deckhouse.io/cloud-init\nstringData:\n  userData: |\n    #cloud-config\n";
    p.apply(m).expect_ok();
    let v = p.get_json(&["secret", "cloud-init-example"]);
    assert_eq!(v["data"]["userData"], "I2Nsb3VkLWNvbmZpZwo=", "{v}");
    assert!(
        v.get("stringData").is_none() || v["stringData"].is_null(),
        "stringData is not stored: {v}"
    );
    let d = p
        .kubectl(&["describe", "secret", "cloud-init-example"])
        .expect_ok()
        .stdout;
    assert!(d.contains("userData:  14 bytes"), "{d}");
}

#[test]
fn no_finalizer_can_be_added_while_an_object_is_being_deleted() {
    let p = Platform::start();
    p.apply_quick_start();
    p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"finalizers":["e2e.test/hold"]}}"#,
    ])
    .expect_ok();
    p.kubectl(&["delete", "vm", "linux-vm", "--wait=false"])
        .expect_ok();
    let r = p
        .kubectl(&[
            "patch",
            "vm",
            "linux-vm",
            "--type",
            "merge",
            "-p",
            r#"{"metadata":{"finalizers":["e2e.test/hold","e2e.test/more"]}}"#,
        ])
        .expect_err();
    assert!(
        r.stderr.contains("metadata.finalizers") && r.stderr.contains("no new finalizers"),
        "{}",
        r.stderr
    );
    p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])
    .expect_ok();
    assert!(eventually(10, || !p.exists("vm", "linux-vm", None)));
}

#[test]
fn apply_to_an_object_made_by_create_warns_and_takes_it_over() {
    let p = Platform::start();
    p.kubectl_stdin(
        &["create", "-f", "-"],
        &guide_manifest(guide_lines::QUICKSTART_VM),
    )
    .expect_ok();
    let r = p
        .apply(&guide_manifest(guide_lines::QUICKSTART_VM).replace("cores: 1", "cores: 2"))
        .expect_ok();
    assert_eq!(r.stdout, format!("{VM}/linux-vm configured\n"));
    assert!(
        r.stderr
            .contains("missing the kubectl.kubernetes.io/last-applied-configuration annotation"),
        "{}",
        r.stderr
    );
    assert_eq!(p.jsonpath("vm", "linux-vm", "{.spec.cpu.cores}"), "2");
}

#[test]
fn replace_of_the_status_subresource_changes_status_only() {
    let p = Platform::start_without_vm_controllers();
    p.apply_quick_start();
    let mut v = p.get_json(&["vm", "linux-vm"]);
    v["spec"]["cpu"]["cores"] = 4.into();
    v["status"] = serde_json::json!({"phase": "Running"});
    let r = p
        .kubectl_stdin(
            &["replace", "--subresource=status", "-f", "-"],
            &v.to_string(),
        )
        .expect_ok();
    assert_eq!(r.stdout, format!("{VM}/linux-vm replaced\n"));
    assert_eq!(
        p.jsonpath("vm", "linux-vm", "{.spec.cpu.cores} {.status.phase}"),
        "1 Running"
    );
}

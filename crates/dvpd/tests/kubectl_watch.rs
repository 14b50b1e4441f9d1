//! Commands that follow the object over time: `get -w`, `wait`, and `delete` of an object held
//! by a finalizer. Another process (a second kubectl) changes the object meanwhile.

mod common;

use std::time::Duration;

use common::*;

const VM: &str = "virtualmachine.virtualization.deckhouse.io";

fn set_phase(p: &Platform, resource: &str, name: &str, phase: &str) {
    let patch = format!(r#"{{"status":{{"phase":"{phase}"}}}}"#);
    p.kubectl(&[
        "patch",
        resource,
        name,
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        &patch,
    ])
    .expect_ok();
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().filter(|l| !l.trim().is_empty()).collect()
}

#[test]
fn get_w_prints_the_list_then_one_row_per_change() {
    let p = Platform::start_without_vm_controllers();
    p.apply_quick_start();
    let w = p.kubectl_bg(&["get", "vm", "-w"]);
    assert!(
        w.wait_stdout(30, |o| lines(o).len() >= 2),
        "initial list not printed: {} {}",
        w.stdout(),
        w.stderr()
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        lines(&w.stdout()).len(),
        2,
        "only the header and the existing row before any change (a replay means the watch ignored the list's resourceVersion):\n{}",
        w.stdout()
    );
    set_phase(&p, "vm", "linux-vm", "Running");
    assert!(
        w.wait_stdout(30, |o| o.contains("Running")),
        "the change was not streamed:\n{}",
        w.stdout()
    );
    set_phase(&p, "vm", "linux-vm", "Stopped");
    assert!(
        w.wait_stdout(30, |o| o.contains("Stopped")),
        "the second change was not streamed:\n{}",
        w.stdout()
    );
    let out = w.stdout();
    let all = lines(&out);
    assert_eq!(
        header_line(all[0]),
        "NAME PHASE NODE IPADDRESS AGE",
        "{out}"
    );
    assert_eq!(
        all.iter().filter(|l| l.starts_with("NAME")).count(),
        1,
        "one header only:\n{out}"
    );
    assert_eq!(all.len(), 4, "header, initial row, two changes:\n{out}");
    assert!(
        all[2].starts_with("linux-vm") && all[2].contains("Running"),
        "{out}"
    );
    assert!(
        all[3].starts_with("linux-vm") && all[3].contains("Stopped"),
        "{out}"
    );
}

#[test]
fn get_named_object_w_shows_the_first_change() {
    let p = Platform::start_without_vm_controllers();
    p.apply_quick_start();
    let w = p.kubectl_bg(&["get", "vm", "linux-vm", "-w"]);
    assert!(
        w.wait_stdout(30, |o| lines(o).len() >= 2),
        "initial row not printed: {} {}",
        w.stdout(),
        w.stderr()
    );
    // Give kubectl time to open the watch (it drops the first, synthetic ADDED event).
    std::thread::sleep(Duration::from_millis(2500));
    set_phase(&p, "vm", "linux-vm", "Running");
    assert!(
        w.wait_stdout(30, |o| o.contains("Running")),
        "the first real change is lost when the server sends no initial ADDED on a resourceVersion=0 watch:\n{}",
        w.stdout()
    );
    assert_eq!(lines(&w.stdout()).len(), 3, "{}", w.stdout());
}

#[test]
fn get_w_with_watch_events_reports_added_modified_and_deleted() {
    let p = Platform::start_without_vm_controllers();
    p.apply(&quick_start_vm_named("vm-a")).expect_ok();
    let w = p.kubectl_bg(&[
        "get",
        "vm",
        "-w",
        "--output-watch-events",
        "-o",
        "jsonpath={.type} {.object.metadata.name}{\"\\n\"}",
    ]);
    assert!(
        w.wait_stdout(30, |o| o.contains("ADDED vm-a")),
        "{} {}",
        w.stdout(),
        w.stderr()
    );
    std::thread::sleep(Duration::from_millis(1000));
    p.apply(&quick_start_vm_named("vm-b")).expect_ok();
    assert!(
        w.wait_stdout(30, |o| o.contains("ADDED vm-b")),
        "{}",
        w.stdout()
    );
    p.kubectl(&["label", "vm", "vm-a", "x=y"]).expect_ok();
    assert!(
        w.wait_stdout(30, |o| o.contains("MODIFIED vm-a")),
        "{}",
        w.stdout()
    );
    p.kubectl(&["delete", "vm", "vm-b"]).expect_ok();
    assert!(
        w.wait_stdout(30, |o| o.contains("DELETED vm-b")),
        "{}",
        w.stdout()
    );
    assert_eq!(
        lines(&w.stdout()),
        ["ADDED vm-a", "ADDED vm-b", "MODIFIED vm-a", "DELETED vm-b"]
    );
}

#[test]
fn get_w_with_a_label_selector_streams_only_matching_objects() {
    let p = Platform::start_without_vm_controllers();
    let w = p.kubectl_bg(&["get", "vm", "-w", "-l", "app=web", "-o", "name"]);
    std::thread::sleep(Duration::from_millis(2000));
    p.apply(&quick_start_vm_named("other")).expect_ok();
    let web = quick_start_vm_named("web").replacen(
        "metadata:\n",
        "metadata:\n  labels:\n    app: web\n",
        1,
    );
    p.apply(&web).expect_ok();
    assert!(
        w.wait_stdout(30, |o| o.contains("/web")),
        "{} {}",
        w.stdout(),
        w.stderr()
    );
    assert_eq!(
        lines(&w.stdout()),
        [format!("{VM}/web")],
        "the non-matching VM must not be streamed"
    );
}

#[test]
fn get_w_keeps_the_stream_open_while_idle() {
    let p = Platform::start_without_vm_controllers();
    p.apply_quick_start();
    let mut w = p.kubectl_bg(&["get", "vm", "-w"]);
    assert!(w.wait_stdout(30, |o| lines(o).len() >= 2));
    assert_eq!(
        w.wait_exit(5),
        None,
        "the server ended the watch (kubectl get -w exits then): {}",
        w.stderr()
    );
}

#[test]
fn wait_for_jsonpath_returns_when_another_process_sets_it() {
    let p = Platform::start_without_vm_controllers();
    p.apply_quick_start();
    let mut w = p.kubectl_bg(&[
        "wait",
        "--for=jsonpath={.status.phase}=Running",
        "vm/linux-vm",
        "--timeout=90s",
    ]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        w.exited(),
        None,
        "wait returned before the condition held: {} {}",
        w.stdout(),
        w.stderr()
    );
    set_phase(&p, "vm", "linux-vm", "Running");
    assert_eq!(
        w.wait_exit(30),
        Some(0),
        "wait did not see the change: {} {}",
        w.stdout(),
        w.stderr()
    );
    assert_eq!(w.stdout(), format!("{VM}/linux-vm condition met\n"));
}

#[test]
fn wait_for_jsonpath_already_true_returns_at_once() {
    let p = Platform::start_without_vm_controllers();
    p.apply_quick_start();
    let r = p
        .kubectl(&[
            "wait",
            "--for=jsonpath={.spec.cpu.cores}=1",
            "vm/linux-vm",
            "--timeout=20s",
        ])
        .expect_ok();
    assert_eq!(r.stdout, format!("{VM}/linux-vm condition met\n"));
}

#[test]
fn wait_for_condition_reads_status_conditions() {
    let p = Platform::start_without_vm_controllers();
    p.apply_quick_start();
    let mut w = p.kubectl_bg(&[
        "wait",
        "--for=condition=AgentReady",
        "vm/linux-vm",
        "--timeout=90s",
    ]);
    std::thread::sleep(Duration::from_millis(1000));
    let cond = r#"{"status":{"conditions":[{"type":"AgentReady","status":"True","reason":"AgentReady","message":"","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}"#;
    p.kubectl(&[
        "patch",
        "vm",
        "linux-vm",
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        cond,
    ])
    .expect_ok();
    assert_eq!(w.wait_exit(30), Some(0), "{} {}", w.stdout(), w.stderr());
    assert_eq!(w.stdout(), format!("{VM}/linux-vm condition met\n"));
}

#[test]
fn wait_times_out_with_kubectls_message() {
    let p = Platform::start_without_vm_controllers();
    p.apply_quick_start();
    let r = p
        .kubectl(&[
            "wait",
            "--for=jsonpath={.status.phase}=Running",
            "vm/linux-vm",
            "--timeout=2s",
        ])
        .expect_err();
    assert_eq!(
        r.stderr.trim(),
        "error: timed out waiting for the condition on virtualmachines/linux-vm"
    );
}

#[test]
fn wait_on_a_missing_object_is_not_found() {
    let p = Platform::start_without_vm_controllers();
    let r = p
        .kubectl(&[
            "wait",
            "--for=jsonpath={.status.phase}=Running",
            "vm/nope",
            "--timeout=5s",
        ])
        .expect_err();
    assert!(
        r.stderr.contains("NotFound") && r.stderr.contains("\"nope\" not found"),
        "{}",
        r.stderr
    );
}

#[test]
fn wait_for_delete_returns_when_another_process_deletes() {
    let p = Platform::start_without_vm_controllers();
    p.apply_quick_start();
    let mut w = p.kubectl_bg(&["wait", "--for=delete", "vm/linux-vm", "--timeout=90s"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(w.exited(), None);
    p.kubectl(&["delete", "vm", "linux-vm"]).expect_ok();
    assert_eq!(w.wait_exit(30), Some(0), "{} {}", w.stdout(), w.stderr());
    assert_eq!(w.stdout(), format!("{VM}/linux-vm condition met\n"));
}

#[test]
fn delete_of_an_object_with_a_finalizer_waits_until_it_is_removed() {
    let p = Platform::start_without_vm_controllers();
    p.apply_quick_start();
    p.kubectl(&[
        "patch",
        "vi",
        "ubuntu",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"finalizers":["e2e.test/hold"]}}"#,
    ])
    .expect_ok();
    let mut del = p.kubectl_bg(&["delete", "vi", "ubuntu"]);
    assert!(
        del.wait_stdout(30, |o| o.contains("deleted")),
        "delete did not report: {} {}",
        del.stdout(),
        del.stderr()
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        del.exited(),
        None,
        "delete must block while a finalizer holds the object: {}",
        del.stderr()
    );
    let v = p.get_json(&["vi", "ubuntu"]);
    assert!(
        v["metadata"]["deletionTimestamp"].is_string(),
        "the held object shows a deletionTimestamp: {v}"
    );
    // The image controller keeps its own protection finalizer next to ours.
    let finalizers = v["metadata"]["finalizers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        finalizers.contains(&serde_json::json!("e2e.test/hold")),
        "{v}"
    );
    p.kubectl(&[
        "patch",
        "vi",
        "ubuntu",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ])
    .expect_ok();
    assert_eq!(
        del.wait_exit(30),
        Some(0),
        "delete did not return after the finalizer was removed: {}",
        del.stderr()
    );
    assert_eq!(
        del.stdout(),
        "virtualimage.virtualization.deckhouse.io \"ubuntu\" deleted\n"
    );
    assert!(!p.exists("vi", "ubuntu", None));
}

#[test]
fn delete_wait_false_returns_while_a_finalizer_holds_the_object() {
    let p = Platform::start_without_vm_controllers();
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
    assert!(p.exists("vm", "linux-vm", None));
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
    assert!(
        eventually(10, || !p.exists("vm", "linux-vm", None)),
        "object not removed after its last finalizer"
    );
}

#[test]
fn get_w_prints_the_row_again_when_the_object_is_deleted() {
    let p = Platform::start_without_vm_controllers();
    p.apply_quick_start();
    let w = p.kubectl_bg(&["get", "vm", "-w"]);
    assert!(
        w.wait_stdout(30, |o| lines(o).len() >= 2),
        "{} {}",
        w.stdout(),
        w.stderr()
    );
    std::thread::sleep(Duration::from_millis(1000));
    p.kubectl(&["delete", "vm", "linux-vm"]).expect_ok();
    assert!(
        w.wait_stdout(30, |o| lines(o).len() >= 3),
        "the deletion was not streamed:\n{}",
        w.stdout()
    );
    assert!(
        lines(&w.stdout())[2].starts_with("linux-vm "),
        "{}",
        w.stdout()
    );
}

/// The list resourceVersion of VMs in `default`, read raw (kubectl re-wraps lists without it).
fn list_rv(p: &Platform) -> String {
    let raw = p
        .kubectl(&[
            "get",
            "--raw",
            "/apis/virtualization.deckhouse.io/v1alpha2/namespaces/default/virtualmachines",
        ])
        .expect_ok()
        .stdout;
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    v["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_watch_from_a_resource_version_sends_only_newer_events_and_honours_timeout_seconds() {
    let p = Platform::start_without_vm_controllers();
    p.apply_quick_start();
    p.apply(&quick_start_vm_named("other")).expect_ok();
    let rv = list_rv(&p);
    let path = format!(
        "/apis/virtualization.deckhouse.io/v1alpha2/namespaces/default/virtualmachines?watch=true&resourceVersion={rv}&timeoutSeconds=3"
    );
    let mut w = p.kubectl_bg(&["get", "--raw", &path]);
    std::thread::sleep(Duration::from_millis(1000));
    p.kubectl(&["label", "vm", "linux-vm", "seen=yes"])
        .expect_ok();
    assert_eq!(
        w.wait_exit(30),
        Some(0),
        "the server must end the watch after timeoutSeconds: {}",
        w.stderr()
    );
    let events: Vec<serde_json::Value> = w
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seen: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [("MODIFIED".to_string(), "linux-vm".to_string())],
        "no replay of older events"
    );
    assert_eq!(events[0]["object"]["metadata"]["labels"]["seen"], "yes");
}

#[test]
fn a_watch_without_a_resource_version_starts_with_the_current_objects() {
    let p = Platform::start_without_vm_controllers();
    p.apply_quick_start();
    let path = "/apis/virtualization.deckhouse.io/v1alpha2/namespaces/default/virtualmachines?watch=true&timeoutSeconds=2";
    let r = p.kubectl(&["get", "--raw", path]).expect_ok();
    let first: serde_json::Value =
        serde_json::from_str(r.stdout.lines().next().unwrap_or("{}")).unwrap();
    assert_eq!(first["type"], "ADDED", "{}", r.stdout);
    assert_eq!(first["object"]["metadata"]["name"], "linux-vm");
    assert_eq!(
        first["object"]["kind"], "VirtualMachine",
        "watch objects carry their kind: {}",
        r.stdout
    );
}

#[test]
fn wait_for_create_returns_when_the_object_appears() {
    let p = Platform::start_without_vm_controllers();
    let mut w = p.kubectl_bg(&["wait", "--for=create", "vm/later", "--timeout=60s"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(w.exited(), None, "{}", w.stderr());
    p.apply(&quick_start_vm_named("later")).expect_ok();
    assert_eq!(w.wait_exit(30), Some(0), "{} {}", w.stdout(), w.stderr());
    assert_eq!(w.stdout(), format!("{VM}/later condition met\n"));
}

#[test]
fn delete_with_a_timeout_fails_while_a_finalizer_holds_the_object() {
    let p = Platform::start_without_vm_controllers();
    p.apply_quick_start();
    p.kubectl(&[
        "patch",
        "vi",
        "ubuntu",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"finalizers":["e2e.test/hold"]}}"#,
    ])
    .expect_ok();
    let r = p
        .kubectl(&["delete", "vi", "ubuntu", "--timeout=3s"])
        .expect_err();
    assert!(
        r.stderr
            .contains("error: timed out waiting for the condition on virtualimages/ubuntu"),
        "{}",
        r.stderr
    );
    assert!(p.exists("vi", "ubuntu", None));
}

//! Bad input gets the right 4xx `Status` and leaves the store unchanged (its revision, as a list
//! reports it, does not move). Each case is driven through kubectl where kubectl can send it, and
//! through raw HTTPS where the exact status code matters.

mod common;

use common::*;
use serde_json::{Value, json};

const VMS: &str = "/apis/virtualization.deckhouse.io/v1alpha2/namespaces/default/virtualmachines";
const VIS: &str = "/apis/virtualization.deckhouse.io/v1alpha2/namespaces/default/virtualimages";

fn image(name: &str) -> Value {
    json!({"apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualImage",
           "metadata": {"name": name},
           "spec": {"storage": "ContainerRegistry",
                    "dataSource": {"type": "HTTP", "http": {"url": "http://127.0.0.1:9/a.img"}}}})
}

/// POST `body` as JSON and assert the status code, reason and that nothing was written.
#[track_caller]
fn post_rejected(
    p: &Platform,
    path: &str,
    content_type: &str,
    body: &[u8],
    code: u16,
    reason: &str,
) -> Value {
    let before = p.user_state();
    let (got, text) = p.http("POST", path, Some(content_type), Some(body));
    assert_eq!(
        got, code,
        "expected HTTP {code} {reason}, got {got}: {text}"
    );
    let status = status_of(&text);
    assert_eq!(status["code"], code, "{text}");
    assert_eq!(status["reason"], reason, "{text}");
    assert_eq!(status["status"], "Failure", "{text}");
    assert_eq!(
        p.user_state(),
        before,
        "a rejected request must not write anything"
    );
    status
}

#[test]
fn malformed_json_is_400_bad_request() {
    let p = Platform::start();
    let s = post_rejected(
        &p,
        VMS,
        "application/json",
        br#"{"apiVersion": "virtualization"#,
        400,
        "BadRequest",
    );
    assert!(s["message"].as_str().unwrap().contains("JSON"), "{s}");
}

#[test]
fn malformed_yaml_is_400_bad_request() {
    let p = Platform::start();
    let body = b"apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachine\n  metadata: : :\n";
    let s = post_rejected(&p, VMS, "application/yaml", body, 400, "BadRequest");
    assert!(s["message"].as_str().unwrap().contains("YAML"), "{s}");
}

#[test]
fn a_json_array_instead_of_an_object_is_400() {
    let p = Platform::start();
    post_rejected(&p, VMS, "application/json", b"[1,2,3]", 400, "BadRequest");
}

#[test]
fn kubectl_refuses_malformed_yaml_and_nothing_is_stored() {
    let p = Platform::start();
    let before = p.user_state();
    let broken = guide_manifest(guide_lines::QUICKSTART_VM).replace("  cpu:\n", "  cpu: : :\n");
    let r = p.apply(&broken).expect_err();
    assert!(
        r.stderr.contains("error parsing STDIN")
            || r.stderr.contains("error converting YAML to JSON"),
        "{}",
        r.stderr
    );
    let r = p.apply("{\"apiVersion\": ").expect_err();
    assert!(r.stderr.contains("error parsing STDIN"), "{}", r.stderr);
    assert_eq!(p.user_state(), before);
}

#[test]
fn a_kind_that_does_not_match_the_url_is_400() {
    let p = Platform::start();
    let mut body = image("x");
    body["kind"] = "VirtualDisk".into();
    let s = post_rejected(
        &p,
        VIS,
        "application/json",
        body.to_string().as_bytes(),
        400,
        "BadRequest",
    );
    assert!(
        s["message"].as_str().unwrap().contains("VirtualDisk"),
        "{s}"
    );
}

#[test]
fn an_api_version_that_does_not_match_the_url_is_400() {
    let p = Platform::start();
    let mut body = image("x");
    body["apiVersion"] = "virtualization.deckhouse.io/v1".into();
    let s = post_rejected(
        &p,
        VIS,
        "application/json",
        body.to_string().as_bytes(),
        400,
        "BadRequest",
    );
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("virtualization.deckhouse.io/v1"),
        "{s}"
    );
}

#[test]
fn kubectl_finds_no_match_for_an_unknown_api_version() {
    let p = Platform::start();
    let before = p.user_state();
    let m = guide_manifest(guide_lines::QUICKSTART_VM)
        .replace("deckhouse.io/v1alpha2", "deckhouse.io/v1");
    let r = p
        .kubectl_stdin(&["apply", "--validate=false", "-f", "-"], &m)
        .expect_err();
    assert!(
        r.stderr.contains(
            "no matches for kind \"VirtualMachine\" in version \"virtualization.deckhouse.io/v1\""
        ),
        "{}",
        r.stderr
    );
    // With validation on, kubectl first looks for the version's OpenAPI document; it must fail too.
    p.apply(&m).expect_err();
    assert_eq!(p.user_state(), before);
}

#[test]
fn kubectl_finds_no_match_for_an_unknown_kind() {
    let p = Platform::start();
    let before = p.user_state();
    let m = guide_manifest(guide_lines::QUICKSTART_VM)
        .replace("kind: VirtualMachine\n", "kind: VirtualMachin\n");
    let r = p
        .kubectl_stdin(&["apply", "--validate=false", "-f", "-"], &m)
        .expect_err();
    assert!(
        r.stderr.contains("no matches for kind \"VirtualMachin\""),
        "{}",
        r.stderr
    );
    assert_eq!(p.user_state(), before);
}

fn with_unknown_field(name: &str) -> String {
    quick_start_vm_named(name).replacen("  cpu:\n", "  foo: bar\n  cpu:\n", 1)
}

#[test]
fn an_unknown_field_with_strict_validation_is_400() {
    let p = Platform::start();
    let before = p.user_state();
    let r = p
        .kubectl_stdin(
            &["apply", "--validate=strict", "-f", "-"],
            &with_unknown_field("strict-vm"),
        )
        .expect_err();
    assert!(
        r.stderr.contains("Error from server (BadRequest)"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("strict decoding error: unknown field \"spec.foo\""),
        "{}",
        r.stderr
    );
    assert!(!p.exists("vm", "strict-vm", None));
    assert_eq!(p.user_state(), before);
}

#[test]
fn an_unknown_field_with_strict_validation_over_http_is_400() {
    let p = Platform::start();
    let mut body = image("strict");
    body["spec"]["foo"] = 1.into();
    let path = format!("{VIS}?fieldValidation=Strict");
    let s = post_rejected(
        &p,
        &path,
        "application/json",
        body.to_string().as_bytes(),
        400,
        "BadRequest",
    );
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("unknown field \"spec.foo\""),
        "{s}"
    );
}

#[test]
fn an_unknown_field_with_warn_validation_is_dropped_with_a_warning() {
    let p = Platform::start();
    let r = p
        .kubectl_stdin(
            &["apply", "--validate=warn", "-f", "-"],
            &with_unknown_field("warn-vm"),
        )
        .expect_ok();
    assert!(
        r.stderr.contains("Warning:")
            && r.stderr.contains("unknown field")
            && r.stderr.contains("spec.foo"),
        "{}",
        r.stderr
    );
    assert_eq!(
        p.jsonpath("vm", "warn-vm", "{.spec.foo}"),
        "",
        "unknown fields are pruned"
    );
}

#[test]
fn an_unknown_field_without_validation_is_dropped_silently() {
    let p = Platform::start();
    let r = p
        .kubectl_stdin(
            &["apply", "--validate=false", "-f", "-"],
            &with_unknown_field("lax-vm"),
        )
        .expect_ok();
    assert!(!r.stderr.contains("Warning"), "{}", r.stderr);
    assert_eq!(p.jsonpath("vm", "lax-vm", "{.spec.foo}"), "");
    assert_eq!(p.jsonpath("vm", "lax-vm", "{.spec.cpu.cores}"), "1");
}

fn ten_mib_image() -> String {
    let mut body = image("big");
    body["metadata"]["annotations"] = json!({"padding": "x".repeat(10 * 1024 * 1024)});
    body.to_string()
}

#[test]
fn a_10_mib_body_is_413_over_http() {
    let p = Platform::start();
    let before = p.user_state();
    let body = ten_mib_image();
    // The server answers before the upload ends; curl occasionally loses that early answer to the
    // connection reset (then it reports 100 or 0), so look for the final answer a few times.
    let (code, text) = (0..5)
        .map(|_| p.http("POST", VIS, Some("application/json"), Some(body.as_bytes())))
        .find(|(code, _)| *code != 0 && *code != 100)
        .expect("no final HTTP answer to the 10 MiB request in 5 attempts");
    assert_eq!(code, 413, "{text}");
    let s = status_of(&text);
    assert_eq!(s["reason"], "RequestEntityTooLarge", "{text}");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("Request entity too large"),
        "{s}"
    );
    assert_eq!(p.user_state(), before);
}

#[test]
fn a_10_mib_manifest_is_refused_by_the_server_through_kubectl() {
    let p = Platform::start();
    let before = p.user_state();
    let file = p.write_file("big.json", &ten_mib_image());
    let r = p
        .kubectl(&["create", "--validate=false", "-f", file.to_str().unwrap()])
        .expect_err();
    assert!(
        r.stderr
            .contains("Error from server (RequestEntityTooLarge)"),
        "{}",
        r.stderr
    );
    assert!(!p.exists("vi", "big", None));
    assert_eq!(p.user_state(), before);
}

#[test]
fn invalid_names_are_422_naming_metadata_name() {
    let p = Platform::start();
    for name in [
        "Upper",
        "under_score",
        "-leading",
        "trailing-",
        &"a".repeat(254),
    ] {
        let s = post_rejected(
            &p,
            VIS,
            "application/json",
            image(name).to_string().as_bytes(),
            422,
            "Invalid",
        );
        assert_eq!(
            s["details"]["causes"][0]["field"], "metadata.name",
            "{name}: {s}"
        );
        assert_eq!(s["details"]["kind"], "VirtualImage", "{s}");
    }
}

#[test]
fn kubectl_shows_the_invalid_name_message() {
    let p = Platform::start();
    let before = p.user_state();
    let m = guide_manifest(guide_lines::QUICKSTART_VI).replace("name: ubuntu", "name: Bad_Name");
    let r = p.apply(&m).expect_err();
    assert!(
        r.stderr.starts_with("The VirtualImage \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"),
        "{}",
        r.stderr
    );
    assert_eq!(p.user_state(), before);
}

#[test]
fn an_empty_name_without_generate_name_is_422() {
    let p = Platform::start();
    let mut body = image("x");
    body["metadata"] = json!({});
    let s = post_rejected(
        &p,
        VIS,
        "application/json",
        body.to_string().as_bytes(),
        422,
        "Invalid",
    );
    assert!(
        s["message"].as_str().unwrap().contains("metadata.name"),
        "{s}"
    );
}

#[test]
fn a_namespace_that_does_not_match_the_url_is_400() {
    let p = Platform::start();
    let mut body = image("x");
    body["metadata"]["namespace"] = "other".into();
    let s = post_rejected(
        &p,
        VIS,
        "application/json",
        body.to_string().as_bytes(),
        400,
        "BadRequest",
    );
    assert!(s["message"].as_str().unwrap().contains("namespace"), "{s}");
}

#[test]
fn schema_violations_are_422_naming_each_field() {
    let p = Platform::start();
    let body = json!({"apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualMachine",
        "metadata": {"name": "r"},
        "spec": {"virtualMachineClassName": "generic", "cpu": {"cores": "two"}, "memory": {"size": "1Gi"},
                 "runPolicy": "Sometimes", "blockDeviceRefs": [{"kind": "VirtualDisk", "name": "d"}]}});
    let s = post_rejected(
        &p,
        VMS,
        "application/json",
        body.to_string().as_bytes(),
        422,
        "Invalid",
    );
    let fields: Vec<&str> = s["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["field"].as_str())
        .collect();
    assert!(
        fields.contains(&"spec.cpu.cores") && fields.contains(&"spec.runPolicy"),
        "{s}"
    );
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("Unsupported value: \"Sometimes\""),
        "{s}"
    );
}

#[test]
fn a_missing_required_field_is_422() {
    let p = Platform::start();
    let before = p.user_state();
    let m = quick_start_vm_named("nocpu").replace("  cpu:\n    cores: 1\n", "");
    let r = p.apply(&m).expect_err();
    assert!(
        r.stderr
            .contains("The VirtualMachine \"nocpu\" is invalid: spec.cpu: Required value"),
        "{}",
        r.stderr
    );
    assert_eq!(p.user_state(), before);
}

#[test]
fn a_stale_resource_version_on_replace_is_409_conflict() {
    let p = Platform::start();
    p.apply_quick_start();
    let mut v = p.get_json(&["vm", "linux-vm"]);
    p.kubectl(&["label", "vm", "linux-vm", "moved=on"])
        .expect_ok();
    let before = p.user_state();
    v["spec"]["cpu"]["cores"] = 4.into();
    let r = p
        .kubectl_stdin(&["replace", "-f", "-"], &v.to_string())
        .expect_err();
    assert!(
        r.stderr.contains("Error from server (Conflict)")
            && r.stderr.contains("Operation cannot be fulfilled on virtualmachines.virtualization.deckhouse.io \"linux-vm\": the object has been modified; please apply your changes to the latest version and try again"),
        "{}",
        r.stderr
    );
    assert_eq!(p.jsonpath("vm", "linux-vm", "{.spec.cpu.cores}"), "1");
    assert_eq!(p.user_state(), before);
}

#[test]
fn a_stale_resource_version_on_put_is_409_over_http() {
    let p = Platform::start();
    p.apply_quick_start();
    let mut v = p.get_json(&["vm", "linux-vm"]);
    p.kubectl(&["label", "vm", "linux-vm", "moved=on"])
        .expect_ok();
    let before = p.user_state();
    v["spec"]["cpu"]["cores"] = 4.into();
    let (code, text) = p.http(
        "PUT",
        &format!("{VMS}/linux-vm"),
        Some("application/json"),
        Some(v.to_string().as_bytes()),
    );
    assert_eq!(code, 409, "{text}");
    assert_eq!(status_of(&text)["reason"], "Conflict", "{text}");
    assert_eq!(p.user_state(), before);
}

#[test]
fn a_stale_resource_version_in_a_merge_patch_is_409() {
    let p = Platform::start();
    p.apply_quick_start();
    let before = p.user_state();
    let r = p
        .kubectl(&[
            "patch",
            "vm",
            "linux-vm",
            "--type",
            "merge",
            "-p",
            r#"{"metadata":{"resourceVersion":"1"},"spec":{"cpu":{"cores":2}}}"#,
        ])
        .expect_err();
    assert!(
        r.stderr.contains("Error from server (Conflict)"),
        "{}",
        r.stderr
    );
    assert_eq!(p.jsonpath("vm", "linux-vm", "{.spec.cpu.cores}"), "1");
    assert_eq!(p.user_state(), before);
}

#[test]
fn a_duplicate_create_is_409_already_exists() {
    let p = Platform::start();
    p.apply(&guide_manifest(guide_lines::QUICKSTART_VI))
        .expect_ok();
    let s = post_rejected(
        &p,
        VIS,
        "application/json",
        image("ubuntu").to_string().as_bytes(),
        409,
        "AlreadyExists",
    );
    assert_eq!(
        s["message"], "virtualimages.virtualization.deckhouse.io \"ubuntu\" already exists",
        "{s}"
    );
}

#[test]
fn requests_without_the_token_are_401() {
    let p = Platform::start();
    let (code, text) = http_request(p.port, "GET", VMS, None, None, None).unwrap();
    assert_eq!(code, 401, "{text}");
    assert_eq!(status_of(&text)["reason"], "Unauthorized");
    let (code, _) = http_request(p.port, "GET", VMS, Some("wrong-token"), None, None).unwrap();
    assert_eq!(code, 401);
}

#[test]
fn an_unknown_resource_is_404() {
    let p = Platform::start();
    let (code, text) = p.http(
        "GET",
        "/apis/virtualization.deckhouse.io/v1alpha2/namespaces/default/nothings",
        None,
        None,
    );
    assert_eq!(code, 404, "{text}");
    assert_eq!(status_of(&text)["reason"], "NotFound");
    let r = p.kubectl(&["get", "nothings"]).expect_err();
    assert!(
        r.stderr
            .contains("the server doesn't have a resource type \"nothings\""),
        "{}",
        r.stderr
    );
}

/// Send a PATCH and assert the status code, reason and that nothing was written.
#[track_caller]
fn patch_rejected(p: &Platform, content_type: &str, body: &str, code: u16, reason: &str) {
    let before = p.user_state();
    let (got, text) = p.http(
        "PATCH",
        &format!("{VMS}/linux-vm"),
        Some(content_type),
        Some(body.as_bytes()),
    );
    assert_eq!(
        got, code,
        "expected HTTP {code} {reason} for a {content_type} body {body:?}, got {got}: {text}"
    );
    assert_eq!(status_of(&text)["reason"], reason, "{text}");
    assert_eq!(
        p.user_state(),
        before,
        "a rejected patch must not write anything"
    );
}

#[test]
fn a_json_patch_that_is_not_an_array_is_400() {
    // The real API server answers a body that does not decode as a JSON patch with 400 BadRequest;
    // 422 is for operations that fail to apply.
    let p = Platform::start();
    p.apply_quick_start();
    patch_rejected(
        &p,
        "application/json-patch+json",
        r#"{"op":"add","path":"/metadata/labels","value":{}}"#,
        400,
        "BadRequest",
    );
}

#[test]
fn a_malformed_merge_patch_is_400() {
    let p = Platform::start();
    p.apply_quick_start();
    patch_rejected(&p, "application/merge-patch+json", "{", 400, "BadRequest");
}

#[test]
fn an_unsupported_content_type_is_415() {
    let p = Platform::start();
    post_rejected(&p, VMS, "text/plain", b"hello", 415, "UnsupportedMediaType");
}

#[test]
fn patching_a_missing_object_is_404() {
    let p = Platform::start();
    let before = p.user_state();
    let r = p
        .kubectl(&[
            "patch",
            "vm",
            "nope",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"cpu":{"cores":2}}}"#,
        ])
        .expect_err();
    assert_eq!(
        r.stderr.trim(),
        "Error from server (NotFound): virtualmachines.virtualization.deckhouse.io \"nope\" not found"
    );
    assert_eq!(p.user_state(), before);
}

#[test]
fn an_invalid_label_selector_is_400() {
    let p = Platform::start();
    let r = p.kubectl(&["get", "vm", "-l", "app in nginx"]).expect_err();
    assert!(
        r.stderr.contains("Error from server (BadRequest)")
            && r.stderr.contains("unable to parse requirement"),
        "{}",
        r.stderr
    );
}

//! Older and typed kubectl clients: Debian's kubectl 1.20 (OpenAPI v2 in gnostic protobuf for
//! validation, explain and core-kind apply patches) and the 1.32 `kubectl create …` generators
//! (protobuf request bodies). Also checks that serving `/openapi/v2` leaves kubectl 1.32's patch
//! choice alone: merge patches for custom kinds, built-in strategic patches for core kinds.

mod common;

use common::*;

/// Debian's kubectl 1.20, extracted (not installed) so the machine's dispatcher stays in place.
/// Debian's kubectl 1.20, unpacked (not installed) by scripts/test.sh; `DVP_KUBECTL_1_20` overrides.
fn kubectl_1_20() -> String {
    std::env::var("DVP_KUBECTL_1_20").unwrap_or_else(|_| "/opt/kc120/root/usr/bin/kubectl".into())
}

/// Whether kubectl 1.20 is there; prints why the calling test does nothing otherwise.
fn have_kubectl_1_20() -> bool {
    let path = kubectl_1_20();
    let present = std::path::Path::new(&path).exists();
    if !present {
        eprintln!("note: {path} is missing; skipping this kubectl 1.20 check");
    }
    present
}

/// Run kubectl 1.20 (bounded like the harness' kubectl) with the platform's kubeconfig.
fn kubectl120(p: &Platform, args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = std::process::Command::new("timeout")
        .args([
            "-k",
            "5",
            &KUBECTL_TIMEOUT_SECS.to_string(),
            &kubectl_1_20(),
        ])
        .args(args)
        .env("KUBECONFIG", p.kubeconfig())
        .env("HOME", p.home())
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run kubectl 1.20");
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn guide_vm() -> String {
    guide_manifest(guide_lines::QUICKSTART_VM)
}

const SERVICE_TWO_PORTS: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: websvc\nspec:\n  selector:\n    app: web\n  ports:\n  - name: a\n    port: 80\n    targetPort: 8080\n  - name: b\n    port: 81\n    targetPort: 8081\n";

fn service_one_port() -> String {
    SERVICE_TWO_PORTS[..SERVICE_TWO_PORTS.find("  - name: b").unwrap()].to_string()
}

#[test]
fn kubectl_1_20_applies_and_reapplies_the_guide_vm_with_validation_on() {
    if !have_kubectl_1_20() {
        return;
    }
    let p = Platform::start();
    let vm = p.write_file("vm.yaml", &guide_vm());
    let r = kubectl120(&p, &["apply", "-f", vm.to_str().unwrap()], &[]).expect_ok();
    assert_eq!(
        r.stdout.trim(),
        "virtualmachine.virtualization.deckhouse.io/linux-vm created"
    );
    let changed = p.write_file("vm2.yaml", &guide_vm().replace("cores: 1", "cores: 2"));
    let r = kubectl120(&p, &["apply", "-f", changed.to_str().unwrap()], &[]).expect_ok();
    assert_eq!(
        r.stdout.trim(),
        "virtualmachine.virtualization.deckhouse.io/linux-vm configured"
    );
    assert_eq!(p.jsonpath("vm", "linux-vm", "{.spec.cpu.cores}"), "2");
    let listed = kubectl120(&p, &["get", "vm"], &[]).expect_ok();
    assert!(
        listed
            .stdout
            .lines()
            .nth(1)
            .unwrap_or_default()
            .starts_with("linux-vm "),
        "{}",
        listed.stdout
    );
}

#[test]
fn kubectl_1_20_rejects_an_unknown_field_and_a_wrong_type_before_sending() {
    if !have_kubectl_1_20() {
        return;
    }
    let p = Platform::start();
    let before = p.user_state();
    let unknown = p.write_file(
        "bogus.yaml",
        &guide_vm().replace("cores: 1", "cores: 1\n    bogus: 3"),
    );
    let r = kubectl120(&p, &["apply", "-f", unknown.to_str().unwrap()], &[]).expect_err();
    assert!(
        r.stderr.contains(r#"unknown field "bogus" in io.deckhouse.virtualization.v1alpha2.VirtualMachine.spec.cpu"#),
        "{}",
        r.stderr
    );
    let wrong = p.write_file(
        "wrong.yaml",
        &guide_vm().replace("cores: 1", "cores: \"one\""),
    );
    let r = kubectl120(&p, &["apply", "-f", wrong.to_str().unwrap()], &[]).expect_err();
    assert!(
        r.stderr.contains(r#"got "string", expected "integer""#),
        "{}",
        r.stderr
    );
    assert_eq!(
        p.user_state(),
        before,
        "client-side validation must stop both writes"
    );
}

#[test]
fn kubectl_1_20_explains_vm_cpu_and_secret_data() {
    if !have_kubectl_1_20() {
        return;
    }
    let p = Platform::start();
    let cpu = kubectl120(&p, &["explain", "vm.spec.cpu"], &[]).expect_ok();
    assert!(
        cpu.stdout.contains("KIND:     VirtualMachine"),
        "{}",
        cpu.stdout
    );
    assert!(
        cpu.stdout.contains("cores\t<integer> -required-"),
        "{}",
        cpu.stdout
    );
    let data = kubectl120(&p, &["explain", "secret.data"], &[]).expect_ok();
    assert!(
        data.stdout.contains("FIELD:    data <map[string]string>"),
        "{}",
        data.stdout
    );
}

#[test]
fn kubectl_1_20_edit_changes_a_vm() {
    if !have_kubectl_1_20() {
        return;
    }
    let p = Platform::start();
    p.apply(&guide_vm()).expect_ok();
    let editor = p.script("editor.sh", "sed -i 's/cores: 1/cores: 3/' \"$1\"");
    let r = kubectl120(
        &p,
        &["edit", "vm", "linux-vm"],
        &[("KUBE_EDITOR", editor.to_str().unwrap())],
    )
    .expect_ok();
    assert_eq!(
        r.stdout.trim(),
        "virtualmachine.virtualization.deckhouse.io/linux-vm edited"
    );
    assert_eq!(p.jsonpath("vm", "linux-vm", "{.spec.cpu.cores}"), "3");
}

#[test]
fn kubectl_1_20_reapply_of_a_service_drops_a_removed_port() {
    if !have_kubectl_1_20() {
        return;
    }
    let p = Platform::start();
    let two = p.write_file("svc.yaml", SERVICE_TWO_PORTS);
    kubectl120(&p, &["apply", "-f", two.to_str().unwrap()], &[]).expect_ok();
    let one = p.write_file("svc1.yaml", &service_one_port());
    let r = kubectl120(&p, &["apply", "-f", one.to_str().unwrap()], &[]).expect_ok();
    assert_eq!(r.stdout.trim(), "service/websvc configured");
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    assert_eq!(p.jsonpath("svc", "websvc", "{.spec.ports[*].port}"), "80");
}

#[test]
fn create_secret_generic_from_literal_stores_base64_data() {
    let p = Platform::start();
    let r = p
        .kubectl(&["create", "secret", "generic", "s", "--from-literal=a=b"])
        .expect_ok();
    assert_eq!(r.stdout.trim(), "secret/s created");
    assert_eq!(p.jsonpath("secret", "s", "{.data.a}"), "Yg==");
    assert_eq!(p.jsonpath("secret", "s", "{.type}"), "Opaque");
}

#[test]
fn create_secret_of_the_cloud_init_type_from_a_file() {
    let p = Platform::start();
    let user_data = p.write_file("user-data.yaml", "#cloud-config\nssh_pwauth: True\n");
    let from_file = format!("--from-file=userData={}", user_data.display());
    let r = p
        .kubectl(&[
            "create",
            "secret",
            "generic",
            "cloud-init",
            "--type=provisioning.virtualization.deckhouse.io/cloud-init",
            &from_file,
        ])
        .expect_ok();
    assert_eq!(r.stdout.trim(), "secret/cloud-init created");
    assert_eq!(
        p.jsonpath("secret", "cloud-init", "{.type}"),
        "provisioning.virtualization.deckhouse.io/cloud-init"
    );
    assert_eq!(
        p.jsonpath("secret", "cloud-init", "{.data.userData}"),
        "I2Nsb3VkLWNvbmZpZwpzc2hfcHdhdXRoOiBUcnVlCg=="
    );
}

#[test]
fn create_namespace_and_configmap_generators() {
    let p = Platform::start();
    let r = p.kubectl(&["create", "namespace", "foo"]).expect_ok();
    assert_eq!(r.stdout.trim(), "namespace/foo created");
    assert_eq!(p.jsonpath("namespace", "foo", "{.status.phase}"), "Active");
    let r = p
        .kubectl(&["create", "configmap", "c", "--from-literal=x=y"])
        .expect_ok();
    assert_eq!(r.stdout.trim(), "configmap/c created");
    assert_eq!(p.jsonpath("configmap", "c", "{.data.x}"), "y");
}

#[test]
fn create_service_clusterip_generator() {
    let p = Platform::start();
    let r = p
        .kubectl(&["create", "service", "clusterip", "web", "--tcp=80:8080"])
        .expect_ok();
    assert_eq!(r.stdout.trim(), "service/web created");
    let port = p.jsonpath(
        "svc",
        "web",
        "{.spec.ports[0].port}/{.spec.ports[0].targetPort}/{.spec.ports[0].protocol}",
    );
    assert_eq!(port, "80/8080/TCP");
    assert_eq!(p.jsonpath("svc", "web", "{.spec.selector.app}"), "web");
}

#[test]
fn protobuf_bodies_of_other_kinds_are_unsupported_media() {
    let p = Platform::start();
    // magic, then runtime.Unknown{typeMeta{apiVersion: "v1", kind: "Pod"}, raw: ""}
    let mut body = b"k8s\0".to_vec();
    body.extend([
        0x0a, 0x09, 0x0a, 0x02, b'v', b'1', 0x12, 0x03, b'P', b'o', b'd', 0x12, 0x00,
    ]);
    let (code, text) = p.http(
        "POST",
        "/api/v1/namespaces/default/pods",
        Some("application/vnd.kubernetes.protobuf"),
        Some(&body),
    );
    assert_eq!(code, 415, "{text}");
    assert_eq!(status_of(&text)["reason"], "UnsupportedMediaType");
}

#[test]
fn openapi_v2_is_served_as_json_by_default() {
    let p = Platform::start();
    let (code, text) = p.http("GET", "/openapi/v2", None, None);
    assert_eq!(code, 200);
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["swagger"], "2.0");
    let vm = &doc["definitions"]["io.deckhouse.virtualization.v1alpha2.VirtualMachine"];
    assert_eq!(
        vm["x-kubernetes-group-version-kind"][0]["kind"],
        "VirtualMachine"
    );
}

/// The `Content-Type` headers of the PATCH requests in kubectl's `-v=8` log.
fn patch_content_types(log: &str) -> Vec<String> {
    let mut types = Vec::new();
    let mut in_patch = false;
    for line in log.lines() {
        if line.contains("] PATCH https://") {
            in_patch = true;
        } else if in_patch && line.contains("Content-Type:") {
            types.push(
                line.rsplit("Content-Type:")
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            );
            in_patch = false;
        }
    }
    types
}

#[test]
fn kubectl_1_32_apply_and_edit_keep_merge_patches_for_a_vm() {
    let p = Platform::start();
    p.apply(&guide_vm()).expect_ok();
    let changed = guide_vm().replace("cores: 1", "cores: 2");
    let r = p
        .kubectl_stdin(&["apply", "-f", "-", "-v=8"], &changed)
        .expect_ok();
    assert!(r.stdout.contains("linux-vm configured"), "{}", r.stdout);
    assert!(
        r.stderr.contains("/openapi/v2"),
        "kubectl 1.32 consults /openapi/v2 while patching"
    );
    assert_eq!(
        patch_content_types(&r.stderr),
        vec!["application/merge-patch+json"]
    );
    assert!(
        !r.stderr.contains("warning: error calculating patch"),
        "{}",
        r.stderr
    );

    let editor = p.script("editor.sh", "sed -i 's/cores: 2/cores: 4/' \"$1\"");
    let r = p
        .kubectl_env(
            &["edit", "vm", "linux-vm", "-v=8"],
            &[("KUBE_EDITOR", editor.to_str().unwrap())],
            None,
        )
        .expect_ok();
    assert!(r.stdout.contains("linux-vm edited"), "{}", r.stdout);
    assert_eq!(
        patch_content_types(&r.stderr),
        vec!["application/merge-patch+json"]
    );
    assert_eq!(p.jsonpath("vm", "linux-vm", "{.spec.cpu.cores}"), "4");
}

#[test]
fn kubectl_1_32_reapply_of_a_service_uses_its_builtin_strategic_patch() {
    let p = Platform::start();
    p.apply(SERVICE_TWO_PORTS).expect_ok();
    let r = p
        .kubectl_stdin(&["apply", "-f", "-", "-v=8"], &service_one_port())
        .expect_ok();
    assert!(
        r.stdout.contains("service/websvc configured"),
        "{}",
        r.stdout
    );
    assert_eq!(
        patch_content_types(&r.stderr),
        vec!["application/strategic-merge-patch+json"]
    );
    assert!(
        !r.stderr.contains("warning: error calculating patch"),
        "{}",
        r.stderr
    );
    assert_eq!(p.jsonpath("svc", "websvc", "{.spec.ports[*].port}"), "80");
}

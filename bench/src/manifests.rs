//! Request bodies and paths the benchmark sends, and the one fact it reads back from watch events.

use serde_json::json;

pub const NAMESPACE: &str = "default";
pub const VMS_PATH: &str =
    "/apis/virtualization.deckhouse.io/v1alpha2/namespaces/default/virtualmachines";
pub const CONFIGMAPS_PATH: &str = "/api/v1/namespaces/default/configmaps";
/// The Accept header `kubectl get` sends for human output.
pub const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
/// The label the watch benchmark patches; its value carries the change's sequence number.
pub const SEQ_LABEL: &str = "bench-seq";

/// The name of the `i`-th benchmark VM.
pub fn vm_name(i: usize) -> String {
    format!("vm-{i:06}")
}

/// The user guide's quick-start VirtualMachine (cloud-init user, one disk), named `name`.
pub fn virtual_machine(name: &str) -> Vec<u8> {
    let user_data = "#cloud-config\nssh_pwauth: True\nusers:\n  - name: cloud\n    passwd: \"$6$rounds=4096$saltsalt$fPmUsbjAuA7mnQNTajQM6ClhesyG0.yyQhvahas02ejfMAq1ykBo1RquzS0R6GgdIDlvS.kbUwDablGZKZcTP/\"\n    shell: /bin/bash\n    sudo: ALL=(ALL) NOPASSWD:ALL\n    lock_passwd: False\n";
    let vm = json!({
        "apiVersion": "virtualization.deckhouse.io/v1alpha2",
        "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": "bench"}},
        "spec": {
            "virtualMachineClassName": "generic",
            "cpu": {"cores": 1},
            "memory": {"size": "1Gi"},
            "provisioning": {"type": "UserData", "userData": user_data},
            "blockDeviceRefs": [{"kind": "VirtualDisk", "name": format!("{name}-disk")}],
        },
    });
    serde_json::to_vec(&vm).expect("JSON serializes")
}

/// A small ConfigMap (about 300 bytes stored), named `cm-<i>`.
pub fn config_map(i: usize) -> Vec<u8> {
    let cm = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": format!("cm-{i:07}"), "namespace": NAMESPACE, "labels": {"app": "bench"}},
        "data": {"index": i.to_string(), "purpose": "restart benchmark"},
    });
    serde_json::to_vec(&cm).expect("JSON serializes")
}

/// A merge patch setting the sequence label to `seq`.
pub fn seq_label_patch(seq: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({"metadata": {"labels": {SEQ_LABEL: format!("s{seq}")}}}))
        .expect("JSON serializes")
}

/// The sequence number in a watch event line, read from the label [`seq_label_patch`] sets
/// (a substring search: parsing every event would cost the server's CPU on this shared machine).
pub fn seq_in_event(line: &[u8]) -> Option<usize> {
    let needle = format!("\"{SEQ_LABEL}\":\"s");
    let at = line
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())?;
    let digits = &line[at + needle.len()..];
    let end = digits.iter().position(|b| !b.is_ascii_digit())?;
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_is_read_back_from_a_serialized_object() {
        let event = serde_json::to_vec(&json!({"type": "MODIFIED", "object": {"metadata": {
            "labels": {"app": "bench", SEQ_LABEL: "s42"}}}}))
        .unwrap();
        assert_eq!(seq_in_event(&event), Some(42));
    }

    #[test]
    fn events_without_the_label_have_no_seq() {
        assert_eq!(seq_in_event(br#"{"type":"ADDED","object":{}}"#), None);
    }

    #[test]
    fn the_vm_manifest_uses_the_generic_class_and_the_given_name() {
        let vm: serde_json::Value = serde_json::from_slice(&virtual_machine("vm-7")).unwrap();
        assert_eq!(vm["metadata"]["name"], "vm-7");
        assert_eq!(vm["spec"]["virtualMachineClassName"], "generic");
    }
}

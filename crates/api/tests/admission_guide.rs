//! The user guide's manifests pass admission against the objects the server creates at first
//! start (the `generic` class and `ModuleConfig/virtualization`), after structural defaulting.

mod common;

use common::*;
use dvp_api::admission::{
    self, Lookup, Need, Operation, Request, Response, default_module_config,
    default_vmclass_generic, default_vmclass_host,
};
use serde_json::{Value, json};

struct Store(Vec<Value>);

fn field<'a>(v: &'a Value, p: &str) -> Option<&'a str> {
    v.pointer(p).and_then(Value::as_str)
}

impl Lookup for Store {
    fn get(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        self.0
            .iter()
            .find(|o| {
                field(o, "/kind") == Some(kind)
                    && field(o, "/metadata/name") == Some(name)
                    && (namespace.is_none() || field(o, "/metadata/namespace") == namespace)
            })
            .cloned()
    }
    fn list(&self, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        self.0
            .iter()
            .filter(|o| {
                field(o, "/kind") == Some(kind)
                    && (namespace.is_none() || field(o, "/metadata/namespace") == namespace)
            })
            .cloned()
            .collect()
    }
}

/// The first-start objects; the guide's static address 10.66.20.77 needs its subnet too.
fn first_start() -> Store {
    let mut mc = default_module_config();
    mc["spec"]["settings"]["virtualMachineCIDRs"] = json!(["10.66.10.0/24", "10.66.20.0/24"]);
    Store(vec![mc, default_vmclass_generic(), default_vmclass_host()])
}

/// Create `manifest` in namespace `default` the way the server does: structural defaults, then admission.
fn create(manifest: &str, store: &Store) -> (Response, Value) {
    let mut obj = defaulted(manifest);
    let kind = obj["kind"].as_str().unwrap().to_string();
    let name = field(&obj, "/metadata/name")
        .or(field(&obj, "/metadata/generateName"))
        .unwrap_or_default()
        .to_string();
    let namespaced = dvp_api::registry::kinds()
        .iter()
        .find(|k| k.kind == kind)
        .unwrap()
        .namespaced;
    let ns = namespaced.then_some("default");
    let req = Request {
        operation: Operation::Create,
        kind: &kind,
        namespace: ns,
        name: &name,
        object: Some(&mut obj),
        old_object: None,
        subresource: None,
    };
    let needs = admission::needs(&req);
    for n in &needs {
        match n {
            Need::Get { kind, .. } | Need::List { kind, .. } => assert!(!kind.is_empty()),
        }
    }
    let resp = admission::admit(req, store);
    (resp, obj)
}

#[track_caller]
fn accepted(manifest: &str) -> Value {
    let (resp, obj) = create(manifest, &first_start());
    let errs: Vec<String> = resp.errors.iter().map(ToString::to_string).collect();
    assert!(errs.is_empty(), "rejected: {errs:#?}");
    obj
}

#[test]
fn quickstart_image_disk_and_vm_are_accepted() {
    accepted(QUICKSTART_VI);
    accepted(QUICKSTART_VD);
    let vm = accepted(QUICKSTART_VM);
    assert_eq!(vm["spec"]["cpu"]["coreFraction"], "100%");
}

#[test]
fn other_image_and_disk_manifests_are_accepted() {
    for m in [
        VI_PVC,
        VI_UPLOAD,
        VI_CONTAINER_IMAGE,
        VD_BLANK,
        VD_FROM_IMAGE,
    ] {
        accepted(m);
    }
}

#[test]
fn cloud_init_vm_with_ten_percent_is_accepted() {
    let vm = accepted(VM_CLOUD_INIT);
    assert_eq!(vm["spec"]["cpu"]["coreFraction"], "10%");
}

#[test]
fn static_vmip_is_accepted() {
    accepted(VMIP_STATIC);
}

#[test]
fn vmops_vmbda_and_snapshots_are_accepted() {
    for m in [VMOP_RESTART, VMOP_EVICT, VMBDA, VDS, VMS] {
        accepted(m);
    }
}

#[test]
fn sizing_policy_class_is_accepted() {
    accepted(VMCLASS_SIZING);
}

#[test]
fn first_start_objects_pass_their_own_admission() {
    let empty = Store(Vec::new());
    for obj in [
        default_module_config(),
        default_vmclass_generic(),
        default_vmclass_host(),
    ] {
        let kind = obj["kind"].as_str().unwrap().to_string();
        let name = obj["metadata"]["name"].as_str().unwrap().to_string();
        let mut obj = obj;
        let req = Request {
            operation: Operation::Create,
            kind: &kind,
            namespace: None,
            name: &name,
            object: Some(&mut obj),
            old_object: None,
            subresource: None,
        };
        assert!(admission::admit(req, &empty).allowed(), "{kind}/{name}");
    }
}

#[test]
fn vm_on_generic_with_17_cores_is_rejected_and_18_accepted() {
    let m17 = QUICKSTART_VM.replace("cores: 1", "cores: 17");
    let (resp, _) = create(&m17, &first_start());
    assert!(
        resp.errors
            .iter()
            .any(|e| e.to_string().contains("must be a multiple of 2"))
    );
    let m18 = QUICKSTART_VM.replace("cores: 1", "cores: 18");
    assert!(create(&m18, &first_start()).0.allowed());
}

#[test]
fn status_writes_skip_spec_rules() {
    let mut obj = defaulted(&QUICKSTART_VM.replace("cores: 1", "cores: 17"));
    let old = obj.clone();
    let req = Request {
        operation: Operation::Update,
        kind: "VirtualMachine",
        namespace: Some("default"),
        name: "linux-vm",
        object: Some(&mut obj),
        old_object: Some(&old),
        subresource: Some("status"),
    };
    assert!(admission::needs(&req).is_empty());
    assert!(admission::admit(req, &first_start()).allowed());
}

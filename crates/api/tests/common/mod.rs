//! Manifests from the user guide, and helpers shared by the integration tests.
#![allow(dead_code)]

use serde_json::{Map, Value};

/// Every guide manifest, by label.
pub const ALL: &[(&str, &str)] = &[
    ("quick-start VirtualImage", QUICKSTART_VI),
    ("quick-start VirtualDisk", QUICKSTART_VD),
    ("quick-start VirtualMachine", QUICKSTART_VM),
    ("VirtualImage on PVC", VI_PVC),
    ("VirtualImage upload", VI_UPLOAD),
    ("VirtualImage from registry", VI_CONTAINER_IMAGE),
    ("blank VirtualDisk", VD_BLANK),
    ("VirtualDisk from image", VD_FROM_IMAGE),
    ("VM with cloud-init", VM_CLOUD_INIT),
    ("static VMIP", VMIP_STATIC),
    ("restart vmop", VMOP_RESTART),
    ("evict vmop", VMOP_EVICT),
    ("VMBDA", VMBDA),
    ("VirtualDiskSnapshot", VDS),
    ("VirtualMachineSnapshot", VMS),
    ("sizing-policy VirtualMachineClass", VMCLASS_SIZING),
];

pub const QUICKSTART_VI: &str = r#"
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata:
  name: ubuntu
spec:
  storage: ContainerRegistry
  dataSource:
    type: HTTP
    http:
      url: https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img
"#;

pub const QUICKSTART_VD: &str = r#"
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualDisk
metadata:
  name: linux-disk
spec:
  dataSource:
    type: ObjectRef
    objectRef:
      kind: VirtualImage
      name: ubuntu
"#;

pub const QUICKSTART_VM: &str = r#"
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachine
metadata:
  name: linux-vm
spec:
  virtualMachineClassName: generic
  cpu:
    cores: 1
  memory:
    size: 1Gi
  provisioning:
    type: UserData
    userData: |
      #cloud-config
      ssh_pwauth: True
      users:
        - name: cloud
          passwd: "$6$rounds=4096$saltsalt$fPmUsbjAuA7mnQNTajQM6ClhesyG0.yyQhvahas02ejfMAq1ykBo1RquzS0R6GgdIDlvS.kbUwDablGZKZcTP/"
          shell: /bin/bash
          sudo: ALL=(ALL) NOPASSWD:ALL
          lock_passwd: False
  blockDeviceRefs:
    - kind: VirtualDisk
      name: linux-disk
"#;

pub const VI_PVC: &str = r#"
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata:
  name: ubuntu-22-04-pvc
spec:
  storage: PersistentVolumeClaim
  persistentVolumeClaim:
    storageClassName: i-sds-replicated-thin-r2
  dataSource:
    type: HTTP
    http:
      url: https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img
"#;

pub const VI_UPLOAD: &str = r#"
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata:
  name: some-image
spec:
  storage: ContainerRegistry
  dataSource:
    type: Upload
"#;

pub const VI_CONTAINER_IMAGE: &str = r#"
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata:
  name: ubuntu-2204
spec:
  storage: ContainerRegistry
  dataSource:
    type: ContainerImage
    containerImage:
      image: docker.io/username/ubuntu2204:latest
"#;

pub const VD_BLANK: &str = r#"
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualDisk
metadata:
  name: blank-disk
spec:
  persistentVolumeClaim:
    storageClassName: i-sds-replicated-thin-r2
    size: 100Mi
"#;

pub const VD_FROM_IMAGE: &str = r#"
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualDisk
metadata:
  name: linux-vm-root
spec:
  persistentVolumeClaim:
    size: 10Gi
    storageClassName: i-sds-replicated-thin-r2
  dataSource:
    type: ObjectRef
    objectRef:
      kind: VirtualImage
      name: ubuntu-22-04
"#;

pub const VM_CLOUD_INIT: &str = r#"
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachine
metadata:
  name: linux-vm
spec:
  virtualMachineClassName: generic
  provisioning:
    type: UserData
    userData: |
      #cloud-config
      package_update: true
      packages:
        - nginx
        - qemu-guest-agent
      run_cmd:
        - systemctl daemon-reload
        - systemctl enable --now nginx.service
        - systemctl enable --now qemu-guest-agent.service
      ssh_pwauth: True
      users:
        - name: cloud
          passwd: "$6$rounds=4096$saltsalt$fPmUsbjAuA7mnQNTajQM6ClhesyG0.yyQhvahas02ejfMAq1ykBo1RquzS0R6GgdIDlvS.kbUwDablGZKZcTP/"
          shell: /bin/bash
          sudo: ALL=(ALL) NOPASSWD:ALL
          lock_passwd: False
      final_message: "The system is finally up, after $UPTIME seconds"
  cpu:
    cores: 1
    coreFraction: 10%
  memory:
    size: 1Gi
  blockDeviceRefs:
    - kind: VirtualDisk
      name: linux-vm-root
"#;

pub const VMIP_STATIC: &str = r#"
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineIPAddress
metadata:
  name: linux-vm-custom-ip
spec:
  staticIP: 10.66.20.77
  type: Static
"#;

pub const VMOP_RESTART: &str = r#"
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineOperation
metadata:
  generateName: restart-linux-vm-
spec:
  virtualMachineName: linux-vm
  type: Restart
"#;

pub const VMOP_EVICT: &str = r#"
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineOperation
metadata:
  generateName: evict-linux-vm-
spec:
  virtualMachineName: linux-vm
  type: Evict
"#;

pub const VMBDA: &str = r#"
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineBlockDeviceAttachment
metadata:
  name: attach-blank-disk
spec:
  blockDeviceRef:
    kind: VirtualDisk
    name: blank-disk
  virtualMachineName: linux-vm
"#;

pub const VDS: &str = r#"
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualDiskSnapshot
metadata:
  name: linux-vm-root-1728027905
spec:
  requiredConsistency: true
  virtualDiskName: linux-vm-root
"#;

pub const VMS: &str = r#"
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineSnapshot
metadata:
  name: linux-vm-snapshot
spec:
  virtualMachineName: linux-vm
  requiredConsistency: true
  keepIPAddress: Never
"#;

/// The guide's sizing-policy fragment, completed with a CPU block so it is a whole class.
pub const VMCLASS_SIZING: &str = r#"
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineClass
metadata:
  name: sized
spec:
  cpu:
    type: Host
  sizingPolicies:
    - cores:
        min: 1
        max: 4
      memory:
        min: 1Gi
        max: 8Gi
      coreFractions: [5, 10, 20, 50, 100]
    - cores:
        min: 5
        max: 8
      memory:
        min: 5Gi
        max: 16Gi
      coreFractions: [20, 50, 100]
"#;

pub fn yaml(s: &str) -> Value {
    serde_yaml::from_str(s).expect("valid YAML")
}

/// The storage-version schema of a kind.
pub fn storage_schema(kind: &str) -> Value {
    dvp_api::registry::kinds()
        .iter()
        .find(|k| k.kind == kind)
        .expect("kind")
        .storage_version()
        .schema
        .clone()
}

/// A manifest with the server's structural defaults applied.
pub fn defaulted(manifest: &str) -> Value {
    let mut v = yaml(manifest);
    let kind = v["kind"].as_str().expect("kind").to_string();
    dvp_apimachinery::schema::apply_defaults(&mut v, &storage_schema(&kind));
    v
}

pub fn obj(pairs: &[(&str, Value)]) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert((*k).to_string(), v.clone());
    }
    Value::Object(m)
}

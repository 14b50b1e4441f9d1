//! The kinds the API server serves: names, scope, versions with their structural schemas and
//! printer columns, the CustomResourceDefinitions built from them, and version conversion.

use std::sync::OnceLock;

use schemars::JsonSchema;
use serde_json::{Map, Value, json};

use crate::kinds::{
    cluster_virtual_image as cvi, module_config as mc, virtual_disk as vd,
    virtual_disk_snapshot as vds, virtual_image as vi, virtual_machine as vm,
    virtual_machine_block_device_attachment as vmbda, virtual_machine_class as vmclass,
    virtual_machine_ip_address as vmip, virtual_machine_ip_address_lease as vmipl,
    virtual_machine_mac_address as vmmac, virtual_machine_mac_address_lease as vmmacl,
    virtual_machine_operation as vmop, virtual_machine_snapshot as vms,
    virtual_machine_snapshot_operation as vmsop, volume_snapshot as vs,
};
use crate::schema::schema_for;

pub use dvp_apimachinery::table::PrinterColumn;

/// One served kind.
#[derive(Clone, Debug)]
pub struct KindDef {
    pub group: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub namespaced: bool,
    /// Served versions, highest priority first (v1alpha3 before v1alpha2).
    pub versions: Vec<VersionDef>,
}

/// One served version of a kind.
#[derive(Clone, Debug)]
pub struct VersionDef {
    pub name: &'static str,
    pub served: bool,
    pub storage: bool,
    pub deprecation_warning: Option<&'static str>,
    /// Structural `openAPIV3Schema` of the whole object (apiVersion, kind, metadata, spec, status).
    pub schema: Value,
    /// Printer columns, including an explicit `Age` column.
    pub printer_columns: Vec<PrinterColumn>,
    pub status_subresource: bool,
}

impl KindDef {
    /// `<Kind>List`.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// The version objects are stored in.
    pub fn storage_version(&self) -> &VersionDef {
        self.versions
            .iter()
            .find(|v| v.storage)
            .expect("every kind has exactly one storage version")
    }

    /// The served version with this name.
    pub fn version(&self, name: &str) -> Option<&VersionDef> {
        self.versions.iter().find(|v| v.name == name && v.served)
    }

    /// The highest-priority served version.
    pub fn preferred_version(&self) -> &VersionDef {
        &self.versions[0]
    }

    /// `<plural>.<group>`, the CRD name.
    pub fn crd_name(&self) -> String {
        format!("{}.{}", self.plural, self.group)
    }
}

/// Every kind, built once.
pub fn kinds() -> &'static [KindDef] {
    static KINDS: OnceLock<Vec<KindDef>> = OnceLock::new();
    KINDS.get_or_init(build_kinds)
}

/// Every kind (a copy of [`kinds`]).
pub fn all_kinds() -> Vec<KindDef> {
    kinds().to_vec()
}

/// The kind with this group and Kind name.
pub fn find_kind(group: &str, kind: &str) -> Option<&'static KindDef> {
    kinds().iter().find(|k| k.group == group && k.kind == kind)
}

/// The kind with this group and plural resource name.
pub fn find_resource(group: &str, plural: &str) -> Option<&'static KindDef> {
    kinds()
        .iter()
        .find(|k| k.group == group && k.plural == plural)
}

/// The `apiextensions.k8s.io/v1` CustomResourceDefinition of a kind.
pub fn crd(def: &KindDef) -> Value {
    let mut labels = Map::new();
    labels.insert("heritage".into(), json!("deckhouse"));
    if def.group == crate::GROUP {
        labels.insert("module".into(), json!("virtualization"));
    }
    if matches!(def.kind, "ClusterVirtualImage" | "VirtualMachineClass") {
        labels.insert("backup.deckhouse.io/cluster-config".into(), json!("true"));
    }
    let versions: Vec<Value> = def.versions.iter().map(crd_version).collect();
    let mut names = json!({
        "kind": def.kind,
        "listKind": def.list_kind(),
        "plural": def.plural,
        "singular": def.singular,
    });
    if !def.short_names.is_empty() {
        names["shortNames"] = json!(def.short_names);
    }
    if !def.categories.is_empty() {
        names["categories"] = json!(def.categories);
    }
    let mut spec = json!({
        "group": def.group,
        "names": names,
        "scope": if def.namespaced { "Namespaced" } else { "Cluster" },
        "versions": versions,
    });
    if def.versions.len() > 1 {
        spec["conversion"] = json!({
            "strategy": "Webhook",
            "webhook": {
                "conversionReviewVersions": ["v1"],
                "clientConfig": {"service": {"namespace": "d8-virtualization", "name": "dvpd", "path": "/convert", "port": 443}}
            }
        });
    }
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": def.crd_name(), "labels": labels},
        "spec": spec,
    })
}

fn crd_version(v: &VersionDef) -> Value {
    let columns: Vec<Value> = v
        .printer_columns
        .iter()
        .map(|c| serde_json::to_value(c).expect("printer columns serialize"))
        .collect();
    let mut out = json!({
        "name": v.name,
        "served": v.served,
        "storage": v.storage,
        "schema": {"openAPIV3Schema": v.schema},
        "additionalPrinterColumns": columns,
    });
    if v.status_subresource {
        out["subresources"] = json!({"status": {}});
    }
    if let Some(w) = v.deprecation_warning {
        out["deprecated"] = json!(true);
        out["deprecationWarning"] = json!(w);
    }
    out
}

/// Every CRD as multi-document YAML (for `dvpd crds`).
pub fn crds_yaml() -> String {
    let mut out = String::new();
    for def in kinds() {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&crd(def)).expect("CRDs are plain JSON values"));
    }
    out
}

/// Convert an object of `def` to `to_version` (identity except for VirtualMachineClass) and set
/// its `apiVersion`.
pub fn convert(def: &KindDef, obj: Value, to_version: &str) -> Result<Value, String> {
    if def.version(to_version).is_none() {
        return Err(format!(
            "{} {} has no served version {to_version:?}",
            def.group, def.kind
        ));
    }
    if def.group == crate::GROUP && def.kind == "VirtualMachineClass" {
        return crate::conversion::convert_vmclass(obj, to_version);
    }
    let mut obj = obj;
    if let Value::Object(o) = &mut obj {
        o.insert(
            "apiVersion".into(),
            Value::String(format!("{}/{to_version}", def.group)),
        );
    }
    Ok(obj)
}

// ----------------------------------------------------------------------------------------------
// Schemas

const API_VERSION_DOC: &str = "Versioned schema this object is written in (`<group>/<version>`). The server converts \
objects to the version a client asks for.";
const KIND_DOC: &str =
    "Kind of the object, in CamelCase. Clients use it to pick the type to decode into.";
const METADATA_DOC: &str =
    "Standard object metadata: name, namespace, labels, annotations, owner references, finalizers.";

fn object_schema(description: &str, spec: Option<(Value, bool)>, status: Option<Value>) -> Value {
    let mut props = Map::new();
    props.insert(
        "apiVersion".into(),
        json!({"type": "string", "description": API_VERSION_DOC}),
    );
    props.insert(
        "kind".into(),
        json!({"type": "string", "description": KIND_DOC}),
    );
    props.insert(
        "metadata".into(),
        json!({"type": "object", "description": METADATA_DOC}),
    );
    let mut required = Vec::new();
    if let Some((spec, is_required)) = spec {
        props.insert("spec".into(), spec);
        if is_required {
            required.push(json!("spec"));
        }
    }
    if let Some(status) = status {
        props.insert("status".into(), status);
    }
    let mut schema = json!({"type": "object", "description": description, "properties": props});
    if !required.is_empty() {
        schema["required"] = Value::Array(required);
    }
    schema
}

fn typed<Spec: JsonSchema, Status: JsonSchema>(description: &str, spec_required: bool) -> Value {
    object_schema(
        description,
        Some((schema_for::<Spec>(), spec_required)),
        Some(schema_for::<Status>()),
    )
}

fn volume_snapshot_class_schema() -> Value {
    let fields = schema_for::<vs::VolumeSnapshotClassFields>();
    let mut schema = object_schema(
        "Parameters for snapshots taken by one CSI driver. The fields are top-level: there is no spec.",
        None,
        None,
    );
    if let (Some(Value::Object(props)), Some(Value::Object(extra))) =
        (schema.get_mut("properties"), fields.get("properties"))
    {
        props.extend(extra.clone());
    }
    if let Some(req) = fields.get("required") {
        schema["required"] = req.clone();
    }
    schema
}

// ----------------------------------------------------------------------------------------------
// Printer columns

fn col(
    name: &str,
    type_: &str,
    json_path: &str,
    priority: i32,
    description: &str,
) -> PrinterColumn {
    PrinterColumn {
        name: name.to_string(),
        type_: type_.to_string(),
        format: String::new(),
        description: description.to_string(),
        priority,
        json_path: json_path.to_string(),
    }
}

fn age() -> PrinterColumn {
    col(
        "Age",
        "date",
        ".metadata.creationTimestamp",
        0,
        "Time since the object was created.",
    )
}

fn phase() -> PrinterColumn {
    col("Phase", "string", ".status.phase", 0, "Lifecycle phase.")
}

fn condition_status(name: &str, type_: &str, priority: i32, description: &str) -> PrinterColumn {
    col(
        name,
        "string",
        &format!(".status.conditions[?(@.type=='{type_}')].status"),
        priority,
        description,
    )
}

fn vm_columns() -> Vec<PrinterColumn> {
    vec![
        phase(),
        col(
            "Cores",
            "integer",
            ".status.resources.cpu.cores",
            1,
            "Virtual cores in use.",
        ),
        col(
            "CoreFraction",
            "string",
            ".status.resources.cpu.coreFraction",
            1,
            "Guaranteed share of each core.",
        ),
        col(
            "Memory",
            "string",
            ".status.resources.memory.size",
            1,
            "Memory in use.",
        ),
        condition_status(
            "Need restart",
            "AwaitingRestartToApplyConfiguration",
            1,
            "Whether changes wait for a restart.",
        ),
        condition_status(
            "Agent",
            "AgentReady",
            1,
            "Whether the guest agent responds.",
        ),
        condition_status(
            "Migratable",
            "Migratable",
            1,
            "Whether the VM can be live-migrated.",
        ),
        col(
            "Node",
            "string",
            ".status.nodeName",
            0,
            "Node running the VM.",
        ),
        col(
            "IPAddress",
            "string",
            ".status.ipAddress",
            0,
            "Main-network IP address.",
        ),
        age(),
    ]
}

fn image_columns() -> Vec<PrinterColumn> {
    vec![
        phase(),
        col(
            "CDROM",
            "boolean",
            ".status.cdrom",
            0,
            "Whether the image is attached as a CD-ROM.",
        ),
        col(
            "Progress",
            "string",
            ".status.progress",
            0,
            "Import progress.",
        ),
        col(
            "StoredSize",
            "string",
            ".status.size.stored",
            1,
            "Size as stored.",
        ),
        col(
            "UnpackedSize",
            "string",
            ".status.size.unpacked",
            1,
            "Size once unpacked.",
        ),
        col(
            "Registry URL",
            "string",
            ".status.target.registryURL",
            1,
            "Image address in DVCR.",
        ),
        age(),
    ]
}

fn vd_columns() -> Vec<PrinterColumn> {
    vec![
        phase(),
        col(
            "Capacity",
            "string",
            ".status.capacity",
            0,
            "Size of the volume.",
        ),
        condition_status("InUse", "InUse", 1, "Whether the disk is in use."),
        col(
            "VirtualMachine",
            "string",
            ".status.attachedToVirtualMachines[?(@.mounted==true)].name",
            1,
            "VM the disk is mounted in.",
        ),
        col(
            "Progress",
            "string",
            ".status.progress",
            1,
            "Provisioning progress.",
        ),
        col(
            "StorageClass",
            "string",
            ".status.storageClassName",
            1,
            "StorageClass of the volume.",
        ),
        col(
            "TargetPVC",
            "string",
            ".status.target.persistentVolumeClaimName",
            1,
            "PVC backing the disk.",
        ),
        age(),
    ]
}

fn snapshot_columns() -> Vec<PrinterColumn> {
    vec![
        phase(),
        col(
            "Consistent",
            "boolean",
            ".status.consistent",
            0,
            "Whether the snapshot is consistent.",
        ),
        age(),
    ]
}

fn vmop_columns() -> Vec<PrinterColumn> {
    vec![
        phase(),
        col(
            "Progress",
            "string",
            ".status.progress",
            1,
            "Migration progress.",
        ),
        col("Type", "string", ".spec.type", 0, "The action."),
        col(
            "VirtualMachine",
            "string",
            ".spec.virtualMachineName",
            0,
            "Target VM.",
        ),
        age(),
    ]
}

fn vmbda_columns() -> Vec<PrinterColumn> {
    vec![
        phase(),
        col(
            "BlockDevice Kind",
            "string",
            ".spec.blockDeviceRef.kind",
            1,
            "Kind of the attached device.",
        ),
        col(
            "BlockDevice Name",
            "string",
            ".spec.blockDeviceRef.name",
            1,
            "Name of the attached device.",
        ),
        col(
            "Virtual Machine Name",
            "string",
            ".status.virtualMachineName",
            0,
            "VM the device is attached to.",
        ),
        age(),
    ]
}

fn address_columns() -> Vec<PrinterColumn> {
    vec![
        col(
            "Address",
            "string",
            ".status.address",
            0,
            "The leased address.",
        ),
        col("Status", "string", ".status.phase", 0, "Lifecycle phase."),
        col(
            "VM",
            "string",
            ".status.virtualMachineName",
            0,
            "VM using the address.",
        ),
        age(),
    ]
}

fn lease_columns(name: &str, path: &str) -> Vec<PrinterColumn> {
    vec![
        col(name, "string", path, 0, "Object holding the lease."),
        col("Status", "string", ".status.phase", 0, "Lifecycle phase."),
        age(),
    ]
}

fn vmclass_columns() -> Vec<PrinterColumn> {
    vec![
        phase(),
        col(
            "IsDefault",
            "string",
            r".metadata.annotations.virtualmachineclass\.virtualization\.deckhouse\.io\/is-default-class",
            0,
            "Whether this is the default class.",
        ),
        age(),
    ]
}

fn vmsop_columns() -> Vec<PrinterColumn> {
    vec![
        phase(),
        col("Type", "string", ".spec.type", 0, "The action."),
        col(
            "VirtualMachineSnapshot",
            "string",
            ".spec.virtualMachineSnapshotName",
            0,
            "Source snapshot.",
        ),
        age(),
    ]
}

fn module_config_columns() -> Vec<PrinterColumn> {
    vec![
        col(
            "Enabled",
            "boolean",
            ".spec.enabled",
            0,
            "Whether the module is enabled.",
        ),
        col(
            "Version",
            "integer",
            ".spec.version",
            0,
            "Settings schema version.",
        ),
        age(),
    ]
}

fn volume_snapshot_columns() -> Vec<PrinterColumn> {
    vec![
        col(
            "ReadyToUse",
            "boolean",
            ".status.readyToUse",
            0,
            "Whether a volume can be restored from the snapshot.",
        ),
        col(
            "SourcePVC",
            "string",
            ".spec.source.persistentVolumeClaimName",
            0,
            "PVC the snapshot was taken of.",
        ),
        col(
            "SourceSnapshotContent",
            "string",
            ".spec.source.volumeSnapshotContentName",
            0,
            "Pre-provisioned content the snapshot binds to.",
        ),
        col(
            "RestoreSize",
            "string",
            ".status.restoreSize",
            0,
            "Minimum size of a restored volume.",
        ),
        col(
            "SnapshotClass",
            "string",
            ".spec.volumeSnapshotClassName",
            0,
            "VolumeSnapshotClass used.",
        ),
        col(
            "SnapshotContent",
            "string",
            ".status.boundVolumeSnapshotContentName",
            0,
            "Bound VolumeSnapshotContent.",
        ),
        col(
            "CreationTime",
            "date",
            ".status.creationTime",
            0,
            "When the storage snapshot was cut.",
        ),
        age(),
    ]
}

fn volume_snapshot_class_columns() -> Vec<PrinterColumn> {
    vec![
        col("Driver", "string", ".driver", 0, "CSI driver."),
        col(
            "DeletionPolicy",
            "string",
            ".deletionPolicy",
            0,
            "What happens to released snapshots.",
        ),
        age(),
    ]
}

// ----------------------------------------------------------------------------------------------
// The kinds

const NS: &[&str] = &["virtualization"];
const CLUSTER: &[&str] = &["virtualization-cluster"];

/// Deprecation notice of VirtualMachineClass v1alpha2.
pub const VMCLASS_V1ALPHA2_DEPRECATION: &str =
    "virtualization.deckhouse.io/v1alpha2 VirtualMachineClass is deprecated; use v1alpha3";

fn v1alpha2(schema: Value, printer_columns: Vec<PrinterColumn>) -> VersionDef {
    VersionDef {
        name: crate::V1ALPHA2,
        served: true,
        storage: true,
        deprecation_warning: None,
        schema,
        printer_columns,
        status_subresource: true,
    }
}

#[allow(clippy::too_many_arguments)]
fn dvp_kind(
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    namespaced: bool,
    schema: Value,
    printer_columns: Vec<PrinterColumn>,
) -> KindDef {
    KindDef {
        group: crate::GROUP,
        kind,
        plural,
        singular,
        short_names,
        categories,
        namespaced,
        versions: vec![v1alpha2(schema, printer_columns)],
    }
}

fn build_kinds() -> Vec<KindDef> {
    vec![
        dvp_kind(
            "VirtualMachine",
            "virtualmachines",
            "virtualmachine",
            &["vm"],
            &["all", "virtualization"],
            true,
            typed::<vm::VirtualMachineSpec, vm::VirtualMachineStatus>(
                "A virtual machine: CPU, memory, block devices, networks, placement and power policy.",
                true,
            ),
            vm_columns(),
        ),
        vmclass_kind(),
        dvp_kind(
            "VirtualDisk",
            "virtualdisks",
            "virtualdisk",
            &["vd"],
            NS,
            true,
            typed::<vd::VirtualDiskSpec, vd::VirtualDiskStatus>(
                "A virtual machine disk, blank or filled from an image, URL, registry, snapshot or upload.",
                true,
            ),
            vd_columns(),
        ),
        dvp_kind(
            "VirtualImage",
            "virtualimages",
            "virtualimage",
            &["vi"],
            NS,
            true,
            typed::<vi::VirtualImageSpec, vi::VirtualImageStatus>(
                "A disk image available in its namespace, kept in DVCR or on a PVC. Read-only when attached.",
                true,
            ),
            image_columns(),
        ),
        dvp_kind(
            "ClusterVirtualImage",
            "clustervirtualimages",
            "clustervirtualimage",
            &["cvi"],
            CLUSTER,
            false,
            typed::<cvi::ClusterVirtualImageSpec, cvi::ClusterVirtualImageStatus>(
                "A disk image available in every namespace, kept in DVCR. Read-only when attached.",
                true,
            ),
            image_columns(),
        ),
        dvp_kind(
            "VirtualDiskSnapshot",
            "virtualdisksnapshots",
            "virtualdisksnapshot",
            &["vdsnapshot", "vds"],
            NS,
            true,
            typed::<vds::VirtualDiskSnapshotSpec, vds::VirtualDiskSnapshotStatus>(
                "A point-in-time snapshot of a virtual disk.",
                true,
            ),
            snapshot_columns(),
        ),
        dvp_kind(
            "VirtualMachineBlockDeviceAttachment",
            "virtualmachineblockdeviceattachments",
            "virtualmachineblockdeviceattachment",
            &["vmbda"],
            NS,
            true,
            typed::<
                vmbda::VirtualMachineBlockDeviceAttachmentSpec,
                vmbda::VirtualMachineBlockDeviceAttachmentStatus,
            >(
                "Hot-plugs one disk or image into a running virtual machine; deleting it unplugs the device.",
                true,
            ),
            vmbda_columns(),
        ),
        dvp_kind(
            "VirtualMachineIPAddress",
            "virtualmachineipaddresses",
            "virtualmachineipaddress",
            &["vmip"],
            NS,
            true,
            typed::<vmip::VirtualMachineIPAddressSpec, vmip::VirtualMachineIPAddressStatus>(
                "An IP address of the main network reserved for a virtual machine of the namespace.",
                true,
            ),
            address_columns(),
        ),
        dvp_kind(
            "VirtualMachineIPAddressLease",
            "virtualmachineipaddressleases",
            "virtualmachineipaddresslease",
            &["vmipl", "vmiplease"],
            CLUSTER,
            false,
            typed::<
                vmipl::VirtualMachineIPAddressLeaseSpec,
                vmipl::VirtualMachineIPAddressLeaseStatus,
            >(
                "The lease of one IP address of the shared pool; the name encodes the address (ip-a-b-c-d).",
                false,
            ),
            lease_columns(
                "VirtualMachineIPAddress",
                ".spec.virtualMachineIPAddressRef",
            ),
        ),
        dvp_kind(
            "VirtualMachineMACAddress",
            "virtualmachinemacaddresses",
            "virtualmachinemacaddress",
            &["vmmac"],
            NS,
            true,
            typed::<vmmac::VirtualMachineMACAddressSpec, vmmac::VirtualMachineMACAddressStatus>(
                "A MAC address reserved for an additional network interface of a virtual machine.",
                false,
            ),
            address_columns(),
        ),
        dvp_kind(
            "VirtualMachineMACAddressLease",
            "virtualmachinemacaddressleases",
            "virtualmachinemacaddresslease",
            &["vmmacl", "vmmaclease"],
            CLUSTER,
            false,
            typed::<
                vmmacl::VirtualMachineMACAddressLeaseSpec,
                vmmacl::VirtualMachineMACAddressLeaseStatus,
            >(
                "The lease of one MAC address; the name encodes the address (mac-aa-bb-cc-dd-ee-ff).",
                false,
            ),
            lease_columns(
                "VirtualMachineMACAddress",
                ".spec.virtualMachineMACAddressRef",
            ),
        ),
        dvp_kind(
            "VirtualMachineOperation",
            "virtualmachineoperations",
            "virtualmachineoperation",
            &["vmop"],
            NS,
            true,
            typed::<vmop::VirtualMachineOperationSpec, vmop::VirtualMachineOperationStatus>(
                "An action applied once to a virtual machine: start, stop, restart, migrate, evict, restore or clone.",
                true,
            ),
            vmop_columns(),
        ),
        dvp_kind(
            "VirtualMachineSnapshot",
            "virtualmachinesnapshots",
            "virtualmachinesnapshot",
            &["vmsnapshot", "vms"],
            NS,
            true,
            typed::<vms::VirtualMachineSnapshotSpec, vms::VirtualMachineSnapshotStatus>(
                "A point-in-time snapshot of a virtual machine: its configuration and a snapshot of each disk.",
                true,
            ),
            snapshot_columns(),
        ),
        dvp_kind(
            "VirtualMachineSnapshotOperation",
            "virtualmachinesnapshotoperations",
            "virtualmachinesnapshotoperation",
            &["vmsop"],
            NS,
            true,
            typed::<
                vmsop::VirtualMachineSnapshotOperationSpec,
                vmsop::VirtualMachineSnapshotOperationStatus,
            >(
                "An action applied once to a virtual machine snapshot, such as creating a new VM from it.",
                true,
            ),
            vmsop_columns(),
        ),
        KindDef {
            group: crate::kinds::instance::INTERNAL_GROUP,
            kind: "InternalVirtualizationVirtualMachineInstance",
            plural: "internalvirtualizationvirtualmachineinstances",
            singular: "internalvirtualizationvirtualmachineinstance",
            short_names: &["intvirtvmi"],
            categories: &[],
            namespaced: true,
            versions: vec![VersionDef {
                name: "v1",
                served: true,
                storage: true,
                deprecation_warning: None,
                schema: typed::<
                    crate::kinds::instance::InstanceSpec,
                    crate::kinds::instance::InstanceStatus,
                >(
                    "One run of a virtual machine on a node (internal: written by the platform, not by users).",
                    true,
                ),
                printer_columns: instance_columns(),
                status_subresource: true,
            }],
        },
        KindDef {
            group: mc::DECKHOUSE_GROUP,
            kind: "ModuleConfig",
            plural: "moduleconfigs",
            singular: "moduleconfig",
            short_names: &["mc"],
            categories: &[],
            namespaced: false,
            versions: vec![VersionDef {
                name: "v1alpha1",
                served: true,
                storage: true,
                deprecation_warning: None,
                schema: typed::<mc::ModuleConfigSpec, mc::ModuleConfigStatus>(
                    "Settings of one platform module. The virtualization module reads ModuleConfig/virtualization.",
                    false,
                ),
                printer_columns: module_config_columns(),
                status_subresource: true,
            }],
        },
        KindDef {
            group: vs::SNAPSHOT_GROUP,
            kind: "VolumeSnapshot",
            plural: "volumesnapshots",
            singular: "volumesnapshot",
            short_names: &["vs"],
            categories: &[],
            namespaced: true,
            versions: vec![VersionDef {
                name: "v1",
                served: true,
                storage: true,
                deprecation_warning: None,
                schema: typed::<vs::VolumeSnapshotSpec, vs::VolumeSnapshotStatus>(
                    "A request for a point-in-time snapshot of a PersistentVolumeClaim.",
                    true,
                ),
                printer_columns: volume_snapshot_columns(),
                status_subresource: true,
            }],
        },
        KindDef {
            group: vs::SNAPSHOT_GROUP,
            kind: "VolumeSnapshotClass",
            plural: "volumesnapshotclasses",
            singular: "volumesnapshotclass",
            short_names: &["vsclass", "vsclasses"],
            categories: &[],
            namespaced: false,
            versions: vec![VersionDef {
                name: "v1",
                served: true,
                storage: true,
                deprecation_warning: None,
                schema: volume_snapshot_class_schema(),
                printer_columns: volume_snapshot_class_columns(),
                status_subresource: false,
            }],
        },
    ]
}

fn instance_columns() -> Vec<PrinterColumn> {
    vec![
        col("Phase", "string", ".status.phase", 0, "Where the run is."),
        col(
            "Node",
            "string",
            ".spec.nodeName",
            0,
            "Node the run is scheduled to.",
        ),
        col(
            "PID",
            "integer",
            ".status.pid",
            1,
            "QEMU's process id on the node.",
        ),
        col("Accel", "string", ".status.accel", 1, "kvm or tcg."),
        age(),
    ]
}

fn vmclass_kind() -> KindDef {
    const DESCRIPTION: &str = "A class of virtual machines: the virtual CPU model, node placement and the sizing policy VMs must follow.";
    KindDef {
        group: crate::GROUP,
        kind: "VirtualMachineClass",
        plural: "virtualmachineclasses",
        singular: "virtualmachineclass",
        short_names: &["vmc", "vmclass"],
        categories: CLUSTER,
        namespaced: false,
        versions: vec![
            VersionDef {
                name: crate::V1ALPHA3,
                served: true,
                storage: false,
                deprecation_warning: None,
                schema: typed::<
                    vmclass::v1alpha3::VirtualMachineClassSpec,
                    vmclass::VirtualMachineClassStatus,
                >(DESCRIPTION, true),
                printer_columns: vmclass_columns(),
                status_subresource: true,
            },
            VersionDef {
                name: crate::V1ALPHA2,
                served: true,
                storage: true,
                deprecation_warning: Some(VMCLASS_V1ALPHA2_DEPRECATION),
                schema: typed::<
                    vmclass::v1alpha2::VirtualMachineClassSpec,
                    vmclass::VirtualMachineClassStatus,
                >(DESCRIPTION, true),
                printer_columns: vmclass_columns(),
                status_subresource: true,
            },
        ],
    }
}

//! Admission: the validation and defaulting the platform applies to every write, beyond what the
//! structural schema checks. Pure: objects it needs to look at come through a [`Lookup`], and the
//! server can prefetch them from [`needs`].
//!
//! The server calls [`admit`] after pruning, structural defaulting and schema validation. It may
//! mutate the new object (defaulting); errors reject the write, warnings are returned to the
//! client as `Warning` headers.

mod cidr;
mod defaults;
mod fields;
mod images;
mod leases;
mod module_config;
mod names;
mod operations;
mod quantity;
pub mod sizing;
mod vd;
mod vm;
mod vmclass;
mod vmip;

use dvp_apimachinery::FieldError;
use serde_json::Value;

pub use defaults::{default_module_config, default_vmclass_generic, default_vmclass_host};
pub use module_config::module_settings;

/// The kind of write being admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

/// An object admission wants to look at, declared up front so the server can fetch it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Need {
    /// One object by Kind, namespace (None for cluster-scoped kinds) and name.
    Get {
        kind: &'static str,
        namespace: Option<String>,
        name: String,
    },
    /// Every object of a Kind, in one namespace or (None) in all namespaces / cluster-wide.
    List {
        kind: &'static str,
        namespace: Option<String>,
    },
}

/// Read access to stored objects (storage version), by Kind string.
pub trait Lookup {
    fn get(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value>;
    fn list(&self, kind: &str, namespace: Option<&str>) -> Vec<Value>;
}

/// A lookup with nothing stored.
pub struct NoObjects;

impl Lookup for NoObjects {
    fn get(&self, _: &str, _: Option<&str>, _: &str) -> Option<Value> {
        None
    }
    fn list(&self, _: &str, _: Option<&str>) -> Vec<Value> {
        Vec::new()
    }
}

/// One write to admit.
pub struct Request<'a> {
    pub operation: Operation,
    /// Kind, e.g. "VirtualMachine", "ModuleConfig".
    pub kind: &'a str,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    /// The new object (storage version); None on Delete.
    pub object: Option<&'a mut Value>,
    /// The stored object; None on Create.
    pub old_object: Option<&'a Value>,
    /// `Some("status")` for status writes: spec rules are skipped.
    pub subresource: Option<&'a str>,
}

/// The verdict: any error rejects the write.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Response {
    pub errors: Vec<FieldError>,
    pub warnings: Vec<String>,
}

impl Response {
    /// Whether the write may proceed.
    pub fn allowed(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Kind names used in [`Need`] and [`Lookup`].
pub mod kind {
    pub const VIRTUAL_MACHINE: &str = "VirtualMachine";
    pub const VIRTUAL_MACHINE_CLASS: &str = "VirtualMachineClass";
    pub const VIRTUAL_IMAGE: &str = "VirtualImage";
    pub const CLUSTER_VIRTUAL_IMAGE: &str = "ClusterVirtualImage";
    pub const VIRTUAL_DISK: &str = "VirtualDisk";
    pub const VIRTUAL_DISK_SNAPSHOT: &str = "VirtualDiskSnapshot";
    pub const VMBDA: &str = "VirtualMachineBlockDeviceAttachment";
    pub const VMIP: &str = "VirtualMachineIPAddress";
    pub const VMIP_LEASE: &str = "VirtualMachineIPAddressLease";
    pub const VMMAC: &str = "VirtualMachineMACAddress";
    pub const VMMAC_LEASE: &str = "VirtualMachineMACAddressLease";
    pub const VMOP: &str = "VirtualMachineOperation";
    pub const VM_SNAPSHOT: &str = "VirtualMachineSnapshot";
    pub const VMSOP: &str = "VirtualMachineSnapshotOperation";
    pub const MODULE_CONFIG: &str = "ModuleConfig";
}

/// The context every validator gets: the request, with the new object read-only.
pub(crate) struct Ctx<'a> {
    pub operation: Operation,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub old: Option<&'a Value>,
    pub lookup: &'a dyn Lookup,
}

impl Ctx<'_> {
    pub fn is_create(&self) -> bool {
        self.operation == Operation::Create
    }
    /// Whether `pointer` differs between the old and the new object (always true on create).
    pub fn changed(&self, new: &Value, pointer: &str) -> bool {
        match self.old {
            None => true,
            Some(old) => old.pointer(pointer) != new.pointer(pointer),
        }
    }
}

/// The objects [`admit`] will look up for this request.
pub fn needs(req: &Request) -> Vec<Need> {
    if req.subresource.is_some() {
        return Vec::new();
    }
    let ns = req.namespace;
    match (req.kind, req.operation) {
        (kind::VIRTUAL_MACHINE_CLASS, Operation::Delete) => vmclass::delete_needs(),
        (_, Operation::Delete) => Vec::new(),
        (kind, _) => {
            let Some(obj) = req.object.as_deref() else {
                return Vec::new();
            };
            match kind {
                kind::VIRTUAL_MACHINE => vm::needs(ns, req.name, obj),
                kind::VIRTUAL_MACHINE_CLASS => vmclass::needs(obj),
                kind::VMIP => vmip::needs(obj),
                kind::VMMAC => leases::vmmac_needs(obj),
                kind::VMBDA => operations::vmbda_needs(ns, obj),
                kind::MODULE_CONFIG => module_config::needs(req.name, req.old_object),
                _ => Vec::new(),
            }
        }
    }
}

/// Validate (and default) one write.
pub fn admit(req: Request, lookup: &dyn Lookup) -> Response {
    let mut resp = Response::default();
    if req.subresource.is_some() {
        return resp;
    }
    let ctx = Ctx {
        operation: req.operation,
        namespace: req.namespace,
        name: req.name,
        old: req.old_object,
        lookup,
    };
    if req.operation == Operation::Delete {
        if req.kind == kind::VIRTUAL_MACHINE_CLASS {
            vmclass::admit_delete(&ctx, &mut resp);
        }
        return resp;
    }
    let Some(obj) = req.object else {
        return resp;
    };
    match req.kind {
        kind::VIRTUAL_MACHINE => vm::admit(&ctx, obj, &mut resp),
        kind::VIRTUAL_MACHINE_CLASS => vmclass::admit(&ctx, obj, &mut resp),
        kind::VIRTUAL_IMAGE => images::admit_vi(&ctx, obj, &mut resp),
        kind::CLUSTER_VIRTUAL_IMAGE => images::admit_cvi(&ctx, obj, &mut resp),
        kind::VIRTUAL_DISK => vd::admit(&ctx, obj, &mut resp),
        kind::VMIP => vmip::admit(&ctx, obj, &mut resp),
        kind::VMIP_LEASE => leases::admit_vmipl(&ctx, obj, &mut resp),
        kind::VMMAC => leases::admit_vmmac(&ctx, obj, &mut resp),
        kind::VMMAC_LEASE => leases::admit_vmmacl(&ctx, obj, &mut resp),
        kind::VMOP => operations::admit_vmop(&ctx, obj, &mut resp),
        kind::VMSOP => operations::admit_vmsop(&ctx, obj, &mut resp),
        kind::VM_SNAPSHOT | kind::VIRTUAL_DISK_SNAPSHOT => {
            operations::admit_snapshot(&ctx, obj, &mut resp)
        }
        kind::VMBDA => operations::admit_vmbda(&ctx, obj, &mut resp),
        kind::MODULE_CONFIG => module_config::admit(&ctx, obj, &mut resp),
        _ => {}
    }
    resp
}

#[cfg(test)]
pub(crate) mod testing;

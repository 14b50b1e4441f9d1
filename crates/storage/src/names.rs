//! Names shared by the provisioners, the controllers and whoever creates claims: provisioner and
//! class names, annotation keys, the finalizer, and the names of volumes and claims (spec §5.1).

/// The node-local directory provisioner (ReadWriteOnce volumes pinned to one node).
pub const LOCAL_PROVISIONER: &str = "local.storage.dvp.io";
/// The shared directory provisioner (ReadWriteMany volumes every node can open).
pub const SHARED_PROVISIONER: &str = "shared.storage.dvp.io";

/// StorageClasses created at first start.
pub const CLASS_LOCAL: &str = "local";
pub const CLASS_LOCAL_WFFC: &str = "local-wffc";
pub const CLASS_SHARED: &str = "shared";
pub const CLASS_SHARED_WFFC: &str = "shared-wffc";

/// Marks the cluster's default StorageClass (value `"true"`).
pub const DEFAULT_CLASS_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";

/// What fills a new volume: `blank` (default), `backing` or `copy`.
pub const SOURCE_ANNOTATION: &str = "storage.dvp.io/source";
/// Absolute path of the file a `backing` or `copy` volume is made from.
pub const SOURCE_PATH_ANNOTATION: &str = "storage.dvp.io/source-path";
/// Format of that file: `qcow2` or `raw`.
pub const SOURCE_FORMAT_ANNOTATION: &str = "storage.dvp.io/source-format";

/// Set by the scheduler (here: by whoever places the consumer) on a WaitForFirstConsumer claim.
pub const SELECTED_NODE_ANNOTATION: &str = "volume.kubernetes.io/selected-node";
/// Which provisioner is responsible for a claim (set when provisioning starts).
pub const STORAGE_PROVISIONER_ANNOTATION: &str = "volume.kubernetes.io/storage-provisioner";
/// Which provisioner made a PV.
pub const PROVISIONED_BY_ANNOTATION: &str = "pv.kubernetes.io/provisioned-by";
/// Set on a claim once its binding to a PV is complete.
pub const BIND_COMPLETED_ANNOTATION: &str = "pv.kubernetes.io/bind-completed";
/// Set on a claim the controller (not a user) bound.
pub const BOUND_BY_CONTROLLER_ANNOTATION: &str = "pv.kubernetes.io/bound-by-controller";

/// Held on a claim and its PV until the volume's files are gone, so nothing leaks.
pub const VOLUME_FINALIZER: &str = "storage.dvp.io/volume-protection";

/// Node label the node affinity of local volumes selects on.
pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";

/// `volumeAttributes` key holding the absolute path of the volume's disk file.
pub const PATH_ATTRIBUTE: &str = "path";

/// File name of a volume's disk inside its directory.
pub const DISK_FILE: &str = "disk.qcow2";

/// The PV of a dynamically provisioned claim: `pvc-<claim uid>`.
pub fn pv_name(claim_uid: &str) -> String {
    format!("pvc-{claim_uid}")
}

/// The claim of a VirtualDisk: `d8v-vd-<name>-<uid>`.
pub fn virtual_disk_claim_name(disk_name: &str, disk_uid: &str) -> String {
    format!("d8v-vd-{disk_name}-{disk_uid}")
}

/// The claim of a VirtualImage stored on a volume: `d8v-vi-<name>-<uid>`.
pub fn virtual_image_claim_name(image_name: &str, image_uid: &str) -> String {
    format!("d8v-vi-{image_name}-{image_uid}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pv_is_named_after_the_claim_uid() {
        assert_eq!(pv_name("0b6c-11"), "pvc-0b6c-11");
    }

    #[test]
    fn claim_names_follow_the_supplements_generator() {
        assert_eq!(
            virtual_disk_claim_name("linux-disk", "u1"),
            "d8v-vd-linux-disk-u1"
        );
        assert_eq!(virtual_image_claim_name("ubuntu", "u2"), "d8v-vi-ubuntu-u2");
    }
}

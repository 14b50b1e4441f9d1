//! The patch formats of PATCH requests and field ownership:
//!
//! * [`merge_patch`]: JSON merge patch (RFC 7386), used by kubectl for CRs, `label`, `annotate`, `edit`;
//! * [`json_patch`]: JSON patch (RFC 6902), atomic;
//! * [`strategic_merge_patch`]: Kubernetes' strategic merge patch for core kinds, driven by a
//!   [`PatchMeta`] that knows which lists merge by key ([`core_patch_meta`]);
//! * [`apply_patch`] / [`record_update`]: server-side apply and `metadata.managedFields` bookkeeping.

mod apply;
mod fieldset;
mod json;
mod merge;
mod strategic;

pub use apply::{ApplyConflict, ApplyConflicts, apply_patch, record_update};
pub use fieldset::FieldSet;
pub use json::{json_equal, json_patch};
pub use merge::merge_patch;
pub use strategic::{
    CorePatchMeta, ListStrategy, PatchMeta, StaticListStrategy, StaticPatchMeta, core_patch_meta,
    strategic_merge_patch,
};

/// Why a patch could not be applied. The messages are meant for the 422/400 `Status` text.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PatchError {
    /// The JSON patch document itself is malformed (not a list, unknown op, bad pointer, …).
    #[error("invalid JSON patch: {0}")]
    InvalidJsonPatch(String),
    /// An operation refers to a location that does not exist.
    #[error("{op} operation does not apply: doc is missing path: \"{path}\"")]
    MissingPath { op: String, path: String },
    /// An array index in a path is out of range or not a number.
    #[error(
        "{op} operation does not apply: invalid index {index:?} in path \"{path}\" (the list has {len} items)"
    )]
    InvalidIndex {
        op: String,
        path: String,
        index: String,
        len: usize,
    },
    /// A `test` operation found a different value.
    #[error("testing value \"{path}\" failed: found {actual}, expected {expected}")]
    TestFailed {
        path: String,
        actual: String,
        expected: String,
    },
    /// `move` into a child of the moved value.
    #[error("move operation does not apply: cannot move \"{from}\" into its own child \"{path}\"")]
    MoveIntoChild { from: String, path: String },
    /// The strategic merge patch is malformed or contradicts the patch metadata.
    #[error("invalid strategic merge patch at \"{path}\": {reason}")]
    InvalidStrategicPatch { path: String, reason: String },
}

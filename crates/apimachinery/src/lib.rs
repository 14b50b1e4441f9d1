//! Pure Kubernetes API machinery shared by the API server, the resource model and (later) the
//! controllers: field errors and `Status` bodies, label and field selectors, the four patch
//! formats, the JSONPath subset of printer columns, quantities, human durations, structural
//! schemas (prune, default, validate), Table cells, name and label validators, and fuzzing entry
//! points. Nothing here does I/O (apart from reading the clock in `duration::now_*`).

pub mod duration;
pub mod errors;
pub mod fuzzing;
pub mod jsonpath;
pub mod patch;
pub mod quantity;
pub mod schema;
pub mod selector;
pub mod table;
pub mod validation;

pub use errors::{FieldError, FieldErrorType, StatusError, StatusReason};

//! The DVP API server: a Kubernetes-compatible REST API over the DVP resource model.
//!
//! * [`api::Api`] — the API semantics (CRUD, patch, watch, admission), used by HTTP and by
//!   in-process controllers alike.
//! * [`http`] — the wire: discovery, OpenAPI, Tables, watch streams, Status errors.
//! * [`resources`] — the registry of served kinds; [`core_kinds`] — built-in Kubernetes kinds.
//! * [`gc`], [`namespaces`] — the garbage collector and namespace controller.
//! * [`events`] — the Event recorder controllers use; [`bootstrap`] — first-start objects.

// `StatusError` carries a full Kubernetes Status (causes, details); errors are the cold path,
// so returning it by value is simpler than boxing it everywhere.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod bootstrap;
pub mod core_kinds;
pub mod events;
pub mod fuzzing;
pub mod gc;
pub mod http;
pub mod namespaces;
pub mod objects;
mod registry;
pub mod resources;

pub use registry::default_registry;

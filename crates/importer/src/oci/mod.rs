//! Pulling a disk out of a container image (the `FROM scratch` + `COPY x /disk/x` recipe).

pub mod auth;
pub(crate) mod layer;
pub mod manifest;
pub mod reference;
pub(crate) mod registry;

pub use auth::Credentials;
pub use reference::Reference;

//! HTTP(S) downloads: the client, TLS roots, retry policy and the resumable download loop.

pub(crate) mod client;
pub(crate) mod download;
pub(crate) mod retry;
pub(crate) mod tls;

pub use client::Timeouts;
pub use retry::RetryPolicy;

//! The DVP API server.

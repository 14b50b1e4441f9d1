//! The conformance suite every [`crate::Store`] implementation must pass.

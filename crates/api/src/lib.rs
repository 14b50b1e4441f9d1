//! The DVP resource model.

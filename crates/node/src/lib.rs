//! The node agent: registers the Node, runs one QEMU per instance scheduled here, reports what
//! the processes do, and adopts running guests after a restart.

pub mod cgroup;
pub mod host;
pub mod vmm;

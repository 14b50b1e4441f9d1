//! The node agent: registers the Node, runs one QEMU per instance scheduled here, reports what
//! the processes do, and adopts running guests after a restart.
//!
//! * [`agent::run`] is the whole agent (what `dvpd node` and `dvpd up` start).
//! * [`registration`] builds the Node; [`supervisor`] owns the instances' processes.
//! * [`net`] connects guests: bridges, taps, the DHCP server, user-mode fallback.
//! * [`host`] and [`vmm`] are the effects on the machine and on QEMU, behind traits so the
//!   supervisor's decisions are tested without root or QEMU.

pub mod agent;
pub mod cgroup;
pub mod host;
pub mod net;
pub mod registration;
pub mod streams;
pub mod supervisor;
pub mod vmm;

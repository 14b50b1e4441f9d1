//! QEMU for the platform.
//!
//! * [`qemu_img`]: image inspection, creation, conversion with progress, resizing, checks.
//! * [`argv`]: the VM command line, a pure translation of an instance spec and the host's facts.
//! * [`host`]: what the command line depends on about the host (accelerator, OVMF, version).
//! * [`qmp`] and [`qga`]: async clients for QEMU's control protocol and the guest agent.
//! * [`seed`]: cloud-init NoCloud and sysprep media (a small ISO 9660 + Joliet writer).
//!
//! Command lines are built by pure functions so they can be tested without QEMU; the async
//! qemu-img functions kill their child if the returned future is dropped.

pub mod argv;
pub mod fuzzing;
pub mod host;
pub mod qemu_img;
pub mod qga;
pub mod qmp;
pub mod seed;

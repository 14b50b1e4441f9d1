//! QEMU for the platform.
//!
//! * [`qemu_img`]: image inspection, creation, conversion with progress, resizing, checks.
//! * [`host`]: what the command line depends on about the host (accelerator, OVMF, version).
//! * [`qmp`] and [`qga`]: async clients for QEMU's control protocol and the guest agent.
//!
//! The async qemu-img functions kill their child if the returned future is dropped.

pub mod fuzzing;
pub mod host;
pub mod qemu_img;
pub mod qga;
pub mod qmp;

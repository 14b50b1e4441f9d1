//! Wrappers around QEMU's programs. For now only [`qemu_img`]: image inspection, creation,
//! conversion with progress, resizing, consistency checks and comparison.
//!
//! Command lines are built by pure functions ([`qemu_img::args`]) so they can be tested without
//! QEMU; the async functions run the real `qemu-img` and kill it when their future is dropped.

pub mod qemu_img;

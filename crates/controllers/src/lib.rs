//! The platform's controllers: one reconciler per kind, written against the Kubernetes API with
//! kube-rs. In `dvpd up` they reach the API through an in-process client (no socket, same
//! semantics as kubectl's requests); pointed at a real cluster with the CRDs installed, the same
//! code runs unchanged.
//!
//! Conventions: a reconciler reads the object and what it depends on into an explicit state,
//! runs its steps in order over that state, and writes `status` once at the end
//! ([`status::write`]), with typed conditions from `dvp_api::conditions` and Events through
//! [`events::Recorder`].

pub mod context;
pub mod cvi;
pub mod events;
pub mod images;
pub mod ipam;
pub mod macs;
pub mod scheduler;
pub mod selection;
pub mod status;
pub mod vd;
pub mod vi;
pub mod vm;
pub mod vmclass;
pub mod vmop;
pub mod volumes;

pub use context::Context;

use std::sync::Arc;

/// Start the selected controllers; returns when they all stop (normally never).
pub async fn run(ctx: Arc<Context>, selection: &selection::Selection) {
    use futures::FutureExt;
    use futures::future::BoxFuture;
    let all: [(&str, BoxFuture<'static, ()>); 6] = [
        ("vmclass", vmclass::run(ctx.clone()).boxed()),
        ("images", images::run_all(ctx.clone()).boxed()),
        ("volumes", volumes::run(ctx.clone()).boxed()),
        ("vm", vm::run(ctx.clone()).boxed()),
        ("vmop", vmop::run(ctx.clone()).boxed()),
        // Address management: IPs of the main network and MACs of additional interfaces.
        (
            "ipam",
            futures::future::join(ipam::run(ctx.clone()), macs::run(ctx.clone()))
                .map(|_| ())
                .boxed(),
        ),
    ];
    let running = all
        .into_iter()
        .filter(|(name, _)| selection.runs(name))
        .map(|(_, run)| run);
    futures::future::join_all(running).await;
}

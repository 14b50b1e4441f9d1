//! Figure 1: VirtualMachine creates per second over HTTPS with 1, 16 and 64 clients (HTTP/1.1
//! keep-alive connections, and one multiplexed HTTP/2 connection), against raw store writes.

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;

use super::{Ctx, create_all, remove_data_dir};
use crate::client::{Call, Protocol};
use crate::manifests::{VMS_PATH, virtual_machine, vm_name};
use crate::report::{Aim, Report};
use crate::stats::{ms, summarize};

/// The aim for creates per second.
pub const CREATE_AIM: f64 = 3_000.0;

pub async fn run(ctx: &Ctx, report: &mut Report) -> anyhow::Result<()> {
    let count = ctx.scale.creates;
    let bodies: Arc<Vec<Bytes>> = Arc::new(
        (0..count)
            .map(|i| Bytes::from(virtual_machine(&vm_name(i))))
            .collect(),
    );
    let mut protocols = vec![Protocol::Http1];
    if ctx.http2 {
        protocols.push(Protocol::Http2);
    }
    let mut stored_size = 0;
    for &concurrency in &ctx.concurrency {
        let mut api_rates = Vec::new();
        for &protocol in &protocols {
            let name = format!("create_{}_c{concurrency}", protocol.label());
            let mut dvpd = ctx.fresh_dvpd(&name);
            dvpd.start().await?;
            // One create first: it warms the server's lazy state and tells the stored size.
            let mut conn = dvpd.endpoint().connect(Protocol::Http1).await?;
            let warm = conn
                .call(Call::post(VMS_PATH, virtual_machine("warmup")))
                .await?
                .expect(StatusCode::CREATED, "warm-up create")?;
            stored_size = warm.body.len();
            let load = create_all(&dvpd, protocol, concurrency, VMS_PATH, bodies.clone()).await?;
            let rate = load.per_second();
            let aim = Aim::AtLeast(CREATE_AIM);
            if concurrency == *ctx.concurrency.iter().max().unwrap_or(&concurrency) {
                report.add_with_aim(&name, rate, "creates/s", aim);
            } else {
                report.add(&name, rate, "creates/s");
            }
            let latency = summarize(load.latencies.clone()).expect("creates were timed");
            report.add(format!("{name}_p50"), ms(latency.p50), "ms");
            report.add(format!("{name}_p99"), ms(latency.p99), "ms");
            report.add(
                format!("{name}_server_cpu"),
                load.server_cpu_us(),
                "us/create",
            );
            report.add(
                format!("{name}_client_cpu"),
                load.client_cpu_us(),
                "us/create",
            );
            api_rates.push((name, rate));
            dvpd.stop().await?;
            remove_data_dir(dvpd.data_dir());
        }
        let dir = ctx.work_dir.join(format!("store_c{concurrency}"));
        let store_rate =
            super::store::writes_per_second(&dir, concurrency, count, stored_size).await?;
        remove_data_dir(&dir);
        report.add(
            format!("store_writes_c{concurrency}"),
            store_rate,
            "writes/s",
        );
        for (name, rate) in api_rates {
            report.add(format!("{name}_vs_store"), rate / store_rate, "ratio");
        }
    }
    report.add("vm_stored_size", stored_size as f64, "bytes");
    Ok(())
}

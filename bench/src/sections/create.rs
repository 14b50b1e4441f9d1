//! Figure 1: VirtualMachine creates per second over HTTPS with 1, 16 and 64 clients (HTTP/1.1
//! keep-alive connections, and one multiplexed HTTP/2 connection), against raw store writes.
//! Each figure is the median of `repeat` runs on fresh servers, because other work on a shared
//! machine (reported as `_other_cores`) moves single runs a lot.

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;

use super::{Ctx, Load, create_all, remove_data_dir};
use crate::client::{Call, Protocol};
use crate::manifests::{VMS_PATH, virtual_machine, vm_name};
use crate::report::{Aim, Report};
use crate::stats::{ms, summarize};

/// The aim for creates per second.
pub const CREATE_AIM: f64 = 3_000.0;

/// The element with the median key (the upper one of an even count). `items` must not be empty.
pub fn median_by<T>(mut items: Vec<T>, key: impl Fn(&T) -> f64) -> T {
    items.sort_by(|a, b| key(a).total_cmp(&key(b)));
    let middle = items.len() / 2;
    items.swap_remove(middle)
}

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
    let highest = ctx.concurrency.iter().copied().max().unwrap_or(1);
    let mut stored_size = 0;
    for &concurrency in &ctx.concurrency {
        let mut api_rates = Vec::new();
        for &protocol in &protocols {
            let name = format!("create_{}_c{concurrency}", protocol.label());
            let mut runs = Vec::with_capacity(ctx.scale.repeat);
            for attempt in 0..ctx.scale.repeat {
                let (load, size) = one_run(
                    ctx,
                    &format!("{name}_{attempt}"),
                    protocol,
                    concurrency,
                    &bodies,
                )
                .await?;
                stored_size = size;
                runs.push(load);
            }
            let (min, max) = min_max(runs.iter().map(Load::per_second));
            let load = median_by(runs, Load::per_second);
            let rate = load.per_second();
            if concurrency == highest {
                report.add_with_aim(&name, rate, "creates/s", Aim::AtLeast(CREATE_AIM));
            } else {
                report.add(&name, rate, "creates/s");
            }
            if ctx.scale.repeat > 1 {
                report.add(format!("{name}_min"), min, "creates/s");
                report.add(format!("{name}_max"), max, "creates/s");
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
            report.add(format!("{name}_other_cores"), load.other_cores(), "cores");
            api_rates.push((name, rate));
        }
        let mut store_rates = Vec::with_capacity(ctx.scale.repeat);
        for attempt in 0..ctx.scale.repeat {
            let dir = ctx.work_dir.join(format!("store_c{concurrency}_{attempt}"));
            store_rates.push(
                super::store::writes_per_second(&dir, concurrency, count, stored_size).await?,
            );
            remove_data_dir(&dir);
        }
        let store_rate = median_by(store_rates, |r| *r);
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

/// One timed run on a fresh dvpd; also returns the size of a created VM as the server sent it.
async fn one_run(
    ctx: &Ctx,
    name: &str,
    protocol: Protocol,
    concurrency: usize,
    bodies: &Arc<Vec<Bytes>>,
) -> anyhow::Result<(Load, usize)> {
    let mut dvpd = ctx.fresh_dvpd(name);
    dvpd.start().await?;
    // One create first: it warms the server's lazy state and tells the stored size.
    let mut conn = dvpd.endpoint().connect(Protocol::Http1).await?;
    let warm = conn
        .call(Call::post(VMS_PATH, virtual_machine("warmup")))
        .await?
        .expect(StatusCode::CREATED, "warm-up create")?;
    let load = create_all(&dvpd, protocol, concurrency, VMS_PATH, bodies.clone()).await?;
    dvpd.stop().await?;
    remove_data_dir(dvpd.data_dir());
    Ok((load, warm.body.len()))
}

fn min_max(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_three_is_the_middle_value() {
        assert_eq!(median_by(vec![5.0, 1.0, 3.0], |v| *v), 3.0);
    }

    #[test]
    fn median_of_one_is_that_value() {
        assert_eq!(median_by(vec![7.0], |v| *v), 7.0);
    }
}

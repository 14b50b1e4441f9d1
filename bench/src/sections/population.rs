//! Figure 4: memory per 10,000 VirtualMachines (dvpd's RSS before and after creating them) and
//! the store's size on disk. The server is left running with the VMs for the read and watch
//! figures.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;

use super::{Ctx, create_all};
use crate::client::{Call, Protocol};
use crate::manifests::{TABLE_ACCEPT, VMS_PATH, virtual_machine, vm_name};
use crate::report::Report;
use crate::server::Dvpd;

const MIB: f64 = 1024.0 * 1024.0;
/// Time for the server's background work (the garbage collector's index) to catch up.
const SETTLE: Duration = Duration::from_secs(2);

/// Starts a dvpd holding `scale.population` VMs; reports memory and disk per VM if `measure`.
pub async fn run(ctx: &Ctx, report: &mut Report, measure: bool) -> anyhow::Result<Dvpd> {
    let count = ctx.scale.population;
    let mut dvpd = ctx.fresh_dvpd("population");
    dvpd.start().await?;
    warm_up(&dvpd).await?;
    tokio::time::sleep(SETTLE).await;
    let before = dvpd.memory()?;
    let bodies: Arc<Vec<Bytes>> = Arc::new(
        (0..count)
            .map(|i| Bytes::from(virtual_machine(&vm_name(i))))
            .collect(),
    );
    let load = create_all(&dvpd, Protocol::Http1, 16, VMS_PATH, bodies).await?;
    tokio::time::sleep(SETTLE).await;
    let after = dvpd.memory()?;
    if measure {
        let per_10k = (after.rss as f64 - before.rss as f64) * 10_000.0 / count as f64;
        report.add("rss_before_vms", before.rss as f64 / MIB, "MiB");
        report.add(
            format!("rss_after_{count}_vms"),
            after.rss as f64 / MIB,
            "MiB",
        );
        report.add("rss_per_10000_vms", per_10k / MIB, "MiB");
        report.add(
            "rss_peak_while_creating",
            after.peak_rss as f64 / MIB,
            "MiB",
        );
        let disk = dvpd.store_bytes()?;
        report.add(
            format!("store_file_with_{count}_vms"),
            disk as f64 / MIB,
            "MiB",
        );
        report.add("store_file_per_vm", disk as f64 / count as f64, "bytes");
        report.add(
            "population_create_http1_c16",
            load.per_second(),
            "creates/s",
        );
    }
    Ok(dvpd)
}

/// One of each request the later figures make, so lazily built server state is not counted as
/// per-VM memory.
async fn warm_up(dvpd: &Dvpd) -> anyhow::Result<()> {
    let mut conn = dvpd.endpoint().connect(Protocol::Http1).await?;
    conn.call(Call::post(VMS_PATH, virtual_machine("warmup")))
        .await?
        .expect(StatusCode::CREATED, "warm-up create")?;
    conn.call(Call::get(format!("{VMS_PATH}/warmup")))
        .await?
        .expect(StatusCode::OK, "warm-up get")?;
    conn.call(Call::get(VMS_PATH))
        .await?
        .expect(StatusCode::OK, "warm-up list")?;
    conn.call(Call::get(VMS_PATH).accept(TABLE_ACCEPT))
        .await?
        .expect(StatusCode::OK, "warm-up table list")?;
    Ok(())
}

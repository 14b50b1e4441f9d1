//! Figure 5: restart time with many objects (small ConfigMaps): from spawning dvpd until
//! `/readyz` answers 200, and until the first LIST of those objects succeeds — after a graceful
//! stop (SIGTERM), after `kill -9` while idle, and after `kill -9` in the middle of writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;

use super::{Ctx, create_all, open_clients, remove_data_dir};
use crate::client::{Call, Protocol};
use crate::manifests::{CONFIGMAPS_PATH, config_map};
use crate::report::Report;
use crate::server::Dvpd;
use crate::stats::ms;

const MIB: f64 = 1024.0 * 1024.0;
/// Idle time before a stop or kill, so the store can record its allocator state.
const IDLE: Duration = Duration::from_secs(1);
/// How long writes run before the busy `kill -9`.
const BUSY: Duration = Duration::from_secs(1);
/// What dvpd logs when it has to rebuild the store's allocator state at open.
const REPAIR_LOG: &str = "not closed cleanly";

pub async fn run(ctx: &Ctx, report: &mut Report) -> anyhow::Result<()> {
    let count = ctx.scale.restart_objects;
    let mut dvpd = ctx.fresh_dvpd("restart");
    dvpd.start().await?;
    let bodies: Arc<Vec<Bytes>> = Arc::new((0..count).map(|i| config_map(i).into()).collect());
    let fill = create_all(&dvpd, Protocol::Http1, 64, CONFIGMAPS_PATH, bodies).await?;
    report.add(
        format!("restart_fill_{count}_configmaps_c64"),
        fill.per_second(),
        "creates/s",
    );
    report.add(
        format!("store_file_with_{count}_configmaps"),
        dvpd.store_bytes()? as f64 / MIB,
        "MiB",
    );
    tokio::time::sleep(IDLE).await;
    report.add(
        format!("rss_with_{count}_configmaps"),
        dvpd.memory()?.rss as f64 / MIB,
        "MiB",
    );
    report.add("stop_sigterm", ms(dvpd.stop().await?), "ms");
    restart(&mut dvpd, "clean", count, report).await?;

    tokio::time::sleep(IDLE).await;
    dvpd.kill().await?;
    restart(&mut dvpd, "kill9_idle", count, report).await?;

    let acknowledged = Arc::new(AtomicUsize::new(0));
    let writers = busy_writers(&dvpd, count, acknowledged.clone()).await?;
    tokio::time::sleep(BUSY).await;
    dvpd.kill().await?;
    for writer in writers {
        let _ = writer.await;
    }
    let expected = count + acknowledged.load(Ordering::SeqCst);
    let listed = restart(&mut dvpd, "kill9_busy", expected, report).await?;
    report.add(
        "kill9_busy_lost_acknowledged_creates",
        expected.saturating_sub(listed) as f64,
        "objects",
    );
    dvpd.stop().await?;
    remove_data_dir(dvpd.data_dir());
    Ok(())
}

/// Starts dvpd again, reports the times, and returns how many ConfigMaps the first LIST held.
async fn restart(
    dvpd: &mut Dvpd,
    label: &str,
    expected: usize,
    report: &mut Report,
) -> anyhow::Result<usize> {
    let repairs_before = dvpd.log_text().matches(REPAIR_LOG).count();
    let ready = dvpd.start().await?;
    let after_ready = Instant::now();
    let mut conn = dvpd.endpoint().connect(Protocol::Http1).await?;
    // kubectl's first request shape; the server may ignore the limit and send everything.
    let reply = conn
        .call(Call::get(format!("{CONFIGMAPS_PATH}?limit=500")))
        .await?
        .expect(StatusCode::OK, "first list after restart")?;
    let first_list = ready + after_ready.elapsed();
    let repaired = dvpd.log_text().matches(REPAIR_LOG).count() > repairs_before;
    let listed: serde_json::Value = serde_json::from_slice(&reply.body)?;
    let mut items = listed["items"].as_array().map_or(0, Vec::len);
    if listed["metadata"]["continue"]
        .as_str()
        .is_some_and(|c| !c.is_empty())
    {
        // The server paged the answer: count with one unpaged list (not timed).
        let all = conn
            .call(Call::get(CONFIGMAPS_PATH))
            .await?
            .expect(StatusCode::OK, "full list after restart")?;
        let all: serde_json::Value = serde_json::from_slice(&all.body)?;
        items = all["items"].as_array().map_or(0, Vec::len);
    }
    if items < expected {
        println!(
            "# warning: after the {label} restart the list holds {items} ConfigMaps; expected at least {expected}"
        );
    }
    report.add(format!("restart_{label}_readyz"), ms(ready), "ms");
    report.add(format!("restart_{label}_first_list"), ms(first_list), "ms");
    report.add(
        format!("restart_{label}_store_repaired"),
        f64::from(u8::from(repaired)),
        "bool",
    );
    Ok(items)
}

/// 64 clients creating ConfigMaps until the server goes away; counts acknowledged creates.
async fn busy_writers(
    dvpd: &Dvpd,
    first: usize,
    acknowledged: Arc<AtomicUsize>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let next = Arc::new(AtomicUsize::new(first));
    let clients = open_clients(dvpd.endpoint(), Protocol::Http1, 64).await?;
    Ok(clients
        .into_iter()
        .map(|mut conn| {
            let (next, acknowledged) = (next.clone(), acknowledged.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    match conn.call(Call::post(CONFIGMAPS_PATH, config_map(i))).await {
                        Ok(reply) if reply.status == StatusCode::CREATED => {
                            acknowledged.fetch_add(1, Ordering::SeqCst);
                        }
                        _ => return,
                    }
                }
            })
        })
        .collect())
}

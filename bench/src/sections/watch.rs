//! Figure 3: watch delivery latency. Many watchers follow the VMs of the namespace from the
//! list's resourceVersion; one client merge-patches a label on a VM, waits for the PATCH to be
//! acknowledged and for every watcher to see the change, then makes the next change.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::mpsc;

use crate::client::{Call, Conn, Protocol};
use crate::manifests::{VMS_PATH, seq_in_event, seq_label_patch, vm_name};
use crate::report::{Aim, Report};
use crate::server::Dvpd;
use crate::stats::{ms, summarize};

/// The aim for the 99th percentile of delivery latency.
pub const WATCH_P99_AIM_MS: f64 = 10.0;
/// How long a change may take to reach every watcher before it counts as missing.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// One watcher saw change `seq` at `at`.
struct Receipt {
    watcher: usize,
    seq: usize,
    at: Instant,
}

pub async fn run(
    dvpd: &Dvpd,
    population: usize,
    watchers: usize,
    changes: usize,
    report: &mut Report,
) -> anyhow::Result<()> {
    let endpoint = dvpd.endpoint();
    let mut conn = endpoint.connect(Protocol::Http1).await?;
    // A list that matches nothing still carries the revision to watch from.
    let listed = conn
        .call(Call::get(format!(
            "{VMS_PATH}?labelSelector=bench-nothing%3Dx"
        )))
        .await?
        .expect(StatusCode::OK, "list for the watch revision")?;
    let listed: serde_json::Value = serde_json::from_slice(&listed.body)?;
    let revision = listed["metadata"]["resourceVersion"]
        .as_str()
        .context("the list has no metadata.resourceVersion")?
        .to_string();

    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut readers = Vec::with_capacity(watchers);
    for watcher in 0..watchers {
        let mut watch_conn = endpoint.connect(Protocol::Http1).await?;
        let response = watch_conn
            .start(Call::get(format!(
                "{VMS_PATH}?watch=true&resourceVersion={revision}"
            )))
            .await?;
        if response.status() != StatusCode::OK {
            bail!("watch answered {}", response.status());
        }
        let tx = tx.clone();
        readers.push(tokio::spawn(read_events(
            response.into_body(),
            watch_conn,
            watcher,
            tx,
        )));
    }
    drop(tx);

    let mut from_ack = Vec::with_capacity(changes * watchers);
    let mut from_send = Vec::with_capacity(changes * watchers);
    let mut patches = Vec::with_capacity(changes);
    let (mut before_ack, mut missing) = (0usize, 0usize);
    for seq in 0..changes {
        let path = format!("{VMS_PATH}/{}", vm_name(seq % population));
        let sent = Instant::now();
        conn.call(Call::merge_patch(path, seq_label_patch(seq)))
            .await?
            .expect(StatusCode::OK, "label patch")?;
        let acked = Instant::now();
        patches.push(acked - sent);
        let mut seen = vec![false; watchers];
        let mut got = 0;
        let deadline = tokio::time::Instant::from_std(acked + DELIVERY_TIMEOUT);
        while got < watchers {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(Receipt {
                    watcher,
                    seq: s,
                    at,
                })) if s == seq && !seen[watcher] => {
                    seen[watcher] = true;
                    got += 1;
                    from_send.push(at - sent);
                    from_ack.push(at.saturating_duration_since(acked));
                    before_ack += usize::from(at < acked);
                }
                Ok(Some(_)) => {}
                Ok(None) => bail!("every watch stream ended early"),
                Err(_) => {
                    missing += watchers - got;
                    break;
                }
            }
        }
    }
    for reader in &readers {
        reader.abort();
    }

    let name = format!("watch_{watchers}_watchers");
    let delivery = summarize(from_ack).context("no watch event arrived")?;
    report.add(format!("{name}_p50"), ms(delivery.p50), "ms");
    report.add_with_aim(
        format!("{name}_p99"),
        ms(delivery.p99),
        "ms",
        Aim::Below(WATCH_P99_AIM_MS),
    );
    report.add(format!("{name}_max"), ms(delivery.max), "ms");
    let end_to_end = summarize(from_send).expect("same samples");
    report.add(format!("{name}_from_send_p50"), ms(end_to_end.p50), "ms");
    report.add(format!("{name}_from_send_p99"), ms(end_to_end.p99), "ms");
    let patch = summarize(patches).expect("patches were timed");
    report.add("watch_patch_p50", ms(patch.p50), "ms");
    report.add("watch_patch_p99", ms(patch.p99), "ms");
    report.add(
        "watch_events_before_ack",
        before_ack as f64 * 100.0 / delivery.count as f64,
        "%",
    );
    report.add("watch_events_missing", missing as f64, "events");
    Ok(())
}

/// Splits a watch stream into lines and reports each change's arrival. `conn` is held so the
/// connection lives as long as the stream.
async fn read_events(
    mut body: Incoming,
    conn: Conn,
    watcher: usize,
    receipts: mpsc::UnboundedSender<Receipt>,
) {
    let _conn = conn;
    let mut pending = Vec::new();
    while let Some(Ok(frame)) = body.frame().await {
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let at = Instant::now();
        pending.extend_from_slice(&data);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if let Some(seq) = seq_in_event(&line) {
                let _ = receipts.send(Receipt { watcher, seq, at });
            }
        }
    }
}

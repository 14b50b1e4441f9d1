//! Figure 2: latency of GET of one VM (JSON) and of LIST of every VM, as JSON and as a Table,
//! sequentially over one keep-alive HTTP/1.1 connection.

use std::time::{Duration, Instant};

use http::StatusCode;

use crate::client::{Call, Protocol};
use crate::manifests::{TABLE_ACCEPT, VMS_PATH, vm_name};
use crate::report::Report;
use crate::server::Dvpd;
use crate::stats::{ms, summarize};

const WARM_UP_GETS: usize = 50;
const MIB: f64 = 1024.0 * 1024.0;

pub async fn run(
    dvpd: &Dvpd,
    population: usize,
    get_samples: usize,
    list_samples: usize,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut conn = dvpd.endpoint().connect(Protocol::Http1).await?;
    let path = format!("{VMS_PATH}/{}", vm_name(population / 2));
    let mut samples = Vec::with_capacity(get_samples);
    for i in 0..WARM_UP_GETS + get_samples {
        let sent = Instant::now();
        conn.call(Call::get(path.clone()))
            .await?
            .expect(StatusCode::OK, "get")?;
        if i >= WARM_UP_GETS {
            samples.push(sent.elapsed());
        }
    }
    let get = summarize(samples).expect("gets were timed");
    report.add("get_vm_p50", ms(get.p50), "ms");
    report.add("get_vm_p99", ms(get.p99), "ms");

    for (label, accept) in [("json", "application/json"), ("table", TABLE_ACCEPT)] {
        let mut samples: Vec<Duration> = Vec::with_capacity(list_samples);
        let mut size = 0;
        for _ in 0..list_samples {
            let sent = Instant::now();
            let reply = conn
                .call(Call::get(VMS_PATH).accept(accept))
                .await?
                .expect(StatusCode::OK, "list")?;
            samples.push(sent.elapsed());
            size = reply.body.len();
            if label == "json" && samples.len() == 1 {
                let listed: serde_json::Value = serde_json::from_slice(&reply.body)?;
                let items = listed["items"].as_array().map_or(0, Vec::len);
                anyhow::ensure!(
                    items > population,
                    "the list has {items} VMs; expected {population} plus the warm-up VM"
                );
            }
        }
        let list = summarize(samples).expect("lists were timed");
        let name = format!("list_{population}_vms_{label}");
        report.add(format!("{name}_p50"), ms(list.p50), "ms");
        report.add(format!("{name}_p99"), ms(list.p99), "ms");
        report.add(format!("{name}_size"), size as f64 / MIB, "MiB");
    }
    // LISTs build the whole answer in memory: the peak shows what one costs.
    let memory = dvpd.memory()?;
    report.add("rss_peak_after_lists", memory.peak_rss as f64 / MIB, "MiB");
    report.add("rss_after_lists", memory.rss as f64 / MIB, "MiB");
    Ok(())
}

//! `dvp-bench`: starts a real `dvpd up` on a fresh data dir and a free port, talks to it over
//! HTTPS like kubectl does, and prints one `name: value unit` line per figure, then a summary
//! table. See `bench/README.md` for what each figure means.

mod args;
mod client;
mod cpu;
mod kubeconfig;
mod manifests;
mod report;
mod sections;
mod server;
mod stats;

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;

use args::{Args, Section};
use report::Report;
use sections::Ctx;

fn dvpd_binary(args: &Args) -> anyhow::Result<PathBuf> {
    let path = match &args.dvpd {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .context("locating the benchmark binary")?
            .with_file_name("dvpd"),
    };
    if !path.is_file() {
        bail!(
            "no dvpd binary at {}: build it into the same target dir (`cargo build --release -p dvpd -p dvp-bench`) or pass --dvpd PATH",
            path.display()
        );
    }
    Ok(path)
}

async fn run(args: Args) -> anyhow::Result<Report> {
    let dvpd_binary = dvpd_binary(&args)?;
    let parent = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let work = tempfile::Builder::new()
        .prefix("dvp-bench-")
        .tempdir_in(&parent)
        .with_context(|| format!("creating a work dir under {}", parent.display()))?;
    let ctx = Ctx {
        dvpd_binary,
        work_dir: work.path().to_owned(),
        scale: args.scale(),
        concurrency: args.concurrency.clone(),
        http2: !args.no_http2,
    };
    println!(
        "# dvp-bench: dvpd {}, work dir {}, {:?}",
        ctx.dvpd_binary.display(),
        ctx.work_dir.display(),
        ctx.scale
    );
    let mut report = Report::default();
    if args.runs(Section::Create) {
        println!("# create throughput ({} VMs per figure)", ctx.scale.creates);
        sections::create::run(&ctx, &mut report).await?;
    }
    if args.runs(Section::Memory) || args.runs(Section::Reads) || args.runs(Section::Watch) {
        println!("# memory, with {} VMs", ctx.scale.population);
        let mut dvpd =
            sections::population::run(&ctx, &mut report, args.runs(Section::Memory)).await?;
        if args.runs(Section::Reads) {
            println!("# GET and LIST latency");
            let s = ctx.scale;
            sections::reads::run(
                &dvpd,
                s.population,
                s.get_samples,
                s.list_samples,
                &mut report,
            )
            .await?;
        }
        if args.runs(Section::Watch) {
            println!("# watch delivery latency");
            let s = ctx.scale;
            sections::watch::run(
                &dvpd,
                s.population,
                s.watchers,
                s.watch_changes,
                &mut report,
            )
            .await?;
        }
        if args.runs(Section::Memory) {
            let memory = dvpd.memory()?;
            report.add("rss_at_end", memory.rss as f64 / (1024.0 * 1024.0), "MiB");
        }
        dvpd.stop().await?;
        sections::remove_data_dir(dvpd.data_dir());
    }
    if args.runs(Section::Restart) {
        println!("# restart with {} ConfigMaps", ctx.scale.restart_objects);
        sections::restart::run(&ctx, &mut report).await?;
    }
    Ok(report)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run(args))?;
    println!("\n# summary\n{}", report.table());
    Ok(())
}

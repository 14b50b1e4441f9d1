//! `d8`: the platform's command-line tool.
//!
//! * `d8 k ARGS…` (or `d8 kubectl ARGS…`) runs kubectl against the platform: the kubeconfig comes
//!   from `--kubeconfig`, then `$KUBECONFIG`, then the default data dir of `dvpd up`.
//! * `d8 data export download vd/NAME -o FILE` downloads a disk (same kubeconfig lookup); `d8
//!   download` is the guide's older spelling.
//! * `d8 v start|stop|restart VM…` creates VirtualMachineOperations; `-w` waits for them.

mod data;
mod kubeconfig;
mod kubectl;
mod v;

use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!(
        "usage: d8 k [kubectl arguments…]\n       d8 data export download [KIND/]NAME [-n NAMESPACE] [-o FILE]\n       d8 v start|stop|restart VM… [-n NAMESPACE] [-w] [--all] [-l SELECTOR] [--force] [--timeout DUR]\n\n\
         d8 k        run kubectl against the platform (kubeconfig: --kubeconfig, $KUBECONFIG, or the\n\
         \x20           data dir of `dvpd up`: /var/lib/dvp as root, ~/.local/share/dvp otherwise)\n\
         d8 data     export a disk: d8 data export download vd/NAME -o disk.img"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("k") | Some("kubectl") => kubectl::exec(&args[1..]),
        Some("v") => ExitCode::from(v::main(&args[1..])),
        Some("data") => ExitCode::from(data::main(&args[1..])),
        Some("download") => ExitCode::from(data::export_download(&args[1..])),
        Some("-h") | Some("--help") | Some("help") | None => usage(),
        Some(other) => {
            eprintln!("d8: unknown command {other:?}");
            usage()
        }
    }
}

//! `d8`: the platform's command-line tool.
//!
//! * `d8 k ARGS…` (or `d8 kubectl ARGS…`) runs kubectl against the platform: the kubeconfig comes
//!   from `--kubeconfig`, then `$KUBECONFIG`, then the default data dir of `dvpd up`.

mod kubectl;

use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!(
        "usage: d8 k [kubectl arguments…]\n\n\
         d8 k        run kubectl against the platform (kubeconfig: --kubeconfig, $KUBECONFIG, or the\n\
         \x20           data dir of `dvpd up`: /var/lib/dvp as root, ~/.local/share/dvp otherwise)"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("k") | Some("kubectl") => kubectl::exec(&args[1..]),
        Some("-h") | Some("--help") | Some("help") | None => usage(),
        Some(other) => {
            eprintln!("d8: unknown command {other:?}");
            usage()
        }
    }
}

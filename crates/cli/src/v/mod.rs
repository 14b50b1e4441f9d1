//! `d8 v …`: the virtualization commands.
//!
//! * `start|stop|restart` ([`power`]): VirtualMachineOperations through kubectl.
//! * `console`, `vnc`, `port-forward` ([`console`], [`vnc`], [`portforward`]): websocket streams
//!   of the VM's subresources, over [`stream`].
//! * `ssh`, `scp` ([`ssh`]): the local OpenSSH with `d8 v port-forward --stdio` as its proxy.

mod args;
mod console;
mod portforward;
mod power;
mod ssh;
mod stream;
mod terminal;
mod vnc;

const USAGE: &str = "usage: d8 v COMMAND …
  start|stop|restart VM… [-n NS] [-w] [--all] [-l SELECTOR] [--force] [--timeout DUR]
  console VM [-n NS] [--force] [--timeout DUR]
  vnc VM [-n NS] [--proxy-only] [--address ADDR] [--port PORT] [--force]
  port-forward VM [tcp/]LOCAL[:REMOTE]… [-n NS] [--address ADDR]
  port-forward --stdio VM PORT [-n NS]
  ssh [USER@]VM [-n NS] [-l USER] [-i KEY] [-p PORT] [-c CMD] [--local-ssh-opts OPTS] [-- CMD…]
  scp SRC DST [-r] [--preserve] [-l USER] [-i KEY]   (remote paths as [USER@]VM[.NS]:PATH)
VM is NAME, NAME.NAMESPACE, or NAME with -n NAMESPACE; --kubeconfig PATH works everywhere.";

/// Runs `d8 v ARGS…`; the exit code.
pub fn main(args: &[String]) -> u8 {
    match args.first().map(String::as_str) {
        Some("start" | "stop" | "restart") => power::main(args),
        Some("console") => console::main(&args[1..]),
        Some("vnc") => vnc::main(&args[1..]),
        Some("port-forward" | "portforward") => portforward::main(&args[1..]),
        Some("ssh") => ssh::main_ssh(&args[1..]),
        Some("scp") => ssh::main_scp(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            eprintln!("{USAGE}");
            2
        }
        Some(other) => {
            eprintln!("d8 v: unknown command {other:?}\n{USAGE}");
            2
        }
    }
}

/// A single-threaded runtime for one command.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

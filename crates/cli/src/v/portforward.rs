//! `d8 v port-forward VM [tcp/]LOCAL[:REMOTE]…`: local listeners whose connections each open a
//! `portforward/REMOTE` stream; `--stdio VM PORT` joins standard input and output to one stream
//! (what `d8 v ssh` uses as OpenSSH's ProxyCommand).

use std::net::{IpAddr, SocketAddr};

use super::args::{self, VmRef};
use super::stream::{self, Ended, Endpoint};

const USAGE: &str =
    "usage: d8 v port-forward VM [tcp/]LOCAL[:REMOTE]… [-n NAMESPACE] [--address ADDR]
       d8 v port-forward --stdio VM PORT [-n NAMESPACE]";

/// One forwarded port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortPair {
    pub local: u16,
    pub remote: u16,
}

/// `[tcp/]LOCAL[:REMOTE]`; udp is refused.
pub fn parse_port_pair(text: &str) -> Result<PortPair, String> {
    let spec = match text.split_once('/') {
        Some(("tcp", rest)) => rest,
        Some(("udp", _)) => return Err(format!("{text}: only tcp ports can be forwarded")),
        Some((proto, _)) => return Err(format!("{text}: unknown protocol {proto:?} (tcp)")),
        None => text,
    };
    let port = |p: &str| -> Result<u16, String> {
        p.parse::<u16>()
            .map_err(|_| format!("{text}: {p:?} is not a port number"))
    };
    let (local, remote) = match spec.split_once(':') {
        Some((l, r)) => (port(l)?, port(r)?),
        None => (port(spec)?, port(spec)?),
    };
    if remote == 0 {
        return Err(format!("{text}: the VM's port cannot be 0"));
    }
    Ok(PortPair { local, remote })
}

#[derive(Debug, PartialEq, Eq)]
pub enum Mode {
    Listen {
        address: IpAddr,
        ports: Vec<PortPair>,
    },
    Stdio {
        port: u16,
    },
}

#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub vm: VmRef,
    pub mode: Mode,
    pub kubeconfig: Option<String>,
}

pub fn parse_args(argv: &[String]) -> Result<Request, String> {
    let p = args::parse(
        argv,
        &["-n", "--namespace", "--address", "--kubeconfig"],
        &["--stdio", "-h", "--help"],
    )?;
    if p.has(&["-h", "--help"]) {
        return Err(USAGE.to_string());
    }
    let (vm, ports) = match p.positional.split_first() {
        Some((vm, ports)) if !ports.is_empty() => (vm, ports),
        _ => return Err(format!("name the VM and at least one port\n{USAGE}")),
    };
    let vm = args::vm_ref(vm, p.value(&["-n", "--namespace"]).as_deref())?;
    let mode = if p.has(&["--stdio"]) {
        let [port] = ports else {
            return Err("--stdio forwards exactly one port".into());
        };
        let pair = parse_port_pair(port)?;
        Mode::Stdio { port: pair.remote }
    } else {
        let address = p
            .value(&["--address"])
            .unwrap_or_else(|| "127.0.0.1".into());
        let address = address
            .parse()
            .map_err(|_| format!("--address {address:?} is not an IP address"))?;
        Mode::Listen {
            address,
            ports: ports
                .iter()
                .map(|s| parse_port_pair(s))
                .collect::<Result<_, _>>()?,
        }
    };
    Ok(Request {
        vm,
        mode,
        kubeconfig: p.value(&["--kubeconfig"]),
    })
}

pub fn main(argv: &[String]) -> u8 {
    let request = match parse_args(argv) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("d8 v port-forward: {e}");
            return 2;
        }
    };
    let result = super::runtime().and_then(|rt| {
        let result = rt.block_on(run(request));
        // a read of standard input may still be blocked in a thread; do not wait for it
        rt.shutdown_background();
        result
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("d8 v port-forward: {e}");
            1
        }
    }
}

async fn run(request: Request) -> Result<(), String> {
    let ep = Endpoint::load(&request.vm, request.kubeconfig.as_deref())?;
    match request.mode {
        Mode::Stdio { port } => {
            let ws = stream::open(&ep, &format!("portforward/{port}"), &[])
                .await
                .map_err(|e| e.to_string())?;
            match stream::splice(ws, tokio::io::stdin(), tokio::io::stdout()).await {
                Ended::Remote(Some(reason)) => Err(reason),
                _ => Ok(()),
            }
        }
        Mode::Listen { address, ports } => {
            let mut tasks = Vec::new();
            for pair in ports {
                let listener = tokio::net::TcpListener::bind(SocketAddr::new(address, pair.local))
                    .await
                    .map_err(|e| format!("cannot listen on {address}:{}: {e}", pair.local))?;
                let bound = listener.local_addr().map_err(|e| e.to_string())?;
                println!("Forwarding from {bound} -> {}", pair.remote);
                tasks.push(tokio::spawn(accept_loop(listener, ep.clone(), pair.remote)));
            }
            for t in tasks {
                let _ = t.await;
            }
            Ok(())
        }
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, ep: Endpoint, remote: u16) {
    loop {
        let Ok((tcp, peer)) = listener.accept().await else {
            continue;
        };
        let ep = ep.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            match stream::open(&ep, &format!("portforward/{remote}"), &[]).await {
                Ok(ws) => {
                    let (r, w) = tcp.into_split();
                    if let Ended::Remote(Some(reason)) = stream::splice(ws, r, w).await {
                        eprintln!("d8 v port-forward: connection from {peer}: {reason}");
                    }
                }
                Err(e) => eprintln!("d8 v port-forward: connection from {peer}: {e}"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn port_pairs_accept_protocol_and_a_single_port() {
        assert_eq!(
            parse_port_pair("tcp/8080:80").unwrap(),
            PortPair {
                local: 8080,
                remote: 80
            }
        );
        assert_eq!(
            parse_port_pair("22").unwrap(),
            PortPair {
                local: 22,
                remote: 22
            }
        );
        assert_eq!(parse_port_pair("0:80").unwrap().local, 0);
    }

    #[test]
    fn udp_and_garbage_are_refused() {
        assert!(parse_port_pair("udp/53").unwrap_err().contains("only tcp"));
        assert!(parse_port_pair("http:80").is_err());
        assert!(parse_port_pair("80:0").is_err());
    }

    #[test]
    fn stdio_takes_exactly_one_port() {
        let r = parse_args(&strings(&["--stdio", "vm.ns", "22"])).unwrap();
        assert_eq!(r.mode, Mode::Stdio { port: 22 });
        assert!(parse_args(&strings(&["--stdio", "vm", "22", "80"])).is_err());
    }

    #[test]
    fn listeners_default_to_loopback() {
        let r = parse_args(&strings(&["vm", "8080:80", "tcp/2222:22"])).unwrap();
        match r.mode {
            Mode::Listen { address, ports } => {
                assert_eq!(address.to_string(), "127.0.0.1");
                assert_eq!(ports.len(), 2);
            }
            other => panic!("{other:?}"),
        }
    }
}

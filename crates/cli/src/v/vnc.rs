//! `d8 v vnc VM`: a local VNC proxy. Each viewer connection opens the VM's `vnc` stream; unless
//! `--proxy-only`, a viewer found on PATH (`remote-viewer`, `vncviewer`) is started on it.

use std::net::{IpAddr, SocketAddr};

use super::args::{self, VmRef};
use super::stream::{self, Ended, Endpoint};

const USAGE: &str =
    "usage: d8 v vnc VM [-n NAMESPACE] [--address ADDR] [--port PORT] [--proxy-only] [--force]";

#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub vm: VmRef,
    pub address: IpAddr,
    pub port: u16,
    pub proxy_only: bool,
    pub force: bool,
    pub kubeconfig: Option<String>,
}

pub fn parse_args(argv: &[String]) -> Result<Request, String> {
    let p = args::parse(
        argv,
        &["-n", "--namespace", "--address", "--port", "--kubeconfig"],
        &["--proxy-only", "--force", "-f", "-h", "--help"],
    )?;
    if p.has(&["-h", "--help"]) {
        return Err(USAGE.to_string());
    }
    let [vm] = p.positional.as_slice() else {
        return Err(format!("name one VM\n{USAGE}"));
    };
    let address = p
        .value(&["--address"])
        .unwrap_or_else(|| "127.0.0.1".into());
    let port = p.value(&["--port"]).unwrap_or_else(|| "0".into());
    Ok(Request {
        vm: args::vm_ref(vm, p.value(&["-n", "--namespace"]).as_deref())?,
        address: address
            .parse()
            .map_err(|_| format!("--address {address:?} is not an IP address"))?,
        port: port
            .parse()
            .map_err(|_| format!("--port {port:?} is not a port number"))?,
        proxy_only: p.has(&["--proxy-only"]),
        force: p.has(&["--force", "-f"]),
        kubeconfig: p.value(&["--kubeconfig"]),
    })
}

pub fn main(argv: &[String]) -> u8 {
    let request = match parse_args(argv) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("d8 v vnc: {e}");
            return 2;
        }
    };
    match super::runtime().and_then(|rt| rt.block_on(run(request))) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("d8 v vnc: {e}");
            1
        }
    }
}

/// The first viewer on PATH and its arguments for `addr`.
fn viewer(addr: SocketAddr) -> Option<(String, Vec<String>)> {
    let path = std::env::var_os("PATH")?;
    let found = |name: &str| {
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    };
    if let Some(p) = found("remote-viewer") {
        return Some((p.display().to_string(), vec![format!("vnc://{addr}")]));
    }
    if let Some(p) = found("vncviewer") {
        return Some((
            p.display().to_string(),
            vec![format!("{}::{}", addr.ip(), addr.port())],
        ));
    }
    None
}

async fn run(request: Request) -> Result<(), String> {
    let ep = Endpoint::load(&request.vm, request.kubeconfig.as_deref())?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(request.address, request.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", request.address, request.port))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    println!("VNC proxy for {} listening on {bound}", ep.name);
    let mut child = None;
    if !request.proxy_only {
        match viewer(bound) {
            Some((program, args)) => match std::process::Command::new(&program).args(&args).spawn()
            {
                Ok(c) => child = Some(c),
                Err(e) => {
                    eprintln!("d8 v vnc: cannot start {program}: {e}; connect a viewer to {bound}")
                }
            },
            None => eprintln!(
                "d8 v vnc: no VNC viewer (remote-viewer, vncviewer) found; connect one to {bound}"
            ),
        }
    }
    let identity = args::identity();
    loop {
        let (tcp, peer) = listener.accept().await.map_err(|e| e.to_string())?;
        let mut query = vec![("client", identity.as_str())];
        if request.force {
            query.push(("force", "true"));
        }
        match stream::open(&ep, "vnc", &query).await {
            Ok(ws) => {
                let (r, w) = tcp.into_split();
                if let Ended::Remote(Some(reason)) = stream::splice(ws, r, w).await {
                    eprintln!("d8 v vnc: {reason}");
                }
            }
            Err(e) => eprintln!("d8 v vnc: viewer at {peer}: {e}"),
        }
        if let Some(c) = child.as_mut()
            && matches!(c.try_wait(), Ok(Some(_)))
        {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vnc_defaults_to_a_random_loopback_port() {
        let r = parse_args(&["vm".to_string()]).unwrap();
        assert_eq!(r.address.to_string(), "127.0.0.1");
        assert_eq!(r.port, 0);
        assert!(!r.proxy_only);
    }
}

//! `d8 v console VM`: the VM's serial console. On a terminal the session is raw and `Ctrl+]`
//! leaves; otherwise standard input is sent as is and the guest's output copied to standard
//! output, so scripts can drive the console (output keeps coming for a moment after their input
//! ends).

use std::io::Write;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::Message;

use super::args::{self, VmRef};
use super::stream::{self, Endpoint, OpenError, Ws};
use super::terminal;

const USAGE: &str =
    "usage: d8 v console VM [-n NAMESPACE] [--force] [--timeout DURATION] [--kubeconfig PATH]
  --force     take the console over from whoever holds it
  --timeout   how long to wait for the VM to be running (default: do not wait)";

/// `Ctrl+]`.
const ESCAPE: u8 = 0x1d;
/// How long output is still shown after standard input ends (not a terminal).
const DRAIN: Duration = Duration::from_secs(2);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub vm: VmRef,
    pub force: bool,
    pub timeout: Option<Duration>,
    pub kubeconfig: Option<String>,
}

pub fn parse_args(argv: &[String]) -> Result<Request, String> {
    let p = args::parse(
        argv,
        &["-n", "--namespace", "--timeout", "-t", "--kubeconfig"],
        &["--force", "-f", "-h", "--help"],
    )?;
    if p.has(&["-h", "--help"]) {
        return Err(USAGE.to_string());
    }
    let name = match p.positional.as_slice() {
        [one] => one,
        [] => return Err(format!("name the VM\n{USAGE}")),
        _ => return Err(format!("console takes one VM\n{USAGE}")),
    };
    Ok(Request {
        vm: args::vm_ref(name, p.value(&["-n", "--namespace"]).as_deref())?,
        force: p.has(&["--force", "-f"]),
        timeout: p
            .value(&["--timeout", "-t"])
            .map(|t| super::power::parse_duration(&t))
            .transpose()?,
        kubeconfig: p.value(&["--kubeconfig"]),
    })
}

pub fn main(argv: &[String]) -> u8 {
    let request = match parse_args(argv) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("d8 v console: {e}");
            return 2;
        }
    };
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("d8 v console: {e}");
            return 1;
        }
    };
    let result = runtime.block_on(run(&request));
    // a read of standard input may still be blocked in a thread; do not wait for it
    runtime.shutdown_background();
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("d8 v console: {e}");
            1
        }
    }
}

/// Opens the console, waiting up to the timeout for a VM that is not running yet.
async fn open(request: &Request, ep: &Endpoint) -> Result<Ws, OpenError> {
    let identity = args::identity();
    let mut query = vec![("client", identity.as_str())];
    if request.force {
        query.push(("force", "true"));
    }
    let deadline = request.timeout.map(|t| Instant::now() + t);
    loop {
        match stream::open(ep, "console", &query).await {
            Err(e)
                if (e.code == 400 || e.code == 503)
                    && deadline.is_some_and(|d| Instant::now() < d) =>
            {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            other => return other,
        }
    }
}

/// What the user wants when the console is busy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BusyAnswer {
    TakeOver,
    GiveUp,
    Wait,
}

/// Reads the answer to `[y] yes [N] no [w] wait` (empty or anything else: no).
pub fn busy_answer(line: &str) -> BusyAnswer {
    match line.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => BusyAnswer::TakeOver,
        "w" | "wait" => BusyAnswer::Wait,
        _ => BusyAnswer::GiveUp,
    }
}

fn ask(question: &str) -> BusyAnswer {
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    busy_answer(&line)
}

/// Opens the console; on a terminal, a busy console asks whether to take it over or wait.
async fn open_or_ask(request: &Request, ep: &Endpoint) -> Result<Ws, String> {
    let mut waiting = false;
    loop {
        match open(request, ep).await {
            Err(e) if e.code == 409 && terminal::stdin_is_tty() && !waiting => {
                match ask(&format!("{e}\nTake it over? [y] yes [N] no [w] wait: ")) {
                    BusyAnswer::TakeOver => {
                        let forced = Request {
                            force: true,
                            ..request.clone()
                        };
                        return open(&forced, ep).await.map_err(|e| e.to_string());
                    }
                    BusyAnswer::Wait => {
                        eprintln!("waiting for the console to be free…");
                        waiting = true;
                    }
                    BusyAnswer::GiveUp => return Err(e.to_string()),
                }
            }
            Err(e) if e.code == 409 && waiting => {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            other => return other.map_err(|e| e.to_string()),
        }
    }
}

async fn run(request: &Request) -> Result<(), String> {
    let ep = Endpoint::load(&request.vm, request.kubeconfig.as_deref())?;
    let ws = open_or_ask(request, &ep).await?;
    eprintln!(
        "Successfully connected to {} console. The escape sequence is ^]",
        ep.name
    );
    if terminal::stdin_is_tty() {
        interactive(ws).await
    } else {
        scripted(ws).await
    }
}

/// Guest output to standard output; `Some(reason)` when the server ended the session for one.
async fn show(message: Message) -> Result<bool, String> {
    match message {
        Message::Binary(b) => write_out(&b),
        Message::Text(t) => write_out(t.as_bytes()),
        Message::Close(frame) => {
            return match stream::close_reason(frame.as_ref()) {
                Some(reason) => Err(format!("disconnected: {reason}")),
                None => Ok(false),
            };
        }
        _ => {}
    }
    Ok(true)
}

fn write_out(data: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(data);
    let _ = out.flush();
}

async fn scripted(ws: Ws) -> Result<(), String> {
    let (mut tx, mut rx) = ws.split();
    let mut stdin = tokio::io::stdin();
    let mut buf = vec![0u8; 4096];
    let mut input_open = true;
    let mut drain_until: Option<tokio::time::Instant> = None;
    loop {
        let drain = async {
            match drain_until {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            read = stdin.read(&mut buf), if input_open => match read {
                Ok(0) | Err(_) => {
                    input_open = false;
                    drain_until = Some(tokio::time::Instant::now() + DRAIN);
                }
                Ok(n) => {
                    tx.send(Message::Binary(buf[..n].to_vec().into()))
                        .await
                        .map_err(|e| format!("the console stream broke: {e}"))?;
                }
            },
            message = rx.next() => match message {
                Some(Ok(m)) => {
                    if !show(m).await? {
                        return Ok(());
                    }
                }
                Some(Err(e)) => return Err(format!("the console stream broke: {e}")),
                None => return Ok(()),
            },
            _ = drain => {
                let _ = tx.send(Message::Close(None)).await;
                return Ok(());
            }
        }
    }
}

async fn interactive(ws: Ws) -> Result<(), String> {
    let raw = terminal::RawMode::enable(0)
        .map_err(|e| format!("cannot set the terminal to raw mode: {e}"))?;
    let (keys_tx, mut keys) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    // a blocking reader: the terminal stays in raw mode while it waits for keys
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 1024];
        let mut stdin = std::io::stdin().lock();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || keys_tx.blocking_send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let (mut tx, mut rx) = ws.split();
    let result = loop {
        tokio::select! {
            typed = keys.recv() => match typed {
                None => break Ok(()),
                Some(bytes) => {
                    let (before, escaped) = match bytes.iter().position(|b| *b == ESCAPE) {
                        Some(i) => (&bytes[..i], true),
                        None => (&bytes[..], false),
                    };
                    if !before.is_empty()
                        && let Err(e) = tx.send(Message::Binary(before.to_vec().into())).await
                    {
                        break Err(format!("the console stream broke: {e}"));
                    }
                    if escaped {
                        let _ = tx.send(Message::Close(None)).await;
                        break Ok(());
                    }
                }
            },
            message = rx.next() => match message {
                Some(Ok(m)) => match show(m).await {
                    Ok(true) => {}
                    Ok(false) => break Ok(()),
                    Err(e) => break Err(e),
                },
                Some(Err(e)) => break Err(format!("the console stream broke: {e}")),
                None => break Ok(()),
            },
        }
    };
    drop(raw);
    eprintln!();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn console_takes_one_vm_force_and_timeout() {
        let r = parse_args(&strings(&["web.prod", "--force", "--timeout", "30s"])).unwrap();
        assert_eq!(r.vm.name, "web");
        assert_eq!(r.vm.namespace.as_deref(), Some("prod"));
        assert!(r.force);
        assert_eq!(r.timeout, Some(Duration::from_secs(30)));
    }

    #[test]
    fn a_busy_console_is_taken_over_only_on_yes() {
        assert_eq!(busy_answer("y\n"), BusyAnswer::TakeOver);
        assert_eq!(busy_answer("W"), BusyAnswer::Wait);
        assert_eq!(busy_answer("\n"), BusyAnswer::GiveUp);
        assert_eq!(busy_answer("maybe"), BusyAnswer::GiveUp);
    }

    #[test]
    fn console_without_a_vm_is_a_usage_error() {
        assert!(parse_args(&[]).is_err());
        assert!(parse_args(&strings(&["a", "b"])).is_err());
    }
}

//! Console round-trip benchmark: prints figures, asserts nothing.
//!
//! Types one key at a time on a running guest's serial console (a shell prompt echoes it) and
//! measures the time until the echo arrives, alternately `a` and backspace so the line stays
//! short. Two paths, one after the other (QEMU's serial socket takes one client):
//!
//! * `direct`: the run's serial unix socket (`DATA/run/vms/<instance uid>/serial.sock`);
//! * `platform`: `d8 v console VM` with pipes — d8 → TLS websocket → apiserver → node stream
//!   server → the same socket.
//!
//! ```sh
//! dvpd up --data-dir D &   # and a running VM whose console shows a shell prompt (the tiny guest)
//! cargo run --release -p dvpd --example console_bench -- --data-dir D --vm t1 \
//!     --d8 target/release/d8 --rounds 500
//! ```

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

struct Args {
    data_dir: PathBuf,
    vm: String,
    namespace: String,
    d8: PathBuf,
    rounds: usize,
}

fn parse_args() -> Args {
    let mut a = Args {
        data_dir: PathBuf::new(),
        vm: String::new(),
        namespace: "default".into(),
        d8: PathBuf::from("target/release/d8"),
        rounds: 300,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().cloned().unwrap_or_default();
        match flag.as_str() {
            "--data-dir" => a.data_dir = value.into(),
            "--vm" => a.vm = value,
            "-n" | "--namespace" => a.namespace = value,
            "--d8" => a.d8 = value.into(),
            "--rounds" => a.rounds = value.parse().expect("--rounds N"),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(
        !a.vm.is_empty() && !a.data_dir.as_os_str().is_empty(),
        "usage: console_bench --data-dir D --vm NAME [-n NS] [--d8 PATH] [--rounds N]"
    );
    a
}

/// Bytes read by a background thread, so waits can time out.
fn pump(mut r: impl Read + Send + 'static) -> Receiver<Vec<u8>> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    rx
}

/// Reads until nothing came for `quiet`.
fn drain(rx: &Receiver<Vec<u8>>, quiet: Duration) {
    while rx.recv_timeout(quiet).is_ok() {}
}

/// One key, then wait for `expect` in what comes back.
fn round_trip(w: &mut impl Write, rx: &Receiver<Vec<u8>>, key: u8, expect: u8) -> Option<Duration> {
    let t = Instant::now();
    w.write_all(&[key]).ok()?;
    w.flush().ok()?;
    loop {
        let chunk = rx.recv_timeout(Duration::from_secs(10)).ok()?;
        if chunk.contains(&expect) {
            return Some(t.elapsed());
        }
    }
}

fn measure(w: &mut impl Write, rx: &Receiver<Vec<u8>>, rounds: usize) -> Vec<Duration> {
    // a fresh prompt, and whatever the console showed first out of the way
    let _ = w.write_all(b"\r");
    let _ = w.flush();
    drain(rx, Duration::from_millis(1500));
    let mut times = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let (key, expect) = if i % 2 == 0 {
            (b'a', b'a')
        } else {
            (0x7f, 0x08)
        };
        match round_trip(w, rx, key, expect) {
            Some(d) => times.push(d),
            None => {
                eprintln!("no echo after round {i}; stopping");
                break;
            }
        }
    }
    times.sort();
    times
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let a = parse_args();
    let kubeconfig = a.data_dir.join("kubeconfig");
    let uid = Command::new("kubectl")
        .args(["get", "intvirtvmi", &a.vm, "-n", &a.namespace])
        .args(["-o", "jsonpath={.metadata.uid}"])
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .expect("run kubectl");
    let uid = String::from_utf8_lossy(&uid.stdout).trim().to_string();
    assert!(!uid.is_empty(), "the VM {} has no run", a.vm);
    let serial = a.data_dir.join("run/vms").join(&uid).join("serial.sock");

    let direct = {
        let mut sock = UnixStream::connect(&serial).expect("connect to the serial socket");
        let rx = pump(sock.try_clone().unwrap());
        let times = measure(&mut sock, &rx, a.rounds);
        // the reader thread holds a clone: end the connection itself, not just this handle
        let _ = sock.shutdown(std::net::Shutdown::Both);
        times
    };
    // let QEMU notice the first client left before the platform connects
    std::thread::sleep(Duration::from_millis(500));
    let platform = {
        let mut child = Command::new(&a.d8)
            .args(["v", "console", &a.vm, "-n", &a.namespace])
            .env("KUBECONFIG", &kubeconfig)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start d8");
        let rx = pump(child.stdout.take().unwrap());
        let mut stdin = child.stdin.take().unwrap();
        let times = measure(&mut stdin, &rx, a.rounds);
        drop(stdin);
        let _ = child.wait();
        times
    };
    for (name, t) in [("direct", &direct), ("platform", &platform)] {
        println!(
            "console_rtt_{name}: rounds {} median {:.3} ms p99 {:.3} ms",
            t.len(),
            ms(percentile(t, 0.5)),
            ms(percentile(t, 0.99))
        );
    }
    let ratio =
        |p: f64| ms(percentile(&platform, p)) / ms(percentile(&direct, p)).max(f64::MIN_POSITIVE);
    println!(
        "console_rtt_ratio (platform / direct): median {:.2} p99 {:.2}",
        ratio(0.5),
        ratio(0.99)
    );
}

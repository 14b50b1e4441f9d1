//! End-to-end tests of the VM streams: `d8 v console` and `d8 v port-forward` through the
//! apiserver's subresources and the node's stream server, against the tiny guest
//! (`/var/cache/guest-images/tiny/tiny.qcow2`: prints `login:` on its serial console, serves
//! `tiny-guest <hostname>` on port 80). Skipped when the image, QEMU or d8 is missing.

mod common;
mod images_support;

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Platform, d8_bin, eventually, free_port};
use images_support::FileServer;

/// Runs a shell line with d8 on PATH and the platform's kubeconfig; (exit ok, stdout, stderr).
fn sh(p: &Platform, line: &str, user: &str) -> (bool, String, String) {
    let out = shell(p, line, user).output().expect("run sh");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn shell(p: &Platform, line: &str, user: &str) -> Command {
    let bin_dir = d8_bin().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = Command::new("sh");
    c.args(["-c", line])
        .env("PATH", path)
        .env("KUBECONFIG", p.kubeconfig())
        .env("HOME", p.home())
        .env("USER", user);
    c
}

/// A background d8 whose output goes to files.
struct Bg {
    child: Child,
    out: std::path::PathBuf,
    err: std::path::PathBuf,
}

impl Bg {
    fn start(p: &Platform, line: &str, user: &str, tag: &str) -> Bg {
        let out = p.home().join(format!("{tag}.out"));
        let err = p.home().join(format!("{tag}.err"));
        let child = shell(p, line, user)
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .stdin(Stdio::null())
            .spawn()
            .expect("start d8");
        Bg { child, out, err }
    }
    /// d8 itself with a piped standard input that is kept open.
    fn start_piped(p: &Platform, args: &[&str], user: &str, tag: &str) -> Bg {
        let out = p.home().join(format!("{tag}.out"));
        let err = p.home().join(format!("{tag}.err"));
        let child = Command::new(d8_bin())
            .args(args)
            .env("KUBECONFIG", p.kubeconfig())
            .env("HOME", p.home())
            .env("USER", user)
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .stdin(Stdio::piped())
            .spawn()
            .expect("start d8");
        Bg { child, out, err }
    }
    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_get_body(port: u16) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: guest\r\n\r\n")?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    Ok(body)
}

/// Kills QEMUs of the VM left behind (they outlive dvpd by design).
struct QemuReaper(String);

impl Drop for QemuReaper {
    fn drop(&mut self) {
        let out = Command::new("pgrep")
            .args(["-f", &format!("qemu-system.*{}", self.0)])
            .output();
        for pid in out
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
            .lines()
        {
            let _ = Command::new("kill").args(["-9", pid.trim()]).status();
        }
    }
}

#[test]
fn console_and_port_forward_reach_the_tiny_guest() {
    let Some(image) = images_support::tiny_guest_to_boot(true) else {
        return;
    };
    let www = tempfile::tempdir().unwrap();
    let server = FileServer::start(www.path());
    server.copy(&image, "tiny.qcow2");
    let p = Platform::start();

    // errors before any VM exists
    let (ok, _, err) = sh(&p, "d8 v console nope </dev/null", "ann");
    assert!(!ok && err.contains("not found"), "{err}");

    p.apply(&images_support::vi_http(
        "tiny",
        &server.url("f/tiny.qcow2"),
    ))
    .expect_ok();
    p.wait_field("vi", "tiny", "{.status.phase}", "Ready", 180);
    p.apply(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualDisk\nmetadata:\n  name: s1-root\nspec:\n  dataSource:\n    type: ObjectRef\n    objectRef:\n      kind: VirtualImage\n      name: tiny\n",
    )
    .expect_ok();
    p.apply("apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachine\nmetadata:\n  name: s1\nspec:\n  virtualMachineClassName: generic\n  runPolicy: Manual\n  cpu:\n    cores: 1\n    coreFraction: 10%\n  memory:\n    size: 256Mi\n  blockDeviceRefs:\n    - kind: VirtualDisk\n      name: s1-root\n")
        .expect_ok();
    let uid = p.field("vm", "s1", "{.metadata.uid}");
    let _reaper = QemuReaper(uid);

    // not running yet (Manual policy): a clear refusal
    let (ok, _, err) = sh(&p, "d8 v console s1 </dev/null", "ann");
    assert!(!ok && err.contains("not running"), "{err}");

    let (ok, out, err) = sh(&p, "d8 v start s1 -w -y --timeout 100s", "ann");
    assert!(ok, "{out}{err}");
    p.wait_field(
        "vm",
        "s1",
        "{.status.conditions[?(@.type==\"AgentReady\")].status}",
        "True",
        240,
    );

    // the acceptance check: a script drives the console
    let (_, out, err) = sh(
        &p,
        "(sleep 3; printf '\\r'; sleep 5) | timeout 15 d8 v console s1",
        "ann",
    );
    assert!(out.contains("login:"), "stdout: {out}\nstderr: {err}");
    assert!(
        err.contains("Successfully connected to s1 console"),
        "{err}"
    );

    // exclusivity: ann holds the console, bob is refused by name, then takes over with --force
    // ann's input stays open (a pipe nobody writes to), as a person at a prompt would
    let mut holder = Bg::start_piped(&p, &["v", "console", "s1"], "ann", "ann");
    assert!(
        eventually(20, || holder.stderr().contains("Successfully connected")),
        "{}",
        holder.stderr()
    );
    let (ok, _, err) = sh(&p, "d8 v console s1 </dev/null", "bob");
    assert!(!ok, "a second console was granted: {err}");
    assert!(err.contains("in use by ann@"), "{err}");
    assert!(err.contains("--force"), "{err}");
    let (_, out, err) = sh(
        &p,
        "(sleep 2; printf '\\r'; sleep 3) | timeout 15 d8 v console s1 --force",
        "bob",
    );
    assert!(err.contains("Successfully connected"), "{err}");
    assert!(out.contains("login:"), "{out}");
    assert!(
        eventually(10, || holder.stderr().contains("bob@")),
        "the first holder was not told: {}",
        holder.stderr()
    );
    assert!(
        eventually(10, || holder.child.try_wait().ok().flatten().is_some()),
        "the displaced console client kept running"
    );
    assert!(!holder.child.wait().unwrap().success());

    // a bridged guest is dialled at its address; one on QEMU user networking needs the run's
    // second monitor for a port forward
    let mode = p.field("intvirtvmi", "s1", "{.status.networkMode}");
    let run_dir = p
        .data_dir()
        .join("run/vms")
        .join(p.field("intvirtvmi", "s1", "{.metadata.uid}"));
    if mode != "Bridge" && !run_dir.join("qmp-streams.sock").exists() {
        eprintln!(
            "skipped port-forward: the run is in user-mode networking ({mode:?}) and {} has no qmp-streams.sock (the QEMU command line does not open the streams monitor yet)",
            run_dir.display()
        );
        return;
    }
    eprintln!("port-forward through networkMode {mode:?}");
    let local = free_port();
    let fwd = Bg::start(
        &p,
        &format!("d8 v port-forward s1 {local}:80"),
        "ann",
        "fwd",
    );
    assert!(
        eventually(20, || fwd.stdout().contains("Forwarding from")),
        "{}{}",
        fwd.stdout(),
        fwd.stderr()
    );
    let body = http_get_body(local).unwrap();
    assert!(body.contains("tiny-guest"), "{body}\n{}", fwd.stderr());

    let (ok, _, err) = sh(&p, "d8 v port-forward --stdio s1 81 </dev/null", "ann");
    assert!(!ok, "a closed port was forwarded");
    assert!(err.contains("port 81") && err.contains("closed"), "{err}");
}

/// Ends a QEMU started by a test.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The user-mode path of the stream server, against a QEMU started by hand with the streams
/// monitor the run dirs will carry (`qmp-streams.sock`): a forward reaches the guest's HTTP
/// server, and a closed port is reported as closed.
#[test]
fn user_mode_port_forward_goes_through_a_qemu_host_forward() {
    use dvp_node::streams::guest::{self, GuestError, GuestRoute, STREAMS_MONITOR};
    let Some(image) = images_support::tiny_guest_to_boot(false) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let overlay = dir.path().join("root.qcow2");
    assert!(
        Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
            .arg(&image)
            .arg(&overlay)
            .status()
            .unwrap()
            .success()
    );
    let monitor = dir.path().join(STREAMS_MONITOR);
    let _qemu = KillOnDrop(
        Command::new("qemu-system-x86_64")
            .args([
                "-machine",
                "q35",
                "-m",
                "256",
                "-display",
                "none",
                "-nodefaults",
            ])
            .args(["-serial", "null", "-drive"])
            .arg(format!("file={},if=virtio", overlay.display()))
            .args([
                "-netdev",
                "user,id=net0",
                "-device",
                "virtio-net-pci,netdev=net0",
            ])
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", monitor.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start qemu"),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let body = rt.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(mut tcp) = guest::connect(&GuestRoute::HostForward, dir.path(), 80).await {
                let _ = tcp.write_all(b"GET / HTTP/1.0\r\n\r\n").await;
                let mut body = String::new();
                let _ = tcp.read_to_string(&mut body).await;
                if body.contains("tiny-guest") {
                    return body;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the guest never answered on port 80"
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    assert!(body.contains("tiny-guest"), "{body}");
    let closed = rt.block_on(guest::connect(&GuestRoute::HostForward, dir.path(), 81));
    assert!(
        matches!(closed, Err(GuestError::Closed { port: 81 })),
        "{closed:?}"
    );
}

/// `dvpd up --vm-network=user` (what a host that forbids bridges falls back to): the guest is on
/// QEMU user-mode networking, and port-forward still reaches it through a QEMU host forward.
#[test]
fn port_forward_reaches_a_guest_on_user_mode_networking() {
    let Some(image) = images_support::tiny_guest_to_boot(true) else {
        return;
    };
    let www = tempfile::tempdir().unwrap();
    let server = FileServer::start(www.path());
    server.copy(&image, "tiny.qcow2");
    let p = Platform::start_with(&["--vm-network=user"]);
    p.apply(&images_support::vi_http(
        "tiny",
        &server.url("f/tiny.qcow2"),
    ))
    .expect_ok();
    p.wait_field("vi", "tiny", "{.status.phase}", "Ready", 180);
    p.apply(
        "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualDisk\nmetadata:\n  name: u1-root\nspec:\n  dataSource:\n    type: ObjectRef\n    objectRef:\n      kind: VirtualImage\n      name: tiny\n",
    )
    .expect_ok();
    p.apply("apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachine\nmetadata:\n  name: u1\nspec:\n  virtualMachineClassName: generic\n  cpu:\n    cores: 1\n    coreFraction: 10%\n  memory:\n    size: 256Mi\n  blockDeviceRefs:\n    - kind: VirtualDisk\n      name: u1-root\n")
        .expect_ok();
    let uid = p.field("vm", "u1", "{.metadata.uid}");
    let _reaper = QemuReaper(uid);
    p.wait_field("vm", "u1", "{.status.phase}", "Running", 240);
    assert_eq!(p.field("intvirtvmi", "u1", "{.status.networkMode}"), "User");
    let local = free_port();
    let fwd = Bg::start(
        &p,
        &format!("d8 v port-forward u1 {local}:80"),
        "ann",
        "fwd",
    );
    assert!(
        eventually(20, || fwd.stdout().contains("Forwarding from")),
        "{}{}",
        fwd.stdout(),
        fwd.stderr()
    );
    // The guest's HTTP server starts late in its boot.
    let mut body = String::new();
    let reached = eventually(120, || {
        body = http_get_body(local).unwrap_or_default();
        body.contains("tiny-guest")
    });
    assert!(reached, "{body}\n{}", fwd.stderr());
}

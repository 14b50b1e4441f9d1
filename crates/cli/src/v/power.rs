//! `d8 v start|stop|restart`: power operations on VMs. Each VM gets a VirtualMachineOperation
//! (`generateName: <vm>-`) created through kubectl with the platform's kubeconfig; `-w` waits for
//! each operation to finish and fails with its message when it does not complete.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A parsed `d8 v` power command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `Start`, `Stop` or `Restart`.
    pub op: &'static str,
    pub names: Vec<String>,
    pub namespace: Option<String>,
    pub wait: bool,
    pub all: bool,
    pub selector: Option<String>,
    pub force: bool,
    pub timeout: Duration,
    pub kubeconfig: Option<String>,
}

const USAGE: &str = "usage: d8 v start|stop|restart VM… [-n NAMESPACE] [-w|--wait] [--all] [-l SELECTOR] [-y] [--force] [--timeout DURATION]";

/// `30s`, `5m`, `1h`, `1m30s` or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number
            .parse()
            .map_err(|_| format!("invalid duration {text:?}: use e.g. 30s, 5m or 1h"))?;
        number.clear();
        total += n * match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(format!("invalid duration {text:?}: use e.g. 30s, 5m or 1h")),
        };
    }
    if !number.is_empty() {
        return Err(format!(
            "invalid duration {text:?}: a unit (s, m, h) is missing"
        ));
    }
    Ok(Duration::from_secs(total))
}

/// Parse `d8 v ARGS…`.
pub fn parse_args(args: &[String]) -> Result<Request, String> {
    let op = match args.first().map(String::as_str) {
        Some("start") => "Start",
        Some("stop") => "Stop",
        Some("restart") => "Restart",
        Some(other) => return Err(format!("unknown command {other:?}\n{USAGE}")),
        None => return Err(USAGE.to_string()),
    };
    let mut r = Request {
        op,
        names: vec![],
        namespace: None,
        wait: false,
        all: false,
        selector: None,
        force: false,
        timeout: Duration::from_secs(300),
        kubeconfig: None,
    };
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "-n" | "--namespace" => r.namespace = Some(value(a)?),
            "-l" | "--selector" => r.selector = Some(value(a)?),
            "--timeout" | "-t" => r.timeout = parse_duration(&value(a)?)?,
            "--kubeconfig" => r.kubeconfig = Some(value(a)?),
            "-w" | "--wait" => r.wait = true,
            "--all" => r.all = true,
            "-y" | "--yes" => {}
            "--force" | "-f" => r.force = true,
            s if s.starts_with("--namespace=") => {
                r.namespace = Some(s["--namespace=".len()..].into())
            }
            s if s.starts_with("--selector=") => r.selector = Some(s["--selector=".len()..].into()),
            s if s.starts_with("--timeout=") => {
                r.timeout = parse_duration(&s["--timeout=".len()..])?
            }
            s if s.starts_with("--kubeconfig=") => {
                r.kubeconfig = Some(s["--kubeconfig=".len()..].into())
            }
            s if s.starts_with('-') => return Err(format!("unknown flag {s}\n{USAGE}")),
            name => r.names.push(name.to_string()),
        }
    }
    if r.force && op == "Start" {
        return Err("--force cannot be used with start".into());
    }
    if r.names.is_empty() && !r.all && r.selector.is_none() {
        return Err(format!("name a VM, or use --all or -l SELECTOR\n{USAGE}"));
    }
    Ok(r)
}

/// The VirtualMachineOperation for `vm`.
pub fn manifest(op: &str, vm: &str, force: bool) -> serde_json::Value {
    let mut spec = serde_json::json!({"type": op, "virtualMachineName": vm});
    if force {
        spec["force"] = true.into();
    }
    serde_json::json!({
        "apiVersion": "virtualization.deckhouse.io/v1alpha2",
        "kind": "VirtualMachineOperation",
        "metadata": {"generateName": format!("{vm}-")},
        "spec": spec
    })
}

struct Kubectl {
    base: Vec<String>,
}

impl Kubectl {
    fn new(r: &Request) -> Kubectl {
        let mut base = Vec::new();
        if let Some(k) = &r.kubeconfig {
            base.extend(["--kubeconfig".to_string(), k.clone()]);
        }
        if let Some(ns) = &r.namespace {
            base.extend(["-n".to_string(), ns.clone()]);
        }
        let env = std::env::var("KUBECONFIG").ok();
        let default = crate::kubectl::default_data_dir().join("kubeconfig");
        Kubectl {
            base: crate::kubectl::kubectl_args(&base, env.as_deref(), &default),
        }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
        let kubectl = std::env::var("D8_KUBECTL").unwrap_or_else(|_| "kubectl".into());
        let mut child = Command::new(&kubectl)
            .args(&self.base)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                format!("cannot run {kubectl}: {e} (install kubectl or set D8_KUBECTL)")
            })?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes())
                .map_err(|e| format!("writing to kubectl failed: {e}"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("kubectl failed: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }
}

/// How a watched operation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Failed(String),
}

/// Reads `phase|message` as printed by the wait query; None while the operation runs.
pub fn outcome(line: &str) -> Option<Outcome> {
    let (phase, message) = line.split_once('|').unwrap_or((line, ""));
    match phase.trim() {
        "Completed" => Some(Outcome::Completed),
        "Failed" | "Superseded" => Some(Outcome::Failed(if message.trim().is_empty() {
            format!("the operation ended in phase {}", phase.trim())
        } else {
            message.trim().to_string()
        })),
        _ => None,
    }
}

fn wait_for(k: &Kubectl, name: &str, timeout: Duration) -> Result<(), String> {
    let started = Instant::now();
    let query = "jsonpath={.status.phase}|{.status.conditions[?(@.type==\"Completed\")].message}";
    loop {
        let line = k.run(&["get", "virtualmachineoperation", name, "-o", query], None)?;
        match outcome(&line) {
            Some(Outcome::Completed) => return Ok(()),
            Some(Outcome::Failed(m)) => return Err(m),
            None if started.elapsed() >= timeout => {
                return Err(format!(
                    "VirtualMachineOperation {name} did not finish within {}s",
                    timeout.as_secs()
                ));
            }
            None => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

fn past(op: &str) -> &'static str {
    match op {
        "Start" => "started",
        "Stop" => "stopped",
        _ => "restarted",
    }
}

/// Run `d8 v ARGS…`; returns the exit code.
pub fn main(args: &[String]) -> u8 {
    let r = match parse_args(args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("d8 v: {e}");
            return 2;
        }
    };
    let k = Kubectl::new(&r);
    let mut names = r.names.clone();
    if r.all || r.selector.is_some() {
        let mut q = vec![
            "get",
            "virtualmachines",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}",
        ];
        if let Some(s) = &r.selector {
            q.extend(["-l", s.as_str()]);
        }
        match k.run(&q, None) {
            Ok(out) => names.extend(out.lines().filter(|l| !l.is_empty()).map(String::from)),
            Err(e) => {
                eprintln!("d8 v: listing VMs failed: {e}");
                return 1;
            }
        }
        names.sort();
        names.dedup();
    }
    let mut code = 0;
    let mut created = Vec::new();
    for vm in &names {
        let body = manifest(r.op, vm, r.force).to_string();
        match k.run(
            &["create", "-f", "-", "-o", "jsonpath={.metadata.name}"],
            Some(&body),
        ) {
            Ok(op) => {
                if !r.wait {
                    println!(
                        "VirtualMachine {vm}: {} requested (VirtualMachineOperation {op})",
                        r.op
                    );
                }
                created.push((vm.clone(), op));
            }
            Err(e) => {
                eprintln!("d8 v: VirtualMachine {vm}: {e}");
                code = 1;
            }
        }
    }
    if r.wait {
        for (vm, op) in &created {
            match wait_for(&k, op, r.timeout) {
                Ok(()) => println!("VirtualMachine {vm} {}", past(r.op)),
                Err(e) => {
                    eprintln!(
                        "d8 v: VirtualMachine {vm}: {} failed: {e}",
                        r.op.to_lowercase()
                    );
                    code = 1;
                }
            }
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn restart_with_wait_and_namespace_is_parsed() {
        let r = parse_args(&s(&[
            "restart",
            "t1",
            "-w",
            "-y",
            "-n",
            "prod",
            "--timeout",
            "2m",
        ]))
        .unwrap();
        assert_eq!(r.op, "Restart");
        assert_eq!(r.names, vec!["t1".to_string()]);
        assert!(r.wait);
        assert_eq!(r.namespace.as_deref(), Some("prod"));
        assert_eq!(r.timeout, Duration::from_secs(120));
    }

    #[test]
    fn start_refuses_force() {
        assert!(
            parse_args(&s(&["start", "a", "--force"]))
                .unwrap_err()
                .contains("--force")
        );
    }

    #[test]
    fn a_vm_name_or_a_selection_is_required() {
        assert!(parse_args(&s(&["stop"])).is_err());
        assert!(parse_args(&s(&["stop", "--all"])).is_ok());
        assert_eq!(
            parse_args(&s(&["stop", "-l", "app=web"]))
                .unwrap()
                .selector
                .as_deref(),
            Some("app=web")
        );
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(parse_duration("5x").is_err());
    }

    #[test]
    fn the_operation_is_named_after_the_vm_and_forced_only_when_asked() {
        let m = manifest("Stop", "db", true);
        assert_eq!(m["metadata"]["generateName"], "db-");
        assert_eq!(m["spec"]["force"], true);
        assert!(
            manifest("Start", "db", false)["spec"]
                .get("force")
                .is_none()
        );
    }

    #[test]
    fn a_failed_operation_carries_its_message() {
        assert_eq!(outcome("InProgress|"), None);
        assert_eq!(outcome("Completed|done"), Some(Outcome::Completed));
        assert_eq!(
            outcome("Failed|not applicable"),
            Some(Outcome::Failed("not applicable".into()))
        );
    }
}

//! `d8 v ssh` and `d8 v scp`: the local OpenSSH client, reaching the VM through
//! `d8 v port-forward --stdio VM PORT` as its ProxyCommand. The host name given to ssh is
//! `VM.NAMESPACE`, so known-hosts entries are per VM.

use std::os::unix::process::CommandExt;

use super::args::{self, VmRef};

const SSH_USAGE: &str = "usage: d8 v ssh [USER@]VM [-n NAMESPACE] [-l USER] [-i KEY] [-p PORT] [-c CMD] [--known-hosts FILE] [--local-ssh-opts OPTS]… [--local-ssh] [-- CMD…]";
const SCP_USAGE: &str = "usage: d8 v scp SRC DST [-n NAMESPACE] [-l USER] [-i KEY] [-p PORT] [-r] [--preserve] [--local-ssh-opts OPTS]…  (remote: [USER@]VM[.NAMESPACE]:PATH)";

const VALUE_FLAGS: &[&str] = &[
    "-n",
    "--namespace",
    "-l",
    "--username",
    "-i",
    "--identity-file",
    "-p",
    "--port",
    "-c",
    "--command",
    "--known-hosts",
    "--local-ssh-opts",
    "--ssh-args",
    "--kubeconfig",
];
const SWITCHES: &[&str] = &[
    "--local-ssh",
    "-r",
    "--recursive",
    "--preserve",
    "-h",
    "--help",
];

/// What every ssh-based command shares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Common {
    pub namespace: Option<String>,
    pub username: Option<String>,
    pub identity: Option<String>,
    pub port: u16,
    pub known_hosts: Option<String>,
    /// Extra options for the local ssh/scp, split at whitespace.
    pub extra: Vec<String>,
    pub kubeconfig: Option<String>,
}

fn common(p: &args::Parsed) -> Result<Common, String> {
    let port = p.value(&["-p", "--port"]).unwrap_or_else(|| "22".into());
    Ok(Common {
        namespace: p.value(&["-n", "--namespace"]),
        username: p.value(&["-l", "--username"]),
        identity: p.value(&["-i", "--identity-file"]),
        port: port
            .parse()
            .map_err(|_| format!("--port {port:?} is not a port number"))?,
        known_hosts: p.value(&["--known-hosts"]).filter(|k| !k.is_empty()),
        extra: p
            .all(&["--local-ssh-opts", "--ssh-args"])
            .iter()
            .flat_map(|o| o.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .collect(),
        kubeconfig: p.value(&["--kubeconfig"]),
    })
}

/// `[user@]vm[.ns]` → (user, vm).
fn user_and_vm(text: &str, namespace: Option<&str>) -> Result<(Option<String>, VmRef), String> {
    let (user, vm) = match text.split_once('@') {
        Some((u, v)) => (Some(u.to_string()), v),
        None => (None, text),
    };
    Ok((user, args::vm_ref(vm, namespace)?))
}

/// The options every ssh/scp gets: the proxy, the per-VM host key alias and the user's own.
fn proxy_options(d8: &str, vm: &VmRef, namespace: &str, c: &Common) -> Vec<String> {
    let mut proxy = format!(
        "{d8} v port-forward --stdio {}.{namespace} {}",
        vm.name, c.port
    );
    if let Some(k) = &c.kubeconfig {
        proxy.push_str(&format!(" --kubeconfig {k}"));
    }
    let mut o = vec!["-o".to_string(), format!("ProxyCommand={proxy}")];
    if let Some(k) = &c.known_hosts {
        o.extend(["-o".to_string(), format!("UserKnownHostsFile={k}")]);
    }
    if let Some(i) = &c.identity {
        o.extend(["-i".to_string(), i.clone()]);
    }
    o.extend(c.extra.iter().cloned());
    o
}

fn default_user() -> Option<String> {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
}

/// The local `ssh` argument vector.
pub fn ssh_argv(argv: &[String], d8: &str, default_ns: &str) -> Result<Vec<String>, String> {
    let p = args::parse(argv, VALUE_FLAGS, SWITCHES)?;
    if p.has(&["-h", "--help"]) {
        return Err(SSH_USAGE.into());
    }
    let c = common(&p)?;
    let [target] = p.positional.as_slice() else {
        return Err(format!("name one VM\n{SSH_USAGE}"));
    };
    let (user, vm) = user_and_vm(target, c.namespace.as_deref())?;
    let namespace = vm
        .namespace
        .clone()
        .unwrap_or_else(|| default_ns.to_string());
    let mut out = proxy_options(d8, &vm, &namespace, &c);
    if let Some(u) = user.or(c.username.clone()).or_else(default_user) {
        out.extend(["-l".to_string(), u]);
    }
    out.push(format!("{}.{namespace}", vm.name));
    if let Some(cmd) = p.value(&["-c", "--command"]) {
        out.push(cmd);
    }
    out.extend(p.rest.iter().cloned());
    Ok(out)
}

/// The local `scp` argument vector; `VM:path` operands become `VM.NS:path`.
pub fn scp_argv(argv: &[String], d8: &str, default_ns: &str) -> Result<Vec<String>, String> {
    let p = args::parse(argv, VALUE_FLAGS, SWITCHES)?;
    if p.has(&["-h", "--help"]) {
        return Err(SCP_USAGE.into());
    }
    let c = common(&p)?;
    let [src, dst] = p.positional.as_slice() else {
        return Err(format!("give a source and a destination\n{SCP_USAGE}"));
    };
    fn remote(s: &str) -> Option<(&str, &str)> {
        s.split_once(':')
            .filter(|(h, _)| !h.is_empty() && !h.contains('/'))
    }
    let mut vm_seen: Option<(Option<String>, VmRef)> = None;
    let mut operands = Vec::new();
    for operand in [src, dst] {
        match remote(operand) {
            Some((host, path)) => {
                let (user, vm) = user_and_vm(host, c.namespace.as_deref())?;
                let namespace = vm
                    .namespace
                    .clone()
                    .unwrap_or_else(|| default_ns.to_string());
                let user = user.or(c.username.clone()).or_else(default_user);
                let prefix = user.as_ref().map(|u| format!("{u}@")).unwrap_or_default();
                operands.push(format!("{prefix}{}.{namespace}:{path}", vm.name));
                if let Some((_, seen)) = &vm_seen
                    && seen != &vm
                {
                    return Err("both operands name a VM; copy through one VM at a time".into());
                }
                vm_seen = Some((user, vm));
            }
            None => operands.push(operand.clone()),
        }
    }
    let Some((_, vm)) = vm_seen else {
        return Err(format!("neither operand is on a VM (VM:PATH)\n{SCP_USAGE}"));
    };
    let namespace = vm
        .namespace
        .clone()
        .unwrap_or_else(|| default_ns.to_string());
    let mut out = proxy_options(d8, &vm, &namespace, &c);
    if p.has(&["-r", "--recursive"]) {
        out.push("-r".into());
    }
    if p.has(&["--preserve"]) {
        out.push("-p".into());
    }
    out.extend(operands);
    Ok(out)
}

/// Builds a local command line from d8's arguments, d8's path and the default namespace.
type BuildArgv = fn(&[String], &str, &str) -> Result<Vec<String>, String>;

fn run(program: &str, argv: &[String], build: BuildArgv) -> u8 {
    let p = match args::parse(argv, VALUE_FLAGS, SWITCHES) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("d8 v {program}: {e}");
            return 2;
        }
    };
    let kubeconfig = p.value(&["--kubeconfig"]);
    let default_ns = crate::kubeconfig::load(&crate::kubeconfig::locate(kubeconfig.as_deref()))
        .map(|t| t.namespace)
        .unwrap_or_else(|_| "default".to_string());
    let d8 = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "d8".to_string());
    let args = match build(argv, &d8, &default_ns) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("d8 v {program}: {e}");
            return 2;
        }
    };
    let e = std::process::Command::new(program).args(&args).exec();
    eprintln!("d8 v {program}: cannot run the local {program}: {e}; install OpenSSH");
    1
}

pub fn main_ssh(argv: &[String]) -> u8 {
    run("ssh", argv, ssh_argv)
}

pub fn main_scp(argv: &[String]) -> u8 {
    run("scp", argv, scp_argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ssh_goes_through_port_forward_stdio_to_the_vm() {
        let a = ssh_argv(
            &strings(&["cloud@web", "--local-ssh", "-i", "k"]),
            "/bin/d8",
            "prod",
        )
        .unwrap();
        assert_eq!(
            a,
            strings(&[
                "-o",
                "ProxyCommand=/bin/d8 v port-forward --stdio web.prod 22",
                "-i",
                "k",
                "-l",
                "cloud",
                "web.prod",
            ])
        );
    }

    #[test]
    fn ssh_username_flag_namespace_and_command() {
        let a = ssh_argv(
            &strings(&[
                "web",
                "-n",
                "dev",
                "--username",
                "ann",
                "-c",
                "uptime",
                "--kubeconfig",
                "/k",
            ]),
            "d8",
            "default",
        )
        .unwrap();
        assert!(a.contains(
            &"ProxyCommand=d8 v port-forward --stdio web.dev 22 --kubeconfig /k".to_string()
        ));
        assert!(a.windows(2).any(|w| w == ["-l", "ann"]));
        assert_eq!(a[a.len() - 2..], strings(&["web.dev", "uptime"]));
    }

    #[test]
    fn scp_rewrites_the_vm_operand() {
        let a = scp_argv(
            &strings(&["./f", "cloud@web.prod:/tmp/f", "-r"]),
            "d8",
            "default",
        )
        .unwrap();
        assert!(a.contains(&"ProxyCommand=d8 v port-forward --stdio web.prod 22".to_string()));
        assert_eq!(
            a[a.len() - 3..],
            strings(&["-r", "./f", "cloud@web.prod:/tmp/f"])
        );
    }

    #[test]
    fn scp_needs_a_vm_operand() {
        assert!(scp_argv(&strings(&["a", "b"]), "d8", "default").is_err());
    }
}

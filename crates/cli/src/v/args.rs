//! Argument reading shared by the stream commands: flags with values (`--flag V`, `--flag=V`),
//! boolean flags, and the `NAME[.NAMESPACE]` VM syntax.

/// The VM a command addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmRef {
    pub name: String,
    /// From `NAME.NAMESPACE` or `-n`; `None` means the kubeconfig context's namespace.
    pub namespace: Option<String>,
}

/// Reads `NAME` or `NAME.NAMESPACE`; an explicit `-n` must agree with the dotted form.
pub fn vm_ref(text: &str, flag_namespace: Option<&str>) -> Result<VmRef, String> {
    let (name, dotted) = match text.split_once('.') {
        Some((name, ns)) => (name, Some(ns)),
        None => (text, None),
    };
    if name.is_empty() || dotted == Some("") {
        return Err(format!(
            "{text:?} is not a VM name (NAME or NAME.NAMESPACE)"
        ));
    }
    let namespace = match (dotted, flag_namespace) {
        (Some(a), Some(b)) if a != b => {
            return Err(format!(
                "{text:?} names namespace {a:?} but -n says {b:?}; give one of them"
            ));
        }
        (Some(a), _) => Some(a.to_string()),
        (None, b) => b.map(str::to_string),
    };
    Ok(VmRef {
        name: name.to_string(),
        namespace,
    })
}

/// A tiny flag reader: `value` flags take the next argument (or `=V`), `switches` take none,
/// everything else not starting with `-` is positional; `--` ends flags.
pub struct Parsed {
    pub values: Vec<(String, String)>,
    pub switches: Vec<String>,
    pub positional: Vec<String>,
    /// Arguments after `--`.
    pub rest: Vec<String>,
}

impl Parsed {
    /// The last value of any of `names`.
    pub fn value(&self, names: &[&str]) -> Option<String> {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| v.clone())
    }

    /// Every value of any of `names`, in order.
    pub fn all(&self, names: &[&str]) -> Vec<String> {
        self.values
            .iter()
            .filter(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn has(&self, names: &[&str]) -> bool {
        self.switches.iter().any(|s| names.contains(&s.as_str()))
    }
}

pub fn parse(
    args: &[String],
    value_flags: &[&str],
    switch_flags: &[&str],
) -> Result<Parsed, String> {
    let mut p = Parsed {
        values: vec![],
        switches: vec![],
        positional: vec![],
        rest: vec![],
    };
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            p.rest = args[i + 1..].to_vec();
            break;
        }
        if let Some((flag, v)) = a.split_once('=').filter(|(f, _)| f.starts_with('-')) {
            if value_flags.contains(&flag) {
                p.values.push((flag.to_string(), v.to_string()));
            } else if switch_flags.contains(&flag) {
                if v == "true" {
                    p.switches.push(flag.to_string());
                }
            } else {
                return Err(format!("unknown flag {flag}"));
            }
        } else if value_flags.contains(&a) {
            let v = args
                .get(i + 1)
                .ok_or_else(|| format!("{a} needs a value"))?;
            p.values.push((a.to_string(), v.clone()));
            i += 1;
        } else if switch_flags.contains(&a) {
            p.switches.push(a.to_string());
        } else if a.starts_with('-') && a.len() > 1 {
            return Err(format!("unknown flag {a}"));
        } else {
            p.positional.push(a.to_string());
        }
        i += 1;
    }
    Ok(p)
}

/// `user@host` of whoever runs d8, shown to a second console client.
pub fn identity() -> String {
    let user = ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".to_string());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string());
    format!("{user}@{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_dotted_name_carries_its_namespace() {
        assert_eq!(
            vm_ref("web.prod", None).unwrap(),
            VmRef {
                name: "web".into(),
                namespace: Some("prod".into())
            }
        );
        assert_eq!(
            vm_ref("web", Some("dev")).unwrap().namespace.as_deref(),
            Some("dev")
        );
        assert_eq!(vm_ref("web", None).unwrap().namespace, None);
    }

    #[test]
    fn a_dotted_name_and_a_different_flag_conflict() {
        assert!(vm_ref("web.prod", Some("dev")).is_err());
        assert!(vm_ref("web.prod", Some("prod")).is_ok());
        assert!(vm_ref(".prod", None).is_err());
    }

    #[test]
    fn flags_take_values_in_both_spellings() {
        let p = parse(
            &strings(&["vm", "-n", "a", "--timeout=5m", "--force", "--", "ls", "-l"]),
            &["-n", "--timeout"],
            &["--force"],
        )
        .unwrap();
        assert_eq!(p.positional, vec!["vm"]);
        assert_eq!(p.value(&["-n", "--namespace"]).as_deref(), Some("a"));
        assert_eq!(p.value(&["--timeout"]).as_deref(), Some("5m"));
        assert!(p.has(&["--force"]));
        assert_eq!(p.rest, vec!["ls", "-l"]);
    }

    #[test]
    fn unknown_flags_and_missing_values_are_errors() {
        assert!(parse(&strings(&["--bogus"]), &[], &[]).is_err());
        assert!(parse(&strings(&["-n"]), &["-n"], &[]).is_err());
    }
}

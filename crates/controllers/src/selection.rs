//! Which controllers run, from a `--controllers` list in the style of kube-controller-manager:
//! `*` enables all, `name` enables one, `-name` disables one; later entries win.
//! Running the API with some controllers off serves tests of pure API semantics (a status written
//! by hand stays as written) and operators who run a controller elsewhere.

use std::collections::BTreeSet;

/// The controllers `dvpd up` can run, by the names the list uses.
pub const ALL: [&str; 7] = ["vmclass", "images", "volumes", "vm", "vmop", "ipam", "node"];

/// A `--controllers` entry that names no controller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown controller {0:?} in --controllers (known: *, {known})", known = ALL.join(", "))]
pub struct UnknownController(pub String);

/// The set of enabled controllers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection(BTreeSet<&'static str>);

impl Selection {
    /// Every controller.
    pub fn all() -> Selection {
        Selection(ALL.into_iter().collect())
    }

    /// Parses a comma-separated list; an empty list means all.
    pub fn parse(list: &str) -> Result<Selection, UnknownController> {
        let entries: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        if entries.is_empty() {
            return Ok(Selection::all());
        }
        // A list that only disables starts from all, as `-vm` alone should read.
        let mut enabled = if entries.iter().all(|e| e.starts_with('-')) {
            Selection::all().0
        } else {
            BTreeSet::new()
        };
        for entry in entries {
            if entry == "*" {
                enabled.extend(ALL);
                continue;
            }
            let (off, name) = match entry.strip_prefix('-') {
                Some(name) => (true, name),
                None => (false, entry),
            };
            let known = ALL
                .into_iter()
                .find(|k| *k == name)
                .ok_or_else(|| UnknownController(entry.to_string()))?;
            if off {
                enabled.remove(known);
            } else {
                enabled.insert(known);
            }
        }
        Ok(Selection(enabled))
    }

    pub fn runs(&self, name: &str) -> bool {
        self.0.contains(name)
    }
}

impl Default for Selection {
    fn default() -> Self {
        Selection::all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_list_runs_everything() {
        assert_eq!(Selection::parse("").unwrap(), Selection::all());
    }

    #[test]
    fn a_star_with_exclusions_runs_the_rest() {
        let s = Selection::parse("*,-vm,-vmop").unwrap();
        assert!(s.runs("images") && s.runs("node"));
        assert!(!s.runs("vm") && !s.runs("vmop"));
    }

    #[test]
    fn exclusions_alone_start_from_everything() {
        let s = Selection::parse("-vm").unwrap();
        assert!(s.runs("vmclass") && !s.runs("vm"));
    }

    #[test]
    fn names_alone_run_only_those() {
        let s = Selection::parse("images,volumes").unwrap();
        assert!(s.runs("images") && s.runs("volumes"));
        assert!(!s.runs("vm"));
    }

    #[test]
    fn an_unknown_name_is_an_error_naming_it() {
        let e = Selection::parse("*,-vms").unwrap_err();
        assert_eq!(e, UnknownController("-vms".into()));
        assert!(e.to_string().contains("known: *, vmclass"), "{e}");
    }
}

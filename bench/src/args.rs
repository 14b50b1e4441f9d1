//! Command-line flags and the sizes they select.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Parts of the benchmark that can be run alone with `--only`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Section {
    /// Create throughput over HTTP (and the raw store baseline).
    Create,
    /// RSS and disk per VirtualMachine.
    Memory,
    /// GET and LIST latency.
    Reads,
    /// Watch delivery latency.
    Watch,
    /// Restart time with many objects.
    Restart,
}

#[derive(Parser, Debug)]
#[command(
    name = "dvp-bench",
    about = "Benchmarks a real `dvpd up` over HTTPS: create throughput, GET/LIST and watch latency, memory per VM, restart time"
)]
pub struct Args {
    /// The dvpd binary (default: `dvpd` next to this benchmark's binary).
    #[arg(long)]
    pub dvpd: Option<PathBuf>,
    /// Scale every size down for a run of a minute or so.
    #[arg(long)]
    pub quick: bool,
    /// Run only these sections (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<Section>,
    /// Where to create the temporary data dirs (default: the system temp dir).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Client concurrencies for the create throughput figures.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    pub concurrency: Vec<usize>,
    /// Skip the HTTP/2 create figures.
    #[arg(long)]
    pub no_http2: bool,
    /// VirtualMachines created per create-throughput figure.
    #[arg(long)]
    pub creates: Option<usize>,
    /// VirtualMachines in the server measured for memory, LIST and watch.
    #[arg(long)]
    pub population: Option<usize>,
    /// Concurrent watchers.
    #[arg(long)]
    pub watchers: Option<usize>,
    /// Changes (label patches) whose delivery is timed.
    #[arg(long)]
    pub watch_changes: Option<usize>,
    /// GET requests timed.
    #[arg(long)]
    pub get_samples: Option<usize>,
    /// LIST requests timed per representation.
    #[arg(long)]
    pub list_samples: Option<usize>,
    /// ConfigMaps in the store for the restart figures.
    #[arg(long)]
    pub restart_objects: Option<usize>,
    /// Runs per create-throughput figure (the median is reported; the machine may be shared).
    #[arg(long)]
    pub repeat: Option<usize>,
}

/// The sizes of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    pub creates: usize,
    pub population: usize,
    pub watchers: usize,
    pub watch_changes: usize,
    pub get_samples: usize,
    pub list_samples: usize,
    pub restart_objects: usize,
    pub repeat: usize,
}

impl Scale {
    /// The issue's numbers.
    pub const FULL: Scale = Scale {
        creates: 10_000,
        population: 10_000,
        watchers: 100,
        watch_changes: 300,
        get_samples: 2_000,
        list_samples: 20,
        restart_objects: 100_000,
        repeat: 3,
    };

    /// Small enough for a quick check that everything works.
    pub const QUICK: Scale = Scale {
        creates: 1_000,
        population: 2_000,
        watchers: 20,
        watch_changes: 50,
        get_samples: 300,
        list_samples: 5,
        restart_objects: 5_000,
        repeat: 1,
    };
}

impl Args {
    pub fn scale(&self) -> Scale {
        let base = if self.quick {
            Scale::QUICK
        } else {
            Scale::FULL
        };
        Scale {
            creates: self.creates.unwrap_or(base.creates),
            population: self.population.unwrap_or(base.population),
            watchers: self.watchers.unwrap_or(base.watchers),
            watch_changes: self.watch_changes.unwrap_or(base.watch_changes),
            get_samples: self.get_samples.unwrap_or(base.get_samples),
            list_samples: self.list_samples.unwrap_or(base.list_samples),
            restart_objects: self.restart_objects.unwrap_or(base.restart_objects),
            repeat: self.repeat.unwrap_or(base.repeat).max(1),
        }
    }

    pub fn runs(&self, section: Section) -> bool {
        self.only.is_empty() || self.only.contains(&section)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_issues_numbers() {
        let args = Args::parse_from(["dvp-bench"]);
        let s = args.scale();
        assert_eq!(
            (s.population, s.watchers, s.restart_objects),
            (10_000, 100, 100_000)
        );
        assert_eq!(args.concurrency, vec![1, 16, 64]);
    }

    #[test]
    fn an_explicit_size_overrides_quick() {
        let args = Args::parse_from(["dvp-bench", "--quick", "--watchers", "7"]);
        assert_eq!(args.scale().watchers, 7);
        assert_eq!(args.scale().population, Scale::QUICK.population);
    }

    #[test]
    fn only_selects_sections() {
        let args = Args::parse_from(["dvp-bench", "--only", "watch,reads"]);
        assert!(args.runs(Section::Watch) && args.runs(Section::Reads));
        assert!(!args.runs(Section::Restart));
    }
}

//! Golden files of the VM command line: one file per interesting spec (`cases/`), one argument
//! per line. After an intended change, regenerate with
//! `UPDATE_GOLDEN=1 cargo test -p dvp-qemu --test argv_golden` and review the diff.

mod cases;

use std::path::{Path, PathBuf};

use dvp_qemu::argv::{Launch, RunPaths, argv};

const RUN_DIR: &str = "/var/lib/dvp/run/vms/3f2a9c1e-7d4b-4e8a-9c0f-1b2d3e4f5a6b";

fn check(case: &cases::Case) -> Result<(), String> {
    let paths = RunPaths::in_dir(Path::new(RUN_DIR));
    let args = argv(&Launch {
        namespace: "default",
        name: "linux-vm",
        spec: &case.spec,
        host: &case.host,
        paths: &paths,
        nics: &case.nics,
    })
    .map_err(|e| format!("{}: {e}", case.name))?;
    let text = args.join("\n") + "\n";
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{}.args", case.name));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&file, &text).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(&file).map_err(|e| {
        format!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            file.display()
        )
    })?;
    if text != expected {
        return Err(format!(
            "command line of {} changed; compare with {}:\n{text}",
            case.name,
            file.display()
        ));
    }
    Ok(())
}

#[test]
fn every_case_matches_its_golden_file() {
    let failures: Vec<String> = cases::all("/var/lib/dvp/volumes")
        .iter()
        .filter_map(|case| check(case).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_case_has_a_golden_file_and_no_file_is_stale() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut names: Vec<String> = cases::all("/x")
        .iter()
        .map(|c| format!("{}.args", c.name))
        .collect();
    names.sort();
    assert_eq!(files, names);
}

//! The seed medium as other tools see it: `blkid` finds the `cidata` label (what cloud-init and
//! busybox's findfs look for) and xorriso extracts the files under their Joliet names.
//! A tool that is missing is reported and its check left out.

use std::process::Command;

use dvp_qemu::seed::{NoCloud, nocloud_iso};

fn write_seed(dir: &std::path::Path) -> std::path::PathBuf {
    let iso = nocloud_iso(&NoCloud {
        instance_id: "0b8c2f4e-95f1-4b0a-8d1f-3a2b1c0d9e8f",
        hostname: "demo",
        user_data: "#cloud-config\nhostname: demo\n",
        network_config: Some("version: 2\n"),
    })
    .unwrap();
    let path = dir.join("seed.iso");
    std::fs::write(&path, iso).unwrap();
    path
}

fn tool(name: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        eprintln!("left out: {name} is not installed");
    }
    found
}

#[test]
fn blkid_sees_an_iso9660_volume_labelled_cidata() {
    if !tool("blkid") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write_seed(dir.path());
    let out = Command::new("blkid")
        .args(["-p", "-o", "export"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("TYPE=iso9660"), "{text}");
    assert!(text.contains("LABEL=cidata"), "{text}");
}

#[test]
fn xorriso_extracts_the_files_with_their_names() {
    if !tool("osirrox") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write_seed(dir.path());
    let out_dir = dir.path().join("out");
    let run = Command::new("osirrox")
        .arg("-indev")
        .arg(&path)
        .args(["-extract", "/"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("user-data")).unwrap(),
        "#cloud-config\nhostname: demo\n"
    );
    assert!(
        std::fs::read_to_string(out_dir.join("meta-data"))
            .unwrap()
            .contains("local-hostname: \"demo\"")
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("network-config")).unwrap(),
        "version: 2\n"
    );
}

//! A small ISO 9660 writer for flat media (a few files in the root directory), with a Joliet
//! tree so names such as `user-data` keep their case and punctuation. Output is deterministic:
//! the same files give the same bytes.
//!
//! Layout: 16 empty system sectors, the primary volume descriptor, the Joliet supplementary
//! descriptor, the terminator, four one-sector path tables (little/big endian × primary/Joliet),
//! the two root directories, then the file data, each file on its own sectors.

const SECTOR: usize = 2048;
/// Every date on the medium: 2024-01-01 00:00:00 UTC (fixed, so the output is reproducible).
const RECORD_DATE: [u8; 7] = [124, 1, 1, 0, 0, 0, 0];
const VOLUME_DATE: &[u8; 16] = b"2024010100000000";
const NO_DATE: &[u8; 16] = b"0000000000000000";
const JOLIET_MAX_CHARS: usize = 64;

/// One file of the medium's root directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsoFile {
    pub name: String,
    pub data: Vec<u8>,
}

/// A medium that cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IsoError {
    #[error(
        "file name {0:?} cannot be stored on the medium (empty, too long, or has / \\ : ; * ? or control characters)"
    )]
    Name(String),
    #[error("file name {0:?} appears twice")]
    Duplicate(String),
    #[error("volume label {0:?} must be 1 to 16 letters, digits, '-' or '_'")]
    Label(String),
    #[error("the medium would be larger than 4 GiB")]
    TooLarge,
}

fn both16(v: u16) -> [u8; 4] {
    let (l, b) = (v.to_le_bytes(), v.to_be_bytes());
    [l[0], l[1], b[0], b[1]]
}

fn both32(v: u32) -> [u8; 8] {
    let (l, b) = (v.to_le_bytes(), v.to_be_bytes());
    [l[0], l[1], l[2], l[3], b[0], b[1], b[2], b[3]]
}

fn ucs2(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// `text` padded with spaces (or UCS-2 spaces) to `len` bytes.
fn padded(text: &[u8], len: usize, joliet: bool) -> Vec<u8> {
    let mut out = text[..text.len().min(len)].to_vec();
    while out.len() < len {
        if joliet && out.len() + 1 < len {
            out.extend_from_slice(&[0, b' ']);
        } else {
            out.push(b' ');
        }
    }
    out
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.encode_utf16().count() <= JOLIET_MAX_CHARS
        && !name
            .chars()
            .any(|c| c.is_control() || matches!(c, '/' | '\\' | ':' | ';' | '*' | '?'))
}

fn d_chars(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| {
            let c = c.to_ascii_uppercase();
            if c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(max)
        .collect()
}

/// 8.3 names for the primary tree (`user-data` → `USER_DAT.;1`), made unique with digits.
fn primary_names(names: &[&str]) -> Vec<String> {
    let mut used: Vec<String> = Vec::new();
    for name in names {
        let (base, ext) = match name.rfind('.') {
            Some(i) if i > 0 => (&name[..i], &name[i + 1..]),
            _ => (&name[..], ""),
        };
        let base = d_chars(base, 8);
        let ext = d_chars(ext, 3);
        let mut candidate = format!("{base}.{ext};1");
        let mut n = 1;
        while used.contains(&candidate) {
            let suffix = n.to_string();
            let keep: String = base.chars().take(8 - suffix.len()).collect();
            candidate = format!("{keep}{suffix}.{ext};1");
            n += 1;
        }
        used.push(candidate);
    }
    used
}

fn directory_record(id: &[u8], sector: u32, size: u32, directory: bool) -> Vec<u8> {
    let len = 33 + id.len() + (id.len() + 1) % 2;
    let mut r = Vec::with_capacity(len);
    r.push(len as u8);
    r.push(0);
    r.extend_from_slice(&both32(sector));
    r.extend_from_slice(&both32(size));
    r.extend_from_slice(&RECORD_DATE);
    r.push(if directory { 2 } else { 0 });
    r.push(0);
    r.push(0);
    r.extend_from_slice(&both16(1));
    r.push(id.len() as u8);
    r.extend_from_slice(id);
    if id.len().is_multiple_of(2) {
        r.push(0);
    }
    r
}

/// Records packed into sectors: a record never crosses a sector boundary.
fn directory_sectors(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::new();
    let mut used = 0;
    for r in records {
        if used + r.len() > SECTOR {
            out.resize(out.len() + SECTOR - used, 0);
            used = 0;
        }
        out.extend_from_slice(r);
        used += r.len();
    }
    out.resize(out.len().div_ceil(SECTOR).max(1) * SECTOR, 0);
    out
}

fn path_table(root_sector: u32, big_endian: bool) -> Vec<u8> {
    let mut t = vec![1, 0];
    if big_endian {
        t.extend_from_slice(&root_sector.to_be_bytes());
        t.extend_from_slice(&1u16.to_be_bytes());
    } else {
        t.extend_from_slice(&root_sector.to_le_bytes());
        t.extend_from_slice(&1u16.to_le_bytes());
    }
    t.extend_from_slice(&[0, 0]);
    t
}

struct Descriptor<'a> {
    joliet: bool,
    label: &'a str,
    total_sectors: u32,
    path_table_size: u32,
    l_table: u32,
    m_table: u32,
    root: Vec<u8>,
}

fn volume_descriptor(d: &Descriptor) -> Vec<u8> {
    let text = |s: &str, len: usize| {
        if d.joliet {
            padded(&ucs2(s), len, true)
        } else {
            padded(s.as_bytes(), len, false)
        }
    };
    let mut v = Vec::with_capacity(SECTOR);
    v.push(if d.joliet { 2 } else { 1 });
    v.extend_from_slice(b"CD001");
    v.push(1);
    v.push(0);
    v.extend(text("LINUX", 32));
    v.extend(text(d.label, 32));
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&both32(d.total_sectors));
    let mut escapes = [0u8; 32];
    if d.joliet {
        escapes[..3].copy_from_slice(b"%/E");
    }
    v.extend_from_slice(&escapes);
    v.extend_from_slice(&both16(1));
    v.extend_from_slice(&both16(1));
    v.extend_from_slice(&both16(SECTOR as u16));
    v.extend_from_slice(&both32(d.path_table_size));
    v.extend_from_slice(&d.l_table.to_le_bytes());
    v.extend_from_slice(&[0; 4]);
    v.extend_from_slice(&d.m_table.to_be_bytes());
    v.extend_from_slice(&[0; 4]);
    v.extend_from_slice(&d.root);
    v.extend(text("", 128));
    v.extend(text("", 128));
    v.extend(text("", 128));
    v.extend(text("DVP", 128));
    v.extend(text("", 37));
    v.extend(text("", 37));
    v.extend(text("", 37));
    for date in [VOLUME_DATE, VOLUME_DATE, NO_DATE, NO_DATE] {
        v.extend_from_slice(date);
        v.push(0);
    }
    v.push(1);
    v.resize(SECTOR, 0);
    v
}

/// Writes a medium labelled `label` holding `files` in its root directory.
pub fn build_iso(label: &str, files: &[IsoFile]) -> Result<Vec<u8>, IsoError> {
    if label.is_empty()
        || label.len() > 16
        || !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(IsoError::Label(label.to_string()));
    }
    for (i, f) in files.iter().enumerate() {
        if !valid_name(&f.name) {
            return Err(IsoError::Name(f.name.clone()));
        }
        if files[..i].iter().any(|g| g.name == f.name) {
            return Err(IsoError::Duplicate(f.name.clone()));
        }
    }
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    let primary = primary_names(&names);

    // sectors: 16 system, 3 descriptors, 4 path tables, then the directories
    const FIRST_DIR: u32 = 23;
    let record_len = |id_len: usize| 33 + id_len + (id_len + 1) % 2;
    let dir_sectors = |ids: &mut dyn Iterator<Item = usize>| {
        let mut records = vec![vec![0u8; record_len(1)], vec![0u8; record_len(1)]];
        records.extend(ids.map(|len| vec![0u8; record_len(len)]));
        (directory_sectors(&records).len() / SECTOR) as u32
    };
    let primary_dir_sectors = dir_sectors(&mut primary.iter().map(String::len));
    let joliet_dir_sectors = dir_sectors(&mut files.iter().map(|f| ucs2(&f.name).len() + 4));
    let primary_root = FIRST_DIR;
    let joliet_root = primary_root + primary_dir_sectors;
    let mut next = joliet_root + joliet_dir_sectors;
    let mut extents = Vec::with_capacity(files.len());
    for f in files {
        let size = u32::try_from(f.data.len()).map_err(|_| IsoError::TooLarge)?;
        extents.push((next, size));
        let sectors =
            u32::try_from(f.data.len().div_ceil(SECTOR)).map_err(|_| IsoError::TooLarge)?;
        next = next.checked_add(sectors).ok_or(IsoError::TooLarge)?;
    }
    let total = next;
    if u64::from(total) * SECTOR as u64 > u64::from(u32::MAX) {
        return Err(IsoError::TooLarge);
    }

    let directory = |root: u32, sectors: u32, ids: Vec<(Vec<u8>, usize)>| {
        let size = sectors * SECTOR as u32;
        let mut records = vec![
            directory_record(&[0], root, size, true),
            directory_record(&[1], root, size, true),
        ];
        let mut entries: Vec<(Vec<u8>, usize)> = ids;
        entries.sort();
        for (id, i) in entries {
            let (sector, len) = extents[i];
            records.push(directory_record(&id, sector, len, false));
        }
        directory_sectors(&records)
    };
    let primary_dir = directory(
        primary_root,
        primary_dir_sectors,
        primary
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_bytes().to_vec(), i))
            .collect(),
    );
    let joliet_dir = directory(
        joliet_root,
        joliet_dir_sectors,
        files
            .iter()
            .enumerate()
            .map(|(i, f)| (ucs2(&format!("{};1", f.name)), i))
            .collect(),
    );

    let mut image = vec![0u8; 16 * SECTOR];
    let root_record =
        |sector: u32, sectors: u32| directory_record(&[0], sector, sectors * SECTOR as u32, true);
    image.extend(volume_descriptor(&Descriptor {
        joliet: false,
        label,
        total_sectors: total,
        path_table_size: 10,
        l_table: 19,
        m_table: 20,
        root: root_record(primary_root, primary_dir_sectors),
    }));
    image.extend(volume_descriptor(&Descriptor {
        joliet: true,
        label,
        total_sectors: total,
        path_table_size: 10,
        l_table: 21,
        m_table: 22,
        root: root_record(joliet_root, joliet_dir_sectors),
    }));
    let mut terminator = vec![255];
    terminator.extend_from_slice(b"CD001");
    terminator.push(1);
    terminator.resize(SECTOR, 0);
    image.extend(terminator);
    for (root, big) in [
        (primary_root, false),
        (primary_root, true),
        (joliet_root, false),
        (joliet_root, true),
    ] {
        let mut table = path_table(root, big);
        table.resize(SECTOR, 0);
        image.extend(table);
    }
    image.extend(primary_dir);
    image.extend(joliet_dir);
    for f in files {
        image.extend_from_slice(&f.data);
        image.resize(image.len().div_ceil(SECTOR) * SECTOR, 0);
    }
    debug_assert_eq!(image.len(), total as usize * SECTOR);
    Ok(image)
}

#[cfg(test)]
pub(crate) mod reader {
    //! Reads back what [`super::build_iso`] wrote (tests only).
    use super::SECTOR;

    pub struct Volume {
        pub label: String,
        pub files: Vec<(String, Vec<u8>)>,
    }

    fn u32le(b: &[u8]) -> usize {
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
    }

    pub fn read(image: &[u8], joliet: bool) -> Volume {
        let vd = &image[(if joliet { 17 } else { 16 }) * SECTOR..][..SECTOR];
        assert_eq!(&vd[1..6], b"CD001");
        let decode = |b: &[u8]| -> String {
            if joliet {
                let units: Vec<u16> = b
                    .chunks(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect();
                String::from_utf16_lossy(&units)
            } else {
                String::from_utf8_lossy(b).into_owned()
            }
        };
        let label = decode(&vd[40..72]).trim_end().to_string();
        let root = &vd[156..190];
        let (start, size) = (u32le(&root[2..]), u32le(&root[10..]));
        let dir = &image[start * SECTOR..start * SECTOR + size];
        let mut files = Vec::new();
        let mut pos = 0;
        while pos < dir.len() {
            let len = dir[pos] as usize;
            if len == 0 {
                pos = (pos / SECTOR + 1) * SECTOR;
                continue;
            }
            let r = &dir[pos..pos + len];
            let id = &r[33..33 + r[32] as usize];
            if r[25] & 2 == 0 {
                let (sector, size) = (u32le(&r[2..]), u32le(&r[10..]));
                files.push((decode(id), image[sector * SECTOR..][..size].to_vec()));
            }
            pos += len;
        }
        Volume { label, files }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, data: &[u8]) -> IsoFile {
        IsoFile {
            name: name.into(),
            data: data.to_vec(),
        }
    }

    fn sample() -> Vec<IsoFile> {
        vec![
            file("user-data", b"#cloud-config\nhostname: demo\n"),
            file("meta-data", b"instance-id: x\n"),
        ]
    }

    #[test]
    fn joliet_tree_keeps_the_names() {
        let image = build_iso("cidata", &sample()).unwrap();
        let v = reader::read(&image, true);
        assert_eq!(v.label, "cidata");
        assert_eq!(
            v.files,
            vec![
                ("meta-data;1".to_string(), b"instance-id: x\n".to_vec()),
                (
                    "user-data;1".to_string(),
                    b"#cloud-config\nhostname: demo\n".to_vec()
                ),
            ]
        );
    }

    #[test]
    fn primary_tree_has_8_3_names_and_the_same_data() {
        let image = build_iso("cidata", &sample()).unwrap();
        let v = reader::read(&image, false);
        assert_eq!(v.label, "cidata");
        let names: Vec<&str> = v.files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["META_DAT.;1", "USER_DAT.;1"]);
        assert_eq!(v.files[1].1, b"#cloud-config\nhostname: demo\n");
    }

    #[test]
    fn clashing_short_names_get_digits() {
        assert_eq!(
            primary_names(&["network-config", "network-config2", "unattend.xml"]),
            ["NETWORK_.;1", "NETWORK1.;1", "UNATTEND.XML;1"]
        );
    }

    #[test]
    fn output_is_deterministic_and_sector_aligned() {
        let a = build_iso("cidata", &sample()).unwrap();
        assert_eq!(a, build_iso("cidata", &sample()).unwrap());
        assert_eq!(a.len() % SECTOR, 0);
        assert_eq!(&a[16 * SECTOR + 1..16 * SECTOR + 6], b"CD001");
        assert_eq!(a[18 * SECTOR], 255);
    }

    #[test]
    fn large_files_span_sectors() {
        let big: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let image = build_iso("x", &[file("big", &big), file("empty", b"")]).unwrap();
        let v = reader::read(&image, true);
        assert_eq!(v.files[0].1, big);
        assert_eq!(v.files[1].1, b"");
    }

    #[test]
    fn many_files_spill_the_directory_over_sectors() {
        let files: Vec<IsoFile> = (0..60)
            .map(|i| file(&format!("a-rather-long-file-name-number-{i:03}.txt"), b"x"))
            .collect();
        let image = build_iso("many", &files).unwrap();
        assert_eq!(reader::read(&image, true).files.len(), 60);
        assert_eq!(reader::read(&image, false).files.len(), 60);
    }

    #[test]
    fn bad_names_and_labels_are_refused() {
        assert_eq!(
            build_iso("x", &[file("a/b", b"")]),
            Err(IsoError::Name("a/b".into()))
        );
        assert!(matches!(
            build_iso("x", &[file("a", b""), file("a", b"")]),
            Err(IsoError::Duplicate(_))
        ));
        assert!(matches!(
            build_iso("label with spaces", &[]),
            Err(IsoError::Label(_))
        ));
    }
}

//! On-disk encoding of one stored value.
//!
//! A record is `[format: u8][create_revision: u64 LE][mod_revision: u64 LE][value bytes]`. The
//! revisions live next to the value (not in a second table) so that a `get` or a `list` is one
//! lookup per key. The leading format byte lets a later version change the layout and still read
//! old files.

use bytes::Bytes;

use crate::{KeyValue, Revision, StoreError};

const FORMAT_V1: u8 = 1;
const HEADER_LEN: usize = 1 + 8 + 8;

/// Encodes the value and revisions of `kv` (the key is stored as the table key).
pub fn encode(kv: &KeyValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + kv.value.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(&kv.create_revision.to_le_bytes());
    out.extend_from_slice(&kv.mod_revision.to_le_bytes());
    out.extend_from_slice(&kv.value);
    out
}

/// Decodes a record stored under `key`, copying the value out of the database page.
pub fn decode(key: &str, record: &[u8]) -> Result<KeyValue, StoreError> {
    if record.len() < HEADER_LEN || record[0] != FORMAT_V1 {
        return Err(StoreError::Backend(format!(
            "record of key {key:?} is corrupt or written by an unknown version \
             ({} bytes, format byte {:?}); restore the data directory from a backup",
            record.len(),
            record.first()
        )));
    }
    Ok(KeyValue {
        key: key.to_owned(),
        create_revision: read_revision(&record[1..9]),
        mod_revision: read_revision(&record[9..17]),
        value: Bytes::copy_from_slice(&record[HEADER_LEN..]),
    })
}

fn read_revision(bytes: &[u8]) -> Revision {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(bytes);
    u64::from_le_bytes(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(value: &'static [u8]) -> KeyValue {
        KeyValue {
            key: "/a/b".into(),
            value: Bytes::from_static(value),
            create_revision: 7,
            mod_revision: 0x0102_0304_0506_0708,
        }
    }

    #[test]
    fn round_trips_value_and_revisions() {
        let original = kv(b"{\"x\":1}");
        assert_eq!(decode("/a/b", &encode(&original)).unwrap(), original);
    }

    #[test]
    fn round_trips_empty_value() {
        let original = kv(b"");
        assert_eq!(decode("/a/b", &encode(&original)).unwrap(), original);
    }

    #[test]
    fn rejects_truncated_record() {
        let record = encode(&kv(b"x"));
        assert!(matches!(
            decode("/a/b", &record[..10]),
            Err(StoreError::Backend(_))
        ));
    }

    #[test]
    fn rejects_unknown_format() {
        let mut record = encode(&kv(b"x"));
        record[0] = 99;
        assert!(matches!(
            decode("/a/b", &record),
            Err(StoreError::Backend(_))
        ));
    }
}

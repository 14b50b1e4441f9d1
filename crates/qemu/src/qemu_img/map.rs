//! `qemu-img map --output=json`: which parts of the guest disk hold data.

use serde::Deserialize;

/// One run of guest bytes with the same allocation status.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct MapExtent {
    /// Guest offset, in bytes.
    pub start: u64,
    pub length: u64,
    /// The run has data in some image of the chain (otherwise it reads as zeros).
    pub data: bool,
    /// The run reads as zeros.
    pub zero: bool,
    /// Position in the image that holds the run's bytes, when there is one.
    pub offset: Option<u64>,
    /// How far down the backing chain the run's data lives (0 = the image itself).
    #[serde(default)]
    pub depth: u32,
}

/// Parses the output of `qemu-img map --output=json`.
pub fn parse_map(json: &str) -> Result<Vec<MapExtent>, serde_json::Error> {
    serde_json::from_str(json)
}

/// Guest bytes that hold data (not zero), in the image itself or its backing chain.
pub fn data_bytes(extents: &[MapExtent]) -> u64 {
    extents
        .iter()
        .filter(|e| e.data && !e.zero)
        .map(|e| e.length)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_bytes_skip_holes_and_zeroes() {
        let json = r#"[
            {"start": 0, "length": 65536, "depth": 0, "present": true, "zero": false,
             "data": true, "compressed": false, "offset": 327680},
            {"start": 65536, "length": 131072, "depth": 0, "present": false, "zero": true,
             "data": false, "compressed": false},
            {"start": 196608, "length": 4096, "depth": 1, "present": true, "zero": true,
             "data": true, "compressed": false, "offset": 0},
            {"start": 200704, "length": 512, "depth": 1, "present": true, "zero": false,
             "data": true, "compressed": false, "offset": 8192}
        ]"#;
        let extents = parse_map(json).unwrap();
        assert_eq!(extents.len(), 4);
        assert_eq!(extents[1].offset, None);
        assert_eq!(extents[3].depth, 1);
        assert_eq!(data_bytes(&extents), 65536 + 512);
    }
}

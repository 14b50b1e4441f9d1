//! Reading the progress qemu-img prints with `-p`: `    (12.34/100%)` records ended by `\r`.

/// Collects output chunks and yields the progress records they complete.
#[derive(Debug, Default)]
pub struct ProgressParser {
    pending: Vec<u8>,
}

impl ProgressParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk of qemu-img's stdout; returns the latest fraction (0..=1) completed by it.
    pub fn push(&mut self, chunk: &[u8]) -> Option<f64> {
        self.pending.extend_from_slice(chunk);
        let mut latest = None;
        while let Some(end) = self.pending.iter().position(|b| *b == b'\r' || *b == b'\n') {
            let record: Vec<u8> = self.pending.drain(..=end).collect();
            if let Some(fraction) = parse_record(&record[..record.len() - 1]) {
                latest = Some(fraction);
            }
        }
        latest
    }
}

/// Parses one record such as `    (45.50/100%)` into `0.455`.
pub fn parse_record(record: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(record).ok()?.trim();
    let inner = text.strip_prefix('(')?.strip_suffix("/100%)")?;
    let percent: f64 = inner.trim().parse().ok()?;
    percent
        .is_finite()
        .then(|| (percent / 100.0).clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_is_a_fraction() {
        assert_eq!(parse_record(b"    (45.50/100%)"), Some(0.455));
        assert_eq!(parse_record(b"(100.00/100%)"), Some(1.0));
        assert_eq!(parse_record(b"    (0.00/100%)"), Some(0.0));
    }

    #[test]
    fn other_lines_are_ignored() {
        assert_eq!(parse_record(b"qemu-img: warning"), None);
        assert_eq!(parse_record(b""), None);
        assert_eq!(parse_record(b"(abc/100%)"), None);
    }

    #[test]
    fn records_split_across_chunks() {
        let mut parser = ProgressParser::new();
        assert_eq!(parser.push(b"    (0.00/100%)\r    (15."), Some(0.0));
        assert_eq!(parser.push(b"07/100%)"), None);
        assert_eq!(parser.push(b"\r    (29.68/100%)\r"), Some(0.2968));
    }

    #[test]
    fn latest_record_of_a_chunk_wins() {
        let mut parser = ProgressParser::new();
        let chunk = b"    (1.00/100%)\r    (2.00/100%)\r    (3.00/100%)\r";
        assert_eq!(parser.push(chunk), Some(0.03));
    }
}

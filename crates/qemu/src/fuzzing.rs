//! Entry points for fuzzers (cargo-fuzz targets call these; a randomized test does too).

use crate::qmp::codec::{LineFramer, Message, parse_message};

/// Feeds `data` through the line framer in pieces whose sizes come from the data itself, and
/// classifies every line. Must never panic; a line that parses as a reply must keep its value
/// when parsed again from its re-serialized form.
pub fn fuzz_qmp_line(data: &[u8]) {
    let _ = parse_message(data);
    let mut framer = LineFramer::with_limit(4096);
    let step = usize::from(data.first().copied().unwrap_or(1)).max(1);
    for piece in data.chunks(step) {
        for line in framer.feed(piece).into_iter().flatten() {
            if let Ok(Message::Return { id, value }) = parse_message(&line) {
                let mut again = serde_json::json!({ "return": value });
                if let Some(id) = &id {
                    again["id"] = id.clone();
                }
                let reparsed = parse_message(again.to_string().as_bytes());
                assert_eq!(reparsed, Ok(Message::Return { id, value }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    const SAMPLES: &[&[u8]] = &[
        br#"{"QMP": {"version": {"qemu": {"micro": 2, "minor": 0, "major": 10}}, "capabilities": []}}"#,
        br#"{"return": {"status": "running", "running": true}, "id": 3}"#,
        br#"{"error": {"class": "GenericError", "desc": "x"}, "id": 4}"#,
        br#"{"event": "SHUTDOWN", "data": {"guest": true}, "timestamp": {"seconds": 1, "microseconds": 2}}"#,
        b"\xff{\"return\": 12345}",
    ];

    #[test]
    fn random_and_mutated_lines_never_panic() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x0d_5e_ed);
        for round in 0..20_000 {
            let mut data: Vec<u8> = if round % 2 == 0 {
                let len = rng.random_range(0..200);
                (0..len).map(|_| rng.random()).collect()
            } else {
                SAMPLES[round % SAMPLES.len()].to_vec()
            };
            for _ in 0..rng.random_range(0..4) {
                if data.is_empty() {
                    break;
                }
                let i = rng.random_range(0..data.len());
                match rng.random_range(0..3) {
                    0 => data[i] = rng.random(),
                    1 => data.insert(i, b"{}[]\"\n\xff:,"[rng.random_range(0..9)]),
                    _ => {
                        data.remove(i);
                    }
                }
            }
            data.push(b'\n');
            fuzz_qmp_line(&data);
        }
    }
}

//! The protobuf wire format: a field writer and a field reader, nothing schema-specific.
//!
//! Only what the server needs: varints, 64-bit doubles and length-delimited fields on the
//! writing side; every wire type (so unknown fields can be skipped) on the reading side.

use thiserror::Error;

/// Why a protobuf byte string could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum WireError {
    #[error("the protobuf data ends in the middle of a field")]
    Truncated,
    #[error("a protobuf varint is longer than 10 bytes")]
    VarintTooLong,
    #[error("protobuf field number {0} is invalid")]
    BadFieldNumber(u64),
    #[error("protobuf wire type {0} is not supported")]
    BadWireType(u8),
    #[error("protobuf field {field} has wire type {actual}, expected {expected}")]
    UnexpectedWireType {
        field: u32,
        expected: &'static str,
        actual: &'static str,
    },
    #[error("protobuf field {0} is not valid UTF-8 text")]
    NotUtf8(u32),
}

const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_FIXED32: u8 = 5;

/// Appends protobuf fields to a byte buffer. Field order is the caller's.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn tag(&mut self, field: u32, wire: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire));
    }

    /// An unsigned varint field (also `bool` and non-negative `int32`/`int64`).
    pub fn uint(&mut self, field: u32, v: u64) {
        self.tag(field, WIRE_VARINT);
        self.varint(v);
    }

    /// A signed `int64`/`int32` field (two's complement, as protobuf encodes negatives).
    pub fn int(&mut self, field: u32, v: i64) {
        self.uint(field, v as u64);
    }

    pub fn bool(&mut self, field: u32, v: bool) {
        self.uint(field, u64::from(v));
    }

    pub fn double(&mut self, field: u32, v: f64) {
        self.tag(field, WIRE_FIXED64);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn bytes(&mut self, field: u32, v: &[u8]) {
        self.tag(field, WIRE_LEN);
        self.varint(v.len() as u64);
        self.buf.extend_from_slice(v);
    }

    pub fn string(&mut self, field: u32, v: &str) {
        self.bytes(field, v.as_bytes());
    }

    /// An embedded message, written by `body` into its own buffer.
    pub fn message(&mut self, field: u32, body: impl FnOnce(&mut Writer)) {
        let mut inner = Writer::new();
        body(&mut inner);
        self.bytes(field, &inner.buf);
    }
}

/// The value of one field as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WireValue<'a> {
    Varint(u64),
    Fixed64(u64),
    Len(&'a [u8]),
    Fixed32(u32),
}

impl<'a> WireValue<'a> {
    fn kind(&self) -> &'static str {
        match self {
            WireValue::Varint(_) => "varint",
            WireValue::Fixed64(_) => "fixed64",
            WireValue::Len(_) => "length-delimited",
            WireValue::Fixed32(_) => "fixed32",
        }
    }

    fn unexpected(&self, field: u32, expected: &'static str) -> WireError {
        WireError::UnexpectedWireType {
            field,
            expected,
            actual: self.kind(),
        }
    }

    pub fn as_varint(&self, field: u32) -> Result<u64, WireError> {
        match self {
            WireValue::Varint(v) => Ok(*v),
            other => Err(other.unexpected(field, "varint")),
        }
    }

    pub fn as_bytes(&self, field: u32) -> Result<&'a [u8], WireError> {
        match self {
            WireValue::Len(b) => Ok(b),
            other => Err(other.unexpected(field, "length-delimited")),
        }
    }

    pub fn as_str(&self, field: u32) -> Result<&'a str, WireError> {
        std::str::from_utf8(self.as_bytes(field)?).map_err(|_| WireError::NotUtf8(field))
    }
}

/// Iterates over the fields of one message.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for i in 0..10 {
            let (&byte, rest) = self.rest.split_first().ok_or(WireError::Truncated)?;
            self.rest = rest;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError::VarintTooLong)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.rest.len() < n {
            return Err(WireError::Truncated);
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    /// The next `(field number, value)`, or `None` at the end of the message.
    pub fn next_field(&mut self) -> Result<Option<(u32, WireValue<'a>)>, WireError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = key >> 3;
        if number == 0 || number > u64::from(u32::MAX >> 3) {
            return Err(WireError::BadFieldNumber(number));
        }
        let value = match (key & 7) as u8 {
            WIRE_VARINT => WireValue::Varint(self.varint()?),
            WIRE_FIXED64 => {
                let b = self.take(8)?;
                WireValue::Fixed64(u64::from_le_bytes(b.try_into().expect("8 bytes")))
            }
            WIRE_LEN => {
                let len = self.varint()?;
                let len = usize::try_from(len).map_err(|_| WireError::Truncated)?;
                WireValue::Len(self.take(len)?)
            }
            WIRE_FIXED32 => {
                let b = self.take(4)?;
                WireValue::Fixed32(u32::from_le_bytes(b.try_into().expect("4 bytes")))
            }
            other => return Err(WireError::BadWireType(other)),
        };
        Ok(Some((number as u32, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(bytes: &[u8]) -> Result<Vec<(u32, WireValue<'_>)>, WireError> {
        let mut r = Reader::new(bytes);
        let mut out = Vec::new();
        while let Some(f) = r.next_field()? {
            out.push(f);
        }
        Ok(out)
    }

    #[test]
    fn varint_field_matches_the_protobuf_encoding_of_150() {
        let mut w = Writer::new();
        w.uint(1, 150);
        assert_eq!(w.into_bytes(), vec![0x08, 0x96, 0x01]);
    }

    #[test]
    fn string_field_is_tag_length_bytes() {
        let mut w = Writer::new();
        w.string(2, "testing");
        assert_eq!(
            w.into_bytes(),
            vec![0x12, 0x07, b't', b'e', b's', b't', b'i', b'n', b'g']
        );
    }

    #[test]
    fn negative_int_takes_ten_bytes() {
        let mut w = Writer::new();
        w.int(1, -1);
        let bytes = w.into_bytes();
        assert_eq!(bytes.len(), 11);
        assert_eq!(
            fields(&bytes).unwrap(),
            vec![(1, WireValue::Varint(u64::MAX))]
        );
    }

    #[test]
    fn nested_message_is_length_prefixed() {
        let mut w = Writer::new();
        w.message(3, |m| m.uint(1, 150));
        assert_eq!(w.into_bytes(), vec![0x1a, 0x03, 0x08, 0x96, 0x01]);
    }

    #[test]
    fn double_is_little_endian_fixed64() {
        let mut w = Writer::new();
        w.double(6, 1.5);
        let bytes = w.into_bytes();
        assert_eq!(bytes[0], 0x31);
        assert_eq!(
            fields(&bytes).unwrap(),
            vec![(6, WireValue::Fixed64(1.5f64.to_bits()))]
        );
    }

    #[test]
    fn reader_round_trips_every_written_kind() {
        let mut w = Writer::new();
        w.uint(1, 7);
        w.string(2, "x");
        w.bool(3, true);
        w.message(4, |m| m.string(1, "inner"));
        w.uint(536_870_911, 1);
        let bytes = w.into_bytes();
        let got = fields(&bytes).unwrap();
        assert_eq!(got[0], (1, WireValue::Varint(7)));
        assert_eq!(got[1].1.as_str(2).unwrap(), "x");
        assert_eq!(got[2], (3, WireValue::Varint(1)));
        let inner = fields(got[3].1.as_bytes(4).unwrap()).unwrap();
        assert_eq!(inner[0].1.as_str(1).unwrap(), "inner");
        assert_eq!(got[4].0, 536_870_911);
    }

    #[test]
    fn reader_reads_fixed32_fields() {
        assert_eq!(
            fields(&[0x0d, 1, 0, 0, 0]).unwrap(),
            vec![(1, WireValue::Fixed32(1))]
        );
    }

    #[test]
    fn truncated_length_is_an_error() {
        assert_eq!(fields(&[0x12, 0x05, b'a']), Err(WireError::Truncated));
    }

    #[test]
    fn field_number_zero_is_an_error() {
        assert_eq!(fields(&[0x00, 0x01]), Err(WireError::BadFieldNumber(0)));
    }

    #[test]
    fn group_wire_types_are_rejected() {
        assert_eq!(fields(&[0x0b]), Err(WireError::BadWireType(3)));
    }

    #[test]
    fn overlong_varint_is_an_error() {
        assert_eq!(
            fields(&[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ]),
            Err(WireError::VarintTooLong)
        );
    }

    #[test]
    fn wrong_wire_type_names_the_field() {
        let v = WireValue::Varint(1);
        assert_eq!(
            v.as_bytes(5).unwrap_err().to_string(),
            "protobuf field 5 has wire type varint, expected length-delimited"
        );
    }

    #[test]
    fn invalid_utf8_string_is_an_error() {
        let v = WireValue::Len(&[0xff, 0xfe]);
        assert_eq!(v.as_str(2), Err(WireError::NotUtf8(2)));
    }
}

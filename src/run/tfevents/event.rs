//! The few protobuf messages of an event file, encoded by hand (TensorBoard's `event.proto` and `summary.proto`,
//! both proto3):
//! ```text
//! Event      { double wall_time = 1; int64 step = 2;
//!              oneof what { string file_version = 3; Summary summary = 5; SessionLog session_log = 6; ... } }
//! Summary    { repeated Value value = 1; }
//! Value      { string tag = 1; oneof value { float simple_value = 2; ... } }
//! SessionLog { SessionStatus status = 1; ... }     START = 1
//! ```
//! Encoding follows what protobuf's own serializers do, so the bytes match TensorBoard's writer exactly: fields
//! in number order; proto3 scalars equal to their default (wall_time 0.0, step 0) are left out, while a member of a
//! oneof is always written (so `simple_value = 0.0` is present). The first event of a file carries only
//! `file_version = "brain.Event:2"`.
//!
//! Decoding reads these fields and skips every other field by its wire type, so files written by other tools
//! (with graphs, histograms, plugin metadata) are read without error.

use anyhow::{bail, Context, Result};

/// What one event holds, as far as rnnlab is concerned.
#[derive(Clone, Debug, PartialEq)]
pub enum What {
    /// The first event of a file: its format version (`brain.Event:2`).
    FileVersion(String),
    /// `(tag, simple_value)` pairs of one Summary (values of other kinds are skipped when reading).
    Scalars(Vec<(String, f32)>),
    /// SessionLog with this status (1 = START).
    SessionLog(i32),
    /// Any other event.
    Other,
}

/// One record of a TensorBoard event file.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Seconds since the Unix epoch.
    pub wall_time: f64,
    /// The global step (rnnlab writes the epoch).
    pub step: i64,
    /// What the event holds.
    pub what: What,
}

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

fn key(field: u32, wire: u8, out: &mut Vec<u8>) {
    varint(((field as u64) << 3) | wire as u64, out);
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn bytes_field(field: u32, data: &[u8], out: &mut Vec<u8>) {
    key(field, LEN, out);
    varint(data.len() as u64, out);
    out.extend_from_slice(data);
}

impl Event {
    /// The serialized protobuf.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // proto3: a scalar equal to its default is not written (-0.0 is not the default: its bits differ).
        if self.wall_time.to_bits() != 0 {
            key(1, FIXED64, &mut out);
            out.extend_from_slice(&self.wall_time.to_le_bytes());
        }
        if self.step != 0 {
            key(2, VARINT, &mut out);
            // int64: negative values are written as their 64-bit two's complement (10 bytes).
            varint(self.step as u64, &mut out);
        }
        match &self.what {
            What::FileVersion(v) => bytes_field(3, v.as_bytes(), &mut out),
            What::Scalars(values) => {
                let mut summary = Vec::new();
                for (tag, value) in values {
                    let mut v = Vec::new();
                    if !tag.is_empty() {
                        bytes_field(1, tag.as_bytes(), &mut v);
                    }
                    key(2, FIXED32, &mut v);
                    v.extend_from_slice(&value.to_le_bytes());
                    bytes_field(1, &v, &mut summary);
                }
                bytes_field(5, &summary, &mut out);
            }
            What::SessionLog(status) => {
                let mut log = Vec::new();
                if *status != 0 {
                    key(1, VARINT, &mut log);
                    varint(*status as i64 as u64, &mut log);
                }
                bytes_field(6, &log, &mut out);
            }
            What::Other => {}
        }
        out
    }

    /// Parses a serialized Event; see the module doc for what is kept.
    pub fn decode(bytes: &[u8]) -> Result<Event> {
        let mut ev = Event {
            wall_time: 0.0,
            step: 0,
            what: What::Other,
        };
        for field in Fields::new(bytes) {
            let (number, value) = field?;
            match (number, value) {
                (1, Value::Fixed64(bits)) => ev.wall_time = f64::from_bits(bits),
                (2, Value::Varint(v)) => ev.step = v as i64,
                (3, Value::Bytes(b)) => {
                    ev.what = What::FileVersion(
                        String::from_utf8(b.to_vec()).context("file_version is not UTF-8")?,
                    )
                }
                (5, Value::Bytes(b)) => ev.what = What::Scalars(decode_summary(b)?),
                (6, Value::Bytes(b)) => {
                    let mut status = 0;
                    for f in Fields::new(b) {
                        if let (1, Value::Varint(v)) = f? {
                            status = v as i32;
                        }
                    }
                    ev.what = What::SessionLog(status);
                }
                _ => {}
            }
        }
        Ok(ev)
    }
}

fn decode_summary(bytes: &[u8]) -> Result<Vec<(String, f32)>> {
    let mut values = Vec::new();
    for field in Fields::new(bytes) {
        if let (1, Value::Bytes(v)) = field? {
            let mut tag = String::new();
            let mut simple = None;
            for f in Fields::new(v) {
                match f? {
                    (1, Value::Bytes(t)) => {
                        tag = String::from_utf8(t.to_vec()).context("a tag is not UTF-8")?
                    }
                    (2, Value::Fixed32(bits)) => simple = Some(f32::from_bits(bits)),
                    _ => {}
                }
            }
            if let Some(s) = simple {
                values.push((tag, s));
            }
        }
    }
    Ok(values)
}

enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// Iterates over `(field number, value)` of one message.
struct Fields<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Fields { bytes, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.bytes.get(self.pos) else {
                bail!("a varint runs past the end of the message");
            };
            self.pos += 1;
            v |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        bail!("a varint is longer than 10 bytes")
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .context("a field runs past the end of the message")?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn next_field(&mut self) -> Result<(u32, Value<'a>)> {
        let k = self.varint()?;
        let number = (k >> 3) as u32;
        let value = match (k & 7) as u8 {
            VARINT => Value::Varint(self.varint()?),
            FIXED64 => Value::Fixed64(u64::from_le_bytes(self.take(8)?.try_into()?)),
            LEN => {
                let n = usize::try_from(self.varint()?)?;
                Value::Bytes(self.take(n)?)
            }
            FIXED32 => Value::Fixed32(u32::from_le_bytes(self.take(4)?.try_into()?)),
            w => bail!("field {number} has wire type {w}, which no event field uses"),
        };
        Ok((number, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>)>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.bytes.len() {
            return None;
        }
        let r = self.next_field();
        if r.is_err() {
            self.pos = self.bytes.len();
        }
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_event_bytes_by_hand() {
        let ev = Event {
            wall_time: 0.0,
            step: 1,
            what: What::Scalars(vec![("a".into(), 1.0)]),
        };
        // step=1: 10 01; summary: 2a 0a | value: 0a 08 | tag: 0a 01 'a' | simple_value: 15 00 00 80 3f
        assert_eq!(
            ev.encode(),
            [0x10, 0x01, 0x2a, 0x0a, 0x0a, 0x08, 0x0a, 0x01, b'a', 0x15, 0, 0, 0x80, 0x3f]
        );
        assert_eq!(Event::decode(&ev.encode()).unwrap(), ev);
    }

    #[test]
    fn round_trip_of_every_kind() {
        for ev in [
            Event {
                wall_time: 1.5e9,
                step: 0,
                what: What::FileVersion("brain.Event:2".into()),
            },
            Event {
                wall_time: 3.25,
                step: 1 << 40,
                what: What::Scalars(vec![("x/y".into(), -0.0), ("z".into(), f32::NAN)]),
            },
            Event {
                wall_time: 7.0,
                step: -3,
                what: What::SessionLog(1),
            },
        ] {
            let back = Event::decode(&ev.encode()).unwrap();
            assert_eq!(back.wall_time.to_bits(), ev.wall_time.to_bits());
            assert_eq!(back.step, ev.step);
            match (&back.what, &ev.what) {
                (What::Scalars(a), What::Scalars(b)) => {
                    let bits = |v: &[(String, f32)]| -> Vec<(String, u32)> {
                        v.iter().map(|(t, x)| (t.clone(), x.to_bits())).collect()
                    };
                    assert_eq!(bits(a), bits(b));
                }
                (a, b) => assert_eq!(a, b),
            }
        }
    }

    #[test]
    fn unknown_fields_are_skipped_and_garbage_is_an_error() {
        let mut bytes = Event {
            wall_time: 2.0,
            step: 5,
            what: What::Scalars(vec![("t".into(), 2.0)]),
        }
        .encode();
        // source_metadata (field 10, bytes) and a varint field 99, as other writers may add.
        bytes_field(10, b"writer", &mut bytes);
        key(99, VARINT, &mut bytes);
        varint(300, &mut bytes);
        let ev = Event::decode(&bytes).unwrap();
        assert_eq!(ev.step, 5);
        assert_eq!(ev.what, What::Scalars(vec![("t".into(), 2.0)]));
        assert!(Event::decode(&[0x2a, 0x05, 0x0a]).is_err());
        assert!(Event::decode(&[0x0b]).is_err());
    }
}

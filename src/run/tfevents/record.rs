//! TFRecord framing, the container of TensorBoard event files.
//!
//! Each record is (all integers little-endian):
//! ```text
//! u64  length                 of data, in bytes
//! u32  masked_crc32c(length)  over the 8 length bytes
//! u8   data[length]           one serialized Event protobuf
//! u32  masked_crc32c(data)
//! ```
//! with `masked(c) = ((c >> 15) | (c << 17)) + 0xa282ead8` (wrapping), CRC-32C being the Castagnoli CRC
//! (reflected polynomial 0x82f63b78, initial value and final xor 0xffffffff).
//!
//! The CRC is a 256-entry table built at compile time rather than a dependency: event files are a few KB per run,
//! so speed does not matter, and the known vectors in the tests pin it down.

use anyhow::{bail, Result};

/// CRC-32C table for the reflected polynomial 0x82f63b78.
const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82f6_3b78
            } else {
                c >> 1
            };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC-32C (Castagnoli) of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |c, &b| {
        TABLE[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8)
    })
}

/// TFRecord's masked CRC-32C (so a CRC stored inside data that is itself CRC'd does not cancel out).
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let c = crc32c(data);
    // ((c >> 15) | (c << 17)), a rotation.
    c.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Appends one framed record holding `data` to `out`.
pub fn frame(data: &[u8], out: &mut Vec<u8>) {
    let len = (data.len() as u64).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
}

/// What [`unframe`] found.
#[derive(Debug)]
pub struct Records<'a> {
    /// The data of every complete record, in order.
    pub records: Vec<&'a [u8]>,
    /// Bytes after the last complete record: a record a killed writer left half-written (0 for a clean file).
    pub truncated_tail: usize,
}

/// Splits `bytes` into records, checking both CRCs of each. A CRC mismatch is an error; an incomplete last record
/// is reported in [`Records::truncated_tail`] (TensorBoard's reader likewise stops there and waits for more).
pub fn unframe(bytes: &[u8]) -> Result<Records<'_>> {
    let mut records = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        if rest.len() < 12 {
            break;
        }
        let len_bytes = &rest[..8];
        let stored = u32::from_le_bytes(rest[8..12].try_into().expect("4 bytes"));
        if stored != masked_crc32c(len_bytes) {
            bail!("record at byte {pos}: the CRC of its length does not match");
        }
        let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes"));
        let Some(end) = usize::try_from(len).ok().and_then(|l| l.checked_add(16)) else {
            bail!("record at byte {pos}: length {len} does not fit in memory");
        };
        if rest.len() < end {
            break;
        }
        let data = &rest[12..end - 4];
        let stored = u32::from_le_bytes(rest[end - 4..end].try_into().expect("4 bytes"));
        if stored != masked_crc32c(data) {
            bail!("record at byte {pos}: the CRC of its {len} data bytes does not match");
        }
        records.push(data);
        pos += end;
    }
    Ok(Records {
        records,
        truncated_tail: bytes.len() - pos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_known_vectors() {
        // The check value of CRC-32C (Castagnoli) and the vectors of RFC 3720 (iSCSI), appendix B.4.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(b""), 0);
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62a8_ab43);
        let ascending: Vec<u8> = (0u8..32).collect();
        assert_eq!(crc32c(&ascending), 0x46dd_794e);
    }

    #[test]
    fn masked_crc_matches_tensorboards() {
        // The header CRC of the fixture's first record (24 data bytes), as TensorBoard's RecordWriter wrote it:
        // bytes a3 7f 4b 22 at offset 8 of tests/fixtures/example.tfevents.
        assert_eq!(masked_crc32c(&24u64.to_le_bytes()), 0x224b_7fa3);
    }

    #[test]
    fn frame_and_unframe_round_trip_and_detect_corruption() {
        let mut bytes = Vec::new();
        frame(b"hello", &mut bytes);
        frame(b"", &mut bytes);
        frame(&[7u8; 300], &mut bytes);
        let r = unframe(&bytes).unwrap();
        assert_eq!(r.records, vec![&b"hello"[..], &b""[..], &[7u8; 300][..]]);
        assert_eq!(r.truncated_tail, 0);

        // A half-written last record is reported, not an error.
        let cut = &bytes[..bytes.len() - 10];
        let r = unframe(cut).unwrap();
        assert_eq!(r.records.len(), 2);
        assert_eq!(r.truncated_tail, 16 + 300 - 10);

        // A flipped data byte or length byte is an error.
        let mut bad = bytes.clone();
        bad[13] ^= 1;
        assert!(unframe(&bad)
            .unwrap_err()
            .to_string()
            .contains("data bytes"));
        let mut bad = bytes.clone();
        bad[0] ^= 1;
        assert!(unframe(&bad).unwrap_err().to_string().contains("length"));
    }
}

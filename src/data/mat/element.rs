//! The data elements of a MAT level-5 file: tags (normal and small), and the contents of one `miMATRIX`.
//! Part of [`super`]; every length is checked against the bytes left before it is used.

use super::{uint, Class, MatError, MatErrorKind, MatValue, Numeric, Stored, MAX_DEPTH};

const MI_INT8: u32 = 1;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
pub(super) const MI_MATRIX: u32 = 14;
pub(super) const MI_COMPRESSED: u32 = 15;
const MI_UTF8: u32 = 16;
const FLAG_COMPLEX: u32 = 0x0800;
const FLAG_LOGICAL: u32 = 0x0200;

/// One data element's tag: type, size, where its data starts and where the next element starts.
pub(super) struct Tag {
    pub(super) ty: u32,
    pub(super) size: usize,
    pub(super) data: usize,
    pub(super) next: usize,
}

/// The byte order, and which buffer offsets refer to (the file, or one inflated variable).
pub(super) struct Ctx {
    pub(super) big_endian: bool,
    pub(super) compressed_at: Option<usize>,
}

impl Ctx {
    pub(super) fn err(
        &self,
        kind: MatErrorKind,
        offset: usize,
        path: &str,
        message: String,
    ) -> MatError {
        let path = path.to_string();
        MatError {
            kind,
            offset,
            compressed_at: self.compressed_at,
            path,
            message,
        }
    }

    fn u32_at(&self, buf: &[u8], pos: usize) -> u32 {
        // Callers check `pos + 4 <= buf.len()`; a short slice would give a wrong value, never a panic.
        uint(buf.get(pos..pos + 4).unwrap_or(&[]), self.big_endian) as u32
    }

    /// Reads the tag at `pos` of an element that must end by `end`.
    pub(super) fn tag(
        &self,
        buf: &[u8],
        pos: usize,
        end: usize,
        what: &str,
        path: &str,
    ) -> Result<Tag, MatError> {
        let left = end.saturating_sub(pos);
        if left < 8 {
            return Err(self.err(
                MatErrorKind::Truncated,
                pos,
                path,
                format!("truncated: {left} bytes left where the 8-byte tag of {what} should be"),
            ));
        }
        let first = self.u32_at(buf, pos);
        if first >> 16 != 0 {
            // Small data element: type in the low 16 bits, size in the high 16, data in the next 4 bytes.
            let size = (first >> 16) as usize;
            if size > 4 {
                return Err(self.err(
                    MatErrorKind::Corrupt,
                    pos,
                    path,
                    format!("{what} is a small data element of {size} bytes (at most 4 fit)"),
                ));
            }
            return Ok(Tag {
                ty: first & 0xffff,
                size,
                data: pos + 4,
                next: pos + 8,
            });
        }
        let size = self.u32_at(buf, pos + 4) as usize;
        if size > left - 8 {
            return Err(self.err(
                MatErrorKind::Truncated,
                pos,
                path,
                format!(
                    "truncated: {what} ({}) declares {size} bytes, but only {} are left",
                    type_name(first),
                    left - 8
                ),
            ));
        }
        // Elements are padded to a multiple of 8 bytes, except compressed ones.
        let padded = if first == MI_COMPRESSED {
            size
        } else {
            size.next_multiple_of(8)
        };
        if padded > left - 8 {
            return Err(self.err(
                MatErrorKind::Truncated,
                pos,
                path,
                format!("truncated: {what} lacks the padding after its {size} bytes"),
            ));
        }
        let next = pos + 8 + padded;
        Ok(Tag {
            ty: first,
            size,
            data: pos + 8,
            next,
        })
    }

    /// Parses the contents of one `miMATRIX` element (the bytes after its tag). Returns the name and the value.
    pub(super) fn matrix(
        &self,
        buf: &[u8],
        range: std::ops::Range<usize>,
        depth: usize,
        parent: &str,
    ) -> Result<(String, MatValue), MatError> {
        let (start, end) = (range.start, range.end);
        if depth > MAX_DEPTH {
            return Err(self.err(
                MatErrorKind::Limit,
                start,
                parent,
                format!("cell arrays nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        if start == end {
            // MATLAB writes an empty array in a cell as an miMATRIX with no contents.
            let n = Numeric {
                class: Class::Double,
                logical: false,
                dims: vec![0, 0],
                stored: Stored::F64,
                big_endian: self.big_endian,
                raw: Vec::new(),
            };
            return Ok((String::new(), MatValue::Numeric(n)));
        }
        // Array flags.
        let t = self.tag(buf, start, end, "the array flags", parent)?;
        if t.ty != MI_UINT32 || t.size != 8 {
            return Err(self.err(
                MatErrorKind::Corrupt,
                start,
                parent,
                format!(
                    "array flags are {} of {} bytes, expected miUINT32 of 8 bytes",
                    type_name(t.ty),
                    t.size
                ),
            ));
        }
        let flags = self.u32_at(buf, t.data);
        let class_code = flags & 0xff;
        // Dimensions.
        let d = self.tag(buf, t.next, end, "the dimensions", parent)?;
        if d.ty != MI_INT32 || d.size < 8 || d.size % 4 != 0 {
            return Err(self.err(
                MatErrorKind::Corrupt,
                t.next,
                parent,
                format!(
                    "dimensions are {} of {} bytes, expected miINT32, at least 2 values",
                    type_name(d.ty),
                    d.size
                ),
            ));
        }
        let mut dims = Vec::with_capacity(d.size / 4);
        let mut count: usize = 1;
        for i in 0..d.size / 4 {
            let v = self.u32_at(buf, d.data + 4 * i) as i32;
            let Ok(v) = usize::try_from(v) else {
                return Err(self.err(
                    MatErrorKind::Corrupt,
                    d.data + 4 * i,
                    parent,
                    format!("negative dimension {v}"),
                ));
            };
            dims.push(v);
            count = count.saturating_mul(v);
        }
        // Name.
        let n = self.tag(buf, d.next, end, "the array name", parent)?;
        if n.ty != MI_INT8 && n.ty != MI_UTF8 {
            return Err(self.err(
                MatErrorKind::Corrupt,
                d.next,
                parent,
                format!("array name is {}, expected miINT8 text", type_name(n.ty)),
            ));
        }
        let name = String::from_utf8_lossy(&buf[n.data..n.data + n.size]).into_owned();
        let path = if depth == 0 {
            name.clone()
        } else {
            parent.to_string()
        };
        let mut pos = n.next;

        if class_code == 1 {
            // Cell array: `count` miMATRIX elements of at least 8 bytes each.
            if count > (end - pos) / 8 {
                return Err(self.err(MatErrorKind::Truncated, pos, &path, format!(
                    "truncated: a cell array of {count} cells needs at least {} bytes, only {} are left",
                    count.saturating_mul(8), end - pos)));
            }
            let mut cells = Vec::with_capacity(count);
            for i in 0..count {
                let cell_path = format!("{path}{{{}}}", i + 1);
                let what = format!("cell {}", i + 1);
                let c = self.tag(buf, pos, end, &what, &cell_path)?;
                if c.ty != MI_MATRIX {
                    return Err(self.err(
                        MatErrorKind::Corrupt,
                        pos,
                        &cell_path,
                        format!(
                            "{what} is a {} element, expected miMATRIX (14)",
                            type_name(c.ty)
                        ),
                    ));
                }
                let (_, value) =
                    self.matrix(buf, c.data..c.data + c.size, depth + 1, &cell_path)?;
                cells.push(value);
                pos = c.next;
            }
            return Ok((name, MatValue::Cell { dims, cells }));
        }
        let Some(class) = Class::from_code(class_code) else {
            let class = match class_code {
                2 => "struct",
                3 => "object",
                4 => "char",
                5 => "sparse",
                16 => "function handle",
                17 => "opaque object",
                _ => {
                    return Err(self.err(
                        MatErrorKind::Corrupt,
                        start,
                        &path,
                        format!("unknown array class {class_code}"),
                    ));
                }
            };
            return Ok((name, MatValue::Other { class, dims }));
        };
        if flags & FLAG_COMPLEX != 0 {
            return Err(self.err(
                MatErrorKind::Unsupported,
                start,
                &path,
                format!(
                    "a complex {} array; only real values are supported",
                    class.name()
                ),
            ));
        }
        let r = self.tag(buf, pos, end, "the real part", &path)?;
        let Some(stored) = Stored::from_code(r.ty) else {
            return Err(self.err(
                MatErrorKind::Corrupt,
                pos,
                &path,
                format!(
                    "values stored as {}, expected a numeric data type",
                    type_name(r.ty)
                ),
            ));
        };
        if r.size % stored.width() != 0 || r.size / stored.width() != count {
            return Err(self.err(
                MatErrorKind::Corrupt,
                pos,
                &path,
                format!(
                    "{} {} array holds {} bytes of {}, expected {count} values",
                    class.name(),
                    dims.iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join("×"),
                    r.size,
                    type_name(r.ty)
                ),
            ));
        }
        let raw = buf[r.data..r.data + r.size].to_vec();
        let logical = flags & FLAG_LOGICAL != 0;
        Ok((
            name,
            MatValue::Numeric(Numeric {
                class,
                logical,
                dims,
                stored,
                big_endian: self.big_endian,
                raw,
            }),
        ))
    }
}

/// Names of the data types `miINT8` (1) .. `miUTF32` (18).
const TYPE_NAMES: [&str; 19] = [
    "",
    "miINT8",
    "miUINT8",
    "miINT16",
    "miUINT16",
    "miINT32",
    "miUINT32",
    "miSINGLE",
    "",
    "miDOUBLE",
    "",
    "",
    "miINT64",
    "miUINT64",
    "miMATRIX",
    "miCOMPRESSED",
    "miUTF8",
    "miUTF16",
    "miUTF32",
];

pub(super) fn type_name(ty: u32) -> String {
    match TYPE_NAMES.get(ty as usize) {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => format!("unknown data type {ty}"),
    }
}

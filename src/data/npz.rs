//! NumPy sequences: an `.npz` file as `np.savez` or `np.savez_compressed` writes it, read with the `npyz` crate
//! (NPY arrays inside a zip archive) after a guard of our own on each array's header.
//!
//! **Layouts read**, for each split `train`, `valid`, `test`:
//! - *values + offsets*: an array `<split>` holding every sequence end to end along axis 0 (`[N]` or `[N, D...]`)
//!   and an integer array `<split>_offsets` of `n + 1` non-decreasing entries from 0 to `N`: sequence `i` is rows
//!   `offsets[i]..offsets[i+1]`. From Python: `np.savez(f, train=np.concatenate(seqs), train_offsets=np.cumsum([0] +
//!   [len(s) for s in seqs]))`.
//! - *equal lengths*: an array `<split>` of shape `[n, T, D...]` (no `<split>_offsets`): `n` sequences of `T` steps.
//!
//! Object arrays (`np.array(seqs, dtype=object)`, a list of ragged arrays) are **not** read: NumPy stores them as a
//! pickle of NumPy objects, which cannot be read as plain data without running pickle code; the error says how to
//! write values + offsets instead.
//!
//! **Heads.** The dtype decides unless the config's `head` says otherwise: `bool` → a Bernoulli per feature;
//! integers with one value per step → a softmax over tokens (ids `0..V`, `V` from an optional scalar `vocab_size` in
//! the file, else the largest training id + 1: a validation or test id outside it is an error); integers with several
//! values per step → a Bernoulli per feature (values must be 0 or 1); floats → a diagonal Gaussian per step.
//!
//! **Why `npyz` and a guard.** `npyz` (with its `npz` feature, over the `zip` crate) reads every plain NPY dtype in
//! either byte order; but it multiplies the header's shape without checking for overflow and sizes its buffers from
//! it, so a damaged header could make it panic or allocate without bound. [`guard_header`] reads the header first
//! and refuses a shape whose size does not fit in the array's stored bytes.

use super::prepare::PerSplit;
use super::text::{TokenData, Vocab};
use super::Split;
use anyhow::{anyhow, bail, ensure, Context, Result};
use npyz::{TypeChar, TypeStr};
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek};
use std::path::Path;

/// The output distribution a config can ask for (config key `head`); `auto` lets the data decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum HeadChoice {
    /// From the data: tokens for text; for NPZ, by dtype (see the module doc).
    #[default]
    Auto,
    /// An independent Bernoulli per feature (values 0/1).
    Bernoulli,
    /// A diagonal Gaussian over the next step's features.
    Gaussian,
    /// The speech head's mixture of 20 diagonal Gaussians over the next step's features.
    Mixture,
    /// A softmax over token ids.
    Categorical,
}

impl HeadChoice {
    /// The choice's name in configs (`head = "…"`).
    pub fn name(self) -> &'static str {
        match self {
            HeadChoice::Auto => "auto",
            HeadChoice::Bernoulli => "bernoulli",
            HeadChoice::Gaussian => "gaussian",
            HeadChoice::Mixture => "mixture",
            HeadChoice::Categorical => "categorical",
        }
    }
}

impl std::fmt::Display for HeadChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Sequences of `dim` features per step (`values.len() = T · dim`, row-major), with the head they are for.
#[derive(Clone, Debug)]
pub struct FrameData {
    /// Bernoulli, Gaussian or Mixture.
    pub head: HeadChoice,
    /// Features per step.
    pub dim: usize,
    /// The training sequences, each `steps × dim` values, step by step.
    pub train: Vec<Vec<f32>>,
    /// The validation sequences, laid out as `train`.
    pub valid: Vec<Vec<f32>>,
    /// The test sequences, laid out as `train`.
    pub test: Vec<Vec<f32>>,
}

impl FrameData {
    /// The sequences of one split.
    pub fn split(&self, split: Split) -> &[Vec<f32>] {
        match split {
            Split::Train => &self.train,
            Split::Valid => &self.valid,
            Split::Test => &self.test,
        }
    }

    /// Steps of a split.
    pub fn steps(&self, split: Split) -> usize {
        self.split(split).iter().map(|s| s.len() / self.dim).sum()
    }
}

/// What an NPZ file holds, once its head is decided.
#[derive(Clone, Debug)]
pub enum NpzData {
    /// Integer arrays: token ids, for the categorical head.
    Tokens(TokenData),
    /// Boolean or float arrays: feature vectors per step, for a Bernoulli or Gaussian head.
    Frames(FrameData),
}

/// The values of one array, by dtype class.
#[derive(Clone, Debug)]
enum Values {
    Bool(Vec<bool>),
    Int(Vec<i64>),
    Float(Vec<f64>),
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::Bool(v) => v.len(),
            Values::Int(v) => v.len(),
            Values::Float(v) => v.len(),
        }
    }

    fn class(&self) -> &'static str {
        match self {
            Values::Bool(_) => "bool",
            Values::Int(_) => "integer",
            Values::Float(_) => "float",
        }
    }

    fn get(&self, i: usize) -> f64 {
        match self {
            Values::Bool(v) => v[i] as u8 as f64,
            Values::Int(v) => v[i] as f64,
            Values::Float(v) => v[i],
        }
    }
}

/// One split as read: the values, the features per step, and the rows of each sequence.
struct RawSplit {
    values: Values,
    dim: usize,
    /// `(first row, rows)` of each sequence.
    seqs: Vec<(usize, usize)>,
}

/// Reads `path` (see the module doc) and decides its head (`choice`; `Auto` by dtype).
pub fn read_npz(path: &Path, choice: HeadChoice) -> Result<NpzData> {
    let file = std::fs::File::open(path).with_context(|| {
        format!(
            "NPZ file {}: cannot open it (data_path names an .npz file)",
            path.display()
        )
    })?;
    read_npz_from(std::io::BufReader::new(file), choice)
        .with_context(|| format!("NPZ file {}", path.display()))
}

/// [`read_npz`] from any reader (the name in errors is the caller's).
pub fn read_npz_from<R: Read + Seek>(reader: R, choice: HeadChoice) -> Result<NpzData> {
    let mut npz = npyz::npz::NpzArchive::new(reader)
        .map_err(|e| anyhow!("not a zip archive as np.savez writes ({e})"))?;
    let names: Vec<String> = npz.array_names().map(str::to_string).collect();
    let raw = PerSplit::try_from_fn(|s| read_split(&mut npz, &names, s))?;
    let vocab_size = if names.iter().any(|n| n == "vocab_size") {
        let v = read_array(&mut npz, "vocab_size")?.1;
        ensure!(
            v.len() == 1,
            "vocab_size must be one integer, it has {} values",
            v.len()
        );
        let Values::Int(v) = v else {
            bail!("vocab_size must be an integer, it is {}", v.class());
        };
        ensure!(
            v[0] >= 1 && v[0] <= u32::MAX as i64,
            "vocab_size = {} is not a vocabulary size",
            v[0]
        );
        Some(v[0] as usize)
    } else {
        None
    };
    let dims: Vec<usize> = Split::ALL.iter().map(|&s| raw.get(s).dim).collect();
    ensure!(
        dims.iter().all(|&d| d == dims[0]),
        "the splits have different numbers of features per step (train {}, valid {}, test {})",
        dims[0],
        dims[1],
        dims[2]
    );
    let head = match choice {
        HeadChoice::Auto => match (&raw.train.values, raw.train.dim) {
            (Values::Bool(_), _) => HeadChoice::Bernoulli,
            (Values::Int(_), 1) => HeadChoice::Categorical,
            (Values::Int(_), _) => HeadChoice::Bernoulli,
            (Values::Float(_), _) => HeadChoice::Gaussian,
        },
        c => c,
    };
    if head == HeadChoice::Categorical {
        return tokens(&raw, vocab_size).map(NpzData::Tokens);
    }
    frames(&raw, head).map(NpzData::Frames)
}

/// Token ids from integer values of one value per step.
fn tokens(raw: &PerSplit<RawSplit>, vocab_size: Option<usize>) -> Result<TokenData> {
    ensure!(
        raw.train.dim == 1,
        "head = \"categorical\" needs one integer per step; the arrays have {} values per step",
        raw.train.dim
    );
    let mut max = 0i64;
    for s in Split::ALL {
        let r = raw.get(s);
        let Values::Int(v) = &r.values else {
            bail!(
                "split {}: head = \"categorical\" needs integer tokens, the array holds {} values",
                s.name(),
                r.values.class()
            );
        };
        for (i, &(from, n)) in r.seqs.iter().enumerate() {
            if let Some(j) = v[from..from + n].iter().position(|&t| t < 0) {
                bail!(
                    "split {}, sequence {i}, step {j}: token {} is negative",
                    s.name(),
                    v[from + j]
                );
            }
        }
        if s == Split::Train {
            max = v.iter().copied().max().unwrap_or(0);
        }
    }
    let size = match vocab_size {
        Some(v) => v,
        None => usize::try_from(max)
            .ok()
            .and_then(|m| m.checked_add(1))
            .filter(|&m| m <= u32::MAX as usize)
            .ok_or_else(|| anyhow!("the largest training token {max} is too large"))?,
    };
    let mut out: PerSplit<Vec<Vec<u32>>> = PerSplit::default();
    for s in Split::ALL {
        let r = raw.get(s);
        let Values::Int(v) = &r.values else {
            unreachable!("checked above")
        };
        for (i, &(from, n)) in r.seqs.iter().enumerate() {
            if let Some(j) = v[from..from + n]
                .iter()
                .position(|&t| t as u64 >= size as u64)
            {
                bail!(
                    "split {}, sequence {i}, step {j}: token {} is out of range: the vocabulary is 0..{size} ({})",
                    s.name(),
                    v[from + j],
                    if vocab_size.is_some() {
                        "vocab_size in the file".to_string()
                    } else {
                        "the training split's largest token + 1; store vocab_size in the file to widen it".into()
                    }
                );
            }
            out.get_mut(s)
                .push(v[from..from + n].iter().map(|&t| t as u32).collect());
        }
    }
    Ok(TokenData {
        vocab: Vocab::integers(size),
        train: out.train,
        valid: out.valid,
        test: out.test,
        documents: PerSplit::default(),
        unknown: PerSplit::default(),
    })
}

/// Feature frames for a Bernoulli (values 0/1) or Gaussian head.
fn frames(raw: &PerSplit<RawSplit>, head: HeadChoice) -> Result<FrameData> {
    let dim = raw.train.dim;
    let mut out: PerSplit<Vec<Vec<f32>>> = PerSplit::default();
    for s in Split::ALL {
        let r = raw.get(s);
        for (i, &(from, n)) in r.seqs.iter().enumerate() {
            let mut seq = Vec::with_capacity(n * dim);
            for k in from * dim..(from + n) * dim {
                let v = r.values.get(k);
                let (step, feature) = ((k - from * dim) / dim, (k - from * dim) % dim);
                ensure!(
                    v.is_finite(),
                    "split {}, sequence {i}, step {step}, feature {feature}: {v} is not a finite number",
                    s.name()
                );
                ensure!(
                    head != HeadChoice::Bernoulli || v == 0.0 || v == 1.0,
                    "split {}, sequence {i}, step {step}, feature {feature}: {v} is not 0 or 1, as a Bernoulli head \
                     needs (set head = \"gaussian\" for real values)",
                    s.name()
                );
                seq.push(v as f32);
            }
            out.get_mut(s).push(seq);
        }
    }
    Ok(FrameData {
        head,
        dim,
        train: out.train,
        valid: out.valid,
        test: out.test,
    })
}

/// Reads one split's arrays and cuts them into sequences.
fn read_split<R: Read + Seek>(
    npz: &mut npyz::npz::NpzArchive<R>,
    names: &[String],
    split: Split,
) -> Result<RawSplit> {
    let name = split.name();
    ensure!(
        names.iter().any(|n| n == name),
        "no array `{name}` (the file has: {}); each of train, valid and test needs one",
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    );
    let (shape, values) = read_array(npz, name)?;
    let offsets_name = format!("{name}_offsets");
    let seqs: Vec<(usize, usize)>;
    let dim: usize;
    if names.contains(&offsets_name) {
        ensure!(
            !shape.is_empty(),
            "array `{name}` is a scalar; with `{offsets_name}` it must hold the steps along axis 0"
        );
        dim = shape[1..].iter().product::<usize>().max(1);
        let rows = shape[0];
        let (_, off) = read_array(npz, &offsets_name)?;
        let Values::Int(off) = off else {
            bail!(
                "`{offsets_name}` must hold integers, it holds {} values",
                off.class()
            );
        };
        ensure!(
            off.len() >= 2,
            "`{offsets_name}` needs at least two entries (0 and the number of steps); the {name} split is empty"
        );
        ensure!(
            off[0] == 0 && off[off.len() - 1] == rows as i64,
            "`{offsets_name}` must start at 0 and end at {rows} (the rows of `{name}`), it runs {}..{}",
            off[0],
            off[off.len() - 1]
        );
        let mut v = Vec::with_capacity(off.len() - 1);
        for (i, w) in off.windows(2).enumerate() {
            ensure!(
                w[1] >= w[0],
                "`{offsets_name}` decreases at entry {}: {} after {}",
                i + 1,
                w[1],
                w[0]
            );
            v.push((w[0] as usize, (w[1] - w[0]) as usize));
        }
        seqs = v;
    } else {
        ensure!(
            shape.len() >= 2,
            "array `{name}` has shape {shape:?}: without `{offsets_name}` it must be [sequences, steps, features...] \
             (or give `{offsets_name}` for sequences end to end)"
        );
        dim = shape[2..].iter().product::<usize>().max(1);
        seqs = (0..shape[0]).map(|i| (i * shape[1], shape[1])).collect();
    }
    ensure!(
        seqs.iter().any(|&(_, n)| n >= 2),
        "the {name} split is empty: no sequence has two steps or more"
    );
    ensure!(
        values.len() == seqs.iter().map(|s| s.1).sum::<usize>() * dim,
        "array `{name}`: {} values do not make the sequences' steps",
        values.len()
    );
    Ok(RawSplit { values, dim, seqs })
}

/// The largest array read, in values (a guard against damaged headers; 2^31 values is 16 GiB of f64).
const MAX_VALUES: u64 = 1 << 31;

/// Reads array `name`: its shape and its values by dtype class.
fn read_array<R: Read + Seek>(
    npz: &mut npyz::npz::NpzArchive<R>,
    name: &str,
) -> Result<(Vec<usize>, Values)> {
    let entry = npyz::npz::file_name_from_array_name(name);
    let stored = {
        let mut f = npz
            .zip_archive()
            .by_name(&entry)
            .map_err(|e| anyhow!("array `{name}`: {e}"))?;
        let size = f.size();
        let mut head = Vec::new();
        (&mut f)
            .take(HEADER_PEEK)
            .read_to_end(&mut head)
            .map_err(|e| anyhow!("array `{name}`: {e}"))?;
        guard_header(&head, size).with_context(|| format!("array `{name}`"))?;
        size
    };
    let npy = npz
        .by_name(name)
        .map_err(|e| anyhow!("array `{name}`: {e}"))?
        .ok_or_else(|| anyhow!("no array `{name}`"))?;
    let header = npy.header().clone();
    let dtype = header.dtype();
    if header.uses_pickled_array() {
        bail!(
            "array `{name}` is an object array (a pickle of NumPy objects), which is not read: store the sequences \
             end to end with offsets, `np.savez(f, {name}=np.concatenate(seqs), {name}_offsets=np.cumsum([0] + \
             [len(s) for s in seqs]))`"
        );
    }
    let shape: Vec<usize> = header.shape().iter().map(|&d| d as usize).collect();
    if shape.len() > 1 && header.order() == npyz::Order::Fortran {
        bail!("array `{name}` is in Fortran order; save np.ascontiguousarray(a) instead");
    }
    let npyz::DType::Plain(ts) = &dtype else {
        bail!("array `{name}` has a structured dtype; plain numbers are read");
    };
    let n = header.len();
    ensure!(
        n.checked_mul(ts.num_bytes().unwrap_or(usize::MAX) as u64)
            .is_some_and(|b| b <= stored),
        "array `{name}` is truncated: its header promises {n} values of {} bytes, the file stores {stored} bytes",
        ts.num_bytes().unwrap_or(0)
    );
    let bad = |e: std::io::Error| anyhow!("array `{name}`: {e} (truncated or damaged)");
    let values = match (ts.type_char(), ts.size_field()) {
        (TypeChar::Bool, 1) => Values::Bool(npy.into_vec::<bool>().map_err(bad)?),
        (TypeChar::Int, 1) => Values::Int(ints(npy.into_vec::<i8>().map_err(bad)?)),
        (TypeChar::Int, 2) => Values::Int(ints(npy.into_vec::<i16>().map_err(bad)?)),
        (TypeChar::Int, 4) => Values::Int(ints(npy.into_vec::<i32>().map_err(bad)?)),
        (TypeChar::Int, 8) => Values::Int(npy.into_vec::<i64>().map_err(bad)?),
        (TypeChar::Uint, 1) => Values::Int(ints(npy.into_vec::<u8>().map_err(bad)?)),
        (TypeChar::Uint, 2) => Values::Int(ints(npy.into_vec::<u16>().map_err(bad)?)),
        (TypeChar::Uint, 4) => Values::Int(ints(npy.into_vec::<u32>().map_err(bad)?)),
        (TypeChar::Uint, 8) => Values::Int(
            npy.into_vec::<u64>()
                .map_err(bad)?
                .into_iter()
                .map(|v| i64::try_from(v).map_err(|_| anyhow!("array `{name}`: {v} is too large")))
                .collect::<Result<_>>()?,
        ),
        (TypeChar::Float, 4) => Values::Float(
            npy.into_vec::<f32>()
                .map_err(bad)?
                .into_iter()
                .map(f64::from)
                .collect(),
        ),
        (TypeChar::Float, 8) => Values::Float(npy.into_vec::<f64>().map_err(bad)?),
        _ => bail!(
            "array `{name}` has dtype {}; bool, integers and float32/float64 are read",
            type_str(ts)
        ),
    };
    Ok((shape, values))
}

fn ints<T: Into<i64>>(v: Vec<T>) -> Vec<i64> {
    v.into_iter().map(Into::into).collect()
}

fn type_str(ts: &TypeStr) -> String {
    ts.to_string()
}

/// Bytes of an entry read for [`guard_header`]: the magic, the version, the length and a header of up to 64 KiB.
const HEADER_PEEK: u64 = 10 + 65536;

/// Checks an NPY header before `npyz` parses it: the magic string, and a `shape` of non-negative dimensions whose
/// product neither overflows nor exceeds [`MAX_VALUES`] nor the entry's `stored` bytes (an element takes at least
/// one byte). Other fields are left to `npyz`.
pub fn guard_header(head: &[u8], stored: u64) -> Result<()> {
    ensure!(
        head.len() >= 10 && head.starts_with(b"\x93NUMPY"),
        "not an NPY array (no \\x93NUMPY magic)"
    );
    let (len, start) = match head[6] {
        1 => (u16::from_le_bytes([head[8], head[9]]) as usize, 10),
        2 | 3 => {
            ensure!(head.len() >= 12, "truncated NPY header");
            (
                u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize,
                12,
            )
        }
        v => bail!("NPY format version {v} is not known (1, 2 and 3 are)"),
    };
    ensure!(
        len <= 65536 && head.len() >= start + len,
        "truncated or oversized NPY header ({len} bytes)"
    );
    let text = String::from_utf8_lossy(&head[start..start + len]);
    let Some(at) = text.find("'shape'") else {
        bail!("NPY header has no 'shape'");
    };
    let rest = &text[at + 7..];
    let open = rest
        .find('(')
        .ok_or_else(|| anyhow!("NPY header's shape is not a tuple"))?;
    let close = rest[open..]
        .find(')')
        .ok_or_else(|| anyhow!("NPY header's shape is not a tuple"))?;
    let mut count: u64 = 1;
    for part in rest[open + 1..open + close].split(',') {
        let part = part.trim().trim_end_matches('L');
        if part.is_empty() {
            continue;
        }
        let d: u64 = part
            .parse()
            .map_err(|_| anyhow!("NPY header's shape has `{part}`, not a dimension"))?;
        count = count
            .checked_mul(d)
            .filter(|&c| c <= MAX_VALUES)
            .ok_or_else(|| anyhow!("NPY header's shape is too large"))?;
    }
    ensure!(
        count <= stored,
        "truncated: the header's shape holds {count} values, the array stores {stored} bytes"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str) -> Vec<u8> {
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        b
    }

    /// The guard refuses shapes that overflow, exceed the stored bytes or the value cap, and passes honest ones.
    #[test]
    fn the_header_guard_refuses_impossible_shapes() {
        let h = |shape: &str| {
            npy(&format!(
                "{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}"
            ))
        };
        assert!(guard_header(&h("(3, 4)"), 48 + 64).is_ok());
        assert!(guard_header(&h("()"), 64).is_ok());
        let err = guard_header(&h("(3, 4)"), 11).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
        let err = guard_header(&h("(4294967296, 4294967296)"), 1 << 40)
            .unwrap_err()
            .to_string();
        assert!(err.contains("too large"), "{err}");
        let err = guard_header(&h("(-3,)"), 100).unwrap_err().to_string();
        assert!(err.contains("not a dimension"), "{err}");
        assert!(guard_header(b"PK\x03\x04", 10).is_err());
    }
}

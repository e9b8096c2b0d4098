//! The speech stand-in: the Free Spoken Digit Dataset (FSDD), raw 8 kHz audio, framed as in the paper's §7.
//!
//! **Files.** `<data_dir>/speech/fsdd/manifest.tsv` lists the 3000 recordings (`recordings/{digit}_{speaker}_{index}.wav`)
//! with their sample counts, SHA-256 and the split. rnnlab uses the `split_by_index` column (test: index 0–4,
//! valid: 5–9, train: 10–49 → 2400 / 300 / 300 files, every speaker and digit in every split). Each WAV is read
//! with `hound` and must be RIFF PCM, mono, 16-bit integer, 8000 Hz, with exactly the manifest's sample count; a
//! bad, truncated or missing file is an error naming the file.
//!
//! **Normalisation.** Every sample is mapped to `(x − μ) / σ`, with μ and σ the mean and standard deviation of all
//! samples of the *training* split only (about −31.7 and 2002 in int16 units), so nothing about the validation or
//! test recordings leaks into the model. One global affine map (not per-file) keeps the speakers' real level
//! differences in the data and makes densities comparable across files. NLLs are densities of the *normalised*
//! samples: an NLL in int16 units is ours + 10·ln σ per step (≈ +76.0 nats).
//!
//! **Framing.** Each file is one sequence. With frames of [`FRAME`] = 10 samples, `f_j = s[10j .. 10j+10]`, step `t`
//! reads the [`INPUT`] = 20 samples `f_t ‖ f_{t+1}` and predicts the next 10, `f_{t+2}`. The hop is 10 samples, so
//! every sample after the first 20 is predicted exactly once; the last `N mod 10` samples of a file (fewer than one
//! frame) are dropped. A file of `N` samples gives `⌊N/10⌋ − 2` predicted steps (FSDD: 114 to 1824, mean ≈ 348).
//!
//! **Chunks.** Training may cut a sequence into chunks of at most `L` steps ([`chunk_sequences`]); consecutive chunks
//! overlap by two frames (the first input of one chunk is the last two frames seen by the previous), so every step is
//! still predicted exactly once.

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

use super::batch::{plan_epoch, Batch, BatchConfig, BatchSource, EpochPlan};
use crate::transfer::upload_i64;

/// Samples per frame, and the width of the target vector.
pub const FRAME: usize = 10;
/// Samples read per step (two frames).
pub const INPUT: usize = 2 * FRAME;
/// Sample rate of every FSDD file.
pub const SAMPLE_RATE: u32 = 8000;
/// The GitHub commit of the Free Spoken Digit Dataset the recordings are taken from.
pub const FSDD_COMMIT: &str = "26eb9aaf76e81b692f806f9140c2d2777410d7a1";
/// Folder of the speech set under the data directory.
pub const FSDD_DIR: &str = "speech/fsdd";
/// The manifest of the recordings (file, size, SHA-256), embedded so `rnnlab data fetch` can work from nothing.
pub const BUNDLED_MANIFEST: &str = include_str!("fsdd_manifest.tsv");

/// One row of `manifest.tsv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestRow {
    /// Relative to the FSDD folder: `recordings/<name>.wav`.
    pub file: String,
    /// Length of the recording in samples (8 kHz, int16).
    pub n_samples: usize,
    /// `train`, `valid` or `test` (the `split_by_index` column).
    pub split: String,
    /// SHA-256 of the file, lowercase hex; reading checks it.
    pub sha256: String,
}

/// Parses `manifest.tsv` by its header names; `source` names the file in errors.
pub fn parse_manifest(text: &str, source: &str) -> Result<Vec<ManifestRow>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .with_context(|| format!("{source} is empty"))?
        .split('\t')
        .collect();
    let col = |name: &str| -> Result<usize> {
        header
            .iter()
            .position(|h| *h == name)
            .with_context(|| format!("{source}: no `{name}` column in the header"))
    };
    let (c_file, c_n, c_split, c_sha) = (
        col("file")?,
        col("n_samples")?,
        col("split_by_index")?,
        col("sha256")?,
    );
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split('\t').collect();
        ensure!(
            cells.len() == header.len(),
            "{source} line {}: {} columns, the header has {}",
            i + 2,
            cells.len(),
            header.len()
        );
        let split = cells[c_split].to_string();
        ensure!(
            ["train", "valid", "test"].contains(&split.as_str()),
            "{source} line {}: split `{split}` is not train, valid or test",
            i + 2
        );
        let file = cells[c_file].to_string();
        ensure!(
            !file.contains("..") && !file.starts_with('/'),
            "{source} line {}: file `{file}` must be a relative path inside the folder",
            i + 2
        );
        rows.push(ManifestRow {
            file,
            n_samples: cells[c_n]
                .parse()
                .with_context(|| format!("{source} line {}: n_samples `{}`", i + 2, cells[c_n]))?,
            split,
            sha256: cells[c_sha].to_lowercase(),
        });
    }
    ensure!(!rows.is_empty(), "{source} lists no files");
    Ok(rows)
}

/// Reads one WAV: RIFF PCM, mono, 16-bit integer, 8000 Hz. Errors name the file.
pub fn read_wav(path: &Path) -> Result<Vec<i16>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("{} is not a readable WAV file", path.display()))?;
    parse_wav(std::io::BufReader::new(file), &path.display().to_string())
}

/// Parses a WAV (see [`read_wav`]) from any reader; `source` names it in errors. Memory grows with the samples
/// actually read, never with the count the header declares.
pub fn parse_wav<R: std::io::Read>(input: R, source: &str) -> Result<Vec<i16>> {
    let mut reader = hound::WavReader::new(input)
        .with_context(|| format!("{source} is not a readable WAV file"))?;
    let spec = reader.spec();
    ensure!(
        spec.channels == 1
            && spec.bits_per_sample == 16
            && spec.sample_format == hound::SampleFormat::Int
            && spec.sample_rate == SAMPLE_RATE,
        "{source}: expected mono 16-bit integer PCM at {SAMPLE_RATE} Hz, found {} channel(s), {}-bit {:?} at {} Hz",
        spec.channels,
        spec.bits_per_sample,
        spec.sample_format,
        spec.sample_rate
    );
    let declared = reader.duration() as usize;
    // A plain loop, so the buffer grows only with the samples actually read: hound's iterator reports the declared
    // count as its exact size, and a collect that trusted it would reserve up to 8 GB for a lying header.
    let mut samples = Vec::new();
    for sample in reader.samples::<i16>() {
        samples.push(sample.with_context(|| {
            format!("{source}: the audio data is cut short or corrupt (the header declares {declared} samples)")
        })?);
    }
    ensure!(
        samples.len() == declared,
        "{source}: read {} samples, the header declares {declared} (truncated file?)",
        samples.len()
    );
    Ok(samples)
}

/// Writes normalised samples back as an 8 kHz mono 16-bit WAV: `x·σ + μ`, rounded and clipped to int16.
pub fn write_wav(path: &Path, samples: &[f32], norm: &Normalisation) -> Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)
        .with_context(|| format!("creating {}", path.display()))?;
    for &x in samples {
        let v = (x as f64 * norm.std + norm.mean).round();
        w.write_sample(v.clamp(i16::MIN as f64, i16::MAX as f64) as i16)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    w.finalize()
        .with_context(|| format!("finishing {}", path.display()))
}

/// The affine map applied to every sample: `(x − mean) / std`, int16 units.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalisation {
    /// Mean of the training samples, int16 units.
    pub mean: f64,
    /// Population standard deviation of the training samples, int16 units.
    pub std: f64,
}

impl Normalisation {
    /// Mean and (population) standard deviation over every sample of `files`.
    pub fn of(files: &[Vec<i16>]) -> Result<Normalisation> {
        let n: usize = files.iter().map(Vec::len).sum();
        ensure!(n > 1, "no samples to compute the normalisation from");
        let sum: f64 = files.iter().flatten().map(|&x| x as f64).sum();
        let mean = sum / n as f64;
        let var: f64 = files
            .iter()
            .flatten()
            .map(|&x| (x as f64 - mean).powi(2))
            .sum::<f64>()
            / n as f64;
        ensure!(var > 0.0, "the training samples are all equal");
        Ok(Normalisation {
            mean,
            std: var.sqrt(),
        })
    }

    /// Normalises int16 samples to `(x − mean) / std` as f32.
    pub fn apply(&self, x: &[i16]) -> Vec<f32> {
        x.iter()
            .map(|&v| ((v as f64 - self.mean) / self.std) as f32)
            .collect()
    }
}

/// A normalised recording (or a chunk of one).
#[derive(Clone, Debug, PartialEq)]
pub struct Waveform {
    /// Normalised samples at 8 kHz.
    pub samples: Vec<f32>,
}

impl Waveform {
    /// Predicted steps: `⌊N/10⌋ − 2` (0 for files shorter than three frames).
    pub fn steps(&self) -> usize {
        (self.samples.len() / FRAME).saturating_sub(2)
    }
}

/// The three splits of FSDD, normalised with training statistics.
#[derive(Clone, Debug)]
pub struct SpeechData {
    /// Training recordings, normalised.
    pub train: Vec<Waveform>,
    /// Validation recordings, normalised with the training statistics.
    pub valid: Vec<Waveform>,
    /// Test recordings, normalised with the training statistics.
    pub test: Vec<Waveform>,
    /// The file of each sequence, per split (train, valid, test).
    pub files: [Vec<String>; 3],
    /// The normalisation every split was given (the training set's mean and standard deviation).
    pub norm: Normalisation,
}

impl SpeechData {
    /// The recordings of one split.
    pub fn split(&self, split: super::Split) -> &[Waveform] {
        match split {
            super::Split::Train => &self.train,
            super::Split::Valid => &self.valid,
            super::Split::Test => &self.test,
        }
    }
}

/// The FSDD folder under a data directory.
pub fn fsdd_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(FSDD_DIR)
}

/// Reads and validates every file of the manifest under `<data_dir>/speech/fsdd`, splits by `split_by_index`, and
/// normalises with the training split's statistics. Rows keep the manifest's order within each split.
pub fn load_speech(data_dir: &Path) -> Result<(PathBuf, SpeechData)> {
    let dir = fsdd_dir(data_dir);
    let manifest = dir.join("manifest.tsv");
    let text = std::fs::read_to_string(&manifest).with_context(|| {
        format!(
            "cannot read {} (download the recordings with `rnnlab data fetch --dataset fsdd`, or point --data-dir / \
             RNNLAB_DATA at the data directory)",
            manifest.display()
        )
    })?;
    let rows = parse_manifest(&text, &manifest.display().to_string())?;
    let data = load_rows(&dir, &rows)?;
    Ok((dir, data))
}

/// Reads the given manifest rows from `dir` (see [`load_speech`]).
pub fn load_rows(dir: &Path, rows: &[ManifestRow]) -> Result<SpeechData> {
    let mut raw: [Vec<Vec<i16>>; 3] = Default::default();
    let mut files: [Vec<String>; 3] = Default::default();
    for row in rows {
        let path = dir.join(&row.file);
        let samples = read_wav(&path)?;
        ensure!(
            samples.len() == row.n_samples,
            "{}: {} samples, the manifest says {}",
            path.display(),
            samples.len(),
            row.n_samples
        );
        let i = match row.split.as_str() {
            "train" => 0,
            "valid" => 1,
            _ => 2,
        };
        raw[i].push(samples);
        files[i].push(row.file.clone());
    }
    for (i, name) in ["train", "valid", "test"].iter().enumerate() {
        if raw[i].is_empty() {
            bail!("the manifest of {} has no {name} files", dir.display());
        }
    }
    let norm = Normalisation::of(&raw[0])?;
    let wave = |v: &[Vec<i16>]| -> Vec<Waveform> {
        v.iter()
            .map(|x| Waveform {
                samples: norm.apply(x),
            })
            .collect()
    };
    Ok(SpeechData {
        train: wave(&raw[0]),
        valid: wave(&raw[1]),
        test: wave(&raw[2]),
        files,
        norm,
    })
}

/// Cuts every sequence into chunks of at most `chunk_len` steps; consecutive chunks share two frames, so every step
/// is predicted exactly once. `chunk_len = 0` keeps whole sequences.
pub fn chunk_sequences(seqs: &[Waveform], chunk_len: usize) -> Vec<Waveform> {
    if chunk_len == 0 {
        return seqs.to_vec();
    }
    let mut out = Vec::new();
    for s in seqs {
        let steps = s.steps();
        let mut start = 0;
        while start < steps {
            let n = chunk_len.min(steps - start);
            let a = start * FRAME;
            let b = (start + n + 2) * FRAME;
            out.push(Waveform {
                samples: s.samples[a..b].to_vec(),
            });
            start += n;
        }
    }
    out
}

/// Per-split statistics for `rnnlab data stats`.
#[derive(Clone, Debug, Serialize)]
pub struct SpeechStats {
    /// Recordings in the split.
    pub sequences: usize,
    /// Samples over all recordings.
    pub samples: usize,
    /// Duration of the split, seconds at 8 kHz.
    pub seconds: f64,
    /// Predicted steps (each predicts 10 samples).
    pub steps: usize,
    /// Predicted steps of the shortest recording.
    pub steps_min: usize,
    /// Mean predicted steps per recording.
    pub steps_mean: f64,
    /// Predicted steps of the longest recording.
    pub steps_max: usize,
    /// Mean and standard deviation of the normalised samples.
    pub mean: f64,
    /// Population standard deviation of the normalised samples.
    pub std: f64,
}

impl SpeechStats {
    /// Statistics of a split's recordings (zeros for an empty split).
    pub fn of(seqs: &[Waveform]) -> SpeechStats {
        let steps: Vec<usize> = seqs.iter().map(Waveform::steps).collect();
        let samples: usize = seqs.iter().map(|s| s.samples.len()).sum();
        let n = samples.max(1) as f64;
        let mean = seqs
            .iter()
            .flat_map(|s| &s.samples)
            .map(|&x| x as f64)
            .sum::<f64>()
            / n;
        let var = seqs
            .iter()
            .flat_map(|s| &s.samples)
            .map(|&x| (x as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        SpeechStats {
            sequences: seqs.len(),
            samples,
            seconds: samples as f64 / SAMPLE_RATE as f64,
            steps: steps.iter().sum(),
            steps_min: steps.iter().copied().min().unwrap_or(0),
            steps_mean: steps.iter().sum::<usize>() as f64 / seqs.len().max(1) as f64,
            steps_max: steps.iter().copied().max().unwrap_or(0),
            mean,
            std: var.sqrt(),
        }
    }
}

/// A speech split held on one device, batched like [`super::DeviceSplit`]: `x: [L, B, 20]`, `y: [L, B, 10]`,
/// `mask: [L, B]`, zero in padding.
///
/// All frames are stored once, end to end, as a `[frames + 2, 10]` tensor whose last two rows are zero (where
/// padding points); a batch is three gathers (`f_t`, `f_{t+1}`, `f_{t+2}`). Epoch plans come from [`plan_epoch`]
/// with each sequence's length given as `steps + 1`, so a plan's "predicted frames" are predicted steps.
#[derive(Debug)]
pub struct SpeechSplit {
    frames: Tensor,
    starts: Vec<i64>,
    steps: Vec<usize>,
    device: Device,
}

impl SpeechSplit {
    /// Frames every recording (its whole frames only) into one tensor on `device`.
    pub fn new(seqs: &[Waveform], device: Device) -> Result<Self> {
        let mut flat: Vec<f32> = Vec::new();
        let mut starts = Vec::with_capacity(seqs.len());
        let mut steps = Vec::with_capacity(seqs.len());
        for s in seqs {
            starts.push((flat.len() / FRAME) as i64);
            let whole = s.samples.len() / FRAME * FRAME;
            flat.extend_from_slice(&s.samples[..whole]);
            steps.push(s.steps());
        }
        let rows = (flat.len() / FRAME) as i64;
        flat.extend_from_slice(&[0.0; 2 * FRAME]);
        let frames = Tensor::f_from_slice(&flat)?
            .f_view([rows + 2, FRAME as i64])?
            .f_to_device(device)?;
        Ok(SpeechSplit {
            frames,
            starts,
            steps,
            device,
        })
    }

    /// Number of recordings.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether the split holds no recording.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Predicted steps over the split.
    pub fn predicted_steps(&self) -> usize {
        self.steps.iter().sum()
    }

    /// Lengths in [`plan_epoch`]'s convention (`steps + 1`); sequences with no step are left out by it.
    pub fn plan_lengths(&self) -> Vec<usize> {
        self.steps.iter().map(|&s| s + 1).collect()
    }
}

impl BatchSource for SpeechSplit {
    fn plan(&self, config: &BatchConfig, epoch: u64) -> Result<EpochPlan> {
        plan_epoch(&self.plan_lengths(), config, epoch)
    }

    /// Gathers the sequences `members` into one padded batch of float `kind`.
    fn batch(&self, members: &[usize], kind: Kind) -> Result<Batch> {
        ensure!(!members.is_empty(), "a batch needs at least one sequence");
        for &i in members {
            ensure!(
                i < self.len() && self.steps[i] > 0,
                "sequence {i} is out of range or predicts nothing"
            );
        }
        let steps: Vec<i64> = members.iter().map(|&i| self.steps[i] as i64).collect();
        let starts: Vec<i64> = members.iter().map(|&i| self.starts[i]).collect();
        let time = *steps.iter().max().expect("non-empty");
        let b = members.len() as i64;
        let pad = self.frames.size()[0] - 1;
        let opts = (Kind::Int64, self.device);
        let t = Tensor::f_arange(time, opts)?.f_unsqueeze(1)?;
        let steps_t = upload_i64(&steps, self.device)?.f_unsqueeze(0)?; // [1, B]
        let starts_t = upload_i64(&starts, self.device)?.f_unsqueeze(0)?; // [1, B]
        let valid = t.f_lt_tensor(&steps_t)?;
        let gather = |offset: i64| -> Result<Tensor> {
            let rows = (&starts_t + &t + offset).f_where_scalarother(&valid, pad)?;
            Ok(self
                .frames
                .f_index_select(0, &rows.f_reshape([-1])?)?
                .f_reshape([time, b, FRAME as i64])?
                .f_to_kind(kind)?)
        };
        let x = Tensor::f_cat(&[gather(0)?, gather(1)?], 2)?;
        Ok(Batch {
            x,
            y: gather(2)?,
            mask: valid.f_to_kind(kind)?,
            members: members.to_vec(),
            predicted_frames: steps.iter().sum::<i64>() as usize,
            steps: steps.clone(),
        })
    }
}

//! TensorBoard event files (`events.out.tfevents.<secs>.<hostname>`) for rnnlab's per-epoch metrics: the trainer
//! writes one per run directory ([`EventWriter::add_epoch`] after each epoch's `metrics.jsonl` line), so
//! `tensorboard --logdir runs/` shows every run of a reproduction. The tags are in [`tags`].
//!
//! No crate on crates.io fits: `tensorboard-rs` 0.5.9 (the only writer) pulls in `image` 0.23 and the
//! unmaintained `protobuf` 2.x line, and documents 3% of its API. The format is small enough to write by hand:
//! [`record`] is the TFRecord framing (length, masked CRC-32C, data, masked CRC-32C) and [`event`] the few
//! protobuf fields of `Event`/`Summary`. `tests/fixtures/example.tfevents`, written by TensorBoard's own Python
//! code (`scripts/tfevents_fixture.py`), is reproduced byte for byte by [`EventWriter`] in `tests/tfevents.rs`.
//!
//! A file holds one `file_version = "brain.Event:2"` event, then one event per scalar: `(wall_time, step,
//! Summary{Value{tag, simple_value}})`, `simple_value` being an `f32`. rnnlab's step is the epoch (1-based).
//!
//! # Resuming a killed run
//! TensorFlow starts a new event file per process and relies on TensorBoard to merge the files of a directory and
//! to purge steps that a restart writes again. rnnlab instead mirrors `RunDir::truncate_metrics`:
//! [`EventWriter::resume`] reads every event file of the directory, keeps the scalars of epochs up to the
//! checkpoint's (with their original wall times), writes them into a fresh file (under a temp name without
//! "tfevents", so TensorBoard never reads it half-written; then a rename) and removes the old files. A run
//! directory therefore holds one event file whose steps never go backwards, whatever TensorBoard version reads it.
//! If a kill lands between the rename and the removals, the next resume merges the duplicates (same values).
//! A TensorBoard already showing the killed process's extra epoch drops it when it reloads.

pub mod event;
pub mod record;
pub mod tags;

use crate::run::EpochMetrics;
use anyhow::{bail, ensure, Context, Result};
use event::{Event, What};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Every event file name starts with this (TensorBoard reads files whose name contains "tfevents").
pub const FILE_PREFIX: &str = "events.out.tfevents.";
/// The `file_version` of the first event, as TensorFlow and TensorBoard write it.
pub const FILE_VERSION: &str = "brain.Event:2";

/// One scalar read back from an event file.
#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    /// Seconds since the Unix epoch.
    pub wall_time: f64,
    /// The global step (the epoch).
    pub step: i64,
    /// The scalar's tag (`member_03/valid_nll`, …).
    pub tag: String,
    /// The value.
    pub value: f32,
}

/// Appends scalar events to one event file. Records are buffered: call [`EventWriter::flush`] after each epoch,
/// so that TensorBoard sees it and a kill loses at most the epoch being written (dropping also flushes).
pub struct EventWriter {
    path: PathBuf,
    file: BufWriter<File>,
}

impl EventWriter {
    /// A new event file in `dir` (created if missing), named after the current time and the host.
    pub fn create(dir: &Path) -> Result<EventWriter> {
        EventWriter::create_at(dir, now(), &hostname())
    }

    /// [`EventWriter::create`] with a given wall time (seconds since the Unix epoch) and host name, for
    /// reproducible files. If the name is taken (two writers in the same second), `.1`, `.2`, ... is appended.
    pub fn create_at(dir: &Path, wall_time: f64, host: &str) -> Result<EventWriter> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut bytes = Vec::new();
        push_event(&file_version_event(wall_time), &mut bytes);
        let (path, mut file) = create_unique(dir, wall_time, host)?;
        file.write_all(&bytes)
            .with_context(|| format!("writing {}", path.display()))?;
        let mut w = EventWriter {
            path,
            file: BufWriter::new(file),
        };
        w.flush()?;
        Ok(w)
    }

    /// Continues the event log of a run resumed from its checkpoint at `last_epoch`: keeps the scalars of steps
    /// `≤ last_epoch` from every event file in `dir`, in a single new file, and removes the old files (see the
    /// module doc). Uses the current time and host name for the new file.
    pub fn resume(dir: &Path, last_epoch: i64) -> Result<EventWriter> {
        EventWriter::resume_at(dir, last_epoch, now(), &hostname())
    }

    /// [`EventWriter::resume`] with a given wall time and host name.
    pub fn resume_at(
        dir: &Path,
        last_epoch: i64,
        wall_time: f64,
        host: &str,
    ) -> Result<EventWriter> {
        let old = event_files(dir)?;
        // The newest file wins for a (tag, step) present twice (a resume killed before its removals).
        let mut latest: HashMap<(String, i64), usize> = HashMap::new();
        let mut kept: Vec<Scalar> = Vec::new();
        for path in &old {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            // A half-written last record is what a kill leaves: it is dropped, like the epoch it belonged to.
            for ev in decode_all(&bytes)
                .with_context(|| format!("reading {}", path.display()))?
                .0
            {
                if let What::Scalars(values) = ev.what {
                    for (tag, value) in values.into_iter().filter(|_| ev.step <= last_epoch) {
                        let s = Scalar {
                            wall_time: ev.wall_time,
                            step: ev.step,
                            tag,
                            value,
                        };
                        match latest.get(&(s.tag.clone(), s.step)) {
                            Some(&i) => kept[i] = s,
                            None => {
                                latest.insert((s.tag.clone(), s.step), kept.len());
                                kept.push(s);
                            }
                        }
                    }
                }
            }
        }
        // Stable: within a step, the original order (and so the original wall times) is kept.
        kept.sort_by_key(|s| s.step);
        let mut bytes = Vec::new();
        push_event(&file_version_event(wall_time), &mut bytes);
        for s in &kept {
            push_event(
                &scalar_event(&s.tag, s.value, s.step, s.wall_time),
                &mut bytes,
            );
        }
        let tmp = dir.join(".events.resume.tmp");
        {
            let mut f =
                File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
            f.write_all(&bytes)
                .with_context(|| format!("writing {}", tmp.display()))?;
            f.sync_all().ok();
        }
        let (path, file) = create_unique(dir, wall_time, host)?;
        drop(file);
        std::fs::rename(&tmp, &path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
        for p in old.iter().filter(|p| **p != path) {
            std::fs::remove_file(p).with_context(|| format!("removing {}", p.display()))?;
        }
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(EventWriter {
            path,
            file: BufWriter::new(file),
        })
    }

    /// The file this writer appends to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adds one scalar event. `value` is stored as an `f32` (TensorBoard's `simple_value`), rounded to nearest;
    /// NaN and ±inf are written as they are (the caller decides whether to skip them: see [`tags`]).
    pub fn add_scalar(&mut self, tag: &str, value: f64, step: i64, wall_time: f64) -> Result<()> {
        let mut bytes = Vec::new();
        push_event(
            &scalar_event(tag, value as f32, step, wall_time),
            &mut bytes,
        );
        self.file
            .write_all(&bytes)
            .with_context(|| format!("writing {}", self.path.display()))
    }

    /// Adds `(tag, value)` pairs at one step and wall time, one event each, in order.
    pub fn add_scalars(
        &mut self,
        step: i64,
        wall_time: f64,
        values: &[(String, f64)],
    ) -> Result<()> {
        for (tag, value) in values {
            self.add_scalar(tag, *value, step, wall_time)?;
        }
        Ok(())
    }

    /// Writes one epoch of a run (its `metrics.jsonl` line) as the scalars of [`tags::epoch_scalars`], at step =
    /// epoch and the current wall time, and flushes.
    pub fn add_epoch(&mut self, m: &EpochMetrics) -> Result<()> {
        let members: Vec<tags::MemberScalars> = m.members.iter().map(Into::into).collect();
        self.add_scalars(m.epoch as i64, now(), &tags::epoch_scalars(&members))?;
        self.flush()
    }

    /// Hands the buffered records to the operating system.
    pub fn flush(&mut self) -> Result<()> {
        self.file
            .flush()
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

/// Every scalar of an event file, in file order, checking both CRCs of every record. A half-written last record
/// is an error here (use it on finished files; [`EventWriter::resume`] tolerates one).
pub fn read_events(path: &Path) -> Result<Vec<Scalar>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (events, tail) =
        decode_all(&bytes).with_context(|| format!("reading {}", path.display()))?;
    ensure!(
        tail == 0,
        "{} ends with a half-written record ({tail} bytes)",
        path.display()
    );
    match events.first() {
        Some(Event {
            what: What::FileVersion(v),
            ..
        }) if v.starts_with("brain.Event:") => {}
        _ => bail!(
            "{} does not start with a file_version event",
            path.display()
        ),
    }
    let mut out = Vec::new();
    for ev in events {
        if let What::Scalars(values) = ev.what {
            for (tag, value) in values {
                out.push(Scalar {
                    wall_time: ev.wall_time,
                    step: ev.step,
                    tag,
                    value,
                });
            }
        }
    }
    Ok(out)
}

/// The event files of `dir` (names starting with [`FILE_PREFIX`]), sorted by name as TensorBoard reads them.
pub fn event_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(FILE_PREFIX) && entry.path().is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Seconds since the Unix epoch, as TensorBoard's `wall_time`.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The host name for file names: the kernel's (Linux), else `$HOSTNAME`, else "rnnlab"; characters other than
/// ASCII letters, digits, `-`, `_` and `.` become `_`.
pub fn hostname() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "rnnlab".to_string());
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn file_version_event(wall_time: f64) -> Event {
    Event {
        wall_time,
        step: 0,
        what: What::FileVersion(FILE_VERSION.to_string()),
    }
}

fn scalar_event(tag: &str, value: f32, step: i64, wall_time: f64) -> Event {
    Event {
        wall_time,
        step,
        what: What::Scalars(vec![(tag.to_string(), value)]),
    }
}

fn push_event(ev: &Event, out: &mut Vec<u8>) {
    record::frame(&ev.encode(), out);
}

/// Events of a file's bytes, and the length of a half-written tail.
fn decode_all(bytes: &[u8]) -> Result<(Vec<Event>, usize)> {
    let r = record::unframe(bytes)?;
    let events = r
        .records
        .iter()
        .enumerate()
        .map(|(i, d)| Event::decode(d).with_context(|| format!("record {i} is not an Event")))
        .collect::<Result<_>>()?;
    Ok((events, r.truncated_tail))
}

/// Creates `events.out.tfevents.<secs>.<host>` (or with `.1`, `.2`, ... if taken) without truncating any file.
fn create_unique(dir: &Path, wall_time: f64, host: &str) -> Result<(PathBuf, File)> {
    let base = format!("{FILE_PREFIX}{}.{host}", wall_time.max(0.0).floor() as u64);
    for n in 0..1000 {
        let name = if n == 0 {
            base.clone()
        } else {
            format!("{base}.{n}")
        };
        let path = dir.join(name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
    bail!("{} holds 1000 event files named {base}.*", dir.display())
}

//! Piano rolls as Standard MIDI Files (written with `midly`).
//!
//! A roll is row-major `u8`s, 88 per frame (key `k` is MIDI note `21 + k`, A0..C8), each 0 or 1. The file is
//! SMF format 0: one track on channel 1 (0 in the bytes) holding, at tick 0, the track name, a 4/4 time signature,
//! the tempo and program 0 (acoustic grand piano); then the notes; then end-of-track at the end of the last frame.
//! A run of consecutive active frames of one key is one held note: note-on (velocity [`VELOCITY`]) at the tick its
//! first frame starts, note-off (velocity 0) at the tick after its last frame ends. At one tick, note-offs come
//! before note-ons, so a key that ends and another that starts there never overlap in a sequencer.
//!
//! # Timing
//! Frames are notated as a fixed note value at [`TICKS_PER_QUARTER`] = 480 ticks per quarter note: a quarter
//! note frame is 480 ticks, an eighth note frame 240. The tempo meta event then sets how long that lasts, so a frame
//! is exactly `ticks_per_frame` ticks and `frame_seconds` is exact up to the tempo's 1 µs resolution:
//! ```text
//! us_per_quarter = round(frame_seconds · 1e6 · quarters_per_frame⁻¹)     quarter frame: ·1, eighth frame: ·2
//! ```
//! Defaults ([`MidiTiming::for_dataset`]): one frame is a quarter note for JSB Chorales (`jsb`) and an eighth for
//! the other sets (`nottingham`, `musedata`, `piano`), at 120 bpm: 0.5 s and 0.25 s per frame.
//! `--frame-seconds` keeps the note value and changes the tempo ([`MidiTiming::new`]).

use anyhow::{bail, ensure, Context, Result};
use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

pub use crate::data::music::KEYS;
/// MIDI note of key 0 (A0), as a MIDI data byte.
pub const LOWEST_NOTE: u8 = crate::data::music::LOWEST_NOTE as u8;
/// Velocity of every note-on (a piano roll has no dynamics; 80 is a moderate mezzo-forte).
pub const VELOCITY: u8 = 80;
/// Resolution of the file: ticks per quarter note.
pub const TICKS_PER_QUARTER: u16 = 480;
/// Tempo of the defaults, in quarter notes per minute.
pub const DEFAULT_BPM: f64 = 120.0;

/// The note value one frame is notated as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameNote {
    /// One frame is a quarter note.
    Quarter,
    /// One frame is an eighth note.
    Eighth,
}

impl FrameNote {
    /// The default for an rnnlab music dataset name: quarter notes for `jsb`, eighths for the others.
    pub fn for_dataset(dataset: &str) -> FrameNote {
        if dataset == "jsb" {
            FrameNote::Quarter
        } else {
            FrameNote::Eighth
        }
    }

    fn per_quarter(self) -> u32 {
        match self {
            FrameNote::Quarter => 1,
            FrameNote::Eighth => 2,
        }
    }
}

/// How frames map to ticks and ticks to seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MidiTiming {
    /// The note value of one frame.
    pub note: FrameNote,
    /// Ticks of one frame (480 for a quarter note, 240 for an eighth).
    pub ticks_per_frame: u32,
    /// The tempo meta event's value: microseconds per quarter note (1 ..= 16 777 215).
    pub us_per_quarter: u32,
}

impl MidiTiming {
    /// Frames of value `note` lasting `frame_seconds` each (rounded to the tempo's resolution of 1 µs per quarter).
    pub fn new(note: FrameNote, frame_seconds: f64) -> Result<MidiTiming> {
        let us = (frame_seconds * 1e6 * note.per_quarter() as f64).round();
        ensure!(
            frame_seconds.is_finite() && (1.0..=16_777_215.0).contains(&us),
            "a frame of {frame_seconds} s does not fit MIDI's tempo range (1 µs to 16.7 s per quarter note)"
        );
        Ok(MidiTiming {
            note,
            ticks_per_frame: TICKS_PER_QUARTER as u32 / note.per_quarter(),
            us_per_quarter: us as u32,
        })
    }

    /// The default timing of a dataset, at [`DEFAULT_BPM`]; `frame_seconds` (`--frame-seconds`) overrides the tempo.
    pub fn for_dataset(dataset: &str, frame_seconds: Option<f64>) -> Result<MidiTiming> {
        let note = FrameNote::for_dataset(dataset);
        let default = 60.0 / DEFAULT_BPM / note.per_quarter() as f64;
        MidiTiming::new(note, frame_seconds.unwrap_or(default))
    }

    /// Seconds per frame, exactly as the file encodes it.
    pub fn frame_seconds(&self) -> f64 {
        self.us_per_quarter as f64 * 1e-6 / self.note.per_quarter() as f64
    }

    /// Quarter notes per minute.
    pub fn bpm(&self) -> f64 {
        60e6 / self.us_per_quarter as f64
    }
}

/// A note of a roll: MIDI pitch, start and length in frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Note {
    /// MIDI pitch (21 = A0 … 108 = C8 for the 88 keys).
    pub pitch: u8,
    /// First frame of the note.
    pub start: usize,
    /// Length in frames (at least 1).
    pub frames: usize,
}

/// The held notes of a roll (runs of active frames per key), ordered by start, then pitch.
pub fn roll_notes(roll: &[u8]) -> Result<Vec<Note>> {
    ensure!(
        roll.len().is_multiple_of(KEYS),
        "{} values do not make whole frames of {KEYS} keys",
        roll.len()
    );
    if let Some(i) = roll.iter().position(|&v| v > 1) {
        bail!(
            "value {} at frame {}, key {} (expected 0 or 1)",
            roll[i],
            i / KEYS,
            i % KEYS
        );
    }
    let frames = roll.len() / KEYS;
    let mut notes = Vec::new();
    for k in 0..KEYS {
        let mut start = None;
        for t in 0..=frames {
            let on = t < frames && roll[t * KEYS + k] == 1;
            match (on, start) {
                (true, None) => start = Some(t),
                (false, Some(s)) => {
                    notes.push(Note {
                        pitch: LOWEST_NOTE + k as u8,
                        start: s,
                        frames: t - s,
                    });
                    start = None;
                }
                _ => {}
            }
        }
    }
    notes.sort_by_key(|n| (n.start, n.pitch));
    Ok(notes)
}

/// The bytes of a format-0 Standard MIDI File playing `roll` (see the module doc for the layout and timing).
pub fn piano_roll_to_midi(roll: &[u8], timing: &MidiTiming) -> Result<Vec<u8>> {
    let notes = roll_notes(roll)?;
    let frames = roll.len() / KEYS;
    let tpf = timing.ticks_per_frame as u64;
    let end_tick = frames as u64 * tpf;
    ensure!(
        end_tick <= u28::max_value().as_int() as u64,
        "{frames} frames are too long for one MIDI track"
    );
    // (tick, 0 = off / 1 = on, pitch): sorting puts offs before ons at a tick, then lower pitches first.
    let mut timed: Vec<(u64, u8, u8)> = Vec::with_capacity(2 * notes.len());
    for n in &notes {
        timed.push((n.start as u64 * tpf, 1, n.pitch));
        timed.push(((n.start + n.frames) as u64 * tpf, 0, n.pitch));
    }
    timed.sort_unstable();

    let ch = u4::new(0);
    let at0 = |kind| TrackEvent {
        delta: u28::new(0),
        kind,
    };
    let mut track = vec![
        at0(TrackEventKind::Meta(MetaMessage::TrackName(
            b"rnnlab sample",
        ))),
        at0(TrackEventKind::Meta(MetaMessage::TimeSignature(
            4, 2, 24, 8,
        ))),
        at0(TrackEventKind::Meta(MetaMessage::Tempo(u24::new(
            timing.us_per_quarter,
        )))),
        at0(TrackEventKind::Midi {
            channel: ch,
            message: MidiMessage::ProgramChange {
                program: u7::new(0),
            },
        }),
    ];
    let mut last = 0u64;
    for (tick, on, pitch) in timed {
        let message = if on == 1 {
            MidiMessage::NoteOn {
                key: u7::new(pitch),
                vel: u7::new(VELOCITY),
            }
        } else {
            MidiMessage::NoteOff {
                key: u7::new(pitch),
                vel: u7::new(0),
            }
        };
        track.push(TrackEvent {
            delta: u28::new((tick - last) as u32),
            kind: TrackEventKind::Midi {
                channel: ch,
                message,
            },
        });
        last = tick;
    }
    track.push(TrackEvent {
        delta: u28::new((end_tick - last) as u32),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });
    let mut smf = Smf::new(Header::new(
        Format::SingleTrack,
        Timing::Metrical(u15::new(TICKS_PER_QUARTER)),
    ));
    smf.tracks.push(track);
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes)
        .context("encoding the MIDI file")?;
    Ok(bytes)
}

/// Writes [`piano_roll_to_midi`]'s bytes to `path` through a temp file and a rename.
pub fn write_midi(path: &std::path::Path, roll: &[u8], timing: &MidiTiming) -> Result<()> {
    let bytes = piano_roll_to_midi(roll, timing)?;
    let tmp = path.with_extension("mid.tmp");
    std::fs::write(&tmp, &bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

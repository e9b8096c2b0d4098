//! The MIDI writer, read back with midly: header, tempo, notes (pitch, start tick, duration).

use midly::{Format, MetaMessage, MidiMessage, Smf, Timing, TrackEventKind};
use rnnlab::report::midi::{
    piano_roll_to_midi, roll_notes, FrameNote, MidiTiming, KEYS, TICKS_PER_QUARTER, VELOCITY,
};

/// What a file holds: tempo, end-of-track tick, and the notes as (pitch, start tick, ticks), from pairing each
/// note-on with the next note-off of its pitch.
struct Parsed {
    tempo: Vec<u32>,
    end_tick: u64,
    notes: Vec<(u8, u64, u64)>,
}

fn parse(bytes: &[u8]) -> Parsed {
    let smf = Smf::parse(bytes).unwrap();
    assert_eq!(smf.header.format, Format::SingleTrack);
    assert_eq!(
        smf.header.timing,
        Timing::Metrical(TICKS_PER_QUARTER.into())
    );
    assert_eq!(smf.tracks.len(), 1);
    let mut tick = 0u64;
    let mut open: Vec<Option<u64>> = vec![None; 128];
    let mut p = Parsed {
        tempo: vec![],
        end_tick: 0,
        notes: vec![],
    };
    let mut ended = false;
    for ev in &smf.tracks[0] {
        assert!(!ended, "events after end-of-track");
        tick += ev.delta.as_int() as u64;
        match ev.kind {
            TrackEventKind::Meta(MetaMessage::Tempo(t)) => p.tempo.push(t.as_int()),
            TrackEventKind::Meta(MetaMessage::EndOfTrack) => {
                p.end_tick = tick;
                ended = true;
            }
            TrackEventKind::Midi { channel, message } => {
                assert_eq!(channel.as_int(), 0);
                match message {
                    MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                        assert_eq!(vel.as_int(), VELOCITY);
                        let k = key.as_int() as usize;
                        assert!(
                            open[k].is_none(),
                            "note {k} started twice without a note-off"
                        );
                        open[k] = Some(tick);
                    }
                    MidiMessage::NoteOff { key, .. } | MidiMessage::NoteOn { key, .. } => {
                        let k = key.as_int() as usize;
                        let start = open[k].take().expect("note-off without a note-on");
                        p.notes.push((key.as_int(), start, tick - start));
                    }
                    MidiMessage::ProgramChange { program } => assert_eq!(program.as_int(), 0),
                    other => panic!("unexpected {other:?}"),
                }
            }
            _ => {}
        }
    }
    assert!(ended, "no end-of-track");
    assert!(open.iter().all(Option::is_none), "a note is never released");
    p.notes.sort_by_key(|&(pitch, start, _)| (start, pitch));
    p
}

fn roll(frames: usize, on: &[(usize, usize)]) -> Vec<u8> {
    let mut r = vec![0u8; frames * KEYS];
    for &(t, k) in on {
        r[t * KEYS + k] = 1;
    }
    r
}

#[test]
fn held_runs_are_one_note_each_with_exact_ticks() {
    // Key 39 (C4 = 60) held over frames 0..3, then again at 4; key 43 (E4 = 64) at frame 1 only;
    // key 0 (A0 = 21) over frames 2..5, active at the last frame.
    let mut on = vec![(0, 39), (1, 39), (2, 39), (4, 39), (1, 43)];
    on.extend((2..5).map(|t| (t, 0)));
    let r = roll(5, &on);
    let timing = MidiTiming::for_dataset("jsb", None).unwrap();
    let p = parse(&piano_roll_to_midi(&r, &timing).unwrap());
    assert_eq!(p.tempo, vec![500_000]); // 120 bpm
    let q = 480u64;
    assert_eq!(
        p.notes,
        vec![
            (60, 0, 3 * q),
            (64, q, q),
            (21, 2 * q, 3 * q),
            (60, 4 * q, q),
        ]
    );
    assert_eq!(p.end_tick, 5 * q);
}

#[test]
fn eighth_note_frames_and_frame_seconds() {
    let t = MidiTiming::for_dataset("nottingham", None).unwrap();
    assert_eq!(t.note, FrameNote::Eighth);
    assert_eq!((t.ticks_per_frame, t.us_per_quarter), (240, 500_000));
    assert_eq!(t.frame_seconds(), 0.25);
    assert_eq!(t.bpm(), 120.0);

    // --frame-seconds keeps the note value and changes the tempo: 0.3 s eighths → 0.6 s quarters → 100 bpm.
    let t = MidiTiming::for_dataset("piano", Some(0.3)).unwrap();
    assert_eq!((t.ticks_per_frame, t.us_per_quarter), (240, 600_000));
    assert!((t.frame_seconds() - 0.3).abs() < 1e-12);
    let p = parse(&piano_roll_to_midi(&roll(3, &[(1, 10), (2, 10)]), &t).unwrap());
    assert_eq!(p.tempo, vec![600_000]);
    assert_eq!(p.notes, vec![(31, 240, 480)]);
    assert_eq!(p.end_tick, 720);

    assert!(MidiTiming::new(FrameNote::Quarter, 20.0).is_err());
    assert!(MidiTiming::new(FrameNote::Quarter, 0.0).is_err());
    assert!(MidiTiming::new(FrameNote::Quarter, f64::NAN).is_err());
}

#[test]
fn empty_roll_and_silence() {
    let t = MidiTiming::for_dataset("jsb", None).unwrap();
    let p = parse(&piano_roll_to_midi(&[], &t).unwrap());
    assert!(p.notes.is_empty());
    assert_eq!((p.tempo.clone(), p.end_tick), (vec![500_000], 0));
    // Silent frames still last: end-of-track after the last frame.
    let p = parse(&piano_roll_to_midi(&roll(4, &[]), &t).unwrap());
    assert!(p.notes.is_empty());
    assert_eq!(p.end_tick, 4 * 480);
}

#[test]
fn all_keys_in_all_frames() {
    let r = vec![1u8; 3 * KEYS];
    let t = MidiTiming::for_dataset("musedata", None).unwrap();
    let p = parse(&piano_roll_to_midi(&r, &t).unwrap());
    let expected: Vec<(u8, u64, u64)> = (21..=108).map(|pitch| (pitch, 0, 720)).collect();
    assert_eq!(p.notes, expected);
}

#[test]
fn alternating_frames_are_separate_notes() {
    // A key struck on every other frame: note-off and the next note-on never share a tick for one key, and
    // another key's note-off at the tick where a note starts is written first.
    let r = roll(4, &[(0, 50), (2, 50), (0, 51), (1, 52), (2, 52), (3, 52)]);
    let t = MidiTiming::for_dataset("jsb", None).unwrap();
    let p = parse(&piano_roll_to_midi(&r, &t).unwrap());
    assert_eq!(
        p.notes,
        vec![(71, 0, 480), (72, 0, 480), (73, 480, 1440), (71, 960, 480)]
    );
    assert_eq!(roll_notes(&r).unwrap().len(), 4);
}

#[test]
fn bad_rolls_are_refused() {
    let t = MidiTiming::for_dataset("jsb", None).unwrap();
    assert!(piano_roll_to_midi(&[0u8; 87], &t).is_err());
    let mut r = vec![0u8; KEYS];
    r[5] = 2;
    let e = piano_roll_to_midi(&r, &t).unwrap_err().to_string();
    assert!(e.contains("frame 0, key 5"), "{e}");
}

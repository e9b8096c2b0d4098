//! The piano-roll PNG: decoded, a known note's pixels carry its panel's colour and silence is background.

use plotters::style::RGBColor;
use rnnlab::report::midi::KEYS;
use rnnlab::report::pianoroll::{draw_piano_rolls, Panel, PANEL_SIZE};

fn decode(path: &std::path::Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn pixel(img: &(u32, u32, Vec<u8>), (x, y): (i32, i32)) -> [u8; 3] {
    let i = 3 * (y as usize * img.0 as usize + x as usize);
    [img.2[i], img.2[i + 1], img.2[i + 2]]
}

#[test]
fn notes_are_coloured_and_silence_is_background() {
    const SAMPLE: RGBColor = RGBColor(0, 114, 178);
    const REAL: RGBColor = RGBColor(0, 0, 0);
    // Sample: C4 (key 39) held over frames 2..10, G4 (key 46) at frame 12. Real piece: E4 (key 43), frames 0..16.
    let frames = 16;
    let mut sample = vec![0u8; frames * KEYS];
    for t in 2..10 {
        sample[t * KEYS + 39] = 1;
    }
    sample[12 * KEYS + 46] = 1;
    let mut real = vec![0u8; frames * KEYS];
    for t in 0..frames {
        real[t * KEYS + 43] = 1;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roll.png");
    let geometry = draw_piano_rolls(
        &path,
        &[
            Panel {
                title: "sample from GRU",
                roll: &sample,
                color: SAMPLE,
                divider: None,
            },
            Panel {
                title: "real test piece",
                roll: &real,
                color: REAL,
                divider: None,
            },
        ],
        Some("JSB Chorales"),
    )
    .unwrap();
    assert!(!dir.path().join(".roll.png.tmp.png").exists());
    let img = decode(&path);
    assert_eq!((img.0, img.1), (2 * PANEL_SIZE.0, PANEL_SIZE.1 + 36));
    let (s, r) = (&geometry[0], &geometry[1]);
    assert_eq!((s.lowest, s.highest), (r.lowest, r.highest));
    assert!(s.lowest <= 60 && s.highest >= 67);
    // The second panel lies right of the first.
    assert!(r.origin.0 > s.corner.0);

    let sample_rgb = [SAMPLE.0, SAMPLE.1, SAMPLE.2];
    for t in 2..10 {
        assert_eq!(
            pixel(&img, s.cell_center(t, 60)),
            sample_rgb,
            "C4 at frame {t}"
        );
    }
    assert_eq!(
        pixel(&img, s.cell_center(12, 67)),
        sample_rgb,
        "G4 at frame 12"
    );
    for t in 0..frames {
        assert_eq!(
            pixel(&img, r.cell_center(t, 64)),
            [0, 0, 0],
            "E4 at frame {t}"
        );
    }
    let white = [255, 255, 255];
    for (t, p) in [
        (0, 60),
        (1, 60),
        (10, 60),
        (15, 60),
        (5, 62),
        (12, 66),
        (12, 68),
        (5, 64),
    ] {
        assert_eq!(
            pixel(&img, s.cell_center(t, p)),
            white,
            "frame {t}, pitch {p} is silent"
        );
    }
    assert_eq!(pixel(&img, r.cell_center(3, 60)), white);
    // The held C4 is one bar: the pixels between consecutive frames are coloured too (no gaps).
    let (a, b) = (s.cell_center(3, 60), s.cell_center(4, 60));
    for x in a.0..=b.0 {
        assert_eq!(pixel(&img, (x, a.1)), sample_rgb);
    }
}

#[test]
fn empty_rolls_still_draw() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.png");
    let g = draw_piano_rolls(
        &path,
        &[Panel {
            title: "silence",
            roll: &[0u8; 4 * KEYS],
            color: RGBColor(0, 0, 0),
            divider: Some(2),
        }],
        None,
    )
    .unwrap();
    let img = decode(&path);
    assert_eq!((img.0, img.1), PANEL_SIZE);
    assert_eq!(pixel(&img, g[0].cell_center(1, 61)), [255, 255, 255]);
    assert!(draw_piano_rolls(&path, &[], None).is_err());

    // Panels of different lengths share the time axis of the longest.
    let short = [0u8; 4 * KEYS];
    let long = [0u8; 8 * KEYS];
    let panel = |roll| Panel {
        title: "",
        roll,
        color: RGBColor(0, 0, 0),
        divider: None,
    };
    let g = draw_piano_rolls(&path, &[panel(&short[..]), panel(&long[..])], None).unwrap();
    assert_eq!((g[0].frames, g[1].frames), (8, 8));
    assert_eq!(g[0].corner.0 - g[0].origin.0, g[1].corner.0 - g[1].origin.0);
}

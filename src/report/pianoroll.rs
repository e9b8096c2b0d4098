//! Piano rolls as PNG: one panel per roll, side by side (e.g. "sample from GRU" beside "real test piece").
//!
//! Time runs left to right in frames, MIDI pitch bottom to top; each held note ([`crate::report::midi::roll_notes`]) is
//! one filled bar from its first frame to the end of its last, one semitone high (pitch `p` spans `[p, p + 1)`).
//! All panels share one pitch range, so they compare at a glance: the notes of every panel ± 2 semitones, at
//! least an octave, within A0..C8 (21..108); C3..C6 when no panel has a note. A grid line and a label mark the
//! lower edge of every C's row (C4 = 60). A panel may mark one frame with a vertical grey line (where a primer
//! ends). Text uses DejaVu Sans embedded through ab_glyph, as rnnlab's charts do (no system fonts needed).

use crate::data::music::KEYS;
use crate::report::chart::draw_png;
use crate::report::midi::{roll_notes, LOWEST_NOTE};
use anyhow::{anyhow, ensure, Context, Result};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// One piano roll to draw. All panels share the time axis (the longest roll's frames), so rolls of different
/// lengths compare at the same scale.
pub struct Panel<'a> {
    /// Title drawn above the panel.
    pub title: &'a str,
    /// Row-major, 88 values (0 or 1) per frame, as [`crate::report::midi::piano_roll_to_midi`] takes.
    pub roll: &'a [u8],
    /// Colour of the sounding notes.
    pub color: RGBColor,
    /// A frame to mark with a vertical grey line, e.g. where a sample's primer ends and its drawn frames begin.
    pub divider: Option<usize>,
}

/// Where a panel's plotting area landed in the image, so tests (and callers) can find a cell's pixels.
#[derive(Clone, Debug)]
pub struct PanelGeometry {
    /// Frames on the time axis (the longest roll's).
    pub frames: usize,
    /// The pitch range drawn: `lowest ..= highest`.
    pub lowest: u8,
    /// Highest pitch drawn (MIDI).
    pub highest: u8,
    /// Pixel of the data point (frame 0, pitch `lowest`) and of (frame `frames`, pitch `highest + 1`).
    pub origin: (i32, i32),
    /// Pixel of (frame `frames`, pitch `highest + 1`): the opposite corner from `origin`.
    pub corner: (i32, i32),
}

impl PanelGeometry {
    /// The pixel at the centre of the cell of `frame` and `pitch`.
    pub fn cell_center(&self, frame: usize, pitch: u8) -> (i32, i32) {
        let fx = (frame as f64 + 0.5) / self.frames.max(1) as f64;
        let fy = (pitch as f64 + 0.5 - self.lowest as f64)
            / (self.highest as f64 + 1.0 - self.lowest as f64);
        let lerp = |a: i32, b: i32, f: f64| (a as f64 + f * (b - a) as f64).round() as i32;
        (
            lerp(self.origin.0, self.corner.0, fx),
            lerp(self.origin.1, self.corner.1, fy),
        )
    }
}

/// Pixels per panel.
pub const PANEL_SIZE: (u32, u32) = (520, 420);

/// The name of a MIDI note (`60` → `C4`; sharps for black keys).
pub fn note_name(pitch: i32) -> String {
    const NAMES: [&str; 12] = [
        "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
    ];
    format!(
        "{}{}",
        NAMES[pitch.rem_euclid(12) as usize],
        pitch.div_euclid(12) - 1
    )
}

/// The pitch range all panels share (see the module doc).
fn pitch_range(panels: &[Panel<'_>]) -> Result<(u8, u8)> {
    let mut lo = u8::MAX;
    let mut hi = 0u8;
    for p in panels {
        for n in roll_notes(p.roll).with_context(|| format!("panel \"{}\"", p.title))? {
            lo = lo.min(n.pitch);
            hi = hi.max(n.pitch);
        }
    }
    let top = LOWEST_NOTE + KEYS as u8 - 1;
    if lo > hi {
        return Ok((48, 84));
    }
    let (mut lo, mut hi) = (lo.saturating_sub(2).max(LOWEST_NOTE), (hi + 2).min(top));
    while hi - lo < 12 {
        lo = lo.saturating_sub(1).max(LOWEST_NOTE);
        hi = (hi + 1).min(top);
    }
    Ok((lo, hi))
}

/// Draws `panels` side by side, under an optional overall `title`, into the PNG at `path` (written through a temp
/// file and a rename). Returns each panel's geometry.
pub fn draw_piano_rolls(
    path: &Path,
    panels: &[Panel<'_>],
    title: Option<&str>,
) -> Result<Vec<PanelGeometry>> {
    ensure!(!panels.is_empty(), "no piano roll to draw");
    let (lo, hi) = pitch_range(panels)?;
    let frames = panels
        .iter()
        .map(|p| p.roll.len() / KEYS)
        .max()
        .unwrap_or(0)
        .max(1);
    let title_px = if title.is_some() { 36 } else { 0 };
    let size = (
        PANEL_SIZE.0 * panels.len() as u32,
        PANEL_SIZE.1 + title_px as u32,
    );
    let mut geometry = Vec::new();
    draw_png(path, size, |root| {
        let root = match title {
            Some(t) => root
                .titled(t, ("sans-serif", 22))
                .map_err(|e| anyhow!("{e}"))?,
            None => root.clone(),
        };
        for (area, panel) in root.split_evenly((1, panels.len())).iter().zip(panels) {
            geometry.push(draw_panel(area, panel, frames, lo, hi)?);
        }
        Ok(())
    })?;
    Ok(geometry)
}

fn draw_panel(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    panel: &Panel<'_>,
    frames: usize,
    lo: u8,
    hi: u8,
) -> Result<PanelGeometry> {
    let err = |e: DrawingAreaErrorKind<_>| anyhow!("drawing \"{}\": {e}", panel.title);
    let mut chart = ChartBuilder::on(area)
        .caption(panel.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(52)
        .build_cartesian_2d(
            0f64..frames as f64,
            PitchAxis {
                lo: lo as f64,
                hi: hi as f64 + 1.0,
            },
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .bold_line_style(RGBColor(215, 215, 215))
        .light_line_style(TRANSPARENT)
        .x_desc("time (frames)")
        .y_desc("MIDI note")
        .x_labels(8)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| note_name(y.round() as i32))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    // Under the notes, so a note held across it stays whole.
    if let Some(t) = panel.divider {
        let line = [(t as f64, lo as f64), (t as f64, hi as f64 + 1.0)];
        chart
            .draw_series([PathElement::new(
                line,
                RGBColor(150, 150, 150).stroke_width(2),
            )])
            .map_err(err)?;
    }
    let notes = roll_notes(panel.roll)?;
    chart
        .draw_series(notes.iter().map(|n| {
            let p = n.pitch as f64;
            Rectangle::new(
                [(n.start as f64, p), ((n.start + n.frames) as f64, p + 1.0)],
                panel.color.filled(),
            )
        }))
        .map_err(err)?;
    Ok(PanelGeometry {
        frames,
        lowest: lo,
        highest: hi,
        origin: chart.backend_coord(&(0.0, lo as f64)),
        corner: chart.backend_coord(&(frames as f64, hi as f64 + 1.0)),
    })
}

/// A linear pitch axis whose grid lines and labels fall on every C (plotters' own ranges pick multiples of 1, 2,
/// 5 or 10, and its `with_key_points` cannot take a label formatter).
struct PitchAxis {
    lo: f64,
    hi: f64,
}

impl Ranged for PitchAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        RangedCoordf64::from(self.lo..self.hi).map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        let first = (self.lo / 12.0).ceil() as i32;
        let last = (self.hi / 12.0).floor() as i32;
        (first..=last).map(|octave| 12.0 * octave as f64).collect()
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn note_names() {
        assert_eq!(note_name(60), "C4");
        assert_eq!(note_name(21), "A0");
        assert_eq!(note_name(108), "C8");
        assert_eq!(note_name(61), "C#4");
    }

    #[test]
    fn shared_pitch_range() {
        let mut a = vec![0u8; 2 * KEYS];
        a[39] = 1; // C4
        let mut b = vec![0u8; KEYS];
        b[KEYS - 1] = 1; // C8
        let panel = |roll| Panel {
            title: "",
            roll,
            color: BLACK,
            divider: None,
        };
        assert_eq!(pitch_range(&[panel(&a)]).unwrap(), (54, 66)); // widened to an octave around C4
        assert_eq!(pitch_range(&[panel(&a), panel(&b)]).unwrap(), (58, 108));
        assert_eq!(pitch_range(&[panel(&[])]).unwrap(), (48, 84));
    }
}

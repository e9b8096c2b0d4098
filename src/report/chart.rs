//! The chart toolkit every figure draws with: an atomic PNG writer ([`draw_png`]), the embedded font, one colour per
//! unit, the title-and-legend header, axis ranges ([`YRange`], [`log_range`], [`linear_range`]) and tick values and
//! labels ([`log_ticks`], [`tick_label`]).
//!
//! Charts are PNGs drawn by plotters' bitmap backend with its `ab_glyph` text renderer, which draws only fonts
//! registered in-process: [`register_fonts`] embeds DejaVu Sans (from the `dejavu` crate; Bitstream Vera-derived
//! licence, free to embed and redistribute), so charts render the same on a machine with no system fonts (CI).

use anyhow::{anyhow, Context, Result};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

/// Figure size of single-panel figures; multi-panel figures grow from it.
pub const FIG_W: u32 = 1200;
/// Figure height of single-panel figures, pixels.
pub const FIG_H: u32 = 800;
/// The title line and the legend row under it (as in the benchmark chart).
pub const HEADER_H: u32 = 96;

/// Registers the embedded DejaVu Sans as `sans-serif` (regular and bold) once per process.
pub fn register_fonts() -> Result<()> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let fonts = [
                (FontStyle::Normal, dejavu::sans::regular()),
                (FontStyle::Bold, dejavu::sans::bold()),
            ];
            for (style, bytes) in fonts {
                plotters::style::register_font("sans-serif", style, bytes)
                    .map_err(|_| "the embedded DejaVu Sans font did not parse".to_string())?;
            }
            Ok(())
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

/// The figures' line colours: Okabe–Ito's (distinguishable with colour-blindness), then darker extras. The first
/// three are the paper's unit families' ([`unit_color`]); a figure of other series takes them in order, and one that
/// also shows unit families takes [`PALETTE`]`[3..]` for its further series.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
    RGBColor(0, 0, 0),
    RGBColor(140, 80, 20),
    RGBColor(90, 40, 140),
];

/// One colour per unit family in every figure: GRU blue, tanh vermillion, LSTM bluish green ([`PALETTE`]'s first
/// three); anything else grey.
pub fn unit_color(unit: &str) -> RGBColor {
    match unit {
        "gru" => PALETTE[0],
        "tanh" => PALETTE[1],
        "lstm" => PALETTE[2],
        _ => RGBColor(110, 110, 110),
    }
}

/// Draws into a PNG through a temp file and a rename, so a reader never sees a half-written figure. The temp name
/// keeps the `.png` ending: the bitmap encoder picks the format from it.
pub fn draw_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<()>,
) -> Result<()> {
    register_fonts()?;
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?
        .to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp.png"));
    let result = (|| {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        draw(&root)?;
        root.present().map_err(|e| anyhow!("{e}"))
    })();
    match result {
        Ok(()) => std::fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display())),
        Err(e) => {
            std::fs::remove_file(&tmp).ok();
            Err(e.context(format!("drawing {}", path.display())))
        }
    }
}

/// A figure with a title, a subtitle and a legend row over its body: draws through [`draw_png`], makes the figure
/// wider than `size` when the legend's row needs it (so no entry is cut off), and hands `draw` the area under the
/// header.
pub fn draw_figure(
    path: &Path,
    size: (u32, u32),
    title: &str,
    subtitle: &str,
    legend: &[(String, RGBColor, Swatch)],
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<()>,
) -> Result<()> {
    let width = fit_legend(size.0, legend)?;
    draw_png(path, (width, size.1), |root| {
        let (top, body) = root.split_vertically(HEADER_H);
        header(&top, title, subtitle, legend)?;
        draw(&body)
    })
}

/// How a legend entry is drawn.
#[derive(Clone, Copy)]
pub enum Swatch {
    /// A line segment, solid or dashed.
    Line {
        /// Whether the line is dashed.
        dashed: bool,
    },
    /// A filled circle.
    Dot,
    /// An outlined diamond.
    HollowDiamond,
    /// An upright cross (×).
    Cross,
    /// An outlined circle.
    Ring,
    /// A vertical bar with caps through a filled square: a mean with its interval.
    ErrorBar,
}

/// The title and a legend row under it, shared by every panel of a figure (so no legend hides a curve).
fn header(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    title: &str,
    subtitle: &str,
    legend: &[(String, RGBColor, Swatch)],
) -> Result<()> {
    let e = |e: &dyn std::fmt::Display| anyhow!("drawing the header: {e}");
    area.draw(&Text::new(
        title.to_string(),
        (20, 10),
        ("sans-serif", 26).into_font().style(FontStyle::Bold),
    ))
    .map_err(|x| e(&x))?;
    area.draw(&Text::new(
        subtitle.to_string(),
        (20, 42),
        ("sans-serif", 16).into_font().color(&RGBColor(80, 80, 80)),
    ))
    .map_err(|x| e(&x))?;
    let font = TextStyle::from(("sans-serif", 18).into_font());
    let y = 78;
    let (starts, _) = legend_layout(legend)?;
    for ((label, color, swatch), x) in legend.iter().zip(starts) {
        let style = color.stroke_width(3);
        match swatch {
            Swatch::Line { dashed: false } => area
                .draw(&PathElement::new(vec![(x, y), (x + 36, y)], style))
                .map_err(|x| e(&x))?,
            Swatch::Line { dashed: true } => area
                .draw(&DashedPathElement::new(
                    vec![(x, y), (x + 36, y)],
                    7,
                    5,
                    style,
                ))
                .map_err(|x| e(&x))?,
            Swatch::Dot => area
                .draw(&Circle::new((x + 18, y), 7, color.filled()))
                .map_err(|x| e(&x))?,
            Swatch::HollowDiamond => area
                .draw(&diamond((x + 18, y), 8, color.stroke_width(2)))
                .map_err(|x| e(&x))?,
            Swatch::Cross => area
                .draw(&Cross::new((x + 18, y), 6, color.stroke_width(3)))
                .map_err(|x| e(&x))?,
            Swatch::Ring => area
                .draw(&Circle::new((x + 18, y), 9, color.stroke_width(2)))
                .map_err(|x| e(&x))?,
            Swatch::ErrorBar => {
                for path in [
                    vec![(x + 18, y - 11), (x + 18, y + 11)],
                    vec![(x + 12, y - 11), (x + 24, y - 11)],
                    vec![(x + 12, y + 11), (x + 24, y + 11)],
                ] {
                    area.draw(&PathElement::new(path, style))
                        .map_err(|x| e(&x))?;
                }
                area.draw(&Rectangle::new(
                    [(x + 13, y - 5), (x + 23, y + 5)],
                    color.filled(),
                ))
                .map_err(|x| e(&x))?
            }
        }
        area.draw(&Text::new(
            label.clone(),
            (x + LEGEND_SWATCH_W, y - 10),
            font.clone(),
        ))
        .map_err(|x| e(&x))?;
    }
    Ok(())
}

/// Where the legend row starts, the room of an entry's swatch, and the gap after an entry's text.
const LEGEND_X0: i32 = 20;
const LEGEND_SWATCH_W: i32 = 44;
const LEGEND_GAP: i32 = 28;

/// The legend row's layout, which `header` draws by: the x at which each entry starts, and the x at which the last
/// entry's text ends. Text is measured in the font `header` draws it in.
fn legend_layout(legend: &[(String, RGBColor, Swatch)]) -> Result<(Vec<i32>, u32)> {
    register_fonts()?;
    let font = ("sans-serif", 18).into_font();
    let mut starts = Vec::with_capacity(legend.len());
    let (mut x, mut end) = (LEGEND_X0, LEGEND_X0);
    for (label, _, _) in legend {
        starts.push(x);
        let (w, _) = font
            .box_size(label)
            .map_err(|e| anyhow!("measuring the legend entry {label:?}: {e}"))?;
        end = x + LEGEND_SWATCH_W + w as i32;
        x = end + LEGEND_GAP;
    }
    Ok((starts, end.max(0) as u32))
}

/// The width a figure needs so that `header` shows `legend` whole on its one row, with the row's left margin on its
/// right too: `width`, or wider when the legend is longer.
fn fit_legend(width: u32, legend: &[(String, RGBColor, Swatch)]) -> Result<u32> {
    let (_, end) = legend_layout(legend)?;
    Ok(width.max(end + LEGEND_X0 as u32))
}

/// A diamond outline around a pixel position.
pub fn diamond(c: (i32, i32), r: i32, style: ShapeStyle) -> PathElement<(i32, i32)> {
    PathElement::new(
        vec![
            (c.0, c.1 - r),
            (c.0 + r, c.1),
            (c.0, c.1 + r),
            (c.0 - r, c.1),
            (c.0, c.1 - r),
        ],
        style,
    )
}

/// Tick values for a log axis over `[lo, hi]`: decades when the range spans several, else the densest of
/// 1-2-5, 1-2-3-5 and 1..9 (× 10^k) that gives at most about 10 ticks, so a narrow range still gets labels.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return vec![];
    }
    let mantissas: [&[f64]; 4] = [
        &[1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
        &[1.0, 2.0, 3.0, 5.0],
        &[1.0, 2.0, 5.0],
    ];
    let (k0, k1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let ticks = |ms: &[f64]| -> Vec<f64> {
        (k0..=k1)
            .flat_map(|k| ms.iter().map(move |m| m * 10f64.powi(k)))
            .filter(|v| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9))
            .collect()
    };
    for ms in mantissas {
        let t = ticks(ms);
        if t.len() <= 10 {
            if t.len() >= 3 {
                return t;
            }
            // Too narrow even for the densest set: linear ticks instead.
            break;
        }
    }
    let decades = ticks(&[1.0]);
    if decades.len() >= 3 {
        return decades;
    }
    let step = nice_step((hi - lo) / 5.0);
    let mut v = (lo / step).ceil() * step;
    let mut out = vec![];
    while v <= hi * (1.0 + 1e-12) {
        out.push(v);
        v += step;
    }
    out
}

fn nice_step(raw: f64) -> f64 {
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    p * if m < 1.5 {
        1.0
    } else if m < 3.5 {
        2.0
    } else if m < 7.5 {
        5.0
    } else {
        10.0
    }
}

/// A label for a tick value with as many decimals as the ticks need.
pub fn tick_label(v: f64) -> String {
    if v >= 100.0 || (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else if (v * 10.0 - (v * 10.0).round()).abs() < 1e-6 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// `[lo, hi]` of positive values, widened by a margin on a log axis (and never empty).
pub fn log_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return None;
    }
    let pad = (hi / lo).powf(0.06).max(1.02);
    Some((lo / pad, hi * pad))
}

/// A panel's NLL axis: log when every value is positive (the music NLLs), linear otherwise (the speech task's
/// Gaussian-mixture NLLs per sample can go below zero, and a log axis would drop those points).
pub struct YRange {
    /// Whether the axis is logarithmic.
    pub log: bool,
    /// Lower end of the axis (NLL).
    pub lo: f64,
    /// Upper end of the axis (NLL).
    pub hi: f64,
}

impl YRange {
    /// The axis for these values (non-finite ones ignored); `None` when none is finite.
    pub fn of(values: impl Iterator<Item = f64>) -> Option<Self> {
        let finite: Vec<f64> = values.filter(|v| v.is_finite()).collect();
        if finite.iter().all(|v| *v > 0.0) {
            let (lo, hi) = log_range(finite.into_iter())?;
            return Some(Self { log: true, lo, hi });
        }
        let (lo, hi) = linear_range(finite.into_iter())?;
        Some(Self { log: false, lo, hi })
    }

    /// Room for one more line above the top (where off-scale members are drawn): that line's value, and the
    /// widened axis.
    pub fn with_line_above(self) -> (f64, Self) {
        if self.log {
            let step = (self.hi / self.lo).powf(0.06).max(1.02);
            (
                self.hi * step,
                Self {
                    hi: self.hi * step * step,
                    ..self
                },
            )
        } else {
            let step = (self.hi - self.lo) * 0.06;
            (
                self.hi + step,
                Self {
                    hi: self.hi + 2.0 * step,
                    ..self
                },
            )
        }
    }

    /// The axis label, saying which scale it is.
    pub fn describe(&self, what: &str) -> String {
        format!("{what}, {} scale", if self.log { "log" } else { "linear" })
    }
}

/// `[lo, hi]` of finite values, widened by 5 % of the span on each side (and never empty).
pub fn linear_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return None;
    }
    let pad = ((hi - lo) * 0.05).max(1e-3 * lo.abs().max(hi.abs()).max(1.0));
    Some((lo - pad, hi + pad))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The right-most column with a non-white pixel in rows `rows` of a decoded RGB(A) PNG, and the image's size.
    fn rightmost_ink(path: &Path, rows: std::ops::Range<u32>) -> (u32, u32, Option<u32>) {
        let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        let channels = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("unexpected colour type {other:?}"),
        };
        let (w, h) = (info.width, info.height);
        let at = |x: u32, y: u32| {
            let i = ((y * w + x) as usize) * channels;
            [buf[i], buf[i + 1], buf[i + 2]]
        };
        let ink = (0..w)
            .rev()
            .find(|&x| rows.clone().any(|y| at(x, y) != [255, 255, 255]));
        (w, h, ink)
    }

    /// A legend longer than the figure asked for widens the figure, and its last entry's text is drawn whole inside
    /// it; a short legend leaves the size as asked.
    #[test]
    fn draw_figure_fits_the_legend_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fig.png");
        let legend: Vec<(String, RGBColor, Swatch)> = (0..8)
            .map(|i| {
                (
                    format!("a rather long legend entry number {i}"),
                    PALETTE[i % PALETTE.len()],
                    Swatch::Line { dashed: i % 2 == 1 },
                )
            })
            .collect();
        let ask = (600, 300);
        draw_figure(&path, ask, "title", "subtitle", &legend, |_| Ok(())).unwrap();
        // The legend row: y = 78 with swatches up to 11 px and text 18 px high either side.
        let (w, h, ink) = rightmost_ink(&path, 64..96);
        assert_eq!(h, ask.1);
        assert!(
            w > ask.0,
            "the figure should have widened past {}: {w}",
            ask.0
        );
        let ink = ink.expect("the legend row is blank");
        assert!(
            ink + LEGEND_X0 as u32 <= w,
            "the legend's last text ends at x = {ink}, too close to the edge of a {w}-pixel figure"
        );
        // Widened no more than the row needs: its right margin is the left one, give or take the glyphs' bearings.
        assert!(
            ink + LEGEND_X0 as u32 + 8 > w,
            "the legend's last text ends at x = {ink}, far inside a {w}-pixel figure"
        );
        // The widening is the legend's own: the last entry's text is what reaches furthest right.
        let (starts, _) = legend_layout(&legend).unwrap();
        assert!(ink as i32 > starts[legend.len() - 1] + LEGEND_SWATCH_W);

        let short = &legend[..1];
        draw_figure(&path, ask, "title", "subtitle", short, |_| Ok(())).unwrap();
        let (w, _, _) = rightmost_ink(&path, 64..96);
        assert_eq!(w, ask.0);
    }
}

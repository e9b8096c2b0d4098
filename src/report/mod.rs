//! Reports for people: Table 2 beside the paper's numbers (`table`), and charts drawn with plotters.
//!
//! Charts are PNGs drawn by plotters' bitmap backend with its `ab_glyph` text renderer, which draws only fonts
//! registered in-process: [`register_fonts`] embeds DejaVu Sans (from the `dejavu` crate; Bitstream Vera-derived
//! licence, free to embed and redistribute), so charts render the same on a machine with no system fonts (CI).

pub mod plot;
pub mod plot_bench;
pub mod table;

pub use plot::plot_all;
pub use plot_bench::plot_bench;

use anyhow::{anyhow, Result};
use plotters::style::{FontStyle, RGBColor};
use std::sync::OnceLock;

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

pub use crate::paper::UNITS;

/// One colour per unit family in every figure (Okabe–Ito colours, distinguishable with colour-blindness):
/// tanh vermillion, GRU blue, LSTM bluish green; anything else grey.
pub fn unit_color(unit: &str) -> RGBColor {
    match unit {
        "tanh" => RGBColor(213, 94, 0),
        "gru" => RGBColor(0, 114, 178),
        "lstm" => RGBColor(0, 158, 115),
        _ => RGBColor(110, 110, 110),
    }
}

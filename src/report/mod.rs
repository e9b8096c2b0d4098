//! Reports for people: Table 2 beside the paper's numbers (`table`), and charts drawn with plotters.
//!
//! | file            | what it owns                                                                                |
//! |-----------------|---------------------------------------------------------------------------------------------|
//! | `table.rs`      | Table 2 as Markdown, CSV and JSON, with the paper's values                                   |
//! | `table2_files.rs` | a reproduction's `table2.{md,csv,json}` and figures, in the paper's order                |
//! | `chart.rs`      | the chart toolkit: atomic PNG writer, embedded font, unit colours, header and legend, axes   |
//! | `inputs.rs`     | the inputs of `rnnlab plot` and `table2.json` (run directories: `crate::run::view`)         |
//! | `plot/`         | the paper's figures, one file each (learning curves, Fig. 2, Table 2 at a glance, LR search) |
//! | `plot_bench.rs` | the benchmark chart                                                                          |
//! | `stats.rs`      | statistics over seeds: mean and t-interval of a cell, Welch's test between units, Holm          |
//! | `midi.rs`       | piano rolls as Standard MIDI Files (the music samples of `rnnlab sample`)                     |
//! | `pianoroll.rs`  | piano rolls as PNG panels side by side (a sample beside a real test piece)                  |
//! | `show.rs`       | `rnnlab show`: a run directory or a reproduce output at a glance                             |

pub mod chart;
pub mod inputs;
pub mod midi;
pub mod pianoroll;
pub mod plot;
pub mod plot_bench;
pub mod show;
pub mod stats;
pub mod table;
pub mod table2_files;

pub use chart::{register_fonts, unit_color};
pub use plot::plot_all;
pub use plot_bench::plot_bench;

pub use crate::paper::UNITS;

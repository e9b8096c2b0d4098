//! `rnnlab bench`: how fast each implementation of each unit runs, from a naive Rust loop to cuDNN.
//!
//! Tiers, after PyTorch's `benchmarks/fastrnns`:
//!
//! | tier | name           | what runs                                                                             |
//! |------|----------------|---------------------------------------------------------------------------------------|
//! | 1    | `naive`        | custom cell looped in Rust, two matmuls per gate per step ([`NaiveLayer`])            |
//! | 2    | `fused`        | custom cell, gates fused into one matmul, input projection of all steps precomputed ([`CustomLayer`](crate::cells::CustomLayer)) |
//! | 3    | `builtin_cell` | libtorch's per-step op (`gru_cell`, `lstm_cell`, `rnn_tanh_cell`) looped in Rust       |
//! | 4    | `builtin_seq`  | libtorch's whole-sequence op (`gru`, `lstm`, `rnn_tanh`), cuDNN off                    |
//! | 5    | `cudnn`        | the same op with cuDNN on (CUDA only)                                                  |
//! | 6    | `population`   | tier 2 for K stacked models in one op each (`CellConfig::population`), time per model |
//!
//! Each tier times one [`Implementation`](crate::cells::Implementation) of the layer ([`Tier::implementation`]):
//! rnnlab's own cells (`custom`) in tiers 1, 2 and 6, libtorch's `builtin_cell` in tier 3, its `builtin_seq` in 4 and 5.
//! Tiers 1–5 run the torch forms (`tanh`, `torch_gru`, `torch_lstm`), which have built-in twins; the paper forms
//! (`paper_gru`, `paper_lstm`) run in tiers 1, 2 and 6, and their ratios are taken to the built-in op of the same unit.
//! Each case is timed in two directions: `forward` (inference, under `no_grad`) and `forward_backward` (forward, then
//! the gradients of `Σ outputs` with respect to every parameter). Warm-up runs come first; then timed runs until both
//! a minimum count and a minimum time are reached. On CUDA every timed run is bracketed by device synchronisation.
//!
//! Shapes: the paper's (input 88; hidden 36/46/100 for LSTM/GRU/tanh, about equal parameter counts; batch 1/8/32;
//! sequence 60/250/500) and fastrnns' (sequence 100, batch 64, input 512, hidden 512).
//!
//! Besides time, every row carries the matmul FLOPs of its case (`2·T·B·G·H·(D+H)` forward, three times that for
//! forward+backward) and the rate achieved; the report's meta holds a large sgemm's rate (the practical peak) and the
//!
//! | file          | what it owns                                                                             |
//! |---------------|------------------------------------------------------------------------------------------|
//! | `schema.rs`   | the JSON report: [`Report`], [`Meta`], [`Row`], [`Tier`], [`Direction`], [`Shape`], ratios |
//! | `options.rs`  | what to time: [`Options`], the command line's [`Overrides`] of them, and the shape sets   |
//! | `timing.rs`   | the timing loop and its statistics, FLOP counts, the peak, dispatch-floor and CPU probes  |
//! | `run.rs`      | [`run`]: plan the cases, build each tier's layer, time it, assemble the report            |
//! | `naive.rs`    | tier 1's layer ([`NaiveLayer`])                                                           |
//! | `table.rs`    | the on-screen table ([`format_table`])                                                    |
//! | `markdown.rs` | the Markdown tables docs/benchmarks.md quotes ([`markdown`])                             |
//! | `compare.rs`  | rnnlab beside PyTorch's script ([`compare`], [`format_compare`])                          |

mod compare;
mod markdown;
mod naive;
mod options;
mod run;
mod schema;
mod table;
mod timing;

pub use compare::{compare, format_compare, ratio_groups, CompareRow};
pub use markdown::markdown;
pub use naive::NaiveLayer;
pub use options::{fastrnns_shapes, paper_shapes, quick_shapes, Options, Overrides, ShapeSpec};
pub use run::run;
pub use schema::{fill_ratios, form_name, Direction, Meta, Report, Row, Shape, Tier};
pub use table::{format_table, geomean};
pub use timing::{matmul_flop, time_runs, Stats};

use table::seq_ratio_geomean;

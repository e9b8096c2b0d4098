//! The paper's facts in one place: Chung, Gulcehre, Cho & Bengio (2014), "Empirical Evaluation of Gated Recurrent
//! Neural Networks on Sequence Modeling" (arXiv:1412.3555). Everything rnnlab compares against or sizes its models by
//! comes from here: Table 1's sizes, Table 2's values, the order of its datasets and units, and the shapes the
//! benchmark derives from them.

use crate::cells::CellKind;
use crate::data::{Dataset, Task};

/// The unit families, in the paper's order (Table 2's columns); defined by the cells ([`crate::cells::PAPER_FAMILIES`]).
pub const UNITS: [&str; 3] = crate::cells::PAPER_FAMILIES;

/// The music datasets in Table 2's row order.
pub const MUSIC_DATASETS: [Dataset; 4] = [
    Dataset::Nottingham,
    Dataset::Jsb,
    Dataset::Musedata,
    Dataset::Piano,
];

/// The music datasets of Fig. 2 (learning curves against updates and wall-clock time).
pub const FIG2_DATASETS: [Dataset; 2] = [Dataset::Nottingham, Dataset::Musedata];

/// Table 1's music sizes: about 20k recurrent parameters for each unit. A unit beyond the paper gets the size
/// that matches the GRU's budget (see [`budget_hidden`]).
pub fn table1_music_hidden(kind: CellKind) -> i64 {
    match kind.family() {
        "tanh" => 100,
        "gru" => 46,
        "lstm" => 36,
        _ => budget_hidden(kind, 88, CellKind::PaperGru.paper_param_count(88, 46)),
    }
}

/// Table 1's speech sizes: about 169k recurrent parameters for each unit (input 20). A unit beyond the paper gets
/// the size that matches the GRU's budget (see [`budget_hidden`]).
pub fn table1_speech_hidden(kind: CellKind) -> i64 {
    match kind.family() {
        "tanh" => 400,
        "gru" => 227,
        "lstm" => 195,
        _ => budget_hidden(kind, 20, CellKind::PaperGru.paper_param_count(20, 227)),
    }
}

/// The hidden size at which `kind`'s paper parameter count (input `input`) is closest to `budget` (the smaller
/// size on a tie): how a unit the paper did not run is sized like its units, which all have about the same number
/// of parameters (Table 1). The budget rnnlab uses is the GRU's (music 18,630, speech 168,888).
pub fn budget_hidden(kind: CellKind, input: i64, budget: i64) -> i64 {
    (1..=4 * budget.max(1))
        .take_while(|&n| n == 1 || kind.paper_param_count(input, n - 1) <= budget)
        .min_by_key(|&n| ((kind.paper_param_count(input, n) - budget).abs(), n))
        .unwrap_or(1)
}

/// Table 1's size of a unit for a task; tasks the paper did not run (tokens, arrays) take the music size, which
/// a config never uses for them (`TrainConfig::hidden_size` sizes them by their own input width).
pub fn table1_hidden(task: Task, kind: CellKind) -> i64 {
    match task {
        Task::Speech => table1_speech_hidden(kind),
        Task::Music | Task::Tokens | Task::Arrays => table1_music_hidden(kind),
    }
}

/// Table 2 of Chung et al. 2014 (average NLL per frame; music rows): (dataset, unit, train, test).
pub const PAPER_TABLE2: [(&str, &str, f64, f64); 12] = [
    ("nottingham", "tanh", 3.22, 3.13),
    ("nottingham", "gru", 2.79, 3.23),
    ("nottingham", "lstm", 3.08, 3.20),
    ("jsb", "tanh", 8.82, 9.10),
    ("jsb", "gru", 6.94, 8.54),
    ("jsb", "lstm", 8.15, 8.67),
    ("musedata", "tanh", 5.64, 6.23),
    ("musedata", "gru", 5.06, 5.99),
    ("musedata", "lstm", 5.18, 6.23),
    ("piano", "tanh", 5.64, 9.03),
    ("piano", "gru", 4.93, 8.82),
    ("piano", "lstm", 6.49, 9.03),
];

/// Table 2's speech rows: Ubisoft A test NLL per unit (the paper gives no train NLL for speech). The data are
/// private; rnnlab's speech rows are on FSDD, so these numbers are shown for reference, never subtracted.
pub const PAPER_UBISOFT_A_TEST: [(&str, f64); 3] = [("tanh", 6.44), ("gru", 3.59), ("lstm", 2.70)];

/// The paper's (train, test) NLL for a dataset and unit family (`tanh`, `gru`, `lstm`).
pub fn paper_nll(dataset: &str, unit: &str) -> Option<(f64, f64)> {
    PAPER_TABLE2
        .iter()
        .find(|(d, u, _, _)| *d == dataset && *u == unit)
        .map(|&(_, _, tr, te)| (tr, te))
}

/// The paper's Ubisoft A test NLL shown beside a speech row (FSDD), for a unit family.
pub fn paper_speech_reference(unit: &str) -> Option<f64> {
    PAPER_UBISOFT_A_TEST
        .iter()
        .find(|(u, _)| *u == unit)
        .map(|&(_, v)| v)
}

/// The benchmark's "paper" shapes are the music models' (`rnnlab bench`): input 88 (the piano keys), each unit's
/// Table 1 hidden size, and these batch sizes and sequence lengths.
pub const BENCH_INPUT: i64 = 88;
/// Batch sizes of the benchmark's paper shapes.
pub const BENCH_BATCHES: [i64; 3] = [1, 8, 32];
/// Sequence lengths of the benchmark's paper shapes.
pub const BENCH_SEQ_LENS: [i64; 3] = [60, 250, 500];

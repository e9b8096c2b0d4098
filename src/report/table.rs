//! Table 2 of the paper beside ours, as Markdown, CSV and JSON.

use super::stats::{compare_units, summarize, DatasetTests, SeedStats};
use crate::cells::CellKind;
use crate::run::{Status, Summary};
use serde::{Deserialize, Serialize};

pub use crate::paper::{paper_nll, paper_speech_reference, PAPER_TABLE2, PAPER_UBISOFT_A_TEST};

/// The note printed under a table with speech rows.
pub const SPEECH_NOTE: &str = "fsdd rows: ours are on the Free Spoken Digit Dataset, a public stand-in for the paper's \
private Ubisoft A set; their \"paper\" columns show Ubisoft A (test only) for reference. Different recordings and our own \
normalisation (training-split mean/std) make the densities incomparable in absolute terms: compare the units' order \
and gaps, not the numbers.";

/// The unit family of a cell name: `paper_gru`/`torch_gru` → `gru`, and so on (see [`CellKind::family`]); a unit
/// beyond the paper is its own family (`mgu` → `mgu`). An unknown name is an error naming the known ones.
pub fn unit_family(cell: &str) -> anyhow::Result<&'static str> {
    Ok(cell.parse::<CellKind>()?.family())
}

/// One row of Table 2: one run (a dataset × a cell), reported at its best member (lowest validation NLL).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// Dataset name (`jsb`, `fsdd`, …).
    pub dataset: String,
    /// The unit family, Table 2's column (`tanh`, `gru`, `lstm`, or a unit beyond the paper).
    pub unit: String,
    /// The cell that ran (`paper_gru`, `torch_lstm`, …).
    pub cell: String,
    /// Hidden size.
    pub hidden: i64,
    /// Parameters per model by the paper's definition (recurrent layer only).
    pub params_paper: i64,
    /// All trainable parameters per model, output layer included.
    pub params_total: i64,
    /// Train NLL of the best member at its best weights, no weight noise (nats per predicted frame).
    pub train_nll: f64,
    /// Validation NLL of the best member (nats per predicted frame).
    pub valid_nll: f64,
    /// Test NLL of the best member (nats per predicted frame).
    pub test_nll: f64,
    /// The paper's Table 2 train NLL for this dataset and unit, where it has one.
    pub paper_train_nll: Option<f64>,
    /// The paper's Table 2 test NLL for this dataset and unit (for `fsdd`: Ubisoft A's, for reference only).
    pub paper_test_nll: Option<f64>,
    /// ours − paper, test NLL (negative: better than the paper).
    pub test_diff: Option<f64>,
    /// Learning rate of the best member.
    pub lr: f64,
    /// Epochs run, and the epoch whose weights are reported.
    pub epochs: usize,
    /// Epoch of the best member's lowest validation NLL (the weights reported).
    pub best_epoch: Option<usize>,
    /// Wall-clock seconds of the run, training and evaluation.
    pub seconds: f64,
    /// CPU seconds of the run's training thread, over all its invocations (0 in tables made before it was recorded).
    #[serde(default)]
    pub cpu_seconds: f64,
    /// Members trained (learning-rate candidates × seeds).
    pub population: usize,
    /// The best member was still training when the run reached its epoch cap: early stopping did not end it, so
    /// more epochs might have lowered its NLL.
    #[serde(default)]
    pub at_cap: bool,
    /// How many seeds' chosen members (see `test_nll_seeds`) ended at the epoch cap rather than by early stopping.
    #[serde(default)]
    pub seeds_at_cap: usize,
    /// Members stopped by the pruning rule (`prune_after`, not in the paper; docs/pruning.md).
    #[serde(default)]
    pub pruned: usize,
    /// The best member's learning rate is the largest of the population's candidates: the search's optimum may lie
    /// beyond its range (a search whose optimum is on its edge has not found it).
    #[serde(default)]
    pub lr_at_max: bool,
    /// Independent seeds (replicates) of the learning-rate search; 1 in tables made before seeds were reported.
    #[serde(default = "one")]
    pub seeds: usize,
    /// Per seed: the test NLL of the member that seed's own search chose by validation NLL (`null`: every member of
    /// the seed diverged).
    #[serde(default)]
    pub test_nll_seeds: Vec<Option<f64>>,
    /// Per seed: the chosen member's validation NLL and learning rate.
    #[serde(default)]
    pub valid_nll_seeds: Vec<Option<f64>>,
    /// Per seed: the chosen member's learning rate (`null` where every member of the seed diverged).
    #[serde(default)]
    pub lr_seeds: Vec<Option<f64>>,
    /// Mean, standard deviation and 95 % t-interval of `test_nll_seeds` (see [`super::stats`]).
    #[serde(default)]
    pub test_nll_stats: Option<SeedStats>,
    /// The metric's variants at the chosen weights (`rnnlab eval`, [`crate::eval`]), means over the seeds' chosen
    /// members; absent in tables made before they were measured or when the run's data was not at hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variants: Option<Variants>,
    /// Token datasets (text, Shakespeare, integer NPZ): what one token is (`character`, `byte`, `token`). Their NLLs
    /// are nats per predicted token, shown in bits per token as well (nats / ln 2); absent for frame-wise rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Means over a row's seeds (each seed's chosen member) of the metric's variants (see [`crate::eval`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Variants {
    /// Seeds measured.
    pub n: usize,
    /// Train NLL in one pass at the chosen weights without weight noise, recomputed piece by piece (the train column
    /// is the same quantity, measured by the trainer at the end of the run).
    pub train_clean: f64,
    /// Test NLL, mean over pieces of each piece's per-frame NLL.
    pub test_sequence_weighted: f64,
    /// Test NLL over every frame, the first predicted from a zero input.
    pub test_with_first_frame: f64,
    /// Test NLL with the state reset every `reset_every` steps.
    pub test_reset: f64,
    /// The reset period of `test_reset`, in steps.
    pub reset_every: usize,
}

impl Variants {
    /// The means over a run's evaluated members (`None` when it has none).
    pub fn of(eval: &crate::eval::RunEval) -> Option<Variants> {
        let n = eval.members.len();
        if n == 0 {
            return None;
        }
        let mean = |f: &dyn Fn(&crate::eval::MemberEval) -> f64| {
            eval.members.iter().map(f).sum::<f64>() / n as f64
        };
        Some(Variants {
            n,
            train_clean: mean(&|m| m.train.frame_weighted),
            test_sequence_weighted: mean(&|m| m.test.sequence_weighted),
            test_with_first_frame: mean(&|m| m.test.with_first_frame),
            test_reset: mean(&|m| m.test.reset),
            reset_every: eval.members[0].test.reset_every,
        })
    }
}

fn one() -> usize {
    1
}

/// Table 2 as written to `table2.json`: the rows and, per dataset, the tests between units over seeds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Table2 {
    /// One row per run.
    pub rows: Vec<Row>,
    /// Per dataset, the Welch tests between its units over seeds (empty with one seed).
    pub tests: Vec<DatasetTests>,
}

impl Table2 {
    /// The rows with Welch's tests between the units of each dataset (Holm-corrected within the dataset), on the
    /// per-seed test NLLs.
    pub fn new(rows: Vec<Row>) -> Table2 {
        let mut datasets: Vec<&str> = Vec::new();
        for r in &rows {
            if !datasets.contains(&r.dataset.as_str()) {
                datasets.push(&r.dataset);
            }
        }
        let tests = datasets
            .iter()
            .map(|d| {
                let units: Vec<(&str, Vec<f64>)> = rows
                    .iter()
                    .filter(|r| r.dataset == *d)
                    .map(|r| (r.unit.as_str(), r.seed_values()))
                    .collect();
                compare_units(d, &units)
            })
            .collect();
        Table2 { rows, tests }
    }
}

impl Row {
    /// The per-seed test NLLs, NaN for a seed whose members all diverged (the statistics leave it out and count it).
    pub fn seed_values(&self) -> Vec<f64> {
        self.test_nll_seeds
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect()
    }
}

/// The Table 2 row of a finished run: its best member by validation NLL (`None`: every member diverged). An
/// unknown cell name is an error.
pub fn row(summary: &Summary) -> anyhow::Result<Option<Row>> {
    let unit = unit_family(&summary.cell)?;
    let Some(best) = summary.best_member.map(|b| &summary.members[b]) else {
        return Ok(None);
    };
    // Speech rows show Ubisoft A's test NLL for reference only: FSDD is a stand-in, so no train value, no difference.
    let (paper_train_nll, paper_test_nll, test_diff) = if summary.dataset == "fsdd" {
        (None, paper_speech_reference(unit), None)
    } else {
        let paper = paper_nll(&summary.dataset, unit);
        (
            paper.map(|p| p.0),
            paper.map(|p| p.1),
            paper.map(|p| best.test_nll - p.1),
        )
    };
    let per_seed = summary.seed_results();
    let test_nll_seeds: Vec<Option<f64>> = per_seed
        .iter()
        .map(|r| r.map(|r| r.test_nll).filter(|v| v.is_finite()))
        .collect();
    let max_lr = summary
        .members
        .iter()
        .map(|m| m.lr)
        .fold(f64::MIN, f64::max);
    let mut row = Row {
        dataset: summary.dataset.clone(),
        unit: unit.into(),
        cell: summary.cell.clone(),
        hidden: summary.hidden,
        params_paper: summary.params_paper,
        params_total: summary.params_total,
        train_nll: best.train_nll,
        valid_nll: best.valid_nll,
        test_nll: best.test_nll,
        paper_train_nll,
        paper_test_nll,
        test_diff,
        lr: best.lr,
        epochs: summary.epochs,
        best_epoch: best.best_epoch,
        seconds: summary.seconds,
        cpu_seconds: summary.cpu_seconds,
        population: summary.population,
        at_cap: best.status == Status::Active,
        seeds_at_cap: per_seed
            .iter()
            .flatten()
            .filter(|m| m.status == Status::Active)
            .count(),
        pruned: summary
            .members
            .iter()
            .filter(|m| m.status == Status::Pruned)
            .count(),
        lr_at_max: summary.members.len() > 1 && best.lr >= max_lr,
        seeds: summary.seeds,
        test_nll_stats: None,
        variants: None,
        token: summary.tokens.as_ref().map(|t| t.token.clone()),
        test_nll_seeds,
        valid_nll_seeds: per_seed
            .iter()
            .map(|r| r.map(|r| r.valid_nll).filter(|v| v.is_finite()))
            .collect(),
        lr_seeds: per_seed.iter().map(|r| r.map(|r| r.lr)).collect(),
    };
    row.test_nll_stats = Some(summarize(&row.seed_values()));
    Ok(Some(row))
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map(|x| format!("{x:.prec$}"))
        .unwrap_or_else(|| "–".into())
}

/// `mean ± half-width (n)` of a cell over its seeds; the mean alone with one seed.
fn over_seeds(r: &Row) -> String {
    let Some(st) = &r.test_nll_stats else {
        return "–".into();
    };
    let mut cell = match (st.mean, st.ci95) {
        (Some(m), Some((lo, hi))) => format!("{m:.2} ± {:.2} (n={})", (hi - lo) / 2.0, st.n),
        (Some(m), None) => format!("{m:.2} (n={})", st.n),
        _ => "–".into(),
    };
    if st.diverged > 0 {
        cell += &format!(", {} diverged", st.diverged);
    }
    cell
}

/// Table 2 as Markdown: one line per row (with a column over seeds when any row has several), then the notes its
/// rows call for (the marks ↑ and ‡, the pruned members, the speech rows' caveat).
pub fn markdown(rows: &[Row]) -> String {
    let seeded = rows.iter().any(|r| r.seeds > 1);
    let mut s = String::from(
        "| dataset | unit | cell | hidden | params (paper / all) | train NLL | valid NLL | test NLL | paper train | paper test | test − paper | lr | epochs (best) | seconds |",
    );
    if seeded {
        s += " test NLL over seeds (mean ± 95 % CI) |";
    }
    s += "\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";
    if seeded {
        s += "---:|";
    }
    s += "\n";
    for r in rows {
        let dataset = if r.dataset == "fsdd" {
            "fsdd (paper: Ubisoft A)†".to_string()
        } else {
            r.dataset.clone()
        };
        s += &format!(
            "| {} | {} | {} | {} | {} / {} | {:.2} | {:.2} | **{:.2}** | {} | {} | {} | {:.2e}{} | {} ({}){} | {:.0} |",
            dataset,
            r.unit,
            r.cell,
            r.hidden,
            r.params_paper,
            r.params_total,
            r.train_nll,
            r.valid_nll,
            r.test_nll,
            opt(r.paper_train_nll, 2),
            opt(r.paper_test_nll, 2),
            r.test_diff.map(|d| format!("{d:+.2}")).unwrap_or_else(|| "–".into()),
            r.lr,
            if r.lr_at_max { " ↑" } else { "" },
            r.epochs,
            r.best_epoch.map(|e| e.to_string()).unwrap_or_else(|| "–".into()),
            if r.at_cap { " ‡" } else { "" },
            r.seconds
        );
        if seeded {
            s += &format!(" {} |", over_seeds(r));
        }
        s += "\n";
    }
    if seeded {
        s += "\nThe first columns are the population's single best member by validation NLL. The last column \
              chooses one member per seed (the best learning rate of that seed's own search, by validation NLL) and \
              gives the mean of their test NLLs ± the half-width of its 95 % t-interval, with n seeds.\n";
    }
    if rows.iter().any(|r| r.lr_at_max) {
        s += "\n↑ the chosen learning rate is the largest candidate drawn: the search's optimum may lie above its \
              range.\n";
    }
    if rows.iter().any(|r| r.at_cap || r.seeds_at_cap > 0) {
        s += "\n‡ the best member was still training at the epoch cap (early stopping did not end it): more epochs \
              might lower its NLL.";
        if seeded {
            let capped: Vec<String> = rows
                .iter()
                .filter(|r| r.seeds_at_cap > 0)
                .map(|r| format!("{} {} {}/{}", r.dataset, r.unit, r.seeds_at_cap, r.seeds))
                .collect();
            if !capped.is_empty() {
                s += &format!(
                    " Seeds whose chosen member ended at the cap: {}.",
                    capped.join(", ")
                );
            }
        }
        s += "\n";
    }
    let pruned: Vec<String> = rows
        .iter()
        .filter(|r| r.pruned > 0)
        .map(|r| format!("{} {} {}/{}", r.dataset, r.unit, r.pruned, r.population))
        .collect();
    if !pruned.is_empty() {
        s += &format!(
            "\nMembers stopped by pruning (not the paper's protocol; they could not catch their seed's best by the \
             cap at their recent rate, see docs/pruning.md): {}.\n",
            pruned.join(", ")
        );
    }
    if rows.iter().any(|r| r.dataset == "fsdd") {
        s += &format!("\n† {SPEECH_NOTE}\n");
    }
    s += &markdown_bits(rows);
    s
}

/// The token rows again in bits per token (nats / ln 2): the best member's NLLs and, with seeds, the mean ± 95 %
/// interval over the seeds' chosen members. Empty when no row is of tokens.
pub fn markdown_bits(rows: &[Row]) -> String {
    let tokens: Vec<&Row> = rows.iter().filter(|r| r.token.is_some()).collect();
    if tokens.is_empty() {
        return String::new();
    }
    let bits = |v: f64| v / std::f64::consts::LN_2;
    let mut s = String::from(
        "\nIn bits per token (the NLLs above are nats per predicted token; bits = nats / ln 2):\n\n\
         | dataset | unit | token | train bits | valid bits | test bits | test bits over seeds (mean ± 95 % CI) |\n\
         |---|---|---|---:|---:|---:|---:|\n",
    );
    for r in tokens {
        let seeds = match r.test_nll_stats.as_ref().map(|st| (st.mean, st.ci95, st.n)) {
            Some((Some(m), Some((lo, hi)), n)) => {
                format!("{:.3} ± {:.3} (n={n})", bits(m), bits((hi - lo) / 2.0))
            }
            Some((Some(m), None, n)) => format!("{:.3} (n={n})", bits(m)),
            _ => "–".into(),
        };
        s += &format!(
            "| {} | {} | {} | {:.3} | {:.3} | **{:.3}** | {} |\n",
            r.dataset,
            r.unit,
            r.token.as_deref().unwrap_or("token"),
            bits(r.train_nll),
            bits(r.valid_nll),
            bits(r.test_nll),
            seeds
        );
    }
    s
}

/// The tests between units, per dataset: a table of the pairs and the plain-words sentence.
pub fn markdown_tests(tests: &[DatasetTests]) -> String {
    let beyond = tests.iter().flat_map(|t| &t.pairs).any(|p| {
        [&p.a, &p.b]
            .iter()
            .any(|u| crate::report::stats::is_beyond_the_paper(u))
    });
    let which = if beyond {
        format!(
            "of every unit against {} (on a dataset with units beyond the paper's)",
            crate::report::stats::REFERENCE_UNITS.join(" and ")
        )
    } else {
        "of every pair of units".to_string()
    };
    let mut s = format!(
        "Welch's t-test on the per-seed test NLLs {which}, p-values Holm-corrected within each dataset (α = 0.05); \
         lower NLL is better.\n"
    );
    for t in tests {
        s += &format!(
            "\n**{}**\n\n| a | b | mean a | mean b | t | df | p | p (Holm) |\n|---|---|---:|---:|---:|---:|---:|---:|\n",
            t.dataset
        );
        for p in &t.pairs {
            let f = |v: Option<f64>, prec: usize| opt(v, prec);
            s += &format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                p.a,
                p.b,
                f(p.mean_a, 3),
                f(p.mean_b, 3),
                f(p.t, 2),
                f(p.df, 1),
                p.p.map(|v| format!("{v:.2e}"))
                    .unwrap_or_else(|| "–".into()),
                p.p_holm
                    .map(|v| format!("{v:.2e}"))
                    .unwrap_or_else(|| "–".into()),
            );
        }
        s += &format!("\n{}\n", t.sentence);
    }
    s
}

/// Table 2 as CSV (`table2.csv`): a header line, then one line per row; NLLs to 6 decimals.
pub fn csv(rows: &[Row]) -> String {
    let mut s = String::from(
        "dataset,unit,cell,hidden,params_paper,params_total,train_nll,valid_nll,test_nll,paper_train_nll,\
         paper_test_nll,test_diff,lr,epochs,best_epoch,seconds,population,seeds,n_seeds,diverged_seeds,\
         test_nll_mean,test_nll_sd,test_nll_ci95_lo,test_nll_ci95_hi,test_nll_seeds,lr_at_max,cpu_seconds,at_cap,\
         seeds_at_cap,pruned,variants_n,train_nll_clean,test_nll_sequence_weighted,test_nll_with_first_frame,\
         test_nll_reset\n",
    );
    for r in rows {
        let st = r.test_nll_stats.as_ref();
        let num = |v: Option<f64>| v.map(|x| format!("{x:.6}")).unwrap_or_default();
        s += &format!(
            "{},{},{},{},{},{},{:.6},{:.6},{:.6},{},{},{},{:e},{},{},{:.1},{},{},{},{},{},{},{},{},{},{},{:.1},{},{},{},{}\n",
            r.dataset,
            r.unit,
            r.cell,
            r.hidden,
            r.params_paper,
            r.params_total,
            r.train_nll,
            r.valid_nll,
            r.test_nll,
            opt(r.paper_train_nll, 2).replace('–', ""),
            opt(r.paper_test_nll, 2).replace('–', ""),
            r.test_diff.map(|d| format!("{d:.6}")).unwrap_or_default(),
            r.lr,
            r.epochs,
            r.best_epoch.map(|e| e.to_string()).unwrap_or_default(),
            r.seconds,
            r.population,
            r.seeds,
            st.map(|s| s.n.to_string()).unwrap_or_default(),
            st.map(|s| s.diverged.to_string()).unwrap_or_default(),
            num(st.and_then(|s| s.mean)),
            num(st.and_then(|s| s.sd)),
            num(st.and_then(|s| s.ci95).map(|c| c.0)),
            num(st.and_then(|s| s.ci95).map(|c| c.1)),
            r.test_nll_seeds
                .iter()
                .map(|v| num(*v))
                .collect::<Vec<_>>()
                .join(";"),
            r.lr_at_max,
            r.cpu_seconds,
            r.at_cap,
            r.seeds_at_cap,
            r.pruned,
            variants_csv(r.variants.as_ref()),
        );
    }
    s
}

/// The variants' CSV fields (empty when not measured).
fn variants_csv(v: Option<&Variants>) -> String {
    match v {
        Some(v) => format!(
            "{},{:.6},{:.6},{:.6},{:.6}",
            v.n, v.train_clean, v.test_sequence_weighted, v.test_with_first_frame, v.test_reset
        ),
        None => ",,,,".into(),
    }
}

/// The metric's variants of the rows that have them, as a Markdown table with its explanation (empty when no row
/// has them).
pub fn markdown_variants(rows: &[Row]) -> String {
    let with: Vec<(&Row, &Variants)> = rows
        .iter()
        .filter_map(|r| r.variants.as_ref().map(|v| (r, v)))
        .collect();
    let Some(reset) = with.first().map(|(_, v)| v.reset_every) else {
        return String::new();
    };
    let mut s = format!(
        "The metric's variants (`rnnlab eval`), means over each seed's chosen member, no weight noise:\n\n\
         | dataset | unit | cell | n | train NLL (as above) | train NLL (clean, recomputed) | test NLL (frame-weighted, as above) | \
         test, sequence-weighted | test, with first frame | test, state reset every {reset} |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for (r, v) in with {
        let test = r
            .test_nll_stats
            .as_ref()
            .and_then(|st| st.mean)
            .unwrap_or(r.test_nll);
        s += &format!(
            "| {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |\n",
            r.dataset,
            r.unit,
            r.cell,
            v.n,
            r.train_nll,
            v.train_clean,
            test,
            v.test_sequence_weighted,
            v.test_with_first_frame,
            v.test_reset
        );
    }
    s += "\nClean train NLL: one pass over the training pieces at the chosen weights, without weight noise (the \
          train column above is the same quantity; the per-epoch train NLL of metrics.jsonl is the one measured at \
          noisy weights). Sequence-weighted: the mean over pieces of \
          each piece's NLL per frame. With first frame: every frame of a piece predicted, the first from a zero \
          input. State reset: the NLL when the state restarts from zero every few steps, as in zero-state chunk \
          training.\n";
    s
}

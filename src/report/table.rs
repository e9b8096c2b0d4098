//! Table 2 of the paper beside ours, as Markdown, CSV and JSON.

use crate::cells::CellKind;
use crate::run::Summary;
use serde::{Deserialize, Serialize};

pub use crate::paper::{paper_nll, paper_speech_reference, PAPER_TABLE2, PAPER_UBISOFT_A_TEST};

/// The note printed under a table with speech rows.
pub const SPEECH_NOTE: &str = "fsdd rows: ours are on the Free Spoken Digit Dataset, a public stand-in for the paper's \
private Ubisoft A set; their \"paper\" columns show Ubisoft A (test only) for reference. Different recordings and our own \
normalisation (training-split mean/std) make the densities incomparable in absolute terms: compare the units' order \
and gaps, not the numbers.";

/// The unit family of a cell name: `paper_gru`/`torch_gru` → `gru`, and so on (see [`CellKind::family`]).
pub fn unit_family(cell: &str) -> &'static str {
    cell.parse::<CellKind>()
        .map(CellKind::family)
        .unwrap_or("tanh")
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    pub dataset: String,
    pub unit: String,
    pub cell: String,
    pub hidden: i64,
    pub params_paper: i64,
    pub params_total: i64,
    pub train_nll: f64,
    pub valid_nll: f64,
    pub test_nll: f64,
    pub paper_train_nll: Option<f64>,
    pub paper_test_nll: Option<f64>,
    /// ours − paper, test NLL (negative: better than the paper).
    pub test_diff: Option<f64>,
    pub lr: f64,
    /// Epochs run, and the epoch whose weights are reported.
    pub epochs: usize,
    pub best_epoch: Option<usize>,
    pub seconds: f64,
    pub population: usize,
}

/// The Table 2 row of a finished run: its best member by validation NLL.
pub fn row(summary: &Summary) -> Option<Row> {
    let best = &summary.members[summary.best_member?];
    let unit = unit_family(&summary.cell);
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
    Some(Row {
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
        population: summary.population,
    })
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map(|x| format!("{x:.prec$}"))
        .unwrap_or_else(|| "–".into())
}

pub fn markdown(rows: &[Row]) -> String {
    let mut s = String::from(
        "| dataset | unit | cell | hidden | params (paper / all) | train NLL | valid NLL | test NLL | paper train | paper test | test − paper | lr | epochs (best) | seconds |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let dataset = if r.dataset == "fsdd" {
            "fsdd (paper: Ubisoft A)†".to_string()
        } else {
            r.dataset.clone()
        };
        s += &format!(
            "| {} | {} | {} | {} | {} / {} | {:.2} | {:.2} | **{:.2}** | {} | {} | {} | {:.2e} | {} ({}) | {:.0} |\n",
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
            r.epochs,
            r.best_epoch.map(|e| e.to_string()).unwrap_or_else(|| "–".into()),
            r.seconds
        );
    }
    if rows.iter().any(|r| r.dataset == "fsdd") {
        s += &format!("\n† {SPEECH_NOTE}\n");
    }
    s
}

pub fn csv(rows: &[Row]) -> String {
    let mut s = String::from(
        "dataset,unit,cell,hidden,params_paper,params_total,train_nll,valid_nll,test_nll,paper_train_nll,\
         paper_test_nll,test_diff,lr,epochs,best_epoch,seconds,population\n",
    );
    for r in rows {
        s += &format!(
            "{},{},{},{},{},{},{:.6},{:.6},{:.6},{},{},{},{:e},{},{},{:.1},{}\n",
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
            r.population
        );
    }
    s
}

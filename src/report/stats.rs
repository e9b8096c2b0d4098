//! Statistics over seeds for Table 2: a cell's mean with a t-interval, Welch's t-test between units, and Holm's
//! correction within a dataset.
//!
//! Inputs are per-seed test NLLs (lower is better). A seed whose NLL is not finite (NaN, ±∞: the run diverged) is
//! left out of every statistic and counted in [`SeedStats::diverged`], so a cell can say that a seed failed without
//! one NaN turning the whole cell into NaN. The Student-t distribution comes from `statrs`.
//!
//! Undefined quantities are `None` (JSON `null`), never NaN or 0: with one seed there is no standard deviation,
//! and a test needs two seeds on each side.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Significance level of the sentences in [`compare_units`], applied to Holm-corrected p-values.
pub const ALPHA: f64 = 0.05;

/// The finite values of a sample, in order: diverged seeds left out.
fn finite(values: &[f64]) -> Vec<f64> {
    values.iter().copied().filter(|v| v.is_finite()).collect()
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Sample variance `s² = Σ (xᵢ − x̄)² / (n − 1)`, two-pass. Exactly 0 when all values are equal, which a one-pass or
/// rounded mean would not guarantee (it may leave 1e-31), and which [`welch`] relies on.
fn variance(xs: &[f64]) -> f64 {
    if xs.iter().all(|&x| x == xs[0]) {
        return 0.0;
    }
    let m = mean(xs);
    xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() - 1) as f64
}

/// The standard Student-t with `df` degrees of freedom (any real `df > 0`, as Welch's df is).
fn student_t(df: f64) -> StudentsT {
    StudentsT::new(0.0, 1.0, df).expect("callers pass a finite df > 0")
}

/// One Table 2 cell over seeds.
///
/// With `x₁ … xₙ` the finite per-seed values:
/// ```text
/// mean = x̄ = Σ xᵢ / n
/// sd   = s = √( Σ (xᵢ − x̄)² / (n − 1) )                  (sample sd; None when n < 2)
/// ci95 = x̄ ± t_{0.975, n−1} · s / √n                      (two-sided 95 % t-interval; None when n < 2)
/// ```
/// `mean` is None only when no seed is finite (n = 0). With every seed equal, `sd` is 0 and the interval is the point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedStats {
    /// Seeds that entered the statistics (finite values).
    pub n: usize,
    /// Seeds left out because their value was not finite (a diverged run).
    pub diverged: usize,
    /// Mean of the finite values; `None` when there is none.
    pub mean: Option<f64>,
    /// Sample standard deviation (n − 1); `None` when n < 2.
    pub sd: Option<f64>,
    /// `(lo, hi)`, written to JSON as `[lo, hi]`.
    pub ci95: Option<(f64, f64)>,
}

impl SeedStats {
    /// The summary of per-seed values; non-finite values are counted in `diverged` and otherwise ignored.
    pub fn new(values: &[f64]) -> Self {
        let xs = finite(values);
        let n = xs.len();
        let mean = (n >= 1).then(|| mean(&xs));
        let sd = (n >= 2).then(|| variance(&xs).sqrt());
        let ci95 = match (mean, sd) {
            (Some(m), Some(s)) => {
                let half = t_quantile_975(n - 1) * s / (n as f64).sqrt();
                Some((m - half, m + half))
            }
            _ => None,
        };
        SeedStats {
            n,
            diverged: values.len() - n,
            mean,
            sd,
            ci95,
        }
    }
}

/// The summary of per-seed values (see [`SeedStats`]).
pub fn summarize(values: &[f64]) -> SeedStats {
    SeedStats::new(values)
}

/// `t_{0.975, df}`: the two-sided 95 % critical value of Student's t with `df ≥ 1` degrees of freedom.
pub fn t_quantile_975(df: usize) -> f64 {
    student_t(df as f64).inverse_cdf(0.975)
}

/// Welch's unequal-variance t-test of `H₀: μ_a = μ_b`, two-sided.
///
/// ```text
/// t  = (x̄_a − x̄_b) / √(s²_a/n_a + s²_b/n_b)
/// df = (s²_a/n_a + s²_b/n_b)² / ( (s²_a/n_a)²/(n_a − 1) + (s²_b/n_b)²/(n_b − 1) )    (Welch–Satterthwaite)
/// p  = 2 · P(T_df > |t|)                                                             (capped at 1)
/// ```
/// `t > 0` means `a` has the higher mean (for NLL: `a` is worse).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Welch {
    /// The t statistic (positive: `a` has the higher mean).
    pub t: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value.
    pub p: f64,
}

/// Welch's test on the finite values of `a` and `b` (diverged seeds left out, as in [`SeedStats`]).
///
/// None when either side has fewer than 2 finite values (no variance to estimate), when both sides have no spread at
/// all (`s_a = s_b = 0`: t is 0/0 or ±∞ and df is 0/0; SciPy returns NaN there), or when t or df overflow. With one
/// side constant the test is defined: df reduces to `n − 1` of the other side. Identical samples give `t = 0, p = 1`.
pub fn welch(a: &[f64], b: &[f64]) -> Option<Welch> {
    let (a, b) = (finite(a), finite(b));
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (va, vb) = (variance(&a) / na, variance(&b) / nb);
    if va == 0.0 && vb == 0.0 {
        return None;
    }
    let t = (mean(&a) - mean(&b)) / (va + vb).sqrt();
    let df = (va + vb).powi(2) / (va * va / (na - 1.0) + vb * vb / (nb - 1.0));
    // Only values near f64::MAX (a variance overflowing to ∞) get here; an NLL never does.
    if !(t.is_finite() && df.is_finite() && df > 0.0) {
        return None;
    }
    // The survival function, not 1 − cdf, keeps small p-values accurate.
    let p = (2.0 * student_t(df).sf(t.abs())).min(1.0);
    Some(Welch { t, df, p })
}

/// Holm–Bonferroni adjusted p-values, in the order given.
///
/// With the m p-values sorted ascending, `p_(1) ≤ … ≤ p_(m)`:
/// ```text
/// p̃_(i) = min(1, max_{j ≤ i} (m − j + 1) · p_(j))
/// ```
/// The running max makes the adjusted values monotone in the raw ones (the step-down procedure stops at the first
/// non-rejection); ties keep their input order, which does not change the result. Rejecting `p̃ ≤ α` controls the
/// family-wise error rate at α. Inputs should be p-values in [0, 1].
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0_f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max((m - rank) as f64 * p[i]).min(1.0);
        adjusted[i] = running;
    }
    adjusted
}

/// One pair of units within a dataset: `a` and `b` in input order; `t > 0` means `a` has the higher (worse) NLL.
/// The test fields are None when the pair could not be tested (see [`welch`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairTest {
    /// First unit of the pair (a Table 2 row's `unit`).
    pub a: String,
    /// Second unit of the pair.
    pub b: String,
    /// Finite seeds on each side.
    pub n_a: usize,
    /// Finite seeds of `b`.
    pub n_b: usize,
    /// Mean test NLL of `a` over its finite seeds.
    pub mean_a: Option<f64>,
    /// Mean test NLL of `b` over its finite seeds.
    pub mean_b: Option<f64>,
    /// Welch's t (positive: `a` is worse); `None` when the pair could not be tested.
    pub t: Option<f64>,
    /// Welch–Satterthwaite degrees of freedom; `None` when the pair could not be tested.
    pub df: Option<f64>,
    /// Welch's two-sided p-value, uncorrected.
    pub p: Option<f64>,
    /// Holm-corrected over the pairs of this dataset that were tested.
    pub p_holm: Option<f64>,
}

/// The tests between units of one dataset, for `table2.json` and `table2.md`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetTests {
    /// Dataset name.
    pub dataset: String,
    /// Level at which `sentence` calls a difference significant (on `p_holm`).
    pub alpha: f64,
    /// Every pair of units, each tested once.
    pub pairs: Vec<PairTest>,
    /// The result in plain words (see [`compare_units`]).
    pub sentence: String,
}

/// How a unit is written in sentences: `gru` → `GRU`, `lstm` → `LSTM`, anything else as given (`tanh`).
fn display_unit(unit: &str) -> String {
    match unit {
        "gru" | "lstm" => unit.to_uppercase(),
        _ => unit.to_string(),
    }
}

/// A p-value in words: two significant digits, or `p < 0.001`.
fn format_p(p: f64) -> String {
    if p < 0.001 {
        "p < 0.001".into()
    } else {
        let digits = (1 - p.log10().floor() as i32).max(0) as usize;
        format!("p = {p:.digits$}")
    }
}

/// Welch's test for every pair of units of one dataset (pairs in input order: for `[tanh, gru, lstm]` that is
/// tanh–gru, tanh–lstm, gru–lstm), Holm-corrected within the dataset, with one sentence in plain words.
///
/// When the dataset holds a unit beyond the paper's three (`mgu`, `lstm_cifg`, …) beside the paper's GRU or LSTM, the
/// family is every unit against those references instead ([`REFERENCE_UNITS`]: each other unit against GRU and
/// against LSTM, and GRU against LSTM), so that a zoo of n units costs 2n tests, not n(n−1)/2.
///
/// `units`: (unit name, per-seed test NLLs); non-finite values are diverged seeds and are left out.
///
/// The Holm family is the pairs that could be tested; an untested pair is no hypothesis and does not inflate m.
///
/// The sentence, e.g. `jsb (Welch, Holm-corrected): GRU < LSTM (p = 0.012), GRU < tanh (p = 0.0030); tanh vs LSTM:
/// no significant difference at 0.05 (p = 0.41).`, is built as:
/// - significant pairs (`p_holm ≤ α`) first, smallest p first, as `lower < higher` (lower NLL is better);
/// - then the others in input order: `x vs y: no significant difference at 0.05 (p = …)`;
/// - then untested pairs: `x vs y: not tested (n too small: 1 and 5 seeds)` or `(no spread: every seed equal)`;
/// - then, per unit with diverged seeds, `k of n x seeds diverged and were left out`.
pub fn compare_units<S: AsRef<str>, V: AsRef<[f64]>>(
    dataset: &str,
    units: &[(S, V)],
) -> DatasetTests {
    let mut pairs = Vec::new();
    for (i, j) in pair_indices(units) {
        {
            let (a, b) = (units[i].1.as_ref(), units[j].1.as_ref());
            let (sa, sb) = (SeedStats::new(a), SeedStats::new(b));
            let w = welch(a, b);
            pairs.push(PairTest {
                a: units[i].0.as_ref().to_string(),
                b: units[j].0.as_ref().to_string(),
                n_a: sa.n,
                n_b: sb.n,
                mean_a: sa.mean,
                mean_b: sb.mean,
                t: w.map(|w| w.t),
                df: w.map(|w| w.df),
                p: w.map(|w| w.p),
                p_holm: None,
            });
        }
    }
    let tested: Vec<usize> = (0..pairs.len()).filter(|&k| pairs[k].p.is_some()).collect();
    let raw: Vec<f64> = tested.iter().filter_map(|&k| pairs[k].p).collect();
    for (&k, adjusted) in tested.iter().zip(holm(&raw)) {
        pairs[k].p_holm = Some(adjusted);
    }
    let sentence = sentence(dataset, units, &pairs);
    DatasetTests {
        dataset: dataset.to_string(),
        alpha: ALPHA,
        pairs,
        sentence,
    }
}

/// The units every other unit is tested against when a dataset holds units beyond the paper's.
pub const REFERENCE_UNITS: [&str; 2] = ["gru", "lstm"];

/// Whether `unit` names a unit of the registry beyond the paper's three (`mgu`, `mut1`, `lstm_cifg`, …).
pub fn is_beyond_the_paper(unit: &str) -> bool {
    unit.parse::<crate::cells::CellKind>()
        .is_ok_and(|k| !k.in_paper())
}

/// The pairs [`compare_units`] tests, as indices into `units` (`a` before `b`).
fn pair_indices<S: AsRef<str>, V>(units: &[(S, V)]) -> Vec<(usize, usize)> {
    let name = |i: usize| units[i].0.as_ref();
    let beyond = (0..units.len()).any(|i| is_beyond_the_paper(name(i)));
    let references: Vec<usize> = (0..units.len())
        .filter(|&i| REFERENCE_UNITS.contains(&name(i)))
        .collect();
    let mut pairs = Vec::new();
    for i in 0..units.len() {
        for j in 0..units.len() {
            let keep = if beyond && !references.is_empty() {
                // Against a reference: the other unit first; between two references once, in input order.
                references.contains(&j) && (!references.contains(&i) || i < j)
            } else {
                i < j
            };
            if keep {
                pairs.push((i, j));
            }
        }
    }
    pairs
}

fn sentence<S: AsRef<str>, V: AsRef<[f64]>>(
    dataset: &str,
    units: &[(S, V)],
    pairs: &[PairTest],
) -> String {
    if pairs.is_empty() {
        return format!("{dataset}: fewer than two units, nothing to compare.");
    }
    let mut significant: Vec<&PairTest> = pairs
        .iter()
        .filter(|r| r.p_holm.is_some_and(|p| p <= ALPHA))
        .collect();
    significant.sort_by(|x, y| x.p_holm.unwrap().total_cmp(&y.p_holm.unwrap()));
    let mut clauses = Vec::new();
    if !significant.is_empty() {
        let ordered = significant.iter().map(|r| {
            // A significant pair has t ≠ 0, so the sign orders it.
            let (lo, hi) = if r.t.unwrap() < 0.0 {
                (&r.a, &r.b)
            } else {
                (&r.b, &r.a)
            };
            format!(
                "{} < {} ({})",
                display_unit(lo),
                display_unit(hi),
                format_p(r.p_holm.unwrap())
            )
        });
        clauses.push(ordered.collect::<Vec<_>>().join(", "));
    }
    for r in pairs.iter().filter(|r| r.p_holm.is_some_and(|p| p > ALPHA)) {
        clauses.push(format!(
            "{} vs {}: no significant difference at {ALPHA} ({})",
            display_unit(&r.a),
            display_unit(&r.b),
            format_p(r.p_holm.unwrap())
        ));
    }
    for r in pairs.iter().filter(|r| r.p_holm.is_none()) {
        let why = if r.n_a < 2 || r.n_b < 2 {
            format!("n too small: {} and {} seeds", r.n_a, r.n_b)
        } else {
            "no spread: every seed equal".into()
        };
        clauses.push(format!(
            "{} vs {}: not tested ({why})",
            display_unit(&r.a),
            display_unit(&r.b)
        ));
    }
    for (unit, values) in units {
        let s = SeedStats::new(values.as_ref());
        if s.diverged > 0 {
            let (k, total) = (s.diverged, s.n + s.diverged);
            let verb = if k == 1 { "was" } else { "were" };
            clauses.push(format!(
                "{k} of {total} {} seeds diverged and {verb} left out",
                display_unit(unit.as_ref())
            ));
        }
    }
    format!("{dataset} (Welch, Holm-corrected): {}.", clauses.join("; "))
}

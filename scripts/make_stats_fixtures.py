#!/usr/bin/env python3
"""Writes tests/fixtures/stats.json: reference values for src/report/stats.rs, computed independently of it.

    pip install scipy numpy statsmodels
    python3 scripts/make_stats_fixtures.py        # from the crate root

What comes from where (none of it shares code with the Rust side):
  * summary: mean and sample sd (ddof=1) from numpy; the 95 % t-interval from scipy.stats.t.interval, and the
    quantile t_{0.975, n-1} from scipy.stats.t.ppf. A diverged seed is written as null (JSON has no NaN) and left
    out of n, as stats.rs does.
  * welch: t and p from scipy.stats.ttest_ind(equal_var=False) (two-sided); the Welch–Satterthwaite df by its
    formula in numpy, because ttest_ind does not return it in every scipy version.
  * holm: statsmodels.stats.multitest.multipletests(method="holm").
  * compare: the same three, chained for one dataset of three units, as stats::compare_units does.
Cases where stats.rs returns no test (n < 2 on a side, both variances zero) are written with "expected": null.
"""

import json
import math
import os
import sys

import numpy as np
import scipy
import scipy.stats as st
from statsmodels.stats.multitest import multipletests
import statsmodels

# Per-seed test NLLs, shaped like Table 2 cells (JSB ~ 8.5, Nottingham ~ 3.2); arbitrary but fixed.
SAMPLES = {
    "n1": [8.5412],
    "n2": [8.5412, 8.6127],
    "n3": [8.6701, 8.6239, 8.7112],
    "n5": [8.5412, 8.6127, 8.5903, 8.5311, 8.6020],
    "n5_wide": [9.0312, 9.4418, 8.8127, 9.2290, 9.6021],
    "n7": [8.6633, 8.6518, 8.6902, 8.6410, 8.6775, 8.6581, 8.6699],
    "n4_tight": [3.1301, 3.1305, 3.1299, 3.1303],
    "n6_loose": [3.2107, 3.1024, 3.3310, 3.0502, 3.2815, 3.1777],
    "zero_var": [8.6000, 8.6000, 8.6000],
    "zero_var2": [8.7000, 8.7000, 8.7000, 8.7000],
    "with_nan": [8.5412, None, 8.6127, 8.5903],
    "all_nan": [None, None],
}


def finite(xs):
    return [x for x in xs if x is not None]


def summary(name):
    raw = SAMPLES[name]
    xs = np.array(finite(raw), dtype=np.float64)
    n = len(xs)
    out = {"name": name, "values": raw, "n": n, "diverged": len(raw) - n}
    out["mean"] = float(np.mean(xs)) if n >= 1 else None
    if n >= 2:
        sd = float(np.std(xs, ddof=1))
        se = sd / math.sqrt(n)
        if se > 0:
            lo, hi = st.t.interval(0.95, n - 1, loc=float(np.mean(xs)), scale=se)
        else:  # scipy wants scale > 0; with every seed equal the interval is the point itself.
            lo = hi = float(np.mean(xs))
        out.update(sd=sd, t_crit=float(st.t.ppf(0.975, n - 1)), ci95=[float(lo), float(hi)])
    else:
        out.update(sd=None, t_crit=None, ci95=None)
    return out


def welch_df(a, b):
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    return float((va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)))


def welch(a_name, b_name):
    a = np.array(finite(SAMPLES[a_name]), dtype=np.float64)
    b = np.array(finite(SAMPLES[b_name]), dtype=np.float64)
    case = {"a": a_name, "b": b_name}
    # "Without spread" is tested on the values (all equal), not on np.var, which may round to 1e-31 instead of 0.
    if len(a) < 2 or len(b) < 2 or (len(set(a)) == 1 and len(set(b)) == 1):
        case["expected"] = None
        return case
    res = st.ttest_ind(a, b, equal_var=False)
    case["expected"] = {"t": float(res.statistic), "df": welch_df(a, b), "p": float(res.pvalue)}
    return case


WELCH_PAIRS = [
    ("n2", "n2"),             # identical samples: t = 0, p = 1
    ("n2", "n3"),
    ("n3", "n5"),             # unequal n
    ("n5", "n5_wide"),        # unequal variances (about 9:1 in sd)
    ("n5_wide", "n5"),        # the same, swapped: t changes sign
    ("n5", "n7"),
    ("n4_tight", "n6_loose"),
    ("zero_var", "n5"),       # one side without spread: df = n_b − 1
    ("n3", "zero_var2"),
    ("with_nan", "n3"),       # the NaN seed is left out
    ("n1", "n5"),             # n < 2: no test
    ("zero_var", "zero_var2"),  # both without spread: no test
    ("all_nan", "n5"),        # nothing finite: no test
]

HOLM_FAMILIES = [
    [0.012, 0.003, 0.41],
    [0.01, 0.04, 0.03, 0.005],      # the step-down max makes the adjusted values monotone
    [0.2, 0.2, 0.2],                # ties and a cap at 1
    [0.6, 0.5, 0.9],                # every adjusted value capped at 1
    [1e-9, 0.049, 0.02, 0.5, 0.013],
    [0.04],                         # a family of one is unchanged
    [],
]

# Datasets for stats::compare_units: the pairs in input order (tanh–gru, tanh–lstm, gru–lstm). In the second a
# seed diverged (null) and some pairs are not significant after Holm.
COMPARE = [
    {"dataset": "jsb", "units": [
        ["tanh", [8.9871, 9.1024, 9.0533, 8.9402, 9.0815]],
        ["gru", [8.5412, 8.6127, 8.5903, 8.5311, 8.6020]],
        ["lstm", [8.6633, 8.6518, 8.6902, 8.6410, 8.6775]],
    ]},
    {"dataset": "nottingham", "units": [
        ["tanh", [3.2107, 3.1024, 3.3310, 3.0502, 3.2815]],
        ["gru", [3.1301, 3.1405, 3.1199, 3.1353, 3.1277]],
        ["lstm", [3.2011, None, 3.1870, 3.2150, 3.1932]],
    ]},
]


def compare(case):
    units = case["units"]
    rows = []
    for i in range(len(units)):
        for j in range(i + 1, len(units)):
            (ua, a), (ub, b) = units[i], units[j]
            a, b = np.array(finite(a), dtype=np.float64), np.array(finite(b), dtype=np.float64)
            res = st.ttest_ind(a, b, equal_var=False)
            rows.append({"a": ua, "b": ub, "mean_a": float(np.mean(a)), "mean_b": float(np.mean(b)),
                         "t": float(res.statistic), "df": welch_df(a, b), "p": float(res.pvalue)})
    _, p_holm, _, _ = multipletests([r["p"] for r in rows], method="holm")
    for r, ph in zip(rows, p_holm):
        r["p_holm"] = float(ph)
    return dict(case, expected=rows)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    fixture = {
        "generator": "scripts/make_stats_fixtures.py",
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__, "scipy": scipy.__version__,
                     "statsmodels": statsmodels.__version__},
        "summary": [summary(name) for name in SAMPLES],
        "welch": [welch(a, b) for a, b in WELCH_PAIRS],
        "holm": [{"p": fam, "expected": [float(x) for x in multipletests(fam, method="holm")[1]] if fam else []}
                 for fam in HOLM_FAMILIES],
        "compare": [compare(case) for case in COMPARE],
    }
    path = os.path.join(root, "tests", "fixtures", "stats.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        # repr-exact floats: json writes the shortest string that round-trips, so no digits are lost.
        json.dump(fixture, f, indent=1, allow_nan=False)
        f.write("\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

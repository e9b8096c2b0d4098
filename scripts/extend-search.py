#!/usr/bin/env python3
"""A learning-rate search extended after the fact. BASE is a table2.json (`rnnlab reproduce`, `--collect` or
`--merge`); each EXTENSION is the table2.json of the same units trained with the same recipe and seeds at learning
rates outside BASE's grid. For every row of an extension, each seed's chosen member becomes whichever of the two
(BASE's chosen member, the extension's) has the lower validation NLL, as one search over both grids would choose it.
BASE's tests are then recomputed over the extended rows: Welch's t-test on the per-seed test NLLs for every pair
BASE tested, Holm-corrected within each dataset as BASE was. Writes Markdown to stdout and, with --json, the same
numbers as JSON (through a temp file and a rename).

    python3 scripts/extend-search.py results/units-nottingham.json \\
        results/units-nottingham-edge-high.json results/units-nottingham-edge-low.json \\
        --json results/units-nottingham-edge.json > results/units-nottingham-edge.md

One search over both grids would have pruned against a better seed's best, so it could have stopped a member that
is chosen here; with early stopping and pruning otherwise alike, the choice is the same.

Exit 2 with a message naming the file when an input is missing, is not a table2.json, or an extension's row has
no row of the same dataset and cell in BASE, or another number of seeds."""
import argparse
import json
import math
import os
import sys

from rnnlab_stats import holm, short_e, stats, welch


def fail(msg):
    print(f"extend-search: {msg}", file=sys.stderr)
    sys.exit(2)


def read_table(path):
    if os.path.isdir(path):
        path = os.path.join(path, "table2.json")
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        fail(f"{path}: {e}")
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        fail(f"{path}: not a table2.json (no rows); give the table2.json that `rnnlab reproduce` wrote")
    for r in data["rows"]:
        for key in ("dataset", "cell", "unit", "test_nll_seeds", "valid_nll_seeds", "lr_seeds"):
            if key not in r:
                fail(f"{path}: a row lacks {key!r}; it was written by an older rnnlab, collect it again")
    return data


def is_finite(x):
    return x is not None and math.isfinite(x)


def f3(x):
    return "–" if x is None else f"{x:.3f}"


def extend(base_row, ext_row, ext_path):
    """Per seed, the member of the lower validation NLL: (test NLLs, lrs, which seeds switched to the extension)."""
    n = len(base_row["test_nll_seeds"])
    if len(ext_row["test_nll_seeds"]) != n:
        fail(
            f"{ext_path}: {ext_row['dataset']} {ext_row['cell']} has {len(ext_row['test_nll_seeds'])} seeds, "
            f"the base has {n}: train the extension with the base's --seeds"
        )
    tests, lrs, switched = [], [], []
    for i in range(n):
        bv, ev = base_row["valid_nll_seeds"][i], ext_row["valid_nll_seeds"][i]
        take_ext = is_finite(ev) and (not is_finite(bv) or ev < bv)
        src = ext_row if take_ext else base_row
        tests.append(src["test_nll_seeds"][i])
        lrs.append(src["lr_seeds"][i])
        switched.append(take_ext)
    return tests, lrs, switched


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base", help="the table2.json whose search is extended (or the directory holding it)")
    ap.add_argument(
        "extensions", nargs="+", help="table2.json (or its directory) of the same units at rates outside the grid"
    )
    ap.add_argument("--json", help="also write the numbers here")
    args = ap.parse_args()

    base = read_table(args.base)
    base_rows = {(r["dataset"], r["cell"]): r for r in base["rows"]}
    seeds = {key: r["test_nll_seeds"] for key, r in base_rows.items()}
    extended = []
    for path in args.extensions:
        for r in read_table(path)["rows"]:
            key = (r["dataset"], r["cell"])
            if key not in base_rows:
                fail(f"{path}: {r['dataset']} {r['cell']} has no row in {args.base}")
            if any((e["dataset"], e["cell"]) == key for e in extended):
                fail(f"{path}: {r['dataset']} {r['cell']} is in two extensions: merge their searches first")
            b = base_rows[key]
            tests, lrs, switched = extend(b, r, path)
            seeds[key] = tests
            extended.append(
                {
                    "dataset": key[0],
                    "cell": key[1],
                    "unit": b["unit"],
                    "extension": path,
                    "base_lr_seeds": b["lr_seeds"],
                    "extension_lr_seeds": r["lr_seeds"],
                    "base_valid_nll_seeds": b["valid_nll_seeds"],
                    "extension_valid_nll_seeds": r["valid_nll_seeds"],
                    "extension_test_nll_seeds": r["test_nll_seeds"],
                    "lr_seeds": lrs,
                    "switched": switched,
                    "test_nll_seeds": tests,
                    "base_test_nll": stats(b["test_nll_seeds"]),
                    "test_nll": stats(tests),
                }
            )
    if not extended:
        fail("the extensions hold no rows")

    # The base's tests, recomputed over the extended rows.
    tests_out = []
    for group in base.get("tests", []):
        dataset = group["dataset"]
        unit_key = {r["unit"]: (r["dataset"], r["cell"]) for r in base["rows"] if r["dataset"] == dataset}
        pairs = []
        for p in group["pairs"]:
            a, b = seeds[unit_key[p["a"]]], seeds[unit_key[p["b"]]]
            t, df, pv = welch(a, b) or (None, None, None)
            pairs.append(
                {
                    "a": p["a"],
                    "b": p["b"],
                    "mean_a": stats(a)["mean"],
                    "mean_b": stats(b)["mean"],
                    "t": t,
                    "df": df,
                    "p": pv,
                    "base_p_holm": p.get("p_holm"),
                }
            )
        tested = [i for i, p in enumerate(pairs) if p["p"] is not None]
        for i, adj in zip(tested, holm([pairs[i]["p"] for i in tested])):
            pairs[i]["p_holm"] = adj
        tests_out.append({"dataset": dataset, "alpha": group.get("alpha", 0.05), "pairs": pairs})

    def pm(st):
        if st["ci95"] is None:
            return f"{st['mean']:.3f} (n = {st['n']})"
        return f"{st['mean']:.3f} ± {(st['ci95'][1] - st['ci95'][0]) / 2:.3f} (n = {st['n']})"

    print(f"Searches extended from `{args.base}` (each seed's member of the lower validation NLL over both grids):\n")
    print(
        "| dataset | unit | cell | extension's chosen lr per seed | validation NLL per seed, base / extension "
        "| chosen lr per seed, base → extended | seeds switched | test NLL, base | test NLL, extended |"
    )
    print("|---|---|---|---|---|---|---:|---:|---:|")
    for e in extended:
        lrs = ", ".join(
            f"{short_e(b)} → {short_e(x)}" if b != x else short_e(x) for b, x in zip(e["base_lr_seeds"], e["lr_seeds"])
        )
        valid = ", ".join(
            f"{f3(b)} / {f3(x)}" for b, x in zip(e["base_valid_nll_seeds"], e["extension_valid_nll_seeds"])
        )
        print(
            f"| {e['dataset']} | {e['unit']} | {e['cell']} | {', '.join(short_e(x) for x in e['extension_lr_seeds'] if x)} "
            f"| {valid} | {lrs} | {sum(e['switched'])} of {len(e['switched'])} | {pm(e['base_test_nll'])} | {pm(e['test_nll'])} |"
        )
    for group in tests_out:
        alpha = group["alpha"]
        changed = {e["unit"] for e in extended if e["dataset"] == group["dataset"]}

        def shown(p):
            """A pair with an extended unit, or whose verdict Holm's new ranks changed."""
            significant = [q is not None and q < alpha for q in (p.get("p_holm"), p.get("base_p_holm"))]
            return p["a"] in changed or p["b"] in changed or significant[0] != significant[1]

        print(
            f"\n**{group['dataset']}**: Welch's t-test for every pair the base tested, Holm-corrected over them "
            f"(α = {alpha}); the pairs with an extended unit, and any whose verdict changed:\n"
        )
        print("| a | b | mean a | mean b | t | df | p | p (Holm) | p (Holm), base |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for p in filter(shown, group["pairs"]):
            cells = [p["a"], p["b"], f3(p["mean_a"]), f3(p["mean_b"])]
            if p["p"] is None:
                cells += ["–"] * 4
            else:
                cells += [f"{p['t']:.2f}", f"{p['df']:.1f}", f"{p['p']:.2g}", f"{p['p_holm']:.2g}"]
            cells.append("–" if p.get("base_p_holm") is None else f"{p['base_p_holm']:.2g}")
            print("| " + " | ".join(cells) + " |")
        sig = [p for p in group["pairs"] if p.get("p_holm") is not None and p["p_holm"] < alpha]
        print(
            "\nSignificant after Holm with the extended searches: "
            + (
                "; ".join(
                    f"{p['a']} {'<' if p['mean_a'] < p['mean_b'] else '>'} {p['b']} (p = {p['p_holm']:.2g})" for p in sig
                )
                or "none"
            )
            + "."
        )
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"format_version": 1, "base": args.base, "rows": extended, "tests": tests_out}, f, indent=2)
            f.write("\n")
        os.replace(tmp, args.json)


if __name__ == "__main__":
    main()

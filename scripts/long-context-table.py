#!/usr/bin/env python3
"""The long-context comparison's table (docs/long-context.md): for each run directory (one training setting, several
seeds), the test NLL of each seed's chosen member at its best weights (Table 2's frame-weighted NLL, from the run's
eval.json, written by `rnnlab eval`), its mean with a 95 % t-interval, Welch's t-test of every setting against the
first one given, the NLL by position in the piece (state carried, and reset every N steps), the clean train NLL, the
chosen learning rates and epochs, and the training-thread CPU time. Writes Markdown to stdout and, with --json, the
same numbers as JSON (through a temp file and a rename).

    python3 scripts/long-context-table.py runs/long-context/zero50 runs/long-context/carried100 \\
        runs/long-context/whole --json results/long-context-nottingham.json

--label cell names the rows by cell, for runs of different units trained alike (docs/units.md). --rows JSON puts
the rows of an earlier --json output first, so a table can grow by new runs after the old run directories are gone:

    python3 scripts/long-context-table.py --label cell --rows results/units-nottingham-positions.json \\
        runs/zoo-nottingham-b/runs/nottingham_mut3 --json new.json

Exit 2 with a message naming the file when a run directory lacks summary.json, eval.json or config.toml."""
import argparse
import json
import os
import sys
import tomllib

from rnnlab_stats import stats, short_e, welch


def fail(msg):
    print(f"long-context-table: {msg}", file=sys.stderr)
    sys.exit(2)


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        fail(f"{path}: {e} (train the run to its end, then run `rnnlab eval` on it)")


def read_config(run):
    cfg_path = os.path.join(run, "config.toml")
    try:
        with open(cfg_path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        fail(f"{cfg_path}: {e}")


def setting(cfg):
    """The training setting's name: how the pieces were chunked and whether the state was carried."""
    chunk, carry = cfg.get("chunk_len", 50), cfg.get("carry_state", False)
    if chunk == 0:
        return "whole pieces"
    return f"chunks of {chunk}, state {'carried' if carry else 'zero'}"


def earlier_rows(path):
    """The rows of an earlier table's --json output, whose run directories may be gone."""
    data = read_json(path)
    if not isinstance(data, dict) or data.get("format_version") != 1 or not isinstance(data.get("rows"), list):
        fail(f"{path}: not a table this script wrote with --json (format_version 1 with rows)")
    return data["rows"]


def run_row(run, by_cell):
    summary = read_json(os.path.join(run, "summary.json"))
    ev = read_json(os.path.join(run, "eval.json"))
    cfg = read_config(run)
    label = cfg.get("cell", "?") if by_cell else setting(cfg)
    members = {m["member"]: m for m in ev["members"]}
    chosen = [b for b in summary["best_member_per_seed"] if b is not None]
    missing = [b for b in chosen if b not in members]
    if missing:
        fail(f"{run}/eval.json lacks members {missing}: run `rnnlab eval {run}` again")
    seeds = [members[b] for b in chosen]
    test = [m["test"]["frame_weighted"] for m in seeds]
    buckets = []
    for i, pos in enumerate(seeds[0]["test"]["positions"]):
        carried = [m["test"]["positions"][i]["carried"] for m in seeds]
        reset = [m["test"]["positions"][i]["reset"] for m in seeds]
        buckets.append(
            {
                "from": pos["from"],
                "to": pos.get("to"),
                "frames": pos["frames"],
                "carried": None if None in carried else sum(carried) / len(carried),
                "reset": None if None in reset else sum(reset) / len(reset),
            }
        )
    return {
        "run": run,
        "setting": label,
        "cell": cfg.get("cell"),
        "chunk_len": cfg.get("chunk_len", 50),
        "carry_state": cfg.get("carry_state", False),
        "train_subset": cfg.get("train_subset", 0),
        "test_nll_seeds": test,
        "test_nll": stats(test),
        "sequence_weighted": sum(m["test"]["sequence_weighted"] for m in seeds) / len(seeds),
        "clean_train_nll": sum(m["train"]["frame_weighted"] for m in seeds) / len(seeds),
        "reset_every": seeds[0]["test"]["reset_every"],
        "positions": buckets,
        "lr_seeds": [summary["members"][b]["lr"] for b in chosen],
        "best_epoch_seeds": [summary["members"][b]["best_epoch"] for b in chosen],
        "epochs": summary["epochs"],
        "updates": summary["updates"],
        "cpu_seconds": summary["cpu_seconds"],
        "seconds": summary["seconds"],
    }


def fmt_p(p):
    return "< 0.001" if p < 0.001 else f"{p:.2g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="*", help="run directories; the first row is the reference of the tests")
    ap.add_argument(
        "--rows",
        action="append",
        default=[],
        metavar="JSON",
        help="put the rows of an earlier table's --json output first (its run directories may be gone); repeatable",
    )
    ap.add_argument("--json", help="also write the numbers here")
    ap.add_argument(
        "--label",
        choices=["setting", "cell"],
        default="setting",
        help="name each row by its training setting (chunking; the default) or by its cell (runs of different units)",
    )
    args = ap.parse_args()
    rows = [row for path in args.rows for row in earlier_rows(path)]
    rows += [run_row(r, args.label == "cell") for r in args.runs]
    if not rows:
        fail("give run directories, --rows JSON, or both")
    seen = set()
    for r in rows:
        if r["run"] in seen:
            fail(f"{r['run']} is given twice (as a run directory or in a --rows table): leave one out")
        seen.add(r["run"])
    ref = rows[0]
    for r in rows:
        r.pop("welch_vs_first", None)  # a --rows table's tests were against its own first row
    for r in rows[1:]:
        w = welch(r["test_nll_seeds"], ref["test_nll_seeds"])
        if w is not None:
            r["welch_vs_first"] = dict(zip(("t", "df", "p"), w))
    names = [f"{b['from']}–{b['to'] - 1}" if b["to"] else f"{b['from']}+" for b in ref["positions"]]
    tests = "Welch p" if args.label == "setting" else "Welch p, not corrected for multiple tests"
    head = [args.label, "test NLL, mean ± 95 % CI", f"vs {ref['setting']} ({tests})"]
    head += [f"frames {n} carried / reset every {ref['reset_every']}" for n in names]
    head += ["clean train NLL", "chosen lr per seed", "best epoch per seed", "updates", "CPU s"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    for r in rows:
        st = r["test_nll"]
        mean = f"{st['mean']:.3f}"
        if st["ci95"]:
            mean += f" ± {(st['ci95'][1] - st['ci95'][0]) / 2:.3f}"
        mean += f" (n = {st['n']})"
        w = r.get("welch_vs_first")
        vs = "–" if w is None else f"{st['mean'] - ref['test_nll']['mean']:+.3f} ({fmt_p(w['p'])})"
        cells = [r["setting"], mean, vs]
        for b in r["positions"]:
            c = "–" if b["carried"] is None else f"{b['carried']:.3f}"
            z = "–" if b["reset"] is None else f"{b['reset']:.3f}"
            cells.append(f"{c} / {z}")
        cells += [
            f"{r['clean_train_nll']:.3f}",
            ", ".join(short_e(lr) for lr in r["lr_seeds"]),
            ", ".join(str(e) for e in r["best_epoch_seeds"]),
            f"{r['updates']:,}",
            f"{r['cpu_seconds']:,.0f}",
        ]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"format_version": 1, "rows": rows}, f, indent=2)
            f.write("\n")
        os.replace(tmp, args.json)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""What the pruning rule (`prune_after`, `prune_window`; src/train/stopping.rs) would have done to finished runs.

    scripts/prune-whatif.py RUN_DIR [RUN_DIR ...] [--after 50] [--window 20] [--markdown]

Each RUN_DIR is a finished `rnnlab train` run made without pruning (its metrics.jsonl holds every member's validation
NLL up to the epoch it stopped). The rule is replayed epoch by epoch on those records, exactly as the trainer applies
it: after early stopping, from epoch `after` on, an active member is pruned when its best validation NLL so far is
behind its seed's best by more than its improvement over the last `window` epochs, extrapolated linearly to the
epoch cap. A pruned member's best is frozen there (it no longer trains, so it can no longer set its seed's best);
diverged members do not set it. Prints, per run: whether each seed's chosen member (lowest best validation NLL)
stays the same, the member-epochs trained with and without the rule (the cost: stopped and pruned members cost
nothing), and how many members it prunes. Needs only the Python standard library.
"""
import argparse
import json
import math
import sys
import tomllib
from pathlib import Path


def load(run: Path):
    cfg = tomllib.loads((run / "config.toml").read_text())
    lines = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines() if l.strip()]
    if not lines:
        sys.exit(f"{run}: metrics.jsonl is empty")
    k = len(lines[0]["members"])
    valid = [[(l["members"][m]["valid_nll"]) for l in lines] for m in range(k)]
    status = [[l["members"][m]["status"] for l in lines] for m in range(k)]
    return cfg, valid, status


def replay(cfg, valid, status, after, window):
    k, epochs = len(valid), len(valid[0])
    cap, seeds = cfg["max_epochs"], max(cfg.get("seeds", 1), 1)
    # The epoch a member stopped being active in the records (early stopping or divergence), or None.
    ended = [next((e + 1 for e, s in enumerate(status[m]) if s != "active"), None) for m in range(k)]
    diverged = [any(s == "diverged" for s in status[m]) for m in range(k)]
    pruned = {}

    def best(m, e):
        """Member m's best validation NLL after epoch e (NaN while it has none)."""
        vs = [v for v in valid[m][:e] if v is not None and math.isfinite(v)]
        return min(vs) if vs else math.nan

    for e in range(1, epochs + 1):
        if e < after or e <= window:
            continue
        leader = [math.inf] * seeds
        for m in range(k):
            if diverged[m] and ended[m] is not None and ended[m] <= e:
                continue
            b = best(m, min(e, pruned.get(m, e)))
            if not math.isnan(b):
                leader[m % seeds] = min(leader[m % seeds], b)
        for m in range(k):
            if m in pruned or (ended[m] is not None and ended[m] <= e):
                continue
            now, then = best(m, e), best(m, e - window)
            if math.isnan(now) or math.isnan(then):
                continue
            gap = now - leader[m % seeds]
            if gap > 0 and gap > (then - now) / window * (cap - e):
                pruned[m] = e

    def chosen(limit):
        out = []
        for s in range(seeds):
            own = [m for m in range(k) if m % seeds == s and not diverged[m]]
            out.append(min(own, key=lambda m: (best(m, limit(m)), m)))
        return out

    without = chosen(lambda m: epochs)
    with_rule = chosen(lambda m: pruned.get(m, epochs))
    cost = lambda m, stop: min(x for x in (ended[m], stop, epochs) if x is not None)
    return {
        "chosen_without": without,
        "chosen_with": with_rule,
        "member_epochs_without": sum(cost(m, None) for m in range(k)),
        "member_epochs_with": sum(cost(m, pruned.get(m)) for m in range(k)),
        "pruned": len(pruned),
        "first_pruned_epoch": min(pruned.values()) if pruned else None,
        "members": k,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--after", type=int, default=50)
    p.add_argument("--window", type=int, default=20)
    p.add_argument("--markdown", action="store_true", help="one table row per run")
    a = p.parse_args()
    if a.after <= a.window or a.window < 1:
        sys.exit("--after must be larger than --window, and --window at least 1")
    for run in a.runs:
        r = replay(*load(run), a.after, a.window)
        same = r["chosen_with"] == r["chosen_without"]
        saved = 1 - r["member_epochs_with"] / r["member_epochs_without"]
        if a.markdown:
            print(
                f"| {run.name} | {a.after} | {a.window} | {'yes' if same else 'no'} "
                f"({r['chosen_without']} → {r['chosen_with']}) | {r['pruned']} of {r['members']} | "
                f"{r['member_epochs_without']} | {r['member_epochs_with']} | {saved:.0%} |"
            )
        else:
            print(
                f"{run}: after {a.after}, window {a.window}: chosen per seed {r['chosen_without']} -> "
                f"{r['chosen_with']} ({'unchanged' if same else 'CHANGED'}); pruned {r['pruned']} of "
                f"{r['members']} (first at epoch {r['first_pruned_epoch']}); member-epochs "
                f"{r['member_epochs_without']} -> {r['member_epochs_with']} ({saved:.0%} fewer)"
            )


if __name__ == "__main__":
    main()

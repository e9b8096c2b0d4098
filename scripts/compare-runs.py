#!/usr/bin/env python3
"""Compare two rnnlab run directories epoch by epoch and member by member (metrics.jsonl): the largest relative
difference of the train/valid/test NLLs, and whether it is within --tolerance. Used by scripts/cuda-check.sh to set
a CUDA run beside the same run on the CPU. Exit 0 when within tolerance, 1 when not, 2 on unusable input."""
import argparse
import json
import sys


def epochs(run_dir):
    with open(f"{run_dir}/metrics.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("a", help="run directory (e.g. the CUDA run)")
    ap.add_argument("b", help="run directory to compare against (e.g. the CPU run)")
    ap.add_argument("--tolerance", type=float, default=1e-3, help="largest relative difference accepted")
    ap.add_argument("--report", help="also write the report here")
    args = ap.parse_args()
    ea, eb = epochs(args.a), epochs(args.b)
    if not ea or len(ea) != len(eb):
        print(f"unusable: {len(ea)} epochs in {args.a}, {len(eb)} in {args.b}")
        return 2
    worst, worst_at, lines, missing = 0.0, None, [], 0
    for x, y in zip(ea, eb):
        for m, (a, b) in enumerate(zip(x["members"], y["members"])):
            for key in ("train_nll", "valid_nll", "test_nll"):
                va, vb = a.get(key), b.get(key)
                if va is None or vb is None:
                    if (va is None) != (vb is None):
                        missing += 1
                    lines.append(f"epoch {x['epoch']} member {m} {key}: {va} vs {vb}")
                    continue
                rel = abs(va - vb) / max(abs(vb), 1e-300)
                if rel > worst:
                    worst, worst_at = rel, f"epoch {x['epoch']} member {m} {key}"
                lines.append(
                    f"epoch {x['epoch']} member {m} lr {a['lr']:.4e} {key}: {va:.12g} vs {vb:.12g} rel {rel:.2e}"
                )
    ok = worst <= args.tolerance and missing == 0
    lines.append(
        f"largest relative difference: {worst:.3e} ({worst_at}); tolerance {args.tolerance:g}; "
        f"{missing} value(s) finite on one side only: {'OK' if ok else 'OUTSIDE TOLERANCE'}"
    )
    report = "\n".join(lines) + "\n"
    if args.report:
        with open(args.report, "w") as f:
            f.write(report)
    sys.stdout.write(report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

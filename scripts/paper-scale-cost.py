#!/usr/bin/env python3
"""What training runs cost, epoch by epoch: CPU seconds per epoch against the members still training.

    scripts/paper-scale-cost.py RUN_DIR... --out results/NAME [--cap EPOCHS] [--note TEXT]

Reads each run directory's metrics.jsonl and config.toml (finished or not: a run still training is read as far as it
got) and writes NAME.json and NAME.md: per run, the epochs done, the CPU seconds in all, the CPU seconds of the first
epochs and the latest ones, the members active at the latest epoch, whether the run has finished (summary.json), and
the CPU seconds per active member-epoch. While members are still active it also gives a bound on what is left: the
latest epoch's cost times the epochs left to the cap (members only stop, so an epoch never costs more than the one
before it, up to noise). `--cap` sets that cap for every run (e.g. 500 for short runs made with `--set max_epochs=2`
to measure a config's epoch); by default each run's own `max_epochs`.
"""
import argparse
import json
import os
import re
import sys
import tempfile


def read_run(path, cap_override=None):
    lines = []
    with open(os.path.join(path, "metrics.jsonl")) as f:
        for line in f:
            line = line.strip()
            if line:
                lines.append(json.loads(line))
    if not lines:
        sys.exit(f"{path}: metrics.jsonl holds no epoch yet")
    config = open(os.path.join(path, "config.toml")).read()

    def key(name):
        m = re.search(rf"^{name}\s*=\s*\"?([^\"\n#]+)", config, re.M)
        return m.group(1).strip() if m else None

    cap = cap_override or int(key("max_epochs"))
    cpu = [l["cpu_seconds"] for l in lines]
    per_epoch = [cpu[0]] + [b - a for a, b in zip(cpu, cpu[1:])]
    # Members that trained in an epoch: active at its end, or stopped/pruned/diverged at it.
    trained = []
    for l in lines:
        n = 0
        for m in l["members"]:
            if m["status"] == "active" or m.get("train_nll") is not None:
                n += 1
        trained.append(n)
    member_epochs = sum(trained)
    last = lines[-1]
    active = sum(m["status"] == "active" for m in last["members"])
    finished = os.path.exists(os.path.join(path, "summary.json"))
    row = {
        "run": os.path.basename(os.path.normpath(path)),
        "dataset": key("dataset"),
        "cell": key("cell"),
        "members": len(last["members"]),
        "max_epochs": cap,
        "epochs_done": last["epoch"],
        "finished": finished,
        "active_at_latest_epoch": active,
        "cpu_seconds": round(cpu[-1], 1),
        "cpu_hours": round(cpu[-1] / 3600, 2),
        "cpu_seconds_first_epoch": round(per_epoch[0], 1),
        "cpu_seconds_latest_epoch": round(per_epoch[-1], 1),
        "member_epochs": member_epochs,
        "cpu_seconds_per_member_epoch": round(cpu[-1] / member_epochs, 3) if member_epochs else None,
    }
    if active > 0 and last["epoch"] < cap:
        left = cap - last["epoch"]
        row["epochs_left_to_cap"] = left
        row["cpu_hours_left_at_most"] = round(left * per_epoch[-1] / 3600, 2)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="run directories (each holding metrics.jsonl and config.toml)")
    ap.add_argument("--out", required=True, help="output path without extension (writes .json and .md)")
    ap.add_argument("--cap", type=int, default=None, help="the epoch cap for the bound on what is left (default: each run's max_epochs)")
    ap.add_argument("--note", default="", help="a sentence on how the runs were made (machine, what else ran)")
    args = ap.parse_args()
    rows = [read_run(r, args.cap) for r in args.runs]
    cap = f" --cap {args.cap}" if args.cap else ""
    doc = {"command": "scripts/paper-scale-cost.py " + " ".join(os.path.basename(os.path.normpath(r)) for r in args.runs) + cap,
           "note": args.note, "rows": rows}
    md = ["# What the runs cost, epoch by epoch", ""]
    if args.note:
        md += [args.note, ""]
    md += ["| run | dataset | cell | members | epochs done / cap | run ended | active now | CPU-h | CPU-s first epoch | "
           "CPU-s latest epoch | CPU-s per member-epoch | CPU-h left, at most |",
           "|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        md.append(f"| {r['run']} | {r['dataset']} | {r['cell']} | {r['members']} | {r['epochs_done']} / {r['max_epochs']} | "
                  f"{'yes' if r['finished'] else 'no'} | {r['active_at_latest_epoch']} | {r['cpu_hours']} | "
                  f"{r['cpu_seconds_first_epoch']} | {r['cpu_seconds_latest_epoch']} | {r['cpu_seconds_per_member_epoch']} | "
                  f"{r.get('cpu_hours_left_at_most', '')} |")
    md += ["", "CPU seconds are the training thread's (updates and evaluation), from each run's metrics.jsonl. "
           "\"At most\": the latest epoch's cost times the epochs left to the cap; members only stop, so the true "
           "remainder is lower by as much as members stop early.", "",
           f"Made with `{doc['command']}`."]
    for ext, text in ((".json", json.dumps(doc, indent=2) + "\n"), (".md", "\n".join(md) + "\n")):
        target = args.out + ext
        d = os.path.dirname(os.path.abspath(target))
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, target)
    print("\n".join(md))


if __name__ == "__main__":
    main()

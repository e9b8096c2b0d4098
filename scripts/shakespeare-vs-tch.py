#!/usr/bin/env python3
"""rnnlab's units beside tch-rs's own char-rnn on the Shakespeare split, at equal CPU time.

  python3 scripts/shakespeare-vs-tch.py --tch runs/tch-char-rnn --run runs/shakespeare-gru [--run ...] \
      --out results/shakespeare-vs-tch

--tch is the output directory of scripts/tch-char-rnn.sh (its log.txt: the training loss per epoch, in nats per
character, and the run's CPU seconds); each --run is an rnnlab training run directory on the same split. For each
run, the table takes the epochs whose cumulative CPU time (metrics.jsonl's cpu_seconds: the training thread,
evaluation included) stays within tch's CPU time, and reports, at the last of them, the member with the lowest
validation NLL so far: its training NLL at that epoch (at the weights being trained, as tch reports its own), its
validation NLL, and the test NLL recorded at its best epoch; all in bits per character. tch's example measures no
validation or test loss, so only the training columns compare directly, and they do not compare exactly: tch's is
the mean over the epoch's batches, rnnlab's the mean over the epoch's updates, both while the weights move.

A tch run stopped before its first epoch ended has printed no loss and no CPU time: give the CPU seconds it had used
(user + system, e.g. from /proc/PID/stat before stopping it) with --tch-cpu; its row then says that no epoch ended.

Writes OUT.md and OUT.json (temp file, then rename).
"""

import argparse
import json
import math
import os
import re
import sys

LN2 = math.log(2)


def fail(msg):
    print(f"shakespeare-vs-tch: {msg}", file=sys.stderr)
    sys.exit(2)


def read_tch(d, cpu_given):
    path = os.path.join(d, "log.txt")
    if not os.path.exists(path):
        fail(f"no {path}: run scripts/tch-char-rnn.sh first")
    text = open(path).read()
    losses = [float(x) for x in re.findall(r"Epoch: \d+\s+loss: ([0-9.]+)", text)]
    cpu = re.search(r"cpu seconds: ([0-9.]+) user \+ ([0-9.]+) system, ([0-9.]+) s wall", text)
    if cpu:
        return {"epochs": len(losses), "train_nats": losses, "cpu_s": float(cpu.group(1)) + float(cpu.group(2)),
                "wall_s": float(cpu.group(3)), "finished": bool(losses) and "Terminated" not in text}
    if cpu_given is None:
        fail(f"{path} has no CPU time (the run did not end): give the CPU seconds it used with --tch-cpu")
    return {"epochs": len(losses), "train_nats": losses, "cpu_s": cpu_given, "wall_s": None, "finished": False}


def read_run(d, budget):
    path = os.path.join(d, "metrics.jsonl")
    if not os.path.exists(path):
        fail(f"no {path}")
    lines = [json.loads(l) for l in open(path) if l.strip()]
    within = [l for l in lines if l["cpu_seconds"] <= budget] or lines[:1]
    last = within[-1]
    cfg = open(os.path.join(d, "config.toml")).read()
    cell = re.search(r'^cell = "([^"]+)"', cfg, re.M).group(1)
    best = {}
    for l in within:
        for m, mm in enumerate(l["members"]):
            v = mm.get("valid_nll")
            if v is not None and (m not in best or v < best[m][0]):
                best[m] = (v, l["epoch"], mm.get("test_nll"))
    m = min(best, key=lambda k: best[k][0])
    valid, epoch, test = best[m]
    train = last["members"][m].get("train_nll")
    return {"run": d, "cell": cell, "members": len(last["members"]), "epochs": last["epoch"],
            "cpu_s": last["cpu_seconds"], "member": m, "lr": last["members"][m]["lr"], "best_epoch": epoch,
            "train_bits": None if train is None else train / LN2, "valid_bits": valid / LN2,
            "test_bits": None if test is None else test / LN2}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tch", required=True)
    ap.add_argument("--run", action="append", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tch-cpu", type=float, help="CPU seconds of a tch run stopped before it ended")
    a = ap.parse_args()
    tch = read_tch(a.tch, a.tch_cpu)
    runs = [read_run(d, tch["cpu_s"]) for d in a.run]
    f = lambda v: "" if v is None else f"{v:.3f}"
    tch_train = f"{tch['train_nats'][-1] / LN2:.3f}" if tch["train_nats"] else "no epoch ended"
    ran = (f"{tch['epochs']} epoch(s) in {tch['cpu_s']:.0f} CPU-s" if tch["finished"] else
           f"stopped after {tch['cpu_s']:.0f} CPU-s, {tch['epochs']} epoch(s) ended")
    lines = ["# rnnlab beside tch-rs's char-rnn on Shakespeare, at equal CPU time", "",
             f"tch-rs's `examples/char-rnn` (an LSTM of 256 units, Adam, sequences of 180, batches of 256), as published "
             f"but for the data path, the epochs and one thread: {ran}. "
             "rnnlab: each run's epochs within that CPU time (one thread, the whole population, evaluation "
             "included), its member with the lowest validation NLL so far; its training NLL is empty when that member had "
             "stopped before the run's last epoch. Bits per character.", "",
             "| model | CPU s | epochs | train | valid | test |", "|---|---:|---:|---:|---:|---:|",
             f"| tch char-rnn, LSTM 256 (one model) | {tch['cpu_s']:.0f} | {tch['epochs']} | "
             f"{tch_train} | not measured | not measured |"]
    for r in runs:
        lines.append(f"| rnnlab {r['cell']}, best of {r['members']} members (lr {r['lr']:.2e}, best epoch "
                     f"{r['best_epoch']}) | {r['cpu_s']:.0f} | {r['epochs']} | {f(r['train_bits'])} | "
                     f"{f(r['valid_bits'])} | {f(r['test_bits'])} |")
    lines += ["", "Made with `python3 scripts/shakespeare-vs-tch.py --tch " + a.tch + "".join(
        f" --run {d}" for d in a.run) + (f" --tch-cpu {a.tch_cpu:.0f}" if a.tch_cpu else "") + f" --out {a.out}` "
        "(see docs/your-data.md for the runs' commands)."]
    for ext, body in [("json", json.dumps({"tch": tch, "runs": runs}, indent=2)), ("md", "\n".join(lines) + "\n")]:
        tmp = f"{a.out}.{ext}.tmp"
        with open(tmp, "w") as fh:
            fh.write(body)
        os.replace(tmp, f"{a.out}.{ext}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

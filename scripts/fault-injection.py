#!/usr/bin/env python3
"""Fault injection: kills a small training at random moments, resumes it, and checks that the result equals an
uninterrupted run bit for bit.

    scripts/fault-injection.py [--trials N] [--seed S] [--rnnlab PATH] [--data-dir DIR] [--work DIR] [--out FILE]

One reference run of a tiny config (JSB Chorales, paper GRU, 8 units, 2 learning rates, 40 training pieces, 10
epochs) is trained without interruption. Then each of N trials trains the same config into a fresh run directory and
is killed at a random moment (uniform over the reference run's wall-clock time, startup included) by SIGKILL or
SIGTERM (chosen at random), then resumed with `rnnlab train --resume`; a resume is itself killed again with
probability 1/2, up to three kills per trial, and the last resume runs to the end. After one kill in four, half a
line is appended to metrics.jsonl (what a full disk or a crash mid-append leaves), which the resume must cut. Once
a trial has finished, it must equal the reference:

- metrics.jsonl and metrics.csv line for line, every value to the last bit, the timings aside;
- summary.json, the timings aside;
- the checkpoint's tensor file (weights, best weights, RMSProp state) byte for byte, and its SHA-256 in state.json.

Prints one line per trial and a summary, writes them to --out (default: stdout only), and exits 1 when any trial
differs. Needs the datasets ($RNNLAB_DATA or --data-dir) and a built rnnlab (target/release, else target/debug).
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "experiments" / "jsb_gru.toml"
SETTINGS = [
    "hidden=8",
    "lr_candidates=2",
    "train_subset=40",
    "eval_subset=10",
    "max_epochs=10",
    "patience=50",
]
TIMINGS = ("seconds", "cpu_seconds", "seconds_per_epoch")


def train_cmd(rnnlab, data_dir, out):
    cmd = [str(rnnlab), "train", "--quiet", "--config", str(CONFIG), "--out", str(out)]
    for s in SETTINGS:
        cmd += ["--set", s]
    return cmd + ["--data-dir", str(data_dir)]


def resume_cmd(rnnlab, data_dir, out):
    return [str(rnnlab), "train", "--quiet", "--resume", str(out), "--data-dir", str(data_dir)]


def run_to_end(cmd):
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
    return p.stderr


def kill_after(cmd, seconds, sig):
    """Starts cmd and sends it sig after `seconds` unless it has ended; returns (exit status, killed, stderr)."""
    with tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, text=True)
        try:
            p.wait(timeout=seconds)
            killed = False
        except subprocess.TimeoutExpired:
            p.send_signal(sig)
            p.wait()
            killed = True
        err.seek(0)
        return p.returncode, killed, err.read()


def without_timings(v):
    if isinstance(v, dict):
        return {k: (None if k in TIMINGS else without_timings(x)) for k, x in v.items()}
    if isinstance(v, list):
        return [without_timings(x) for x in v]
    return v


def result(run):
    """What must be equal between two runs of one config: every record but the timings, and the checkpoint."""
    jsonl = [without_timings(json.loads(l)) for l in (run / "metrics.jsonl").read_text().splitlines() if l.strip()]
    csv = []
    for line in (run / "metrics.csv").read_text().splitlines():
        cols = line.split(",")
        del cols[4]  # seconds
        csv.append(",".join(cols))
    summary = without_timings(json.loads((run / "summary.json").read_text()))
    weights = hashlib.sha256((run / "checkpoint" / "last.safetensors").read_bytes()).hexdigest()
    state = json.loads((run / "checkpoint" / "state.json").read_text())
    return {
        "metrics.jsonl": jsonl,
        "metrics.csv": csv,
        "summary.json": summary,
        "last.safetensors": weights,
        "recorded sha256": state.get("weights_sha256"),
        "state epoch": state["epoch"],
    }


def checkpoint_epoch(run):
    try:
        return json.loads((run / "checkpoint" / "state.json").read_text())["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


def tear(run, rng):
    """Appends half of a plausible metrics line to metrics.jsonl, as a torn append leaves it."""
    path = run / "metrics.jsonl"
    if not path.exists():
        return False
    lines = [l for l in path.read_text().splitlines() if l.strip()]
    if not lines:
        return False
    line = lines[-1]
    with open(path, "a") as f:
        f.write(line[: rng.randrange(1, len(line) - 1)])
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rnnlab", type=Path, default=None)
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("RNNLAB_DATA", ROOT / "data")))
    ap.add_argument("--work", type=Path, default=None, help="where the run directories go (default: a temp dir)")
    ap.add_argument("--out", type=Path, default=None, help="also write the report here")
    args = ap.parse_args()
    rnnlab = args.rnnlab
    if rnnlab is None:
        for profile in ("release", "debug"):
            if (ROOT / "target" / profile / "rnnlab").exists():
                rnnlab = ROOT / "target" / profile / "rnnlab"
                break
    if rnnlab is None or not rnnlab.exists():
        sys.exit("no rnnlab binary: cargo build --release, or give --rnnlab PATH")
    if args.trials < 1:
        sys.exit("--trials must be at least 1")
    work = args.work or Path(tempfile.mkdtemp(prefix="rnnlab-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    report = []

    def say(line):
        print(line, flush=True)
        report.append(line)

    say("# scripts/fault-injection.py " + " ".join(sys.argv[1:]))
    say(f"# rnnlab: {os.path.relpath(rnnlab, ROOT)}; config: experiments/jsb_gru.toml with {' '.join(SETTINGS)}")
    ref = work / "reference"
    shutil.rmtree(ref, ignore_errors=True)
    t0 = time.monotonic()
    run_to_end(train_cmd(rnnlab, args.data_dir, ref))
    span = time.monotonic() - t0
    expected = result(ref)
    say(f"# reference: {expected['state epoch']} epochs uninterrupted in {span:.2f} s wall clock")

    counts = {"SIGKILL": 0, "SIGTERM": 0}
    phases = {"before the first checkpoint": 0, "between checkpoints": 0, "after the last epoch": 0}
    torn = cut_notes = failed = 0
    for trial in range(1, args.trials + 1):
        run = work / f"trial{trial:03d}"
        shutil.rmtree(run, ignore_errors=True)
        events = []
        differing = []
        stderr = ""
        # After a kill: resume a run directory that holds a run; one killed before it wrote its config is started
        # again with the same command.
        next_cmd = lambda: (resume_cmd if (run / "config.toml").exists() else train_cmd)(rnnlab, args.data_dir, run)
        cmd = train_cmd(rnnlab, args.data_dir, run)
        for attempt in range(3):
            sig = rng.choice([signal.SIGKILL, signal.SIGTERM])
            at = rng.uniform(0.0, span)
            rc, killed, err = kill_after(cmd, at, sig)
            stderr += err
            if not killed:
                events.append(f"finished before {at:.2f} s")
                if rc != 0:
                    differing.append(f"error: exit {rc}: {err.strip()}")
                break
            epoch = checkpoint_epoch(run)
            name = signal.Signals(sig).name
            counts[name] += 1
            phase = ("before the first checkpoint" if epoch == 0 else
                     "after the last epoch" if epoch >= expected["state epoch"] else "between checkpoints")
            phases[phase] += 1
            event = f"{name} at {at:.2f} s (checkpoint epoch {epoch})"
            if epoch > 0 and not (run / "summary.json").exists() and rng.random() < 0.25 and tear(run, rng):
                torn += 1
                event += ", torn line appended"
            events.append(event)
            cmd = next_cmd()
            if rng.random() < 0.5:
                break
        try:
            if not differing:
                if not (run / "summary.json").exists():
                    stderr += run_to_end(next_cmd())
                got = result(run)
                differing = [k for k in expected if got[k] != expected[k]]
        except Exception as e:  # a failed resume is a failed trial, reported like a difference
            differing = [f"error: {e}"]
        cut_notes += stderr.count("cut its last line")
        ok = not differing
        failed += not ok
        say(f"trial {trial:3d}: {'equal' if ok else 'DIFFERS in ' + ', '.join(differing)}; " + "; ".join(events))
        if ok:
            shutil.rmtree(run, ignore_errors=True)

    kills = sum(counts.values())
    say(f"# {args.trials} trials, {kills} kills ({counts['SIGKILL']} SIGKILL, {counts['SIGTERM']} SIGTERM): "
        + ", ".join(f"{n} {p}" for p, n in phases.items()))
    say(f"# torn metrics lines appended: {torn}, cut on resume: {cut_notes}")
    say(f"# {args.trials - failed} of {args.trials} trials equal the uninterrupted run bit for bit "
        "(metrics.jsonl, metrics.csv, summary.json, checkpoint tensors)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(report) + "\n")
    if args.work is None and failed == 0:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

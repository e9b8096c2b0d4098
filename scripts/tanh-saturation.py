#!/usr/bin/env python3
"""Why a tanh RNN trained with weight noise does or does not learn: its recurrent matrix and its hidden units, at the
clean weights and at the noisy weights training sees.

For each run directory of a `tanh` speech run (FSDD) given, and its best member (summary.json, else the checkpoint's
best so far), prints:
  - the spectral norm of the recurrent matrix W_hh at the best weights, and its mean over draws of W_hh + E with
    E ~ N(0, sigma^2) entrywise, sigma the run's `weight_noise` (what the forward pass sees in training);
  - the fraction of hidden activations with |h| > 0.99 (saturated) over the first test recordings, with the clean
    weights and with one noisy draw of every weight matrix per recording (biases clean, as rnnlab trains).

Reads the checkpoint (safetensors), config.toml, normalisation.json and the WAV files directly; needs only NumPy.
Usage: scripts/tanh-saturation.py RUN_DIR... [--data-dir DIR] [--files 30] [--draws 10] [--seed 0] [--noise SIGMA]
"""
import argparse
import json
import os
import struct
import sys
import tomllib
import wave

import numpy as np

FRAME = 10


def load_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    kinds = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        start, end = v["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + start : 8 + n + end], dtype=kinds[v["dtype"]]).reshape(v["shape"])
    return out


def best_member(run):
    summary = os.path.join(run, "summary.json")
    if os.path.exists(summary):
        return json.load(open(summary))["best_member"]
    state = json.load(open(os.path.join(run, "checkpoint", "state.json")))
    best = [(m["best_valid"], i) for i, m in enumerate(state["members"]) if m.get("best_valid") is not None]
    return min(best)[1]


def test_files(data_dir, count):
    manifest = os.path.join(data_dir, "speech", "fsdd", "manifest.tsv")
    lines = open(manifest).read().splitlines()
    header = lines[0].split("\t")
    col = {h: i for i, h in enumerate(header)}
    rows = [l.split("\t") for l in lines[1:] if l.strip()]
    files = [r[col["file"]] for r in rows if r[col["split_by_index"]] == "test"]
    return [os.path.join(data_dir, "speech", "fsdd", f) for f in sorted(files)[:count]]


def inputs(path, mean, std):
    with wave.open(path) as w:
        s = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    s = (s - mean) / std
    frames = s[: len(s) // FRAME * FRAME].reshape(-1, FRAME)
    return np.concatenate([frames[:-2], frames[1:-1]], axis=1)  # step t reads f_t ‖ f_{t+1}


def hidden(x, w_ih, w_hh, b):
    h = np.zeros(w_hh.shape[0])
    hs = np.empty((len(x), w_hh.shape[0]))
    pre = x @ w_ih.T + b
    for t in range(len(x)):
        h = np.tanh(pre[t] + w_hh @ h)
        hs[t] = h
    return hs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--data-dir", default=os.environ.get("RNNLAB_DATA", "data"))
    ap.add_argument("--files", type=int, default=30)
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise", type=float, help="the weight noise's sigma for the noisy columns (default: each run's own)")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    files = test_files(args.data_dir, args.files)
    if not files:
        sys.exit(f"no FSDD test recordings under {args.data_dir}")
    print("| run | member | lr | sigma | ‖W_hh‖₂ clean | ‖W_hh + E‖₂ (mean) | saturated, clean | saturated, noisy |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for run in args.runs:
        cfg = tomllib.load(open(os.path.join(run, "config.toml"), "rb"))
        if cfg.get("cell") != "tanh":
            sys.exit(f"{run}: cell is {cfg.get('cell')}, not tanh")
        sigma = args.noise if args.noise is not None else float(cfg.get("weight_noise", 0.075))
        norm = json.load(open(os.path.join(run, "normalisation.json")))
        t = load_safetensors(os.path.join(run, "checkpoint", "last.safetensors"))
        m = best_member(run)
        w_ih = t["best.rnn.weight_ih"][m].astype(np.float64)
        w_hh = t["best.rnn.weight_hh"][m].astype(np.float64)
        b = (t["best.rnn.bias_ih"][m] + t["best.rnn.bias_hh"][m]).astype(np.float64)
        lr = json.load(open(os.path.join(run, "checkpoint", "state.json")))["members"][m]["lr"]
        clean_norm = np.linalg.norm(w_hh, 2)
        noisy_norm = np.mean(
            [np.linalg.norm(w_hh + rng.normal(0, sigma, w_hh.shape), 2) for _ in range(args.draws)]
        )
        sat_clean, sat_noisy, count = 0, 0, 0
        for f in files:
            x = inputs(f, norm["mean"], norm["std"])
            sat_clean += int((np.abs(hidden(x, w_ih, w_hh, b)) > 0.99).sum())
            e_ih = rng.normal(0, sigma, w_ih.shape)
            e_hh = rng.normal(0, sigma, w_hh.shape)
            sat_noisy += int((np.abs(hidden(x, w_ih + e_ih, w_hh + e_hh, b)) > 0.99).sum())
            count += x.shape[0] * w_hh.shape[0]
        print(
            f"| {run} | {m} | {lr:.1e} | {sigma} | {clean_norm:.2f} | {noisy_norm:.2f} | "
            f"{sat_clean / count:.1%} | {sat_noisy / count:.1%} |"
        )
    print(f"\n{len(files)} test recordings, {args.draws} noise draws for the norm, seed {args.seed}.")


if __name__ == "__main__":
    main()

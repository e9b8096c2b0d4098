#!/usr/bin/env python3
"""The PyTorch side of `rnnlab bench`: the same tiers, shapes and JSON schema, measured with PyTorch.

Tiers (see src/bench/mod.rs for rnnlab's):
  1 naive         the custom cell looped in Python, two matmuls per gate per step (slices of the stacked weights)
  2 fused         the custom cell with one recurrent matmul per step and the input projection precomputed; also
                  compiled with TorchScript (variant "torchscript") where torch.jit.script works
  3 builtin_cell  torch.rnn_tanh_cell / gru_cell / lstm_cell looped in Python
  4 builtin_seq   nn.RNN / nn.GRU / nn.LSTM with cuDNN off
  5 cudnn         the same modules with cuDNN on (CUDA only)
  6 population    tier 2 for K stacked models (bmm/baddbmm), time per model; TorchScript too
The custom cells compute exactly rnnlab's maths (src/cells/*.rs), torch and paper forms, in the same gate order.
"forward" is timed under torch.no_grad(); "forward_backward" is the forward pass plus torch.autograd.grad of
sum(outputs) with respect to every parameter. CUDA runs are synchronised around every timed run.

Install (any machine with Python 3.10+; the same torch as rnnlab's libtorch):
  python3 -m venv .venv && .venv/bin/pip install torch==2.13.0 numpy
Then, on the same machine, quiet (see docs/benchmarks.md on threads):

  .venv/bin/python scripts/bench_pytorch.py --json pytorch.json            # full run (same shapes as rnnlab)
  cargo run --release -- bench --json rnnlab.json --compare pytorch.json   # rnnlab's run + the side-by-side table
  cargo run --release -- bench --load rnnlab.json --compare pytorch.json   # the table again, without re-running

Add --quick to both for a run of seconds, --device cuda for the GPU, --threads N to pin both to N threads.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
import warnings
from typing import Callable, List, Optional

import torch
from torch import Tensor, nn

CELLS = ["tanh", "torch_gru", "paper_gru", "torch_lstm", "paper_lstm"]
TIERS = ["naive", "fused", "builtin_cell", "builtin_seq", "cudnn", "population"]
GATES = {"tanh": 1, "torch_gru": 3, "paper_gru": 3, "torch_lstm": 4, "paper_lstm": 4}
UNIT = {"tanh": "tanh", "torch_gru": "gru", "paper_gru": "gru", "torch_lstm": "lstm", "paper_lstm": "lstm"}
PAPER_HIDDEN = {"lstm": 36, "gru": 46, "tanh": 100}


def form(cell: str) -> str:
    return "paper" if cell.startswith("paper") else "torch"


def has_builtin(cell: str) -> bool:
    return cell in ("tanh", "torch_gru", "torch_lstm")


def applies(tier: str, cell: str) -> bool:
    return tier in ("naive", "fused", "population") or has_builtin(cell)


# ---------------------------------------------------------------------------------------------------------------
# Shapes: as in rnnlab (src/bench/mod.rs). hidden None = the unit's paper size.


def paper_shapes():
    return [("paper", t, b, 88, None) for b in (1, 8, 32) for t in (60, 250, 500)]


def fastrnns_shapes():
    return [("fastrnns", 100, 64, 512, 512)]


def quick_shapes():
    return [("quick", 20, 8, 88, None), ("quick", 10, 2, 16, 16)]


# ---------------------------------------------------------------------------------------------------------------
# The custom cells, written so that torch.jit.script compiles them unchanged. `p` lists the parameters in rnnlab's
# order: torch forms weight_ih, weight_hh, bias_ih, bias_hh; paper forms weight_ih, weight_hh, bias (, peephole).
# Weights are [G*H, D] / [G*H, H] for one model, with a leading [K] for a population (input shared by all members).


def _project(x: Tensor, w: Tensor, b: Optional[Tensor]) -> Tensor:
    """x W^T + b for every step at once: [T, B, D] -> [T, B, G] (or [K, T, B, G] for a population)."""
    if w.dim() == 2:
        return torch.nn.functional.linear(x, w, b)
    k = w.size(0)
    t, bsz, d = x.size(0), x.size(1), x.size(2)
    flat = x.reshape(1, t * bsz, d).expand(k, t * bsz, d)
    if b is None:
        out = torch.bmm(flat, w.transpose(1, 2))
    else:
        out = torch.baddbmm(b.unsqueeze(1), flat, w.transpose(1, 2))
    return out.reshape(k, t, bsz, -1)


def _recurrent(h: Tensor, w: Tensor, b: Optional[Tensor]) -> Tensor:
    """h U^T (+ b) for one step: [B, H] (or [K, B, H])."""
    if w.dim() == 2:
        if b is None:
            return torch.mm(h, w.t())
        return torch.addmm(b, h, w.t())
    if b is None:
        return torch.bmm(h, w.transpose(1, 2))
    return torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))


def _time_dim(w: Tensor) -> int:
    return 1 if w.dim() == 3 else 0


def fused_tanh(x: Tensor, p: List[Tensor]) -> Tensor:
    w_ih, w_hh, b_ih, b_hh = p[0], p[1], p[2], p[3]
    xp = _project(x, w_ih, b_ih + b_hh)
    td = _time_dim(w_ih)
    h = torch.zeros_like(xp.select(td, 0))
    outs: List[Tensor] = []
    for xt in xp.unbind(td):
        h = torch.tanh(xt + _recurrent(h, w_hh, None))
        outs.append(h)
    return torch.stack(outs, td)


def fused_torch_gru(x: Tensor, p: List[Tensor]) -> Tensor:
    w_ih, w_hh, b_ih, b_hh = p[0], p[1], p[2], p[3]
    hidden = w_hh.size(-1)
    xp = _project(x, w_ih, b_ih)
    td = _time_dim(w_ih)
    h = torch.zeros_like(xp.select(td, 0).narrow(-1, 0, hidden))
    outs: List[Tensor] = []
    for xt in xp.unbind(td):
        xi = xt.chunk(3, -1)
        hh = _recurrent(h, w_hh, b_hh).chunk(3, -1)
        r = torch.sigmoid(xi[0] + hh[0])
        z = torch.sigmoid(xi[1] + hh[1])
        n = torch.tanh(xi[2] + r * hh[2])
        h = n + z * (h - n)
        outs.append(h)
    return torch.stack(outs, td)


def fused_paper_gru(x: Tensor, p: List[Tensor]) -> Tensor:
    w_ih, w_hh, bias = p[0], p[1], p[2]
    hidden = w_hh.size(-1)
    u_rz = w_hh.narrow(-2, 0, 2 * hidden)
    u_n = w_hh.narrow(-2, 2 * hidden, hidden)
    xp = _project(x, w_ih, bias)
    td = _time_dim(w_ih)
    h = torch.zeros_like(xp.select(td, 0).narrow(-1, 0, hidden))
    outs: List[Tensor] = []
    for xt in xp.unbind(td):
        rz = torch.sigmoid(xt.narrow(-1, 0, 2 * hidden) + _recurrent(h, u_rz, None)).chunk(2, -1)
        r, z = rz[0], rz[1]
        cand = torch.tanh(xt.narrow(-1, 2 * hidden, hidden) + _recurrent(r * h, u_n, None))
        h = h + z * (cand - h)
        outs.append(h)
    return torch.stack(outs, td)


def fused_torch_lstm(x: Tensor, p: List[Tensor]) -> Tensor:
    w_ih, w_hh, b_ih, b_hh = p[0], p[1], p[2], p[3]
    hidden = w_hh.size(-1)
    xp = _project(x, w_ih, b_ih + b_hh)
    td = _time_dim(w_ih)
    h = torch.zeros_like(xp.select(td, 0).narrow(-1, 0, hidden))
    c = torch.zeros_like(h)
    outs: List[Tensor] = []
    for xt in xp.unbind(td):
        g = (xt + _recurrent(h, w_hh, None)).chunk(4, -1)
        c = torch.sigmoid(g[1]) * c + torch.sigmoid(g[0]) * torch.tanh(g[2])
        h = torch.sigmoid(g[3]) * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs, td)


def fused_paper_lstm(x: Tensor, p: List[Tensor]) -> Tensor:
    w_ih, w_hh, bias, peephole = p[0], p[1], p[2], p[3]
    hidden = w_hh.size(-1)
    v = peephole.chunk(3, -1)
    v_i, v_f, v_o = v[0].unsqueeze(-2), v[1].unsqueeze(-2), v[2].unsqueeze(-2)
    xp = _project(x, w_ih, bias)
    td = _time_dim(w_ih)
    h = torch.zeros_like(xp.select(td, 0).narrow(-1, 0, hidden))
    c = torch.zeros_like(h)
    outs: List[Tensor] = []
    for xt in xp.unbind(td):
        g = (xt + _recurrent(h, w_hh, None)).chunk(4, -1)
        i = torch.sigmoid(g[0] + v_i * c)
        f = torch.sigmoid(g[1] + v_f * c)
        c = f * c + i * torch.tanh(g[2])
        o = torch.sigmoid(g[3] + v_o * c)
        h = o * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs, td)


FUSED = {
    "tanh": fused_tanh,
    "torch_gru": fused_torch_gru,
    "paper_gru": fused_paper_gru,
    "torch_lstm": fused_torch_lstm,
    "paper_lstm": fused_paper_lstm,
}


def naive(cell: str, x: Tensor, p: List[Tensor]) -> Tensor:
    """Tier 1: no precomputed projection, no fused gates; each gate gets x W_g^T + b and h U_g^T (+ b_h)."""
    hidden = p[1].size(-1)

    def rows(t: Tensor, g: int) -> Tensor:
        return t.narrow(0, g * hidden, hidden)

    w_ih, w_hh = p[0], p[1]
    b_i = p[2]  # bias_ih (torch forms) or the single bias b (paper forms)
    b_h = p[3] if form(cell) == "torch" else None  # bias_hh
    gates = [
        (rows(w_ih, g).t(), rows(w_hh, g).t(), rows(b_i, g), None if b_h is None else rows(b_h, g))
        for g in range(GATES[cell])
    ]

    def inp(g, xt):
        return torch.addmm(gates[g][2], xt, gates[g][0])

    def rec(g, h):
        u, bh = gates[g][1], gates[g][3]
        return h.mm(u) if bh is None else torch.addmm(bh, h, u)

    def pre(g, xt, h):
        return inp(g, xt) + rec(g, h)

    steps, batch = x.size(0), x.size(1)
    h = x.new_zeros(batch, hidden)
    c = x.new_zeros(batch, hidden)
    if cell == "paper_lstm":
        v_i, v_f, v_o = (rows(p[3], g).unsqueeze(0) for g in range(3))
    outs = []
    for t in range(steps):
        xt = x[t]
        if cell == "tanh":
            h = torch.tanh(pre(0, xt, h))
        elif cell == "torch_gru":
            r = torch.sigmoid(pre(0, xt, h))
            z = torch.sigmoid(pre(1, xt, h))
            n = torch.tanh(inp(2, xt) + r * rec(2, h))
            h = n + z * (h - n)
        elif cell == "paper_gru":
            r = torch.sigmoid(pre(0, xt, h))
            z = torch.sigmoid(pre(1, xt, h))
            cand = torch.tanh(pre(2, xt, r * h))
            h = h + z * (cand - h)
        elif cell == "torch_lstm":
            i = torch.sigmoid(pre(0, xt, h))
            f = torch.sigmoid(pre(1, xt, h))
            g = torch.tanh(pre(2, xt, h))
            o = torch.sigmoid(pre(3, xt, h))
            c = f * c + i * g
            h = o * torch.tanh(c)
        else:  # paper_lstm
            i = torch.sigmoid(pre(0, xt, h) + v_i * c)
            f = torch.sigmoid(pre(1, xt, h) + v_f * c)
            c = f * c + i * torch.tanh(pre(2, xt, h))
            o = torch.sigmoid(pre(3, xt, h) + v_o * c)
            h = o * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs, 0)


def builtin_cell(cell: str, x: Tensor, p: List[Tensor]) -> Tensor:
    """Tier 3: PyTorch's per-step cell op looped in Python."""
    w_ih, w_hh, b_ih, b_hh = p
    h = x.new_zeros(x.size(1), w_hh.size(-1))
    c = torch.zeros_like(h)
    outs = []
    for t in range(x.size(0)):
        if cell == "tanh":
            h = torch.rnn_tanh_cell(x[t], h, w_ih, w_hh, b_ih, b_hh)
        elif cell == "torch_gru":
            h = torch.gru_cell(x[t], h, w_ih, w_hh, b_ih, b_hh)
        else:
            h, c = torch.lstm_cell(x[t], (h, c), w_ih, w_hh, b_ih, b_hh)
        outs.append(h)
    return torch.stack(outs, 0)


# ---------------------------------------------------------------------------------------------------------------
# Parameters, with PyTorch's default init U(-1/sqrt(H), 1/sqrt(H)), as rnnlab's CellConfig does.


def make_params(cell: str, d: int, hidden: int, k: Optional[int], device) -> List[Tensor]:
    g = GATES[cell]
    a = 1.0 / math.sqrt(hidden)
    lead = [] if k is None else [k]
    shapes = [[g * hidden, d], [g * hidden, hidden]]
    if form(cell) == "torch":
        shapes += [[g * hidden], [g * hidden]]
    else:
        shapes += [[g * hidden]] + ([[3 * hidden]] if cell == "paper_lstm" else [])
    return [
        torch.empty(lead + s, device=device).uniform_(-a, a).requires_grad_(True) for s in shapes
    ]


def builtin_module(cell: str, d: int, hidden: int, device) -> nn.Module:
    if cell == "tanh":
        return nn.RNN(d, hidden, nonlinearity="tanh").to(device)
    if cell == "torch_gru":
        return nn.GRU(d, hidden).to(device)
    return nn.LSTM(d, hidden).to(device)


def self_check(scripted) -> None:
    """Before timing anything: every custom implementation here computes the same outputs, in f64 on a tiny shape —
    the torch forms against nn.RNN/GRU/LSTM on the same weights, the paper forms naive against fused — and a
    population of one equals the single model. Exits on a mismatch, so no row times wrong maths."""
    t, b, d, hidden = 5, 3, 4, 6
    x = torch.randn(t, b, d, dtype=torch.float64)
    for cell in CELLS:
        if has_builtin(cell):
            m = builtin_module(cell, d, hidden, "cpu").double()
            p = list(m.parameters())
            ref = m(x)[0]
        else:
            p = [q.double() for q in make_params(cell, d, hidden, None, "cpu")]
            ref = naive(cell, x, p)
        got = {"naive": naive(cell, x, p), "fused": FUSED[cell](x, p)}
        got["population"] = FUSED[cell](x, [q.unsqueeze(0) for q in p])[0]
        if has_builtin(cell):
            got["builtin_cell"] = builtin_cell(cell, x, p)
        if cell in scripted:
            got["torchscript"] = scripted[cell](x, p)
        for name, out in got.items():
            err = (out - ref).abs().max().item()
            if not err <= 1e-10:
                sys.exit(f"self-check failed: {cell} {name} differs from the reference by {err:e}")


# ---------------------------------------------------------------------------------------------------------------
# Timing.


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def quantile(sorted_xs, q):
    pos = q * (len(sorted_xs) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def time_runs(fn: Callable[[], None], device, warmup, min_reps, min_time, max_reps):
    for _ in range(warmup):
        fn()
    sync(device)
    samples = []
    start = time.perf_counter()
    while len(samples) < max(min_reps, 1) or (
        time.perf_counter() - start < min_time and len(samples) < max_reps
    ):
        t0 = time.perf_counter()
        fn()
        sync(device)
        samples.append((time.perf_counter() - t0) * 1e3)
    return samples


def matmul_flop(cell, seq, batch, d, hidden, direction):
    fwd = 2.0 * seq * batch * GATES[cell] * hidden * (d + hidden)
    return fwd if direction == "forward" else 3.0 * fwd


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=["cpu", "cuda", "auto"], default="auto")
    ap.add_argument("--quick", action="store_true", help="two small shapes, one warm-up, five timed runs")
    ap.add_argument("--shapes", default=None, help="comma list of paper,fastrnns,quick")
    ap.add_argument("--cells", default=",".join(CELLS))
    ap.add_argument("--tiers", default=",".join(TIERS))
    ap.add_argument("--population", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--min-time", type=float, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=2014)
    ap.add_argument("--no-torchscript", action="store_true")
    ap.add_argument("--no-onednn", action="store_true",
                    help="torch.backends.mkldnn.enabled = False: on CPU nn.LSTM then runs per-step ops, not oneDNN's "
                         "fused LSTM layer (as rnnlab bench --no-onednn)")
    ap.add_argument("--json", default=None, help="write the report here (rnnlab's bench schema)")
    args = ap.parse_args(argv)

    if args.device == "auto":
        device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device("cuda:0" if args.device == "cuda" else "cpu")
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: PyTorch sees no GPU")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.no_onednn:
        torch.backends.mkldnn.enabled = False
    torch.manual_seed(args.seed)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)
    min_reps = args.reps if args.reps is not None else (5 if args.quick else 10)
    min_time = args.min_time if args.min_time is not None else (0.0 if args.quick else 0.5)
    max_reps = max(min_reps, 5 if args.quick else 1000)
    sets = args.shapes.split(",") if args.shapes else (["quick"] if args.quick else ["paper", "fastrnns"])
    shapes = []
    for s in sets:
        shapes += {"paper": paper_shapes, "fastrnns": fastrnns_shapes, "quick": quick_shapes}[s]()
    cells = args.cells.split(",")
    tiers = args.tiers.split(",")
    for c in cells:
        if c not in CELLS:
            sys.exit(f"unknown cell {c}: expected one of {', '.join(CELLS)}")
    for t in tiers:
        if t not in TIERS:
            sys.exit(f"unknown tier {t}: expected one of {', '.join(TIERS)}")
    cudnn = device.type == "cuda" and torch.backends.cudnn.is_available()
    notes = []
    if "cudnn" in tiers and not cudnn:
        notes.append("tier 5 (cudnn) skipped: " + ("CUDA only" if device.type != "cuda" else "cuDNN unavailable"))
    dev_name = device.type if device.type == "cpu" else f"cuda:{device.index or 0}"

    scripted = {}
    if not args.no_torchscript:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for c in cells:
                try:
                    scripted[c] = torch.jit.script(FUSED[c])
                except Exception as e:  # TorchScript is deprecated; keep going without it
                    notes.append(f"TorchScript unavailable for {c}: {type(e).__name__}: {e}".splitlines()[0])

    self_check(scripted)

    def measure(fn):
        return time_runs(fn, device, warmup, min_reps, min_time, max_reps)

    # Reference numbers: a big matmul's rate and one tiny op's cost, as rnnlab measures them.
    n = (256 if args.quick else 1024) if device.type == "cpu" else (1024 if args.quick else 4096)
    a = torch.randn(n, n, device=device)
    ms = sorted(time_runs(lambda: a.mm(a), device, warmup, 5, 0.0 if args.quick else 0.3, 50))
    peak = 2.0 * n**3 / (quantile(ms, 0.5) * 1e-3) / 1e9
    one = torch.ones(1, device=device)

    def tiny_ops():
        for _ in range(200):
            one.add(one)

    overhead = quantile(sorted(measure(tiny_ops)), 0.5) * 1e3 / 200

    rows = []
    for set_name, seq, batch, d, h_spec in shapes:
        for cell in cells:
            hidden = h_spec if h_spec is not None else PAPER_HIDDEN[UNIT[cell]]
            x = torch.randn(seq, batch, d, device=device)
            module = builtin_module(cell, d, hidden, device) if has_builtin(cell) else None
            params = list(module.parameters()) if module is not None else make_params(cell, d, hidden, None, device)
            for tier in tiers:
                if not applies(tier, cell) or (tier == "cudnn" and not cudnn):
                    continue
                variants = [("eager", None)]
                per = 1
                p = params
                if tier == "naive":
                    run = lambda p=p, c=cell: naive(c, x, p)  # noqa: E731
                elif tier == "fused":
                    run = lambda p=p, c=cell: FUSED[c](x, p)  # noqa: E731
                    if cell in scripted:
                        variants.append(("torchscript", lambda p=p, c=cell: scripted[c](x, p)))
                elif tier == "builtin_cell":
                    run = lambda p=p, c=cell: builtin_cell(c, x, p)  # noqa: E731
                elif tier in ("builtin_seq", "cudnn"):
                    run = lambda m=module: m(x)[0]  # noqa: E731
                else:  # population
                    per = args.population
                    p = make_params(cell, d, hidden, per, device)
                    run = lambda p=p, c=cell: FUSED[c](x, p)  # noqa: E731
                    if cell in scripted:
                        variants.append(("torchscript", lambda p=p, c=cell: scripted[c](x, p)))
                variants[0] = ("eager", run)
                for variant, fn in variants:
                    for direction in ("forward", "forward_backward"):

                        def once(fn=fn, p=p, direction=direction):
                            if direction == "forward":
                                with torch.no_grad():
                                    fn()
                            else:
                                out = fn()
                                torch.autograd.grad(out.sum(), p)

                        with torch.backends.cudnn.flags(enabled=(tier == "cudnn")):
                            # TorchScript's profiling executor optimises after a few runs: give it them.
                            w = max(warmup, 3) if variant == "torchscript" else warmup
                            samples = time_runs(once, device, w, min_reps, min_time, max_reps)
                        s = sorted(x_ / per for x_ in samples)
                        med = quantile(s, 0.5)
                        gflop = matmul_flop(cell, seq, batch, d, hidden, direction) / 1e9
                        row = {
                            "framework": "pytorch",
                            "variant": variant,
                            "unit": UNIT[cell],
                            "cell": cell,
                            "form": form(cell),
                            "tier": TIERS.index(tier) + 1,
                            "tier_name": tier,
                            "device": dev_name,
                            "dtype": "f32",
                            "shape": {"seq": seq, "batch": batch, "input": d, "hidden": hidden},
                            "shape_set": set_name,
                            "direction": direction,
                            "population": per if tier == "population" else None,
                            "reps": len(s),
                            "median_ms": med,
                            "p10_ms": quantile(s, 0.1),
                            "p90_ms": quantile(s, 0.9),
                            "mean_ms": sum(s) / len(s),
                            "step_us": med * 1e3 / seq,
                            "matmul_gflop": gflop,
                            "gflops": gflop / (med * 1e-3),
                            "ratio_to_seq": None,
                            "ratio_to_cudnn": None,
                        }
                        rows.append(row)
                        print(
                            f"{cell:<11} {row['tier']} {tier:<13} {variant:<12} T{seq} B{batch} D{d} H{hidden} "
                            f"{direction:<17} {med:10.3f} ms",
                            file=sys.stderr,
                        )

    def ref(r, tier):
        for o in rows:
            if (
                o["tier_name"] == tier
                and o["form"] == "torch"
                and o["variant"] == "eager"
                and o["unit"] == r["unit"]
                and o["shape"] == r["shape"]
                and o["direction"] == r["direction"]
            ):
                return o["median_ms"]
        return None

    for r in rows:
        seq_ms, cudnn_ms = ref(r, "builtin_seq"), ref(r, "cudnn")
        r["ratio_to_seq"] = r["median_ms"] / seq_ms if seq_ms else None
        r["ratio_to_cudnn"] = r["median_ms"] / cudnn_ms if cudnn_ms else None

    meta = {
        "framework": "pytorch",
        "version": torch.__version__,
        "libtorch": torch.__version__,
        "device": dev_name,
        "device_name": cpu_model() if device.type == "cpu" else torch.cuda.get_device_name(device),
        "threads": torch.get_num_threads(),
        "dtype": "f32",
        "quick": args.quick,
        "population": args.population,
        "warmup": warmup,
        "min_reps": min_reps,
        "min_time_s": min_time,
        "peak_matmul_gflops": peak,
        "peak_matmul_n": n,
        "op_overhead_us": overhead,
        "onednn": torch.backends.mkldnn.enabled,
        "notes": notes,
    }
    print(f"{'cell':<11} {'tier':<15} {'variant':<12} {'shape':<24} {'dir':<17} {'median ms':>10} {'×seq':>7}")
    for r in rows:
        s = r["shape"]
        ratio = "-" if r["ratio_to_seq"] is None else f"{r['ratio_to_seq']:.2f}"
        print(
            f"{r['cell']:<11} {str(r['tier']) + ' ' + r['tier_name']:<15} {r['variant']:<12} "
            f"{'T%d B%d D%d H%d' % (s['seq'], s['batch'], s['input'], s['hidden']):<24} "
            f"{r['direction']:<17} {r['median_ms']:10.3f} {ratio:>7}"
        )
    print(
        f"PyTorch {torch.__version__} on {dev_name} ({meta['device_name']}, {meta['threads']} threads); "
        f"matmul peak {peak:.1f} GFLOP/s; {overhead:.2f} µs per tiny op"
    )
    for note in notes:
        print(f"note: {note}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=2)
            f.write("\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""How the layout of a batched matmul's right factor changes its cost on the CPU, at a population step's shapes.

    python3 scripts/bmm-layout.py [--members 30] [--batch 8] [--hidden 46] [--out results/bmm-layout.txt]

One thread, float32. For `h [K, B, H]` times a recurrent block `[K, H, 2H]` (the GRU's U_rz, transposed), it times
`torch.bmm` and `torch.baddbmm` with the block as a transposed view of the row-major weight (what autograd would use
in one of the two passes) and as a row-major copy (what rnnlab's evaluation and its recurrent product use), and the
backward pass's product `g [K, B, 2H]` times the block itself. libtorch's CPU kernels are the same as rnnlab's (the
pinned torch wheel). Prints a table, and writes it to --out when given (temp file, then rename). Run it on an
otherwise idle machine.
"""
import argparse
import os
import platform
import time

import torch


def timed(f, n=3000):
    for _ in range(50):
        f()
    t = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t) / n * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--members", type=int, default=30)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=46)
    ap.add_argument("--out")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    k, b, h = a.members, a.batch, a.hidden
    w = torch.randn(k, 3 * h, h)[:, : 2 * h]  # U_rz: rows of the recurrent matrix, row-major
    wt_view = w.transpose(1, 2)
    wt_rowmajor = wt_view.contiguous()
    x = torch.randn(k, b, h)
    acc = torch.randn(k, b, 2 * h)
    g = torch.randn(k, b, 2 * h)
    rows = [
        ("forward  bmm(h, U^T)     U^T a transposed view", timed(lambda: torch.bmm(x, wt_view))),
        ("forward  bmm(h, U^T)     U^T row-major", timed(lambda: torch.bmm(x, wt_rowmajor))),
        ("forward  baddbmm(a, h, U^T) transposed view", timed(lambda: torch.baddbmm(acc, x, wt_view))),
        ("forward  baddbmm(a, h, U^T) row-major", timed(lambda: torch.baddbmm(acc, x, wt_rowmajor))),
        ("backward bmm(g, U)       U row-major", timed(lambda: torch.bmm(g, w))),
        ("backward bmm(g, U)       U a transposed view", timed(lambda: torch.bmm(g, wt_rowmajor.transpose(1, 2)))),
    ]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
    lines = [
        f"# bmm layouts at one population step's shapes: K = {k}, B = {b}, H = {h} ([K, B, H] x [K, H, {2 * h}])",
        f"# torch {torch.__version__}, one thread, float32, CPU: {cpu} ({platform.machine()}); microseconds per call",
        f"#   python3 scripts/bmm-layout.py --members {k} --batch {b} --hidden {h}",
    ] + [f"{us:8.1f} us  {name}" for name, us in rows]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if a.out:
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, a.out)


if __name__ == "__main__":
    main()

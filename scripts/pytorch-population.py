#!/usr/bin/env python3
"""PyTorch peer of rnnlab's population training: the CPU cost of training K models (learning-rate candidates) on a
music benchmark, per member and epoch, in PyTorch written two ways. rnnlab's own figures are in
results/population-speed.*; this script gives the PyTorch side of that comparison.

Requirements (the same torch as rnnlab's libtorch):  pip install torch==2.13.0 numpy scipy

  python3 scripts/pytorch-population.py --data-dir DIR --mode batched --members 10 [--epochs 2] [--json out.json]
  python3 scripts/pytorch-population.py --data-dir DIR --mode sequential --members 10 [--epochs 2]
  python3 scripts/pytorch-population.py --check        # gradient and step checks in float64, seconds, no data

Also --dataset jsb|nottingham|musedata (default jsb), --hidden H (default 46), --max-updates N (a smoke test: N
updates per epoch; the result records it). The JSON (printed, and written with --json) holds the CPU and wall
seconds per member-epoch, their training and evaluation parts, every epoch's figures, the CPU model and threads.

Modes:
  batched     the population hand-batched, as rnnlab does it: every parameter has a leading [K] (the paper's GRU,
              weight_ih [K,3H,D], weight_hh [K,3H,H], bias [K,3H]; output layer [K,88,H], [K,88]), the input
              projection of all steps in one batched matmul, bmm/baddbmm per step, the members' losses summed so
              that one backward pass gives every member its own gradient. (torch.func.vmap cannot batch nn.GRU,
              hence the hand-written cell.)
  sequential  the K members one after another, each an nn.GRU(88, H) (PyTorch's GRU form: reset applied after the
              recurrent matmul, z weighting the old state) plus nn.Linear(H, 88), each with its own optimizer steps
              (PyTorch's default initialisation; the batched members take rnnlab's paper initialisation).

The recipe is rnnlab's default one (src/config/mod.rs): GRU of 46 units (Table 1 of Chung et al. 2014, "Empirical
Evaluation of Gated Recurrent Neural Networks on Sequence Modeling", arXiv:1412.3555); predict frame t+1 from
frame t, Bernoulli NLL summed over the 88 keys, per predicted frame; training pieces cut into zero-state chunks of
at most 50 predicted frames, 8 chunks per update (length-bucketed, shuffled every epoch); Gaussian weight noise
sigma 0.075 on the weights (not the biases) for the forward and backward pass only; each member's gradient clipped
to L2 norm 1 over all its parameters; RMSProp with momentum (ms = 0.95 ms + 0.05 g^2, rms = max(sqrt(ms), 1e-2),
v = 0.9 v - lr g / rms, w += v); learning rates exp(U(-12, -6)). After every epoch each member is evaluated on
the whole validation and test splits (no gradient, 64 whole pieces per batch, length-bucketed, each batch run in
slices of 100 frames with the state carried across, as rnnlab does).

Timing: one torch thread (intra- and inter-op), float32; each epoch, training plus evaluation, is timed with the
thread's CPU time (time.thread_time) and the wall clock. cpu_s_per_member_epoch is the epoch's CPU seconds over K,
averaged over the epochs after the first when there are several. Run it on a quiet machine.

Data: DIR/music/JSB_Chorales.mat, Nottingham.mat or MuseData.mat (variables traindata, validdata, testdata: 1xN
cell arrays of T x 88 binary matrices, column k = MIDI note 21 + k), the files rnnlab reads.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

KEYS = 88
FILES = {"jsb": "JSB_Chorales.mat", "nottingham": "Nottingham.mat", "musedata": "MuseData.mat"}
SPLITS = {"train": ("traindata", "train"), "valid": ("validdata", "valid"), "test": ("testdata", "test")}

# rnnlab's defaults (src/config/mod.rs).
HIDDEN = 46
CHUNK_LEN = 50
BATCH_SIZE = 8
EVAL_BATCH_SIZE = 16
EVAL_CHUNK = 50  # evaluation runs each batch in slices of this many frames, the state carried across
WEIGHT_NOISE = 0.075
CLIP_NORM = 1.0
RMS_DECAY = 0.95
RMS_FLOOR = 1e-2
MOMENTUM = 0.9
LR_EXP = (-12.0, -6.0)
INIT_SCALE = 0.1
SEED = 2014


def fail(message: str, code: int = 2) -> None:
    print(f"pytorch-population: {message}", file=sys.stderr)
    sys.exit(code)


# ---------------------------------------------------------------------------------------------------------------
# Data


def load_music(data_dir: str, dataset: str) -> Dict[str, List[np.ndarray]]:
    """The three splits of a music MAT file as lists of [T, 88] uint8 piano rolls, checked as rnnlab checks them."""
    path = os.path.join(data_dir, "music", FILES[dataset])
    if not os.path.isfile(path):
        fail(
            f"{path} not found: point --data-dir at a directory holding music/{FILES[dataset]} "
            f"(rnnlab downloads it with `rnnlab data fetch --dataset {dataset}`)"
        )
    try:
        import scipy.io as sio
    except ImportError:
        fail("reading .mat files needs scipy: pip install scipy")
    try:
        mat = sio.loadmat(path)
    except Exception as e:  # noqa: BLE001 - any reading error is reported with the file's name
        fail(f"{path} is not a readable MAT v5/v7 file ({e})")
    out: Dict[str, List[np.ndarray]] = {}
    for split, names in SPLITS.items():
        name = next((n for n in names if n in mat), None)
        if name is None:
            fail(f"{path}: missing variable {names[0]} (or {names[1]}); expected traindata, validdata, testdata")
        cells = mat[name]
        if cells.dtype != object or cells.size == 0:
            fail(f"{path}: {name} is not a non-empty cell array of T x {KEYS} matrices")
        rolls = []
        for i, c in enumerate(cells.flat):
            a = np.asarray(c)
            if a.ndim != 2 or a.shape[1] != KEYS or a.shape[0] == 0:
                fail(f"{path}: {name}{{{i + 1}}} has shape {a.shape}, expected T x {KEYS}")
            if not np.isin(a, (0, 1)).all():
                fail(f"{path}: {name}{{{i + 1}}} holds values other than 0 and 1")
            rolls.append(a.astype(np.uint8))
        out[split] = rolls
    return out


def chunk_pieces(pieces: Sequence[np.ndarray], chunk_len: int) -> List[np.ndarray]:
    """Chunks of at most chunk_len predicted frames; consecutive chunks share one frame (rnnlab's chunk_pieces)."""
    out = []
    for p in pieces:
        t, start = len(p), 0
        while start + 1 < t:
            end = min(start + chunk_len + 1, t)
            out.append(p[start:end])
            start = end - 1
    return out


def plan_batches(lengths: Sequence[int], batch_size: int, rng: Optional[np.random.Generator]) -> List[List[int]]:
    """Shuffled (when rng), length-bucketed batches of piece indices, the batch order shuffled (rnnlab's plan)."""
    order = [i for i in range(len(lengths)) if lengths[i] > 1]
    if rng is not None:
        order = [order[i] for i in rng.permutation(len(order))]
    order.sort(key=lambda i: lengths[i])  # stable: equal lengths keep their shuffled order
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


class Batch:
    """x, y: [L, B, 88] (y = the next frame), mask: [L, B] (1 at predicted frames), frames: the mask's ones."""

    def __init__(self, pieces: Sequence[np.ndarray], dtype: torch.dtype):
        steps = [len(p) - 1 for p in pieces]
        length, b = max(steps), len(pieces)
        seq = np.zeros((length + 1, b, KEYS), dtype=np.uint8)
        mask = np.zeros((length, b), dtype=np.uint8)
        for j, p in enumerate(pieces):
            seq[: len(p), j] = p
            mask[: steps[j], j] = 1
        seq_t = torch.from_numpy(seq).to(dtype)
        self.x = seq_t[:-1]
        self.y = seq_t[1:]
        self.mask = torch.from_numpy(mask).to(dtype)
        self.frames = sum(steps)


def make_batches(pieces: Sequence[np.ndarray], plan: List[List[int]], dtype: torch.dtype) -> List[Batch]:
    return [Batch([pieces[i] for i in b], dtype) for b in plan]


# ---------------------------------------------------------------------------------------------------------------
# The hand-batched population (paper GRU, Chung et al. 2014 eqs. 5-8; gate rows r, z, candidate)


def init_population(k: int, hidden: int, gen: torch.Generator, dtype: torch.dtype) -> List[Tensor]:
    """rnnlab's paper initialisation: input and output weights U(-0.1, 0.1), each H x H recurrent block orthogonal,
    biases zero. Returns [weight_ih, weight_hh, bias, out_weight, out_bias], each with a leading [K]."""
    h = hidden

    def uniform(*shape):
        return (torch.rand(*shape, generator=gen, dtype=torch.float64) * 2 - 1) * INIT_SCALE

    def orthogonal():
        q, r = torch.linalg.qr(torch.randn(k, h, h, generator=gen, dtype=torch.float64))
        return q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)

    params = [
        uniform(k, 3 * h, KEYS),
        torch.cat([orthogonal() for _ in range(3)], dim=1),
        torch.zeros(k, 3 * h, dtype=torch.float64),
        uniform(k, KEYS, h),
        torch.zeros(k, KEYS, dtype=torch.float64),
    ]
    return [p.to(dtype).requires_grad_(True) for p in params]


NOISY = [True, True, False, True, False]  # weights get noise, biases do not


def paper_gru_step(xp_t: Tensor, h: Tensor, u_rz_t: Tensor, u_n_t: Tensor) -> Tensor:
    """One step for all members: xp_t [K, B, 3H] (W x + b), h [K, B, H], u_rz_t [K, H, 2H], u_n_t [K, H, H]."""
    hd = h.shape[-1]
    rz = torch.sigmoid(torch.baddbmm(xp_t[..., : 2 * hd], h, u_rz_t))
    r, z = rz[..., :hd], rz[..., hd:]
    cand = torch.tanh(torch.baddbmm(xp_t[..., 2 * hd :], r * h, u_n_t))
    return h + z * (cand - h)  # (1 - z) h + z h~


def population_logits(params: Sequence[Tensor], x: Tensor, h0: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """[K, L, B, 88] output logits of every member for input x [L, B, 88], from state h0 [K, B, H] (zero when None),
    and the final state."""
    w_ih, w_hh, bias, w_out, b_out = params
    k, g, d = w_ih.shape
    hd = g // 3
    length, b, _ = x.shape
    # The input projection of every step, all members at once: [K, L*B, 3H].
    xp = torch.baddbmm(bias.unsqueeze(1), x.reshape(1, length * b, d).expand(k, -1, -1), w_ih.transpose(1, 2))
    xp = xp.view(k, length, b, g)
    u_rz_t = w_hh[:, : 2 * hd].transpose(1, 2)
    u_n_t = w_hh[:, 2 * hd :].transpose(1, 2)
    h = x.new_zeros(k, b, hd) if h0 is None else h0
    hs = []
    for t in range(length):
        h = paper_gru_step(xp[:, t], h, u_rz_t, u_n_t)
        hs.append(h)
    hs_t = torch.stack(hs, dim=1).view(k, length * b, hd)
    return torch.baddbmm(b_out.unsqueeze(1), hs_t, w_out.transpose(1, 2)).view(k, length, b, KEYS), h


def masked_nll_sum(logits: Tensor, y: Tensor, mask: Tensor, dims) -> Tensor:
    """Bernoulli NLL summed over the 88 keys, then over the predicted frames (mask) and `dims`."""
    nll = nn.functional.binary_cross_entropy_with_logits(logits, y.expand_as(logits), reduction="none").sum(-1)
    return (nll * mask).sum(dims)


def population_nll_sum(params: Sequence[Tensor], batch: Batch, chunk: int = 0) -> Tensor:
    """Each member's NLL summed over the batch's predicted frames and keys: [K]. chunk > 0 runs the batch in time
    slices of that many frames with the state carried across (the same result, less memory)."""
    length = batch.x.shape[0]
    step = chunk if chunk > 0 else length
    h, total = None, None
    for t0 in range(0, length, step):
        sl = slice(t0, t0 + step)
        logits, h = population_logits(params, batch.x[sl], h)
        s = masked_nll_sum(logits, batch.y[sl], batch.mask[sl], (1, 2))
        total = s if total is None else total + s
    return total


def population_grads(
    params: Sequence[Tensor], noise: Sequence[Optional[Tensor]], batch: Batch
) -> Tuple[Tensor, List[Tensor]]:
    """Per-member NLL sums [K] and gradients (each with a leading [K]) of sum_m L_m, L_m = NLL_m / frames, at the
    noisy weights w + noise; non-finite members are left out of the sum so they cannot poison the others."""
    noisy = [p if n is None else p + n for p, n in zip(params, noise)]
    nll_sum = population_nll_sum(noisy, batch)
    per_frame = nll_sum / batch.frames
    loss = torch.where(torch.isfinite(per_frame), per_frame, torch.zeros_like(per_frame)).sum()
    grads = torch.autograd.grad(loss, list(params))
    return nll_sum.detach(), list(grads)


def clip_per_member(grads: List[Tensor], clip: float) -> Tuple[List[Tensor], Tensor]:
    """Rescales each member's gradient to L2 norm <= clip over all its parameters; a non-finite member's to zero."""
    sq = sum(g.reshape(g.shape[0], -1).square().sum(1) for g in grads)
    norm = sq.sqrt()
    finite = torch.isfinite(norm)
    scale = torch.where(finite, (clip / norm).clamp(max=1.0), torch.zeros_like(norm))
    return [torch.nan_to_num(g, 0.0, 0.0, 0.0) * scale.view(-1, *([1] * (g.dim() - 1))) for g in grads], finite


def rmsprop_step(params: Sequence[Tensor], grads: Sequence[Tensor], ms: List[Tensor], vel: List[Tensor], lr) -> None:
    """ms = 0.95 ms + 0.05 g^2; rms = max(sqrt(ms), 1e-2); v = 0.9 v - lr g / rms; w += v. lr: a float, or a [K]
    tensor for a population (broadcast over each member's parameter)."""
    with torch.no_grad():
        for p, g, m, v in zip(params, grads, ms, vel):
            m.mul_(RMS_DECAY).addcmul_(g, g, value=1.0 - RMS_DECAY)
            rms = m.sqrt().clamp_(min=RMS_FLOOR)
            v.mul_(MOMENTUM)
            if isinstance(lr, Tensor):
                v.sub_(g.div(rms).mul_(lr.view(-1, *([1] * (g.dim() - 1)))))
            else:
                v.addcdiv_(g, rms, value=-lr)
            p.add_(v)


class BatchedPopulation:
    def __init__(self, lrs: Sequence[float], hidden: int, dtype: torch.dtype, gen: torch.Generator):
        self.k = len(lrs)
        self.lr = torch.tensor(lrs, dtype=dtype)
        self.params = init_population(self.k, hidden, gen, dtype)
        self.ms = [torch.zeros_like(p) for p in self.params]
        self.vel = [torch.zeros_like(p) for p in self.params]
        self.gen = gen

    def draw_noise(self, sigma: float) -> List[Optional[Tensor]]:
        return [
            torch.randn(p.shape, generator=self.gen, dtype=p.dtype) * sigma if noisy else None
            for p, noisy in zip(self.params, NOISY)
        ]

    def update(self, batch: Batch) -> Tensor:
        nll_sum, grads = population_grads(self.params, self.draw_noise(WEIGHT_NOISE), batch)
        grads, _ = clip_per_member(grads, CLIP_NORM)
        rmsprop_step(self.params, grads, self.ms, self.vel, self.lr)
        return nll_sum

    @torch.no_grad()
    def evaluate(self, batches: Sequence[Batch]) -> List[float]:
        total = torch.zeros(self.k, dtype=torch.float64)
        frames = 0
        for b in batches:
            total += population_nll_sum(self.params, b, EVAL_CHUNK).double()
            frames += b.frames
        return (total / frames).tolist()


# ---------------------------------------------------------------------------------------------------------------
# One member at a time: nn.GRU + nn.Linear


class Member(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.rnn = nn.GRU(KEYS, hidden)
        self.out = nn.Linear(hidden, KEYS)

    def nll_sum(self, batch: Batch, chunk: int = 0) -> Tensor:
        length = batch.x.shape[0]
        step = chunk if chunk > 0 else length
        h, total = None, None
        for t0 in range(0, length, step):
            sl = slice(t0, t0 + step)
            out, h = self.rnn(batch.x[sl], h)
            s = masked_nll_sum(self.out(out), batch.y[sl], batch.mask[sl], None)
            total = s if total is None else total + s
        return total


class SequentialMember:
    def __init__(self, lr: float, hidden: int, dtype: torch.dtype, gen: torch.Generator):
        self.lr = lr
        self.model = Member(hidden).to(dtype)
        self.params = list(self.model.parameters())
        self.noisy = ["bias" not in name for name, _ in self.model.named_parameters()]
        self.ms = [torch.zeros_like(p) for p in self.params]
        self.vel = [torch.zeros_like(p) for p in self.params]
        self.gen = gen

    def update(self, batch: Batch) -> float:
        # Weight noise for this forward/backward only: perturb in place, restore the clean values after.
        clean = []
        with torch.no_grad():
            for p, noisy in zip(self.params, self.noisy):
                if noisy:
                    clean.append(p.detach().clone())
                    p.add_(torch.randn(p.shape, generator=self.gen, dtype=p.dtype) * WEIGHT_NOISE)
                else:
                    clean.append(None)
        self.model.zero_grad(set_to_none=True)
        nll_sum = self.model.nll_sum(batch)
        (nll_sum / batch.frames).backward()
        with torch.no_grad():
            for p, c in zip(self.params, clean):
                if c is not None:
                    p.copy_(c)
        # PyTorch's own clipping (it rescales by 1 / (norm + 1e-6), rnnlab by 1 / norm: no difference in cost).
        nn.utils.clip_grad_norm_(self.params, CLIP_NORM)
        rmsprop_step(self.params, [p.grad for p in self.params], self.ms, self.vel, self.lr)
        return nll_sum.item()

    @torch.no_grad()
    def evaluate(self, batches: Sequence[Batch]) -> float:
        total, frames = 0.0, 0
        for b in batches:
            total += self.model.nll_sum(b, EVAL_CHUNK).item()
            frames += b.frames
        return total / frames


# ---------------------------------------------------------------------------------------------------------------
# Training and timing


def learning_rates(k: int) -> List[float]:
    rng = np.random.default_rng(SEED)
    return [math.exp(rng.uniform(*LR_EXP)) for _ in range(k)]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run(args) -> dict:
    dtype = torch.float32
    data = load_music(args.data_dir, args.dataset)
    train_pieces = chunk_pieces(data["train"], CHUNK_LEN)
    lengths = [len(p) for p in train_pieces]
    eval_batches = {
        s: make_batches(data[s], plan_batches([len(p) for p in data[s]], EVAL_BATCH_SIZE, None), dtype)
        for s in ("valid", "test")
    }
    lrs = learning_rates(args.members)
    gen = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)  # nn.GRU / nn.Linear initialisation
    if args.mode == "batched":
        pop = BatchedPopulation(lrs, args.hidden, dtype, gen)
    else:
        members = [SequentialMember(lr, args.hidden, dtype, gen) for lr in lrs]

    epochs = []
    for epoch in range(1, args.epochs + 1):
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        rng = np.random.default_rng([SEED, epoch])
        plan = plan_batches(lengths, BATCH_SIZE, rng)
        if args.max_updates:
            plan = plan[: args.max_updates]
        batches = make_batches(train_pieces, plan, dtype)
        if args.mode == "batched":
            train_nll = torch.zeros(args.members, dtype=torch.float64)
            for b in batches:
                train_nll += pop.update(b).double()
            cpu1, wall1 = time.thread_time(), time.perf_counter()
            valid = pop.evaluate(eval_batches["valid"])
            test = pop.evaluate(eval_batches["test"])
            train_nll = train_nll.tolist()
            cpu_train, wall_train = cpu1 - cpu0, wall1 - wall0
        else:
            train_nll, valid, test = [], [], []
            cpu_train = wall_train = 0.0
            for m in members:
                c0, w0 = time.thread_time(), time.perf_counter()
                train_nll.append(sum(m.update(b) for b in batches))
                cpu_train += time.thread_time() - c0
                wall_train += time.perf_counter() - w0
                valid.append(m.evaluate(eval_batches["valid"]))
                test.append(m.evaluate(eval_batches["test"]))
        cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
        frames = sum(b.frames for b in batches)
        record = {
            "epoch": epoch,
            "updates": len(batches),
            "cpu_s": cpu,
            "wall_s": wall,
            "train_cpu_s": cpu_train,
            "eval_cpu_s": cpu - cpu_train,
            "train_wall_s": wall_train,
            "eval_wall_s": wall - wall_train,
            "mean_train_nll": float(np.mean([t / frames for t in train_nll])),
            "mean_valid_nll": float(np.mean(valid)),
            "mean_test_nll": float(np.mean(test)),
        }
        epochs.append(record)
        print(
            f"epoch {epoch}: {record['updates']} updates, {cpu:.2f} CPU-s ({cpu_train:.2f} train, "
            f"{cpu - cpu_train:.2f} eval), {wall:.2f} s wall; mean valid NLL {record['mean_valid_nll']:.3f}",
            file=sys.stderr,
        )

    counted = epochs[1:] if len(epochs) > 1 else epochs
    k = args.members

    def per_member_epoch(key: str) -> float:
        return float(np.mean([e[key] for e in counted])) / k

    form = (
        "paper GRU (reset applied to h before the recurrent matmul), hand-batched over members with bmm/baddbmm"
        if args.mode == "batched"
        else "torch nn.GRU (PyTorch's form: reset applied after the recurrent matmul) + nn.Linear, one member at a time"
    )
    return {
        "framework": "pytorch",
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "mode": args.mode,
        "gru_form": form,
        "dataset": args.dataset,
        "members": k,
        "hidden": args.hidden,
        "epochs": args.epochs,
        "epochs_counted": [e["epoch"] for e in counted],
        "max_updates": args.max_updates or None,
        "cpu_s_per_member_epoch": per_member_epoch("cpu_s"),
        "wall_s_per_member_epoch": per_member_epoch("wall_s"),
        "train_cpu_s_per_member_epoch": per_member_epoch("train_cpu_s"),
        "eval_cpu_s_per_member_epoch": per_member_epoch("eval_cpu_s"),
        "recipe": {
            "chunk_len": CHUNK_LEN,
            "batch_size": BATCH_SIZE,
            "eval_batch_size": EVAL_BATCH_SIZE,
            "weight_noise": WEIGHT_NOISE,
            "clip_norm": CLIP_NORM,
            "rms_decay": RMS_DECAY,
            "rms_floor": RMS_FLOOR,
            "momentum": MOMENTUM,
            "learning_rates": lrs,
            "dtype": "float32",
        },
        "train_chunks": len(train_pieces),
        "per_epoch": epochs,
        "cpu_model": cpu_model(),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
    }


def write_json_atomic(path: str, obj: dict) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".pytorch-population.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------------------------------------------
# --check: float64, two members, random binary data


def one_member_nll_sum(p: Sequence[Tensor], batch: Batch) -> Tensor:
    """One member's NLL sum written out gate by gate with plain matmuls (no bmm): the reference for the batched
    code. p: weight_ih [3H, D], weight_hh [3H, H], bias [3H], out_weight [88, H], out_bias [88]."""
    w_ih, w_hh, bias, w_out, b_out = p
    hd = w_hh.shape[1]
    w_r, w_z, w_c = w_ih[:hd], w_ih[hd : 2 * hd], w_ih[2 * hd :]
    u_r, u_z, u_c = w_hh[:hd], w_hh[hd : 2 * hd], w_hh[2 * hd :]
    b_r, b_z, b_c = bias[:hd], bias[hd : 2 * hd], bias[2 * hd :]
    h = batch.x.new_zeros(batch.x.shape[1], hd)
    total = batch.x.new_zeros(())
    for t in range(batch.x.shape[0]):
        h = one_member_step(batch.x[t], h, (w_r, w_z, w_c, u_r, u_z, u_c, b_r, b_z, b_c))
        logits = h @ w_out.T + b_out
        y = batch.y[t]
        # -[y log s(a) + (1 - y) log(1 - s(a))], written out
        nll = -(y * torch.log(torch.sigmoid(logits)) + (1 - y) * torch.log(1 - torch.sigmoid(logits))).sum(-1)
        total = total + (nll * batch.mask[t]).sum()
    return total


def one_member_step(x: Tensor, h: Tensor, w) -> Tensor:
    """The paper's equations for one member: r, z = s(W x + U h + b); h~ = tanh(W x + U (r*h) + b);
    h' = (1 - z) h + z h~."""
    w_r, w_z, w_c, u_r, u_z, u_c, b_r, b_z, b_c = w
    r = torch.sigmoid(x @ w_r.T + h @ u_r.T + b_r)
    z = torch.sigmoid(x @ w_z.T + h @ u_z.T + b_z)
    cand = torch.tanh(x @ w_c.T + (r * h) @ u_c.T + b_c)
    return (1 - z) * h + z * cand


def check() -> int:
    torch.manual_seed(1)
    dtype = torch.float64
    gen = torch.Generator().manual_seed(7)
    k, hd = 2, 6
    failures = []

    def expect(ok: bool, what: str) -> None:
        print(("ok    " if ok else "FAIL  ") + what)
        if not ok:
            failures.append(what)

    rng = np.random.default_rng(3)
    pieces = [(rng.random((n, KEYS)) < 0.1).astype(np.uint8) for n in (9, 7, 5)]
    batch = Batch(pieces, dtype)

    # 1. The batched step equals the written-out one-member step, for every member.
    pop = BatchedPopulation([1e-3, 3e-3], hd, dtype, gen)
    with torch.no_grad():
        for p in pop.params:  # biases non-zero and weights larger, so that every term matters
            p.copy_(torch.randn(p.shape, generator=gen, dtype=dtype) * 0.5)
    w_ih, w_hh, bias = pop.params[:3]
    x0 = batch.x[0]
    h0 = torch.randn(k, 3, hd, generator=gen, dtype=dtype)
    with torch.no_grad():
        xp = torch.baddbmm(bias.unsqueeze(1), x0.expand(k, -1, -1), w_ih.transpose(1, 2))
        h1 = paper_gru_step(xp, h0, w_hh[:, : 2 * hd].transpose(1, 2), w_hh[:, 2 * hd :].transpose(1, 2))
        for m in range(k):
            split = lambda t: (t[m, :hd], t[m, hd : 2 * hd], t[m, 2 * hd :])  # noqa: E731
            ref = one_member_step(x0, h0[m], (*split(w_ih), *split(w_hh), *split(bias)))
            err = (h1[m] - ref).abs().max().item()
            expect(err < 1e-12, f"paper GRU step, member {m}: batched = written-out one-member step ({err:.1e})")

    # 2. Member m's gradient from the summed population loss = one member's own gradient, at the same noisy weights.
    noise = pop.draw_noise(WEIGHT_NOISE)
    nll_sum, grads = population_grads(pop.params, noise, batch)
    expect(all(g.shape == p.shape for g, p in zip(grads, pop.params)), "gradient shapes [K, ...]")
    singles = []
    for m in range(k):
        wm = [
            (p[m] if n is None else p[m] + n[m]).detach().clone().requires_grad_(True)
            for p, n in zip(pop.params, noise)
        ]
        nll_m = one_member_nll_sum(wm, batch)
        g_m = torch.autograd.grad(nll_m / batch.frames, wm)
        singles.append(g_m)
        e_nll = abs(nll_m.item() - nll_sum[m].item())
        expect(e_nll < 1e-10, f"member {m}: batched NLL {nll_sum[m].item():.9f} = one-member NLL ({e_nll:.1e})")
        e_g = max((g[m] - gm).abs().max().item() for g, gm in zip(grads, g_m))
        expect(e_g < 1e-10, f"member {m}: batched gradient = one-member gradient, all 5 parameters ({e_g:.1e})")
    e_noise = (noise[2] is None) and (noise[4] is None) and all(noise[i] is not None for i in (0, 1, 3))
    expect(e_noise, "weight noise on weight_ih, weight_hh, out_weight only (not the biases)")

    # 2b. Evaluation in time slices with the state carried = the whole batch at once, both modes.
    with torch.no_grad():
        whole, sliced = population_nll_sum(pop.params, batch), population_nll_sum(pop.params, batch, 3)
        err = (whole - sliced).abs().max().item()
        expect(err < 1e-10, f"batched NLL in slices of 3 frames = whole pieces (max |diff| {err:.1e})")
        seq_member = SequentialMember(1e-3, hd, dtype, gen)
        err = abs(seq_member.model.nll_sum(batch).item() - seq_member.model.nll_sum(batch, 3).item())
        expect(err < 1e-10, f"sequential NLL in slices of 3 frames = whole pieces (|diff| {err:.1e})")

    # 3. The per-member clipping and RMSProp step = the same clipping and step of one member alone (its norm from
    # clip_grad_norm_, which with max_norm = inf only measures).
    before = [p.detach().clone() for p in pop.params]
    clipped, _ = clip_per_member(grads, CLIP_NORM)
    rmsprop_step(pop.params, clipped, pop.ms, pop.vel, pop.lr)
    norms = []
    for m in range(k):
        ps = [b[m].clone().requires_grad_(True) for b in before]
        for p, g in zip(ps, singles[m]):
            p.grad = g.clone()
        # clip_grad_norm_ would rescale by 1 / (norm + 1e-6); rnnlab's rule (and the batched code) by 1 / norm.
        norm = nn.utils.clip_grad_norm_(ps, math.inf).item()
        norms.append(norm)
        ref = [g * min(1.0, CLIP_NORM / norm) for g in singles[m]]
        ms = [torch.zeros_like(p) for p in ps]
        vel = [torch.zeros_like(p) for p in ps]
        rmsprop_step(ps, ref, ms, vel, pop.lr[m].item())
        err = max((p[m] - q).abs().max().item() for p, q in zip(pop.params, ps))
        expect(err < 1e-12, f"member {m}: clipped RMSProp update = one member's ({err:.1e}; grad norm {norm:.2f})")
    expect(any(n > CLIP_NORM for n in norms), "clipping was exercised (a gradient norm above 1)")

    # 4. The RMSProp rule on a known case: g = 1, lr = 0.1 from zero state: ms = 0.05, w = -0.1 / sqrt(0.05).
    w = torch.zeros(3, dtype=dtype)
    zeros = [torch.zeros(3, dtype=dtype) for _ in range(2)]
    rmsprop_step([w], [torch.ones(3, dtype=dtype)], [zeros[0]], [zeros[1]], 0.1)
    expect(abs(w[0].item() + 0.1 / math.sqrt(0.05)) < 1e-12, "RMSProp: w = -0.1/sqrt(0.05) after one step of g = 1")

    # 5. The sequential member: its update moves every parameter from the clean weights; no noise on biases.
    member = SequentialMember(1e-3, hd, dtype, gen)
    b0 = [p.detach().clone() for p in member.params]
    member.update(batch)
    moved = all(not torch.equal(a, p) for a, p in zip(b0, member.params))
    expect(moved, "sequential member: one update moves every parameter")
    clean = all(torch.equal(p, a + v) for a, p, v in zip(b0, member.params, member.vel))
    expect(clean, "sequential member: the step lands on the clean weights (w = w0 + v, the noise removed)")
    noisy_names = [n for (n, _), noisy in zip(member.model.named_parameters(), member.noisy) if noisy]
    expect(
        noisy_names == ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "out.weight"],
        "sequential member: weight noise on rnn.weight_ih_l0, rnn.weight_hh_l0, out.weight only",
    )

    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


# ---------------------------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["batched", "sequential"], default="batched")
    ap.add_argument("--dataset", choices=sorted(FILES), default="jsb")
    ap.add_argument("--data-dir", default=os.environ.get("RNNLAB_DATA", "data"),
                    help="directory holding music/<file>.mat (default: $RNNLAB_DATA, else ./data)")
    ap.add_argument("--members", type=int, default=10, help="K, the population size (default 10)")
    ap.add_argument("--hidden", type=int, default=HIDDEN, help=f"GRU units (default {HIDDEN}, Table 1)")
    ap.add_argument("--epochs", type=int, default=2, help="epochs to time (default 2; the first is not counted)")
    ap.add_argument("--max-updates", type=int, default=0, help="stop each epoch's training after N updates "
                    "(smoke tests; 0: the whole epoch)")
    ap.add_argument("--json", help="write the result here too (atomically)")
    ap.add_argument("--check", action="store_true", help="run the float64 correctness checks and exit")
    args = ap.parse_args()

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    if args.check:
        sys.exit(check())
    if args.members < 1 or args.epochs < 1 or args.hidden < 1 or args.max_updates < 0:
        fail("--members, --epochs and --hidden must be at least 1, --max-updates at least 0")
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        fail(f"--json {args.json}: its directory does not exist; create it first")
    result = run(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        try:
            write_json_atomic(args.json, result)
        except OSError as e:
            fail(f"cannot write {args.json}: {e}", 1)


if __name__ == "__main__":
    main()

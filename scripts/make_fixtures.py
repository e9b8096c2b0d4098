#!/usr/bin/env python3
"""Generate golden fixtures for rnnlab's recurrent cells: tests/fixtures/cells.json.

What it generates
-----------------
Small, deterministic (seeded) float64 test cases for every cell:

  "tanh"        Elman RNN, PyTorch layout and semantics:
                h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
                params: weight_ih [H,D], weight_hh [H,H], bias_ih [H], bias_hh [H]
  "torch_gru"   PyTorch GRU layout/semantics (rows r, z, n; reset applied AFTER
                the hidden matmul: n = tanh(W_n x + b_in + r*(U_n h + b_hn)),
                h' = (1-z)*n + z*h)
                params: weight_ih [3H,D], weight_hh [3H,H], bias_ih [3H], bias_hh [3H]
  "torch_lstm"  PyTorch LSTM layout/semantics (rows i, f, g, o)
                params: weight_ih [4H,D], weight_hh [4H,H], bias_ih [4H], bias_hh [4H]
  "paper_gru"   Chung et al. 2014 GRU (reset BEFORE the matmul):
                r = sig(W_r x + U_r h + b_r); z = sig(W_z x + U_z h + b_z)
                n = tanh(W_n x + U_n (r*h) + b_n); h' = (1-z)*h + z*n
                params: weight_ih [3H,D] rows (r,z,n), weight_hh [3H,H] rows (r,z,n),
                        bias [3H] rows (r,z,n)
  "paper_lstm"  Graves 2013 LSTM with peepholes (o peeks at the NEW cell):
                i = sig(W_i x + U_i h + V_i*c + b_i); f = sig(W_f x + U_f h + V_f*c + b_f)
                g = tanh(W_g x + U_g h + b_g); c' = f*c + i*g
                o = sig(W_o x + U_o h + V_o*c' + b_o); h' = o*tanh(c')
                params: weight_ih [4H,D] rows (i,f,g,o), weight_hh [4H,H] rows (i,f,g,o),
                        bias [4H], peephole [3H] = concat(V_i, V_f, V_o)

Units beyond Chung et al. 2014 (same reference as the paper forms: independent NumPy
forward, torch-ops autograd, finite-difference spot checks; see below):

  "mgu"         Zhou et al. 2016: f = sig(W_f x + U_f h + b_f);
                n = tanh(W_h x + U_h (f*h) + b_h); h' = (1-f)*h + f*n
                params: weight_ih [2H,D] (f,h), weight_hh [2H,H] (f,h), bias [2H]
  "mut1"        Jozefowicz et al. 2015: z = sig(W_xz x + b_z); r = sig(W_xr x + W_hr h + b_r);
                h' = tanh(W_hh (r*h) + tanh(m(x)) + b_h)*z + h*(1-z)
                params: weight_ih [2H,D] (z,r), weight_hh [2H,H] (r,h), bias [3H] (z,r,h)
  "mut2"        z = sig(W_xz x + W_hz h + b_z); r = sig(m(x) + W_hr h + b_r);
                h' = tanh(W_hh (r*h) + W_xh x + b_h)*z + h*(1-z)
                params: weight_ih [2H,D] (z,h), weight_hh [3H,H] (z,r,h), bias [3H] (z,r,h)
                (mut1, mut2: m(x) = x when D == H; m(x) = weight_x @ x, weight_x [H,D],
                when D != H: rnnlab's documented deviation for inputs of another size)
  "mut3"        z = sig(W_xz x + W_hz tanh(h) + b_z); r = sig(W_xr x + W_hr h + b_r);
                h' = tanh(W_hh (r*h) + W_xh x + b_h)*z + h*(1-z)
                params: weight_ih [3H,D], weight_hh [3H,H], bias [3H], rows (z,r,h)
  "lstm_nig", "lstm_nfg", "lstm_nog", "lstm_niaf", "lstm_noaf", "lstm_np", "lstm_cifg"
                Greff et al. 2017's variants of the paper LSTM above: no input gate (i=1),
                no forget gate (f=1), no output gate (o=1), no input activation (g linear),
                no output activation (h' = o*c'), no peepholes, coupled gates (f = 1-i).
                params: weight_ih [G*H,D], weight_hh [G*H,H], bias [G*H] with the gate rows
                present, in the order i, f, g, o; peephole [P*H] for the gates among i, f, o
                that are present (none for lstm_np; lstm_cifg: V_i, V_o).

JSON schema
-----------
Top level:
  {"generator": "scripts/make_fixtures.py", "torch_version": str, "numpy_version": str,
   "loss": "sum(output*grad_output) + sum(h_n*grad_h_n) + sum(c_n*grad_c_n)",
   "cases": [case, ...]}
Every tensor is {"shape": [..], "data": [flat row-major floats]} (floats written by
Python's json, i.e. repr, so they round-trip exactly to f64).
Each case:
  {"name": str, "cell": a cell name ("tanh", "torch_gru", ..., "lstm_cifg"),
   "reference": str, "seq_len": T, "batch": B, "input_size": D, "hidden_size": H,
   "params": {name: tensor},
   "x": [T,B,D], "h0": [B,H], "c0": [B,H] (LSTM cells only),
   "output": [T,B,H] (h_t of every step), "h_n": [B,H], "c_n": [B,H] (LSTM only),
   "grad_output": [T,B,H], "grad_h_n": [B,H], "grad_c_n": [B,H] (LSTM only),
   "grads": {"x", "h0", "c0" (LSTM), and one entry per param name}}
"grads" are the gradients of the scalar
  L = sum(output*grad_output) + sum(h_n*grad_h_n) [+ sum(c_n*grad_c_n)]
w.r.t. x, h0, c0 and every parameter; grad_* are random cotangents.

References
----------
  "torch.nn.<RNN|GRU|LSTM>Cell looped over time": the torch cell module (with our
      tensors copied into weight_ih/weight_hh/bias_ih/bias_hh) applied step by step
      in a Python loop; gradients by torch autograd.
  "torch.nn.<RNN|GRU|LSTM>": the whole-sequence torch module (one layer,
      batch_first=False, nonlinearity='tanh' for RNN; tensors copied into
      weight_ih_l0 etc.) called once on the full sequence; gradients by autograd.
  "numpy (paper form) ...": forward by an independent NumPy implementation (plain
      loop over time, np.tanh, 1/(1+exp(-x))); gradients by torch autograd on a
      separate torch-ops implementation of the same equations. The script asserts
      the two forwards agree to 1e-12 max-abs and checks a sample of gradient
      entries of every input/parameter against central finite differences of the
      NumPy forward (eps 1e-6); it raises if any check fails.

Initialisation: weights/biases/peepholes uniform(-0.5, 0.5), x ~ N(0,1),
h0/c0 ~ 0.5*N(0,1), cotangents ~ N(0,1). Seeds: torch.manual_seed(1234),
numpy.random.default_rng(1234).

Regenerate (from the repo root):
  pip install torch==2.13.0 numpy
  python3 scripts/make_fixtures.py                   # every case anew
  python3 scripts/make_fixtures.py --keep-existing   # adding a unit: new cases only
Every case is computed in either mode (so the random draws of the cases after it stay
the same); --keep-existing then writes the cases already in the file (same name, cell and
sizes) as they are there. NumPy builds differ in the last bits of a matmul, so a full
regeneration on another machine changes old cases by ~1e-16 for no reason; keeping them
keeps a unit's diff to its own cases.
The output is written atomically (temp file, then os.replace).

State dicts (the library's layers, rnnlab::nn, loaded by name):
  pip install torch==2.13.0 safetensors
  python3 scripts/make_fixtures.py --state-dicts
writes tests/fixtures/torch_rnn.safetensors: for each of torch.nn.RNN (tanh), nn.GRU and
nn.LSTM, float64, 2 layers, bidirectional, batch_first=True, its state_dict under the
prefix "<unit>." ("gru.weight_ih_l0", ..., "gru.bias_hh_l1_reverse"), an input
"<unit>.input" [B, T, D], initial states "<unit>.h0" (and "<unit>.c0") and PyTorch's
outputs "<unit>.output", "<unit>.h_n" (and "<unit>.c_n"). Seed torch.manual_seed(2014).
"""

import json
import os
import sys
import tempfile

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
torch.manual_seed(1234)
RNG = np.random.default_rng(1234)

OUT_PATH = os.path.join("tests", "fixtures", "cells.json")
LOSS = "sum(output*grad_output) + sum(h_n*grad_h_n) + sum(c_n*grad_c_n)"
FD_EPS = 1e-6
FD_TOL = 1e-7
FD_SAMPLES = 4  # entries checked per tensor


# ----------------------------------------------------------------------------
# helpers

def tensor_json(a):
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    a = np.asarray(a, dtype=np.float64)
    return {"shape": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}


def uniform(*shape):
    return RNG.uniform(-0.5, 0.5, size=shape)


def normal(*shape, scale=1.0):
    return RNG.standard_normal(size=shape) * scale


def gate_counts(cell):
    return {"tanh": 1, "torch_gru": 3, "torch_lstm": 4, "paper_gru": 3, "paper_lstm": 4}[cell]


def is_lstm(cell):
    return cell in ("torch_lstm", "paper_lstm") or cell.startswith("lstm_")


def make_params(cell, D, H):
    if cell in BEYOND:
        return make_params_beyond(cell, D, H)
    g = gate_counts(cell)
    p = {"weight_ih": uniform(g * H, D), "weight_hh": uniform(g * H, H)}
    if cell.startswith("paper"):
        p["bias"] = uniform(g * H)
        if cell == "paper_lstm":
            p["peephole"] = uniform(3 * H)
    else:
        p["bias_ih"] = uniform(g * H)
        p["bias_hh"] = uniform(g * H)
    return p


def make_inputs(cell, T, B, D, H):
    inp = {"x": normal(T, B, D), "h0": normal(B, H, scale=0.5)}
    if is_lstm(cell):
        inp["c0"] = normal(B, H, scale=0.5)
    return inp


def make_cotangents(cell, T, B, H):
    cot = {"grad_output": normal(T, B, H), "grad_h_n": normal(B, H)}
    if is_lstm(cell):
        cot["grad_c_n"] = normal(B, H)
    return cot


def loss_of(out, cot):
    L = (out["output"] * cot["grad_output"]).sum() + (out["h_n"] * cot["grad_h_n"]).sum()
    if "c_n" in out:
        L = L + (out["c_n"] * cot["grad_c_n"]).sum()
    return L


# ----------------------------------------------------------------------------
# torch module references

CELL_MODULES = {"tanh": torch.nn.RNNCell, "torch_gru": torch.nn.GRUCell,
                "torch_lstm": torch.nn.LSTMCell}
SEQ_MODULES = {"tanh": torch.nn.RNN, "torch_gru": torch.nn.GRU, "torch_lstm": torch.nn.LSTM}


def run_torch_module(cell, mode, params, inp, cot):
    D = inp["x"].shape[2]
    H = inp["h0"].shape[1]
    if mode == "cell":
        kw = {"nonlinearity": "tanh"} if cell == "tanh" else {}
        mod = CELL_MODULES[cell](D, H, bias=True, **kw)
        suffix = ""
        ref = f"torch.nn.{CELL_MODULES[cell].__name__} looped over time"
    else:
        kw = {"nonlinearity": "tanh"} if cell == "tanh" else {}
        mod = SEQ_MODULES[cell](D, H, num_layers=1, bias=True, batch_first=False, **kw)
        suffix = "_l0"
        ref = f"torch.nn.{SEQ_MODULES[cell].__name__}" + (" (nonlinearity='tanh')" if cell == "tanh" else "")
    mod = mod.double()
    sd = {k + suffix: torch.tensor(v) for k, v in params.items()}
    missing = set(mod.state_dict().keys()) ^ set(sd.keys())
    if missing:
        raise RuntimeError(f"state_dict key mismatch: {missing}")
    mod.load_state_dict(sd)

    t_inp = {k: torch.tensor(v, requires_grad=True) for k, v in inp.items()}
    x, h0 = t_inp["x"], t_inp["h0"]
    lstm = is_lstm(cell)
    if mode == "cell":
        h = h0
        c = t_inp["c0"] if lstm else None
        outs = []
        for t in range(x.shape[0]):
            if lstm:
                h, c = mod(x[t], (h, c))
            else:
                h = mod(x[t], h)
            outs.append(h)
        out = {"output": torch.stack(outs), "h_n": h}
        if lstm:
            out["c_n"] = c
    else:
        if lstm:
            y, (hn, cn) = mod(x, (h0.unsqueeze(0), t_inp["c0"].unsqueeze(0)))
            out = {"output": y, "h_n": hn[0], "c_n": cn[0]}
        else:
            y, hn = mod(x, h0.unsqueeze(0))
            out = {"output": y, "h_n": hn[0]}

    t_cot = {k: torch.tensor(v) for k, v in cot.items()}
    L = loss_of(out, t_cot)
    L.backward()
    grads = {k: v.grad.numpy().copy() for k, v in t_inp.items()}
    named = dict(mod.named_parameters())
    for k in params:
        grads[k] = named[k + suffix].grad.numpy().copy()
    out = {k: v.detach().numpy().copy() for k, v in out.items()}
    return ref, out, grads


# ----------------------------------------------------------------------------
# paper forms: independent NumPy forward

def np_sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def np_paper_gru(p, inp):
    x, h = inp["x"], inp["h0"]
    H = h.shape[1]
    W, U, b = p["weight_ih"], p["weight_hh"], p["bias"]
    Wr, Wz, Wn = W[:H], W[H:2 * H], W[2 * H:]
    Ur, Uz, Un = U[:H], U[H:2 * H], U[2 * H:]
    br, bz, bn = b[:H], b[H:2 * H], b[2 * H:]
    outs = []
    for t in range(x.shape[0]):
        xt = x[t]
        r = np_sigmoid(xt @ Wr.T + h @ Ur.T + br)
        z = np_sigmoid(xt @ Wz.T + h @ Uz.T + bz)
        n = np.tanh(xt @ Wn.T + (r * h) @ Un.T + bn)
        h = (1.0 - z) * h + z * n
        outs.append(h)
    return {"output": np.stack(outs), "h_n": h}


def np_paper_lstm(p, inp):
    x, h, c = inp["x"], inp["h0"], inp["c0"]
    H = h.shape[1]
    W, U, b, V = p["weight_ih"], p["weight_hh"], p["bias"], p["peephole"]
    Wi, Wf, Wg, Wo = (W[k * H:(k + 1) * H] for k in range(4))
    Ui, Uf, Ug, Uo = (U[k * H:(k + 1) * H] for k in range(4))
    bi, bf, bg, bo = (b[k * H:(k + 1) * H] for k in range(4))
    Vi, Vf, Vo = V[:H], V[H:2 * H], V[2 * H:]
    outs = []
    for t in range(x.shape[0]):
        xt = x[t]
        i = np_sigmoid(xt @ Wi.T + h @ Ui.T + Vi * c + bi)
        f = np_sigmoid(xt @ Wf.T + h @ Uf.T + Vf * c + bf)
        g = np.tanh(xt @ Wg.T + h @ Ug.T + bg)
        c = f * c + i * g
        o = np_sigmoid(xt @ Wo.T + h @ Uo.T + Vo * c + bo)
        h = o * np.tanh(c)
        outs.append(h)
    return {"output": np.stack(outs), "h_n": h, "c_n": c}


# ----------------------------------------------------------------------------
# paper forms: torch ops (for autograd)

def torch_paper_gru(p, inp):
    x, h = inp["x"], inp["h0"]
    H = h.shape[1]
    W_r, W_z, W_n = p["weight_ih"].chunk(3, 0)
    U_r, U_z, U_n = p["weight_hh"].chunk(3, 0)
    b_r, b_z, b_n = p["bias"].chunk(3, 0)
    outs = []
    for t in range(x.shape[0]):
        xt = x[t]
        r = torch.sigmoid(torch.nn.functional.linear(xt, W_r, b_r) + h @ U_r.t())
        z = torch.sigmoid(torch.nn.functional.linear(xt, W_z, b_z) + h @ U_z.t())
        n = torch.tanh(torch.nn.functional.linear(xt, W_n, b_n) + (r * h) @ U_n.t())
        h = (1 - z) * h + z * n
        outs.append(h)
    return {"output": torch.stack(outs), "h_n": h}


def torch_paper_lstm(p, inp):
    x, h, c = inp["x"], inp["h0"], inp["c0"]
    V_i, V_f, V_o = p["peephole"].chunk(3, 0)
    outs = []
    for t in range(x.shape[0]):
        gates = torch.nn.functional.linear(x[t], p["weight_ih"], p["bias"]) + h @ p["weight_hh"].t()
        a_i, a_f, a_g, a_o = gates.chunk(4, 1)
        i = torch.sigmoid(a_i + V_i * c)
        f = torch.sigmoid(a_f + V_f * c)
        g = torch.tanh(a_g)
        c = f * c + i * g
        o = torch.sigmoid(a_o + V_o * c)
        h = o * torch.tanh(c)
        outs.append(h)
    return {"output": torch.stack(outs), "h_n": h, "c_n": c}


# ----------------------------------------------------------------------------
# units beyond the paper: MGU (Zhou et al. 2016), MUT1-3 (Jozefowicz et al. 2015),
# the LSTM variants of Greff et al. 2017. NumPy forwards and torch-ops forwards,
# written separately from the equations.

GREFF = {
    # cell: (gate rows present, in order; peepholes present, in order)
    "lstm_nig": ("fgo", "fo"),
    "lstm_nfg": ("igo", "io"),
    "lstm_nog": ("ifg", "if"),
    "lstm_niaf": ("ifgo", "ifo"),
    "lstm_noaf": ("ifgo", "ifo"),
    "lstm_np": ("ifgo", ""),
    "lstm_cifg": ("igo", "io"),
}

BEYOND = ("mgu", "mut1", "mut2", "mut3") + tuple(GREFF)


def make_params_beyond(cell, D, H):
    if cell == "mgu":
        return {"weight_ih": uniform(2 * H, D), "weight_hh": uniform(2 * H, H), "bias": uniform(2 * H)}
    if cell in ("mut1", "mut2", "mut3"):
        rows_ih = {"mut1": 2, "mut2": 2, "mut3": 3}[cell]
        rows_hh = {"mut1": 2, "mut2": 3, "mut3": 3}[cell]
        p = {"weight_ih": uniform(rows_ih * H, D), "weight_hh": uniform(rows_hh * H, H),
             "bias": uniform(3 * H)}
        if cell in ("mut1", "mut2") and D != H:
            p["weight_x"] = uniform(H, D)
        return p
    rows, peeps = GREFF[cell]
    G = len(rows)
    p = {"weight_ih": uniform(G * H, D), "weight_hh": uniform(G * H, H), "bias": uniform(G * H)}
    if peeps:
        p["peephole"] = uniform(len(peeps) * H)
    return p


def np_block(M, k, H):
    return M[k * H:(k + 1) * H]


def np_mgu(p, inp):
    x, h = inp["x"], inp["h0"]
    H = h.shape[1]
    Wf, Wh = np_block(p["weight_ih"], 0, H), np_block(p["weight_ih"], 1, H)
    Uf, Uh = np_block(p["weight_hh"], 0, H), np_block(p["weight_hh"], 1, H)
    bf, bh = p["bias"][:H], p["bias"][H:]
    outs = []
    for t in range(x.shape[0]):
        f = np_sigmoid(x[t] @ Wf.T + h @ Uf.T + bf)
        n = np.tanh(x[t] @ Wh.T + (f * h) @ Uh.T + bh)
        h = (1.0 - f) * h + f * n
        outs.append(h)
    return {"output": np.stack(outs), "h_n": h}


def np_own_input(p, xt):
    """m(x): the input itself (D == H) or weight_x @ x (D != H)."""
    return xt @ p["weight_x"].T if "weight_x" in p else xt


def np_mut(cell, p, inp):
    x, h = inp["x"], inp["h0"]
    H = h.shape[1]
    W, U, b = p["weight_ih"], p["weight_hh"], p["bias"]
    bz, br, bh = b[:H], b[H:2 * H], b[2 * H:]
    outs = []
    for t in range(x.shape[0]):
        xt = x[t]
        if cell == "mut1":
            z = np_sigmoid(xt @ np_block(W, 0, H).T + bz)
            r = np_sigmoid(xt @ np_block(W, 1, H).T + h @ np_block(U, 0, H).T + br)
            n = np.tanh((r * h) @ np_block(U, 1, H).T + np.tanh(np_own_input(p, xt)) + bh)
        elif cell == "mut2":
            z = np_sigmoid(xt @ np_block(W, 0, H).T + h @ np_block(U, 0, H).T + bz)
            r = np_sigmoid(np_own_input(p, xt) + h @ np_block(U, 1, H).T + br)
            n = np.tanh((r * h) @ np_block(U, 2, H).T + xt @ np_block(W, 1, H).T + bh)
        else:
            z = np_sigmoid(xt @ np_block(W, 0, H).T + np.tanh(h) @ np_block(U, 0, H).T + bz)
            r = np_sigmoid(xt @ np_block(W, 1, H).T + h @ np_block(U, 1, H).T + br)
            n = np.tanh((r * h) @ np_block(U, 2, H).T + xt @ np_block(W, 2, H).T + bh)
        h = n * z + h * (1.0 - z)
        outs.append(h)
    return {"output": np.stack(outs), "h_n": h}


def np_greff(cell, p, inp):
    x, h, c = inp["x"], inp["h0"], inp["c0"]
    H = h.shape[1]
    rows, peeps = GREFF[cell]
    W = {g: np_block(p["weight_ih"], k, H) for k, g in enumerate(rows)}
    U = {g: np_block(p["weight_hh"], k, H) for k, g in enumerate(rows)}
    b = {g: p["bias"][k * H:(k + 1) * H] for k, g in enumerate(rows)}
    V = {g: p["peephole"][k * H:(k + 1) * H] for k, g in enumerate(peeps)}
    outs = []
    for t in range(x.shape[0]):
        xt = x[t]

        def pre(g):
            return xt @ W[g].T + h @ U[g].T + b[g]

        i = np_sigmoid(pre("i") + V.get("i", 0.0) * c) if "i" in rows else 1.0
        if cell == "lstm_cifg":
            f = 1.0 - i
        else:
            f = np_sigmoid(pre("f") + V.get("f", 0.0) * c) if "f" in rows else 1.0
        g = pre("g") if cell == "lstm_niaf" else np.tanh(pre("g"))
        c = f * c + i * g
        o = np_sigmoid(pre("o") + V.get("o", 0.0) * c) if "o" in rows else 1.0
        h = o * (c if cell == "lstm_noaf" else np.tanh(c))
        outs.append(h)
    return {"output": np.stack(outs), "h_n": h, "c_n": c}


def torch_mgu(p, inp):
    x, h = inp["x"], inp["h0"]
    W_f, W_h = p["weight_ih"].chunk(2, 0)
    U_f, U_h = p["weight_hh"].chunk(2, 0)
    b_f, b_h = p["bias"].chunk(2, 0)
    outs = []
    for t in range(x.shape[0]):
        f = torch.sigmoid(torch.nn.functional.linear(x[t], W_f, b_f) + h @ U_f.t())
        n = torch.tanh(torch.nn.functional.linear(x[t], W_h, b_h) + (f * h) @ U_h.t())
        h = h + f * (n - h)
        outs.append(h)
    return {"output": torch.stack(outs), "h_n": h}


def torch_mut(cell, p, inp):
    x, h = inp["x"], inp["h0"]
    b_z, b_r, b_h = p["bias"].chunk(3, 0)
    Ws = p["weight_ih"].chunk(2 if cell != "mut3" else 3, 0)
    Us = p["weight_hh"].chunk(2 if cell == "mut1" else 3, 0)
    lin = torch.nn.functional.linear
    outs = []
    for t in range(x.shape[0]):
        xt = x[t]
        own = lin(xt, p["weight_x"]) if "weight_x" in p else xt
        if cell == "mut1":
            z = torch.sigmoid(lin(xt, Ws[0], b_z))
            r = torch.sigmoid(lin(xt, Ws[1], b_r) + lin(h, Us[0]))
            n = torch.tanh(lin(r * h, Us[1]) + torch.tanh(own) + b_h)
        elif cell == "mut2":
            z = torch.sigmoid(lin(xt, Ws[0], b_z) + lin(h, Us[0]))
            r = torch.sigmoid(own + lin(h, Us[1]) + b_r)
            n = torch.tanh(lin(r * h, Us[2]) + lin(xt, Ws[1], b_h))
        else:
            z = torch.sigmoid(lin(xt, Ws[0], b_z) + lin(torch.tanh(h), Us[0]))
            r = torch.sigmoid(lin(xt, Ws[1], b_r) + lin(h, Us[1]))
            n = torch.tanh(lin(r * h, Us[2]) + lin(xt, Ws[2], b_h))
        h = torch.lerp(h, n, z)
        outs.append(h)
    return {"output": torch.stack(outs), "h_n": h}


def torch_greff(cell, p, inp):
    x, h, c = inp["x"], inp["h0"], inp["c0"]
    rows, peeps = GREFF[cell]
    V = dict(zip(peeps, p["peephole"].chunk(len(peeps), 0))) if peeps else {}
    outs = []
    for t in range(x.shape[0]):
        a = dict(zip(rows, (torch.nn.functional.linear(x[t], p["weight_ih"], p["bias"])
                            + h @ p["weight_hh"].t()).chunk(len(rows), 1)))
        one = torch.ones_like(c)

        def gate(k, cc):
            return torch.sigmoid(a[k] + V[k] * cc) if k in V else torch.sigmoid(a[k])

        i = gate("i", c) if "i" in a else one
        if cell == "lstm_cifg":
            f = 1 - i
        else:
            f = gate("f", c) if "f" in a else one
        g = a["g"] if cell == "lstm_niaf" else torch.tanh(a["g"])
        c = f * c + i * g
        o = gate("o", c) if "o" in a else one
        h = o * (c if cell == "lstm_noaf" else torch.tanh(c))
        outs.append(h)
    return {"output": torch.stack(outs), "h_n": h, "c_n": c}


def forwards(cell):
    """(NumPy forward, torch-ops forward) of a cell with the NumPy reference."""
    if cell == "paper_gru":
        return np_paper_gru, torch_paper_gru
    if cell == "paper_lstm":
        return np_paper_lstm, torch_paper_lstm
    if cell == "mgu":
        return np_mgu, torch_mgu
    if cell in ("mut1", "mut2", "mut3"):
        return (lambda p, i: np_mut(cell, p, i)), (lambda p, i: torch_mut(cell, p, i))
    return (lambda p, i: np_greff(cell, p, i)), (lambda p, i: torch_greff(cell, p, i))


def np_loss(out, cot):
    L = np.sum(out["output"] * cot["grad_output"]) + np.sum(out["h_n"] * cot["grad_h_n"])
    if "c_n" in out:
        L += np.sum(out["c_n"] * cot["grad_c_n"])
    return float(L)


def run_paper(cell, params, inp, cot, name):
    np_fwd, t_fwd = forwards(cell)

    out_np = np_fwd(params, inp)

    t_p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    t_i = {k: torch.tensor(v, requires_grad=True) for k, v in inp.items()}
    out_t = t_fwd(t_p, t_i)
    for k in out_np:
        d = float(np.max(np.abs(out_np[k] - out_t[k].detach().numpy())))
        if not d <= 1e-12:
            raise AssertionError(f"{name}: numpy vs torch forward mismatch on {k}: {d:.3e}")
    L = loss_of(out_t, {k: torch.tensor(v) for k, v in cot.items()})
    L.backward()
    grads = {k: v.grad.numpy().copy() for k, v in t_i.items()}
    grads.update({k: v.grad.numpy().copy() for k, v in t_p.items()})

    # central finite differences of the NumPy forward on sampled entries
    fd_rng = np.random.default_rng(99)
    worst = 0.0
    for k in list(inp) + list(params):
        src = inp if k in inp else params
        base = src[k]
        idxs = fd_rng.choice(base.size, size=min(FD_SAMPLES, base.size), replace=False)
        for flat in idxs:
            idx = np.unravel_index(flat, base.shape)
            plus = {kk: vv.copy() for kk, vv in src.items()}
            minus = {kk: vv.copy() for kk, vv in src.items()}
            plus[k][idx] += FD_EPS
            minus[k][idx] -= FD_EPS
            if src is inp:
                lp, lm = np_loss(np_fwd(params, plus), cot), np_loss(np_fwd(params, minus), cot)
            else:
                lp, lm = np_loss(np_fwd(plus, inp), cot), np_loss(np_fwd(minus, inp), cot)
            fd = (lp - lm) / (2 * FD_EPS)
            ad = float(grads[k][idx])
            err = abs(fd - ad) / max(1.0, abs(ad))
            worst = max(worst, err)
            if not err <= FD_TOL:
                raise AssertionError(
                    f"{name}: finite-difference check failed for d/d{k}{tuple(int(i) for i in idx)}: "
                    f"autograd {ad!r} vs fd {fd!r} (rel err {err:.3e})")
    ref = ("numpy (paper form) forward, loop over time; gradients by torch autograd on an "
           "independent torch-ops implementation of the same equations; forwards agree to "
           f"1e-12 max-abs and sampled gradients checked by central finite differences of the "
           f"NumPy forward (eps {FD_EPS:g}, worst rel err {worst:.1e})")
    return ref, out_np, grads


# ----------------------------------------------------------------------------

CASES = [
    # name, cell, mode, T, B, D, H
    ("tanh_cell_loop", "tanh", "cell", 5, 3, 4, 6),
    ("tanh_sequence", "tanh", "seq", 7, 2, 5, 3),
    ("tanh_cell_loop_b1", "tanh", "cell", 4, 1, 3, 5),
    ("torch_gru_cell_loop", "torch_gru", "cell", 5, 3, 4, 6),
    ("torch_gru_sequence", "torch_gru", "seq", 7, 2, 5, 3),
    ("torch_gru_sequence_b1", "torch_gru", "seq", 4, 1, 3, 5),
    ("torch_lstm_cell_loop", "torch_lstm", "cell", 5, 3, 4, 6),
    ("torch_lstm_sequence", "torch_lstm", "seq", 7, 2, 5, 3),
    ("torch_lstm_cell_loop_b1", "torch_lstm", "cell", 4, 1, 3, 5),
    ("paper_gru_a", "paper_gru", "paper", 5, 3, 4, 6),
    ("paper_gru_b1", "paper_gru", "paper", 6, 1, 3, 4),
    ("paper_lstm_a", "paper_lstm", "paper", 5, 3, 4, 6),
    ("paper_lstm_b1", "paper_lstm", "paper", 6, 1, 3, 4),
    # units beyond the paper (appended: the cases above keep their random draws)
    ("mgu_a", "mgu", "paper", 5, 3, 4, 6),
    ("mgu_b1", "mgu", "paper", 6, 1, 3, 4),
    ("mut1_square", "mut1", "paper", 5, 3, 5, 5),
    ("mut1_projected", "mut1", "paper", 6, 2, 4, 3),
    ("mut2_square", "mut2", "paper", 5, 3, 5, 5),
    ("mut2_projected", "mut2", "paper", 6, 2, 4, 3),
    ("mut3_a", "mut3", "paper", 5, 3, 4, 6),
    ("mut3_b1", "mut3", "paper", 6, 1, 3, 4),
    ("lstm_nig_a", "lstm_nig", "paper", 5, 3, 4, 6),
    ("lstm_nfg_a", "lstm_nfg", "paper", 5, 3, 4, 6),
    ("lstm_nog_a", "lstm_nog", "paper", 5, 3, 4, 6),
    ("lstm_niaf_a", "lstm_niaf", "paper", 5, 3, 4, 6),
    ("lstm_noaf_a", "lstm_noaf", "paper", 5, 3, 4, 6),
    ("lstm_np_a", "lstm_np", "paper", 5, 3, 4, 6),
    ("lstm_cifg_a", "lstm_cifg", "paper", 5, 3, 4, 6),
    ("lstm_cifg_b1", "lstm_cifg", "paper", 6, 1, 3, 4),
]


def main():
    keep = {}
    if "--keep-existing" in sys.argv[1:] and os.path.exists(OUT_PATH):
        with open(OUT_PATH) as f:
            keep = {c["name"]: c for c in json.load(f)["cases"]}
    cases = []
    for name, cell, mode, T, B, D, H in CASES:
        params = make_params(cell, D, H)
        inp = make_inputs(cell, T, B, D, H)
        cot = make_cotangents(cell, T, B, H)
        if mode == "paper":
            ref, out, grads = run_paper(cell, params, inp, cot, name)
        else:
            ref, out, grads = run_torch_module(cell, mode, params, inp, cot)
        case = {"name": name, "cell": cell, "reference": ref,
                "seq_len": T, "batch": B, "input_size": D, "hidden_size": H,
                "params": {k: tensor_json(v) for k, v in params.items()}}
        for k, v in inp.items():
            case[k] = tensor_json(v)
        for k, v in out.items():
            case[k] = tensor_json(v)
        for k, v in cot.items():
            case[k] = tensor_json(v)
        grad_keys = list(inp) + list(params)
        case["grads"] = {k: tensor_json(grads[k]) for k in grad_keys}
        old = keep.get(name)
        sizes = ("cell", "seq_len", "batch", "input_size", "hidden_size")
        if old is not None and all(old[k] == case[k] for k in sizes):
            case = old
        cases.append(case)
        gnorm = float(np.sqrt(sum(np.sum(grads[k] ** 2) for k in grad_keys)))
        print(f"{name:26s} cell={cell:10s} T={T} B={B} D={D} H={H} "
              f"|h_n|max={np.max(np.abs(out['h_n'])):.3f} |grad|={gnorm:.3f}  ref: {ref[:60]}")

    doc = {"generator": "scripts/make_fixtures.py", "torch_version": torch.__version__,
           "numpy_version": np.__version__, "loss": LOSS, "cases": cases}
    out_dir = os.path.dirname(OUT_PATH)
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".cells.", suffix=".json.tmp", dir=out_dir)
    try:
        with os.fdopen(fd, "w") as f:
            # one case per line: readable diffs without one-float-per-line bloat
            head = {k: v for k, v in doc.items() if k != "cases"}
            f.write("{\n")
            for k, v in head.items():
                f.write(f" {json.dumps(k)}: {json.dumps(v)},\n")
            f.write(' "cases": [\n')
            f.write(",\n".join("  " + json.dumps(c) for c in doc["cases"]))
            f.write("\n ]\n}\n")
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, OUT_PATH)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    print(f"wrote {OUT_PATH} ({os.path.getsize(OUT_PATH)} bytes, {len(cases)} cases)")


STATE_DICT_PATH = os.path.join("tests", "fixtures", "torch_rnn.safetensors")


def state_dicts():
    """PyTorch's nn.RNN / nn.GRU / nn.LSTM state dicts with their inputs and outputs (see the module doc)."""
    from safetensors.torch import save_file

    torch.manual_seed(2014)
    D, H, B, T, layers = 3, 4, 2, 5, 2
    tensors = {}
    for unit, module in (("tanh", torch.nn.RNN), ("gru", torch.nn.GRU), ("lstm", torch.nn.LSTM)):
        m = module(D, H, num_layers=layers, bidirectional=True, batch_first=True).double()
        x = torch.randn(B, T, D, dtype=torch.float64)
        h0 = torch.randn(2 * layers, B, H, dtype=torch.float64)
        with torch.no_grad():
            if unit == "lstm":
                c0 = torch.randn(2 * layers, B, H, dtype=torch.float64)
                out, (h_n, c_n) = m(x, (h0, c0))
                tensors[f"{unit}.c0"], tensors[f"{unit}.c_n"] = c0, c_n
            else:
                out, h_n = m(x, h0)
        for name, value in m.state_dict().items():
            tensors[f"{unit}.{name}"] = value
        tensors[f"{unit}.input"], tensors[f"{unit}.h0"] = x, h0
        tensors[f"{unit}.output"], tensors[f"{unit}.h_n"] = out, h_n
    tensors = {k: v.detach().contiguous() for k, v in tensors.items()}
    out_dir = os.path.dirname(STATE_DICT_PATH)
    fd, tmp = tempfile.mkstemp(prefix=".torch_rnn.", suffix=".safetensors.tmp", dir=out_dir)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"generator": "scripts/make_fixtures.py --state-dicts",
                                          "torch_version": torch.__version__})
        os.chmod(tmp, 0o644)
        os.replace(tmp, STATE_DICT_PATH)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    print(f"wrote {STATE_DICT_PATH} ({os.path.getsize(STATE_DICT_PATH)} bytes, {len(tensors)} tensors)")


if __name__ == "__main__":
    if not os.path.isdir(os.path.join("tests")) or not os.path.isdir("scripts"):
        sys.exit("run from the repo root: python3 scripts/make_fixtures.py")
    if "--state-dicts" in sys.argv[1:]:
        state_dicts()
    else:
        main()

#!/usr/bin/env python3
"""Writes the NPZ fixtures of tests/your_data.rs into tests/fixtures/npz/: files as np.savez and
np.savez_compressed write them (ragged sequences as values + offsets, equal-length arrays, each dtype the reader
takes), the bad files it must refuse with a precise error, and expected.json with what the good ones hold.

    python3 -m venv .venv && .venv/bin/pip install numpy && .venv/bin/python scripts/make_npz_fixtures.py
"""
import json
import os
import sys

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "npz")


def ragged(rng, lengths, dim, kind):
    seqs = []
    for n in lengths:
        shape = (n,) if dim is None else (n, dim)
        if kind == "float":
            seqs.append(rng.normal(size=shape).astype(np.float32))
        elif kind == "binary":
            seqs.append((rng.random(size=shape) < 0.3).astype(np.uint8))
        else:
            seqs.append(rng.integers(0, 5, size=shape).astype(np.int64))
    return seqs


def offsets(seqs):
    return np.cumsum([0] + [len(s) for s in seqs]).astype(np.int64)


def splits(rng, dim, kind):
    return {
        "train": ragged(rng, [5, 3, 7], dim, kind),
        "valid": ragged(rng, [4, 2], dim, kind),
        "test": ragged(rng, [6], dim, kind),
    }


def arrays(seqs_by_split):
    out = {}
    for name, seqs in seqs_by_split.items():
        out[name] = np.concatenate(seqs)
        out[name + "_offsets"] = offsets(seqs)
    return out


def expected(seqs_by_split, head, dim):
    return {
        "head": head,
        "dim": dim,
        "splits": {
            name: [np.asarray(s, dtype=np.float64).reshape(-1).tolist() for s in seqs]
            for name, seqs in seqs_by_split.items()
        },
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(2014)
    exp = {}

    # Ragged float32 frames of two features, values + offsets, plain np.savez: a Gaussian head.
    s = splits(rng, 2, "float")
    np.savez(os.path.join(OUT, "ragged_float32.npz"), **arrays(s))
    exp["ragged_float32.npz"] = expected(s, "gaussian", 2)

    # Ragged int64 tokens, compressed, with vocab_size: a categorical head over 0..6.
    s = splits(rng, None, "int")
    np.savez_compressed(os.path.join(OUT, "ragged_tokens_compressed.npz"), vocab_size=np.int64(6), **arrays(s))
    exp["ragged_tokens_compressed.npz"] = expected(s, "categorical", 1)
    exp["ragged_tokens_compressed.npz"]["vocab"] = 6

    # Ragged uint8 0/1 rows of three features (big-endian offsets): a Bernoulli head.
    s = splits(rng, 3, "binary")
    a = arrays(s)
    for k in list(a):
        if k.endswith("_offsets"):
            a[k] = a[k].astype(">i4")
    np.savez_compressed(os.path.join(OUT, "ragged_binary_uint8.npz"), **a)
    exp["ragged_binary_uint8.npz"] = expected(s, "bernoulli", 3)

    # Equal lengths as [sequences, steps, features], bool: a Bernoulli head.
    eq = {k: rng.random(size=(n, 4, 2)) < 0.5 for k, n in [("train", 3), ("valid", 2), ("test", 2)]}
    np.savez(os.path.join(OUT, "equal_bool.npz"), **eq)
    exp["equal_bool.npz"] = expected({k: list(v) for k, v in eq.items()}, "bernoulli", 2)

    # Equal lengths as [sequences, steps], float64: one feature, a Gaussian head.
    eq = {k: rng.normal(size=(n, 5)) for k, n in [("train", 2), ("valid", 1), ("test", 1)]}
    np.savez(os.path.join(OUT, "equal_float64.npz"), **eq)
    exp["equal_float64.npz"] = expected({k: list(v) for k, v in eq.items()}, "gaussian", 1)

    # Equal lengths, int32 tokens without vocab_size: V = largest training token + 1.
    eq = {
        "train": np.array([[0, 1, 2, 3], [3, 2, 1, 0]], dtype=np.int32),
        "valid": np.array([[1, 1, 2, 2]], dtype=np.int32),
        "test": np.array([[3, 3, 0, 0]], dtype=np.int32),
    }
    np.savez(os.path.join(OUT, "equal_int32_tokens.npz"), **eq)
    exp["equal_int32_tokens.npz"] = expected({k: list(v) for k, v in eq.items()}, "categorical", 1)
    exp["equal_int32_tokens.npz"]["vocab"] = 4

    # Bad files, each with a part of the error it must give.
    bad = {}
    good = arrays(splits(rng, 2, "float"))
    # A dtype the reader does not take (complex).
    a = dict(good)
    a["valid"] = a["valid"].astype(np.complex64)
    np.savez(os.path.join(OUT, "bad_dtype.npz"), **a)
    bad["bad_dtype.npz"] = "array `valid` has dtype"
    # An empty split: offsets [0].
    a = dict(good)
    a["test"] = np.zeros((0, 2), dtype=np.float32)
    a["test_offsets"] = np.array([0], dtype=np.int64)
    np.savez(os.path.join(OUT, "bad_empty_split.npz"), **a)
    bad["bad_empty_split.npz"] = "test split is empty"
    # NaN in the training split, sequence 1, step 2, feature 1.
    s = splits(rng, 2, "float")
    s["train"][1][2, 1] = np.nan
    np.savez(os.path.join(OUT, "bad_nan.npz"), **arrays(s))
    bad["bad_nan.npz"] = "split train, sequence 1, step 2, feature 1: NaN is not a finite number"
    # A validation token outside vocab_size.
    s = splits(rng, None, "int")
    s["valid"][1][1] = 9
    np.savez(os.path.join(OUT, "bad_token_range.npz"), vocab_size=np.int64(6), **arrays(s))
    bad["bad_token_range.npz"] = "split valid, sequence 1, step 1: token 9 is out of range"
    # Offsets that do not end at the number of rows.
    a = dict(good)
    a["train_offsets"] = a["train_offsets"].copy()
    a["train_offsets"][-1] += 1
    np.savez(os.path.join(OUT, "bad_offsets.npz"), **a)
    bad["bad_offsets.npz"] = "`train_offsets` must start at 0 and end at"
    # Ragged sequences as an object array (a pickle).
    s = splits(rng, 2, "float")
    obj = {k: np.array(v, dtype=object) for k, v in s.items()}
    np.savez(os.path.join(OUT, "bad_object.npz"), **obj)
    bad["bad_object.npz"] = "object array"
    # Truncated: a valid compressed file cut short.
    path = os.path.join(OUT, "ragged_tokens_compressed.npz")
    data = open(path, "rb").read()
    open(os.path.join(OUT, "bad_truncated.npz"), "wb").write(data[: len(data) * 2 // 3])
    bad["bad_truncated.npz"] = "NPZ file"
    # A split missing.
    a = {k: v for k, v in good.items() if not k.startswith("valid")}
    np.savez(os.path.join(OUT, "bad_missing_split.npz"), **a)
    bad["bad_missing_split.npz"] = "no array `valid`"

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"numpy": np.__version__, "good": exp, "bad": bad}, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(exp)} good and {len(bad)} bad NPZ fixtures to {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()

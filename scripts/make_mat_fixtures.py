#!/usr/bin/env python3
"""Writes the small MAT fixtures under tests/fixtures/mat/ and prints the statistics a reader must reproduce.

Usage:  python3 scripts/make_mat_fixtures.py [JSB_Chorales.mat] [OUT_DIR]
        (defaults: $RNNLAB_DATA/music/JSB_Chorales.mat and tests/fixtures/mat)
Needs:  numpy, scipy (pip install numpy scipy); h5py for the v7.3 fixture (skipped, with a note, without it).

The fixtures are the first 3 sequences of each JSB Chorales split, cut to their first 2, 3 and 4 frames, written by
scipy.io.savemat as float64, uint8, float32 and logical cells, compressed and not; two big-endian ("MI") files made
by byte-swapping (scipy writes native byte order only); a MAT v7.3 (HDF5) file; and one file per content error.
The script is deterministic except for the creation date scipy writes into the 116-byte header text.
"""
import os
import struct
import sys
import zlib

import numpy as np
import scipy.io as sio

SPLITS = ["traindata", "validdata", "testdata"]
LENGTHS = [2, 3, 4]


def load_subset(path):
    m = sio.loadmat(path)
    return {s: [np.asarray(m[s][0][i][:n], dtype=np.uint8) for i, n in enumerate(LENGTHS)] for s in SPLITS}


def cells(seqs, dtype):
    c = np.empty((1, len(seqs)), dtype=object)
    for i, x in enumerate(seqs):
        c[0, i] = np.asarray(x).astype(dtype)
    return c


def save(path, data, dtype, compress):
    sio.savemat(path, {k: cells(v, dtype) for k, v in data.items()}, do_compression=compress)


# ---- big-endian copies: walk an uncompressed little-endian file and swap every multi-byte field ----
WIDTH = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8, 16: 1}


def swap_elements(buf, pos, end, out):
    """Appends the big-endian form of the elements in buf[pos:end] (little-endian) to out."""
    while pos < end:
        first, = struct.unpack_from("<I", buf, pos)
        if first >> 16:  # small data element
            ty, size = first & 0xFFFF, first >> 16
            out += struct.pack(">I", first)
            out += swap_data(ty, buf[pos + 4:pos + 4 + size]).ljust(4, b"\0")
            pos += 8
            continue
        size, = struct.unpack_from("<I", buf, pos + 4)
        out += struct.pack(">II", first, size)
        body = buf[pos + 8:pos + 8 + size]
        if first == 14:
            swap_elements(buf, pos + 8, pos + 8 + size, out)
        else:
            out += swap_data(first, body)
        pad = (-size) % 8
        out += buf[pos + 8 + size:pos + 8 + size + pad]
        pos += 8 + size + pad


def swap_data(ty, body):
    w = WIDTH[ty]
    if w == 1:
        return bytes(body)
    return np.frombuffer(bytes(body), dtype="<u%d" % w).byteswap().tobytes()


def big_endian(src, dst, compress):
    buf = open(src, "rb").read()
    head = bytearray(buf[:128])
    head[124:126] = buf[124:126][::-1]
    head[126:128] = b"MI"
    out = bytearray(head)
    pos = 128
    while pos < len(buf):  # one top-level miMATRIX per variable
        size, = struct.unpack_from("<I", buf, pos + 4)
        var = bytearray()
        swap_elements(buf, pos, pos + 8 + size, var)
        if compress:
            z = zlib.compress(bytes(var))
            out += struct.pack(">II", 15, len(z)) + z
        else:
            out += var
        pos += 8 + size
    open(dst, "wb").write(bytes(out))


def v73(path):
    try:
        import h5py
    except ImportError:
        print("note: h5py missing, v73.mat not written (pip install h5py)")
        return
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("traindata", data=np.zeros((3, 88)))
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Nov 30 10:00:00 2026 HDF5 schema 1.00 ."
    head = text.ljust(116, b" ") + b"\0" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as f:
        f.write(head)


def stats(data):
    rows = []
    for s in SPLITS:
        seqs = data[s]
        checksum = 0
        for x in seqs:
            t, k = np.nonzero(x)
            checksum += int(((t + 1) * 131 + (k + 1) * 7919).sum())
        rows.append((s, len(seqs), sum(len(x) for x in seqs), int(sum(x.sum() for x in seqs)), checksum))
    return rows


def main():
    data_dir = os.environ.get("RNNLAB_DATA", "data")
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(data_dir, "music", "JSB_Chorales.mat")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "mat")
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)
    data = load_subset(src)

    for dtype, tag in [(np.float64, "f64"), (np.uint8, "u8"), (np.float32, "f32"), (bool, "logical")]:
        for compress in [True, False]:
            save(p("jsb_%s_%s.mat" % (tag, "z" if compress else "raw")), data, dtype, compress)
    big_endian(p("jsb_f64_raw.mat"), p("jsb_f64_raw_be.mat"), compress=False)
    big_endian(p("jsb_u8_raw.mat"), p("jsb_u8_z_be.mat"), compress=True)
    v73(p("v73.mat"))

    # One file per content error; each comment says where the error is (0-based).
    bad = {k: [x.astype(np.float64) for x in v] for k, v in data.items()}
    bad["traindata"][1][2, 40] = np.nan  # train, sequence 1, frame 2, key 40
    sio.savemat(p("bad_nan.mat"), {k: cells(v, np.float64) for k, v in bad.items()}, do_compression=True)
    bad = {k: [x.astype(np.float64) for x in v] for k, v in data.items()}
    bad["validdata"][0][1, 5] = 2.0  # valid, sequence 0, frame 1, key 5
    sio.savemat(p("bad_two.mat"), {k: cells(v, np.float64) for k, v in bad.items()}, do_compression=True)
    sio.savemat(p("bad_missing.mat"), {k: cells(data[k], np.uint8) for k in SPLITS[:2]}, do_compression=True)
    bad = {k: list(v) for k, v in data.items()}
    bad["testdata"][2] = bad["testdata"][2][:, :87]  # test, sequence 2: 87 keys wide
    sio.savemat(p("bad_keys87.mat"), {k: cells(v, np.uint8) for k, v in bad.items()}, do_compression=True)
    empty = {k: cells(v, np.uint8) for k, v in data.items()}
    empty["validdata"] = np.empty((1, 0), dtype=object)  # valid: a 1×0 cell
    sio.savemat(p("bad_empty_split.mat"), empty, do_compression=True)
    cplx = {k: cells(v, np.float64) for k, v in data.items()}
    cplx["traindata"][0, 0] = cplx["traindata"][0, 0] * (1 + 1j)  # train, sequence 0: complex
    sio.savemat(p("bad_complex.mat"), cplx, do_compression=True)

    # Small data elements (a 1-character name, 1-4 bytes of data) and classes the reader does not decode.
    small = np.empty((1, 2), dtype=object)
    small[0, 0] = np.array([[1, 0, 1]], dtype=np.uint8)  # 3 bytes: a small data element
    small[0, 1] = np.array([[-2.5]], dtype=np.float32)  # 4 bytes: a small data element
    misc = {"a": small, "b": "text", "s": {"f": 1.0}, "z": np.zeros((0, 0))}
    sio.savemat(p("misc_small.mat"), misc, do_compression=False)

    print("statistics every good fixture must give (split, sequences, frames, notes, reference checksum):")
    for row in stats(data):
        print("  %-9s %d %d %d %d" % row)
    for name in sorted(os.listdir(out)):
        print("  %-22s %6d bytes" % (name, os.path.getsize(p(name))))


if __name__ == "__main__":
    main()

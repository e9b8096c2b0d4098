#!/usr/bin/env python3
"""Lists import cycles between the source files of src/ (exit 1 if there is one).

A file depends on another when it names it in a path (`crate::a::b`, `super::b`, `self::b`, or `b::` after a
`mod b;`). A `mod.rs` and the files below it always name each other (declarations, re-exports, shared helpers), so
edges between a file and its own ancestors' `mod.rs` are left out: what remains are the cycles that make the tree a
tangle instead of a stack, e.g. two sibling files that each use the other.
"""
import re
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
files = sorted(p for p in SRC.rglob("*.rs"))


def module_path(p):
    rel = p.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


by_module = {module_path(p): p for p in files if p.name != "main.rs"}


def resolve(parts):
    """The file of the longest module prefix of `parts`."""
    for n in range(len(parts), 0, -1):
        if tuple(parts[:n]) in by_module:
            return by_module[tuple(parts[:n])]
    return None


def strip_comments(text):
    return "\n".join(line.split("//")[0] for line in text.splitlines())


edges = {p: set() for p in files}
for p in files:
    me = module_path(p)
    text = strip_comments(p.read_text())
    # The module that `super` and `self` mean in this file.
    here = list(me)
    for m in re.finditer(r"\b(crate|super|self)((?:::\w+)+)", text):
        head, tail = m.group(1), m.group(2).split("::")[1:]
        if head == "crate":
            base = []
        elif head == "super":
            base = here[:-1]
        else:
            base = here
        target = resolve(base + tail)
        if target is not None and target != p:
            edges[p].add(target)
    # Names brought in by `use` groups like `use super::{a, b::c}`.
    for m in re.finditer(r"use (crate|super)::\{([^;]*)\};", text, re.S):
        base = [] if m.group(1) == "crate" else here[:-1]
        for item in re.split(r",", m.group(2)):
            item = item.strip().split(" as ")[0]
            first = item.split("::")[0].strip("{} \n")
            if first:
                target = resolve(base + [first])
                if target is not None and target != p:
                    edges[p].add(target)


def ancestors(p):
    mp = module_path(p)
    return {by_module[mp[:n]] for n in range(0, len(mp)) if mp[:n] in by_module}


for p in files:
    edges[p] = {q for q in edges[p] if q not in ancestors(p) and p not in ancestors(q)}

# Tarjan's strongly connected components.
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(comp)


sys.setrecursionlimit(10000)
for v in files:
    if v not in index:
        visit(v)

for comp in sccs:
    names = sorted(str(c.relative_to(SRC.parent)) for c in comp)
    print("cycle:", " <-> ".join(names))
print(f"{len(files)} files, {sum(len(e) for e in edges.values())} edges, {len(sccs)} cycle(s)")
sys.exit(1 if sccs else 0)

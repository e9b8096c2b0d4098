#!/usr/bin/env bash
# Build rnnlab here for a GPU machine that has no Rust toolchain and no network but has PyTorch (a lab cluster node):
# against the libtorch of the torch version THAT machine has (the CUDA wheel from PyPI, default 2.11.0), with no
# library path of this machine baked in. The result is a folder to copy there and hand to scripts/cuda-check.sh:
#
#   DIST/rnnlab            the program (stripped)
#   DIST/tests/*           the test executables with CUDA tests (the library's unit tests, tests/cells.rs)
#   DIST/data/music/       the JSB Chorales file the check's short training reads (when found here)
#   DIST/BUILD-INFO        torch version, commit, sizes, the libraries the binaries need
#
#   scripts/build-portable.sh [--torch-version 2.11.0] [--tch auto|0.24.0|…] [--prefix DIR] [--dist DIR] [--no-tests]
#
# There: scripts/cuda-check.sh --bin DIST/rnnlab --tests DIST/tests --data DIST/data --torch <site-packages>/torch
# (cuda-check.sh sets LD_LIBRARY_PATH to that torch/lib and the nvidia/*/lib folders beside it).
#
# The torch wheel (~530 MB for 2.11.0) and the CUDA runtime wheel (headers and libcudart for the graph shim) are
# installed with pip into --prefix (default ~/.cache/rnnlab/torch-VERSION), outside the repository; only PyPI is used.
# tch 0.26 is made for libtorch 2.13.0, and its generated C++ does not compile against 2.11.0's headers (ops added
# since: _philox_*, _upsample_lanczos2d_aa*, …; tried with LIBTORCH_BYPASS_VERSION_CHECK=1). So for another torch
# the build runs on a copy of the tree whose Cargo.toml asks for the tch/torch-sys made for it (--tch; auto: 0.24.0
# for torch 2.11.0, the project's own for 2.13.0). rnnlab's code compiles against both APIs.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

version=2.11.0
tch=auto
prefix=""
dist=""
tests=1
while [ $# -gt 0 ]; do
  case "$1" in
    --torch-version) version=$2; shift 2 ;;
    --tch) tch=$2; shift 2 ;;
    --prefix) prefix=$2; shift 2 ;;
    --dist) dist=$2; shift 2 ;;
    --no-tests) tests=0; shift ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "build-portable: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
prefix=${prefix:-$HOME/.cache/rnnlab/torch-$version}
dist=${dist:-$root/.portable}
python=${PYTHON:-python3}

# 1. The torch wheel (no dependencies: only its headers and libraries are used) and the CUDA runtime wheels (cudart,
#    and crt: the headers cuda_runtime_api.h includes) of the cuda-toolkit version that torch names.
if [ ! -f "$prefix/.complete" ] || [ ! -f "$prefix/torch/lib/libtorch_cuda.so" ]; then
  echo "== installing torch $version (CUDA wheel) into $prefix"
  rm -rf "$prefix"
  "$python" -m pip install -q --no-deps --no-compile --target "$prefix" "torch==$version"
  toolkit=$(sed -n 's/^Requires-Dist: cuda-toolkit\[[^]]*\]==\([0-9.]*\).*/\1/p' "$prefix"/torch-*.dist-info/METADATA)
  if [ -n "$toolkit" ]; then
    "$python" -m pip install -q --no-compile --target "$prefix/.cudart" "cuda-toolkit[cudart,crt]==$toolkit"
  else
    # CUDA 12 wheels name the runtime directly.
    cudart=$(sed -n 's/^Requires-Dist: \(nvidia-cuda-runtime[^;]*\).*/\1/p' "$prefix"/torch-*.dist-info/METADATA | tr -d ' ')
    "$python" -m pip install -q --no-deps --no-compile --target "$prefix/.cudart" "${cudart:?no CUDA runtime named by torch $version}"
  fi
  cp -r "$prefix/.cudart/nvidia" "$prefix/"
  rm -rf "$prefix/.cudart"
  touch "$prefix/.complete"
fi
[ -f "$prefix/torch/lib/libtorch_cuda.so" ] || { echo "build-portable: $prefix/torch is not a CUDA torch" >&2; exit 1; }
got=$(sed -n "s/^__version__ = '\([0-9.]*\).*'$/\1/p" "$prefix/torch/version.py")
echo "$got" >"$prefix/torch/build-version"

# 2. Build. A target folder of its own (it links another libtorch), no rpath (RNNLAB_NO_RPATH), and the version check
#    bypassed when tch is not the one made for this torch.
if [ "$tch" = auto ]; then
  case "$got" in
    2.13.0) tch="" ;;
    2.11.0) tch=0.24.0 ;;
    *) echo "build-portable: no known tch for torch $got: pass --tch VERSION (crates.io's torch-sys names its torch)" >&2; exit 2 ;;
  esac
fi
export LIBTORCH="$prefix/torch" LIBTORCH_BYPASS_VERSION_CHECK=1 RNNLAB_NO_RPATH=1
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/../target-portable-$version}
src=$root
if [ -n "$tch" ]; then
  # A copy of the tree (tracked and untracked, not ignored files) with tch and torch-sys pinned to $tch.
  src=$root/../rnnlab-portable-src
  rm -rf "$src"
  mkdir -p "$src"
  (cd "$root" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$src")
  sed -i -e "s/^tch = \"[^\"]*\"/tch = \"=$tch\"/" -e "s/^torch-sys = \"[^\"]*\"/torch-sys = \"=$tch\"/" "$src/Cargo.toml"
  grep -q "^tch = \"=$tch\"" "$src/Cargo.toml" || { echo "build-portable: could not pin tch in $src/Cargo.toml" >&2; exit 1; }
fi
cd "$src"
echo "== cargo build --release against torch $got ($LIBTORCH), tch ${tch:-of Cargo.toml}, target $CARGO_TARGET_DIR"
nice -n 19 cargo build --release --bins
test_bins=()
if [ "$tests" = 1 ]; then
  echo "== cargo test --release --no-run (the library's unit tests and tests/cells.rs)"
  while IFS= read -r exe; do test_bins+=("$exe"); done < <(
    nice -n 19 cargo test --release --no-run --lib --test cells --message-format=json 2>/dev/null |
      "$python" -c 'import json, sys
for line in sys.stdin:
    try: m = json.loads(line)
    except ValueError: continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m.get("profile", {}).get("test"):
        print(m["executable"])')
fi

# 3. The folder to carry.
rm -rf "$dist"
mkdir -p "$dist/tests"
cp "$CARGO_TARGET_DIR/release/rnnlab" "$dist/rnnlab"
for exe in "${test_bins[@]}"; do
  name=$(basename "$exe")
  name=${name%-*} # cells-0123abcd -> cells; the library's rnnlab-0123abcd -> lib
  [ "$name" = rnnlab ] && name=lib
  cp "$exe" "$dist/tests/$name"
done
strip "$dist/rnnlab" "$dist"/tests/* 2>/dev/null || true
data=${RNNLAB_DATA:-$root/../shared/data}
if [ -f "$data/music/JSB_Chorales.mat" ]; then
  mkdir -p "$dist/data/music"
  cp "$data/music/JSB_Chorales.mat" "$dist/data/music/"
  grep JSB_Chorales "$data/music/SHA256SUMS" >"$dist/data/music/SHA256SUMS" 2>/dev/null || true
fi
{
  echo "rnnlab portable build"
  echo "commit: $(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m)"
  echo "libtorch: torch $(sed -n "s/^__version__ = '\(.*\)'$/\1/p" "$prefix/torch/version.py") from PyPI; tch ${tch:-of Cargo.toml}"
  echo "rpath: none (RNNLAB_NO_RPATH=1): run with LD_LIBRARY_PATH=<torch>/lib:<nvidia>/*/lib, as cuda-check.sh --torch does"
  echo "sizes (bytes):"
  (cd "$dist" && find . -type f -printf '  %s %p\n' | sort -k2)
  echo "total: $(du -sb "$dist" | cut -f1) bytes"
  echo "needed libraries of rnnlab:"
  readelf -d "$dist/rnnlab" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/  \1/p'
  echo "runpath of rnnlab: $(readelf -d "$dist/rnnlab" | sed -n 's/.*(R[UN]*PATH).*\[\(.*\)\]/\1/p')"
} >"$dist/BUILD-INFO"
cat "$dist/BUILD-INFO"

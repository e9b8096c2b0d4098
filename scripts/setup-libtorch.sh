#!/usr/bin/env bash
# Install the libtorch that rnnlab is pinned to (2.13.0, the version tch 0.26 expects) under .libtorch/ in the
# repository, where .cargo/config.toml points cargo at it (LIBTORCH=.libtorch/current/torch). Idempotent: when
# the requested variant is already there and its version checks out, it returns at once.
#
#   scripts/setup-libtorch.sh            # CUDA build if nvidia-smi sees a GPU, else the CPU-only directory
#   scripts/setup-libtorch.sh --cpu      # CPU-only: ~490 MB made from three PyPI wheels, without installing them
#   scripts/setup-libtorch.sh --cuda     # full CUDA 13 build: torch 2.13.0 + its CUDA wheels (~4.5 GB)
#
# Only PyPI is used (download.pytorch.org is not needed). Needs python3 with pip and unzip-free Python zipfile.
set -euo pipefail

TORCH_VERSION=2.13.0
CUDART_VERSION=13.0.96 # the nvidia-cuda-runtime wheel torch 2.13.0 was built against
CUPTI_VERSION=13.0.85  # the nvidia-cuda-cupti wheel (libtorch_cpu links libcupti through kineto)
CUDA_TOOLKIT_VERSION=13.0.3 # the cuda-toolkit torch 2.13.0 names; its `crt` extra holds headers the CUDA-graph shim needs

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest="$root/.libtorch"
variant=auto
for arg in "$@"; do
  case "$arg" in
    --cpu) variant=cpu ;;
    --cuda) variant=cuda ;;
    -h | --help)
      sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "setup-libtorch: unknown argument '$arg' (use --cpu, --cuda or nothing)" >&2
      exit 2
      ;;
  esac
done
if [ "$variant" = auto ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q GPU; then
    variant=cuda
  else
    variant=cpu
  fi
fi

python=${PYTHON:-python3}
# The version a libtorch directory carries, from torch/version.py ("2.13.0+cu130" -> "2.13.0").
installed_version() {
  local v="$1/torch/version.py"
  [ -f "$v" ] || return 1
  sed -n "s/^__version__ = '\([0-9.]*\).*'$/\1/p" "$v"
}

target="$dest/$variant"
if [ "$(installed_version "$target" 2>/dev/null || true)" = "$TORCH_VERSION" ] &&
  [ -f "$target/torch/lib/libtorch_cpu.so" ] && [ -f "$target/.complete" ] &&
  { [ "$variant" = cpu ] || [ -f "$target/nvidia/cu13/include/crt/host_defines.h" ]; }; then
  echo "libtorch $TORCH_VERSION ($variant) already installed in $target"
else
  command -v "$python" >/dev/null || {
    echo "setup-libtorch: python3 with pip is needed to fetch the torch wheels from PyPI" >&2
    exit 1
  }
  rm -rf "$target" "$target.tmp"
  mkdir -p "$target.tmp"
  if [ "$variant" = cpu ]; then
    echo "fetching torch $TORCH_VERSION and two CUDA runtime wheels from PyPI (CPU-only libtorch, ~530 MB download)"
    wheels="$target.tmp/wheels"
    "$python" -m pip download -q --no-deps --only-binary=:all: -d "$wheels" \
      "torch==$TORCH_VERSION" "nvidia-cuda-runtime==$CUDART_VERSION" "nvidia-cuda-cupti==$CUPTI_VERSION"
    # Keep only what a CPU program links and loads: the headers and five shared libraries, plus the two CUDA
    # libraries that libtorch_cpu/libc10 name as DT_NEEDED, copied next to them (they are never called on CPU).
    "$python" - "$wheels" "$target.tmp" <<'PY'
import glob, os, shutil, sys, zipfile
wheels, out = sys.argv[1], sys.argv[2]
libdir = os.path.join(out, "torch", "lib")
os.makedirs(libdir, exist_ok=True)
keep_libs = {"libtorch_cpu.so", "libtorch.so", "libc10.so", "libgomp.so.1"}
[torch_whl] = glob.glob(os.path.join(wheels, "torch-*.whl"))
with zipfile.ZipFile(torch_whl) as z:
    for name in z.namelist():
        parts = name.split("/")
        if name.startswith("torch/include/") or name == "torch/version.py" or (
            name.startswith("torch/lib/") and parts[-1] in keep_libs
        ):
            z.extract(name, out)
for pattern, lib in [("nvidia_cuda_runtime-*.whl", "libcudart.so.13"), ("nvidia_cuda_cupti-*.whl", "libcupti.so.13")]:
    [whl] = glob.glob(os.path.join(wheels, pattern))
    with zipfile.ZipFile(whl) as z:
        [member] = [n for n in z.namelist() if n.endswith("/" + lib)]
        with z.open(member) as src, open(os.path.join(libdir, lib), "wb") as dst:
            shutil.copyfileobj(src, dst)
missing = sorted(keep_libs - set(os.listdir(libdir)))
if missing:
    sys.exit(f"setup-libtorch: the torch wheel lacks {missing}")
PY
    rm -rf "$wheels"
  else
    echo "installing torch $TORCH_VERSION with its CUDA wheels from PyPI into $target (~4.5 GB)"
    # crt: the CUDA headers that cuda_runtime_api.h includes, for src/ffi/cuda_graph.cpp (not a torch dependency).
    "$python" -m pip install -q --no-compile --target "$target.tmp" "torch==$TORCH_VERSION" \
      "cuda-toolkit[crt]==$CUDA_TOOLKIT_VERSION"
  fi
  got=$(installed_version "$target.tmp" || true)
  if [ "$got" != "$TORCH_VERSION" ]; then
    echo "setup-libtorch: expected torch $TORCH_VERSION, the download says '${got:-nothing}'" >&2
    exit 1
  fi
  # torch-sys reads build-version to check the version it compiles against.
  echo "$TORCH_VERSION" >"$target.tmp/torch/build-version"
  touch "$target.tmp/.complete"
  mv "$target.tmp" "$target"
  echo "installed libtorch $TORCH_VERSION ($variant) in $target"
fi

# .libtorch/current is what .cargo/config.toml names. Switching variants changes what torch-sys links against
# without changing LIBTORCH's value, so make cargo rebuild torch-sys (and so rnnlab) when the link target moves.
previous=$(readlink "$dest/current" 2>/dev/null || true)
if [ "$previous" != "$variant" ]; then
  ln -sfn "$variant" "$dest/current"
  if [ -n "$previous" ] && [ -d "$root/target" ] && command -v cargo >/dev/null; then
    (cd "$root" && cargo clean -q -p torch-sys && cargo clean -q -p rnnlab) || true
  fi
  echo "cargo now builds against .libtorch/current -> $variant"
fi

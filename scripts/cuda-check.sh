#!/usr/bin/env bash
# Checks rnnlab on a machine with an NVIDIA GPU within a time budget (--budget, 480 s unless set), every output in
# one folder (--out):
#   00 the GPU, driver, binary and libraries            (env.txt)
#   01 rnnlab validate --device cuda --dtype f32        (cuDNN comparisons with TF32 off, as validate does itself)
#   02 rnnlab validate --device cuda --dtype f64
#   03 the CUDA tests: `cargo test --release` when cargo is here, else the prebuilt test executables of --tests
#      filtered to `cuda`, else skipped (said so)
#   04 a short training, jsb_gru (f32 for 2 epochs, f64 for 1), on CUDA and on the CPU, the metrics compared per
#      epoch and member (compare-{f32,f64}.txt)
#   05 the CUDA benchmark: the fastrnns shape, then the paper shapes, every tier incl. cuDNN
#      (bench-cuda-{fastrnns,paper}.{json,md,png})
# and summary.txt: one line per step (ok / FAILED / skipped, seconds). Steps run on after a failure; the exit code
# is non-zero when any failed.
#
#   scripts/cuda-check.sh [--bin PATH] [--tests DIR] [--torch DIR] [--data DIR] [--out DIR] [--quick-bench]
#
#   --bin PATH    a prebuilt rnnlab (scripts/build-portable.sh); default: build here with cargo against the
#                 CUDA libtorch of scripts/setup-libtorch.sh --cuda
#   --tests DIR   prebuilt test executables (build-portable.sh's DIST/tests), used when cargo is absent
#   --torch DIR   the torch package whose libraries the binary loads (…/site-packages/torch); default: the one
#                 python3 imports, when --bin was given. Sets LD_LIBRARY_PATH to DIR/lib and the nvidia/*/lib beside it
#   --data DIR    data folder holding music/JSB_Chorales.mat (default: $RNNLAB_DATA, else ./data)
#   --out DIR     output folder (default: runs/cuda-check-<UTC time>)
#   --budget S    seconds for all the steps together (default 480); each step's time limit is cut to what is left
#   --quick-bench the benchmark's --quick shapes only (when time is short)
#   --no-gpu-ok   go on when no GPU is visible (a dry run of the script itself on a machine without one)
#   --bundle FILE also pack the output folder, less the training checkpoints, into FILE (.tgz), and copy
#                 summary.txt beside it: the results as one file
set -uo pipefail
root=$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")") # the checkout: this script is in its scripts/
cd "$root" || exit 2

bin=""
tests_dir=""
torch_dir=""
data=""
out_dir=""
quick_bench=0
bundle=""
no_gpu_ok=0
budget=480
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --tests) tests_dir=$2; shift 2 ;;
    --torch) torch_dir=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --out) out_dir=$2; shift 2 ;;
    --quick-bench) quick_bench=1; shift ;;
    --bundle) bundle=$2; shift 2 ;;
    --no-gpu-ok) no_gpu_ok=1; shift ;;
    --budget) budget=$2; shift 2 ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "cuda-check: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
out_dir=${out_dir:-runs/cuda-check-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
summary="$out_dir/summary.txt"
: >"$summary"
failed=0
t_start=$(date +%s)

# step NAME TIMEOUT_S CMD [ARG]: runs CMD with a time limit, its output in NAME.log, one line in summary.txt.
step() {
  local name=$1 limit=$2
  shift 2
  local t0 rc remaining
  # Every step ends inside the overall budget (--budget), so the summary and the bundle are always written.
  remaining=$((budget - ($(date +%s) - t_start)))
  if [ "$remaining" -lt 15 ]; then
    failed=1
    printf '%-24s NOT RUN          (the %ss budget is spent)\n' "$name" "$budget" | tee -a "$summary"
    return 1
  fi
  [ "$limit" -gt $((remaining - 5)) ] && limit=$((remaining - 5))
  t0=$(date +%s)
  echo "== $name: $*" | tee -a "$out_dir/$name.log"
  timeout --kill-after=10 "$limit" "$@" >>"$out_dir/$name.log" 2>&1
  rc=$?
  local secs=$(($(date +%s) - t0))
  if [ $rc -eq 0 ]; then
    printf '%-24s ok        %4ds\n' "$name" "$secs" | tee -a "$summary"
  else
    failed=1
    local why="exit $rc"
    [ $rc -eq 124 ] || [ $rc -eq 137 ] && why="timed out after ${limit}s"
    printf '%-24s FAILED    %4ds  (%s; see %s.log)\n' "$name" "$secs" "$why" "$name" | tee -a "$summary"
    tail -n 15 "$out_dir/$name.log" | sed 's/^/    /'
  fi
  return $rc
}
skip() { printf '%-24s skipped          (%s)\n' "$1" "$2" | tee -a "$summary"; }

# --- the binary and its libraries -------------------------------------------------------------------------------
if [ -z "$bin" ]; then
  if ! command -v cargo >/dev/null; then
    echo "cuda-check: no --bin given and no cargo here: build one elsewhere with scripts/build-portable.sh" >&2
    exit 2
  fi
  if ! nvidia-smi -L >/dev/null 2>&1; then
    echo "cuda-check: no GPU visible (nvidia-smi failed)" >&2
    exit 1
  fi
  # Not a budgeted step: a first build takes longer than the checks.
  echo "== build: scripts/setup-libtorch.sh --cuda && cargo build --release (log: $out_dir/build.log)"
  if ! { scripts/setup-libtorch.sh --cuda && cargo build --release; } >"$out_dir/build.log" 2>&1; then
    tail -n 20 "$out_dir/build.log"
    echo "build FAILED" | tee -a "$summary"
    exit 1
  fi
  bin=target/release/rnnlab
elif [ -z "$torch_dir" ] && command -v python3 >/dev/null; then
  torch_dir=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))' 2>/dev/null || true)
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
if [ -n "$torch_dir" ]; then
  libs="$torch_dir/lib"
  site_packages=$(dirname "$torch_dir") # the nvidia/*/lib wheels lie beside torch
  for d in "$site_packages"/nvidia/*/lib; do [ -d "$d" ] && libs="$libs:$d"; done
  export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if [ -z "$data" ]; then
  for d in "${RNNLAB_DATA:-}" "$root/data"; do
    if [ -n "$d" ] && [ -f "$d/music/JSB_Chorales.mat" ]; then data=$d; break; fi
  done
fi
[ -n "$data" ] && export RNNLAB_DATA="$data"
t_start=$(date +%s) # the budget counts from here

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -a)"
  echo "binary: $bin ($(stat -c %s "$bin" 2>/dev/null) bytes)"
  echo "torch: ${torch_dir:-(none given: the binary rpath)}"
  echo "LD_LIBRARY_PATH: ${LD_LIBRARY_PATH:-}"
  echo "RNNLAB_DATA: ${RNNLAB_DATA:-(none)}"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
  echo; nvidia-smi -L 2>&1; echo; nvidia-smi 2>&1
  echo; echo "ldd $bin:"; ldd "$bin" 2>&1
  [ -n "$torch_dir" ] && python3 -c 'import torch; print("python torch", torch.__version__, "cuda", torch.version.cuda, "gpu", torch.cuda.get_device_name(0))' 2>&1
} >"$out_dir/env.txt"
if ! grep -m1 "^GPU" "$out_dir/env.txt"; then
  echo "cuda-check: no GPU visible (nvidia-smi -L listed none; see $out_dir/env.txt)"
  failed=1
  [ "$no_gpu_ok" = 1 ] || exit 1
fi
if ldd "$bin" 2>/dev/null | grep -q "not found"; then
  echo "cuda-check: the binary's libraries are not all found (see $out_dir/env.txt); pass --torch <site-packages>/torch"
  ldd "$bin" | grep "not found"
  exit 1
fi

# --- 01/02 validate ---------------------------------------------------------------------------------------------
step 01-validate-f32 90 "$bin" validate --device cuda --dtype f32 --json
step 02-validate-f64 90 "$bin" validate --device cuda --dtype f64 --json

# --- 03 the CUDA tests ------------------------------------------------------------------------------------------
if command -v cargo >/dev/null && [ -z "$tests_dir" ]; then
  step 03-tests 240 cargo test --release -- cuda
elif [ -n "$tests_dir" ] && ls "$tests_dir"/* >/dev/null 2>&1; then
  # shellcheck disable=SC2016 # $0 and $t expand in the inner shell
  step 03-tests 180 bash -c 'rc=0; for t in "$0"/*; do echo "-- $t"; "$t" cuda --nocapture --test-threads=1 || rc=1; done; exit $rc' "$tests_dir"
else
  skip 03-tests "no cargo here and no --tests folder of prebuilt test executables"
fi

# --- 04 short training, CUDA vs CPU ----------------------------------------------------------------------------
# f32 for 2 epochs and f64 for 1 (the same config, seed and noise draws: the noise comes from the run's own CPU
# generator on both devices), compared per epoch and member; compare-<dtype>.txt lists every number.
if [ -n "$data" ]; then
  for run in "f32 2 1e-3" "f64 1 1e-8"; do
    read -r dtype epochs tol <<<"$run"
    rm -rf "$out_dir/train-cuda-$dtype" "$out_dir/train-cpu-$dtype"
    common=(train --config experiments/jsb_gru.toml --set max_epochs="$epochs" --set dtype="$dtype" --quiet)
    step "04-train-cuda-$dtype" 150 "$bin" "${common[@]}" --device cuda --out "$out_dir/train-cuda-$dtype"
    step "04-train-cpu-$dtype" 150 "$bin" "${common[@]}" --device cpu --out "$out_dir/train-cpu-$dtype"
    if [ -f "$out_dir/train-cuda-$dtype/metrics.jsonl" ] && [ -f "$out_dir/train-cpu-$dtype/metrics.jsonl" ]; then
      step "04-compare-$dtype" 30 python3 "$root/scripts/compare-runs.py" "$out_dir/train-cuda-$dtype" \
        "$out_dir/train-cpu-$dtype" --tolerance "$tol" --report "$out_dir/compare-$dtype.txt"
    fi
  done
else
  skip 04-train "no data: pass --data with music/JSB_Chorales.mat"
fi

# --- 05 the CUDA benchmark ---------------------------------------------------------------------------------------
# PyTorch's fastrnns benchmark shape first, then the paper's shapes in the time left of the budget. A bench writes
# its JSON only at its end, so each shape set is its own run.
left=$((budget - ($(date +%s) - t_start)))
bench=(bench --device cuda --warmup 2 --reps 5 --min-time 0.05)
if [ "$quick_bench" = 1 ] || [ "$left" -lt 120 ]; then
  step 05-bench-quick 100 "$bin" bench --device cuda --quick --json "$out_dir/bench-cuda-quick.json" \
    --markdown "$out_dir/bench-cuda-quick.md"
else
  step 05-bench-fastrnns $((left / 2)) "$bin" "${bench[@]}" --shapes fastrnns --json "$out_dir/bench-cuda-fastrnns.json" \
    --markdown "$out_dir/bench-cuda-fastrnns.md" --png "$out_dir/bench-cuda-fastrnns.png"
  left=$((budget - ($(date +%s) - t_start)))
  if [ "$left" -gt 40 ]; then
    step 05-bench-paper $((left - 10)) "$bin" "${bench[@]}" --shapes paper --json "$out_dir/bench-cuda-paper.json" \
      --markdown "$out_dir/bench-cuda-paper.md" --png "$out_dir/bench-cuda-paper.png"
  else
    skip 05-bench-paper "only ${left}s left of the ${budget}s budget"
  fi
fi

echo "== $(($(date +%s) - t_start)) s in all; outputs in $out_dir" | tee -a "$summary"
if [ -n "$bundle" ]; then
  tar czf "$bundle" --exclude=checkpoint -C "$(dirname "$out_dir")" "$(basename "$out_dir")" &&
    cp "$summary" "$(dirname "$bundle")/summary.txt" &&
    echo "== packed into $bundle ($(stat -c %s "$bundle") bytes)"
fi
exit $failed

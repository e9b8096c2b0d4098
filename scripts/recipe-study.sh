#!/usr/bin/env bash
# The training-recipe study of docs/recipe-study.md: validation NLL against CPU time for chunk length (50, 100,
# 200, whole pieces), zero vs carried state, and batch size (1, 8, 32; whole pieces one at a time is the authors'
# own recipe), each setting a full 10-member learning-rate population of the paper's GRU (the recipe the paper
# fixes stays fixed: RMSProp, weight noise 0.075, clipping at 1, 10 learning rates exp(U(-12, -6)), Table 1 size).
#
#   scripts/recipe-study.sh [--dataset nottingham] [--budget 300] [--jobs 2] [--out runs/study] [--settings LIST]
#
# Every setting is one `rnnlab train` run with a wall-clock cap (`max_seconds`), one libtorch thread, into
# OUT/<dataset>/<setting>/. Runs already finished are kept; an unfinished one is resumed, so the command can be
# re-run after an interruption. The figure and table are drawn from the run directories by
# `rnnlab plot --study OUT/<dataset> --out docs/`. The x axis is each run's CPU time (the training thread's), so
# settings run side by side, or beside other work, are compared fairly.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dataset=nottingham
budget=300
jobs=2
out=runs/study
settings=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dataset) dataset=$2; shift 2 ;;
    --budget) budget=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --settings) settings=$2; shift 2 ;;
    -h | --help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "recipe-study: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

# label: chunk_len carry_state batch_size
all_settings="c50-zero-b8:50:false:8
c50-carry-b8:50:true:8
c100-zero-b8:100:false:8
c100-carry-b8:100:true:8
c200-carry-b8:200:true:8
whole-b8:0:false:8
c100-carry-b1:100:true:1
whole-b1:0:false:1
c100-carry-b32:100:true:32"
if [ -n "$settings" ]; then
  all_settings=$(echo "$all_settings" | grep -E "^($(echo "$settings" | tr ',' '|')):")
fi

bin=${RNNLAB_BIN:-target/release/rnnlab} # RNNLAB_BIN: a binary to use instead of this tree's release build
[ -n "${RNNLAB_BIN:-}" ] || cargo build --release --quiet
mkdir -p "$out/$dataset"

run_one() {
  local label=$1 chunk=$2 carry=$3 batch=$4
  local dir="$out/$dataset/$label"
  if [ -f "$dir/summary.json" ]; then
    echo "$label: finished earlier, kept"
    return 0
  fi
  if [ -f "$dir/checkpoint/state.json" ]; then
    "$bin" train --resume "$dir" --quiet >"$dir.log" 2>&1
  else
    rm -rf "$dir"
    "$bin" train --config "experiments/${dataset}_gru.toml" --out "$dir" --quiet \
      --set chunk_len="$chunk" --set carry_state="$carry" --set batch_size="$batch" \
      --set max_seconds="$budget" --set max_epochs=1000 --set patience=1000 >"$dir.log" 2>&1
  fi
  echo "$label: $(tail -n 1 "$dir.log")"
}

running=0
while IFS=: read -r label chunk carry batch; do
  run_one "$label" "$chunk" "$carry" "$batch" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done <<<"$all_settings"
wait
"$bin" plot --study "$out/$dataset" --out docs

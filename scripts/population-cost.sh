#!/usr/bin/env bash
# What extra population members cost: trains one experiment with 1, 10 and 30 members (1 learning-rate
# candidate; 10 candidates × 1 seed; 10 candidates × 3 seeds) for a few epochs and prints, for each, the wall-clock,
# the training thread's CPU time, both per model, the peak resident memory, and the ratio of the 30-member per-model
# cost to the 10-member one.
#
#   scripts/population-cost.sh [--config experiments/jsb_gru.toml] [--epochs 3] [--device cpu|cuda]
#                              [--out runs/population-cost]
#
# Runs one training at a time on one libtorch thread; time it on an otherwise idle machine and say what else ran.
# Writes OUT/cost.md (the table) beside the three run directories; RNNLAB_BIN selects a binary other than this
# tree's release build. On CUDA the peak memory column is the host process's; wall-clock is the figure that counts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

config=experiments/jsb_gru.toml
epochs=3
device=cpu
out=runs/population-cost
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "population-cost: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -f "$config" ] || { echo "population-cost: no config $config" >&2; exit 2; }

bin=${RNNLAB_BIN:-target/release/rnnlab}
[ -n "${RNNLAB_BIN:-}" ] || cargo build --release --quiet
mkdir -p "$out"

# label members extra-sets
cases="k1 1 --set lr_candidates=1
k10 10 --set seeds=1
k30 30 --set seeds=3"
rows=""
while read -r label members sets; do
  dir="$out/$label"
  rm -rf "$dir" "$dir.time" "$dir.log"
  # The child's peak RSS (kB) from getrusage, written to $dir.time (GNU time is not on every machine).
  # shellcheck disable=SC2086
  python3 -c 'import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
open(sys.argv[1], "w").write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) + "\n")
sys.exit(rc)' "$dir.time" "$bin" train --config "$config" --out "$dir" --quiet --device "$device" \
    --set max_epochs="$epochs" --set patience=1000 $sets >"$dir.log" 2>&1 ||
    { echo "population-cost: $label failed, see $dir.log" >&2; exit 1; }
  read -r wall cpu < <(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["seconds"], s["cpu_seconds"])' "$dir/summary.json")
  rss_kb=$(cat "$dir.time")
  rows+="$label $members $wall $cpu $rss_kb"$'\n'
done <<<"$cases"

python3 - "$out/cost.md" "$config" "$epochs" "$device" <<PY
import sys
path, config, epochs, device = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rows = [l.split() for l in """$rows""".strip().splitlines()]
per = {}
out = [f"Population cost: {config}, {epochs} epochs incl. evaluation, device {device}, one libtorch thread.", "",
       "| members | wall s | CPU s | wall s per model | CPU s per model | peak RSS GB |",
       "|---:|---:|---:|---:|---:|---:|"]
for label, k, wall, cpu, rss in rows:
    k, wall, cpu = int(k), float(wall), float(cpu)
    per[k] = (wall / k, cpu / k)
    out.append(f"| {k} | {wall:.2f} | {cpu:.2f} | {wall / k:.3f} | {cpu / k:.3f} | {int(rss) / 1e6:.2f} |")
out += ["", f"30 against 10 members, per model: wall {per[30][0] / per[10][0]:.2f}×, CPU {per[30][1] / per[10][1]:.2f}×."]
text = "\n".join(out) + "\n"
open(path + ".tmp", "w").write(text)
import os; os.replace(path + ".tmp", path)
print(text, end="")
PY

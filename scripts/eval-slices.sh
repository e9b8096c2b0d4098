#!/usr/bin/env bash
# CPU seconds per member-epoch of a JSB GRU population (experiments/jsb_gru.toml, evaluation included) for several
# evaluation slice sizes (`eval_batch_size` sequences x `eval_chunk` frames), the settings interleaved round by round
# so that drift on a shared machine touches them alike:
#
#   scripts/eval-slices.sh --data-dir DIR [--rounds 3] [--epochs 4] [--out results/eval-slices]
#                          [--slices "64x100 32x100 16x100 8x100 32x50 16x50 8x50"] [--members "30 1"]
#
# For K = 30 (3 seeds x 10 learning rates) and K = 1 members (10: 1 seed); each figure is the median over rounds of the mean CPU
# time of the epochs after the first, over K (one libtorch thread). Writes OUT.md and OUT.json (temp file, then
# rename) and its runs under runs/eval-slices/. Time it on an otherwise idle machine and say what else ran.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

data="${RNNLAB_DATA:-$PWD/data}"
rounds=3
epochs=4
out=results/eval-slices
slice_list="64x100 32x100 16x100 8x100 32x50 16x50 8x50"
member_list="30 1"
while [ $# -gt 0 ]; do
  case "$1" in
    --data-dir) data=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --slices) slice_list=$2; shift 2 ;;
    --members) member_list=$2; shift 2 ;;
    -h | --help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "eval-slices: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -d "$data/music" ] || { echo "eval-slices: no $data/music (set --data-dir or RNNLAB_DATA)" >&2; exit 2; }
[ "$epochs" -ge 2 ] || { echo "eval-slices: --epochs must be at least 2 (the first is not counted)" >&2; exit 2; }

cargo build --release --quiet
bin=target/release/rnnlab
runs=runs/eval-slices
mkdir -p "$runs" "$(dirname "$out")"
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT

slices=$(tr ' ' '\n' <<<"$slice_list" | tr 'x' ' ')
members=""
for k in $member_list; do
  case "$k" in
    30) members+="30 --set seeds=3"$'\n' ;;
    10) members+="10 --set seeds=1"$'\n' ;;
    1) members+="1 --set lr_candidates=1"$'\n' ;;
    *) echo "eval-slices: --members takes 30, 10 and 1" >&2; exit 2 ;;
  esac
done
members=${members%$'\n'}
grep -qx '64 100' <<<"$slices" || { echo "eval-slices: --slices must include 64x100 (the baseline)" >&2; exit 2; }

for r in $(seq "$rounds"); do
  while read -r k sets; do
    while read -r eb ec; do
      dir="$runs/k$k-b$eb-c$ec"
      rm -rf "$dir"
      echo "== round $r K=$k eval_batch_size=$eb eval_chunk=$ec" >&2
      # shellcheck disable=SC2086
      "$bin" train --config experiments/jsb_gru.toml --data-dir "$data" --out "$dir" --quiet \
        --set max_epochs="$epochs" --set patience=100000 --set eval_batch_size="$eb" --set eval_chunk="$ec" \
        $sets >"$dir.log" 2>&1 || { echo "eval-slices: K=$k $eb x $ec failed, see $dir.log" >&2; exit 1; }
      python3 - "$dir/metrics.jsonl" "$k" "$eb" "$ec" "$r" >>"$rows" <<'PY'
import json, sys
path, k, eb, ec, r = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
lines = [json.loads(l) for l in open(path)]
cpu = [l["cpu_seconds"] for l in lines]
print(json.dumps({"members": k, "eval_batch_size": eb, "eval_chunk": ec, "round": r,
                  "cpu_s_per_member_epoch": (cpu[-1] - cpu[0]) / (len(lines) - 1) / k}))
PY
    done <<<"$slices"
  done <<<"$members"
done

python3 - "$rows" "$out" "$epochs" "$rounds" "$slice_list" "$member_list" <<'PY'
import json, os, platform, statistics, sys
rows_path, out, epochs, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
slice_list, member_list = sys.argv[5], sys.argv[6]
rows = [json.loads(l) for l in open(rows_path)]
cpu = "unknown CPU"
try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except (OSError, StopIteration):
    pass
keys = []
for r in rows:
    key = (r["members"], r["eval_batch_size"], r["eval_chunk"])
    if key not in keys:
        keys.append(key)
summary = []
for k, eb, ec in keys:
    v = [r["cpu_s_per_member_epoch"] for r in rows
         if (r["members"], r["eval_batch_size"], r["eval_chunk"]) == (k, eb, ec)]
    summary.append({"members": k, "eval_batch_size": eb, "eval_chunk": ec,
                    "median": statistics.median(v), "min": min(v), "max": max(v)})
lines = [
    "# Evaluation slice size against epoch time (JSB GRU population)",
    "",
    f"{cpu}, {os.cpu_count()} cores, one libtorch thread, release build. `rnnlab train --config "
    f"experiments/jsb_gru.toml --set max_epochs={epochs} --set patience=100000 --set eval_batch_size=B "
    f"--set eval_chunk=C` (K = 30: `--set seeds=3`; K = 10: `--set seeds=1`; K = 1: `--set lr_candidates=1`), {rounds} rounds with the "
    "settings interleaved. CPU seconds per member-epoch (training, validation and test evaluation, checkpoint), "
    "mean of the epochs after the first; median over rounds (min–max), and its ratio to 64 × 100.",
    "",
    "| K | eval_batch_size | eval_chunk | CPU-s per member-epoch | min–max | / 64 × 100 |",
    "|---:|---:|---:|---:|---|---:|",
]
for s in summary:
    base = next(b["median"] for b in summary
                if b["members"] == s["members"] and (b["eval_batch_size"], b["eval_chunk"]) == (64, 100))
    lines.append(f"| {s['members']} | {s['eval_batch_size']} | {s['eval_chunk']} | {s['median']:.4f} | "
                 f"{s['min']:.4f}–{s['max']:.4f} | {s['median'] / base:.3f} |")
lines += ["", f"Made with `scripts/eval-slices.sh --rounds {rounds} --epochs {epochs} --slices \"{slice_list}\" "
          f"--members \"{member_list}\"`.", ""]
doc = {"machine": {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform()},
       "epochs": epochs, "rounds": rounds, "slices": slice_list, "members": member_list, "summary": summary, "runs": rows}
for ext, text in ((".md", "\n".join(lines)), (".json", json.dumps(doc, indent=1) + "\n")):
    tmp = out + ext + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, out + ext)
print("\n".join(lines))
PY

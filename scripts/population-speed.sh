#!/usr/bin/env bash
# CPU seconds per member-epoch of population training (the paper's GRU, evaluation included), for rnnlab as built
# here, an earlier rnnlab binary (--before), and the PyTorch peer (scripts/pytorch-population.py: the population
# hand-batched, and the same members one after another with nn.GRU), all in one run on one machine:
#
#   scripts/population-speed.sh --data-dir DIR [--before BIN [--before-label TEXT]] [--epochs 3]
#                               [--out results/population-speed] [--python PY] [--quick]
#                               [--cases jsb:1,jsb:10,jsb:30,nottingham:30,musedata:30] [--rounds 1]
#
# JSB Chorales at K = 1, 10 and 30 members, Nottingham and MuseData at K = 30 (members = learning-rate candidates
# x seeds of experiments/<dataset>_gru.toml; patience high so that no member stops). Each figure is the mean CPU time
# of the epochs after the first (the first pays for warm-up), over K: training, validation and test evaluation and
# the checkpoint, one libtorch thread. Writes OUT.md and OUT.json (temp file, then rename) and the runs under
# runs/population-speed/. --before takes a release binary of another version, e.g. one built with
#   git worktree add /tmp/before <commit> && (cd /tmp/before && cargo build --release)
# --before-label says in the table what that binary is (default: its path).
# --python names a Python with torch 2.13, numpy and scipy (default: .venv/bin/python, else python3); the PyTorch
# rows are left out when it has none. --quick: JSB only, 2 epochs (a smoke test). --cases: which (dataset, K) rows.
# --rounds R: every case R times, the implementations interleaved round by round; each figure is then the median
# over rounds, and the table gives every round's ratio too (short JSB epochs vary by several percent from run to
# run). Time it on an otherwise idle machine and say what else ran.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

data="${RNNLAB_DATA:-$PWD/data}"
before=""
before_label=""
epochs=3
out=results/population-speed
python=""
quick=0
case_list=""
rounds=1
while [ $# -gt 0 ]; do
  case "$1" in
    --data-dir) data=$2; shift 2 ;;
    --before) before=$2; shift 2 ;;
    --before-label) before_label=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --cases) case_list=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    -h | --help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "population-speed: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -d "$data/music" ] || { echo "population-speed: no $data/music (set --data-dir or RNNLAB_DATA)" >&2; exit 2; }
[ "$epochs" -ge 2 ] || { echo "population-speed: --epochs must be at least 2 (the first is not counted)" >&2; exit 2; }
if [ -n "$before" ] && [ ! -x "$before" ]; then
  echo "population-speed: --before $before is not an executable" >&2; exit 2
fi
if [ -z "$python" ]; then
  if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi
fi
peer=1
"$python" -c 'import torch, numpy, scipy' 2>/dev/null || {
  echo "population-speed: $python lacks torch/numpy/scipy; the PyTorch rows are left out" >&2
  peer=0
}

cargo build --release --quiet
bin=target/release/rnnlab
runs=runs/population-speed
mkdir -p "$runs" "$(dirname "$out")"
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT

cases="jsb 1 --set lr_candidates=1
jsb 10 --set seeds=1
jsb 30 --set seeds=3
nottingham 30 --set seeds=3
musedata 30 --set seeds=3"
[ "$quick" = 1 ] && { cases=$(head -3 <<<"$cases"); epochs=2; }
if [ -n "$case_list" ]; then
  chosen=""
  for c in ${case_list//,/ }; do
    line=$(grep -E "^${c%%:*} ${c##*:} " <<<"$cases") ||
      { echo "population-speed: --cases: no case '$c' (jsb:1, jsb:10, jsb:30, nottingham:30, musedata:30)" >&2; exit 2; }
    chosen+="$line"$'\n'
  done
  cases=${chosen%$'\n'}
fi
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "population-speed: --rounds must be a positive integer" >&2; exit 2; }

# rnnlab: one run per (binary, dataset, K); the per-epoch CPU seconds come from metrics.jsonl.
rnnlab_case() { # label binary dataset members sets...
  local label=$1 b=$2 ds=$3 k=$4; shift 4
  local dir="$runs/$label-$ds-k$k"
  rm -rf "$dir"
  echo "== $label $ds K=$k" >&2
  "$b" train --config "experiments/${ds}_gru.toml" --data-dir "$data" --out "$dir" --quiet \
    --set max_epochs="$epochs" --set patience=100000 "$@" >"$dir.log" 2>&1 ||
    { echo "population-speed: $label $ds K=$k failed, see $dir.log" >&2; exit 1; }
  python3 - "$dir/metrics.jsonl" "$label" "$ds" "$k" "$round" >>"$rows" <<'PY'
import json, sys
path, label, ds, k, rnd = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
lines = [json.loads(l) for l in open(path)]
cpu = [l["cpu_seconds"] for l in lines]
wall = [l["seconds"] for l in lines]
n = len(lines) - 1
print(json.dumps({"impl": label, "dataset": ds, "members": k, "epochs": len(lines), "round": rnd,
                  "cpu_s_per_member_epoch": (cpu[-1] - cpu[0]) / n / k,
                  "wall_s_per_member_epoch": (wall[-1] - wall[0]) / n / k}))
PY
}

for round in $(seq "$rounds"); do
  while read -r ds k sets; do
    # shellcheck disable=SC2086
    [ -n "$before" ] && rnnlab_case before "$before" "$ds" "$k" $sets
    # shellcheck disable=SC2086
    rnnlab_case rnnlab "$bin" "$ds" "$k" $sets
    if [ "$peer" = 1 ]; then
      modes="batched"
      # One after another, a member costs what it costs alone: measured at K = 10 on JSB.
      [ "$ds" = jsb ] && [ "$k" = 10 ] && modes="batched sequential"
      for mode in $modes; do
        echo "== pytorch-$mode $ds K=$k" >&2
        "$python" scripts/pytorch-population.py --data-dir "$data" --dataset "$ds" --members "$k" \
          --epochs "$epochs" --mode "$mode" --json "$runs/pytorch-$mode-$ds-k$k.json" >/dev/null
        python3 - "$runs/pytorch-$mode-$ds-k$k.json" "$mode" "$ds" "$k" "$round" >>"$rows" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({"impl": "pytorch-" + sys.argv[2], "dataset": sys.argv[3], "members": int(sys.argv[4]),
                  "round": int(sys.argv[5]),
                  "epochs": r["epochs"], "cpu_s_per_member_epoch": r["cpu_s_per_member_epoch"],
                  "wall_s_per_member_epoch": r["wall_s_per_member_epoch"], "torch": r.get("torch")}))
PY
      done
    fi
  done <<<"$cases"
done

made="scripts/population-speed.sh${before:+ --before BIN --before-label LABEL} --epochs $epochs"
[ -n "$case_list" ] && made+=" --cases $case_list"
[ "$rounds" != 1 ] && made+=" --rounds $rounds"
python3 - "$rows" "$out" "$epochs" "${before_label:-$before}" "$rounds" "$made" <<'PY'
import json, os, platform, statistics, subprocess, sys
rows_path, out, epochs, before = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rounds, made = int(sys.argv[5]), sys.argv[6]
rows = [json.loads(l) for l in open(rows_path) if l.strip()]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
meta = {"cpu": cpu, "cores": os.cpu_count(), "threads": 1, "epochs": epochs, "rounds": rounds, "commit": commit,
        "before": before or None, "machine": platform.machine()}
def figs(impl, ds, k):
    return [r["cpu_s_per_member_epoch"] for r in rows
            if r["impl"] == impl and r["dataset"] == ds and r["members"] == k]
def fig(impl, ds, k):
    v = figs(impl, ds, k)
    return statistics.median(v) if v else None
keys = sorted({(r["dataset"], r["members"]) for r in rows},
              key=lambda x: (["jsb", "nottingham", "musedata"].index(x[0]), x[1]))
impls = [i for i in ["before", "rnnlab", "pytorch-batched", "pytorch-sequential"] if any(r["impl"] == i for r in rows)]
head = {"before": "rnnlab before", "rnnlab": "rnnlab", "pytorch-batched": "PyTorch, hand-batched",
        "pytorch-sequential": "PyTorch, nn.GRU one after another"}
lines = ["# Population training: CPU seconds per member-epoch", "",
         f"The paper's GRU (46 units, the recipe of `experiments/<dataset>_gru.toml`), evaluation of validation and "
         f"test included, one thread, float32; mean of epochs 2..{epochs}"
         + (f", median of {rounds} rounds" if rounds > 1 else "") + f". CPU: {cpu}. Commit {commit}"
         + (f"; `before` is {before}." if before else "."), "",
         "| dataset | K | " + " | ".join(head[i] for i in impls) + (" | rnnlab / before |" if "before" in impls else " |")
         + (" per round |" if "before" in impls and rounds > 1 else ""),
         "|---|---:|" + "---:|" * len(impls) + ("---:|" if "before" in impls else "")
         + ("---|" if "before" in impls and rounds > 1 else "")]
for ds, k in keys:
    cells = [fig(i, ds, k) for i in impls]
    line = f"| {ds} | {k} | " + " | ".join("" if c is None else f"{c:.4f}" for c in cells) + " |"
    if "before" in impls:
        b, a = fig("before", ds, k), fig("rnnlab", ds, k)
        line += f" {a / b:.2f} |" if a and b else " |"
        if rounds > 1:
            per = [a / b for a, b in zip(figs("rnnlab", ds, k), figs("before", ds, k))]
            line += " " + ", ".join(f"{x:.3f}" for x in per) + " |"
    lines.append(line)
lines += ["", f"Made with `{made}`; the runs are under `runs/population-speed/`."]
tmp = out + ".json.tmp"
with open(tmp, "w") as f:
    json.dump({"meta": meta, "rows": rows}, f, indent=2)
os.replace(tmp, out + ".json")
tmp = out + ".md.tmp"
with open(tmp, "w") as f:
    f.write("\n".join(lines) + "\n")
os.replace(tmp, out + ".md")
print("\n".join(lines))
PY

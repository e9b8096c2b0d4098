#!/usr/bin/env bash
# The CPU cost of one epoch of each planned Shakespeare unit (experiments/shakespeare/, the whole population of
# 4 learning rates x 3 seeds, one thread, evaluation included), to size the comparison's epoch cap to its budget.
#
#   scripts/shakespeare-epoch-cost.sh [DATA_DIR] [OUT]     # defaults: $RNNLAB_DATA (else ./data), results/shakespeare-epoch-cost
#
# Needs a release build (cargo build --release) and the dataset (rnnlab data fetch --dataset shakespeare). Run it
# with nothing else on the machine: it reads each run's CPU seconds from its summary.json. Writes OUT.json and OUT.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
data=${1:-${RNNLAB_DATA:-data}}
out=${2:-results/shakespeare-epoch-cost}
bin=target/release/rnnlab
[ -x "$bin" ] || { echo "build it first: cargo build --release" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rows=()
for cfg in experiments/shakespeare/shakespeare_{tanh,gru,lstm,mut1,mut3,lstm_noaf}.toml; do
  unit=$(basename "$cfg" .toml)
  unit=${unit#shakespeare_}
  "$bin" train --config "$cfg" --set max_epochs=1 --set threads=1 --data-dir "$data" --out "$work/$unit" >/dev/null
  rows+=("$(python3 - "$work/$unit/summary.json" "$unit" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(json.dumps({"unit": sys.argv[2], "cell": s["cell"], "hidden": s["hidden"], "params_paper": s["params_paper"],
                  "population": s["population"], "updates": s["updates"], "cpu_seconds": round(s["cpu_seconds"], 1),
                  "seconds": round(s["seconds"], 1)}))
PY
)")
  echo "${rows[-1]}"
done
python3 - "$out" "$(uname -m)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" "${rows[@]}" <<'PY'
import json, os, sys, tempfile
out, arch, cpu, rows = sys.argv[1], sys.argv[2], sys.argv[3], [json.loads(r) for r in sys.argv[4:]]
total = sum(r["cpu_seconds"] for r in rows)
doc = {"command": "scripts/shakespeare-epoch-cost.sh", "machine": f"{arch}, {cpu}", "threads": 1,
       "what": "one epoch (updates and the validation/test evaluation) of each planned unit's whole population",
       "rows": rows, "cpu_seconds_per_epoch_all_units": round(total, 1),
       "epochs_in_six_cpu_hours": int(6 * 3600 // total) if total > 0 else None}
md = ["# One epoch of each planned Shakespeare unit", "",
      f"`scripts/shakespeare-epoch-cost.sh` on {arch} ({cpu}), one thread, release build: each unit's whole "
      "population (4 learning rates x 3 seeds), one epoch with its evaluation.", "",
      "| unit | cell | hidden | parameters (paper) | members | updates | CPU-s per epoch |", "|---|---|---:|---:|---:|---:|---:|"]
md += [f"| {r['unit']} | {r['cell']} | {r['hidden']} | {r['params_paper']} | {r['population']} | {r['updates']} | "
       f"{r['cpu_seconds']} |" for r in rows]
md += ["", f"All six: {total:.1f} CPU-s per epoch; six CPU-hours hold {doc['epochs_in_six_cpu_hours']} epochs of each."]
for ext, text in ((".json", json.dumps(doc, indent=1) + "\n"), (".md", "\n".join(md) + "\n")):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(out) or ".")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, out + ext)
print("\n".join(md))
PY

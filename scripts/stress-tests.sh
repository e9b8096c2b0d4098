#!/usr/bin/env bash
# Runs every test binary of `cargo test --all-targets` N times on one build and reports how many runs of each
# failed: a test that depends on thread order, timing or what else runs in its process shows up here.
#
#   scripts/stress-tests.sh [N] [BINARY_FILTER]      (N defaults to 20; e.g. `scripts/stress-tests.sh 40 compare`)
#
# Needs what the suite needs: the pinned libtorch (scripts/setup-libtorch.sh) and RNNLAB_DATA (./data when unset).
# The Slurm tests skip unless SLURM_CONF is set (scripts/slurm-local.sh up; eval "$(scripts/slurm-local.sh env)").
# The log of every failed run is kept under target/stress/; the summary is printed and written to
# target/stress/summary.txt. Exits 1 when any run failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs="${1:-20}"
filter="${2:-}"
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/stress-tests.sh [N] [BINARY_FILTER]  (N: a positive number of runs, got '$runs')" >&2
  exit 2
fi
export RNNLAB_DATA="${RNNLAB_DATA:-$PWD/data}"
out=target/stress
mkdir -p "$out"

echo "== building the test binaries once"
# One line per test binary: "<name> <executable>", from cargo's JSON messages.
mapfile -t binaries < <(cargo test --all-targets --no-run --message-format=json 2>/dev/null |
  python3 -c '
import json, sys
seen = set()
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        kind = m["target"]["kind"][0]
        name = m["target"]["name"] if kind == "test" else kind + ":" + m["target"]["name"]
        if m["executable"] not in seen:
            seen.add(m["executable"])
            print(name, m["executable"])
')
if [ "${#binaries[@]}" -eq 0 ]; then
  echo "no test binaries were built (run: cargo test --all-targets --no-run)" >&2
  exit 1
fi

declare -A failed seconds
total_failed=0
for ((i = 1; i <= runs; i++)); do
  for entry in "${binaries[@]}"; do
    name="${entry%% *}"
    exe="${entry#* }"
    [[ -n "$filter" && "$name" != *"$filter"* ]] && continue
    start=$(date +%s.%N)
    if ! "$exe" >"$out/current.log" 2>&1; then
      failed[$name]=$((${failed[$name]:-0} + 1))
      total_failed=$((total_failed + 1))
      mv "$out/current.log" "$out/${name//:/_}.run$i.log"
      echo "run $i/$runs: $name FAILED (log: $out/${name//:/_}.run$i.log)"
    fi
    end=$(date +%s.%N)
    seconds[$name]=$(python3 -c "print(${seconds[$name]:-0} + $end - $start)")
  done
  echo "run $i/$runs done ($total_failed failed runs so far)"
done
rm -f "$out/current.log"

{
  echo "stress: $runs runs of each test binary ($(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
  printf '%-28s %8s %12s\n' binary failed "mean s/run"
  for entry in "${binaries[@]}"; do
    name="${entry%% *}"
    [[ -n "$filter" && "$name" != *"$filter"* ]] && continue
    printf '%-28s %5d/%-3d %12.1f\n' "$name" "${failed[$name]:-0}" "$runs" \
      "$(python3 -c "print(${seconds[$name]:-0} / $runs)")"
  done
  echo "total: $total_failed failed runs"
} | tee "$out/summary.txt"
[ "$total_failed" -eq 0 ]

#!/usr/bin/env bash
# The README's test command: everything from a fresh clone. Installs the pinned libtorch when missing
# (scripts/setup-libtorch.sh), then checks formatting, lints with clippy (-D warnings) and runs every test.
#
# Data-dependent tests read the datasets from $RNNLAB_DATA (CI points it at ../shared/data); when it is unset they
# use ./data, which `rnnlab data fetch` fills on a machine with internet access.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-libtorch.sh "$@"
if [ -z "${RNNLAB_DATA:-}" ]; then
  export RNNLAB_DATA="$PWD/data"
  if [ ! -d "$RNNLAB_DATA/music" ] || [ ! -d "$RNNLAB_DATA/speech/fsdd/recordings" ]; then
    echo "== fetching the datasets into $RNNLAB_DATA (set RNNLAB_DATA to use a copy you have)"
    cargo run --quiet -- data fetch --dataset jsb,nottingham,musedata,piano,fsdd --data-dir "$RNNLAB_DATA"
  fi
fi
echo "== data: $RNNLAB_DATA"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
echo "== cargo build --no-default-features (the library without the command line's dependencies)"
cargo build --no-default-features
echo "== cargo test"
# --all-targets: lib, binary, examples and integration tests; then the doc tests, which --all-targets leaves out.
log=$(mktemp)
{ cargo test --all-targets && cargo test --doc; } 2>&1 | tee "$log"
echo "== examples/char_rnn.rs: a few steps on a small text"
cargo run --quiet --example char_rnn -- --cell paper_gru --data README.md --hidden 32 --seq-len 50 \
  --batch-size 16 --epochs 1 --steps 5 --sample-len 80
read -r passed failed < <(awk '/^test result:/ { for (i = 2; i <= NF; i++) {
  if ($i == "passed;") p += $(i - 1); if ($i == "failed;") f += $(i - 1) } } END { print p + 0, f + 0 }' "$log")
rm -f "$log"
echo "test summary: $passed passed, $failed failed"

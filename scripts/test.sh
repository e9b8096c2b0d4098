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
echo "== cargo test"
cargo test

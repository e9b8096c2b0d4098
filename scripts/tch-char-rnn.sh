#!/usr/bin/env bash
# tch-rs's own character-level LSTM, `examples/char-rnn/main.rs` of the tch 0.26.0 crate as published, trained on
# rnnlab's Shakespeare training split (docs/your-data.md), for the side-by-side with rnnlab's units. Its code is
# used as published but for three lines: the data path, the number of epochs, and one added line setting the
# libtorch thread count; the script checks each change and writes the diff beside the program.
#
#   scripts/tch-char-rnn.sh [--epochs N] [--threads T] [--out DIR]      (defaults: 1 epoch, 1 thread, runs/tch-char-rnn)
#
# Needs `rnnlab data fetch --dataset shakespeare` first (data under $RNNLAB_DATA, else ./data) and libtorch as for
# rnnlab ($LIBTORCH, else .libtorch/current/torch). The example reads one file: the eight training plays end to end,
# in name order (OUT/input.txt). It reports its training loss per epoch (nats per character, the mean over the
# epoch's batches) and samples text after each epoch; it measures no validation or test loss. The script prints
# the CPU seconds (user + system) of the run at the end, for comparisons at equal CPU time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

epochs=1
threads=1
out=runs/tch-char-rnn
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "tch-char-rnn: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
case "$epochs$threads" in *[!0-9]*) echo "tch-char-rnn: --epochs and --threads take whole numbers" >&2; exit 2 ;; esac

data="${RNNLAB_DATA:-$root/data}/text/shakespeare/train"
if [ ! -d "$data" ]; then
  echo "tch-char-rnn: no $data: run \`rnnlab data fetch --dataset shakespeare\` first" >&2
  exit 1
fi
export LIBTORCH="${LIBTORCH:-$root/.libtorch/current/torch}"

# The published example, from the tch crate that rnnlab itself builds against.
tch_dir=$(cargo metadata --format-version 1 | python3 -c '
import json, os, sys
m = json.load(sys.stdin)
print(next(os.path.dirname(p["manifest_path"]) for p in m["packages"] if p["name"] == "tch" and p["version"] == "0.26.0"))')
example="$tch_dir/examples/char-rnn/main.rs"
[ -f "$example" ] || { echo "tch-char-rnn: $example not found" >&2; exit 1; }

mkdir -p "$out/src"
out=$(cd "$out" && pwd)
cat "$data"/*.txt > "$out/input.txt"
sed -e "s|TextData::new(\"data/input.txt\")|TextData::new(\"$out/input.txt\")|" \
    -e "s|^const EPOCHS: i64 = 100;|const EPOCHS: i64 = $epochs;|" \
    -e "s|^pub fn main() -> Result<()> {|pub fn main() -> Result<()> {\n    tch::set_num_threads($threads);|" \
    "$example" > "$out/src/main.rs"
for want in "TextData::new(\"$out/input.txt\")" "const EPOCHS: i64 = $epochs;" "tch::set_num_threads($threads);"; do
  grep -qF "$want" "$out/src/main.rs" || { echo "tch-char-rnn: the example changed upstream; could not apply: $want" >&2; exit 1; }
done
diff -u "$example" "$out/src/main.rs" > "$out/changes.diff" || true
echo "== changes to $example (also in $out/changes.diff):"
cat "$out/changes.diff"

cat > "$out/Cargo.toml" <<'EOF'
[package]
name = "tch-char-rnn"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
tch = "=0.26.0"
anyhow = "1"

# A workspace of its own: built apart from rnnlab.
[workspace]
EOF
# rnnlab's lock file pins the versions tch resolves to here as well.
cp "$root/Cargo.lock" "$out/Cargo.lock"
cargo build --release --quiet --manifest-path "$out/Cargo.toml" --target-dir "$out/target"

echo "== tch char-rnn: $epochs epoch(s), $threads thread(s), on $(wc -c < "$out/input.txt") characters of $data"
TIMEFORMAT="cpu seconds: %U user + %S system, %R s wall clock"
# libtorch's shared libraries, as rnnlab's build links them (rnnlab's own binaries carry the path themselves).
export LD_LIBRARY_PATH="$LIBTORCH/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
{ time "$out/target/release/tch-char-rnn"; } 2>&1 | tee "$out/log.txt"

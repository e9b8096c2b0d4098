#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: install the CUDA build of libtorch 2.13.0, build against it, then run the CUDA
# checks in one go — `rnnlab validate --device cuda` (custom cells against cuDNN and the per-step kernels, the golden
# fixtures and finite differences, all on the GPU), the test suite (whose CUDA tests run when a GPU is visible),
# a quick CUDA benchmark, then the full one (results/bench-cuda.{json,md}, plots/bench-cuda.png). Output also goes
# to cuda-check.log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec > >(tee cuda-check.log) 2>&1

nvidia-smi -L || { echo "cuda-check: no GPU visible (nvidia-smi failed)"; exit 1; }
scripts/setup-libtorch.sh --cuda
cargo build --release
./target/release/rnnlab validate --device cuda
./target/release/rnnlab validate --device cuda --json > validate-cuda.json
RNNLAB_DATA="${RNNLAB_DATA:-$PWD/data}" cargo test --release
./target/release/rnnlab bench --device cuda --quick
# The CUDA table for the README (paper and fastrnns shapes, every tier, cuDNN included).
./target/release/rnnlab bench --device cuda --warmup 2 --reps 5 --min-time 0.1 \
  --json results/bench-cuda.json --png plots/bench-cuda.png --markdown results/bench-cuda.md

#!/usr/bin/env bash
# The README's main command: reproduce the music half of Table 2 of Chung et al. 2014 from a fresh clone.
# Installs the pinned libtorch, fetches the datasets when they are missing, builds in release mode, and runs
# `rnnlab reproduce` (arguments are passed on; the default is JSB Chorales, the 5-minute run).
#
#   scripts/reproduce.sh                                   # JSB Chorales: tanh, GRU, LSTM (about 5 minutes)
#   scripts/reproduce.sh --datasets jsb,nottingham,musedata,piano --out runs/full   # the music table (~65 min)
#   scripts/reproduce.sh --task speech --out runs/speech   # the speech rows, on FSDD
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-libtorch.sh
data="${RNNLAB_DATA:-$PWD/data}"
args=("$@")
case " ${args[*]-} " in
  *" --task speech"* | *" --task=speech"*)
    if [ ! -d "$data/speech/fsdd/recordings" ]; then
      echo "== fetching FSDD into $data"
      cargo run --quiet --release -- data fetch --dataset fsdd --data-dir "$data"
    fi
    ;;
  *)
    if [ ! -d "$data/music" ]; then
      echo "== fetching the music datasets into $data"
      cargo run --quiet --release -- data fetch --data-dir "$data"
    fi
    case " ${args[*]-} " in
      *" --datasets"*) ;;
      *) args+=(--datasets jsb) ;;
    esac
    ;;
esac
case " ${args[*]-} " in
  *" --out"*) ;;
  *) args+=(--out runs/reproduce) ;;
esac
exec cargo run --quiet --release -- reproduce --data-dir "$data" "${args[@]}"

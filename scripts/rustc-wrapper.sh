#!/usr/bin/env bash
# cargo's rustc wrapper (.cargo/config.toml). Before torch-sys is compiled, check that the libtorch it will
# build against exists, so a fresh clone fails with the command that fixes it instead of a C++ include error.
# Everything else is passed straight to rustc.
rustc="$1"
shift
case " $* " in
  *torch-sys-*)
    lib="${LIBTORCH:-}"
    if [ -z "$lib" ] || [ ! -f "$lib/lib/libtorch_cpu.so" ]; then
      {
        echo "error: libtorch 2.13.0 is not installed (looked in LIBTORCH='${lib}')."
        echo "       Run scripts/setup-libtorch.sh in the rnnlab checkout (or point LIBTORCH at a libtorch 2.13.0)."
      } >&2
      exit 1
    fi
    ;;
esac
exec "$rustc" "$@"

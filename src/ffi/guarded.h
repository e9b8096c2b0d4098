// Error reporting shared by the C ABI shims of src/ffi/: nothing is thrown across the FFI boundary; an exception
// (c10::Error included) becomes a message in the caller's buffer.
#pragma once

#include <c10/util/Exception.h>

#include <cstddef>
#include <cstring>
#include <exception>

namespace rnnlab_ffi {

// Copies `msg` into the caller's buffer `err` of `len` bytes, NUL-terminated and truncated to fit.
inline void write_error(const char* msg, char* err, size_t len) {
  if (err != nullptr && len > 0) {
    std::strncpy(err, msg, len - 1);
    err[len - 1] = '\0';
  }
}

// Runs `body`: 0 when it returns, -1 with the exception's message in `err` when it throws.
template <typename F>
int guarded(char* err, size_t len, F&& body) {
  try {
    body();
    return 0;
  } catch (const c10::Error& e) {
    // what_without_backtrace: the message without libtorch's C++ stack dump.
    write_error(e.what_without_backtrace(), err, len);
  } catch (const std::exception& e) {
    write_error(e.what(), err, len);
  } catch (...) {
    write_error("unknown C++ exception", err, len);
  }
  return -1;
}

}  // namespace rnnlab_ffi

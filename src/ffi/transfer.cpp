// Host-to-device copies that do not stop the host (src/transfer.rs). A copy from ordinary (pageable) host memory
// to a GPU makes libtorch wait for the copy to finish, which also waits for every kernel queued before it; a copy
// from page-locked (pinned) memory with non_blocking=true is queued like a kernel and returns at once. libtorch's
// pinned-memory allocator records the copy's stream, so the pinned buffer is reused only after the copy has run.
//
// C ABI; every C++ exception (c10::Error included) becomes a null result plus a message in the caller's buffer
// (guarded.h).
#include "guarded.h"

#include <ATen/ATen.h>

extern "C" {
// A new at::Tensor* on CUDA device `index` holding a copy of `tensor` (an at::Tensor* on the CPU), queued on the
// current stream without waiting for it; null with a message in `err` on failure.
void* rnnlab_upload_async(void* tensor, int index, char* err, size_t len) {
  at::Tensor* out = nullptr;
  rnnlab_ffi::guarded(err, len, [&] {
    const auto& t = *static_cast<at::Tensor*>(tensor);
    at::Tensor pinned = t.is_pinned() ? t : t.pin_memory();
    auto options = pinned.options().device(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index)));
    out = new at::Tensor(pinned.to(options, /*non_blocking=*/true));
  });
  return out;
}
}

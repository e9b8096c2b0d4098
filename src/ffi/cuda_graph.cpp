// CUDA graphs for rnnlab (src/cuda_graph.rs): tch wraps no CUDA-graph API, libtorch has at::cuda::CUDAGraph.
// Compiled only against a CUDA build of libtorch (build.rs sets cfg(rnnlab_libtorch_cuda) and adds this file then);
// on a CPU libtorch the Rust side answers every call with "CUDA graphs need a CUDA build of libtorch".
//
// Every function is C ABI, catches every C++ exception (c10::Error included) and reports it as a message in the
// caller's buffer: nothing is thrown across the FFI boundary. Return value 0 means success, -1 failure.
//
// Threads: a capture must begin and end on one thread, and the side stream made current by
// rnnlab_cuda_side_stream_enter is current for the calling thread only (c10's current stream is thread-local), so
// the matching _exit must run on that thread too. Captures are serialised across threads by a process-wide mutex on
// the Rust side (CAPTURE_LOCK in src/cuda_graph.rs), held from the first warm-up iteration to capture_end; this file
// keeps a second one, held inside capture_begin and capture_end, so that two captures can never interleave their
// allocator bookkeeping even if a caller bypasses the Rust wrapper.
#include "guarded.h"

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGraphsC10Utils.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>

namespace {
using rnnlab_ffi::guarded;
using rnnlab_ffi::write_error;

std::mutex& capture_mutex() {
  static std::mutex m;
  return m;
}

cudaStreamCaptureMode capture_mode(int mode) {
  switch (mode) {
    case 0:
      return cudaStreamCaptureModeGlobal;
    case 1:
      return cudaStreamCaptureModeThreadLocal;
    case 2:
      return cudaStreamCaptureModeRelaxed;
    default:
      TORCH_CHECK(false, "unknown CUDA stream capture mode ", mode, " (0 global, 1 thread-local, 2 relaxed)");
  }
}

// Makes `waiter` wait (on the device, without blocking the host) for the work queued on `waited` so far. Plain CUDA
// events rather than at::cuda::CUDAEvent, whose namespace moved between libtorch versions (c10::cuda in 2.13).
void stream_wait(const c10::cuda::CUDAStream& waiter, const c10::cuda::CUDAStream& waited) {
  c10::cuda::CUDAGuard device(waited.device_index());
  cudaEvent_t ev = nullptr;
  C10_CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
  cudaError_t rc = cudaEventRecord(ev, waited.stream());
  if (rc == cudaSuccess) {
    rc = cudaStreamWaitEvent(waiter.stream(), ev, 0);
  }
  // Destroying an event that a stream still waits on is allowed: the wait completes as recorded.
  cudaEventDestroy(ev);
  C10_CUDA_CHECK(rc);
}

// A non-default stream from c10's pool made current for this thread (and its device made current), remembering
// the stream that was current before. Entering makes the side stream wait for the work already queued on the
// previous stream; exiting makes the previous stream wait for the side stream's work, then restores it.
struct SideStream {
  c10::cuda::CUDAStream previous;
  c10::cuda::CUDAStream side;
  std::optional<c10::cuda::CUDAStreamGuard> guard;

  SideStream(c10::cuda::CUDAStream previous, c10::cuda::CUDAStream side) : previous(previous), side(side) {}
};
}  // namespace

extern "C" {

int rnnlab_cuda_device_count() {
  try {
    return static_cast<int>(c10::cuda::device_count());
  } catch (...) {
    return 0;
  }
}

// Waits for all work on `device` (cudaDeviceSynchronize). Never call inside a capture.
int rnnlab_cuda_device_synchronize(int device, char* err, size_t len) {
  return guarded(err, len, [&] {
    c10::cuda::CUDAGuard g(static_cast<c10::DeviceIndex>(device));
    c10::cuda::device_synchronize();
  });
}

// Waits for the work queued on this thread's current stream of `device`.
int rnnlab_cuda_current_stream_synchronize(int device, char* err, size_t len) {
  return guarded(err, len, [&] { c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device)).synchronize(); });
}

// 1 when this thread's current stream on the current device is being captured, 0 when not, -1 on error.
int rnnlab_cuda_is_capturing(char* err, size_t len) {
  int out = -1;
  int rc = guarded(err, len, [&] {
    out = c10::cuda::currentStreamCaptureStatusMayInitCtx() == c10::cuda::CaptureStatus::None ? 0 : 1;
  });
  return rc == 0 ? out : -1;
}

// Makes a pool stream of `device` current for the calling thread (after it waits for the work already queued on
// the current stream). Writes an opaque handle to *out; pass it to rnnlab_cuda_side_stream_exit on the same thread.
int rnnlab_cuda_side_stream_enter(int device, void** out, char* err, size_t len) {
  return guarded(err, len, [&] {
    *out = nullptr;
    auto index = static_cast<c10::DeviceIndex>(device);
    auto previous = c10::cuda::getCurrentCUDAStream(index);
    auto side = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, index);
    auto scope = std::make_unique<SideStream>(previous, side);
    stream_wait(side, previous);
    scope->guard.emplace(side);  // sets the current device and this thread's current stream on it
    *out = scope.release();
  });
}

// Leaves the side stream: the previous stream waits for everything queued on the side stream, and becomes current
// again. Frees the handle even when it reports an error.
int rnnlab_cuda_side_stream_exit(void* handle, char* err, size_t len) {
  std::unique_ptr<SideStream> scope(static_cast<SideStream*>(handle));
  if (!scope) {
    write_error("no side stream to leave (null handle)", err, len);
    return -1;
  }
  return guarded(err, len, [&] {
    scope->guard.reset();  // restores the previous stream and device
    stream_wait(scope->previous, scope->side);
  });
}

// A new, empty graph (keep_graph = false: the cudaGraph_t is freed once instantiated, only the executable stays).
void* rnnlab_cuda_graph_new(char* err, size_t len) {
  at::cuda::CUDAGraph* graph = nullptr;
  guarded(err, len, [&] { graph = new at::cuda::CUDAGraph(); });
  return graph;
}

void rnnlab_cuda_graph_free(void* graph) {
  try {
    delete static_cast<at::cuda::CUDAGraph*>(graph);
  } catch (...) {
    // ~CUDAGraph frees the graph, its executable and the reference to its private pool; nothing to report to.
  }
}

// Starts capturing this thread's current stream (which must not be the legacy default stream: enter a side stream
// first) into `graph`, with allocations served from a private memory pool: the graph's own, or the pool of
// `share_pool_with` when that is non-null (only safe when the graphs are replayed in the order they were captured).
// mode: 0 global, 1 thread-local, 2 relaxed (cudaStreamCaptureMode).
int rnnlab_cuda_graph_capture_begin(void* graph, void* share_pool_with, int mode, char* err, size_t len) {
  return guarded(err, len, [&] {
    TORCH_CHECK(graph != nullptr, "null graph");
    std::lock_guard<std::mutex> lock(capture_mutex());
    auto* g = static_cast<at::cuda::CUDAGraph*>(graph);
    c10::MempoolId_t pool{0, 0};
    if (share_pool_with != nullptr) {
      pool = static_cast<at::cuda::CUDAGraph*>(share_pool_with)->pool();
    }
    g->capture_begin(pool, capture_mode(mode));
  });
}

// Ends the capture and instantiates the graph. After a failed capture (an op that synchronises with the host, say)
// this reports CUDA's error; call rnnlab_cuda_graph_reset before reusing or freeing the graph.
int rnnlab_cuda_graph_capture_end(void* graph, char* err, size_t len) {
  return guarded(err, len, [&] {
    TORCH_CHECK(graph != nullptr, "null graph");
    std::lock_guard<std::mutex> lock(capture_mutex());
    static_cast<at::cuda::CUDAGraph*>(graph)->capture_end();
  });
}

// Launches the captured work on this thread's current stream of the capture's device.
int rnnlab_cuda_graph_replay(void* graph, char* err, size_t len) {
  return guarded(err, len, [&] {
    TORCH_CHECK(graph != nullptr, "null graph");
    static_cast<at::cuda::CUDAGraph*>(graph)->replay();
  });
}

// Frees the captured graph and its executable and releases its private pool's blocks (the tensors made during the
// capture keep their memory until they are dropped).
int rnnlab_cuda_graph_reset(void* graph, char* err, size_t len) {
  return guarded(err, len, [&] {
    TORCH_CHECK(graph != nullptr, "null graph");
    static_cast<at::cuda::CUDAGraph*>(graph)->reset();
  });
}
}

// A random generator owned by its user (a training run, a validation, a benchmark). libtorch's default CPU generator
// is one per process: with it, a run's numbers would depend on whatever else draws in the process (other runs on
// other threads, an embedding program). A CPU generator per owner makes every run the same as it would be alone;
// seeded with the same value, it yields the same stream as the default generator after torch::manual_seed.
#include "guarded.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cstdint>
#include <mutex>

extern "C" {
void* rnnlab_generator_new(uint64_t seed) {
  try {
    return new at::Generator(at::make_generator<at::CPUGeneratorImpl>(seed));
  } catch (...) {
    return nullptr;
  }
}

void rnnlab_generator_free(void* gen) { delete static_cast<at::Generator*>(gen); }

void rnnlab_generator_seed(void* gen, uint64_t seed) {
  auto* g = static_cast<at::Generator*>(gen);
  std::lock_guard<std::mutex> lock(g->mutex());
  g->set_current_seed(seed);
}

// Fills `tensor` (an at::Tensor*, as tch's C_tensor is; on the CPU) with N(0, 1) draws from `gen`, in place.
// Returns 0, or -1 with the exception's message in `err`.
int rnnlab_normal_(void* gen, void* tensor, char* err, size_t len) {
  return rnnlab_ffi::guarded(err, len, [&] {
    auto* g = static_cast<at::Generator*>(gen);
    static_cast<at::Tensor*>(tensor)->normal_(0.0, 1.0, *g);
  });
}

// Fills `tensor` (an at::Tensor*, on the CPU) with U(from, to) draws from `gen`, in place. Returns 0, or -1 with the
// exception's message in `err`.
int rnnlab_uniform_(void* gen, void* tensor, double from, double to, char* err, size_t len) {
  return rnnlab_ffi::guarded(err, len, [&] {
    auto* g = static_cast<at::Generator*>(gen);
    static_cast<at::Tensor*>(tensor)->uniform_(from, to, *g);
  });
}
}

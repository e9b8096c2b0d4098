// The Bernoulli head's per-member NLL and, in training, its gradient with respect to the logits, in one pass over
// float32 logits on the CPU. libtorch ops take six passes for the same (softplus, two matrix-vector products,
// sigmoid, subtract, multiply) and three transcendental functions per logit; this takes one pass and two:
//
//   t = exp(-|o|),   softplus(o) = max(o, 0) + log1p(t),   sigma(o) = 1 / (1 + t) for o >= 0, t / (1 + t) else
//   NLL_k = sum m (softplus(o) - o y)                      (float32 lanes, flushed into a double every 64 vectors)
//   grad  = (sigma(o) - y) * (m * scale)                    written over the logits; zeros for a member whose NLL
//                                                           is not finite (it then takes no part in the update)
//
// exp and log1p are SLEEF's 1-ulp vector functions, the ones libtorch's own softplus and sigmoid call; they are
// looked up in the loaded libtorch at run time, so a libtorch without them, or a CPU without AVX2 and FMA, makes
// rnnlab_bernoulli_available() return 0 and the caller keep the libtorch ops.
#include "guarded.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>

namespace {

typedef float v8 __attribute__((vector_size(32)));
typedef float v16 __attribute__((vector_size(64)));

template <class V>
struct Functions {
  V (*exp)(V) = nullptr;
  V (*log1p)(V) = nullptr;
};

struct Sleef {
  Functions<v16> avx512;
  Functions<v8> avx2;
};

const Sleef& sleef() {
  static const Sleef s = [] {
    Sleef s;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
      s.avx2.exp = reinterpret_cast<v8 (*)(v8)>(dlsym(RTLD_DEFAULT, "Sleef_expf8_u10avx2"));
      s.avx2.log1p = reinterpret_cast<v8 (*)(v8)>(dlsym(RTLD_DEFAULT, "Sleef_log1pf8_u10avx2"));
    }
    if (__builtin_cpu_supports("avx512f")) {
      s.avx512.exp = reinterpret_cast<v16 (*)(v16)>(dlsym(RTLD_DEFAULT, "Sleef_expf16_u10avx512f"));
      s.avx512.log1p = reinterpret_cast<v16 (*)(v16)>(dlsym(RTLD_DEFAULT, "Sleef_log1pf16_u10avx512f"));
    }
#endif
    return s;
  }();
  return s;
}

#if defined(__x86_64__)
// One vector of a member's logits at `po` (`lanes` of them, fewer than N at the end), with their targets `py` and
// mask `pm`: adds m (softplus(o) - o y) to `acc` and, when `grad`, writes the gradient over the logits. Inlined
// (no lambdas: a lambda would be compiled without the caller's vector ISA) into each ISA-specific caller below.
template <class V, int N>
__attribute__((always_inline)) inline void vector_step(const Functions<V>& f, float* po, const float* py,
                                                       const float* pm, int64_t lanes, bool grad, float scale,
                                                       V& acc) {
  const V zero = {};
  const V one = zero + 1.0f;
  V x = zero, t_y = zero, t_m = zero;
  if (lanes == N) {
    std::memcpy(&x, po, sizeof(V));
    std::memcpy(&t_y, py, sizeof(V));
    std::memcpy(&t_m, pm, sizeof(V));
  } else {
    // The last, partial vector: its missing lanes have mask 0 and count nothing.
    std::memcpy(&x, po, lanes * sizeof(float));
    std::memcpy(&t_y, py, lanes * sizeof(float));
    std::memcpy(&t_m, pm, lanes * sizeof(float));
  }
  const V ax = x < zero ? -x : x;
  const V t = f.exp(-ax);
  const V softplus = (x > zero ? x : zero) + f.log1p(t);
  acc += (softplus - x * t_y) * t_m;
  if (grad) {
    const V inv = one / (one + t);
    const V sigma = x >= zero ? inv : t * inv;
    const V g = (sigma - t_y) * (t_m * scale);
    if (lanes == N) {
      std::memcpy(po, &g, sizeof(V));
    } else {
      std::memcpy(po, &g, lanes * sizeof(float));
    }
  }
}

// One member's logits `o` (`n` of them, overwritten by the gradient when `grad`), with the targets `y` and the mask
// `m` of each logit (the same for every member). The float32 lanes of the sum are flushed into a double every 64
// vectors, so that no float32 sum runs long.
template <class V, int N>
__attribute__((always_inline)) inline double member(const Functions<V>& f, float* o, const float* y,
                                                    const float* m, int64_t n, bool grad, float scale) {
  const V zero = {};
  double total = 0;
  int64_t i = 0;
  while (i < n) {
    V acc = zero;
    for (int v = 0; v < 64 && i < n; ++v, i += N) {
      vector_step<V, N>(f, o + i, y + i, m + i, n - i < N ? n - i : N, grad, scale, acc);
    }
    for (int lane = 0; lane < N; ++lane) total += static_cast<double>(acc[lane]);
  }
  if (grad && !std::isfinite(total)) std::memset(o, 0, n * sizeof(float));
  return total;
}

__attribute__((target("avx512f,avx2,fma"))) double member_avx512(float* o, const float* y, const float* m,
                                                                  int64_t n, bool grad, float scale) {
  return member<v16, 16>(sleef().avx512, o, y, m, n, grad, scale);
}

__attribute__((target("avx2,fma"))) double member_avx2(float* o, const float* y, const float* m, int64_t n,
                                                       bool grad, float scale) {
  return member<v8, 8>(sleef().avx2, o, y, m, n, grad, scale);
}

#endif

template <class V>
bool has(const Functions<V>& f) {
  return f.exp != nullptr && f.log1p != nullptr;
}

}  // namespace

extern "C" {
// 1 when rnnlab_bernoulli_ can run on this CPU with the loaded libtorch, else 0.
int rnnlab_bernoulli_available() { return has(sleef().avx512) || has(sleef().avx2) ? 1 : 0; }

// `out`: float32 logits [K, R, O], contiguous, on the CPU; `y`: float32 targets [R, O]; `mask`: float32 [R, O] (each
// logit's mask: a frame's mask repeated over its outputs);
// `nll`: float64 [K], written with each member's NLL sum. With `grad` != 0, `out` is overwritten by the gradient of
// sum_k NLL_k * scale over the members whose NLL is finite. Returns 0, or -1 with the message in `err`.
int rnnlab_bernoulli_(void* out, void* y, void* mask, void* nll, double scale, int grad, char* err, size_t len) {
  return rnnlab_ffi::guarded(err, len, [&] {
    auto& o = *static_cast<at::Tensor*>(out);
    const auto& t = *static_cast<at::Tensor*>(y);
    const auto& m = *static_cast<at::Tensor*>(mask);
    auto& s = *static_cast<at::Tensor*>(nll);
    TORCH_CHECK(rnnlab_bernoulli_available() != 0, "the fused Bernoulli head is not available here");
    for (const at::Tensor* x : std::initializer_list<const at::Tensor*>{&o, &t, &m}) {
      TORCH_CHECK(x->device().is_cpu() && x->scalar_type() == at::kFloat && x->is_contiguous(),
                  "the fused Bernoulli head takes contiguous float32 CPU tensors");
    }
    TORCH_CHECK(o.dim() == 3 && t.dim() == 2 && m.dim() == 2, "logits [K, R, O], targets and mask [R, O]");
    const int64_t k = o.size(0), n = o.size(1) * o.size(2);
    TORCH_CHECK(t.sizes() == o.sizes().slice(1) && m.sizes() == t.sizes(), "targets and mask match the logits");
    TORCH_CHECK(s.device().is_cpu() && s.scalar_type() == at::kDouble && s.is_contiguous() && s.numel() == k,
                "the sums are a contiguous float64 CPU tensor [K]");
    float* po = o.data_ptr<float>();
    const float* py = t.data_ptr<float>();
    const float* pm = m.data_ptr<float>();
    double* ps = s.data_ptr<double>();
    const bool wide = has(sleef().avx512);
    const float sc = static_cast<float>(scale);
    at::parallel_for(0, k, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        float* oi = po + i * n;
#if defined(__x86_64__)
        ps[i] = wide ? member_avx512(oi, py, pm, n, grad != 0, sc) : member_avx2(oi, py, pm, n, grad != 0, sc);
#endif
      }
    });
  });
}
}

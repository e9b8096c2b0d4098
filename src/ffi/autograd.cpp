// Two autograd pieces that tch does not wrap (src/autograd.rs):
//
// - rnnlab_recurrent_product: `a + h · wt` for a recurrent block that training keeps outside the graph (its gradient
//   is formed once per sequence, src/cells/step_weights.rs), as an autograd node that holds the block in both
//   layouts: the forward pass multiplies by the row-major `wt`, the backward pass by the row-major `w = wt^T`.
//   libtorch's CPU batched matmul is more than twice as slow on a transposed right factor (results/bmm-layout.txt),
//   and plain autograd would use the transposed view of one of the two.
// - rnnlab_grad: torch::autograd::grad with given output gradients (tch's run_backward only starts from scalars).
// - rnnlab_grad_enabled: whether autograd records ops (false inside tch::no_grad).
//
// C ABI; every C++ exception (c10::Error included) becomes a null result or -1, plus a message in the caller's
// buffer (guarded.h).
#include "guarded.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cstddef>
#include <vector>

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct RecurrentProduct : public torch::autograd::Function<RecurrentProduct> {
  // a: [(K,) B, G], h: [(K,) B, H], wt: [(K,) H, G] and w: [(K,) G, H], both outside the graph.
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& a, const at::Tensor& h, const at::Tensor& wt,
                            const at::Tensor& w) {
    ctx->saved_data["w"] = w;
    return h.dim() == 2 ? at::addmm(a, h, wt) : at::baddbmm(a, h, wt);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const at::Tensor w = ctx->saved_data["w"].toTensor();
    const at::Tensor& g = grads[0];
    at::Tensor d_h = g.dim() == 2 ? at::mm(g, w) : at::bmm(g, w);
    return {g, d_h, at::Tensor(), at::Tensor()};
  }
};

std::vector<at::Tensor> tensors(void** ptrs, size_t n) {
  std::vector<at::Tensor> v;
  v.reserve(n);
  for (size_t i = 0; i < n; ++i) v.push_back(*static_cast<at::Tensor*>(ptrs[i]));
  return v;
}

}  // namespace

extern "C" {
int rnnlab_grad_enabled() { return at::GradMode::is_enabled() ? 1 : 0; }

// A new at::Tensor* holding `a + h · wt` (see above); null with a message in `err` on failure.
void* rnnlab_recurrent_product(void* a, void* h, void* wt, void* w, char* err, size_t len) {
  at::Tensor* out = nullptr;
  rnnlab_ffi::guarded(err, len, [&] {
    out = new at::Tensor(RecurrentProduct::apply(*static_cast<at::Tensor*>(a), *static_cast<at::Tensor*>(h),
                                                 *static_cast<at::Tensor*>(wt), *static_cast<at::Tensor*>(w)));
  });
  return out;
}

// The gradients of `outputs` (each weighted by its `grad_outputs` entry) with respect to `inputs`, written as new
// at::Tensor* into `results` (an undefined tensor for an input the outputs do not reach); the graph is freed.
// Returns 0, or -1 with a message in `err`.
int rnnlab_grad(void** outputs, void** grad_outputs, size_t n_out, void** inputs, size_t n_in, void** results,
                char* err, size_t len) {
  return rnnlab_ffi::guarded(err, len, [&] {
    auto grads = torch::autograd::grad(tensors(outputs, n_out), tensors(inputs, n_in), tensors(grad_outputs, n_out),
                                       /*retain_graph=*/false, /*create_graph=*/false, /*allow_unused=*/true);
    for (size_t i = 0; i < n_in; ++i) results[i] = new at::Tensor(grads[i]);
  });
}
}

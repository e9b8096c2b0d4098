// libtorch's float32 precision switches that tch does not expose. cuDNN may run float32 RNNs in TF32 (PyTorch's
// torch.backends.cudnn.allow_tf32 defaults to True), which rounds inputs to 10 mantissa bits and puts cuDNN about
// 1e-3 away from a strict float32 computation; comparisons at 1e-5 need it off.
#include <ATen/Context.h>

extern "C" {
void rnnlab_set_allow_tf32_cudnn(int allow) { at::globalContext().setAllowTF32CuDNN(allow != 0); }
int rnnlab_allow_tf32_cudnn() { return at::globalContext().allowTF32CuDNN() ? 1 : 0; }
}

// oneDNN (formerly MKL-DNN) paths, PyTorch's torch.backends.mkldnn.enabled (on by default). On CPU, at::lstm in
// float32 runs oneDNN's fused LSTM layer (aten::mkldnn_rnn_layer) rather than the per-step ops of at::gru and
// at::rnn_tanh; the benchmark turns this off to set the custom LSTMs against the same per-step ops.
extern "C" {
void rnnlab_set_user_enabled_mkldnn(int enabled) { at::globalContext().setUserEnabledMkldnn(enabled != 0); }
int rnnlab_user_enabled_mkldnn() { return at::globalContext().userEnabledMkldnn() ? 1 : 0; }
}

// The version of the libtorch headers this shim was compiled against (the libtorch rnnlab links), for reports:
// a portable build links another libtorch than the one Cargo.toml's tch is made for.
#include <torch/headeronly/version.h>
extern "C" {
void rnnlab_libtorch_version(int* out) {
  out[0] = TORCH_VERSION_MAJOR;
  out[1] = TORCH_VERSION_MINOR;
  out[2] = TORCH_VERSION_PATCH;
}
}

//! Device and dtype choices shared by every command.

use anyhow::{bail, Result};
use tch::{Device, Kind};

/// Where tensors live: `auto` takes the first CUDA device when libtorch sees one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum DeviceArg {
    /// The CPU.
    Cpu,
    /// The first CUDA device (an error when libtorch sees none).
    Cuda,
    /// The first CUDA device when libtorch sees one, else the CPU (the default).
    #[default]
    Auto,
}

impl DeviceArg {
    /// Resolves the choice; asking for CUDA where libtorch sees none is an error, not a silent CPU run.
    pub fn resolve(self) -> Result<Device> {
        match self {
            DeviceArg::Cpu => Ok(Device::Cpu),
            DeviceArg::Auto => Ok(Device::cuda_if_available()),
            DeviceArg::Cuda if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
            DeviceArg::Cuda => bail!("--device cuda: {}", cuda_unavailable_reason()),
        }
    }
}

/// Why CUDA is not usable here, with the fix.
pub fn cuda_unavailable_reason() -> String {
    if cfg!(rnnlab_libtorch_cuda) {
        "libtorch sees no GPU (is the NVIDIA driver loaded? does nvidia-smi list a GPU?)"
            .to_string()
    } else {
        "rnnlab was built against a CPU-only libtorch (for CUDA run `scripts/setup-libtorch.sh --cuda`, \
         then rebuild)"
            .to_string()
    }
}

/// Floating-point precision of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum Dtype {
    /// 32-bit floats (the default: training and benchmarks).
    #[default]
    F32,
    /// 64-bit floats (exact comparisons: `validate`, `compare --dtype f64`).
    F64,
}

impl Dtype {
    /// The libtorch tensor kind (`Float` or `Double`).
    pub fn kind(self) -> Kind {
        match self {
            Dtype::F32 => Kind::Float,
            Dtype::F64 => Kind::Double,
        }
    }
    /// `f32` or `f64`, as in configs, tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
        }
    }
}

/// A short device name for tables: `cpu`, `cuda:0`.
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".to_string(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

mod ffi {
    extern "C" {
        pub fn rnnlab_set_allow_tf32_cudnn(allow: i32);
        pub fn rnnlab_allow_tf32_cudnn() -> i32;
        pub fn rnnlab_set_user_enabled_mkldnn(enabled: i32);
        pub fn rnnlab_user_enabled_mkldnn() -> i32;
        pub fn rnnlab_libtorch_version(out: *mut i32);
    }
}

/// The libtorch version rnnlab was built against (from its headers), e.g. `2.13.0`.
pub fn libtorch_version() -> String {
    let mut v = [0i32; 3];
    // SAFETY: writes three ints into `v`, which has room for them.
    unsafe { ffi::rnnlab_libtorch_version(v.as_mut_ptr()) };
    format!("{}.{}.{}", v[0], v[1], v[2])
}

/// Whether cuDNN may use TF32 for float32 work (libtorch's `allowTF32CuDNN`, PyTorch's
/// `torch.backends.cudnn.allow_tf32`; on by default).
pub fn allow_tf32_cudnn() -> bool {
    // SAFETY: reads a flag of libtorch's global context; no arguments, no preconditions.
    unsafe { ffi::rnnlab_allow_tf32_cudnn() != 0 }
}

/// Lets cuDNN use TF32 for float32 RNNs and convolutions, or forbids it. With TF32 on, cuDNN's float32 RNNs are
/// about 1e-3 away from a strict float32 computation, so exact comparisons turn it off.
pub fn set_allow_tf32_cudnn(allow: bool) {
    // SAFETY: sets a flag of libtorch's global context; takes effect for kernels launched afterwards.
    unsafe { ffi::rnnlab_set_allow_tf32_cudnn(i32::from(allow)) }
}

/// Whether libtorch may take its oneDNN (MKL-DNN) paths (`userEnabledMkldnn`, PyTorch's
/// `torch.backends.mkldnn.enabled`; on by default).
pub fn onednn_enabled() -> bool {
    // SAFETY: reads a flag of libtorch's global context; no arguments, no preconditions.
    unsafe { ffi::rnnlab_user_enabled_mkldnn() != 0 }
}

/// Allows or forbids libtorch's oneDNN paths. On CPU this decides whether `at::lstm` runs oneDNN's fused LSTM layer
/// (on) or the same per-step matmul and pointwise ops as `at::gru` and the custom cells (off).
pub fn set_onednn_enabled(enabled: bool) {
    // SAFETY: sets a flag of libtorch's global context; takes effect for ops dispatched afterwards.
    unsafe { ffi::rnnlab_set_user_enabled_mkldnn(i32::from(enabled)) }
}

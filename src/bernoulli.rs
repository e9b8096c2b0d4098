//! The Bernoulli head's NLL, and in training its gradient, in one pass over float32 CPU logits
//! (`src/ffi/bernoulli.cpp`).
//!
//! With libtorch ops, a population's update took six passes over its `[K, N, 88]` logits for the head (softplus,
//! two matrix–vector products for the sums, sigmoid, subtract, multiply) and three transcendental functions per
//! logit; evaluation took three passes. The fused pass reads each logit once, computes
//! `t = exp(−|o|)`, `softplus(o) = max(o, 0) + log1p(t)` and, in training, `σ(o)` from the same `t`, sums each
//! member's NLL in double, and writes the gradient over the logits. It runs where the CPU has AVX2 and FMA and the
//! loaded libtorch exports SLEEF's vector `exp` and `log1p` (the functions its own softplus and sigmoid use); float64
//! tensors, other devices and other CPUs keep the libtorch ops of [`crate::model::bernoulli_nll_sums`] and
//! [`crate::train::head`]. The two agree to float32 rounding (the test below).

use anyhow::{bail, Result};
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;
use tch::{Device, Kind, Tensor};

mod ffi {
    use std::ffi::{c_char, c_int, c_void};
    extern "C" {
        pub fn rnnlab_bernoulli_available() -> c_int;
        pub fn rnnlab_bernoulli_(
            out: *mut c_void,
            y: *mut c_void,
            mask: *mut c_void,
            nll: *mut c_void,
            scale: f64,
            grad: c_int,
            err: *mut c_char,
            len: usize,
        ) -> c_int;
    }
}

/// Whether the fused pass takes logits like `out`: contiguous float32 on a CPU that can run it.
pub(crate) fn applies(out: &Tensor) -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    out.device() == Device::Cpu
        && out.kind() == Kind::Float
        && out.is_contiguous()
        // SAFETY: takes no arguments; only inspects the CPU and the loaded libraries.
        && *AVAILABLE.get_or_init(|| unsafe { ffi::rnnlab_bernoulli_available() } != 0)
}

/// Each member's NLL sum `[K]` (float32, summed in double) of logits `out: [K, …, O]` for targets `y: [L, B, O]`
/// where `mask: [L, B]` is 1 (the rows of `out` after the member dimension are `L·B`). With `grad_scale` = `c`,
/// `out` becomes the gradient of `Σ_k c·NLL_k` with respect to the logits, zero for a member whose NLL is not
/// finite. Only for logits where [`applies`] holds.
pub(crate) fn nll_sums(
    out: &mut Tensor,
    y: &Tensor,
    mask: &Tensor,
    grad_scale: Option<f64>,
) -> Result<Tensor> {
    let (k, o) = (out.size()[0], out.size()[out.dim() - 1]);
    if !out.is_contiguous() {
        bail!("the fused Bernoulli head takes contiguous logits");
    }
    let mut logits = out.view([k, -1, o]);
    let mut y = y.to_kind(Kind::Float).reshape([-1, o]).contiguous();
    let rows = y.size()[0];
    let mut m = mask
        .to_kind(Kind::Float)
        .reshape([-1, 1])
        .expand([rows, o], false)
        .contiguous();
    let mut sums = Tensor::empty([k], (Kind::Double, Device::Cpu));
    let mut err = [0 as c_char; 512];
    let ptr = |t: &mut Tensor| t.as_mut_ptr() as *mut c_void;
    // SAFETY: four live CPU tensors (tch's C_tensor is an `at::Tensor*`) that outlive the call, `logits` a view of
    // `out` that the call may overwrite as documented; `err` is a writable buffer of the given length; the C++ side
    // checks shapes, kinds and layout and catches every exception.
    let rc = unsafe {
        ffi::rnnlab_bernoulli_(
            ptr(&mut logits),
            ptr(&mut y),
            ptr(&mut m),
            ptr(&mut sums),
            grad_scale.unwrap_or(0.0),
            c_int::from(grad_scale.is_some()),
            err.as_mut_ptr(),
            err.len(),
        )
    };
    if rc != 0 {
        // SAFETY: the C++ side wrote a NUL-terminated message into `err` (zero-initialised otherwise).
        let msg = unsafe { CStr::from_ptr(err.as_ptr()) }.to_string_lossy();
        bail!("the fused Bernoulli head failed: {msg}");
    }
    Ok(sums.to_kind(Kind::Float))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// The fused pass against the libtorch ops it replaces, in float32, over logits from −120 to 120 (both sides
    /// of softplus's and exp's ranges), fractional targets, a mask with padded rows, a row width that is not a
    /// multiple of the vector width, and one member with an infinite logit: sums to float32 rounding, gradients to
    /// 1e-6, and that member's NLL not finite and its gradient zero.
    #[test]
    fn the_fused_head_matches_the_libtorch_ops() -> Result<()> {
        let out = Tensor::zeros([1], (Kind::Float, Device::Cpu));
        if !applies(&out) {
            eprintln!("skipped: this CPU or libtorch cannot run the fused Bernoulli head");
            return Ok(());
        }
        let (k, l, b, o) = (4i64, 7i64, 3i64, 21i64);
        let mut rng = Rng::new(11)?;
        let opts = (Kind::Float, Device::Cpu);
        let logits = rng.randn(&[k, l, b, o], opts) * 8.0;
        let _ = logits.narrow(-1, 0, 2).fill_(-120.0);
        let _ = logits.narrow(-1, 2, 2).fill_(120.0);
        let _ = logits.get(3).get(2).get(1).get(5).fill_(f64::INFINITY);
        let y = rng.uniform(&[l, b, o], 0.0, 1.0, opts).round();
        let _ = y.narrow(-1, 4, 3).fill_(0.25);
        let mask = Tensor::ones([l, b], opts);
        let _ = mask.narrow(0, 5, 2).narrow(1, 2, 1).fill_(0.0);
        let frames = 19.0;

        let reference = crate::model::bernoulli_nll_sums_ops(&logits, &y, &mask);
        let mut fused = logits.copy();
        let sums = nll_sums(&mut fused.copy(), &y, &mask, None)?;
        let with_grad = nll_sums(&mut fused, &y, &mask, Some(1.0 / frames))?;
        assert!(
            sums.narrow(0, 0, 3).equal(&with_grad.narrow(0, 0, 3)),
            "the sums do not depend on grad"
        );
        let (r, f) = (
            Vec::<f64>::try_from(reference.to_kind(Kind::Double))?,
            Vec::<f64>::try_from(sums.to_kind(Kind::Double))?,
        );
        for m in 0..3 {
            assert!(r[m].is_finite() && r[m] > 100.0, "member {m}: {}", r[m]);
            assert!(
                (r[m] - f[m]).abs() <= 2e-6 * r[m],
                "member {m}: {} vs {}",
                r[m],
                f[m]
            );
        }
        assert!(!r[3].is_finite() && !f[3].is_finite());

        let m = mask.unsqueeze(-1);
        let grad = (logits.sigmoid() - &y) * &m / frames;
        let diff = (fused.narrow(0, 0, 3) - grad.narrow(0, 0, 3)).abs().max();
        let diff = f64::try_from(diff)?;
        assert!(diff <= 1e-6, "gradient off by {diff}");
        assert_eq!(f64::try_from(fused.get(3).abs().max())?, 0.0);
        assert!(f64::try_from(fused.narrow(0, 0, 3).abs().max())? > 1e-3);
        Ok(())
    }
}

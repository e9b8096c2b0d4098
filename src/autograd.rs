//! Autograd pieces that tch does not wrap (`src/ffi/autograd.cpp`): [`grad`], the gradients of tensors that are not
//! scalars for given output gradients, and [`recurrent_product`], a recurrent block's product whose backward pass
//! multiplies by a second, row-major copy of the block.
//!
//! ```
//! use tch::{Kind, Tensor};
//!
//! # fn main() -> anyhow::Result<()> {
//! let x = Tensor::from_slice(&[1.0f64, 2.0, 3.0]).set_requires_grad(true);
//! let y = &x * &x;
//! // d(Σ g·y)/dx = 2·g·x
//! let g = Tensor::from_slice(&[1.0f64, 0.5, 0.0]);
//! let dx = rnnlab::autograd::grad(&[&y], &[&g], &[&x])?;
//! assert_eq!(Vec::<f64>::try_from(&dx[0])?, [2.0, 2.0, 0.0]);
//! # let _ = Kind::Double;
//! # Ok(())
//! # }
//! ```

use anyhow::{bail, Result};
use std::ffi::{c_char, c_void, CStr};
use tch::Tensor;

mod ffi {
    use std::ffi::{c_char, c_int, c_void};
    extern "C" {
        pub fn rnnlab_grad_enabled() -> c_int;
        pub fn rnnlab_recurrent_product(
            a: *mut c_void,
            h: *mut c_void,
            wt: *mut c_void,
            w: *mut c_void,
            err: *mut c_char,
            len: usize,
        ) -> *mut c_void;
        pub fn rnnlab_grad(
            outputs: *mut *mut c_void,
            grad_outputs: *mut *mut c_void,
            n_out: usize,
            inputs: *mut *mut c_void,
            n_in: usize,
            results: *mut *mut c_void,
            err: *mut c_char,
            len: usize,
        ) -> c_int;
    }
}

/// Whether autograd records the ops run now: false inside [`tch::no_grad`]. (A view of a tensor that requires
/// gradients reports `requires_grad` even there.)
pub fn grad_enabled() -> bool {
    // SAFETY: reads libtorch's thread-local grad mode; no arguments.
    unsafe { ffi::rnnlab_grad_enabled() != 0 }
}

fn ptr(t: &Tensor) -> *mut c_void {
    t.as_ptr() as *mut c_void
}

/// The message the C++ side wrote into `err`.
fn message(err: &[c_char]) -> String {
    // SAFETY: `err` is zero-initialised and the C++ side writes a NUL-terminated message that fits it.
    unsafe { CStr::from_ptr(err.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// The gradients of `outputs` with respect to `inputs`, each output weighted by its entry of `grad_outputs` (of the
/// output's shape): `Σ_i grad_outputs[i] · ∂outputs[i]/∂input`. The graph is freed. An input the outputs do not
/// reach gets an undefined tensor.
pub fn grad(
    outputs: &[&Tensor],
    grad_outputs: &[&Tensor],
    inputs: &[&Tensor],
) -> Result<Vec<Tensor>> {
    if outputs.len() != grad_outputs.len() {
        bail!(
            "{} outputs but {} output gradients",
            outputs.len(),
            grad_outputs.len()
        );
    }
    let mut outs: Vec<*mut c_void> = outputs.iter().map(|t| ptr(t)).collect();
    let mut grads: Vec<*mut c_void> = grad_outputs.iter().map(|t| ptr(t)).collect();
    let mut ins: Vec<*mut c_void> = inputs.iter().map(|t| ptr(t)).collect();
    let mut results: Vec<*mut c_void> = vec![std::ptr::null_mut(); inputs.len()];
    let mut err = [0 as c_char; 512];
    // SAFETY: every pointer is a live `at::Tensor*` (tch's C_tensor) borrowed for the call, which only reads them;
    // `results` has room for one pointer per input; the C++ side catches every exception.
    let rc = unsafe {
        ffi::rnnlab_grad(
            outs.as_mut_ptr(),
            grads.as_mut_ptr(),
            outs.len(),
            ins.as_mut_ptr(),
            ins.len(),
            results.as_mut_ptr(),
            err.as_mut_ptr(),
            err.len(),
        )
    };
    if rc != 0 {
        bail!("backward pass: {}", message(&err));
    }
    // SAFETY: on success every entry is a fresh `at::Tensor*` owned by nobody else; each Tensor frees its own.
    Ok(results
        .into_iter()
        .map(|p| unsafe { Tensor::from_ptr(p as *mut torch_sys::C_tensor) })
        .collect())
}

/// `a + h · wt` (batched for a population: `a: [K, B, G]`, `h: [K, B, H]`, `wt: [K, H, G]`; or one model's 2-D
/// tensors), where `wt` and `w` hold the same recurrent block outside the graph, `wt` row-major and `w = wt^T`
/// row-major. Autograd passes gradients to `a` and `h`; the backward pass multiplies by `w`. The same numbers as
/// `a.baddbmm(h, wt)`, faster on a CPU than either layout alone: libtorch's batched matmul is more than twice as slow
/// on a transposed right factor (`results/bmm-layout.txt`), which plain autograd would use in one of the two passes.
///
/// Panics with libtorch's message if the op fails, as tch's own ops do.
pub fn recurrent_product(a: &Tensor, h: &Tensor, wt: &Tensor, w: &Tensor) -> Tensor {
    let mut err = [0 as c_char; 512];
    // SAFETY: the four pointers are live `at::Tensor*` borrowed for the call, which only reads them; the C++ side
    // catches every exception and returns a fresh `at::Tensor*` or null.
    let out = unsafe {
        ffi::rnnlab_recurrent_product(ptr(a), ptr(h), ptr(wt), ptr(w), err.as_mut_ptr(), err.len())
    };
    if out.is_null() {
        panic!("recurrent product: {}", message(&err));
    }
    // SAFETY: `out` is a fresh `at::Tensor*` owned by nobody else; the returned Tensor frees it.
    unsafe { Tensor::from_ptr(out as *mut torch_sys::C_tensor) }
}

//! Host-to-device copies inside training that do not stop the host (`src/ffi/transfer.cpp`).
//!
//! A training update uploads a few small host tensors: the weight noise its members draw from their own CPU
//! streams, and the rows of the pieces in its batch. `Tensor::to_device` from ordinary host memory makes libtorch
//! wait until the copy has run, and so until every kernel queued before it has run: on a GPU, one such copy per
//! update keeps the host from running ahead of the device. [`upload`] copies through page-locked memory without
//! waiting, so an update is queued as a whole and the host goes on to the next. On the CPU it is the tensor itself
//! (no copy).
//!
//! ```
//! use tch::{Device, Tensor};
//!
//! # fn main() -> anyhow::Result<()> {
//! let rows = rnnlab::transfer::upload(Tensor::from_slice(&[3i64, 1, 4]), Device::Cpu)?;
//! assert_eq!(Vec::<i64>::try_from(&rows)?, [3, 1, 4]);
//! # Ok(())
//! # }
//! ```

use anyhow::Result;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::Once;
use tch::{Device, Tensor};

mod ffi {
    use std::ffi::{c_char, c_int, c_void};
    extern "C" {
        pub fn rnnlab_upload_async(
            tensor: *mut c_void,
            index: c_int,
            err: *mut c_char,
            len: usize,
        ) -> *mut c_void;
    }
}

/// `t` (on the CPU) on `device`. To a CUDA device the copy is queued from page-locked memory and the call returns
/// without waiting for it (the values are the same as `to_device`'s); should page-locking fail, it says so once on
/// stderr and copies as `to_device` does. On the CPU, `t` itself.
pub fn upload(mut t: Tensor, device: Device) -> Result<Tensor> {
    let index = match device {
        Device::Cuda(index) if t.device() == Device::Cpu => index,
        _ => return Ok(t.f_to_device(device)?),
    };
    let mut err = [0 as c_char; 512];
    // SAFETY: `t` is a live CPU tensor (tch's C_tensor is an `at::Tensor*`) for the whole call; `err` is a writable
    // buffer of the given length; the C++ side catches every exception and returns a new heap `at::Tensor*` or null.
    let out = unsafe {
        ffi::rnnlab_upload_async(
            t.as_mut_ptr() as *mut c_void,
            index as c_int,
            err.as_mut_ptr(),
            err.len(),
        )
    };
    if out.is_null() {
        static WARN: Once = Once::new();
        // SAFETY: the C++ side wrote a NUL-terminated message into `err` (zero-initialised otherwise).
        let msg = unsafe { CStr::from_ptr(err.as_ptr()) }
            .to_string_lossy()
            .into_owned();
        WARN.call_once(|| {
            eprintln!("warning: copying to {device:?} without page-locked memory ({msg}); each copy waits")
        });
        return Ok(t.f_to_device(device)?);
    }
    // SAFETY: `out` is a fresh `at::Tensor*` owned by nobody else; the returned Tensor frees it.
    Ok(unsafe { Tensor::from_ptr(out as *mut torch_sys::C_tensor) })
}

/// `values` as a 1-D int64 tensor on `device`, through [`upload`].
pub fn upload_i64(values: &[i64], device: Device) -> Result<Tensor> {
    upload(Tensor::f_from_slice(values)?, device)
}

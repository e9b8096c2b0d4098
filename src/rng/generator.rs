//! A random generator owned by one training run (`src/ffi/rng.cpp`; tch wraps no `at::Generator`).
//!
//! libtorch's default generator is one per process, and `rnnlab reproduce` trains several populations on threads of
//! one process: with the shared generator, each run's weight noise depended on how the threads interleaved, so a
//! reproduction was not repeatable and its runs differed from the same configs trained alone. Each run now draws its
//! noise from its own CPU generator. Seeded with the same value, it yields the same stream as the default generator
//! after `tch::manual_seed` (a run trained alone is unchanged, bit for bit). On CUDA the draws are made on the CPU and
//! copied over, so CUDA runs draw the same noise as CPU runs.

use anyhow::{bail, Result};
use std::ffi::{c_char, c_void, CStr};
use std::ptr::NonNull;
use tch::{Device, Tensor};

mod ffi {
    use std::ffi::{c_char, c_void};
    extern "C" {
        pub fn rnnlab_generator_new(seed: u64) -> *mut c_void;
        pub fn rnnlab_generator_free(gen: *mut c_void);
        pub fn rnnlab_generator_seed(gen: *mut c_void, seed: u64);
        pub fn rnnlab_normal_(
            gen: *mut c_void,
            tensor: *mut c_void,
            err: *mut c_char,
            len: usize,
        ) -> i32;
    }
}

/// A CPU `at::Generator` (Mersenne Twister, as libtorch's default CPU generator).
pub struct Rng {
    gen: NonNull<c_void>,
}

// SAFETY: the generator is owned by this value alone and only used through `&mut self` (or `&self` under the
// generator's own mutex in `reseed`); moving it to another thread is fine.
unsafe impl Send for Rng {}

impl Rng {
    pub fn new(seed: u64) -> Result<Rng> {
        // SAFETY: returns a new heap-allocated generator or null; freed in Drop.
        let gen = unsafe { ffi::rnnlab_generator_new(seed) };
        match NonNull::new(gen) {
            Some(gen) => Ok(Rng { gen }),
            None => bail!("libtorch could not create a random generator"),
        }
    }

    /// Restarts the stream from `seed` (as `tch::manual_seed` does for the default generator).
    pub fn reseed(&mut self, seed: u64) {
        // SAFETY: `gen` is a live generator owned by self.
        unsafe { ffi::rnnlab_generator_seed(self.gen.as_ptr(), seed) }
    }

    /// A tensor of `like`'s shape, kind and device filled with N(0, 1) draws from this generator.
    pub fn randn_like(&mut self, like: &Tensor) -> Result<Tensor> {
        let mut out = Tensor::empty(like.size(), (like.kind(), Device::Cpu));
        let mut err = [0 as c_char; 512];
        // SAFETY: `out` is a live CPU tensor (tch's C_tensor is an `at::Tensor*`) that outlives the call; `err` is a
        // writable buffer of the given length; the C++ side catches every exception.
        let rc = unsafe {
            ffi::rnnlab_normal_(
                self.gen.as_ptr(),
                out.as_mut_ptr() as *mut c_void,
                err.as_mut_ptr(),
                err.len(),
            )
        };
        if rc != 0 {
            // SAFETY: the C++ side wrote a NUL-terminated message into `err` (zero-initialised otherwise).
            let msg = unsafe { CStr::from_ptr(err.as_ptr()) }.to_string_lossy();
            bail!("drawing normal samples failed: {msg}");
        }
        Ok(match like.device() {
            Device::Cpu => out,
            device => out.to_device(device),
        })
    }
}

impl Drop for Rng {
    fn drop(&mut self) {
        // SAFETY: `gen` came from rnnlab_generator_new and is freed exactly once.
        unsafe { ffi::rnnlab_generator_free(self.gen.as_ptr()) }
    }
}

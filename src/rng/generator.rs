//! A random generator owned by its user (`src/ffi/rng.cpp`; tch wraps no `at::Generator`).
//!
//! libtorch's default generator is one per process. With it, a training run's initial weights and noise depended on
//! whatever else drew from it at the same time: another run on another thread (`rnnlab reproduce`, a test binary),
//! or the program rnnlab is embedded in. Every draw rnnlab makes through libtorch now comes from an [`Rng`] its
//! owner made from a seed: a training run's initial weights from one seeded with the config's seed, its weight noise
//! from one re-seeded every epoch, a validation's or a benchmark's inputs from one of their own. Seeded with the same
//! value, an [`Rng`] yields the same stream as the default generator after `tch::manual_seed`, so runs recorded
//! before it existed draw the same numbers. Draws are made on the CPU and copied to the tensor's device, so a seed
//! gives the same numbers on CUDA as on the CPU.

use anyhow::{bail, Result};
use std::ffi::{c_char, c_void, CStr};
use std::ptr::NonNull;
use tch::{Device, Kind, Tensor};

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
        pub fn rnnlab_uniform_(
            gen: *mut c_void,
            tensor: *mut c_void,
            from: f64,
            to: f64,
            err: *mut c_char,
            len: usize,
        ) -> i32;
    }
}

/// A CPU `at::Generator` (Mersenne Twister, as libtorch's default CPU generator), owned and seeded by its user, so
/// that draws never depend on what else runs in the process.
///
/// ```
/// use rnnlab::Rng;
/// use tch::{Device, Kind};
///
/// # fn main() -> anyhow::Result<()> {
/// let draw = |seed| -> anyhow::Result<_> {
///     Ok(Rng::new(seed)?.uniform(&[3], -1.0, 1.0, (Kind::Double, Device::Cpu)))
/// };
/// assert!(draw(7)?.equal(&draw(7)?));
/// assert!(!draw(7)?.equal(&draw(8)?));
/// # Ok(())
/// # }
/// ```
pub struct Rng {
    gen: NonNull<c_void>,
}

// SAFETY: the generator is owned by this value alone and only used through `&mut self`; moving it to another thread
// is fine.
unsafe impl Send for Rng {}

/// The law of one fill.
enum Law {
    Normal,
    Uniform(f64, f64),
}

impl Rng {
    /// A new generator seeded with `seed` (errors only if libtorch cannot allocate one).
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

    /// A tensor of `shape` filled with N(0, 1) draws (as `Tensor::randn`, from this generator).
    pub fn randn(&mut self, shape: &[i64], options: (Kind, Device)) -> Tensor {
        self.draw(shape, options, Law::Normal)
    }

    /// A tensor of `like`'s shape, kind and device filled with N(0, 1) draws.
    pub fn randn_like(&mut self, like: &Tensor) -> Tensor {
        self.randn(&like.size(), (like.kind(), like.device()))
    }

    /// Fills `t` (a dense CPU tensor, a contiguous view included) in place with N(0, 1) draws: the values
    /// [`Rng::randn`] would give for a tensor of `t`'s shape.
    pub fn fill_normal(&mut self, t: &mut Tensor) {
        self.fill(t, Law::Normal)
    }

    /// A tensor of `shape` filled with U(from, to) draws (as `Tensor::empty(..).uniform_(from, to)`).
    pub fn uniform(
        &mut self,
        shape: &[i64],
        from: f64,
        to: f64,
        options: (Kind, Device),
    ) -> Tensor {
        self.draw(shape, options, Law::Uniform(from, to))
    }

    /// Fills a new CPU tensor, then moves it to `device`. Panics with libtorch's message if the fill fails, as tch's
    /// own methods do (a fill of a fresh dense tensor fails only when libtorch itself cannot run).
    fn draw(&mut self, shape: &[i64], (kind, device): (Kind, Device), law: Law) -> Tensor {
        let mut out = Tensor::empty(shape, (kind, Device::Cpu));
        self.fill(&mut out, law);
        match device {
            Device::Cpu => out,
            device => out.to_device(device),
        }
    }

    /// Fills `out` (on the CPU) in place; panics as [`Rng::draw`] says.
    fn fill(&mut self, out: &mut Tensor, law: Law) {
        let mut err = [0 as c_char; 512];
        let gen = self.gen.as_ptr();
        let tensor = out.as_mut_ptr() as *mut c_void;
        // SAFETY: `gen` is a live generator owned by self; `out` is a live CPU tensor (tch's C_tensor is an
        // `at::Tensor*`) that outlives the call; `err` is a writable buffer of the given length; the C++ side catches
        // every exception.
        let rc = unsafe {
            match law {
                Law::Normal => ffi::rnnlab_normal_(gen, tensor, err.as_mut_ptr(), err.len()),
                Law::Uniform(from, to) => {
                    ffi::rnnlab_uniform_(gen, tensor, from, to, err.as_mut_ptr(), err.len())
                }
            }
        };
        if rc != 0 {
            // SAFETY: the C++ side wrote a NUL-terminated message into `err` (zero-initialised otherwise).
            let msg = unsafe { CStr::from_ptr(err.as_ptr()) }.to_string_lossy();
            panic!("drawing random numbers failed: {msg}");
        }
    }
}

impl Drop for Rng {
    fn drop(&mut self) {
        // SAFETY: `gen` came from rnnlab_generator_new and is freed exactly once.
        unsafe { ffi::rnnlab_generator_free(self.gen.as_ptr()) }
    }
}

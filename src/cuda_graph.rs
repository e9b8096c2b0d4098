//! CUDA graphs: record a stretch of libtorch work once, then launch all of its kernels with one call
//! (`src/ffi/cuda_graph.cpp` wraps libtorch's `at::cuda::CUDAGraph`; tch wraps none).
//!
//! A population update of the custom cells launches thousands of tiny kernels per chunk; on a GPU the launches,
//! not the arithmetic, are what they cost. Replaying a captured graph launches the same kernels, with the same
//! arguments and the same memory addresses, from one host call.
//!
//! # Rules for the captured closure
//! * **Static inputs.** The graph reads the tensors that existed before the capture at the addresses they had. Each
//!   replay sees new data only if it was written *into those tensors* beforehand (`static_x.copy_(&batch.x)`), never
//!   by making a new tensor and rebinding a variable. Scalars passed as Rust numbers (`&t / frames as f64`) are
//!   baked into the graph: what changes from replay to replay must live in a tensor.
//! * **Outputs.** The tensors the closure makes during the capture live in the graph's private memory pool, and
//!   every replay overwrites them in place. Read (or copy) them after a replay and before the next one.
//! * **No host synchronisation inside.** No `.to(Device::Cpu)`, `Vec::try_from`, `double_value`/`int64_value`,
//!   `.item`, printing a CUDA tensor, nor ops whose output shape depends on the data (`nonzero`, `masked_select`,
//!   boolean indexing): any of them makes the capture fail (libtorch reports "operation not permitted when stream
//!   is capturing" or refuses the copy). Read results back after [`CudaGraph::replay`].
//! * **Warm-up.** [`CudaGraph::capture`] first runs the closure `warmup` times on the side stream, eagerly: libtorch
//!   initialises lazily (cuBLAS handles and workspaces, autograd's device threads, cuDNN plans), and none of that
//!   may happen inside the capture. Warm-up iterations have their side effects (an optimiser step changes the
//!   weights), so capture from a state where that is acceptable, or save and restore it.
//! * **One graph per shape.** A graph is fixed to the shapes it was captured with: one per chunk-length bucket, or
//!   pad every chunk to one length.
//! * **Serialised captures.** Captures run one at a time in the process ([`CAPTURE_LOCK`], held from the first
//!   warm-up to the end of the capture), so `rnnlab reproduce`'s threads never capture concurrently; by default a
//!   capture is *thread-local*, so the other threads' eager CUDA work (and their replays) goes on meanwhile.
//! * **Streams.** A capture runs on a pool stream ([`SideStream`]); [`CudaGraph::replay`] launches on the calling
//!   thread's current stream, the same stream as the `copy_` calls that filled the inputs, so stream order makes
//!   each replay see its inputs and the next copies wait for the replay.
//!
//! On a CPU build of libtorch the API exists and every call returns [`NOT_AVAILABLE`] as its error.

use anyhow::{bail, Result};
use std::sync::Mutex;
use tch::Device;

/// The error every call returns on a build without CUDA graphs.
pub const NOT_AVAILABLE: &str =
    "CUDA graphs need a CUDA build of libtorch (rnnlab was built against a CPU-only \
     libtorch; run `scripts/setup-libtorch.sh --cuda`, then rebuild)";

/// Held from the first warm-up iteration to the end of a capture: one capture at a time in the process.
pub static CAPTURE_LOCK: Mutex<()> = Mutex::new(());

/// Whether this build can capture CUDA graphs (a CUDA libtorch and the CUDA runtime headers at build time). Says
/// nothing about whether a GPU is visible: see `tch::Cuda::is_available`.
pub const fn available() -> bool {
    cfg!(rnnlab_cuda_graphs)
}

/// Why this build cannot capture CUDA graphs, or `None` when it can.
pub fn unavailable_reason() -> Option<&'static str> {
    if cfg!(rnnlab_cuda_graphs) {
        None
    } else if cfg!(rnnlab_libtorch_cuda) {
        Some(
            "CUDA graphs were left out of this build: its CUDA libtorch had no CUDA runtime headers or library \
             beside it (set RNNLAB_CUDA_INCLUDE and RNNLAB_CUDA_LIB, then rebuild)",
        )
    } else {
        Some(NOT_AVAILABLE)
    }
}

/// How a capture treats CUDA calls that are unsafe while a stream is captured (`cudaStreamCaptureMode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CaptureMode {
    /// Unsafe calls from any thread of the process make the capture fail (PyTorch's default). Only safe when no
    /// other thread uses CUDA during the capture.
    Global,
    /// Only the capturing thread is restricted: other threads (`reproduce`'s other runs) may go on meanwhile.
    #[default]
    ThreadLocal,
    /// No restriction; for debugging.
    Relaxed,
}

impl CaptureMode {
    #[cfg_attr(not(rnnlab_cuda_graphs), allow(dead_code))]
    fn code(self) -> i32 {
        match self {
            CaptureMode::Global => 0,
            CaptureMode::ThreadLocal => 1,
            CaptureMode::Relaxed => 2,
        }
    }
}

/// Options of [`CudaGraph::capture_with`].
#[derive(Clone, Copy, Debug)]
pub struct CaptureOptions<'a> {
    /// Eager runs of the closure on the side stream before the capture.
    pub warmup: usize,
    /// Which CUDA calls the capture forbids (default [`CaptureMode::ThreadLocal`]).
    pub mode: CaptureMode,
    /// Share this graph's private memory pool (saves memory when several graphs, say one per chunk-length bucket,
    /// are replayed strictly in capture order or never concurrently with each other's outputs alive).
    pub share_pool_with: Option<&'a CudaGraph>,
}

impl Default for CaptureOptions<'_> {
    fn default() -> Self {
        CaptureOptions {
            warmup: 3,
            mode: CaptureMode::default(),
            share_pool_with: None,
        }
    }
}

#[cfg(rnnlab_cuda_graphs)]
mod ffi {
    use std::ffi::{c_char, c_void};
    extern "C" {
        pub fn rnnlab_cuda_device_synchronize(device: i32, err: *mut c_char, len: usize) -> i32;
        pub fn rnnlab_cuda_current_stream_synchronize(
            device: i32,
            err: *mut c_char,
            len: usize,
        ) -> i32;
        pub fn rnnlab_cuda_is_capturing(err: *mut c_char, len: usize) -> i32;
        pub fn rnnlab_cuda_side_stream_enter(
            device: i32,
            out: *mut *mut c_void,
            err: *mut c_char,
            len: usize,
        ) -> i32;
        pub fn rnnlab_cuda_side_stream_exit(
            handle: *mut c_void,
            err: *mut c_char,
            len: usize,
        ) -> i32;
        pub fn rnnlab_cuda_graph_new(err: *mut c_char, len: usize) -> *mut c_void;
        pub fn rnnlab_cuda_graph_free(graph: *mut c_void);
        pub fn rnnlab_cuda_graph_capture_begin(
            graph: *mut c_void,
            share_pool_with: *mut c_void,
            mode: i32,
            err: *mut c_char,
            len: usize,
        ) -> i32;
        pub fn rnnlab_cuda_graph_capture_end(
            graph: *mut c_void,
            err: *mut c_char,
            len: usize,
        ) -> i32;
        pub fn rnnlab_cuda_graph_replay(graph: *mut c_void, err: *mut c_char, len: usize) -> i32;
        pub fn rnnlab_cuda_graph_reset(graph: *mut c_void, err: *mut c_char, len: usize) -> i32;
    }
}

/// Calls a shim function with an error buffer; a non-zero return becomes an error naming `what`.
#[cfg(rnnlab_cuda_graphs)]
fn check(what: &str, call: impl FnOnce(*mut std::ffi::c_char, usize) -> i32) -> Result<i32> {
    use std::ffi::{c_char, CStr};
    let mut err = [0 as c_char; 1024];
    let rc = call(err.as_mut_ptr(), err.len());
    if rc < 0 {
        // SAFETY: the shim writes a NUL-terminated message into `err`, which is zero-initialised otherwise.
        let msg = unsafe { CStr::from_ptr(err.as_ptr()) }.to_string_lossy();
        let msg = msg.trim();
        bail!(
            "{what}: {}",
            if msg.is_empty() {
                "failed (no message)"
            } else {
                msg
            }
        );
    }
    Ok(rc)
}

fn cuda_index(device: Device) -> Result<i32> {
    match device {
        Device::Cuda(i) => Ok(i as i32),
        other => bail!("CUDA graphs run on a CUDA device, not {other:?}"),
    }
}

/// Waits for all queued work on `device` (`cudaDeviceSynchronize`).
pub fn synchronize(device: Device) -> Result<()> {
    let index = cuda_index(device)?;
    #[cfg(rnnlab_cuda_graphs)]
    {
        // SAFETY: plain call with a writable error buffer; the shim catches every exception.
        check("cudaDeviceSynchronize", |e, l| unsafe {
            ffi::rnnlab_cuda_device_synchronize(index, e, l)
        })?;
        Ok(())
    }
    #[cfg(not(rnnlab_cuda_graphs))]
    {
        let _ = index;
        bail!("{}", unavailable_reason().unwrap_or(NOT_AVAILABLE))
    }
}

/// Waits for the work queued on the calling thread's current stream of `device`.
pub fn synchronize_current_stream(device: Device) -> Result<()> {
    let index = cuda_index(device)?;
    #[cfg(rnnlab_cuda_graphs)]
    {
        // SAFETY: plain call with a writable error buffer; the shim catches every exception.
        check("stream synchronize", |e, l| unsafe {
            ffi::rnnlab_cuda_current_stream_synchronize(index, e, l)
        })?;
        Ok(())
    }
    #[cfg(not(rnnlab_cuda_graphs))]
    {
        let _ = index;
        bail!("{}", unavailable_reason().unwrap_or(NOT_AVAILABLE))
    }
}

/// Whether the calling thread's current CUDA stream is being captured (for assertions in code that must not sync).
pub fn is_capturing() -> Result<bool> {
    #[cfg(rnnlab_cuda_graphs)]
    {
        // SAFETY: plain call with a writable error buffer; the shim catches every exception.
        let rc = check("cudaStreamIsCapturing", |e, l| unsafe {
            ffi::rnnlab_cuda_is_capturing(e, l)
        })?;
        Ok(rc == 1)
    }
    #[cfg(not(rnnlab_cuda_graphs))]
    {
        bail!("{}", unavailable_reason().unwrap_or(NOT_AVAILABLE))
    }
}

/// A pool stream made current for the calling thread until this guard drops. Entering, the side stream waits for
/// the work already queued on the previous stream; leaving, the previous stream waits for the side stream's work
/// and becomes current again. Not `Send`: c10's current stream is per thread, so it must drop where it was made.
pub struct SideStream {
    #[cfg_attr(not(rnnlab_cuda_graphs), allow(dead_code))]
    handle: std::ptr::NonNull<std::ffi::c_void>,
    _not_send: std::marker::PhantomData<*mut ()>,
}

impl SideStream {
    /// Makes a pool stream of `device` current for this thread (errors off CUDA, or without CUDA-graph support).
    pub fn enter(device: Device) -> Result<SideStream> {
        let index = cuda_index(device)?;
        #[cfg(rnnlab_cuda_graphs)]
        {
            let mut handle = std::ptr::null_mut();
            // SAFETY: `handle` is a valid out-pointer; the shim catches every exception.
            check("entering a side stream", |e, l| unsafe {
                ffi::rnnlab_cuda_side_stream_enter(index, &mut handle, e, l)
            })?;
            match std::ptr::NonNull::new(handle) {
                Some(handle) => Ok(SideStream {
                    handle,
                    _not_send: std::marker::PhantomData,
                }),
                None => bail!("entering a side stream: the shim returned no handle"),
            }
        }
        #[cfg(not(rnnlab_cuda_graphs))]
        {
            let _ = index;
            bail!("{}", unavailable_reason().unwrap_or(NOT_AVAILABLE))
        }
    }

    /// Leaves the side stream, reporting an error (dropping the guard does the same and only logs it).
    pub fn exit(self) -> Result<()> {
        let me = std::mem::ManuallyDrop::new(self);
        me.exit_inner()
    }

    fn exit_inner(&self) -> Result<()> {
        #[cfg(rnnlab_cuda_graphs)]
        {
            // SAFETY: the handle came from rnnlab_cuda_side_stream_enter on this thread (the guard is not Send) and
            // is freed exactly once: by `exit` (which skips Drop) or by Drop.
            check("leaving a side stream", |e, l| unsafe {
                ffi::rnnlab_cuda_side_stream_exit(self.handle.as_ptr(), e, l)
            })?;
        }
        Ok(())
    }
}

impl Drop for SideStream {
    fn drop(&mut self) {
        if let Err(e) = self.exit_inner() {
            eprintln!("rnnlab: {e:#}");
        }
    }
}

/// A captured CUDA graph (`at::cuda::CUDAGraph`), replayable any number of times.
#[derive(Debug)]
pub struct CudaGraph {
    #[cfg_attr(not(rnnlab_cuda_graphs), allow(dead_code))]
    ptr: std::ptr::NonNull<std::ffi::c_void>,
    device: Device,
}

// SAFETY: the graph is owned by this value alone, and replay only reads it (launching on the calling thread's
// current stream); it may be moved to and replayed from another thread. Not Sync: replays from two threads at once
// would race on the graph's outputs.
unsafe impl Send for CudaGraph {}

impl CudaGraph {
    /// Captures the CUDA work of `f` on `device` with the default options (3 warm-up runs, thread-local capture,
    /// a private memory pool): see [`CudaGraph::capture_with`].
    pub fn capture<T>(
        device: Device,
        warmup: usize,
        f: impl FnMut() -> Result<T>,
    ) -> Result<(CudaGraph, T)> {
        Self::capture_with(
            device,
            CaptureOptions {
                warmup,
                ..CaptureOptions::default()
            },
            f,
        )
    }

    /// Runs `f` `options.warmup` times eagerly on a side stream, synchronises the device, then captures one more run
    /// of `f` into a graph with its own private memory pool (or `options.share_pool_with`'s). Returns the graph and
    /// what the captured run of `f` returned: its tensors are the graph's outputs, overwritten by every replay. The
    /// captured run only records kernels, it computes nothing: the outputs hold their values after the first replay,
    /// and in-place updates inside `f` (an optimiser step) take effect once per replay, not at capture. Holds
    /// [`CAPTURE_LOCK`] throughout. The module documentation lists the rules `f` must follow.
    pub fn capture_with<T>(
        device: Device,
        options: CaptureOptions<'_>,
        mut f: impl FnMut() -> Result<T>,
    ) -> Result<(CudaGraph, T)> {
        let index = cuda_index(device)?;
        if let Some(reason) = unavailable_reason() {
            bail!("{reason}");
        }
        #[cfg(rnnlab_cuda_graphs)]
        {
            use anyhow::Context;
            let _lock = CAPTURE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            let side = SideStream::enter(device)?;
            for i in 0..options.warmup {
                f().with_context(|| format!("CUDA graph warm-up run {}", i + 1))?;
            }
            synchronize(device)?;
            let mut err = [0 as std::ffi::c_char; 1024];
            // SAFETY: returns a new graph or null; owned by the CudaGraph below, freed in Drop.
            let raw = unsafe { ffi::rnnlab_cuda_graph_new(err.as_mut_ptr(), err.len()) };
            let Some(ptr) = std::ptr::NonNull::new(raw) else {
                // SAFETY: the shim wrote a NUL-terminated message (or left the zeroed buffer).
                let msg = unsafe { std::ffi::CStr::from_ptr(err.as_ptr()) }.to_string_lossy();
                bail!("creating a CUDA graph: {msg}");
            };
            let graph = CudaGraph { ptr, device };
            let share = options
                .share_pool_with
                .map_or(std::ptr::null_mut(), |g| g.ptr.as_ptr());
            // SAFETY: `graph` and `share` are live graphs; the shim catches every exception.
            check("beginning a CUDA graph capture", |e, l| unsafe {
                ffi::rnnlab_cuda_graph_capture_begin(
                    graph.ptr.as_ptr(),
                    share,
                    options.mode.code(),
                    e,
                    l,
                )
            })?;
            let out = f();
            // End the capture whatever `f` did: a stream left capturing breaks every later CUDA call on it.
            // SAFETY: `graph` is live and capturing on this thread; the shim catches every exception.
            let ended = check("ending a CUDA graph capture", |e, l| unsafe {
                ffi::rnnlab_cuda_graph_capture_end(graph.ptr.as_ptr(), e, l)
            });
            // The closure's error first (it explains the failed capture), else capture_end's.
            let out = out.and_then(|o| ended.map(|_| o)).map_err(|e| {
                let _ = graph.reset();
                e.context(
                    "the CUDA graph capture failed (a host synchronisation or a data-dependent shape inside the \
                     captured step?)",
                )
            })?;
            side.exit()?;
            let _ = index;
            Ok((graph, out))
        }
        #[cfg(not(rnnlab_cuda_graphs))]
        {
            let _ = (index, options, &mut f);
            bail!("{NOT_AVAILABLE}")
        }
    }

    /// The device the graph was captured on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Launches the captured kernels on the calling thread's current stream. Asynchronous: read the outputs after
    /// this returns (a read-back to the CPU waits for the replay); fill the static inputs before it.
    pub fn replay(&self) -> Result<()> {
        #[cfg(rnnlab_cuda_graphs)]
        {
            // SAFETY: `ptr` is a live, captured graph; the shim catches every exception.
            check("replaying a CUDA graph", |e, l| unsafe {
                ffi::rnnlab_cuda_graph_replay(self.ptr.as_ptr(), e, l)
            })?;
            Ok(())
        }
        #[cfg(not(rnnlab_cuda_graphs))]
        {
            bail!("{NOT_AVAILABLE}")
        }
    }

    /// Frees the captured graph (the graph can be dropped instead; this reports errors).
    pub fn reset(&self) -> Result<()> {
        #[cfg(rnnlab_cuda_graphs)]
        {
            // SAFETY: `ptr` is a live graph; the shim catches every exception.
            check("resetting a CUDA graph", |e, l| unsafe {
                ffi::rnnlab_cuda_graph_reset(self.ptr.as_ptr(), e, l)
            })?;
            Ok(())
        }
        #[cfg(not(rnnlab_cuda_graphs))]
        {
            bail!("{NOT_AVAILABLE}")
        }
    }
}

impl Drop for CudaGraph {
    fn drop(&mut self) {
        #[cfg(rnnlab_cuda_graphs)]
        // SAFETY: `ptr` came from rnnlab_cuda_graph_new and is freed exactly once.
        unsafe {
            ffi::rnnlab_cuda_graph_free(self.ptr.as_ptr())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use tch::{Kind, Tensor};

    #[test]
    fn without_cuda_graphs_or_a_gpu_every_call_says_why() {
        if available() && tch::Cuda::is_available() {
            return; // covered by the GPU tests below
        }
        // A CPU build sees no GPU either; ask for one anyway: the build, not the device, is what's missing.
        let device = Device::Cuda(0);
        let err = CudaGraph::capture(device, 1, || Ok(())).err().unwrap();
        let msg = format!("{err:#}");
        eprintln!("capture on cuda:0: {msg}");
        if available() {
            // A CUDA build on a machine without a GPU: the shim's C++ exception came back as an error.
            assert!(msg.contains("entering a side stream"), "{msg}");
        } else {
            assert!(msg.contains("CUDA graphs"), "{msg}");
            if !cfg!(rnnlab_libtorch_cuda) {
                assert!(
                    msg.contains("CUDA graphs need a CUDA build of libtorch"),
                    "{msg}"
                );
                assert_eq!(unavailable_reason(), Some(NOT_AVAILABLE));
                assert!(synchronize(device).is_err());
                assert!(SideStream::enter(device).is_err());
                assert!(is_capturing().is_err());
            }
        }
    }

    #[test]
    fn a_cpu_device_is_refused() {
        let err = CudaGraph::capture(Device::Cpu, 0, || Ok(())).err().unwrap();
        assert!(format!("{err:#}").contains("CUDA device"), "{err:#}");
    }

    fn gpu() -> Option<Device> {
        if available() && tch::Cuda::is_available() {
            Some(Device::Cuda(0))
        } else {
            eprintln!("SKIPPED: no CUDA graphs in this build or no GPU visible");
            None
        }
    }

    /// A replay computes what an eager run computes on the same inputs, bit for bit, and reads new inputs that
    /// were copied into the static input.
    #[test]
    fn cuda_replay_matches_eager_bitwise() -> Result<()> {
        let Some(device) = gpu() else { return Ok(()) };
        let mut rng = Rng::new(1)?;
        let w = rng.randn(&[64, 64], (Kind::Float, device));
        let x = Tensor::zeros([32, 64], (Kind::Float, device));
        let (graph, y) = CudaGraph::capture(device, 2, || {
            Ok((x.matmul(&w).tanh() * 2.0).sum_dim_intlist(1, false, Kind::Float))
        })?;
        for seed in 0..5 {
            let input = rng.randn(&[32, 64], (Kind::Float, device));
            x.shallow_clone().copy_(&input);
            graph.replay()?;
            let eager = (input.matmul(&w).tanh() * 2.0).sum_dim_intlist(1, false, Kind::Float);
            assert!(y.equal(&eager), "replay {seed} differs from the eager run");
        }
        Ok(())
    }

    /// Forward, backward (`f_run_backward`) and an in-place SGD step captured together: replays move the weights
    /// exactly as eager steps do, and leave the side stream with the previous stream current again.
    #[test]
    fn cuda_training_step_replays_like_eager_steps() -> Result<()> {
        let Some(device) = gpu() else { return Ok(()) };
        let mut rng = Rng::new(2)?;
        let init = rng.randn(&[16, 8], (Kind::Double, device)) * 0.3;
        let xs: Vec<Tensor> = (0..6)
            .map(|_| rng.randn(&[10, 16], (Kind::Double, device)))
            .collect();
        let step = |w: &Tensor, x: &Tensor| -> Result<Tensor> {
            let loss = x.matmul(w).tanh().square().sum(Kind::Double);
            let g = Tensor::f_run_backward(&[&loss], &[w], false, false)?;
            tch::no_grad(|| {
                let _ = w.shallow_clone().g_sub_(&(&g[0] * 0.1));
            });
            Ok(loss.detach())
        };
        // Eager reference: the 2 warm-up steps on xs[0], then one step per input. (The captured run of the closure
        // only records kernels: it does not step.)
        let w_ref = init.copy().set_requires_grad(true);
        let x_ref = xs[0].copy();
        for _ in 0..2 {
            let _ = step(&w_ref, &x_ref)?;
        }
        let mut ref_losses = Vec::new();
        for x in &xs[1..] {
            ref_losses.push(step(&w_ref, x)?);
        }
        let w = init.copy().set_requires_grad(true);
        let x_static = xs[0].copy();
        let (graph, loss) = CudaGraph::capture(device, 2, || step(&w, &x_static))?;
        for (x, want) in xs[1..].iter().zip(&ref_losses) {
            x_static.shallow_clone().copy_(x);
            graph.replay()?;
            assert!(loss.equal(want), "loss differs");
        }
        assert!(w.detach().equal(&w_ref.detach()), "weights differ");
        assert!(!is_capturing()?);
        Ok(())
    }

    /// A host synchronisation inside the closure fails the capture with an error, not a crash, and CUDA stays
    /// usable afterwards.
    #[test]
    fn cuda_host_sync_inside_a_capture_is_an_error() -> Result<()> {
        let Some(device) = gpu() else { return Ok(()) };
        let x = Tensor::ones([4], (Kind::Float, device));
        let r = CudaGraph::capture(device, 1, || {
            Ok((&x * 2.0).sum(Kind::Float).f_double_value(&[])?)
        });
        assert!(
            r.is_err(),
            "a read-back inside a capture must fail the capture"
        );
        assert!(!is_capturing()?);
        let again = (&x * 3.0).sum(Kind::Float).double_value(&[]);
        assert_eq!(again, 12.0);
        Ok(())
    }
}

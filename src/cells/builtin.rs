//! libtorch's fused recurrent kernels as baselines, on the same weight tensors as the torch-form custom cells.
//!
//! [`Implementation::BuiltinSeq`] calls the whole-sequence ops `at::rnn_tanh`, `at::gru`, `at::lstm` (one layer,
//! unidirectional, time-major); on CUDA with cuDNN enabled these dispatch to cuDNN. [`Implementation::BuiltinCell`] loops the
//! per-step ops `at::rnn_tanh_cell`, `at::gru_cell`, `at::lstm_cell` over time. Only the torch forms have built-in
//! twins: the paper GRU (reset before the matmul) and the peephole LSTM cannot be expressed by these kernels.

use super::{
    check_input, initial_state, run_steps, Cell, CellKind, Implementation, SequenceLayer, State,
};
use anyhow::{bail, ensure, Context, Result};
use tch::Tensor;

/// A built-in libtorch layer sharing (not copying) a torch-form cell's parameters.
pub struct BuiltinLayer {
    kind: CellKind,
    /// `BuiltinSeq` or `BuiltinCell` (never `Custom`).
    mode: Implementation,
    /// `weight_ih, weight_hh, bias_ih, bias_hh`, shallow clones of the cell's tensors (same autograd leaves).
    params: [Tensor; 4],
    /// On CUDA, cuDNN's flat weight buffer for `params` (see [`CudnnWeights`]); `None` on CPU.
    cudnn: Option<CudnnWeights>,
}

impl BuiltinLayer {
    /// `mode` is `BuiltinSeq` or `BuiltinCell`.
    pub fn new(cell: &dyn Cell, mode: Implementation) -> Result<Self> {
        let kind = cell.kind();
        ensure_builtin(mode)?;
        ensure!(
            kind.has_builtin(),
            "{kind} has no libtorch built-in: only tanh, torch_gru and torch_lstm do"
        );
        ensure!(
            cell.population().is_none(),
            "libtorch's built-in cells take one model, not a population"
        );
        let named = cell.named_parameters();
        let get = |name: &str| -> Result<Tensor> {
            match named.iter().find(|(n, _)| *n == name) {
                Some((_, t)) => Ok(t.shallow_clone()),
                None => bail!("{kind} has no parameter {name}"),
            }
        };
        Ok(BuiltinLayer {
            kind,
            mode,
            params: [
                get("weight_ih")?,
                get("weight_hh")?,
                get("bias_ih")?,
                get("bias_hh")?,
            ],
            cudnn: None,
        })
    }

    /// A built-in layer on explicit tensors `weight_ih, weight_hh, bias_ih, bias_hh` (PyTorch layout, one model).
    /// The tensors may be views, e.g. one member of a population's stacked parameters.
    pub fn from_tensors(kind: CellKind, mode: Implementation, params: [Tensor; 4]) -> Result<Self> {
        ensure_builtin(mode)?;
        ensure!(
            kind.has_builtin(),
            "{kind} has no libtorch built-in: only tanh, torch_gru and torch_lstm do"
        );
        ensure!(
            params[0].dim() == 2 && params[1].dim() == 2,
            "built-in {kind} takes 2-D weights, got {:?} and {:?}",
            params[0].size(),
            params[1].size()
        );
        Ok(BuiltinLayer {
            kind,
            mode,
            params,
            cudnn: None,
        })
    }

    /// Runs `builtin_seq` through cuDNN on this flat buffer (made once by [`CudnnWeights::new`] for these
    /// parameters' shapes), instead of letting libtorch compact the weights into a new buffer, with a warning, at
    /// every call. No effect on `builtin_cell`.
    pub fn with_cudnn_weights(mut self, flat: CudnnWeights) -> Self {
        if self.mode == Implementation::BuiltinSeq {
            self.cudnn = Some(flat);
        }
        self
    }

    /// Whether this layer runs the whole-sequence op or the per-step op.
    pub fn mode(&self) -> Implementation {
        self.mode
    }

    fn step(&self, x: &Tensor, state: &State) -> State {
        let [w_ih, w_hh, b_ih, b_hh] = &self.params;
        match self.kind {
            CellKind::Tanh => State {
                h: x.rnn_tanh_cell(&state.h, w_ih, w_hh, Some(b_ih), Some(b_hh)),
                c: None,
            },
            CellKind::TorchGru => State {
                h: x.gru_cell(&state.h, w_ih, w_hh, Some(b_ih), Some(b_hh)),
                c: None,
            },
            CellKind::TorchLstm => {
                let c = state.c.as_ref().expect("checked in forward");
                let (h, c) = x.lstm_cell(&[&state.h, c], w_ih, w_hh, Some(b_ih), Some(b_hh));
                State { h, c: Some(c) }
            }
            _ => unreachable!("BuiltinLayer::new admits only kinds with built-ins"),
        }
    }
}

impl SequenceLayer for BuiltinLayer {
    fn implementation(&self) -> &'static str {
        self.mode.name()
    }

    fn kind(&self) -> CellKind {
        self.kind
    }

    fn forward(&self, x: &Tensor, state: Option<&State>) -> Result<(Tensor, State)> {
        let w_ih = &self.params[0];
        let (d, hidden) = (w_ih.size()[1], self.params[1].size()[1]);
        let (_, _, b) = check_input(self.kind, d, None, w_ih, x)?;
        let state = initial_state(self.kind, &[b, hidden], state, x)?;
        match self.mode {
            Implementation::Custom | Implementation::CustomMember => {
                bail!("BuiltinLayer runs libtorch's kernels, not the custom cells")
            }
            Implementation::BuiltinSeq if self.cudnn.is_some() => {
                let flat = self.cudnn.as_ref().expect("checked by the guard");
                flat.forward(self.kind, &self.params, x, &state)
            }
            Implementation::BuiltinSeq => {
                // The whole-sequence ops take [layers, B, H] states. train=true: cuDNN keeps what backward needs
                // only in training mode; with dropout 0 it changes nothing else.
                let h0 = state.h.unsqueeze(0);
                let p = &self.params;
                Ok(match self.kind {
                    CellKind::Tanh => {
                        let (out, h) = x.rnn_tanh(&h0, p, true, 1, 0.0, true, false, false);
                        (
                            out,
                            State {
                                h: h.squeeze_dim(0),
                                c: None,
                            },
                        )
                    }
                    CellKind::TorchGru => {
                        let (out, h) = x.gru(&h0, p, true, 1, 0.0, true, false, false);
                        (
                            out,
                            State {
                                h: h.squeeze_dim(0),
                                c: None,
                            },
                        )
                    }
                    CellKind::TorchLstm => {
                        let c0 = state.c.as_ref().expect("checked above").unsqueeze(0);
                        let (out, h, c) = x.lstm(
                            &[&h0, &c0],
                            &[&p[0], &p[1], &p[2], &p[3]],
                            true,
                            1,
                            0.0,
                            true,
                            false,
                            false,
                        );
                        let state = State {
                            h: h.squeeze_dim(0),
                            c: Some(c.squeeze_dim(0)),
                        };
                        (out, state)
                    }
                    _ => unreachable!("BuiltinLayer::new admits only kinds with built-ins"),
                })
            }
            Implementation::BuiltinCell => Ok(run_steps(x, 0, state, |x_t, s| self.step(x_t, s))),
        }
    }
}

/// A [`BuiltinLayer`] runs one of libtorch's kernels: `BuiltinSeq` or `BuiltinCell`.
fn ensure_builtin(mode: Implementation) -> Result<()> {
    ensure!(
        mode.is_builtin(),
        "a built-in layer runs builtin_seq or builtin_cell, not {mode}"
    );
    Ok(())
}

/// cuDNN's flat weight buffer for one model's `weight_ih, weight_hh, bias_ih, bias_hh`, made once.
///
/// `at::gru`/`at::lstm`/`at::rnn_tanh` on CUDA take cuDNN's path only with weights that already lie in one buffer in
/// cuDNN's layout (what `nn.RNN.flatten_parameters()` arranges); otherwise `_cudnn_rnn` copies them into a fresh
/// buffer and prints "RNN module weights are not part of single contiguous chunk of memory" at every call. A
/// population's member weights are slices of `[K, …]` tensors that the optimizer updates in place, so they cannot
/// live in such a buffer. Instead each member gets its own buffer, laid out once by `_cudnn_rnn_flatten_weight`;
/// every forward copies the member's current weights into it (the copy libtorch's fallback makes too, without the
/// allocation and the warning) and calls `_cudnn_rnn` with it as `weight_buf`. The member's own tensors go in as
/// `weight`, so the backward pass (`_cudnn_rnn_backward`) still delivers their gradients to the population.
///
/// The buffer holds the weights of the last forward: a backward pass must come before the same member's next
/// forward (as in training: forward, backward, update).
///
/// Untested on a GPU so far (written and compiled on a CPU-only machine).
pub struct CudnnWeights {
    /// Views of the flat buffer shaped as the four parameters, in cuDNN's layout.
    views: [Tensor; 4],
    buf: Tensor,
}

impl CudnnWeights {
    /// cuDNN's mode numbers (`cudnnRNNMode_t`).
    fn mode(kind: CellKind) -> Result<i64> {
        Ok(match kind {
            CellKind::Tanh => 1,
            CellKind::TorchLstm => 2,
            CellKind::TorchGru => 3,
            _ => bail!("{kind} has no cuDNN kernel"),
        })
    }

    /// A flat buffer for one model's parameters (`weight_ih, weight_hh, bias_ih, bias_hh`), or `None` where cuDNN
    /// would not run them (on the CPU, or with cuDNN unavailable or turned off): there nothing changes.
    pub fn new(kind: CellKind, params: &[Tensor; 4]) -> Result<Option<Self>> {
        let device = params[0].device();
        if !device.is_cuda() || !tch::Cuda::cudnn_is_available() || !tch::Cuda::user_enabled_cudnn()
        {
            return Ok(None);
        }
        let (input, hidden) = (params[0].size()[1], params[1].size()[1]);
        // Copies, so that the flattening (which re-points the tensors it is given at the new buffer) leaves the
        // caller's tensors alone; afterwards they are views of the buffer.
        let views: [Tensor; 4] = params.each_ref().map(|p| p.detach().copy());
        let buf = tch::no_grad(|| {
            Tensor::f_internal_cudnn_rnn_flatten_weight(
                &views,
                4,
                input,
                Self::mode(kind)?,
                hidden,
                0,
                1,
                false,
                false,
            )
            .map_err(anyhow::Error::from)
        })
        .with_context(|| format!("flattening the {kind} weights for cuDNN"))?;
        Ok(Some(CudnnWeights { views, buf }))
    }

    /// A handle on the same buffer.
    pub fn shallow_clone(&self) -> Self {
        CudnnWeights {
            views: self.views.each_ref().map(Tensor::shallow_clone),
            buf: self.buf.shallow_clone(),
        }
    }

    /// `_cudnn_rnn` over `x: [T, B, D]` from `state`, on the current values of `params` copied into the buffer.
    fn forward(
        &self,
        kind: CellKind,
        params: &[Tensor; 4],
        x: &Tensor,
        state: &State,
    ) -> Result<(Tensor, State)> {
        tch::no_grad(|| -> Result<()> {
            for (view, p) in self.views.iter().zip(params) {
                view.shallow_clone().f_copy_(p)?;
            }
            Ok(())
        })?;
        let hidden = params[1].size()[1];
        let h0 = state.h.unsqueeze(0).contiguous();
        let c0 = state.c.as_ref().map(|c| c.unsqueeze(0).contiguous());
        let no_batch_sizes: [i64; 0] = [];
        let weights: Vec<&Tensor> = params.iter().collect();
        let (out, h, c, _, _) = x.contiguous().f_internal_cudnn_rnn(
            &weights,
            4,
            Some(&self.buf),
            &h0,
            c0.as_ref(),
            Self::mode(kind)?,
            hidden,
            0,
            1,
            false,
            0.0,
            true,
            false,
            no_batch_sizes.as_slice(),
            None::<&Tensor>,
        )?;
        let c = kind.has_cell_state().then(|| c.squeeze_dim(0));
        Ok((
            out,
            State {
                h: h.squeeze_dim(0),
                c,
            },
        ))
    }
}
